//! MS-SMB2 3.3.5.21 SET_INFO for InfoType FILE (MS-FSA 2.1.5.14): times and attributes, end of file,
//! allocation, delete disposition and rename.

use std::fs::{File, FileTimes};

use rustix::fs::{AtFlags, Dir, FallocateFlags, RenameFlags, Timespec, Timestamps, UTIME_OMIT};
use rustix::io::Errno;
use smb_wire::create::access_mask;
use smb_wire::info::file::{
    disposition_ex_flags, file_mode, FileAllocationInformation, FileBasicInformation,
    FileDispositionInformation, FileDispositionInformationEx, FileEndOfFileInformation, FileModeInformation,
    FilePositionInformation, FileRenameInformation,
};
use smb_wire::info::{file_attributes, FileInfoClass};
use smb_wire::query_info::InfoType;
use smb_wire::status::NtStatus;
use smb_wire::types::FileId;

use crate::create::{check_deletable, set_read_only};
use crate::error::{FsError, Result};
use crate::meta::{Meta, UnixTime};
use crate::name::{parse_name, NameUse};
use crate::opens::{Open, Opens};
use crate::resolve;
use crate::share::Share;

/// FileBasicInformation time values that change nothing: 0 ("leave it"), -1 ("stop updating it
/// for this handle") and -2 ("resume updating it"); the last two are accepted but not honoured.
const KEEP_TIME: [u64; 3] = [0, u64::MAX, u64::MAX - 1];

/// FileModeInformation bits a client may set (MS-FSCC 2.4.26).
const SETTABLE_MODE: u32 = file_mode::WRITE_THROUGH
    | file_mode::SEQUENTIAL_ONLY
    | file_mode::SYNCHRONOUS_IO_ALERT
    | file_mode::SYNCHRONOUS_IO_NONALERT;

impl Opens {
    /// MS-SMB2 3.3.5.21 SET_INFO of class `class` of `info_type` (only 1 FILE changes anything).
    /// `share` is the tree's share: it must be the one the open was made in, and rename targets are
    /// resolved below its root.
    pub fn set_info(
        &mut self,
        share: &Share,
        id: FileId,
        info_type: u8,
        class: u8,
        buf: &[u8],
    ) -> core::result::Result<(), NtStatus> {
        let r = self.set_info_inner(share, id, info_type, class, buf);
        self.track(r)
    }

