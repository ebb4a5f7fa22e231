//! The open table of one session (MS-SMB2 3.3.1.10 Open): FileIds, what each open may do, and the
//! data commands READ, WRITE, FLUSH and CLOSE.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use rustix::fs::AtFlags;
use smb_wire::create::{access_mask, create_options, NetworkOpenInfo};
use smb_wire::status::NtStatus;
use smb_wire::types::FileId;

use crate::access::{DATA_READ, DATA_WRITE};
use crate::error::{FsError, Result};
use crate::meta::{FileKey, Meta};
use crate::name::RelPath;
use crate::query_directory::Listing;
use crate::read::PreparedRead;
use crate::resolve;
use crate::write::PreparedWrite;

/// Caps on what one session may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Opens at once; CREATE beyond answers STATUS_INSUFFICIENT_RESOURCES.
    pub max_opens: usize,
    /// Entries one directory enumeration may hold; a larger directory answers
    /// STATUS_INSUFFICIENT_RESOURCES rather than a silently shortened listing.
    pub max_dir_entries: usize,
    /// Bytes all enumerations of the session may hold together.
    pub max_listing_bytes: usize,
}

impl Limits {
    pub const DEFAULT_MAX_DIR_ENTRIES: usize = 1 << 20;
    pub const DEFAULT_MAX_LISTING_BYTES: usize = 256 << 20;

    pub fn new(max_opens: usize) -> Self {
        Self {
            max_opens,
            max_dir_entries: Self::DEFAULT_MAX_DIR_ENTRIES,
            max_listing_bytes: Self::DEFAULT_MAX_LISTING_BYTES,
        }
    }
}

/// One open file or directory.
#[derive(Debug)]
pub(crate) struct Open {
    /// The tree connect the open was made in (as the caller numbered it).
    pub tree_id: u32,
    pub share_name: String,
    pub root: PathBuf,
    pub share_read_only: bool,
    /// Where the open is, relative to the share root (kept current across renames).
    pub path: RelPath,
    /// Shared with the [`PreparedWrite`]s in flight, which may outlive the open.
    pub file: Arc<File>,
    /// A second descriptor on the same file opened with O_DIRECT, for block-aligned WRITEs.
    pub direct: Direct,
    /// Opened with O_PATH (the server may not read it): metadata only.
    pub path_only: bool,
    pub is_directory: bool,
    /// The file is on tmpfs or ramfs (`read::in_memory`).
    pub in_memory: bool,
    /// The file's page cache mapped for lending READ data ([`Opens::map_reads`]), made on the
    /// first READ that could use it and replaced when the file outgrows it or it is poisoned.
    pub map: Option<Arc<filemap::FileMap>>,
    pub key: FileKey,
    /// Open.GrantedAccess.
    pub granted: u32,
    /// The CREATE options that stay meaningful (FileModeInformation).
    pub mode: u32,
    /// FILE_DELETE_ON_CLOSE: the file becomes delete-pending when this open closes.
    pub delete_on_close: bool,
    /// FilePositionInformation.CurrentByteOffset.
    pub position: u64,
    pub listing: Option<Listing>,
}

/// O_DIRECT companion of an open, for WRITEs. Page-cache copies dominate the CPU cost of buffered
/// writes on virtualised storage (measured: buffered writes at 435 MB/s against 2.1 GB/s direct), so
/// block-aligned WRITEs go straight from the caller's buffer to the device; anything else, and any file
/// system without O_DIRECT (tmpfs), stays buffered. The kernel keeps the two coherent: direct I/O
/// writes back and invalidates the page-cache range it touches.
///
/// READs stay buffered: for data the page cache holds, a direct read costs as much CPU as the copy it
/// saves (pinning the pages and building the bios; measured with `perf` during `smbclient get`: 17%
/// of the server's samples direct against 16% buffered), while the page cache serves repeated reads
/// from memory and reads ahead of sequential ones, so the reactor seldom waits for the device
/// (measured: four 1 GiB gets in 8.6-9.1 s against 10.2-12.1 s direct). The price is the first read
/// of cold data, which fills the page cache: 1.2-1.9 CPU-s per GiB against 0.45 direct on the
/// test VM, where freshly used guest pages are expensive to touch. No safe, cheap way to ask the page
/// cache first and go direct on a miss exists here (RWF_NOWAIT starts readahead on a miss).
#[derive(Debug, Default)]
pub(crate) enum Direct {
    #[default]
    Untried,
    Open(Arc<File>),
    Unsupported,
}

/// Alignment of O_DIRECT buffers, offsets and lengths (the largest common logical block size).
pub const DIRECT_ALIGN: usize = 4096;

