//! MS-FSCC 2.5 file system information classes for QUERY_INFO (InfoType FILESYSTEM):
//! FileFsVolumeInformation (1), FileFsSizeInformation (3), FileFsDeviceInformation (4),
//! FileFsAttributeInformation (5), FileFsControlInformation (6), FileFsFullSizeInformation (7),
//! FileFsObjectIdInformation (8), FileFsSectorSizeInformation (11).
//!
//! Structs cite "MS-FSCC 2.5 <ClassName> (class N)", as in [`crate::info::file`].

use crate::codec::{Encode, Reader, Writer};
use crate::error::Result;
use crate::info::{check_fixed, read_name, write_tail, EncodeTruncated};
use crate::types::{narrow_u32, Utf16};

/// MS-FSCC 2.5 FS_INFORMATION_CLASS values (the `FileInfoClass` of QUERY_INFO/SET_INFO with
/// InfoType FILESYSTEM). A newtype: unknown classes reach the session layer, which answers
/// STATUS_INVALID_INFO_CLASS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FsInfoClass(pub u8);

impl FsInfoClass {
    pub const VOLUME: FsInfoClass = FsInfoClass(1);
    pub const LABEL: FsInfoClass = FsInfoClass(2);
    pub const SIZE: FsInfoClass = FsInfoClass(3);
    pub const DEVICE: FsInfoClass = FsInfoClass(4);
    pub const ATTRIBUTE: FsInfoClass = FsInfoClass(5);
    pub const CONTROL: FsInfoClass = FsInfoClass(6);
    pub const FULL_SIZE: FsInfoClass = FsInfoClass(7);
    pub const OBJECT_ID: FsInfoClass = FsInfoClass(8);
    pub const DRIVER_PATH: FsInfoClass = FsInfoClass(9);
    pub const VOLUME_FLAGS: FsInfoClass = FsInfoClass(10);
    pub const SECTOR_SIZE: FsInfoClass = FsInfoClass(11);
}

/// MS-FSCC 2.5 FileFsVolumeInformation (class 1): FILE_FS_VOLUME_INFORMATION, 18 bytes + label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileFsVolumeInformation<'a> {
    pub volume_creation_time: u64,
    pub volume_serial_number: u32,
    /// Whether the volume supports object ids (FileObjectIdInformation).
    pub supports_objects: bool,
    pub volume_label: Utf16<'a>,
}

impl<'a> FileFsVolumeInformation<'a> {
    pub const CLASS: FsInfoClass = FsInfoClass::VOLUME;
    /// Bytes before the label.
    pub const FIXED_LEN: usize = 18;

    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let volume_creation_time = r.u64("FileFsVolumeInformation.VolumeCreationTime")?;
        let volume_serial_number = r.u32("FileFsVolumeInformation.VolumeSerialNumber")?;
        let label_len = crate::types::us(r.u32("FileFsVolumeInformation.VolumeLabelLength")?);
        let supports_objects = r.u8("FileFsVolumeInformation.SupportsObjects")? != 0;
        r.skip(1, "FileFsVolumeInformation.Reserved")?;
        let label = r.bytes(label_len, "FileFsVolumeInformation.VolumeLabel")?;
        Ok(Self {
            volume_creation_time,
            volume_serial_number,
            supports_objects,
            volume_label: Utf16::new(label, "FileFsVolumeInformation.VolumeLabel")?,
        })
    }

    fn write_capped(&self, w: &mut Writer<'_>, max: usize) -> Result<bool> {
        check_fixed(Self::FIXED_LEN, max)?;
        w.u64(self.volume_creation_time)?;
        w.u32(self.volume_serial_number)?;
        w.u32(narrow_u32(self.volume_label.len(), "FileFsVolumeInformation.VolumeLabelLength")?)?;
        w.u8(u8::from(self.supports_objects))?;
        w.u8(0)?;
        write_tail(w, self.volume_label.as_bytes(), max - Self::FIXED_LEN)
    }
}

impl Encode for FileFsVolumeInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.volume_label.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.write_capped(w, usize::MAX).map(|_| ())
    }
}

impl EncodeTruncated for FileFsVolumeInformation<'_> {
    fn fixed_len(&self) -> usize {
        Self::FIXED_LEN
    }

    fn encode_truncated(&self, w: &mut Writer<'_>, max: usize) -> Result<bool> {
        self.write_capped(w, max)
    }
}

