//! One connection (TCP or SMB Direct) as the engine sees it: bytes in, the session layer, responses
//! out, and the audit log (event 1003 / 1005 lines with the peer's address).

use crate::auth::NtlmAuth;
use crate::delay::Delayer;
use crate::files::ServerFiles;
use crate::live::{ConnEntry, EventRecord, Live, SessionInfo};
use crate::throttle::{Escalation, LogonThrottle, Verdict};
use engine::{Connection, ConnectionHandle, Flow as EngineFlow, Outbox, PeerInfo, Transport};
use smb_session::{Event, Flow, RdmaTransmit, ServerConfig, ServerConnection, Transmit};
use smb_wire::smbd::BufferDescriptorV1;
use smb_wire::status::NtStatus;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// What guards a connection's logons: the server's throttling table, its timer (which releases
/// the answers a throttled logon holds back), and how long the connection may go without a session
/// (`None`: for ever), counted from the connect, whatever it sends meanwhile, so neither silence nor
/// a byte now and then keeps it open.
pub struct LogonGuard {
    pub table: Arc<LogonThrottle>,
    pub delayer: Delayer,
    pub logon_timeout: Option<std::time::Duration>,
    /// How long the connection may go without a request while it holds no open file (`None`: for
    /// ever; see `config::DEFAULT_IDLE_TIMEOUT_SECS`).
    pub idle_timeout: Option<std::time::Duration>,
}

/// Idle expiry: when the last request came, and when the one wake this connection has pending for
/// it is due (one at a time, so the delayer's heap holds one entry per connection however often
/// the connection is woken for other reasons).
struct Idle {
    after: std::time::Duration,
    last_request: Instant,
    wake: Option<Instant>,
}

/// Answers held back (a throttled source's SESSION_SETUP, and everything after it, in order).
struct Held {
    until: Instant,
    msgs: Vec<Vec<u8>>,
}

pub struct SmbConnection {
    peer: SocketAddr,
    guard: LogonGuard,
    held: Option<Held>,
    handle: Option<ConnectionHandle>,
    /// When the connection is closed unless a session was established by then.
    logon_deadline: Option<Instant>,
    idle: Option<Idle>,
    /// What SMB Direct settled (MaxReadWriteSize, the largest message); `None` over TCP.
    rdma: Option<engine::RdmaLimits>,
    inner: ServerConnection<ServerFiles, NtlmAuth>,
    /// The operator's view of this connection, and the server's live state it reports into.
    live: Option<(Arc<Live>, Arc<ConnEntry>)>,
}

/// The engine's outbox as the session's transmitter; over SMB Direct also its RDMA data mover.
struct OutboxTx<'a>(&'a mut Outbox, Option<engine::RdmaLimits>);

/// Answers kept for later, in order (no RDMA: nothing a held answer carries is placed by RDMA, and
/// a request that would place data waits behind a logon that is not answered yet).
struct HoldTx<'a>(&'a mut Vec<Vec<u8>>);

impl Transmit for HoldTx<'_> {
    fn send(&mut self, msg: &[u8]) {
        self.0.push(msg.to_vec());
    }

    fn send_parts(&mut self, parts: &[&[u8]]) {
        self.0.push(parts.concat());
    }

    fn send_owned(&mut self, buf: Vec<u8>, range: std::ops::Range<usize>) {
        self.0.push(buf.get(range).unwrap_or_default().to_vec());
    }

    fn reclaim(&mut self) -> Option<Vec<u8>> {
        None
    }

    fn rdma(&mut self) -> Option<&mut dyn RdmaTransmit> {
        None
    }
}

/// Whether `msg` is a SESSION_SETUP (the first of a compound counts; an encrypted message never is).
fn is_session_setup(msg: &[u8]) -> bool {
    smb_wire::Header::parse(msg).is_ok_and(|h| h.command == smb_wire::Command::SESSION_SETUP)
}

