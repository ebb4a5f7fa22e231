//! The reactor side of a client connection: an [`engine::Connection`] that owns the sans-I/O
//! [`ClientConnection`], logs on by itself, then turns requests queued by application threads into
//! SMB2 messages and routes each completion back to the thread that asked.
//!
//! It runs on a reactor thread, so it never blocks: requests come in through a bounded channel
//! (drained in `on_wake` and after every message), answers go out with `try_send` on the caller's
//! own one-slot channel. A request that does not fit the credit window waits in a bounded local
//! queue and is sent when a response grants more credits, so the server never sees a MessageId
//! outside its window.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use engine::rdma::{Access, RdmaCtx};
use engine::{Connection, Flow, Outbox};
use smb_auth::NtlmInitiator;
use smb_client_proto::{ClientConnection, Completion, FileHandle, RequestId, TreeHandle};
use smb_crypto::{Cipher, SigningAlgorithm};
use smb_wire::create::CreateDisposition;
use smb_wire::info::FileInfoClass;
use smb_wire::negotiate::Dialect;
use smb_wire::negotiate_context::RdmaTransformSet;
use smb_wire::query_info::InfoType;
use smb_wire::status::NtStatus;

use crate::rdma_stats::RdmaCounters;
use crate::write_spares::WriteSpares;

type ProtoError = smb_client_proto::ClientError;

/// Requests taken from the channel but not yet sent, at most; the rest stay in the (bounded) channel.
const MAX_WAITING: usize = 256;
/// Requests are held back while this many bytes wait for the socket.
const OUTBOX_HOLD: usize = 16 << 20;
/// READs and WRITEs at least this long move their data by RDMA over SMB Direct (where allowed);
/// smaller ones ride in the messages, as Windows and Linux do (MS-SMB2 <156>, <159>).
pub(crate) const RDMA_THRESHOLD: usize = 4096;

/// A READ or WRITE whose data moves by RDMA: the buffer the server places into or pulls from, and
/// the window it was granted through.
struct RdmaIo {
    lease: iobuf::Lease,
    rkey: u32,
    len: usize,
}

/// One operation an application thread asks of the connection.
#[derive(Debug)]
pub(crate) enum Op {
    TreeConnect { unc: String },
    Create { tree: TreeHandle, path: String, access: u32, disposition: CreateDisposition, options: u32 },
    Read { file: FileHandle, offset: u64, len: u32 },
    Write { file: FileHandle, offset: u64, payload: Payload },
    Close { file: FileHandle },
    Flush { file: FileHandle },
    QueryDirectory { file: FileHandle, class: FileInfoClass, pattern: String, flags: u8, output_len: u32 },
    QueryInfo { file: FileHandle, info_type: InfoType, class: u8, output_len: u32 },
    SetInfo { file: FileHandle, info_type: InfoType, class: u8, buffer: Vec<u8> },
    Logoff,
}

/// A WRITE's payload as the application handed it over.
#[derive(Debug)]
pub(crate) enum Payload {
    /// Already at `smb_client_proto::WRITE_PAYLOAD_AT` in a message buffer: header and seal go
    /// around it.
    Placed(Vec<u8>),
    /// The application's own bytes: sealed (or copied) from there into a message buffer here.
    Shared(Bytes),
}

/// Why a request got no completion.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The connection closed before the answer came.
    Closed,
    /// The protocol layer refused the request or the connection.
    Protocol(Arc<ProtoError>),
    /// Logon ended with this status.
    Status(NtStatus),
}

pub(crate) type Reply = Result<Completion, Failure>;

/// A queued operation and where its answer goes.
#[derive(Debug)]
pub(crate) struct Request {
    pub op: Op,
    pub reply: Sender<Reply>,
}

/// What logon settled that the application side needs: the largest READ and WRITE payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_read: u32,
    pub max_write: u32,
    /// The session encrypts every message.
    pub encrypted: bool,
    /// The session signs every message it does not encrypt (Session.SigningRequired).
    pub signing_required: bool,
    /// Over SMB Direct, the largest message the server reassembles (its MaxFragmentedSize):
    /// inline I/O must fit it with its headers. `None` over TCP.
    pub max_message: Option<u32>,
    pub dialect: Option<Dialect>,
    pub cipher: Option<Cipher>,
    pub signing: Option<SigningAlgorithm>,
    /// The RDMA transforms NEGOTIATE settled.
    pub rdma_transforms: RdmaTransformSet,
}

