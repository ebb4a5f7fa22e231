//! MS-FSCC 2.4 directory information classes returned by QUERY_DIRECTORY: FileDirectoryInformation
//! (1), FileFullDirectoryInformation (2), FileBothDirectoryInformation (3), FileNamesInformation
//! (12), FileIdBothDirectoryInformation (37), FileIdFullDirectoryInformation (38).
//!
//! Each entry type parses one entry and implements [`ChainEntry`] so [`Entries`] can walk a
//! response's OutputBuffer lazily; each implements [`Encode`] (with NextEntryOffset 0) so a server
//! appends entries with [`crate::info::ChainBuilder`]. [`AnyDirEntry`] picks the layout from the
//! request's FileInformationClass.

use crate::codec::{Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::info::chain::{ChainEntry, Entries};
use crate::info::FileInfoClass;
use crate::types::{narrow_u32, us, Utf16};

/// Bytes of the ShortName field (12 UTF-16 code units, the 8.3 name).
pub const SHORT_NAME_LEN: usize = 24;

/// The fields from FileIndex to FileAttributes that every directory class except
/// FileNamesInformation shares, in wire order (EndOfFile before AllocationSize).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DirEntryBase {
    /// Position in the directory; 0 on file systems with no stable order (the common case).
    pub file_index: u32,
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub end_of_file: u64,
    pub allocation_size: u64,
    pub file_attributes: u32,
}

impl DirEntryBase {
    /// Wire bytes from FileIndex through FileAttributes.
    pub const LEN: usize = 56;

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.file_index)?;
        w.u64(self.creation_time)?;
        w.u64(self.last_access_time)?;
        w.u64(self.last_write_time)?;
        w.u64(self.change_time)?;
        w.u64(self.end_of_file)?;
        w.u64(self.allocation_size)?;
        w.u32(self.file_attributes)
    }
}

/// Reads a [`DirEntryBase`] naming the fields after the class.
macro_rules! read_base {
    ($r:expr, $class:literal) => {
        DirEntryBase {
            file_index: $r.u32(concat!($class, ".FileIndex"))?,
            creation_time: $r.u64(concat!($class, ".CreationTime"))?,
            last_access_time: $r.u64(concat!($class, ".LastAccessTime"))?,
            last_write_time: $r.u64(concat!($class, ".LastWriteTime"))?,
            change_time: $r.u64(concat!($class, ".ChangeTime"))?,
            end_of_file: $r.u64(concat!($class, ".EndOfFile"))?,
            allocation_size: $r.u64(concat!($class, ".AllocationSize"))?,
            file_attributes: $r.u32(concat!($class, ".FileAttributes"))?,
        }
    };
}

/// The standalone `parse` of an entry type: skips NextEntryOffset, reads the entry.
macro_rules! entry_parse {
    () => {
        /// Parses the entry at the start of `buf` (its NextEntryOffset is not followed).
        pub fn parse(buf: &'a [u8]) -> Result<Self> {
            let mut r = Reader::new(buf);
            r.skip(4, Self::NEXT_ENTRY_OFFSET_FIELD)?;
            Self::read_entry(&mut r)
        }

        /// A lazy walk over a chain of these entries (a QUERY_DIRECTORY OutputBuffer).
        pub fn entries(buf: &'a [u8]) -> Entries<'a, Self> {
            Entries::new(buf)
        }
    };
}

fn name<'a>(r: &mut Reader<'a>, len: u32, field: &'static str) -> Result<Utf16<'a>> {
    Utf16::new(r.bytes(us(len), field)?, field)
}

fn read_short_name<'a>(
    r: &mut Reader<'a>,
    len_field: &'static str,
    name_field: &'static str,
) -> Result<Utf16<'a>> {
    let len = usize::from(r.u8(len_field)?);
    r.skip(1, len_field)?;
    let bytes = r.bytes(SHORT_NAME_LEN, name_field)?;
    if len > SHORT_NAME_LEN {
        return Err(WireError::TooLarge { field: len_field, value: len, cap: SHORT_NAME_LEN });
    }
    Utf16::new(bytes.get(..len).unwrap_or_default(), name_field)
}

