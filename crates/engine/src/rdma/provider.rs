//! The RDMA provider as the engine holds it: object-safe views of `rdma_verbs`' [`DomainProvider`],
//! [`Domain`] and [`PassiveListener`], so that the engine (and everything built on it) is not generic
//! over the provider. The verbs provider (real devices) and the loopback provider (tests) both come
//! through here; a call through a vtable costs nothing next to a work request.

use std::any::Any;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::Instant;

use rdma_verbs::{
    Access, ConnectRequest, Domain, DomainProvider, EndpointOptions, PassiveListener, QpCompletion, QpEvent,
    QpId, RecvWr, RemoteKey, SendWr, Sge,
};

/// Opens per-reactor domains and listeners (see `rdma_verbs::DomainProvider`).
pub trait RdmaProvider: Send + Sync + 'static {
    fn open_domain(&self, device: Option<&str>) -> rdma_verbs::Result<Box<dyn DynDomain>>;
    fn listen(&self, addr: SocketAddr) -> rdma_verbs::Result<Box<dyn DynListener>>;
}

impl<P: DomainProvider> RdmaProvider for P {
    fn open_domain(&self, device: Option<&str>) -> rdma_verbs::Result<Box<dyn DynDomain>> {
        Ok(Box::new(DomainProvider::open_domain(self, device)?))
    }

    fn listen(&self, addr: SocketAddr) -> rdma_verbs::Result<Box<dyn DynListener>> {
        Ok(Box::new(self.listen_passive(addr)?))
    }
}

/// A connection request on its way from the acceptor to a reactor.
pub trait DynRequest: Send {
    fn peer_addr(&self) -> Option<SocketAddr>;
    fn device(&self) -> Option<String>;
    fn reject(self: Box<Self>);
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

impl<R: ConnectRequest> DynRequest for R {
    fn peer_addr(&self) -> Option<SocketAddr> {
        ConnectRequest::peer_addr(self)
    }

    fn device(&self) -> Option<String> {
        ConnectRequest::device(self)
    }

