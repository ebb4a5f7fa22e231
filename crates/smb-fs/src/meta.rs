//! What a file looks like to an SMB client: statx results as FILETIMEs, sizes and MS-FSCC 2.6
//! attributes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, FileType, Statx, StatxFlags};
use smb_wire::create::NetworkOpenInfo;
use smb_wire::info::dir::DirEntryBase;
use smb_wire::info::file_attributes as attr;

/// Seconds from 1601-01-01 (the FILETIME epoch) to 1970-01-01.
const EPOCH_DIFF_SECS: i64 = 11_644_473_600;
/// FILETIME ticks (100 ns) per second.
const TICKS_PER_SEC: i64 = 10_000_000;

/// A timestamp as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct UnixTime {
    pub secs: i64,
    pub nanos: u32,
}

impl UnixTime {
    /// FILETIME (100 ns since 1601), clamped to the representable range.
    pub fn filetime(self) -> u64 {
        let ticks = (i128::from(self.secs) + i128::from(EPOCH_DIFF_SECS)) * i128::from(TICKS_PER_SEC)
            + i128::from(self.nanos / 100);
        ticks.clamp(0, i128::from(i64::MAX)) as u64
    }

    /// The time a FILETIME names; `None` above i64::MAX (negative on the wire).
    pub fn from_filetime(ft: u64) -> Option<Self> {
        let ft = i64::try_from(ft).ok()?;
        let secs = ft.div_euclid(TICKS_PER_SEC) - EPOCH_DIFF_SECS;
        let nanos = (ft.rem_euclid(TICKS_PER_SEC) * 100) as u32;
        Some(Self { secs, nanos })
    }

    pub fn to_system_time(self) -> SystemTime {
        if self.secs >= 0 {
            UNIX_EPOCH + Duration::new(self.secs as u64, self.nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs())
                + Duration::from_nanos(self.nanos.into())
        }
    }
}

/// The kind of object a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    Symlink,
    /// FIFOs, sockets, devices: never opened or listed.
    Other,
}

/// The metadata the SMB layer needs from one statx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub nlink: u32,
    pub atime: UnixTime,
    pub mtime: UnixTime,
    pub ctime: UnixTime,
    /// Birth time, when the file system records it.
    pub btime: Option<UnixTime>,
}

fn ts(t: &rustix::fs::StatxTimestamp) -> UnixTime {
    UnixTime { secs: t.tv_sec, nanos: t.tv_nsec.min(999_999_999) }
}

impl Meta {
    pub fn from_statx(s: &Statx) -> Self {
        let kind = match FileType::from_raw_mode(u32::from(s.stx_mode)) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Directory,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        let has = |f: StatxFlags| s.stx_mask & f.bits() == f.bits();
        Meta {
            kind,
            dev: (u64::from(s.stx_dev_major) << 32) | u64::from(s.stx_dev_minor),
            ino: s.stx_ino,
            mode: u32::from(s.stx_mode) & 0o7777,
            size: s.stx_size,
            blocks: s.stx_blocks,
            nlink: s.stx_nlink,
            atime: ts(&s.stx_atime),
            mtime: ts(&s.stx_mtime),
            ctime: ts(&s.stx_ctime),
            btime: has(StatxFlags::BTIME).then(|| ts(&s.stx_btime)),
        }
    }

    /// `statx(fd)`: the metadata of an open file.
    pub fn of_fd(fd: impl rustix::fd::AsFd) -> std::io::Result<Self> {
        stat(fd, "", AtFlags::EMPTY_PATH)
    }

