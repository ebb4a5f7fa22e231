//! MS-SMB2 3.2.5.1 receiving any message: the TRANSFORM_HEADER opened (3.2.5.1.1.1) into a buffer of
//! the connection's own, every PDU of a compound checked against its request and its signature
//! verified (3.2.5.1.3) before any is believed, credits granted, then each response completed
//! (3.2.5.2 onwards: NEGOTIATE and SESSION_SETUP in their own files, the others here).

use super::*;
use crate::completion::CreateInfo;
use crate::read_data::ReadData;
use core::ops::Range;
use smb_crypto::transform::open_message_to;
use smb_wire::close::CloseResponse;
use smb_wire::create::CreateResponse;
use smb_wire::flush::FlushResponse;
use smb_wire::ioctl::IoctlResponse;
use smb_wire::query_directory::QueryDirectoryResponse;
use smb_wire::query_info::QueryInfoResponse;
use smb_wire::read::ReadResponse;
use smb_wire::set_info::SetInfoResponse;
use smb_wire::tree_connect::{share_flags, TreeConnectResponse};
use smb_wire::write::WriteResponse;
use smb_wire::Compound;

/// Spare decryption buffers kept, at most: enough for a deep queue of READs coming back.
const SPARE_BUFFERS: usize = 32;
/// Bytes of spare buffers kept, at most.
const SPARE_BYTES: usize = 64 << 20;
/// Messages smaller than this are decrypted into a fresh buffer, and such buffers are not kept: a
/// pool full of small buffers would leave every large READ to allocate (and zero) its own.
const SPARE_MIN: usize = 64 << 10;

/// A completion as the response chain produced it; a READ's data is still at `read` in the message.
struct Done {
    completion: Completion,
    read: Option<Range<usize>>,
}

impl From<Completion> for Done {
    fn from(completion: Completion) -> Done {
        Done { completion, read: None }
    }
}

impl ClientConnection {
    /// Takes one received transport message (an SMB2 message, possibly compounded, or a transform)
    /// and returns what it completed. A message that fails its integrity checks is dropped whole and
    /// reported as an error; nothing in it is believed.
    ///
    /// READ data comes back in the buffer the message was decrypted into (no copy of it), or copied
    /// out of `msg` when the message was not encrypted or held more than the one READ response.
    pub fn receive(&mut self, msg: &mut [u8]) -> Result<Vec<Completion>, ClientError> {
        match msg.get(..4) {
            Some([0xFE, b'S', b'M', b'B']) => {
                let done = self.receive_chain(msg, false)?;
                Ok(copy_reads(done, msg))
            }
            Some([0xFD, b'S', b'M', b'B']) => {
                if msg.len() < TRANSFORM_HEADER_LEN + HEADER_LEN {
                    return Err(ClientError::TransformTooShort { len: msg.len() });
                }
                let (hdr, body) = msg.split_at_mut(TRANSFORM_HEADER_LEN);
                let mut header = [0u8; TRANSFORM_HEADER_LEN];
                header.copy_from_slice(hdr);
                let got = smb_crypto::transform::session_id(&header);
                let key = self
                    .session
                    .as_ref()
                    .filter(|s| s.id == got)
                    .and_then(Session::opening)
                    .ok_or(ClientError::UnknownTransformSession { got })?;
                // Decrypted out of place: the AEAD writes every plaintext byte anyway, and a buffer of
                // our own can then carry READ data to the caller as it is.
                let len = body.len();
                let mut plain = take_spare(&mut self.spare, len);
                if let Err(e) = open_message_to(key, &header, body, &mut plain[..len]) {
                    self.recycle(plain);
                    return Err(ClientError::Decrypt(e));
                }
                let done = match self.receive_chain(&mut plain[..len], true) {
                    Ok(done) => done,
                    Err(e) => {
                        self.recycle(plain);
                        return Err(e);
                    }
                };
                if let [Done { completion: Completion::Read { request, .. }, read: Some(range) }] = &done[..]
                {
                    if let Some(data) = ReadData::within(plain, range.clone()) {
                        return Ok(vec![Completion::Read { request: *request, data }]);
                    }
                    // Not reached: the range was taken from a part of the message.
                    return Err(ClientError::UnexpectedResponse { message_id: request.0 });
                }
                let completions = copy_reads(done, &plain[..len]);
                self.recycle(plain);
                Ok(completions)
            }
            _ => Err(ClientError::NotSmb2),
        }
    }