/// At debug level: every answer that is not a success (those sent in the clear: an encrypted
/// one shows only its transform header), for following a peer's failure from the server's side.
fn log_failure(first: &[u8]) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let Ok(h) = smb_wire::Header::parse(first) else { return };
    let ok = [NtStatus::SUCCESS, NtStatus::PENDING, NtStatus::MORE_PROCESSING_REQUIRED];
    if !ok.iter().any(|s| s.0 == h.status) {
        tracing::debug!(command = ?h.command, mid = h.message_id, status = format_args!("{:#010x}", h.status), "answered with a failure");
    }
}

impl Transmit for OutboxTx<'_> {
    fn send(&mut self, msg: &[u8]) {
        log_failure(msg);
        self.0.push(msg);
    }

    fn send_parts(&mut self, parts: &[&[u8]]) {
        log_failure(parts.first().copied().unwrap_or_default());
        self.0.push_parts(parts);
    }

    fn send_owned(&mut self, buf: Vec<u8>, range: std::ops::Range<usize>) {
        log_failure(buf.get(range.clone()).unwrap_or_default());
        self.0.push_owned(buf, range);
    }

    fn reclaim(&mut self) -> Option<Vec<u8>> {
        self.0.reclaim()
    }

    fn rdma(&mut self) -> Option<&mut dyn RdmaTransmit> {
        match self.1 {
            Some(_) if self.0.has_rdma() => Some(self),
            _ => None,
        }
    }
}

impl RdmaTransmit for OutboxTx<'_> {
    fn max_read_write(&self) -> u32 {
        self.1.map_or(0, |l| l.max_read_write)
    }

    fn max_message(&self) -> usize {
        self.1.map_or(0, |l| l.max_message as usize)
    }

    fn lease(&mut self, len: usize) -> Option<iobuf::Lease> {
        self.0.lease(len)
    }

    fn write(&mut self, data: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        self.0.rdma_write(data, len, descs);
    }

    fn read(&mut self, token: u64, into: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        self.0.rdma_read(token, into, len, descs);
    }

    fn send_parts_invalidating(&mut self, parts: &[&[u8]], token: u32) {
        log_failure(parts.first().copied().unwrap_or_default());
        self.0.push_parts_invalidating(parts, token);
    }
}

