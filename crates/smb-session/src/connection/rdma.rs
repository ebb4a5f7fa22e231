//! SMB2 READ and WRITE whose data moves by RDMA (MS-SMB2 3.3.5.12 / 3.3.5.13 with Channel
//! SMB2_CHANNEL_RDMA_V1 or RDMA_V1_INVALIDATE, MS-SMBD 3.1.4.5 / 3.1.4.6).
//!
//! The life of an RDMA request, as one state each:
//! - READ: checked → reading the file into a lease (here, or on a helper: a `Deferred` with `rdma`)
//!   → RDMA-writing the data into the client's buffers, then sending the response, which
//!   invalidates the client's token (RDMA_V1_INVALIDATE) — error responses included.
//! - WRITE: checked → pulling the payload by RDMA READ into a lease (`Pulling`) → writing it to the
//!   file (here, or deferred) → answered. A WRITE whose RDMA READ failed is never answered (the
//!   connection is gone by then).
//!
//! What is refused, and with what:
//! - Channel RDMA_V1* over TCP, an unknown channel, RDMA_TRANSFORM (no transform is negotiated yet),
//!   missing or misaligned channel info, no descriptor, a zero-length descriptor or I/O, descriptors
//!   shorter than the I/O, an I/O over MaxReadWriteSize, and an RDMA request inside a compound:
//!   STATUS_INVALID_PARAMETER (3.3.5.12/3.3.5.13).
//! - Until the RDMA transform (encryption or signing of RDMA-placed data) exists, a request whose
//!   data must be encrypted (encrypted request, EncryptData session or share) or signed (session
//!   SigningRequired): STATUS_ACCESS_DENIED, logged. Plaintext is never placed in (or pulled from)
//!   the client's memory for such a session, which must move its data inline (Channel NONE, over
//!   the same SMB Direct connection). ACCESS_DENIED because it is a policy refusal of an otherwise
//!   well-formed request, as RejectUnencryptedAccess answers a client that cannot encrypt; Windows
//!   before Server 2022 never offered RDMA in these sessions, and Linux's client does not ask.
//! - No registered memory free for the transfer: STATUS_INSUFFICIENT_RESOURCES.

use super::*;
use crate::handler::{IoBuf, IoBuffer, IoStart, WriteArgs};
use smb_wire::read::{RdmaReadResponse, ReadRequest};
use smb_wire::smbd::{BufferDescriptorList, BufferDescriptorV1};
use smb_wire::write::WriteRequest;
use smb_wire::Channel;

/// Most buffer descriptors one I/O may bring (Windows sends two for 1 MiB, Linux one).
pub(super) const MAX_DESCRIPTORS: usize = 64;

/// The client's buffers of one RDMA request and the token its response must invalidate.
#[derive(Debug, Clone)]
pub(super) struct RdmaReq {
    pub(super) descs: Vec<BufferDescriptorV1>,
    pub(super) invalidate: Option<u32>,
}

impl RdmaReq {
    /// What the response carries when it fails (nothing to place, the token to invalidate).
    pub(super) fn on_error(&self) -> RdmaReply {
        RdmaReply { data: None, invalidate: self.invalidate }
    }
}

/// What goes with a response over SMB Direct: data to RDMA-write first, and the token its send
/// invalidates.
pub(super) struct RdmaReply {
    pub(super) data: Option<(iobuf::Lease, usize, Vec<BufferDescriptorV1>)>,
    pub(super) invalidate: Option<u32>,
}

/// A WRITE whose payload is being RDMA-read.
pub(super) struct Pulling {
    pub(super) header: Header,
    pub(super) ctx: FileContext,
    pub(super) args: WriteArgs,
    pub(super) rdma: RdmaReq,
}

