//! The verbs provider as a [`Domain`]: one device context (as librdmacm opened it), protection
//! domain, completion queue and channel, and RDMA CM event channel, shared by every queue pair the
//! domain connects or accepts.
//!
//! Routing: the provider's wr_id of every work request is the queue pair's index and generation
//! and the request's slot in that queue pair's table ([`wr_id`]), so one `ibv_poll_cq` serves all
//! queue pairs and a completion of a destroyed queue pair is dropped, never misattributed. CM
//! events name their id; the domain finds its queue pair and feeds the event to that queue pair's
//! [`CmState`], so a surprise is a typed error (or a `Failed` event), not a hang.

use super::cm::{trace, trace_line, CmId, EventChannel, EventInfo};
use super::completion_queue::{CompletionChannel, CompletionQueue};
use super::device::{context_name, device_attr, DeviceContext};
use super::listener::VerbsRequest;
use super::memory_region::{Memory, MemoryRegion, MemoryWindow};
use super::protection_domain::ProtectionDomain;
use super::queue_pair::QueuePair;
use crate::completion::{Completion, WcOpcode, WcStatus};
use crate::domain::{Domain, QpCompletion, QpEvent, QpId};
use crate::error::{Error, Result};
use crate::provider::{
    check_private_data, EndpointOptions, MAX_ACCEPT_PRIVATE_DATA, MAX_CONNECT_PRIVATE_DATA,
};
use crate::region::{check_sges, Queue, RegionId, RegionTable, WrSlots, MAX_SGE};
use crate::work_request::{RecvWr, RemoteKey, SendOp, SendWr, Sge};
use crate::{Access, CmCall, CmEvent, CmState};
use rdma_core_sys as sys;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Completions taken from the CQ per `ibv_poll_cq` call.
const POLL_BATCH: usize = 32;
/// `IBV_WC_WITH_INV`: the receive carries the rkey the peer invalidated.
const WC_WITH_INV: u32 = 8;
/// The kernel's `IB_WC_WITH_INVALIDATE`. The rxe provider of rdma-core 44 copies the kernel's
/// completion flags through unchanged, so on rxe a remote invalidation shows as this bit (which
/// userspace calls `IBV_WC_IP_CSUM_OK`, never set on RC receives). Seen on Debian 12, kernel 6.1.
const KERNEL_WC_WITH_INVALIDATE: u32 = 4;
/// How long the device gets to flush outstanding work requests after a disconnect.
const FLUSH_GRACE: Duration = Duration::from_millis(500);
/// How long a destroyed queue pair's id waits for the peer to answer its disconnect (destroying an
/// id cancels the kernel's retransmissions of the disconnect request, so a lost one would leave the
/// peer connected forever); dropping the domain waits this long at most for all of them.
const DRAIN_ON_DROP: Duration = Duration::from_secs(2);
/// `RXE_VENDOR_ID`: the vendor id rdma_rxe reports.
const RXE_VENDOR_ID: u32 = 0xff_ffff;
/// Entries of a new domain's CQ; it grows (`ibv_resize_cq`) as queue pairs need more.
const INITIAL_CQE: u32 = 256;
/// Queue pairs a domain holds at most (their index takes 16 bits of the wr_id).
const MAX_QPS: usize = 1 << 16;
const ETIMEDOUT: i32 = 110;

/// The provider wr_id of slot `slot` of queue pair `qp`: slot in bits 0..32, queue pair index in
/// 32..48, the low 16 bits of its generation in 48..64.
fn wr_id(qp: QpId, slot: u32) -> u64 {
    u64::from(slot) | (u64::from(qp.index) << 32) | (u64::from(qp.generation & 0xffff) << 48)
}

/// Which queue pair a completion's wr_id names: (index, generation's low 16 bits, slot).
fn split_wr_id(wr_id: u64) -> (usize, u32, u32) {
    (((wr_id >> 32) & 0xffff) as usize, (wr_id >> 48) as u32, wr_id as u32)
}

/// One queue pair of the domain, with its connection. Fields drop in order: the windows first
/// (deallocating one revokes the peer's access through it and frees no memory; a type-2 window
/// still bound holds a reference on its queue pair, and rxe waits 50 s for it, then warns, when
/// the queue pair goes first), then the device's queue pair (after which the device touches none
/// of the memory its requests name), then the id.
struct Qp {
    /// Bound windows by rkey, each holding its region busy until invalidated.
    windows: HashMap<u32, (RegionId, MemoryWindow)>,
    qp: Option<QueuePair>,
    id: Arc<CmId>,
    slots: WrSlots,
    state: CmState,
    /// This side connected (rather than accepted).
    active: bool,
    /// The device's queue pair was destroyed by a software flush: posts complete with
    /// WR_FLUSH_ERR at once, as on a queue pair in the error state.
    flushed: bool,
    send: u32,
    recv: u32,
    responder_resources: u8,
    initiator_depth: u8,
    /// Active side: what `rdma_connect` sends. Passive side: what the requester sent, reported
    /// with `Established`.
    private_data: Vec<u8>,
    timeout_ms: i32,
    /// Active side: when the step in progress (resolution, handshake) has taken too long.
    step_deadline: Option<Instant>,
    /// When the queue pair went to the error state (our disconnect or the peer's).
    disconnected_at: Option<Instant>,
    peer: Option<SocketAddr>,
}

impl Qp {
    fn cq_entries(&self) -> u32 {
        self.send + self.recv
    }

    /// Rxe sometimes leaves a request unflushed: see [`VerbsDomain::software_flush`].
    fn flush_due(&self) -> Option<Instant> {
        match self.disconnected_at {
            Some(t) if self.qp.is_some() && self.slots.in_flight() > 0 => Some(t + FLUSH_GRACE),
            _ => None,
        }
    }

