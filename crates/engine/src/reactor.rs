//! A reactor: one thread (pinned to one core when asked) that owns a set of TCP channels for their
//! whole life and runs them to completion. Nothing on its request path takes a lock: the channels,
//! their buffers and their handlers are touched by this thread only; new channels arrive over a
//! bounded crossbeam queue with a mio [`Waker`] to interrupt a blocking poll.
//!
//! Application threads reach a connection the same way: its `ConnectionHandle` queues the connection
//! on a second bounded queue (see `handle.rs`) and wakes the reactor, which calls `on_wake`.
//!
//! One turn of the loop: poll epoll (timeout per [`PollMode`]) → adopt handed-over sockets and
//! deliver wakes → drive every channel with a readiness event → drive channels left with work from
//! the last turn.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::net::TcpStream;
use mio::{Events, Poll, Token};

use crate::channel::{Channel, Limits, Progress};
use crate::config::{EngineConfig, PollMode};
use crate::connection::{Connection, ConnectionFactory, PeerInfo};
use crate::error::EngineError;
use crate::handle::{ConnectionHandle, WakeLink, WakeState, CLOSED, UNADOPTED};
use crate::handler_core::HandlerCore;
use crate::shutdown::ShutdownHandle;
use crate::spin::SpinWindow;
use crate::stats::{bump, ReactorCounters};
use crate::tcp_channel::TcpChannel;

/// The waker's token; channel tokens are slab indices, far below it.
pub(crate) const WAKER: Token = Token(usize::MAX);

/// Reads per channel per turn before other channels get their go.
const READ_BUDGET: usize = 16;

/// What other threads ask of a reactor.
pub(crate) enum Command {
    /// Own this connected, non-blocking socket. `handler` is `None` for accepted sockets (the reactor
    /// asks the factory) and `Some` for outgoing ones (`Engine::connect`), with the state their
    /// `ConnectionHandle`s share with this reactor.
    Adopt { socket: TcpStream, peer: SocketAddr, handler: Option<(Box<dyn Connection>, Arc<WakeState>)> },
}

pub(crate) struct Reactor {
    pub(crate) index: usize,
    pub(crate) poll: Poll,
    pub(crate) commands: Receiver<Command>,
    /// Connections whose handles were woken; `wake_link.overflow` says some did not fit.
    wakes: Receiver<Arc<WakeState>>,
    wake_link: Arc<WakeLink>,
    pub(crate) factory: Arc<dyn ConnectionFactory>,
    pub(crate) counters: Arc<ReactorCounters>,
    pub(crate) shutdown: ShutdownHandle,
    pub(crate) core: Option<core_affinity::CoreId>,
    pub(crate) cfg: EngineConfig,
    /// `net.core.wmem_max` when the reactor started (see `set_send_buffer`).
    wmem_max: usize,
    /// Channels by token; `None` slots are listed in `free`.
    channels: Vec<Option<Channel>>,
    free: Vec<usize>,
    open: usize,
    /// Channels whose last drive ran out of budget.
    ready: VecDeque<usize>,
    /// Shutdown has begun: no reading, no adopting, close each channel once its outbox is out.
    draining: bool,
}