    /// `statx(dir, name, AT_SYMLINK_NOFOLLOW)`: the metadata of a name, never of a link's target.
    pub fn of_name(dir: impl rustix::fd::AsFd, name: &str) -> std::io::Result<Self> {
        stat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
    }

    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Directory
    }

    /// (device, inode): the identity of the file across opens and renames.
    pub fn key(&self) -> FileKey {
        FileKey { dev: self.dev, ino: self.ino }
    }

    /// Creation time: the birth time, or the oldest time known when the file system keeps none.
    pub fn creation_time(&self) -> UnixTime {
        self.btime.unwrap_or_else(|| self.mtime.min(self.ctime))
    }

    /// EndOfFile: the size of a file; directories report 0 like NTFS.
    pub fn end_of_file(&self) -> u64 {
        if self.is_dir() {
            0
        } else {
            self.size
        }
    }

    pub fn allocation_size(&self) -> u64 {
        if self.is_dir() {
            0
        } else {
            self.blocks.saturating_mul(512)
        }
    }

    /// Whether no one may write the file (mapped to FILE_ATTRIBUTE_READONLY; directories ignore it
    /// like Windows does).
    pub fn is_read_only(&self) -> bool {
        !self.is_dir() && self.mode & 0o222 == 0
    }

    /// MS-FSCC 2.6 attributes. `name` is the last component (dot-files are HIDDEN, as Samba's
    /// default "hide dot files" does); pass "" for names that must not be hidden.
    pub fn attributes(&self, name: &str) -> u32 {
        let mut a = if self.is_dir() { attr::DIRECTORY } else { attr::ARCHIVE };
        if self.is_read_only() {
            a |= attr::READONLY;
        }
        if name.starts_with('.') && name != "." && name != ".." {
            a |= attr::HIDDEN;
        }
        if a == 0 {
            attr::NORMAL
        } else {
            a
        }
    }

    pub fn network_open_info(&self, name: &str) -> NetworkOpenInfo {
        NetworkOpenInfo {
            creation_time: self.creation_time().filetime(),
            last_access_time: self.atime.filetime(),
            last_write_time: self.mtime.filetime(),
            change_time: self.ctime.filetime(),
            allocation_size: self.allocation_size(),
            end_of_file: self.end_of_file(),
            file_attributes: self.attributes(name),
        }
    }

    pub fn dir_entry_base(&self, name: &str) -> DirEntryBase {
        let n = self.network_open_info(name);
        DirEntryBase {
            file_index: 0,
            creation_time: n.creation_time,
            last_access_time: n.last_access_time,
            last_write_time: n.last_write_time,
            change_time: n.change_time,
            end_of_file: n.end_of_file,
            allocation_size: n.allocation_size,
            file_attributes: n.file_attributes,
        }
    }
}

/// The identity of a file: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

fn stat(fd: impl rustix::fd::AsFd, name: &str, flags: AtFlags) -> std::io::Result<Meta> {
    let want = StatxFlags::BASIC_STATS | StatxFlags::BTIME;
    let s = rustix::fs::statx(fd, name, flags, want)?;
    Ok(Meta::from_statx(&s))
}

/// The 32-bit volume serial number reported for a device (FileFsVolumeInformation) and, widened, the
/// VolumeSerialNumber of FileIdInformation.
pub fn volume_serial(dev: u64) -> u32 {
    (dev ^ (dev >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_epochs() {
        assert_eq!(UnixTime { secs: 0, nanos: 0 }.filetime(), 116_444_736_000_000_000);
        assert_eq!(UnixTime { secs: -EPOCH_DIFF_SECS, nanos: 0 }.filetime(), 0);
        assert_eq!(UnixTime { secs: -EPOCH_DIFF_SECS - 1, nanos: 0 }.filetime(), 0, "clamped");
        assert_eq!(UnixTime { secs: 1, nanos: 250 }.filetime(), 116_444_736_010_000_002);
    }

    #[test]
    fn filetime_round_trips_at_100ns() {
        for t in [
            UnixTime { secs: 1_700_000_000, nanos: 123_456_700 },
            UnixTime { secs: -5, nanos: 100 },
            UnixTime { secs: 0, nanos: 0 },
        ] {
            assert_eq!(UnixTime::from_filetime(t.filetime()), Some(t));
        }
        assert_eq!(UnixTime::from_filetime(u64::MAX), None);
        let st = UnixTime { secs: -5, nanos: 100 }.to_system_time();
        assert_eq!(UNIX_EPOCH.duration_since(st).unwrap(), Duration::new(4, 999_999_900));
    }

    fn meta(kind: Kind, mode: u32) -> Meta {
        let t = UnixTime { secs: 10, nanos: 0 };
        Meta {
            kind,
            dev: 1,
            ino: 2,
            mode,
            size: 1000,
            blocks: 8,
            nlink: 1,
            atime: t,
            mtime: UnixTime { secs: 20, nanos: 0 },
            ctime: t,
            btime: None,
        }
    }

    #[test]
    fn attributes_and_sizes() {
        let f = meta(Kind::File, 0o644);
        assert_eq!(f.attributes("a.txt"), attr::ARCHIVE);
        assert_eq!(f.attributes(".profile"), attr::ARCHIVE | attr::HIDDEN);
        assert_eq!(meta(Kind::File, 0o444).attributes("r"), attr::ARCHIVE | attr::READONLY);
        let d = meta(Kind::Directory, 0o555);
        assert_eq!(d.attributes("d"), attr::DIRECTORY);
        assert_eq!(d.attributes(".."), attr::DIRECTORY);
        assert_eq!((d.end_of_file(), d.allocation_size()), (0, 0));
        assert_eq!((f.end_of_file(), f.allocation_size()), (1000, 4096));
        assert_eq!(f.creation_time(), UnixTime { secs: 10, nanos: 0 }, "oldest of mtime/ctime");
    }
}
