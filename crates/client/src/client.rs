//! The application side: [`Client`], [`Tree`] and [`File`] queue operations for the connection's
//! driver and wait (boundedly) for its answers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use engine::{Connection, ConnectionHandle, Engine, EngineConfig, Flow, Outbox};
use smb_auth::NtlmInitiator;
use smb_client_proto::{ClientConfig, ClientConnection, Completion};
use smb_crypto::{Cipher, SigningAlgorithm};
use smb_wire::negotiate::Dialect;

use crate::driver::{Driver, Failure, Limits, LogonReply, Op, Reply, Request};
use crate::error::ClientError;
use crate::metadata::UNIX_EPOCH_FILETIME;
use crate::options::ClientOptions;
use crate::rdma_stats::{RdmaCounters, RdmaStats};
use crate::tree::Tree;
use crate::write_spares::WriteSpares;

/// Requests queued for the driver and not yet taken, at most (a full queue blocks the caller).
const REQUEST_QUEUE: usize = 64;
/// READ buffers on their way back from application threads to the driver, at most.
const RETURNED_BUFFERS: usize = 32;
/// Largest READ/WRITE chunk, whatever the server allows.
const MAX_CHUNK: u32 = 1 << 20;
/// How often a waiting caller checks whether the connection has closed.
const CLOSED_POLL: Duration = Duration::from_millis(100);

/// What every handle of one connection shares. The engine goes with the last handle.
pub(crate) struct Shared {
    /// The session encrypts every message (server EncryptData or `require_privacy`).
    pub(crate) encrypted: bool,
    dialect: Option<Dialect>,
    cipher: Option<Cipher>,
    signing: Option<SigningAlgorithm>,
    requests: Sender<Request>,
    /// READ buffers the application is done with, back to the driver for reuse.
    pub(crate) returns: Sender<Vec<u8>>,
    /// WRITE message buffers the socket has sent, for the next WRITEs' payloads.
    pub(crate) spares: WriteSpares,
    handle: ConnectionHandle,
    host: String,
    timeout: Duration,
    pub(crate) read_chunk: u32,
    pub(crate) write_chunk: u32,
    /// READ and WRITE chunks when their data moves by RDMA (an SMB Direct connection whose session
    /// needs neither encryption nor signing); `None` otherwise.
    pub(crate) rdma_chunks: Option<(u32, u32)>,
    /// The RDMA transforms negotiated: an encrypted tree moves data by RDMA only with ENCRYPTION.
    pub(crate) rdma_transforms: smb_wire::negotiate_context::RdmaTransformSet,
    rdma_stats: Arc<RdmaCounters>,
    _engine: Engine,
}

impl Shared {
    /// Queues `op` and wakes the driver; the answer arrives on the returned receiver.
    pub(crate) fn submit(&self, op: Op, name: &'static str) -> Result<Receiver<Reply>, ClientError> {
        let (tx, rx) = bounded(1);
        match self.requests.send_timeout(Request { op, reply: tx }, self.timeout) {
            Ok(()) => {}
            Err(SendTimeoutError::Timeout(_)) => {
                return Err(ClientError::Timeout { op: name, after: self.timeout })
            }
            Err(SendTimeoutError::Disconnected(_)) => return Err(ClientError::ConnectionClosed { op: name }),
        }
        self.handle.wake().map_err(|_| ClientError::ConnectionClosed { op: name })?;
        Ok(rx)
    }

    /// Waits for the answer to one request; an error status becomes its typed error.
    pub(crate) fn wait(
        &self,
        rx: &Receiver<Reply>,
        name: &'static str,
        target: &str,
    ) -> Result<Completion, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let got = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(CLOSED_POLL)) {
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => {
                    // A request that slipped into the channel as the connection closed is answered
                    // by no one: notice the close instead of waiting out the timeout.
                    if self.handle.is_closed() {
                        break rx.try_recv().map_err(|_| RecvTimeoutError::Disconnected);
                    }
                }
                r => break r,
            }
        };
        match got {
            Ok(Ok(Completion::Error { status, .. })) => Err(ClientError::from_status(name, target, status)),
            Ok(Ok(c)) => Ok(c),
            Ok(Err(f)) => Err(failure(f, name, target)),
            Err(RecvTimeoutError::Timeout) => Err(ClientError::Timeout { op: name, after: self.timeout }),
            Err(RecvTimeoutError::Disconnected) => Err(ClientError::ConnectionClosed { op: name }),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    pub(crate) fn call(&self, op: Op, name: &'static str, target: &str) -> Result<Completion, ClientError> {
        let rx = self.submit(op, name)?;
        self.wait(&rx, name, target)
    }
}

