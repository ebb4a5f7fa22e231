//! Authenticators for a test server: real NTLM ([`Ntlm`]) and a scripted two-leg exchange
//! ([`TwoLegAuth`]) for tests about everything but authentication.

use crate::clock::EPOCH_FILETIME;
use smb_auth::{AcceptStep, AuthError, NtlmAcceptor, UserDb};
use smb_session::{AuthFactory, AuthFailure, AuthStep, Authenticator};
use std::sync::Arc;

/// The user every fixture knows, and its password.
pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse";

/// NTLMv2 (raw or inside SPNEGO) through smb-auth's acceptor, as the server runs it, but
/// reproducible: challenges come from a counter and the CHALLENGE's timestamp is the kit's epoch
/// (the acceptor checks no clock against it).
pub struct Ntlm {
    users: Arc<UserDb>,
    exchanges: u64,
}

impl Ntlm {
    /// An acceptor knowing `users` as (name, password).
    pub fn new(users: &[(&str, &str)]) -> Ntlm {
        let mut db = UserDb::new();
        for (user, password) in users {
            db.add_password(user, password);
        }
        Ntlm::with_db(Arc::new(db))
    }

    pub fn with_db(users: Arc<UserDb>) -> Ntlm {
        Ntlm { users, exchanges: 0 }
    }
}

impl Default for Ntlm {
    /// Knows [`USER`] with [`PASSWORD`].
    fn default() -> Self {
        Ntlm::new(&[(USER, PASSWORD)])
    }
}

struct NtlmExchange(NtlmAcceptor);

impl Authenticator for NtlmExchange {
    fn step(&mut self, token: &[u8]) -> Result<AuthStep, AuthFailure> {
        match self.0.step(token) {
            Ok(AcceptStep::Continue { token }) => Ok(AuthStep::Continue(token)),
            Ok(AcceptStep::Done { token, session_key, user, anonymous, .. }) => {
                Ok(AuthStep::Done { token, session_key: session_key.as_bytes().to_vec(), user, anonymous })
            }
            Err(AuthError::AnonymousRefused) => Err(AuthFailure::AnonymousRefused),
            Err(AuthError::LogonFailure) => Err(AuthFailure::LogonFailure { user: None }),
            Err(_) => Err(AuthFailure::Malformed("NTLM/SPNEGO token")),
        }
    }
}

impl AuthFactory for Ntlm {
    fn new_exchange(&mut self) -> Box<dyn Authenticator> {
        self.exchanges += 1;
        // A different challenge per exchange, as a real server's; a known one, as tests need.
        let challenge = self.exchanges.to_le_bytes();
        Box::new(NtlmExchange(NtlmAcceptor::new(
            Arc::clone(&self.users),
            "SRV",
            "SRV",
            challenge,
            EPOCH_FILETIME,
        )))
    }

    fn negotiate_token(&self) -> Vec<u8> {
        smb_auth::spnego_server_init_token()
    }
}

/// A scripted exchange: any first token is answered with [`TwoLegAuth::CHALLENGE`] (MORE_PROCESSING);
/// the second is accepted, with [`TwoLegAuth::WELCOME`] and [`TwoLegAuth::SESSION_KEY`], when it is
/// the expected proof (or any token, for [`TwoLegAuth::anything`]); a third never comes.
#[derive(Debug, Clone)]
pub struct TwoLegAuth {
    /// The second token that logs on; `None`: any.
    proof: Option<Vec<u8>>,
}

impl TwoLegAuth {
    /// The NEGOTIATE response's security buffer.
    pub const NEGOTIATE_TOKEN: &'static [u8] = b"spnego-init";
    /// What a client sends first (any first token does).
    pub const HELLO: &'static [u8] = b"hello";
    pub const CHALLENGE: &'static [u8] = b"challenge";
    /// The proof [`TwoLegAuth::default`] expects: `USER:secret`.
    pub const PROOF: &'static [u8] = b"alice:secret";
    /// The final SESSION_SETUP response's security buffer.
    pub const WELCOME: &'static [u8] = b"welcome";
    pub const SESSION_KEY: [u8; 16] = [0x42; 16];

    /// Logs on only with `proof` as the second token.
    pub fn expecting(proof: &[u8]) -> TwoLegAuth {
        TwoLegAuth { proof: Some(proof.to_vec()) }
    }

    /// Logs on whatever the tokens say.
    pub fn anything() -> TwoLegAuth {
        TwoLegAuth { proof: None }
    }
}

impl Default for TwoLegAuth {
    /// Expects [`TwoLegAuth::PROOF`].
    fn default() -> Self {
        TwoLegAuth::expecting(TwoLegAuth::PROOF)
    }
}

struct TwoLegExchange {
    proof: Option<Vec<u8>>,
    legs: u8,
}

impl Authenticator for TwoLegExchange {
    fn step(&mut self, token: &[u8]) -> Result<AuthStep, AuthFailure> {
        self.legs += 1;
        match self.legs {
            1 => Ok(AuthStep::Continue(TwoLegAuth::CHALLENGE.to_vec())),
            2 if self.proof.as_deref().is_none_or(|p| p == token) => Ok(AuthStep::Done {
                token: TwoLegAuth::WELCOME.to_vec(),
                session_key: TwoLegAuth::SESSION_KEY.to_vec(),
                user: USER.into(),
                anonymous: false,
            }),
            _ => Err(AuthFailure::LogonFailure { user: Some(USER.into()) }),
        }
    }
}

impl AuthFactory for TwoLegAuth {
    fn new_exchange(&mut self) -> Box<dyn Authenticator> {
        Box::new(TwoLegExchange { proof: self.proof.clone(), legs: 0 })
    }

    fn negotiate_token(&self) -> Vec<u8> {
        TwoLegAuth::NEGOTIATE_TOKEN.to_vec()
    }
}