fixed_info! {
    /// MS-FSCC 2.5 FileFsSizeInformation (class 3): FILE_FS_SIZE_INFORMATION, 24 bytes.
    pub struct FileFsSizeInformation: FsInfoClass = FsInfoClass::SIZE, reserved_tail = 0 {
        pub total_allocation_units: u64 => "TotalAllocationUnits",
        pub available_allocation_units: u64 => "AvailableAllocationUnits",
        pub sectors_per_allocation_unit: u32 => "SectorsPerAllocationUnit",
        pub bytes_per_sector: u32 => "BytesPerSector",
    }
}

/// MS-FSCC 2.5 FileFsDeviceInformation (class 4) DeviceType values (a few of them).
pub mod device_type {
    pub const CD_ROM: u32 = 0x0000_0002;
    pub const DISK: u32 = 0x0000_0007;
}

/// MS-FSCC 2.5 FileFsDeviceInformation (class 4) Characteristics bits.
pub mod device_characteristics {
    pub const REMOVABLE_MEDIA: u32 = 0x0000_0001;
    pub const READ_ONLY_DEVICE: u32 = 0x0000_0002;
    pub const FLOPPY_DISKETTE: u32 = 0x0000_0004;
    pub const WRITE_ONCE_MEDIA: u32 = 0x0000_0008;
    pub const REMOTE_DEVICE: u32 = 0x0000_0010;
    pub const DEVICE_IS_MOUNTED: u32 = 0x0000_0020;
    pub const VIRTUAL_VOLUME: u32 = 0x0000_0040;
    pub const DEVICE_SECURE_OPEN: u32 = 0x0000_0100;
    pub const CHARACTERISTIC_TS_DEVICE: u32 = 0x0000_1000;
    pub const CHARACTERISTIC_WEBDAV_DEVICE: u32 = 0x0000_2000;
    pub const DEVICE_ALLOW_APPCONTAINER_TRAVERSAL: u32 = 0x0002_0000;
    pub const PORTABLE_DEVICE: u32 = 0x0004_0000;
}

fixed_info! {
    /// MS-FSCC 2.5 FileFsDeviceInformation (class 4): FILE_FS_DEVICE_INFORMATION, 8 bytes.
    pub struct FileFsDeviceInformation: FsInfoClass = FsInfoClass::DEVICE, reserved_tail = 0 {
        /// [`device_type`].
        pub device_type: u32 => "DeviceType",
        /// [`device_characteristics`].
        pub characteristics: u32 => "Characteristics",
    }
}

/// MS-FSCC 2.5 FileFsAttributeInformation (class 5) FileSystemAttributes bits.
pub mod fs_attributes {
    pub const CASE_SENSITIVE_SEARCH: u32 = 0x0000_0001;
    pub const CASE_PRESERVED_NAMES: u32 = 0x0000_0002;
    pub const UNICODE_ON_DISK: u32 = 0x0000_0004;
    pub const PERSISTENT_ACLS: u32 = 0x0000_0008;
    pub const FILE_COMPRESSION: u32 = 0x0000_0010;
    pub const VOLUME_QUOTAS: u32 = 0x0000_0020;
    pub const SUPPORTS_SPARSE_FILES: u32 = 0x0000_0040;
    pub const SUPPORTS_REPARSE_POINTS: u32 = 0x0000_0080;
    pub const SUPPORTS_REMOTE_STORAGE: u32 = 0x0000_0100;
    pub const RETURNS_CLEANUP_RESULT_INFO: u32 = 0x0000_0200;
    pub const SUPPORTS_POSIX_UNLINK_RENAME: u32 = 0x0000_0400;
    pub const VOLUME_IS_COMPRESSED: u32 = 0x0000_8000;
    pub const SUPPORTS_OBJECT_IDS: u32 = 0x0001_0000;
    pub const SUPPORTS_ENCRYPTION: u32 = 0x0002_0000;
    pub const NAMED_STREAMS: u32 = 0x0004_0000;
    pub const READ_ONLY_VOLUME: u32 = 0x0008_0000;
    pub const SEQUENTIAL_WRITE_ONCE: u32 = 0x0010_0000;
    pub const SUPPORTS_TRANSACTIONS: u32 = 0x0020_0000;
    pub const SUPPORTS_HARD_LINKS: u32 = 0x0040_0000;
    pub const SUPPORTS_EXTENDED_ATTRIBUTES: u32 = 0x0080_0000;
    pub const SUPPORTS_OPEN_BY_FILE_ID: u32 = 0x0100_0000;
    pub const SUPPORTS_USN_JOURNAL: u32 = 0x0200_0000;
    pub const SUPPORT_INTEGRITY_STREAMS: u32 = 0x0400_0000;
    pub const SUPPORTS_BLOCK_REFCOUNTING: u32 = 0x0800_0000;
    pub const SUPPORTS_SPARSE_VDL: u32 = 0x1000_0000;
}

