//! MS-SMB2 3.2.4.2.2.2 the SMB2 NEGOTIATE request and 3.2.5.2 its response (with the 3.1.1 contexts
//! and the connection's preauth hash), and for 3.0/3.0.2, which have no preauth hash, the
//! FSCTL_VALIDATE_NEGOTIATE_INFO exchange that confirms the negotiation after logon (3.2.5.5,
//! 3.2.4.20.1, 3.2.5.14.12).

use super::*;
use smb_wire::fsctl::{CtlCode, Dialects, ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse};
use smb_wire::ioctl::{ioctl_flags, IoctlRequest, IoctlResponse};
use smb_wire::negotiate::{capabilities, security_mode, NegotiateRequest, NegotiateResponse};
use smb_wire::negotiate_context::{
    CipherId, ContextData, EncryptionCapabilities, HashAlgorithm, NegotiateContextList,
    PreauthIntegrityCapabilities, RdmaTransformCapabilities, RdmaTransformSet,
    SigningAlgorithm as WireSigning, SigningCapabilities, U16List,
};
use smb_wire::pdu::EncodeDyn;

impl ClientConnection {
    /// MS-SMB2 3.2.4.2.2.2 the NEGOTIATE request, with the 3.1.1 contexts when 3.1.1 is offered.
    pub fn negotiate(&mut self) -> Result<Vec<u8>, ClientError> {
        self.expect(Phase::Start, "negotiate")?;
        let mut dialects: Vec<Dialect> = self.cfg.dialects.clone();
        dialects.sort_by_key(|d| d.0);
        dialects.dedup();
        let mut dialect_buf = vec![0u8; 2 * dialects.len()];
        let dialect_list =
            U16List::build(&dialects, &mut dialect_buf).map_err(ClientError::wire("Dialects"))?;
        let ciphers: Vec<CipherId> = self.cfg.ciphers.iter().map(|c| CipherId(c.id())).take(16).collect();
        let algs: Vec<WireSigning> = self.cfg.signing.iter().map(|a| WireSigning(a.id())).take(16).collect();
        let (mut hb, mut cb, mut sb, mut rb, mut region) =
            ([0u8; 2], [0u8; 32], [0u8; 32], [0u8; 4], [0u8; 256]);
        let mut items: Vec<ContextData<'_>> = vec![PreauthIntegrityCapabilities {
            hash_algorithms: U16List::build(&[HashAlgorithm::SHA512], &mut hb)
                .map_err(ClientError::wire("HashAlgorithms"))?,
            salt: &self.salt,
        }
        .into()];
        if !ciphers.is_empty() {
            let ciphers = U16List::build(&ciphers, &mut cb).map_err(ClientError::wire("Ciphers"))?;
            items.push(EncryptionCapabilities { ciphers }.into());
        }
        if !algs.is_empty() {
            let algorithms =
                U16List::build(&algs, &mut sb).map_err(ClientError::wire("SigningAlgorithms"))?;
            items.push(SigningCapabilities { algorithms }.into());
        }
        if self.cfg.rdma_transform {
            let transform_ids = U16List::build(&RdmaTransformSet::ALL.ids(), &mut rb)
                .map_err(ClientError::wire("RDMATransformIds"))?;
            items.push(RdmaTransformCapabilities { transform_ids }.into());
        }
        let contexts = if dialects.contains(&Dialect::SMB_3_1_1) {
            NegotiateContextList::build(&items, &mut region)
                .map_err(ClientError::wire("NegotiateContexts"))?
        } else {
            NegotiateContextList::default()
        };
        let mut caps = capabilities::LARGE_MTU;
        // CAP_ENCRYPTION says the client can encrypt at all. 3.0.x servers take it to mean
        // AES-128-CCM; 3.1.1 servers (Samba among them) still look for it before the cipher context.
        if !self.cfg.ciphers.is_empty() {
            caps |= capabilities::ENCRYPTION;
        }
        self.capabilities = caps;
        let req = NegotiateRequest {
            security_mode: self.security_mode(),
            capabilities: caps,
            client_guid: self.client_guid,
            client_start_time: 0,
            dialects: dialect_list,
            contexts,
        };
        let (_, pdu) = self.frame(Command::NEGOTIATE, 0, 1, &req, None)?;
        self.negotiate_request = pdu.clone();
        self.phase = Phase::Negotiating;
        Ok(pdu)
    }

    pub(super) fn security_mode(&self) -> u16 {
        security_mode::SIGNING_ENABLED
            | if self.cfg.require_signing { security_mode::SIGNING_REQUIRED } else { 0 }
    }

    /// MS-SMB2 3.2.5.5 / 3.2.4.20.1: FSCTL_VALIDATE_NEGOTIATE_INFO on `tree`, repeating what this
    /// client's NEGOTIATE said; the (signed) answer must repeat what the server's said.
    pub fn validate_negotiate(&mut self, tree: TreeHandle) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("validate_negotiate", tree)?;
        let mut dialects: Vec<u16> = self.cfg.dialects.iter().map(|d| d.0).collect();
        dialects.sort_unstable();
        dialects.dedup();
        let input = ValidateNegotiateInfoRequest {
            capabilities: self.capabilities,
            guid: self.client_guid,
            security_mode: self.security_mode(),
            dialects: Dialects::from_slice(&dialects),
        };
        let input = smb_wire::Encode::to_vec(&input);
        let req = IoctlRequest {
            ctl_code: CtlCode::VALIDATE_NEGOTIATE_INFO,
            file_id: FileId::ANY,
            max_input_response: 0,
            max_output_response: ValidateNegotiateInfoResponse::LEN as u32,
            flags: ioctl_flags::IS_FSCTL,
            input: &input,
            output: &[],
        };
        self.send_protected(Command::IOCTL, tree.0, &req)
    }

    /// VALIDATE_NEGOTIATE_INFO is signed whatever the session's signing policy (MS-SMB2 3.2.4.20.1),
    /// or sealed when the session encrypts, so a man in the middle who altered the negotiation
    /// cannot answer it.
    fn send_protected(
        &mut self,
        command: Command,
        tree: u32,
        body: &dyn EncodeDyn,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        if self.session.as_ref().is_some_and(|s| s.signing().is_none()) {
            return Err(ClientError::WrongState { op: "validate_negotiate", state: "no signing key" });
        }
        let force = self.session.as_mut().map(|s| std::mem::replace(&mut s.signing_required, true));
        let r = self.send(command, tree, 1, body, None);
        if let (Some(s), Some(was)) = (self.session.as_mut(), force) {
            s.signing_required = was;
        }
        r
    }

    /// MS-SMB2 3.2.5.14.12: the answer to VALIDATE_NEGOTIATE_INFO must be signed and repeat the
    /// NEGOTIATE response; anything else means the negotiation was tampered with.
    pub(super) fn check_validation(
        &mut self,
        header: &Header,
        pending: &Pending,
        rsp: &IoctlResponse<'_>,
    ) -> Result<(), ClientError> {
        let n = self
            .negotiated
            .as_ref()
            .ok_or(ClientError::WrongState { op: "IOCTL", state: "not negotiated" })?;
        if rsp.ctl_code != CtlCode::VALIDATE_NEGOTIATE_INFO {
            return Err(ClientError::UnexpectedResponse { message_id: header.message_id });
        }
        // check() has verified the signature or the seal; one of them must be there.
        if !header.is_signed() && !pending.encrypted {
            return Err(ClientError::UnsignedResponse {
                command: Command::IOCTL,
                message_id: header.message_id,
            });
        }
        let got = ValidateNegotiateInfoResponse::parse(rsp.output)
            .map_err(ClientError::wire("VALIDATE_NEGOTIATE_INFO response"))?;
        if got.dialect != n.dialect.0
            || got.guid != n.server_guid
            || got.security_mode != n.server_security_mode
            || got.capabilities != n.server_capabilities
        {
            self.phase = Phase::Failed;
            return Err(ClientError::NegotiateTampered);
        }
        self.validated = true;
        Ok(())
    }

    /// MS-SMB2 3.2.5.2 receiving the NEGOTIATE response.
    pub(super) fn on_negotiate(&mut self, pdu: &[u8], header: &Header) -> Result<Completion, ClientError> {
        if self.phase != Phase::Negotiating {
            return Err(ClientError::WrongState { op: "NEGOTIATE response", state: self.phase.name() });
        }
        let status = header.nt_status();
        if status != NtStatus::SUCCESS {
            self.phase = Phase::Failed;
            return Ok(Completion::Error {
                request: RequestId(header.message_id),
                command: Command::NEGOTIATE,
                status,
            });
        }
        match self.negotiated_from(pdu) {
            Ok(c) => Ok(c),
            Err(e) => {
                self.phase = Phase::Failed;
                Err(e)
            }
        }
    }

    fn negotiated_from(&mut self, pdu: &[u8]) -> Result<Completion, ClientError> {
        let rsp = NegotiateResponse::parse(pdu).map_err(ClientError::wire("NEGOTIATE response"))?;
        let dialect = rsp.dialect_revision;
        if let Some(lowest) = self.cfg.lowest_dialect() {
            if dialect.0 < lowest.0 {
                return Err(ClientError::DialectDowngrade { got: dialect, lowest });
            }
        }
        if !self.cfg.dialects.contains(&dialect) {
            return Err(ClientError::DialectNotOffered { got: dialect });
        }
        let bad = |detail| ClientError::BadNegotiate { detail };
        let mut cipher = None;
        let mut rdma_transforms = RdmaTransformSet::NONE;
        let mut signing = match dialect {
            Dialect::SMB_2_0_2 | Dialect::SMB_2_1 => SigningAlgorithm::HmacSha256,
            _ => SigningAlgorithm::AesCmac,
        };
        if dialect == Dialect::SMB_3_1_1 {
            let mut saw_preauth = false;
            for ctx in rsp.contexts.iter() {
                match ctx.decode().map_err(ClientError::wire("negotiate context"))? {
                    ContextData::PreauthIntegrity(p) => {
                        if p.hash_algorithms.len() != 1
                            || p.hash_algorithms.first() != Some(HashAlgorithm::SHA512)
                        {
                            return Err(bad("preauth hash algorithm is not SHA-512"));
                        }
                        saw_preauth = true;
                    }
                    ContextData::Encryption(e) => {
                        let id = e.ciphers.first().ok_or(bad("empty ENCRYPTION_CAPABILITIES"))?;
                        if e.ciphers.len() != 1 {
                            return Err(bad("more than one cipher chosen"));
                        }
                        if id != CipherId::NONE {
                            let c = Cipher::from_id(id.0).filter(|c| self.cfg.ciphers.contains(c));
                            cipher = Some(c.ok_or(bad("server chose a cipher that was not offered"))?);
                        }
                    }
                    ContextData::Signing(s) => {
                        let id = s.algorithms.first().ok_or(bad("empty SIGNING_CAPABILITIES"))?;
                        let a = SigningAlgorithm::from_id(id.0).filter(|a| self.cfg.signing.contains(a));
                        signing = a.ok_or(bad("server chose a signing algorithm that was not offered"))?;
                    }
                    // MS-SMB2 3.2.5.2: Connection.RDMATransformIds, from what was offered only.
                    ContextData::RdmaTransform(t) if self.cfg.rdma_transform => {
                        if t.transform_ids.is_empty() {
                            return Err(bad("empty RDMA_TRANSFORM_CAPABILITIES"));
                        }
                        rdma_transforms = RdmaTransformSet::from_ids(t.transform_ids.iter());
                    }
                    _ => {}
                }
            }
            if !saw_preauth {
                return Err(bad("3.1.1 response without PREAUTH_INTEGRITY_CAPABILITIES"));
            }
            let hash = PreauthHash::new(self.cfg.backend).updated(&self.negotiate_request).updated(pdu);
            self.connection_hash = Some(hash);
        } else if dialect.0 >= Dialect::SMB_3_0.0
            && rsp.capabilities & capabilities::ENCRYPTION != 0
            && self.cfg.ciphers.contains(&Cipher::Aes128Ccm)
        {
            cipher = Some(Cipher::Aes128Ccm);
        }
        self.validated = !matches!(dialect, Dialect::SMB_3_0 | Dialect::SMB_3_0_2);
        if self.cfg.require_privacy {
            if dialect.0 < Dialect::SMB_3_0.0 {
                return Err(ClientError::PrivacyUnavailable {
                    reason: "the negotiated dialect predates encryption",
                });
            }
            if cipher.is_none() {
                return Err(ClientError::PrivacyUnavailable {
                    reason: "no cipher in common with the server",
                });
            }
        }
        self.negotiated = Some(Negotiated {
            dialect,
            cipher,
            signing,
            server_signing_required: rsp.security_mode & security_mode::SIGNING_REQUIRED != 0,
            large_mtu: rsp.capabilities & capabilities::LARGE_MTU != 0,
            max_read: rsp.max_read_size,
            max_write: rsp.max_write_size,
            server_guid: rsp.server_guid,
            server_capabilities: rsp.capabilities,
            server_security_mode: rsp.security_mode,
            rdma_transforms,
        });
        self.phase = Phase::Negotiated;
        Ok(Completion::Negotiated { dialect, cipher, signing })
    }
}
