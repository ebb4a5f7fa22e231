//! How long an adaptive reactor keeps polling after its last activity before it blocks in epoll.
//!
//! Spinning pays when the next event comes within the window (the reactor skips a sleep and a
//! wake-up) and wastes the whole window when it does not. So the window tunes itself between zero
//! and the configured maximum: it doubles when a spin catches an event, halves when one runs out,
//! and when the reactor had to block, a wake-up that came sooner than the maximum window widens it
//! again (spinning would have caught that one). A stream of back-to-back messages keeps the full
//! window; a request/response peer that thinks between requests (measured: `smbclient get` leaves
//! the server idle for longer than 50 us between READs) soon gets none, and the server's CPU per
//! GiB drops to what interrupt mode costs.

use std::time::Duration;

/// Windows shorter than this are not worth a poll; they become zero.
const MIN_WINDOW: Duration = Duration::from_micros(1);

#[derive(Debug, Clone, Copy)]
pub(crate) struct SpinWindow {
    max: Duration,
    now: Duration,
}

impl SpinWindow {
    pub(crate) fn new(max: Duration) -> SpinWindow {
        SpinWindow { max, now: max }
    }

    /// Keep polling, `idle` after the last activity?
    pub(crate) fn spinning(&self, idle: Duration) -> bool {
        idle < self.now
    }

    /// A poll while spinning found work.
    pub(crate) fn caught(&mut self) {
        self.now = (self.now * 2).max(MIN_WINDOW).min(self.max);
    }

    /// The window ran out with nothing.
    pub(crate) fn missed(&mut self) {
        self.now /= 2;
        if self.now < MIN_WINDOW {
            self.now = Duration::ZERO;
        }
    }

    /// The reactor blocked and work came `gap` later.
    pub(crate) fn woke_after(&mut self, gap: Duration) {
        if gap < self.max {
            self.now = self.now.max(gap * 2).max(MIN_WINDOW).min(self.max);
        }
    }

    #[cfg(test)]
    pub(crate) fn window(&self) -> Duration {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_micros(50);

    #[test]
    fn misses_close_the_window_and_catches_keep_it_open() {
        let mut w = SpinWindow::new(MAX);
        assert!(w.spinning(Duration::from_micros(49)) && !w.spinning(MAX));
        for _ in 0..10 {
            w.missed();
        }
        assert_eq!(w.window(), Duration::ZERO);
        assert!(!w.spinning(Duration::ZERO), "a closed window does not spin at all");
        // Long sleeps (a peer that thinks between requests) leave it closed.
        w.woke_after(Duration::from_micros(400));
        assert_eq!(w.window(), Duration::ZERO);
        // A quick wake-up says spinning would have paid: open again, no wider than the maximum.
        w.woke_after(Duration::from_micros(10));
        assert_eq!(w.window(), Duration::from_micros(20));
        w.woke_after(Duration::from_micros(45));
        assert_eq!(w.window(), MAX);
        // A stream of catches holds it at the maximum; one miss halves it, catches restore it.
        w.missed();
        assert_eq!(w.window(), MAX / 2);
        w.caught();
        w.caught();
        assert_eq!(w.window(), MAX);
    }

    #[test]
    fn a_zero_maximum_never_spins() {
        let mut w = SpinWindow::new(Duration::ZERO);
        w.caught();
        w.woke_after(Duration::ZERO);
        assert!(!w.spinning(Duration::ZERO));
    }
}
