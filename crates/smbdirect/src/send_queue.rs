//! The send queue and fragmentation, MS-SMBD 3.1.5.1 (Connection.SendQueue) and 3.1.5.4 (cutting
//! an upper-layer message into data transfer messages).
//!
//! The queue holds lengths, not bytes: the caller keeps each message's payload and copies (or
//! gathers) the range a [`crate::Transmit`] names behind the header. Messages leave strictly in
//! order and the fragments of one message back to back, never interleaved with another message's
//! (3.1.5.4 "strict sequential order"). Each fragment carries at most MaxSendSize − 24 bytes, and
//! its RemainingDataLength is what of the message follows it (0 on the last).

use std::collections::VecDeque;
use std::ops::Range;

/// Names an upper-layer message handed to [`crate::SmbdConnection::queue_message`]; payload
/// ranges in [`crate::Transmit`] index that message's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

#[derive(Debug, Clone)]
struct Queued {
    id: MessageId,
    len: usize,
    /// Bytes already handed out in fragments.
    sent: usize,
    /// Token to invalidate at the peer with the last fragment (SEND_WITH_INVALIDATE).
    invalidate: Option<u32>,
}

/// One fragment ready to go: which bytes of which message, and its header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fragment {
    pub id: MessageId,
    pub range: Range<usize>,
    /// RemainingDataLength: bytes of the message after this fragment.
    pub remaining: u32,
    /// Set on the last fragment of a message queued with a token to invalidate.
    pub invalidate: Option<u32>,
}

/// Upper-layer messages waiting to be sent, front first.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    queue: VecDeque<Queued>,
    next_id: u64,
}

impl SendQueue {
    /// Appends a message of `len > 0` bytes; the caller has checked it against
    /// MaxFragmentedSendSize (which fits in a u32).
    pub fn push(&mut self, len: usize, invalidate: Option<u32>) -> MessageId {
        debug_assert!(len > 0 && u32::try_from(len).is_ok());
        let id = MessageId(self.next_id);
        self.next_id += 1;
        self.queue.push_back(Queued { id, len, sent: 0, invalidate });
        id
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Messages queued (including one partly sent).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// The next fragment of at most `max_payload` bytes, without taking it.
    pub fn peek(&self, max_payload: usize) -> Option<Fragment> {
        debug_assert!(max_payload > 0);
        let m = self.queue.front()?;
        let end = m.len.min(m.sent + max_payload);
        let remaining = (m.len - end) as u32;
        Some(Fragment {
            id: m.id,
            range: m.sent..end,
            remaining,
            invalidate: if remaining == 0 { m.invalidate } else { None },
        })
    }

    /// Takes the fragment `peek` returned: it is being sent.
    pub fn advance(&mut self, f: &Fragment) {
        let Some(m) = self.queue.front_mut() else {
            debug_assert!(false, "advance on an empty queue");
            return;
        };
        debug_assert!(m.id == f.id && m.sent == f.range.start);
        m.sent = f.range.end;
        if m.sent == m.len {
            self.queue.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut SendQueue, max: usize) -> Vec<Fragment> {
        let mut out = Vec::new();
        while let Some(f) = q.peek(max) {
            q.advance(&f);
            out.push(f);
        }
        out
    }

    #[test]
    fn ms_smbd_4_3_sixty_four_kib_in_thousand_byte_fragments() {
        let mut q = SendQueue::default();
        let id = q.push(65536, None);
        let f = drain(&mut q, 1000);
        assert_eq!(f.len(), 66);
        assert_eq!(f[0].range, 0..1000);
        assert_eq!(f[0].remaining, 64536);
        assert_eq!(f[65].range, 65000..65536);
        assert_eq!(f[65].remaining, 0);
        assert!(f.iter().all(|x| x.id == id));
        // Contiguous: each fragment starts where the previous ended.
        assert!(f.windows(2).all(|w| w[0].range.end == w[1].range.start));
        assert!(q.is_empty());
    }

    #[test]
    fn messages_leave_in_order_and_the_token_rides_the_last_fragment() {
        let mut q = SendQueue::default();
        let a = q.push(2500, Some(0xAB));
        let b = q.push(10, None);
        assert_eq!(q.len(), 2);
        let f = drain(&mut q, 1340);
        let ids: Vec<_> = f.iter().map(|x| x.id).collect();
        assert_eq!(ids, [a, a, b]);
        assert_eq!(f.iter().map(|x| x.invalidate).collect::<Vec<_>>(), [None, Some(0xAB), None]);
        assert_eq!(f[1].remaining, 0);
        assert!(f[0].remaining > 0);
        assert!(a < b);
    }

    #[test]
    fn peek_does_not_take() {
        let mut q = SendQueue::default();
        q.push(5, None);
        assert_eq!(q.peek(100), q.peek(100));
        assert_eq!(q.peek(3).unwrap().range, 0..3);
        assert_eq!(q.peek(3).unwrap().remaining, 2);
    }
}
