//! The reactor-facing interface: a [`Domain`] is one protection domain, one completion queue and its
//! notification channel, and the queue pairs and registered memory that share them. A reactor owns
//! one per device and drives every RDMA connection it has through it, from its own event loop:
//! the domain's file descriptors go into the reactor's epoll ([`Domain::fds`]), nothing here blocks,
//! and connection setup and teardown arrive as [`QpEvent`]s.
//!
//! Why shared: a completion queue per connection would cost a poll per connection per turn, and a
//! protection domain per connection would force memory to be registered per connection. With one
//! of each per reactor, a polling turn is one `ibv_poll_cq`, and a buffer pool registered once
//! ([`Domain::lease_sge`]) serves every connection of the reactor.
//!
//! A passive side gets connection requests from a [`PassiveListener`] (its fd watched by whatever
//! thread accepts) and hands each, as a `Send` value, to the domain of the reactor that will own it
//! ([`Domain::accept`]).

use std::net::SocketAddr;
use std::ops::DerefMut;
use std::os::fd::RawFd;
use std::time::Instant;

use crate::completion::Completion;
use crate::error::Result;
use crate::provider::EndpointOptions;
use crate::region::RegionId;
use crate::work_request::{RecvWr, RemoteKey, SendWr, Sge};
use crate::Access;

/// One queue pair of a domain. Stale ids (of a destroyed queue pair) are refused, never aliased.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct QpId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl std::fmt::Display for QpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "qp#{}.{}", self.index, self.generation)
    }
}

/// What the connection manager reported about a queue pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QpEvent {
    /// The connection is up; `private_data` is what the peer sent with its connect or accept (on
    /// IB/RoCE padded to the CM's field size).
    Established { private_data: Vec<u8> },
    /// The connection attempt failed (rejected, unreachable, no route), or took longer than its
    /// timeout (`timed_out`).
    Failed { reason: String, timed_out: bool },
    /// The connection ended (the peer, the link, or our own disconnect): every outstanding work
    /// request completes with WR_FLUSH_ERR.
    Disconnected,
}

/// A completion and the queue pair it belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QpCompletion {
    /// `None` only in the default value used to fill buffers.
    pub qp: Option<QpId>,
    pub completion: Completion,
}

/// An incoming connection request, not yet accepted or rejected. `Send`: taken off a listener on
/// one thread, accepted by the domain of the reactor that will own the connection.
pub trait ConnectRequest: Send + 'static {
    /// What the requester sent in its connect (MS-SMBD sends nothing on IB/RoCE).
    fn private_data(&self) -> &[u8];
    /// The requester's address as the CM reports it.
    fn peer_addr(&self) -> Option<SocketAddr>;
    /// The local device the request arrived on.
    fn device(&self) -> Option<String>;
    /// Refuses the request (the requester's connect fails).
    fn reject(self);
}

/// A listening CM id, fd-driven: readable when requests are waiting.
pub trait PassiveListener: Send + 'static {
    type Request: ConnectRequest;
    /// Watch this for readability.
    fn fd(&self) -> RawFd;
    /// The next request waiting, if any. Never blocks.
    fn try_accept(&mut self) -> Result<Option<Self::Request>>;
    /// Where it listens.
    fn local_addr(&self) -> SocketAddr;
}

/// Opens domains and fd-driven listeners: what a reactor-based engine needs of a provider.
/// [`crate::Blocking`] turns one into the blocking [`crate::Provider`] that tools and the conformance
/// suite use.
pub trait DomainProvider: Clone + Send + Sync + 'static {
    type Domain: Domain;
    type Listener: PassiveListener<Request = <Self::Domain as Domain>::Request>;
    /// A domain on `device` (any device the provider has, when `None`): one per reactor.
    fn open_domain(&self, device: Option<&str>) -> Result<Self::Domain>;
    /// Listens on `addr` (a local address of an RDMA device, and a port).
    fn listen_passive(&self, addr: SocketAddr) -> Result<Self::Listener>;
}

