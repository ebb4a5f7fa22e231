//! The loopback provider as a [`Domain`]: many queue pairs (each one side of an in-process
//! [`Link`]), one region table, one wake-up descriptor for all of them. A reactor drives it exactly
//! as it drives the verbs domain, so the engine's RDMA path runs under `cargo test`.

use super::endpoint::{Faults, LoopbackBytes};
use super::link::{Key, Link, Op, Seg};
use super::mem::Mem;
use super::notify::Notifier;
use super::{Fabric, ListenerEntry, Request};
use crate::completion::{Completion, WcOpcode, WcStatus};
use crate::domain::{ConnectRequest, Domain, PassiveListener, QpCompletion, QpEvent, QpId};
use crate::error::{Error, Result};
use crate::provider::{EndpointOptions, MAX_ACCEPT_PRIVATE_DATA, MAX_CONNECT_PRIVATE_DATA};
use crate::region::{check_sges, Queue, RegionId, RegionTable, WrSlots};
use crate::work_request::{RecvWr, RemoteKey, SendOp, SendWr, Sge};
use crate::Access;
use iobuf::AlignedBuf;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// An accepted link, the acceptor's private data and the RDMA READs it serves at once.
type Reply = (Arc<Link>, Vec<u8>, u8);

enum QpState {
    /// Waiting for the listener's side to accept, until the deadline.
    Connecting {
        reply: mpsc::Receiver<Reply>,
        deadline: Instant,
        got: Option<Reply>,
    },
    Established,
    /// `Disconnected` (or `Failed`) was reported.
    Done,
}

struct Qp {
    link: Option<Arc<Link>>,
    side: usize,
    slots: WrSlots,
    /// Bound windows by rkey, each holding its region busy until invalidated.
    windows: HashMap<u32, RegionId>,
    state: QpState,
    peer_addr: Option<SocketAddr>,
    initiator_depth: u8,
}

/// Loopback regions: owned memory or a pool batch.
pub(crate) struct DomRegion {
    mem: Mem,
    /// The region-wide rkey, once asked for ([`Domain::remote_key`]).
    rkey: Option<u32>,
}

/// Region-wide rkeys of domains start here, far from the windows' keys each link numbers from 0x1000.
const REGION_RKEY_BASE: u32 = 0x8000_0000;

/// One loopback "device domain" (see [`crate::domain`]). Made by [`Fabric::open_domain`].
pub struct LoopbackDomain {
    fabric: Fabric,
    notifier: Arc<Notifier>,
    regions: RegionTable<DomRegion>,
    /// Pool batches registered so far: (pool, class, batch) -> region.
    batches: HashMap<(u64, u32, u32), RegionId>,
    qps: Vec<(u32, Option<Qp>)>,
    events: VecDeque<(QpId, QpEvent)>,
    /// Where the next poll starts, so one busy queue pair cannot hide the others.
    next: usize,
    /// The address connects from this domain appear to come from.
    local: Option<SocketAddr>,
    next_region_rkey: u32,
}

impl crate::domain::DomainProvider for Fabric {
    type Domain = LoopbackDomain;
    type Listener = LoopbackPassiveListener;

    fn open_domain(&self, _device: Option<&str>) -> Result<LoopbackDomain> {
        Fabric::open_domain(self)
    }

    fn listen_passive(&self, addr: SocketAddr) -> Result<LoopbackPassiveListener> {
        Fabric::listen_passive(self, addr)
    }
}

impl Fabric {
    /// A domain for one reactor: its queue pairs, memory and wake-up descriptor.
    pub fn open_domain(&self) -> Result<LoopbackDomain> {
        let notifier = Notifier::new().map_err(|e| Error::Verb {
            verb: "socketpair",
            args: "loopback notifier".into(),
            source: e,
        })?;
        Ok(LoopbackDomain {
            fabric: self.clone(),
            notifier: Arc::new(notifier),
            regions: RegionTable::new(),
            batches: HashMap::new(),
            qps: Vec::new(),
            events: VecDeque::new(),
            next: 0,
            local: None,
            next_region_rkey: REGION_RKEY_BASE,
        })
    }

