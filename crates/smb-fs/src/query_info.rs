//! MS-SMB2 3.3.5.20 QUERY_INFO for InfoType FILE (MS-FSCC 2.4 classes) and FILESYSTEM (MS-FSCC 2.5
//! classes), encoded with the `smb-wire` class types.
//!
//! A buffer too small for a class's fixed part answers STATUS_INFO_LENGTH_MISMATCH; classes ending in
//! a name are cut to fit and flagged (STATUS_BUFFER_OVERFLOW with the data), as MS-FSA 2.1.5.12
//! prescribes.

use smb_wire::codec::{Encode, Writer};
use smb_wire::create::access_mask;
use smb_wire::info::chain::ChainEntry;
use smb_wire::info::file::*;
use smb_wire::info::fs::{
    device_characteristics, device_type, fs_attributes, sector_size_flags, FileFsAttributeInformation,
    FileFsDeviceInformation, FileFsFullSizeInformation, FileFsObjectIdInformation,
    FileFsSectorSizeInformation, FileFsSizeInformation, FileFsVolumeInformation,
};
use smb_wire::info::{EncodeTruncated, FileInfoClass, FsInfoClass};
use smb_wire::query_info::InfoType;
use smb_wire::status::NtStatus;
use smb_wire::types::{utf16le, FileId, Utf16};

use crate::error::{FsError, Result};
use crate::meta::{volume_serial, Meta};
use crate::name::MAX_COMPONENT;
use crate::opens::{Open, Opens};
use crate::resolve;

/// The FileSystemName of FileFsAttributeInformation.
pub const FILE_SYSTEM_NAME: &str = "smbdx";

/// The name of the one stream every file has (FileStreamInformation).
const DATA_STREAM: &str = "::$DATA";

/// Bytes per sector reported to clients; allocation units are multiples of it.
const SECTOR: u64 = 512;

impl Opens {
    /// MS-SMB2 3.3.5.20 QUERY_INFO: encodes class `class` of `info_type` (1 FILE, 2 FILESYSTEM) into
    /// `out` (the client's OutputBufferLength); returns the bytes written and whether a name was cut
    /// (answer STATUS_BUFFER_OVERFLOW with the data).
    pub fn query_info(
        &mut self,
        id: FileId,
        info_type: u8,
        class: u8,
        out: &mut [u8],
    ) -> core::result::Result<(usize, bool), NtStatus> {
        let r = self.query_info_inner(id, info_type, class, out);
        self.track(r)
    }

    fn query_info_inner(
        &mut self,
        id: FileId,
        info_type: u8,
        class: u8,
        out: &mut [u8],
    ) -> Result<(usize, bool)> {
        let open = self.get(id)?;
        match InfoType(info_type) {
            InfoType::FILE => {
                let pending = self.delete_pending.contains(&open.key);
                query_file(open, FileInfoClass(class), pending, out)
            }
            InfoType::FILESYSTEM => query_fs(open, FsInfoClass(class), out),
            InfoType::SECURITY => {
                Err(FsError::NotSupported { op: "QUERY_INFO", what: "security descriptors" })
            }
            InfoType::QUOTA => Err(FsError::NotSupported { op: "QUERY_INFO", what: "quotas" }),
            _ => Err(FsError::InvalidParameter { op: "QUERY_INFO", what: "InfoType" }),
        }
    }
}

/// Encodes a fixed-size class, refusing a buffer shorter than `len`.
fn put_fixed<T: Encode>(v: &T, len: usize, what: &'static str, out: &mut [u8]) -> Result<(usize, bool)> {
    if out.len() < len {
        return Err(FsError::InfoLength { what, need: len, have: out.len() });
    }
    let n = v.encode_into(out).map_err(|_| FsError::InfoLength { what, need: len, have: out.len() })?;
    Ok((n, false))
}

/// Encodes a class that ends in a name, cutting the name to fit.
fn put_truncated<T: EncodeTruncated>(v: &T, what: &'static str, out: &mut [u8]) -> Result<(usize, bool)> {
    let need = v.fixed_len();
    let have = out.len();
    if have < need {
        return Err(FsError::InfoLength { what, need, have });
    }
    let mut w = Writer::new(out);
    let cut = v.encode_truncated(&mut w, have).map_err(|_| FsError::InfoLength { what, need, have })?;
    Ok((w.pos(), cut))
}

