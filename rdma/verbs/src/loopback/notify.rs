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

    /// Quiets the descriptor. The caller looks at its completions and events afterwards, so a
    /// signal racing with this is either still readable or already looked at.
    pub fn clear(&self) {
        self.raised.store(false, Ordering::Release);
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.rx).read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}
