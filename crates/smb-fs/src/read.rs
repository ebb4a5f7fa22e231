//! MS-SMB2 3.3.5.12 READ, cut like WRITE (see `write.rs`): [`crate::Opens::prepare_read`] checks the
//! request against the open, and the [`PreparedRead`] it returns fills a buffer from the file on any
//! thread, so a reactor need not wait for a page-cache miss, or lends the data where it lies in the
//! page cache ([`PreparedRead::lend`]), for a caller that seals it into the response in one pass.

use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::error::{FsError, Result};
use filemap::FileMap;

/// A checked READ of up to `len()` bytes at `offset()`, holding the file open while it lives.
#[derive(Debug, Clone)]
pub struct PreparedRead {
    pub(crate) file: Arc<File>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
    pub(crate) path: String,
    /// The file lives in memory (see [`in_memory`]).
    pub(crate) in_memory: bool,
    /// The open's mapping, and where the READ's bytes end in it (the end of file, if sooner).
    pub(crate) mapped: Option<(Arc<FileMap>, u64)>,
}

/// READs lent from the page cache since the process started (for tests and the operator).
static LENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many READs were lent from the page cache ([`PreparedRead::lend`]) in this process.
pub fn lent_reads() -> u64 {
    LENT.load(std::sync::atomic::Ordering::Relaxed)
}

/// Files larger than this are not mapped (the address space is large, but not for every file).
const MAX_MAP: u64 = 1 << 40;

/// The open's mapping for a READ of `len` bytes at `offset`, made or replaced as needed, and where
/// the bytes end (the end of file, if sooner); `None` at or past the end of file.
pub(crate) fn map_for(open: &mut crate::opens::Open, offset: u64, len: usize) -> Option<(Arc<FileMap>, u64)> {
    let size = open.file.metadata().ok()?.len();
    if offset >= size || size > MAX_MAP || len == 0 {
        return None;
    }
    let end = offset.saturating_add(len as u64).min(size);
    let fits = open.map.as_ref().is_some_and(|m| !m.is_poisoned() && m.len() as u64 >= end);
    if !fits {
        open.map = FileMap::map(&open.file, size as usize).ok().map(Arc::new);
    }
    Some((open.map.clone()?, end))
}

/// A READ's bytes as they lie in the page cache, lent instead of copied: sealed straight from there
/// into the response. Holds the file and its mapping while it lives.
#[derive(Debug)]
pub struct LentRead {
    map: Arc<FileMap>,
    at: usize,
    len: usize,
    /// The ordinary read of the same bytes, for when the mapping fails them.
    read: PreparedRead,
}

impl LentRead {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs `f` over the bytes; `false` when they could not be read as they lay (the file shrank
    /// beneath the mapping): whatever `f` made of them must be thrown away.
    pub fn with_bytes(&self, f: &mut dyn FnMut(&[u8])) -> bool {
        self.map.read_guarded(self.at, self.len, |b| f(b)).is_ok()
    }

    /// Reads the bytes the ordinary way into `out` (after [`LentRead::with_bytes`] failed them).
    pub fn read_into(&self, out: &mut [u8]) -> Result<usize> {
        self.read.read(out)
    }
}

/// Whether `file` lives on tmpfs or ramfs, where a read never waits for a device. Those refuse
/// `RWF_NOWAIT` (EOPNOTSUPP), so [`PreparedRead::read_cached`] asks this instead of the page cache.
pub(crate) fn in_memory(file: &File) -> bool {
    const TMPFS_MAGIC: u64 = 0x0102_1994;
    const RAMFS_MAGIC: u64 = 0x8584_58f6;
    rustix::fs::fstatfs(file).is_ok_and(|st| matches!(st.f_type as u64, TMPFS_MAGIC | RAMFS_MAGIC))
}

impl PreparedRead {
    /// The bytes lent from the page cache, when the open is mapped and the page cache holds every
    /// one of them now (so reading them will not wait for a device); `None` otherwise, and the
    /// caller reads them with [`PreparedRead::read`].
    pub fn lend(&self) -> Option<LentRead> {
        let (map, end) = self.mapped.as_ref()?;
        let at = usize::try_from(self.offset).ok()?;
        let len = usize::try_from(end.checked_sub(self.offset)?).ok()?.min(self.len);
        if len == 0 || !map.resident(at, len) {
            return None;
        }
        LENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(LentRead { map: Arc::clone(map), at, len, read: self.clone() })
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn prepared(file: &File, path: &std::path::Path, offset: u64, len: usize) -> PreparedRead {
        let size = file.metadata().unwrap().len();
        let map = Arc::new(FileMap::map(file, size as usize).unwrap());
        let end = (offset + len as u64).min(size);
        PreparedRead {
            file: Arc::new(File::open(path).unwrap()),
            offset,
            len,
            path: path.display().to_string(),
            in_memory: false,
            mapped: Some((map, end)),
        }
    }

    #[test]
    fn lent_bytes_are_the_file_and_a_truncation_falls_back_to_an_ordinary_read() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let data: Vec<u8> = (0..65536u32).map(|i| (i * 13 + i / 4096) as u8).collect();
        f.write_all(&data).unwrap();
        f.flush().unwrap();
        let r = prepared(f.as_file(), f.path(), 4096, 32768);
        let lent = r.lend().expect("written just now: in the page cache");
        assert_eq!(lent.len(), 32768);
        let mut seen = Vec::new();
        assert!(lent.with_bytes(&mut |b| seen.extend_from_slice(b)));
        assert_eq!(seen, data[4096..36864]);
        // A READ past the end is cut to the end of file.
        let tail = prepared(f.as_file(), f.path(), 61440, 32768).lend().unwrap();
        assert_eq!(tail.len(), 4096);

        f.as_file().set_len(8192).unwrap();
        let mut sum = 0u64;
        assert!(
            !lent.with_bytes(&mut |b| sum = b.iter().map(|&x| x as u64).sum()),
            "the pages past the new end are gone"
        );
        let mut out = vec![0u8; 32768];
        assert_eq!(lent.read_into(&mut out).unwrap(), 4096, "what is left of the range");
        assert_eq!(out[..4096], data[4096..8192]);
    }
}
