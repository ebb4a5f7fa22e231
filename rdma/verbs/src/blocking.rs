//! Blocking endpoints over any [`DomainProvider`]: each [`DomainEndpoint`] is a domain with one queue
//! pair, waiting in poll(2) on the domain's descriptors. This is how tools (`rdma-bench`,
//! `rdma-conformance`) and tests use the same domain code a reactor drives, so the conformance suite
//! checks the domain implementations themselves.

use crate::completion::Completion;
use crate::domain::{ConnectRequest, Domain, DomainProvider, PassiveListener, QpCompletion, QpEvent, QpId};
use crate::error::{Error, Result};
use crate::provider::{Endpoint, EndpointOptions, Listener, Provider};
use crate::region::RegionId;
use crate::work_request::{RecvWr, RemoteKey, SendWr, Sge};
use crate::{Access, CmState};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::{Duration, Instant};

/// A [`DomainProvider`] used through the blocking [`Provider`] interface.
#[derive(Clone, Debug, Default)]
pub struct Blocking<P>(pub P);

/// A listener whose `accept` blocks (see [`Blocking`]).
pub struct BlockingListener<P: DomainProvider> {
    provider: P,
    listener: P::Listener,
    opts: EndpointOptions,
}

/// One queue pair on a domain of its own, used blockingly (see the module docs).
pub struct DomainEndpoint<D: Domain> {
    domain: D,
    qp: QpId,
    state: CmState,
    peer_private_data: Vec<u8>,
    /// Polled from the domain and not yet handed out.
    pending: VecDeque<Completion>,
    /// Polls that found nothing, so a caller that only polls still sees a disconnect now and then.
    empty_polls: u32,
}

/// Empty polls between two looks at the connection events (a syscall on a device).
const EVENTS_EVERY: u32 = 1024;

/// Waits until one of `fds` is readable or `timeout` passes; returns whether one was.
pub(crate) fn wait_readable(fds: &[RawFd], timeout: Duration) -> Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    // SAFETY: the descriptors belong to a domain or listener that outlives this call (the caller
    // borrows it for the call's duration), so they stay open while polled.
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|&fd| unsafe { BorrowedFd::borrow_raw(fd) }).collect();
    let mut pfds: Vec<PollFd<'_>> = borrowed.iter().map(|fd| PollFd::new(fd, PollFlags::IN)).collect();
    let ts = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: timeout.subsec_nanos() as i64 };
    match poll(&mut pfds, Some(&ts)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(Error::Verb { verb: "poll", args: format!("fds {fds:?}"), source: e.into() }),
    }
}

impl<P: DomainProvider> Provider for Blocking<P> {
    type Endpoint = DomainEndpoint<P::Domain>;
    type Listener = BlockingListener<P>;

    fn listen(&self, addr: SocketAddr, opts: EndpointOptions) -> Result<BlockingListener<P>> {
        Ok(BlockingListener { provider: self.0.clone(), listener: self.0.listen_passive(addr)?, opts })
    }

    fn connect(
        &self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout: Duration,
    ) -> Result<DomainEndpoint<P::Domain>> {
        let deadline = Instant::now() + timeout;
        let mut domain = self.0.open_domain(None)?;
        let ms = timeout.as_millis().clamp(1, u32::MAX as u128) as u32;
        let qp = domain.connect(addr, opts, private_data, ms)?;
        DomainEndpoint::establish(domain, qp, deadline, addr)
    }
}

impl<P: DomainProvider> BlockingListener<P> {
    /// Waits for the next connect request.
    fn next_request(&mut self, timeout: Duration) -> Result<<P::Listener as PassiveListener>::Request> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(req) = self.listener.try_accept()? {
                return Ok(req);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout { after: timeout, what: "a connect request" });
            }
            wait_readable(&[self.listener.fd()], left)?;
        }
    }

    /// Accepts the next request as a second (third, ...) queue pair on `ep`'s domain and waits
    /// until it is established; returns it and the requester's private data. Its completions and
    /// events are the caller's to take from [`DomainEndpoint::domain`].
    pub fn accept_into(
        &mut self,
        ep: &mut DomainEndpoint<P::Domain>,
        private_data: &[u8],
        timeout: Duration,
    ) -> Result<(QpId, Vec<u8>)> {
        let deadline = Instant::now() + timeout;
        let req = self.next_request(timeout)?;
        let addr = req.peer_addr().unwrap_or_else(|| self.listener.local_addr());
        let qp = ep.domain.accept(req, self.opts, private_data)?;
        let data = ep.await_established(qp, deadline, addr)?;
        Ok((qp, data))
    }
}

