//! A loopback domain's wake-up descriptor: a socket pair whose read end a reactor watches, written
//! once per batch of happenings (a completion, a connection event) until the domain takes them.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub(crate) struct Notifier {
    rx: UnixStream,
    tx: UnixStream,
    /// A byte is (or is about to be) in the socket: further signals write nothing.
    raised: AtomicBool,
}

impl Notifier {
    pub fn new() -> std::io::Result<Notifier> {
        let (rx, tx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        Ok(Notifier { rx, tx, raised: AtomicBool::new(false) })
    }

    pub fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// Something happened: make the descriptor readable (once until the next `clear`).
    pub fn signal(&self) {
        if !self.raised.swap(true, Ordering::AcqRel) {
            // A full socket buffer already means "readable": nothing is lost by a failed write.
            let _ = (&self.tx).write(&[1]);
        }
    }

    /// Quiets the descriptor. The caller looks at its completions and events afterwards. The bytes
    /// go first and the flag after: a signal between the two writes nothing, but what it announced
    /// is there when the caller looks, and every signal after the flag is lowered writes a byte.
    /// (The other order can swallow a byte whose signal left the flag raised: every later signal
    /// would then write nothing, and a reactor asleep on the descriptor would never wake.)
    pub fn clear(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.rx).read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        self.raised.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::BorrowedFd;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn readable(fd: RawFd, timeout: Duration) -> bool {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        // SAFETY: the notifier owning `fd` outlives the call (the test holds an Arc to it).
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let mut p = [PollFd::new(&fd, PollFlags::IN)];
        let ts = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos() as i64 };
        poll(&mut p, Some(&ts)).unwrap() > 0
    }

    /// A sleeper that clears and looks, racing a thread that signals, never misses a signal: with
    /// the flag lowered before the drain, a byte could be swallowed with the flag left raised, and
    /// the sleeper would wait out its timeout with work announced.
    #[test]
    fn no_signal_is_lost_to_a_racing_clear() {
        let n = Arc::new(Notifier::new().unwrap());
        let announced = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(AtomicU64::new(0));
        const ROUNDS: u64 = 100_000;
        let (n2, a2, s2) = (n.clone(), announced.clone(), seen.clone());
        let signaller = std::thread::spawn(move || {
            for i in 1..=ROUNDS {
                a2.store(i, Ordering::SeqCst);
                n2.signal();
                // Sometimes signal again before the sleeper caught up, as completions do.
                if i % 3 == 0 {
                    n2.signal();
                }
                let t = Instant::now();
                while s2.load(Ordering::SeqCst) < i {
                    assert!(t.elapsed() < Duration::from_secs(10), "the sleeper is stuck at {i}");
                    std::thread::yield_now();
                }
            }
        });
        let mut last = 0;
        while last < ROUNDS {
            if !readable(n.fd(), Duration::from_secs(2)) {
                let a = announced.load(Ordering::SeqCst);
                assert_eq!(a, last, "round {a} was announced but the descriptor stayed quiet");
                continue;
            }
            n.clear();
            last = announced.load(Ordering::SeqCst);
            seen.store(last, Ordering::SeqCst);
        }
        signaller.join().unwrap();
    }
}