    fn receive_chain(&mut self, msg: &mut [u8], encrypted: bool) -> Result<Vec<Done>, ClientError> {
        let mut lens = Vec::new();
        for pdu in Compound::new(msg) {
            lens.push(pdu.map_err(ClientError::wire("compound chain"))?.len());
        }
        // Check every PDU before acting on any, so a tampered compound changes nothing.
        let mut start = 0;
        let mut headers = Vec::with_capacity(lens.len());
        for &len in &lens {
            let pdu = &mut msg[start..start + len];
            headers.push(self.check(pdu, encrypted)?);
            start += len;
        }
        let mut out = Vec::new();
        let mut start = 0;
        for (len, (header, pending)) in lens.into_iter().zip(headers) {
            let pdu_at = start;
            let pdu = &mut msg[start..start + len];
            start += len;
            self.credits.grant(header.credits);
            if header.is_async() && header.nt_status() == NtStatus::PENDING {
                // Interim response: the final one comes later under the same MessageId.
                continue;
            }
            self.pending.remove(&header.message_id);
            if let Some(mut d) = self.complete(pdu, &header, pending)? {
                d.read = d.read.map(|r| pdu_at + r.start..pdu_at + r.end);
                out.push(d);
            }
        }
        Ok(out)
    }

    /// MS-SMB2 3.2.5.1: the response must answer a request we sent, and carry the protection its
    /// session requires.
    fn check(&self, pdu: &mut [u8], encrypted: bool) -> Result<(Header, Pending), ClientError> {
        let header = Header::parse(pdu).map_err(ClientError::wire("SMB2 header"))?;
        let message_id = header.message_id;
        if !header.is_response() {
            return Err(ClientError::UnexpectedResponse { message_id });
        }
        let pending = *self.pending.get(&message_id).ok_or(ClientError::UnexpectedResponse { message_id })?;
        if pending.command != header.command {
            return Err(ClientError::UnexpectedResponse { message_id });
        }
        let command = header.command;
        let Some(session) = self.session.as_ref().filter(|s| s.id == header.session_id) else {
            // NEGOTIATE and SESSION_SETUP legs before keys: the preauth hash protects them, and the
            // final leg's signature is checked when it completes.
            if encrypted || pending.encrypted {
                return Err(ClientError::UnencryptedResponse { command, message_id });
            }
            // A request that went signed is answered by its session, signed. One naming another
            // session (or arriving after the session is gone) has nothing here to verify it, and
            // SessionId is a field a man in the middle can change as easily as any other.
            if pending.signed {
                return Err(ClientError::UnsignedResponse { command, message_id });
            }
            return Ok((header, pending));
        };
        if encrypted {
            return Ok((header, pending));
        }
        if pending.encrypted {
            return Err(ClientError::UnencryptedResponse { command, message_id });
        }
        let interim = header.is_async() && header.nt_status() == NtStatus::PENDING;
        if header.is_signed() {
            let key = session.signing().ok_or(ClientError::BadSignature { command, message_id })?;
            key.verify_in_place(pdu).map_err(|_| ClientError::BadSignature { command, message_id })?;
        } else if (pending.signed || session.signing_required) && !interim {
            return Err(ClientError::UnsignedResponse { command, message_id });
        }
        Ok((header, pending))
    }