/// Whether an I/O of `buf` at `offset` can bypass the page cache.
pub fn direct_aligned(offset: u64, buf: &[u8]) -> bool {
    !buf.is_empty()
        && offset.is_multiple_of(DIRECT_ALIGN as u64)
        && buf.len().is_multiple_of(DIRECT_ALIGN)
        && buf.as_ptr().align_offset(DIRECT_ALIGN) == 0
}

impl Open {
    /// The O_DIRECT descriptor for writing, opened on first use by reopening this very file through
    /// /proc/self/fd (no path lookup, so no race with renames or symlink swaps).
    pub(crate) fn direct_file(&mut self) -> Option<Arc<File>> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        if let Direct::Untried = self.direct {
            let writable = self.granted & DATA_WRITE != 0 && !self.share_read_only && !self.path_only;
            let opened = || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
                    .open(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
            };
            self.direct = if writable && !self.is_directory {
                opened().map_or(Direct::Unsupported, |f| Direct::Open(Arc::new(f)))
            } else {
                Direct::Unsupported
            };
        }
        match &self.direct {
            Direct::Open(f) => Some(f.clone()),
            _ => None,
        }
    }

    pub fn display(&self) -> String {
        self.path.display()
    }

    /// Fails with ACCESS_DENIED unless the open was granted one of `any`.
    pub fn require(&self, op: &'static str, any: u32) -> Result<()> {
        if self.granted & any == 0 {
            return Err(FsError::AccessDenied { op, path: self.display(), need: any, granted: self.granted });
        }
        Ok(())
    }

    pub fn meta(&self) -> Result<Meta> {
        Meta::of_fd(&self.file).map_err(|e| FsError::io("stat", &self.display(), e))
    }

    pub fn attr_name(&self) -> &str {
        self.path.file_name()
    }
}

/// What a successful CREATE produced (MS-SMB2 2.2.14 fields, plus what create contexts need).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateOutcome {
    pub file_id: FileId,
    pub action: smb_wire::create::CreateAction,
    pub info: NetworkOpenInfo,
    pub is_directory: bool,
    /// Open.GrantedAccess.
    pub granted_access: u32,
    /// The MaximalAccess of an MxAc create context response.
    pub maximal_access: u32,
    /// The 64-bit file id (inode) and volume id of a QFid create context response.
    pub index_number: u64,
    pub volume_id: u64,
}

/// The open table of one session: FileIds are unique within it.
#[derive(Debug)]
pub struct Opens {
    pub(crate) limits: Limits,
    pub(crate) table: HashMap<u64, Open>,
    next_id: u64,
    /// Files whose deletion waits for their last open to close (FileDispositionInformation, or a
    /// DELETE_ON_CLOSE open that closed while others were still open).
    pub(crate) delete_pending: HashSet<FileKey>,
    /// Bytes held by directory enumerations.
    pub(crate) listing_bytes: usize,
    last_error: Option<FsError>,
    /// Map files so that READs can lend their data from the page cache ([`PreparedRead::lend`]).
    pub map_reads: bool,
}

