//! The verbs provider: real RDMA devices through libibverbs and librdmacm (feature `rdma`).
//!
//! One [`VerbsEndpoint`] per RDMA CM connection, each with its own event channel (the accepted
//! id is migrated off the listener's), protection domain, completion channel and queue, and RC
//! queue pair. Objects hold `Arc`s to what they were made from, so they are destroyed children
//! first whatever order the caller drops them in.

mod cm;
mod completion_queue;
mod device;
mod endpoint;
mod memory_region;
mod protection_domain;
mod queue_pair;

pub use device::{devices, DeviceInfo, Gid, PortInfo};
pub use endpoint::{VerbsBytes, VerbsEndpoint};

use crate::error::{Error, Result};
use crate::provider::{
    EndpointOptions, Listener, Provider, MAX_ACCEPT_PRIVATE_DATA, MAX_CONNECT_PRIVATE_DATA,
};
use crate::{CmCall, CmEvent, CmState};
use cm::{CmId, EventChannel};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connections over the RDMA devices of this host, through RDMA CM (IP addresses and ports).
#[derive(Clone, Debug, Default)]
pub struct VerbsProvider {
    /// Only accept connections on / connect through this device (e.g. `rxe0`).
    pub device: Option<String>,
}

impl VerbsProvider {
    pub fn new(device: Option<String>) -> Self {
        Self { device }
    }

    fn check_device(&self, id: &CmId) -> Result<()> {
        match &self.device {
            Some(want) if id.device_name().as_deref() != Some(want.as_str()) => {
                Err(Error::NoDevice(format!(
                    "{want} (the address resolves to {})",
                    id.device_name().unwrap_or_else(|| "no device".into())
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Listens on one address; each accepted request becomes a [`VerbsEndpoint`].
pub struct VerbsListener {
    provider: VerbsProvider,
    id: Arc<CmId>,
    opts: EndpointOptions,
}

/// Waits for the next event on `ch` and checks it moves `state` somewhere allowed.
fn expect_event(
    ch: &EventChannel,
    state: &mut CmState,
    deadline: Instant,
    what: &'static str,
) -> Result<cm::EventInfo> {
    let now = Instant::now();
    let ev = ch
        .next(deadline.saturating_duration_since(now))?
        .ok_or(Error::Timeout { after: deadline.saturating_duration_since(now), what })?;
    *state = state.on_event(ev.event).ok_or(Error::UnexpectedCmEvent { event: ev.event, state: *state })?;
    Ok(ev)
}

fn failed(addr: SocketAddr, ev: &cm::EventInfo) -> Error {
    Error::ConnectFailed { addr, reason: format!("{} (status {})", ev.event, ev.status) }
}

impl Provider for VerbsProvider {
    type Endpoint = VerbsEndpoint;
    type Listener = VerbsListener;

    fn listen(&self, addr: SocketAddr, opts: EndpointOptions) -> Result<VerbsListener> {
        let ch = Arc::new(EventChannel::new()?);
        let id = Arc::new(CmId::new(ch)?);
        id.bind_addr(addr)?;
        id.listen(16)?;
        Ok(VerbsListener { provider: self.clone(), id, opts })
    }

    fn connect(
        &self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout: Duration,
    ) -> Result<VerbsEndpoint> {
        crate::provider::check_private_data("connect", private_data, MAX_CONNECT_PRIVATE_DATA)?;
        let deadline = Instant::now() + timeout;
        let ms = timeout.as_millis().clamp(100, 30_000) as i32;
        let ch = Arc::new(EventChannel::new()?);
        let id = Arc::new(CmId::new(ch.clone())?);
        let mut state = CmState::Idle.on_call(CmCall::ResolveAddr).expect("allowed from Idle");
        id.resolve_addr(addr, ms)?;
        let ev = expect_event(&ch, &mut state, deadline, "address resolution")?;
        if state != CmState::AddrResolved {
            return Err(failed(addr, &ev));
        }
        self.check_device(&id)?;
        id.resolve_route(ms)?;
        let ev = expect_event(&ch, &mut state, deadline, "route resolution")?;
        if state != CmState::RouteResolved {
            return Err(failed(addr, &ev));
        }
        let mut ep = VerbsEndpoint::new(id.clone(), opts)?;
        state = state.on_call(CmCall::Connect).expect("allowed from RouteResolved");
        id.connect(&ep.conn_param(private_data))?;
        let ev = expect_event(&ch, &mut state, deadline, "connection establishment")?;
        if state != CmState::Established {
            return Err(failed(addr, &ev));
        }
        ep.established(ev.private_data);
        Ok(ep)
    }
}

impl Listener for VerbsListener {
    type Endpoint = VerbsEndpoint;

    fn accept(&mut self, private_data: &[u8], timeout: Duration) -> Result<VerbsEndpoint> {
        crate::provider::check_private_data("accept", private_data, MAX_ACCEPT_PRIVATE_DATA)?;
        let deadline = Instant::now() + timeout;
        let now = Instant::now();
        let ev = self
            .id
            .channel()
            .next(deadline.saturating_duration_since(now))?
            .ok_or(Error::Timeout { after: timeout, what: "a connect request" })?;
        if ev.event != CmEvent::CONNECT_REQUEST {
            // Events of ids we already handed off cannot arrive here (they were migrated).
            return Err(Error::UnexpectedCmEvent { event: ev.event, state: CmState::Listening });
        }
        // The request's id is new and ours to destroy; move its events to its own channel so
        // the endpoint never reads the listener's.
        let ch = Arc::new(EventChannel::new()?);
        let id = Arc::new(CmId::adopt(ev.id, ch.clone())?);
        let mut state = CmState::Idle.on_event(CmEvent::CONNECT_REQUEST).expect("allowed");
        if let Err(e) = self.provider.check_device(&id) {
            id.reject();
            return Err(e);
        }
        let mut ep = VerbsEndpoint::new(id.clone(), self.opts)?;
        state = state.on_call(CmCall::Accept).expect("allowed from ConnectRequest");
        id.accept(&ep.conn_param(private_data))?;
        let est = expect_event(&ch, &mut state, deadline, "connection establishment")?;
        if state != CmState::Established {
            return Err(Error::UnexpectedCmEvent { event: est.event, state: CmState::Accepting });
        }
        ep.established(ev.private_data);
        Ok(ep)
    }
}

/// Sets `O_NONBLOCK` on a file descriptor the library owns (event and completion channels).
fn set_nonblocking(fd: i32, verb: &'static str) -> Result<()> {
    // SAFETY: fcntl on an open descriptor with F_GETFL/F_SETFL has no memory effects.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(Error::verb(verb, format!("fcntl(fd {fd}, O_NONBLOCK)"), None));
    }
    Ok(())
}

/// Waits until one of `fds` is readable or `timeout` passes; returns which are readable.
fn wait_readable<const N: usize>(fds: [i32; N], timeout: Duration) -> Result<[bool; N]> {
    let mut pfds = fds.map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: pfds is a valid array of N pollfd for the duration of the call.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), N as libc::nfds_t, ms) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok([false; N]);
        }
        return Err(Error::Verb { verb: "poll", args: format!("fds {fds:?}, {ms} ms"), source: e });
    }
    Ok(pfds.map(|p| p.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0))
}
