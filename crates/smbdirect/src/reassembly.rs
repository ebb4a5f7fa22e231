//! Reassembly of fragmented upper-layer messages, MS-SMBD 3.1.5.8 (Connection.FragmentReassembly
//! Buffer, FragmentReassemblyRemaining and InvalidatedToken).
//!
//! Fragments are **copied out** of the receive buffer into one reassembly buffer, so the transport
//! re-posts every receive buffer at once: a large message never holds receive buffers hostage
//! (Linux's "reassembly eats the receive queue" bug class, which forced ksmbd and cifs to shrink
//! MaxFragmentedRecvSize to credits × size / 2). A message that fits in one fragment is not copied:
//! the caller gets it as a borrow of its own receive buffer.
//!
//! Hostile lengths: the first fragment's DataLength + RemainingDataLength (the whole message) must
//! fit in MaxFragmentedRecvSize, and the buffer only ever grows by bytes that arrived, so a peer
//! cannot make us allocate by claiming a length. Each continuation must carry exactly the
//! RemainingDataLength that follows from the previous fragment; MS-SMBD only checks that the count
//! reaches zero at the last fragment, a conforming sender always satisfies the stricter rule, and it
//! catches a peer that would otherwise make us deliver a message of a different length than it
//! announced.

use crate::error::Error;

/// What one received data transfer message meant for reassembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// No payload: a credit grant or keepalive only.
    Empty,
    /// A whole message in one fragment: deliver it from the receive buffer, no copy.
    Whole,
    /// A fragment was copied in; more are due.
    Buffered,
    /// The last fragment was copied in: [`Reassembly::message`] holds the whole message.
    Complete,
}

/// The reassembly buffer and its bookkeeping.
#[derive(Debug)]
pub(crate) struct Reassembly {
    buf: Vec<u8>,
    /// FragmentReassemblyRemaining of the message being assembled, if one is.
    remaining: Option<u32>,
    /// MaxFragmentedRecvSize.
    max: u32,
    /// Connection.InvalidatedToken: the latest token the provider reported invalidated by a
    /// receive, handed up with the next complete message.
    invalidated: Option<u32>,
}

impl Reassembly {
    pub fn new(max: u32) -> Self {
        Self { buf: Vec::new(), remaining: None, max, invalidated: None }
    }

    /// Takes one received message's payload and RemainingDataLength.
    pub fn on_fragment(&mut self, data: &[u8], remaining: u32) -> Result<Step, Error> {
        if data.is_empty() {
            // An empty message is never part of a message (3.1.5.4 sends it with all lengths 0),
            // so it may arrive between two fragments; it must not claim more data.
            return if remaining == 0 { Ok(Step::Empty) } else { Err(Error::EmptyWithRemaining(remaining)) };
        }
        // Parsed from a u32 DataLength.
        let data_length = data.len() as u32;
        match self.remaining {
            None => {
                if u64::from(data_length) + u64::from(remaining) > u64::from(self.max) {
                    return Err(Error::FragmentTooLarge { data_length, remaining, max: self.max });
                }
                if remaining == 0 {
                    return Ok(Step::Whole);
                }
                self.buf.clear();
                self.buf.extend_from_slice(data);
                self.remaining = Some(remaining);
                Ok(Step::Buffered)
            }
            Some(expected) => {
                if expected.checked_sub(data_length) != Some(remaining) {
                    return Err(Error::FragmentMismatch { data_length, remaining, expected });
                }
                self.buf.extend_from_slice(data);
                if remaining == 0 {
                    self.remaining = None;
                    Ok(Step::Complete)
                } else {
                    self.remaining = Some(remaining);
                    Ok(Step::Buffered)
                }
            }
        }
    }