/// MS-FSCC 2.5 FileFsAttributeInformation (class 5): FILE_FS_ATTRIBUTE_INFORMATION, 12 bytes +
/// file system name ("NTFS").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileFsAttributeInformation<'a> {
    /// [`fs_attributes`].
    pub file_system_attributes: u32,
    /// Longest path component, in characters (255 for NTFS).
    pub maximum_component_name_length: u32,
    pub file_system_name: Utf16<'a>,
}

impl<'a> FileFsAttributeInformation<'a> {
    pub const CLASS: FsInfoClass = FsInfoClass::ATTRIBUTE;
    /// Bytes before the name.
    pub const FIXED_LEN: usize = 12;

    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let file_system_attributes = r.u32("FileFsAttributeInformation.FileSystemAttributes")?;
        let maximum_component_name_length = r.u32("FileFsAttributeInformation.MaximumComponentNameLength")?;
        let file_system_name = read_name(
            &mut r,
            "FileFsAttributeInformation.FileSystemNameLength",
            "FileFsAttributeInformation.FileSystemName",
        )?;
        Ok(Self { file_system_attributes, maximum_component_name_length, file_system_name })
    }

    fn write_capped(&self, w: &mut Writer<'_>, max: usize) -> Result<bool> {
        check_fixed(Self::FIXED_LEN, max)?;
        w.u32(self.file_system_attributes)?;
        w.u32(self.maximum_component_name_length)?;
        let n = self.file_system_name.as_bytes();
        w.u32(narrow_u32(n.len(), "FileFsAttributeInformation.FileSystemNameLength")?)?;
        write_tail(w, n, max - Self::FIXED_LEN)
    }
}

impl Encode for FileFsAttributeInformation<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED_LEN + self.file_system_name.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        self.write_capped(w, usize::MAX).map(|_| ())
    }
}

impl EncodeTruncated for FileFsAttributeInformation<'_> {
    fn fixed_len(&self) -> usize {
        Self::FIXED_LEN
    }

    fn encode_truncated(&self, w: &mut Writer<'_>, max: usize) -> Result<bool> {
        self.write_capped(w, max)
    }
}

/// MS-FSCC 2.5 FileFsControlInformation (class 6) FileSystemControlFlags bits.
pub mod fs_control_flags {
    pub const QUOTA_TRACK: u32 = 0x0000_0001;
    pub const QUOTA_ENFORCE: u32 = 0x0000_0002;
    pub const CONTENT_INDEX_DISABLED: u32 = 0x0000_0008;
    pub const LOG_QUOTA_THRESHOLD: u32 = 0x0000_0010;
    pub const LOG_QUOTA_LIMIT: u32 = 0x0000_0020;
    pub const LOG_VOLUME_THRESHOLD: u32 = 0x0000_0040;
    pub const LOG_VOLUME_LIMIT: u32 = 0x0000_0080;
    pub const QUOTAS_INCOMPLETE: u32 = 0x0000_0100;
    pub const QUOTAS_REBUILDING: u32 = 0x0000_0200;
}

