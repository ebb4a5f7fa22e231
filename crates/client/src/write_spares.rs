//! WRITE message buffers on their way back for reuse. A WRITE's payload is copied (or sealed) into
//! a message buffer that the socket then sends from where it lies; once sent, the buffer comes back
//! here, and the next WRITE fills it instead of a fresh allocation. A fresh 1 MiB buffer is
//! zero-filled page by page on first touch and returned to the kernel when freed: in `smbdx cp` of
//! 1 GiB, those page faults were 30% of the client's CPU samples.

use crossbeam_channel::{bounded, Receiver, Sender};
use engine::Outbox;
use smb_client_proto::WRITE_PAYLOAD_AT;

/// Buffers kept per connection, at most: the WRITEs a caller typically keeps in flight.
const KEPT: usize = 8;
/// Smaller buffers cost little to allocate and are not kept.
const KEPT_MIN: usize = 64 * 1024;

/// Both ends of one connection's pool: the driver fills it, application threads and the driver
/// take from it.
#[derive(Clone, Debug)]
pub(crate) struct WriteSpares {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

impl WriteSpares {
    pub(crate) fn new() -> WriteSpares {
        let (tx, rx) = bounded(KEPT);
        WriteSpares { tx, rx }
    }

    /// Moves the buffers the socket has finished with out of `out` into the pool; what does not
    /// fit is freed.
    pub(crate) fn keep_written(&self, out: &mut Outbox) {
        while let Some(buf) = out.reclaim() {
            if buf.capacity() >= KEPT_MIN {
                let _ = self.tx.try_send(buf);
            }
        }
    }

    /// A kept buffer, if any (its contents are an old message's).
    pub(crate) fn take(&self) -> Option<Vec<u8>> {
        self.rx.try_recv().ok()
    }

    /// The one copy of a payload on its way out: into a message buffer with room in front for the
    /// headers (and a TRANSFORM_HEADER), which the connection fills and seals around it in place.
    pub(crate) fn message(&self, data: &[u8]) -> Vec<u8> {
        let need = WRITE_PAYLOAD_AT + data.len();
        let mut msg = self.take().filter(|b| b.capacity() >= need).unwrap_or_default();
        msg.clear();
        msg.reserve_exact(need);
        msg.resize(WRITE_PAYLOAD_AT, 0);
        msg.extend_from_slice(data);
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_buffers_are_filled_again_and_small_ones_are_not_kept() {
        let spares = WriteSpares::new();
        let mut out = Outbox::new();
        let first = spares.message(&[7u8; 300 * 1024]);
        assert_eq!(first.len(), WRITE_PAYLOAD_AT + 300 * 1024);
        assert!(first[..WRITE_PAYLOAD_AT].iter().all(|&b| b == 0));
        let at = first.as_ptr();
        let len = first.len();
        out.push_owned(first, 0..len);
        out.push_owned(vec![1u8; 1024], 0..1024);
        // What the socket does with owned buffers once sent: offers them through `reclaim`.
        out.clear();
        spares.keep_written(&mut out);
        assert!(out.reclaim().is_none(), "everything written was taken");
        // The same memory, now holding the next payload behind zeroed header room.
        let again = spares.message(&[9u8; 200 * 1024]);
        assert_eq!(again.as_ptr(), at);
        assert_eq!(again.len(), WRITE_PAYLOAD_AT + 200 * 1024);
        assert!(again[..WRITE_PAYLOAD_AT].iter().all(|&b| b == 0));
        assert!(again[WRITE_PAYLOAD_AT..].iter().all(|&b| b == 9));
        assert!(spares.take().is_none(), "the 1 KiB buffer was not kept");
    }

    #[test]
    fn a_kept_buffer_too_small_for_the_payload_is_replaced() {
        let spares = WriteSpares::new();
        spares.tx.try_send(Vec::with_capacity(KEPT_MIN)).unwrap();
        let msg = spares.message(&[3u8; 2 * KEPT_MIN]);
        assert_eq!(msg.len(), WRITE_PAYLOAD_AT + 2 * KEPT_MIN);
        assert!(msg[WRITE_PAYLOAD_AT..].iter().all(|&b| b == 3));
        assert!(spares.take().is_none());
    }

    #[test]
    fn the_pool_is_bounded() {
        let spares = WriteSpares::new();
        let mut out = Outbox::new();
        for _ in 0..3 {
            for _ in 0..4 {
                out.push_owned(vec![0u8; KEPT_MIN], 0..KEPT_MIN);
            }
            out.clear();
            spares.keep_written(&mut out);
        }
        let mut n = 0;
        while spares.take().is_some() {
            n += 1;
        }
        assert_eq!(n, KEPT);
    }
}
