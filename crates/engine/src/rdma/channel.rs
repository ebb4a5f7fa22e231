//! One SMB Direct connection as its reactor sees it: a queue pair of the reactor's domain, the
//! MS-SMBD state machine ([`smbdirect::SmbdConnection`]), a ring of receive buffers and one of send
//! buffers (pool leases, registered once per reactor), and the handler.
//!
//! [`RdmaChannel::drive`] is the run-to-completion step, as for TCP: deliver received messages,
//! post receives the state machine wants, fragment the outbox into sends while credits last, and
//! finish a close. Completions and connection events come from the reactor, which polls the shared
//! completion queue and routes each to its channel ([`RdmaChannel::on_completion`],
//! [`RdmaChannel::on_event`]) before driving it.
//!
//! A channel's life: `Connecting` (active side, until the CM says Established) → `Negotiating`
//! (MS-SMBD negotiate; receives posted, the handler not yet started) → `Established` (the handler
//! runs: `on_start`, messages, wakes) → `Closing` (sends drain, then disconnect) → gone on the CM's
//! Disconnected.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rdma_verbs::{QpEvent, QpId, RecvWr, RemoteAddr, SendOp, SendWr, WcOpcode};
use smbdirect::descriptors::RdmaPiece;
use smbdirect::{Event as SmbdEvent, Received, SmbdConnection};

use crate::channel::{Limits, Progress};
use crate::connection::{PeerInfo, RdmaLimits, Transport};
use crate::error::EngineError;
use crate::handle::ConnectionHandle;
use crate::handler_core::{HandlerCore, State};
use crate::outbox::RdmaOp;
use crate::rdma::context::BIND_BIT;
use crate::rdma::provider::DynDomain;
use crate::rdma::RdmaCtx;
use crate::stats::{bump, ReactorCounters};

/// wr_id bit that marks a send (clear: a receive); the low bits are the ring slot.
const SEND_BIT: u64 = 1 << 63;
/// wr_id bit that marks an RDMA READ or WRITE of file data: bits 16.. are the operation's slot,
/// bits 0..16 the piece.
const DATA_BIT: u64 = 1 << 62;
/// RDMA READs and WRITEs of file data in flight at most per connection (send-queue room kept for
/// them beside the SMB Direct sends; see `RdmaSettings::endpoint_options`).
pub(crate) const MAX_DATA_WRS: u32 = 128;
/// Largest piece of one RDMA READ or WRITE work request; a descriptor larger than this is split.
const MAX_PER_WR: u32 = 8 << 20;

/// An RDMA READ or WRITE of one I/O's data, split in work requests (MS-SMBD 3.1.4.5/3.1.4.6), or
/// the local invalidation of a window.
struct DataOp {
    /// `Some(token)` for a READ or a revoke (the handler hears of it), `None` for a WRITE.
    read: Option<u64>,
    /// A revoke: the rkey to invalidate (one LOCAL_INV instead of pieces).
    revoke: Option<u32>,
    lease: iobuf::Lease,
    pieces: Vec<RdmaPiece>,
    /// Pieces posted so far.
    posted: usize,
    /// Pieces posted and not yet complete.
    outstanding: u32,
}

/// Where a channel is in its life (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Negotiating,
    Established,
    /// The handler said Close, the peer disconnected, or SMB Direct closed: drain, then disconnect.
    Closing,
}

/// A ring of equal slots in one lease.
struct Ring {
    lease: iobuf::Lease,
    stride: usize,
    free: Vec<u32>,
}

impl Ring {
    fn new(pool: &iobuf::Pool, slots: u32, stride: usize) -> Result<Ring, iobuf::Error> {
        let lease = pool.take(slots as usize * stride)?;
        Ok(Ring { lease, stride, free: (0..slots).rev().collect() })
    }

    fn slot(&mut self, i: u32) -> &mut [u8] {
        let at = i as usize * self.stride;
        &mut self.lease[at..at + self.stride]
    }
}

