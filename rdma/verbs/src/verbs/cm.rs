//! RDMA CM objects: the event channel and the connection id (`rdma_cm(7)`).

use super::set_nonblocking;
use crate::error::{Error, Result};
use crate::CmEvent;
use rdma_core_sys as sys;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ptr;
use std::sync::{Arc, OnceLock};

/// `struct rdma_event_channel`, in non-blocking mode.
pub(crate) struct EventChannel {
    raw: *mut sys::rdma_event_channel,
}

// SAFETY: librdmacm channels may be used from any thread; we never share one concurrently
// (each domain and listener reads only its own).
unsafe impl Send for EventChannel {}
// SAFETY: see Send; the methods take &self but only call thread-safe librdmacm functions.
unsafe impl Sync for EventChannel {}

/// A connection manager event, copied out and already acknowledged.
pub(crate) struct EventInfo {
    pub event: CmEvent,
    pub status: i32,
    /// The id the event is about (for CONNECT_REQUEST: the new connection's id).
    pub id: *mut sys::rdma_cm_id,
    pub private_data: Vec<u8>,
    /// The peer's RDMA READ resources (CONNECT_REQUEST: the requester's), from the CM exchange.
    pub responder_resources: u8,
    pub initiator_depth: u8,
}

/// Whether `RDMA_VERBS_TRACE_CM` is set: connection events, CQ growth and software flushes go to
/// stderr (see [`trace_line`]).
pub(crate) fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("RDMA_VERBS_TRACE_CM").is_some())
}

/// One trace line, stamped with the seconds since the first.
pub(crate) fn trace_line(args: std::fmt::Arguments<'_>) {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let t = START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64();
    eprintln!("rdma-verbs [{t:9.3}] {args}");
}

impl EventChannel {
    pub fn new() -> Result<Self> {
        // SAFETY: no arguments; returns null on failure.
        let raw = unsafe { sys::rdma_create_event_channel() };
        if raw.is_null() {
            return Err(Error::verb("rdma_create_event_channel", String::new(), None));
        }
        let ch = Self { raw };
        set_nonblocking(ch.fd(), "rdma_create_event_channel")?;
        Ok(ch)
    }

    pub fn fd(&self) -> i32 {
        // SAFETY: raw is a live channel until drop.
        unsafe { (*self.raw).fd }
    }

    pub fn raw(&self) -> *mut sys::rdma_event_channel {
        self.raw
    }

    /// The next event already queued, if any (the channel is non-blocking).
    pub fn try_next(&self) -> Result<Option<EventInfo>> {
        let mut ev: *mut sys::rdma_cm_event = ptr::null_mut();
        // SAFETY: raw is live; ev receives an event we acknowledge below.
        if unsafe { sys::rdma_get_cm_event(self.raw, &mut ev) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(Error::Verb {
                verb: "rdma_get_cm_event",
                args: format!("channel fd {}", self.fd()),
                source: e,
            });
        }
        // SAFETY: ev is a valid event until rdma_ack_cm_event; we copy what we need first.
        let info = unsafe {
            let e = &*ev;
            let conn = e.param.conn;
            let private_data = if conn.private_data.is_null() || conn.private_data_len == 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(conn.private_data as *const u8, conn.private_data_len as usize)
                    .to_vec()
            };
            EventInfo {
                event: CmEvent(e.event.0),
                status: e.status,
                id: e.id,
                private_data,
                responder_resources: conn.responder_resources,
                initiator_depth: conn.initiator_depth,
            }
        };
        if trace() {
            trace_line(format_args!("cm: fd {} event {} status {}", self.fd(), info.event, info.status));
        }
        // SAFETY: ev came from rdma_get_cm_event and is acknowledged exactly once.
        unsafe { sys::rdma_ack_cm_event(ev) };
        Ok(Some(info))
    }
}

