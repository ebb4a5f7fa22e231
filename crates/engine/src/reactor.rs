//! A reactor: one thread (pinned to one core when asked) that owns a set of channels (TCP sockets,
//! SMB Direct queue pairs) for their whole life and runs them to completion. Nothing on its request
//! path takes a lock: the channels, their buffers and their handlers are touched by this thread only;
//! new channels arrive over a bounded crossbeam queue with a mio [`Waker`] to interrupt a blocking
//! poll.
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

use crate::admission::Permit;
use crate::channel::{Channel, Limits, Progress};
use crate::config::{EngineConfig, PollMode};
use crate::connection::{Connection, ConnectionFactory, PeerInfo};
use crate::error::EngineError;
use crate::handle::{ConnectionHandle, WakeLink, WakeState, CLOSED, UNADOPTED};
use crate::handler_core::HandlerCore;
use crate::rdma::channel::RdmaChannel;
use crate::rdma::{DynDomain, DynRequest, ReactorRdma};
use crate::shutdown::ShutdownHandle;
use crate::spin::SpinWindow;
use crate::stats::{bump, ReactorCounters};
use crate::tcp_channel::TcpChannel;

/// The waker's token; channel tokens are slab indices, far below it.
pub(crate) const WAKER: Token = Token(usize::MAX);
/// The RDMA domain's descriptors (completion channel, CM events) use tokens from here up to WAKER.
const DOMAIN_TOKENS: usize = usize::MAX - 8;

/// Reads per channel per turn before other channels get their go.
const READ_BUDGET: usize = 16;

/// How often channels starved by the memory budget are driven again (another reactor's
/// connections may free it; no event says when), and how often a pressed budget's sweep runs
/// (trimming, closing stalled connections).
const STARVED_RETRY: Duration = Duration::from_millis(5);
const BUDGET_SWEEP: Duration = Duration::from_millis(100);