impl Reactor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        index: usize,
        poll: Poll,
        commands: Receiver<Command>,
        (wakes, wake_link): (Receiver<Arc<WakeState>>, Arc<WakeLink>),
        factory: Arc<dyn ConnectionFactory>,
        counters: Arc<ReactorCounters>,
        shutdown: ShutdownHandle,
        core: Option<core_affinity::CoreId>,
        cfg: EngineConfig,
    ) -> Reactor {
        Reactor {
            index,
            poll,
            commands,
            wakes,
            wake_link,
            factory,
            counters,
            shutdown,
            core,
            cfg,
            wmem_max: wmem_max(),
            channels: Vec::new(),
            free: Vec::new(),
            open: 0,
            ready: VecDeque::new(),
            draining: false,
        }
    }

    fn limits(&self) -> Limits {
        Limits { max_outbox: self.cfg.max_outbox_bytes, read_budget: READ_BUDGET }
    }

    pub(crate) fn run(mut self) {
        if let Some(core) = self.core {
            if core_affinity::set_for_current(core) {
                self.counters.core.store(core.id as u64 + 1, Relaxed);
            } else {
                tracing::warn!(
                    reactor = self.index,
                    core = core.id,
                    "could not pin reactor; running unpinned"
                );
            }
        }
        let mut events = Events::with_capacity(1024);
        let mut last_active = Instant::now();
        let mut deadline: Option<Instant> = None;
        let mut window = SpinWindow::new(match self.cfg.poll {
            PollMode::Adaptive { spin } => spin,
            _ => Duration::ZERO,
        });
        // Adaptive polling: a zero-timeout poll came back empty since the last activity.
        let mut spun_empty = false;
        loop {
            let mut blocked_at = None;
            let timeout = if !self.ready.is_empty() {
                Some(Duration::ZERO)
            } else if let Some(d) = deadline {
                Some(d.saturating_duration_since(Instant::now()))
            } else {
                match self.cfg.poll {
                    PollMode::Busy => Some(Duration::ZERO),
                    PollMode::Interrupt => None,
                    PollMode::Adaptive { .. } if window.spinning(last_active.elapsed()) => {
                        // Spin politely: a thread that has work on this core (a writer thread, the
                        // peer process on a small machine) runs first. Measured on 2 cores with
                        // client and server side by side: 1 MiB sealed writes 3.1-3.3 GB/s without
                        // the yield, 3.6-3.8 GB/s with it.
                        std::thread::yield_now();
                        Some(Duration::ZERO)
                    }
                    PollMode::Adaptive { .. } => {
                        if std::mem::take(&mut spun_empty) {
                            window.missed();
                        }
                        blocked_at = Some(Instant::now());
                        None
                    }
                }
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    tracing::error!(reactor = self.index, error = %e, "epoll failed; reactor stops");
                    break;
                }
            }
            bump(&self.counters.polls, 1);
            let active = !events.is_empty() || !self.ready.is_empty();
            for event in events.iter() {
                match event.token() {
                    WAKER => {
                        self.take_commands();
                        self.take_wakes();
                    }
                    Token(i) => self.drive(i),
                }
            }
            for _ in 0..self.ready.len() {
                let Some(i) = self.ready.pop_front() else { break };
                if let Some(ch) = self.channels.get_mut(i).and_then(Option::as_mut) {
                    ch.core_mut().queued = false;
                }
                self.drive(i);
            }
            if active {
                last_active = Instant::now();
                match blocked_at {
                    Some(at) => window.woke_after(last_active - at),
                    None if std::mem::take(&mut spun_empty) => window.caught(),
                    None => {}
                }
            } else if timeout == Some(Duration::ZERO) {
                spun_empty = true;
            }
            if deadline.is_none() && self.shutdown.is_requested() {
                self.begin_drain();
                deadline = Some(Instant::now() + self.cfg.shutdown_grace);
            }
            if let Some(d) = deadline {
                if self.open == 0 || Instant::now() >= d {
                    break;
                }
            }
        }
        self.close_all();
    }

    fn take_commands(&mut self) {
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Adopt { socket, peer, handler } => self.adopt(socket, peer, handler),
            }
        }
    }

    /// Delivers the wakes queued so far (later ones come with their own waker event), then, if the
    /// queue overflowed, every raised flag.
    fn take_wakes(&mut self) {
        for _ in 0..self.wakes.len() {
            let Ok(state) = self.wakes.try_recv() else { break };
            // Written by this thread only; CLOSED is stored before a slot is reused, so a live index
            // is this connection's.
            let i = state.token.load(Relaxed);
            if i != CLOSED && i != UNADOPTED && state.pending.swap(false, SeqCst) {
                self.wake_channel(i);
            }
        }
        if self.wake_link.overflow.swap(false, SeqCst) {
            for i in 0..self.channels.len() {
                let pending =
                    self.channels[i].as_ref().is_some_and(|ch| ch.core().wake.pending.swap(false, SeqCst));
                if pending {
                    self.wake_channel(i);
                }
            }
        }
    }

    /// Runs the handler's `on_wake`, then sends what it queued.
    fn wake_channel(&mut self, i: usize) {
        let Some(ch) = self.channels.get_mut(i).and_then(Option::as_mut) else { return };
        match ch.wake() {
            Ok(()) => self.drive(i),
            Err(e) => self.close(i, Some(e)),
        }
    }

    fn adopt(
        &mut self,
        socket: TcpStream,
        peer: SocketAddr,
        handler: Option<(Box<dyn Connection>, Arc<WakeState>)>,
    ) {
        if self.draining {
            self.refuse(peer, handler, EngineError::ShuttingDown);
            return;
        }
        if let Err(e) = set_send_buffer(&socket, self.cfg.send_buffer, self.wmem_max) {
            tracing::debug!(%peer, error = %e, "SO_SNDBUF not set; autotuned instead");
        }
        let info = PeerInfo::tcp(peer);
        let (handler, wake) = match handler {
            Some((h, wake)) => (h, wake),
            None => match catch_unwind(AssertUnwindSafe(|| self.factory.accept(&info, self.index))) {
                Ok(h) => (h, WakeState::new()),
                Err(_) => {
                    self.refuse(peer, None, EngineError::HandlerPanicked { peer, during: "accept" });
                    return;
                }
            },
        };
        let core = HandlerCore::new(info, handler, wake);
        let ch = Channel::Tcp(TcpChannel::new(core, socket, self.cfg.max_message));
        self.install(ch);
    }

    /// Gives an adopted channel its slot and readiness registration, starts its handler and drives it
    /// once.
    fn install(&mut self, mut ch: Channel) {
        let peer = ch.core().peer.addr;
        let i = self.free.pop().unwrap_or(self.channels.len());
        if let Err(e) = ch.register(self.poll.registry(), Token(i)) {
            if i < self.channels.len() {
                self.free.push(i);
            }
            let core = ch.core_mut();
            core.wake.mark_closed();
            let _ = core.finish();
            tracing::warn!(reactor = self.index, %peer, error = %e, "connection dropped before adoption");
            self.counters.connections.fetch_sub(1, Relaxed);
            return;
        }
        let handle = ConnectionHandle::new(ch.core().wake.clone(), self.wake_link.clone(), self.index);
        let mut started = ch.core_mut().start(handle);
        if i == self.channels.len() {
            self.channels.push(Some(ch));
        } else {
            self.channels[i] = Some(ch);
        }
        self.open += 1;
        bump(&self.counters.connections_total, 1);
        tracing::debug!(reactor = self.index, %peer, "connection adopted");
        if let (Ok(()), Some(ch)) = (&started, self.channels[i].as_mut()) {
            // Publish the token before looking at the flag; a handle raises the flag before looking
            // at the token (SeqCst both), so a wake made before adoption is seen by one of the two.
            ch.core().wake.token.store(i, SeqCst);
            if ch.core().wake.pending.swap(false, SeqCst) {
                started = ch.wake();
            }
        }
        match started {
            // Bytes may already be waiting; the edge for them may have fired before registration.
            Ok(()) => self.drive(i),
            Err(e) => self.close(i, Some(e)),
        }
    }

    /// A handed-over connection this reactor will not own after all.
    fn refuse(
        &self,
        peer: SocketAddr,
        handler: Option<(Box<dyn Connection>, Arc<WakeState>)>,
        why: EngineError,
    ) {
        tracing::warn!(reactor = self.index, %peer, error = %why, "connection dropped before adoption");
        if let Some((mut h, wake)) = handler {
            wake.mark_closed();
            let _ = catch_unwind(AssertUnwindSafe(|| h.on_close()));
        }
        self.counters.connections.fetch_sub(1, Relaxed);
    }

    fn drive(&mut self, i: usize) {
        let limits = self.limits();
        let reading = !self.draining;
        let Some(ch) = self.channels.get_mut(i).and_then(Option::as_mut) else { return };
        match ch.drive(&limits, &self.counters, reading) {
            Progress::Idle => {}
            Progress::MoreWork => {
                let core = ch.core_mut();
                if !core.queued {
                    core.queued = true;
                    self.ready.push_back(i);
                }
            }
            Progress::Done => self.close(i, None),
            Progress::Failed(e) => self.close(i, Some(e)),
        }
    }

    fn close(&mut self, i: usize, why: Option<EngineError>) {
        let Some(mut ch) = self.channels.get_mut(i).and_then(Option::take) else { return };
        self.free.push(i);
        self.open -= 1;
        ch.deregister(self.poll.registry());
        ch.core().wake.mark_closed();
        let (peer, reactor) = (ch.core().peer.addr, self.index);
        match &why {
            None => tracing::debug!(reactor, %peer, "connection closed"),
            Some(e @ EngineError::Io { .. }) => {
                tracing::debug!(reactor, %peer, error = %e, "connection closed")
            }
            Some(e @ EngineError::HandlerPanicked { .. }) => {
                tracing::error!(reactor, %peer, error = %e, "closing connection")
            }
            Some(e) => tracing::warn!(reactor, %peer, error = %e, "closing connection"),
        }
        if let Some(e) = ch.core_mut().finish() {
            tracing::error!(reactor, %peer, error = %e, "on_close panicked");
        }
        self.counters.connections.fetch_sub(1, Relaxed);
    }

    /// Shutdown begins: answer what was already received, then let each outbox drain.
    fn begin_drain(&mut self) {
        self.take_commands();
        self.draining = true;
        for i in 0..self.channels.len() {
            self.drive(i);
            let stopped =
                self.channels.get_mut(i).and_then(Option::as_mut).map(|ch| ch.core_mut().stop_input());
            match stopped {
                Some(Err(e)) => self.close(i, Some(e)),
                _ => self.drive(i),
            }
        }
    }

    /// The end of the reactor: every remaining channel is closed (its handler told), and sockets
    /// handed over but never adopted are dropped.
    fn close_all(&mut self) {
        self.draining = true;
        self.take_commands();
        for i in 0..self.channels.len() {
            if self.channels[i].is_some() {
                self.close(i, None);
            }
        }
    }
}

