//! Accepting and handing out connections. One acceptor thread blocks in its own epoll on the
//! listeners and gives each accepted socket to the least-loaded reactor (round robin among equals)
//! through that reactor's bounded queue; `Engine::connect` hands outgoing sockets the same way.
//! Accepting is rare next to messages, so it stays off the reactors' cores and hot loops.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::admission::{Admission, Permit};
use crate::connection::{Connection, ConnectionFactory};
use crate::error::EngineError;
use crate::handle::{WakeLink, WakeState};
use crate::rdma::DynListener;
use crate::reactor::{Command, WAKER};
use crate::shutdown::ShutdownHandle;
use crate::stats::ReactorCounters;

/// After a resource error (out of descriptors) pending connections stay in the backlog with no new
/// edge to announce them; look again after this long.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// The way into one reactor.
pub(crate) struct ReactorLink {
    pub(crate) commands: Sender<Command>,
    pub(crate) waker: Arc<Waker>,
    /// Where the reactor's [`crate::ConnectionHandle`]s send their wakes.
    pub(crate) wakes: Arc<WakeLink>,
    pub(crate) counters: Arc<ReactorCounters>,
}

/// Picks a reactor for each new connection and hands it over.
pub(crate) struct Dispatcher {
    pub(crate) links: Vec<ReactorLink>,
    pub(crate) max_per_reactor: usize,
    next: AtomicUsize,
}

impl Dispatcher {
    pub(crate) fn new(links: Vec<ReactorLink>, max_per_reactor: usize) -> Dispatcher {
        Dispatcher { links, max_per_reactor, next: AtomicUsize::new(0) }
    }

    /// Gives `socket` to the least-loaded reactor; returns its index. On error the socket is closed
    /// and `handler` dropped without `on_close` (it was never adopted).
    pub(crate) fn dispatch(
        &self,
        socket: TcpStream,
        peer: SocketAddr,
        handler: Option<(Box<dyn Connection>, Arc<WakeState>)>,
        permit: Option<Permit>,
    ) -> Result<usize, EngineError> {
        self.hand_over(Command::Adopt { socket, peer, handler, permit })
    }

    /// Hands `cmd` (a new connection of either transport) to the least-loaded reactor; returns its
    /// index. On error the command is dropped (an RDMA request with it is rejected).
    pub(crate) fn hand_over(&self, cmd: Command) -> Result<usize, EngineError> {
        let n = self.links.len();
        let first = self.next.fetch_add(1, Relaxed) % n;
        let load = |i: usize| self.links[i].counters.connections.load(Relaxed);
        let pick = (0..n).map(|k| (first + k) % n).min_by_key(|&i| load(i));
        let Some(pick) = pick.filter(|&p| load(p) < self.max_per_reactor as u64) else {
            if let Command::AdoptRdma { req, .. } = cmd {
                req.reject();
            }
            return Err(EngineError::AtCapacity { reactors: n, max: self.max_per_reactor });
        };
        let link = &self.links[pick];
        link.counters.connections.fetch_add(1, Relaxed);
        match link.commands.try_send(cmd) {
            Ok(()) => {}
            Err(TrySendError::Full(cmd) | TrySendError::Disconnected(cmd)) => {
                link.counters.connections.fetch_sub(1, Relaxed);
                if let Command::AdoptRdma { req, .. } = cmd {
                    req.reject();
                }
                return Err(EngineError::AtCapacity { reactors: n, max: self.max_per_reactor });
            }
        }
        if let Err(e) = link.waker.wake() {
            // The socket is queued; the reactor will see it at its next wake-up.
            tracing::warn!(reactor = pick, error = %e, "could not wake reactor");
        }
        Ok(pick)
    }
}

pub(crate) struct Acceptor {
    pub(crate) poll: Poll,
    pub(crate) listeners: Vec<TcpListener>,
    /// RDMA CM listeners; their tokens follow the TCP listeners'.
    pub(crate) rdma: Vec<Box<dyn DynListener>>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) shutdown: ShutdownHandle,
    /// The connection limits, checked before a connection is handed to a reactor.
    pub(crate) admission: Arc<Admission>,
    /// Told of each connection closed at accept.
    pub(crate) factory: Arc<dyn ConnectionFactory>,
}