    fn conn_param(&self) -> sys::rdma_conn_param {
        sys::rdma_conn_param {
            private_data: if self.active { self.private_data.as_ptr().cast() } else { std::ptr::null() },
            private_data_len: if self.active { self.private_data.len() as u8 } else { 0 },
            responder_resources: self.responder_resources,
            initiator_depth: self.initiator_depth,
            flow_control: 1,
            retry_count: 7,
            // 7 = retry forever while the peer has no receive posted (as SMB Direct expects).
            rnr_retry_count: 7,
            ..Default::default()
        }
    }
}

/// One device's domain (see [`crate::domain`] and the module docs). Made by
/// [`super::VerbsProvider`]'s `open_domain`.
pub struct VerbsDomain {
    qps: Vec<(u32, Option<Qp>)>,
    /// Ids of destroyed queue pairs waiting for the peer's answer to their disconnect, until then.
    lingering: Vec<(Arc<CmId>, Instant)>,
    regions: RegionTable<MemoryRegion>,
    /// Pool batches registered so far: (pool, class, batch) -> region.
    batches: HashMap<(u64, u32, u32), RegionId>,
    events: VecDeque<(QpId, QpEvent)>,
    /// Completions made in software (flushes) or taken from the CQ during one, handed out first.
    pending: VecDeque<QpCompletion>,
    /// Completions polled from the CQ and not yet handed out.
    wc: [sys::ibv_wc; POLL_BATCH],
    wc_next: usize,
    wc_end: usize,
    /// Reused posting storage: no allocation per post once warm.
    send_wrs: Vec<sys::ibv_send_wr>,
    recv_wrs: Vec<sys::ibv_recv_wr>,
    sges: Vec<sys::ibv_sge>,
    /// CQ entries the queue pairs may need at once (each its send + receive depth).
    cq_reserved: u32,
    max_cqe: u32,
    max_qp_wr: u32,
    max_rd_atom: u8,
    max_init_rd_atom: u8,
    /// Completion flag bits that mean "invalidated_rkey is valid" on this device.
    with_inv_mask: u32,
    /// Some queue pair may need a software flush (see [`Qp::flush_due`]).
    watch_flush: bool,
    cq: Arc<CompletionQueue>,
    pd: Arc<ProtectionDomain>,
    cm: Arc<EventChannel>,
    ctx: Arc<DeviceContext>,
}

// SAFETY: the raw pointers inside are owned verbs objects (usable from any thread) or scratch
// work-request storage rebuilt on every post; the domain is used by one thread at a time.
unsafe impl Send for VerbsDomain {}

fn qp_mut(qps: &mut [(u32, Option<Qp>)], id: QpId) -> Result<&mut Qp> {
    match qps.get_mut(id.index as usize) {
        Some((g, Some(q))) if *g == id.generation => Ok(q),
        _ => Err(Error::UnknownQp(id)),
    }
}

/// Marks `q` failed and reports it.
fn fail(events: &mut VecDeque<(QpId, QpEvent)>, id: QpId, q: &mut Qp, reason: String, timed_out: bool) {
    if trace() {
        trace_line(format_args!("{id} failed in {:?}: {reason}", q.state));
    }
    q.state = CmState::Failed;
    q.step_deadline = None;
    events.push_back((id, QpEvent::Failed { reason, timed_out }));
}

/// After a software flush the device's queue pair is gone: requests posted then complete at once,
/// as they would on a queue pair in the error state.
fn flush_now(
    q: &mut Qp,
    regions: &mut RegionTable<MemoryRegion>,
    pending: &mut VecDeque<QpCompletion>,
    id: QpId,
    queue: Queue,
    wr_id: u64,
    opcode: WcOpcode,
) {
    let slot = q.slots.acquire(regions, queue, wr_id, opcode, &[], None);
    q.slots.release(regions, slot);
    pending.push_back(QpCompletion {
        qp: Some(id),
        completion: Completion {
            wr_id,
            status: WcStatus::WR_FLUSH_ERR,
            opcode,
            byte_len: 0,
            invalidated_rkey: None,
        },
    });
}

fn forget_window(regions: &mut RegionTable<MemoryRegion>, q: &mut Qp, rkey: u32) {
    if let Some((region, window)) = q.windows.remove(&rkey) {
        drop(window);
        if let Ok(e) = regions.get_mut(region) {
            e.in_flight = e.in_flight.saturating_sub(1);
        }
    }
}

/// Fills `sges` with the verbs form of every list, in order (a request's SGEs are then a
/// consecutive run of it). Done before any pointer into `sges` is taken, so its growth moves
/// nothing a work request points at.
fn load_sges<'a>(
    regions: &RegionTable<MemoryRegion>,
    sges: &mut Vec<sys::ibv_sge>,
    lists: impl Iterator<Item = &'a [Sge]>,
) {
    sges.clear();
    for list in lists {
        for s in list {
            let mr = &regions.get(s.region).expect("checked before posting").inner;
            sges.push(sys::ibv_sge {
                addr: mr.addr() + s.offset as u64,
                length: s.len as u32,
                lkey: mr.lkey(),
            });
        }
    }
}

fn send_opcode(op: SendOp) -> WcOpcode {
    match op {
        SendOp::Send | SendOp::SendWithInvalidate { .. } => WcOpcode::SEND,
        SendOp::RdmaWrite { .. } => WcOpcode::RDMA_WRITE,
        SendOp::RdmaRead { .. } => WcOpcode::RDMA_READ,
        SendOp::LocalInvalidate { .. } => WcOpcode::LOCAL_INV,
    }
}

