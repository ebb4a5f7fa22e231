//! The in-process loopback provider: two endpoints in one process, memory copies between their
//! registered regions, with the completion semantics of a reliable connection and injectable faults.
//!
//! For deterministic tests of everything above the verbs layer. It is never a measure of RDMA
//! performance: a "transfer" here is a `memcpy` under a lock.
//!
//! What it models (as an RC queue pair on a real device does):
//! - send-queue completions in posting order; a SEND waits for the peer's RECV (infinite RNR retry);
//! - rkey, bounds and access checks on RDMA READ/WRITE (REM_ACCESS_ERR), windows invalidated by
//!   SEND_WITH_INVALIDATE or a local invalidate;
//! - any error completion moves the queue pair to the error state: later work requests flush;
//! - disconnect flushes every outstanding work request on both sides with WR_FLUSH_ERR.
//!
//! Faults ([`Faults`]): drop completions, fail the next work request with a chosen status, delay
//! completions, break the link.

mod domain;
mod endpoint;
mod fault_plan;
mod link;
mod mem;
mod notify;

pub use domain::{LoopbackDomain, LoopbackPassiveListener, LoopbackRequest};
pub use endpoint::{Faults, LoopbackBytes, LoopbackEndpoint};
pub use fault_plan::{FaultAction, FaultOn, FaultPlan};

use crate::error::{Error, Result};
use crate::provider::{EndpointOptions, Provider};
use link::Link;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// An in-process address space of listeners. Clones share it. Its domains (`Fabric::open_domain`)
/// are what a reactor drives; as a blocking [`Provider`] each endpoint is a domain of its own.
#[derive(Clone, Default)]
pub struct Fabric {
    listeners: Arc<Mutex<HashMap<SocketAddr, ListenerEntry>>>,
    /// Faults for the domains opened through this handle (see [`Fabric::with_faults`]).
    plan: Option<Arc<FaultPlan>>,
}

/// Where requests to one address go, and who to wake for them (an fd-driven listener).
pub(crate) struct ListenerEntry {
    pub(crate) requests: mpsc::Sender<Request>,
    pub(crate) notify: Option<Arc<notify::Notifier>>,
}

/// A connection request in flight from a connector to a listener.
pub(crate) struct Request {
    pub(crate) private_data: Vec<u8>,
    /// RDMA READs the connector serves at once: the acceptor issues no more than that.
    pub(crate) responder_resources: u8,
    /// RDMA READs the connector issues at once: the acceptor serves no more than that.
    pub(crate) initiator_depth: u8,
    /// The accepting side answers with the link, its private data and the RDMA READs it serves.
    pub(crate) reply: mpsc::Sender<(Arc<Link>, Vec<u8>, u8)>,
    /// The connector's domain, woken when the answer is there (None: a blocking connector).
    pub(crate) notify: Option<Arc<notify::Notifier>>,
    /// The address the connector is known by, for the acceptor's `peer_addr`.
    pub(crate) from: Option<SocketAddr>,
}

impl Fabric {
    /// The same fabric (same listeners), whose domains opened through the returned handle apply
    /// `plan` to the work requests they post; other handles' domains are untouched.
    pub fn with_faults(&self, plan: Arc<FaultPlan>) -> Fabric {
        Fabric { listeners: self.listeners.clone(), plan: Some(plan) }
    }

    /// Sends `req` to whoever listens on `addr`.
    pub(crate) fn request(&self, addr: SocketAddr, req: Request) -> Result<()> {
        let map = self.listeners.lock().expect("fabric lock");
        let refused = || Error::ConnectFailed { addr, reason: "no listener (REJECTED)".into() };
        let entry = map.get(&addr).ok_or_else(refused)?;
        entry.requests.send(req).map_err(|_| refused())?;
        if let Some(n) = &entry.notify {
            n.signal();
        }
        Ok(())
    }
}

impl Fabric {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Provider for Fabric {
    type Endpoint = LoopbackEndpoint;
    type Listener = crate::blocking::BlockingListener<Fabric>;

    fn listen(&self, addr: SocketAddr, opts: EndpointOptions) -> Result<Self::Listener> {
        crate::blocking::Blocking(self.clone()).listen(addr, opts)
    }

    fn connect(
        &self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout: Duration,
    ) -> Result<LoopbackEndpoint> {
        crate::blocking::Blocking(self.clone()).connect(addr, opts, private_data, timeout)
    }
}
