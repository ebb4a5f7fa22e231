//! MS-FSCC 2.4 file information classes for QUERY_INFO (InfoType FILE) and SET_INFO: Basic (4),
//! Standard (5), Internal (6), Ea (7), Access (8), Name (9), Rename (10) and Link (11) in their SMB2
//! forms, Disposition (13), Position (14), FullEa (15, raw), Mode (16), Alignment (17), All (18),
//! Allocation (19), EndOfFile (20), AlternateName (21), Stream (22), Compression (28), NetworkOpen
//! (34), AttributeTag (35), NormalizedName (48), Id (59), DispositionEx (64).
//!
//! Structs cite "MS-FSCC 2.4 <ClassName> (class N)": the 2.4.x subsection numbers differ between
//! MS-FSCC editions, the class names and numbers do not.

use crate::codec::{Encode, Reader, Writer};
use crate::error::Result;
use crate::info::chain::{ChainEntry, Entries};
use crate::info::{check_fixed, read_name, write_tail, EncodeTruncated, FileInfoClass};
use crate::types::{narrow_u32, Utf16};

fixed_info! {
    /// MS-FSCC 2.4 FileBasicInformation (class 4) (FILE_BASIC_INFORMATION, 40 bytes).
    ///
    /// In SET_INFO a time of 0 means "do not change" and -1 (`u64::MAX`) "stop updating this time
    /// for the handle"; FileAttributes 0 means "do not change".
    pub struct FileBasicInformation: FileInfoClass = FileInfoClass::BASIC, reserved_tail = 4 {
        pub creation_time: u64 => "CreationTime",
        pub last_access_time: u64 => "LastAccessTime",
        pub last_write_time: u64 => "LastWriteTime",
        pub change_time: u64 => "ChangeTime",
        pub file_attributes: u32 => "FileAttributes",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileStandardInformation (class 5) (FILE_STANDARD_INFORMATION, 24 bytes).
    pub struct FileStandardInformation: FileInfoClass = FileInfoClass::STANDARD, reserved_tail = 2 {
        pub allocation_size: u64 => "AllocationSize",
        pub end_of_file: u64 => "EndOfFile",
        pub number_of_links: u32 => "NumberOfLinks",
        pub delete_pending: bool => "DeletePending",
        pub directory: bool => "Directory",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileInternalInformation (class 6) (FILE_INTERNAL_INFORMATION): the 64-bit file id.
    pub struct FileInternalInformation: FileInfoClass = FileInfoClass::INTERNAL, reserved_tail = 0 {
        pub index_number: u64 => "IndexNumber",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileEaInformation (class 7) (FILE_EA_INFORMATION).
    pub struct FileEaInformation: FileInfoClass = FileInfoClass::EA, reserved_tail = 0 {
        pub ea_size: u32 => "EaSize",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileAccessInformation (class 8) (FILE_ACCESS_INFORMATION): the handle's granted access.
    pub struct FileAccessInformation: FileInfoClass = FileInfoClass::ACCESS, reserved_tail = 0 {
        pub access_flags: u32 => "AccessFlags",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileDispositionInformation (class 13) (FILE_DISPOSITION_INFORMATION, 1 byte).
    pub struct FileDispositionInformation: FileInfoClass = FileInfoClass::DISPOSITION, reserved_tail = 0 {
        pub delete_pending: bool => "DeletePending",
    }
}

/// MS-FSCC 2.4 FileDispositionInformationEx (class 64) Flags bits.
pub mod disposition_ex_flags {
    pub const DO_NOT_DELETE: u32 = 0x0000_0000;
    pub const DELETE: u32 = 0x0000_0001;
    pub const POSIX_SEMANTICS: u32 = 0x0000_0002;
    pub const FORCE_IMAGE_SECTION_CHECK: u32 = 0x0000_0004;
    pub const ON_CLOSE: u32 = 0x0000_0008;
    pub const IGNORE_READONLY_ATTRIBUTE: u32 = 0x0000_0010;
}

fixed_info! {
    /// MS-FSCC 2.4 FileDispositionInformationEx (class 64) (FILE_DISPOSITION_INFORMATION_EX).
    pub struct FileDispositionInformationEx: FileInfoClass = FileInfoClass::DISPOSITION_EX,
        reserved_tail = 0 {
        /// [`disposition_ex_flags`].
        pub flags: u32 => "Flags",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FilePositionInformation (class 14) (FILE_POSITION_INFORMATION).
    pub struct FilePositionInformation: FileInfoClass = FileInfoClass::POSITION, reserved_tail = 0 {
        pub current_byte_offset: u64 => "CurrentByteOffset",
    }
}

/// MS-FSCC 2.4 FileModeInformation (class 16) Mode bits.
pub mod file_mode {
    pub const WRITE_THROUGH: u32 = 0x0000_0002;
    pub const SEQUENTIAL_ONLY: u32 = 0x0000_0004;
    pub const NO_INTERMEDIATE_BUFFERING: u32 = 0x0000_0008;
    pub const SYNCHRONOUS_IO_ALERT: u32 = 0x0000_0010;
    pub const SYNCHRONOUS_IO_NONALERT: u32 = 0x0000_0020;
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
}

fixed_info! {
    /// MS-FSCC 2.4 FileModeInformation (class 16) (FILE_MODE_INFORMATION).
    pub struct FileModeInformation: FileInfoClass = FileInfoClass::MODE, reserved_tail = 0 {
        /// [`file_mode`].
        pub mode: u32 => "Mode",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileAlignmentInformation (class 17) (FILE_ALIGNMENT_INFORMATION).
    pub struct FileAlignmentInformation: FileInfoClass = FileInfoClass::ALIGNMENT, reserved_tail = 0 {
        pub alignment_requirement: u32 => "AlignmentRequirement",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileAllocationInformation (class 19) (FILE_ALLOCATION_INFORMATION).
    pub struct FileAllocationInformation: FileInfoClass = FileInfoClass::ALLOCATION, reserved_tail = 0 {
        pub allocation_size: u64 => "AllocationSize",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileEndOfFileInformation (class 20) (FILE_END_OF_FILE_INFORMATION): truncate/extend.
    pub struct FileEndOfFileInformation: FileInfoClass = FileInfoClass::END_OF_FILE, reserved_tail = 0 {
        pub end_of_file: u64 => "EndOfFile",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileCompressionInformation (class 28) (FILE_COMPRESSION_INFORMATION, 16 bytes).
    pub struct FileCompressionInformation: FileInfoClass = FileInfoClass::COMPRESSION, reserved_tail = 3 {
        pub compressed_file_size: u64 => "CompressedFileSize",
        pub compression_format: u16 => "CompressionFormat",
        pub compression_unit_shift: u8 => "CompressionUnitShift",
        pub chunk_shift: u8 => "ChunkShift",
        pub cluster_shift: u8 => "ClusterShift",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileNetworkOpenInformation (class 34) (FILE_NETWORK_OPEN_INFORMATION, 56 bytes).
    /// Note AllocationSize comes before EndOfFile here, as in FileStandardInformation.
    pub struct FileNetworkOpenInformation: FileInfoClass = FileInfoClass::NETWORK_OPEN, reserved_tail = 4 {
        pub creation_time: u64 => "CreationTime",
        pub last_access_time: u64 => "LastAccessTime",
        pub last_write_time: u64 => "LastWriteTime",
        pub change_time: u64 => "ChangeTime",
        pub allocation_size: u64 => "AllocationSize",
        pub end_of_file: u64 => "EndOfFile",
        pub file_attributes: u32 => "FileAttributes",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileAttributeTagInformation (class 35) (FILE_ATTRIBUTE_TAG_INFORMATION).
    pub struct FileAttributeTagInformation: FileInfoClass = FileInfoClass::ATTRIBUTE_TAG, reserved_tail = 0 {
        pub file_attributes: u32 => "FileAttributes",
        pub reparse_tag: u32 => "ReparseTag",
    }
}

fixed_info! {
    /// MS-FSCC 2.4 FileIdInformation (class 59) (FILE_ID_INFORMATION, 24 bytes): volume serial + 128-bit id.
    pub struct FileIdInformation: FileInfoClass = FileInfoClass::ID, reserved_tail = 0 {
        pub volume_serial_number: u64 => "VolumeSerialNumber",
        pub file_id: [u8; 16] => "FileId",
    }
}

/// Generates a FILE_NAME_INFORMATION-shaped class: `FileNameLength u32, FileName`.
macro_rules! name_info {
    ($(#[$doc:meta])* $name:ident = $class:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name<'a> {
            pub file_name: Utf16<'a>,
        }

        impl<'a> $name<'a> {
            pub const CLASS: FileInfoClass = $class;
            /// Bytes before the name.
            pub const FIXED_LEN: usize = 4;

            pub fn parse(buf: &'a [u8]) -> Result<Self> {
                Self::read(&mut Reader::new(buf))
            }

            pub fn read(r: &mut Reader<'a>) -> Result<Self> {
                let file_name = read_name(
                    r,
                    concat!(stringify!($name), ".FileNameLength"),
                    concat!(stringify!($name), ".FileName"),
                )?;
                Ok(Self { file_name })
            }

            fn write_capped(&self, w: &mut Writer<'_>, max: usize) -> Result<bool> {
                check_fixed(Self::FIXED_LEN, max)?;
                let n = self.file_name.as_bytes();
                w.u32(narrow_u32(n.len(), concat!(stringify!($name), ".FileNameLength"))?)?;
                write_tail(w, n, max - Self::FIXED_LEN)
            }
        }

        impl Encode for $name<'_> {
            fn encoded_len_at(&self, _at: usize) -> usize {
                Self::FIXED_LEN + self.file_name.len()
            }

            fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
                self.write_capped(w, usize::MAX).map(|_| ())
            }
        }

        impl EncodeTruncated for $name<'_> {
            fn fixed_len(&self) -> usize {
                Self::FIXED_LEN
            }

            fn encode_truncated(&self, w: &mut Writer<'_>, max: usize) -> Result<bool> {
                self.write_capped(w, max)
            }
        }
    };
}

name_info! {
    /// MS-FSCC 2.4 FileNameInformation (class 9) (FILE_NAME_INFORMATION): the path from the share root.
    FileNameInformation = FileInfoClass::NAME
}

name_info! {
    /// MS-FSCC 2.4 FileAlternateNameInformation (class 21) (FILE_NAME_INFORMATION layout): the 8.3 name.
    FileAlternateNameInformation = FileInfoClass::ALTERNATE_NAME
}

name_info! {
    /// MS-FSCC 2.4 FileNormalizedNameInformation (class 48) (FILE_NAME_INFORMATION layout).
    FileNormalizedNameInformation = FileInfoClass::NORMALIZED_NAME
}

/// Generates the SMB2 form of FILE_RENAME_INFORMATION / FILE_LINK_INFORMATION (MS-FSCC 2.4
/// FileRenameInformation and FileLinkInformation, "for SMB2"): `ReplaceIfExists u8, Reserved[7],
/// RootDirectory u64, FileNameLength u32, FileName`.
///
/// Linux cifs sends the name with a trailing NUL beyond FileNameLength; trailing bytes are ignored.
macro_rules! link_rename_info {
    ($(#[$doc:meta])* $name:ident = $class:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name<'a> {
            pub replace_if_exists: bool,
            /// MUST be 0 over SMB2 (the name is relative to the share root).
            pub root_directory: u64,
            pub file_name: Utf16<'a>,
        }

        impl<'a> $name<'a> {
            pub const CLASS: FileInfoClass = $class;
            /// Bytes before the name.
            pub const FIXED_LEN: usize = 20;

            pub fn parse(buf: &'a [u8]) -> Result<Self> {
                let mut r = Reader::new(buf);
                let replace_if_exists = r.u8(concat!(stringify!($name), ".ReplaceIfExists"))? != 0;
                r.skip(7, concat!(stringify!($name), ".Reserved"))?;
                let root_directory = r.u64(concat!(stringify!($name), ".RootDirectory"))?;
                let file_name = read_name(
                    &mut r,
                    concat!(stringify!($name), ".FileNameLength"),
                    concat!(stringify!($name), ".FileName"),
                )?;
                Ok(Self { replace_if_exists, root_directory, file_name })
            }
        }

        impl Encode for $name<'_> {
            fn encoded_len_at(&self, _at: usize) -> usize {
                Self::FIXED_LEN + self.file_name.len()
            }

            fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
                w.u8(u8::from(self.replace_if_exists))?;
                w.zeros(7)?;
                w.u64(self.root_directory)?;
                let n = self.file_name.as_bytes();
                w.u32(narrow_u32(n.len(), concat!(stringify!($name), ".FileNameLength"))?)?;
                w.bytes(n)
            }
        }
    };
}

link_rename_info! {
    /// MS-FSCC 2.4 FileRenameInformation (class 10) (FILE_RENAME_INFORMATION_TYPE_2).
    FileRenameInformation = FileInfoClass::RENAME
}

link_rename_info! {
    /// MS-FSCC 2.4 FileLinkInformation (class 11) (FILE_LINK_INFORMATION_TYPE_2): a hard link.
    FileLinkInformation = FileInfoClass::LINK
}

/// MS-FSCC 2.4 FileFullEaInformation (class 15) (a chain of FILE_FULL_EA_INFORMATION), carried raw: the
/// engine does not interpret extended attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileFullEaInformation<'a>(pub &'a [u8]);

impl<'a> FileFullEaInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::FULL_EA;

    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        Ok(Self(buf))
    }
}

impl Encode for FileFullEaInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        self.0.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(self.0)
    }
}

/// MS-FSCC 2.4 FileAllInformation (class 18) (FILE_ALL_INFORMATION): the fixed classes back to back, then
/// FILE_NAME_INFORMATION. smbclient's `allinfo` and cifs `stat` ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileAllInformation<'a> {
    pub basic: FileBasicInformation,
    pub standard: FileStandardInformation,
    pub internal: FileInternalInformation,
    pub ea: FileEaInformation,
    pub access: FileAccessInformation,
    pub position: FilePositionInformation,
    pub mode: FileModeInformation,
    pub alignment: FileAlignmentInformation,
    pub name: FileNameInformation<'a>,
}

impl<'a> FileAllInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::ALL;
    /// Bytes before the name (FileNameLength included).
    pub const FIXED_LEN: usize = FileBasicInformation::LEN
        + FileStandardInformation::LEN
        + FileInternalInformation::LEN
        + FileEaInformation::LEN
        + FileAccessInformation::LEN
        + FilePositionInformation::LEN
        + FileModeInformation::LEN
        + FileAlignmentInformation::LEN
        + FileNameInformation::FIXED_LEN;

    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        Ok(Self {
            basic: FileBasicInformation::read(&mut r)?,
            standard: FileStandardInformation::read(&mut r)?,
            internal: FileInternalInformation::read(&mut r)?,
            ea: FileEaInformation::read(&mut r)?,
            access: FileAccessInformation::read(&mut r)?,
            position: FilePositionInformation::read(&mut r)?,
            mode: FileModeInformation::read(&mut r)?,
            alignment: FileAlignmentInformation::read(&mut r)?,
            name: FileNameInformation::read(&mut r)?,
        })
    }

    fn write_capped(&self, w: &mut Writer<'_>, max: usize) -> Result<bool> {
        check_fixed(Self::FIXED_LEN, max)?;
        self.basic.write(w)?;
        self.standard.write(w)?;
        self.internal.write(w)?;
        self.ea.write(w)?;
        self.access.write(w)?;
        self.position.write(w)?;
        self.mode.write(w)?;
        self.alignment.write(w)?;
        let room = max - (Self::FIXED_LEN - FileNameInformation::FIXED_LEN);
        self.name.encode_truncated(w, room)
    }
}

