//! The transport seam: a reactor owns channels of either kind and drives them through one interface.
//! A channel is a [`HandlerCore`] (handler, outbox, life state, wake state) plus the transport that
//! moves its bytes: a TCP socket with Direct TCP framing (`tcp_channel.rs`), or an RDMA queue pair
//! with MS-SMBD on top (`rdma/channel.rs`). Everything above the transport (handlers, outboxes,
//! wakes, shutdown) is the same for both.

use mio::{Interest, Registry, Token};

use crate::error::EngineError;
use crate::handle::ConnectionHandle;
use crate::handler_core::HandlerCore;
use crate::rdma::channel::RdmaChannel;
use crate::rdma::DynDomain;
use crate::stats::ReactorCounters;
use crate::tcp_channel::TcpChannel;

/// What a channel's drive step left behind.
#[derive(Debug)]
pub(crate) enum Progress {
    /// Waiting for the transport; a readiness event (socket, completion channel) will come.
    Idle,
    /// The read budget ran out with input possibly still waiting: drive again soon.
    MoreWork,
    /// The memory budget is used up: drive again once it has room (no readiness event will come
    /// for bytes already waiting).
    Starved,
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

/// One connection of a reactor, by transport. Boxed: an RDMA channel (with its MS-SMBD state) is
/// about 1 KiB, a TCP one 400 bytes, and the reactor's slot table should not pay the larger for
/// every slot.
pub(crate) enum Channel {
    Tcp(Box<TcpChannel>),
    Rdma(Box<RdmaChannel>),
}

impl Channel {
    pub(crate) fn core(&self) -> &HandlerCore {
        match self {
            Channel::Tcp(c) => &c.core,
            Channel::Rdma(c) => &c.core,
        }
    }

    pub(crate) fn core_mut(&mut self) -> &mut HandlerCore {
        match self {
            Channel::Tcp(c) => &mut c.core,
            Channel::Rdma(c) => &mut c.core,
        }
    }

    /// Watches the channel's readiness sources under `token` (an RDMA channel's are its reactor's
    /// domain descriptors, watched once for all).
    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> std::io::Result<()> {
        match self {
            Channel::Tcp(c) => {
                registry.register(&mut c.socket, token, Interest::READABLE | Interest::WRITABLE)
            }
            Channel::Rdma(_) => Ok(()),
        }
    }

    pub(crate) fn deregister(&mut self, registry: &Registry) {
        match self {
            Channel::Tcp(c) => {
                let _ = registry.deregister(&mut c.socket);
            }
            Channel::Rdma(_) => {}
        }
    }

    /// Gives the handler its handle and lets it speak first: at once for TCP, once SMB Direct is
    /// negotiated for RDMA.
    pub(crate) fn start(&mut self, handle: ConnectionHandle) -> Result<(), EngineError> {
        match self {
            Channel::Tcp(c) => c.core.start(handle),
            Channel::Rdma(c) => {
                c.start(handle);
                Ok(())
            }
        }
    }

    /// The handle was woken: the handler queues what the application asked for.
    pub(crate) fn wake(&mut self) -> Result<(), EngineError> {
        match self {
            Channel::Tcp(c) => c.wake(),
            Channel::Rdma(c) => c.wake(),
        }
    }

    /// Run to completion: deliver, send, receive, until the transport would block or a budget or
    /// limit is reached. `reading` is false during shutdown. `domain` is the reactor's RDMA domain
    /// (an RDMA channel exists only where there is one).
    pub(crate) fn drive(
        &mut self,
        limits: &Limits,
        counters: &ReactorCounters,
        reading: bool,
        domain: Option<&mut dyn DynDomain>,
    ) -> Progress {
        match (self, domain) {
            (Channel::Tcp(c), _) => c.drive(limits, counters, reading),
            (Channel::Rdma(c), Some(d)) => c.drive(d, limits, counters, reading),
            (Channel::Rdma(c), None) => Progress::Failed(EngineError::RdmaUnavailable {
                why: format!("no domain for the connection with {}", c.peer()),
            }),
        }
    }

    /// The budget is pressed: give back what is kept for reuse (a receive buffer left large).
    pub(crate) fn trim(&mut self) {
        if let Channel::Tcp(c) = self {
            c.trim();
        }
    }

    /// Whether the connection holds memory of the budget without moving: answers its peer takes
    /// none of, or a message its peer stopped sending, for at least `timeout` (by `now`). A
    /// connection the reactor itself starves is not stalled.
    pub(crate) fn stalled(&self, now: std::time::Instant, timeout: std::time::Duration) -> Option<usize> {
        let core = self.core();
        if core.starved || now.saturating_duration_since(core.last_progress) < timeout {
            return None;
        }
        // An RDMA channel's receive buffers are its reactor's registered pool, not the budget's.
        let held = core.outbox_held()
            + match self {
                Channel::Tcp(c) => c.input_held(),
                Channel::Rdma(_) => 0,
            };
        (held > 0).then_some(held)
    }

    pub(crate) fn as_rdma(&mut self) -> Option<&mut RdmaChannel> {
        match self {
            Channel::Rdma(c) => Some(c),
            Channel::Tcp(_) => None,
        }
    }
}