pub(crate) type LogonReply = Result<Limits, Failure>;

/// The first TREE_CONNECT of a 3.0.x session, held back until VALIDATE_NEGOTIATE_INFO confirms
/// the negotiation: nothing is handed to the application over an unconfirmed connection.
struct Validation {
    reply: Sender<Reply>,
    connected: Completion,
}

/// The handler the engine runs for one client connection.
pub(crate) struct Driver {
    conn: ClientConnection,
    initiator: Option<NtlmInitiator>,
    logon: Option<Sender<LogonReply>>,
    requests: Receiver<Request>,
    /// READ buffers application threads are done with.
    returns: Receiver<Vec<u8>>,
    /// WRITE message buffers the socket is done with: application threads copy their next
    /// payloads into them ([`crate::file`]), and so does this driver for shared payloads.
    spares: WriteSpares,
    waiting: VecDeque<Request>,
    inflight: HashMap<RequestId, Sender<Reply>>,
    validation: Option<Validation>,
    /// RDMA READs and WRITEs in flight, by request.
    rdma_io: HashMap<RequestId, RdmaIo>,
    /// The server's MaxFragmentedSize over SMB Direct (learnt before logon starts).
    max_message: Option<u32>,
    /// Answers held until the window their response did not invalidate is revoked, by request.
    revoking: HashMap<u64, (Completion, usize)>,
    rdma_stats: Arc<RdmaCounters>,
    /// Over SMB Direct, refuse a server that does not negotiate both RDMA transforms.
    require_rdma_transform: bool,
}

impl Driver {
    pub(crate) fn new(
        conn: ClientConnection,
        initiator: NtlmInitiator,
        logon: Sender<LogonReply>,
        requests: Receiver<Request>,
        returns: Receiver<Vec<u8>>,
        spares: WriteSpares,
    ) -> Driver {
        Driver {
            conn,
            initiator: Some(initiator),
            logon: Some(logon),
            requests,
            returns,
            spares,
            waiting: VecDeque::new(),
            inflight: HashMap::new(),
            validation: None,
            rdma_io: HashMap::new(),
            revoking: HashMap::new(),
            max_message: None,
            rdma_stats: Arc::default(),
            require_rdma_transform: false,
        }
    }

    /// Over SMB Direct, fail the connection unless the server negotiates the RDMA transforms
    /// (ENCRYPTION and SIGNING).
    pub(crate) fn requiring_rdma_transform(mut self, required: bool) -> Driver {
        self.require_rdma_transform = required;
        self
    }

    /// Counts RDMA I/O into `stats` (shared with the application side).
    pub(crate) fn with_rdma_stats(mut self, stats: Arc<RdmaCounters>) -> Driver {
        self.rdma_stats = stats;
        self
    }

    /// Fails everything outstanding with `why`, and stops taking requests (dropping the channel's
    /// receiver makes queued and later sends fail on the application side).
    fn fail_all(&mut self, why: Failure) {
        if let Some(logon) = self.logon.take() {
            let _ = logon.try_send(Err(why.clone()));
        }
        for (_, reply) in self.inflight.drain() {
            let _ = reply.try_send(Err(why.clone()));
        }
        if let Some(v) = self.validation.take() {
            let _ = v.reply.try_send(Err(why.clone()));
        }
        let requests = std::mem::replace(&mut self.requests, crossbeam_channel::never());
        // The channel keeps buffered requests while the application holds its sender: answer them.
        for req in self.waiting.drain(..).chain(requests.try_iter()) {
            let _ = req.reply.try_send(Err(why.clone()));
        }
    }

    fn fatal(&mut self, e: ProtoError) -> Flow {
        self.fail_all(Failure::Protocol(Arc::new(e)));
        Flow::Close
    }