impl<P: DomainProvider> Listener for BlockingListener<P> {
    type Endpoint = DomainEndpoint<P::Domain>;

    fn accept(&mut self, private_data: &[u8], timeout: Duration) -> Result<DomainEndpoint<P::Domain>> {
        let deadline = Instant::now() + timeout;
        let req = self.next_request(timeout)?;
        let addr = req.peer_addr().unwrap_or_else(|| self.listener.local_addr());
        let mut domain = match self.provider.open_domain(req.device().as_deref()) {
            Ok(d) => d,
            Err(e) => {
                req.reject();
                return Err(e);
            }
        };
        let qp = domain.accept(req, self.opts, private_data)?;
        DomainEndpoint::establish(domain, qp, deadline, addr)
    }
}

/// Waits for `qp`'s `Established` (or `Failed`) event on `domain`; returns the peer's private
/// data. Events of other queue pairs go to `other`.
fn await_established<D: Domain>(
    domain: &mut D,
    qp: QpId,
    deadline: Instant,
    addr: SocketAddr,
    mut other: impl FnMut(QpId, QpEvent),
) -> Result<Vec<u8>> {
    loop {
        while let Some((id, ev)) = domain.poll_event()? {
            if id != qp {
                other(id, ev);
                continue;
            }
            match ev {
                QpEvent::Established { private_data } => return Ok(private_data),
                QpEvent::Failed { timed_out: true, .. } => {
                    return Err(Error::Timeout { after: Duration::ZERO, what: "connection establishment" })
                }
                QpEvent::Failed { reason, .. } => return Err(Error::ConnectFailed { addr, reason }),
                QpEvent::Disconnected => {
                    return Err(Error::ConnectFailed { addr, reason: "disconnected while connecting".into() })
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = domain.destroy(qp);
            return Err(Error::Timeout { after: Duration::ZERO, what: "connection establishment" });
        }
        if domain.arm()? {
            let until = domain.deadline().map_or(deadline, |d| d.min(deadline));
            wait_readable(&domain.fds(), until.saturating_duration_since(now))?;
        }
        domain.clear()?;
    }
}

impl<D: Domain> DomainEndpoint<D> {
    /// Waits for the queue pair's `Established` (or `Failed`) event.
    fn establish(mut domain: D, qp: QpId, deadline: Instant, addr: SocketAddr) -> Result<Self> {
        let result = await_established(&mut domain, qp, deadline, addr, |_, _| {});
        if result.is_err() {
            let _ = domain.destroy(qp);
        }
        Ok(DomainEndpoint {
            domain,
            qp,
            state: CmState::Established,
            peer_private_data: result?,
            pending: VecDeque::new(),
            empty_polls: 0,
        })
    }

    /// Waits for another queue pair of this endpoint's domain to be established; events of the
    /// endpoint's own queue pair are taken as usual meanwhile.
    fn await_established(&mut self, qp: QpId, deadline: Instant, addr: SocketAddr) -> Result<Vec<u8>> {
        let (own, state) = (self.qp, &mut self.state);
        let result = await_established(&mut self.domain, qp, deadline, addr, |id, ev| {
            if id == own && ev == QpEvent::Disconnected {
                *state = CmState::Disconnected;
            }
        });
        if result.is_err() {
            let _ = self.domain.destroy(qp);
        }
        result
    }

    /// Connects a second (third, ...) queue pair on this endpoint's domain and waits until it is
    /// established; returns it and the acceptor's private data. Its completions and events are
    /// the caller's to take from [`Self::domain`] (the endpoint's `poll` and `wait` skip them).
    pub fn connect_another(
        &mut self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout: Duration,
    ) -> Result<(QpId, Vec<u8>)> {
        let deadline = Instant::now() + timeout;
        let ms = timeout.as_millis().clamp(1, u32::MAX as u128) as u32;
        let qp = self.domain.connect(addr, opts, private_data, ms)?;
        let data = self.await_established(qp, deadline, addr)?;
        Ok((qp, data))
    }

    /// The domain underneath (for tests that reach past the endpoint, e.g. loopback faults).
    pub fn domain(&mut self) -> &mut D {
        &mut self.domain
    }

    pub fn qp(&self) -> QpId {
        self.qp
    }

    fn process_events(&mut self) -> Result<()> {
        while let Some((id, ev)) = self.domain.poll_event()? {
            if id == self.qp && ev == QpEvent::Disconnected {
                self.state = CmState::Disconnected;
            }
        }
        Ok(())
    }

    fn take_completions(&mut self) -> Result<()> {
        let mut buf = [QpCompletion::default(); 32];
        loop {
            let n = self.domain.poll(&mut buf)?;
            self.pending.extend(buf[..n].iter().filter(|c| c.qp == Some(self.qp)).map(|c| c.completion));
            if n < buf.len() {
                return Ok(());
            }
        }
    }
}

impl<D: Domain> Endpoint for DomainEndpoint<D> {
    type Bytes<'a>
        = D::Bytes<'a>
    where
        D: 'a;

    fn register(&mut self, len: usize, access: Access) -> Result<RegionId> {
        self.domain.register(len, access)
    }

    fn deregister(&mut self, region: RegionId) -> Result<()> {
        self.domain.deregister(region)
    }

    fn bytes(&mut self, region: RegionId) -> Result<D::Bytes<'_>> {
        self.domain.bytes(region)
    }

    fn remote_key(&mut self, region: RegionId, offset: usize, len: usize) -> Result<RemoteKey> {
        self.domain.remote_key(self.qp, region, offset, len)
    }

    fn bind_window(
        &mut self,
        wr_id: u64,
        region: RegionId,
        offset: usize,
        len: usize,
        access: Access,
    ) -> Result<RemoteKey> {
        self.domain.bind_window(self.qp, wr_id, Sge::new(region, offset, len), access)
    }

    fn post_send(&mut self, wrs: &[SendWr<'_>]) -> Result<()> {
        self.domain.post_send(self.qp, wrs)
    }

    fn post_recv(&mut self, wrs: &[RecvWr<'_>]) -> Result<()> {
        self.domain.post_recv(self.qp, wrs)
    }

    fn poll(&mut self, out: &mut [Completion]) -> Result<usize> {
        if self.pending.len() < out.len() {
            self.take_completions()?;
        }
        let n = out.len().min(self.pending.len());
        for (slot, c) in out.iter_mut().zip(self.pending.drain(..n)) {
            *slot = c;
        }
        if n == 0 {
            // A peer's disconnect is an event: taking it is what makes the device flush.
            self.empty_polls = self.empty_polls.wrapping_add(1);
            if self.empty_polls.is_multiple_of(EVENTS_EVERY) {
                self.process_events()?;
            }
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        if !self.pending.is_empty() {
            return Ok(true);
        }
        let ready = if self.domain.arm()? {
            let t = match self.domain.deadline() {
                Some(d) => timeout.min(d.saturating_duration_since(Instant::now())),
                None => timeout,
            };
            wait_readable(&self.domain.fds(), t)?
        } else {
            true
        };
        self.domain.clear()?;
        self.process_events()?;
        self.take_completions()?;
        Ok(ready && !self.pending.is_empty() || self.state == CmState::Disconnected)
    }

    fn disconnect(&mut self) -> Result<()> {
        self.process_events()?;
        if self.state == CmState::Disconnected {
            return Ok(());
        }
        self.domain.disconnect(self.qp)
    }

    fn state(&mut self) -> CmState {
        let _ = self.process_events();
        self.state
    }

    fn peer_private_data(&self) -> &[u8] {
        &self.peer_private_data
    }

    fn in_flight(&self) -> usize {
        self.domain.in_flight(self.qp)
    }
}
