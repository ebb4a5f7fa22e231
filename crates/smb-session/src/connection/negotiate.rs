//! MS-SMB2 3.3.5.4 Receiving an SMB2 NEGOTIATE Request, and 3.3.5.15.12 FSCTL_VALIDATE_NEGOTIATE_INFO.

use super::*;

impl<F: FileHandler, A: AuthFactory> ServerConnection<F, A> {
    pub(super) fn on_negotiate(&mut self, pdu: &[u8], header: &Header, now: u64) -> Result<PduReply, Event> {
        if self.negotiated.is_some() {
            return Err(Event::ProtocolViolation { detail: "second NEGOTIATE on a connection" });
        }
        let fail = |this: &Self, status: NtStatus| {
            let mut p = vec![0u8; HEADER_LEN];
            put_body(&mut p, &ErrorResponse::default());
            this.finish_header(&mut p, header, status, 1, 0, 0);
            PduReply { bytes: Reply::from_vec(p), sign_with: None, rdma: None }
        };
        let Ok(req) = NegotiateRequest::parse(pdu) else {
            return Ok(fail(self, NtStatus::INVALID_PARAMETER));
        };
        if req.dialects.is_empty() {
            return Ok(fail(self, NtStatus::INVALID_PARAMETER));
        }
        let offered: Vec<u16> = req.dialects.iter().take(MAX_CLIENT_DIALECTS).map(|d| d.0).collect();
        let Some(dialect) =
            self.cfg.dialects.iter().copied().filter(|d| offered.contains(&d.0)).max_by_key(|d| d.0)
        else {
            return Ok(fail(self, NtStatus::NOT_SUPPORTED));
        };

        let mut cipher = None;
        let mut signing = None;
        let mut saw = (false, false, false);
        // The client's RDMA_TRANSFORM_CAPABILITIES, when it sent one.
        let mut rdma_offer: Option<RdmaTransformSet> = None;
        if dialect == Dialect::SMB_3_1_1 {
            for ctx in req.contexts.iter() {
                match ctx.decode() {
                    Ok(ContextData::PreauthIntegrity(p)) => {
                        if saw.0 {
                            return Ok(fail(self, NtStatus::INVALID_PARAMETER));
                        }
                        saw.0 = true;
                        if !p.hash_algorithms.iter().any(|h| h == HashAlgorithm::SHA512) {
                            return Ok(fail(self, NtStatus::SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP));
                        }
                    }
                    Ok(ContextData::Encryption(e)) => {
                        if saw.1 {
                            return Ok(fail(self, NtStatus::INVALID_PARAMETER));
                        }
                        saw.1 = true;
                        let theirs: Vec<u16> = e.ciphers.iter().take(16).map(|c| c.0).collect();
                        // Server preference decides (the administrator's --ciphers order).
                        cipher = self.cfg.ciphers.iter().copied().find(|c| theirs.contains(&c.id()));
                    }
                    Ok(ContextData::Signing(s)) => {
                        if saw.2 {
                            return Ok(fail(self, NtStatus::INVALID_PARAMETER));
                        }
                        saw.2 = true;
                        let theirs: Vec<u16> = s.algorithms.iter().take(16).map(|a| a.0).collect();
                        signing = Some(
                            self.cfg
                                .signing
                                .iter()
                                .copied()
                                .find(|a| theirs.contains(&a.id()))
                                .unwrap_or(SigningAlgorithm::AesCmac),
                        );
                    }
                    Ok(ContextData::RdmaTransform(t)) if self.cfg.rdma_transform => {
                        // MS-SMB2 3.3.5.4: more than one such context, or one naming no
                        // transform, fails the NEGOTIATE.
                        if rdma_offer.is_some() || t.transform_ids.is_empty() {
                            return Ok(fail(self, NtStatus::INVALID_PARAMETER));
                        }
                        rdma_offer = Some(RdmaTransformSet::from_ids(t.transform_ids.iter()));
                    }
                    Ok(_) => {}
                    Err(_) => return Ok(fail(self, NtStatus::INVALID_PARAMETER)),
                }
            }
            if !saw.0 {
                return Ok(fail(self, NtStatus::INVALID_PARAMETER));
            }
        }
        let rdma_transforms = rdma_offer.unwrap_or_default().and(RdmaTransformSet::ALL);
        if self.cfg.require_rdma_transform
            && self.rdma_max.is_some()
            && rdma_transforms != RdmaTransformSet::ALL
        {
            self.events.push(Event::RdmaRefused {
                reason: "SMB Direct client without the RDMA transform (ENCRYPTION and SIGNING), which this server requires",
            });
            return Ok(fail(self, NtStatus::NOT_SUPPORTED));
        }
        let mut p = vec![0u8; HEADER_LEN];
        let enc_ctx = (dialect == Dialect::SMB_3_1_1 && saw.1).then_some(cipher);
        let rdma_ctx = rdma_offer.map(|_| rdma_transforms);
        self.negotiate_response_body(dialect, enc_ctx, signing, rdma_ctx, &mut p, now);
        let granted = self.credits.grant(header.credits.max(1));
        self.finish_header(&mut p, header, NtStatus::SUCCESS, granted, 0, 0);
        let preauth = (dialect == Dialect::SMB_3_1_1)
            .then(|| PreauthHash::new(self.cfg.crypto_backend).updated(pdu).updated(&p));
        let cipher = match dialect {
            Dialect::SMB_3_1_1 => cipher,
            Dialect::SMB_3_0 | Dialect::SMB_3_0_2 => Some(Cipher::Aes128Ccm),
            _ => None,
        };
        let mut n = self.negotiated_for(dialect, header, cipher, signing, preauth, &offered);
        n.client_guid = req.client_guid;
        n.client_security_mode = req.security_mode;
        n.client_capabilities = req.capabilities;
        n.rdma_transforms = rdma_transforms;
        self.negotiated = Some(n);
        Ok(PduReply { bytes: Reply::from_vec(p), sign_with: None, rdma: None })
    }

