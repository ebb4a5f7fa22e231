//! The server connection's transport in a [`crate::Pair`]: its messages go onto the link (framed
//! for TCP, queued with the server's SMB Direct state machine for SMBD); over SMB Direct it also
//! moves data by RDMA to and from the client's granted memory ([`crate::rdma_memory`]).

use crate::rdma_memory::Memory;
use crate::smbd_link::SmbdLink;
use crate::tcp_link::TcpLink;
use smb_session::{RdmaTransmit, Transmit};
use smb_wire::smbd::BufferDescriptorV1;
use std::collections::VecDeque;

/// Index of the server in the link's per-side arrays.
const SERVER: usize = 1;

/// The transport under a pair (SMB Direct's two state machines boxed: they are large).
pub(crate) enum Link {
    Tcp(TcpLink),
    Smbd(Box<SmbdLink>),
}

/// A finished RDMA READ of a WRITE's payload: the token the session gave, the lease or the error.
pub(crate) type Pulled = (u64, Result<iobuf::Lease, String>);

/// The borrowed pieces of a pair one server call needs.
pub(crate) struct ServerTx<'a> {
    pub(crate) link: &'a mut Link,
    pub(crate) memory: &'a mut Memory,
    pub(crate) pool: &'a iobuf::Pool,
    pub(crate) pulls: &'a mut VecDeque<Pulled>,
    /// Owned buffers sent, for `reclaim`.
    pub(crate) back: &'a mut Vec<Vec<u8>>,
    /// Every message sent in this call, as it went.
    pub(crate) answers: Vec<Vec<u8>>,
    /// Why the link broke during this call, if it did.
    pub(crate) failure: Option<String>,
}

impl ServerTx<'_> {
    fn smbd(&self) -> Option<&SmbdLink> {
        match &*self.link {
            Link::Smbd(l) => Some(l),
            Link::Tcp(_) => None,
        }
    }

    fn put(&mut self, parts: &[&[u8]], invalidate: Option<u32>) {
        let msg = parts.concat();
        match &mut *self.link {
            Link::Tcp(l) => l.send(SERVER, parts),
            Link::Smbd(l) => {
                if let Err(e) = l.queue(SERVER, msg.clone(), invalidate) {
                    self.failure.get_or_insert(e);
                }
            }
        }
        self.answers.push(msg);
    }
}

impl Transmit for ServerTx<'_> {
    fn send(&mut self, msg: &[u8]) {
        self.put(&[msg], None);
    }

    fn send_parts(&mut self, parts: &[&[u8]]) {
        self.put(parts, None);
    }

    fn send_owned(&mut self, buf: Vec<u8>, range: std::ops::Range<usize>) {
        self.put(&[&buf[range]], None);
        // Written at once: the buffer comes back for the next large answer, as the outbox does it.
        self.back.push(buf);
    }

    fn reclaim(&mut self) -> Option<Vec<u8>> {
        self.back.pop()
    }

    fn rdma(&mut self) -> Option<&mut dyn RdmaTransmit> {
        match self.link {
            Link::Smbd(_) => Some(self),
            Link::Tcp(_) => None,
        }
    }
}

impl RdmaTransmit for ServerTx<'_> {
    fn max_read_write(&self) -> u32 {
        self.smbd().and_then(|l| l.params(SERVER)).map_or(0, |p| p.max_read_write_size)
    }

    fn max_message(&self) -> usize {
        self.smbd().and_then(|l| l.params(SERVER)).map_or(0, |p| p.max_fragmented_send_size as usize)
    }

    fn lease(&mut self, len: usize) -> Option<iobuf::Lease> {
        self.pool.take(len).ok()
    }

    /// Placed at once: reliable-connection order puts the data before any message sent after it.
    fn write(&mut self, data: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        if let Err(e) = self.memory.rdma_write(&data[..len], descs) {
            self.failure.get_or_insert(format!("RDMA WRITE: remote access error: {e}"));
        }
    }

    /// Done at once, reported to the session on the pair's next turn (as a completion would be).
    fn read(&mut self, token: u64, mut into: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        let result = match self.memory.rdma_read(&mut into[..len], descs) {
            Ok(()) => Ok(into),
            Err(e) => Err(format!("RDMA READ: remote access error: {e}")),
        };
        self.pulls.push_back((token, result));
    }

    fn send_parts_invalidating(&mut self, parts: &[&[u8]], token: u32) {
        self.put(parts, Some(token));
    }
}
