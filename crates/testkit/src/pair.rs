//! [`Pair`]: a `ClientConnection` and a `ServerConnection` joined by a simulated transport, in the
//! manner of quinn-proto's test pair: one thread, no sockets, a clock that moves only when told, and
//! every message in flight open to inspection and tampering.
//!
//! The client under test builds requests (`pair.client.read(..)`), [`Pair::send`] puts them on the
//! link, and [`Pair::drive`] runs link, server and client until nothing moves; completions collect
//! in [`Pair::received`]. Messages the link delivers wait in the receiving side's inbox while that
//! side is held ([`Pair::hold`]), where a test may read, alter, drop or add messages before letting
//! them through ([`Pair::release`]).
//!
//! Transports ([`Transport`]):
//! - `Tcp`: Direct TCP framing (MS-SMB2 2.1) over in-memory byte streams.
//! - `Smbd`: SMB Direct: both sides' messages go through an `smbdirect::SmbdConnection` each,
//!   fragmented, credited and reassembled for real; the server moves READ and WRITE data by RDMA
//!   to and from memory the client granted ([`Pair::memory`]), deterministically.

use crate::auth::{Ntlm, PASSWORD, USER};
use crate::clock::Clock;
use crate::files::MemFiles;
use crate::rdma_memory::Memory;
use crate::server_tx::{Link, Pulled, ServerTx};
use crate::smbd_link::{SmbdLink, SmbdStats};
use crate::tcp_link::TcpLink;
use smb_auth::NtlmInitiator;
use smb_client_proto::{ClientConfig, ClientConnection, ClientError, Completion, FileHandle, TreeHandle};
use smb_session::{AuthFactory, FileHandler, Flow, ServerConfig, ServerConnection};
use smb_wire::create::{access_mask, CreateDisposition};
use smb_wire::header::Header;
use smb_wire::status::NtStatus;
use smbdirect::SmbdConnection;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// A side of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client = 0,
    Server = 1,
}

/// What carries the messages.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Direct TCP framing over in-memory streams.
    Tcp,
    /// SMB Direct between two state machines with these configurations.
    Smbd { client: smbdirect::Config, server: smbdirect::Config },
}

impl Transport {
    /// SMB Direct with the default (Windows and Linux) parameters on both sides.
    pub fn smbd() -> Transport {
        Transport::Smbd { client: smbdirect::Config::default(), server: smbdirect::Config::default() }
    }
}

/// Rounds of [`Pair::drive`] before it gives up: far more than any exchange needs, so a pair that
/// never goes idle (two sides answering each other forever) fails instead of hanging.
const MAX_ROUNDS: usize = 100_000;

/// A client and a server connection over a simulated transport.
pub struct Pair<F: FileHandler = MemFiles, A: AuthFactory = Ntlm> {
    pub client: ClientConnection,
    pub server: ServerConnection<F, A>,
    clock: Clock,
    link: Link,
    /// The client's memory granted to the server for RDMA (SMB Direct only).
    pub memory: Memory,
    /// Registered memory the server's RDMA transfers use.
    pool: iobuf::Pool,
    /// RDMA READs done, for the server's next turn.
    pulls: VecDeque<Pulled>,
    /// Owned buffers the server sent, for it to reclaim.
    back: Vec<Vec<u8>>,
    /// Whole messages delivered to each side and not consumed yet.
    inbox: [VecDeque<Vec<u8>>; 2],
    held: [bool; 2],
    /// What the client made of the server's messages, oldest first.
    pub received: VecDeque<Result<Completion, ClientError>>,
    /// The messages the server sent in its last call that sent any.
    last_answers: Vec<Vec<u8>>,
    /// The server said Close: nothing more reaches it (what it sent before still arrives).
    server_closed: bool,
    /// Why the link broke; nothing moves any more.
    link_failed: Option<String>,
}

impl Pair {
    /// Default client and server configurations, [`MemFiles::default`] and [`Ntlm::default`].
    pub fn new(transport: Transport) -> Pair {
        Pair::with_configs(transport, ClientConfig::default(), ServerConfig::default())
    }

