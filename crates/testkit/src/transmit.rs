//! [`Recorder`]: a [`Transmit`] that keeps everything a server connection asks of its transport, in
//! order, for tests that drive a `ServerConnection` by hand.
//!
//! Like the engine's outbox it takes owned buffers and hands them back for reuse
//! ([`Transmit::reclaim`]), so a test sees buffers come round again. [`Recorder::smb_direct`] also
//! plays an SMB Direct transport's RDMA side: it lends leases and records the RDMA WRITEs and READs
//! asked for, doing none (the test completes a READ itself with `ServerConnection::on_pulled`).

use smb_session::{RdmaTransmit, Transmit};
use smb_wire::smbd::{BufferDescriptorList, BufferDescriptorV1};
use smb_wire::Writer;

/// Buffer descriptors of `lens` bytes each, as a client describes the buffers of one I/O it
/// registered (token `0x100 + i`, each at its own address, 1 MiB apart), and the channel info
/// (MS-SMB2 2.2.19 / 2.2.21) that carries them. With a [`Recorder`], the session's RDMA requests
/// name these.
pub fn descriptors(lens: &[u32]) -> (Vec<BufferDescriptorV1>, Vec<u8>) {
    let descs: Vec<BufferDescriptorV1> = (0u32..)
        .zip(lens)
        .map(|(i, &length)| BufferDescriptorV1 {
            offset: 0x7f00_0000_0000 + u64::from(i) * 0x10_0000,
            token: 0x100 + i,
            length,
        })
        .collect();
    let mut info = vec![0u8; BufferDescriptorV1::LEN * descs.len()];
    BufferDescriptorList::encode(&descs, &mut Writer::new(&mut info)).expect("sized for every descriptor");
    (descs, info)
}

/// One message sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub bytes: Vec<u8>,
    /// The peer's token the send invalidated (SEND_WITH_INVALIDATE), if any.
    pub invalidated: Option<u32>,
}

/// An RDMA READ asked for and not completed: the test completes it.
#[derive(Debug)]
pub struct Pull {
    pub token: u64,
    pub into: iobuf::Lease,
    pub len: usize,
    pub descs: Vec<BufferDescriptorV1>,
}

/// What an SMB Direct connection negotiated, as the session sees it.
struct Rdma {
    pool: iobuf::Pool,
    max_read_write: u32,
    max_message: usize,
}

/// A transport that records.
#[derive(Default)]
pub struct Recorder {
    /// Messages sent, oldest first.
    pub msgs: Vec<Sent>,
    /// How many went as owned buffers (`send_owned`).
    pub owned: usize,
    /// Addresses of the owned buffers, to see them come round again.
    pub seen: Vec<usize>,
    back: Vec<Vec<u8>>,
    /// RDMA WRITEs: the bytes placed and where.
    pub writes: Vec<(Vec<u8>, Vec<BufferDescriptorV1>)>,
    /// RDMA READs asked for.
    pub reads: Vec<Pull>,
    /// The order of it all: `s` send, `i` send invalidating, `w` RDMA WRITE, `r` RDMA READ.
    pub order: String,
    rdma: Option<Rdma>,
}

impl Recorder {
    /// A TCP transport: no RDMA.
    pub fn tcp() -> Recorder {
        Recorder::default()
    }

    /// An SMB Direct transport with 1 MiB MaxReadWriteSize whose peer reassembles messages of up to
    /// 173,910 bytes (ksmbd's MaxFragmentedSize: 255 credits x 1364 / 2).
    pub fn smb_direct() -> Recorder {
        let pool = iobuf::Pool::new(&iobuf::PoolConfig::default());
        Recorder {
            rdma: Some(Rdma { pool, max_read_write: 1 << 20, max_message: 173_910 }),
            ..Recorder::default()
        }
    }

    /// The bytes of every message sent, taken.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.msgs).into_iter().map(|s| s.bytes).collect()
    }

    /// The bytes of the last message sent, taken.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        self.msgs.pop().map(|s| s.bytes)
    }
}

impl Transmit for Recorder {
    fn send(&mut self, msg: &[u8]) {
        self.msgs.push(Sent { bytes: msg.to_vec(), invalidated: None });
        self.order.push('s');
    }

    fn send_owned(&mut self, buf: Vec<u8>, range: std::ops::Range<usize>) {
        self.send(&buf[range]);
        self.owned += 1;
        self.seen.push(buf.as_ptr() as usize);
        self.back.push(buf);
    }

    fn reclaim(&mut self) -> Option<Vec<u8>> {
        self.back.pop()
    }

    fn rdma(&mut self) -> Option<&mut dyn RdmaTransmit> {
        match self.rdma {
            Some(_) => Some(self),
            None => None,
        }
    }
}

impl RdmaTransmit for Recorder {
    fn max_read_write(&self) -> u32 {
        self.rdma.as_ref().map_or(0, |r| r.max_read_write)
    }

    fn max_message(&self) -> usize {
        self.rdma.as_ref().map_or(0, |r| r.max_message)
    }

    fn lease(&mut self, len: usize) -> Option<iobuf::Lease> {
        self.rdma.as_ref()?.pool.take(len).ok()
    }

    fn write(&mut self, data: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        self.writes.push((data[..len].to_vec(), descs.to_vec()));
        self.order.push('w');
    }

    fn read(&mut self, token: u64, into: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        self.reads.push(Pull { token, into, len, descs: descs.to_vec() });
        self.order.push('r');
    }

    fn send_parts_invalidating(&mut self, parts: &[&[u8]], token: u32) {
        self.msgs.push(Sent { bytes: parts.concat(), invalidated: Some(token) });
        self.order.push('i');
    }
}
