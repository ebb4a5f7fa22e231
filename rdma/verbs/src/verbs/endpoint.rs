//! One RDMA CM connection: its queue pair, completion queue and registered memory.

use super::cm::CmId;
use super::completion_queue::{CompletionChannel, CompletionQueue};
use super::device::device_attr;
use super::memory_region::{MemoryRegion, MemoryWindow};
use super::protection_domain::ProtectionDomain;
use super::queue_pair::QueuePair;
use super::wait_readable;
use crate::completion::{Completion, WcOpcode, WcStatus};
use crate::error::{Error, Result};
use crate::provider::{Endpoint, EndpointOptions};
use crate::region::{check_sges, Queue, RegionId, RegionTable, WrSlots, MAX_SGE};
use crate::work_request::{RecvWr, RemoteKey, SendOp, SendWr, Sge};
use crate::{Access, CmCall, CmEvent, CmState};
use rdma_core_sys as sys;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Completions taken from the CQ per `ibv_poll_cq` call.
const POLL_BATCH: usize = 32;
/// Empty polls between two looks at the connection manager's events (a syscall).
const CM_CHECK_EVERY: u32 = 1024;
/// `IBV_WC_WITH_INV`: the receive carries the rkey the peer invalidated.
const WC_WITH_INV: u32 = 8;
/// The kernel's `IB_WC_WITH_INVALIDATE`. The rxe provider of rdma-core 44 copies the kernel's
/// completion flags through unchanged, so on rxe a remote invalidation shows as this bit (which
/// userspace calls `IBV_WC_IP_CSUM_OK`, never set on RC receives). Seen on Debian 12, kernel 6.1.
const KERNEL_WC_WITH_INVALIDATE: u32 = 4;
/// How long the device gets to flush outstanding work requests after a disconnect.
const FLUSH_GRACE: Duration = Duration::from_millis(500);
/// How long dropping an endpoint waits for the peer to answer its disconnect.
const DRAIN_ON_DROP: Duration = Duration::from_secs(2);
/// `RXE_VENDOR_ID`: the vendor id rdma_rxe reports.
const RXE_VENDOR_ID: u32 = 0xff_ffff;

/// A connected RC queue pair over a real device (see [`super`]).
///
/// Fields drop in declaration order: the queue pair first, then windows and regions (device
/// access to them has stopped), then the CQ, PD and CM id they were made from.
pub struct VerbsEndpoint {
    qp: Option<QueuePair>,
    windows: HashMap<u32, (RegionId, MemoryWindow)>,
    regions: RegionTable<MemoryRegion>,
    cq: Arc<CompletionQueue>,
    pd: Arc<ProtectionDomain>,
    id: Arc<CmId>,
    slots: WrSlots,
    state: CmState,
    peer_private_data: Vec<u8>,
    responder_resources: u8,
    initiator_depth: u8,
    /// Reused posting storage: no allocation per post once warm.
    send_wrs: Vec<sys::ibv_send_wr>,
    recv_wrs: Vec<sys::ibv_recv_wr>,
    sges: Vec<sys::ibv_sge>,
    /// Completions polled (by `wait`) and not yet handed out.
    wc: [sys::ibv_wc; POLL_BATCH],
    wc_next: usize,
    wc_end: usize,
    empty_polls: u32,
    /// Completion flag bits that mean "invalidated_rkey is valid" on this device.
    with_inv_mask: u32,
    /// When the queue pair was put in the error state (our disconnect or the peer's).
    disconnected_at: Option<Instant>,
    /// Completions made in software by [`Self::software_flush`], handed out before the CQ's.
    flushed: VecDeque<Completion>,
}

// SAFETY: the raw pointers inside are either owned verbs objects (usable from any thread) or
// scratch work-request storage that is rebuilt on every post; nothing is shared between threads.
unsafe impl Send for VerbsEndpoint {}

/// The bytes of an idle region.
pub type VerbsBytes<'a> = &'a mut [u8];