/// A completed receive not yet handed to the state machine (held back while the outbox is full).
struct Arrived {
    slot: u32,
    len: usize,
    invalidated: Option<u32>,
}

pub(crate) struct RdmaChannel {
    pub(crate) core: HandlerCore,
    pub(crate) qp: QpId,
    smbd: SmbdConnection,
    phase: Phase,
    /// Until the handler starts (SMB Direct established), its handle waits here.
    handle: Option<ConnectionHandle>,
    /// The handle was woken: the handler runs `on_rdma_wake` at the next drive.
    wake_pending: bool,
    /// This drive left messages undelivered because the memory budget is used up.
    starved: bool,
    recv: Ring,
    send: Ring,
    arrived: VecDeque<Arrived>,
    /// The outbox's front message has been queued with the state machine.
    front_queued: bool,
    /// The disconnect was asked for.
    disconnecting: bool,
    /// The CM reported the end: close once this drive is over.
    gone: bool,
    /// Why the connection ends, for the reactor's log.
    failure: Option<EngineError>,
    /// RDMA data operations by slot, and the order they are posted in.
    ops: Vec<Option<DataOp>>,
    op_queue: VecDeque<usize>,
    /// Data work requests in flight, and the RDMA READs among them (bounded by the initiator depth
    /// the connection settled).
    data_wrs: u32,
    reads_out: u32,
    max_reads: u32,
    /// Finished RDMA READs for the handler.
    pulled: VecDeque<(u64, Result<iobuf::Lease, String>)>,
}

impl RdmaChannel {
    /// A channel for a queue pair just accepted or being connected; `pool` provides its rings.
    pub(crate) fn new(
        core: HandlerCore,
        qp: QpId,
        smbd: SmbdConnection,
        cfg: &smbdirect::Config,
        pool: &iobuf::Pool,
        connecting: bool,
    ) -> Result<RdmaChannel, iobuf::Error> {
        let mut core = core;
        core.outbox.set_pool(pool.clone());
        // One receive past the credit target may be posted (the last-credit rule).
        let recv = Ring::new(pool, u32::from(cfg.receive_credit_max) + 1, cfg.max_receive_size as usize)?;
        let send = Ring::new(pool, cfg.send_queue_depth, cfg.max_send_size as usize)?;
        Ok(RdmaChannel {
            core,
            qp,
            smbd,
            phase: if connecting { Phase::Connecting } else { Phase::Negotiating },
            handle: None,
            wake_pending: false,
            starved: false,
            recv,
            send,
            arrived: VecDeque::new(),
            front_queued: false,
            disconnecting: false,
            gone: false,
            failure: None,
            ops: Vec::new(),
            op_queue: VecDeque::new(),
            data_wrs: 0,
            reads_out: 0,
            max_reads: 1,
            pulled: VecDeque::new(),
        })
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.core.peer.addr
    }

    /// The reactor adopted the channel: the handler starts once SMB Direct is established.
    pub(crate) fn start(&mut self, handle: ConnectionHandle) {
        self.handle = Some(handle);
    }

    /// The handle was woken: the handler hears of it in the next drive (after SMB Direct is
    /// established), where it can grant buffers.
    pub(crate) fn wake(&mut self) -> Result<(), EngineError> {
        self.wake_pending = true;
        Ok(())
    }

