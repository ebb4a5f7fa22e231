//! One TCP connection as the engine sees it: bytes in, the session layer, responses out, and the
//! audit log (event 1003 / 1005 lines with the peer's address).

use crate::auth::NtlmAuth;
use crate::files::ServerFiles;
use engine::{Connection, ConnectionHandle, Flow as EngineFlow, Outbox};
use smb_session::{Event, Flow, ServerConfig, ServerConnection, Transmit};
use std::net::SocketAddr;
use std::sync::Arc;

pub struct SmbConnection {
    peer: SocketAddr,
    inner: ServerConnection<ServerFiles, NtlmAuth>,
}

struct OutboxTx<'a>(&'a mut Outbox);

impl Transmit for OutboxTx<'_> {
    fn send(&mut self, msg: &[u8]) {
        self.0.push(msg);
    }

    fn send_parts(&mut self, parts: &[&[u8]]) {
        self.0.push_parts(parts);
    }

    fn send_owned(&mut self, buf: Vec<u8>, range: std::ops::Range<usize>) {
        self.0.push_owned(buf, range);
    }

    fn reclaim(&mut self) -> Option<Vec<u8>> {
        self.0.reclaim()
    }
}

impl SmbConnection {
    pub fn new(peer: SocketAddr, cfg: Arc<ServerConfig>, files: ServerFiles, auth: NtlmAuth) -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is available");
        tracing::debug!(%peer, "connection accepted");
        Self { peer, inner: ServerConnection::new(cfg, files, auth, seed) }
    }

    fn log_events(&mut self) {
        let peer = self.peer;
        for e in self.inner.drain_events() {
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
            }
        }
    }
}

impl Connection for SmbConnection {
    fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> EngineFlow {
        let flow = self.inner.on_message(msg, crate::time::now_filetime(), &mut OutboxTx(out));
        self.log_events();
        match flow {
            Flow::Continue => EngineFlow::Continue,
            Flow::Close => EngineFlow::Close,
        }
    }

    fn attach(&mut self, handle: ConnectionHandle) {
        self.inner.files_mut().attach(handle);
    }

    /// The helper thread finished WRITEs: answer them.
    fn on_wake(&mut self, out: &mut Outbox) -> EngineFlow {
        let flow = self.inner.answer_deferred(false, &mut OutboxTx(out));
        self.log_events();
        match flow {
            Flow::Continue => EngineFlow::Continue,
            Flow::Close => EngineFlow::Close,
        }
    }

    /// Shutdown: the WRITEs in flight finish and are answered before the connection closes.
    fn on_drain(&mut self, out: &mut Outbox) {
        let _ = self.inner.answer_deferred(true, &mut OutboxTx(out));
        self.log_events();
    }

    fn on_close(&mut self) {
        self.inner.close();
        tracing::debug!(peer = %self.peer, "connection closed");
    }
}
