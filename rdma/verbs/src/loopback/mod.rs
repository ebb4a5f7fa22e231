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

mod endpoint;
mod link;

pub use endpoint::{Faults, LoopbackBytes, LoopbackEndpoint};

use crate::error::{Error, Result};
use crate::provider::{
    EndpointOptions, Listener, Provider, MAX_ACCEPT_PRIVATE_DATA, MAX_CONNECT_PRIVATE_DATA,
};
use link::Link;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// An in-process address space of listeners. Clones share it.
#[derive(Clone, Default)]
pub struct Fabric {
    listeners: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Request>>>>,
}

struct Request {
    private_data: Vec<u8>,
    reply: mpsc::Sender<(Arc<Link>, Vec<u8>)>,
}

impl Fabric {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Accepts connections made to one address of a [`Fabric`].
pub struct LoopbackListener {
    fabric: Fabric,
    addr: SocketAddr,
    opts: EndpointOptions,
    requests: mpsc::Receiver<Request>,
}

impl Provider for Fabric {
    type Endpoint = LoopbackEndpoint;
    type Listener = LoopbackListener;

    fn listen(&self, addr: SocketAddr, opts: EndpointOptions) -> Result<LoopbackListener> {
        let mut map = self.listeners.lock().expect("fabric lock");
        if map.contains_key(&addr) {
            return Err(Error::AddrInUse(addr));
        }
        let (tx, rx) = mpsc::channel();
        map.insert(addr, tx);
        Ok(LoopbackListener { fabric: self.clone(), addr, opts, requests: rx })
    }

    fn connect(
        &self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout: Duration,
    ) -> Result<LoopbackEndpoint> {
        crate::provider::check_private_data("connect", private_data, MAX_CONNECT_PRIVATE_DATA)?;
        let listener = self.listeners.lock().expect("fabric lock").get(&addr).cloned();
        let refused = || Error::ConnectFailed { addr, reason: "no listener (REJECTED)".into() };
        let listener = listener.ok_or_else(refused)?;
        let (tx, rx) = mpsc::channel();
        listener.send(Request { private_data: private_data.to_vec(), reply: tx }).map_err(|_| refused())?;
        let (link, peer_data) = rx.recv_timeout(timeout).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => Error::Timeout { after: timeout, what: "accept" },
            mpsc::RecvTimeoutError::Disconnected => refused(),
        })?;
        Ok(LoopbackEndpoint::new(link, 0, opts, peer_data))
    }
}

impl Listener for LoopbackListener {
    type Endpoint = LoopbackEndpoint;

    fn accept(&mut self, private_data: &[u8], timeout: Duration) -> Result<LoopbackEndpoint> {
        crate::provider::check_private_data("accept", private_data, MAX_ACCEPT_PRIVATE_DATA)?;
        loop {
            let req = self
                .requests
                .recv_timeout(timeout)
                .map_err(|_| Error::Timeout { after: timeout, what: "a connect request" })?;
            let link = Arc::new(Link::new());
            // A requester that gave up (timed out) is skipped, as the CM would drop it.
            if req.reply.send((link.clone(), private_data.to_vec())).is_ok() {
                return Ok(LoopbackEndpoint::new(link, 1, self.opts, req.private_data));
            }
        }
    }
}

impl Drop for LoopbackListener {
    fn drop(&mut self) {
        if let Ok(mut map) = self.fabric.listeners.lock() {
            map.remove(&self.addr);
        }
    }
}