    fn complete(&mut self, c: Completion, out: &mut Outbox) -> Flow {
        match c {
            Completion::Negotiated { .. } => {
                if self.require_rdma_transform
                    && self.max_message.is_some()
                    && self.conn.rdma_transforms() != RdmaTransformSet::ALL
                {
                    return self.fatal(ProtoError::BadNegotiate {
                        detail:
                            "the server does not negotiate the RDMA transform, which this client requires",
                    });
                }
                let Some(initiator) = self.initiator.take() else { return Flow::Continue };
                match self.conn.session_setup(initiator) {
                    Ok(bytes) => out.push(&bytes),
                    Err(e) => return self.fatal(e),
                }
            }
            Completion::MoreAuth { bytes, .. } => out.push(&bytes),
            Completion::LoggedOn { encrypted, signed, .. } => {
                let limits = Limits {
                    max_read: self.conn.max_read_size().unwrap_or(65536),
                    max_write: self.conn.max_write_size().unwrap_or(65536),
                    encrypted,
                    signing_required: signed,
                    max_message: self.max_message,
                    dialect: self.conn.dialect(),
                    cipher: self.conn.cipher(),
                    signing: self.conn.signing(),
                    rdma_transforms: self.conn.rdma_transforms(),
                };
                if let Some(logon) = self.logon.take() {
                    let _ = logon.try_send(Ok(limits));
                }
            }
            Completion::Error { request, status, .. } if !self.inflight.contains_key(&request) => {
                // NEGOTIATE or SESSION_SETUP refused, or VALIDATE_NEGOTIATE_INFO failed: the
                // connection is not to be trusted.
                self.fail_all(Failure::Status(status));
                return Flow::Close;
            }
            Completion::TreeConnected { request, tree, .. }
                if self.conn.needs_validation() && self.validation.is_none() =>
            {
                let Some(reply) = self.inflight.remove(&request) else { return Flow::Continue };
                match self.conn.validate_negotiate(tree) {
                    Ok((_, bytes)) => out.push(&bytes),
                    Err(e) => return self.fatal(e),
                }
                self.validation = Some(Validation { reply, connected: c });
            }
            Completion::Validated { .. } => {
                if let Some(v) = self.validation.take() {
                    let _ = v.reply.try_send(Ok(v.connected));
                }
            }
            other => {
                if let Some(request) = request_of(&other) {
                    if let Some(reply) = self.inflight.remove(&request) {
                        let _ = reply.try_send(Ok(other));
                    }
                }
            }
        }
        Flow::Continue
    }

    /// One message's completions; those of RDMA I/O wait for their window to be gone.
    fn on_message_from(
        &mut self,
        msg: &mut [u8],
        invalidated: Option<u32>,
        rdma: Option<&mut RdmaCtx<'_>>,
        out: &mut Outbox,
    ) -> Flow {
        for buf in self.returns.try_iter() {
            self.conn.recycle(buf);
        }
        let completions = match self.conn.receive(msg) {
            Ok(c) => c,
            Err(e) => return self.fatal(e),
        };
        for c in completions {
            let io = request_of(&c).and_then(|r| self.rdma_io.remove(&r));
            if let Some(io) = &io {
                self.rdma_stats.answered(invalidated == Some(io.rkey));
            }
            let flow = match io {
                // MS-SMB2 3.2.5.11 / MS-SMBD 3.1.5.8: the server's SEND_WITH_INVALIDATE revoked
                // exactly our window; anything else, and we revoke it before touching the buffer.
                Some(io) if invalidated == Some(io.rkey) => self.finish_rdma(c, io, out),
                Some(io) => {
                    let id = request_of(&c).map_or(u64::MAX, |r| r.0);
                    out.rdma_revoke(id, io.rkey, io.lease);
                    self.revoking.insert(id, (c, io.len));
                    Flow::Continue
                }
                None => self.complete(c, out),
            };
            if flow == Flow::Close {
                return Flow::Close;
            }
        }
        if self.logon.is_none() {
            self.pump(out, rdma);
        }
        Flow::Continue
    }

