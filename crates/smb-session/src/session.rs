//! MS-SMB2 3.3.1.8 Per Session state: authentication in progress, then the session's keys and
//! policy, and its trees (3.3.1.9).

use crate::handler::{Authenticator, TreeGrant};
use smb_crypto::{AeadKey, PreauthHash, SealingKey, SessionCrypto, SigningKey};
use std::collections::HashMap;

pub(crate) enum SessionState {
    /// SESSION_SETUP legs are still being exchanged.
    InProgress {
        auth: Box<dyn Authenticator>,
        preauth: Option<PreauthHash>,
    },
    Valid(Box<SessionSecurity>),
}

/// What a valid session signs and seals with.
pub(crate) struct SessionSecurity {
    pub user: String,
    pub anonymous: bool,
    /// The server's keys (MS-SMB2 3.3.5.5.3): None for anonymous sessions (no key).
    pub keys: Option<SessionCrypto>,
    pub signing_required: bool,
    /// Session.EncryptData: every request must arrive encrypted.
    pub encrypt_data: bool,
}

impl SessionSecurity {
    pub fn signing(&self) -> Option<&SigningKey> {
        self.keys.as_ref().map(SessionCrypto::signing_key)
    }

    /// Server-to-client sealing key and its nonces; None when the session cannot encrypt.
    pub fn sealing(&mut self) -> Option<&mut SealingKey> {
        self.keys.as_mut().and_then(SessionCrypto::sealing_key)
    }

    /// Client-to-server key.
    pub fn opening(&self) -> Option<&AeadKey> {
        self.keys.as_ref().and_then(SessionCrypto::opening_key)
    }

    /// The library that seals for this session, when it can.
    pub fn sealing_backend(&self) -> Option<smb_crypto::Backend> {
        self.keys.as_ref().and_then(SessionCrypto::sealing_backend)
    }

    pub fn can_encrypt(&self) -> bool {
        self.keys.as_ref().is_some_and(SessionCrypto::can_encrypt)
    }
}

pub(crate) struct Tree {
    pub grant: TreeGrant,
    /// Tree.EncryptData: requests on this tree must arrive encrypted.
    pub encrypt: bool,
}

pub(crate) struct Session {
    pub state: SessionState,
    pub trees: HashMap<u32, Tree>,
}

impl Session {
    pub fn valid(&self) -> Option<&SessionSecurity> {
        match &self.state {
            SessionState::Valid(s) => Some(s),
            SessionState::InProgress { .. } => None,
        }
    }
}