    /// An fd-driven listener on `addr`: readable while requests wait.
    pub fn listen_passive(&self, addr: SocketAddr) -> Result<LoopbackPassiveListener> {
        let notifier = Arc::new(Notifier::new().map_err(|e| Error::Verb {
            verb: "socketpair",
            args: format!("listener {addr}"),
            source: e,
        })?);
        let mut map = self.listeners.lock().expect("fabric lock");
        if map.contains_key(&addr) {
            return Err(Error::AddrInUse(addr));
        }
        let (tx, rx) = mpsc::channel();
        map.insert(addr, ListenerEntry { requests: tx, notify: Some(notifier.clone()) });
        Ok(LoopbackPassiveListener { fabric: self.clone(), addr, requests: rx, notifier })
    }
}

/// A listening address of a [`Fabric`], for a thread that watches descriptors.
pub struct LoopbackPassiveListener {
    fabric: Fabric,
    addr: SocketAddr,
    requests: mpsc::Receiver<Request>,
    notifier: Arc<Notifier>,
}

/// A connection request to a loopback listener.
pub struct LoopbackRequest {
    req: Request,
}

impl ConnectRequest for LoopbackRequest {
    fn private_data(&self) -> &[u8] {
        &self.req.private_data
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.req.from
    }

    fn device(&self) -> Option<String> {
        Some("loopback".into())
    }

    fn reject(self) {
        // Dropping the reply sender fails the connector's wait; wake it to see that.
        let notify = self.req.notify.clone();
        drop(self);
        if let Some(n) = notify {
            n.signal();
        }
    }
}

impl PassiveListener for LoopbackPassiveListener {
    type Request = LoopbackRequest;

    fn fd(&self) -> RawFd {
        self.notifier.fd()
    }

    fn try_accept(&mut self) -> Result<Option<LoopbackRequest>> {
        self.notifier.clear();
        match self.requests.try_recv() {
            Ok(req) => {
                // More may wait: stay readable for them.
                self.notifier.signal();
                Ok(Some(LoopbackRequest { req }))
            }
            Err(_) => Ok(None),
        }
    }

    fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackPassiveListener {
    fn drop(&mut self) {
        if let Ok(mut map) = self.fabric.listeners.lock() {
            map.remove(&self.addr);
        }
    }
}

impl LoopbackDomain {
    /// Connects made from this domain name `addr` as their source (what the acceptor's
    /// `peer_addr` reports).
    pub fn set_local_addr(&mut self, addr: SocketAddr) {
        self.local = Some(addr);
    }

    /// Fault injection for one queue pair's side of its link (None until it is connected).
    pub fn faults(&self, qp: QpId) -> Option<Faults> {
        let q = self.qp(qp).ok()?;
        Some(Faults { link: q.link.clone()?, side: q.side })
    }

    fn qp(&self, id: QpId) -> Result<&Qp> {
        match self.qps.get(id.index as usize) {
            Some((g, Some(q))) if *g == id.generation => Ok(q),
            _ => Err(Error::UnknownQp(id)),
        }
    }

    fn insert(&mut self, qp: Qp) -> QpId {
        if let Some(index) = self.qps.iter().position(|(_, q)| q.is_none()) {
            let slot = &mut self.qps[index];
            slot.0 = slot.0.wrapping_add(1);
            slot.1 = Some(qp);
            return QpId { index: index as u32, generation: slot.0 };
        }
        self.qps.push((0, Some(qp)));
        QpId { index: self.qps.len() as u32 - 1, generation: 0 }
    }

    fn new_qp(opts: EndpointOptions, state: QpState, peer_addr: Option<SocketAddr>) -> Qp {
        Qp {
            link: None,
            side: 0,
            slots: WrSlots::new(opts.max_send_wr as usize, opts.max_recv_wr as usize),
            windows: HashMap::new(),
            state,
            peer_addr,
            initiator_depth: opts.initiator_depth,
        }
    }

    fn segs(regions: &RegionTable<DomRegion>, sges: &[Sge]) -> Vec<Seg> {
        sges.iter()
            .map(|s| Seg {
                mem: regions.get(s.region).expect("checked before posting").inner.mem.clone(),
                offset: s.offset,
                len: s.len,
            })
            .collect()
    }

