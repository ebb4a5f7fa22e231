//! A connection's output queue: framed messages waiting for the socket to take them.
//!
//! Small messages go into one contiguous buffer with a write cursor, so a handler can build a
//! response in place ([`Outbox::reserve`]). Large ones (a sealed READ response of megabytes) are
//! handed over as owned buffers ([`Outbox::push_owned`]) and written from where they lie with
//! `writev`, between the contiguous bytes queued before and after them; once written they come back
//! through [`Outbox::reclaim`] for reuse. The reactor bounds the whole indirectly: it stops delivering
//! messages (and reading) while the outbox holds more than `EngineConfig::max_outbox_bytes`, owned
//! buffers included.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::ops::Range;

use smb_wire::framing::{frame_prefix, FRAME_PREFIX_LEN, MAX_FRAME_LEN};
use smb_wire::smbd::BufferDescriptorV1;

use crate::error::EngineError;

/// Below this much written data the cursor is left alone rather than moving the tail forward.
const COMPACT_MIN: usize = 64 * 1024;

/// Written owned buffers kept for [`Outbox::reclaim`]; more are freed.
const SPARE_OWNED: usize = 4;

/// Pieces handed to one `writev`: enough to cover a full outbox of large messages and the small ones
/// between them, well under any kernel's IOV_MAX.
const MAX_IOVECS: usize = 64;

/// A message body the outbox owns but did not copy; its frame prefix sits in the contiguous buffer
/// just before `at`.
#[derive(Debug)]
struct Owned {
    /// Position in the contiguous buffer after which this body goes out.
    at: usize,
    buf: Vec<u8>,
    /// What is still to be written of `buf`.
    rest: Range<usize>,
}

/// RDMA data movement queued in order with the messages (SMB Direct connections only).
#[derive(Debug)]
pub(crate) enum RdmaOp {
    /// RDMA WRITE `data[..len]` into the peer's buffers `descs` (an SMB2 READ's data); the next
    /// message (its response) is sent after it, so it is placed first.
    Write { data: iobuf::Lease, len: usize, descs: Vec<BufferDescriptorV1> },
    /// RDMA READ `len` bytes of the peer's buffers `descs` into `into` (an SMB2 WRITE's payload);
    /// the handler hears of it through `Connection::on_rdma_done` with `token`.
    Read { token: u64, into: iobuf::Lease, len: usize, descs: Vec<BufferDescriptorV1> },
    /// Invalidate this side's window `rkey` (LOCAL_INV), then give `lease` back through
    /// `Connection::on_rdma_done` with `token`.
    Revoke { token: u64, rkey: u32, lease: iobuf::Lease },
}