    /// An RDMA I/O whose window is gone: a READ's data is taken from its buffer, opened or verified
    /// there first when the server sealed or signed it.
    fn finish_rdma(&mut self, c: Completion, mut io: RdmaIo, out: &mut Outbox) -> Flow {
        let c = match c {
            Completion::ReadPlaced { request, len, transform } => {
                let n = len as usize;
                if n > io.len {
                    return self.fatal(ProtoError::InlineDataForRdmaRead { request: request.0, len: n });
                }
                if let Some(t) = transform {
                    if let Err(e) = self.conn.open_placed(request, &t, &mut io.lease[..n]) {
                        // The data was changed on the wire or in our memory: that READ fails, the
                        // application never sees the bytes; the connection (whose messages all
                        // authenticate) goes on.
                        if let Some(reply) = self.inflight.remove(&request) {
                            let _ = reply.try_send(Err(Failure::Protocol(Arc::new(e))));
                        }
                        return Flow::Continue;
                    }
                }
                Completion::Read { request, data: io.lease[..n].to_vec().into() }
            }
            other => other,
        };
        self.complete(c, out)
    }

    /// Moves requests from the channel to the local queue, then sends what the credits allow; with
    /// `rdma` (an SMB Direct connection), large READs and WRITEs move their data by RDMA.
    fn pump(&mut self, out: &mut Outbox, mut rdma: Option<&mut RdmaCtx<'_>>) {
        self.spares.keep_written(out);
        while self.waiting.len() < MAX_WAITING {
            match self.requests.try_recv() {
                Ok(req) => self.waiting.push_back(req),
                Err(_) => break,
            }
        }
        while let Some(req) = self.waiting.front_mut() {
            if out.queued_bytes() > OUTBOX_HOLD {
                break;
            }
            let sent = match rdma.as_deref_mut() {
                Some(ctx) => match send_rdma(&mut self.conn, &mut req.op, out, ctx) {
                    Ok(ByRdma::Sent(id, io)) => {
                        self.rdma_stats.sent(matches!(req.op, Op::Read { .. }), io.len);
                        self.rdma_io.insert(id, io);
                        Ok(id)
                    }
                    // No registered memory free now: the request waits for some to come back.
                    Ok(ByRdma::NoMemory) if !self.inflight.is_empty() => break,
                    Ok(ByRdma::NoMemory | ByRdma::Inline) => {
                        send(&mut self.conn, &mut req.op, &self.spares, out)
                    }
                    Err(e) => Err(e),
                },
                None => send(&mut self.conn, &mut req.op, &self.spares, out),
            };
            match sent {
                Ok(id) => {
                    if let Some(req) = self.waiting.pop_front() {
                        self.inflight.insert(id, req.reply);
                    }
                }
                // Responses to what is in flight will grant more; with nothing in flight none will.
                Err(ProtoError::NoCredits { .. }) if !self.inflight.is_empty() => break,
                Err(e) => {
                    if let Some(req) = self.waiting.pop_front() {
                        let _ = req.reply.try_send(Err(Failure::Protocol(Arc::new(e))));
                    }
                }
            }
        }
    }
}

/// How [`send_rdma`] went.
enum ByRdma {
    Sent(RequestId, RdmaIo),
    /// Not a READ or WRITE whose data moves by RDMA (small, or on a tree that must encrypt or
    /// sign): send it inline.
    Inline,
    /// It would, but no registered memory is free now.
    NoMemory,
}

/// Over SMB Direct, a READ or WRITE of at least [`RDMA_THRESHOLD`] bytes on a tree whose data may
/// move by RDMA: its buffer is a lease of registered memory, granted to the server through a window
/// exactly over it, and the request asks the server to invalidate the window with its response
/// (RDMA_V1_INVALIDATE).
fn send_rdma(
    conn: &mut ClientConnection,
    op: &mut Op,
    out: &mut Outbox,
    ctx: &mut RdmaCtx<'_>,
) -> Result<ByRdma, ProtoError> {
    let (file, offset, len, read) = match op {
        Op::Read { file, offset, len } => (*file, *offset, *len as usize, true),
        Op::Write { file, offset, payload } => {
            let len = match payload {
                Payload::Placed(msg) => msg.len().saturating_sub(smb_client_proto::WRITE_PAYLOAD_AT),
                Payload::Shared(data) => data.len(),
            };
            (*file, *offset, len, false)
        }
        _ => return Ok(ByRdma::Inline),
    };
    if len < RDMA_THRESHOLD || !conn.rdma_allowed(file.tree) {
        return Ok(ByRdma::Inline);
    }
    // 16 bytes past the data: a seal's scratch (the window covers the data only).
    let Some(mut lease) = out.lease(len + 16) else { return Ok(ByRdma::NoMemory) };
    let access = if read { Access::REMOTE_WRITE } else { Access::REMOTE_READ };
    let desc = ctx.grant(&lease, 0, len, access).map_err(|e| ProtoError::Transport(e.to_string()))?;
    let sent = match op {
        Op::Write { payload, .. } => {
            let data = match payload {
                Payload::Placed(msg) => &msg[smb_client_proto::WRITE_PAYLOAD_AT..],
                Payload::Shared(data) => &data[..],
            };
            // Into the registered buffer on the way: sealed from the caller's bytes in one pass
            // where the tree requires encryption (else copied, and signed where required), before
            // the server may pull it.
            conn.write_rdma_from(file, offset, data, &mut lease[..len + 16], &[desc], true)
        }
        _ => conn.read_rdma(file, offset, len as u32, &[desc], true),
    };
    match sent {
        Ok((id, bytes)) => {
            out.push(&bytes);
            Ok(ByRdma::Sent(id, RdmaIo { lease, rkey: desc.token, len }))
        }
        Err(e) => {
            // The window exists but no request names it: take it back (the answer is ignored).
            out.rdma_revoke(u64::MAX, desc.token, lease);
            Err(e)
        }
    }
}

