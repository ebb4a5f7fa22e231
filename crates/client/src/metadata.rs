//! What the client reports about files and directories, in the units callers use (bytes,
//! `SystemTime`) rather than SMB's (FILETIME ticks, attribute bits).

use std::time::{Duration, SystemTime};

use smb_wire::info::file_attributes;

/// FILETIME of 1970-01-01 (100 ns ticks since 1601).
pub(crate) const UNIX_EPOCH_FILETIME: u64 = 116_444_736_000_000_000;

/// A FILETIME as `SystemTime`; times before 1970 (or 0, "not known") come out as the epoch.
pub(crate) fn system_time(filetime: u64) -> SystemTime {
    let ticks = filetime.saturating_sub(UNIX_EPOCH_FILETIME);
    SystemTime::UNIX_EPOCH
        + Duration::from_secs(ticks / 10_000_000)
        + Duration::from_nanos(ticks % 10_000_000 * 100)
}

/// The attributes of one file or directory (from CREATE's network-open information, or a directory
/// entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// End of file, in bytes (0 for directories).
    pub size: u64,
    /// Bytes the server has allocated.
    pub allocation_size: u64,
    /// MS-FSCC 2.6 file attributes.
    pub attributes: u32,
    pub created: SystemTime,
    pub accessed: SystemTime,
    pub modified: SystemTime,
    pub changed: SystemTime,
}

impl Metadata {
    pub fn is_dir(&self) -> bool {
        self.attributes & file_attributes::DIRECTORY != 0
    }

    pub fn is_file(&self) -> bool {
        !self.is_dir()
    }

    pub(crate) fn from_open(i: &smb_wire::create::NetworkOpenInfo) -> Metadata {
        Metadata {
            size: i.end_of_file,
            allocation_size: i.allocation_size,
            attributes: i.file_attributes,
            created: system_time(i.creation_time),
            accessed: system_time(i.last_access_time),
            modified: system_time(i.last_write_time),
            changed: system_time(i.change_time),
        }
    }

    pub(crate) fn from_dir(b: &smb_wire::info::dir::DirEntryBase) -> Metadata {
        Metadata {
            size: b.end_of_file,
            allocation_size: b.allocation_size,
            attributes: b.file_attributes,
            created: system_time(b.creation_time),
            accessed: system_time(b.last_access_time),
            modified: system_time(b.last_write_time),
            changed: system_time(b.change_time),
        }
    }
}

/// One entry of a directory listing ("." and ".." are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub metadata: Metadata,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetimes_convert_to_system_time() {
        assert_eq!(system_time(0), SystemTime::UNIX_EPOCH);
        assert_eq!(system_time(UNIX_EPOCH_FILETIME), SystemTime::UNIX_EPOCH);
        let t = system_time(UNIX_EPOCH_FILETIME + 15 * 10_000_000 + 3);
        assert_eq!(t.duration_since(SystemTime::UNIX_EPOCH).unwrap(), Duration::from_nanos(15_000_000_300));
    }

    #[test]
    fn directories_are_told_by_their_attribute() {
        let mut m = Metadata::from_open(&smb_wire::create::NetworkOpenInfo {
            file_attributes: file_attributes::DIRECTORY,
            ..Default::default()
        });
        assert!(m.is_dir() && !m.is_file());
        m.attributes = file_attributes::ARCHIVE;
        assert!(m.is_file());
    }
}
