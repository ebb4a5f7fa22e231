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
//! With the SMB 3.1.1 RDMA transform negotiated (MS-SMB2 3.3.5.4, Connection.RDMATransformIds), a
//! request whose data must be protected keeps moving it by RDMA:
//! - READ (3.3.5.12): an encrypted request's data is sealed in the lease with the server-to-client
//!   key (no associated data, a nonce of the session's sequence) before it is RDMA-written; a signed
//!   one (SIGNING negotiated) is signed. The response carries SMB2_RDMA_TRANSFORM with the crypto
//!   transform and RESPONSE_RDMA_TRANSFORM, and is itself encrypted or signed, which is what
//!   protects the tag and nonce. A request that is neither gets plain placement and no transform
//!   (the client rejects a transform flag without a crypto transform: docs/SMBDIRECT.md A3.2).
//! - WRITE (3.3.5.13): Channel RDMA_TRANSFORM; the ciphertext (or signed plaintext) is RDMA-read into
//!   the lease and opened (or verified) in place before anything reaches the file.
//!
//! What is refused, and with what:
//! - Channel RDMA_V1* over TCP, an unknown channel, RDMA_TRANSFORM in a READ or without negotiated
//!   transforms, missing or misaligned channel info, no descriptor, a zero-length descriptor or I/O,
//!   descriptors shorter than the I/O, an I/O over MaxReadWriteSize, and an RDMA request inside a
//!   compound: STATUS_INVALID_PARAMETER (3.3.5.12/3.3.5.13). For a WRITE's RDMA_TRANSFORM also: no,
//!   several or an unknown crypto transform, one that was not negotiated, ENCRYPTION on an
//!   unencrypted request, SIGNING on an unsigned one or on an encrypted one (whose data must be
//!   encrypted): STATUS_INVALID_PARAMETER; a SignatureLength over 16 or a NonceLength that is not the
//!   cipher's: STATUS_AUTH_TAG_MISMATCH.
//! - Data that does not verify: an ENCRYPTION tag gets STATUS_AUTH_TAG_MISMATCH, a SIGNING MAC
//!   STATUS_INVALID_SIGNATURE; nothing is written, the event is logged, the connection stays. The
//!   spec names no status for the tag (docs/SMBDIRECT.md A3.4); AUTH_TAG_MISMATCH is the one it uses
//!   for the transform's other tag faults, and says what happened. The connection is kept because
//!   the request itself was authenticated: what failed is the payload in the client's memory, which
//!   is the client's to retry.
//! - A request whose data must be encrypted (encrypted request, EncryptData session or share) or
//!   signed (session SigningRequired) with no transform to do it (not negotiated, or a WRITE with
//!   plain RDMA_V1*): STATUS_ACCESS_DENIED, logged. Plaintext is never placed in (or pulled from)
//!   the client's memory for such a session, which must move its data inline (Channel NONE, over
//!   the same SMB Direct connection) or by transform. ACCESS_DENIED because it is a policy refusal
//!   of an otherwise well-formed request, as RejectUnencryptedAccess answers a client that cannot
//!   encrypt; Windows before Server 2022 never offered RDMA in these sessions, and Linux's client
//!   does not ask.
//! - No registered memory free for the transfer: STATUS_INSUFFICIENT_RESOURCES.

use super::*;
use crate::handler::{IoBuf, IoBuffer, IoStart, PlacedOutcome, WriteArgs};
use smb_crypto::PlacedSeal;
use smb_wire::channel::{CryptoTransform, CryptoTransformType, CryptoTransforms};
use smb_wire::read::{read_response_flags, RdmaReadResponse, ReadRequest, ReadResponse};
use smb_wire::smbd::{BufferDescriptorList, BufferDescriptorV1};
use smb_wire::write::WriteRequest;
use smb_wire::{Channel, RdmaTransform, WireError};

/// Most buffer descriptors one I/O may bring (Windows sends two for 1 MiB, Linux one).
pub(super) const MAX_DESCRIPTORS: usize = 64;

/// How the data of an RDMA request is protected on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protect {
    /// Placed as it is.
    Plain,
    /// ENCRYPTION transform with the session's keys.
    Seal,
    /// SIGNING transform with the session's signing key.
    Sign,
}

