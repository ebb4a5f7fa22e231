//! # filemap: a file's page cache, mapped read-only, read under a truncation guard
//!
//! What it is for: sealing READ data straight from the page cache. An encrypted READ otherwise
//! copies the file into the response (pread) and then encrypts it where it lies: two passes over the
//! data. Encrypting from a mapping of the file into the response is one pass (issue 18; the figures
//! are in `bench/read_passes.sh`'s output).
//!
//! The danger of a mapping: if the file shrinks beneath it (another process truncates it), touching
//! a page past the new end raises SIGBUS, which would kill the server. [`FileMap::read_guarded`]
//! runs its reader with the range registered for the calling thread; the process-wide SIGBUS handler
//! this crate installs maps a zero page over a faulting page inside that range, notes the fault and
//! returns, so the reader finishes on zeros and the call reports [`Error::Truncated`]: the caller
//! discards what it made and reads the file the ordinary way. The map is then poisoned (it has zero
//! pages in it) and must be replaced. A SIGBUS anywhere else is not ours: the handler puts back the
//! previous disposition and returns, and the faulting instruction raises it again under that.
//!
//! What it must not do: write through a mapping, keep one across a truncation, or hand out bytes
//! outside [`FileMap::read_guarded`]. Contents can change while read (another writer): the reader
//! sees some mix of old and new bytes, as a pread racing the same write would.

// Every unsafe block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]

mod guard;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// Guarded reads that met a truncation, in this process.
static TRUNCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many guarded reads met a truncation (a SIGBUS turned into [`Error::Truncated`]) so far.
pub fn truncations_caught() -> u64 {
    TRUNCATIONS.load(Ordering::Relaxed)
}

/// Why a guarded read gave nothing usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The range is not inside the mapping.
    OutOfRange { offset: usize, len: usize, mapped: usize },
    /// A page of the range faulted (the file shrank beneath the mapping); the map is now poisoned.
    Truncated,
    /// The map was poisoned by an earlier truncation.
    Poisoned,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::OutOfRange { offset, len, mapped } => {
                write!(f, "{len} bytes at {offset} are outside the {mapped} mapped")
            }
            Error::Truncated => f.write_str("the file shrank beneath the mapping"),
            Error::Poisoned => f.write_str("the mapping was poisoned by a truncation"),
        }
    }
}

impl std::error::Error for Error {}

/// The first `len` bytes of a file, mapped shared and read-only.
#[derive(Debug)]
pub struct FileMap {
    ptr: *const u8,
    len: usize,
    poisoned: AtomicBool,
}

// SAFETY: the mapping is read-only memory owned by this value until it is dropped; reading it from
// several threads at once is what a shared read-only mapping allows (the guard is per thread).
unsafe impl Send for FileMap {}
// SAFETY: as for Send: no method writes through the mapping, and `poisoned` is atomic.
unsafe impl Sync for FileMap {}