    /// Looks at connecting queue pairs and links that went down; queues their events.
    fn scan(&mut self) {
        let now = Instant::now();
        for (index, (generation, slot)) in self.qps.iter_mut().enumerate() {
            let Some(q) = slot else { continue };
            let id = QpId { index: index as u32, generation: *generation };
            match &mut q.state {
                QpState::Connecting { reply, deadline, got } => {
                    if got.is_none() {
                        match reply.try_recv() {
                            Ok(r) => *got = Some(r),
                            Err(mpsc::TryRecvError::Empty) if now < *deadline => continue,
                            Err(mpsc::TryRecvError::Empty) => {
                                q.state = QpState::Done;
                                self.events.push_back((
                                    id,
                                    QpEvent::Failed { reason: "timed out".into(), timed_out: true },
                                ));
                                continue;
                            }
                            Err(mpsc::TryRecvError::Disconnected) => {
                                q.state = QpState::Done;
                                let reason = "REJECTED".to_string();
                                self.events.push_back((id, QpEvent::Failed { reason, timed_out: false }));
                                continue;
                            }
                        }
                    }
                    let Some((link, private_data, served)) = got.take() else { continue };
                    // Like the connection manager: issue no more RDMA READs than the peer serves.
                    q.initiator_depth = q.initiator_depth.min(served);
                    {
                        let mut st = link.lock();
                        st.sides[0].notify = Some(self.notifier.clone());
                    }
                    q.link = Some(link);
                    q.side = 0;
                    q.state = QpState::Established;
                    self.events.push_back((id, QpEvent::Established { private_data }));
                }
                QpState::Established => {
                    let down = q.link.as_ref().is_none_or(|l| !l.lock().connected);
                    if down {
                        q.state = QpState::Done;
                        self.events.push_back((id, QpEvent::Disconnected));
                    }
                }
                QpState::Done => {}
            }
        }
    }

    fn forget_window(regions: &mut RegionTable<DomRegion>, q: &mut Qp, rkey: u32) {
        if let Some(region) = q.windows.remove(&rkey) {
            if let Ok(e) = regions.get_mut(region) {
                e.in_flight = e.in_flight.saturating_sub(1);
            }
            if let Some(l) = &q.link {
                l.lock().sides[q.side].keys.remove(&rkey);
            }
        }
    }

    fn ready(&self, now: Instant) -> bool {
        !self.events.is_empty()
            || self.qps.iter().filter_map(|(_, q)| q.as_ref()).any(|q| match &q.state {
                QpState::Connecting { got, .. } => got.is_some(),
                QpState::Established => q.link.as_ref().is_some_and(|l| {
                    let st = l.lock();
                    !st.connected || st.has_ready(q.side, now)
                }),
                QpState::Done => q.link.as_ref().is_some_and(|l| l.lock().has_ready(q.side, now)),
            })
    }
}

fn qp_mut(qps: &mut [(u32, Option<Qp>)], id: QpId) -> Result<&mut Qp> {
    match qps.get_mut(id.index as usize) {
        Some((g, Some(q))) if *g == id.generation => Ok(q),
        _ => Err(Error::UnknownQp(id)),
    }
}

impl Domain for LoopbackDomain {
    type Request = LoopbackRequest;
    type Bytes<'a> = LoopbackBytes<'a>;

    fn fds(&self) -> Vec<RawFd> {
        vec![self.notifier.fd()]
    }

    fn arm(&mut self) -> Result<bool> {
        // Connect answers arrive on channels: move them where `ready` sees them.
        for (_, q) in self.qps.iter_mut() {
            if let Some(Qp { state: QpState::Connecting { reply, got: got @ None, .. }, .. }) = q {
                if let Ok(r) = reply.try_recv() {
                    *got = Some(r);
                }
            }
        }
        Ok(!self.ready(Instant::now()))
    }

    fn clear(&mut self) -> Result<()> {
        self.notifier.clear();
        Ok(())
    }

    fn deadline(&self) -> Option<Instant> {
        self.qps
            .iter()
            .filter_map(|(_, q)| q.as_ref())
            .filter_map(|q| match &q.state {
                QpState::Connecting { deadline, .. } => Some(*deadline),
                _ => q.link.as_ref().and_then(|l| l.lock().next_ready_at(q.side)),
            })
            .min()
    }

    fn register(&mut self, len: usize, access: Access) -> Result<RegionId> {
        let buf = AlignedBuf::zeroed(len)?;
        Ok(self.regions.insert(len, access, DomRegion { mem: Mem::owned(buf), rkey: None }))
    }

    fn deregister(&mut self, region: RegionId) -> Result<()> {
        if self.batches.values().any(|r| *r == region) {
            return Err(Error::BadLength {
                len: 0,
                why: "pool batches stay registered for the domain's life",
            });
        }
        self.regions.remove(region).map(drop)
    }

