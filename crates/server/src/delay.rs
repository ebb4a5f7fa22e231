//! Wake-ups at a time: a connection that must answer later (a throttled logon, see
//! [`crate::throttle`]) asks for a wake at its deadline and goes on; one thread per server sleeps
//! until the earliest deadline and wakes the connection through its engine handle. A reactor never
//! sleeps for it.

use engine::ConnectionHandle;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// Pending wakes at most; beyond, a wake is made at once (the connection then finds its deadline
/// not reached and asks again, later, when there is room). Bounded by connections in practice: a
/// connection has at most one pending deadline that matters.
const MAX_PENDING: usize = 65_536;

struct Pending {
    at: Instant,
    seq: u64,
    handle: ConnectionHandle,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    stop: bool,
    /// The heap's size at which the wakes of connections closed meanwhile are dropped (a closed
    /// connection's wake does nothing, but holds its place: an idle deadline is up to 15 minutes
    /// out, and a busy server closes thousands of connections in that time).
    sweep_at: usize,
}

/// The least `sweep_at`: below this many pending wakes no sweep is worth it.
const SWEEP_MIN: usize = 1024;

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

/// The server's timer thread; stops when the last `Delayer` clone is dropped.
#[derive(Clone)]
pub struct Delayer {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

/// Stops the thread when the last [`Delayer`] goes.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        self.0.cv.notify_all();
    }
}

impl Delayer {
    pub fn start() -> std::io::Result<Delayer> {
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        std::thread::Builder::new().name("smbdx-delay".into()).spawn(move || run(&s))?;
        Ok(Delayer { _owner: Arc::new(Owner(Arc::clone(&shared))), shared })
    }

    /// Wakes waiting to be made.
    pub fn pending(&self) -> usize {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).heap.len()
    }

    /// Wakes `handle`'s connection at `at` (or soon after).
    pub fn wake_at(&self, at: Instant, handle: ConnectionHandle) {
        let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.heap.len() >= st.sweep_at.max(SWEEP_MIN) {
            st.heap.retain(|Reverse(p)| !p.handle.is_closed());
            // Twice what is left: sweeps cost O(1) per wake asked for, amortised.
            st.sweep_at = st.heap.len() * 2;
        }
        if st.heap.len() >= MAX_PENDING {
            drop(st);
            let _ = handle.wake();
            return;
        }
        st.seq += 1;
        let seq = st.seq;
        st.heap.push(Reverse(Pending { at, seq, handle }));
        drop(st);
        self.shared.cv.notify_one();
    }
}

fn run(shared: &Shared) {
    let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if st.stop {
            return;
        }
        let now = Instant::now();
        match st.heap.peek().map(|Reverse(p)| p.at) {
            Some(at) if at <= now => {
                let Some(Reverse(p)) = st.heap.pop() else { continue };
                drop(st);
                // A connection that closed meanwhile just does not answer.
                let _ = p.handle.wake();
                st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            }
            Some(at) => {
                st = shared.cv.wait_timeout(st, at - now).unwrap_or_else(|p| p.into_inner()).0;
            }
            None => st = shared.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
        }
    }
}
