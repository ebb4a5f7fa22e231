//! The shared state of one loopback connection: both sides' queues, keys and completions, under
//! one lock. Every transfer happens under it, at posting time; completions then become visible
//! in the order a reliable connection would produce them.

use crate::completion::{WcOpcode, WcStatus};
use crate::work_request::RemoteAddr;
use crate::Access;
use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub(crate) use super::mem::Mem;

/// A resolved scatter/gather entry.
#[derive(Clone)]
pub(crate) struct Seg {
    pub mem: Mem,
    pub offset: usize,
    pub len: usize,
}

/// Memory one side exposes to the other under an rkey.
pub(crate) struct Key {
    pub mem: Mem,
    /// Address of the first byte the key covers, and where that is in the region.
    pub addr: u64,
    pub offset: usize,
    pub len: usize,
    pub access: Access,
    /// Windows can be invalidated; region-wide keys cannot.
    pub window: bool,
    pub valid: bool,
}

/// A completion queue entry. `status` is `None` while a SEND waits for the peer's RECV.
pub(crate) struct Cqe {
    pub slot: u32,
    pub status: Option<WcStatus>,
    pub opcode: WcOpcode,
    pub byte_len: u32,
    pub invalidated_rkey: Option<u32>,
    /// Order between the send and receive queues: when the entry became complete.
    pub seq: u64,
    pub ready_at: Option<Instant>,
}

struct PostedRecv {
    slot: u32,
    segs: Vec<Seg>,
}

struct InboundSend {
    data: Vec<u8>,
    invalidate: Option<u32>,
    sender_slot: u32,
}

#[derive(Default)]
pub(crate) struct FaultState {
    pub drop_next: u32,
    pub fail_next: Option<WcStatus>,
    pub delay: Option<Duration>,
}

#[derive(Default)]
pub(crate) struct Side {
    /// The domain that owns this side, told of its completions and of the disconnect.
    pub notify: Option<std::sync::Arc<super::notify::Notifier>>,
    pub keys: HashMap<u32, Key>,
    recvs: VecDeque<PostedRecv>,
    inbound: VecDeque<InboundSend>,
    pub sq: VecDeque<Cqe>,
    pub rq: VecDeque<Cqe>,
    pub qp_error: bool,
    pub faults: FaultState,
}

pub(crate) struct LinkState {
    pub connected: bool,
    pub sides: [Side; 2],
    seq: u64,
    next_rkey: u32,
}

pub(crate) struct Link {
    state: Mutex<LinkState>,
    pub cv: Condvar,
}

/// A send-queue operation with its local segments resolved.
pub(crate) enum Op {
    Send { invalidate: Option<u32> },
    Write { remote: RemoteAddr },
    Read { remote: RemoteAddr },
    LocalInvalidate { rkey: u32 },
    Bind,
}

