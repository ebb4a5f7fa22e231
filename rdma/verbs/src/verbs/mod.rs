//! The verbs provider: real RDMA devices through libibverbs and librdmacm (feature `rdma`).
//!
//! A [`VerbsDomain`] is one device context (the one librdmacm opened for the device), one
//! protection domain, one completion queue with its completion channel and one RDMA CM event
//! channel, shared by every queue pair it connects or accepts (see [`crate::domain`]). A
//! [`VerbsPassiveListener`] listens on its own event channel and hands out [`VerbsRequest`]s that a
//! domain accepts (migrating the request's id to its channel). The blocking [`crate::Provider`]
//! interface is the [`crate::Blocking`] adapter over them: a [`VerbsEndpoint`] is a domain with one
//! queue pair. Objects hold `Arc`s to what they were made from, so they are destroyed children
//! first whatever order the caller drops them in.

mod cm;
mod completion_queue;
mod device;
mod domain;
mod listener;
mod memory_region;
mod protection_domain;
mod queue_pair;

pub use device::{devices, DeviceInfo, Gid, PortInfo};
pub use domain::VerbsDomain;
pub use listener::{VerbsPassiveListener, VerbsRequest};

use crate::blocking::{Blocking, BlockingListener, DomainEndpoint};
use crate::domain::DomainProvider;
use crate::error::{Error, Result};
use crate::provider::{EndpointOptions, Provider};
use crate::CmEvent;
use cm::{CmId, EventChannel};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A connected queue pair on a domain of its own, used blockingly.
pub type VerbsEndpoint = DomainEndpoint<VerbsDomain>;

/// The bytes of an idle region.
pub type VerbsBytes<'a> = &'a mut [u8];

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
}

impl DomainProvider for VerbsProvider {
    type Domain = VerbsDomain;
    type Listener = VerbsPassiveListener;

    /// A domain on `device`, else on the provider's device, else on the first device.
    fn open_domain(&self, device: Option<&str>) -> Result<VerbsDomain> {
        VerbsDomain::open(device.or(self.device.as_deref()))
    }

    fn listen_passive(&self, addr: SocketAddr) -> Result<VerbsPassiveListener> {
        VerbsPassiveListener::new(addr, self.device.clone())
    }
}

impl Provider for VerbsProvider {
    type Endpoint = VerbsEndpoint;
    type Listener = BlockingListener<VerbsProvider>;

    fn listen(&self, addr: SocketAddr, opts: EndpointOptions) -> Result<Self::Listener> {
        Blocking(self.clone()).listen(addr, opts)
    }

    fn connect(
        &self,
        addr: SocketAddr,
        opts: EndpointOptions,
        private_data: &[u8],
        timeout: Duration,
    ) -> Result<VerbsEndpoint> {
        // A domain is on one device: without one named, take the device the address resolves to
        // (as a connection on a CM id of its own would), not merely the first.
        let provider = match &self.device {
            Some(_) => self.clone(),
            None => VerbsProvider::new(Some(device_for(addr, timeout)?)),
        };
        Blocking(provider).connect(addr, opts, private_data, timeout)
    }
}

/// The device through which `addr` is reached: one address resolution on a throwaway id.
fn device_for(addr: SocketAddr, timeout: Duration) -> Result<String> {
    let channel = Arc::new(EventChannel::new()?);
    let id = CmId::new(channel.clone())?;
    id.resolve_addr(addr, timeout.as_millis().clamp(1, i32::MAX as u128) as i32)?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(ev) = channel.try_next()? {
            if ev.event != CmEvent::ADDR_RESOLVED {
                return Err(Error::ConnectFailed {
                    addr,
                    reason: format!("{} (status {})", ev.event, ev.status),
                });
            }
            return id.device_name().ok_or_else(|| Error::NoDevice(format!("(none reaches {addr})")));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout { after: timeout, what: "address resolution" });
        }
        wait_readable([channel.fd()], left)?;
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