impl VerbsDomain {
    /// A domain on the device called `device`, or on the first device.
    pub(super) fn open(device: Option<&str>) -> Result<Self> {
        let ctx = Arc::new(DeviceContext::open(device)?);
        let attr = device_attr(ctx.raw())?;
        let pd = Arc::new(ProtectionDomain::new(ctx.clone())?);
        let channel = Arc::new(CompletionChannel::new(ctx.clone())?);
        let max_cqe = attr.max_cqe.max(1) as u32;
        let cq = Arc::new(CompletionQueue::new(&ctx, channel, INITIAL_CQE.min(max_cqe) as i32)?);
        let cm = Arc::new(EventChannel::new()?);
        Ok(Self {
            qps: Vec::new(),
            lingering: Vec::new(),
            regions: RegionTable::new(),
            batches: HashMap::new(),
            events: VecDeque::new(),
            pending: VecDeque::new(),
            wc: [sys::ibv_wc::default(); POLL_BATCH],
            wc_next: 0,
            wc_end: 0,
            send_wrs: Vec::new(),
            recv_wrs: Vec::new(),
            sges: Vec::new(),
            cq_reserved: 0,
            max_cqe,
            max_qp_wr: attr.max_qp_wr.max(1) as u32,
            max_rd_atom: attr.max_qp_rd_atom.clamp(0, 255) as u8,
            max_init_rd_atom: attr.max_qp_init_rd_atom.clamp(0, 255) as u8,
            with_inv_mask: if attr.vendor_id == RXE_VENDOR_ID {
                WC_WITH_INV | KERNEL_WC_WITH_INVALIDATE
            } else {
                WC_WITH_INV
            },
            watch_flush: false,
            cq,
            pd,
            cm,
            ctx,
        })
    }

    /// The name of the device the domain is on.
    pub fn device_name(&self) -> &str {
        self.ctx.name()
    }

    /// Entries the domain's completion queue holds now.
    pub fn cq_capacity(&self) -> u32 {
        self.cq.capacity()
    }

    /// Makes room in the CQ for a queue pair's `entries`, growing it if needed.
    fn reserve_cq(&mut self, entries: u32) -> Result<()> {
        let needed = self.cq_reserved.saturating_add(entries);
        if needed > self.max_cqe {
            return Err(Error::CompletionQueueFull { needed, max: self.max_cqe });
        }
        if needed > self.cq.capacity() {
            let grow = needed.max(self.cq.capacity().saturating_mul(2)).min(self.max_cqe);
            let before = self.cq.capacity();
            self.cq.resize(grow)?;
            if trace() {
                trace_line(format_args!(
                    "CQ grows from {before} to {} entries ({needed} needed)",
                    self.cq.capacity()
                ));
            }
        }
        self.cq_reserved = needed;
        Ok(())
    }

    /// A new queue pair's record, with its sizes clamped to the device's and the CQ room reserved.
    fn new_qp(&mut self, id: Arc<CmId>, opts: EndpointOptions, active: bool) -> Result<Qp> {
        let send = opts.max_send_wr.clamp(1, self.max_qp_wr);
        let recv = opts.max_recv_wr.clamp(1, self.max_qp_wr);
        self.reserve_cq(send + recv)?;
        // Posting storage for this queue pair's fullest batch, reserved now rather than per post.
        self.send_wrs.reserve(send as usize);
        self.recv_wrs.reserve(recv as usize);
        self.sges.reserve(send.max(recv) as usize * MAX_SGE);
        Ok(Qp {
            qp: None,
            windows: HashMap::new(),
            id,
            slots: WrSlots::new(send as usize, recv as usize),
            state: CmState::Idle,
            active,
            flushed: false,
            send,
            recv,
            responder_resources: opts.responder_resources.min(self.max_rd_atom),
            initiator_depth: opts.initiator_depth.min(self.max_init_rd_atom),
            private_data: Vec::new(),
            timeout_ms: 0,
            step_deadline: None,
            disconnected_at: None,
            peer: None,
        })
    }

    fn insert(&mut self, qp: Qp) -> Result<QpId> {
        if let Some(index) = self.qps.iter().position(|(_, q)| q.is_none()) {
            let slot = &mut self.qps[index];
            slot.0 = slot.0.wrapping_add(1);
            slot.1 = Some(qp);
            return Ok(QpId { index: index as u32, generation: slot.0 });
        }
        if self.qps.len() >= MAX_QPS {
            self.cq_reserved -= qp.cq_entries();
            return Err(Error::QueueFull { queue: "domain queue pair", capacity: MAX_QPS });
        }
        self.qps.push((0, Some(qp)));
        Ok(QpId { index: self.qps.len() as u32 - 1, generation: 0 })
    }

    /// Reads every queued CM event and applies it to its queue pair.
    fn pump_cm(&mut self) -> Result<()> {
        while let Some(ev) = self.cm.try_next()? {
            self.on_cm_event(ev)?;
        }
        Ok(())
    }