/// One protection domain + completion queue + notification channel, with the queue pairs and the
/// memory that use them (see the module docs). Owned by one thread; never blocks.
pub trait Domain: Send + 'static {
    type Request: ConnectRequest;
    type Bytes<'a>: DerefMut<Target = [u8]>
    where
        Self: 'a;

    // ---------------------------------------------------------------------------------- waiting
    /// The descriptors to watch for readability (completions; connection events).
    fn fds(&self) -> Vec<RawFd>;
    /// Before sleeping: asks to be notified of the next completion or event. Returns `false` when
    /// something is ready already (poll instead of sleeping).
    fn arm(&mut self) -> Result<bool>;
    /// A watched descriptor became readable: take its notifications so it goes quiet until the next
    /// [`Domain::arm`]. The completions and events themselves stay for `poll`/`poll_event`.
    fn clear(&mut self) -> Result<()>;
    /// When the domain next needs attention without a descriptor telling (a software flush after a
    /// disconnect, a delayed completion in tests), if ever.
    fn deadline(&self) -> Option<Instant>;

    // ----------------------------------------------------------------------------------- memory
    /// Registers `len` zeroed bytes that the domain owns (receive and send rings).
    fn register(&mut self, len: usize, access: Access) -> Result<RegionId>;
    /// Deregisters an idle region and frees its memory.
    fn deregister(&mut self, region: RegionId) -> Result<()>;
    /// Borrows an idle region's bytes.
    fn bytes(&mut self, region: RegionId) -> Result<Self::Bytes<'_>>;
    /// The region-wide rkey of a region registered with remote access, valid on `qp`: `len` bytes
    /// at `offset`. For benchmarks and conformance tests; SMB Direct grants windows instead.
    fn remote_key(&mut self, qp: QpId, region: RegionId, offset: usize, len: usize) -> Result<RemoteKey>;
    /// An SGE naming `len` bytes at `offset` of a lease. Its pool's batches are registered with the
    /// domain (with `LOCAL_WRITE | MW_BIND`) the first time they are seen, never per I/O.
    fn lease_sge(&mut self, lease: &iobuf::Lease, offset: usize, len: usize) -> Result<Sge>;

    // ------------------------------------------------------------------------------ connections
    /// Accepts a request on this domain: creates the queue pair, posts nothing, answers with
    /// `private_data`. `Established` (or `Failed`) follows as an event.
    fn accept(&mut self, req: Self::Request, opts: EndpointOptions, private_data: &[u8]) -> Result<QpId>;
    /// Starts connecting to `addr`; resolution and the handshake proceed through events, ending in
    /// `Established` or `Failed` (after `timeout_ms` at most per step).
    fn connect(
        &mut self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout_ms: u32,
    ) -> Result<QpId>;
    /// Starts a disconnect; `Disconnected` follows, and everything outstanding flushes.
    fn disconnect(&mut self, qp: QpId) -> Result<()>;
    /// Destroys a queue pair: its outstanding work requests are dropped (their completions never
    /// come) and its windows invalidated; the id becomes stale. Disconnects first if needed.
    fn destroy(&mut self, qp: QpId) -> Result<()>;
    /// The initiator depth (outgoing RDMA READs at once) the connection settled, once established.
    fn initiator_depth(&self, qp: QpId) -> Result<u8>;
    /// The peer's address, when known.
    fn peer_addr(&self, qp: QpId) -> Result<Option<SocketAddr>>;

    // ------------------------------------------------------------------------------------- work
    /// Posts send-queue work requests in order; all are checked first (none posted on a check
    /// error).
    fn post_send(&mut self, qp: QpId, wrs: &[SendWr<'_>]) -> Result<()>;
    /// Posts receive work requests in order, checked like [`Domain::post_send`].
    fn post_recv(&mut self, qp: QpId, wrs: &[RecvWr<'_>]) -> Result<()>;
    /// Grants the peer `access` to exactly `len` bytes at `offset` of `region` through a new memory
    /// window whose rkey the peer's SEND_WITH_INVALIDATE or a local invalidate revokes. A send-queue
    /// work request: its completion (BIND_MW) carries `wr_id`.
    fn bind_window(&mut self, qp: QpId, wr_id: u64, sge: Sge, access: Access) -> Result<RemoteKey>;
    /// Moves up to `out.len()` completions of any queue pair into `out`; returns how many.
    fn poll(&mut self, out: &mut [QpCompletion]) -> Result<usize>;
    /// The next connection event, if any.
    fn poll_event(&mut self) -> Result<Option<(QpId, QpEvent)>>;
    /// Work requests of `qp` posted and not yet polled.
    fn in_flight(&self, qp: QpId) -> usize;
}
