//! What every channel has whatever its transport: the handler, its outbox, where the connection is in
//! its life, and the state its `ConnectionHandle`s share. A transport (`tcp_channel.rs`,
//! `rdma/channel.rs`) moves bytes; this calls the handler, catching its panics so that a bug costs
//! only its own connection, and turns what the handler says into the connection's state.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use iobuf::budget::{Held, MemoryBudget};

use crate::admission::Permit;
use crate::connection::{Connection, Flow, PeerInfo};
use crate::error::EngineError;
use crate::handle::{ConnectionHandle, WakeState};
use crate::outbox::Outbox;
use crate::rdma::RdmaCtx;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Reading, delivering messages, writing answers.
    Open,
    /// No more input (the handler said Close, the peer closed its side, or the engine is shutting
    /// down): write what is queued, then close.
    Draining,
}

pub(crate) struct HandlerCore {
    pub(crate) peer: PeerInfo,
    handler: Box<dyn Connection>,
    pub(crate) outbox: Outbox,
    pub(crate) state: State,
    /// Already in the reactor's ready queue.
    pub(crate) queued: bool,
    /// Shared with the connection's `ConnectionHandle`s.
    pub(crate) wake: Arc<WakeState>,
    /// An accepted connection's place under the connection limits, given back when the channel
    /// is dropped; `None` for outgoing connections.
    pub(crate) permit: Option<Permit>,
    /// The outbox's queued bytes, charged to the memory budget.
    outbox_held: Held,
    /// When the transport last moved a byte of this connection either way: what
    /// `EngineError::Stalled` measures.
    pub(crate) last_progress: Instant,
    /// Already in the reactor's list of connections waiting for the memory budget.
    pub(crate) starved: bool,
}

impl HandlerCore {
    pub(crate) fn new(peer: PeerInfo, handler: Box<dyn Connection>, wake: Arc<WakeState>) -> HandlerCore {
        HandlerCore {
            peer,
            handler,
            outbox: Outbox::new(),
            state: State::Open,
            queued: false,
            wake,
            permit: None,
            outbox_held: Held::new(None),
            last_progress: Instant::now(),
            starved: false,
        }
    }

    /// Charges the outbox to `budget` from now on.
    pub(crate) fn set_budget(&mut self, budget: Option<Arc<MemoryBudget>>) {
        self.outbox_held = Held::new(budget);
        self.account();
    }

    /// Brings the budget's count of the outbox up to date (after the handler queued answers, or the
    /// transport sent some).
    pub(crate) fn account(&mut self) {
        self.outbox_held.set(self.outbox.queued_bytes());
    }

    /// The memory budget is used up: start no new message.
    pub(crate) fn budget_exhausted(&self) -> bool {
        self.outbox_held.exhausted()
    }

    /// What the outbox holds of the budget.
    pub(crate) fn outbox_held(&self) -> usize {
        self.outbox_held.bytes()
    }

    fn panicked(&self, during: &'static str) -> EngineError {
        EngineError::HandlerPanicked { peer: self.peer.addr, during }
    }

    /// Takes the handler's misuse of its outbox (if any) as the connection's end; run after every
    /// call of the handler, it also charges what the handler queued.
    fn checked(&mut self) -> Result<(), EngineError> {
        self.account();
        match self.outbox.take_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Gives the handler its handle, then lets it speak first; run before the first drive.
    pub(crate) fn start(&mut self, handle: ConnectionHandle) -> Result<(), EngineError> {
        let (handler, outbox, peer) = (&mut self.handler, &mut self.outbox, &self.peer);
        let flow = catch_unwind(AssertUnwindSafe(|| {
            handler.on_transport(peer);
            handler.attach(handle);
            handler.on_start(outbox)
        }))
        .map_err(|_| self.panicked("on_start"))?;
        self.checked()?;
        if flow == Flow::Close {
            self.state = State::Draining;
        }
        Ok(())
    }

    /// The handle was woken: let the handler queue what the application asked for. Not called once
    /// the connection is draining (after Close, end of input, or shutdown). Returns whether the
    /// handler asked to close.
    pub(crate) fn wake(&mut self) -> Result<bool, EngineError> {
        if self.state != State::Open {
            return Ok(false);
        }
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        let flow = catch_unwind(AssertUnwindSafe(|| handler.on_wake(outbox)))
            .map_err(|_| self.panicked("on_wake"))?;
        self.checked()?;
        Ok(self.closing(flow))
    }

    /// One whole message for the handler. Returns whether the handler asked to close.
    pub(crate) fn deliver(&mut self, msg: &mut [u8]) -> Result<bool, EngineError> {
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        let flow = catch_unwind(AssertUnwindSafe(|| handler.on_message(msg, outbox)))
            .map_err(|_| self.panicked("on_message"))?;
        self.checked()?;
        Ok(self.closing(flow))
    }

    /// One whole SMB Direct message, with the token the peer invalidated with it.
    pub(crate) fn deliver_rdma(
        &mut self,
        msg: &mut [u8],
        invalidated: Option<u32>,
        rdma: &mut RdmaCtx<'_>,
    ) -> Result<bool, EngineError> {
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        let flow = catch_unwind(AssertUnwindSafe(|| handler.on_rdma_message(msg, invalidated, rdma, outbox)))
            .map_err(|_| self.panicked("on_rdma_message"))?;
        self.checked()?;
        Ok(self.closing(flow))
    }

    /// The handle was woken, over SMB Direct.
    pub(crate) fn wake_rdma(&mut self, rdma: &mut RdmaCtx<'_>) -> Result<bool, EngineError> {
        if self.state != State::Open {
            return Ok(false);
        }
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        let flow = catch_unwind(AssertUnwindSafe(|| handler.on_rdma_wake(rdma, outbox)))
            .map_err(|_| self.panicked("on_rdma_wake"))?;
        self.checked()?;
        Ok(self.closing(flow))
    }

    /// An RDMA READ the handler asked for is over.
    pub(crate) fn rdma_done(
        &mut self,
        token: u64,
        result: Result<iobuf::Lease, String>,
    ) -> Result<bool, EngineError> {
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        let flow = catch_unwind(AssertUnwindSafe(|| handler.on_rdma_done(token, result, outbox)))
            .map_err(|_| self.panicked("on_rdma_done"))?;
        self.checked()?;
        Ok(self.closing(flow))
    }

    fn closing(&mut self, flow: Flow) -> bool {
        if flow == Flow::Close {
            self.state = State::Draining;
        }
        flow == Flow::Close
    }

    /// Stop taking input; the handler finishes its outstanding work, and the next drive writes what
    /// is queued and reports Done once it is out.
    pub(crate) fn stop_input(&mut self) -> Result<(), EngineError> {
        let was_open = self.state == State::Open;
        self.state = State::Draining;
        if !was_open {
            return Ok(());
        }
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        catch_unwind(AssertUnwindSafe(|| handler.on_drain(outbox))).map_err(|_| self.panicked("on_drain"))?;
        self.checked()
    }

    /// The end: tell the handler.
    pub(crate) fn finish(&mut self) -> Option<EngineError> {
        let handler = &mut self.handler;
        catch_unwind(AssertUnwindSafe(|| handler.on_close())).err().map(|_| self.panicked("on_close"))
    }
}