/// Per-connection output queue of messages. For TCP each is kept with its Direct TCP prefix, so
/// the queue goes to the socket as it lies; an SMB Direct channel reads the same length prefixes to
/// take messages one by one and fragments them itself.
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
    /// Owned message bodies in queue order (by `at`, then by insertion).
    owned: VecDeque<Owned>,
    /// Unwritten bytes of `owned`.
    owned_bytes: usize,
    /// Owned buffers already written, for [`Outbox::reclaim`].
    spare: Vec<Vec<u8>>,
    /// RDMA operations, each before the message that starts at its position in `buf`.
    rdma: VecDeque<(usize, RdmaOp)>,
    /// Messages to send with SEND_WITH_INVALIDATE of a peer's token: (message start in `buf`, token).
    invalidate: VecDeque<(usize, u32)>,
    /// The registered memory of an SMB Direct connection's reactor (`None` over TCP).
    pool: Option<iobuf::Pool>,
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

    /// Appends one message, `buf[range]`, without copying it: the outbox keeps `buf` until the socket
    /// has taken the message, then offers it back through [`Outbox::reclaim`]. Only the 4-byte prefix
    /// is copied. An unframeable length behaves as in [`Outbox::push`]; a range outside `buf` is
    /// reported the same way (a handler bug, the connection is closed).
    pub fn push_owned(&mut self, buf: Vec<u8>, range: Range<usize>) {
        let len = range.len();
        if range.end > buf.len() || range.start > range.end {
            let (start, end, buf_len) = (range.start, range.end, buf.len());
            self.error.get_or_insert(EngineError::OwnedRangeOutside { start, end, buf_len });
            return;
        }
        match frame_prefix(len) {
            Ok(prefix) => {
                self.buf.extend_from_slice(&prefix);
                self.owned_bytes += len;
                self.owned.push_back(Owned { at: self.buf.len(), buf, rest: range });
            }
            Err(_) => self.fail(len),
        }
    }

    /// Like [`Outbox::push_parts`], sent with SEND_WITH_INVALIDATE of the peer's `token` (an SMB2
    /// response to a request with Channel RDMA_V1_INVALIDATE, MS-SMB2 3.3.5.12/3.3.5.13). SMB Direct
    /// only: over TCP the connection is closed.
    pub fn push_parts_invalidating(&mut self, parts: &[&[u8]], token: u32) {
        self.invalidate.push_back((self.buf.len(), token));
        self.push_parts(parts);
    }

    /// Registered memory of `len` bytes (page-aligned) for an RDMA transfer, from the reactor's
    /// pool: `None` over TCP, or when the pool has none free now.
    pub fn lease(&mut self, len: usize) -> Option<iobuf::Lease> {
        self.pool.as_ref()?.take(len).ok()
    }

    /// Whether this connection moves data by RDMA (SMB Direct).
    pub fn has_rdma(&self) -> bool {
        self.pool.is_some()
    }

    /// RDMA-writes `data[..len]` into the peer's buffers `descs` before the next message queued
    /// (MS-SMBD 3.1.4.5). SMB Direct only; `descs` were validated by the caller.
    pub fn rdma_write(&mut self, data: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        self.rdma.push_back((self.buf.len(), RdmaOp::Write { data, len, descs: descs.to_vec() }));
    }

    /// RDMA-reads `len` bytes of the peer's buffers `descs` into `into` (MS-SMBD 3.1.4.6); the
    /// handler gets `into` back through `Connection::on_rdma_done(token, ..)`. SMB Direct only.
    pub fn rdma_read(&mut self, token: u64, into: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        self.rdma.push_back((self.buf.len(), RdmaOp::Read { token, into, len, descs: descs.to_vec() }));
    }

    /// Revokes a window this side granted over `lease` (a local invalidate of `rkey`, for a response
    /// that did not invalidate it), then hands `lease` back through `Connection::on_rdma_done` with
    /// `token`: only then may the buffer be reused. SMB Direct only.
    pub fn rdma_revoke(&mut self, token: u64, rkey: u32, lease: iobuf::Lease) {
        self.rdma.push_back((self.buf.len(), RdmaOp::Revoke { token, rkey, lease }));
    }

    pub(crate) fn set_pool(&mut self, pool: iobuf::Pool) {
        self.pool = Some(pool);
    }

    /// Whether RDMA work was queued (an error on a TCP connection).
    pub(crate) fn has_rdma_work(&self) -> bool {
        !self.rdma.is_empty() || !self.invalidate.is_empty()
    }

    /// The RDMA operation due before the front message (or at the end), if any.
    pub(crate) fn take_rdma_front(&mut self) -> Option<RdmaOp> {
        match self.rdma.front() {
            Some((at, _)) if *at <= self.head => self.rdma.pop_front().map(|(_, op)| op),
            _ => None,
        }
    }

    /// The token the front message must invalidate at the peer, if any.
    pub(crate) fn front_invalidate(&self) -> Option<u32> {
        match self.invalidate.front() {
            Some((at, token)) if *at == self.head => Some(*token),
            _ => None,
        }
    }

    /// A buffer given to [`Outbox::push_owned`] that the socket has taken, for the handler to reuse
    /// (its contents are the old message's). At most a few are kept.
    pub fn reclaim(&mut self) -> Option<Vec<u8>> {
        self.spare.pop()
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

    /// Bytes waiting for the socket, prefixes and owned buffers included.
    pub fn queued_bytes(&self) -> usize {
        self.buf.len() - self.head + self.owned_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.queued_bytes() == 0
    }

    /// The queued messages without their prefixes, oldest first; for testing handlers without a
    /// socket. Call it before anything was written to the socket.
    pub fn messages(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut pos = self.head;
        let mut owned = self.owned.iter().peekable();
        std::iter::from_fn(move || {
            let prefix = self.buf.get(pos..)?.first_chunk::<FRAME_PREFIX_LEN>()?;
            let len = usize::from(prefix[1]) << 16 | usize::from(prefix[2]) << 8 | usize::from(prefix[3]);
            pos += FRAME_PREFIX_LEN;
            if let Some(o) = owned.next_if(|o| o.at == pos) {
                return Some(&o.buf[o.rest.clone()]);
            }
            let msg = self.buf.get(pos..pos + len)?;
            pos += len;
            Some(msg)
        })
    }

    /// Forgets everything queued (and any recorded misuse).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
        self.error = None;
        self.rdma.clear();
        self.invalidate.clear();
        while let Some(o) = self.owned.pop_front() {
            self.keep_spare(o.buf);
        }
        self.owned_bytes = 0;
    }

    fn keep_spare(&mut self, buf: Vec<u8>) {
        if self.spare.len() < SPARE_OWNED {
            self.spare.push(buf);
        }
    }

    /// The handler's misuse, if any, taken once.
    pub(crate) fn take_error(&mut self) -> Option<EngineError> {
        self.error.take()
    }

    fn fail(&mut self, len: usize) {
        debug_assert!(len > MAX_FRAME_LEN);
        self.error.get_or_insert(EngineError::OutgoingTooLarge { len });
    }

    /// The oldest queued message, whole, for a transport that sends message by message (SMB Direct
    /// fragments it); `None` when empty. Not for use once [`Outbox::write_to`] has written part of
    /// it (a channel uses one way or the other).
    pub(crate) fn front(&self) -> Option<&[u8]> {
        let prefix = self.buf.get(self.head..)?.first_chunk::<FRAME_PREFIX_LEN>()?;
        let len = usize::from(prefix[1]) << 16 | usize::from(prefix[2]) << 8 | usize::from(prefix[3]);
        let at = self.head + FRAME_PREFIX_LEN;
        match self.owned.front() {
            Some(o) if o.at == at => Some(&o.buf[o.rest.clone()]),
            _ => self.buf.get(at..at + len),
        }
    }

    /// Drops the oldest queued message (after [`Outbox::front`] was sent); an owned buffer becomes
    /// a spare for [`Outbox::reclaim`].
    pub(crate) fn pop_front(&mut self) {
        let Some(len) = self.front().map(<[u8]>::len) else { return };
        if self.front_invalidate().is_some() {
            self.invalidate.pop_front();
        }
        self.advance(FRAME_PREFIX_LEN + len);
        if self.is_empty() && self.rdma.is_empty() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= COMPACT_MIN && self.head * 2 >= self.buf.len() {
            self.compact();
        }
    }

    /// Moves the unwritten bytes to the front, and every position with them.
    fn compact(&mut self) {
        let h = self.head;
        self.buf.drain(..h);
        self.owned.iter_mut().for_each(|o| o.at -= h);
        self.rdma.iter_mut().for_each(|(at, _)| *at = at.saturating_sub(h));
        self.invalidate.iter_mut().for_each(|(at, _)| *at = at.saturating_sub(h));
        self.head = 0;
    }

    /// Writes queued bytes until the writer would block or the queue is empty; returns how many
    /// bytes were written. `WouldBlock` is not an error here: it just ends the burst.
    pub(crate) fn write_to(&mut self, w: &mut impl Write) -> io::Result<usize> {
        let mut written = 0;
        while !self.is_empty() {
            let r = if self.owned.is_empty() {
                w.write(&self.buf[self.head..])
            } else {
                let mut iov = [IoSlice::new(&[]); MAX_IOVECS];
                let n = self.gather(&mut iov);
                w.write_vectored(&iov[..n])
            };
            match r {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.advance(n);
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.is_empty() && self.rdma.is_empty() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= COMPACT_MIN && self.head * 2 >= self.buf.len() {
            // A peer that keeps the queue non-empty would otherwise make the buffer grow forever.
            self.compact();
        }
        Ok(written)
    }

    /// The unwritten bytes in queue order, as many pieces as fit in `iov`; returns how many.
    fn gather<'a>(&'a self, iov: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        let mut pos = self.head;
        for o in &self.owned {
            if o.at > pos {
                let Some(slot) = iov.get_mut(n) else { return n };
                *slot = IoSlice::new(&self.buf[pos..o.at]);
                n += 1;
                pos = o.at;
            }
            let Some(slot) = iov.get_mut(n) else { return n };
            *slot = IoSlice::new(&o.buf[o.rest.clone()]);
            n += 1;
        }
        if pos < self.buf.len() {
            if let Some(slot) = iov.get_mut(n) {
                *slot = IoSlice::new(&self.buf[pos..]);
                n += 1;
            }
        }
        n
    }

    /// Marks `n` bytes, taken in [`Outbox::gather`] order, as written; owned buffers written in full
    /// become spares.
    fn advance(&mut self, mut n: usize) {
        loop {
            let inline_end = self.owned.front().map_or(self.buf.len(), |o| o.at);
            let inline = (inline_end - self.head).min(n);
            self.head += inline;
            n -= inline;
            let Some(o) = self.owned.front_mut() else { break };
            if self.head < o.at {
                break;
            }
            let k = o.rest.len().min(n);
            o.rest.start += k;
            self.owned_bytes -= k;
            n -= k;
            if !o.rest.is_empty() {
                break;
            }
            if let Some(done) = self.owned.pop_front() {
                self.keep_spare(done.buf);
            }
        }
        debug_assert_eq!(n, 0, "the writer reported more bytes than it was given");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_off_the_front_one_by_one_whatever_their_kind() {
        let mut o = Outbox::new();
        o.push(b"abc");
        o.push_owned(b"..XYZ..".to_vec(), 2..5);
        o.push(b"");
        let big = vec![9u8; 3 * COMPACT_MIN];
        o.push(&big);
        o.push_parts(&[b"q", b"r"]);
        let mut got = vec![];
        while let Some(m) = o.front() {
            got.push(m.to_vec());
            o.pop_front();
        }
        assert_eq!(got, [b"abc".to_vec(), b"XYZ".to_vec(), vec![], big, b"qr".to_vec()]);
        assert!(o.is_empty());
        assert_eq!(o.reclaim(), Some(b"..XYZ..".to_vec()), "a sent owned buffer comes back");
        o.pop_front();
        assert!(o.front().is_none());
    }

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

    /// Like [`Trickle`], but takes up to `room` bytes across all the pieces of a `writev`.
    struct VecTrickle(Trickle);

    impl Write for VecTrickle {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.write(b)
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if std::mem::take(&mut self.0.block_next) {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.0.block_next = true;
            let mut room = self.0.room;
            for b in bufs {
                let n = b.len().min(room);
                self.0.got.extend_from_slice(&b[..n]);
                room -= n;
            }
            Ok(self.0.room - room)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Writes everything queued through `w`, however many bursts it takes.
    fn drain(o: &mut Outbox, w: &mut impl Write) {
        for _ in 0..10_000 {
            if o.is_empty() {
                return;
            }
            o.write_to(w).unwrap();
        }
        panic!("the outbox did not drain");
    }

    #[test]
    fn owned_messages_go_out_in_order_between_copied_ones() {
        for room in [1, 3, 5, 7, 64] {
            let mut o = Outbox::new();
            o.push(b"abc");
            o.push_owned(b"..XYZ..".to_vec(), 2..5);
            o.push_owned(b"0123".to_vec(), 0..4);
            o.push(b"q");
            assert_eq!(o.messages().collect::<Vec<_>>(), [&b"abc"[..], b"XYZ", b"0123", b"q"]);
            assert_eq!(o.queued_bytes(), 4 * 4 + 3 + 3 + 4 + 1);
            let mut w = VecTrickle(Trickle { got: vec![], room, block_next: false });
            drain(&mut o, &mut w);
            assert_eq!(w.0.got, b"\0\0\0\x03abc\0\0\0\x03XYZ\0\0\0\x040123\0\0\0\x01q", "room {room}");
            assert_eq!(o.queued_bytes(), 0);
            // Both owned buffers come back, contents untouched.
            let mut back = [o.reclaim().unwrap(), o.reclaim().unwrap()];
            back.sort();
            assert_eq!(back, [b"..XYZ..".to_vec(), b"0123".to_vec()]);
            assert!(o.reclaim().is_none());
        }
    }

    #[test]
    fn owned_messages_survive_compaction_and_plain_writes() {
        let mut o = Outbox::new();
        let big = vec![7u8; 3 * COMPACT_MIN];
        o.push(&big);
        o.push_owned(vec![1, 2, 3], 0..3);
        // A writer without write_vectored takes one piece at a time.
        let mut w = Trickle { got: vec![], room: 2 * COMPACT_MIN, block_next: false };
        o.write_to(&mut w).unwrap();
        assert_eq!(o.head, 0, "more than half was written: the rest moved to the front");
        o.push(b"z");
        drain(&mut o, &mut w);
        let mut want = vec![0, 3, 0, 0];
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\0\0\0\x03\x01\x02\x03\0\0\0\x01z");
        assert_eq!(w.got, want);
        assert!(o.reclaim().is_some());
    }

    #[test]
    fn owned_edge_cases() {
        let mut o = Outbox::new();
        o.push_owned(vec![9; 4], 2..2);
        assert_eq!(o.messages().collect::<Vec<_>>(), [&b""[..]]);
        let mut w = VecTrickle(Trickle { got: vec![], room: usize::MAX, block_next: false });
        drain(&mut o, &mut w);
        assert_eq!(w.0.got, [0, 0, 0, 0]);
        assert!(o.reclaim().is_some());
        o.push_owned(vec![0; 4], 2..5);
        assert!(matches!(
            o.take_error(),
            Some(EngineError::OwnedRangeOutside { start: 2, end: 5, buf_len: 4 })
        ));
        assert!(o.is_empty());
        // Spares are bounded.
        for _ in 0..SPARE_OWNED + 2 {
            o.push_owned(vec![1], 0..1);
        }
        drain(&mut o, &mut w);
        assert_eq!(std::iter::from_fn(|| o.reclaim()).count(), SPARE_OWNED);
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