impl<F: FileHandler, A: AuthFactory> ServerConnection<F, A> {
    /// MS-SMB2 3.3.5.12 / 3.3.5.13: the channel of a READ or WRITE of `io_len` bytes. `Ok(None)`:
    /// the data is inline (Channel NONE).
    pub(super) fn rdma_channel(
        &mut self,
        channel: Channel,
        info: &[u8],
        io_len: u64,
        header: &Header,
        encrypted: bool,
    ) -> Result<Option<RdmaReq>, Fail> {
        if channel == Channel::NONE {
            return Ok(None);
        }
        let bad = || Fail::Status(NtStatus::INVALID_PARAMETER);
        if channel != Channel::RDMA_V1 && channel != Channel::RDMA_V1_INVALIDATE {
            return Err(bad());
        }
        let Some(max_read_write) = self.rdma_max else { return Err(bad()) };
        let list = BufferDescriptorList::parse(info).map_err(|_| bad())?;
        let descs: Vec<BufferDescriptorV1> = (0..list.len()).map(|i| list_get(&list, i)).collect();
        let invalidate = match (channel == Channel::RDMA_V1_INVALIDATE, descs.first()) {
            (true, Some(d)) => Some(d.token),
            _ => None,
        };
        let req = RdmaReq { descs, invalidate };
        // From here on, a refusal still invalidates the client's token with the error response.
        let limits = smbdirect::descriptors::Limits {
            max_descriptors: MAX_DESCRIPTORS,
            max_read_write_size: max_read_write,
        };
        if io_len == 0 || !self.single_pdu {
            self.reply_rdma = Some(req.on_error());
            return Err(bad());
        }
        if smbdirect::descriptors::validate(req.descs.as_slice(), io_len, &limits).is_err() {
            self.reply_rdma = Some(req.on_error());
            return Err(bad());
        }
        if let Some(reason) = self.rdma_refusal(header, encrypted) {
            self.reply_rdma = Some(req.on_error());
            self.events.push(reason);
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        Ok(Some(req))
    }

    /// Why this session's data may not move by RDMA until the RDMA transform exists (see the
    /// module docs), as the event to log.
    fn rdma_refusal(&self, header: &Header, encrypted: bool) -> Option<Event> {
        let sec = self.sessions.get(&header.session_id)?.valid()?;
        let tree = header.tree_id().and_then(|t| self.sessions.get(&header.session_id)?.trees.get(&t));
        if encrypted || sec.encrypt_data || tree.is_some_and(|t| t.encrypt) {
            return Some(Event::UnencryptedAccessRejected {
                share: tree.map(|t| t.grant.share_name.clone()),
                reason: "RDMA transfer of data that must be encrypted (no RDMA transform yet)",
            });
        }
        if sec.signing_required {
            return Some(Event::RdmaRefused {
                reason: "RDMA transfer of data that must be signed (no RDMA transform yet)",
            });
        }
        None
    }

    /// A READ with an RDMA channel: read into registered memory, to be RDMA-written with the answer.
    pub(super) fn on_rdma_read(
        &mut self,
        ctx: FileContext,
        header: &Header,
        r: &ReadRequest<'_>,
        req: RdmaReq,
        tx: &mut dyn Transmit,
    ) -> Result<(NtStatus, Reply), Fail> {
        let len = r.length as usize;
        let Some(mut lease) = tx.rdma().and_then(|t| t.lease(len)) else {
            self.reply_rdma = Some(req.on_error());
            return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
        };
        if self.may_defer(len) {
            match self.files.begin_read(ctx, header, r) {
                IoStart::Deferred => {
                    self.defer(header, false, len, Some(r.minimum_count), Some(req));
                    self.files
                        .submit_read(header.message_id, IoBuffer { buf: IoBuf::Lease(lease), range: 0..len });
                    return Err(Fail::Deferred);
                }
                IoStart::Done(Err(status)) => {
                    self.reply_rdma = Some(req.on_error());
                    return Err(status.into());
                }
                IoStart::Done(Ok(_)) | IoStart::Execute => {}
            }
        }
        let result = self.files.read(ctx, header, r, &mut lease[..len]).map(|n| n as u32);
        let (status, reply, rdma) = self.rdma_read_reply(result, r.minimum_count, lease, req);
        self.reply_rdma = Some(rdma);
        status.map(|s| (s, reply)).map_err(Fail::Status)
    }

    /// The response to an RDMA READ that read `result` bytes into `lease`.
    pub(super) fn rdma_read_reply(
        &mut self,
        result: Result<u32, NtStatus>,
        minimum: u32,
        lease: iobuf::Lease,
        req: RdmaReq,
    ) -> (Result<NtStatus, NtStatus>, Reply, RdmaReply) {
        let mut p = self.new_pdu();
        match result {
            Ok(n) if n > 0 && n >= minimum => {
                // MS-SMB2 3.3.5.12: DataOffset 0x50, DataLength 0, DataRemaining the bytes placed
                // (80 bytes in all: see RdmaReadResponse for why no Buffer byte).
                put_body(&mut p, &RdmaReadResponse { data_remaining: n });
                let rdma =
                    RdmaReply { data: Some((lease, n as usize, req.descs)), invalidate: req.invalidate };
                (Ok(NtStatus::SUCCESS), Reply::from_vec(p), rdma)
            }
            other => {
                let status = other.err().unwrap_or(NtStatus::END_OF_FILE);
                self.recycle(Reply::from_vec(p));
                (Err(status), Reply::from_vec(Vec::new()), req.on_error())
            }
        }
    }

    /// A WRITE with an RDMA channel: pull the payload into registered memory first.
    pub(super) fn on_rdma_write(
        &mut self,
        ctx: FileContext,
        header: &Header,
        w: &WriteRequest<'_>,
        req: RdmaReq,
        tx: &mut dyn Transmit,
    ) -> Result<(NtStatus, Reply), Fail> {
        // MS-SMB2 3.3.5.13: the payload is RemainingBytes long and none of it is inline.
        let len = w.remaining_bytes as usize;
        if !w.data.is_empty() {
            self.reply_rdma = Some(req.on_error());
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        if !self.may_defer(len) {
            // Over the bounds of work in flight: the client is holding more than it may.
            self.reply_rdma = Some(req.on_error());
            return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
        }
        let Some(rdma) = tx.rdma() else { return Err(NtStatus::INVALID_PARAMETER.into()) };
        let Some(lease) = rdma.lease(len) else {
            self.reply_rdma = Some(req.on_error());
            return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
        };
        rdma.read(header.message_id, lease, len, &req.descs);
        let args = WriteArgs { file_id: w.file_id, offset: w.offset, len, flags: w.flags };
        self.deferred_bytes += len;
        self.pulling.insert(header.message_id, Pulling { header: *header, ctx, args, rdma: req });
        Err(Fail::Deferred)
    }

    /// The payload of a WRITE arrived by RDMA READ (`Ok`), or the transfer failed (`Err`: the
    /// WRITE is never answered, and the connection is closing anyway). Writes it to the file and
    /// answers (now, or once a helper has written it).
    pub fn on_pulled(
        &mut self,
        token: u64,
        result: Result<iobuf::Lease, String>,
        tx: &mut dyn Transmit,
    ) -> Flow {
        self.take_rdma(tx);
        let Some(p) = self.pulling.remove(&token) else { return Flow::Continue };
        self.deferred_bytes -= p.args.len;
        let Ok(lease) = result else {
            return self.violation("the RDMA READ of a WRITE's payload failed");
        };
        // A session logged off meanwhile has no keys to answer with, nor files to write.
        if self.sessions.get(&p.header.session_id).and_then(|s| s.valid()).is_none() {
            return Flow::Continue;
        }
        let len = p.args.len;
        let on_error = p.rdma.on_error();
        let outcome = match self.files.begin_write(p.ctx, &p.header, &p.args) {
            IoStart::Deferred => {
                self.defer(&p.header, false, len, None, Some(p.rdma));
                self.files
                    .submit_write(p.header.message_id, IoBuffer { buf: IoBuf::Lease(lease), range: 0..len });
                None
            }
            IoStart::Execute => Some(self.files.write(p.ctx, &p.header, &p.args, &lease[..len])),
            IoStart::Done(r) => Some(r),
        };
        if let Some(result) = outcome {
            if let Err(detail) = self.answer_write(&p.header, result, Some(on_error), tx) {
                return self.violation(detail);
            }
        }
        self.answer_deferred(false, tx)
    }

    /// Notes whether this connection can move data by RDMA, and its limit.
    pub(super) fn take_rdma(&mut self, tx: &mut dyn Transmit) {
        self.rdma_max = tx.rdma().map(|r| r.max_read_write());
    }
}

fn list_get(list: &BufferDescriptorList<'_>, i: usize) -> BufferDescriptorV1 {
    use smbdirect::descriptors::DescriptorSource;
    list.get(i)
}