/// The crypto transform a WRITE's data came with: its tag or MAC and nonce.
#[derive(Debug, Clone)]
pub(super) struct Carried {
    signature: Vec<u8>,
    nonce: Vec<u8>,
}

/// The client's buffers of one RDMA request and the token its response must invalidate.
#[derive(Debug, Clone)]
pub(super) struct RdmaReq {
    pub(super) descs: Vec<BufferDescriptorV1>,
    pub(super) invalidate: Option<u32>,
    pub(super) session_id: u64,
    /// The request arrived encrypted (so must its answer).
    pub(super) encrypted: bool,
    pub(super) protect: Protect,
    /// A WRITE's crypto transform (with `protect` Seal or Sign).
    pub(super) carried: Option<Carried>,
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

/// The descriptors of a Channel's info, with their token to invalidate, and (RDMA_TRANSFORM) the
/// crypto transform.
struct Decoded {
    descs: Vec<BufferDescriptorV1>,
    invalidate: bool,
    transform: Option<(Protect, Carried)>,
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
        write: bool,
    ) -> Result<Option<RdmaReq>, Fail> {
        if channel == Channel::NONE {
            return Ok(None);
        }
        let bad = || Fail::Status(NtStatus::INVALID_PARAMETER);
        let Some(max_read_write) = self.rdma_max else { return Err(bad()) };
        let decoded = match channel {
            Channel::RDMA_V1 | Channel::RDMA_V1_INVALIDATE => {
                let list = BufferDescriptorList::parse(info).map_err(|_| bad())?;
                Decoded {
                    descs: (0..list.len()).map(|i| list_get(&list, i)).collect(),
                    invalidate: channel == Channel::RDMA_V1_INVALIDATE,
                    transform: None,
                }
            }
            // 3.3.5.12: the server alone decides to transform a READ.
            Channel::RDMA_TRANSFORM if write => self.write_transform(info, header, encrypted)?,
            _ => return Err(bad()),
        };
        let invalidate = match (decoded.invalidate, decoded.descs.first()) {
            (true, Some(d)) => Some(d.token),
            _ => None,
        };
        let (protect, carried) = match decoded.transform {
            Some((p, c)) => (p, Some(c)),
            None => (Protect::Plain, None),
        };
        let mut req = RdmaReq {
            descs: decoded.descs,
            invalidate,
            session_id: header.session_id,
            encrypted,
            protect,
            carried,
        };
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
        if !write {
            req.protect = self.read_protection(header, encrypted);
        }
        if let Some(reason) = self.rdma_refusal(header, encrypted, req.protect) {
            self.reply_rdma = Some(req.on_error());
            self.events.push(reason);
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        Ok(Some(req))
    }

    /// MS-SMB2 3.3.5.12: an encrypted READ's data is sealed, a signed one's signed, when the
    /// transform was negotiated.
    fn read_protection(&self, header: &Header, encrypted: bool) -> Protect {
        let t = self.negotiated.as_ref().map(|n| n.rdma_transforms).unwrap_or_default();
        if encrypted {
            if t.encryption {
                Protect::Seal
            } else {
                Protect::Plain
            }
        } else if header.is_signed() && t.signing {
            Protect::Sign
        } else {
            Protect::Plain
        }
    }

    /// MS-SMB2 3.3.5.13: a WRITE's SMB2_RDMA_TRANSFORM, checked, with its statuses.
    fn write_transform(&self, info: &[u8], header: &Header, encrypted: bool) -> Result<Decoded, Fail> {
        let bad = || Fail::Status(NtStatus::INVALID_PARAMETER);
        let tag_fault = || Fail::Status(NtStatus::AUTH_TAG_MISMATCH);
        let negotiated = self.negotiated.as_ref().map(|n| n.rdma_transforms).unwrap_or_default();
        if negotiated.is_empty() || info.len() < RdmaTransform::FIXED_LEN {
            return Err(bad());
        }
        let t = match RdmaTransform::parse(info) {
            Ok(t) => t,
            Err(WireError::TooLarge {
                field: "CryptoTransform.SignatureLength" | "CryptoTransform.NonceLength",
                ..
            }) => return Err(tag_fault()),
            Err(_) => return Err(bad()),
        };
        let mut list = t.transforms.iter();
        let (Some(ct), None) = (list.next(), list.next()) else { return Err(bad()) };
        let protect = match ct.transform_type {
            CryptoTransformType::ENCRYPTION if negotiated.encryption && encrypted => Protect::Seal,
            // A signed payload on an encrypted request would cross the wire in the clear.
            CryptoTransformType::SIGNING if negotiated.signing && header.is_signed() && !encrypted => {
                Protect::Sign
            }
            _ => return Err(bad()),
        };
        if protect == Protect::Seal {
            let cipher = self.negotiated.as_ref().and_then(|n| n.cipher);
            if ct.signature.len() != 16 || Some(ct.nonce.len()) != cipher.map(Cipher::nonce_len) {
                return Err(tag_fault());
            }
        }
        let descs = (0..t.descriptors.len()).map(|i| list_get(&t.descriptors, i)).collect();
        Ok(Decoded {
            descs,
            invalidate: t.channel == Channel::RDMA_V1_INVALIDATE,
            transform: Some((
                protect,
                Carried { signature: ct.signature.to_vec(), nonce: ct.nonce.to_vec() },
            )),
        })
    }

    /// Why this request's data may not move by RDMA as `protect` says (see the module docs), as
    /// the event to log.
    fn rdma_refusal(&self, header: &Header, encrypted: bool, protect: Protect) -> Option<Event> {
        let sec = self.sessions.get(&header.session_id)?.valid()?;
        let tree = header.tree_id().and_then(|t| self.sessions.get(&header.session_id)?.trees.get(&t));
        if (encrypted || sec.encrypt_data || tree.is_some_and(|t| t.encrypt)) && protect != Protect::Seal {
            return Some(Event::UnencryptedAccessRejected {
                share: tree.map(|t| t.grant.share_name.clone()),
                reason: "RDMA transfer of data that must be encrypted, without an ENCRYPTION transform",
            });
        }
        if sec.signing_required && protect == Protect::Plain {
            return Some(Event::RdmaRefused {
                reason: "RDMA transfer of data that must be signed, without a SIGNING transform",
            });
        }
        None
    }

    /// The session's keys, to seal, sign, open or verify placed data with.
    fn placed_keys(&mut self, session_id: u64) -> Option<&mut smb_crypto::SessionCrypto> {
        match &mut self.sessions.get_mut(&session_id)?.state {
            SessionState::Valid(v) => v.keys.as_mut(),
            SessionState::InProgress { .. } => None,
        }
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
                    // The seal or MAC goes with the data to where it is read (a helper thread); its
                    // nonce is reserved here, where the session's sequence lives. Without a job (a
                    // handler that runs none, or no nonce to be had), `rdma_read_reply` seals here
                    // once the data is read, or fails the READ.
                    let crypto = match self.files.runs_placed_crypto() {
                        true => self.protect_job(&req).ok().flatten(),
                        false => None,
                    };
                    self.defer(header, req.encrypted, len, Some(r.minimum_count), Some(req));
                    let area = IoBuffer { buf: IoBuf::Lease(lease), range: 0..len, crypto, lend: false };
                    self.files.submit_read(header.message_id, area);
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
        let (status, reply, rdma) = self.rdma_read_reply(result, r.minimum_count, lease, req, None);
        self.reply_rdma = Some(rdma);
        status.map(|s| (s, reply)).map_err(Fail::Status)
    }

    /// The response to an RDMA READ that read `result` bytes into `lease`: its data sealed or signed
    /// there when the request asks for a transform, here or already by the handler (`done`: what
    /// its crypto job came to).
    pub(super) fn rdma_read_reply(
        &mut self,
        result: Result<u32, NtStatus>,
        minimum: u32,
        mut lease: iobuf::Lease,
        req: RdmaReq,
        done: PlacedOutcome,
    ) -> (Result<NtStatus, NtStatus>, Reply, RdmaReply) {
        let mut p = self.new_pdu();
        let result = match result {
            Ok(n) if n > 0 && n >= minimum => match (done, transform_type(req.protect)) {
                (None, _) => self.protect_placed(&req, &mut lease[..n as usize]).map(|s| (n, s)),
                (Some(Ok(Some(seal))), Some(kind)) => Ok((n, Some((kind, seal)))),
                // A seal that failed (or one the request did not ask for): nothing is placed.
                (Some(_), _) => Err(NtStatus::ENCRYPTION_FAILED),
            },
            other => Err(other.err().unwrap_or(NtStatus::END_OF_FILE)),
        };
        match result {
            Ok((n, None)) => {
                // MS-SMB2 3.3.5.12: DataOffset 0x50, DataLength 0, DataRemaining the bytes placed
                // (80 bytes in all: see RdmaReadResponse for why no Buffer byte).
                put_body(&mut p, &RdmaReadResponse { data_remaining: n });
                let rdma =
                    RdmaReply { data: Some((lease, n as usize, req.descs)), invalidate: req.invalidate };
                (Ok(NtStatus::SUCCESS), Reply::from_vec(p), rdma)
            }
            Ok((n, Some((kind, seal)))) => {
                // 3.3.5.12 with transforms: Buffer = SMB2_RDMA_TRANSFORM (Channel NONE) + the crypto
                // transform, DataLength its size, DataRemaining the bytes placed.
                let ct = [CryptoTransform {
                    transform_type: kind,
                    signature: &seal.signature,
                    nonce: seal.nonce(),
                }];
                let t = RdmaTransform {
                    channel: Channel::NONE,
                    transforms: CryptoTransforms::from_slice(&ct),
                    descriptors: BufferDescriptorList::default(),
                };
                let bytes = t.to_vec();
                let body = ReadResponse {
                    data_remaining: n,
                    flags: read_response_flags::RESPONSE_RDMA_TRANSFORM,
                    data: &bytes,
                };
                put_body(&mut p, &body);
                let rdma =
                    RdmaReply { data: Some((lease, n as usize, req.descs)), invalidate: req.invalidate };
                (Ok(NtStatus::SUCCESS), Reply::from_vec(p), rdma)
            }
            Err(status) => {
                self.recycle(Reply::from_vec(p));
                (Err(status), Reply::from_vec(Vec::new()), req.on_error())
            }
        }
    }

    /// The seal or MAC job for a READ's data as `req` says (None: placed plain), its nonce reserved
    /// now. A session without keys, or a spent nonce sequence, fails the READ
    /// (STATUS_ENCRYPTION_FAILED rather than placing plaintext).
    fn protect_job(&mut self, req: &RdmaReq) -> Result<Option<smb_crypto::PlacedJob>, NtStatus> {
        if req.protect == Protect::Plain {
            return Ok(None);
        }
        let keys = self.placed_keys(req.session_id).ok_or(NtStatus::ENCRYPTION_FAILED)?;
        let job = match req.protect {
            Protect::Seal => keys.seal_job(),
            _ => keys.sign_job(),
        };
        job.map(Some).map_err(|_| NtStatus::ENCRYPTION_FAILED)
    }

    /// Seals or signs `data` in place here as `req` says: the crypto transform to send with it
    /// (None: placed plain).
    fn protect_placed(
        &mut self,
        req: &RdmaReq,
        data: &mut [u8],
    ) -> Result<Option<(CryptoTransformType, PlacedSeal)>, NtStatus> {
        let (Some(job), Some(kind)) = (self.protect_job(req)?, transform_type(req.protect)) else {
            return Ok(None);
        };
        match job.run(data) {
            Ok(Some(seal)) => Ok(Some((kind, seal))),
            _ => Err(NtStatus::ENCRYPTION_FAILED),
        }
    }

    /// The job that opens or verifies a WRITE's pulled data as its transform says (None: plain).
    /// Lengths the cipher or algorithm does not take were refused before the pull; should one
    /// get here, it answers like a tag that fails.
    fn check_job(&mut self, req: &RdmaReq) -> Result<Option<smb_crypto::PlacedJob>, NtStatus> {
        let Some(c) = &req.carried else { return Ok(None) };
        let keys = self.placed_keys(req.session_id).ok_or(NtStatus::ACCESS_DENIED)?;
        let job = match req.protect {
            Protect::Seal => keys.open_job(&c.nonce, &c.signature),
            Protect::Sign => keys.verify_job(&c.nonce, &c.signature),
            Protect::Plain => return Ok(None),
        };
        match job {
            Ok(j) => Ok(Some(j)),
            Err(_) => Err(self.placed_rejected(req)),
        }
    }

    /// The status for a WRITE whose transform's tag or MAC failed (see the module docs), with the
    /// event logged.
    pub(super) fn placed_rejected(&mut self, req: &RdmaReq) -> NtStatus {
        let (status, detail) = match req.protect {
            Protect::Sign => (NtStatus::INVALID_SIGNATURE, "a WRITE's RDMA-read data failed its signature"),
            _ => (NtStatus::AUTH_TAG_MISMATCH, "a WRITE's RDMA-read ciphertext failed its tag"),
        };
        self.events.push(Event::PlacedDataRejected { session_id: req.session_id, detail });
        status
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
        let Ok(mut lease) = result else {
            return self.violation("the RDMA READ of a WRITE's payload failed");
        };
        // A session logged off meanwhile has no keys to answer with, nor files to write.
        if self.sessions.get(&p.header.session_id).and_then(|s| s.valid()).is_none() {
            return Flow::Continue;
        }
        let len = p.args.len;
        let on_error = p.rdma.on_error();
        let encrypted = p.rdma.encrypted;
        // MS-SMB2 3.3.5.13: the data is opened or verified before anything reaches the file: by the
        // handler where it writes (a helper thread) if it can, else here first.
        let mut check = match self.check_job(&p.rdma) {
            Ok(job) => job,
            Err(status) => return self.refuse_pulled(&p.header, encrypted, status, on_error, tx),
        };
        if !self.files.runs_placed_crypto() {
            if let Some(job) = check.take() {
                if job.run(&mut lease[..len]).is_err() {
                    let status = self.placed_rejected(&p.rdma);
                    return self.refuse_pulled(&p.header, encrypted, status, on_error, tx);
                }
            }
        }
        let outcome = match self.files.begin_write(p.ctx, &p.header, &p.args) {
            IoStart::Deferred => {
                self.defer(&p.header, encrypted, len, None, Some(p.rdma));
                let payload =
                    IoBuffer { buf: IoBuf::Lease(lease), range: 0..len, crypto: check, lend: false };
                self.files.submit_write(p.header.message_id, payload);
                None
            }
            IoStart::Execute => match check.map(|job| job.run(&mut lease[..len])) {
                Some(Err(_)) => Some(Err(self.placed_rejected(&p.rdma))),
                _ => Some(self.files.write(p.ctx, &p.header, &p.args, &lease[..len])),
            },
            IoStart::Done(r) => Some(r),
        };
        if let Some(result) = outcome {
            if let Err(detail) = self.answer_write(&p.header, encrypted, result, Some(on_error), tx) {
                return self.violation(detail);
            }
        }
        self.answer_deferred(false, tx)
    }

    /// Answers a pulled WRITE with `status` (nothing written).
    fn refuse_pulled(
        &mut self,
        header: &Header,
        encrypted: bool,
        status: NtStatus,
        on_error: RdmaReply,
        tx: &mut dyn Transmit,
    ) -> Flow {
        if let Err(detail) = self.answer_write(header, encrypted, Err(status), Some(on_error), tx) {
            return self.violation(detail);
        }
        self.answer_deferred(false, tx)
    }

    /// Notes whether this connection can move data by RDMA, and its limit.
    pub(super) fn take_rdma(&mut self, tx: &mut dyn Transmit) {
        self.rdma_max = tx.rdma().map(|r| r.max_read_write());
    }
}

/// The crypto transform a protection sends (None: plain).
fn transform_type(p: Protect) -> Option<CryptoTransformType> {
    match p {
        Protect::Plain => None,
        Protect::Seal => Some(CryptoTransformType::ENCRYPTION),
        Protect::Sign => Some(CryptoTransformType::SIGNING),
    }
}

fn list_get(list: &BufferDescriptorList<'_>, i: usize) -> BufferDescriptorV1 {
    use smbdirect::descriptors::DescriptorSource;
    list.get(i)
}