impl Link {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(LinkState {
                connected: true,
                sides: Default::default(),
                seq: 0,
                next_rkey: 0x1000,
            }),
            cv: Condvar::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, LinkState> {
        // A panic under the lock leaves plain data behind, still consistent enough to tear down.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn gather(segs: &[Seg]) -> Vec<u8> {
    let mut out = Vec::with_capacity(segs.iter().map(|s| s.len).sum());
    for s in segs {
        s.mem.read_into(s.offset, s.len, &mut out);
    }
    out
}

fn scatter(segs: &[Seg], mut data: &[u8]) {
    for s in segs {
        if data.is_empty() {
            break;
        }
        let n = s.len.min(data.len());
        s.mem.write(s.offset, &data[..n]);
        data = &data[n..];
    }
}

impl LinkState {
    pub fn new_rkey(&mut self) -> u32 {
        self.next_rkey = self.next_rkey.wrapping_add(1);
        self.next_rkey
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Adds a finished completion to `side`'s queue, applying that side's faults.
    fn complete(&mut self, side: usize, mut cqe: Cqe) {
        cqe.seq = self.next_seq();
        let s = &mut self.sides[side];
        if cqe.status != Some(WcStatus::SUCCESS) && cqe.status.is_some() {
            s.qp_error = true;
        }
        if s.faults.drop_next > 0 {
            s.faults.drop_next -= 1;
            return;
        }
        if let Some(n) = &s.notify {
            n.signal();
        }
        cqe.ready_at = s.faults.delay.map(|d| Instant::now() + d);
        if cqe.opcode.is_recv() {
            s.rq.push_back(cqe);
        } else {
            s.sq.push_back(cqe);
        }
        if s.qp_error {
            self.flush(side);
        }
    }

    fn cqe(slot: u32, status: WcStatus, opcode: WcOpcode, byte_len: usize) -> Cqe {
        Cqe {
            slot,
            status: Some(status),
            opcode,
            byte_len: byte_len as u32,
            invalidated_rkey: None,
            seq: 0,
            ready_at: None,
        }
    }

    /// Completes every outstanding work request of `side` with WR_FLUSH_ERR (queue pair in error).
    pub fn flush(&mut self, side: usize) {
        self.sides[side].qp_error = true;
        if let Some(n) = &self.sides[side].notify {
            n.signal();
        }
        let recvs: Vec<PostedRecv> = self.sides[side].recvs.drain(..).collect();
        for r in recvs {
            let seq = self.next_seq();
            let mut c = Self::cqe(r.slot, WcStatus::WR_FLUSH_ERR, WcOpcode::RECV, 0);
            c.seq = seq;
            self.sides[side].rq.push_back(c);
        }
        let pending: Vec<usize> =
            (0..self.sides[side].sq.len()).filter(|&i| self.sides[side].sq[i].status.is_none()).collect();
        for i in pending {
            let seq = self.next_seq();
            let c = &mut self.sides[side].sq[i];
            c.status = Some(WcStatus::WR_FLUSH_ERR);
            c.seq = seq;
        }
    }

    /// The connection is gone: both sides flush; sends waiting for a receive are dropped.
    pub fn disconnect(&mut self) {
        self.connected = false;
        for side in 0..2 {
            self.sides[side].inbound.clear();
            self.flush(side);
        }
    }

    /// Whether work requests posted now on `side` must flush at once.
    fn dead(&self, side: usize) -> bool {
        !self.connected || self.sides[side].qp_error
    }

    pub fn post_send(&mut self, me: usize, slot: u32, op: Op, segs: &[Seg]) {
        let peer = 1 - me;
        let opcode = match op {
            Op::Send { .. } => WcOpcode::SEND,
            Op::Write { .. } => WcOpcode::RDMA_WRITE,
            Op::Read { .. } => WcOpcode::RDMA_READ,
            Op::LocalInvalidate { .. } => WcOpcode::LOCAL_INV,
            Op::Bind => WcOpcode::BIND_MW,
        };
        let len: usize = segs.iter().map(|s| s.len).sum();
        if self.dead(me) {
            // Posting to a queue pair in the error state is allowed; the request flushes.
            let c = Self::cqe(slot, WcStatus::WR_FLUSH_ERR, opcode, 0);
            self.complete(me, c);
            return;
        }
        if let Some(status) = self.sides[me].faults.fail_next.take() {
            self.complete(me, Self::cqe(slot, status, opcode, 0));
            return;
        }
        let status = match op {
            Op::Bind => WcStatus::SUCCESS,
            Op::LocalInvalidate { rkey } => match self.sides[me].keys.get_mut(&rkey) {
                Some(k) if k.window => {
                    k.valid = false;
                    WcStatus::SUCCESS
                }
                _ => WcStatus::LOC_QP_OP_ERR,
            },
            Op::Write { remote } => match self.remote_range(peer, remote, len, Access::REMOTE_WRITE) {
                Some((mem, offset)) => {
                    let data = gather(segs);
                    scatter(&[Seg { mem, offset, len }], &data);
                    WcStatus::SUCCESS
                }
                None => WcStatus::REM_ACCESS_ERR,
            },
            Op::Read { remote } => match self.remote_range(peer, remote, len, Access::REMOTE_READ) {
                Some((mem, offset)) => {
                    let data = gather(&[Seg { mem, offset, len }]);
                    scatter(segs, &data);
                    WcStatus::SUCCESS
                }
                None => WcStatus::REM_ACCESS_ERR,
            },
            Op::Send { invalidate } => {
                if self.sides[peer].qp_error {
                    // The peer's queue pair no longer answers: the transport retries, then gives up.
                    WcStatus::RETRY_EXC_ERR
                } else {
                    let msg = InboundSend { data: gather(segs), invalidate, sender_slot: slot };
                    // The sender's completion waits, in order, for the peer's receive.
                    let c = Cqe { status: None, ..Self::cqe(slot, WcStatus::SUCCESS, opcode, len) };
                    self.sides[me].sq.push_back(c);
                    match self.sides[peer].recvs.pop_front() {
                        Some(r) => self.deliver(peer, r, msg),
                        None => self.sides[peer].inbound.push_back(msg),
                    }
                    return;
                }
            }
        };
        let byte_len = if status.is_success() { len } else { 0 };
        self.complete(me, Self::cqe(slot, status, opcode, byte_len));
    }

    pub fn post_recv(&mut self, me: usize, slot: u32, segs: Vec<Seg>) {
        if self.dead(me) {
            self.complete(me, Self::cqe(slot, WcStatus::WR_FLUSH_ERR, WcOpcode::RECV, 0));
            return;
        }
        let r = PostedRecv { slot, segs };
        match self.sides[me].inbound.pop_front() {
            Some(msg) => self.deliver(me, r, msg),
            None => self.sides[me].recvs.push_back(r),
        }
    }

    /// A SEND from the peer of `me` meets `me`'s receive `r`.
    fn deliver(&mut self, me: usize, r: PostedRecv, msg: InboundSend) {
        let sender = 1 - me;
        let room: usize = r.segs.iter().map(|s| s.len).sum();
        let mut inv = None;
        let (recv_status, send_status) = if msg.data.len() > room {
            (WcStatus::LOC_LEN_ERR, WcStatus::REM_INV_REQ_ERR)
        } else {
            match msg.invalidate {
                Some(rkey) => match self.sides[me].keys.get_mut(&rkey) {
                    Some(k) if k.window => {
                        k.valid = false;
                        inv = Some(rkey);
                        (WcStatus::SUCCESS, WcStatus::SUCCESS)
                    }
                    // Region-wide keys cannot be invalidated remotely.
                    _ => (WcStatus::REM_INV_REQ_ERR, WcStatus::REM_INV_REQ_ERR),
                },
                None => (WcStatus::SUCCESS, WcStatus::SUCCESS),
            }
        };
        if recv_status.is_success() {
            scatter(&r.segs, &msg.data);
        }
        let mut c = Self::cqe(
            r.slot,
            recv_status,
            WcOpcode::RECV,
            if recv_status.is_success() { msg.data.len() } else { 0 },
        );
        c.invalidated_rkey = inv;
        self.complete(me, c);
        self.finish_pending_send(sender, msg.sender_slot, send_status);
    }

    fn finish_pending_send(&mut self, side: usize, slot: u32, status: WcStatus) {
        let Some(i) = self.sides[side].sq.iter().position(|c| c.slot == slot && c.status.is_none()) else {
            return;
        };
        let seq = self.next_seq();
        let s = &mut self.sides[side];
        let mut c = s.sq.remove(i).expect("found above");
        c.status = Some(status);
        c.seq = seq;
        if !status.is_success() {
            c.byte_len = 0;
            s.qp_error = true;
        }
        if s.faults.drop_next > 0 {
            s.faults.drop_next -= 1;
        } else {
            c.ready_at = s.faults.delay.map(|d| Instant::now() + d);
            s.sq.insert(i, c);
            if let Some(n) = &s.notify {
                n.signal();
            }
        }
        if self.sides[side].qp_error {
            self.flush(side);
        }
    }

    /// The memory behind `len` bytes at `remote` on `side`, if its key allows `needs`.
    fn remote_range(
        &self,
        side: usize,
        remote: RemoteAddr,
        len: usize,
        needs: Access,
    ) -> Option<(Mem, usize)> {
        let k = self.sides[side].keys.get(&remote.rkey)?;
        let start = remote.addr.checked_sub(k.addr)? as usize;
        let end = start.checked_add(len)?;
        if !k.valid || !k.access.contains(needs) || end > k.len {
            return None;
        }
        Some((k.mem.clone(), k.offset + start))
    }

    /// Pops the next visible completion of `side`: the earlier-completed of the two queue heads.
    /// A send-queue head still waiting (or delayed) holds back the send queue only.
    pub fn pop(&mut self, side: usize, now: Instant) -> Option<Cqe> {
        let s = &mut self.sides[side];
        match Self::heads(s, now) {
            (Some(a), Some(b)) if a < b => s.sq.pop_front(),
            (Some(_), None) => s.sq.pop_front(),
            (_, Some(_)) => s.rq.pop_front(),
            (None, None) => None,
        }
    }

    /// Whether [`Self::pop`] would return something now.
    pub fn has_ready(&self, side: usize, now: Instant) -> bool {
        Self::heads(&self.sides[side], now) != (None, None)
    }

    /// Completion order numbers of the visible heads of the send and receive queues.
    fn heads(s: &Side, now: Instant) -> (Option<u64>, Option<u64>) {
        let ready = |c: Option<&Cqe>| {
            c.filter(|c| c.status.is_some() && c.ready_at.is_none_or(|t| t <= now)).map(|c| c.seq)
        };
        (ready(s.sq.front()), ready(s.rq.front()))
    }

    /// When the next delayed completion of `side` becomes visible, if one is waiting.
    pub fn next_ready_at(&self, side: usize) -> Option<Instant> {
        let s = &self.sides[side];
        [s.sq.front(), s.rq.front()]
            .into_iter()
            .flatten()
            .filter(|c| c.status.is_some())
            .filter_map(|c| c.ready_at)
            .min()
    }
}