fn failure(f: Failure, name: &'static str, target: &str) -> ClientError {
    match f {
        Failure::Closed => ClientError::ConnectionClosed { op: name },
        Failure::Protocol(e) => ClientError::Protocol(e),
        Failure::Status(status) => ClientError::from_status(name, target, status),
    }
}

/// The factory of a client-only engine: it has no listeners, so it is never asked; should it be,
/// the connection closes at once.
struct Refuse;
impl Connection for Refuse {
    fn on_start(&mut self, _out: &mut Outbox) -> Flow {
        Flow::Close
    }
    fn on_message(&mut self, _msg: &mut [u8], _out: &mut Outbox) -> Flow {
        Flow::Close
    }
}

fn random<const N: usize>(addr: SocketAddr) -> Result<[u8; N], ClientError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| ClientError::Connect { addr, source: std::io::Error::other(e.to_string()) })?;
    Ok(b)
}

fn now_filetime() -> u64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH_FILETIME + d.as_secs() * 10_000_000 + u64::from(d.subsec_nanos() / 100)
}

/// A logged-on SMB session to one server. `Send + Sync`; calls from several threads pipeline on the
/// one connection.
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// Connects, negotiates SMB 3.1.1 and logs on with NTLM. `user` may be `DOMAIN\user`.
    ///
    /// Errors: [`ClientError::Connect`], [`ClientError::LogonFailure`] (wrong user or password),
    /// [`ClientError::Protocol`] (e.g. `require_privacy` and no cipher in common),
    /// [`ClientError::Timeout`], [`ClientError::ConnectionClosed`].
    pub fn connect(
        addr: SocketAddr,
        user: &str,
        password: &str,
        opts: ClientOptions,
    ) -> Result<Client, ClientError> {
        let rdma = match &opts.transport {
            crate::Transport::Tcp => None,
            crate::Transport::Rdma(r) => Some(r.clone()),
        };
        let cfg = EngineConfig {
            reactors: opts.reactors.max(1),
            pin: false,
            max_outbox_bytes: 32 << 20,
            poll: opts.poll,
            rdma,
            ..EngineConfig::default()
        };
        let factory =
            Arc::new(|_peer: &engine::PeerInfo, _reactor| -> Box<dyn Connection> { Box::new(Refuse) });
        let engine =
            Engine::start(vec![], factory, cfg).map_err(|source| ClientError::Connect { addr, source })?;
        let proto = ClientConfig {
            ciphers: opts.ciphers.clone(),
            dialects: opts.dialects.clone(),
            signing: opts.signing.clone(),
            require_privacy: opts.require_privacy,
            require_signing: opts.require_signing,
            rdma_transform: opts.rdma_transform || opts.require_rdma_transform,
            backend: opts.crypto_backend,
        };
        // Resolve `auto` on this thread, not on the reactor that will first make a key.
        opts.crypto_backend.aead_impl(smb_crypto::Cipher::Aes128Gcm);
        let conn = ClientConnection::new(proto, random(addr)?, random(addr)?);
        let (domain, name) = user.split_once('\\').unwrap_or(("", user));
        let initiator =
            NtlmInitiator::new(name, password, domain, "SMBDX", random(addr)?, now_filetime(), true);
        let (logon_tx, logon_rx) = bounded::<LogonReply>(1);
        let (req_tx, req_rx) = bounded(REQUEST_QUEUE);
        let (returns_tx, returns_rx) = bounded(RETURNED_BUFFERS);
        let spares = WriteSpares::new();
        let rdma_stats = Arc::new(RdmaCounters::default());
        let driver = Driver::new(conn, initiator, logon_tx, req_rx, returns_rx, spares.clone())
            .with_rdma_stats(rdma_stats.clone())
            .requiring_rdma_transform(opts.require_rdma_transform);
        let handle = match opts.transport {
            crate::Transport::Tcp => engine.connect(addr, Box::new(driver)),
            crate::Transport::Rdma(_) => engine.connect_rdma(addr, Box::new(driver)),
        }
        .map_err(|source| ClientError::Connect { addr, source })?;
        let limits = match logon_rx.recv_timeout(opts.timeout) {
            Ok(Ok(l)) => l,
            Ok(Err(f)) => return Err(failure(f, "logon", user)),
            Err(RecvTimeoutError::Timeout) => {
                return Err(ClientError::Timeout { op: "logon", after: opts.timeout })
            }
            Err(RecvTimeoutError::Disconnected) => return Err(ClientError::ConnectionClosed { op: "logon" }),
        };
        let Limits {
            max_read,
            max_write,
            encrypted,
            signing_required,
            max_message,
            dialect,
            cipher,
            signing,
            rdma_transforms,
        } = limits;
        // Inline over SMB Direct, a READ or WRITE and its headers must fit one message the server
        // reassembles (its MaxFragmentedSize, MS-SMBD 3.1.5.4: 1 MiB for Windows and smbdx, 173,910
        // bytes for ksmbd); one page leaves room for every header.
        let inline_max = max_message.map(|m| (m.saturating_sub(4096) / 4096 * 4096).max(4096));
        // Data that must be encrypted or signed moves by RDMA only with the matching transform.
        let session_rdma = if encrypted {
            rdma_transforms.encryption
        } else if signing_required {
            rdma_transforms.signing
        } else {
            true
        };
        let rdma_chunks = (inline_max.is_some() && session_rdma)
            .then(|| (max_read.clamp(1, MAX_CHUNK), max_write.clamp(1, MAX_CHUNK)));
        let shared = Shared {
            encrypted,
            dialect,
            cipher,
            signing,
            requests: req_tx,
            returns: returns_tx,
            spares,
            handle,
            host: addr.ip().to_string(),
            timeout: opts.timeout,
            read_chunk: max_read.clamp(1, inline_max.unwrap_or(MAX_CHUNK).min(MAX_CHUNK)),
            write_chunk: max_write.clamp(1, inline_max.unwrap_or(MAX_CHUNK).min(MAX_CHUNK)),
            rdma_chunks,
            rdma_transforms,
            rdma_stats,
            _engine: engine,
        };
        Ok(Client { shared: Arc::new(shared) })
    }

    /// What this connection moved by RDMA so far, and how the windows it granted ended (all zero
    /// over TCP, and on a session that must encrypt or sign, whose data rides inline).
    pub fn rdma_stats(&self) -> RdmaStats {
        self.shared.rdma_stats.snapshot()
    }

    /// Whether every message of this session is encrypted (the server's EncryptData, or
    /// [`ClientOptions::require_privacy`]). Shares with SMB2_SHAREFLAG_ENCRYPT_DATA are encrypted
    /// even when this is false.
    pub fn session_encrypted(&self) -> bool {
        self.shared.encrypted
    }

    /// The dialect negotiated.
    pub fn dialect(&self) -> Option<Dialect> {
        self.shared.dialect
    }

    /// The cipher negotiated (None: this connection cannot encrypt).
    pub fn cipher(&self) -> Option<Cipher> {
        self.shared.cipher
    }

    /// The signing algorithm negotiated.
    pub fn signing(&self) -> Option<SigningAlgorithm> {
        self.shared.signing
    }

    /// Ends the session (LOGOFF) and waits for the server to confirm; the connection closes when the
    /// last handle is dropped.
    pub fn logoff(self) -> Result<(), ClientError> {
        match self.shared.call(Op::Logoff, "logoff", "")? {
            Completion::LoggedOff { .. } => Ok(()),
            _ => Err(ClientError::Unexpected { op: "logoff" }),
        }
    }

    /// Connects to share `share` of this server (TREE_CONNECT to `\\host\share`).
    pub fn tree(&self, share: &str) -> Result<Tree, ClientError> {
        let unc = format!(r"\\{}\{}", self.shared.host, share);
        match self.shared.call(Op::TreeConnect { unc }, "tree connect", share)? {
            Completion::TreeConnected { tree, share_flags, .. } => {
                Ok(Tree::new(self.shared.clone(), tree, share_flags))
            }
            _ => Err(ClientError::Unexpected { op: "tree connect" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Client>();
        check::<Tree>();
        check::<crate::File>();
    }

    #[test]
    fn filetime_is_after_2020() {
        // 2020-01-01 as FILETIME.
        assert!(now_filetime() > 132_223_104_000_000_000);
    }

    #[test]
    fn connecting_to_a_closed_port_is_a_connect_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let r = Client::connect(port, "u", "p", ClientOptions::default());
        assert!(matches!(r, Err(ClientError::Connect { addr, .. }) if addr == port), "{:?}", r.err());
    }
}