/// Applies [`crate::EngineConfig::send_buffer`] to a connection's socket. Above `net.core.wmem_max`
/// (`cap`; 208 KiB on a stock kernel) the size is forced where the process may (CAP_NET_ADMIN), and
/// otherwise left to autotuning: the kernel would cut it to the cap, which is less than autotuning
/// reaches on its own.
fn set_send_buffer(socket: &impl std::os::fd::AsFd, bytes: Option<usize>, cap: usize) -> std::io::Result<()> {
    use rustix::net::sockopt::{set_socket_send_buffer_size, set_socket_send_buffer_size_force};
    match bytes {
        Some(b) if b <= cap => Ok(set_socket_send_buffer_size(socket, b)?),
        Some(b) => Ok(set_socket_send_buffer_size_force(socket, b)?),
        None => Ok(()),
    }
}

/// `net.core.wmem_max`, the most SO_SNDBUF may ask for without CAP_NET_ADMIN (0 if unknown).
fn wmem_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/wmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_buffer_is_set_as_configured_or_left_to_autotuning() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        let size = |s: &std::net::TcpStream| rustix::net::sockopt::socket_send_buffer_size(s).unwrap();
        let autotuned = size(&b);
        set_send_buffer(&b, None, 1 << 30).unwrap();
        assert_eq!(size(&b), autotuned);
        // The kernel doubles what it is given (its bookkeeping overhead).
        set_send_buffer(&a, Some(64 << 10), 1 << 30).unwrap();
        assert_eq!(size(&a), 128 << 10);
        // Beyond the cap: forced with the right to, else refused and left as it was; never cut
        // down to the cap.
        let c = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let before = size(&c);
        match set_send_buffer(&c, Some(3 << 20), 64 << 10) {
            Ok(()) => assert_eq!(size(&c), 6 << 20),
            Err(_) => assert_eq!(size(&c), before),
        }
    }
}