    fn bytes(&mut self, region: RegionId) -> Result<LoopbackBytes<'_>> {
        let e = self.regions.idle(region)?;
        match &e.inner.mem {
            Mem::Owned(m) => Ok(LoopbackBytes(m.lock().unwrap_or_else(|p| p.into_inner()))),
            Mem::Batch(_) => Err(Error::BadLength { len: 0, why: "a pool batch's bytes are its leases'" }),
        }
    }

    fn remote_key(&mut self, qp: QpId, region: RegionId, offset: usize, len: usize) -> Result<RemoteKey> {
        let e = self.regions.check(&Sge::new(region, offset, len), Access::NONE)?;
        if !e.access.is_remote() {
            let needs = Access::REMOTE_READ | Access::REMOTE_WRITE;
            return Err(Error::AccessDenied { region, has: e.access, needs });
        }
        let (access, region_len) = (e.access, e.len);
        let rkey = match e.inner.rkey {
            Some(k) => k,
            None => {
                self.next_region_rkey = self.next_region_rkey.wrapping_add(1);
                let k = self.next_region_rkey;
                self.regions.get_mut(region)?.inner.rkey = Some(k);
                k
            }
        };
        let mem = self.regions.get(region)?.inner.mem.clone();
        let base = mem.base();
        let q = qp_mut(&mut self.qps, qp)?;
        let Some(link) = &q.link else { return Err(Error::NotConnected(crate::CmState::Connecting)) };
        let key = Key { mem, addr: base, offset: 0, len: region_len, access, window: false, valid: true };
        link.lock().sides[q.side].keys.entry(rkey).or_insert(key);
        Ok(RemoteKey { addr: base + offset as u64, rkey, len: len as u64 })
    }

    fn lease_sge(&mut self, lease: &iobuf::Lease, offset: usize, len: usize) -> Result<Sge> {
        let loc = lease.location();
        let key = (loc.pool, loc.class, loc.batch);
        let region = match self.batches.get(&key) {
            Some(r) => *r,
            None => {
                let batch = lease.batch();
                let access = Access::LOCAL_WRITE | Access::MW_BIND;
                let r = self.regions.insert(
                    batch.len(),
                    access,
                    DomRegion { mem: Mem::Batch(batch), rkey: None },
                );
                self.batches.insert(key, r);
                r
            }
        };
        let end = offset.checked_add(len);
        if end.is_none_or(|e| e > lease.capacity()) {
            return Err(Error::OutOfBounds {
                region,
                offset: loc.offset + offset,
                end: end.map_or(usize::MAX, |e| loc.offset + e),
                len: loc.offset + lease.capacity(),
            });
        }
        Ok(Sge::new(region, loc.offset + offset, len))
    }

    fn accept(&mut self, req: LoopbackRequest, opts: EndpointOptions, private_data: &[u8]) -> Result<QpId> {
        crate::provider::check_private_data("accept", private_data, MAX_ACCEPT_PRIVATE_DATA)?;
        let LoopbackRequest { req } = req;
        let link = Arc::new(Link::new());
        {
            let mut st = link.lock();
            st.sides[1].notify = Some(self.notifier.clone());
            st.sides[0].notify = req.notify.clone();
        }
        // Serve no more RDMA READs than the requester issues, issue no more than it serves.
        let served = opts.responder_resources.min(req.initiator_depth);
        if req.reply.send((link.clone(), private_data.to_vec(), served)).is_err() {
            return Err(Error::ConnectFailed {
                addr: req.from.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
                reason: "the requester gave up".into(),
            });
        }
        if let Some(n) = &req.notify {
            n.signal();
        }
        let mut qp = Self::new_qp(opts, QpState::Established, req.from);
        qp.initiator_depth = qp.initiator_depth.min(req.responder_resources);
        qp.link = Some(link);
        qp.side = 1;
        let id = self.insert(qp);
        self.events.push_back((id, QpEvent::Established { private_data: req.private_data }));
        self.notifier.signal();
        Ok(id)
    }

