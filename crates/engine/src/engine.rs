//! Starting, stopping and observing the reactors.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::{Poll, Waker};

use crate::acceptor::{Acceptor, Dispatcher, ReactorLink};
use crate::admission::Admission;
use crate::config::EngineConfig;
use crate::connection::{Connection, ConnectionFactory};
use crate::error::EngineError;
use crate::handle::{wake_queue_len, ConnectionHandle, WakeLink, WakeState};
use crate::reactor::{Reactor, WAKER};
use crate::shutdown::ShutdownHandle;
use crate::stats::{ReactorCounters, ReactorStats};

/// Sockets handed to one reactor and not yet adopted, at most.
const HANDOFF_QUEUE: usize = 1024;

/// The running reactors and acceptor. Dropping it shuts down as [`Engine::shutdown`] does.
pub struct Engine {
    addrs: Vec<SocketAddr>,
    /// Where the RDMA listeners listen (EngineConfig::rdma's `listen`, in order).
    rdma_addrs: Vec<SocketAddr>,
    shutdown: ShutdownHandle,
    dispatcher: Arc<Dispatcher>,
    counters: Vec<Arc<ReactorCounters>>,
    /// The connection limits (`EngineConfig::max_connections`, `max_connections_per_source`).
    admission: Arc<Admission>,
    /// Whether the engine was started with RDMA (EngineConfig::rdma).
    rdma: bool,
    /// Each reactor's registered-memory pool (with RDMA).
    pools: Vec<iobuf::Pool>,
    /// Reactor threads by index, then the acceptor (if there were listeners).
    threads: Vec<(Option<usize>, JoinHandle<()>)>,
}

impl Engine {
    /// Starts `reactors` threads (clamped to 1..=available cores), each pinned when `cfg.pin`, each
    /// owning its connections for their whole life, and one acceptor thread for `listeners` (none
    /// when the list is empty: an engine for outgoing connections only).
    pub fn start(
        listeners: Vec<TcpListener>,
        factory: Arc<dyn ConnectionFactory>,
        mut cfg: EngineConfig,
    ) -> io::Result<Engine> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = cfg.reactors.clamp(1, cores);
        cfg.reactors = n;
        cfg.max_message = cfg.max_message.min(smb_wire::framing::MAX_FRAME_LEN);
        let core_ids = if cfg.pin { core_affinity::get_core_ids().unwrap_or_default() } else { Vec::new() };

        let mut addrs = Vec::with_capacity(listeners.len());
        let mut mio_listeners = Vec::with_capacity(listeners.len());
        for l in listeners {
            addrs.push(l.local_addr().map_err(|e| EngineError::io("listener local_addr", None, e))?);
            l.set_nonblocking(true).map_err(|e| EngineError::io("listener set_nonblocking", None, e))?;
            mio_listeners.push(mio::net::TcpListener::from_std(l));
        }