impl VerbsEndpoint {
    /// Creates PD, completion channel, CQ and QP on the id's device.
    pub(super) fn new(id: Arc<CmId>, opts: EndpointOptions) -> Result<Self> {
        let attr = device_attr(id.context())?;
        let max_wr = attr.max_qp_wr.max(1) as u32;
        let send = opts.max_send_wr.clamp(1, max_wr);
        let recv = opts.max_recv_wr.clamp(1, max_wr);
        let pd = Arc::new(ProtectionDomain::new(id.clone())?);
        let channel = Arc::new(CompletionChannel::new(id.clone())?);
        let cq = Arc::new(CompletionQueue::new(&id, channel, (send + recv) as i32)?);
        let qp = QueuePair::new(id.clone(), pd.clone(), cq.clone(), send, recv)?;
        Ok(Self {
            qp: Some(qp),
            windows: HashMap::new(),
            regions: RegionTable::new(),
            cq,
            pd,
            id,
            slots: WrSlots::new(send as usize, recv as usize),
            state: CmState::Idle,
            peer_private_data: Vec::new(),
            responder_resources: opts.responder_resources.min(attr.max_qp_rd_atom.clamp(0, 255) as u8),
            initiator_depth: opts.initiator_depth.min(attr.max_qp_init_rd_atom.clamp(0, 255) as u8),
            send_wrs: Vec::with_capacity(send as usize),
            recv_wrs: Vec::with_capacity(recv as usize),
            sges: Vec::with_capacity(send.max(recv) as usize * MAX_SGE),
            wc: [sys::ibv_wc::default(); POLL_BATCH],
            wc_next: 0,
            wc_end: 0,
            empty_polls: 0,
            disconnected_at: None,
            flushed: VecDeque::with_capacity((send + recv) as usize),
            with_inv_mask: if attr.vendor_id == RXE_VENDOR_ID {
                WC_WITH_INV | KERNEL_WC_WITH_INVALIDATE
            } else {
                WC_WITH_INV
            },
        })
    }

    /// Connection parameters for `rdma_connect`/`rdma_accept`; `private_data` must outlive the call.
    pub(super) fn conn_param(&self, private_data: &[u8]) -> sys::rdma_conn_param {
        sys::rdma_conn_param {
            private_data: private_data.as_ptr().cast(),
            private_data_len: private_data.len() as u8,
            responder_resources: self.responder_resources,
            initiator_depth: self.initiator_depth,
            flow_control: 1,
            retry_count: 7,
            // 7 = retry forever while the peer has no receive posted (as SMB Direct expects).
            rnr_retry_count: 7,
            ..Default::default()
        }
    }

    pub(super) fn established(&mut self, peer_private_data: Vec<u8>) {
        self.state = CmState::Established;
        self.peer_private_data = peer_private_data;
    }

    /// The name of the device this connection runs on.
    pub fn device_name(&self) -> Option<String> {
        self.id.device_name()
    }

    /// After a software flush the queue pair is gone: requests posted then flush at once, as
    /// they would on a queue pair in the error state.
    fn flush_now(&mut self, queue: Queue, wr_id: u64, opcode: WcOpcode) {
        let slot = self.slots.acquire(&mut self.regions, queue, wr_id, opcode, &[], None);
        self.slots.release(&mut self.regions, slot);
        self.flushed.push_back(Completion {
            wr_id,
            status: WcStatus::WR_FLUSH_ERR,
            opcode,
            byte_len: 0,
            invalidated_rkey: None,
        });
    }

    /// Handles queued connection manager events; on DISCONNECTED the QP goes to the error state
    /// (via rdma_disconnect) so everything outstanding flushes.
    fn process_cm_events(&mut self) -> Result<()> {
        while let Some(ev) = self.id.channel().next(Duration::ZERO)? {
            let next = self.state.on_event(ev.event);
            match next {
                Some(s) => self.state = s,
                None if self.state == CmState::Disconnected => {}
                None => return Err(Error::UnexpectedCmEvent { event: ev.event, state: self.state }),
            }
            if ev.event == CmEvent::DISCONNECTED {
                // Also answers the peer's DREQ; failure means we already disconnected.
                let _ = self.id.disconnect();
                self.disconnected_at.get_or_insert_with(Instant::now);
            }
        }
        Ok(())
    }