    pub(super) fn server_capabilities(&self, dialect: Dialect) -> u32 {
        let mut caps = 0;
        if dialect.0 >= Dialect::SMB_2_1.0 {
            caps |= capabilities::LARGE_MTU;
        }
        // CAP_ENCRYPTION only for 3.0.x: a 3.1.1 server announces ciphers in a context instead, and
        // Windows clients turn encryption off when a 3.1.1 server sets it.
        if matches!(dialect, Dialect::SMB_3_0 | Dialect::SMB_3_0_2) {
            caps |= capabilities::ENCRYPTION;
        }
        caps
    }

    pub(super) fn server_security_mode(&self) -> u16 {
        security_mode::SIGNING_ENABLED
            | if self.cfg.require_signing { security_mode::SIGNING_REQUIRED } else { 0 }
    }

    pub(super) fn negotiated_for(
        &self,
        dialect: Dialect,
        _header: &Header,
        cipher: Option<Cipher>,
        signing: Option<SigningAlgorithm>,
        preauth: Option<PreauthHash>,
        offered: &[u16],
    ) -> Negotiated {
        let signing = match dialect {
            Dialect::SMB_2_0_2 | Dialect::SMB_2_1 => SigningAlgorithm::HmacSha256,
            Dialect::SMB_3_1_1 => signing.unwrap_or(SigningAlgorithm::AesCmac),
            _ => SigningAlgorithm::AesCmac,
        };
        Negotiated {
            dialect,
            cipher,
            signing,
            preauth,
            client_guid: [0; 16],
            client_security_mode: 0,
            client_capabilities: 0,
            client_dialects: offered.to_vec(),
            server_security_mode: self.server_security_mode(),
            server_capabilities: self.server_capabilities(dialect),
            rdma_transforms: RdmaTransformSet::NONE,
        }
    }