        // Every poll and waker exists before any thread starts, so the shutdown handle reaches all.
        let mut polls = Vec::with_capacity(n);
        let mut links = Vec::with_capacity(n);
        let mut receivers = Vec::with_capacity(n);
        for _ in 0..n {
            let poll = Poll::new().map_err(|e| EngineError::io("epoll_create", None, e))?;
            let waker = Arc::new(
                Waker::new(poll.registry(), WAKER).map_err(|e| EngineError::io("eventfd", None, e))?,
            );
            let (tx, rx) = crossbeam_channel::bounded(HANDOFF_QUEUE);
            let (wake_tx, wake_rx) =
                crossbeam_channel::bounded(wake_queue_len(cfg.max_connections_per_reactor));
            let wakes =
                Arc::new(WakeLink { queue: wake_tx, overflow: AtomicBool::new(false), waker: waker.clone() });
            links.push(ReactorLink { commands: tx, waker, wakes, counters: Arc::default() });
            polls.push(poll);
            receivers.push((rx, wake_rx));
        }
        let mut rdma_listeners = Vec::new();
        let mut rdma_addrs = Vec::new();
        if let Some(r) = &cfg.rdma {
            for &addr in &r.listen {
                let l = r.provider.listen(addr).map_err(|e| {
                    io::Error::from(EngineError::RdmaUnavailable { why: format!("listen on {addr}: {e}") })
                })?;
                rdma_addrs.push(l.local_addr());
                rdma_listeners.push(l);
            }
        }
        let acceptor_poll = if mio_listeners.is_empty() && rdma_listeners.is_empty() {
            None
        } else {
            let poll = Poll::new().map_err(|e| EngineError::io("epoll_create", None, e))?;
            let waker = Arc::new(
                Waker::new(poll.registry(), WAKER).map_err(|e| EngineError::io("eventfd", None, e))?,
            );
            Some((poll, waker))
        };
        let mut wakers: Vec<_> = links.iter().map(|l| l.waker.clone()).collect();
        wakers.extend(acceptor_poll.as_ref().map(|(_, w)| w.clone()));
        let shutdown = ShutdownHandle::new(wakers);
        let counters: Vec<_> = links.iter().map(|l| l.counters.clone()).collect();
        let dispatcher = Arc::new(Dispatcher::new(links, cfg.max_connections_per_reactor));