    fn connect(
        &mut self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout_ms: u32,
    ) -> Result<QpId> {
        crate::provider::check_private_data("connect", private_data, MAX_CONNECT_PRIVATE_DATA)?;
        let (tx, rx) = mpsc::channel();
        let req = Request {
            private_data: private_data.to_vec(),
            responder_resources: opts.responder_resources,
            initiator_depth: opts.initiator_depth,
            reply: tx,
            notify: Some(self.notifier.clone()),
            from: self.local,
        };
        self.fabric.request(addr, req)?;
        let deadline = Instant::now() + Duration::from_millis(timeout_ms.into());
        let state = QpState::Connecting { reply: rx, deadline, got: None };
        Ok(self.insert(Self::new_qp(opts, state, Some(addr))))
    }

    fn disconnect(&mut self, qp: QpId) -> Result<()> {
        let q = qp_mut(&mut self.qps, qp)?;
        if let Some(l) = &q.link {
            l.lock().disconnect();
            l.cv.notify_all();
        }
        self.notifier.signal();
        Ok(())
    }

    fn destroy(&mut self, qp: QpId) -> Result<()> {
        let q = qp_mut(&mut self.qps, qp)?;
        let rkeys: Vec<u32> = q.windows.keys().copied().collect();
        for rkey in rkeys {
            Self::forget_window(&mut self.regions, q, rkey);
        }
        if let Some(link) = q.link.take() {
            let mut st = link.lock();
            st.disconnect();
            // The link must not reach this domain's memory or wake it any more.
            st.sides[q.side].keys.clear();
            st.sides[q.side].notify = None;
            drop(st);
            link.cv.notify_all();
        }
        // Work requests still counted against regions are dropped with the queue pair.
        for index in q.slots.outstanding() {
            q.slots.release(&mut self.regions, index);
        }
        self.qps[qp.index as usize].1 = None;
        self.events.retain(|(id, _)| *id != qp);
        Ok(())
    }

    fn initiator_depth(&self, qp: QpId) -> Result<u8> {
        Ok(self.qp(qp)?.initiator_depth)
    }

    fn peer_addr(&self, qp: QpId) -> Result<Option<SocketAddr>> {
        Ok(self.qp(qp)?.peer_addr)
    }

