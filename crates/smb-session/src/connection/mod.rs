//! MS-SMB2 3.3.5 server message processing for one connection, sans-I/O: bytes of one transport
//! message in, framed responses out through [`Transmit`], typed [`Event`]s for the audit log.
//!
//! Order of checks for each request (MS-SMB2 3.3.5.2): decrypt (transform) → split compound → header
//! → MessageId against the credit window → session → signature / encryption policy → tree → command.
//! A violation of framing, credits, decryption or negotiation integrity drops this connection only;
//! everything else is answered with the NTSTATUS MS-SMB2 names.

use crate::config::ServerConfig;
use crate::credits::CreditWindow;
use crate::events::Event;
use crate::handler::{AuthFactory, AuthFailure, AuthStep, FileContext, FileHandler, IoBuf, IoBuffer, IoDone};
use crate::session::{Session, SessionSecurity, SessionState, Tree};
use crate::stats::CommandCounters;
use reply::{Reply, HEADROOM};
use smb_crypto::transform::{open_message_to, TRANSFORM_HEADER_LEN};
use smb_crypto::{Cipher, KeySchedule, PreauthHash, Role, SealingKey, SessionCrypto, SigningAlgorithm};
use smb_wire::codec::{Encode, Writer};
use smb_wire::error_response::ErrorResponse;
use smb_wire::fsctl::{
    CtlCode, NetworkInterfaces, ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse,
};
use smb_wire::header::{flags, Command, Header, HeaderId, HEADER_LEN};
use smb_wire::ioctl::IoctlResponse;
use smb_wire::message::{parse_request, Request};
use smb_wire::negotiate::{capabilities, security_mode, Dialect, NegotiateRequest, NegotiateResponse};
use smb_wire::negotiate_context::{
    CipherId, ContextData, EncryptionCapabilities, HashAlgorithm, NegotiateContextList,
    PreauthIntegrityCapabilities, RdmaTransformCapabilities, RdmaTransformSet,
    SigningAlgorithm as WireSigning, SigningCapabilities, U16List,
};
use smb_wire::pdu::EncodeDyn;
use smb_wire::session_setup::{session_flags, SessionSetupResponse};
use smb_wire::smb1::Smb1NegotiateRequest;
use smb_wire::smbd::BufferDescriptorV1;
use smb_wire::status::NtStatus;
use smb_wire::tree_connect::{share_flags, TreeConnectResponse, TreeDisconnect};
use smb_wire::types::{FileId, Guid};
use smb_wire::{echo::Echo, logoff::Logoff, Compound};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

mod dispatch;
mod negotiate;
mod rdma;
mod reply;
mod session_setup;

/// Where framed responses go (the engine's outbox; a `Vec` in tests).
pub trait Transmit {
    /// Sends one transport message (the Direct TCP prefix is the transport's business).
    fn send(&mut self, msg: &[u8]);

    /// Sends one message given in pieces (a transform header and the sealed PDU behind it), so the
    /// pieces need not be joined first.
    fn send_parts(&mut self, parts: &[&[u8]]) {
        self.send(&parts.concat());
    }

    /// Sends `buf[range]` as one message without copying it: a sealed READ response of megabytes
    /// goes out from the buffer it was read and sealed in. The transport may hand `buf` back through
    /// [`Transmit::reclaim`] once it is written. The default copies it through [`Transmit::send`].
    fn send_owned(&mut self, buf: Vec<u8>, range: Range<usize>) {
        if let Some(msg) = buf.get(range) {
            self.send(msg);
        }
    }

    /// A buffer given to [`Transmit::send_owned`] that is out, for reuse (its contents are stale).
    fn reclaim(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// RDMA data movement, on an SMB Direct connection; `None` over TCP.
    fn rdma(&mut self) -> Option<&mut dyn RdmaTransmit> {
        None
    }
}

/// The RDMA data movement of an SMB Direct connection (MS-SMBD 3.1.4.5 / 3.1.4.6) as the session
/// asks for it; everything happens in order with the messages sent through the same [`Transmit`].
pub trait RdmaTransmit {
    /// The negotiated MaxReadWriteSize.
    fn max_read_write(&self) -> u32;
    /// The largest message the peer reassembles (its MaxFragmentedSize): an inline response
    /// must fit it.
    fn max_message(&self) -> usize;
    /// Registered memory of `len` bytes for a transfer, or `None` when none is free now.
    fn lease(&mut self, len: usize) -> Option<iobuf::Lease>;
    /// RDMA-writes `data[..len]` into the client's buffers before the next message is sent.
    fn write(&mut self, data: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]);
    /// RDMA-reads `len` bytes of the client's buffers into `into`; the transport reports the
    /// outcome with `token` ([`ServerConnection::on_pulled`]).
    fn read(&mut self, token: u64, into: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]);
    /// Sends one message (in pieces) and invalidates the client's `token` with it
    /// (SEND_WITH_INVALIDATE).
    fn send_parts_invalidating(&mut self, parts: &[&[u8]], token: u32);
}

impl Transmit for Vec<Vec<u8>> {
    fn send(&mut self, msg: &[u8]) {
        self.push(msg.to_vec());
    }
}

/// Whether the connection lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// What NEGOTIATE settled (MS-SMB2 3.3.1.7 Connection).
struct Negotiated {
    dialect: Dialect,
    cipher: Option<Cipher>,
    signing: SigningAlgorithm,
    preauth: Option<PreauthHash>,
    client_guid: Guid,
    client_security_mode: u16,
    client_capabilities: u32,
    client_dialects: Vec<u16>,
    server_security_mode: u16,
    server_capabilities: u32,
    /// Connection.RDMATransformIds: the transforms both ends support (3.1.1 only).
    rdma_transforms: RdmaTransformSet,
}

impl Negotiated {
    fn is_3x(&self) -> bool {
        self.dialect.0 >= Dialect::SMB_3_0.0
    }

    /// MS-SMB2 3.3.5.5.3: whether sessions on this connection can encrypt at all.
    fn can_encrypt(&self) -> bool {
        match self.dialect {
            Dialect::SMB_3_1_1 => self.cipher.is_some(),
            Dialect::SMB_3_0 | Dialect::SMB_3_0_2 => self.client_capabilities & capabilities::ENCRYPTION != 0,
            _ => false,
        }
    }
}

