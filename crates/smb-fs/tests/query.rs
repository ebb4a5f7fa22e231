//! QUERY_INFO: every FILE and FILESYSTEM class parses back with smb-wire and says what the disk says.

mod common;

use std::os::unix::fs::MetadataExt;

use common::*;
use smb_wire::create::{access_mask as am, create_options as co};
use smb_wire::info::file::*;
use smb_wire::info::fs::*;
use smb_wire::info::{file_attributes as fa, FileInfoClass as C, FsInfoClass as F};
use smb_wire::status::NtStatus;
use smb_wire::types::FileId;

const FILE_T: u8 = 1;
const FS_T: u8 = 2;

fn q(f: &mut Fixture, id: FileId, t: u8, class: u8) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let (n, cut) =
        f.opens.query_info(id, t, class, &mut buf).unwrap_or_else(|e| panic!("class {class}: {e:?}"));
    assert!(!cut, "class {class} fits in 4 KiB");
    buf.truncate(n);
    buf
}

fn setup() -> (Fixture, FileId, FileId) {
    let mut f = Fixture::new();
    f.mkdir("dir");
    f.write_file("dir/file.txt", &[5u8; 3000]);
    let file =
        f.create(r"dir\file.txt", RW, D::OPEN, co::NON_DIRECTORY_FILE | co::WRITE_THROUGH).unwrap().file_id;
    let dir = f.open("dir", am::GENERIC_READ);
    (f, file, dir)
}

#[test]
fn file_classes_parse_back_and_match_the_disk() {
    let (mut f, id, dir) = setup();
    // Reading first moves the position (and may touch the access time).
    let mut buf = [0u8; 10];
    f.opens.read(id, 100, &mut buf).unwrap();
    let md = std::fs::metadata(f.path("dir/file.txt")).unwrap();

    let b = FileBasicInformation::parse(&q(&mut f, id, FILE_T, C::BASIC.0)).unwrap();
    assert_eq!(b.last_write_time, filetime(md.modified().unwrap()));
    assert_eq!(b.file_attributes, fa::ARCHIVE);
    let s = FileStandardInformation::parse(&q(&mut f, id, FILE_T, C::STANDARD.0)).unwrap();
    assert_eq!((s.end_of_file, s.allocation_size, s.number_of_links), (3000, md.blocks() * 512, 1));
    assert!(!s.delete_pending && !s.directory);
    let i = FileInternalInformation::parse(&q(&mut f, id, FILE_T, C::INTERNAL.0)).unwrap();
    assert_eq!(i.index_number, md.ino());
    assert_eq!(FileEaInformation::parse(&q(&mut f, id, FILE_T, C::EA.0)).unwrap().ea_size, 0);
    let a = FileAccessInformation::parse(&q(&mut f, id, FILE_T, C::ACCESS.0)).unwrap();
    assert_eq!(a.access_flags, smb_fs::access::expand_generic(RW));
    let p = FilePositionInformation::parse(&q(&mut f, id, FILE_T, C::POSITION.0)).unwrap();
    assert_eq!(p.current_byte_offset, 110);
    let m = FileModeInformation::parse(&q(&mut f, id, FILE_T, C::MODE.0)).unwrap();
    assert_eq!(m.mode, file_mode::WRITE_THROUGH);
    let al = FileAlignmentInformation::parse(&q(&mut f, id, FILE_T, C::ALIGNMENT.0)).unwrap();
    assert_eq!(al.alignment_requirement, 0);

    let buf = q(&mut f, id, FILE_T, C::ALL.0);
    let all = FileAllInformation::parse(&buf).unwrap();
    assert_eq!(all.basic, b);
    assert_eq!(all.standard, s);
    assert_eq!(all.internal, i);
    assert_eq!(all.position.current_byte_offset, 110);
    assert_eq!(all.name.file_name.to_string().unwrap(), r"\dir\file.txt");
    let nb = q(&mut f, id, FILE_T, C::NAME.0);
    let n = FileNameInformation::parse(&nb).unwrap();
    assert_eq!(n.file_name.to_string().unwrap(), r"\dir\file.txt");
    let nb = q(&mut f, id, FILE_T, C::NORMALIZED_NAME.0);
    let n = FileNormalizedNameInformation::parse(&nb).unwrap();
    assert_eq!(n.file_name.to_string().unwrap(), r"dir\file.txt");

    let no = FileNetworkOpenInformation::parse(&q(&mut f, id, FILE_T, C::NETWORK_OPEN.0)).unwrap();
    assert_eq!(
        (no.end_of_file, no.file_attributes, no.last_write_time),
        (3000, fa::ARCHIVE, b.last_write_time)
    );
    let t = FileAttributeTagInformation::parse(&q(&mut f, id, FILE_T, C::ATTRIBUTE_TAG.0)).unwrap();
    assert_eq!((t.file_attributes, t.reparse_tag), (fa::ARCHIVE, 0));
    let c = FileCompressionInformation::parse(&q(&mut f, id, FILE_T, C::COMPRESSION.0)).unwrap();
    assert_eq!((c.compressed_file_size, c.compression_format), (3000, 0));
    let fid = FileIdInformation::parse(&q(&mut f, id, FILE_T, C::ID.0)).unwrap();
    assert_eq!(&fid.file_id[..8], &md.ino().to_le_bytes());
    assert_ne!(fid.volume_serial_number, 0);

    let buf = q(&mut f, id, FILE_T, C::STREAM.0);
    let streams: Vec<_> = FileStreamInformation::parse(&buf).unwrap().iter().map(|e| e.unwrap()).collect();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].stream_name.to_string().unwrap(), "::$DATA");
    assert_eq!(streams[0].stream_size, 3000);

    // The directory's view.
    let s = FileStandardInformation::parse(&q(&mut f, dir, FILE_T, C::STANDARD.0)).unwrap();
    assert!(s.directory);
    assert_eq!(s.end_of_file, 0);
    let ab = q(&mut f, dir, FILE_T, C::ALL.0);
    let all = FileAllInformation::parse(&ab).unwrap();
    assert_eq!(all.basic.file_attributes, fa::DIRECTORY);
    assert_eq!(all.name.file_name.to_string().unwrap(), r"\dir");
    assert!(q(&mut f, dir, FILE_T, C::STREAM.0).is_empty(), "directories have no data stream");
    let root = f.open("", am::FILE_READ_ATTRIBUTES);
    let rb = q(&mut f, root, FILE_T, C::ALL.0);
    let all = FileAllInformation::parse(&rb).unwrap();
    assert_eq!(all.name.file_name.to_string().unwrap(), r"\");
}