impl SmbConnection {
    /// `live`: the server's live state and this connection's entry in it (the admin view, which
    /// may also close it).
    pub fn new(
        peer: &PeerInfo,
        cfg: Arc<ServerConfig>,
        files: ServerFiles,
        auth: NtlmAuth,
        live: Option<(Arc<Live>, Arc<ConnEntry>)>,
        guard: LogonGuard,
    ) -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is available");
        let rdma = match peer.transport {
            Transport::Tcp => None,
            Transport::Rdma(l) => Some(l),
        };
        tracing::debug!(peer = %peer.addr, rdma = rdma.is_some(), "connection accepted");
        let mut inner = ServerConnection::new(cfg, files, auth, seed);
        if let Some((_, e)) = &live {
            inner = inner.with_counters(Arc::clone(&e.counters));
        }
        let now = Instant::now();
        let logon_deadline = guard.logon_timeout.map(|d| now + d);
        let idle = guard.idle_timeout.map(|after| Idle { after, last_request: now, wake: None });
        Self { peer: peer.addr, guard, held: None, handle: None, logon_deadline, idle, rdma, inner, live }
    }

    /// Whether the connection has been idle too long: no request for the idle timeout, no open
    /// file, nothing in flight on the helpers. Otherwise the next check is asked for (when the
    /// timeout would run out, or a timeout from now if files are open).
    fn idle_expired(&mut self, now: Instant) -> bool {
        let Some(idle) = &mut self.idle else { return false };
        if idle.wake.is_some_and(|at| now >= at) {
            idle.wake = None;
        }
        let due = idle.last_request + idle.after;
        let busy = self.inner.files_mut().open_count() > 0 || self.inner.deferred_in_flight() > 0;
        if now >= due && !busy {
            return true;
        }
        let next = if now >= due { now + idle.after } else { due };
        if idle.wake.is_none() {
            if let Some(h) = &self.handle {
                idle.wake = Some(next);
                self.guard.delayer.wake_at(next, h.clone());
            }
        }
        false
    }

    /// A security event of this connection's client, for the operator's view.
    fn record(
        &self,
        id: Option<u32>,
        kind: &'static str,
        user: Option<String>,
        share: Option<String>,
        detail: String,
    ) {
        if let Some((live, _)) = &self.live {
            live.record(EventRecord {
                time_ms: crate::live::unix_ms(std::time::SystemTime::now()),
                id,
                kind,
                client: self.peer,
                user,
                share,
                detail,
            });
        }
    }

    /// A SESSION_SETUP from a throttled source: hold its answer (Continue), or refuse the source
    /// (Close).
    fn throttle_logon(&mut self) -> EngineFlow {
        let t = &self.guard;
        let now = Instant::now();
        match t.table.check(self.peer.ip(), now) {
            Verdict::Allow => EngineFlow::Continue,
            Verdict::Delay(d) => {
                let until = now + d;
                match &mut self.held {
                    // Already holding: the answers go out at the later time. The wake asked for
                    // earlier asks again from `release_held`, so a connection has one pending wake
                    // however many logons it sends.
                    Some(held) => held.until = held.until.max(until),
                    None => {
                        self.held = Some(Held { until, msgs: Vec::new() });
                        if let Some(h) = &self.handle {
                            t.delayer.wake_at(until, h.clone());
                        }
                    }
                }
                tracing::debug!(peer = %self.peer, delay_ms = d.as_millis() as u64, "logon from a throttled source: answer held");
                EngineFlow::Continue
            }
            Verdict::Refuse { until } => {
                let secs = until.saturating_duration_since(now).as_secs();
                tracing::debug!(peer = %self.peer, for_secs = secs, "logon from a locked-out source: connection closed");
                EngineFlow::Close
            }
        }
    }

    /// A logon failed: count it against the source; log the step it took the source to, if any.
    fn logon_failed(&self) {
        let t = &self.guard;
        let Some(step) = t.table.failed(self.peer.ip(), Instant::now()) else { return };
        let id = step.event_id();
        let source = self.peer.ip();
        match step {
            Escalation::Slowed { failures } => {
                tracing::warn!(event_id = id, %source, failures, delay_ms = t.table.config().delay.as_millis() as u64,
                    "logon failures from this source: its logons are slowed");
                let detail = format!("{failures} failed logons; each logon now waits");
                self.record(Some(id), "logon_slowed", None, None, detail);
            }
            Escalation::LockedOut { failures, for_ } => {
                tracing::warn!(event_id = id, %source, failures, for_secs = for_.as_secs(),
                    "logon failures from this source: its logons are refused for a while");
                let detail = format!("{failures} failed logons; refused for {} s", for_.as_secs());
                self.record(Some(id), "logon_source_locked_out", None, None, detail);
            }
        }
    }

    /// Runs `f` on the session with the transmitter answers go to now: the outbox, or the held
    /// queue while a throttled logon waits.
    fn with_tx<R>(
        &mut self,
        out: &mut Outbox,
        f: impl FnOnce(&mut ServerConnection<ServerFiles, NtlmAuth>, &mut dyn Transmit) -> R,
    ) -> R {
        match &mut self.held {
            Some(h) => f(&mut self.inner, &mut HoldTx(&mut h.msgs)),
            None => f(&mut self.inner, &mut OutboxTx(out, self.rdma)),
        }
    }

    /// The held answers go out once their time has come (or now, when `now` says so); until then,
    /// a wake is asked for at that time.
    fn release_held(&mut self, out: &mut Outbox, now: bool) {
        let Some(h) = &self.held else { return };
        if !now && Instant::now() < h.until {
            if let Some(handle) = &self.handle {
                self.guard.delayer.wake_at(h.until, handle.clone());
            }
            return;
        }
        if let Some(h) = self.held.take() {
            for m in &h.msgs {
                log_failure(m);
                out.push(m);
            }
        }
    }

    /// Whether the operator asked to close this connection (through the admin API).
    fn close_requested(&self) -> bool {
        self.live.as_ref().is_some_and(|(_, e)| e.close_requested())
    }

    /// Keeps the operator's view of the connection's sessions and security events.
    fn report(&self, e: &Event) {
        let Some((_, entry)) = &self.live else { return };
        match e {
            Event::LoggedOn { user, session_id, encrypted, signed } => entry.update(|i| {
                i.dialect = self.inner.dialect().map(|d| crate::live::dialect_name(d.0));
                i.cipher = self.inner.cipher().map(|c| c.name());
                i.signing = self.inner.signing_algorithm().map(|s| s.name());
                i.sessions.retain(|s| s.id != *session_id);
                i.sessions.push(SessionInfo {
                    id: *session_id,
                    user: user.clone(),
                    encrypt_data: *encrypted,
                    signing_required: *signed,
                });
            }),
            Event::LoggedOff { session_id } => entry.update(|i| i.sessions.retain(|s| s.id != *session_id)),
            _ => {
                let (kind, user, share, detail) = match e {
                    Event::UnencryptedAccessRejected { share, reason } => {
                        ("unencrypted_access_rejected", None, share.clone(), reason.to_string())
                    }
                    Event::NegotiateTampered { detail } => {
                        ("negotiate_tampered", None, None, detail.to_string())
                    }
                    Event::LogonFailed { user } => ("logon_failure", user.clone(), None, String::new()),
                    Event::ShareAccessDenied { user, share } => {
                        ("share_access_denied", Some(user.clone()), Some(share.clone()), String::new())
                    }
                    Event::ProtocolViolation { detail } => {
                        ("protocol_violation", None, None, detail.to_string())
                    }
                    Event::RdmaRefused { reason } => ("rdma_refused", None, None, reason.to_string()),
                    Event::PlacedDataRejected { detail, .. } => {
                        ("rdma_transform_rejected", None, None, detail.to_string())
                    }
                    Event::LoggedOn { .. } | Event::LoggedOff { .. } => return,
                };
                self.record(e.id(), kind, user, share, detail);
            }
        }
    }

    fn log_events(&mut self) {
        let peer = self.peer;
        for e in self.inner.drain_events() {
            self.report(&e);
            if matches!(e, Event::LogonFailed { .. }) {
                self.logon_failed();
            }
            if matches!(e, Event::LoggedOn { .. }) {
                self.logon_deadline = None;
            }
            match e {
                Event::UnencryptedAccessRejected { share, reason } => tracing::warn!(
                    event_id = 1003,
                    %peer,
                    share = share.as_deref().unwrap_or("-"),
                    "unencrypted access rejected: {reason}"
                ),
                Event::NegotiateTampered { detail } => {
                    tracing::error!(event_id = 1005, %peer, "negotiate tampering detected, connection dropped: {detail}")
                }
                Event::LogonFailed { user } => {
                    tracing::warn!(%peer, user = user.as_deref().unwrap_or("-"), "logon failure")
                }
                Event::ShareAccessDenied { user, share } => {
                    tracing::warn!(%peer, %user, %share, "tree connect refused: the share does not admit this user")
                }
                Event::LoggedOn { user, session_id, encrypted, signed } => tracing::info!(
                    %peer,
                    %user,
                    session_id = format_args!("{session_id:#x}"),
                    encrypted,
                    signed,
                    "session established"
                ),
                Event::ProtocolViolation { detail } => {
                    tracing::warn!(%peer, "dropping connection: {detail}")
                }
                Event::RdmaRefused { reason } => tracing::warn!(%peer, "RDMA channel refused: {reason}"),
                Event::PlacedDataRejected { session_id, detail } => tracing::warn!(
                    %peer,
                    session_id = format_args!("{session_id:#x}"),
                    "RDMA transform rejected, nothing written: {detail}"
                ),
                Event::LoggedOff { session_id } => {
                    tracing::info!(%peer, session_id = format_args!("{session_id:#x}"), "session logged off")
                }
            }
        }
    }
}