impl Encode for FileAllInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.name.file_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.write_capped(w, usize::MAX).map(|_| ())
    }
}

impl EncodeTruncated for FileAllInformation<'_> {
    fn fixed_len(&self) -> usize {
        Self::FIXED_LEN
    }

    fn encode_truncated(&self, w: &mut Writer<'_>, max: usize) -> Result<bool> {
        self.write_capped(w, max)
    }
}

/// MS-FSCC 2.4 FileStreamInformation (class 22): one FILE_STREAM_INFORMATION element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStreamEntry<'a> {
    pub stream_size: u64,
    pub stream_allocation_size: u64,
    /// `::$DATA` for the unnamed stream, `:name:$DATA` for a named one.
    pub stream_name: Utf16<'a>,
}

impl<'a> FileStreamEntry<'a> {
    /// Parses the entry at the start of `buf` (its NextEntryOffset is not followed).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        r.skip(4, Self::NEXT_ENTRY_OFFSET_FIELD)?;
        Self::read_entry(&mut r)
    }
}

impl<'a> ChainEntry<'a> for FileStreamEntry<'a> {
    const NEXT_ENTRY_OFFSET_FIELD: &'static str = "FileStreamInformation.NextEntryOffset";
    const COUNT_FIELD: &'static str = "FileStreamInformation.Count";
    const FIXED_LEN: usize = 24;

    fn read_entry(r: &mut Reader<'a>) -> Result<Self> {
        let len = crate::types::us(r.u32("FileStreamInformation.StreamNameLength")?);
        let stream_size = r.u64("FileStreamInformation.StreamSize")?;
        let stream_allocation_size = r.u64("FileStreamInformation.StreamAllocationSize")?;
        let name = r.bytes(len, "FileStreamInformation.StreamName")?;
        Ok(Self {
            stream_size,
            stream_allocation_size,
            stream_name: Utf16::new(name, "FileStreamInformation.StreamName")?,
        })
    }
}