/// Why a request got no normal answer.
enum Fail {
    /// Answer with an ERROR response carrying this status.
    Status(NtStatus),
    /// Drop the connection.
    Drop(Event),
    /// No answer yet: the handler took the request over ([`FileHandler::begin_write`],
    /// [`FileHandler::begin_read`]).
    Deferred,
}

impl From<NtStatus> for Fail {
    fn from(s: NtStatus) -> Self {
        Fail::Status(s)
    }
}

/// One response PDU ready to be placed in the reply.
struct PduReply {
    bytes: Reply,
    /// Sign with this session's key.
    sign_with: Option<u64>,
    /// Over SMB Direct: data to RDMA-write before it, and the token it invalidates.
    rdma: Option<rdma::RdmaReply>,
}

/// The server side of one SMB2 connection.
pub struct ServerConnection<F: FileHandler, A: AuthFactory> {
    cfg: Arc<ServerConfig>,
    files: F,
    auth: A,
    negotiated: Option<Negotiated>,
    credits: CreditWindow,
    sessions: HashMap<u64, Session>,
    next_session_id: u64,
    next_tree_id: u32,
    salt: [u8; 32],
    events: Vec<Event>,
    /// Where decrypted messages go: positioned so that a WRITE's data (at offset 0x70 of its PDU, as
    /// every client lays it out) starts on a page boundary and can go to the file with O_DIRECT.
    plain: Vec<u8>,
    /// Small response buffers kept for reuse.
    spare: Vec<Vec<u8>>,
    /// READ response buffers kept for reuse (taken back from the transport once sent): an 8 MiB READ
    /// answer would otherwise cost a fresh mapping (page faults and zeroing) on every request.
    read_spare: Vec<Vec<u8>>,
    /// The message being processed lies in `plain` and is one PDU: a WRITE in it may be deferred.
    defer_ok: bool,
    /// The message being processed is one PDU: a READ in it may be deferred.
    single_pdu: bool,
    /// Set when the handler took over this message's WRITE: its MessageId and where its payload lies
    /// within the message.
    deferring: Option<(u64, Range<usize>)>,
    /// WRITEs and READs the handler is finishing, by MessageId, waiting for their answers.
    deferred: HashMap<u64, Deferred>,
    /// Buffer bytes of `deferred`.
    deferred_bytes: usize,
    /// Message buffers given back by finished deferred WRITEs, for the next `plain`.
    plain_spare: Vec<Vec<u8>>,
    /// The connection's MaxReadWriteSize when it is SMB Direct (`None`: TCP, no RDMA channels).
    rdma_max: Option<u32>,
    /// What the response being built carries over SMB Direct (set by the READ/WRITE handlers).
    reply_rdma: Option<rdma::RdmaReply>,
    /// WRITEs whose payload is being RDMA-read, by MessageId.
    pulling: HashMap<u64, rdma::Pulling>,
    /// Requests and responses by command and status, for the operator's view (see [`crate::stats`]).
    counters: Option<Arc<CommandCounters>>,
    /// What the connection's buffers (kept for reuse, the message buffer, deferred payloads) hold
    /// of the server's memory budget ([`ServerConfig::memory_budget`]).
    held: iobuf::budget::Held,
}

/// What answering a deferred request needs to remember of it.
struct Deferred {
    header: Header,
    encrypted: bool,
    /// Payload (WRITE) or data area (READ) bytes.
    len: usize,
    /// A READ's MinimumCount; `None` for a WRITE.
    read_minimum: Option<u32>,
    /// The client's buffers, when the data moves by RDMA.
    rdma: Option<rdma::RdmaReq>,
}

/// Deferred requests per connection at most, and their buffer bytes at most; beyond either,
/// requests are done before they are answered, which holds the client back.
const MAX_DEFERRED: usize = 16;
const MAX_DEFERRED_BYTES: usize = 32 * 1024 * 1024;
/// Message buffers kept for reuse: enough for the WRITEs a client typically keeps in flight.
const SPARE_PLAIN_BUFFERS: usize = 8;

/// Bytes of buffers one spare pool keeps at most: a client reading 8 MiB at a time leaves a few of
/// them, not a pool's worth, allocated per connection.
const SPARE_BYTES: usize = 24 * 1024 * 1024;

/// Why sealing a response failed, for the connection's violation report.
fn seal_failure(e: smb_crypto::CryptoError) -> &'static str {
    match e {
        smb_crypto::CryptoError::NonceExhausted => "nonce space exhausted",
        _ => "sealing failed",
    }
}

/// Takes lent READ data into `reply` ([`Reply::take_in_lent`]). When none of it is left (the file
/// shrank below the READ's offset while it was answered), the reply becomes the END_OF_FILE error a
/// READ at the end of file gets, with the same header.
fn take_in_lent(reply: &mut Reply) {
    if reply.take_in_lent() == Some(0) {
        let mut p = reply.pdu()[..HEADER_LEN].to_vec();
        let status = dispatch::error_body(NtStatus::END_OF_FILE, &mut p);
        p[8..12].copy_from_slice(&status.0.to_le_bytes());
        *reply = Reply::from_vec(p);
    }
}

/// Keeps `buf` in `pool` for reuse if the pool has room for it (in count and in bytes).
fn keep(pool: &mut Vec<Vec<u8>>, buf: Vec<u8>, max_count: usize) {
    let held: usize = pool.iter().map(Vec::capacity).sum();
    if pool.len() < max_count && held + buf.capacity() <= SPARE_BYTES {
        pool.push(buf);
    }
}

/// A message buffer at most this large is kept under a pressed memory budget (the small messages
/// most connections exchange need no new allocation).
const PLAIN_KEPT: usize = 64 * 1024;

/// Small response buffers kept per connection.
const SPARE_BUFFERS: usize = 4;
/// READ response buffers kept per connection (the transport keeps a few more while they are sent),
/// enough for the READs a client typically keeps in flight.
const SPARE_READ_BUFFERS: usize = 8;
/// Responses at least this long are handed to the transport as they lie rather than copied.
const SEND_OWNED_MIN: usize = 64 * 1024;

