//! The simulated clock: time moves only when a test (or the [`crate::Pair`]) advances it.
//!
//! Protocol code takes time as an argument ([`std::time::Instant`] for `smbdirect`, a FILETIME for
//! `smb-session` and `smb-auth`), so a test can decide when timers fire. `Instant` has no public
//! constructor: the clock reads the wall clock once, as an anchor, and never again; only the time
//! elapsed since the anchor, which the test sets, means anything.

use std::time::{Duration, Instant};

/// The FILETIME at the clock's start: 2022-06-18 (within what NTLM and SMB expect of a clock).
pub const EPOCH_FILETIME: u64 = 133_000_000_000_000_000;

/// Simulated time: an anchor and the time the test let pass since.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor: Instant,
    elapsed: Duration,
}

impl Clock {
    pub fn new() -> Clock {
        Clock { anchor: Instant::now(), elapsed: Duration::ZERO }
    }

    /// Now, as the `smbdirect` state machines take it.
    pub fn instant(&self) -> Instant {
        self.anchor + self.elapsed
    }

    /// Now, as a FILETIME (100 ns units since 1601), as the session and NTLM take it.
    pub fn filetime(&self) -> u64 {
        EPOCH_FILETIME + (self.elapsed.as_nanos() / 100) as u64
    }

    /// Time let pass since the start.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    pub fn advance(&mut self, by: Duration) {
        self.elapsed += by;
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