fn write_short_name(w: &mut Writer<'_>, s: &Utf16<'_>, len_field: &'static str) -> Result<()> {
    let len = s.len();
    if len > SHORT_NAME_LEN {
        return Err(WireError::TooLarge { field: len_field, value: len, cap: SHORT_NAME_LEN });
    }
    w.u8(len as u8)?;
    w.u8(0)?;
    w.bytes(s.as_bytes())?;
    w.zeros(SHORT_NAME_LEN - len)
}

/// MS-FSCC 2.4 FileDirectoryInformation (class 1): FILE_DIRECTORY_INFORMATION, 64 bytes + name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileDirectoryInformation<'a> {
    pub base: DirEntryBase,
    pub file_name: Utf16<'a>,
}

impl<'a> FileDirectoryInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::DIRECTORY;
    entry_parse!();
}

impl<'a> ChainEntry<'a> for FileDirectoryInformation<'a> {
    const NEXT_ENTRY_OFFSET_FIELD: &'static str = "FileDirectoryInformation.NextEntryOffset";
    const COUNT_FIELD: &'static str = "FileDirectoryInformation.Count";
    const FIXED_LEN: usize = 64;

    fn read_entry(r: &mut Reader<'a>) -> Result<Self> {
        let base = read_base!(r, "FileDirectoryInformation");
        let len = r.u32("FileDirectoryInformation.FileNameLength")?;
        Ok(Self { base, file_name: name(r, len, "FileDirectoryInformation.FileName")? })
    }
}

impl Encode for FileDirectoryInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.file_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(0)?;
        self.base.write(w)?;
        w.u32(narrow_u32(self.file_name.len(), "FileDirectoryInformation.FileNameLength")?)?;
        w.bytes(self.file_name.as_bytes())
    }
}

/// MS-FSCC 2.4 FileFullDirectoryInformation (class 2): FILE_FULL_DIR_INFORMATION, 68 bytes + name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileFullDirectoryInformation<'a> {
    pub base: DirEntryBase,
    /// EA size; for a reparse point, the reparse tag instead.
    pub ea_size: u32,
    pub file_name: Utf16<'a>,
}

impl<'a> FileFullDirectoryInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::FULL_DIRECTORY;
    entry_parse!();
}

impl<'a> ChainEntry<'a> for FileFullDirectoryInformation<'a> {
    const NEXT_ENTRY_OFFSET_FIELD: &'static str = "FileFullDirectoryInformation.NextEntryOffset";
    const COUNT_FIELD: &'static str = "FileFullDirectoryInformation.Count";
    const FIXED_LEN: usize = 68;

    fn read_entry(r: &mut Reader<'a>) -> Result<Self> {
        let base = read_base!(r, "FileFullDirectoryInformation");
        let len = r.u32("FileFullDirectoryInformation.FileNameLength")?;
        let ea_size = r.u32("FileFullDirectoryInformation.EaSize")?;
        Ok(Self { base, ea_size, file_name: name(r, len, "FileFullDirectoryInformation.FileName")? })
    }
}

impl Encode for FileFullDirectoryInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.file_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(0)?;
        self.base.write(w)?;
        w.u32(narrow_u32(self.file_name.len(), "FileFullDirectoryInformation.FileNameLength")?)?;
        w.u32(self.ea_size)?;
        w.bytes(self.file_name.as_bytes())
    }
}

/// MS-FSCC 2.4 FileBothDirectoryInformation (class 3): FILE_BOTH_DIR_INFORMATION, 94 bytes + name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileBothDirectoryInformation<'a> {
    pub base: DirEntryBase,
    /// EA size; for a reparse point, the reparse tag instead.
    pub ea_size: u32,
    /// The 8.3 name, at most [`SHORT_NAME_LEN`] bytes; empty when there is none.
    pub short_name: Utf16<'a>,
    pub file_name: Utf16<'a>,
}

impl<'a> FileBothDirectoryInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::BOTH_DIRECTORY;
    entry_parse!();
}

