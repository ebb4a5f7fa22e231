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

use rdma_verbs::{QpEvent, QpId, RecvWr, SendOp, SendWr, WcOpcode};
use smbdirect::{Event as SmbdEvent, Received, SmbdConnection};

use crate::channel::{Limits, Progress};
use crate::connection::{PeerInfo, RdmaLimits, Transport};
use crate::error::EngineError;
use crate::handle::ConnectionHandle;
use crate::handler_core::{HandlerCore, State};
use crate::rdma::provider::DynDomain;
use crate::stats::{bump, ReactorCounters};

/// wr_id bit that marks a send (clear: a receive); the low bits are the ring slot.
const SEND_BIT: u64 = 1 << 63;

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
    /// A wake that came before the handler started.
    wake_early: bool,
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
        // One receive past the credit target may be posted (the last-credit rule).
        let recv = Ring::new(pool, u32::from(cfg.receive_credit_max) + 1, cfg.max_receive_size as usize)?;
        let send = Ring::new(pool, cfg.send_queue_depth, cfg.max_send_size as usize)?;
        Ok(RdmaChannel {
            core,
            qp,
            smbd,
            phase: if connecting { Phase::Connecting } else { Phase::Negotiating },
            handle: None,
            wake_early: false,
            recv,
            send,
            arrived: VecDeque::new(),
            front_queued: false,
            disconnecting: false,
            gone: false,
            failure: None,
        })
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.core.peer.addr
    }

    /// The reactor adopted the channel: the handler starts once SMB Direct is established.
    pub(crate) fn start(&mut self, handle: ConnectionHandle) {
        self.handle = Some(handle);
    }

    /// The handle was woken.
    pub(crate) fn wake(&mut self) -> Result<(), EngineError> {
        if self.phase != Phase::Established {
            self.wake_early = true;
            return Ok(());
        }
        self.core.wake().map(drop)
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
        let slot = (c.wr_id & !SEND_BIT) as u32;
        if c.wr_id & SEND_BIT != 0 {
            self.send.free.push(slot);
            self.smbd.on_send_completed(1);
            if !c.status.is_success() && !self.gone {
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
        if self.gone && self.phase != Phase::Closing {
            self.smbd.on_connection_lost();
            self.phase = Phase::Closing;
            self.core.state = State::Draining;
        }
        if let Err(e) = self.post_receives(domain) {
            self.fail(e);
        }
        if let Err(e) = self.transmit(domain, counters, now) {
            self.fail(e);
        }
        if self.phase == Phase::Established && self.core.state == State::Draining {
            self.phase = Phase::Closing;
        }
        if self.phase == Phase::Closing {
            // Answers already queued go out first, unless the queue pair is gone.
            let drained = self.gone || (self.core.outbox.is_empty() && self.smbd.sends_in_flight() == 0);
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
            let Arrived { slot, len, invalidated } = *a;
            self.arrived.pop_front();
            bump(&counters.bytes_in, len as u64);
            let buf = &mut self.recv.slot(slot)[..len];
            let peer = self.core.peer.addr;
            match self.smbd.on_receive(buf, invalidated, now) {
                Ok(Received::Message { data, .. }) => {
                    bump(&counters.messages, 1);
                    self.core.deliver(data)?;
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
                    if let Some(handle) = self.handle.take() {
                        self.core.start(handle)?;
                    }
                    if std::mem::take(&mut self.wake_early) {
                        self.core.wake()?;
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
                if let Some(len) = self.core.outbox.front().map(<[u8]>::len) {
                    if len == 0 {
                        // Nothing to carry: MS-SMBD cannot send an empty upper-layer message.
                        self.core.outbox.pop_front();
                        continue;
                    }
                    self.smbd.queue_message(len).map_err(|e| self.smbd_error(e))?;
                    self.front_queued = true;
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
