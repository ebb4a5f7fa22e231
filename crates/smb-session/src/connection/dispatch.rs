//! MS-SMB2 3.3.5.2.x checks that every request after NEGOTIATE passes (session, signature,
//! encryption policy, tree, credit charge) and the commands this crate answers itself; file commands
//! go to the [`FileHandler`].

use super::*;
use crate::handler::{IoBuf, IoBuffer, IoStart, WriteArgs};
use smb_wire::read::ReadRequest;
use smb_wire::tree_connect::TreeConnectRequest;
use smb_wire::write::WriteResponse;

impl<F: FileHandler, A: AuthFactory> ServerConnection<F, A> {
    pub(super) fn on_request(
        &mut self,
        pdu: &mut [u8],
        header: &Header,
        encrypted: bool,
        related: &mut Related,
        tx: &mut dyn Transmit,
    ) -> Result<(NtStatus, Reply), Fail> {
        if header.command == Command::SESSION_SETUP {
            let (status, p) = self.on_session_setup(pdu, header, related)?;
            return Ok((status, Reply::from_vec(p)));
        }
        // MS-SMB2 3.3.5.2.9: the session must exist and be established.
        let sec = match self.sessions.get(&header.session_id) {
            Some(s) => s.valid().ok_or(NtStatus::USER_SESSION_DELETED)?,
            None => return Err(NtStatus::USER_SESSION_DELETED.into()),
        };
        // MS-SMB2 3.3.5.2.4: signatures of signed requests are checked; a session that requires
        // signing refuses unsigned (and unencrypted) requests.
        if !encrypted {
            if header.is_signed() {
                if let Some(key) = sec.signing() {
                    if key.verify_in_place(pdu).is_err() {
                        return Err(NtStatus::ACCESS_DENIED.into());
                    }
                }
            } else if sec.signing_required && !matches!(header.command, Command::ECHO) {
                return Err(NtStatus::ACCESS_DENIED.into());
            }
        }
        // MS-SMB2 3.3.5.2.9 / 3.3.5.2.11: EncryptData sessions and trees take encrypted requests only.
        if !encrypted && self.cfg.reject_unencrypted_access {
            if sec.encrypt_data {
                self.events.push(Event::UnencryptedAccessRejected {
                    share: None,
                    reason: "unencrypted request on a session that requires encryption",
                });
                return Err(NtStatus::ACCESS_DENIED.into());
            }
            if let Some(tree) =
                header.tree_id().and_then(|t| self.sessions.get(&header.session_id)?.trees.get(&t))
            {
                if tree.encrypt && header.command != Command::TREE_CONNECT {
                    let share = Some(tree.grant.share_name.clone());
                    self.events.push(Event::UnencryptedAccessRejected {
                        share,
                        reason: "unencrypted request on a share that requires encryption",
                    });
                    return Err(NtStatus::ACCESS_DENIED.into());
                }
            }
        }
        let pdu_at = pdu.as_ptr() as usize;
        let pdu_len = pdu.len();
        let parsed = parse_request(pdu).map_err(|_| NtStatus::INVALID_PARAMETER)?.1;
        // Where a WRITE's payload lies in the PDU, for handing it over in place: only a payload that
        // is there (an empty one need not be) and starts on a page, as handlers are promised (the
        // receive path places DataOffset 0x70 so; a client's other offset lands anywhere). Any other
        // WRITE is done at once.
        let payload_at = match &parsed {
            Request::Write(w)
                if !w.data.is_empty() && (w.data.as_ptr() as usize).is_multiple_of(super::PAGE) =>
            {
                (w.data.as_ptr() as usize)
                    .checked_sub(pdu_at)
                    .filter(|at| at.checked_add(w.data.len()).is_some_and(|end| end <= pdu_len))
            }
            _ => None,
        };
        let mut p = self.new_pdu();
        match &parsed {
            Request::Echo(_) => {
                put_body(&mut p, &Echo);
                return Ok((NtStatus::SUCCESS, Reply::from_vec(p)));
            }
            Request::Logoff(_) => {
                self.files.logoff(header.session_id);
                put_body(&mut p, &Logoff);
                // The session goes once its (signed) response is out: see `on_chain`.
                return Ok((NtStatus::SUCCESS, Reply::from_vec(p)));
            }
            Request::TreeConnect(tc) => {
                let (status, p) = self.on_tree_connect(header, tc, p)?;
                return Ok((status, Reply::from_vec(p)));
            }
            _ => {}
        }
        // Everything else runs in a tree (MS-SMB2 3.3.5.2.11).
        let tree_id = header.tree_id().unwrap_or(0);
        let share = self
            .sessions
            .get(&header.session_id)
            .and_then(|s| s.trees.get(&tree_id))
            .map(|t| t.grant.share)
            .ok_or(NtStatus::NETWORK_NAME_DELETED)?;
        let ctx = FileContext { session_id: header.session_id, tree_id, share };
        self.check_charge(header, &parsed)?;
        let p = match &parsed {
            Request::TreeDisconnect(_) => {
                self.files.tree_disconnect(ctx);
                if let Some(s) = self.sessions.get_mut(&header.session_id) {
                    s.trees.remove(&tree_id);
                }
                put_body(&mut p, &TreeDisconnect);
                (NtStatus::SUCCESS, p)
            }
            Request::Ioctl(io) if io.ctl_code == CtlCode::VALIDATE_NEGOTIATE_INFO => {
                let status = self.validate_negotiate(io.input, io.max_output_response, &mut p)?;
                (status, p)
            }
            Request::Ioctl(io) if io.ctl_code == CtlCode::QUERY_NETWORK_INTERFACE_INFO => {
                let status = self.network_interface_info(io.max_output_response, &mut p)?;
                (status, p)
            }
            Request::Other { .. } => return Err(NtStatus::NOT_SUPPORTED.into()),
            req => match with_related_file_id(req, related.file_id) {
                Request::Read(r) => {
                    self.recycle(Reply::from_vec(p));
                    let rdma = self.rdma_channel(
                        r.channel,
                        r.channel_info,
                        r.length.into(),
                        header,
                        encrypted,
                        false,
                    )?;
                    return match rdma {
                        Some(req) => self.on_rdma_read(ctx, header, &r, req, tx),
                        None => {
                            // Inline over SMB Direct, the response must fit one message the client
                            // reassembles: a larger READ gets a clear refusal, not a broken
                            // connection (Linux 6.1 asks for 1 MiB sealed READs inline).
                            let room = super::reply::HEADROOM + super::reply::READ_DATA_OFFSET;
                            if tx.rdma().is_some_and(|t| r.length as usize + room > t.max_message()) {
                                return Err(NtStatus::INVALID_PARAMETER.into());
                            }
                            self.on_read(ctx, header, &r, encrypted)
                        }
                    };
                }
                Request::Write(w) if w.channel != smb_wire::Channel::NONE => {
                    self.recycle(Reply::from_vec(p));
                    let io_len = w.remaining_bytes.into();
                    let Some(req) =
                        self.rdma_channel(w.channel, w.channel_info, io_len, header, encrypted, true)?
                    else {
                        return Err(NtStatus::INVALID_PARAMETER.into());
                    };
                    return self.on_rdma_write(ctx, header, &w, req, tx);
                }
                Request::Write(w)
                    if self.defer_ok && payload_at.is_some() && self.may_defer(w.data.len()) =>
                {
                    match self.files.begin_write(ctx, header, &WriteArgs::of(&w)) {
                        IoStart::Execute => {
                            let status = self.files.execute(ctx, header, &Request::Write(w), &mut p)?;
                            (status, p)
                        }
                        IoStart::Done(result) => (write_response(result?, &mut p), p),
                        IoStart::Deferred => {
                            // The payload's place in the message (checked above to lie in the PDU).
                            let at = payload_at.unwrap_or_default();
                            self.deferring = Some((header.message_id, at..at + w.data.len()));
                            self.recycle(Reply::from_vec(p));
                            self.defer(header, encrypted, w.data.len(), None, None);
                            return Err(Fail::Deferred);
                        }
                    }
                }
                req => {
                    let status = self.files.execute(ctx, header, &req, &mut p)?;
                    (status, p)
                }
            },
        };
        Ok((p.0, Reply::from_vec(p.1)))
    }