    /// The given configurations, [`MemFiles::default`] and [`Ntlm::default`].
    pub fn with_configs(transport: Transport, client: ClientConfig, server: ServerConfig) -> Pair {
        Pair::with_auth(transport, client, server, Ntlm::default())
    }
}

impl<A: AuthFactory> Pair<MemFiles, A> {
    /// The given configurations, [`MemFiles::default`], and `auth` as the server's authenticator
    /// (another NTLM adapter, say the server's own).
    pub fn with_auth(transport: Transport, client: ClientConfig, server: ServerConfig, auth: A) -> Self {
        let client = ClientConnection::new(client, [3; 16], [5; 32]);
        let server = ServerConnection::new(Arc::new(server), MemFiles::default(), auth, [9; 32]);
        Pair::with(transport, client, server)
    }
}

impl<F: FileHandler, A: AuthFactory> Pair<F, A> {
    /// Joins `client` and `server`; over SMB Direct, MS-SMBD is negotiated before this returns.
    pub fn with(transport: Transport, client: ClientConnection, server: ServerConnection<F, A>) -> Self {
        let clock = Clock::new();
        let link = match transport {
            Transport::Tcp => Link::Tcp(TcpLink::default()),
            Transport::Smbd { client, server } => {
                Link::Smbd(Box::new(SmbdLink::new(client, server, clock.instant())))
            }
        };
        let mut pair = Pair {
            client,
            server,
            clock,
            link,
            memory: Memory::default(),
            pool: iobuf::Pool::new(&iobuf::PoolConfig::default()),
            pulls: VecDeque::new(),
            back: Vec::new(),
            inbox: [VecDeque::new(), VecDeque::new()],
            held: [false; 2],
            received: VecDeque::new(),
            last_answers: Vec::new(),
            server_closed: false,
            link_failed: None,
        };
        pair.drive();
        pair
    }

    // ---------------------------------------------------------------------------------------
    // Time
    // ---------------------------------------------------------------------------------------

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Lets `by` pass: due timers run (SMB Direct's negotiation and keepalive timers), then the
    /// pair is driven.
    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
        if let Link::Smbd(l) = &mut self.link {
            l.on_time(self.clock.instant());
        }
        self.drive();
    }

    // ---------------------------------------------------------------------------------------
    // Moving messages
    // ---------------------------------------------------------------------------------------

    /// Puts a client request on the link (it moves on [`Pair::drive`]).
    pub fn send(&mut self, msg: Vec<u8>) {
        if self.link_failed.is_some() {
            return;
        }
        match &mut self.link {
            Link::Tcp(l) => l.send(Side::Client as usize, &[&msg]),
            Link::Smbd(l) => {
                if let Err(e) = l.queue(Side::Client as usize, msg, None) {
                    self.link_failed = Some(e);
                }
            }
        }
    }

    /// Runs the link, the server and the client until nothing moves.
    pub fn drive(&mut self) {
        for _ in 0..MAX_ROUNDS {
            if !self.step() {
                return;
            }
        }
        panic!("the pair did not go idle in {MAX_ROUNDS} rounds");
    }

    /// One round: the link, then the server's inbox, finished RDMA READs and deferred answers,
    /// then the client's inbox. Whether anything moved.
    fn step(&mut self) -> bool {
        let mut moved = false;
        if self.link_failed.is_none() {
            let now = self.clock.instant();
            let pumped = match &mut self.link {
                Link::Tcp(l) => l.pump(&mut self.inbox),
                Link::Smbd(l) => l.pump(now, &mut self.inbox, &mut self.memory),
            };
            match pumped {
                Ok(m) => moved |= m,
                Err(e) => self.link_failed = Some(e),
            }
        }
        if !self.held[Side::Server as usize] {
            while let Some(mut m) = self.inbox[Side::Server as usize].pop_front() {
                moved = true;
                if self.live() {
                    let now = self.clock.filetime();
                    self.server_call(|s, tx| s.on_message(&mut m, now, tx));
                }
            }
        }
        while let Some((token, result)) = self.pulls.pop_front() {
            moved = true;
            if self.live() {
                self.server_call(|s, tx| s.on_pulled(token, result, tx));
            }
        }
        if self.live() && self.server.deferred_in_flight() > 0 {
            moved |= self.server_call(|s, tx| s.answer_deferred(false, tx)) > 0;
        }
        if !self.held[Side::Client as usize] {
            while let Some(mut m) = self.inbox[Side::Client as usize].pop_front() {
                moved = true;
                match self.client.receive(&mut m) {
                    Ok(cs) => self.received.extend(cs.into_iter().map(Ok)),
                    Err(e) => self.received.push_back(Err(e)),
                }
            }
        }
        moved
    }