impl<'a> ChainEntry<'a> for FileBothDirectoryInformation<'a> {
    const NEXT_ENTRY_OFFSET_FIELD: &'static str = "FileBothDirectoryInformation.NextEntryOffset";
    const COUNT_FIELD: &'static str = "FileBothDirectoryInformation.Count";
    const FIXED_LEN: usize = 94;

    fn read_entry(r: &mut Reader<'a>) -> Result<Self> {
        let base = read_base!(r, "FileBothDirectoryInformation");
        let len = r.u32("FileBothDirectoryInformation.FileNameLength")?;
        let ea_size = r.u32("FileBothDirectoryInformation.EaSize")?;
        let short_name = read_short_name(
            r,
            "FileBothDirectoryInformation.ShortNameLength",
            "FileBothDirectoryInformation.ShortName",
        )?;
        let file_name = name(r, len, "FileBothDirectoryInformation.FileName")?;
        Ok(Self { base, ea_size, short_name, file_name })
    }
}

impl Encode for FileBothDirectoryInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.file_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(0)?;
        self.base.write(w)?;
        w.u32(narrow_u32(self.file_name.len(), "FileBothDirectoryInformation.FileNameLength")?)?;
        w.u32(self.ea_size)?;
        write_short_name(w, &self.short_name, "FileBothDirectoryInformation.ShortNameLength")?;
        w.bytes(self.file_name.as_bytes())
    }
}

/// MS-FSCC 2.4 FileIdBothDirectoryInformation (class 37): FILE_ID_BOTH_DIR_INFORMATION, 104 bytes +
/// name. What Windows clients and smbclient ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileIdBothDirectoryInformation<'a> {
    pub base: DirEntryBase,
    /// EA size; for a reparse point, the reparse tag instead.
    pub ea_size: u32,
    /// The 8.3 name, at most [`SHORT_NAME_LEN`] bytes; empty when there is none.
    pub short_name: Utf16<'a>,
    /// The 64-bit file id (FileInternalInformation.IndexNumber).
    pub file_id: u64,
    pub file_name: Utf16<'a>,
}

impl<'a> FileIdBothDirectoryInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::ID_BOTH_DIRECTORY;
    entry_parse!();
}

impl<'a> ChainEntry<'a> for FileIdBothDirectoryInformation<'a> {
    const NEXT_ENTRY_OFFSET_FIELD: &'static str = "FileIdBothDirectoryInformation.NextEntryOffset";
    const COUNT_FIELD: &'static str = "FileIdBothDirectoryInformation.Count";
    const FIXED_LEN: usize = 104;

    fn read_entry(r: &mut Reader<'a>) -> Result<Self> {
        let base = read_base!(r, "FileIdBothDirectoryInformation");
        let len = r.u32("FileIdBothDirectoryInformation.FileNameLength")?;
        let ea_size = r.u32("FileIdBothDirectoryInformation.EaSize")?;
        let short_name = read_short_name(
            r,
            "FileIdBothDirectoryInformation.ShortNameLength",
            "FileIdBothDirectoryInformation.ShortName",
        )?;
        r.skip(2, "FileIdBothDirectoryInformation.Reserved2")?;
        let file_id = r.u64("FileIdBothDirectoryInformation.FileId")?;
        let file_name = name(r, len, "FileIdBothDirectoryInformation.FileName")?;
        Ok(Self { base, ea_size, short_name, file_id, file_name })
    }
}

impl Encode for FileIdBothDirectoryInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.file_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(0)?;
        self.base.write(w)?;
        w.u32(narrow_u32(self.file_name.len(), "FileIdBothDirectoryInformation.FileNameLength")?)?;
        w.u32(self.ea_size)?;
        write_short_name(w, &self.short_name, "FileIdBothDirectoryInformation.ShortNameLength")?;
        w.u16(0)?;
        w.u64(self.file_id)?;
        w.bytes(self.file_name.as_bytes())
    }
}

/// MS-FSCC 2.4 FileIdFullDirectoryInformation (class 38): FILE_ID_FULL_DIR_INFORMATION, 80 bytes +
/// name. What Linux cifs asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileIdFullDirectoryInformation<'a> {
    pub base: DirEntryBase,
    /// EA size; for a reparse point, the reparse tag instead.
    pub ea_size: u32,
    /// The 64-bit file id (FileInternalInformation.IndexNumber).
    pub file_id: u64,
    pub file_name: Utf16<'a>,
}

impl<'a> FileIdFullDirectoryInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::ID_FULL_DIRECTORY;
    entry_parse!();
}

impl<'a> ChainEntry<'a> for FileIdFullDirectoryInformation<'a> {
    const NEXT_ENTRY_OFFSET_FIELD: &'static str = "FileIdFullDirectoryInformation.NextEntryOffset";
    const COUNT_FIELD: &'static str = "FileIdFullDirectoryInformation.Count";
    const FIXED_LEN: usize = 80;

    fn read_entry(r: &mut Reader<'a>) -> Result<Self> {
        let base = read_base!(r, "FileIdFullDirectoryInformation");
        let len = r.u32("FileIdFullDirectoryInformation.FileNameLength")?;
        let ea_size = r.u32("FileIdFullDirectoryInformation.EaSize")?;
        r.skip(4, "FileIdFullDirectoryInformation.Reserved")?;
        let file_id = r.u64("FileIdFullDirectoryInformation.FileId")?;
        let file_name = name(r, len, "FileIdFullDirectoryInformation.FileName")?;
        Ok(Self { base, ea_size, file_id, file_name })
    }
}

impl Encode for FileIdFullDirectoryInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.file_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(0)?;
        self.base.write(w)?;
        w.u32(narrow_u32(self.file_name.len(), "FileIdFullDirectoryInformation.FileNameLength")?)?;
        w.u32(self.ea_size)?;
        w.u32(0)?;
        w.u64(self.file_id)?;
        w.bytes(self.file_name.as_bytes())
    }
}

/// MS-FSCC 2.4 FileNamesInformation (class 12): FILE_NAMES_INFORMATION, 12 bytes + name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileNamesInformation<'a> {
    pub file_index: u32,
    pub file_name: Utf16<'a>,
}

impl<'a> FileNamesInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::NAMES;
    entry_parse!();
}

impl<'a> ChainEntry<'a> for FileNamesInformation<'a> {
    const NEXT_ENTRY_OFFSET_FIELD: &'static str = "FileNamesInformation.NextEntryOffset";
    const COUNT_FIELD: &'static str = "FileNamesInformation.Count";
    const FIXED_LEN: usize = 12;

    fn read_entry(r: &mut Reader<'a>) -> Result<Self> {
        let file_index = r.u32("FileNamesInformation.FileIndex")?;
        let len = r.u32("FileNamesInformation.FileNameLength")?;
        Ok(Self { file_index, file_name: name(r, len, "FileNamesInformation.FileName")? })
    }
}

impl Encode for FileNamesInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.file_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(0)?;
        w.u32(self.file_index)?;
        w.u32(narrow_u32(self.file_name.len(), "FileNamesInformation.FileNameLength")?)?;
        w.bytes(self.file_name.as_bytes())
    }
}