    /// The NEGOTIATE response body. `cipher` is `Some(choice)` when the client sent an ENCRYPTION
    /// context (`Some(None)` = no common cipher, answered with cipher 0); `rdma` the common RDMA
    /// transforms when the client offered some (empty: answered with a single NONE).
    pub(super) fn negotiate_response_body(
        &self,
        dialect: Dialect,
        cipher: Option<Option<Cipher>>,
        signing: Option<SigningAlgorithm>,
        rdma: Option<RdmaTransformSet>,
        pdu: &mut Vec<u8>,
        now: u64,
    ) {
        let token = self.auth.negotiate_token();
        let mut hash_buf = [0u8; 2];
        let mut cipher_buf = [0u8; 2];
        let mut sign_buf = [0u8; 2];
        let mut rdma_buf = [0u8; 4];
        let mut region = [0u8; 160];
        let contexts = if dialect == Dialect::SMB_3_1_1 {
            let mut items: Vec<ContextData<'_>> = Vec::with_capacity(3);
            let hashes = U16List::build(&[HashAlgorithm::SHA512], &mut hash_buf).unwrap_or_default();
            items.push(PreauthIntegrityCapabilities { hash_algorithms: hashes, salt: &self.salt }.into());
            if let Some(c) = cipher {
                let id = CipherId(c.map_or(0, Cipher::id));
                let ciphers = U16List::build(&[id], &mut cipher_buf).unwrap_or_default();
                items.push(EncryptionCapabilities { ciphers }.into());
            }
            if let Some(s) = signing {
                let algorithms = U16List::build(&[WireSigning(s.id())], &mut sign_buf).unwrap_or_default();
                items.push(SigningCapabilities { algorithms }.into());
            }
            if let Some(set) = rdma {
                let transform_ids = U16List::build(&set.ids(), &mut rdma_buf).unwrap_or_default();
                items.push(RdmaTransformCapabilities { transform_ids }.into());
            }
            NegotiateContextList::build(&items, &mut region).unwrap_or_default()
        } else {
            NegotiateContextList::default()
        };
        let body = NegotiateResponse {
            security_mode: self.server_security_mode(),
            dialect_revision: dialect,
            server_guid: self.cfg.server_guid,
            capabilities: self.server_capabilities(dialect),
            max_transact_size: self.cfg.max_transact_size,
            max_read_size: self.cfg.max_read_size,
            max_write_size: self.cfg.max_write_size,
            system_time: now,
            server_start_time: 0,
            security_buffer: &token,
            contexts,
        };
        put_body(pdu, &body);
    }

    /// FSCTL_VALIDATE_NEGOTIATE_INFO: a 3.0/3.0.2 client checks that nobody altered the NEGOTIATE.
    pub(super) fn validate_negotiate(
        &mut self,
        input: &[u8],
        max_output: u32,
        pdu: &mut Vec<u8>,
    ) -> Result<NtStatus, Fail> {
        let tampered = |detail| Fail::Drop(Event::NegotiateTampered { detail });
        let Some(n) = &self.negotiated else { return Err(tampered("validation before negotiation")) };
        if n.dialect == Dialect::SMB_3_1_1 {
            // 3.1.1 protects the negotiation with the preauth hash; a request for validation there is
            // itself a sign of tampering (MS-SMB2 3.3.5.15.12).
            return Err(tampered("VALIDATE_NEGOTIATE_INFO on a 3.1.1 connection"));
        }
        if max_output < 24 {
            return Err(tampered("VALIDATE_NEGOTIATE_INFO with MaxOutputResponse below 24"));
        }
        let Ok(v) = ValidateNegotiateInfoRequest::parse(input) else {
            return Err(tampered("malformed VALIDATE_NEGOTIATE_INFO"));
        };
        let dialects: Vec<u16> = v.dialects.iter().take(MAX_CLIENT_DIALECTS + 1).collect();
        if dialects != n.client_dialects
            || v.guid != n.client_guid
            || v.security_mode != n.client_security_mode
            || v.capabilities != n.client_capabilities
        {
            return Err(tampered("VALIDATE_NEGOTIATE_INFO differs from the NEGOTIATE this connection saw"));
        }
        let out = ValidateNegotiateInfoResponse {
            capabilities: n.server_capabilities,
            guid: self.cfg.server_guid,
            security_mode: n.server_security_mode,
            dialect: n.dialect.0,
        };
        let bytes = out.to_vec();
        put_body(
            pdu,
            &IoctlResponse {
                ctl_code: CtlCode::VALIDATE_NEGOTIATE_INFO,
                file_id: FileId::ANY,
                flags: 0,
                input: &[],
                output: &bytes,
            },
        );
        Ok(NtStatus::SUCCESS)
    }

    pub(super) fn network_interface_info(
        &mut self,
        max_output: u32,
        pdu: &mut Vec<u8>,
    ) -> Result<NtStatus, Fail> {
        let list = self.files.network_interfaces();
        let bytes = NetworkInterfaces::from_slice(&list).to_vec();
        if bytes.len() > max_output as usize {
            return Err(Fail::Status(NtStatus::BUFFER_TOO_SMALL));
        }
        put_body(
            pdu,
            &IoctlResponse {
                ctl_code: CtlCode::QUERY_NETWORK_INTERFACE_INFO,
                file_id: FileId::ANY,
                flags: 0,
                input: &[],
                output: &bytes,
            },
        );
        Ok(NtStatus::SUCCESS)
    }
}