/// A handler dropped without `on_close` (one the engine never adopted) leaves the live view too.
impl Drop for SmbConnection {
    fn drop(&mut self) {
        if let Some((live, e)) = &self.live {
            live.close(e);
        }
    }
}

impl Connection for SmbConnection {
    fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> EngineFlow {
        if self.close_requested() {
            return EngineFlow::Close;
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            let h = smb_wire::Header::parse(msg).ok();
            tracing::debug!(peer = %self.peer, len = msg.len(), command = ?h.map(|h| h.command), mid = h.map(|h| h.message_id), "message");
        }
        if let Some(idle) = &mut self.idle {
            idle.last_request = Instant::now();
        }
        if is_session_setup(msg) && matches!(self.throttle_logon(), EngineFlow::Close) {
            return EngineFlow::Close;
        }
        let now = crate::time::now_filetime();
        let flow = self.with_tx(out, |inner, tx| inner.on_message(msg, now, tx));
        self.log_events();
        match flow {
            Flow::Continue => EngineFlow::Continue,
            Flow::Close => EngineFlow::Close,
        }
    }

    /// SMB Direct is negotiated: its actual limits replace the ones offered.
    fn on_transport(&mut self, peer: &PeerInfo) {
        if let Transport::Rdma(l) = peer.transport {
            self.rdma = Some(l);
            if let Some((_, e)) = &self.live {
                e.set_rdma();
            }
        }
    }