    fn on_cm_event(&mut self, ev: EventInfo) -> Result<()> {
        if let Some(i) = self.lingering.iter().position(|(id, _)| id.raw() == ev.id) {
            if matches!(ev.event, CmEvent::DISCONNECTED | CmEvent::TIMEWAIT_EXIT | CmEvent::DEVICE_REMOVAL) {
                self.lingering.swap_remove(i);
            }
            return Ok(());
        }
        let found = self.qps.iter().position(|(_, q)| q.as_ref().is_some_and(|q| q.id.raw() == ev.id));
        let Some(index) = found else { return Ok(()) }; // an id destroyed since
        let id = QpId { index: index as u32, generation: self.qps[index].0 };
        let q = self.qps[index].1.as_mut().expect("found above");
        let before = q.state;
        let next = match before.on_event(ev.event) {
            Some(s) => s,
            // Late events of a connection that is over already.
            None if matches!(before, CmState::Disconnected | CmState::Failed) => return Ok(()),
            None if !matches!(before, CmState::Established | CmState::Disconnecting) => {
                let reason = Error::UnexpectedCmEvent { event: ev.event, state: before }.to_string();
                fail(&mut self.events, id, q, reason, false);
                return Ok(());
            }
            None => return Err(Error::UnexpectedCmEvent { event: ev.event, state: before }),
        };
        q.state = next;
        match ev.event {
            CmEvent::ADDR_RESOLVED => self.on_addr_resolved(id),
            CmEvent::ROUTE_RESOLVED => self.on_route_resolved(id),
            CmEvent::ESTABLISHED => {
                q.step_deadline = None;
                if q.active {
                    // The acceptor's responder resources (rdma_get_cm_event(3)): issue no more.
                    q.initiator_depth = q.initiator_depth.min(ev.initiator_depth);
                }
                let private_data =
                    if q.active { ev.private_data } else { std::mem::take(&mut q.private_data) };
                self.events.push_back((id, QpEvent::Established { private_data }));
            }
            CmEvent::DISCONNECTED => {
                // Also answers the peer's DREQ and moves the QP to the error state, so everything
                // outstanding flushes; failure means we disconnected already.
                let _ = q.id.disconnect();
                if trace() {
                    let n = q.slots.in_flight();
                    trace_line(format_args!(
                        "{id} disconnected in {before:?}, {n} work requests outstanding"
                    ));
                }
                if q.qp.is_some() {
                    q.disconnected_at.get_or_insert_with(Instant::now);
                    self.watch_flush = true;
                }
                if before != CmState::Disconnected {
                    self.events.push_back((id, QpEvent::Disconnected));
                }
            }
            _ if next == CmState::Failed => {
                if matches!(before, CmState::Established | CmState::Disconnecting) {
                    // DEVICE_REMOVAL of a live connection: it is over.
                    q.disconnected_at.get_or_insert_with(Instant::now);
                    self.watch_flush = true;
                    self.events.push_back((id, QpEvent::Disconnected));
                } else {
                    let reason = format!("{} (status {})", ev.event, ev.status);
                    fail(&mut self.events, id, q, reason, ev.status == -ETIMEDOUT);
                }
            }
            _ => {} // TIMEWAIT_EXIT, ADDR_CHANGE
        }
        Ok(())
    }

    /// Active side: the address resolved to a device. It must be this domain's; then the route.
    fn on_addr_resolved(&mut self, id: QpId) {
        let ctx = self.ctx.raw();
        let ours = self.ctx.name().to_string();
        let Ok(q) = qp_mut(&mut self.qps, id) else { return };
        if q.id.context() != ctx {
            let theirs = context_name(q.id.context()).unwrap_or_else(|| "no device".into());
            let peer = q.peer.map_or_else(|| "the address".into(), |a| a.to_string());
            let reason = format!("{peer} is reached through device {theirs}, but this domain is on {ours}");
            fail(&mut self.events, id, q, reason, false);
            return;
        }
        q.state = q.state.on_call(CmCall::ResolveRoute).expect("allowed from AddrResolved");
        match q.id.resolve_route(q.timeout_ms) {
            Ok(()) => q.step_deadline = Some(Instant::now() + Duration::from_millis(q.timeout_ms as u64)),
            Err(e) => fail(&mut self.events, id, q, e.to_string(), false),
        }
    }

    /// Active side: a path is known. The queue pair goes on the domain's PD and CQ; then connect.
    fn on_route_resolved(&mut self, id: QpId) {
        let (pd, cq) = (self.pd.clone(), self.cq.clone());
        let Ok(q) = qp_mut(&mut self.qps, id) else { return };
        match QueuePair::new(q.id.clone(), pd, cq, q.send, q.recv) {
            Ok(qp) => q.qp = Some(qp),
            Err(e) => return fail(&mut self.events, id, q, e.to_string(), false),
        }
        q.state = q.state.on_call(CmCall::Connect).expect("allowed from RouteResolved");
        match q.id.connect(&q.conn_param()) {
            Ok(()) => q.step_deadline = Some(Instant::now() + Duration::from_millis(q.timeout_ms as u64)),
            Err(e) => fail(&mut self.events, id, q, e.to_string(), false),
        }
    }

    /// Connection attempts whose step ran out of time fail.
    fn check_deadlines(&mut self, now: Instant) {
        for (index, (generation, slot)) in self.qps.iter_mut().enumerate() {
            let Some(q) = slot else { continue };
            if q.step_deadline.is_some_and(|d| d <= now) {
                let id = QpId { index: index as u32, generation: *generation };
                let reason = format!("no answer within {} ms ({:?})", q.timeout_ms, q.state);
                fail(&mut self.events, id, q, reason, true);
            }
        }
        self.lingering.retain(|(_, until)| *until > now);
    }

    /// Flushes in software the queue pairs whose device left work unflushed past the grace.
    /// Returns whether it flushed any.
    fn flush_overdue(&mut self, now: Instant) -> Result<bool> {
        let mut flushed = false;
        for index in 0..self.qps.len() {
            if self.qps[index].1.as_ref().and_then(Qp::flush_due).is_some_and(|due| due <= now) {
                self.software_flush(index)?;
                flushed = true;
            }
        }
        self.watch_flush = self.qps.iter().any(|(_, q)| q.as_ref().is_some_and(|q| q.flush_due().is_some()));
        Ok(flushed)
    }

