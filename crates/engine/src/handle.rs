//! Reaching a connection from outside its reactor: a [`ConnectionHandle`] lets an application thread
//! (a blocking client API, a benchmark) make the owning reactor call [`Connection::on_wake`], after
//! which the handler drains whatever the application queued for it (in its own bounded channel) into
//! its outbox. The reactor stays the only thread that touches the connection.
//!
//! Each reactor has one bounded queue of woken connections plus its mio waker. A wake sets the
//! connection's `pending` flag; only the wake that raises it enqueues, so repeated wakes coalesce and
//! a connection has at most a couple of entries queued. Should the queue still be full (many
//! connections woken while the reactor is busy), the waker raises the reactor's `overflow` flag and
//! the reactor scans its connections' flags instead: no wake is lost and nothing grows without bound.
//!
//! [`Connection::on_wake`]: crate::Connection::on_wake

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};
use mio::Waker;

use crate::error::EngineError;

/// `WakeState::token` before the reactor has adopted the connection.
pub(crate) const UNADOPTED: usize = usize::MAX;
/// `WakeState::token` once the connection is gone.
pub(crate) const CLOSED: usize = usize::MAX - 1;

/// Shared by a connection's handles and its reactor.
#[derive(Debug)]
pub(crate) struct WakeState {
    /// The connection's slab index in its reactor, or [`UNADOPTED`] / [`CLOSED`]. Written by the
    /// reactor only.
    pub(crate) token: AtomicUsize,
    /// A wake not yet delivered. Raised by handles, cleared by the reactor just before `on_wake`, so
    /// a wake that races with a running `on_wake` is delivered again.
    pub(crate) pending: AtomicBool,
}

impl WakeState {
    pub(crate) fn new() -> Arc<WakeState> {
        Arc::new(WakeState { token: AtomicUsize::new(UNADOPTED), pending: AtomicBool::new(false) })
    }

    /// The reactor is done with the connection.
    pub(crate) fn mark_closed(&self) {
        self.token.store(CLOSED, SeqCst);
    }
}

/// The way from any thread into one reactor's wake queue.
#[derive(Debug)]
pub(crate) struct WakeLink {
    pub(crate) queue: Sender<Arc<WakeState>>,
    /// The queue was full when a wake needed it: the reactor must scan its connections' flags.
    pub(crate) overflow: AtomicBool,
    pub(crate) waker: Arc<Waker>,
}

/// Entries in one reactor's wake queue, at most: half the connection limit, within bounds that keep
/// the preallocated queue small. The overflow scan visits every connection, but it only follows a
/// full queue, whose entries it pays for: at most two connections looked at per wake.
pub(crate) fn wake_queue_len(max_connections_per_reactor: usize) -> usize {
    (max_connections_per_reactor / 2).clamp(16, 8 * 1024)
}

/// A connection as seen from application threads: wake it, or ask whether it is gone. Cheap to clone;
/// `Send + Sync`. Returned by [`crate::Engine::connect`].
#[derive(Clone)]
pub struct ConnectionHandle {
    state: Arc<WakeState>,
    link: Arc<WakeLink>,
    reactor: usize,
}

impl ConnectionHandle {
    pub(crate) fn new(state: Arc<WakeState>, link: Arc<WakeLink>, reactor: usize) -> ConnectionHandle {
        ConnectionHandle { state, link, reactor }
    }

