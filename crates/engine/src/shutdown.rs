//! Asking the engine to stop, from any thread (a signal-handling thread, a test, an admin command).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mio::Waker;

#[derive(Debug)]
struct State {
    requested: AtomicBool,
    /// Every reactor's and the acceptor's waker, so blocked polls notice at once.
    wakers: Vec<Arc<Waker>>,
}

/// A cloneable handle that can request shutdown from any thread; [`crate::Engine::join`] then returns
/// once the engine has drained and stopped.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<State>);

impl ShutdownHandle {
    pub(crate) fn new(wakers: Vec<Arc<Waker>>) -> ShutdownHandle {
        ShutdownHandle(Arc::new(State { requested: AtomicBool::new(false), wakers }))
    }

    /// Stop accepting, drain and close every connection. Idempotent; returns at once.
    pub fn shutdown(&self) {
        if !self.0.requested.swap(true, Ordering::AcqRel) {
            for w in &self.0.wakers {
                if let Err(e) = w.wake() {
                    tracing::warn!(error = %e, "could not wake a reactor for shutdown");
                }
            }
        }
    }

    pub fn is_requested(&self) -> bool {
        self.0.requested.load(Ordering::Acquire)
    }
}