    /// The earliest timer of the state machine (negotiation, keepalive).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.smbd.poll_timeout()
    }

    pub(crate) fn on_timer(&mut self, now: Instant) {
        self.smbd.handle_timeout(now);
    }

    fn fail(&mut self, e: EngineError) {
        self.failure.get_or_insert(e);
        self.phase = Phase::Closing;
        self.core.state = State::Draining;
    }

    fn smbd_error(&self, e: smbdirect::Error) -> EngineError {
        EngineError::Smbd { peer: self.peer(), source: e }
    }

    /// A connection event of this channel's queue pair.
    pub(crate) fn on_event(&mut self, ev: QpEvent, domain: &mut dyn DynDomain) {
        match ev {
            QpEvent::Established { .. } => {
                if self.phase == Phase::Connecting {
                    self.phase = Phase::Negotiating;
                }
                if let Ok(Some(addr)) = domain.peer_addr(self.qp) {
                    self.core.peer.addr = addr;
                }
            }
            QpEvent::Failed { reason, .. } => {
                self.gone = true;
                self.fail(EngineError::RdmaConnect { peer: self.peer(), reason });
            }
            QpEvent::Disconnected => {
                // Messages that arrived before the disconnect are still delivered (`drive`), then
                // the state machine hears of it.
                self.gone = true;
            }
        }
    }

    /// One completion of this channel's queue pair.
    pub(crate) fn on_completion(&mut self, c: rdma_verbs::Completion) {
        if c.wr_id & BIND_BIT != 0 {
            if !c.status.is_success() && !self.gone {
                let (peer, status) = (self.core.peer.addr, c.status);
                self.fail(EngineError::RdmaCompletion {
                    peer,
                    op: "memory window bind",
                    status: status.to_string(),
                });
            }
            return;
        }
        if c.wr_id & DATA_BIT != 0 {
            self.on_data_completion(c);
            return;
        }
        let slot = (c.wr_id & !SEND_BIT) as u32;
        if c.wr_id & SEND_BIT != 0 {
            self.send.free.push(slot);
            self.smbd.on_send_completed(1);
            // A flushed send is the queue pair going down (the peer disconnected, or another work
            // request failed and reports its own status): not an error of its own.
            let flushed = c.status == rdma_verbs::WcStatus::WR_FLUSH_ERR;
            if !c.status.is_success() && !flushed && !self.gone {
                let (peer, status) = (self.peer(), c.status);
                self.fail(EngineError::RdmaCompletion { peer, op: "send", status: status.to_string() });
            }
            return;
        }
        debug_assert!(c.opcode == WcOpcode::RECV || !c.status.is_success());
        if c.status.is_success() {
            let len = c.byte_len as usize;
            self.arrived.push_back(Arrived { slot, len, invalidated: c.invalidated_rkey });
        } else {
            // A flushed receive (the queue pair is going down) is not an error of its own.
            self.recv.free.push(slot);
            if !self.gone && c.status != rdma_verbs::WcStatus::WR_FLUSH_ERR {
                let (peer, status) = (self.peer(), c.status);
                self.fail(EngineError::RdmaCompletion { peer, op: "receive", status: status.to_string() });
            }
        }
    }

    /// A piece of an RDMA READ or WRITE of file data completed.
    fn on_data_completion(&mut self, c: rdma_verbs::Completion) {
        let slot = ((c.wr_id & !DATA_BIT) >> 16) as usize;
        self.data_wrs = self.data_wrs.saturating_sub(1);
        let Some(Some(op)) = self.ops.get_mut(slot) else { return };
        op.outstanding = op.outstanding.saturating_sub(1);
        if op.read.is_some() {
            self.reads_out = self.reads_out.saturating_sub(1);
        }
        if !c.status.is_success() {
            if !self.gone {
                let (peer, status) = (self.core.peer.addr, c.status);
                let what = if op.read.is_some() { "RDMA READ" } else { "RDMA WRITE" };
                self.fail(EngineError::RdmaCompletion { peer, op: what, status: status.to_string() });
            }
            // The queue pair is in error: whatever else was posted flushes; the data is not had.
            if let Some(Some(op)) = self.ops.get_mut(slot).map(Option::take) {
                if let Some(token) = op.read {
                    self.pulled.push_back((token, Err(format!("RDMA READ completed with {}", c.status))));
                }
            }
            return;
        }
        if op.outstanding == 0 && op.posted == op.pieces.len().max(usize::from(op.revoke.is_some())) {
            tracing::debug!(peer = %self.core.peer.addr, read = op.read.is_some(), "RDMA data transfer done");
            if let Some(Some(op)) = self.ops.get_mut(slot).map(Option::take) {
                if let Some(token) = op.read {
                    self.pulled.push_back((token, Ok(op.lease)));
                }
            }
        }
    }

    /// Takes the RDMA operations due before the front message and posts what the send queue and
    /// the initiator depth allow. Returns whether every operation queued so far is posted (the
    /// message after them may go).
    fn post_data(
        &mut self,
        domain: &mut dyn DynDomain,
        counters: &ReactorCounters,
    ) -> Result<bool, EngineError> {
        while let Some(op) = self.core.outbox.take_rdma_front() {
            let (read, lease, len, descs) = match op {
                RdmaOp::Write { data, len, descs } => (None, data, len, descs),
                RdmaOp::Read { token, into, len, descs } => (Some(token), into, len, descs),
                RdmaOp::Revoke { token, rkey, lease } => {
                    let slot = self.op_slot();
                    let op = DataOp {
                        read: Some(token),
                        revoke: Some(rkey),
                        lease,
                        pieces: vec![],
                        posted: 0,
                        outstanding: 0,
                    };
                    self.ops[slot] = Some(op);
                    self.op_queue.push_back(slot);
                    continue;
                }
            };
            let peer = self.core.peer.addr;
            let plan = smbdirect::descriptors::plan(descs.as_slice(), 0, len, MAX_PER_WR).map_err(|e| {
                EngineError::Rdma {
                    peer,
                    op: "plan RDMA transfer",
                    source: rdma_verbs::Error::BadLength { len, why: descriptor_why(&e) },
                }
            })?;
            let pieces: Vec<RdmaPiece> = plan.collect();
            if len > lease.len() || pieces.len() >= 1 << 16 {
                return Err(EngineError::Rdma {
                    peer,
                    op: "plan RDMA transfer",
                    source: rdma_verbs::Error::BadLength {
                        len,
                        why: "more than the lease or too many pieces",
                    },
                });
            }
            let slot = self.op_slot();
            tracing::debug!(peer = %peer, read = read.is_some(), len, pieces = pieces.len(), "RDMA data transfer queued");
            self.ops[slot] = Some(DataOp { read, revoke: None, lease, pieces, posted: 0, outstanding: 0 });
            self.op_queue.push_back(slot);
        }
        while let Some(&slot) = self.op_queue.front() {
            let Some(Some(op)) = self.ops.get_mut(slot) else {
                self.op_queue.pop_front();
                continue;
            };
            if let Some(rkey) = op.revoke {
                if op.outstanding == 0 && self.data_wrs >= MAX_DATA_WRS {
                    return Ok(false);
                }
                if op.outstanding == 0 {
                    let wr_id = DATA_BIT | (slot as u64) << 16;
                    domain
                        .post_send(
                            self.qp,
                            &[SendWr { wr_id, op: SendOp::LocalInvalidate { rkey }, sges: &[] }],
                        )
                        .map_err(|e| EngineError::Rdma {
                            peer: self.core.peer.addr,
                            op: "post LOCAL_INV",
                            source: e,
                        })?;
                    op.outstanding = 1;
                    op.posted = 1;
                    self.data_wrs += 1;
                }
                self.op_queue.pop_front();
                continue;
            }
            while op.posted < op.pieces.len() && self.data_wrs < MAX_DATA_WRS {
                let is_read = op.read.is_some();
                if is_read && self.max_reads == 0 {
                    return Err(EngineError::RdmaReadNotServed { peer: self.core.peer.addr });
                }
                if is_read && self.reads_out >= self.max_reads {
                    break;
                }
                let p = op.pieces[op.posted];
                let sge = domain.lease_sge(&op.lease, p.local_offset, p.len as usize).map_err(|e| {
                    EngineError::Rdma { peer: self.core.peer.addr, op: "lease_sge", source: e }
                })?;
                let remote = RemoteAddr { addr: p.remote_offset, rkey: p.token };
                let wr_op = if is_read { SendOp::RdmaRead { remote } } else { SendOp::RdmaWrite { remote } };
                let wr_id = DATA_BIT | (slot as u64) << 16 | op.posted as u64;
                domain.post_send(self.qp, &[SendWr { wr_id, op: wr_op, sges: &[sge] }]).map_err(|e| {
                    EngineError::Rdma { peer: self.core.peer.addr, op: "post RDMA data", source: e }
                })?;
                op.posted += 1;
                op.outstanding += 1;
                self.data_wrs += 1;
                if is_read {
                    self.reads_out += 1;
                    bump(&counters.rdma_read_bytes, u64::from(p.len));
                } else {
                    bump(&counters.rdma_write_bytes, u64::from(p.len));
                }
            }
            if op.posted < op.pieces.len() {
                return Ok(false);
            }
            self.op_queue.pop_front();
            if op.pieces.is_empty() {
                // Nothing to move (a zero-length transfer): done at once.
                if let Some(Some(op)) = self.ops.get_mut(slot).map(Option::take) {
                    if let Some(token) = op.read {
                        self.pulled.push_back((token, Ok(op.lease)));
                    }
                }
            }
        }
        Ok(true)
    }

    /// A free slot in the operation table.
    fn op_slot(&mut self) -> usize {
        match self.ops.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.ops.push(None);
                self.ops.len() - 1
            }
        }
    }

    /// Hands finished RDMA READs to the handler.
    fn deliver_pulled(&mut self) -> Result<(), EngineError> {
        while let Some((token, result)) = self.pulled.pop_front() {
            self.core.rdma_done(token, result)?;
        }
        Ok(())
    }

    /// Run to completion (see the module docs).
    pub(crate) fn drive(
        &mut self,
        domain: &mut dyn DynDomain,
        limits: &Limits,
        counters: &ReactorCounters,
        reading: bool,
    ) -> Progress {
        let now = Instant::now();
        if self.phase == Phase::Connecting {
            return if self.gone { self.finish() } else { Progress::Idle };
        }
        if let Err(e) = self.receive(domain, limits, counters, reading, now) {
            self.fail(e);
        }
        if !self.gone {
            if let Err(e) = self.deliver_pulled() {
                self.fail(e);
            }
            if self.phase == Phase::Established && std::mem::take(&mut self.wake_pending) {
                let mut ctx = RdmaCtx { domain: &mut *domain, qp: self.qp, peer: self.core.peer.addr };
                if let Err(e) = self.core.wake_rdma(&mut ctx) {
                    self.fail(e);
                }
            }
        }
        if self.gone && self.phase != Phase::Closing {
            self.smbd.on_connection_lost();
            self.phase = Phase::Closing;
            self.core.state = State::Draining;
        }
        if let Err(e) = self.post_receives(domain) {
            self.fail(e);
        }
        let queued = self.core.outbox.queued_bytes();
        if let Err(e) = self.transmit(domain, counters, now) {
            self.fail(e);
        }
        // Answers sent: the budget gets their bytes back. (An RDMA channel's receive buffers are
        // its reactor's registered pool, bounded by its own size, not charged.)
        if self.core.outbox.queued_bytes() < queued {
            self.core.last_progress = now;
        }
        self.core.account();
        if self.phase == Phase::Established && self.core.state == State::Draining {
            self.phase = Phase::Closing;
        }
        if self.phase == Phase::Closing {
            // Answers already queued go out first, unless the queue pair is gone or the channel
            // failed (then only RDMA transfers already posted are waited for: queued ones may never
            // be postable, e.g. an RDMA READ from a peer that serves none).
            let drained = self.gone
                || (self.failure.is_some() && self.data_wrs == 0)
                || (self.core.outbox.is_empty()
                    && self.smbd.sends_in_flight() == 0
                    && self.data_wrs == 0
                    && self.op_queue.is_empty());
            if drained && !self.disconnecting && !self.gone {
                self.disconnecting = true;
                if domain.disconnect(self.qp).is_err() {
                    self.gone = true;
                }
            }
            if self.gone {
                return self.finish();
            }
        }
        if std::mem::take(&mut self.starved) && !self.arrived.is_empty() && reading {
            return Progress::Starved;
        }
        if !self.arrived.is_empty() && self.core.outbox.queued_bytes() <= limits.max_outbox && reading {
            return Progress::MoreWork;
        }
        Progress::Idle
    }

    fn finish(&mut self) -> Progress {
        match self.failure.take() {
            Some(e) => Progress::Failed(e),
            None => Progress::Done,
        }
    }

    /// Hands arrived receives to the state machine (and whole messages to the handler) while the
    /// outbox is under its limit; each receive buffer goes back to the free list after use.
    fn receive(
        &mut self,
        domain: &mut dyn DynDomain,
        limits: &Limits,
        counters: &ReactorCounters,
        reading: bool,
        now: Instant,
    ) -> Result<(), EngineError> {
        while let Some(a) = self.arrived.front() {
            if self.core.state != State::Open || !reading {
                break;
            }
            if self.phase == Phase::Established && self.core.outbox.queued_bytes() > limits.max_outbox {
                break;
            }
            if self.phase == Phase::Established && self.core.budget_exhausted() {
                // The reactor drives a starved channel again once the budget has room.
                self.starved = true;
                break;
            }
            let Arrived { slot, len, invalidated } = *a;
            self.arrived.pop_front();
            self.core.last_progress = now;
            bump(&counters.bytes_in, len as u64);
            let buf = &mut self.recv.slot(slot)[..len];
            let peer = self.core.peer.addr;
            match self.smbd.on_receive(buf, invalidated, now) {
                Ok(Received::Message { data, invalidated_rkey }) => {
                    bump(&counters.messages, 1);
                    let mut ctx = RdmaCtx { domain: &mut *domain, qp: self.qp, peer };
                    self.core.deliver_rdma(data, invalidated_rkey, &mut ctx)?;
                }
                Ok(Received::Nothing | Received::Fragment | Received::Negotiated) => {}
                Err(e) => {
                    self.recv.free.push(slot);
                    return Err(EngineError::Smbd { peer, source: e });
                }
            }
            self.recv.free.push(slot);
            self.take_events(domain)?;
        }
        self.take_events(domain)
    }

    /// State machine events: established (start the handler) or closed.
    fn take_events(&mut self, domain: &mut dyn DynDomain) -> Result<(), EngineError> {
        while let Some(ev) = self.smbd.poll_event() {
            match ev {
                SmbdEvent::Established(params) => {
                    let depth = domain.initiator_depth(self.qp).unwrap_or(1);
                    self.core.peer = PeerInfo {
                        addr: self.core.peer.addr,
                        transport: Transport::Rdma(RdmaLimits {
                            max_message: params.max_fragmented_send_size.min(params.max_fragmented_recv_size),
                            max_read_write: params.max_read_write_size,
                            initiator_depth: depth,
                        }),
                    };
                    self.phase = Phase::Established;
                    self.max_reads = u32::from(depth);
                    if let Some(handle) = self.handle.take() {
                        self.core.start(handle)?;
                    }
                }
                SmbdEvent::Closed(e) => {
                    if !matches!(e, smbdirect::Error::ConnectionLost) && self.failure.is_none() && !self.gone
                    {
                        self.failure = Some(self.smbd_error(e));
                    }
                    self.phase = Phase::Closing;
                    self.core.state = State::Draining;
                }
            }
        }
        Ok(())
    }

    /// Posts the receives the state machine asks for.
    fn post_receives(&mut self, domain: &mut dyn DynDomain) -> Result<(), EngineError> {
        if self.gone || self.disconnecting {
            return Ok(());
        }
        let mut posted = 0;
        while posted < self.smbd.receives_wanted() {
            let Some(slot) = self.recv.free.pop() else { break };
            let at = slot as usize * self.recv.stride;
            let sge = domain
                .lease_sge(&self.recv.lease, at, self.recv.stride)
                .map_err(|e| self.verb("lease_sge", e))?;
            let wr = RecvWr { wr_id: u64::from(slot), sges: &[sge] };
            if let Err(e) = domain.post_recv(self.qp, &[wr]) {
                self.recv.free.push(slot);
                return Err(self.verb("post_recv", e));
            }
            posted += 1;
        }
        if posted > 0 {
            self.smbd.on_receives_posted(posted);
        }
        Ok(())
    }

    fn verb(&self, op: &'static str, e: rdma_verbs::Error) -> EngineError {
        EngineError::Rdma { peer: self.peer(), op, source: e }
    }

    /// Fragments the outbox (and the state machine's own messages) into sends.
    fn transmit(
        &mut self,
        domain: &mut dyn DynDomain,
        counters: &ReactorCounters,
        now: Instant,
    ) -> Result<(), EngineError> {
        if self.gone || self.disconnecting {
            return Ok(());
        }
        loop {
            if self.phase == Phase::Established && !self.front_queued {
                // RDMA WRITEs of a READ's data are posted before its response (RC ordering places
                // them first); a message waits while operations before it wait for room.
                // Until they are all posted, credits and keepalives still go out below.
                self.post_data(domain, counters)?;
                let front = self.core.outbox.front().map(<[u8]>::len);
                match front {
                    Some(0) => {
                        // Nothing to carry: MS-SMBD cannot send an empty upper-layer message.
                        self.core.outbox.pop_front();
                        continue;
                    }
                    Some(len) if self.op_queue.is_empty() => {
                        let queued = match self.core.outbox.front_invalidate() {
                            Some(token) => self.smbd.queue_message_invalidating(len, token),
                            None => self.smbd.queue_message(len),
                        };
                        queued.map_err(|e| self.smbd_error(e))?;
                        self.front_queued = true;
                    }
                    _ => {}
                }
            }
            // The state machine hands out at most `send_queue_depth` sends, the ring's size.
            let Some(t) = self.smbd.poll_transmit(now) else { return Ok(()) };
            let Some(slot) = self.send.free.pop() else {
                return Err(EngineError::Rdma {
                    peer: self.peer(),
                    op: "send ring",
                    source: rdma_verbs::Error::QueueFull { queue: "smbd send ring", capacity: 0 },
                });
            };
            let header = t.header();
            let mut len = header.len();
            {
                let buf = self.send.slot(slot);
                buf[..len].copy_from_slice(header);
                if let Some((_, range)) = t.payload() {
                    let Some(msg) = self.core.outbox.front() else {
                        return Err(EngineError::Smbd {
                            peer: self.core.peer.addr,
                            source: smbdirect::Error::Closed,
                        });
                    };
                    let part = &msg[range];
                    self.send.lease[slot as usize * self.send.stride + len..][..part.len()]
                        .copy_from_slice(part);
                    len += part.len();
                }
            }
            let at = slot as usize * self.send.stride;
            let sge = domain.lease_sge(&self.send.lease, at, len).map_err(|e| self.verb("lease_sge", e))?;
            let op = match t.invalidate_token() {
                Some(rkey) => SendOp::SendWithInvalidate { rkey },
                None => SendOp::Send,
            };
            if let Err(e) =
                domain.post_send(self.qp, &[SendWr { wr_id: SEND_BIT | u64::from(slot), op, sges: &[sge] }])
            {
                self.send.free.push(slot);
                return Err(self.verb("post_send", e));
            }
            bump(&counters.bytes_out, len as u64);
            if t.completes_message() {
                self.core.outbox.pop_front();
                self.front_queued = false;
            }
        }
    }
}

/// A descriptor planning error as a static reason (the session validated the descriptors, so this
/// is a handler bug).
fn descriptor_why(e: &smbdirect::DescriptorError) -> &'static str {
    let _ = e;
    "the buffer descriptors do not cover the transfer"
}