#[test]
fn fixed_classes_refuse_short_buffers_and_names_are_cut() {
    let (mut f, id, _) = setup();
    for (class, len) in [
        (C::BASIC, FileBasicInformation::LEN),
        (C::STANDARD, FileStandardInformation::LEN),
        (C::NETWORK_OPEN, FileNetworkOpenInformation::LEN),
        (C::INTERNAL, FileInternalInformation::LEN),
        (C::ALL, FileAllInformation::FIXED_LEN),
        (C::NAME, FileNameInformation::FIXED_LEN),
        (C::STREAM, 24),
    ] {
        let mut buf = vec![0u8; len - 1];
        assert_eq!(
            f.opens.query_info(id, FILE_T, class.0, &mut buf),
            Err(NtStatus::INFO_LENGTH_MISMATCH),
            "{class:?}"
        );
    }
    // FileAllInformation with room for 3 name characters: the fixed part carries the full length.
    let mut buf = vec![0u8; FileAllInformation::FIXED_LEN + 6];
    let (n, cut) = f.opens.query_info(id, FILE_T, C::ALL.0, &mut buf).unwrap();
    assert!(cut);
    assert_eq!(n, buf.len());
    let len_at = FileAllInformation::FIXED_LEN - 4;
    assert_eq!(
        u32::from_le_bytes(buf[len_at..len_at + 4].try_into().unwrap()),
        2 * r"\dir\file.txt".len() as u32
    );
    assert_eq!(&buf[len_at + 4..], &smb_wire::types::utf16le(r"\di")[..]);
    // A cut stream entry keeps its fixed part.
    let mut buf = vec![0u8; 30];
    assert_eq!(f.opens.query_info(id, FILE_T, C::STREAM.0, &mut buf), Ok((30, true)));
}

#[test]
fn unsupported_classes_and_types() {
    let (mut f, id, _) = setup();
    let mut buf = vec![0u8; 1024];
    for class in [C::DIRECTORY.0, C::RENAME.0, C::DISPOSITION.0, C::QUOTA.0, 200] {
        assert_eq!(
            f.opens.query_info(id, FILE_T, class, &mut buf),
            Err(NtStatus::INVALID_INFO_CLASS),
            "{class}"
        );
    }
    // The 8.3 alternate name is answered (smbclient's allinfo asks for it) with a valid short name.
    let (n, truncated) = f.opens.query_info(id, FILE_T, C::ALTERNATE_NAME.0, &mut buf).unwrap();
    assert!(!truncated);
    let alt = smb_wire::info::file::FileAlternateNameInformation::parse(&buf[..n]).unwrap();
    let alt = alt.file_name.to_string().unwrap();
    assert!(!alt.is_empty() && alt.len() <= 12 && alt == alt.to_ascii_uppercase(), "{alt}");
    for class in [F::LABEL.0, F::CONTROL.0, F::DRIVER_PATH.0, 99] {
        assert_eq!(
            f.opens.query_info(id, FS_T, class, &mut buf),
            Err(NtStatus::INVALID_INFO_CLASS),
            "{class}"
        );
    }
    assert_eq!(f.opens.query_info(id, 3, 0, &mut buf), Err(NtStatus::NOT_SUPPORTED));
    assert_eq!(f.opens.query_info(id, 9, 1, &mut buf), Err(NtStatus::INVALID_PARAMETER));
    let closed = FileId { persistent: 999, volatile: 999 };
    assert_eq!(f.opens.query_info(closed, FILE_T, C::BASIC.0, &mut buf), Err(NtStatus::FILE_CLOSED));
}