    fn reject(self: Box<Self>) {
        ConnectRequest::reject(*self)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// An fd-driven RDMA listener.
pub trait DynListener: Send {
    fn fd(&self) -> RawFd;
    fn try_accept(&mut self) -> rdma_verbs::Result<Option<Box<dyn DynRequest>>>;
    fn local_addr(&self) -> SocketAddr;
}

impl<L: PassiveListener> DynListener for L {
    fn fd(&self) -> RawFd {
        PassiveListener::fd(self)
    }

    fn try_accept(&mut self) -> rdma_verbs::Result<Option<Box<dyn DynRequest>>> {
        Ok(PassiveListener::try_accept(self)?.map(|r| Box::new(r) as Box<dyn DynRequest>))
    }

    fn local_addr(&self) -> SocketAddr {
        PassiveListener::local_addr(self)
    }
}

/// One reactor's domain (see `rdma_verbs::Domain`); region bytes are not reachable through it:
/// the engine keeps all its memory in pool leases.
pub trait DynDomain: Send {
    fn fds(&self) -> Vec<RawFd>;
    fn arm(&mut self) -> rdma_verbs::Result<bool>;
    fn clear(&mut self) -> rdma_verbs::Result<()>;
    fn deadline(&self) -> Option<Instant>;
    fn lease_sge(&mut self, lease: &iobuf::Lease, offset: usize, len: usize) -> rdma_verbs::Result<Sge>;
    fn accept(
        &mut self,
        req: Box<dyn DynRequest>,
        opts: EndpointOptions,
        private_data: &[u8],
    ) -> rdma_verbs::Result<QpId>;
    fn connect(
        &mut self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout_ms: u32,
    ) -> rdma_verbs::Result<QpId>;
    fn disconnect(&mut self, qp: QpId) -> rdma_verbs::Result<()>;
    fn destroy(&mut self, qp: QpId) -> rdma_verbs::Result<()>;
    fn initiator_depth(&self, qp: QpId) -> rdma_verbs::Result<u8>;
    fn peer_addr(&self, qp: QpId) -> rdma_verbs::Result<Option<SocketAddr>>;
    fn post_send(&mut self, qp: QpId, wrs: &[SendWr<'_>]) -> rdma_verbs::Result<()>;
    fn post_recv(&mut self, qp: QpId, wrs: &[RecvWr<'_>]) -> rdma_verbs::Result<()>;
    fn bind_window(
        &mut self,
        qp: QpId,
        wr_id: u64,
        sge: Sge,
        access: Access,
    ) -> rdma_verbs::Result<RemoteKey>;
    fn poll(&mut self, out: &mut [QpCompletion]) -> rdma_verbs::Result<usize>;
    fn poll_event(&mut self) -> rdma_verbs::Result<Option<(QpId, QpEvent)>>;
    fn in_flight(&self, qp: QpId) -> usize;
}

impl<D: Domain> DynDomain for D {
    fn fds(&self) -> Vec<RawFd> {
        Domain::fds(self)
    }
    fn arm(&mut self) -> rdma_verbs::Result<bool> {
        Domain::arm(self)
    }
    fn clear(&mut self) -> rdma_verbs::Result<()> {
        Domain::clear(self)
    }
    fn deadline(&self) -> Option<Instant> {
        Domain::deadline(self)
    }
    fn lease_sge(&mut self, lease: &iobuf::Lease, offset: usize, len: usize) -> rdma_verbs::Result<Sge> {
        Domain::lease_sge(self, lease, offset, len)
    }
    fn accept(
        &mut self,
        req: Box<dyn DynRequest>,
        opts: EndpointOptions,
        private_data: &[u8],
    ) -> rdma_verbs::Result<QpId> {
        match req.into_any().downcast::<D::Request>() {
            Ok(req) => Domain::accept(self, *req, opts, private_data),
            Err(_) => Err(rdma_verbs::Error::NoDevice("a request from another provider".into())),
        }
    }
    fn connect(
        &mut self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout_ms: u32,
    ) -> rdma_verbs::Result<QpId> {
        Domain::connect(self, addr, opts, private_data, timeout_ms)
    }
    fn disconnect(&mut self, qp: QpId) -> rdma_verbs::Result<()> {
        Domain::disconnect(self, qp)
    }
    fn destroy(&mut self, qp: QpId) -> rdma_verbs::Result<()> {
        Domain::destroy(self, qp)
    }
    fn initiator_depth(&self, qp: QpId) -> rdma_verbs::Result<u8> {
        Domain::initiator_depth(self, qp)
    }
    fn peer_addr(&self, qp: QpId) -> rdma_verbs::Result<Option<SocketAddr>> {
        Domain::peer_addr(self, qp)
    }
    fn post_send(&mut self, qp: QpId, wrs: &[SendWr<'_>]) -> rdma_verbs::Result<()> {
        Domain::post_send(self, qp, wrs)
    }
    fn post_recv(&mut self, qp: QpId, wrs: &[RecvWr<'_>]) -> rdma_verbs::Result<()> {
        Domain::post_recv(self, qp, wrs)
    }
    fn bind_window(
        &mut self,
        qp: QpId,
        wr_id: u64,
        sge: Sge,
        access: Access,
    ) -> rdma_verbs::Result<RemoteKey> {
        Domain::bind_window(self, qp, wr_id, sge, access)
    }
    fn poll(&mut self, out: &mut [QpCompletion]) -> rdma_verbs::Result<usize> {
        Domain::poll(self, out)
    }
    fn poll_event(&mut self) -> rdma_verbs::Result<Option<(QpId, QpEvent)>> {
        Domain::poll_event(self)
    }
    fn in_flight(&self, qp: QpId) -> usize {
        Domain::in_flight(self, qp)
    }
}