    /// Whether a request with a buffer of `len` bytes may be offered to the handler for deferral:
    /// it is the whole message, the connection's deferred requests are within their bounds, and
    /// the memory budget has room (a deferred request holds its buffer until a helper is done; one
    /// done at once holds it only while it runs).
    pub(super) fn may_defer(&self, len: usize) -> bool {
        self.single_pdu
            && self.deferring.is_none()
            && self.deferred.len() < MAX_DEFERRED
            && self.deferred_bytes + len <= MAX_DEFERRED_BYTES
            && !self.held.exhausted()
    }

    /// Records a request the handler took over, to be answered by `answer_deferred`.
    pub(super) fn defer(
        &mut self,
        header: &Header,
        encrypted: bool,
        len: usize,
        read_minimum: Option<u32>,
        rdma: Option<super::rdma::RdmaReq>,
    ) {
        self.deferred_bytes += len;
        self.deferred
            .insert(header.message_id, Deferred { header: *header, encrypted, len, read_minimum, rdma });
    }

    /// MS-SMB2 3.3.5.12: the handler reads straight into the response, laid out so that it can be
    /// sealed and sent where it lies.
    fn on_read(
        &mut self,
        ctx: FileContext,
        header: &Header,
        r: &ReadRequest<'_>,
        encrypted: bool,
    ) -> Result<(NtStatus, Reply), Fail> {
        // Length was checked against MaxReadSize by check_charge.
        let len = r.length as usize;
        if self.may_defer(len) {
            match self.files.begin_read(ctx, header, r) {
                IoStart::Deferred => {
                    let reply = Reply::for_read(self.new_read_buf(), len);
                    let range = reply.data_range();
                    let lend = self.seals_from_lent(header, encrypted, len);
                    self.defer(header, encrypted, len, Some(r.minimum_count), None);
                    let area = IoBuffer { lend, ..IoBuffer::plain(IoBuf::Heap(reply.into_buf()), range) };
                    self.files.submit_read(header.message_id, area);
                    return Err(Fail::Deferred);
                }
                IoStart::Done(Err(status)) => return Err(status.into()),
                IoStart::Done(Ok(_)) | IoStart::Execute => {}
            }
        }
        let mut reply = Reply::for_read(self.new_read_buf(), len);
        match self.files.read(ctx, header, r, reply.read_data()) {
            Ok(n) if n > 0 && n >= r.minimum_count as usize => {
                reply.finish_read(n);
                Ok((NtStatus::SUCCESS, reply))
            }
            Ok(_) => {
                self.recycle(reply);
                Err(NtStatus::END_OF_FILE.into())
            }
            Err(status) => {
                self.recycle(reply);
                Err(status.into())
            }
        }
    }