    fn post_send(&mut self, qp: QpId, wrs: &[SendWr<'_>]) -> Result<()> {
        let q = qp_mut(&mut self.qps, qp)?;
        for wr in wrs {
            let needs = match wr.op {
                SendOp::RdmaRead { .. } => Access::LOCAL_WRITE,
                _ => Access::NONE,
            };
            check_sges(&self.regions, wr.sges, needs)?;
        }
        q.slots.ensure_room(Queue::Send, wrs.len())?;
        let Some(link) = q.link.clone() else { return Err(Error::NotConnected(crate::CmState::Connecting)) };
        for wr in wrs {
            let (op, opcode, rkey) = match wr.op {
                SendOp::Send => (Op::Send { invalidate: None }, WcOpcode::SEND, None),
                SendOp::SendWithInvalidate { rkey } => {
                    (Op::Send { invalidate: Some(rkey) }, WcOpcode::SEND, None)
                }
                SendOp::RdmaWrite { remote } => (Op::Write { remote }, WcOpcode::RDMA_WRITE, None),
                SendOp::RdmaRead { remote } => (Op::Read { remote }, WcOpcode::RDMA_READ, None),
                SendOp::LocalInvalidate { rkey } => {
                    (Op::LocalInvalidate { rkey }, WcOpcode::LOCAL_INV, Some(rkey))
                }
            };
            let segs = Self::segs(&self.regions, wr.sges);
            let slot = q.slots.acquire(&mut self.regions, Queue::Send, wr.wr_id, opcode, wr.sges, rkey);
            let planned = self.fabric.plan.as_ref().and_then(|p| match wr.op {
                SendOp::Send | SendOp::SendWithInvalidate { .. } => p.check(super::FaultOn::Send),
                SendOp::RdmaWrite { .. } => p.check(super::FaultOn::RdmaWrite),
                SendOp::RdmaRead { .. } => p.check(super::FaultOn::RdmaRead),
                SendOp::LocalInvalidate { .. } => None,
            });
            let mut st = link.lock();
            match planned {
                Some(super::FaultAction::Fail(status)) => st.sides[q.side].faults.fail_next = Some(status),
                Some(super::FaultAction::Disconnect) => st.disconnect(),
                Some(super::FaultAction::DropCompletion) => st.sides[q.side].faults.drop_next += 1,
                None => {}
            }
            st.post_send(q.side, slot, op, &segs);
        }
        link.cv.notify_all();
        Ok(())
    }

    fn post_recv(&mut self, qp: QpId, wrs: &[RecvWr<'_>]) -> Result<()> {
        let q = qp_mut(&mut self.qps, qp)?;
        for wr in wrs {
            check_sges(&self.regions, wr.sges, Access::LOCAL_WRITE)?;
        }
        q.slots.ensure_room(Queue::Recv, wrs.len())?;
        let Some(link) = q.link.clone() else { return Err(Error::NotConnected(crate::CmState::Connecting)) };
        for wr in wrs {
            let segs = Self::segs(&self.regions, wr.sges);
            let slot =
                q.slots.acquire(&mut self.regions, Queue::Recv, wr.wr_id, WcOpcode::RECV, wr.sges, None);
            link.lock().post_recv(q.side, slot, segs);
        }
        link.cv.notify_all();
        Ok(())
    }

    fn bind_window(&mut self, qp: QpId, wr_id: u64, sge: Sge, access: Access) -> Result<RemoteKey> {
        let q = qp_mut(&mut self.qps, qp)?;
        self.regions.check(&sge, Access::MW_BIND)?;
        q.slots.ensure_room(Queue::Send, 1)?;
        let Some(link) = q.link.clone() else { return Err(Error::NotConnected(crate::CmState::Connecting)) };
        let mem = self.regions.get(sge.region)?.inner.mem.clone();
        let addr = mem.base() + sge.offset as u64;
        let slot = q.slots.acquire(&mut self.regions, Queue::Send, wr_id, WcOpcode::BIND_MW, &[sge], None);
        self.regions.get_mut(sge.region)?.in_flight += 1; // held by the window until invalidated
        let mut st = link.lock();
        let rkey = st.new_rkey();
        let key = Key { mem, addr, offset: sge.offset, len: sge.len, access, window: true, valid: true };
        st.sides[q.side].keys.insert(rkey, key);
        st.post_send(q.side, slot, Op::Bind, &[]);
        drop(st);
        q.windows.insert(rkey, sge.region);
        link.cv.notify_all();
        Ok(RemoteKey { addr, rkey, len: sge.len as u64 })
    }

    fn poll(&mut self, out: &mut [QpCompletion]) -> Result<usize> {
        let now = Instant::now();
        let count = self.qps.len();
        let mut n = 0;
        for k in 0..count {
            if n == out.len() {
                break;
            }
            let index = (self.next + k) % count;
            let (generation, slot) = &mut self.qps[index];
            let Some(q) = slot else { continue };
            let Some(link) = q.link.clone() else { continue };
            let id = QpId { index: index as u32, generation: *generation };
            while n < out.len() {
                let Some(c) = link.lock().pop(q.side, now) else { break };
                let s = q.slots.release(&mut self.regions, c.slot);
                let status = c.status.unwrap_or(WcStatus::GENERAL_ERR);
                // As on a device, an error completion's opcode comes from the request, not the wire.
                let opcode = if status.is_success() { c.opcode } else { s.opcode };
                if let Some(rkey) = c.invalidated_rkey {
                    Self::forget_window(&mut self.regions, q, rkey);
                }
                if c.opcode == WcOpcode::LOCAL_INV && status.is_success() {
                    if let Some(rkey) = s.rkey {
                        Self::forget_window(&mut self.regions, q, rkey);
                    }
                }
                out[n] = QpCompletion {
                    qp: Some(id),
                    completion: Completion {
                        wr_id: s.wr_id,
                        status,
                        opcode,
                        byte_len: c.byte_len,
                        invalidated_rkey: c.invalidated_rkey,
                    },
                };
                n += 1;
            }
        }
        self.next = if count == 0 { 0 } else { (self.next + 1) % count };
        Ok(n)
    }

    fn poll_event(&mut self) -> Result<Option<(QpId, QpEvent)>> {
        if self.events.is_empty() {
            self.scan();
        }
        Ok(self.events.pop_front())
    }

    fn in_flight(&self, qp: QpId) -> usize {
        self.qp(qp).map_or(0, |q| q.slots.in_flight())
    }
}

impl Drop for LoopbackDomain {
    fn drop(&mut self) {
        let ids: Vec<QpId> = self
            .qps
            .iter()
            .enumerate()
            .filter(|(_, (_, q))| q.is_some())
            .map(|(i, (g, _))| QpId { index: i as u32, generation: *g })
            .collect();
        for id in ids {
            let _ = self.destroy(id);
        }
    }
}
