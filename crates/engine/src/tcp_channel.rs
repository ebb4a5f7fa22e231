//! One TCP connection as its reactor sees it: the socket, the bytes in flight both ways, and the
//! handler. [`TcpChannel::drive`] is the whole run-to-completion step: deliver whole messages, write
//! the outbox, read more, until the socket would block, the outbox is over its limit, or the read
//! budget is spent.
//!
//! Sockets are edge-triggered (mio), so `drive` returns [`Progress::Idle`] only in a state where a
//! future readiness event is guaranteed to wake it: a read hit `WouldBlock`, or a write did while the
//! outbox is paused or draining. Everything else is [`Progress::MoreWork`], or
//! [`Progress::Starved`] when the memory budget stopped it (the reactor drives it again once the
//! budget has room).

use std::io;
use std::sync::Arc;
use std::time::Instant;

use iobuf::budget::MemoryBudget;

use mio::net::TcpStream;

use crate::channel::{Limits, Progress};
use crate::error::EngineError;
use crate::handler_core::{HandlerCore, State};
use crate::input::{InputBuffer, Next};
use crate::stats::{bump, ReactorCounters};

pub(crate) struct TcpChannel {
    pub(crate) core: HandlerCore,
    pub(crate) socket: TcpStream,
    input: InputBuffer,
    /// The peer has closed its sending side.
    eof: bool,
    /// Delivery stopped on the outbox limit with whole messages possibly still buffered.
    backlog: bool,
}

impl TcpChannel {
    /// `budget`: what the receive buffer's growth is charged to (the reactor charges the outbox).
    pub(crate) fn new(
        core: HandlerCore,
        socket: TcpStream,
        max_message: usize,
        budget: Option<Arc<MemoryBudget>>,
    ) -> TcpChannel {
        let input = InputBuffer::new(max_message, budget);
        TcpChannel { core, socket, input, eof: false, backlog: false }
    }

    /// Gives back a receive buffer left large by an earlier message, if it holds nothing now.
    pub(crate) fn trim(&mut self) {
        self.input.shrink_if_empty();
    }

    /// What the receive buffer holds of the budget while part of a message is in it.
    pub(crate) fn input_held(&self) -> usize {
        if self.input.buffered() > 0 {
            self.input.held()
        } else {
            0
        }
    }

    /// The handle was woken: let the handler queue what the application asked for.
    pub(crate) fn wake(&mut self) -> Result<(), EngineError> {
        if self.core.wake()? {
            self.backlog = false;
        }
        Ok(())
    }

    /// Run to completion: deliver, write, read, repeat. `reading` is false during shutdown, when
    /// messages already received are still answered but no new bytes are read.
    pub(crate) fn drive(&mut self, limits: &Limits, counters: &ReactorCounters, reading: bool) -> Progress {
        let mut reads = 0;
        loop {
            let mut starved = false;
            if self.core.state == State::Open {
                match self.deliver(limits, counters) {
                    Ok(s) => starved = s,
                    Err(e) => return Progress::Failed(e),
                }
            }
            if self.core.outbox.has_rdma_work() {
                return Progress::Failed(EngineError::RdmaOnTcp { peer: self.core.peer.addr });
            }
            match self.core.outbox.write_to(&mut self.socket) {
                Ok(0) => {}
                Ok(n) => {
                    bump(&counters.bytes_out, n as u64);
                    self.core.last_progress = Instant::now();
                    self.core.account();
                }
                Err(e) => return Progress::Failed(EngineError::io("write", Some(self.core.peer.addr), e)),
            }
            if starved {
                return Progress::Starved;
            }
            if self.core.state == State::Draining {
                if !self.core.outbox.is_empty() {
                    return Progress::Idle;
                }
                if !self.eof {
                    self.discard_input(limits.read_budget);
                }
                return Progress::Done;
            }
            // Over the limit after a write means the write hit WouldBlock: writable will wake us.
            if self.core.outbox.queued_bytes() > limits.max_outbox || !reading {
                return Progress::Idle;
            }
            if self.backlog {
                continue;
            }
            if reads == limits.read_budget {
                return Progress::MoreWork;
            }
            match self.input.read_from(&mut self.socket) {
                Ok(0) => {
                    // The peer finished sending; a partial message it left is dropped.
                    self.eof = true;
                    self.core.state = State::Draining;
                }
                Ok(n) => {
                    reads += 1;
                    bump(&counters.bytes_in, n as u64);
                    self.core.last_progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Idle,
                Err(e) if e.kind() == io::ErrorKind::OutOfMemory => return Progress::Starved,
                Err(e) => return Progress::Failed(EngineError::io("read", Some(self.core.peer.addr), e)),
            }
        }
    }

    /// Reads and drops what the peer has sent but nobody will read: closing a socket with unread
    /// input makes the kernel answer with a reset instead of a FIN, which can cost the peer the
    /// last answer. Bounded; a peer still sending after that gets its reset.
    fn discard_input(&mut self, reads: usize) {
        for _ in 0..reads {
            self.input.clear();
            match self.input.read_from(&mut self.socket) {
                Ok(n) if n > 0 => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => return,
            }
        }
    }

    /// Hands whole buffered messages to the handler while the outbox is under its limit and the
    /// memory budget has room. Returns whether the budget stopped it.
    fn deliver(&mut self, limits: &Limits, counters: &ReactorCounters) -> Result<bool, EngineError> {
        loop {
            if self.core.outbox.queued_bytes() > limits.max_outbox {
                self.backlog = self.input.buffered() > 0;
                return Ok(false);
            }
            if self.core.budget_exhausted() {
                // Not `backlog`: the drive loop would spin on it. The reactor drives a starved
                // channel again when the budget has room.
                self.backlog = false;
                return Ok(true);
            }
            let peer = self.core.peer.addr;
            let next = self.input.next_message().map_err(|source| EngineError::Frame { peer, source });
            let (msg, consumed) = match next? {
                Next::Incomplete => {
                    self.backlog = false;
                    return Ok(false);
                }
                Next::Message { msg, consumed } => (msg, consumed),
            };
            bump(&counters.messages, 1);
            let closing = self.core.deliver(msg)?;
            self.input.consume(consumed);
            if closing {
                self.backlog = false;
                return Ok(false);
            }
        }
    }
}
