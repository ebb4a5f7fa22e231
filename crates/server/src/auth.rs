//! NTLMv2 (raw or inside SPNEGO) as the session layer's authenticator.

use smb_auth::{AcceptStep, AuthError, NtlmAcceptor, UserDb};
use smb_session::{AuthFactory, AuthFailure, AuthStep, Authenticator};
use std::sync::Arc;

/// Makes one NTLM acceptor per SESSION_SETUP exchange, each with a fresh random challenge.
pub struct NtlmAuth {
    users: Arc<UserDb>,
    server_name: String,
}

impl NtlmAuth {
    pub fn new(users: Arc<UserDb>, server_name: &str) -> Self {
        Self { users, server_name: server_name.to_string() }
    }
}

struct Exchange(NtlmAcceptor);

impl Authenticator for Exchange {
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

impl AuthFactory for NtlmAuth {
    fn new_exchange(&mut self) -> Box<dyn Authenticator> {
        let mut challenge = [0u8; 8];
        // A challenge the client can predict would allow replaying a captured response.
        getrandom::fill(&mut challenge).expect("the OS random source is available");
        let acceptor = NtlmAcceptor::new(
            Arc::clone(&self.users),
            &self.server_name,
            &self.server_name,
            challenge,
            crate::time::now_filetime(),
        );
        Box::new(Exchange(acceptor))
    }

    fn negotiate_token(&self) -> Vec<u8> {
        smb_auth::spnego_server_init_token()
    }
}
