//! The passive side: a listening CM id on a non-blocking event channel of its own, handing out
//! connect requests that a domain (maybe on another thread) accepts.

use super::cm::{trace, trace_line, CmId, EventChannel};
use crate::domain::{ConnectRequest, PassiveListener};
use crate::error::{Error, Result};
use crate::CmEvent;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::Arc;

/// Listens on one address (see [`PassiveListener`]). Made by [`super::VerbsProvider`]'s
/// `listen_passive`.
pub struct VerbsPassiveListener {
    id: CmId,
    addr: SocketAddr,
    /// Only requests arriving on this device are handed out; others are rejected.
    device: Option<String>,
}

/// A connect request taken off a [`VerbsPassiveListener`]: its CM id, not yet accepted. Dropping
/// it (or [`ConnectRequest::reject`]) rejects the request and destroys the id.
pub struct VerbsRequest {
    id: Option<CmId>,
    pub(super) private_data: Vec<u8>,
    pub(super) peer: Option<SocketAddr>,
    device: Option<String>,
    /// The requester's RDMA READ resources and depth.
    pub(super) responder_resources: u8,
    pub(super) initiator_depth: u8,
}

impl VerbsRequest {
    /// The id, for the accepting domain (which then owns it).
    pub(super) fn take_id(&mut self) -> CmId {
        self.id.take().expect("a request is accepted once")
    }
}

impl ConnectRequest for VerbsRequest {
    fn private_data(&self) -> &[u8] {
        &self.private_data
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn device(&self) -> Option<String> {
        self.device.clone()
    }

    fn reject(self) {
        drop(self);
    }
}

impl Drop for VerbsRequest {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            id.reject();
        }
    }
}

impl VerbsPassiveListener {
    pub(super) fn new(addr: SocketAddr, device: Option<String>) -> Result<Self> {
        let id = CmId::new(Arc::new(EventChannel::new()?))?;
        id.bind_addr(addr)?;
        // Bound to a device's address, the id knows its device already (not so for a wildcard).
        if let (Some(want), Some(have)) = (&device, id.device_name()) {
            if *want != have {
                return Err(Error::NoDevice(format!("{want} ({addr} belongs to {have})")));
            }
        }
        id.listen(16)?;
        Ok(Self { id, addr, device })
    }
}

impl PassiveListener for VerbsPassiveListener {
    type Request = VerbsRequest;

    fn fd(&self) -> RawFd {
        self.id.channel().fd()
    }

    fn try_accept(&mut self) -> Result<Option<VerbsRequest>> {
        while let Some(ev) = self.id.channel().try_next()? {
            // Other events here are about requests handed out and not yet migrated to a domain
            // (their failure shows when they are accepted), or about the listening id itself.
            if ev.event != CmEvent::CONNECT_REQUEST {
                continue;
            }
            // The request's id is new and ours to destroy (the request does it when dropped).
            let id = CmId::from_request(ev.id, self.id.channel().clone());
            let req = VerbsRequest {
                peer: id.peer_addr(),
                device: id.device_name(),
                id: Some(id),
                private_data: ev.private_data,
                responder_resources: ev.responder_resources,
                initiator_depth: ev.initiator_depth,
            };
            if let Some(want) = &self.device {
                if req.device.as_deref() != Some(want) {
                    if trace() {
                        trace_line(format_args!(
                            "rejecting a request on {:?}, listening for {want}",
                            req.device
                        ));
                    }
                    continue; // dropping it rejects it
                }
            }
            return Ok(Some(req));
        }
        Ok(None)
    }

    fn local_addr(&self) -> SocketAddr {
        self.id.local_addr().unwrap_or(self.addr)
    }
}
