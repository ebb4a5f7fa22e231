//! The provider interface the SMB Direct layer programs against.
//!
//! A [`Provider`] makes connections; a connected [`Endpoint`] is one reliable-connected queue
//! pair with its own completion queue and registered regions. Two implementations: the verbs
//! provider (real devices, feature `rdma`) and the in-process [`crate::loopback`] provider.

use crate::completion::Completion;
use crate::error::Result;
use crate::region::RegionId;
use crate::work_request::{RecvWr, RemoteKey, SendWr};
use crate::{Access, CmState};
use std::net::SocketAddr;
use std::ops::DerefMut;
use std::time::Duration;

/// Most private data `connect` carries (RDMA CM over IB/RoCE: 56 bytes, `rdma_connect(3)`).
pub const MAX_CONNECT_PRIVATE_DATA: usize = 56;
/// Most private data `accept` carries (196 bytes, `rdma_accept(3)`).
pub const MAX_ACCEPT_PRIVATE_DATA: usize = 196;

/// The RDMA CM's private-data bound for `what` ("connect" or "accept"), checked the same way by
/// every provider.
pub(crate) fn check_private_data(what: &'static str, private_data: &[u8], max: usize) -> crate::Result<()> {
    if private_data.len() > max {
        return Err(crate::Error::PrivateDataTooLong { what, len: private_data.len(), max });
    }
    Ok(())
}

/// Sizes and RDMA READ depths of an endpoint's queue pair.
#[derive(Clone, Copy, Debug)]
pub struct EndpointOptions {
    /// Send-queue work requests in flight at most.
    pub max_send_wr: u32,
    /// Receive work requests posted at most.
    pub max_recv_wr: u32,
    /// Incoming RDMA READs this side serves at once (`responder_resources`).
    pub responder_resources: u8,
    /// Outgoing RDMA READs this side has in flight at once (`initiator_depth`).
    pub initiator_depth: u8,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        Self { max_send_wr: 128, max_recv_wr: 128, responder_resources: 16, initiator_depth: 16 }
    }
}

/// Makes connections. Cheap to clone where the implementation allows.
pub trait Provider {
    type Endpoint: Endpoint;
    type Listener: Listener<Endpoint = Self::Endpoint>;

    /// Starts listening on `addr` (a local IP address of an RDMA device and a port).
    fn listen(&self, addr: SocketAddr, opts: EndpointOptions) -> Result<Self::Listener>;

    /// Connects to a listener, sending `private_data` (at most [`MAX_CONNECT_PRIVATE_DATA`]).
    fn connect(
        &self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout: Duration,
    ) -> Result<Self::Endpoint>;
}

/// The passive side: hands out one endpoint per accepted connection.
pub trait Listener {
    type Endpoint: Endpoint;

    /// Waits for a connection request and accepts it, replying with `private_data` (at most
    /// [`MAX_ACCEPT_PRIVATE_DATA`]). The requester's private data is the endpoint's
    /// [`Endpoint::peer_private_data`].
    fn accept(&mut self, private_data: &[u8], timeout: Duration) -> Result<Self::Endpoint>;
}

/// One connected queue pair with its completion queue and registered memory.
///
/// Ownership: regions belong to the endpoint and are named by [`RegionId`]; a region cannot be
/// deregistered, nor its bytes borrowed, while a posted work request references it. Dropping the
/// endpoint destroys the queue pair before any memory is freed.
pub trait Endpoint: Send {
    /// The bytes of a region, borrowed while no work request uses it.
    type Bytes<'a>: DerefMut<Target = [u8]>
    where
        Self: 'a;

    /// Registers `len` zeroed bytes with `access`.
    fn register(&mut self, len: usize, access: Access) -> Result<RegionId>;
    /// Deregisters an idle region and frees its memory.
    fn deregister(&mut self, region: RegionId) -> Result<()>;
    /// Borrows an idle region's bytes. The peer may still write a range this side advertised:
    /// the protocol, not the type system, orders those writes (as on any RDMA device).
    fn bytes(&mut self, region: RegionId) -> Result<Self::Bytes<'_>>;
    /// The region-wide rkey of a region registered with remote access: `len` bytes at `offset`.
    fn remote_key(&mut self, region: RegionId, offset: usize, len: usize) -> Result<RemoteKey>;
    /// Grants the peer `access` to just `len` bytes at `offset` through a new memory window whose
    /// rkey can be invalidated (by the peer's SEND_WITH_INVALIDATE or a local invalidate). The
    /// bind is a send-queue work request: its completion (opcode BIND_MW) carries `wr_id`.
    fn bind_window(
        &mut self,
        wr_id: u64,
        region: RegionId,
        offset: usize,
        len: usize,
        access: Access,
    ) -> Result<RemoteKey>;

    /// Posts send-queue work requests in order. All are checked first: on a check error none is posted.
    fn post_send(&mut self, wrs: &[SendWr<'_>]) -> Result<()>;
    /// Posts receive work requests in order, checked like [`Endpoint::post_send`].
    fn post_recv(&mut self, wrs: &[RecvWr<'_>]) -> Result<()>;
    /// Moves up to `out.len()` completions into `out`; returns how many. Never blocks, never allocates.
    fn poll(&mut self, out: &mut [Completion]) -> Result<usize>;
    /// Blocks until a completion may be ready or the connection changed state, or `timeout`
    /// passed (returns `false` then). The adaptive and interrupt poll modes sleep here.
    fn wait(&mut self, timeout: Duration) -> Result<bool>;

    /// Disconnects: every outstanding work request on both sides completes with WR_FLUSH_ERR.
    fn disconnect(&mut self) -> Result<()>;
    /// Where the connection is; `Disconnected` once either side disconnected.
    fn state(&mut self) -> CmState;
    /// The private data the peer sent when connecting or accepting. On IB/RoCE the connection
    /// manager pads it to its fixed field size, so it may be longer than what the peer sent.
    fn peer_private_data(&self) -> &[u8];
    /// Work requests posted and not yet polled.
    fn in_flight(&self) -> usize;
}

/// Polls until `n` completions arrived or `timeout` passed, waiting in between.
pub fn poll_n<E: Endpoint + ?Sized>(
    ep: &mut E,
    out: &mut [Completion],
    n: usize,
    timeout: Duration,
) -> Result<usize> {
    let deadline = std::time::Instant::now() + timeout;
    let mut got = 0;
    while got < n {
        let k = ep.poll(&mut out[got..n])?;
        got += k;
        if got >= n {
            break;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            break;
        }
        if k == 0 {
            ep.wait((deadline - now).min(Duration::from_millis(50)))?;
        }
    }
    Ok(got)
}