    /// A WRITE's payload arrived by RDMA READ (or could not): write it and answer.
    fn on_rdma_done(
        &mut self,
        token: u64,
        result: Result<iobuf::Lease, String>,
        out: &mut Outbox,
    ) -> EngineFlow {
        let mut tx = OutboxTx(out, self.rdma);
        let flow = self.inner.on_pulled(token, result, &mut tx);
        self.log_events();
        match flow {
            Flow::Continue => EngineFlow::Continue,
            Flow::Close => EngineFlow::Close,
        }
    }

    fn attach(&mut self, handle: ConnectionHandle) {
        if let Some((_, e)) = &self.live {
            e.set_handle(handle.clone());
        }
        self.handle = Some(handle.clone());
        if let Some(at) = self.logon_deadline {
            self.guard.delayer.wake_at(at, handle.clone());
        }
        self.inner.files_mut().attach(handle);
        // With a logon deadline before the idle one, its wake comes first and asks for the idle
        // one: a connection that closes before it (most short ones) leaves one wake behind, not two.
        let idle_due = self.idle.as_ref().map(|i| i.last_request + i.after);
        if self.logon_deadline.is_none_or(|l| idle_due.is_some_and(|i| i < l)) {
            self.idle_expired(Instant::now());
        }
    }

    /// The helper thread finished WRITEs: answer them. Or a throttled logon's delay has passed:
    /// send what was held.
    fn on_wake(&mut self, out: &mut Outbox) -> EngineFlow {
        if self.close_requested() {
            return EngineFlow::Close;
        }
        if self.logon_deadline.is_some_and(|at| Instant::now() >= at) {
            tracing::info!(peer = %self.peer, "closing a connection that established no session in time");
            return EngineFlow::Close;
        }
        if self.idle_expired(Instant::now()) {
            tracing::info!(peer = %self.peer, "closing an idle connection (no request and no open file for the idle timeout)");
            return EngineFlow::Close;
        }
        self.release_held(out, false);
        let flow = self.with_tx(out, |inner, tx| inner.answer_deferred(false, tx));
        self.log_events();
        match flow {
            Flow::Continue => EngineFlow::Continue,
            Flow::Close => EngineFlow::Close,
        }
    }

    /// Shutdown: the WRITEs in flight finish and are answered before the connection closes.
    fn on_drain(&mut self, out: &mut Outbox) {
        // Shutting down: a held logon answer goes now rather than never.
        self.release_held(out, true);
        let mut tx = OutboxTx(out, self.rdma);
        let _ = self.inner.answer_deferred(true, &mut tx);
        self.log_events();
    }

    fn on_close(&mut self) {
        self.inner.close();
        if let Some((live, e)) = &self.live {
            live.close(e);
        }
        tracing::debug!(peer = %self.peer, "connection closed");
    }
}
