//! MS-SMB2 3.2.4.2.3 authenticating the user: the SESSION_SETUP legs and the session's preauth hash;
//! 3.2.5.3 / 3.2.5.3.1 receiving their responses, deriving the session's keys and checking the
//! server's signature on the last one; 3.2.4.23 LOGOFF (its response, 3.2.5.4, completes in
//! [`super::receive`]).

use super::*;
use smb_crypto::{KeySchedule, Role};
use smb_wire::logoff::Logoff;
use smb_wire::session_setup::{session_flags, SessionSetupRequest, SessionSetupResponse};

impl ClientConnection {
    /// MS-SMB2 3.2.4.2.3 the first SESSION_SETUP leg, carrying the initiator's first token.
    pub fn session_setup(&mut self, mut initiator: NtlmInitiator) -> Result<Vec<u8>, ClientError> {
        self.expect(Phase::Negotiated, "session_setup")?;
        let token = initiator.step(&[])?;
        self.setup = Some(Setup { initiator, hash: self.connection_hash, session_id: 0 });
        self.phase = Phase::SettingUp;
        self.session_setup_leg(&token).map(|(_, b)| b)
    }

    fn session_setup_leg(&mut self, token: &[u8]) -> Result<(RequestId, Vec<u8>), ClientError> {
        let mode = self.security_mode() as u8;
        let req = SessionSetupRequest {
            flags: 0,
            security_mode: mode,
            capabilities: 0,
            channel: 0,
            security_buffer: token,
            previous_session_id: 0,
        };
        let (id, pdu) = self.frame(Command::SESSION_SETUP, 0, 1, &req, None)?;
        if let Some(Setup { hash: Some(h), .. }) = &mut self.setup {
            h.update(&pdu);
        }
        Ok((id, pdu))
    }

    pub fn logoff(&mut self) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.expect(Phase::LoggedOn, "logoff")?;
        self.send(Command::LOGOFF, 0, 1, &Logoff, None)
    }

    /// MS-SMB2 3.2.5.3 receiving a SESSION_SETUP response.
    pub(super) fn on_session_setup(
        &mut self,
        pdu: &mut [u8],
        header: &Header,
        request: RequestId,
    ) -> Result<Option<Completion>, ClientError> {
        if self.phase != Phase::SettingUp {
            return Err(ClientError::WrongState { op: "SESSION_SETUP response", state: self.phase.name() });
        }
        let status = header.nt_status();
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            let rsp =
                SessionSetupResponse::parse(pdu).map_err(ClientError::wire("SESSION_SETUP response"))?;
            let setup = self
                .setup
                .as_mut()
                .ok_or(ClientError::WrongState { op: "SESSION_SETUP", state: "no exchange" })?;
            setup.session_id = header.session_id;
            if let Some(h) = &mut setup.hash {
                h.update(pdu);
            }
            let token = match setup.initiator.step(rsp.security_buffer) {
                Ok(t) => t,
                Err(e) => return Err(self.fail_setup(e.into())),
            };
            let (request, bytes) = self.session_setup_leg(&token)?;
            return Ok(Some(Completion::MoreAuth { request, bytes }));
        }
        if status != NtStatus::SUCCESS {
            self.setup = None;
            self.phase = Phase::Negotiated;
            return Ok(Some(Completion::Error { request, command: Command::SESSION_SETUP, status }));
        }
        match self.establish(pdu, header) {
            Ok(c) => Ok(Some(c)),
            Err(e) => Err(self.fail_setup(e)),
        }
    }

    fn fail_setup(&mut self, e: ClientError) -> ClientError {
        self.setup = None;
        self.phase = Phase::Negotiated;
        e
    }

    /// Derives the session's keys (MS-SMB2 3.2.5.3.1), checks the server's signature on the final
    /// response, and sets the session's signing and encryption policy.
    fn establish(&mut self, pdu: &mut [u8], header: &Header) -> Result<Completion, ClientError> {
        let n = self
            .negotiated
            .as_ref()
            .ok_or(ClientError::WrongState { op: "SESSION_SETUP", state: "not negotiated" })?;
        let mut setup =
            self.setup.take().ok_or(ClientError::WrongState { op: "SESSION_SETUP", state: "no exchange" })?;
        let rsp = SessionSetupResponse::parse(pdu).map_err(ClientError::wire("SESSION_SETUP response"))?;
        let flags_ = rsp.session_flags;
        let token = rsp.security_buffer.to_vec();
        let anonymous = flags_ & (session_flags::IS_NULL | session_flags::IS_GUEST) != 0;
        let keys = match setup.initiator.session_key() {
            Some(key) if !anonymous => {
                let schedule = match &setup.hash {
                    _ if n.dialect.0 < Dialect::SMB_3_0.0 => KeySchedule::Smb2,
                    Some(h) => KeySchedule::Smb311(h),
                    None => KeySchedule::Smb30,
                };
                let keys = SessionCrypto::derive(
                    Role::Client,
                    schedule,
                    key.as_bytes(),
                    n.cipher,
                    n.signing,
                    self.cfg.backend,
                    // A client can encrypt whenever NEGOTIATE settled a cipher.
                    true,
                );
                Some(keys.map_err(ClientError::crypto("session keys"))?)
            }
            _ => None,
        };
        // MS-SMB2 3.2.5.3.1: the final response of a 3.1.1 session is signed; an unsigned one could
        // have come from anyone who saw the exchange.
        match keys.as_ref().map(SessionCrypto::signing_key) {
            Some(k) => {
                if !header.is_signed() {
                    if n.dialect == Dialect::SMB_3_1_1 {
                        return Err(ClientError::UnsignedSessionSetup);
                    }
                } else {
                    k.verify_in_place(pdu).map_err(|_| ClientError::BadSignature {
                        command: Command::SESSION_SETUP,
                        message_id: header.message_id,
                    })?;
                }
            }
            None => {
                if self.cfg.require_privacy || self.cfg.require_signing {
                    return Err(ClientError::PrivacyUnavailable {
                        reason: "anonymous or guest session has no keys",
                    });
                }
            }
        }
        setup.initiator.finish(&token)?;
        let encrypt_data = flags_ & session_flags::ENCRYPT_DATA != 0 || self.cfg.require_privacy;
        if encrypt_data && !keys.as_ref().is_some_and(SessionCrypto::can_encrypt) {
            return Err(ClientError::PrivacyUnavailable {
                reason: "encryption required but no session key to encrypt with",
            });
        }
        let signing_required = keys.is_some() && (self.cfg.require_signing || n.server_signing_required);
        let session_id = header.session_id;
        self.session = Some(Session { id: session_id, keys, signing_required, encrypt_data });
        self.phase = Phase::LoggedOn;
        Ok(Completion::LoggedOn { session_id, encrypted: encrypt_data, signed: signing_required })
    }
}
