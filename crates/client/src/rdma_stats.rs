//! What a client's SMB Direct connection moved by RDMA, and how each window it granted ended:
//! invalidated by the server's response (SEND_WITH_INVALIDATE naming it, MS-SMBD 3.1.4.2) or revoked
//! by this side because the response did not. Counted on the reactor, read from any thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of [`crate::Client::rdma_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RdmaStats {
    /// READs whose data the server placed by RDMA WRITE into a window of ours.
    pub reads: u64,
    /// WRITEs whose payload the server pulled by RDMA READ from a window of ours.
    pub writes: u64,
    /// Bytes of those READs and WRITEs.
    pub bytes: u64,
    /// Windows the server's response invalidated (what RDMA_V1_INVALIDATE asks).
    pub invalidated_by_server: u64,
    /// Windows this side revoked after a response that did not invalidate them.
    pub revoked_locally: u64,
}

#[derive(Debug, Default)]
pub(crate) struct RdmaCounters {
    reads: AtomicU64,
    writes: AtomicU64,
    bytes: AtomicU64,
    invalidated_by_server: AtomicU64,
    revoked_locally: AtomicU64,
}

impl RdmaCounters {
    /// A READ or WRITE went out with a window of `len` bytes.
    pub(crate) fn sent(&self, read: bool, len: usize) {
        if read { &self.reads } else { &self.writes }.fetch_add(1, Relaxed);
        self.bytes.fetch_add(len as u64, Relaxed);
    }

    /// A response arrived for an RDMA I/O: whether it invalidated the window.
    pub(crate) fn answered(&self, invalidated: bool) {
        if invalidated { &self.invalidated_by_server } else { &self.revoked_locally }.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RdmaStats {
        RdmaStats {
            reads: self.reads.load(Relaxed),
            writes: self.writes.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            invalidated_by_server: self.invalidated_by_server.load(Relaxed),
            revoked_locally: self.revoked_locally.load(Relaxed),
        }
    }
}
