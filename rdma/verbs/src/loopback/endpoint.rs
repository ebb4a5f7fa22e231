//! One side of a loopback connection, and its fault injector.

use super::link::{Key, Link, Mem, Op, Seg};
use crate::completion::{Completion, WcOpcode, WcStatus};
use crate::error::{Error, Result};
use crate::provider::{Endpoint, EndpointOptions};
use crate::region::{check_sges, Queue, RegionId, RegionTable, WrSlots};
use crate::work_request::{RecvWr, RemoteKey, SendOp, SendWr};
use crate::{Access, CmState};
use iobuf::AlignedBuf;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct LoopRegion {
    mem: Mem,
    /// The region-wide rkey, when registered with remote access.
    rkey: Option<u32>,
}

/// A connected loopback endpoint (see [`super`]).
pub struct LoopbackEndpoint {
    link: Arc<Link>,
    side: usize,
    peer_private_data: Vec<u8>,
    regions: RegionTable<LoopRegion>,
    slots: WrSlots,
    /// Bound windows by rkey, each holding its region busy until invalidated.
    windows: HashMap<u32, RegionId>,
    state: CmState,
}

/// The bytes of an idle loopback region.
pub struct LoopbackBytes<'a>(MutexGuard<'a, AlignedBuf>);

impl Deref for LoopbackBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl DerefMut for LoopbackBytes<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0.as_mut_slice()
    }
}

impl LoopbackEndpoint {
    pub(super) fn new(
        link: Arc<Link>,
        side: usize,
        opts: EndpointOptions,
        peer_private_data: Vec<u8>,
    ) -> Self {
        Self {
            link,
            side,
            peer_private_data,
            regions: RegionTable::new(),
            // Binds share the send queue; keep room for one per send slot.
            slots: WrSlots::new(opts.max_send_wr as usize, opts.max_recv_wr as usize),
            windows: HashMap::new(),
            state: CmState::Established,
        }
    }

    /// Fault injection for this side of the connection.
    pub fn faults(&self) -> Faults<'_> {
        Faults { ep: self }
    }

    fn segs(&self, sges: &[crate::Sge]) -> Vec<Seg> {
        sges.iter()
            .map(|s| Seg {
                mem: self.regions.get(s.region).expect("checked before posting").inner.mem.clone(),
                offset: s.offset,
                len: s.len,
            })
            .collect()
    }

    /// A window or region-wide key is gone: its region is no longer held by it.
    fn forget_window(&mut self, rkey: u32) {
        if let Some(region) = self.windows.remove(&rkey) {
            if let Ok(e) = self.regions.get_mut(region) {
                e.in_flight = e.in_flight.saturating_sub(1);
            }
            self.link.lock().sides[self.side].keys.remove(&rkey);
        }
    }
}

/// Injects faults into one side of a loopback connection.
pub struct Faults<'a> {
    ep: &'a LoopbackEndpoint,
}

impl Faults<'_> {
    /// The next `n` completions of this side vanish, as if the device lost them. Their work
    /// requests stay in flight (their regions stay busy) until the endpoint is dropped.
    pub fn drop_completions(&self, n: u32) {
        self.ep.link.lock().sides[self.ep.side].faults.drop_next = n;
    }

    /// The next send-queue work request of this side completes with `status` (and, being an
    /// error, puts the queue pair in the error state so later requests flush).
    pub fn fail_next(&self, status: WcStatus) {
        self.ep.link.lock().sides[self.ep.side].faults.fail_next = Some(status);
    }

    /// Completions of this side become visible `delay` after they happen (`None`: at once).
    pub fn delay_completions(&self, delay: Option<Duration>) {
        self.ep.link.lock().sides[self.ep.side].faults.delay = delay;
    }

    /// The link breaks: both sides see a disconnect without either asking for it.
    pub fn break_link(&self) {
        self.ep.link.lock().disconnect();
        self.ep.link.cv.notify_all();
    }
}

impl Endpoint for LoopbackEndpoint {
    type Bytes<'a> = LoopbackBytes<'a>;

    fn register(&mut self, len: usize, access: Access) -> Result<RegionId> {
        let buf = AlignedBuf::zeroed(len)?;
        let addr = buf.as_ptr() as u64;
        let mem: Mem = Arc::new(Mutex::new(buf));
        let rkey = access.is_remote().then(|| {
            let mut st = self.link.lock();
            let rkey = st.new_rkey();
            let key = Key { mem: mem.clone(), addr, offset: 0, len, access, window: false, valid: true };
            st.sides[self.side].keys.insert(rkey, key);
            rkey
        });
        Ok(self.regions.insert(len, access, LoopRegion { mem, rkey }))
    }

    fn deregister(&mut self, region: RegionId) -> Result<()> {
        let e = self.regions.remove(region)?;
        if let Some(rkey) = e.inner.rkey {
            self.link.lock().sides[self.side].keys.remove(&rkey);
        }
        Ok(())
    }