    /// The provider must flush every outstanding work request once the queue pair is in the
    /// error state, but rdma_rxe on kernel 6.1 sometimes leaves one posted receive (seen in about
    /// half the conformance runs, on the side whose peer disconnected) unflushed forever; and a
    /// receive posted after the queue pair went to the error state (a ring refilled while the
    /// peer's disconnect was being taken) is never flushed at all. After
    /// [`FLUSH_GRACE`] without it, destroy the device's queue pair (the device then no longer
    /// touches our memory), take what the CQ holds (for every queue pair, in order), and complete
    /// the rest of this one here with WR_FLUSH_ERR, in posting order. Callers see the same thing
    /// either way; `RDMA_VERBS_TRACE_CM=1` reports it.
    fn software_flush(&mut self, index: usize) -> Result<()> {
        let generation = self.qps[index].0;
        let id = QpId { index: index as u32, generation };
        {
            let q = self.qps[index].1.as_mut().expect("flush of a live queue pair");
            if trace() {
                let left: Vec<(u64, WcOpcode)> =
                    q.slots.outstanding().iter().map(|&i| q.slots.peek(i)).collect();
                trace_line(format_args!(
                    "{id}: device left {left:?} (wr_id, opcode) unflushed; flushing in software"
                ));
            }
            // Windows before the queue pair, as in `destroy` (a bound one would hold it).
            let rkeys: Vec<u32> = q.windows.keys().copied().collect();
            for rkey in rkeys {
                forget_window(&mut self.regions, q, rkey);
            }
            q.qp = None;
            q.flushed = true;
        }
        while self.wc_next < self.wc_end {
            let w = self.wc[self.wc_next];
            self.wc_next += 1;
            if let Some(c) = self.translate(&w) {
                self.pending.push_back(c);
            }
        }
        loop {
            self.wc_next = 0;
            self.wc_end = self.cq.poll(&mut self.wc)?;
            if self.wc_end == 0 {
                break;
            }
            while self.wc_next < self.wc_end {
                let w = self.wc[self.wc_next];
                self.wc_next += 1;
                if let Some(c) = self.translate(&w) {
                    self.pending.push_back(c);
                }
            }
        }
        let q = self.qps[index].1.as_mut().expect("flush of a live queue pair");
        for slot in q.slots.outstanding() {
            let s = q.slots.release(&mut self.regions, slot);
            self.pending.push_back(QpCompletion {
                qp: Some(id),
                completion: Completion {
                    wr_id: s.wr_id,
                    status: WcStatus::WR_FLUSH_ERR,
                    opcode: s.opcode,
                    byte_len: 0,
                    invalidated_rkey: None,
                },
            });
        }
        Ok(())
    }

    /// Turns a polled `ibv_wc` into a tagged completion, releasing its slot. `None` for a
    /// completion of a queue pair destroyed (or flushed in software) since.
    fn translate(&mut self, wc: &sys::ibv_wc) -> Option<QpCompletion> {
        let (index, generation, slot) = split_wr_id(wc.wr_id);
        let (g, Some(q)) = self.qps.get_mut(index)? else { return None };
        if *g & 0xffff != generation {
            return None;
        }
        let id = QpId { index: index as u32, generation: *g };
        let s = q.slots.try_release(&mut self.regions, slot)?;
        let status = WcStatus(wc.status.0);
        // Only wr_id and status are defined on an error completion: take the opcode from the slot.
        let opcode = if status.is_success() { WcOpcode(wc.opcode.0) } else { s.opcode };
        let invalidated_rkey = if status.is_success() && wc.wc_flags & self.with_inv_mask != 0 {
            // SAFETY: with the invalidate flag set, the union holds invalidated_rkey (both are u32).
            Some(unsafe { wc.__bindgen_anon_1.invalidated_rkey })
        } else {
            None
        };
        if let Some(rkey) = invalidated_rkey {
            forget_window(&mut self.regions, q, rkey);
        }
        if opcode == WcOpcode::LOCAL_INV && status.is_success() {
            if let Some(rkey) = s.rkey {
                forget_window(&mut self.regions, q, rkey);
            }
        }
        Some(QpCompletion {
            qp: Some(id),
            completion: Completion {
                wr_id: s.wr_id,
                status,
                opcode,
                byte_len: wc.byte_len,
                invalidated_rkey,
            },
        })
    }

    /// Takes completions from the CQ into `wc` when it is used up; how many are buffered.
    fn fill_wc(&mut self) -> Result<usize> {
        if self.wc_next == self.wc_end {
            self.wc_next = 0;
            self.wc_end = 0;
            self.wc_end = self.cq.poll(&mut self.wc)?;
        }
        Ok(self.wc_end - self.wc_next)
    }
}

impl Domain for VerbsDomain {
    type Request = VerbsRequest;
    type Bytes<'a> = &'a mut [u8];

    fn fds(&self) -> Vec<RawFd> {
        vec![self.cq.channel_fd(), self.cm.fd()]
    }

    fn arm(&mut self) -> Result<bool> {
        if !self.pending.is_empty() || self.wc_next < self.wc_end || !self.events.is_empty() {
            return Ok(false);
        }
        self.pump_cm()?;
        let now = Instant::now();
        self.check_deadlines(now);
        if !self.events.is_empty() || self.deadline().is_some_and(|d| d <= now) {
            return Ok(false);
        }
        // Arm, then look again: a completion that arrived before arming raises no event.
        self.cq.arm()?;
        Ok(self.fill_wc()? == 0)
    }

    fn clear(&mut self) -> Result<()> {
        self.cq.take_events();
        Ok(())
    }

    fn deadline(&self) -> Option<Instant> {
        let qps = self.qps.iter().filter_map(|(_, q)| q.as_ref());
        let steps = qps.clone().filter_map(|q| q.step_deadline);
        let flushes = qps.filter_map(Qp::flush_due);
        let lingering = self.lingering.iter().map(|(_, until)| *until);
        steps.chain(flushes).chain(lingering).min()
    }

