//! Per-reactor counters, SPDK-style: written by the reactor alone with plain relaxed stores (no
//! locked instructions on the request path), read by anyone as a [`ReactorStats`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of one reactor's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReactorStats {
    pub reactor: usize,
    /// The core the reactor is pinned to, when pinning was asked for and succeeded.
    pub core: Option<usize>,
    /// Calls to epoll (zero-timeout ones included).
    pub polls: u64,
    /// Messages handed to handlers.
    pub messages: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Connections the reactor owns now (including ones handed to it and not yet adopted).
    pub connections: u64,
    /// Connections it has owned since start.
    pub connections_total: u64,
    /// File data moved by RDMA WRITE (into peers' buffers) and RDMA READ (from them).
    pub rdma_write_bytes: u64,
    pub rdma_read_bytes: u64,
    /// Work requests that completed with a remote access error: an RDMA READ or WRITE through a
    /// token the peer had not granted (or had already revoked), or past its window.
    pub rdma_access_errors: u64,
    /// Nanoseconds spent handling what a poll returned (the rest of the time it polled or slept):
    /// the reactor's load, as a rate.
    pub busy_ns: u64,
    /// Times a connection was stopped because the memory budget was used up.
    pub starved: u64,
    /// Connections closed for holding memory of a used-up budget without progress.
    pub stalled_closed: u64,
}

/// Cache-line aligned so two reactors' counters never share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct ReactorCounters {
    pub(crate) polls: AtomicU64,
    pub(crate) messages: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) connections_total: AtomicU64,
    pub(crate) rdma_write_bytes: AtomicU64,
    pub(crate) rdma_read_bytes: AtomicU64,
    pub(crate) rdma_access_errors: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    pub(crate) starved: AtomicU64,
    pub(crate) stalled_closed: AtomicU64,
    /// Incremented by whoever hands a connection over, decremented by the reactor on close; the
    /// acceptor balances on it.
    pub(crate) connections: AtomicU64,
    /// `core + 1`, 0 for not pinned.
    pub(crate) core: AtomicU64,
}

/// Adds to a counter that only the owning reactor writes.
#[inline]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

impl ReactorCounters {
    pub(crate) fn snapshot(&self, reactor: usize) -> ReactorStats {
        ReactorStats {
            reactor,
            core: self.core.load(Relaxed).checked_sub(1).map(|c| c as usize),
            polls: self.polls.load(Relaxed),
            messages: self.messages.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            connections: self.connections.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            rdma_write_bytes: self.rdma_write_bytes.load(Relaxed),
            rdma_read_bytes: self.rdma_read_bytes.load(Relaxed),
            rdma_access_errors: self.rdma_access_errors.load(Relaxed),
            busy_ns: self.busy_ns.load(Relaxed),
            starved: self.starved.load(Relaxed),
            stalled_closed: self.stalled_closed.load(Relaxed),
        }
    }
}

/// Reads every reactor's counters from any thread, for as long as it is kept (the counters outlive
/// the engine); cheap to clone.
#[derive(Debug, Clone)]
pub struct StatsReader {
    pub(crate) counters: Vec<std::sync::Arc<ReactorCounters>>,
}

impl StatsReader {
    /// One snapshot per reactor.
    pub fn snapshot(&self) -> Vec<ReactorStats> {
        self.counters.iter().enumerate().map(|(i, c)| c.snapshot(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reflects_counters() {
        let c = ReactorCounters::default();
        bump(&c.messages, 3);
        bump(&c.bytes_in, 10);
        c.core.store(2, Relaxed);
        let s = c.snapshot(4);
        assert_eq!((s.reactor, s.core, s.messages, s.bytes_in, s.polls), (4, Some(1), 3, 10, 0));
        assert_eq!(ReactorCounters::default().snapshot(0).core, None);
    }
}