fixed_info! {
    /// MS-FSCC 2.5 FileFsControlInformation (class 6): FILE_FS_CONTROL_INFORMATION, 48 bytes. Carried
    /// for completeness: quota control is not something smbdx implements.
    pub struct FileFsControlInformation: FsInfoClass = FsInfoClass::CONTROL, reserved_tail = 4 {
        pub free_space_start_filtering: u64 => "FreeSpaceStartFiltering",
        pub free_space_threshold: u64 => "FreeSpaceThreshold",
        pub free_space_stop_filtering: u64 => "FreeSpaceStopFiltering",
        pub default_quota_threshold: u64 => "DefaultQuotaThreshold",
        pub default_quota_limit: u64 => "DefaultQuotaLimit",
        /// [`fs_control_flags`].
        pub file_system_control_flags: u32 => "FileSystemControlFlags",
    }
}

fixed_info! {
    /// MS-FSCC 2.5 FileFsFullSizeInformation (class 7): FILE_FS_FULL_SIZE_INFORMATION, 32 bytes.
    /// Linux cifs `statfs` asks for it.
    pub struct FileFsFullSizeInformation: FsInfoClass = FsInfoClass::FULL_SIZE, reserved_tail = 0 {
        pub total_allocation_units: u64 => "TotalAllocationUnits",
        pub caller_available_allocation_units: u64 => "CallerAvailableAllocationUnits",
        pub actual_available_allocation_units: u64 => "ActualAvailableAllocationUnits",
        pub sectors_per_allocation_unit: u32 => "SectorsPerAllocationUnit",
        pub bytes_per_sector: u32 => "BytesPerSector",
    }
}

fixed_info! {
    /// MS-FSCC 2.5 FileFsObjectIdInformation (class 8): FILE_FS_OBJECTID_INFORMATION, 64 bytes.
    pub struct FileFsObjectIdInformation: FsInfoClass = FsInfoClass::OBJECT_ID, reserved_tail = 0 {
        pub object_id: [u8; 16] => "ObjectId",
        pub extended_info: [u8; 48] => "ExtendedInfo",
    }
}

/// MS-FSCC 2.5 FileFsSectorSizeInformation (class 11) Flags bits.
pub mod sector_size_flags {
    pub const ALIGNED_DEVICE: u32 = 0x0000_0001;
    pub const PARTITION_ALIGNED_ON_DEVICE: u32 = 0x0000_0002;
    pub const NO_SEEK_PENALTY: u32 = 0x0000_0004;
    pub const TRIM_ENABLED: u32 = 0x0000_0008;
}

