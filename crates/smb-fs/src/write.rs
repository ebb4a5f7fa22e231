//! MS-SMB2 3.3.5.13 WRITE, cut where it may cross threads: [`crate::Opens::prepare_write`] checks the
//! request against the open on the thread that owns the open table, and the [`PreparedWrite`] it
//! returns moves the data to the file from wherever the caller likes (a reactor's helper thread, so
//! the reactor goes on decrypting the next request while the device works).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::error::{FsError, Result};
use crate::opens::direct_aligned;

/// A checked WRITE of `len()` bytes at `offset()`, holding the file open for as long as it lives (the
/// open itself may be closed meanwhile: the data still lands in the file it was written to).
#[derive(Debug)]
pub struct PreparedWrite {
    pub(crate) file: Arc<File>,
    /// The O_DIRECT descriptor, when offset and length are block-aligned (see `opens::Direct`).
    pub(crate) direct: Option<Arc<File>>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
    /// Write-through: on stable storage before the write counts as done.
    pub(crate) sync: bool,
    pub(crate) path: String,
}

impl PreparedWrite {
    /// Whether the data can bypass the page cache (given a block-aligned buffer): the writes worth
    /// handing to another thread, because the caller would otherwise wait for the device.
    pub fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Writes `data` (exactly `len()` bytes) and returns once it is in the file, and on stable
    /// storage for a write-through. O_DIRECT when the buffer is aligned as well, else (or if the file
    /// system refuses) through the page cache.
    pub fn write(&self, data: &[u8]) -> Result<usize> {
        if data.len() != self.len {
            return Err(FsError::InvalidParameter {
                op: "WRITE",
                what: "data length differs from the checked one",
            });
        }
        if data.is_empty() {
            return Ok(0);
        }
        let direct = self
            .direct
            .as_ref()
            .filter(|_| direct_aligned(self.offset, data))
            .is_some_and(|f| f.write_all_at(data, self.offset).is_ok());
        if !direct {
            self.file.write_all_at(data, self.offset).map_err(|e| FsError::io("WRITE", &self.path, e))?;
        }
        if self.sync {
            self.file.sync_data().map_err(|e| FsError::io("WRITE (write-through)", &self.path, e))?;
        }
        Ok(data.len())
    }
}