impl Acceptor {
    /// Registers the listeners with `poll` (whose waker must use [`WAKER`]).
    pub(crate) fn new(
        poll: Poll,
        mut listeners: Vec<TcpListener>,
        rdma: Vec<Box<dyn DynListener>>,
        dispatcher: Arc<Dispatcher>,
        shutdown: ShutdownHandle,
        (admission, factory): (Arc<Admission>, Arc<dyn ConnectionFactory>),
    ) -> io::Result<Acceptor> {
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry().register(l, Token(i), Interest::READABLE)?;
        }
        for (k, l) in rdma.iter().enumerate() {
            let token = Token(listeners.len() + k);
            poll.registry().register(&mut mio::unix::SourceFd(&l.fd()), token, Interest::READABLE)?;
        }
        Ok(Acceptor { poll, listeners, rdma, dispatcher, shutdown, admission, factory })
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut retry = false;
        loop {
            let timeout = retry.then_some(RETRY_AFTER);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "acceptor epoll failed; no longer accepting");
                    return;
                }
            }
            if self.shutdown.is_requested() {
                return;
            }
            if std::mem::take(&mut retry) {
                for i in 0..self.listeners.len() + self.rdma.len() {
                    retry |= self.accept_all(i);
                }
            }
            for event in events.iter() {
                if event.token() != WAKER {
                    retry |= self.accept_all(event.token().0);
                }
            }
        }
    }

    /// Takes every waiting RDMA connection request to a reactor; true when stopped by an error.
    fn accept_rdma(&mut self, k: usize) -> bool {
        let Some(listener) = self.rdma.get_mut(k) else { return false };
        loop {
            match listener.try_accept() {
                Ok(Some(req)) => {
                    let peer = req.peer_addr();
                    let permit = match peer {
                        Some(p) => self.admission.admit(p).map_err(|r| Self::refuse(&*self.factory, r)),
                        // No address to count it under: the server's limit only, reported (and
                        // counted) under the unspecified address.
                        None => self.admission.admit_ip(None).map_err(|(why, first)| {
                            let peer = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
                            Self::refuse(&*self.factory, crate::admission::Refused { peer, why, first })
                        }),
                    };
                    let Ok(permit) = permit else {
                        req.reject();
                        continue;
                    };
                    if let Err(e) =
                        self.dispatcher.hand_over(Command::AdoptRdma { req, permit: Some(permit) })
                    {
                        tracing::warn!(?peer, error = %e, "refusing RDMA connection");
                    }
                }
                Ok(None) => return false,
                Err(e) => {
                    tracing::warn!(error = %e, "RDMA accept failed");
                    return true;
                }
            }
        }
    }

    /// A connection over a limit: told to the factory (which logs its episode's first refusal).
    fn refuse(factory: &dyn ConnectionFactory, r: crate::admission::Refused) {
        tracing::debug!(peer = %r.peer, reason = r.why.name(), "connection refused at accept: {}", r.why);
        factory.refused(&r);
    }

    /// Accepts until the backlog is empty; true when stopped by a resource error instead.
    fn accept_all(&mut self, i: usize) -> bool {
        if i >= self.listeners.len() {
            return self.accept_rdma(i - self.listeners.len());
        }
        let Some(listener) = self.listeners.get(i) else { return false };
        loop {
            match listener.accept() {
                Ok((socket, peer)) => {
                    // SMB is request/response: Nagle would hold back every small response.
                    if let Err(e) = socket.set_nodelay(true) {
                        tracing::warn!(%peer, error = %e, "TCP_NODELAY failed");
                    }
                    // Over a limit: closed here (dropped), before a reactor or a handler sees it.
                    let permit = match self.admission.admit(peer) {
                        Ok(p) => p,
                        Err(r) => {
                            Self::refuse(&*self.factory, r);
                            continue;
                        }
                    };
                    if let Err(e) = self.dispatcher.dispatch(socket, peer, None, Some(permit)) {
                        tracing::warn!(%peer, error = %e, "refusing connection");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    return true;
                }
            }
        }
    }
}