fixed_info! {
    /// MS-FSCC 2.5 FileFsSectorSizeInformation (class 11): FILE_FS_SECTOR_SIZE_INFORMATION, 28
    /// bytes.
    pub struct FileFsSectorSizeInformation: FsInfoClass = FsInfoClass::SECTOR_SIZE, reserved_tail = 0 {
        pub logical_bytes_per_sector: u32 => "LogicalBytesPerSector",
        pub physical_bytes_per_sector_for_atomicity: u32 => "PhysicalBytesPerSectorForAtomicity",
        pub physical_bytes_per_sector_for_performance: u32 => "PhysicalBytesPerSectorForPerformance",
        pub file_system_effective_physical_bytes_per_sector_for_atomicity: u32
            => "FileSystemEffectivePhysicalBytesPerSectorForAtomicity",
        /// [`sector_size_flags`].
        pub flags: u32 => "Flags",
        pub byte_offset_for_sector_alignment: u32 => "ByteOffsetForSectorAlignment",
        pub byte_offset_for_partition_alignment: u32 => "ByteOffsetForPartitionAlignment",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::info::testutil::{enc, fixed_class_tests, name_bytes, prefixes};
    use crate::types::utf16le;
    use proptest::prelude::*;

    fixed_class_tests!(
        FileFsSizeInformation,
        FileFsDeviceInformation,
        FileFsControlInformation,
        FileFsFullSizeInformation,
        FileFsObjectIdInformation,
        FileFsSectorSizeInformation,
    );

    #[test]
    fn fixed_sizes_match_the_spec() {
        assert_eq!(FileFsSizeInformation::LEN, 24);
        assert_eq!(FileFsDeviceInformation::LEN, 8);
        assert_eq!(FileFsControlInformation::LEN, 48);
        assert_eq!(FileFsFullSizeInformation::LEN, 32);
        assert_eq!(FileFsObjectIdInformation::LEN, 64);
        assert_eq!(FileFsSectorSizeInformation::LEN, 28);
    }

    proptest! {
        #[test]
        fn volume_round_trips(t in any::<u64>(), s in any::<u32>(), o in any::<bool>(), l in name_bytes(32)) {
            let v = FileFsVolumeInformation {
                volume_creation_time: t,
                volume_serial_number: s,
                supports_objects: o,
                volume_label: Utf16::new(&l, "t").unwrap(),
            };
            let e = enc(&v);
            prop_assert_eq!(FileFsVolumeInformation::parse(&e).unwrap(), v);
            prefixes(&e, |b| { let _ = FileFsVolumeInformation::parse(b); });
        }

        #[test]
        fn attribute_round_trips(a in any::<u32>(), m in any::<u32>(), n in name_bytes(16)) {
            let v = FileFsAttributeInformation {
                file_system_attributes: a,
                maximum_component_name_length: m,
                file_system_name: Utf16::new(&n, "t").unwrap(),
            };
            let e = enc(&v);
            prop_assert_eq!(FileFsAttributeInformation::parse(&e).unwrap(), v);
            prefixes(&e, |b| { let _ = FileFsAttributeInformation::parse(b); });
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = FileFsVolumeInformation::parse(&bytes);
            let _ = FileFsAttributeInformation::parse(&bytes);
            let _ = FileFsSizeInformation::parse(&bytes);
            let _ = FileFsSectorSizeInformation::parse(&bytes);
        }
    }

    #[test]
    fn attribute_known_bytes_ntfs() {
        // CASE_SENSITIVE_SEARCH | CASE_PRESERVED_NAMES | UNICODE_ON_DISK | PERSISTENT_ACLS, 255, "NTFS".
        let bytes = hex::decode("0f000000ff000000080000004e00540046005300").unwrap();
        let v = FileFsAttributeInformation::parse(&bytes).unwrap();
        assert_eq!(
            v.file_system_attributes,
            fs_attributes::CASE_SENSITIVE_SEARCH
                | fs_attributes::CASE_PRESERVED_NAMES
                | fs_attributes::UNICODE_ON_DISK
                | fs_attributes::PERSISTENT_ACLS
        );
        assert_eq!(v.maximum_component_name_length, 255);
        assert_eq!(v.file_system_name.to_string().unwrap(), "NTFS");
        assert_eq!(enc(&v), bytes);
    }

    #[test]
    fn volume_label_layout_and_truncation() {
        let label = utf16le("data");
        let v = FileFsVolumeInformation {
            volume_creation_time: 0x01D0_0000_0000_0000,
            volume_serial_number: 0xDEAD_BEEF,
            supports_objects: false,
            volume_label: Utf16::new(&label, "t").unwrap(),
        };
        let e = enc(&v);
        assert_eq!(&e[8..12], &0xDEAD_BEEFu32.to_le_bytes());
        assert_eq!(&e[12..16], &8u32.to_le_bytes());
        assert_eq!(&e[18..], &label[..]);

        let mut out = [0u8; 64];
        let mut w = Writer::new(&mut out);
        assert_eq!(v.encode_truncated(&mut w, 20), Ok(true));
        assert_eq!(w.pos(), 20);
        assert_eq!(&out[12..16], &8u32.to_le_bytes());
        let mut w = Writer::new(&mut out);
        assert_eq!(v.encode_truncated(&mut w, 17), Err(WireError::BufferTooSmall { need: 18, have: 17 }));
        let a = FileFsAttributeInformation {
            file_system_name: Utf16::new(&label, "t").unwrap(),
            ..Default::default()
        };
        let mut w = Writer::new(&mut out);
        assert_eq!(a.encode_truncated(&mut w, 20), Ok(false));
        assert_eq!(a.fixed_len(), 12);
    }

    #[test]
    fn label_beyond_the_buffer_is_refused() {
        let mut b = [0u8; 22];
        b[12] = 4;
        assert!(FileFsVolumeInformation::parse(&b).is_ok());
        b[12] = 6;
        assert!(matches!(
            FileFsVolumeInformation::parse(&b),
            Err(WireError::Truncated { field: "FileFsVolumeInformation.VolumeLabel", .. })
        ));
        assert!(matches!(
            FileFsSizeInformation::parse(&b),
            Err(WireError::Truncated { field: "FileFsSizeInformation.BytesPerSector", .. })
        ));
    }
}