        let mut engine = Engine {
            addrs,
            rdma_addrs,
            shutdown: shutdown.clone(),
            dispatcher: dispatcher.clone(),
            counters,
            admission: Admission::new(cfg.max_connections, cfg.max_connections_per_source),
            rdma: cfg.rdma.is_some(),
            pools: Vec::new(),
            threads: Vec::new(),
        };
        for (i, (poll, (rx, wake_rx))) in polls.into_iter().zip(receivers).enumerate() {
            let core = core_ids.get(i % core_ids.len().max(1)).copied();
            let reactor = Reactor::new(
                i,
                poll,
                rx,
                (wake_rx, dispatcher.links[i].wakes.clone()),
                factory.clone(),
                engine.counters[i].clone(),
                shutdown.clone(),
                core,
                cfg.clone(),
            );
            engine.pools.extend(reactor.pool());
            // On error, dropping `engine` stops and joins the threads already started.
            let t = std::thread::Builder::new()
                .name(format!("smbdx-reactor-{i}"))
                .spawn(move || reactor.run())
                .map_err(|e| EngineError::io("spawn reactor thread", None, e))?;
            engine.threads.push((Some(i), t));
        }
        if let Some((poll, _waker)) = acceptor_poll {
            let admission = (Arc::clone(&engine.admission), factory);
            let acceptor =
                Acceptor::new(poll, mio_listeners, rdma_listeners, dispatcher, shutdown, admission)
                    .map_err(|e| EngineError::io("epoll register listener", None, e))?;
            let t = std::thread::Builder::new()
                .name("smbdx-acceptor".into())
                .spawn(move || acceptor.run())
                .map_err(|e| EngineError::io("spawn acceptor thread", None, e))?;
            engine.threads.push((None, t));
        }
        Ok(engine)
    }

    /// The listeners' addresses, in the order given to [`Engine::start`].
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.addrs.clone()
    }

    /// The RDMA listeners' addresses, in the order of `EngineConfig::rdma`'s `listen`.
    pub fn local_rdma_addrs(&self) -> Vec<SocketAddr> {
        self.rdma_addrs.clone()
    }

    /// Connects to `addr` over SMB Direct (RDMA CM, then MS-SMBD negotiation) on the least-loaded
    /// reactor, driven by `conn`. Returns at once: the connection is set up by the reactor, and
    /// `conn`'s [`Connection::on_start`] runs once SMB Direct is established; a connection that
    /// cannot be made ends with [`Connection::on_close`] (the reason is logged). Fails at once when
    /// the engine has no RDMA.
    pub fn connect_rdma(&self, addr: SocketAddr, conn: Box<dyn Connection>) -> io::Result<ConnectionHandle> {
        if self.shutdown.is_requested() {
            return Err(EngineError::ShuttingDown.into());
        }
        if !self.rdma {
            return Err(
                EngineError::RdmaUnavailable { why: "the engine was started without RDMA".into() }.into()
            );
        }
        let state = WakeState::new();
        let reactor = self.dispatcher.hand_over(crate::reactor::Command::ConnectRdma {
            addr,
            handler: conn,
            wake: state.clone(),
        })?;
        let link = self.dispatcher.links[reactor].wakes.clone();
        Ok(ConnectionHandle::new(state, link, reactor))
    }

    /// Connects to `addr` (blocking the calling thread for the TCP handshake only) and hands the
    /// connection, driven by `conn`, to the least-loaded reactor. The handler speaks first from
    /// [`Connection::on_start`] (e.g. an SMB2 NEGOTIATE). The returned handle lets application
    /// threads wake the handler ([`Connection::on_wake`]) to send what they queued for it. On error
    /// `conn` is dropped without `on_close`.
    pub fn connect(&self, addr: SocketAddr, conn: Box<dyn Connection>) -> io::Result<ConnectionHandle> {
        if self.shutdown.is_requested() {
            return Err(EngineError::ShuttingDown.into());
        }
        let socket =
            std::net::TcpStream::connect(addr).map_err(|e| EngineError::io("connect", Some(addr), e))?;
        socket.set_nodelay(true).map_err(|e| EngineError::io("TCP_NODELAY", Some(addr), e))?;
        socket.set_nonblocking(true).map_err(|e| EngineError::io("set_nonblocking", Some(addr), e))?;
        let state = WakeState::new();
        let reactor = self.dispatcher.dispatch(
            mio::net::TcpStream::from_std(socket),
            addr,
            Some((conn, state.clone())),
            None,
        )?;
        let link = self.dispatcher.links[reactor].wakes.clone();
        Ok(ConnectionHandle::new(state, link, reactor))
    }

    /// Graceful: stop accepting, answer the messages already received, let outboxes drain (for at
    /// most `EngineConfig::shutdown_grace`), call `on_close` for every connection, join the threads.
    pub fn shutdown(self) -> io::Result<()> {
        self.shutdown.shutdown();
        self.join()
    }

    /// Waits until a [`ShutdownHandle`] has stopped the engine and its threads have ended.
    pub fn join(mut self) -> io::Result<()> {
        self.join_threads().map_err(io::Error::from)
    }

    /// A cloneable handle that can request shutdown from another thread (e.g. a signal handler).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Connections closed at accept so far, over the server's or a source's limit.
    pub fn refused(&self) -> crate::admission::RefusedCounts {
        self.admission.refused()
    }

    /// Accepted connections open now (admitted and not yet closed).
    pub fn accepted_open(&self) -> usize {
        self.admission.open()
    }

    /// Per reactor: polls, messages, bytes in/out, connections.
    pub fn stats(&self) -> Vec<ReactorStats> {
        self.counters.iter().enumerate().map(|(i, c)| c.snapshot(i)).collect()
    }

    /// The reactors' counters for another thread to read while the engine runs (an admin view).
    pub fn stats_reader(&self) -> crate::stats::StatsReader {
        crate::stats::StatsReader { counters: self.counters.clone() }
    }

    /// Leases of registered memory out now, over every reactor (buffers of RDMA connections and
    /// of the transfers in flight): 0 once every RDMA connection is gone.
    pub fn rdma_leases_out(&self) -> usize {
        self.pools.iter().map(iobuf::Pool::lent).sum()
    }

    /// Number of reactor threads actually running (after clamping).
    pub fn reactors(&self) -> usize {
        self.counters.len()
    }

    fn join_threads(&mut self) -> Result<(), EngineError> {
        let mut first_error = None;
        for (reactor, t) in self.threads.drain(..) {
            if t.join().is_err() {
                first_error.get_or_insert(match reactor {
                    Some(reactor) => EngineError::ReactorPanicked { reactor },
                    None => EngineError::AcceptorPanicked,
                });
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.shutdown.shutdown();
            let _ = self.join_threads();
        }
    }
}