/// Builds the request message for `op` and queues it (nothing is taken from the credit window, and
/// nothing queued, on error).
fn send(
    conn: &mut ClientConnection,
    op: &mut Op,
    spares: &WriteSpares,
    out: &mut Outbox,
) -> Result<RequestId, ProtoError> {
    let (id, bytes) = match op {
        Op::TreeConnect { unc } => conn.tree_connect(unc),
        Op::Create { tree, path, access, disposition, options } => {
            conn.create(*tree, path, *access, *disposition, *options)
        }
        Op::Read { file, offset, len } => conn.read(*file, *offset, *len),
        Op::Write { file, offset, payload: Payload::Placed(msg) } => {
            // The payload is already in place: header and seal go around it, and the buffer itself
            // goes to the socket.
            let (id, start) = conn.write_prebuilt(*file, *offset, msg)?;
            let msg = std::mem::take(msg);
            let end = msg.len();
            out.push_owned(msg, start..end);
            return Ok(id);
        }
        Op::Write { file, offset, payload: Payload::Shared(data) } => {
            // A buffer the socket is done with (`pump` moved them to `spares`), most of the time: it
            // already has the size.
            let mut msg = spares.take().unwrap_or_default();
            let (id, range) = conn.write_from(*file, *offset, data, &mut msg)?;
            out.push_owned(msg, range);
            return Ok(id);
        }
        Op::Close { file } => conn.close(*file),
        Op::Flush { file } => conn.flush(*file),
        Op::QueryDirectory { file, class, pattern, flags, output_len } => {
            conn.query_directory(*file, *class, pattern, *flags, *output_len)
        }
        Op::QueryInfo { file, info_type, class, output_len } => {
            conn.query_info(*file, *info_type, *class, *output_len)
        }
        Op::SetInfo { file, info_type, class, buffer } => conn.set_info(*file, *info_type, *class, buffer),
        Op::Logoff => conn.logoff(),
    }?;
    out.push(&bytes);
    Ok(id)
}

/// The request a completion answers (logon steps answer none the application made).
fn request_of(c: &Completion) -> Option<RequestId> {
    match c {
        Completion::TreeConnected { request, .. }
        | Completion::Created { request, .. }
        | Completion::Read { request, .. }
        | Completion::ReadPlaced { request, .. }
        | Completion::Written { request, .. }
        | Completion::Closed { request, .. }
        | Completion::TreeDisconnected { request }
        | Completion::LoggedOff { request }
        | Completion::Flushed { request }
        | Completion::DirectoryListed { request, .. }
        | Completion::InfoQueried { request, .. }
        | Completion::InfoSet { request }
        | Completion::Validated { request }
        | Completion::Error { request, .. }
        | Completion::MoreAuth { request, .. } => Some(*request),
        Completion::Negotiated { .. } | Completion::LoggedOn { .. } => None,
    }
}

impl Connection for Driver {
    fn on_transport(&mut self, peer: &engine::PeerInfo) {
        if let engine::Transport::Rdma(l) = peer.transport {
            self.max_message = Some(l.max_message);
        }
    }