    fn complete(
        &mut self,
        pdu: &mut [u8],
        header: &Header,
        pending: Pending,
    ) -> Result<Option<Done>, ClientError> {
        let request = RequestId(header.message_id);
        let status = header.nt_status();
        match header.command {
            Command::NEGOTIATE => return self.on_negotiate(pdu, header).map(|c| Some(c.into())),
            Command::SESSION_SETUP => {
                return self.on_session_setup(pdu, header, request).map(|c| c.map(Done::from))
            }
            _ => {}
        }
        if status.is_error() {
            return Ok(Some(Completion::Error { request, command: header.command, status }.into()));
        }
        let c = match header.command {
            Command::TREE_CONNECT => {
                let rsp =
                    TreeConnectResponse::parse(pdu).map_err(ClientError::wire("TREE_CONNECT response"))?;
                let tree = header.tree_id().unwrap_or(0);
                self.trees.insert(tree, rsp.share_flags & share_flags::ENCRYPT_DATA != 0);
                Completion::TreeConnected { request, tree: TreeHandle(tree), share_flags: rsp.share_flags }
            }
            Command::TREE_DISCONNECT => {
                self.trees.remove(&pending.tree);
                Completion::TreeDisconnected { request }
            }
            Command::CREATE => {
                let rsp = CreateResponse::parse(pdu).map_err(ClientError::wire("CREATE response"))?;
                let file = FileHandle { tree: TreeHandle(pending.tree), file_id: rsp.file_id };
                Completion::Created {
                    request,
                    file,
                    info: CreateInfo { action: rsp.create_action, info: rsp.info },
                }
            }
            Command::READ if pending.rdma => {
                let rsp = ReadResponse::parse(pdu).map_err(ClientError::wire("READ response"))?;
                // MS-SMB2 3.3.5.12: the data went by RDMA Write; DataRemaining says how much, and
                // the transform (3.2.5.11) how it is protected.
                let transform =
                    self.read_transform(request.0, &rsp, pending.encrypted, header.is_signed())?;
                Completion::ReadPlaced { request, len: rsp.data_remaining, transform }
            }
            Command::READ => {
                let rsp = ReadResponse::parse(pdu).map_err(ClientError::wire("READ response"))?;
                // The data is a part of `pdu`; where it starts there is its offset.
                let at = (rsp.data.as_ptr() as usize).wrapping_sub(pdu.as_ptr() as usize);
                let data = ReadData::default();
                return Ok(Some(Done {
                    completion: Completion::Read { request, data },
                    read: Some(at..at + rsp.data.len()),
                }));
            }
            Command::WRITE => {
                let rsp = WriteResponse::parse(pdu).map_err(ClientError::wire("WRITE response"))?;
                Completion::Written { request, count: rsp.count }
            }
            Command::CLOSE => {
                CloseResponse::parse(pdu).map_err(ClientError::wire("CLOSE response"))?;
                Completion::Closed { request, file_id: pending.file.unwrap_or_default() }
            }
            Command::FLUSH => {
                FlushResponse::parse(pdu).map_err(ClientError::wire("FLUSH response"))?;
                Completion::Flushed { request }
            }
            Command::QUERY_DIRECTORY => {
                let rsp = QueryDirectoryResponse::parse(pdu)
                    .map_err(ClientError::wire("QUERY_DIRECTORY response"))?;
                Completion::DirectoryListed { request, entries: rsp.output.to_vec() }
            }
            Command::QUERY_INFO => {
                let rsp = QueryInfoResponse::parse(pdu).map_err(ClientError::wire("QUERY_INFO response"))?;
                Completion::InfoQueried { request, output: rsp.output.to_vec() }
            }
            Command::SET_INFO => {
                SetInfoResponse::parse(pdu).map_err(ClientError::wire("SET_INFO response"))?;
                Completion::InfoSet { request }
            }
            Command::IOCTL => {
                let rsp = IoctlResponse::parse(pdu).map_err(ClientError::wire("IOCTL response"))?;
                self.check_validation(header, &pending, &rsp)?;
                Completion::Validated { request }
            }
            Command::LOGOFF => {
                self.session = None;
                self.trees.clear();
                self.phase = Phase::LoggedOff;
                Completion::LoggedOff { request }
            }
            _ => return Ok(None),
        };
        Ok(Some(c.into()))
    }

    /// Gives a buffer back for decrypting later messages into, typically that of a [`ReadData`]
    /// the caller is done with (see [`ReadData::into_buffer`]). Kept only while the spare buffers
    /// stay within their bounds.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        let held: usize = self.spare.iter().map(Vec::len).sum();
        if self.spare.len() < SPARE_BUFFERS
            && held + buf.capacity() <= SPARE_BYTES
            && buf.capacity() >= SPARE_MIN
        {
            buf.resize(buf.capacity(), 0);
            self.spare.push(buf);
        }
    }
}

/// A buffer of at least `len` bytes to decrypt into: a spare one if any is large enough.
fn take_spare(spare: &mut Vec<Vec<u8>>, len: usize) -> Vec<u8> {
    if len < SPARE_MIN {
        return vec![0; len];
    }
    match spare.iter().rposition(|b| b.len() >= len) {
        Some(i) => spare.swap_remove(i),
        None => vec![0; len],
    }
}

/// The completions of a message, each READ given a copy of its data from `msg`.
fn copy_reads(done: Vec<Done>, msg: &[u8]) -> Vec<Completion> {
    done.into_iter()
        .map(|d| match (d.completion, d.read) {
            (Completion::Read { request, .. }, Some(r)) => {
                Completion::Read { request, data: msg.get(r).unwrap_or_default().to_vec().into() }
            }
            (c, _) => c,
        })
        .collect()
}
