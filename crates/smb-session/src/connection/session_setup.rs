//! MS-SMB2 3.3.5.5 Receiving an SMB2 SESSION_SETUP Request: authentication legs, the session
//! preauth hash, key derivation (3.3.5.5.3) and the EncryptData / RejectUnencryptedAccess policy.

use super::*;
use smb_crypto::WipeOnDrop;
use smb_wire::session_setup::{session_setup_flags, SessionSetupRequest};

impl<F: FileHandler, A: AuthFactory> ServerConnection<F, A> {
    pub(super) fn on_session_setup(
        &mut self,
        pdu: &[u8],
        header: &Header,
        related: &mut Related,
    ) -> Result<(NtStatus, Vec<u8>), Fail> {
        let req = SessionSetupRequest::parse(pdu).map_err(|_| NtStatus::INVALID_PARAMETER)?;
        if req.flags & session_setup_flags::BINDING != 0 {
            // Multichannel binding is not implemented: sessions live per connection.
            return Err(NtStatus::REQUEST_NOT_ACCEPTED.into());
        }
        let n = self.negotiated.as_ref().ok_or(NtStatus::INVALID_PARAMETER)?;
        let preauth0 = n.preauth;
        let id = if header.session_id == 0 {
            if self.sessions.len() >= self.cfg.max_sessions {
                return Err(NtStatus::REQUEST_NOT_ACCEPTED.into());
            }
            let id = self.next_session_id;
            self.next_session_id += 1;
            let auth = self.auth.new_exchange();
            self.sessions.insert(
                id,
                Session {
                    state: SessionState::InProgress { auth, preauth: preauth0 },
                    trees: HashMap::new(),
                },
            );
            id
        } else {
            match self.sessions.get(&header.session_id) {
                Some(Session { state: SessionState::InProgress { .. }, .. }) => header.session_id,
                // Re-authentication of an established session is not offered.
                Some(_) => return Err(NtStatus::REQUEST_NOT_ACCEPTED.into()),
                None => return Err(NtStatus::USER_SESSION_DELETED.into()),
            }
        };
        related.setup_session = Some(id);
        let Some(Session { state: SessionState::InProgress { auth, preauth }, .. }) =
            self.sessions.get_mut(&id)
        else {
            return Err(NtStatus::USER_SESSION_DELETED.into());
        };
        if let Some(h) = preauth {
            h.update(pdu);
        }
        let step = auth.step(req.security_buffer);
        let preauth = *preauth;
        match step {
            Ok(AuthStep::Continue(token)) => {
                let mut p = vec![0u8; HEADER_LEN];
                put_body(&mut p, &SessionSetupResponse { session_flags: 0, security_buffer: &token });
                Ok((NtStatus::MORE_PROCESSING_REQUIRED, p))
            }
            Ok(AuthStep::Done { token, session_key, user, anonymous }) => {
                self.complete_session(id, &req, preauth, token, session_key, user, anonymous)
            }
            Err(failure) => {
                self.sessions.remove(&id);
                let (status, user) = match failure {
                    AuthFailure::AnonymousRefused => (NtStatus::ACCESS_DENIED, None),
                    AuthFailure::LogonFailure { user } => (NtStatus::LOGON_FAILURE, user),
                    AuthFailure::Malformed(_) => (NtStatus::LOGON_FAILURE, None),
                };
                self.events.push(Event::LogonFailed { user });
                Err(status.into())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn complete_session(
        &mut self,
        id: u64,
        req: &SessionSetupRequest<'_>,
        preauth: Option<PreauthHash>,
        token: Vec<u8>,
        mut session_key: Vec<u8>,
        user: String,
        anonymous: bool,
    ) -> Result<(NtStatus, Vec<u8>), Fail> {
        // The key is wiped on every way out of here, refusals included.
        let session_key = WipeOnDrop::new(&mut session_key);
        let n = self.negotiated.as_ref().ok_or(NtStatus::INVALID_PARAMETER)?;
        let can_encrypt = n.can_encrypt() && !anonymous;
        if self.cfg.encrypt_data && !can_encrypt && self.cfg.reject_unencrypted_access {
            self.sessions.remove(&id);
            self.events.push(Event::UnencryptedAccessRejected {
                share: None,
                reason: "server requires encryption and the client cannot encrypt",
            });
            return Err(NtStatus::ACCESS_DENIED.into());
        }
        let keys = if anonymous {
            None
        } else {
            let schedule = match &preauth {
                _ if !n.is_3x() => KeySchedule::Smb2,
                Some(h) => KeySchedule::Smb311(h),
                None => KeySchedule::Smb30,
            };
            let keys = SessionCrypto::derive(
                Role::Server,
                schedule,
                &session_key,
                n.cipher,
                n.signing,
                self.cfg.crypto_backend,
                can_encrypt,
            );
            Some(keys.map_err(|_| Fail::Status(NtStatus::INSUFFICIENT_RESOURCES))?)
        };
        drop(session_key);
        let signing_required = keys.is_some()
            && (self.cfg.require_signing || req.security_mode & (security_mode::SIGNING_REQUIRED as u8) != 0);
        let encrypt_data = self.cfg.encrypt_data && keys.as_ref().is_some_and(SessionCrypto::can_encrypt);
        let sec = SessionSecurity { user: user.clone(), anonymous, keys, signing_required, encrypt_data };
        let mut flags = 0u16;
        if anonymous {
            flags |= session_flags::IS_NULL;
        }
        if sec.encrypt_data {
            flags |= session_flags::ENCRYPT_DATA;
        }
        self.events.push(Event::LoggedOn {
            user,
            session_id: id,
            encrypted: sec.encrypt_data,
            signed: sec.signing_required,
        });
        if let Some(s) = self.sessions.get_mut(&id) {
            s.state = SessionState::Valid(Box::new(sec));
        }
        let mut p = vec![0u8; HEADER_LEN];
        put_body(&mut p, &SessionSetupResponse { session_flags: flags, security_buffer: &token });
        Ok((NtStatus::SUCCESS, p))
    }
}