impl Encode for FileStreamEntry<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.stream_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(0)?;
        w.u32(narrow_u32(self.stream_name.len(), "FileStreamInformation.StreamNameLength")?)?;
        w.u64(self.stream_size)?;
        w.u64(self.stream_allocation_size)?;
        w.bytes(self.stream_name.as_bytes())
    }
}

/// MS-FSCC 2.4 FileStreamInformation (class 22): a checked chain of [`FileStreamEntry`], decoded lazily.
/// Build one with [`crate::info::ChainBuilder`] pushing [`FileStreamEntry`] values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileStreamInformation<'a>(&'a [u8]);

impl<'a> FileStreamInformation<'a> {
    pub const CLASS: FileInfoClass = FileInfoClass::STREAM;

    /// Walks the chain once to check every link and entry (no allocation); a file with no streams
    /// (a directory) has an empty buffer.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        Entries::<FileStreamEntry<'a>>::new(buf).validate()?;
        Ok(Self(buf))
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The entries; every item is `Ok` for a value returned by [`Self::parse`].
    pub fn iter(&self) -> Entries<'a, FileStreamEntry<'a>> {
        Entries::new(self.0)
    }
}

impl Encode for FileStreamInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        self.0.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::info::chain::{Append, ChainBuilder};
    use crate::info::testutil::{enc, fixed_class_tests, name_bytes, prefixes};
    use crate::types::utf16le;
    use proptest::prelude::*;

    fixed_class_tests!(
        FileBasicInformation,
        FileStandardInformation,
        FileInternalInformation,
        FileEaInformation,
        FileAccessInformation,
        FileDispositionInformation,
        FileDispositionInformationEx,
        FilePositionInformation,
        FileModeInformation,
        FileAlignmentInformation,
        FileAllocationInformation,
        FileEndOfFileInformation,
        FileCompressionInformation,
        FileNetworkOpenInformation,
        FileAttributeTagInformation,
        FileIdInformation,
    );

    fn u16s(b: &[u8]) -> Utf16<'_> {
        Utf16::new(b, "t").unwrap()
    }

    #[test]
    fn fixed_sizes_match_the_spec() {
        assert_eq!(FileBasicInformation::LEN, 40);
        assert_eq!(FileStandardInformation::LEN, 24);
        assert_eq!(FileCompressionInformation::LEN, 16);
        assert_eq!(FileNetworkOpenInformation::LEN, 56);
        assert_eq!(FileIdInformation::LEN, 24);
        assert_eq!(FileDispositionInformation::LEN, 1);
        assert_eq!(FileAllInformation::FIXED_LEN, 100);
    }

    #[test]
    fn basic_information_known_bytes() {
        // CreationTime 0x01D9_0000_0000_0001, others 0 ("do not change"), FileAttributes ARCHIVE.
        let hex = "0100000000d90101 0000000000000000 0000000000000000 0000000000000000 20000000 00000000";
        let bytes = hex::decode(hex.replace(' ', "")).unwrap();
        let v = FileBasicInformation::parse(&bytes).unwrap();
        assert_eq!(v.creation_time, 0x0101_D900_0000_0001);
        assert_eq!(v.file_attributes, crate::info::file_attributes::ARCHIVE);
        assert_eq!(enc(&v), bytes);
    }

    #[test]
    fn short_basic_information_names_the_cut_field() {
        let b = [0u8; 40];
        assert!(matches!(
            FileBasicInformation::parse(&b[..36]),
            Err(WireError::Truncated { field: "FileBasicInformation.Reserved", at: 36, need: 4, have: 0 })
        ));
        assert!(matches!(
            FileBasicInformation::parse(&b[..35]),
            Err(WireError::Truncated { field: "FileBasicInformation.FileAttributes", .. })
        ));
        assert!(matches!(
            FileEndOfFileInformation::parse(&b[..7]),
            Err(WireError::Truncated { field: "FileEndOfFileInformation.EndOfFile", .. })
        ));
        assert!(matches!(
            FileDispositionInformation::parse(&[]),
            Err(WireError::Truncated { field: "FileDispositionInformation.DeletePending", .. })
        ));
    }

    #[test]
    fn standard_information_booleans_are_bytes_20_and_21() {
        let mut b = [0u8; 24];
        b[16] = 2; // NumberOfLinks
        b[20] = 1; // DeletePending
        b[21] = 0x80; // Directory: any non-zero byte is TRUE
        let v = FileStandardInformation::parse(&b).unwrap();
        assert_eq!((v.number_of_links, v.delete_pending, v.directory), (2, true, true));
        b[21] = 1;
        assert_eq!(enc(&v), b);
    }

    proptest! {
        #[test]
        fn name_classes_round_trip(n in name_bytes(40)) {
            let v = FileNameInformation { file_name: u16s(&n) };
            let e = enc(&v);
            prop_assert_eq!(FileNameInformation::parse(&e).unwrap(), v);
            let v = FileAlternateNameInformation { file_name: u16s(&n) };
            let e = enc(&v);
            prop_assert_eq!(FileAlternateNameInformation::parse(&e).unwrap(), v);
            let v = FileNormalizedNameInformation { file_name: u16s(&n) };
            let e = enc(&v);
            prop_assert_eq!(FileNormalizedNameInformation::parse(&e).unwrap(), v);
            prefixes(&e, |b| { let _ = FileNormalizedNameInformation::parse(b); });
        }

        #[test]
        fn rename_and_link_round_trip(r in any::<bool>(), root in any::<u64>(), n in name_bytes(40)) {
            let v = FileRenameInformation { replace_if_exists: r, root_directory: root, file_name: u16s(&n) };
            let e = enc(&v);
            prop_assert_eq!(FileRenameInformation::parse(&e).unwrap(), v);
            prefixes(&e, |b| { let _ = FileRenameInformation::parse(b); });
            let v = FileLinkInformation { replace_if_exists: r, root_directory: root, file_name: u16s(&n) };
            let e = enc(&v);
            prop_assert_eq!(FileLinkInformation::parse(&e).unwrap(), v);
        }

        #[test]
        fn all_information_round_trips(
            fixed in proptest::collection::vec(any::<u8>(), 96),
            n in name_bytes(40),
        ) {
            let mut bytes = fixed.clone();
            bytes.extend_from_slice(&(n.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&n);
            let v = FileAllInformation::parse(&bytes).unwrap();
            prop_assert_eq!(v.name.file_name.as_bytes(), &n[..]);
            let e = enc(&v);
            prop_assert_eq!(FileAllInformation::parse(&e).unwrap(), v);
            prefixes(&e, |b| { let _ = FileAllInformation::parse(b); });
        }

        #[test]
        fn stream_information_round_trips(
            entries in proptest::collection::vec((any::<u64>(), any::<u64>(), name_bytes(12)), 0..6),
        ) {
            check_streams(&entries);
        }

        #[test]
        fn full_ea_is_carried_raw(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let v = FileFullEaInformation::parse(&bytes).unwrap();
            prop_assert_eq!(enc(&v), bytes);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
            let _ = FileNameInformation::parse(&bytes);
            let _ = FileRenameInformation::parse(&bytes);
            let _ = FileLinkInformation::parse(&bytes);
            let _ = FileAllInformation::parse(&bytes);
            let _ = FileStreamInformation::parse(&bytes);
            let _ = FileStreamEntry::parse(&bytes);
            let _ = FileBasicInformation::parse(&bytes);
        }
    }

    fn check_streams(entries: &[(u64, u64, Vec<u8>)]) {
        let mut buf = vec![0u8; 1024];
        let mut b = ChainBuilder::new(&mut buf);
        for (s, a, n) in entries {
            let e = FileStreamEntry { stream_size: *s, stream_allocation_size: *a, stream_name: u16s(n) };
            assert_eq!(b.push(&e).unwrap(), Append::Added);
        }
        let len = b.finish();
        let info = FileStreamInformation::parse(&buf[..len]).unwrap();
        let back: Vec<_> = info.iter().map(|e| e.unwrap()).collect();
        assert_eq!(back.len(), entries.len());
        for (got, (s, a, n)) in back.iter().zip(entries) {
            assert_eq!(got.stream_size, *s);
            assert_eq!(got.stream_allocation_size, *a);
            assert_eq!(got.stream_name.as_bytes(), &n[..]);
        }
        let e = enc(&info);
        assert_eq!(FileStreamInformation::parse(&e).unwrap(), info);
        if let Some(first) = back.first() {
            let e = enc(first);
            assert_eq!(FileStreamEntry::parse(&e).unwrap(), *first);
        }
    }

    #[test]
    fn rename_known_bytes_and_linux_trailing_nul() {
        // ReplaceIfExists 1, RootDirectory 0, FileNameLength 10, "b.txt", then the NUL cifs appends.
        let mut b = hex::decode("01000000000000000000000000000000 0a000000".replace(' ', "")).unwrap();
        b.extend_from_slice(&utf16le("b.txt"));
        let canonical = b.clone();
        b.extend_from_slice(&[0, 0]);
        let v = FileRenameInformation::parse(&b).unwrap();
        assert!(v.replace_if_exists);
        assert_eq!(v.file_name.to_string().unwrap(), "b.txt");
        assert_eq!(enc(&v), canonical);
    }

    #[test]
    fn name_length_beyond_the_buffer_or_odd_is_refused() {
        let mut b = [0u8; 28];
        b[16..20].copy_from_slice(&8u32.to_le_bytes());
        assert!(matches!(
            FileRenameInformation::parse(&b[..27]),
            Err(WireError::Truncated { field: "FileRenameInformation.FileName", .. })
        ));
        b[16..20].copy_from_slice(&3u32.to_le_bytes()); // 3 bytes fit in 28, but are odd
        assert!(matches!(
            FileRenameInformation::parse(&b),
            Err(WireError::BadValue { field: "FileRenameInformation.FileName", value: 3 })
        ));
        assert!(matches!(
            FileNameInformation::parse(&u32::MAX.to_le_bytes()),
            Err(WireError::Truncated { field: "FileNameInformation.FileName", .. })
        ));
    }

    #[test]
    fn all_information_layout_puts_the_name_length_at_96() {
        let name = utf16le(r"\dir\file.txt");
        let v = FileAllInformation {
            standard: FileStandardInformation { end_of_file: 7, directory: true, ..Default::default() },
            internal: FileInternalInformation { index_number: 0x1122 },
            mode: FileModeInformation { mode: file_mode::SYNCHRONOUS_IO_NONALERT },
            name: FileNameInformation { file_name: u16s(&name) },
            ..Default::default()
        };
        let e = enc(&v);
        assert_eq!(&e[48..56], &7u64.to_le_bytes()); // Standard.EndOfFile
        assert_eq!(e[61], 1); // Standard.Directory
        assert_eq!(&e[64..72], &0x1122u64.to_le_bytes()); // Internal
        assert_eq!(&e[88..92], &0x20u32.to_le_bytes()); // Mode
        assert_eq!(&e[96..100], &(name.len() as u32).to_le_bytes());
        assert_eq!(&e[100..], &name[..]);
    }

    #[test]
    fn truncated_encoding_keeps_the_full_name_length() {
        let name = utf16le("abcdef"); // 12 bytes
        let v =
            FileAllInformation { name: FileNameInformation { file_name: u16s(&name) }, ..Default::default() };
        let mut out = [0xEEu8; 200];
        let mut w = Writer::new(&mut out);
        assert_eq!(v.encode_truncated(&mut w, 105), Ok(true));
        assert_eq!(w.pos(), 105);
        assert_eq!(&out[96..100], &12u32.to_le_bytes());
        assert_eq!(&out[100..105], &name[..5]);

        let mut w = Writer::new(&mut out);
        assert_eq!(v.encode_truncated(&mut w, 112), Ok(false));
        assert_eq!(w.pos(), 112);
        let mut w = Writer::new(&mut out);
        assert_eq!(v.encode_truncated(&mut w, 1000), Ok(false));
        assert_eq!(w.pos(), 112);
        let mut w = Writer::new(&mut out);
        assert_eq!(v.encode_truncated(&mut w, 99), Err(WireError::BufferTooSmall { need: 100, have: 99 }));
        assert_eq!(v.fixed_len(), 100);

        let n = FileNameInformation { file_name: u16s(&name) };
        let mut w = Writer::new(&mut out);
        assert_eq!(n.encode_truncated(&mut w, 4), Ok(true));
        assert_eq!(&out[..4], &12u32.to_le_bytes());
    }

    #[test]
    fn stream_chain_errors_name_the_class() {
        let name = utf16le("::$DATA");
        let e = FileStreamEntry { stream_size: 5, stream_allocation_size: 8, stream_name: u16s(&name) };
        let mut buf = [0u8; 128];
        let mut b = ChainBuilder::new(&mut buf);
        let _ = b.push(&e).unwrap();
        let _ = b.push(&e).unwrap();
        let n = b.finish();
        assert_eq!(&buf[..4], &40u32.to_le_bytes()); // 24 + 14 = 38, aligned to 40
        let mut v = buf[..n].to_vec();
        v[0] = 44;
        assert_eq!(
            FileStreamInformation::parse(&v),
            Err(WireError::Misaligned {
                field: "FileStreamInformation.NextEntryOffset",
                offset: 44,
                align: 8
            })
        );
        v[0] = 16;
        assert_eq!(
            FileStreamInformation::parse(&v),
            Err(WireError::BadValue { field: "FileStreamInformation.NextEntryOffset", value: 16 })
        );
        assert_eq!(FileStreamInformation::parse(&[]).unwrap().iter().count(), 0);
    }
}