/// Page size for the placement of decrypted WRITE data.
const PAGE: usize = 4096;
/// Where WRITE data starts inside its PDU (MS-SMB2 2.2.21: DataOffset 0x70).
const WRITE_DATA_OFFSET: usize = 0x70;

/// Plain WRITE messages at least this long are moved to an aligned buffer first.
const ALIGN_PLAIN_WRITE_MIN: usize = 64 * 1024;

/// A single WRITE in the clear with a payload worth writing O_DIRECT (a compound or a small write
/// stays where it is).
fn is_large_write(msg: &[u8]) -> bool {
    msg.len() >= ALIGN_PLAIN_WRITE_MIN
        && Header::parse(msg).is_ok_and(|h| h.command == Command::WRITE && h.next_command == 0)
}

/// Bounds what one message may make the server do.
const MAX_CLIENT_DIALECTS: usize = 64;

impl<F: FileHandler, A: AuthFactory> ServerConnection<F, A> {
    /// `seed`: 32 random bytes (preauth salt, session id base): sans-I/O, so randomness comes in.
    pub fn new(cfg: Arc<ServerConfig>, files: F, auth: A, seed: [u8; 32]) -> Self {
        let base = u64::from_le_bytes(seed[..8].try_into().unwrap_or_default());
        let credits = CreditWindow::new(cfg.max_credits);
        let held = iobuf::budget::Held::new(cfg.memory_budget.clone());
        Self {
            cfg,
            files,
            auth,
            negotiated: None,
            credits,
            sessions: HashMap::new(),
            // Never 0 (the "no session" id) nor all-ones (the related-operation placeholder).
            next_session_id: (base & 0x00FF_FFFF_FFFF_0000) | 1,
            next_tree_id: 1,
            salt: seed,
            events: Vec::new(),
            plain: Vec::new(),
            spare: Vec::new(),
            read_spare: Vec::new(),
            defer_ok: false,
            single_pdu: false,
            deferring: None,
            deferred: HashMap::new(),
            deferred_bytes: 0,
            plain_spare: Vec::new(),
            rdma_max: None,
            reply_rdma: None,
            pulling: HashMap::new(),
            counters: None,
            held,
        }
    }

    /// Counts this connection's requests and responses into `counters` (this connection is then
    /// their only writer).
    pub fn with_counters(mut self, counters: Arc<CommandCounters>) -> Self {
        self.counters = Some(counters);
        self
    }

    /// The cipher NEGOTIATE settled (3.1.1 ENCRYPTION_CAPABILITIES, or AES-128-CCM for 3.0 / 3.0.2
    /// clients that can encrypt), if any.
    pub fn cipher(&self) -> Option<Cipher> {
        self.negotiated.as_ref().and_then(|n| n.cipher)
    }

    /// The signing algorithm NEGOTIATE settled.
    pub fn signing_algorithm(&self) -> Option<SigningAlgorithm> {
        self.negotiated.as_ref().map(|n| n.signing)
    }

    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The user a session authenticated as.
    pub fn session_user(&self, session_id: u64) -> Option<&str> {
        self.sessions.get(&session_id)?.valid().map(|s| s.user.as_str())
    }

    /// The dialect NEGOTIATE settled, if it has run.
    pub fn dialect(&self) -> Option<Dialect> {
        self.negotiated.as_ref().map(|n| n.dialect)
    }

    pub fn files_mut(&mut self) -> &mut F {
        &mut self.files
    }

    /// The connection is gone: every session's files are closed (the handler finishes the WRITEs it
    /// took over first; nobody hears their answers).
    pub fn close(&mut self) {
        for id in self.sessions.keys().copied().collect::<Vec<_>>() {
            self.files.logoff(id);
        }
        self.sessions.clear();
        self.deferred.clear();
        self.pulling.clear();
        self.deferred_bytes = 0;
    }

    /// Requests the handler is still finishing.
    pub fn deferred_in_flight(&self) -> usize {
        self.deferred.len()
    }

    /// Answers the deferred requests that have finished; with `wait`, every one outstanding
    /// (blocking until the handler is done with them). The server calls this when the handler
    /// reports progress (its connection was woken) and before it stops.
    pub fn answer_deferred(&mut self, wait: bool, tx: &mut dyn Transmit) -> Flow {
        self.take_back(tx);
        self.take_rdma(tx);
        while !self.deferred.is_empty() {
            let Some(done) = self.files.io_done(wait) else { break };
            if let Err(detail) = self.answer_one(done, tx) {
                return self.violation(detail);
            }
        }
        self.account_memory();
        Flow::Continue
    }

    /// Charges the connection's buffers to the memory budget; while the budget is pressed, first
    /// gives back what is only kept for reuse (the spare pools, a message buffer grown by a large
    /// message). Run after every message and wake, when no message is being processed.
    fn account_memory(&mut self) {
        if self.held.budget().is_none() {
            return;
        }
        if self.held.pressed() {
            self.spare = Vec::new();
            self.read_spare = Vec::new();
            self.plain_spare = Vec::new();
            if self.plain.capacity() > PLAIN_KEPT {
                self.plain = Vec::new();
            }
        }
        let pools: usize = [&self.spare, &self.read_spare, &self.plain_spare]
            .iter()
            .flat_map(|p| p.iter())
            .map(Vec::capacity)
            .sum();
        self.held.set(pools + self.plain.capacity() + self.deferred_bytes);
    }

    /// READ response buffers the transport has sent, back for reuse.
    fn take_back(&mut self, tx: &mut dyn Transmit) {
        while self.read_spare.len() < SPARE_READ_BUFFERS {
            let Some(b) = tx.reclaim() else { break };
            keep(&mut self.read_spare, b, SPARE_READ_BUFFERS);
        }
    }