    fn set_info_inner(
        &mut self,
        share: &Share,
        id: FileId,
        info_type: u8,
        class: u8,
        buf: &[u8],
    ) -> Result<()> {
        const OP: &str = "SET_INFO";
        let open = self.get(id)?;
        if open.share_name != share.name || open.root != share.root {
            return Err(FsError::UnknownFileId(id));
        }
        match InfoType(info_type) {
            InfoType::FILE => {}
            InfoType::FILESYSTEM => {
                return Err(FsError::NotSupported { op: OP, what: "file system settings" })
            }
            InfoType::SECURITY => return Err(FsError::NotSupported { op: OP, what: "security descriptors" }),
            InfoType::QUOTA => return Err(FsError::NotSupported { op: OP, what: "quotas" }),
            _ => return Err(FsError::InvalidParameter { op: OP, what: "InfoType" }),
        }
        use FileInfoClass as C;
        let class = FileInfoClass(class);
        let modifies = !matches!(class, C::POSITION | C::MODE);
        if modifies && share.read_only {
            return Err(FsError::ReadOnlyShare { op: OP, path: open.display() });
        }
        match class {
            C::BASIC => {
                let v = parse_fixed(FileBasicInformation::parse(buf), FileBasicInformation::LEN, buf)?;
                set_basic(self.get(id)?, &v)
            }
            C::END_OF_FILE => {
                let v =
                    parse_fixed(FileEndOfFileInformation::parse(buf), FileEndOfFileInformation::LEN, buf)?;
                let open = self.get(id)?;
                data_size_change(open, "SET_INFO FileEndOfFileInformation", v.end_of_file)?;
                open.file
                    .set_len(v.end_of_file)
                    .map_err(|e| FsError::io("set end of file", &open.display(), e))
            }
            C::ALLOCATION => {
                let v =
                    parse_fixed(FileAllocationInformation::parse(buf), FileAllocationInformation::LEN, buf)?;
                set_allocation(self.get(id)?, v.allocation_size)
            }
            C::DISPOSITION => {
                let v = parse_fixed(
                    FileDispositionInformation::parse(buf),
                    FileDispositionInformation::LEN,
                    buf,
                )?;
                self.set_disposition(id, v.delete_pending, false)
            }
            C::DISPOSITION_EX => {
                let v = parse_fixed(
                    FileDispositionInformationEx::parse(buf),
                    FileDispositionInformationEx::LEN,
                    buf,
                )?;
                let delete = v.flags & disposition_ex_flags::DELETE != 0;
                let ignore_ro = v.flags & disposition_ex_flags::IGNORE_READONLY_ATTRIBUTE != 0;
                self.set_disposition(id, delete, ignore_ro)
            }
            C::RENAME => self.rename(share, id, buf),
            C::POSITION => {
                let v = parse_fixed(FilePositionInformation::parse(buf), FilePositionInformation::LEN, buf)?;
                if v.current_byte_offset > i64::MAX as u64 {
                    return Err(FsError::InvalidParameter { op: OP, what: "CurrentByteOffset" });
                }
                self.get_mut(id)?.position = v.current_byte_offset;
                Ok(())
            }
            C::MODE => {
                let v = parse_fixed(FileModeInformation::parse(buf), FileModeInformation::LEN, buf)?;
                if v.mode & !SETTABLE_MODE != 0 {
                    return Err(FsError::InvalidParameter { op: OP, what: "FileModeInformation.Mode" });
                }
                let open = self.get_mut(id)?;
                open.mode = (open.mode & !SETTABLE_MODE) | v.mode;
                Ok(())
            }
            C::LINK => Err(FsError::NotSupported { op: OP, what: "hard links" }),
            C::FULL_EA => Err(FsError::NotSupported { op: OP, what: "extended attributes" }),
            C::VALID_DATA_LENGTH | C::SHORT_NAME => Err(FsError::NotSupported { op: OP, what: "this class" }),
            _ => Err(FsError::InvalidInfoClass { info_type: InfoType::FILE.0, class: class.0 }),
        }
    }

    /// FileDispositionInformation(Ex): marks the file delete-pending (deleted when its last open
    /// closes) or clears the mark.
    fn set_disposition(&mut self, id: FileId, delete: bool, ignore_read_only: bool) -> Result<()> {
        let open = self.get(id)?;
        open.require("SET_INFO FileDispositionInformation", access_mask::DELETE)?;
        let key = open.key;
        if !delete {
            self.delete_pending.remove(&key);
            return Ok(());
        }
        let meta = open.meta()?;
        let display = open.display();
        check_deletable(&meta, open.path.is_root(), &display).or_else(|e| match e {
            FsError::CannotDelete { .. } if ignore_read_only && !open.path.is_root() => Ok(()),
            e => Err(e),
        })?;
        if open.is_directory && !dir_is_empty(&open.file, &display)? {
            return Err(FsError::DirectoryNotEmpty { path: display });
        }
        self.delete_pending.insert(key);
        Ok(())
    }

