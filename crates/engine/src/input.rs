//! A connection's receive buffer: bytes read from the socket, cut into whole Direct TCP messages.
//!
//! It starts small and grows only when a frame announced by a valid prefix does not fit, never past
//! `max_message + 4`: a peer cannot make it grow by claiming a length (the prefix is checked against
//! `max_message` before any growth).
//!
//! What it holds past its first 64 KiB is charged to the server's memory budget
//! (`iobuf::budget`): growth waits while the budget is used up (the read reports
//! `ErrorKind::OutOfMemory`, the channel is starved until the budget has room), and a grown
//! buffer that empties while the budget is pressed shrinks back.

use std::io::{self, Read};
use std::sync::Arc;

use iobuf::budget::{Held, MemoryBudget};

use smb_wire::framing::{split_frame, Frame, FRAME_PREFIX_LEN};

/// The first allocation; enough for the negotiate/session-setup/small-I/O traffic of most connections.
const INITIAL: usize = 64 * 1024;

/// What [`InputBuffer::next_message`] found.
pub(crate) enum Next<'a> {
    /// A whole message, mutable in place; call [`InputBuffer::consume`] with `consumed` after use.
    Message { msg: &'a mut [u8], consumed: usize },
    /// More bytes are needed.
    Incomplete,
}

#[derive(Debug)]
pub(crate) struct InputBuffer {
    /// `buf[start..end]` holds received, not yet consumed bytes.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes the frame at `start` needs in total (prefix included), once known.
    need: usize,
    max_message: usize,
    /// Bytes past INITIAL, charged to the budget.
    held: Held,
}

impl InputBuffer {
    pub(crate) fn new(max_message: usize, budget: Option<Arc<MemoryBudget>>) -> InputBuffer {
        let cap = max_message + FRAME_PREFIX_LEN;
        InputBuffer {
            buf: vec![0; INITIAL.min(cap)],
            start: 0,
            end: 0,
            need: FRAME_PREFIX_LEN,
            max_message,
            held: Held::new(budget),
        }
    }

    /// What the buffer holds of the budget (its growth past the first allocation).
    pub(crate) fn held(&self) -> usize {
        self.held.bytes()
    }

    /// Gives back what the buffer grew by, if it holds nothing now.
    pub(crate) fn shrink_if_empty(&mut self) {
        if self.start == self.end && self.buf.len() > INITIAL {
            self.buf = vec![0; INITIAL];
            self.start = 0;
            self.end = 0;
            self.held.set(0);
        }
    }

