//! A connection's output queue: framed messages waiting for the socket to take them.
//!
//! One contiguous buffer with a write cursor, so a handler can build a response in place
//! ([`Outbox::reserve`]) and the reactor writes it with one `write` per readiness. The reactor bounds
//! it indirectly: it stops delivering messages (and reading) while the outbox holds more than
//! `EngineConfig::max_outbox_bytes`.

use std::io::{self, Write};

use smb_wire::framing::{frame_prefix, FRAME_PREFIX_LEN, MAX_FRAME_LEN};

use crate::error::EngineError;

/// Below this much written data the cursor is left alone rather than moving the tail forward.
const COMPACT_MIN: usize = 64 * 1024;

/// Per-connection output queue of Direct TCP framed messages.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Framed messages; `buf[head..]` is not yet written to the socket.
    buf: Vec<u8>,
    head: usize,
    /// The first misuse by the handler (a message too large to frame); the reactor closes the
    /// connection when it sees it.
    error: Option<EngineError>,
    /// Where an oversized [`Outbox::reserve`] writes, so that the call can still return a slice.
    scratch: Vec<u8>,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Appends one message, adding the 4-byte Direct TCP prefix. A message longer than 2^24 - 1
    /// bytes cannot be framed: it is dropped and the connection will be closed.
    pub fn push(&mut self, msg: &[u8]) {
        match frame_prefix(msg.len()) {
            Ok(prefix) => {
                self.buf.extend_from_slice(&prefix);
                self.buf.extend_from_slice(msg);
            }
            Err(_) => self.fail(msg.len()),
        }
    }

    /// Appends one message given in pieces (e.g. a transform header and the sealed PDU behind it),
    /// copying each piece once, with no zero-fill first.
    pub fn push_parts(&mut self, parts: &[&[u8]]) {
        let len = parts.iter().map(|p| p.len()).sum();
        match frame_prefix(len) {
            Ok(prefix) => {
                self.buf.extend_from_slice(&prefix);
                parts.iter().for_each(|p| self.buf.extend_from_slice(p));
            }
            Err(_) => self.fail(len),
        }
    }

    /// Zero-copy: reserve a message of `len` bytes (prefix written for you), fill it in place. The
    /// slice starts zeroed. An unframeable `len` behaves as in [`Outbox::push`].
    pub fn reserve(&mut self, len: usize) -> &mut [u8] {
        let Ok(prefix) = frame_prefix(len) else {
            self.fail(len);
            self.scratch.clear();
            self.scratch.resize(len, 0);
            return &mut self.scratch;
        };
        let at = self.buf.len();
        self.buf.resize(at + FRAME_PREFIX_LEN + len, 0);
        self.buf[at..at + FRAME_PREFIX_LEN].copy_from_slice(&prefix);
        &mut self.buf[at + FRAME_PREFIX_LEN..]
    }

    /// Bytes waiting for the socket, prefixes included.
    pub fn queued_bytes(&self) -> usize {
        self.buf.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.queued_bytes() == 0
    }

    /// The queued messages without their prefixes, oldest first; for testing handlers without a
    /// socket. A message already partly written to the socket is not listed.
    pub fn messages(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest = &self.buf[self.head..];
        std::iter::from_fn(move || {
            let (prefix, tail) = rest.split_first_chunk::<FRAME_PREFIX_LEN>()?;
            let len = usize::from(prefix[1]) << 16 | usize::from(prefix[2]) << 8 | usize::from(prefix[3]);
            let (msg, next) = tail.split_at_checked(len)?;
            rest = next;
            Some(msg)
        })
    }

    /// Forgets everything queued (and any recorded misuse).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
        self.error = None;
    }

    /// The handler's misuse, if any, taken once.
    pub(crate) fn take_error(&mut self) -> Option<EngineError> {
        self.error.take()
    }

    fn fail(&mut self, len: usize) {
        debug_assert!(len > MAX_FRAME_LEN);
        self.error.get_or_insert(EngineError::OutgoingTooLarge { len });
    }

    /// Writes queued bytes until the writer would block or the queue is empty; returns how many
    /// bytes were written. `WouldBlock` is not an error here: it just ends the burst.
    pub(crate) fn write_to(&mut self, w: &mut impl Write) -> io::Result<usize> {
        let mut written = 0;
        while self.head < self.buf.len() {
            match w.write(&self.buf[self.head..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.head += n;
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= COMPACT_MIN && self.head * 2 >= self.buf.len() {
            // A peer that keeps the queue non-empty would otherwise make the buffer grow forever.
            self.buf.drain(..self.head);
            self.head = 0;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_parts_frames_the_joined_message() {
        let mut o = Outbox::new();
        o.push_parts(&[b"ab", b"", b"cde"]);
        assert_eq!(o.messages().collect::<Vec<_>>(), vec![&b"abcde"[..]]);
        assert_eq!(o.queued_bytes(), 4 + 5);
    }

    /// Accepts at most `room` bytes per write call, then blocks once.
    struct Trickle {
        got: Vec<u8>,
        room: usize,
        block_next: bool,
    }

    impl Write for Trickle {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if std::mem::take(&mut self.block_next) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.block_next = true;
            let n = b.len().min(self.room);
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn push_and_reserve_frame_messages() {
        let mut o = Outbox::new();
        o.push(b"abc");
        o.reserve(2).copy_from_slice(b"xy");
        o.push(b"");
        assert_eq!(o.queued_bytes(), 4 + 3 + 4 + 2 + 4);
        assert_eq!(o.messages().collect::<Vec<_>>(), [&b"abc"[..], b"xy", b""]);
        let mut w = Trickle { got: vec![], room: usize::MAX, block_next: false };
        assert_eq!(o.write_to(&mut w).unwrap(), 17);
        assert_eq!(w.got, b"\0\0\0\x03abc\0\0\0\x02xy\0\0\0\0");
        assert!(o.is_empty());
        assert!(o.take_error().is_none());
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut o = Outbox::new();
        let big = vec![7u8; 3 * COMPACT_MIN];
        o.push(&big);
        let mut w = Trickle { got: vec![], room: 2 * COMPACT_MIN, block_next: false };
        assert_eq!(o.write_to(&mut w).unwrap(), 2 * COMPACT_MIN);
        // More than half was written: the rest moved to the front.
        assert_eq!(o.head, 0);
        assert_eq!(o.queued_bytes(), big.len() + 4 - 2 * COMPACT_MIN);
        o.push(b"z");
        w.room = usize::MAX;
        o.write_to(&mut w).unwrap();
        let mut want = vec![0, 3, 0, 0];
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\0\0\0\x01z");
        assert_eq!(w.got, want);
        assert!(o.is_empty());
    }

    #[test]
    fn unframeable_messages_are_dropped_and_reported() {
        let mut o = Outbox::new();
        o.push(b"ok");
        let len = MAX_FRAME_LEN + 1;
        assert_eq!(o.reserve(len).len(), len);
        assert_eq!(o.messages().count(), 1);
        assert!(matches!(o.take_error(), Some(EngineError::OutgoingTooLarge { len: l }) if l == len));
        assert!(o.take_error().is_none());
    }

    #[test]
    fn write_errors_surface() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut o = Outbox::new();
        o.push(b"x");
        assert_eq!(o.write_to(&mut Broken).unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(o.queued_bytes(), 5);
    }
}