    /// FileRenameInformation (MS-FSCC 2.4.42.2): moves the open's file to a name relative to the share
    /// root, replacing an existing file only when asked, never a directory or a file that is open.
    fn rename(&mut self, share: &Share, id: FileId, buf: &[u8]) -> Result<()> {
        const OP: &str = "SET_INFO FileRenameInformation";
        let info = FileRenameInformation::parse(buf).map_err(|_| {
            if buf.len() < FileRenameInformation::FIXED_LEN {
                FsError::InfoLength {
                    what: "FileRenameInformation",
                    need: FileRenameInformation::FIXED_LEN,
                    have: buf.len(),
                }
            } else {
                FsError::InvalidParameter { op: OP, what: "FileNameLength" }
            }
        })?;
        if info.root_directory != 0 {
            return Err(FsError::InvalidParameter { op: OP, what: "RootDirectory is not 0" });
        }
        if info.file_name.is_empty() {
            return Err(FsError::InvalidParameter { op: OP, what: "empty FileName" });
        }
        let target = parse_name(&info.file_name, NameUse::RenameTarget)?.path;
        let open = self.get(id)?;
        open.require(OP, access_mask::DELETE)?;
        let from = open.path.clone();
        let display = from.display();
        if from.is_root() || target.is_root() {
            return Err(FsError::AccessDenied {
                op: OP,
                path: display,
                need: access_mask::DELETE,
                granted: 0,
            });
        }
        if self.delete_pending.contains(&open.key) {
            return Err(FsError::DeletePending { path: display });
        }
        if target == from {
            return Ok(());
        }
        let root = resolve::open_root(&share.root)?;
        let src = resolve::lookup(&root, &from)?;
        if src.meta.map(|m| m.key()) != Some(open.key) {
            return Err(FsError::NotFound { path: display });
        }
        let dst = resolve::lookup(&root, &target)?;
        let target_display = target.display();
        let mut flags = RenameFlags::NOREPLACE;
        if let Some(existing) = dst.meta {
            if existing.key() == open.key {
                // Another name of the same file (a hard link): rename(2) would do nothing.
                return Ok(());
            }
            if !info.replace_if_exists {
                return Err(FsError::Collision { path: target_display });
            }
            resolve::check_kind(&existing, &target_display)?;
            if existing.is_dir() {
                return Err(FsError::AccessDenied {
                    op: "rename over a directory",
                    path: target_display,
                    need: 0,
                    granted: 0,
                });
            }
            if self.opens_of(existing.key()) > 0 || self.delete_pending.contains(&existing.key()) {
                return Err(FsError::AccessDenied {
                    op: "rename over an open file",
                    path: target_display,
                    need: 0,
                    granted: 0,
                });
            }
            flags = RenameFlags::empty();
        }
        let r =
            rustix::fs::renameat_with(&src.parent, src.name.as_str(), &dst.parent, dst.name.as_str(), flags);
        match r {
            Ok(()) => {}
            Err(Errno::EXIST) => return Err(FsError::Collision { path: target_display }),
            // File systems without RENAME_NOREPLACE: the target was absent a moment ago.
            Err(Errno::INVAL) if flags == RenameFlags::NOREPLACE => {
                if Meta::of_name(&dst.parent, &dst.name).is_ok() {
                    return Err(FsError::Collision { path: target_display });
                }
                rustix::fs::renameat(&src.parent, src.name.as_str(), &dst.parent, dst.name.as_str())
                    .map_err(|e| FsError::io("rename", &display, e))?;
            }
            Err(e) => return Err(FsError::io("rename", &display, e)),
        }
        let root_path = share.root.clone();
        for o in self.table.values_mut() {
            if o.root == root_path {
                o.path.rebase(&from, &target);
            }
        }
        Ok(())
    }
}

/// Parses a fixed-size class, mapping a short buffer to INFO_LENGTH_MISMATCH.
fn parse_fixed<T>(r: smb_wire::Result<T>, len: usize, buf: &[u8]) -> Result<T> {
    r.map_err(|_| FsError::InfoLength { what: "SET_INFO buffer", need: len, have: buf.len() })
}