impl Opens {
    pub fn new(max_opens: usize) -> Self {
        Self::with_limits(Limits::new(max_opens))
    }

    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            table: HashMap::new(),
            next_id: 1,
            delete_pending: HashSet::new(),
            listing_bytes: 0,
            last_error: None,
            map_reads: false,
        }
    }

    /// Opens held now.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The last failure, with the operation and path it concerned (for the server's log).
    pub fn last_error(&self) -> Option<&FsError> {
        self.last_error.as_ref()
    }

    /// The tree an open belongs to (the session layer checks a request's TreeId against it).
    pub fn tree_of(&self, id: FileId) -> Option<u32> {
        self.get(id).ok().map(|o| o.tree_id)
    }

    /// The share an open belongs to.
    pub fn share_of(&self, id: FileId) -> Option<&str> {
        self.get(id).ok().map(|o| o.share_name.as_str())
    }

    pub fn is_directory(&self, id: FileId) -> Option<bool> {
        self.get(id).ok().map(|o| o.is_directory)
    }

    /// Records a failure for [`Opens::last_error`] and returns its status.
    pub(crate) fn track<T>(&mut self, r: Result<T>) -> core::result::Result<T, NtStatus> {
        r.map_err(|e| {
            let s = e.status();
            self.last_error = Some(e);
            s
        })
    }

    pub(crate) fn get(&self, id: FileId) -> Result<&Open> {
        match self.table.get(&id.volatile) {
            Some(o) if id.persistent == id.volatile => Ok(o),
            _ => Err(FsError::UnknownFileId(id)),
        }
    }

    pub(crate) fn get_mut(&mut self, id: FileId) -> Result<&mut Open> {
        match self.table.get_mut(&id.volatile) {
            Some(o) if id.persistent == id.volatile => Ok(o),
            _ => Err(FsError::UnknownFileId(id)),
        }
    }

    /// Files this session holds open that are `key`.
    pub(crate) fn opens_of(&self, key: FileKey) -> usize {
        self.table.values().filter(|o| o.key == key).count()
    }

    /// Adds an open; its FileId has Persistent == Volatile (no durable handles).
    pub(crate) fn insert(&mut self, open: Open) -> Result<FileId> {
        if self.table.len() >= self.limits.max_opens {
            return Err(FsError::TooManyOpens { cap: self.limits.max_opens });
        }
        let mut v = self.next_id;
        while v == 0 || v == u64::MAX || self.table.contains_key(&v) {
            v = v.wrapping_add(1);
        }
        self.next_id = v.wrapping_add(1);
        self.table.insert(v, open);
        Ok(FileId { persistent: v, volatile: v })
    }

    /// MS-SMB2 3.3.5.10 CLOSE: the attributes after the close when `postquery`
    /// (SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB). A pending delete happens here, when the last open of the
    /// file goes; a delete that cannot happen (a directory that filled up meanwhile) is abandoned and
    /// the close still succeeds, as on Windows.
    pub fn close(
        &mut self,
        id: FileId,
        postquery: bool,
    ) -> core::result::Result<Option<NetworkOpenInfo>, NtStatus> {
        let r = self.close_inner(id, postquery);
        self.track(r)
    }

    fn close_inner(&mut self, id: FileId, postquery: bool) -> Result<Option<NetworkOpenInfo>> {
        self.get(id)?;
        let open = self.table.remove(&id.volatile).ok_or(FsError::UnknownFileId(id))?;
        let info =
            if postquery { open.meta().ok().map(|m| m.network_open_info(open.attr_name())) } else { None };
        self.release(open);
        Ok(info)
    }

    /// Drops an open that left the table: frees its listing and performs a pending delete.
    fn release(&mut self, open: Open) {
        if let Some(l) = &open.listing {
            self.listing_bytes = self.listing_bytes.saturating_sub(l.bytes());
        }
        if open.delete_on_close {
            self.delete_pending.insert(open.key);
        }
        if self.delete_pending.contains(&open.key) && self.opens_of(open.key) == 0 {
            self.delete_pending.remove(&open.key);
            // Abandoned on failure, like Windows: the close itself succeeds.
            let _ = delete_now(&open);
        }
    }

    /// Closes every open (LOGOFF, disconnect), performing pending deletes.
    pub fn close_all(&mut self) {
        let ids: Vec<u64> = self.table.keys().copied().collect();
        for v in ids {
            if let Some(open) = self.table.remove(&v) {
                self.release(open);
            }
        }
    }

    /// Closes the opens of one tree connect (TREE_DISCONNECT).
    pub fn close_tree(&mut self, tree_id: u32) {
        let ids: Vec<u64> =
            self.table.iter().filter(|(_, o)| o.tree_id == tree_id).map(|(k, _)| *k).collect();
        for v in ids {
            if let Some(open) = self.table.remove(&v) {
                self.release(open);
            }
        }
    }

    /// MS-SMB2 3.3.5.12 READ: fills `buf` from `offset` as far as the file goes; at or past the end of
    /// file (with a non-empty `buf`) it fails with STATUS_END_OF_FILE.
    pub fn read(&mut self, id: FileId, offset: u64, buf: &mut [u8]) -> core::result::Result<usize, NtStatus> {
        let r = self.read_inner(id, offset, buf);
        self.track(r)
    }

    fn read_inner(&mut self, id: FileId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let r = self.prepare_read_inner(id, offset, buf.len())?;
        let n = r.read(buf)?;
        if let Ok(open) = self.get_mut(id) {
            open.position = offset + n as u64;
        }
        Ok(n)
    }

    /// The checks of [`Opens::read`] for `len` bytes at `offset`, made now against the open; the
    /// returned [`PreparedRead`] reads later, from any thread. The open's position moves now, as if
    /// all `len` bytes were read.
    pub fn prepare_read(
        &mut self,
        id: FileId,
        offset: u64,
        len: usize,
    ) -> core::result::Result<PreparedRead, NtStatus> {
        let r = self.prepare_read_inner(id, offset, len).inspect(|_| {
            if let Ok(open) = self.get_mut(id) {
                open.position = offset + len as u64;
            }
        });
        self.track(r)
    }

    fn prepare_read_inner(&mut self, id: FileId, offset: u64, len: usize) -> Result<PreparedRead> {
        let map_reads = self.map_reads;
        let open = self.get_mut(id)?;
        if open.is_directory {
            return Err(FsError::InvalidDeviceRequest { op: "READ", path: open.display() });
        }
        open.require("READ", DATA_READ)?;
        if offset > i64::MAX as u64 {
            return Err(FsError::InvalidParameter { op: "READ", what: "Offset beyond 2^63" });
        }
        let mapped =
            if map_reads && !open.path_only { crate::read::map_for(open, offset, len) } else { None };
        Ok(PreparedRead {
            file: open.file.clone(),
            offset,
            len,
            path: open.display(),
            in_memory: open.in_memory,
            mapped,
        })
    }

    /// MS-SMB2 3.3.5.13 WRITE: returns once all of `data` is in the file (and on stable storage when
    /// `write_through` or the open was created WRITE_THROUGH). Offset `u64::MAX` appends at the end
    /// of file (FILE_WRITE_TO_END_OF_FILE).
    pub fn write(
        &mut self,
        id: FileId,
        offset: u64,
        data: &[u8],
        write_through: bool,
    ) -> core::result::Result<usize, NtStatus> {
        let r = self.prepare_inner(id, offset, data.len(), write_through).and_then(|w| w.write(data));
        self.track(r)
    }

    /// The checks of [`Opens::write`] for `len` bytes at `offset`, made now against the open; the
    /// returned [`PreparedWrite`] writes the data later, from any thread (a reactor hands it to its
    /// helper thread rather than wait for the device). The open's position moves now.
    pub fn prepare_write(
        &mut self,
        id: FileId,
        offset: u64,
        len: usize,
        write_through: bool,
    ) -> core::result::Result<PreparedWrite, NtStatus> {
        let r = self.prepare_inner(id, offset, len, write_through);
        self.track(r)
    }

    fn prepare_inner(
        &mut self,
        id: FileId,
        offset: u64,
        len: usize,
        write_through: bool,
    ) -> Result<PreparedWrite> {
        let open = self.get_mut(id)?;
        if open.is_directory {
            return Err(FsError::InvalidDeviceRequest { op: "WRITE", path: open.display() });
        }
        open.require("WRITE", DATA_WRITE)?;
        let eof = || open.meta().map(|m| m.size);
        let offset = if offset == u64::MAX { eof()? } else { offset };
        if open.granted & access_mask::FILE_WRITE_DATA == 0 && offset < eof()? {
            return Err(FsError::AccessDenied {
                op: "WRITE before the end of an append-only open",
                path: open.display(),
                need: access_mask::FILE_WRITE_DATA,
                granted: open.granted,
            });
        }
        if offset.checked_add(len as u64).is_none_or(|end| end > i64::MAX as u64) {
            return Err(FsError::InvalidParameter { op: "WRITE", what: "Offset + Length beyond 2^63" });
        }
        let aligned = offset.is_multiple_of(DIRECT_ALIGN as u64) && len.is_multiple_of(DIRECT_ALIGN);
        // A file in memory has no device to wait for or bypass: its WRITEs are copies into the
        // page cache, done where they arrive (a server's reactor) rather than handed to helper
        // threads, which only queued up on the inode lock there (writer threads spinning on it were
        // 13% of the server's samples in `smbdx cp` to a tmpfs share; 1 MiB sealed WRITEs at depth
        // 8 measured 0.19-0.23 server CPU-s/GB inline against 0.23-0.30 through helpers).
        let direct = if aligned && len > 0 && !open.in_memory { open.direct_file() } else { None };
        let sync = write_through || open.mode & create_options::WRITE_THROUGH != 0;
        if len > 0 {
            open.position = offset + len as u64;
        }
        Ok(PreparedWrite { file: open.file.clone(), direct, offset, len, sync, path: open.display() })
    }

    /// MS-SMB2 3.3.5.11 FLUSH: everything written reaches stable storage (data and metadata).
    pub fn flush(&mut self, id: FileId) -> core::result::Result<(), NtStatus> {
        let r = self.flush_inner(id);
        self.track(r)
    }

    fn flush_inner(&mut self, id: FileId) -> Result<()> {
        let open = self.get(id)?;
        // For a directory these bits are FILE_ADD_FILE / FILE_ADD_SUBDIRECTORY (MS-SMB2 3.3.5.11).
        open.require("FLUSH", DATA_WRITE)?;
        open.file.sync_all().map_err(|e| FsError::io("FLUSH", &open.display(), e))
    }
}

/// Removes the file an open names, if the name still refers to it (it may have been renamed or
/// replaced behind the server's back: then nothing is removed).
pub(crate) fn delete_now(open: &Open) -> Result<()> {
    let display = open.display();
    if open.path.is_root() {
        return Err(FsError::CannotDelete { path: display, reason: "the share root" });
    }
    let root = resolve::open_root(&open.root)?;
    let found = resolve::lookup(&root, &open.path)?;
    match found.meta {
        Some(m) if m.key() == open.key => {}
        _ => return Err(FsError::NotFound { path: display }),
    }
    let flags = if open.is_directory { AtFlags::REMOVEDIR } else { AtFlags::empty() };
    rustix::fs::unlinkat(&found.parent, found.name.as_str(), flags)
        .map_err(|e| FsError::io("delete", &display, e))
}