    fn on_tree_connect(
        &mut self,
        header: &Header,
        tc: &TreeConnectRequest<'_>,
        mut p: Vec<u8>,
    ) -> Result<(NtStatus, Vec<u8>), Fail> {
        let path = tc.path.to_string().map_err(|_| NtStatus::BAD_NETWORK_NAME)?;
        let share = path.rsplit('\\').next().unwrap_or("").to_string();
        let session_id = header.session_id;
        let (can_encrypt, trees, user) = {
            let s = self.sessions.get(&session_id).ok_or(NtStatus::USER_SESSION_DELETED)?;
            let sec = s.valid();
            let user = sec.filter(|v| !v.anonymous).map(|v| v.user.clone()).unwrap_or_default();
            (sec.is_some_and(SessionSecurity::can_encrypt), s.trees.len(), user)
        };
        if trees >= self.cfg.max_trees {
            return Err(NtStatus::INSUFFICIENT_RESOURCES.into());
        }
        let grant = match self.files.tree_connect(session_id, &user, &share) {
            Err(NtStatus::ACCESS_DENIED) => {
                self.events.push(Event::ShareAccessDenied { user, share });
                return Err(NtStatus::ACCESS_DENIED.into());
            }
            r => r?,
        };
        // MS-SMB2 3.3.5.7: a share that requires encryption refuses a client that cannot encrypt,
        // unless the administrator allowed unencrypted access.
        if grant.encrypt_data && !can_encrypt && self.cfg.reject_unencrypted_access {
            self.events.push(Event::UnencryptedAccessRejected {
                share: Some(grant.share_name.clone()),
                reason: "share requires encryption and the client cannot encrypt",
            });
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        let encrypt = grant.encrypt_data && can_encrypt;
        let tree_id = self.next_tree_id;
        self.next_tree_id = self.next_tree_id.wrapping_add(1).max(1);
        let rsp = TreeConnectResponse {
            share_type: grant.share_type,
            share_flags: if encrypt { share_flags::ENCRYPT_DATA } else { 0 },
            capabilities: 0,
            maximal_access: grant.maximal_access,
        };
        put_body(&mut p, &rsp);
        if let Some(s) = self.sessions.get_mut(&session_id) {
            s.trees.insert(tree_id, Tree { grant, encrypt });
        }
        // The response header carries the new TreeId.
        p[36..40].copy_from_slice(&tree_id.to_le_bytes());
        Ok((NtStatus::SUCCESS, p))
    }

    /// MS-SMB2 3.3.5.2.5: multi-credit requests must pay for their payload, and I/O is bounded by the
    /// sizes this server announced.
    fn check_charge(&self, header: &Header, req: &Request<'_>) -> Result<(), Fail> {
        let (payload, max) = match req {
            Request::Read(r) => (r.length as usize, self.cfg.max_read_size),
            Request::Write(w) => (w.data.len().max(w.remaining_bytes as usize), self.cfg.max_write_size),
            Request::QueryDirectory(q) => (q.output_buffer_length as usize, self.cfg.max_transact_size),
            Request::QueryInfo(q) => (q.output_buffer_length as usize, self.cfg.max_transact_size),
            Request::Ioctl(i) => {
                (i.input.len().max(i.max_output_response as usize), self.cfg.max_transact_size)
            }
            _ => return Ok(()),
        };
        if payload > max as usize {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        let large_mtu =
            self.negotiated.as_ref().is_some_and(|n| n.server_capabilities & capabilities::LARGE_MTU != 0);
        let needed = payload.div_ceil(65536).max(1);
        if large_mtu && usize::from(header.credit_charge.max(1)) < needed {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        if !large_mtu && payload > 65536 {
            return Err(NtStatus::INVALID_PARAMETER.into());
        }
        Ok(())
    }
}

/// MS-SMB2 2.2.2 ERROR Response body for a failed request; returns `status`.
pub(super) fn error_body(status: NtStatus, p: &mut Vec<u8>) -> NtStatus {
    put_body(p, &ErrorResponse { error_context_count: 0, error_data: &[] });
    status
}

/// MS-SMB2 2.2.22 WRITE Response body for `count` bytes written.
pub(super) fn write_response(count: u32, p: &mut Vec<u8>) -> NtStatus {
    let rsp =
        WriteResponse { count, remaining: 0, write_channel_info_offset: 0, write_channel_info_length: 0 };
    put_body(p, &rsp);
    NtStatus::SUCCESS
}

/// In a related compound, FileId all-ones means "the file the previous CREATE opened".
fn with_related_file_id<'a>(req: &Request<'a>, file_id: Option<FileId>) -> Request<'a> {
    let Some(id) = file_id else { return req.clone() };
    let pick = |f: FileId| if f == FileId::ANY { id } else { f };
    let mut r = req.clone();
    match &mut r {
        Request::Close(x) => x.file_id = pick(x.file_id),
        Request::Flush(x) => x.file_id = pick(x.file_id),
        Request::Read(x) => x.file_id = pick(x.file_id),
        Request::Write(x) => x.file_id = pick(x.file_id),
        Request::Ioctl(x) => x.file_id = pick(x.file_id),
        Request::QueryDirectory(x) => x.file_id = pick(x.file_id),
        Request::QueryInfo(x) => x.file_id = pick(x.file_id),
        Request::SetInfo(x) => x.file_id = pick(x.file_id),
        _ => {}
    }
    r
}