/// One directory entry in the layout a QUERY_DIRECTORY request's FileInformationClass selects.
///
/// A server describes each file once, as the richest class ([`FileIdBothDirectoryInformation`]),
/// and [`AnyDirEntry::project`]s it onto the requested class before appending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyDirEntry<'a> {
    Directory(FileDirectoryInformation<'a>),
    FullDirectory(FileFullDirectoryInformation<'a>),
    BothDirectory(FileBothDirectoryInformation<'a>),
    Names(FileNamesInformation<'a>),
    IdBothDirectory(FileIdBothDirectoryInformation<'a>),
    IdFullDirectory(FileIdFullDirectoryInformation<'a>),
}

impl<'a> AnyDirEntry<'a> {
    /// `full` in the layout of `class`, or `None` when `class` is not one of the six directory
    /// classes (the server answers STATUS_INVALID_INFO_CLASS).
    pub fn project(class: FileInfoClass, full: &FileIdBothDirectoryInformation<'a>) -> Option<Self> {
        let (base, ea_size, file_name) = (full.base, full.ea_size, full.file_name);
        Some(match class {
            FileInfoClass::DIRECTORY => Self::Directory(FileDirectoryInformation { base, file_name }),
            FileInfoClass::FULL_DIRECTORY => {
                Self::FullDirectory(FileFullDirectoryInformation { base, ea_size, file_name })
            }
            FileInfoClass::BOTH_DIRECTORY => Self::BothDirectory(FileBothDirectoryInformation {
                base,
                ea_size,
                short_name: full.short_name,
                file_name,
            }),
            FileInfoClass::NAMES => {
                Self::Names(FileNamesInformation { file_index: base.file_index, file_name })
            }
            FileInfoClass::ID_BOTH_DIRECTORY => Self::IdBothDirectory(*full),
            FileInfoClass::ID_FULL_DIRECTORY => Self::IdFullDirectory(FileIdFullDirectoryInformation {
                base,
                ea_size,
                file_id: full.file_id,
                file_name,
            }),
            _ => return None,
        })
    }

    /// Parses the entry at the start of `buf` in the layout of `class`; `None` for a class that is
    /// not a directory class.
    pub fn parse(class: FileInfoClass, buf: &'a [u8]) -> Option<Result<Self>> {
        Some(match class {
            FileInfoClass::DIRECTORY => FileDirectoryInformation::parse(buf).map(Self::Directory),
            FileInfoClass::FULL_DIRECTORY => {
                FileFullDirectoryInformation::parse(buf).map(Self::FullDirectory)
            }
            FileInfoClass::BOTH_DIRECTORY => {
                FileBothDirectoryInformation::parse(buf).map(Self::BothDirectory)
            }
            FileInfoClass::NAMES => FileNamesInformation::parse(buf).map(Self::Names),
            FileInfoClass::ID_BOTH_DIRECTORY => {
                FileIdBothDirectoryInformation::parse(buf).map(Self::IdBothDirectory)
            }
            FileInfoClass::ID_FULL_DIRECTORY => {
                FileIdFullDirectoryInformation::parse(buf).map(Self::IdFullDirectory)
            }
            _ => return None,
        })
    }

    pub fn class(&self) -> FileInfoClass {
        match self {
            Self::Directory(_) => FileInfoClass::DIRECTORY,
            Self::FullDirectory(_) => FileInfoClass::FULL_DIRECTORY,
            Self::BothDirectory(_) => FileInfoClass::BOTH_DIRECTORY,
            Self::Names(_) => FileInfoClass::NAMES,
            Self::IdBothDirectory(_) => FileInfoClass::ID_BOTH_DIRECTORY,
            Self::IdFullDirectory(_) => FileInfoClass::ID_FULL_DIRECTORY,
        }
    }

    pub fn file_name(&self) -> Utf16<'a> {
        match self {
            Self::Directory(e) => e.file_name,
            Self::FullDirectory(e) => e.file_name,
            Self::BothDirectory(e) => e.file_name,
            Self::Names(e) => e.file_name,
            Self::IdBothDirectory(e) => e.file_name,
            Self::IdFullDirectory(e) => e.file_name,
        }
    }

    fn inner(&self) -> &dyn crate::pdu::EncodeDyn {
        match self {
            Self::Directory(e) => e,
            Self::FullDirectory(e) => e,
            Self::BothDirectory(e) => e,
            Self::Names(e) => e,
            Self::IdBothDirectory(e) => e,
            Self::IdFullDirectory(e) => e,
        }
    }
}

impl Encode for AnyDirEntry<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        self.inner().encoded_len_dyn(at)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.inner().encode_dyn(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::chain::{Append, ChainBuilder};
    use crate::info::file_attributes;
    use crate::info::testutil::{enc, name_bytes, prefixes};
    use crate::types::utf16le;
    use proptest::prelude::*;

    fn u16s(b: &[u8]) -> Utf16<'_> {
        Utf16::new(b, "t").unwrap()
    }

    fn base_strategy() -> impl Strategy<Value = DirEntryBase> {
        (any::<u32>(), any::<[u64; 6]>(), any::<u32>()).prop_map(|(file_index, t, file_attributes)| {
            DirEntryBase {
                file_index,
                creation_time: t[0],
                last_access_time: t[1],
                last_write_time: t[2],
                change_time: t[3],
                end_of_file: t[4],
                allocation_size: t[5],
                file_attributes,
            }
        })
    }

    /// Encodes `entries` as a chain, then walks it back as `T` and checks each equals its source.
    fn chain_round_trip<'a, T>(entries: &[T], buf: &'a mut Vec<u8>) -> Vec<T>
    where
        T: ChainEntry<'a> + Encode + PartialEq + core::fmt::Debug,
    {
        buf.resize(entries.len() * 200, 0);
        let mut b = ChainBuilder::new(buf);
        for e in entries {
            assert_eq!(b.push(e).unwrap(), Append::Added);
        }
        let n = b.finish();
        buf.truncate(n);
        let buf: &'a [u8] = buf;
        Entries::<T>::new(buf).map(|e| e.unwrap()).collect()
    }

    /// The full entry as a server would describe a file.
    fn full<'a>(
        base: DirEntryBase,
        ea: u32,
        short: &'a [u8],
        id: u64,
        name: &'a [u8],
    ) -> FileIdBothDirectoryInformation<'a> {
        FileIdBothDirectoryInformation {
            base,
            ea_size: ea,
            short_name: u16s(short),
            file_id: id,
            file_name: u16s(name),
        }
    }

    type File = (DirEntryBase, u32, Vec<u8>, u64, Vec<u8>);

    fn files(n: core::ops::Range<usize>) -> impl Strategy<Value = Vec<File>> {
        proptest::collection::vec(
            (base_strategy(), any::<u32>(), name_bytes(12), any::<u64>(), name_bytes(30)),
            n,
        )
    }

    const CLASSES: [FileInfoClass; 6] = [
        FileInfoClass::DIRECTORY,
        FileInfoClass::FULL_DIRECTORY,
        FileInfoClass::BOTH_DIRECTORY,
        FileInfoClass::NAMES,
        FileInfoClass::ID_BOTH_DIRECTORY,
        FileInfoClass::ID_FULL_DIRECTORY,
    ];

    fn names_in<'a, T: ChainEntry<'a>>(buf: &'a [u8], name: fn(T) -> Utf16<'a>) -> Vec<Utf16<'a>> {
        Entries::<T>::new(buf).map(|e| name(e.unwrap())).collect()
    }

    /// Each class: every entry round trips alone (and its prefixes never panic), and a chain of
    /// them walks back with the same names.
    fn check_every_class(files: &[File]) {
        for class in CLASSES {
            let entries: Vec<AnyDirEntry> = files
                .iter()
                .map(|(b, ea, s, id, n)| AnyDirEntry::project(class, &full(*b, *ea, s, *id, n)).unwrap())
                .collect();
            for e in &entries {
                assert_eq!(e.class(), class);
                let bytes = enc(e);
                assert_eq!(AnyDirEntry::parse(class, &bytes).unwrap().unwrap(), *e);
                prefixes(&bytes, |p| {
                    let _ = AnyDirEntry::parse(class, p);
                });
            }
            let mut buf = vec![0u8; 2048];
            let mut b = ChainBuilder::new(&mut buf);
            for e in &entries {
                assert_eq!(b.push(e).unwrap(), Append::Added);
            }
            let n = b.finish();
            let buf = &buf[..n];
            let names = match class {
                FileInfoClass::DIRECTORY => names_in(buf, |e: FileDirectoryInformation| e.file_name),
                FileInfoClass::FULL_DIRECTORY => names_in(buf, |e: FileFullDirectoryInformation| e.file_name),
                FileInfoClass::BOTH_DIRECTORY => names_in(buf, |e: FileBothDirectoryInformation| e.file_name),
                FileInfoClass::NAMES => names_in(buf, |e: FileNamesInformation| e.file_name),
                FileInfoClass::ID_BOTH_DIRECTORY => {
                    names_in(buf, |e: FileIdBothDirectoryInformation| e.file_name)
                }
                _ => names_in(buf, |e: FileIdFullDirectoryInformation| e.file_name),
            };
            let want: Vec<_> = entries.iter().map(|e| e.file_name()).collect();
            assert_eq!(names, want);
        }
    }

    /// Each typed entry struct through the builder and the typed walker.
    fn check_typed_chains(files: &[File]) {
        let id_both: Vec<_> = files.iter().map(|(b, ea, s, id, n)| full(*b, *ea, s, *id, n)).collect();
        assert_eq!(chain_round_trip(&id_both, &mut Vec::new()), id_both);
        let id_full: Vec<_> = id_both
            .iter()
            .map(|f| FileIdFullDirectoryInformation {
                base: f.base,
                ea_size: f.ea_size,
                file_id: f.file_id,
                file_name: f.file_name,
            })
            .collect();
        assert_eq!(chain_round_trip(&id_full, &mut Vec::new()), id_full);
        let both: Vec<_> = id_both
            .iter()
            .map(|f| FileBothDirectoryInformation {
                base: f.base,
                ea_size: f.ea_size,
                short_name: f.short_name,
                file_name: f.file_name,
            })
            .collect();
        assert_eq!(chain_round_trip(&both, &mut Vec::new()), both);
        let full_dir: Vec<_> = id_both
            .iter()
            .map(|f| FileFullDirectoryInformation {
                base: f.base,
                ea_size: f.ea_size,
                file_name: f.file_name,
            })
            .collect();
        assert_eq!(chain_round_trip(&full_dir, &mut Vec::new()), full_dir);
        let dir: Vec<_> = id_both
            .iter()
            .map(|f| FileDirectoryInformation { base: f.base, file_name: f.file_name })
            .collect();
        assert_eq!(chain_round_trip(&dir, &mut Vec::new()), dir);
        let names: Vec<_> = id_both
            .iter()
            .map(|f| FileNamesInformation { file_index: f.base.file_index, file_name: f.file_name })
            .collect();
        assert_eq!(chain_round_trip(&names, &mut Vec::new()), names);
    }

    proptest! {
        #[test]
        fn every_class_round_trips_alone_and_in_chains(files in files(1..5)) {
            check_every_class(&files);
        }

        #[test]
        fn typed_chains_round_trip(files in files(0..5)) {
            check_typed_chains(&files);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            for class in 0..=40u8 {
                let _ = AnyDirEntry::parse(FileInfoClass(class), &bytes);
            }
            let _ = FileDirectoryInformation::entries(&bytes).count();
            let _ = FileFullDirectoryInformation::entries(&bytes).count();
            let _ = FileBothDirectoryInformation::entries(&bytes).count();
            let _ = FileNamesInformation::entries(&bytes).count();
            let _ = FileIdBothDirectoryInformation::entries(&bytes).count();
            let _ = FileIdFullDirectoryInformation::entries(&bytes).count();
        }
    }

    /// FILE_ID_BOTH_DIR_INFORMATION assembled field by field from the MS-FSCC offsets.
    #[test]
    fn id_both_layout_matches_the_spec_offsets() {
        let name = utf16le("report.txt");
        let short = utf16le("REPORT~1.TXT");
        let mut want = vec![0u8; 104];
        let mut put = |at: usize, b: &[u8]| want[at..at + b.len()].copy_from_slice(b);
        put(4, &7u32.to_le_bytes()); // FileIndex
        put(8, &1u64.to_le_bytes()); // CreationTime
        put(16, &2u64.to_le_bytes()); // LastAccessTime
        put(24, &3u64.to_le_bytes()); // LastWriteTime
        put(32, &4u64.to_le_bytes()); // ChangeTime
        put(40, &5000u64.to_le_bytes()); // EndOfFile
        put(48, &8192u64.to_le_bytes()); // AllocationSize
        put(56, &file_attributes::ARCHIVE.to_le_bytes());
        put(60, &(name.len() as u32).to_le_bytes()); // FileNameLength
        put(64, &0u32.to_le_bytes()); // EaSize
        put(68, &[short.len() as u8]); // ShortNameLength, then Reserved1
        put(70, &short); // ShortName[24]
        put(96, &0xABCDu64.to_le_bytes()); // FileId after Reserved2 at 94
        want.extend_from_slice(&name);

        let base = DirEntryBase {
            file_index: 7,
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            end_of_file: 5000,
            allocation_size: 8192,
            file_attributes: file_attributes::ARCHIVE,
        };
        let e = full(base, 0, &short, 0xABCD, &name);
        assert_eq!(enc(&e), want);
        assert_eq!(FileIdBothDirectoryInformation::parse(&want).unwrap(), e);
        // The other layouts cut the same prefix: FileName at 64 / 68 / 94 / 80.
        let d = enc(&AnyDirEntry::project(FileInfoClass::DIRECTORY, &e).unwrap());
        assert_eq!((&d[..60], &d[64..]), (&want[..60], &name[..]));
        let f = enc(&AnyDirEntry::project(FileInfoClass::FULL_DIRECTORY, &e).unwrap());
        assert_eq!((&f[..68], &f[68..]), (&want[..68], &name[..]));
        let b = enc(&AnyDirEntry::project(FileInfoClass::BOTH_DIRECTORY, &e).unwrap());
        assert_eq!((&b[..94], &b[94..]), (&want[..94], &name[..]));
        let i = enc(&AnyDirEntry::project(FileInfoClass::ID_FULL_DIRECTORY, &e).unwrap());
        assert_eq!((&i[..68], &i[72..80], &i[80..]), (&want[..68], &want[96..104], &name[..]));
        let n = enc(&AnyDirEntry::project(FileInfoClass::NAMES, &e).unwrap());
        assert_eq!((&n[4..8], &n[8..12], &n[12..]), (&want[4..8], &want[60..64], &name[..]));
    }

    #[test]
    fn projection_refuses_non_directory_classes() {
        let e = FileIdBothDirectoryInformation::default();
        assert!(AnyDirEntry::project(FileInfoClass::BASIC, &e).is_none());
        assert!(AnyDirEntry::parse(FileInfoClass::ALL, &[0u8; 200]).is_none());
    }

    #[test]
    fn short_name_length_over_24_is_refused() {
        let mut b = enc(&FileBothDirectoryInformation::default());
        b[68] = 26;
        assert_eq!(
            FileBothDirectoryInformation::parse(&b),
            Err(WireError::TooLarge {
                field: "FileBothDirectoryInformation.ShortNameLength",
                value: 26,
                cap: 24
            })
        );
        b[68] = 3;
        assert_eq!(
            FileBothDirectoryInformation::parse(&b),
            Err(WireError::BadValue { field: "FileBothDirectoryInformation.ShortName", value: 3 })
        );
        let long = utf16le("ABCDEFGH.TXTX"); // 26 bytes
        let e = FileIdBothDirectoryInformation { short_name: u16s(&long), ..Default::default() };
        assert_eq!(
            e.encode_into(&mut [0u8; 200]),
            Err(WireError::TooLarge {
                field: "FileIdBothDirectoryInformation.ShortNameLength",
                value: 26,
                cap: 24
            })
        );
    }

    #[test]
    fn builder_leaves_the_chain_intact_when_an_entry_fails_to_encode() {
        let long = utf16le("ABCDEFGH.TXTX");
        let ok = utf16le("a");
        let mut buf = [0u8; 512];
        let mut b = ChainBuilder::new(&mut buf);
        let good = FileIdBothDirectoryInformation { file_name: u16s(&ok), ..Default::default() };
        assert_eq!(b.push(&good).unwrap(), Append::Added);
        let bad = FileIdBothDirectoryInformation { short_name: u16s(&long), ..good };
        assert!(b.push(&bad).is_err());
        assert_eq!(b.push(&good).unwrap(), Append::Added);
        let n = b.finish();
        let back: Vec<_> = FileIdBothDirectoryInformation::entries(&buf[..n]).map(|e| e.unwrap()).collect();
        assert_eq!(back, [good, good]);
    }

    #[test]
    fn truncated_fixed_parts_name_the_field() {
        let b = enc(&FileIdFullDirectoryInformation::default());
        assert_eq!(b.len(), 80);
        assert!(matches!(
            FileIdFullDirectoryInformation::parse(&b[..79]),
            Err(WireError::Truncated { field: "FileIdFullDirectoryInformation.FileId", .. })
        ));
        assert!(matches!(
            FileDirectoryInformation::parse(&b[..10]),
            Err(WireError::Truncated { field: "FileDirectoryInformation.CreationTime", .. })
        ));
        assert!(matches!(
            FileNamesInformation::parse(&b[..2]),
            Err(WireError::Truncated { field: "FileNamesInformation.NextEntryOffset", .. })
        ));
    }
}