    /// Bytes received and not yet consumed.
    pub(crate) fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Forgets everything buffered.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
        self.need = FRAME_PREFIX_LEN;
    }

    /// The next whole message, or an error when the peer broke the framing (MS-SMB2 2.1).
    pub(crate) fn next_message(&mut self) -> Result<Next<'_>, smb_wire::WireError> {
        match split_frame(&self.buf[self.start..self.end], self.max_message)? {
            Frame::Incomplete { total } => {
                self.need = total;
                Ok(Next::Incomplete)
            }
            Frame::Complete { consumed, .. } => {
                let msg = &mut self.buf[self.start + FRAME_PREFIX_LEN..self.start + consumed];
                Ok(Next::Message { msg, consumed })
            }
        }
    }

    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.buffered());
        self.start += n;
        self.need = FRAME_PREFIX_LEN;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.held.pressed() {
                self.shrink_if_empty();
            }
        }
    }

    /// One `read` into the free space, first making room for the frame being assembled
    /// (`ErrorKind::OutOfMemory` when that needs more than the budget has).
    pub(crate) fn read_from(&mut self, r: &mut impl Read) -> io::Result<usize> {
        if !self.make_room() {
            return Err(io::Error::new(io::ErrorKind::OutOfMemory, "the memory budget is used up"));
        }
        if self.end == self.buf.len() {
            // Only reachable if a whole frame was left unprocessed; reading 0 bytes would look like EOF.
            return Err(io::Error::other("receive buffer full with a whole frame unprocessed"));
        }
        let n = r.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// False when growing is needed and the budget has no room for it.
    fn make_room(&mut self) -> bool {
        // `need` was checked against max_message by split_frame, so growing to it stays in bounds.
        if self.start + self.need > self.buf.len() || self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.need > self.buf.len() || self.end == self.buf.len() {
            let cap = self.max_message + FRAME_PREFIX_LEN;
            let want = self.need.max(self.buf.len().saturating_mul(2)).min(cap);
            if want > self.buf.len() {
                if !self.held.try_grow(want.saturating_sub(INITIAL)) {
                    return false;
                }
                self.buf.resize(want, 0);
            }
        }
        true
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_all(input: &mut InputBuffer) -> Vec<Vec<u8>> {
        let mut got = vec![];
        while let Next::Message { msg, consumed } = input.next_message().unwrap() {
            got.push(msg.to_vec());
            input.consume(consumed);
        }
        got
    }

    fn framed(msgs: &[&[u8]]) -> Vec<u8> {
        let mut v = vec![];
        for m in msgs {
            v.extend_from_slice(&smb_wire::framing::frame_prefix(m.len()).unwrap());
            v.extend_from_slice(m);
        }
        v
    }

    #[test]
    fn messages_split_across_reads_reassemble() {
        let wire = framed(&[b"hello", b"", b"world!"]);
        let mut input = InputBuffer::new(1024, None);
        let mut got = vec![];
        for chunk in wire.chunks(3) {
            assert_eq!(input.read_from(&mut &chunk[..]).unwrap(), chunk.len());
            got.extend(take_all(&mut input));
        }
        assert_eq!(got, [b"hello".to_vec(), vec![], b"world!".to_vec()]);
        assert_eq!(input.buffered(), 0);
    }

    #[test]
    fn grows_for_a_large_frame_but_not_past_the_cap() {
        let max = 300 * 1024;
        let big = vec![0xA5; max];
        let wire = framed(&[&big, b"tail"]);
        let mut input = InputBuffer::new(max, None);
        let mut src = &wire[..];
        let mut got = vec![];
        while !src.is_empty() {
            input.read_from(&mut src).unwrap();
            got.extend(take_all(&mut input));
            assert!(input.capacity() <= max + 4);
        }
        assert_eq!(got, [big, b"tail".to_vec()]);
    }

    #[test]
    fn a_claimed_length_above_the_cap_is_refused_before_growing() {
        let mut input = InputBuffer::new(1000, None);
        input.read_from(&mut &[0u8, 0, 0x03, 0xE9][..]).unwrap();
        assert!(input.next_message().is_err());
        assert_eq!(input.capacity(), 1004);
        let mut input = InputBuffer::new(1000, None);
        input.read_from(&mut &[0x85u8, 0, 0, 0][..]).unwrap();
        assert!(input.next_message().is_err());
    }

    #[test]
    fn growth_waits_for_the_budget_and_a_pressed_budget_gets_the_growth_back() {
        let max = 1 << 20;
        let budget = MemoryBudget::new(600 * 1024);
        let big = vec![0x5A; 700 * 1024];
        let wire = framed(&[&big]);
        let mut input = InputBuffer::new(max, Some(budget.clone()));
        let mut src = &wire[..];
        let mut starved = 0;
        // The frame needs 700 KiB + 4 of buffer: 636 KiB past INITIAL, over the 600 KiB budget.
        loop {
            match input.read_from(&mut src) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                    starved += 1;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(starved, 1);
        assert!(input.capacity() < 700 * 1024);
        assert!(budget.used() <= 600 * 1024);
        // A larger budget lets it through; the message once consumed, a pressed budget gets the
        // growth back.
        let budget = MemoryBudget::new(1 << 20);
        let mut input = InputBuffer::new(max, Some(budget.clone()));
        let mut src = &wire[..];
        let mut got = vec![];
        while !src.is_empty() {
            input.read_from(&mut src).unwrap();
            got.extend(take_all(&mut input));
        }
        assert_eq!(got, [big]);
        assert_eq!(input.capacity(), INITIAL, "the grown buffer was kept under a pressed budget");
        assert_eq!(budget.used(), 0);
        assert!(budget.peak() >= 636 * 1024);
    }

    #[test]
    fn messages_are_mutable_in_place() {
        let mut input = InputBuffer::new(64, None);
        input.read_from(&mut &framed(&[b"abc"])[..]).unwrap();
        let Next::Message { msg, consumed } = input.next_message().unwrap() else { panic!("incomplete") };
        msg.make_ascii_uppercase();
        assert_eq!(msg, b"ABC");
        assert_eq!(consumed, 7);
    }
}