impl Drop for EventChannel {
    fn drop(&mut self) {
        // SAFETY: every id on the channel (and every connect request taken from it) holds an Arc
        // to it, so all are destroyed or migrated by now.
        unsafe { sys::rdma_destroy_event_channel(self.raw) };
    }
}

/// `struct rdma_cm_id`: one connection (or listener) of the connection manager.
pub(crate) struct CmId {
    raw: *mut sys::rdma_cm_id,
    channel: Arc<EventChannel>,
}

// SAFETY: an id is used by one owner at a time (a domain, a listener, or a request in transit);
// librdmacm calls on it are thread-safe.
unsafe impl Send for CmId {}
// SAFETY: see Send.
unsafe impl Sync for CmId {}

/// A `sockaddr_in`/`sockaddr_in6` for librdmacm.
fn sockaddr(addr: SocketAddr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
            let sin = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
        }
    }
    ss
}

/// The address a `sockaddr` of librdmacm holds (IPv4 or IPv6), if any.
fn socket_addr(sa: *const sys::sockaddr) -> Option<SocketAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: librdmacm's address fields are sockaddr_storage-sized; the family says which
    // layout the bytes have, and each read stays within that layout.
    unsafe {
        match i32::from((*sa).sa_family) {
            libc::AF_INET => {
                let sin = &*(sa as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
            }
            libc::AF_INET6 => {
                let sin6 = &*(sa as *const libc::sockaddr_in6);
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                let port = u16::from_be(sin6.sin6_port);
                Some(SocketAddr::V6(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id)))
            }
            _ => None,
        }
    }
}

impl CmId {
    pub fn new(channel: Arc<EventChannel>) -> Result<Self> {
        let mut raw = ptr::null_mut();
        // SAFETY: channel is live; raw receives the new id.
        let r = unsafe {
            sys::rdma_create_id(channel.raw(), &mut raw, ptr::null_mut(), sys::rdma_port_space::RDMA_PS_TCP)
        };
        if r != 0 {
            return Err(Error::verb("rdma_create_id", "RDMA_PS_TCP".into(), None));
        }
        Ok(Self { raw, channel })
    }

    /// Takes ownership of the id of a CONNECT_REQUEST read from `channel` (its events still go
    /// there until [`CmId::migrate`]).
    pub fn from_request(raw: *mut sys::rdma_cm_id, channel: Arc<EventChannel>) -> Self {
        Self { raw, channel }
    }

    /// Moves the id's events (queued ones too) to `channel`.
    pub fn migrate(&mut self, channel: Arc<EventChannel>) -> Result<()> {
        // SAFETY: raw is live and ours; both channels are live (we hold Arcs to them).
        if unsafe { sys::rdma_migrate_id(self.raw, channel.raw()) } != 0 {
            return Err(Error::verb(
                "rdma_migrate_id",
                format!("from channel fd {} to channel fd {}", self.channel.fd(), channel.fd()),
                None,
            ));
        }
        self.channel = channel;
        Ok(())
    }

    pub fn raw(&self) -> *mut sys::rdma_cm_id {
        self.raw
    }

    pub fn channel(&self) -> &Arc<EventChannel> {
        &self.channel
    }