#[test]
fn attribute_queries_need_read_attributes() {
    let (mut f, _, _) = setup();
    let id = f.open(r"dir\file.txt", am::FILE_READ_DATA);
    let mut buf = vec![0u8; 1024];
    for class in [C::BASIC, C::ALL, C::NETWORK_OPEN, C::ATTRIBUTE_TAG] {
        assert_eq!(
            f.opens.query_info(id, FILE_T, class.0, &mut buf),
            Err(NtStatus::ACCESS_DENIED),
            "{class:?}"
        );
    }
    assert!(f.opens.query_info(id, FILE_T, C::STANDARD.0, &mut buf).is_ok());
}

#[test]
fn file_system_classes_parse_back() {
    let (mut f, id, _) = setup();
    let vb = q(&mut f, id, FS_T, F::VOLUME.0);
    let v = FileFsVolumeInformation::parse(&vb).unwrap();
    assert_eq!(v.volume_label.to_string().unwrap(), "data");
    assert!(v.volume_creation_time > 0);
    let fid = FileIdInformation::parse(&q(&mut f, id, FILE_T, C::ID.0)).unwrap();
    assert_eq!(u64::from(v.volume_serial_number), fid.volume_serial_number);

    let s = FileFsSizeInformation::parse(&q(&mut f, id, FS_T, F::SIZE.0)).unwrap();
    assert!(s.total_allocation_units > 0);
    assert!(s.available_allocation_units <= s.total_allocation_units);
    assert_eq!(s.bytes_per_sector, 512);
    assert!(s.sectors_per_allocation_unit >= 1);
    let full = FileFsFullSizeInformation::parse(&q(&mut f, id, FS_T, F::FULL_SIZE.0)).unwrap();
    assert_eq!(full.total_allocation_units, s.total_allocation_units);
    assert!(full.caller_available_allocation_units <= full.actual_available_allocation_units);

    let d = FileFsDeviceInformation::parse(&q(&mut f, id, FS_T, F::DEVICE.0)).unwrap();
    assert_eq!(d.device_type, device_type::DISK);
    assert_eq!(d.characteristics & device_characteristics::READ_ONLY_DEVICE, 0);
    let ab = q(&mut f, id, FS_T, F::ATTRIBUTE.0);
    let a = FileFsAttributeInformation::parse(&ab).unwrap();
    assert_eq!(a.file_system_name.to_string().unwrap(), "smbdx");
    assert_eq!(a.maximum_component_name_length, 255);
    assert_ne!(a.file_system_attributes & fs_attributes::CASE_PRESERVED_NAMES, 0);
    assert_eq!(a.file_system_attributes & fs_attributes::READ_ONLY_VOLUME, 0);
    let ss = FileFsSectorSizeInformation::parse(&q(&mut f, id, FS_T, F::SECTOR_SIZE.0)).unwrap();
    assert_eq!(ss.logical_bytes_per_sector, 512);
    assert!(ss.physical_bytes_per_sector_for_atomicity >= 512);
    let o = FileFsObjectIdInformation::parse(&q(&mut f, id, FS_T, F::OBJECT_ID.0)).unwrap();
    assert_ne!(o.object_id, [0; 16]);

    let mut small = vec![0u8; FileFsVolumeInformation::FIXED_LEN - 1];
    assert_eq!(f.opens.query_info(id, FS_T, F::VOLUME.0, &mut small), Err(NtStatus::INFO_LENGTH_MISMATCH));
    let mut cut = vec![0u8; FileFsAttributeInformation::FIXED_LEN + 4];
    assert_eq!(f.opens.query_info(id, FS_T, F::ATTRIBUTE.0, &mut cut), Ok((16, true)));

    // A read-only share says so.
    f.share.read_only = true;
    let ro = f.open("", am::GENERIC_READ);
    let d = FileFsDeviceInformation::parse(&q(&mut f, ro, FS_T, F::DEVICE.0)).unwrap();
    assert_ne!(d.characteristics & device_characteristics::READ_ONLY_DEVICE, 0);
    let ab = q(&mut f, ro, FS_T, F::ATTRIBUTE.0);
    let a = FileFsAttributeInformation::parse(&ab).unwrap();
    assert_ne!(a.file_system_attributes & fs_attributes::READ_ONLY_VOLUME, 0);
}