fn basic(m: &Meta, name: &str) -> FileBasicInformation {
    let n = m.network_open_info(name);
    FileBasicInformation {
        creation_time: n.creation_time,
        last_access_time: n.last_access_time,
        last_write_time: n.last_write_time,
        change_time: n.change_time,
        file_attributes: n.file_attributes,
    }
}

fn standard(m: &Meta, delete_pending: bool) -> FileStandardInformation {
    FileStandardInformation {
        allocation_size: m.allocation_size(),
        end_of_file: m.end_of_file(),
        number_of_links: m.nlink,
        delete_pending,
        directory: m.is_dir(),
    }
}

fn query_file(open: &Open, class: FileInfoClass, pending: bool, out: &mut [u8]) -> Result<(usize, bool)> {
    use FileInfoClass as C;
    let read_attrs = || open.require("QUERY_INFO", access_mask::FILE_READ_ATTRIBUTES);
    let name = open.attr_name();
    match class {
        C::BASIC => {
            read_attrs()?;
            put_fixed(&basic(&open.meta()?, name), FileBasicInformation::LEN, "FileBasicInformation", out)
        }
        C::STANDARD => put_fixed(
            &standard(&open.meta()?, pending),
            FileStandardInformation::LEN,
            "FileStandardInformation",
            out,
        ),
        C::INTERNAL => put_fixed(
            &FileInternalInformation { index_number: open.meta()?.ino },
            FileInternalInformation::LEN,
            "FileInternalInformation",
            out,
        ),
        C::EA => {
            put_fixed(&FileEaInformation { ea_size: 0 }, FileEaInformation::LEN, "FileEaInformation", out)
        }
        C::ACCESS => put_fixed(
            &FileAccessInformation { access_flags: open.granted },
            FileAccessInformation::LEN,
            "FileAccessInformation",
            out,
        ),
        C::POSITION => put_fixed(
            &FilePositionInformation { current_byte_offset: open.position },
            FilePositionInformation::LEN,
            "FilePositionInformation",
            out,
        ),
        C::MODE => put_fixed(
            &FileModeInformation { mode: open.mode },
            FileModeInformation::LEN,
            "FileModeInformation",
            out,
        ),
        C::ALIGNMENT => put_fixed(
            &FileAlignmentInformation { alignment_requirement: 0 },
            FileAlignmentInformation::LEN,
            "FileAlignmentInformation",
            out,
        ),
        C::ALL => {
            read_attrs()?;
            let m = open.meta()?;
            let wire = utf16le(&open.path.wire_name());
            let all = FileAllInformation {
                basic: basic(&m, name),
                standard: standard(&m, pending),
                internal: FileInternalInformation { index_number: m.ino },
                ea: FileEaInformation { ea_size: 0 },
                access: FileAccessInformation { access_flags: open.granted },
                position: FilePositionInformation { current_byte_offset: open.position },
                mode: FileModeInformation { mode: open.mode },
                alignment: FileAlignmentInformation { alignment_requirement: 0 },
                name: FileNameInformation { file_name: utf16(&wire)? },
            };
            put_truncated(&all, "FileAllInformation", out)
        }
        C::NAME => {
            let wire = utf16le(&open.path.wire_name());
            put_truncated(&FileNameInformation { file_name: utf16(&wire)? }, "FileNameInformation", out)
        }
        C::NORMALIZED_NAME => {
            let wire = utf16le(&open.path.display());
            put_truncated(
                &FileNormalizedNameInformation { file_name: utf16(&wire)? },
                "FileNormalizedNameInformation",
                out,
            )
        }
        C::NETWORK_OPEN => {
            read_attrs()?;
            let n = open.meta()?.network_open_info(name);
            let v = FileNetworkOpenInformation {
                creation_time: n.creation_time,
                last_access_time: n.last_access_time,
                last_write_time: n.last_write_time,
                change_time: n.change_time,
                allocation_size: n.allocation_size,
                end_of_file: n.end_of_file,
                file_attributes: n.file_attributes,
            };
            put_fixed(&v, FileNetworkOpenInformation::LEN, "FileNetworkOpenInformation", out)
        }
        C::ATTRIBUTE_TAG => {
            read_attrs()?;
            let v = FileAttributeTagInformation {
                file_attributes: open.meta()?.attributes(name),
                reparse_tag: 0,
            };
            put_fixed(&v, FileAttributeTagInformation::LEN, "FileAttributeTagInformation", out)
        }
        C::STREAM => query_streams(open, out),
        C::COMPRESSION => {
            let m = open.meta()?;
            let v =
                FileCompressionInformation { compressed_file_size: m.end_of_file(), ..Default::default() };
            put_fixed(&v, FileCompressionInformation::LEN, "FileCompressionInformation", out)
        }
        C::ID => {
            let m = open.meta()?;
            let mut file_id = [0u8; 16];
            file_id[..8].copy_from_slice(&m.ino.to_le_bytes());
            let v = FileIdInformation { volume_serial_number: u64::from(volume_serial(m.dev)), file_id };
            put_fixed(&v, FileIdInformation::LEN, "FileIdInformation", out)
        }
        C::ALTERNATE_NAME => {
            let wire = utf16le(&short_name(open.path.file_name()));
            put_truncated(
                &FileAlternateNameInformation { file_name: utf16(&wire)? },
                "FileAlternateNameInformation",
                out,
            )
        }
        _ => Err(FsError::InvalidInfoClass { info_type: InfoType::FILE.0, class: class.0 }),
    }
}