    /// The peer's address (`rdma_get_peer_addr`), once resolved or requested.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        // SAFETY: raw is live; the returned pointer points into the id's route, valid while it is.
        socket_addr(unsafe { sys::rdma_get_peer_addr(self.raw) })
    }

    /// The local address (`rdma_get_local_addr`), once bound or resolved.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        // SAFETY: as for peer_addr.
        socket_addr(unsafe { sys::rdma_get_local_addr(self.raw) })
    }

    /// The device context the id is bound to (after address resolution or a connect request).
    pub fn context(&self) -> *mut sys::ibv_context {
        // SAFETY: raw is live until drop.
        unsafe { (*self.raw).verbs }
    }

    pub fn device_name(&self) -> Option<String> {
        let ctx = self.context();
        if ctx.is_null() {
            return None;
        }
        // SAFETY: ctx is the id's live context; the name is a NUL-terminated string it owns.
        let name = unsafe { std::ffi::CStr::from_ptr(sys::ibv_get_device_name((*ctx).device)) };
        Some(name.to_string_lossy().into_owned())
    }

    pub fn bind_addr(&self, addr: SocketAddr) -> Result<()> {
        let mut ss = sockaddr(addr);
        // SAFETY: raw is live; ss is a valid sockaddr for the call.
        if unsafe { sys::rdma_bind_addr(self.raw, &mut ss as *mut _ as *mut sys::sockaddr) } != 0 {
            return Err(Error::verb("rdma_bind_addr", addr.to_string(), None));
        }
        Ok(())
    }

    pub fn listen(&self, backlog: i32) -> Result<()> {
        // SAFETY: raw is a live, bound id.
        if unsafe { sys::rdma_listen(self.raw, backlog) } != 0 {
            return Err(Error::verb("rdma_listen", format!("backlog {backlog}"), None));
        }
        Ok(())
    }

    pub fn resolve_addr(&self, addr: SocketAddr, timeout_ms: i32) -> Result<()> {
        let mut ss = sockaddr(addr);
        // SAFETY: raw is live; ss is valid for the call (librdmacm copies it).
        let r = unsafe {
            sys::rdma_resolve_addr(
                self.raw,
                ptr::null_mut(),
                &mut ss as *mut _ as *mut sys::sockaddr,
                timeout_ms,
            )
        };
        if r != 0 {
            return Err(Error::verb("rdma_resolve_addr", format!("{addr}, {timeout_ms} ms"), None));
        }
        Ok(())
    }

    pub fn resolve_route(&self, timeout_ms: i32) -> Result<()> {
        // SAFETY: raw is live and its address resolved.
        if unsafe { sys::rdma_resolve_route(self.raw, timeout_ms) } != 0 {
            return Err(Error::verb("rdma_resolve_route", format!("{timeout_ms} ms"), None));
        }
        Ok(())
    }

    pub fn connect(&self, param: &sys::rdma_conn_param) -> Result<()> {
        let mut p = *param;
        // SAFETY: raw is live with a QP; p and its private data outlive the call.
        if unsafe { sys::rdma_connect(self.raw, &mut p) } != 0 {
            return Err(Error::verb("rdma_connect", conn_args(param), None));
        }
        Ok(())
    }

    pub fn accept(&self, param: &sys::rdma_conn_param) -> Result<()> {
        let mut p = *param;
        // SAFETY: as for connect.
        if unsafe { sys::rdma_accept(self.raw, &mut p) } != 0 {
            return Err(Error::verb("rdma_accept", conn_args(param), None));
        }
        Ok(())
    }

    pub fn reject(&self) {
        // SAFETY: raw is a live id of a connect request. Best effort: the id is destroyed next.
        unsafe { sys::rdma_reject(self.raw, ptr::null(), 0) };
    }

    /// Starts a disconnect; librdmacm moves the QP to the error state, so work requests flush.
    pub fn disconnect(&self) -> Result<()> {
        // SAFETY: raw is live.
        if unsafe { sys::rdma_disconnect(self.raw) } != 0 {
            return Err(Error::verb("rdma_disconnect", String::new(), None));
        }
        Ok(())
    }
}

fn conn_args(p: &sys::rdma_conn_param) -> String {
    format!(
        "private_data_len {}, responder_resources {}, initiator_depth {}, retry_count {}, rnr_retry_count {}",
        p.private_data_len, p.responder_resources, p.initiator_depth, p.retry_count, p.rnr_retry_count
    )
}

impl Drop for CmId {
    fn drop(&mut self) {
        // SAFETY: the id's QP holds an Arc to it, so it is gone; all events were acknowledged when
        // read (rdma_destroy_id waits for that).
        unsafe { sys::rdma_destroy_id(self.raw) };
    }
}
