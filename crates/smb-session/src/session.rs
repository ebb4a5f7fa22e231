//! MS-SMB2 3.3.1.8 Per Session state: authentication in progress, then the session's keys and
//! policy, and its trees (3.3.1.9).

use crate::handler::{Authenticator, TreeGrant};
use smb_crypto::{AeadKey, NonceSequence, PreauthHash, SigningKey};
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
    /// None for anonymous sessions (no key).
    pub signing: Option<SigningKey>,
    pub signing_required: bool,
    /// Session.EncryptData: every request must arrive encrypted.
    pub encrypt_data: bool,
    /// Server-to-client sealing key and its nonces; None when the session cannot encrypt.
    pub seal: Option<(AeadKey, NonceSequence)>,
    /// Client-to-server key.
    pub open: Option<AeadKey>,
}

impl SessionSecurity {
    pub fn can_encrypt(&self) -> bool {
        self.seal.is_some()
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