/// An 8.3 name for FileAlternateNameInformation: the name itself (upper-cased) where it already is
/// one, else the `BASE~1.EXT` form. Informational only: it is never resolved back to a file, so two
/// files sharing a mangled form do no harm.
fn short_name(name: &str) -> String {
    const OK: &str = "!#$%&'()-@^_`{}~";
    let keep = |s: &str, n: usize| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || OK.contains(*c))
            .take(n)
            .collect::<String>()
            .to_ascii_uppercase()
    };
    if name.is_empty() {
        return String::new();
    }
    let (base, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let valid = !base.is_empty()
        && base.len() <= 8
        && ext.len() <= 3
        && !base.contains('.')
        && keep(base, 8).len() == base.len()
        && keep(ext, 3).len() == ext.len();
    if valid {
        return name.to_ascii_uppercase();
    }
    let b = keep(base, 6);
    let b = if b.is_empty() { "FILE".to_string() } else { b };
    let e = keep(ext, 3);
    if e.is_empty() {
        format!("{b}~1")
    } else {
        format!("{b}~1.{e}")
    }
}

fn utf16(bytes: &[u8]) -> Result<Utf16<'_>> {
    Utf16::new(bytes, "FileName").map_err(|_| FsError::InvalidParameter { op: "QUERY_INFO", what: "name" })
}

/// FileStreamInformation: one `::$DATA` entry for a file, nothing for a directory.
fn query_streams(open: &Open, out: &mut [u8]) -> Result<(usize, bool)> {
    if open.is_directory {
        return Ok((0, false));
    }
    let m = open.meta()?;
    let name = utf16le(DATA_STREAM);
    let entry = FileStreamEntry {
        stream_size: m.size,
        stream_allocation_size: m.allocation_size(),
        stream_name: utf16(&name)?,
    };
    let fixed = <FileStreamEntry<'_> as ChainEntry<'_>>::FIXED_LEN;
    if out.len() < fixed {
        return Err(FsError::InfoLength { what: "FileStreamInformation", need: fixed, have: out.len() });
    }
    let full = entry.to_vec();
    let n = full.len().min(out.len());
    out[..n].copy_from_slice(&full[..n]);
    Ok((n, n < full.len()))
}

/// statvfs of the open's file system, as allocation units of [`SECTOR`]-byte sectors.
struct Space {
    total: u64,
    caller_avail: u64,
    actual_avail: u64,
    sectors_per_unit: u32,
    block_size: u64,
}

fn space(open: &Open) -> Result<Space> {
    let v = rustix::fs::fstatvfs(&open.file).map_err(|e| FsError::io("statvfs", &open.display(), e))?;
    let unit = if v.f_frsize != 0 { v.f_frsize } else { v.f_bsize };
    let unit = unit.max(SECTOR);
    Ok(Space {
        total: v.f_blocks,
        caller_avail: v.f_bavail,
        actual_avail: v.f_bfree,
        sectors_per_unit: u32::try_from(unit / SECTOR).unwrap_or(u32::MAX),
        block_size: v.f_bsize.max(SECTOR),
    })
}