/// FileBasicInformation: access and write times (creation and change times cannot be set on Linux
/// and are ignored), and READONLY.
fn set_basic(open: &Open, v: &FileBasicInformation) -> Result<()> {
    const OP: &str = "SET_INFO FileBasicInformation";
    open.require(OP, access_mask::FILE_WRITE_ATTRIBUTES)?;
    let display = open.display();
    let time = |ft: u64| -> Result<Option<UnixTime>> {
        if KEEP_TIME.contains(&ft) {
            return Ok(None);
        }
        UnixTime::from_filetime(ft)
            .map(Some)
            .ok_or(FsError::InvalidParameter { op: OP, what: "negative time" })
    };
    for t in [v.creation_time, v.change_time] {
        time(t)?;
    }
    let atime = time(v.last_access_time)?;
    let mtime = time(v.last_write_time)?;
    if v.file_attributes & file_attributes::DIRECTORY != 0 && !open.is_directory {
        return Err(FsError::InvalidParameter { op: OP, what: "DIRECTORY attribute on a file" });
    }
    if atime.is_some() || mtime.is_some() {
        set_times(open, atime, mtime, &display)?;
    }
    if v.file_attributes != 0 && !open.is_directory {
        let read_only = v.file_attributes & file_attributes::READONLY != 0;
        set_read_only(&open.file, read_only, &display)?;
    }
    Ok(())
}

fn set_times(open: &Open, atime: Option<UnixTime>, mtime: Option<UnixTime>, display: &str) -> Result<()> {
    if !open.path_only {
        let mut t = FileTimes::new();
        if let Some(a) = atime {
            t = t.set_accessed(a.to_system_time());
        }
        if let Some(m) = mtime {
            t = t.set_modified(m.to_system_time());
        }
        return open.file.set_times(t).map_err(|e| FsError::io("set times", display, e));
    }
    // An O_PATH handle cannot futimens: set the times through the name, without following it.
    let spec = |t: Option<UnixTime>| match t {
        Some(t) => Timespec { tv_sec: t.secs, tv_nsec: t.nanos.into() },
        None => Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT },
    };
    let root = resolve::open_root(&open.root)?;
    let found = resolve::lookup(&root, &open.path)?;
    let times = Timestamps { last_access: spec(atime), last_modification: spec(mtime) };
    rustix::fs::utimensat(&found.parent, found.name.as_str(), &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| FsError::io("set times", display, e))
}

/// Checks a size change of the file's data: write access, a file, a size below 2^63.
fn data_size_change(open: &Open, op: &'static str, size: u64) -> Result<()> {
    open.require(op, access_mask::FILE_WRITE_DATA)?;
    if open.is_directory {
        return Err(FsError::InvalidParameter { op, what: "a directory has no data to resize" });
    }
    if size > i64::MAX as u64 {
        return Err(FsError::InvalidParameter { op, what: "size beyond 2^63" });
    }
    Ok(())
}

/// FileAllocationInformation: below the end of file it truncates (MS-FSA 2.1.5.14.1); above, it
/// reserves space where the file system can (the size stays).
fn set_allocation(open: &Open, size: u64) -> Result<()> {
    const OP: &str = "SET_INFO FileAllocationInformation";
    data_size_change(open, OP, size)?;
    let display = open.display();
    let eof = open.meta()?.size;
    if size < eof {
        return open.file.set_len(size).map_err(|e| FsError::io("truncate to allocation", &display, e));
    }
    match rustix::fs::fallocate(&open.file, FallocateFlags::KEEP_SIZE, 0, size) {
        Ok(()) => Ok(()),
        Err(e @ (Errno::NOSPC | Errno::FBIG | Errno::DQUOT)) => Err(FsError::io("allocate", &display, e)),
        // Not supported by this file system: allocation is a hint.
        Err(_) => Ok(()),
    }
}

/// Whether a directory has no entries besides `.` and `..`.
fn dir_is_empty(dir: &File, display: &str) -> Result<bool> {
    let mut d = Dir::read_from(dir).map_err(|e| FsError::io("list directory", display, e))?;
    while let Some(e) = d.read() {
        let e = e.map_err(|e| FsError::io("list directory", display, e))?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}