    fn register(&mut self, len: usize, access: Access) -> Result<RegionId> {
        if len > u32::MAX as usize {
            return Err(Error::BadLength { len, why: "an SGE covers at most 4 GiB" });
        }
        let mr = MemoryRegion::owned(self.pd.clone(), len, access)?;
        Ok(self.regions.insert(len, access, mr))
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

    fn bytes(&mut self, region: RegionId) -> Result<&mut [u8]> {
        match &mut self.regions.idle_mut(region)?.inner.mem {
            Memory::Owned(buf) => Ok(buf.as_mut_slice()),
            Memory::Batch(_) => Err(Error::BadLength { len: 0, why: "a pool batch's bytes are its leases'" }),
        }
    }

    fn remote_key(&mut self, qp: QpId, region: RegionId, offset: usize, len: usize) -> Result<RemoteKey> {
        qp_mut(&mut self.qps, qp)?;
        let e = self.regions.check(&Sge::new(region, offset, len), Access::NONE)?;
        if !e.access.is_remote() {
            let needs = Access::REMOTE_READ | Access::REMOTE_WRITE;
            return Err(Error::AccessDenied { region, has: e.access, needs });
        }
        Ok(RemoteKey { addr: e.inner.addr() + offset as u64, rkey: e.inner.rkey(), len: len as u64 })
    }

    fn lease_sge(&mut self, lease: &iobuf::Lease, offset: usize, len: usize) -> Result<Sge> {
        let loc = lease.location();
        let key = (loc.pool, loc.class, loc.batch);
        let region = match self.batches.get(&key) {
            Some(r) => *r,
            None => {
                let batch = lease.batch();
                let batch_len = batch.len();
                let access = Access::LOCAL_WRITE | Access::MW_BIND;
                let mr = MemoryRegion::batch(self.pd.clone(), batch, access)?;
                let r = self.regions.insert(batch_len, access, mr);
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

    fn accept(&mut self, mut req: VerbsRequest, opts: EndpointOptions, private_data: &[u8]) -> Result<QpId> {
        check_private_data("accept", private_data, MAX_ACCEPT_PRIVATE_DATA)?;
        let mut cm_id = req.take_id();
        if cm_id.context() != self.ctx.raw() {
            cm_id.reject();
            let theirs = context_name(cm_id.context()).unwrap_or_else(|| "no device".into());
            return Err(Error::NoDevice(format!(
                "{} (the request arrived on {theirs}, not on this domain's device)",
                self.ctx.name()
            )));
        }
        // The request's events (ESTABLISHED, DISCONNECTED) come to this domain from now on.
        if let Err(e) = cm_id.migrate(self.cm.clone()) {
            cm_id.reject();
            return Err(e);
        }
        let cm_id = Arc::new(cm_id);
        let mut q = match self.new_qp(cm_id.clone(), opts, false) {
            Ok(q) => q,
            Err(e) => {
                cm_id.reject();
                return Err(e);
            }
        };
        // Serve no more RDMA READs than the requester issues, issue no more than it serves. The
        // request's values are already seen from this side (rdma_get_cm_event(3): its
        // initiator_depth is the requester's responder resources, and the other way round).
        // Linux cifs.ko asks for initiator depth 0: this side then serves no RDMA READs.
        q.responder_resources = q.responder_resources.min(req.responder_resources);
        q.initiator_depth = q.initiator_depth.min(req.initiator_depth);
        q.private_data = std::mem::take(&mut req.private_data);
        q.peer = req.peer;
        q.state = CmState::Idle.on_event(CmEvent::CONNECT_REQUEST).expect("allowed from Idle");
        let created = QueuePair::new(cm_id.clone(), self.pd.clone(), self.cq.clone(), q.send, q.recv);
        match created {
            Ok(qp) => q.qp = Some(qp),
            Err(e) => {
                self.cq_reserved -= q.cq_entries();
                cm_id.reject();
                return Err(e);
            }
        }
        q.state = q.state.on_call(CmCall::Accept).expect("allowed from ConnectRequest");
        let mut param = q.conn_param();
        param.private_data = private_data.as_ptr().cast();
        param.private_data_len = private_data.len() as u8;
        if let Err(e) = cm_id.accept(&param) {
            self.cq_reserved -= q.cq_entries();
            cm_id.reject();
            return Err(e);
        }
        self.insert(q)
    }

    fn connect(
        &mut self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout_ms: u32,
    ) -> Result<QpId> {
        check_private_data("connect", private_data, MAX_CONNECT_PRIVATE_DATA)?;
        let cm_id = Arc::new(CmId::new(self.cm.clone())?);
        let mut q = self.new_qp(cm_id.clone(), opts, true)?;
        q.private_data = private_data.to_vec();
        q.peer = Some(addr);
        q.timeout_ms = timeout_ms.clamp(1, i32::MAX as u32) as i32;
        q.state = CmState::Idle.on_call(CmCall::ResolveAddr).expect("allowed from Idle");
        if let Err(e) = cm_id.resolve_addr(addr, q.timeout_ms) {
            self.cq_reserved -= q.cq_entries();
            return Err(e);
        }
        q.step_deadline = Some(Instant::now() + Duration::from_millis(q.timeout_ms as u64));
        self.insert(q)
    }

    fn disconnect(&mut self, qp: QpId) -> Result<()> {
        let q = qp_mut(&mut self.qps, qp)?;
        match q.state.on_call(CmCall::Disconnect) {
            Some(s) if s == q.state => Ok(()),
            Some(s) => {
                q.id.disconnect()?;
                if q.qp.is_some() {
                    q.disconnected_at.get_or_insert_with(Instant::now);
                    self.watch_flush = true;
                }
                q.state = s;
                Ok(())
            }
            None => Err(Error::NotConnected(q.state)),
        }
    }

    fn destroy(&mut self, qp: QpId) -> Result<()> {
        qp_mut(&mut self.qps, qp)?;
        let mut q = self.qps[qp.index as usize].1.take().expect("checked above");
        let linger = match q.state {
            CmState::Established | CmState::Accepting | CmState::Connecting => q.id.disconnect().is_ok(),
            CmState::Disconnecting => true,
            _ => false,
        };
        // Windows first: the peer loses access through them, and a window still bound would hold
        // the queue pair (rxe stalls this thread 50 s in ibv_destroy_qp, then warns: seen when a
        // peer dropped a connection whose request's window it never invalidated). Then the
        // device's queue pair: after it, the device touches none of the memory below.
        let rkeys: Vec<u32> = q.windows.keys().copied().collect();
        for rkey in rkeys {
            forget_window(&mut self.regions, &mut q, rkey);
        }
        q.qp = None;
        // Work requests still counted against regions are dropped with the queue pair.
        for index in q.slots.outstanding() {
            q.slots.release(&mut self.regions, index);
        }
        self.cq_reserved -= q.cq_entries();
        self.events.retain(|(id, _)| *id != qp);
        self.pending.retain(|c| c.qp != Some(qp));
        if linger {
            self.lingering.push((q.id.clone(), Instant::now() + DRAIN_ON_DROP));
        }
        Ok(())
    }

    fn initiator_depth(&self, qp: QpId) -> Result<u8> {
        match self.qps.get(qp.index as usize) {
            Some((g, Some(q))) if *g == qp.generation => Ok(q.initiator_depth),
            _ => Err(Error::UnknownQp(qp)),
        }
    }

    fn peer_addr(&self, qp: QpId) -> Result<Option<SocketAddr>> {
        match self.qps.get(qp.index as usize) {
            Some((g, Some(q))) if *g == qp.generation => Ok(q.peer.or_else(|| q.id.peer_addr())),
            _ => Err(Error::UnknownQp(qp)),
        }
    }

    fn post_send(&mut self, qp: QpId, wrs: &[SendWr<'_>]) -> Result<()> {
        let Self { qps, regions, pending, send_wrs, sges, watch_flush, .. } = self;
        let q = qp_mut(qps, qp)?;
        for wr in wrs {
            let needs =
                if matches!(wr.op, SendOp::RdmaRead { .. }) { Access::LOCAL_WRITE } else { Access::NONE };
            check_sges(regions, wr.sges, needs)?;
        }
        q.slots.ensure_room(Queue::Send, wrs.len())?;
        let Some(device_qp) = &q.qp else {
            if !q.flushed {
                return Err(Error::NotConnected(q.state));
            }
            for wr in wrs {
                flush_now(q, regions, pending, qp, Queue::Send, wr.wr_id, send_opcode(wr.op));
            }
            return Ok(());
        };
        load_sges(regions, sges, wrs.iter().map(|wr| wr.sges));
        send_wrs.clear();
        let mut first_sge = 0;
        for wr in wrs {
            let (opcode, rkey) = match wr.op {
                SendOp::Send => (sys::ibv_wr_opcode::IBV_WR_SEND, None),
                SendOp::SendWithInvalidate { .. } => (sys::ibv_wr_opcode::IBV_WR_SEND_WITH_INV, None),
                SendOp::RdmaWrite { .. } => (sys::ibv_wr_opcode::IBV_WR_RDMA_WRITE, None),
                SendOp::RdmaRead { .. } => (sys::ibv_wr_opcode::IBV_WR_RDMA_READ, None),
                SendOp::LocalInvalidate { rkey } => (sys::ibv_wr_opcode::IBV_WR_LOCAL_INV, Some(rkey)),
            };
            let slot = q.slots.acquire(regions, Queue::Send, wr.wr_id, send_opcode(wr.op), wr.sges, rkey);
            let mut w = sys::ibv_send_wr {
                wr_id: wr_id(qp, slot),
                sg_list: if wr.sges.is_empty() {
                    std::ptr::null_mut()
                } else {
                    sges[first_sge..].as_mut_ptr()
                },
                num_sge: wr.sges.len() as i32,
                opcode,
                send_flags: sys::ibv_send_flags::IBV_SEND_SIGNALED.0,
                ..Default::default()
            };
            first_sge += wr.sges.len();
            match wr.op {
                SendOp::SendWithInvalidate { rkey } | SendOp::LocalInvalidate { rkey } => {
                    w.__bindgen_anon_1.invalidate_rkey = rkey;
                }
                SendOp::RdmaWrite { remote } | SendOp::RdmaRead { remote } => {
                    w.wr.rdma = sys::ibv_send_wr__bindgen_ty_2__bindgen_ty_1 {
                        remote_addr: remote.addr,
                        rkey: remote.rkey,
                    };
                }
                SendOp::Send => {}
            }
            send_wrs.push(w);
        }
        let n = send_wrs.len();
        let Some(head) = link(send_wrs) else { return Ok(()) };
        if let Err((r, bad)) = device_qp.post_send(head) {
            // Requests before `bad` were posted; release the slots of the rest.
            let start = refused_from(send_wrs, bad);
            for w in &send_wrs[start..] {
                q.slots.release(regions, w.wr_id as u32);
            }
            return Err(Error::verb(
                "ibv_post_send",
                format!("{qp}: {} of {n} work requests, first {:?}", n - start, wrs[start].op),
                Some(r),
            ));
        }
        // Posted after the disconnect: rxe may never flush it (see `software_flush`).
        *watch_flush |= q.disconnected_at.is_some();
        Ok(())
    }

    fn post_recv(&mut self, qp: QpId, wrs: &[RecvWr<'_>]) -> Result<()> {
        let Self { qps, regions, pending, recv_wrs, sges, watch_flush, .. } = self;
        let q = qp_mut(qps, qp)?;
        for wr in wrs {
            check_sges(regions, wr.sges, Access::LOCAL_WRITE)?;
        }
        q.slots.ensure_room(Queue::Recv, wrs.len())?;
        let Some(device_qp) = &q.qp else {
            if !q.flushed {
                return Err(Error::NotConnected(q.state));
            }
            for wr in wrs {
                flush_now(q, regions, pending, qp, Queue::Recv, wr.wr_id, WcOpcode::RECV);
            }
            return Ok(());
        };
        load_sges(regions, sges, wrs.iter().map(|wr| wr.sges));
        recv_wrs.clear();
        let mut first_sge = 0;
        for wr in wrs {
            let slot = q.slots.acquire(regions, Queue::Recv, wr.wr_id, WcOpcode::RECV, wr.sges, None);
            recv_wrs.push(sys::ibv_recv_wr {
                wr_id: wr_id(qp, slot),
                next: std::ptr::null_mut(),
                sg_list: if wr.sges.is_empty() {
                    std::ptr::null_mut()
                } else {
                    sges[first_sge..].as_mut_ptr()
                },
                num_sge: wr.sges.len() as i32,
            });
            first_sge += wr.sges.len();
        }
        let n = recv_wrs.len();
        let Some(head) = link(recv_wrs) else { return Ok(()) };
        if let Err((r, bad)) = device_qp.post_recv(head) {
            let start = refused_from(recv_wrs, bad);
            for w in &recv_wrs[start..] {
                q.slots.release(regions, w.wr_id as u32);
            }
            return Err(Error::verb(
                "ibv_post_recv",
                format!("{qp}: {} of {n} work requests", n - start),
                Some(r),
            ));
        }
        // Posted after the disconnect: rxe never flushes it (see `software_flush`).
        *watch_flush |= q.disconnected_at.is_some();
        Ok(())
    }

    fn bind_window(&mut self, qp: QpId, wr_id_: u64, sge: Sge, access: Access) -> Result<RemoteKey> {
        let Self { qps, regions, pd, .. } = self;
        let q = qp_mut(qps, qp)?;
        regions.check(&sge, Access::MW_BIND)?;
        q.slots.ensure_room(Queue::Send, 1)?;
        let Some(device_qp) = &q.qp else { return Err(Error::NotConnected(q.state)) };
        let window = MemoryWindow::new(pd.clone())?;
        let rkey = window.next_rkey();
        let e = regions.get(sge.region)?;
        let addr = e.inner.addr() + sge.offset as u64;
        let mut wr = sys::ibv_send_wr {
            opcode: sys::ibv_wr_opcode::IBV_WR_BIND_MW,
            send_flags: sys::ibv_send_flags::IBV_SEND_SIGNALED.0,
            ..Default::default()
        };
        wr.__bindgen_anon_2.bind_mw = sys::ibv_send_wr__bindgen_ty_4__bindgen_ty_1 {
            mw: window.raw(),
            rkey,
            bind_info: sys::ibv_mw_bind_info {
                mr: e.inner.raw(),
                addr,
                length: sge.len as u64,
                mw_access_flags: access.0,
            },
        };
        let slot = q.slots.acquire(regions, Queue::Send, wr_id_, WcOpcode::BIND_MW, &[sge], None);
        wr.wr_id = wr_id(qp, slot);
        if let Err((r, _)) = device_qp.post_send(&mut wr) {
            q.slots.release(regions, slot);
            return Err(Error::verb(
                "ibv_post_send",
                format!(
                    "{qp}: BIND_MW rkey {rkey:#x} on region {} bytes {}+{}, access {access:?}",
                    sge.region, sge.offset, sge.len
                ),
                Some(r),
            ));
        }
        self.watch_flush |= q.disconnected_at.is_some();
        regions.get_mut(sge.region)?.in_flight += 1; // held by the window until invalidated
        q.windows.insert(rkey, (sge.region, window));
        Ok(RemoteKey { addr, rkey, len: sge.len as u64 })
    }

    fn poll(&mut self, out: &mut [QpCompletion]) -> Result<usize> {
        let mut n = 0;
        while n < out.len() {
            let Some(c) = self.pending.pop_front() else { break };
            out[n] = c;
            n += 1;
        }
        while n < out.len() {
            if self.fill_wc()? == 0 {
                break;
            }
            let w = self.wc[self.wc_next];
            self.wc_next += 1;
            if let Some(c) = self.translate(&w) {
                out[n] = c;
                n += 1;
            }
        }
        if n == 0 && self.watch_flush && self.flush_overdue(Instant::now())? {
            return self.poll(out);
        }
        Ok(n)
    }

    fn poll_event(&mut self) -> Result<Option<(QpId, QpEvent)>> {
        if self.events.is_empty() {
            self.pump_cm()?;
            self.check_deadlines(Instant::now());
        }
        Ok(self.events.pop_front())
    }

    fn in_flight(&self, qp: QpId) -> usize {
        match self.qps.get(qp.index as usize) {
            Some((g, Some(q))) if *g == qp.generation => q.slots.in_flight(),
            _ => 0,
        }
    }
}

/// The two C work-request lists a QP takes, linked through their `next` fields.
trait LinkedWr {
    fn set_next(&mut self, next: *mut Self);
}

impl LinkedWr for sys::ibv_send_wr {
    fn set_next(&mut self, next: *mut Self) {
        self.next = next;
    }
}

impl LinkedWr for sys::ibv_recv_wr {
    fn set_next(&mut self, next: *mut Self) {
        self.next = next;
    }
}

/// Links `wrs` into one list in order and returns its head (None when there is nothing to post).
fn link<W: LinkedWr>(wrs: &mut [W]) -> Option<*mut W> {
    for i in 1..wrs.len() {
        let next: *mut W = &mut wrs[i];
        wrs[i - 1].set_next(next);
    }
    wrs.first_mut().map(|w| w as *mut W)
}

/// Where in `wrs` the device stopped: the index of `bad`, the first request it refused.
fn refused_from<W>(wrs: &[W], bad: *const W) -> usize {
    wrs.iter().position(|w| std::ptr::eq(w, bad)).unwrap_or(0)
}

impl Drop for VerbsDomain {
    fn drop(&mut self) {
        // Live connections disconnect; their ids then get DRAIN_ON_DROP to hear the peer answer.
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
        let deadline = Instant::now() + DRAIN_ON_DROP;
        while !self.lingering.is_empty() && Instant::now() < deadline {
            if super::wait_readable([self.cm.fd()], Duration::from_millis(10)).is_err()
                || self.pump_cm().is_err()
            {
                break;
            }
        }
        self.lingering.clear();
        self.qps.clear();
        // Every queue pair is gone: the device touches none of the regions any more.
        for region in self.regions.drain() {
            drop(region);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wr_ids_carry_the_queue_pair_and_its_generation() {
        let qp = QpId { index: 0xbeef, generation: 0x1_2345 };
        let w = wr_id(qp, 77);
        assert_eq!(split_wr_id(w), (0xbeef, 0x2345, 77));
    }
}