fn query_fs(open: &Open, class: FsInfoClass, out: &mut [u8]) -> Result<(usize, bool)> {
    use FsInfoClass as C;
    match class {
        C::VOLUME => {
            let root_fd = resolve::open_root(&open.root)?;
            let root = Meta::of_fd(&root_fd).map_err(|e| FsError::io("stat share root", "", e))?;
            let label = utf16le(&open.share_name);
            let v = FileFsVolumeInformation {
                volume_creation_time: root.creation_time().filetime(),
                volume_serial_number: volume_serial(root.dev),
                supports_objects: false,
                volume_label: Utf16::new(&label, "VolumeLabel")
                    .map_err(|_| FsError::InvalidParameter { op: "QUERY_INFO", what: "share name" })?,
            };
            put_truncated(&v, "FileFsVolumeInformation", out)
        }
        C::SIZE => {
            let s = space(open)?;
            let v = FileFsSizeInformation {
                total_allocation_units: s.total,
                available_allocation_units: s.caller_avail,
                sectors_per_allocation_unit: s.sectors_per_unit,
                bytes_per_sector: SECTOR as u32,
            };
            put_fixed(&v, FileFsSizeInformation::LEN, "FileFsSizeInformation", out)
        }
        C::FULL_SIZE => {
            let s = space(open)?;
            let v = FileFsFullSizeInformation {
                total_allocation_units: s.total,
                caller_available_allocation_units: s.caller_avail,
                actual_available_allocation_units: s.actual_avail,
                sectors_per_allocation_unit: s.sectors_per_unit,
                bytes_per_sector: SECTOR as u32,
            };
            put_fixed(&v, FileFsFullSizeInformation::LEN, "FileFsFullSizeInformation", out)
        }
        C::DEVICE => {
            let mut characteristics = device_characteristics::DEVICE_IS_MOUNTED;
            if open.share_read_only {
                characteristics |= device_characteristics::READ_ONLY_DEVICE;
            }
            let v = FileFsDeviceInformation { device_type: device_type::DISK, characteristics };
            put_fixed(&v, FileFsDeviceInformation::LEN, "FileFsDeviceInformation", out)
        }
        C::ATTRIBUTE => {
            let mut flags = fs_attributes::CASE_SENSITIVE_SEARCH
                | fs_attributes::CASE_PRESERVED_NAMES
                | fs_attributes::UNICODE_ON_DISK;
            if open.share_read_only {
                flags |= fs_attributes::READ_ONLY_VOLUME;
            }
            let name = utf16le(FILE_SYSTEM_NAME);
            let v = FileFsAttributeInformation {
                file_system_attributes: flags,
                maximum_component_name_length: MAX_COMPONENT as u32,
                file_system_name: utf16(&name)?,
            };
            put_truncated(&v, "FileFsAttributeInformation", out)
        }
        C::SECTOR_SIZE => {
            let s = space(open)?;
            let physical = u32::try_from(s.block_size.min(64 * 1024)).unwrap_or(4096);
            let v = FileFsSectorSizeInformation {
                logical_bytes_per_sector: SECTOR as u32,
                physical_bytes_per_sector_for_atomicity: physical,
                physical_bytes_per_sector_for_performance: physical,
                file_system_effective_physical_bytes_per_sector_for_atomicity: physical,
                flags: sector_size_flags::ALIGNED_DEVICE | sector_size_flags::PARTITION_ALIGNED_ON_DEVICE,
                byte_offset_for_sector_alignment: 0,
                byte_offset_for_partition_alignment: 0,
            };
            put_fixed(&v, FileFsSectorSizeInformation::LEN, "FileFsSectorSizeInformation", out)
        }
        C::OBJECT_ID => {
            let root_fd = resolve::open_root(&open.root)?;
            let root = Meta::of_fd(&root_fd).map_err(|e| FsError::io("stat share root", "", e))?;
            let mut object_id = [0u8; 16];
            object_id[..8].copy_from_slice(&root.dev.to_le_bytes());
            object_id[8..].copy_from_slice(&root.ino.to_le_bytes());
            let v = FileFsObjectIdInformation { object_id, extended_info: [0; 48] };
            put_fixed(&v, FileFsObjectIdInformation::LEN, "FileFsObjectIdInformation", out)
        }
        _ => Err(FsError::InvalidInfoClass { info_type: InfoType::FILESYSTEM.0, class: class.0 }),
    }
}

#[cfg(test)]
mod short_name_tests {
    use super::short_name;

    #[test]
    fn eight_dot_three() {
        assert_eq!(short_name("x.bin"), "X.BIN");
        assert_eq!(short_name("README"), "README");
        assert_eq!(short_name("a long name.text"), "ALONGN~1.TEX");
        assert_eq!(short_name("archive.tar.gz"), "ARCHIV~1.GZ");
        assert_eq!(short_name(".hidden"), "FILE~1.HID");
        assert_eq!(short_name(""), "");
    }
}