    /// Turns the next polled `ibv_wc` into a [`Completion`], releasing its slot.
    fn translate(&mut self, wc: &sys::ibv_wc) -> Completion {
        let slot = self.slots.release(&mut self.regions, wc.wr_id as u32);
        let status = WcStatus(wc.status.0);
        // Only wr_id and status are defined on an error completion: take the opcode from the slot.
        let opcode = if status.is_success() { WcOpcode(wc.opcode.0) } else { slot.opcode };
        let invalidated_rkey = if status.is_success() && wc.wc_flags & self.with_inv_mask != 0 {
            // SAFETY: with the invalidate flag set, the union holds invalidated_rkey (both are u32).
            Some(unsafe { wc.__bindgen_anon_1.invalidated_rkey })
        } else {
            None
        };
        if let Some(rkey) = invalidated_rkey {
            self.forget_window(rkey);
        }
        if opcode == WcOpcode::LOCAL_INV && status.is_success() {
            if let Some(rkey) = slot.rkey {
                self.forget_window(rkey);
            }
        }
        Completion { wr_id: slot.wr_id, status, opcode, byte_len: wc.byte_len, invalidated_rkey }
    }

    /// The provider must flush every outstanding work request once the queue pair is in the
    /// error state, but rdma_rxe on kernel 6.1 sometimes leaves one posted receive (seen in about
    /// half the conformance runs, on the side whose peer disconnected) unflushed forever. After
    /// [`FLUSH_GRACE`] without it, destroy the queue pair (the device then no longer touches our
    /// memory), take what the CQ still holds, and complete the rest here with WR_FLUSH_ERR, in
    /// posting order. Callers see the same thing either way; `RDMA_VERBS_TRACE_CM=1` reports it.
    fn software_flush(&mut self) -> Result<()> {
        if std::env::var_os("RDMA_VERBS_TRACE_CM").is_some() {
            let left: Vec<(u64, WcOpcode)> =
                self.slots.outstanding().iter().map(|&i| self.slots.peek(i)).collect();
            eprintln!("rdma-verbs: device left {left:?} (wr_id, opcode) unflushed; flushing in software");
        }
        self.qp = None;
        let mut wc = [sys::ibv_wc::default(); POLL_BATCH];
        loop {
            let n = self.cq.poll(&mut wc)?;
            for w in &wc[..n] {
                let c = self.translate(w);
                self.flushed.push_back(c);
            }
            if n == 0 {
                break;
            }
        }
        // The CQ entries `wait` buffered are real completions too.
        while self.wc_next < self.wc_end {
            let w = self.wc[self.wc_next];
            self.wc_next += 1;
            let c = self.translate(&w);
            self.flushed.push_back(c);
        }
        for index in self.slots.outstanding() {
            let slot = self.slots.release(&mut self.regions, index);
            self.flushed.push_back(Completion {
                wr_id: slot.wr_id,
                status: WcStatus::WR_FLUSH_ERR,
                opcode: slot.opcode,
                byte_len: 0,
                invalidated_rkey: None,
            });
        }
        Ok(())
    }

    /// Whether the flush grace has run out with work still outstanding on a live queue pair.
    fn flush_overdue(&self) -> bool {
        self.qp.is_some()
            && self.slots.in_flight() > 0
            && self.disconnected_at.is_some_and(|t| t.elapsed() >= FLUSH_GRACE)
    }

    fn forget_window(&mut self, rkey: u32) {
        if let Some((region, window)) = self.windows.remove(&rkey) {
            drop(window);
            if let Ok(e) = self.regions.get_mut(region) {
                e.in_flight = e.in_flight.saturating_sub(1);
            }
        }
    }

    fn fill_wc(&mut self) -> Result<usize> {
        if self.wc_next == self.wc_end {
            self.wc_next = 0;
            self.wc_end = self.cq.poll(&mut self.wc)?;
        }
        Ok(self.wc_end - self.wc_next)
    }