impl FileMap {
    /// Maps the first `len` bytes of `file` (which must be open for reading). `len` may exceed the
    /// file's size: the pages past its end fault, and a guarded read reports them as a truncation.
    pub fn map(file: &File, len: usize) -> std::io::Result<FileMap> {
        if len == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "an empty mapping"));
        }
        guard::install();
        // SAFETY: a fresh mapping at an address the kernel chooses, of a descriptor we borrow for the
        // call; nothing aliases it until this function returns it.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0)
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(FileMap { ptr: p as *const u8, len, poisoned: AtomicBool::new(false) })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Whether every page of `len` bytes at `offset` is in the page cache now (`mincore`), so that a
    /// read of them will not wait for a device. False for a range outside the mapping.
    pub fn resident(&self, offset: usize, len: usize) -> bool {
        if len == 0 || offset.checked_add(len).is_none_or(|end| end > self.len) {
            return false;
        }
        let page = guard::page_size();
        let first = offset / page * page;
        let pages = (offset + len - first).div_ceil(page);
        let mut vec = vec![0u8; pages];
        // SAFETY: `first` is page-aligned and [first, first + pages * page) lies within the mapping
        // (rounded up to its last page, which the mapping covers); `vec` has one byte per page.
        let r = unsafe {
            libc::mincore(self.ptr.add(first) as *mut libc::c_void, offset + len - first, vec.as_mut_ptr())
        };
        r == 0 && vec.iter().all(|v| v & 1 == 1)
    }

    /// Runs `f` over `len` bytes at `offset` with the truncation guard armed for this thread.
    /// `Err(Truncated)`: a page faulted, `f` ran over zeros there, and whatever it made must be
    /// thrown away.
    pub fn read_guarded<R>(&self, offset: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> Result<R, Error> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(Error::OutOfRange { offset, len, mapped: self.len });
        }
        if self.is_poisoned() {
            return Err(Error::Poisoned);
        }
        // SAFETY: the range was checked to lie inside the mapping, which lives as long as `self`. The
        // bytes may change while read (a shared mapping of a file another writer may change): `f`
        // only reads them, and sees some mix of old and new bytes, as a racing pread would. A page
        // that vanishes (truncation) is replaced by a zero page by the guard before the read resumes.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr.add(offset), len) };
        let (r, faulted) = guard::run(bytes.as_ptr() as usize, len, || f(bytes));
        if faulted {
            TRUNCATIONS.fetch_add(1, Ordering::Relaxed);
            self.poisoned.store(true, Ordering::Release);
            return Err(Error::Truncated);
        }
        Ok(r)
    }
}

impl Drop for FileMap {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, of `len` bytes, unmapped once; no slice of it outlives
        // `read_guarded`, which borrows `self`.
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        f.flush().unwrap();
        (f, data)
    }

    #[test]
    fn reads_what_the_file_holds_and_refuses_ranges_outside() {
        let (f, data) = file_of(3 * 4096 + 100);
        let m = FileMap::map(f.as_file(), data.len()).unwrap();
        assert!(m.resident(0, data.len()));
        let got = m.read_guarded(5000, 7000, |b| b.to_vec()).unwrap();
        assert_eq!(got, data[5000..12000]);
        assert!(matches!(m.read_guarded(data.len() - 1, 2, |_| ()), Err(Error::OutOfRange { .. })));
        assert!(!m.resident(data.len(), 1));
    }

    #[test]
    fn a_truncation_beneath_the_map_is_an_error_not_a_crash() {
        let (f, data) = file_of(8 * 4096);
        let m = FileMap::map(f.as_file(), data.len()).unwrap();
        assert!(m.read_guarded(0, data.len(), |b| b == &data[..]).unwrap());
        f.as_file().set_len(2 * 4096).unwrap();
        // The first two pages are still there; the rest fault and are reported.
        assert!(m.read_guarded(0, 2 * 4096, |b| b == &data[..2 * 4096]).unwrap());
        let r = m.read_guarded(0, data.len(), |b| b.iter().map(|&x| x as u64).sum::<u64>());
        assert_eq!(r, Err(Error::Truncated));
        assert!(m.is_poisoned());
        assert_eq!(m.read_guarded(0, 10, |_| ()), Err(Error::Poisoned));
        // The process goes on, and other threads' guards are their own.
        let (g, gdata) = file_of(4096);
        let other = FileMap::map(g.as_file(), 4096).unwrap();
        let ok = std::thread::spawn(move || other.read_guarded(0, 4096, |b| b == &gdata[..]).unwrap());
        assert!(ok.join().unwrap());
    }

    #[test]
    fn a_map_longer_than_the_file_reports_the_missing_pages() {
        let (f, data) = file_of(4096);
        let m = FileMap::map(f.as_file(), 4 * 4096).unwrap();
        assert!(!m.resident(0, 4 * 4096), "pages past the end are not in the page cache");
        assert_eq!(m.read_guarded(4096, 4096, |b| b[0]), Err(Error::Truncated));
        let _ = data;
    }
}