    /// Makes the owning reactor call [`crate::Connection::on_wake`] soon; returns at once, never
    /// blocks. Wakes coalesce: many wakes before the reactor gets to the connection make one call,
    /// and that call comes after every one of them (so what the caller queued before waking is seen).
    /// A wake before the reactor has adopted the connection is delivered right after `on_start`.
    ///
    /// Errors: [`EngineError::ConnectionClosed`] once the connection is gone (or its reactor has
    /// stopped); [`EngineError::Io`] if the reactor's eventfd could not be written.
    pub fn wake(&self) -> Result<(), EngineError> {
        if self.is_closed() {
            return Err(EngineError::ConnectionClosed { reactor: self.reactor });
        }
        if self.state.pending.swap(true, SeqCst) {
            // An earlier wake is queued and not yet delivered; its `on_wake` will follow this call.
            return Ok(());
        }
        // SeqCst with the reactor's "publish token, then clear pending" after on_start: either it
        // sees our flag, or we see its token.
        match self.state.token.load(SeqCst) {
            UNADOPTED => return Ok(()),
            CLOSED => return Err(EngineError::ConnectionClosed { reactor: self.reactor }),
            _ => {}
        }
        match self.link.queue.try_send(self.state.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.link.overflow.store(true, SeqCst),
            Err(TrySendError::Disconnected(_)) => {
                // The reactor thread has ended; no one will close the connection's state but us.
                self.state.mark_closed();
                return Err(EngineError::ConnectionClosed { reactor: self.reactor });
            }
        }
        self.link.waker.wake().map_err(|e| EngineError::io("wake reactor", None, e))
    }

    /// True once the reactor has closed the connection (peer closed, error, `Flow::Close`, shutdown).
    /// A handler that was never adopted (refused during shutdown) counts as closed too.
    pub fn is_closed(&self) -> bool {
        self.state.token.load(SeqCst) == CLOSED
    }

    /// The index of the reactor that owns the connection.
    pub fn reactor(&self) -> usize {
        self.reactor
    }
}

impl fmt::Debug for ConnectionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionHandle")
            .field("reactor", &self.reactor)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(
        queue_len: usize,
    ) -> (ConnectionHandle, crossbeam_channel::Receiver<Arc<WakeState>>, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), mio::Token(0)).unwrap());
        let (tx, rx) = crossbeam_channel::bounded(queue_len);
        let link = Arc::new(WakeLink { queue: tx, overflow: AtomicBool::new(false), waker });
        (ConnectionHandle::new(WakeState::new(), link, 3), rx, poll)
    }

    #[test]
    fn wakes_before_adoption_are_only_flagged_and_repeated_wakes_enqueue_once() {
        let (h, rx, _poll) = handle(4);
        h.wake().unwrap();
        assert!(rx.is_empty(), "nothing to queue before adoption");
        assert!(h.state.pending.load(SeqCst));
        // Adopted, and the reactor has taken the early wake.
        h.state.token.store(7, SeqCst);
        h.state.pending.store(false, SeqCst);
        for _ in 0..100 {
            h.wake().unwrap();
        }
        assert_eq!(rx.len(), 1);
        assert!(Arc::ptr_eq(&rx.try_recv().unwrap(), &h.state));
    }

    #[test]
    fn a_full_queue_raises_overflow_instead_of_losing_the_wake() {
        let (h, rx, _poll) = handle(1);
        let other = ConnectionHandle::new(WakeState::new(), h.link.clone(), 3);
        h.state.token.store(0, SeqCst);
        other.state.token.store(1, SeqCst);
        h.wake().unwrap();
        assert!(!h.link.overflow.load(SeqCst));
        other.wake().unwrap();
        assert!(h.link.overflow.load(SeqCst));
        assert!(other.state.pending.load(SeqCst));
        assert_eq!(rx.len(), 1);
    }

    #[test]
    fn closed_connections_and_stopped_reactors_refuse_wakes() {
        fn shareable<T: Clone + Send + Sync>() {}
        shareable::<ConnectionHandle>();
        let (h, rx, _poll) = handle(4);
        h.state.token.store(0, SeqCst);
        assert!(!h.is_closed());
        drop(rx);
        assert!(matches!(h.wake(), Err(EngineError::ConnectionClosed { reactor: 3 })));
        assert!(h.is_closed());
        let (h, _rx, _poll) = handle(4);
        h.state.mark_closed();
        assert!(h.clone().is_closed());
        assert!(matches!(h.wake(), Err(EngineError::ConnectionClosed { .. })));
        assert!(format!("{h:?}").contains("closed: true"));
    }
}