    fn sge(&self, s: &Sge) -> sys::ibv_sge {
        let mr = &self.regions.get(s.region).expect("checked before posting").inner;
        sys::ibv_sge { addr: mr.addr() + s.offset as u64, length: s.len as u32, lkey: mr.lkey() }
    }

    /// Fills `self.sges` with the verbs form of every list, in order (a request's SGEs are then a
    /// consecutive run of it).
    fn load_sges<'a>(&mut self, lists: impl Iterator<Item = &'a [Sge]>) {
        self.sges.clear();
        for list in lists {
            for s in list {
                let sge = self.sge(s);
                self.sges.push(sge);
            }
        }
    }
}

impl Endpoint for VerbsEndpoint {
    type Bytes<'a> = VerbsBytes<'a>;

    fn register(&mut self, len: usize, access: Access) -> Result<RegionId> {
        if len > u32::MAX as usize {
            return Err(Error::BadLength { len, why: "an SGE covers at most 4 GiB" });
        }
        let mr = MemoryRegion::new(self.pd.clone(), len, access)?;
        Ok(self.regions.insert(len, access, mr))
    }

    fn deregister(&mut self, region: RegionId) -> Result<()> {
        self.regions.remove(region).map(drop)
    }

    fn bytes(&mut self, region: RegionId) -> Result<&mut [u8]> {
        Ok(self.regions.idle_mut(region)?.inner.buf.as_mut_slice())
    }

    fn remote_key(&mut self, region: RegionId, offset: usize, len: usize) -> Result<RemoteKey> {
        let e = self.regions.check(&Sge::new(region, offset, len), Access::NONE)?;
        if !e.access.is_remote() {
            return Err(Error::AccessDenied {
                region,
                has: e.access,
                needs: Access::REMOTE_READ | Access::REMOTE_WRITE,
            });
        }
        Ok(RemoteKey { addr: e.inner.addr() + offset as u64, rkey: e.inner.rkey(), len: len as u64 })
    }