    fn on_start(&mut self, out: &mut Outbox) -> Flow {
        match self.conn.negotiate() {
            Ok(bytes) => {
                out.push(&bytes);
                Flow::Continue
            }
            Err(e) => self.fatal(e),
        }
    }

    fn on_message(&mut self, msg: &mut [u8], out: &mut Outbox) -> Flow {
        self.on_message_from(msg, None, None, out)
    }

    /// Over SMB Direct: the token the message invalidated tells whether an RDMA I/O's window is
    /// gone; one that is not is revoked here before its buffer is used or handed back.
    fn on_rdma_message(
        &mut self,
        msg: &mut [u8],
        invalidated: Option<u32>,
        rdma: &mut RdmaCtx<'_>,
        out: &mut Outbox,
    ) -> Flow {
        self.on_message_from(msg, invalidated, Some(rdma), out)
    }

    fn on_wake(&mut self, out: &mut Outbox) -> Flow {
        // Before logon completes the protocol layer would refuse requests; they wait in the channel.
        if self.logon.is_none() {
            self.pump(out, None);
        }
        Flow::Continue
    }

    fn on_rdma_wake(&mut self, rdma: &mut RdmaCtx<'_>, out: &mut Outbox) -> Flow {
        if self.logon.is_none() {
            self.pump(out, Some(rdma));
        }
        Flow::Continue
    }

    /// A window a response did not invalidate is revoked: the held answer goes out now.
    fn on_rdma_done(&mut self, token: u64, result: Result<iobuf::Lease, String>, out: &mut Outbox) -> Flow {
        let Some((c, len)) = self.revoking.remove(&token) else { return Flow::Continue };
        match result {
            Ok(lease) => self.finish_rdma(c, RdmaIo { lease, rkey: 0, len }, out),
            Err(why) => self.fatal(ProtoError::Transport(why)),
        }
    }

    fn on_close(&mut self) {
        self.fail_all(Failure::Closed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_client_proto::ClientConfig;

    fn driver() -> (Driver, Sender<Request>, Receiver<LogonReply>) {
        let conn = ClientConnection::new(ClientConfig::default(), [1; 16], [2; 32]);
        let init = NtlmInitiator::new("u", "p", "", "WS", [3; 24], 0, true);
        let (logon_tx, logon_rx) = crossbeam_channel::bounded(1);
        let (req_tx, req_rx) = crossbeam_channel::bounded(4);
        (
            Driver::new(conn, init, logon_tx, req_rx, crossbeam_channel::never(), WriteSpares::new()),
            req_tx,
            logon_rx,
        )
    }

    #[test]
    fn close_before_logon_fails_the_logon_and_refuses_requests() {
        let (mut d, req_tx, logon_rx) = driver();
        let mut out = Outbox::new();
        assert_eq!(d.on_start(&mut out), Flow::Continue);
        assert_eq!(out.messages().count(), 1, "NEGOTIATE queued");
        let (reply_tx, reply_rx) = crossbeam_channel::bounded(1);
        req_tx.send(Request { op: Op::TreeConnect { unc: r"\\h\s".into() }, reply: reply_tx }).unwrap();
        assert_eq!(d.on_wake(&mut out), Flow::Continue);
        assert_eq!(out.messages().count(), 1, "nothing sent before logon");
        d.on_close();
        assert!(matches!(logon_rx.try_recv(), Ok(Err(Failure::Closed))));
        assert!(matches!(reply_rx.try_recv(), Ok(Err(Failure::Closed))), "queued request answered");
        let (reply_tx, _r) = crossbeam_channel::bounded(1);
        assert!(req_tx.send(Request { op: Op::TreeConnect { unc: "x".into() }, reply: reply_tx }).is_err());
    }

    #[test]
    fn garbage_from_the_server_fails_the_connection() {
        let (mut d, _req_tx, logon_rx) = driver();
        let mut out = Outbox::new();
        d.on_start(&mut out);
        assert_eq!(d.on_message(&mut [0u8; 70], &mut out), Flow::Close);
        assert!(matches!(logon_rx.try_recv(), Ok(Err(Failure::Protocol(_)))));
    }
}
