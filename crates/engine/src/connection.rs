//! The contract between the engine (I/O) and a protocol handler (meaning): the engine hands over whole
//! transport messages (a Direct TCP frame's payload, or a reassembled SMB Direct message), the handler
//! answers into an [`Outbox`]. Handlers are sans-I/O and never block.

use std::net::SocketAddr;

use crate::handle::ConnectionHandle;
use crate::outbox::Outbox;
use crate::rdma::RdmaCtx;

/// What the handler wants after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Send what is queued, then close the connection (no further message is delivered).
    Close,
}

/// One connection's protocol state, owned by one reactor thread for the connection's whole life.
pub trait Connection: Send {
    /// One whole message (Direct TCP payload, prefix removed), mutable so the handler can decrypt in
    /// place. The handler appends response messages to `out`. It runs on the reactor thread: it must
    /// not block, and its time is every other connection's latency on that reactor.
    fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> Flow;

    /// A whole message over SMB Direct, with the token the peer invalidated as it arrived (its
    /// SEND_WITH_INVALIDATE; MS-SMBD 3.1.5.8 Connection.InvalidatedToken). `rdma` grants buffers.
    /// The default forwards to [`Connection::on_message`].
    fn on_rdma_message(
        &mut self,
        msg: &mut [u8],
        invalidated: Option<u32>,
        rdma: &mut RdmaCtx<'_>,
        out: &mut Outbox,
    ) -> Flow {
        let _ = (invalidated, rdma);
        self.on_message(msg, out)
    }

    /// [`Connection::on_wake`] over SMB Direct, where the handler may grant buffers.
    fn on_rdma_wake(&mut self, rdma: &mut RdmaCtx<'_>, out: &mut Outbox) -> Flow {
        let _ = rdma;
        self.on_wake(out)
    }

    /// An RDMA transfer the handler queued finished: for [`Outbox::rdma_read`] the buffer holds the
    /// peer's bytes; for [`Outbox::rdma_revoke`] the window is gone and the buffer is the handler's
    /// again. `Err` says why it failed (the connection is then closing). The default closes: a
    /// handler that moves data by RDMA must take it.
    fn on_rdma_done(&mut self, token: u64, result: Result<iobuf::Lease, String>, out: &mut Outbox) -> Flow {
        let _ = (token, result, out);
        Flow::Close
    }

    /// What the connection runs over, once known (for SMB Direct: after the MS-SMBD negotiation,
    /// with the limits it settled); called once, just before [`Connection::on_start`].
    fn on_transport(&mut self, peer: &PeerInfo) {
        let _ = peer;
    }

    /// The reactor has just adopted the connection (before [`Connection::on_start`]); `handle` reaches
    /// it from other threads. A handler that hands work to another thread (a file write to an
    /// [`crate::Offload`]) keeps it, so the finished work can wake the connection and be answered
    /// from [`Connection::on_wake`].
    fn attach(&mut self, handle: ConnectionHandle) {
        let _ = handle;
    }

    /// The reactor has just adopted the connection; a client queues its opening message here.
    fn on_start(&mut self, out: &mut Outbox) -> Flow {
        let _ = out;
        Flow::Continue
    }

    /// The connection's [`crate::ConnectionHandle`] was woken (once for any number of wakes since the
    /// last call): take the requests the application queued for this connection and append them to
    /// `out`. Called on the owning reactor, only while the connection is open, and also when `out`
    /// is over `EngineConfig::max_outbox_bytes` (check [`Outbox::queued_bytes`] to hold back).
    fn on_wake(&mut self, out: &mut Outbox) -> Flow {
        let _ = out;
        Flow::Continue
    }

    /// Shutdown: no more messages will be delivered. Finish the work handed to other threads and queue
    /// its answers now (blocking is allowed here); the outbox is then drained and the connection
    /// closed.
    fn on_drain(&mut self, out: &mut Outbox) {
        let _ = out;
    }

    /// The connection is gone (peer closed, error, shutdown): release files etc. Called exactly once
    /// for every handler the engine created or adopted.
    fn on_close(&mut self) {}
}

/// What a connection runs over. The factory learns it with the peer, because what a handler may do
/// depends on it: RDMA channels in a READ or WRITE are valid only over SMB Direct (MS-SMB2 3.3.5.12,
/// 3.3.5.13), and an SMB Direct connection bounds messages and data transfers by what MS-SMBD
/// negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// MS-SMB2 2.1 Direct TCP: 4-byte length prefix, messages up to `EngineConfig::max_message`.
    Tcp,
    /// MS-SMBD over a reliable-connected RDMA queue pair.
    Rdma(RdmaLimits),
}

/// What MS-SMBD negotiation settled for one connection (MS-SMBD 3.1.1.1 Connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdmaLimits {
    /// Largest upper-layer message either side may send (MaxFragmentedSize of the receiver).
    pub max_message: u32,
    /// Largest RDMA READ or WRITE one request may ask for (MaxReadWriteSize).
    pub max_read_write: u32,
    /// RDMA READs this side may have in flight at once (the initiator depth the CM agreed).
    pub initiator_depth: u8,
}

/// Who is on the other end of a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's IP address and port (for RDMA, the address RDMA CM reports).
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl PeerInfo {
    pub fn tcp(addr: SocketAddr) -> PeerInfo {
        PeerInfo { addr, transport: Transport::Tcp }
    }

    pub fn is_rdma(&self) -> bool {
        matches!(self.transport, Transport::Rdma(_))
    }
}

/// Makes the handler for each new connection; called on the reactor that will own it, so the
/// handler's memory is first touched on that core.
pub trait ConnectionFactory: Send + Sync + 'static {
    fn accept(&self, peer: &PeerInfo, reactor: usize) -> Box<dyn Connection>;

    /// A connection was closed at accept, over `EngineConfig::max_connections` or
    /// `max_connections_per_source` (no handler was made for it). Called on the acceptor thread,
    /// once per refused connection: it must be quick (count it; log or record `first` ones only).
    /// The default logs the first refusal of each episode, so a flood does not flood the log.
    fn refused(&self, r: &crate::admission::Refused) {
        if r.first {
            tracing::warn!(peer = %r.peer, reason = r.why.name(), "connections refused at accept: {}", r.why);
        }
    }
}

impl<F> ConnectionFactory for F
where
    F: Fn(&PeerInfo, usize) -> Box<dyn Connection> + Send + Sync + 'static,
{
    fn accept(&self, peer: &PeerInfo, reactor: usize) -> Box<dyn Connection> {
        self(peer, reactor)
    }
}