    /// The message the last [`Step::Complete`] finished. Valid until the next fragment.
    pub fn message(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Records a token the provider invalidated while receiving (overwrites an earlier one).
    pub fn note_invalidated(&mut self, token: u32) {
        self.invalidated = Some(token);
    }

    /// The token to hand up with a complete message, clearing it.
    pub fn take_invalidated(&mut self) -> Option<u32> {
        self.invalidated.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_fragment_is_whole_and_not_copied() {
        let mut r = Reassembly::new(1 << 20);
        assert_eq!(r.on_fragment(&[1, 2, 3], 0), Ok(Step::Whole));
        assert!(r.remaining.is_none());
        assert!(r.message().is_empty());
    }

    #[test]
    fn fragments_reassemble_in_order() {
        let mut r = Reassembly::new(1 << 20);
        assert_eq!(r.on_fragment(&[1, 2], 3), Ok(Step::Buffered));
        assert!(r.remaining.is_some());
        // An empty credit message between fragments is tolerated and changes nothing.
        assert_eq!(r.on_fragment(&[], 0), Ok(Step::Empty));
        assert_eq!(r.on_fragment(&[3, 4], 1), Ok(Step::Buffered));
        assert_eq!(r.on_fragment(&[5], 0), Ok(Step::Complete));
        assert_eq!(r.message(), &[1, 2, 3, 4, 5]);
        // The next message starts afresh.
        assert_eq!(r.on_fragment(&[9], 1), Ok(Step::Buffered));
        assert_eq!(r.on_fragment(&[8], 0), Ok(Step::Complete));
        assert_eq!(r.message(), &[9, 8]);
    }

    #[test]
    fn a_claimed_length_over_the_cap_is_refused_before_any_copy() {
        let mut r = Reassembly::new(131_072);
        assert_eq!(
            r.on_fragment(&[0; 100], 131_000),
            Err(Error::FragmentTooLarge { data_length: 100, remaining: 131_000, max: 131_072 })
        );
        assert_eq!(r.buf.capacity(), 0);
        assert_eq!(
            r.on_fragment(&[0; 100], u32::MAX),
            Err(Error::FragmentTooLarge { data_length: 100, remaining: u32::MAX, max: 131_072 })
        );
        // Exactly the cap is fine.
        assert_eq!(r.on_fragment(&[0; 72], 131_000), Ok(Step::Buffered));
    }

    #[test]
    fn continuations_must_follow_from_the_previous_fragment() {
        let mut r = Reassembly::new(1 << 20);
        r.on_fragment(&[0; 10], 20).unwrap();
        // Claims 15 remain after 10 more bytes, but 20 - 10 = 10.
        assert_eq!(
            r.on_fragment(&[0; 10], 15),
            Err(Error::FragmentMismatch { data_length: 10, remaining: 15, expected: 20 })
        );
        let mut r = Reassembly::new(1 << 20);
        r.on_fragment(&[0; 10], 5).unwrap();
        // More data than was announced.
        assert_eq!(
            r.on_fragment(&[0; 6], 0),
            Err(Error::FragmentMismatch { data_length: 6, remaining: 0, expected: 5 })
        );
        // Ends early: the spec's "FragmentReassemblyRemaining > 0 at the last fragment".
        let mut r = Reassembly::new(1 << 20);
        r.on_fragment(&[0; 10], 5).unwrap();
        assert_eq!(
            r.on_fragment(&[0; 4], 0),
            Err(Error::FragmentMismatch { data_length: 4, remaining: 0, expected: 5 })
        );
    }

    #[test]
    fn empty_message_claiming_more_is_refused() {
        let mut r = Reassembly::new(1 << 20);
        assert_eq!(r.on_fragment(&[], 7), Err(Error::EmptyWithRemaining(7)));
    }

    #[test]
    fn invalidated_token_is_the_latest_and_taken_once() {
        let mut r = Reassembly::new(1 << 20);
        r.note_invalidated(1);
        r.note_invalidated(2);
        assert_eq!(r.take_invalidated(), Some(2));
        assert_eq!(r.take_invalidated(), None);
    }
}