/// What other threads ask of a reactor.
pub(crate) enum Command {
    /// Own this connected, non-blocking socket. `handler` is `None` for accepted sockets (the reactor
    /// asks the factory) and `Some` for outgoing ones (`Engine::connect`), with the state their
    /// `ConnectionHandle`s share with this reactor.
    /// `permit` is an accepted connection's place under the connection limits (kept until it
    /// closes).
    Adopt {
        socket: TcpStream,
        peer: SocketAddr,
        handler: Option<(Box<dyn Connection>, Arc<WakeState>)>,
        permit: Option<Permit>,
    },
    /// Accept this RDMA connection request on the reactor's domain; the factory makes its handler.
    AdoptRdma { req: Box<dyn DynRequest>, permit: Option<Permit> },
    /// Connect over RDMA to `addr`, driven by `handler` (`Engine::connect_rdma`).
    ConnectRdma { addr: SocketAddr, handler: Box<dyn Connection>, wake: Arc<WakeState> },
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
    /// SMB Direct: the domain, pool and queue pairs of this reactor (when the engine has RDMA).
    rdma: Option<ReactorRdma>,
    /// Channels an RDMA completion, event or timer touched this turn.
    touched: Vec<usize>,
    /// Channels stopped by the memory budget, driven again every STARVED_RETRY.
    starved: Vec<usize>,
    next_starved_retry: Instant,
    next_budget_sweep: Instant,
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
            wmem_max: wmem_max(),
            channels: Vec::new(),
            free: Vec::new(),
            open: 0,
            ready: VecDeque::new(),
            draining: false,
            rdma: cfg.rdma.clone().map(|r| ReactorRdma::new(Arc::new(r))),
            touched: Vec::new(),
            starved: Vec::new(),
            next_starved_retry: Instant::now(),
            next_budget_sweep: Instant::now(),
            cfg,
        }
    }

    /// The reactor's registered-memory pool, when it has RDMA.
    pub(crate) fn pool(&self) -> Option<iobuf::Pool> {
        self.rdma.as_ref().map(|r| r.pool.clone())
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
        let mut stop_at: Option<Instant> = None;
        let mut window = SpinWindow::new(match self.cfg.poll {
            PollMode::Adaptive { spin } => spin,
            _ => Duration::ZERO,
        });
        // Adaptive polling: a zero-timeout poll came back empty since the last activity.
        let mut spun_empty = false;
        loop {
            let mut blocked_at = None;
            let rdma_deadline = self.rdma_deadline();
            let deadline = match (stop_at, rdma_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // Starved channels are retried on a timer: no event says the budget has room.
            let deadline = match (deadline, self.starved.is_empty()) {
                (d, true) => d,
                (Some(d), false) => Some(d.min(self.next_starved_retry)),
                (None, false) => Some(self.next_starved_retry),
            };
            let timeout = if !self.ready.is_empty() {
                Some(Duration::ZERO)
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
            // A timer (the shutdown grace, an SMB Direct timer) bounds any sleep.
            let timeout = match (timeout, deadline) {
                (Some(t), Some(d)) => Some(t.min(d.saturating_duration_since(Instant::now()))),
                (None, Some(d)) => Some(d.saturating_duration_since(Instant::now())),
                (t, None) => t,
            };
            // About to sleep: the completion queue must wake us (or nothing may wait in it).
            let timeout = match timeout {
                Some(Duration::ZERO) => timeout,
                _ if !self.arm_rdma() => Some(Duration::ZERO),
                _ => timeout,
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    tracing::error!(reactor = self.index, error = %e, "epoll failed; reactor stops");
                    break;
                }
            }
            bump(&self.counters.polls, 1);
            // The clock is read after every poll, idle ones too (a vDSO read, against the poll's
            // system call), so that work found by RDMA polling is timed as well.
            let work_start = Instant::now();
            let mut active = !events.is_empty() || !self.ready.is_empty();
            let mut rdma_ready = false;
            for event in events.iter() {
                match event.token() {
                    WAKER => {
                        self.take_commands();
                        self.take_wakes();
                    }
                    Token(t) if t >= DOMAIN_TOKENS => rdma_ready = true,
                    Token(i) => self.drive(i),
                }
            }
            active |= self.poll_rdma(rdma_ready);
            for _ in 0..self.ready.len() {
                let Some(i) = self.ready.pop_front() else { break };
                if let Some(ch) = self.channels.get_mut(i).and_then(Option::as_mut) {
                    ch.core_mut().queued = false;
                }
                self.drive(i);
            }
            active |= self.mind_budget();
            if active {
                last_active = Instant::now();
                bump(&self.counters.busy_ns, (last_active - work_start).as_nanos() as u64);
                match blocked_at {
                    Some(at) => window.woke_after(last_active - at),
                    None if std::mem::take(&mut spun_empty) => window.caught(),
                    None => {}
                }
            } else if timeout == Some(Duration::ZERO) {
                spun_empty = true;
            }
            if stop_at.is_none() && self.shutdown.is_requested() {
                self.begin_drain();
                stop_at = Some(Instant::now() + self.cfg.shutdown_grace);
            }
            if let Some(d) = stop_at {
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
                Command::Adopt { socket, peer, handler, permit } => self.adopt(socket, peer, handler, permit),
                Command::AdoptRdma { req, permit } => self.adopt_rdma(req, permit),
                Command::ConnectRdma { addr, handler, wake } => self.connect_rdma(addr, handler, wake),
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
        permit: Option<Permit>,
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
        let mut core = HandlerCore::new(info, handler, wake);
        core.permit = permit;
        let ch = Channel::Tcp(Box::new(TcpChannel::new(
            core,
            socket,
            self.cfg.max_message,
            self.cfg.memory_budget.clone(),
        )));
        self.install(ch);
    }

    /// The reactor's RDMA domain, opened (on `device`) and watched the first time it is needed.
    fn domain(&mut self, device: Option<&str>) -> Result<&mut ReactorRdma, EngineError> {
        let Some(rdma) = self.rdma.as_mut() else {
            return Err(EngineError::RdmaUnavailable { why: "the engine was started without RDMA".into() });
        };
        if rdma.domain.is_none() {
            let domain = rdma
                .settings
                .provider
                .open_domain(device)
                .map_err(|e| EngineError::RdmaUnavailable { why: e.to_string() })?;
            for (k, fd) in domain.fds().into_iter().enumerate() {
                self.poll
                    .registry()
                    .register(
                        &mut mio::unix::SourceFd(&fd),
                        Token(DOMAIN_TOKENS + k),
                        mio::Interest::READABLE,
                    )
                    .map_err(|e| EngineError::io("epoll register RDMA domain", None, e))?;
            }
            rdma.domain = Some(domain);
        }
        Ok(rdma)
    }

    /// An RDMA connection request the acceptor handed over: accept it on this reactor's domain.
    fn adopt_rdma(&mut self, req: Box<dyn DynRequest>, permit: Option<Permit>) {
        let peer = req.peer_addr().unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        if self.draining {
            req.reject();
            self.counters.connections.fetch_sub(1, Relaxed);
            return;
        }
        let device = req.device();
        let index = self.index;
        let rdma = match self.domain(device.as_deref()) {
            Ok(r) => r,
            Err(e) => {
                req.reject();
                tracing::warn!(reactor = index, %peer, error = %e, "RDMA connection refused");
                self.counters.connections.fetch_sub(1, Relaxed);
                return;
            }
        };
        let settings = rdma.settings.clone();
        let info = PeerInfo { addr: peer, transport: crate::connection::Transport::Rdma(offered(&settings)) };
        let handler = match catch_unwind(AssertUnwindSafe(|| self.factory.accept(&info, index))) {
            Ok(h) => h,
            Err(_) => {
                req.reject();
                self.refuse(peer, None, EngineError::HandlerPanicked { peer, during: "accept" });
                return;
            }
        };
        let rdma = self.rdma.as_mut().expect("opened above");
        let domain = rdma.domain.as_mut().expect("opened above");
        let qp = match domain.accept(req, settings.endpoint_options(), &[]) {
            Ok(qp) => qp,
            Err(e) => {
                let why = EngineError::Rdma { peer, op: "accept", source: e };
                self.refuse(peer, Some((handler, WakeState::new())), why);
                return;
            }
        };
        let mut core = HandlerCore::new(info, handler, WakeState::new());
        core.permit = permit;
        let smbd =
            smbdirect::SmbdConnection::new(smbdirect::Role::Server, settings.smbd.clone(), Instant::now());
        match RdmaChannel::new(core, qp, smbd, &settings.smbd, &rdma.pool, false) {
            Ok(ch) => self.install(Channel::Rdma(Box::new(ch))),
            Err(e) => {
                let _ = domain.destroy(qp);
                tracing::warn!(reactor = index, %peer, error = %e, "RDMA connection dropped: no buffers for its rings");
                self.counters.connections.fetch_sub(1, Relaxed);
            }
        }
    }

    /// `Engine::connect_rdma`: start connecting on this reactor's domain.
    fn connect_rdma(&mut self, addr: SocketAddr, handler: Box<dyn Connection>, wake: Arc<WakeState>) {
        if self.draining {
            self.refuse(addr, Some((handler, wake)), EngineError::ShuttingDown);
            return;
        }
        let rdma = match self.domain(None) {
            Ok(r) => r,
            Err(e) => {
                self.refuse(addr, Some((handler, wake)), e);
                return;
            }
        };
        let settings = rdma.settings.clone();
        let domain = rdma.domain.as_mut().expect("opened above");
        let timeout_ms =
            u32::try_from(settings.smbd.negotiate_timeout_active.as_millis()).unwrap_or(u32::MAX);
        let qp = match domain.connect(addr, settings.endpoint_options(), &[], timeout_ms) {
            Ok(qp) => qp,
            Err(e) => {
                self.refuse(
                    addr,
                    Some((handler, wake)),
                    EngineError::Rdma { peer: addr, op: "connect", source: e },
                );
                return;
            }
        };
        let info = PeerInfo { addr, transport: crate::connection::Transport::Rdma(offered(&settings)) };
        let core = HandlerCore::new(info, handler, wake);
        let smbd =
            smbdirect::SmbdConnection::new(smbdirect::Role::Client, settings.smbd.clone(), Instant::now());
        match RdmaChannel::new(core, qp, smbd, &settings.smbd, &rdma.pool, true) {
            Ok(ch) => self.install(Channel::Rdma(Box::new(ch))),
            Err(e) => {
                let _ = domain.destroy(qp);
                let mut ch_core = e;
                let _ = &mut ch_core;
                tracing::warn!(reactor = self.index, peer = %addr, error = %ch_core, "RDMA connect dropped: no buffers for its rings");
                self.counters.connections.fetch_sub(1, Relaxed);
            }
        }
    }

    /// The earliest RDMA timer (state machine timers, the domain's own).
    fn rdma_deadline(&self) -> Option<Instant> {
        let rdma = self.rdma.as_ref()?;
        let domain = rdma.domain.as_ref()?.deadline();
        let channels = rdma.qps.values().filter_map(|&i| match self.channels.get(i)?.as_ref()? {
            Channel::Rdma(c) => c.deadline(),
            Channel::Tcp(_) => None,
        });
        channels.chain(domain).min()
    }

    /// Before sleeping: arms the completion queue; false when something is ready already.
    fn arm_rdma(&mut self) -> bool {
        let Some(domain) = self.rdma.as_mut().and_then(|r| r.domain.as_mut()) else { return true };
        match domain.arm() {
            Ok(sleep) => sleep,
            Err(e) => {
                tracing::error!(reactor = self.index, error = %e, "arming the completion queue failed");
                false
            }
        }
    }

    /// Takes the domain's completions and events to their channels, runs due timers, and drives
    /// every channel touched. Returns whether anything happened.
    fn poll_rdma(&mut self, notified: bool) -> bool {
        let Some(rdma) = self.rdma.as_mut() else { return false };
        let Some(domain) = rdma.domain.as_mut() else { return false };
        if notified {
            if let Err(e) = domain.clear() {
                tracing::error!(reactor = self.index, error = %e, "RDMA notification failed");
            }
        }
        self.touched.clear();
        loop {
            let n = match domain.poll(&mut rdma.scratch) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(reactor = self.index, error = %e, "polling the completion queue failed");
                    break;
                }
            };
            for c in &rdma.scratch[..n] {
                // A queue pair closed this turn may still have completions in the queue.
                let Some(&i) = c.qp.and_then(|qp| rdma.qps.get(&qp)) else { continue };
                if let Some(ch) = self.channels.get_mut(i).and_then(Option::as_mut).and_then(Channel::as_rdma)
                {
                    if c.completion.status == rdma_verbs::WcStatus::REM_ACCESS_ERR {
                        bump(&self.counters.rdma_access_errors, 1);
                    }
                    ch.on_completion(c.completion);
                    self.touched.push(i);
                }
            }
            if n < rdma.scratch.len() {
                break;
            }
        }
        loop {
            let ev = match domain.poll_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(reactor = self.index, error = %e, "RDMA CM event");
                    break;
                }
            };
            let (qp, ev) = ev;
            let Some(&i) = rdma.qps.get(&qp) else { continue };
            if let Some(ch) = self.channels.get_mut(i).and_then(Option::as_mut).and_then(Channel::as_rdma) {
                ch.on_event(ev, domain.as_mut());
                self.touched.push(i);
            }
        }
        let now = Instant::now();
        for &i in rdma.qps.values() {
            if let Some(ch) = self.channels.get_mut(i).and_then(Option::as_mut).and_then(Channel::as_rdma) {
                if ch.deadline().is_some_and(|d| d <= now) {
                    ch.on_timer(now);
                    self.touched.push(i);
                }
            }
        }
        self.touched.sort_unstable();
        self.touched.dedup();
        let touched = std::mem::take(&mut self.touched);
        for &i in &touched {
            self.drive(i);
        }
        let active = !touched.is_empty();
        self.touched = touched;
        active
    }

    /// Gives an adopted channel its slot and readiness registration, starts its handler and drives it
    /// once.
    fn install(&mut self, mut ch: Channel) {
        let peer = ch.core().peer.addr;
        // Every channel's outbox is charged to the memory budget, whatever its transport.
        ch.core_mut().set_budget(self.cfg.memory_budget.clone());
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
        let mut started = ch.start(handle);
        if let (Channel::Rdma(c), Some(rdma)) = (&ch, self.rdma.as_mut()) {
            rdma.qps.insert(c.qp, i);
        }
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
        let domain =
            self.rdma.as_mut().and_then(|r| r.domain.as_mut()).map(|d| d.as_mut() as &mut dyn DynDomain);
        match ch.drive(&limits, &self.counters, reading, domain) {
            Progress::Idle => {}
            Progress::MoreWork => {
                let core = ch.core_mut();
                if !core.queued {
                    core.queued = true;
                    self.ready.push_back(i);
                }
            }
            Progress::Starved => {
                let core = ch.core_mut();
                if !core.starved {
                    core.starved = true;
                    self.starved.push(i);
                    bump(&self.counters.starved, 1);
                    if let Some(b) = &self.cfg.memory_budget {
                        b.wait();
                    }
                }
            }
            Progress::Done => self.close(i, None),
            Progress::Failed(e) => self.close(i, Some(e)),
        }
    }

    /// The memory budget's upkeep, each turn: channels it starved are driven again every
    /// STARVED_RETRY; while it is pressed, every BUDGET_SWEEP channels give back what they keep for
    /// reuse, and while it is contended (used up, or pressed with connections waiting for room),
    /// channels that hold some without moving are closed. Returns whether anything was driven.
    fn mind_budget(&mut self) -> bool {
        let Some(budget) = &self.cfg.memory_budget else { return false };
        // The common case, every turn: nothing starved, the budget at ease. Two loads, no clock.
        if self.starved.is_empty() && !budget.pressed() {
            return false;
        }
        let budget = Arc::clone(budget);
        let now = Instant::now();
        let mut drove = false;
        if !self.starved.is_empty() && now >= self.next_starved_retry {
            self.next_starved_retry = now + STARVED_RETRY;
            if !budget.exhausted() {
                for i in std::mem::take(&mut self.starved) {
                    budget.unwait();
                    if let Some(ch) = self.channels.get_mut(i).and_then(Option::as_mut) {
                        ch.core_mut().starved = false;
                        drove = true;
                        self.drive(i);
                    }
                }
            }
        }
        if budget.pressed() && now >= self.next_budget_sweep {
            self.next_budget_sweep = now + BUDGET_SWEEP;
            let timeout = self.cfg.stall_timeout;
            for i in 0..self.channels.len() {
                let Some(ch) = self.channels[i].as_mut() else { continue };
                ch.trim();
                if !budget.contended() {
                    continue;
                }
                if let Some(held) = ch.stalled(now, timeout) {
                    bump(&self.counters.stalled_closed, 1);
                    let peer = ch.core().peer.addr;
                    self.close(i, Some(EngineError::Stalled { peer, held, secs: timeout.as_secs() }));
                }
            }
        }
        drove
    }

    fn close(&mut self, i: usize, why: Option<EngineError>) {
        let Some(mut ch) = self.channels.get_mut(i).and_then(Option::take) else { return };
        self.free.push(i);
        self.open -= 1;
        ch.deregister(self.poll.registry());
        if let (Channel::Rdma(c), Some(rdma)) = (&ch, self.rdma.as_mut()) {
            rdma.qps.remove(&c.qp);
            if let Some(d) = rdma.domain.as_mut() {
                let _ = d.destroy(c.qp);
            }
        }
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

/// What this side offers over SMB Direct, before the negotiation settles the actual limits (the
/// factory sees these; `Connection::on_start` runs once the negotiated ones are known).
fn offered(settings: &crate::rdma::RdmaSettings) -> crate::connection::RdmaLimits {
    crate::connection::RdmaLimits {
        max_message: settings.smbd.max_fragmented_recv_size,
        max_read_write: settings.smbd.max_read_write_size,
        initiator_depth: settings.endpoint_options().initiator_depth,
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
