//! MS-SMB2 3.3.5.12 READ, cut like WRITE (see `write.rs`): [`crate::Opens::prepare_read`] checks the
//! request against the open, and the [`PreparedRead`] it returns fills a buffer from the file on any
//! thread, so a reactor need not wait for a page-cache miss.

use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::error::{FsError, Result};

/// A checked READ of up to `len()` bytes at `offset()`, holding the file open while it lives.
#[derive(Debug)]
pub struct PreparedRead {
    pub(crate) file: Arc<File>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
    pub(crate) path: String,
    /// The file lives in memory (see [`in_memory`]).
    pub(crate) in_memory: bool,
}

/// Whether `file` lives on tmpfs or ramfs, where a read never waits for a device. Those refuse
/// `RWF_NOWAIT` (EOPNOTSUPP), so [`PreparedRead::read_cached`] asks this instead of the page cache.
pub(crate) fn in_memory(file: &File) -> bool {
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    const RAMFS_MAGIC: u64 = 0x8584_58f6;
    rustix::fs::fstatfs(file).is_ok_and(|st| matches!(st.f_type as u64, TMPFS_MAGIC | RAMFS_MAGIC))
}

impl PreparedRead {
    /// Fills `buf` (at most `len()` bytes of it) from the file through the page cache (see
    /// `opens::Direct` for why not O_DIRECT) and returns how many bytes were read: fewer at the end
    /// of the file, and [`FsError::EndOfFile`] when none are left at `offset()`.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        let cap = buf.len().min(self.len);
        let buf = &mut buf[..cap];
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        while n < buf.len() {
            match self.file.read_at(&mut buf[n..], self.offset + n as u64) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(FsError::io("READ", &self.path, e)),
            }
        }
        if n == 0 {
            return Err(FsError::EndOfFile { path: self.path.clone(), offset: self.offset });
        }
        Ok(n)
    }

    /// Fills `buf` (at most `len()` bytes of it) only if the page cache holds every byte
    /// (`RWF_NOWAIT`), or the file lives in memory, returning how many were read; `None` otherwise,
    /// and for anything short (end of file included), which [`PreparedRead::read`] then does on a
    /// thread that may wait. A miss starts the kernel's readahead, so a sequential reader's next
    /// READs find their data.
    pub fn read_cached(&self, buf: &mut [u8]) -> Option<usize> {
        let cap = buf.len().min(self.len);
        if cap == 0 {
            return None;
        }
        if self.in_memory {
            return self.read(&mut buf[..cap]).ok().filter(|&n| n == cap);
        }
        let mut iov = [IoSliceMut::new(&mut buf[..cap])];
        let n = rustix::io::preadv2(&*self.file, &mut iov, self.offset, rustix::io::ReadWriteFlags::NOWAIT)
            .ok()?;
        (n == cap).then_some(n)
    }
}
