//! The client side of SESSION_SETUP authentication: NTLMSSP (NTLMv2), bare or inside SPNEGO.
//!
//! States: Start → (NEGOTIATE sent) AwaitChallenge → (AUTHENTICATE sent, key known) AwaitFinal →
//! (`finish` with the SUCCESS response's buffer) Done. Any error moves to Failed.

use zeroize::Zeroizing;

use crate::av_pairs::{self, av_id, AvPairs, MSV_AV_FLAG_MIC_PRESENT};
use crate::error::{malformed, AuthError};
use crate::flags::{
    CLIENT_REQUESTS, NEGOTIATE_ANONYMOUS, NEGOTIATE_KEY_EXCH, NEGOTIATE_TARGET_INFO, NEGOTIATE_UNICODE,
};
use crate::message::authenticate::MIC_OFFSET;
use crate::message::{AuthenticateMessage, ChallengeMessage, NegotiateMessage};
use crate::ntlmv2::{
    client_blob, hmac_md5, lmv2_response, nt_hash, nt_proof_str, ntowf_v2, rc4, session_base_key, Key16,
};
use crate::session_key::SessionKey;
use crate::session_security::{mech_list_mic, verify_mech_list_mic, Direction};
use crate::spnego::{self, NegState, NegTokenResp, NegotiationToken, OID_NTLMSSP};
use crate::text;
use crate::MAX_TOKEN_LEN;

enum State {
    Start,
    AwaitChallenge { negotiate: Vec<u8>, mech_types: Option<Vec<u8>> },
    AwaitFinal { flags: u32, mech_types: Option<Vec<u8>> },
    Done,
    Failed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Start => "not started",
            State::AwaitChallenge { .. } => "waiting for CHALLENGE",
            State::AwaitFinal { .. } => "waiting for the final token",
            State::Done => "done",
            State::Failed => "failed",
        }
    }
}

/// One client authentication. Sans-I/O: the random bytes and the time come in from the caller.
pub struct NtlmInitiator {
    user: String,
    nt_hash: Key16,
    domain: String,
    workstation: String,
    /// 8-byte client challenge, then the 16-byte ExportedSessionKey offered under KEY_EXCH.
    random: Zeroizing<[u8; 24]>,
    now_filetime: u64,
    spnego: bool,
    state: State,
    session_key: Option<SessionKey>,
}

impl NtlmInitiator {
    /// `random`: 8-byte client challenge + 16-byte exported session key, passed in. An empty `user`
    /// makes an anonymous (null session) logon.
    pub fn new(
        user: &str,
        password: &str,
        domain: &str,
        workstation: &str,
        random: [u8; 24],
        now_filetime: u64,
        spnego: bool,
    ) -> Self {
        Self {
            user: user.to_owned(),
            nt_hash: Zeroizing::new(nt_hash(password)),
            domain: domain.to_owned(),
            workstation: workstation.to_owned(),
            random: Zeroizing::new(random),
            now_filetime,
            spnego,
            state: State::Start,
            session_key: None,
        }
    }

