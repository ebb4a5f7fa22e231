//! A client connection on the engine's reactors that does only what it is told: the controlling
//! thread ([`Peer`]) sends it jobs, closures that build requests with the sans-I/O
//! `ClientConnection` and may grant, fill or read registered buffers, and it reports every
//! completion with the token the message invalidated (MS-SMBD 3.1.5.8). Unlike the real client
//! (`crates/client/src/driver.rs`) it never revokes a window by itself and never checks what the
//! server invalidated: deciding what is right is the cases' job.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use engine::rdma::{RdmaCtx, RdmaProvider, RdmaSettings};
use engine::{Connection, ConnectionHandle, Engine, EngineConfig, Flow, Outbox, PeerInfo};
use smb_auth::NtlmInitiator;
use smb_client_proto::{ClientConfig, ClientConnection, Completion, RequestId};

/// How long any one answer may take: rxe under qemu's software emulation is slow.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the controlling thread runs on the reactor. `None` for the RDMA context over TCP.
pub type Job = Box<dyn FnOnce(&mut Puppet, Option<&mut RdmaCtx<'_>>, &mut Outbox) + Send>;

/// What the connection reports to its [`Peer`].
#[derive(Debug)]
pub enum Event {
    LoggedOn,
    /// A completion, with the token the server's SEND_WITH_INVALIDATE revoked (SMB Direct).
    Answer {
        completion: Completion,
        invalidated: Option<u32>,
    },
    /// The protocol layer refused a message (the connection closes).
    Broken(String),
    /// The connection is gone; the bytes of the buffers still held, by name.
    Closed {
        buffers: HashMap<u64, Vec<u8>>,
    },
}

/// The reactor side.
pub struct Puppet {
    pub conn: ClientConnection,
    initiator: Option<NtlmInitiator>,
    jobs: Receiver<Job>,
    events: Sender<Event>,
    /// Registered buffers this side holds (granted to the server or not), by a name the job chose.
    pub buffers: HashMap<u64, iobuf::Lease>,
}

impl Puppet {
    fn take_jobs(&mut self, mut rdma: Option<&mut RdmaCtx<'_>>, out: &mut Outbox) {
        while let Ok(job) = self.jobs.try_recv() {
            job(self, rdma.as_deref_mut(), out);
        }
    }

    fn receive(&mut self, msg: &mut [u8], invalidated: Option<u32>, out: &mut Outbox) -> Flow {
        let completions = match self.conn.receive(msg) {
            Ok(c) => c,
            Err(e) => {
                let _ = self.events.send(Event::Broken(e.to_string()));
                return Flow::Close;
            }
        };
        for c in completions {
            match c {
                Completion::Negotiated { .. } => {
                    let Some(initiator) = self.initiator.take() else { continue };
                    match self.conn.session_setup(initiator) {
                        Ok(bytes) => out.push(&bytes),
                        Err(e) => {
                            let _ = self.events.send(Event::Broken(e.to_string()));
                            return Flow::Close;
                        }
                    }
                }
                Completion::MoreAuth { bytes, .. } => out.push(&bytes),
                Completion::LoggedOn { .. } => {
                    let _ = self.events.send(Event::LoggedOn);
                }
                completion => {
                    let _ = self.events.send(Event::Answer { completion, invalidated });
                }
            }
        }
        Flow::Continue
    }
}

impl Connection for Puppet {
    fn on_start(&mut self, out: &mut Outbox) -> Flow {
        match self.conn.negotiate() {
            Ok(bytes) => {
                out.push(&bytes);
                Flow::Continue
            }
            Err(e) => {
                let _ = self.events.send(Event::Broken(e.to_string()));
                Flow::Close
            }
        }
    }

    fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> Flow {
        self.receive(msg, None, out)
    }

    fn on_rdma_message(
        &mut self,
        msg: &mut [u8],
        invalidated: Option<u32>,
        rdma: &mut RdmaCtx<'_>,
        out: &mut Outbox,
    ) -> Flow {
        let flow = self.receive(msg, invalidated, out);
        self.take_jobs(Some(rdma), out);
        flow
    }

    fn on_wake(&mut self, out: &mut Outbox) -> Flow {
        self.take_jobs(None, out);
        Flow::Continue
    }

    fn on_rdma_wake(&mut self, rdma: &mut RdmaCtx<'_>, out: &mut Outbox) -> Flow {
        self.take_jobs(Some(rdma), out);
        Flow::Continue
    }

    /// Windows revoked on a job's request (`Outbox::rdma_revoke`) come back here.
    fn on_rdma_done(&mut self, token: u64, result: Result<iobuf::Lease, String>, _out: &mut Outbox) -> Flow {
        match result {
            Ok(lease) => {
                self.buffers.insert(token, lease);
                Flow::Continue
            }
            Err(why) => {
                let _ = self.events.send(Event::Broken(why));
                Flow::Close
            }
        }
    }

    fn on_close(&mut self) {
        let buffers = self.buffers.iter().map(|(k, v)| (*k, v.to_vec())).collect();
        let _ = self.events.send(Event::Closed { buffers });
    }
}

/// Where the peer connects.
#[derive(Clone)]
pub enum Over {
    Rdma { provider: Arc<dyn RdmaProvider>, addr: SocketAddr },
    Tcp(SocketAddr),
}

/// The controlling side: one logged-on connection whose reactor runs the jobs it is sent.
pub struct Peer {
    engine: Option<Engine>,
    handle: ConnectionHandle,
    jobs: Sender<Job>,
    events: Receiver<Event>,
    /// Events read while waiting for another.
    early: VecDeque<Event>,
    closed: Option<HashMap<u64, Vec<u8>>>,
}

impl Peer {
    /// Connects, negotiates SMB 3.1.1 (and MS-SMBD first, over RDMA) and logs on with NTLMv2.
    pub fn connect(over: &Over, user: &str, password: &str) -> Result<Peer, String> {
        let rdma = match over {
            Over::Rdma { provider, .. } => Some(RdmaSettings::new(provider.clone())),
            Over::Tcp(_) => None,
        };
        let cfg = EngineConfig { reactors: 1, pin: false, rdma, ..EngineConfig::default() };
        let refuse = Arc::new(|_: &PeerInfo, _: usize| -> Box<dyn Connection> { Box::new(Refuse) });
        let engine = Engine::start(vec![], refuse, cfg).map_err(|e| format!("engine: {e}"))?;
        let (job_tx, job_rx) = unbounded();
        let (ev_tx, ev_rx) = unbounded();
        let seed = std::process::id().to_le_bytes();
        let mut guid = [7u8; 16];
        guid[..4].copy_from_slice(&seed);
        let puppet = Puppet {
            // Signing not required, and no RDMA transform (like Linux's client): plain data moves by
            // RDMA, and the cases check what a server does with RDMA asked for protected data.
            conn: ClientConnection::new(
                ClientConfig { require_signing: false, rdma_transform: false, ..ClientConfig::default() },
                guid,
                [11; 32],
            ),
            initiator: Some(NtlmInitiator::new(user, password, "", "HOSTILE", [13; 24], 0, true)),
            jobs: job_rx,
            events: ev_tx,
            buffers: HashMap::new(),
        };
        let handle = match over {
            Over::Rdma { addr, .. } => engine.connect_rdma(*addr, Box::new(puppet)),
            Over::Tcp(addr) => engine.connect(*addr, Box::new(puppet)),
        }
        .map_err(|e| format!("connect: {e}"))?;
        let mut peer = Peer {
            engine: Some(engine),
            handle,
            jobs: job_tx,
            events: ev_rx,
            early: VecDeque::new(),
            closed: None,
        };
        match peer.next(ANSWER_TIMEOUT)? {
            Event::LoggedOn => Ok(peer),
            other => Err(format!("logon: {other:?}")),
        }
    }

    fn next(&mut self, timeout: Duration) -> Result<Event, String> {
        if let Some(e) = self.early.pop_front() {
            return Ok(e);
        }
        match self.events.recv_timeout(timeout) {
            Ok(e) => Ok(e),
            Err(RecvTimeoutError::Timeout) => Err(format!("nothing happened in {timeout:?}")),
            Err(RecvTimeoutError::Disconnected) => Err("the connection's reactor is gone".into()),
        }
    }

    /// Runs `f` on the connection's reactor and returns what it returned.
    pub fn run<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Puppet, Option<&mut RdmaCtx<'_>>, &mut Outbox) -> R + Send + 'static,
    ) -> Result<R, String> {
        if self.closed.is_some() || self.handle.is_closed() {
            return Err("the connection is closed".into());
        }
        let (tx, rx) = bounded(1);
        let job: Job = Box::new(move |p, ctx, out| {
            let _ = tx.send(f(p, ctx, out));
        });
        self.jobs.send(job).map_err(|_| "the connection is gone".to_string())?;
        self.handle.wake().map_err(|e| format!("wake: {e}"))?;
        rx.recv_timeout(ANSWER_TIMEOUT).map_err(|_| "the connection did not run the job".to_string())
    }

    /// Waits for the completion of `request` (with the token its message invalidated); other
    /// events wait their turn. `Err` if the connection broke or closed first.
    pub fn answer(&mut self, request: RequestId) -> Result<(Completion, Option<u32>), String> {
        let mut skipped = VecDeque::new();
        let result = loop {
            match self.next(ANSWER_TIMEOUT) {
                Ok(Event::Answer { completion, invalidated }) if answers(&completion, request) => {
                    break Ok((completion, invalidated))
                }
                Ok(Event::Closed { buffers }) => {
                    self.closed = Some(buffers);
                    break Err(format!("the connection closed before request {} was answered", request.0));
                }
                Ok(Event::Broken(why)) => break Err(format!("the connection broke: {why}")),
                Ok(other) => skipped.push_back(other),
                Err(e) => break Err(format!("request {}: {e}", request.0)),
            }
        };
        skipped.extend(self.early.drain(..));
        self.early = skipped;
        result
    }

    /// Waits for the connection to close without `request` answered: what a server does when an
    /// RDMA transfer of the request failed. Returns the bytes of the buffers still held.
    pub fn closes_unanswered(&mut self, request: RequestId) -> Result<HashMap<u64, Vec<u8>>, String> {
        loop {
            if let Some(b) = self.closed.take() {
                return Ok(b);
            }
            match self.next(ANSWER_TIMEOUT)? {
                Event::Answer { completion, .. } if answers(&completion, request) => {
                    return Err(format!("request {} was answered: {completion:?}", request.0))
                }
                Event::Closed { buffers } => return Ok(buffers),
                _ => {}
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let _ = engine.shutdown();
        }
    }
}

/// Whether `c` is the completion of `request`.
fn answers(c: &Completion, request: RequestId) -> bool {
    use Completion::*;
    match c {
        TreeConnected { request: r, .. }
        | Created { request: r, .. }
        | Read { request: r, .. }
        | ReadPlaced { request: r, .. }
        | Written { request: r, .. }
        | Closed { request: r, .. }
        | TreeDisconnected { request: r }
        | LoggedOff { request: r }
        | Flushed { request: r }
        | DirectoryListed { request: r, .. }
        | InfoQueried { request: r, .. }
        | InfoSet { request: r }
        | Validated { request: r }
        | Error { request: r, .. }
        | MoreAuth { request: r, .. } => *r == request,
        Negotiated { .. } | LoggedOn { .. } => false,
    }
}

/// The engine's listener side is unused: a peer only connects.
struct Refuse;

impl Connection for Refuse {
    fn on_message(&mut self, _msg: &mut [u8], _out: &mut Outbox) -> Flow {
        Flow::Close
    }
}