    fn bind_window(
        &mut self,
        wr_id: u64,
        region: RegionId,
        offset: usize,
        len: usize,
        access: Access,
    ) -> Result<RemoteKey> {
        let sge = Sge::new(region, offset, len);
        self.regions.check(&sge, Access::MW_BIND)?;
        self.slots.ensure_room(Queue::Send, 1)?;
        let Some(qp) = &self.qp else { return Err(Error::NotConnected(self.state)) };
        let window = MemoryWindow::new(self.pd.clone())?;
        let rkey = window.next_rkey();
        let e = self.regions.get(region)?;
        let addr = e.inner.addr() + offset as u64;
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
                length: len as u64,
                mw_access_flags: access.0,
            },
        };
        let slot = self.slots.acquire(&mut self.regions, Queue::Send, wr_id, WcOpcode::BIND_MW, &[sge], None);
        wr.wr_id = slot as u64;
        if let Err((r, _)) = qp.post_send(&mut wr) {
            self.slots.release(&mut self.regions, slot);
            return Err(Error::verb(
                "ibv_post_send",
                format!("BIND_MW rkey {rkey:#x} on region {region} bytes {offset}+{len}, access {access:?}"),
                Some(r),
            ));
        }
        self.regions.get_mut(region)?.in_flight += 1; // held by the window until invalidated
        self.windows.insert(rkey, (region, window));
        Ok(RemoteKey { addr, rkey, len: len as u64 })
    }

    fn post_send(&mut self, wrs: &[SendWr<'_>]) -> Result<()> {
        for wr in wrs {
            let needs =
                if matches!(wr.op, SendOp::RdmaRead { .. }) { Access::LOCAL_WRITE } else { Access::NONE };
            check_sges(&self.regions, wr.sges, needs)?;
        }
        self.slots.ensure_room(Queue::Send, wrs.len())?;
        if self.qp.is_none() {
            for wr in wrs {
                let opcode = match wr.op {
                    SendOp::Send | SendOp::SendWithInvalidate { .. } => WcOpcode::SEND,
                    SendOp::RdmaWrite { .. } => WcOpcode::RDMA_WRITE,
                    SendOp::RdmaRead { .. } => WcOpcode::RDMA_READ,
                    SendOp::LocalInvalidate { .. } => WcOpcode::LOCAL_INV,
                };
                self.flush_now(Queue::Send, wr.wr_id, opcode);
            }
            return Ok(());
        }
        self.send_wrs.clear();
        self.load_sges(wrs.iter().map(|wr| wr.sges));
        let mut first_sge = 0;
        for wr in wrs {
            let (opcode, wc_opcode, rkey) = match wr.op {
                SendOp::Send => (sys::ibv_wr_opcode::IBV_WR_SEND, WcOpcode::SEND, None),
                SendOp::SendWithInvalidate { .. } => {
                    (sys::ibv_wr_opcode::IBV_WR_SEND_WITH_INV, WcOpcode::SEND, None)
                }
                SendOp::RdmaWrite { .. } => {
                    (sys::ibv_wr_opcode::IBV_WR_RDMA_WRITE, WcOpcode::RDMA_WRITE, None)
                }
                SendOp::RdmaRead { .. } => (sys::ibv_wr_opcode::IBV_WR_RDMA_READ, WcOpcode::RDMA_READ, None),
                SendOp::LocalInvalidate { rkey } => {
                    (sys::ibv_wr_opcode::IBV_WR_LOCAL_INV, WcOpcode::LOCAL_INV, Some(rkey))
                }
            };
            let slot = self.slots.acquire(&mut self.regions, Queue::Send, wr.wr_id, wc_opcode, wr.sges, rkey);
            let mut w = sys::ibv_send_wr {
                wr_id: slot as u64,
                // The capacity reserved in `new` holds every SGE of a full batch: no reallocation
                // moves them after these pointers are taken.
                sg_list: if wr.sges.is_empty() {
                    std::ptr::null_mut()
                } else {
                    self.sges[first_sge..].as_mut_ptr()
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
            self.send_wrs.push(w);
        }
        let n = self.send_wrs.len();
        let Some(head) = link(&mut self.send_wrs) else { return Ok(()) };
        let qp = self.qp.as_ref().expect("checked above");
        if let Err((r, bad)) = qp.post_send(head) {
            // Requests before `bad` were posted; release the slots of the rest.
            let start = refused_from(&self.send_wrs, bad);
            for w in &self.send_wrs[start..] {
                self.slots.release(&mut self.regions, w.wr_id as u32);
            }
            return Err(Error::verb(
                "ibv_post_send",
                format!("{} of {n} work requests, first {:?}", n - start, wrs[start].op),
                Some(r),
            ));
        }
        Ok(())
    }

    fn post_recv(&mut self, wrs: &[RecvWr<'_>]) -> Result<()> {
        for wr in wrs {
            check_sges(&self.regions, wr.sges, Access::LOCAL_WRITE)?;
        }
        self.slots.ensure_room(Queue::Recv, wrs.len())?;
        if self.qp.is_none() {
            for wr in wrs {
                self.flush_now(Queue::Recv, wr.wr_id, WcOpcode::RECV);
            }
            return Ok(());
        }
        self.recv_wrs.clear();
        self.load_sges(wrs.iter().map(|wr| wr.sges));
        let mut first_sge = 0;
        for wr in wrs {
            let slot =
                self.slots.acquire(&mut self.regions, Queue::Recv, wr.wr_id, WcOpcode::RECV, wr.sges, None);
            self.recv_wrs.push(sys::ibv_recv_wr {
                wr_id: slot as u64,
                next: std::ptr::null_mut(),
                sg_list: self.sges[first_sge..].as_mut_ptr(),
                num_sge: wr.sges.len() as i32,
            });
            first_sge += wr.sges.len();
        }
        let n = self.recv_wrs.len();
        let Some(head) = link(&mut self.recv_wrs) else { return Ok(()) };
        let qp = self.qp.as_ref().expect("checked above");
        if let Err((r, bad)) = qp.post_recv(head) {
            let start = refused_from(&self.recv_wrs, bad);
            for w in &self.recv_wrs[start..] {
                self.slots.release(&mut self.regions, w.wr_id as u32);
            }
            return Err(Error::verb("ibv_post_recv", format!("{} of {n} work requests", n - start), Some(r)));
        }
        Ok(())
    }

    fn poll(&mut self, out: &mut [Completion]) -> Result<usize> {
        let mut n = 0;
        while n < out.len() {
            let Some(c) = self.flushed.pop_front() else { break };
            out[n] = c;
            n += 1;
        }
        if self.qp.is_none() {
            return Ok(n);
        }
        while n < out.len() {
            if self.fill_wc()? == 0 {
                break;
            }
            let wc = self.wc[self.wc_next];
            self.wc_next += 1;
            out[n] = self.translate(&wc);
            n += 1;
        }
        if n == 0 {
            self.empty_polls = self.empty_polls.wrapping_add(1);
            if self.empty_polls.is_multiple_of(CM_CHECK_EVERY) {
                self.process_cm_events()?;
            }
            if self.flush_overdue() {
                self.software_flush()?;
                return self.poll(out);
            }
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        if !self.flushed.is_empty() {
            return Ok(true);
        }
        if self.qp.is_none() {
            std::thread::sleep(timeout.min(Duration::from_millis(10)));
            return Ok(false);
        }
        if self.fill_wc()? > 0 {
            return Ok(true);
        }
        self.process_cm_events()?;
        if self.flush_overdue() {
            return Ok(true); // the next poll flushes
        }
        // Wake in time to flush in software if the device does not.
        let timeout = match self.disconnected_at {
            Some(t) if self.slots.in_flight() > 0 => {
                timeout.min((t + FLUSH_GRACE).saturating_duration_since(Instant::now()))
            }
            _ => timeout,
        };
        // Arm, then look again: a completion that arrived before arming raises no event.
        self.cq.arm()?;
        if self.fill_wc()? > 0 {
            return Ok(true);
        }
        let [cq_ready, cm_ready] = wait_readable([self.cq.channel_fd(), self.id.channel().fd()], timeout)?;
        if cq_ready {
            self.cq.take_event();
        }
        if cm_ready {
            self.process_cm_events()?;
        }
        Ok(self.fill_wc()? > 0 || cm_ready)
    }

    fn disconnect(&mut self) -> Result<()> {
        self.process_cm_events()?;
        match self.state.on_call(CmCall::Disconnect) {
            Some(s) if s == self.state => Ok(()),
            Some(s) => {
                self.id.disconnect()?;
                self.disconnected_at.get_or_insert_with(Instant::now);
                self.state = s;
                Ok(())
            }
            None => Err(Error::NotConnected(self.state)),
        }
    }

    fn state(&mut self) -> CmState {
        // An event-processing error leaves the state as it was; the next poll reports it.
        let _ = self.process_cm_events();
        self.state
    }

    fn peer_private_data(&self) -> &[u8] {
        &self.peer_private_data
    }

    fn in_flight(&self) -> usize {
        self.slots.in_flight()
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

impl Drop for VerbsEndpoint {
    fn drop(&mut self) {
        let _ = self.process_cm_events();
        if matches!(self.state, CmState::Established | CmState::Accepting | CmState::Connecting)
            && self.id.disconnect().is_ok()
        {
            self.state = CmState::Disconnecting;
        }
        // Destroying the id cancels the kernel's retransmissions of our disconnect request, so
        // a lost one would leave the peer connected forever: give the exchange a moment.
        let deadline = std::time::Instant::now() + DRAIN_ON_DROP;
        while self.state == CmState::Disconnecting && std::time::Instant::now() < deadline {
            match self.id.channel().next(Duration::from_millis(10)) {
                Ok(Some(ev)) => self.state = self.state.on_event(ev.event).unwrap_or(self.state),
                Ok(None) => {}
                Err(_) => break,
            }
        }
        // The QP goes first (explicitly, though field order would do the same): after this the
        // device touches none of the memory below.
        self.qp = None;
        self.windows.clear();
        for region in self.regions.drain() {
            drop(region);
        }
    }
}