    /// First call with an empty slice (or the server's negTokenInit): returns the NEGOTIATE token;
    /// second call with the server's CHALLENGE token: returns the AUTHENTICATE token and sets the key.
    pub fn step(&mut self, token: &[u8]) -> Result<Vec<u8>, AuthError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::TooLarge { what: "security token", len: token.len(), max: MAX_TOKEN_LEN });
        }
        let (next, out) = match state {
            State::Start => self.negotiate(token)?,
            State::AwaitChallenge { negotiate, mech_types } => {
                self.authenticate(token, &negotiate, mech_types)?
            }
            other => return Err(AuthError::UnexpectedStep { state: other.name() }),
        };
        self.state = next;
        Ok(out)
    }

    /// The ExportedSessionKey (SMB2 Session.SessionKey), once the AUTHENTICATE is built.
    pub fn session_key(&self) -> Option<&SessionKey> {
        self.session_key.as_ref()
    }

    /// Verifies the server's final token (mechListMIC if present) — call with the SUCCESS response's buffer.
    pub fn finish(&mut self, token: &[u8]) -> Result<(), AuthError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let State::AwaitFinal { flags, mech_types } = state else {
            return Err(AuthError::UnexpectedStep { state: state.name() });
        };
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::TooLarge { what: "security token", len: token.len(), max: MAX_TOKEN_LEN });
        }
        // Raw NTLMSSP ends with an empty buffer (some servers send one anyway: nothing in it to check).
        let Some(mech_types) = mech_types.filter(|_| !token.is_empty()) else {
            self.state = State::Done;
            return Ok(());
        };
        let NegotiationToken::Resp(resp) = spnego::parse(token)? else {
            return Err(malformed("SPNEGO token", "expected a negTokenResp"));
        };
        match resp.neg_state {
            Some(NegState::AcceptCompleted) | None => {}
            Some(NegState::Reject) => return Err(AuthError::LogonFailure),
            Some(NegState::AcceptIncomplete | NegState::RequestMic) => {
                return Err(malformed("negTokenResp negState", "server did not complete"));
            }
        }
        if let (Some(mic), Some(key)) = (resp.mech_list_mic, &self.session_key) {
            if !verify_mech_list_mic(key.as_array(), flags, Direction::ServerToClient, &mech_types, mic) {
                return Err(AuthError::MicMismatch { which: "SPNEGO mechListMIC" });
            }
        }
        self.state = State::Done;
        Ok(())
    }

    fn negotiate(&self, server_init: &[u8]) -> Result<(State, Vec<u8>), AuthError> {
        if self.spnego && !server_init.is_empty() {
            let NegotiationToken::Init(init) = spnego::parse(server_init)? else {
                return Err(malformed("SPNEGO token", "server's first token is not a negTokenInit"));
            };
            if !init.offers(OID_NTLMSSP) {
                return Err(AuthError::UnsupportedMechanism);
            }
        }
        let negotiate = NegotiateMessage { flags: CLIENT_REQUESTS }.encode();
        if !self.spnego {
            let state = State::AwaitChallenge { negotiate: negotiate.clone(), mech_types: None };
            return Ok((state, negotiate));
        }
        let (token, mech_types) = spnego::client_init_token(&negotiate);
        Ok((State::AwaitChallenge { negotiate, mech_types: Some(mech_types) }, token))
    }

    /// MS-NLMP 3.1.5.1.2: the AUTHENTICATE answering `challenge_token`.
    fn authenticate(
        &mut self,
        challenge_token: &[u8],
        negotiate: &[u8],
        mech_types: Option<Vec<u8>>,
    ) -> Result<(State, Vec<u8>), AuthError> {
        let challenge_bytes = if mech_types.is_some() {
            let NegotiationToken::Resp(resp) = spnego::parse(challenge_token)? else {
                return Err(malformed("SPNEGO token", "expected a negTokenResp"));
            };
            if resp.neg_state == Some(NegState::Reject) {
                return Err(AuthError::LogonFailure);
            }
            if resp.supported_mech.is_some_and(|m| m != OID_NTLMSSP) {
                return Err(AuthError::UnsupportedMechanism);
            }
            resp.response_token.ok_or(malformed("negTokenResp", "no responseToken"))?
        } else {
            challenge_token
        };
        let challenge = ChallengeMessage::parse(challenge_bytes)?;
        let flags = (challenge.flags & (CLIENT_REQUESTS | NEGOTIATE_TARGET_INFO))
            | if self.user.is_empty() { NEGOTIATE_ANONYMOUS } else { 0 };
        let unicode = flags & NEGOTIATE_UNICODE != 0;
        let key_exch = flags & NEGOTIATE_KEY_EXCH != 0;

        let (lm, nt, base, with_mic) = if self.user.is_empty() {
            (vec![0u8], Vec::new(), Zeroizing::new([0u8; 16]), false)
        } else {
            self.ntlmv2_responses(&challenge)?
        };
        let mut exported = Zeroizing::new(*base);
        let mut encrypted = Vec::new();
        if key_exch {
            exported.copy_from_slice(&self.random[8..]);
            let mut wrapped = *exported;
            rc4(&base, &mut wrapped);
            encrypted.extend_from_slice(&wrapped);
        }

        let mut auth = AuthenticateMessage {
            lm_response: &lm,
            nt_response: &nt,
            domain: &text::encode(&self.domain, unicode),
            user: &text::encode(&self.user, unicode),
            workstation: &text::encode(&self.workstation, unicode),
            encrypted_session_key: &encrypted,
            flags,
            mic: None,
        }
        .encode()?;
        if with_mic {
            let mic = hmac_md5(&*exported, &[negotiate, challenge_bytes, &auth]);
            auth[MIC_OFFSET..MIC_OFFSET + 16].copy_from_slice(&mic);
        }
        self.session_key = Some(SessionKey::new(*exported));

        let Some(mech_types) = mech_types else {
            return Ok((State::AwaitFinal { flags, mech_types: None }, auth));
        };
        // A null session has no key worth a MIC; Windows sends none either.
        let mic = (!self.user.is_empty())
            .then(|| mech_list_mic(&exported, flags, Direction::ClientToServer, &mech_types));
        let token = spnego::resp_token(&NegTokenResp {
            response_token: Some(&auth),
            mech_list_mic: mic.as_ref().map(|m| &m[..]),
            ..Default::default()
        });
        Ok((State::AwaitFinal { flags, mech_types: Some(mech_types) }, token))
    }

    /// LMv2 and NTLMv2 responses, the session base key, and whether the AUTHENTICATE carries a MIC.
    fn ntlmv2_responses(
        &self,
        challenge: &ChallengeMessage<'_>,
    ) -> Result<(Vec<u8>, Vec<u8>, Key16, bool), AuthError> {
        let server_info = if challenge.target_info.is_empty() {
            AvPairs::default()
        } else {
            AvPairs::parse(challenge.target_info, "CHALLENGE TargetInfo")?
        };
        let server_time = server_info.timestamp();
        // MS-NLMP 3.1.5.1.2: a server that sends MsvAvTimestamp gets a MIC and no LMv2 response.
        let with_mic = server_time.is_some();
        let mut info = Vec::new();
        for pair in server_info.iter().filter(|p| p.id != av_id::FLAGS) {
            av_pairs::push(&mut info, pair.id, pair.value);
        }
        let av_flags =
            server_info.flags("CHALLENGE MsvAvFlags")? | if with_mic { MSV_AV_FLAG_MIC_PRESENT } else { 0 };
        if av_flags != 0 {
            av_pairs::push(&mut info, av_id::FLAGS, &av_flags.to_le_bytes());
        }
        av_pairs::push_eol(&mut info);

        let mut client_challenge = [0u8; 8];
        client_challenge.copy_from_slice(&self.random[..8]);
        let blob = client_blob(server_time.unwrap_or(self.now_filetime), &client_challenge, &info);
        let ntowf = ntowf_v2(&self.nt_hash, &self.user, &self.domain);
        let proof = nt_proof_str(&ntowf, &challenge.server_challenge, &blob);
        let lm = if with_mic {
            vec![0u8; 24]
        } else {
            lmv2_response(&ntowf, &challenge.server_challenge, &client_challenge).to_vec()
        };
        let mut nt = proof.to_vec();
        nt.extend_from_slice(&blob);
        Ok((lm, nt, session_base_key(&ntowf, &proof), with_mic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{challenge_flags, NEGOTIATE_VERSION};
    use crate::message::NegotiateMessage;
    use crate::ntlmv2::NtlmV2Response;

    fn challenge(target_info: &[u8]) -> Vec<u8> {
        ChallengeMessage {
            flags: challenge_flags(CLIENT_REQUESTS),
            target_name: &[],
            server_challenge: [0x11; 8],
            target_info,
        }
        .encode()
        .unwrap()
    }

    #[test]
    fn negotiate_asks_for_the_client_flags_with_version() {
        let mut c = NtlmInitiator::new("u", "p", "d", "w", [0; 24], 5, false);
        let neg = c.step(&[]).unwrap();
        assert_eq!(NegotiateMessage::parse(&neg).unwrap().flags, CLIENT_REQUESTS);
        assert_ne!(CLIENT_REQUESTS & NEGOTIATE_VERSION, 0);
        assert!(c.session_key().is_none());
    }

    #[test]
    fn without_a_server_timestamp_it_sends_lmv2_and_no_mic() {
        let mut c = NtlmInitiator::new("User", "Password", "Domain", "WS", [0xAA; 24], 77, false);
        c.step(&[]).unwrap();
        let auth_bytes = c.step(&challenge(&[0, 0, 0, 0])).unwrap();
        let auth = AuthenticateMessage::parse(&auth_bytes).unwrap();
        let ntowf = ntowf_v2(&nt_hash("Password"), "User", "Domain");
        assert_eq!(auth.lm_response, lmv2_response(&ntowf, &[0x11; 8], &[0xAA; 8]));
        assert_eq!(auth.mic, Some([0; 16]), "MIC field present but unused");
        let v2 = NtlmV2Response::parse(auth.nt_response).unwrap();
        assert_eq!(v2.timestamp, 77, "the caller's clock, since the server gave none");
        assert_eq!(v2.av_pairs.flags("f").unwrap(), 0);
        assert_eq!(v2.client_challenge, [0xAA; 8]);
        assert_eq!(auth.encrypted_session_key.len(), 16);
    }

    #[test]
    fn with_a_server_timestamp_it_uses_it_and_sends_a_mic() {
        let mut info = Vec::new();
        av_pairs::push(&mut info, av_id::TIMESTAMP, &123u64.to_le_bytes());
        av_pairs::push_eol(&mut info);
        let mut c = NtlmInitiator::new("User", "Password", "Domain", "WS", [0xAA; 24], 77, false);
        c.step(&[]).unwrap();
        let auth_bytes = c.step(&challenge(&info)).unwrap();
        let auth = AuthenticateMessage::parse(&auth_bytes).unwrap();
        assert_eq!(auth.lm_response, &[0; 24]);
        assert_ne!(auth.mic, Some([0; 16]));
        let v2 = NtlmV2Response::parse(auth.nt_response).unwrap();
        assert_eq!(v2.timestamp, 123);
        assert_eq!(v2.av_pairs.flags("f").unwrap(), MSV_AV_FLAG_MIC_PRESENT);
        assert_eq!(c.session_key().unwrap().as_bytes(), &[0xAA; 16], "KEY_EXCH: the caller's random key");
    }

    #[test]
    fn refuses_a_server_without_ntlmssp_and_steps_out_of_order() {
        let krb_only = {
            let mut oids = Vec::new();
            crate::der::push(&mut oids, crate::der::OID, &[0x2A, 0x86, 0x48]);
            let mech_types =
                crate::der::tlv(crate::der::ctx(0), &crate::der::tlv(crate::der::SEQUENCE, &oids));
            crate::der::tlv(crate::der::ctx(0), &crate::der::tlv(crate::der::SEQUENCE, &mech_types))
        };
        let mut c = NtlmInitiator::new("u", "p", "d", "w", [0; 24], 0, true);
        assert_eq!(c.step(&krb_only).unwrap_err(), AuthError::UnsupportedMechanism);
        let mut c = NtlmInitiator::new("u", "p", "d", "w", [0; 24], 0, false);
        assert!(matches!(c.finish(&[]), Err(AuthError::UnexpectedStep { .. })));
        assert!(matches!(c.step(&[]), Err(AuthError::UnexpectedStep { state: "failed" })));
    }
}
