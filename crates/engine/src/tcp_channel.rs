//! One TCP connection as its reactor sees it: the socket, the bytes in flight both ways, and the
//! handler. [`TcpChannel::drive`] is the whole run-to-completion step: deliver whole messages, write
//! the outbox, read more, until the socket would block, the outbox is over its limit, or the read
//! budget is spent.
//!
//! Sockets are edge-triggered (mio), so `drive` returns [`Progress::Idle`] only in a state where a
//! future readiness event is guaranteed to wake it: a read hit `WouldBlock`, or a write did while the
//! outbox is paused or draining. Everything else is [`Progress::MoreWork`].

use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use mio::net::TcpStream;

use crate::connection::{Connection, Flow};
use crate::error::EngineError;
use crate::handle::{ConnectionHandle, WakeState};
use crate::input::{InputBuffer, Next};
use crate::outbox::Outbox;
use crate::stats::{bump, ReactorCounters};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading, delivering messages, writing answers.
    Open,
    /// No more input (the handler said Close, the peer closed its side, or the engine is shutting
    /// down): write what is queued, then close.
    Draining,
}

/// What a [`TcpChannel::drive`] step left behind.
#[derive(Debug)]
pub(crate) enum Progress {
    /// Waiting for the socket; a readiness event will come.
    Idle,
    /// The read budget ran out with input possibly still waiting: drive again soon.
    MoreWork,
    /// Drained after Close or end of input: close it.
    Done,
    /// Close it for this reason.
    Failed(EngineError),
}

/// The limits a reactor applies to every connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_outbox: usize,
    /// Reads per drive, so that one busy peer cannot monopolise its reactor.
    pub(crate) read_budget: usize,
}

pub(crate) struct TcpChannel {
    pub(crate) socket: TcpStream,
    pub(crate) peer: SocketAddr,
    handler: Box<dyn Connection>,
    input: InputBuffer,
    outbox: Outbox,
    state: State,
    /// The peer has closed its sending side.
    eof: bool,
    /// Delivery stopped on the outbox limit with whole messages possibly still buffered.
    backlog: bool,
    /// Already in the reactor's ready queue.
    pub(crate) queued: bool,
    /// Shared with the connection's `ConnectionHandle`s.
    pub(crate) wake: Arc<WakeState>,
}

impl TcpChannel {
    pub(crate) fn new(
        socket: TcpStream,
        peer: SocketAddr,
        handler: Box<dyn Connection>,
        wake: Arc<WakeState>,
        max_message: usize,
    ) -> TcpChannel {
        TcpChannel {
            socket,
            peer,
            handler,
            input: InputBuffer::new(max_message),
            outbox: Outbox::new(),
            state: State::Open,
            eof: false,
            backlog: false,
            queued: false,
            wake,
        }
    }

    /// Gives the handler its handle, then lets it speak first; run before the first drive.
    pub(crate) fn start(&mut self, handle: ConnectionHandle) -> Result<(), EngineError> {
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        let flow = catch_unwind(AssertUnwindSafe(|| {
            handler.attach(handle);
            handler.on_start(outbox)
        }))
        .map_err(|_| EngineError::HandlerPanicked { peer: self.peer, during: "on_start" })?;
        if let Some(e) = self.outbox.take_error() {
            return Err(e);
        }
        if flow == Flow::Close {
            self.state = State::Draining;
        }
        Ok(())
    }

    /// The handle was woken: let the handler queue what the application asked for. Not called once
    /// the connection is draining (after Close, end of input, or shutdown).
    pub(crate) fn wake(&mut self) -> Result<(), EngineError> {
        if self.state != State::Open {
            return Ok(());
        }
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        let flow = catch_unwind(AssertUnwindSafe(|| handler.on_wake(outbox)))
            .map_err(|_| EngineError::HandlerPanicked { peer: self.peer, during: "on_wake" })?;
        if let Some(e) = self.outbox.take_error() {
            return Err(e);
        }
        if flow == Flow::Close {
            self.backlog = false;
            self.state = State::Draining;
        }
        Ok(())
    }

    /// Run to completion: deliver, write, read, repeat. `reading` is false during shutdown, when
    /// messages already received are still answered but no new bytes are read.
    pub(crate) fn drive(&mut self, limits: &Limits, counters: &ReactorCounters, reading: bool) -> Progress {
        let mut reads = 0;
        loop {
            if self.state == State::Open {
                if let Err(e) = self.deliver(limits, counters) {
                    return Progress::Failed(e);
                }
            }
            match self.outbox.write_to(&mut self.socket) {
                Ok(n) => bump(&counters.bytes_out, n as u64),
                Err(e) => return Progress::Failed(EngineError::io("write", Some(self.peer), e)),
            }
            if self.state == State::Draining {
                if !self.outbox.is_empty() {
                    return Progress::Idle;
                }
                if !self.eof {
                    self.discard_input(limits.read_budget);
                }
                return Progress::Done;
            }
            // Over the limit after a write means the write hit WouldBlock: writable will wake us.
            if self.outbox.queued_bytes() > limits.max_outbox || !reading {
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
                    self.state = State::Draining;
                }
                Ok(n) => {
                    reads += 1;
                    bump(&counters.bytes_in, n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Idle,
                Err(e) => return Progress::Failed(EngineError::io("read", Some(self.peer), e)),
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

    /// Stop taking input; the handler finishes its outstanding work, and the next drive writes what
    /// is queued and reports Done once it is out.
    pub(crate) fn stop_input(&mut self) -> Result<(), EngineError> {
        let was_open = self.state == State::Open;
        self.state = State::Draining;
        if !was_open {
            return Ok(());
        }
        let (handler, outbox) = (&mut self.handler, &mut self.outbox);
        catch_unwind(AssertUnwindSafe(|| handler.on_drain(outbox)))
            .map_err(|_| EngineError::HandlerPanicked { peer: self.peer, during: "on_drain" })?;
        match self.outbox.take_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Hands whole buffered messages to the handler while the outbox is under its limit.
    fn deliver(&mut self, limits: &Limits, counters: &ReactorCounters) -> Result<(), EngineError> {
        loop {
            if self.outbox.queued_bytes() > limits.max_outbox {
                self.backlog = self.input.buffered() > 0;
                return Ok(());
            }
            let next =
                self.input.next_message().map_err(|source| EngineError::Frame { peer: self.peer, source });
            let (msg, consumed) = match next? {
                Next::Incomplete => {
                    self.backlog = false;
                    return Ok(());
                }
                Next::Message { msg, consumed } => (msg, consumed),
            };
            bump(&counters.messages, 1);
            let (handler, outbox) = (&mut self.handler, &mut self.outbox);
            let flow = catch_unwind(AssertUnwindSafe(|| handler.on_message(msg, outbox)))
                .map_err(|_| EngineError::HandlerPanicked { peer: self.peer, during: "on_message" })?;
            self.input.consume(consumed);
            if let Some(e) = self.outbox.take_error() {
                return Err(e);
            }
            if flow == Flow::Close {
                self.backlog = false;
                self.state = State::Draining;
                return Ok(());
            }
        }
    }

    /// The end: tell the handler. Dropping the channel closes the socket.
    pub(crate) fn finish(mut self) -> Option<EngineError> {
        let handler = &mut self.handler;
        catch_unwind(AssertUnwindSafe(|| handler.on_close()))
            .err()
            .map(|_| EngineError::HandlerPanicked { peer: self.peer, during: "on_close" })
    }
}