    fn bytes(&mut self, region: RegionId) -> Result<LoopbackBytes<'_>> {
        let e = self.regions.idle(region)?;
        Ok(LoopbackBytes(e.inner.mem.lock().unwrap_or_else(|p| p.into_inner())))
    }

    fn remote_key(&self, region: RegionId, offset: usize, len: usize) -> Result<RemoteKey> {
        let e = self.regions.check(&crate::Sge::new(region, offset, len), Access::NONE)?;
        let rkey = e.inner.rkey.ok_or(Error::AccessDenied {
            region,
            has: e.access,
            needs: Access::REMOTE_READ | Access::REMOTE_WRITE,
        })?;
        let base = e.inner.mem.lock().unwrap_or_else(|p| p.into_inner()).as_ptr() as u64;
        Ok(RemoteKey { addr: base + offset as u64, rkey, len: len as u64 })
    }

    fn bind_window(
        &mut self,
        wr_id: u64,
        region: RegionId,
        offset: usize,
        len: usize,
        access: Access,
    ) -> Result<RemoteKey> {
        let sge = crate::Sge::new(region, offset, len);
        self.regions.check(&sge, Access::MW_BIND)?;
        self.slots.ensure_room(Queue::Send, 1)?;
        let mem = self.regions.get(region)?.inner.mem.clone();
        let addr = mem.lock().unwrap_or_else(|p| p.into_inner()).as_ptr() as u64 + offset as u64;
        let slot = self.slots.acquire(&mut self.regions, Queue::Send, wr_id, WcOpcode::BIND_MW, &[sge], None);
        self.regions.get_mut(region)?.in_flight += 1; // held by the window until invalidated
        let mut st = self.link.lock();
        let rkey = st.new_rkey();
        let key = Key { mem, addr, offset, len, access, window: true, valid: true };
        st.sides[self.side].keys.insert(rkey, key);
        st.post_send(self.side, slot, Op::Bind, &[]);
        drop(st);
        self.windows.insert(rkey, region);
        self.link.cv.notify_all();
        Ok(RemoteKey { addr, rkey, len: len as u64 })
    }

    fn post_send(&mut self, wrs: &[SendWr<'_>]) -> Result<()> {
        for wr in wrs {
            let needs = match wr.op {
                SendOp::RdmaRead { .. } => Access::LOCAL_WRITE,
                _ => Access::NONE,
            };
            check_sges(&self.regions, wr.sges, needs)?;
        }
        self.slots.ensure_room(Queue::Send, wrs.len())?;
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
            let segs = self.segs(wr.sges);
            let slot = self.slots.acquire(&mut self.regions, Queue::Send, wr.wr_id, opcode, wr.sges, rkey);
            self.link.lock().post_send(self.side, slot, op, &segs);
        }
        self.link.cv.notify_all();
        Ok(())
    }

    fn post_recv(&mut self, wrs: &[RecvWr<'_>]) -> Result<()> {
        for wr in wrs {
            check_sges(&self.regions, wr.sges, Access::LOCAL_WRITE)?;
        }
        self.slots.ensure_room(Queue::Recv, wrs.len())?;
        for wr in wrs {
            let segs = self.segs(wr.sges);
            let slot =
                self.slots.acquire(&mut self.regions, Queue::Recv, wr.wr_id, WcOpcode::RECV, wr.sges, None);
            self.link.lock().post_recv(self.side, slot, segs);
        }
        self.link.cv.notify_all();
        Ok(())
    }

    fn poll(&mut self, out: &mut [Completion]) -> Result<usize> {
        let now = Instant::now();
        let mut n = 0;
        while n < out.len() {
            let Some(c) = self.link.lock().pop(self.side, now) else { break };
            let slot = self.slots.release(&mut self.regions, c.slot);
            let status = c.status.unwrap_or(WcStatus::GENERAL_ERR);
            // As on a device, an error completion's opcode comes from the request, not the wire.
            let opcode = if status.is_success() { c.opcode } else { slot.opcode };
            if let Some(rkey) = c.invalidated_rkey {
                self.forget_window(rkey);
            }
            if c.opcode == WcOpcode::LOCAL_INV && status.is_success() {
                if let Some(rkey) = slot.rkey {
                    self.forget_window(rkey);
                }
            }
            out[n] = Completion {
                wr_id: slot.wr_id,
                status,
                opcode,
                byte_len: c.byte_len,
                invalidated_rkey: c.invalidated_rkey,
            };
            n += 1;
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        let mut st = self.link.lock();
        loop {
            let now = Instant::now();
            if st.has_ready(self.side, now) {
                return Ok(true);
            }
            if now >= deadline {
                return Ok(false);
            }
            let until = st.next_ready_at(self.side).map_or(deadline, |t| t.min(deadline));
            st = self
                .link
                .cv
                .wait_timeout(st, until.saturating_duration_since(now))
                .map_err(|_| Error::Timeout { after: timeout, what: "loopback lock (poisoned)" })?
                .0;
        }
    }

    fn disconnect(&mut self) -> Result<()> {
        self.link.lock().disconnect();
        self.link.cv.notify_all();
        self.state = CmState::Disconnected;
        Ok(())
    }

    fn state(&mut self) -> CmState {
        if !self.link.lock().connected {
            self.state = CmState::Disconnected;
        }
        self.state
    }

    fn peer_private_data(&self) -> &[u8] {
        &self.peer_private_data
    }

    fn in_flight(&self) -> usize {
        self.slots.in_flight()
    }
}

impl Drop for LoopbackEndpoint {
    fn drop(&mut self) {
        let mut st = self.link.lock();
        st.disconnect();
        // The link must not keep this side's memory alive after the endpoint is gone.
        st.sides[self.side].keys.clear();
        drop(st);
        self.link.cv.notify_all();
    }
}