    /// MS-SMB2 3.3.5.13 / 3.3.5.12 for a request the handler finished: the response it would have
    /// had at once.
    fn answer_one(&mut self, done: IoDone, tx: &mut dyn Transmit) -> Result<(), &'static str> {
        let Some(d) = self.deferred.remove(&done.message_id) else {
            return Ok(());
        };
        self.deferred_bytes -= d.len;
        let session_id = d.header.session_id;
        // A session logged off meanwhile has no keys left to answer with (nor anyone to hear it).
        if self.sessions.get(&session_id).and_then(|s| s.valid()).is_none() {
            return Ok(());
        }
        let (status, reply, rdma) = match (d.read_minimum, done.buf, d.rdma) {
            (None, buf, rdma) => {
                if let IoBuf::Heap(v) = buf {
                    keep(&mut self.plain_spare, v, SPARE_PLAIN_BUFFERS);
                }
                let result = match (done.crypto, &rdma) {
                    // The handler's check of the RDMA transform failed: nothing was written.
                    (Some(Err(_)), Some(req)) => Err(self.placed_rejected(req)),
                    _ => done.result,
                };
                return self.answer_write_deferred(&d.header, d.encrypted, result, rdma, tx);
            }
            (Some(minimum), IoBuf::Lease(lease), Some(req)) => {
                let (status, reply, rdma) =
                    self.rdma_read_reply(done.result, minimum, lease, req, done.crypto);
                match status {
                    Ok(s) => (s, reply, Some(rdma)),
                    Err(s) => {
                        let mut p = self.new_pdu();
                        (dispatch::error_body(s, &mut p), Reply::from_vec(p), Some(rdma))
                    }
                }
            }
            (Some(minimum), buf, _) => {
                // The same layout as when the area was handed out: same buffer, same length.
                let v = match buf {
                    IoBuf::Heap(v) => v,
                    IoBuf::Lease(_) => return Err("a READ answered inline with registered memory"),
                };
                let mut reply = Reply::for_read(v, d.len);
                match done.result {
                    Ok(n) if n > 0 && n >= minimum => {
                        reply.finish_read(n as usize);
                        reply.lent = done.lent;
                        (NtStatus::SUCCESS, reply, None)
                    }
                    result => {
                        self.recycle(reply);
                        let mut p = self.new_pdu();
                        let status =
                            dispatch::error_body(result.err().unwrap_or(NtStatus::END_OF_FILE), &mut p);
                        (status, Reply::from_vec(p), None)
                    }
                }
            }
        };
        self.answer(&d.header, d.encrypted, status, reply, rdma, tx)
    }

    /// Answers a WRITE that finished with `result` (its payload inline or RDMA-read).
    fn answer_write_deferred(
        &mut self,
        header: &Header,
        encrypted: bool,
        result: Result<u32, NtStatus>,
        rdma: Option<rdma::RdmaReq>,
        tx: &mut dyn Transmit,
    ) -> Result<(), &'static str> {
        let mut p = self.new_pdu();
        let status = match result {
            Ok(count) => dispatch::write_response(count, &mut p),
            Err(status) => dispatch::error_body(status, &mut p),
        };
        if let (Some(c), Some(_), Ok(count)) = (&self.counters, &rdma, result) {
            c.request_data(Command::WRITE, count.into(), encrypted);
        }
        let rdma = rdma.map(|r| r.on_error());
        self.answer(header, encrypted, status, Reply::from_vec(p), rdma, tx)
    }

    /// Answers a WRITE done at once after its payload was RDMA-read.
    fn answer_write(
        &mut self,
        header: &Header,
        encrypted: bool,
        result: Result<u32, NtStatus>,
        rdma: Option<rdma::RdmaReply>,
        tx: &mut dyn Transmit,
    ) -> Result<(), &'static str> {
        // Data that moved by RDMA is counted as sealed when its request was (the RDMA transform).
        if let (Some(c), Ok(count)) = (&self.counters, result) {
            c.request_data(Command::WRITE, count.into(), encrypted);
        }
        let mut p = self.new_pdu();
        let status = match result {
            Ok(count) => dispatch::write_response(count, &mut p),
            Err(status) => dispatch::error_body(status, &mut p),
        };
        self.answer(header, encrypted, status, Reply::from_vec(p), rdma, tx)
    }

    /// Completes the response to `header` (credits, header, signing or sealing) and sends it.
    fn answer(
        &mut self,
        header: &Header,
        encrypted: bool,
        status: NtStatus,
        mut reply: Reply,
        rdma: Option<rdma::RdmaReply>,
        tx: &mut dyn Transmit,
    ) -> Result<(), &'static str> {
        let session_id = header.session_id;
        let granted = self.credits.grant(header.credits.max(1));
        let tree_id = header.tree_id().unwrap_or(0);
        self.finish_header(reply.pdu_mut(), header, status, granted, session_id, tree_id);
        let (sign, encrypt) =
            self.reply_protection(header, status, session_id, encrypted, &Related::default());
        let reply = PduReply { bytes: reply, sign_with: sign.then_some(session_id), rdma };
        self.send_replies(vec![reply], encrypt.then_some(session_id), tx)
    }

    /// Hands the payload of the WRITE the handler just took over to it, in the buffer it lies in.
    fn submit_deferred(&mut self, plain: &mut Vec<u8>, msg_start: usize) {
        let Some((message_id, r)) = self.deferring.take() else { return };
        let buf = std::mem::replace(plain, self.plain_spare.pop().unwrap_or_default());
        let range = msg_start + r.start..msg_start + r.end;
        self.files.submit_write(message_id, IoBuffer::plain(IoBuf::Heap(buf), range));
    }

    /// Processes one transport message. `now` is the current time as a FILETIME. Deferred WRITEs
    /// that have finished meanwhile are answered too.
    pub fn on_message(&mut self, msg: &mut [u8], now: u64, tx: &mut dyn Transmit) -> Flow {
        self.take_back(tx);
        self.take_rdma(tx);
        let flow = match msg.get(..4) {
            Some([0xFE, b'S', b'M', b'B']) if is_large_write(msg) => self.on_plain_write(msg, now, tx),
            Some([0xFE, b'S', b'M', b'B']) => self.on_chain(msg, None, false, now, tx),
            Some([0xFD, b'S', b'M', b'B']) => self.on_encrypted(msg, now, tx),
            Some([0xFF, b'S', b'M', b'B']) => self.on_smb1(msg, now, tx),
            _ => self.violation("not an SMB2 message (or compression, which was not negotiated)"),
        };
        match flow {
            Flow::Continue => self.answer_deferred(false, tx),
            Flow::Close => Flow::Close,
        }
    }

    fn violation(&mut self, detail: &'static str) -> Flow {
        self.events.push(Event::ProtocolViolation { detail });
        Flow::Close
    }

    /// MS-SMB2 3.3.5.3: an SMB1 NEGOTIATE that offers SMB2 gets the SMB2 answer; SMB1 is never served.
    fn on_smb1(&mut self, msg: &[u8], now: u64, tx: &mut dyn Transmit) -> Flow {
        if self.negotiated.is_some() {
            return self.violation("SMB1 negotiate on a negotiated connection");
        }
        let Ok(req) = Smb1NegotiateRequest::parse(msg) else {
            return self.violation("malformed SMB1 negotiate");
        };
        let dialect = if req.dialects.contains(b"SMB 2.???") && self.serves_above_202() {
            Dialect::WILDCARD
        } else if req.dialects.contains(b"SMB 2.002") && self.cfg.dialects.contains(&Dialect::SMB_2_0_2) {
            Dialect::SMB_2_0_2
        } else {
            return self.violation("SMB1-only client");
        };
        let header = Header::request(Command::NEGOTIATE, 0, 0, 0);
        let mut pdu = vec![0u8; HEADER_LEN];
        self.negotiate_response_body(dialect, None, None, None, &mut pdu, now);
        self.finish_header(&mut pdu, &header, NtStatus::SUCCESS, 1, 0, 0);
        if dialect == Dialect::SMB_2_0_2 {
            self.negotiated = Some(self.negotiated_for(dialect, &header, None, None, None, &[0x0202]));
        }
        tx.send(&pdu);
        Flow::Continue
    }

    fn serves_above_202(&self) -> bool {
        self.cfg.dialects.iter().any(|d| d.0 > Dialect::SMB_2_0_2.0)
    }

    /// MS-SMB2 3.3.5.2.1.1: decrypt, then process the plaintext chain as arriving encrypted.
    fn on_encrypted(&mut self, msg: &mut [u8], now: u64, tx: &mut dyn Transmit) -> Flow {
        if msg.len() < TRANSFORM_HEADER_LEN + HEADER_LEN {
            return self.violation("transform message too short");
        }
        let (hdr, body) = msg.split_at(TRANSFORM_HEADER_LEN);
        let mut header = [0u8; TRANSFORM_HEADER_LEN];
        header.copy_from_slice(hdr);
        let session_id = smb_crypto::transform::session_id(&header);
        let Some(key) = self.sessions.get(&session_id).and_then(|s| s.valid()).and_then(|s| s.opening())
        else {
            return self.violation("encrypted message for an unknown session or one without keys");
        };
        // Decrypt out of place into the aligned buffer (the AEAD writes the plaintext there anyway,
        // so the placement costs no extra copy).
        let mut plain = std::mem::take(&mut self.plain);
        let need = body.len() + 2 * PAGE;
        if plain.len() < need {
            plain.resize(need, 0);
        }
        let start = plain.as_ptr().align_offset(PAGE) + PAGE - WRITE_DATA_OFFSET;
        let opened = open_message_to(key, &header, body, &mut plain[start..start + body.len()]).is_ok();
        let flow = if opened {
            self.on_chain(&mut plain[start..start + body.len()], Some(session_id), true, now, tx)
        } else {
            self.violation("transform header failed to decrypt")
        };
        self.submit_deferred(&mut plain, start);
        self.plain = plain;
        flow
    }

    /// A large WRITE in the clear lies wherever the transport's frame put it. It is moved to the
    /// placement decrypted WRITEs get (payload on a page boundary), so the file layer can write it
    /// O_DIRECT like a sealed one: every large WRITE then reaches the disk before it is answered,
    /// instead of plain ones being answered from the page cache (fast in bursts, then throttled to a
    /// fraction of direct I/O once dirty pages pile up). Costs one memcpy of the message.
    fn on_plain_write(&mut self, msg: &[u8], now: u64, tx: &mut dyn Transmit) -> Flow {
        let mut plain = std::mem::take(&mut self.plain);
        let need = msg.len() + 2 * PAGE;
        if plain.len() < need {
            plain.resize(need, 0);
        }
        let start = plain.as_ptr().align_offset(PAGE) + PAGE - WRITE_DATA_OFFSET;
        plain[start..start + msg.len()].copy_from_slice(msg);
        let flow = self.on_chain(&mut plain[start..start + msg.len()], None, true, now, tx);
        self.submit_deferred(&mut plain, start);
        self.plain = plain;
        flow
    }

    /// Processes a (possibly compounded) SMB2 message. `in_plain`: the message lies in `self.plain`
    /// (taken out meanwhile), where a WRITE's payload is block-aligned and the buffer can be handed
    /// over with it.
    fn on_chain(
        &mut self,
        msg: &mut [u8],
        encrypted_for: Option<u64>,
        in_plain: bool,
        now: u64,
        tx: &mut dyn Transmit,
    ) -> Flow {
        let mut ranges = Vec::new();
        let mut it = Compound::new(msg);
        for pdu in it.by_ref() {
            match pdu {
                Ok(p) => ranges.push(p.len()),
                Err(_) => return self.violation("malformed compound chain"),
            }
        }
        let mut replies: Vec<PduReply> = Vec::with_capacity(ranges.len());
        let mut related = Related::default();
        self.defer_ok = in_plain && ranges.len() == 1;
        self.single_pdu = ranges.len() == 1;
        let mut start = 0;
        let mut encrypt_reply = encrypted_for;
        for len in ranges {
            let pdu = &mut msg[start..start + len];
            start += len;
            match self.on_pdu(pdu, encrypted_for, &mut related, now, tx) {
                Ok(Some((reply, encrypt))) => {
                    if encrypt.is_some() && encrypt_reply.is_none() {
                        encrypt_reply = encrypt;
                    }
                    replies.push(reply);
                }
                Ok(None) => {}
                Err(event) => {
                    self.events.push(event);
                    return Flow::Close;
                }
            }
        }
        self.defer_ok = false;
        self.single_pdu = false;
        let sent = if replies.is_empty() { Ok(()) } else { self.send_replies(replies, encrypt_reply, tx) };
        // A logged-off session lives until its signed or sealed response is out.
        if let Some(id) = related.logoff {
            self.sessions.remove(&id);
            self.events.push(Event::LoggedOff { session_id: id });
        }
        match sent {
            Ok(()) => Flow::Continue,
            Err(detail) => self.violation(detail),
        }
    }

    /// Lays the response PDUs out as one compound (8-byte aligned, NextCommand patched), signs each
    /// that needs it, and seals the whole when it must be encrypted.
    fn send_replies(
        &mut self,
        mut replies: Vec<PduReply>,
        encrypt: Option<u64>,
        tx: &mut dyn Transmit,
    ) -> Result<(), &'static str> {
        if let Some(c) = &self.counters {
            for r in &replies {
                let pdu = r.bytes.pdu();
                let rdma_data = r.rdma.as_ref().and_then(|a| a.data.as_ref()).map_or(0, |d| d.1);
                if let (Some(cmd), Some(st)) = (pdu.get(12..14), pdu.get(8..12)) {
                    let cmd = u16::from_le_bytes([cmd[0], cmd[1]]);
                    let st = u32::from_le_bytes([st[0], st[1], st[2], st[3]]);
                    c.response(cmd, st, pdu.len() + rdma_data, encrypt.is_some());
                }
            }
        }
        // Lent READ data is sealed from where it lies only by `transmit_reply`; anything else takes
        // it into the reply first.
        if replies.len() > 1 || encrypt.is_none() {
            replies.iter_mut().for_each(|r| take_in_lent(&mut r.bytes));
        }
        if replies.len() == 1 {
            // The common case: one PDU, signed or sealed where it lies (no joining copy).
            let mut r = replies.pop().ok_or("no reply")?;
            if encrypt.is_none() {
                self.sign(r.sign_with, r.bytes.pdu_mut())?;
            }
            if let Some(rdma) = r.rdma.take() {
                return self.transmit_rdma(r.bytes, encrypt, rdma, tx);
            }
            return self.transmit_reply(r.bytes, encrypt, tx);
        }
        let n = replies.len();
        // An RDMA request is refused inside a compound; its client's token is still invalidated,
        // with the compound's one send (MS-SMBD 3.1.5.4 allows one token per message).
        let invalidate = replies.iter().find_map(|r| r.rdma.as_ref().and_then(|a| a.invalidate));
        let mut out = Vec::new();
        for (i, r) in replies.iter().enumerate() {
            let at = out.len();
            out.extend_from_slice(r.bytes.pdu());
            if i + 1 < n {
                out.resize(at + smb_wire::codec::align_up(r.bytes.len(), 8), 0);
                let next = (out.len() - at) as u32;
                out[at + 20..at + 24].copy_from_slice(&next.to_le_bytes());
            }
            // Each PDU is signed over its own bytes including its padding (MS-SMB2 3.3.4.1.1).
            if encrypt.is_none() {
                self.sign(r.sign_with, &mut out[at..])?;
            }
        }
        replies.into_iter().for_each(|r| self.recycle(r.bytes));
        match invalidate {
            Some(token) => {
                let reply = Reply::from_vec(out);
                self.transmit_rdma(
                    reply,
                    encrypt,
                    rdma::RdmaReply { data: None, invalidate: Some(token) },
                    tx,
                )
            }
            None => self.transmit(&mut out, encrypt, tx),
        }
    }

    /// Sends one reply: a large one with room in front (a READ response) is sealed where it lies and
    /// handed to the transport whole; anything else goes through [`Self::transmit`] and its buffer is
    /// kept for reuse.
    fn transmit_reply(
        &mut self,
        mut reply: Reply,
        encrypt: Option<u64>,
        tx: &mut dyn Transmit,
    ) -> Result<(), &'static str> {
        if reply.len() < SEND_OWNED_MIN || reply.headroom() < HEADROOM {
            take_in_lent(&mut reply);
            let sent = self.transmit(reply.pdu_mut(), encrypt, tx);
            self.recycle(reply);
            return sent;
        }
        let Some(id) = encrypt else {
            take_in_lent(&mut reply);
            let (buf, range) = reply.into_parts(0);
            tx.send_owned(buf, range);
            return Ok(());
        };
        let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
        if let Some(lent) = reply.lent.take() {
            // One pass: the data is encrypted from where the handler lent it (the page cache) into
            // the response, where a copy into it and a seal in place were two.
            let key = self.sealing_key(id)?;
            let (front, msg, head) = reply.seal_layout();
            // The head is sealed in place: kept, for the ordinary seal if the lent bytes fail.
            let mut plain_head = [0u8; reply::READ_DATA_OFFSET];
            plain_head.copy_from_slice(&msg[..head]);
            let mut sealed = Ok(());
            let read = lent.with_bytes(&mut |data| {
                sealed = key.seal_message_from(id, &mut hdr, msg, head, data);
            });
            if read {
                sealed.map_err(seal_failure)?;
                let at = front.len() - TRANSFORM_HEADER_LEN;
                front[at..].copy_from_slice(&hdr);
                let (buf, range) = reply.into_parts(TRANSFORM_HEADER_LEN);
                tx.send_owned(buf, range);
                return Ok(());
            }
            // The file shrank beneath the mapping while it was sealed: that seal is thrown away (its
            // nonce is spent, never reused) and the data read the ordinary way, as much as is left.
            msg[..head].copy_from_slice(&plain_head);
            reply.lent = Some(lent);
            take_in_lent(&mut reply);
            if reply.len() < SEND_OWNED_MIN || reply.headroom() < HEADROOM {
                // Cut short (or to an error): sent like any small reply.
                let sent = self.transmit(reply.pdu_mut(), encrypt, tx);
                self.recycle(reply);
                return sent;
            }
        }
        let (front, pdu) = reply.split_front();
        self.sealing_key(id)?.seal_message(id, &mut hdr, pdu).map_err(seal_failure)?;
        let at = front.len() - TRANSFORM_HEADER_LEN;
        front[at..].copy_from_slice(&hdr);
        let (buf, range) = reply.into_parts(TRANSFORM_HEADER_LEN);
        tx.send_owned(buf, range);
        Ok(())
    }

    /// Sends a response over SMB Direct: RDMA-writes its data first, then the message (sealed when
    /// it must be), invalidating the client's token with it.
    fn transmit_rdma(
        &mut self,
        mut reply: Reply,
        encrypt: Option<u64>,
        rdma: rdma::RdmaReply,
        tx: &mut dyn Transmit,
    ) -> Result<(), &'static str> {
        let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
        if let Some(id) = encrypt {
            self.sealing_key(id)?.seal_message(id, &mut hdr, reply.pdu_mut()).map_err(seal_failure)?;
        }
        let Some(t) = tx.rdma() else { return Err("an RDMA response on a connection without RDMA") };
        if let Some((lease, len, descs)) = rdma.data {
            t.write(lease, len, &descs);
        }
        let parts: &[&[u8]] = if encrypt.is_some() { &[&hdr, reply.pdu()] } else { &[reply.pdu()] };
        match rdma.invalidate {
            Some(token) => t.send_parts_invalidating(parts, token),
            None => tx.send_parts(parts),
        }
        self.recycle(reply);
        Ok(())
    }

    /// The session's server-to-client sealing key with its nonces.
    /// Whether a deferred READ of `len` bytes would be answered sealed, by a library that seals
    /// data lying elsewhere in the same pass (aws-lc-rs's scatter seal; the others copy it first, so
    /// lending would gain nothing): then the handler may lend the data instead of reading it.
    pub(super) fn seals_from_lent(&self, header: &Header, encrypted: bool, len: usize) -> bool {
        if len < SEND_OWNED_MIN {
            return false;
        }
        let session_id = header.session_id;
        let (_, encrypt) =
            self.reply_protection(header, NtStatus::SUCCESS, session_id, encrypted, &Related::default());
        encrypt
            && self
                .sessions
                .get(&session_id)
                .and_then(|s| s.valid())
                .is_some_and(|v| v.sealing_backend() == Some(smb_crypto::Backend::AwsLc))
    }

    fn sealing_key(&mut self, id: u64) -> Result<&mut SealingKey, &'static str> {
        let sec = self.sessions.get_mut(&id).and_then(|s| match &mut s.state {
            SessionState::Valid(v) => Some(v),
            SessionState::InProgress { .. } => None,
        });
        sec.and_then(|s| s.sealing()).ok_or("encryption required but the session has no key")
    }

    /// Signs `pdu` with the session's key when `session` is given (and the session has one).
    fn sign(&self, session: Option<u64>, pdu: &mut [u8]) -> Result<(), &'static str> {
        let key =
            session.and_then(|id| self.sessions.get(&id)).and_then(|s| s.valid()).and_then(|s| s.signing());
        match key {
            Some(k) => k.sign_in_place(pdu).map_err(|_| "signing failed"),
            None => Ok(()),
        }
    }

    /// Sends `msg` as it is, or sealed under the session's server-to-client key behind a transform
    /// header built apart (so the message is encrypted where it lies).
    fn transmit(
        &mut self,
        msg: &mut [u8],
        encrypt: Option<u64>,
        tx: &mut dyn Transmit,
    ) -> Result<(), &'static str> {
        let Some(id) = encrypt else {
            tx.send(msg);
            return Ok(());
        };
        let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
        self.sealing_key(id)?.seal_message(id, &mut hdr, msg).map_err(seal_failure)?;
        tx.send_parts(&[&hdr, msg]);
        Ok(())
    }

    /// A response buffer holding 64 zero bytes (the header's place), reused when one is spare.
    fn new_pdu(&mut self) -> Vec<u8> {
        let mut p = self.spare.pop().unwrap_or_default();
        p.clear();
        p.resize(HEADER_LEN, 0);
        p
    }

    /// A buffer for a READ response, reused when one is spare.
    fn new_read_buf(&mut self) -> Vec<u8> {
        self.read_spare.pop().unwrap_or_default()
    }

    fn recycle(&mut self, reply: Reply) {
        let read = reply.headroom() > 0;
        let buf = reply.into_buf();
        let (pool, cap) =
            if read { (&mut self.read_spare, SPARE_READ_BUFFERS) } else { (&mut self.spare, SPARE_BUFFERS) };
        keep(pool, buf, cap);
    }

    /// One request PDU. Ok(None): no response (CANCEL). Err: drop the connection.
    fn on_pdu(
        &mut self,
        pdu: &mut [u8],
        encrypted_for: Option<u64>,
        related: &mut Related,
        now: u64,
        tx: &mut dyn Transmit,
    ) -> Result<Option<(PduReply, Option<u64>)>, Event> {
        let bad = |detail| Event::ProtocolViolation { detail };
        let Ok(mut header) = Header::parse(pdu) else { return Err(bad("malformed SMB2 header")) };
        if header.is_response() {
            return Err(bad("response sent to the server"));
        }
        if let Some(c) = &self.counters {
            c.request(header.command, pdu.len(), encrypted_for.is_some());
        }
        if header.is_related() {
            if let Some(prev) = related.previous {
                header.session_id = prev.session_id;
                if let HeaderId::Sync { tree_id, .. } = &mut header.id {
                    *tree_id = prev.tree_id;
                }
            }
        }
        // CANCEL uses no credit and gets no answer: everything here completes synchronously, so by
        // the time a CANCEL is read its target has already been answered, except a deferred WRITE,
        // which is past cancelling (its data is on its way to the device) and is answered soon.
        if header.command == Command::CANCEL {
            return Ok(None);
        }
        if let Err(e) = self.credits.consume(header.message_id, header.credit_charge) {
            let _ = e;
            return Err(bad("MessageId outside the credit window or reused"));
        }
        if header.command == Command::NEGOTIATE {
            let reply = self.on_negotiate(pdu, &header, now)?;
            return Ok(Some((reply, None)));
        }
        if self.negotiated.is_none() {
            return Err(bad("request before NEGOTIATE"));
        }
        if let Some(id) = encrypted_for {
            if header.session_id != id {
                return Err(bad("encrypted PDU names another session than its transform header"));
            }
        }
        // A related request after a failed one fails the same way (MS-SMB2 3.3.5.2.7.2).
        let result = match (header.is_related(), related.failed) {
            (true, Some(status)) => Err(Fail::Status(status)),
            _ => self.on_request(pdu, &header, encrypted_for.is_some(), related, tx),
        };
        let (status, mut body_pdu) = match result {
            Ok((status, body)) => (status, body),
            Err(Fail::Drop(e)) => return Err(e),
            // Recorded in `deferred` by the command; answered by `answer_deferred`.
            Err(Fail::Deferred) => return Ok(None),
            Err(Fail::Status(status)) => {
                let mut p = vec![0u8; HEADER_LEN];
                (dispatch::error_body(status, &mut p), Reply::from_vec(p))
            }
        };
        related.failed = if status.is_error() { Some(status) } else { None };
        // A successful TREE_CONNECT placed its new TreeId in the (not yet written) header area.
        let tree_id = if header.command == Command::TREE_CONNECT && status == NtStatus::SUCCESS {
            u32::from_le_bytes(body_pdu.pdu()[36..40].try_into().unwrap_or_default())
        } else {
            header.tree_id().unwrap_or(0)
        };
        related.previous = Some(Prev { session_id: header.session_id, tree_id });
        if header.command == Command::CREATE && !status.is_error() && body_pdu.len() >= HEADER_LEN + 80 {
            related.file_id = Some(FileId {
                persistent: u64::from_le_bytes(
                    body_pdu.pdu()[HEADER_LEN + 64..HEADER_LEN + 72].try_into().unwrap_or_default(),
                ),
                volatile: u64::from_le_bytes(
                    body_pdu.pdu()[HEADER_LEN + 72..HEADER_LEN + 80].try_into().unwrap_or_default(),
                ),
            });
        }
        let granted = self.credits.grant(header.credits.max(1));
        let session_id = if header.command == Command::SESSION_SETUP {
            related.setup_session.unwrap_or(header.session_id)
        } else {
            header.session_id
        };
        self.finish_header(body_pdu.pdu_mut(), &header, status, granted, session_id, tree_id);

        // MS-SMB2 3.3.5.5.3: the session hash takes every SESSION_SETUP response that asks for more.
        if header.command == Command::SESSION_SETUP && status == NtStatus::MORE_PROCESSING_REQUIRED {
            if let Some(Session { state: SessionState::InProgress { preauth: Some(h), .. }, .. }) =
                self.sessions.get_mut(&session_id)
            {
                h.update(body_pdu.pdu());
            }
        }
        let (sign, encrypt) =
            self.reply_protection(&header, status, session_id, encrypted_for.is_some(), related);
        if header.command == Command::LOGOFF && status == NtStatus::SUCCESS {
            related.logoff = Some(session_id);
        }
        let rdma = self.reply_rdma.take();
        Ok(Some((
            PduReply { bytes: body_pdu, sign_with: sign.then_some(session_id), rdma },
            encrypt.then_some(session_id),
        )))
    }

    /// MS-SMB2 3.3.4.1.1 (signing) and 3.3.4.1.4 (encryption) for one response.
    fn reply_protection(
        &self,
        header: &Header,
        status: NtStatus,
        session_id: u64,
        req_encrypted: bool,
        related: &Related,
    ) -> (bool, bool) {
        let Some(sec) = self.sessions.get(&session_id).and_then(|s| s.valid()) else { return (false, false) };
        if sec.anonymous {
            return (false, false);
        }
        let tree_encrypt = header
            .tree_id()
            .and_then(|t| self.sessions.get(&session_id)?.trees.get(&t))
            .is_some_and(|t| t.encrypt);
        let setup = header.command == Command::SESSION_SETUP;
        let encrypt = sec.can_encrypt()
            && !setup
            && header.command != Command::NEGOTIATE
            && (req_encrypted
                || sec.encrypt_data
                || (tree_encrypt && header.command != Command::TREE_CONNECT));
        let final_setup = setup && status == NtStatus::SUCCESS && related.setup_session == Some(session_id);
        let sign = !encrypt
            && sec.signing().is_some()
            && (final_setup || header.is_signed() || sec.signing_required)
            && status != NtStatus::PENDING;
        (sign, encrypt)
    }

    /// Writes the response header into `pdu[..64]`.
    fn finish_header(
        &self,
        pdu: &mut [u8],
        req: &Header,
        status: NtStatus,
        credits: u16,
        session_id: u64,
        tree_id: u32,
    ) {
        let pid = match req.id {
            HeaderId::Sync { process_id, .. } => process_id,
            HeaderId::Async { .. } => 0,
        };
        let h = Header {
            credit_charge: req.credit_charge,
            status: status.0,
            command: req.command,
            credits,
            flags: flags::SERVER_TO_REDIR | (req.flags & (flags::RELATED_OPERATIONS | flags::PRIORITY_MASK)),
            next_command: 0,
            message_id: req.message_id,
            id: HeaderId::Sync { process_id: pid, tree_id },
            session_id,
            signature: [0; 16],
        };
        // A 64-byte slice always holds a header.
        let _ = h.encode_into(&mut pdu[..HEADER_LEN]);
    }
}

/// State carried from one PDU of a compound to the next related one.
#[derive(Default)]
struct Related {
    previous: Option<Prev>,
    failed: Option<NtStatus>,
    file_id: Option<FileId>,
    /// The session a SESSION_SETUP in this chain created or completed.
    setup_session: Option<u64>,
    logoff: Option<u64>,
}

#[derive(Clone, Copy)]
struct Prev {
    session_id: u64,
    tree_id: u32,
}

/// Encodes `body` after the 64 header bytes already in `pdu` (offsets in bodies count from the
/// header, so the body is written at its real position rather than into a separate buffer).
pub fn put_body(pdu: &mut Vec<u8>, body: &dyn EncodeDyn) {
    let at = pdu.len();
    pdu.resize(at + body.encoded_len_dyn(at), 0);
    if let Ok(mut w) = Writer::at(pdu, at) {
        // encoded_len_dyn sized the buffer exactly, so encoding cannot run out of room.
        let _ = body.encode_dyn(&mut w);
    }
}