    fn live(&self) -> bool {
        !self.server_closed && self.link_failed.is_none()
    }

    /// Runs `f` on the server with the pair's transport; returns how many messages it sent.
    fn server_call(
        &mut self,
        f: impl FnOnce(&mut ServerConnection<F, A>, &mut ServerTx<'_>) -> Flow,
    ) -> usize {
        let mut tx = ServerTx {
            link: &mut self.link,
            memory: &mut self.memory,
            pool: &self.pool,
            pulls: &mut self.pulls,
            back: &mut self.back,
            answers: Vec::new(),
            failure: None,
        };
        let flow = f(&mut self.server, &mut tx);
        let (answers, failure) = (tx.answers, tx.failure);
        if let Some(e) = failure {
            self.link_failed.get_or_insert(e);
        }
        if flow == Flow::Close {
            // As the engine does when a handler closes: the connection's end.
            self.server_closed = true;
            self.server.close();
        }
        let n = answers.len();
        if n > 0 {
            self.last_answers = answers;
        }
        n
    }

    /// Messages reaching `side` wait in its inbox until [`Pair::release`].
    pub fn hold(&mut self, side: Side) {
        self.held[side as usize] = true;
    }

    /// Lets `side` consume its inbox again (on the next [`Pair::drive`]).
    pub fn release(&mut self, side: Side) {
        self.held[side as usize] = false;
    }

    /// Whole messages delivered to `side` and not consumed (while it is held): what a test may
    /// read, alter, drop or add to.
    pub fn inbox(&mut self, side: Side) -> &mut VecDeque<Vec<u8>> {
        &mut self.inbox[side as usize]
    }

    /// Why the connection is over: the server closed it, or the link broke.
    pub fn closed(&self) -> Option<String> {
        if let Some(e) = &self.link_failed {
            return Some(e.clone());
        }
        self.server_closed.then(|| "the server closed the connection".to_string())
    }

    /// The messages the server sent in its last call that sent any, as they went on the link.
    pub fn last_answers(&self) -> &[Vec<u8>] {
        &self.last_answers
    }

    /// Whether the server's last answers were all sealed (TRANSFORM_HEADER).
    pub fn last_was_transform(&self) -> bool {
        !self.last_answers.is_empty() && self.last_answers.iter().all(|m| m[0] == 0xFD)
    }

    // ---------------------------------------------------------------------------------------
    // The transport, for inspection
    // ---------------------------------------------------------------------------------------

    /// What went over SMB Direct (`None` over TCP).
    pub fn smbd_stats(&self) -> Option<&SmbdStats> {
        match &self.link {
            Link::Smbd(l) => Some(&l.stats),
            Link::Tcp(_) => None,
        }
    }

    /// A side's SMB Direct state machine (`None` over TCP).
    pub fn smbd_connection(&self, side: Side) -> Option<&SmbdConnection> {
        match &self.link {
            Link::Smbd(l) => Some(l.connection(side as usize)),
            Link::Tcp(_) => None,
        }
    }

    /// Bytes sent over Direct TCP by each side, prefixes included (`None` over SMB Direct).
    pub fn tcp_bytes(&self) -> Option<[u64; 2]> {
        match &self.link {
            Link::Tcp(l) => Some(l.bytes),
            Link::Smbd(_) => None,
        }
    }

    // ---------------------------------------------------------------------------------------
    // Exchanges
    // ---------------------------------------------------------------------------------------

    /// Sends `req`, drives, and returns what the client made of the answers (the first error, if
    /// any). The server must not have closed the connection.
    pub fn call(&mut self, req: Vec<u8>) -> Result<Vec<Completion>, ClientError> {
        self.send(req);
        self.drive();
        assert_eq!(self.closed(), None, "the connection is over");
        self.received.drain(..).collect()
    }

    /// Sends `req` and returns its one completion.
    pub fn one(&mut self, req: Vec<u8>) -> Completion {
        let mut c = self.call(req).expect("response accepted");
        assert_eq!(c.len(), 1, "{c:?}");
        c.pop().expect("one")
    }

    /// Sends `req` and returns the answers as they reach the client, without giving them to it.
    pub fn serve(&mut self, req: Vec<u8>) -> Vec<Vec<u8>> {
        let held = self.held[Side::Client as usize];
        self.hold(Side::Client);
        self.send(req);
        self.drive();
        self.held[Side::Client as usize] = held;
        assert_eq!(self.closed(), None, "the connection is over");
        self.inbox[Side::Client as usize].drain(..).collect()
    }

    pub fn negotiate(&mut self) -> Result<Vec<Completion>, ClientError> {
        let req = self.client.negotiate()?;
        self.call(req)
    }

    /// NEGOTIATE, then NTLM SESSION_SETUP legs as `user` until the final answer; `tamper` may alter
    /// the final SESSION_SETUP response before the client sees it.
    pub fn logon_with(
        &mut self,
        user: &str,
        password: &str,
        mut tamper: impl FnMut(&mut Vec<u8>),
    ) -> Result<Completion, ClientError> {
        let n = self.negotiate()?;
        assert!(matches!(n[..], [Completion::Negotiated { .. }]), "{n:?}");
        let init = NtlmInitiator::new(user, password, "", "WS", [7; 24], self.clock.filetime(), true);
        let mut req = self.client.session_setup(init)?;
        for _ in 0..4 {
            let mut out = self.serve(req);
            assert_eq!(out.len(), 1, "one answer per SESSION_SETUP");
            let mut m = out.pop().expect("one");
            if Header::parse(&m).map(|h| h.nt_status()) != Ok(NtStatus::MORE_PROCESSING_REQUIRED) {
                tamper(&mut m);
            }
            match self.client.receive(&mut m)?.pop() {
                Some(Completion::MoreAuth { bytes, .. }) => req = bytes,
                Some(other) => return Ok(other),
                None => panic!("SESSION_SETUP answered with nothing"),
            }
        }
        panic!("logon did not finish");
    }

    /// Logs on as [`USER`] with [`PASSWORD`]; panics unless the client accepts the answers.
    pub fn logon(&mut self) -> Completion {
        self.logon_with(USER, PASSWORD, |_| {}).expect("logon")
    }

    /// TREE_CONNECT to `\\srv\share`: the tree and its ShareFlags.
    pub fn tree(&mut self, share: &str) -> (TreeHandle, u32) {
        let (_, req) = self.client.tree_connect(&format!(r"\\srv\{share}")).expect("a TREE_CONNECT request");
        match self.one(req) {
            Completion::TreeConnected { tree, share_flags, .. } => (tree, share_flags),
            other => panic!("tree connect: {other:?}"),
        }
    }

    /// Opens `name` on `tree` for reading and writing, creating it if need be.
    pub fn open(&mut self, tree: TreeHandle, name: &str) -> FileHandle {
        let rw = access_mask::FILE_READ_DATA | access_mask::FILE_WRITE_DATA;
        let (_, req) =
            self.client.create(tree, name, rw, CreateDisposition::OPEN_IF, 0).expect("a CREATE request");
        match self.one(req) {
            Completion::Created { file, .. } => file,
            other => panic!("create: {other:?}"),
        }
    }
}
