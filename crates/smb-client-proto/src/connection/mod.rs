//! MS-SMB2 3.2 client processing for one connection, sans-I/O: each call builds one request message
//! (bytes for the transport, without the Direct TCP prefix); [`ClientConnection::receive`] takes one
//! response message and returns what it completed.
//!
//! Protection of each request (MS-SMB2 3.2.4.1.8 / 3.2.4.1.1): encrypted when the session
//! (EncryptData), the tree (SMB2_SHAREFLAG_ENCRYPT_DATA) or `require_privacy` says so, otherwise signed
//! when the session requires signing. Each response is checked the same way before it is believed.
//!
//! The connection's state (MS-SMB2 3.2.1.2 Connection, 3.2.1.3 Session) and what a caller may ask of
//! it are here; the protocol steps are in the files beside this one:
//!
//! - `negotiate.rs`: NEGOTIATE and FSCTL_VALIDATE_NEGOTIATE_INFO.
//! - `session_setup.rs`: SESSION_SETUP legs, the session's keys, LOGOFF.
//! - `tree.rs`: TREE_CONNECT and TREE_DISCONNECT.
//! - `file_io.rs`: the requests on open files (CREATE, READ, WRITE, ...) and their credit charges.
//! - `send.rs`: framing every request, then signing or sealing it.
//! - `receive.rs`: opening, checking and completing every response.

use crate::completion::{Completion, FileHandle, RequestId, TreeHandle};
use crate::config::ClientConfig;
use crate::credits::CreditWindow;
use crate::error::ClientError;
use smb_auth::NtlmInitiator;
use smb_crypto::transform::TRANSFORM_HEADER_LEN;
use smb_crypto::{AeadKey, Cipher, PreauthHash, SealingKey, SessionCrypto, SigningAlgorithm, SigningKey};
use smb_wire::header::{Command, Header, HEADER_LEN};
use smb_wire::negotiate::Dialect;
use smb_wire::negotiate_context::RdmaTransformSet;
use smb_wire::status::NtStatus;
use smb_wire::types::{FileId, Guid};
use std::collections::HashMap;

mod file_io;
mod negotiate;
mod rdma_transform;
mod receive;
mod send;
mod session_setup;
mod tree;

pub use file_io::WRITE_PAYLOAD_AT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Negotiating,
    Negotiated,
    SettingUp,
    LoggedOn,
    LoggedOff,
    Failed,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Start => "not negotiated",
            Phase::Negotiating => "waiting for the NEGOTIATE response",
            Phase::Negotiated => "negotiated, not logged on",
            Phase::SettingUp => "in SESSION_SETUP",
            Phase::LoggedOn => "logged on",
            Phase::LoggedOff => "logged off",
            Phase::Failed => "failed",
        }
    }
}

/// What NEGOTIATE settled (MS-SMB2 3.2.1.2 Connection).
struct Negotiated {
    dialect: Dialect,
    cipher: Option<Cipher>,
    signing: SigningAlgorithm,
    server_signing_required: bool,
    large_mtu: bool,
    max_read: u32,
    max_write: u32,
    /// What FSCTL_VALIDATE_NEGOTIATE_INFO must see again (MS-SMB2 3.2.5.14.12).
    server_guid: Guid,
    server_capabilities: u32,
    server_security_mode: u16,
    /// Connection.RDMATransformIds (3.1.1): the transforms the server agreed to.
    rdma_transforms: RdmaTransformSet,
}

/// MS-SMB2 3.2.1.3 Session, once established.
struct Session {
    id: u64,
    /// The client's keys (MS-SMB2 3.2.5.3.1); None for anonymous and guest sessions.
    keys: Option<SessionCrypto>,
    signing_required: bool,
    encrypt_data: bool,
}

impl Session {
    fn signing(&self) -> Option<&SigningKey> {
        self.keys.as_ref().map(SessionCrypto::signing_key)
    }

    /// Client-to-server key and its nonces.
    fn sealing(&mut self) -> Option<&mut SealingKey> {
        self.keys.as_mut().and_then(SessionCrypto::sealing_key)
    }

    /// Server-to-client key.
    fn opening(&self) -> Option<&AeadKey> {
        self.keys.as_ref().and_then(SessionCrypto::opening_key)
    }

    fn can_encrypt(&self) -> bool {
        self.keys.as_ref().is_some_and(SessionCrypto::can_encrypt)
    }
}

/// A SESSION_SETUP exchange in progress.
struct Setup {
    initiator: NtlmInitiator,
    /// Session.PreauthIntegrityHashValue (3.1.1 only).
    hash: Option<PreauthHash>,
    session_id: u64,
}

/// A request sent and not yet answered.
#[derive(Debug, Clone, Copy)]
struct Pending {
    command: Command,
    tree: u32,
    file: Option<FileId>,
    encrypted: bool,
    signed: bool,
    /// Its data moves by RDMA (a READ's response carries no data).
    rdma: bool,
}

/// The client side of one SMB2 connection.
pub struct ClientConnection {
    cfg: ClientConfig,
    client_guid: [u8; 16],
    salt: [u8; 32],
    phase: Phase,
    credits: CreditWindow,
    pending: HashMap<u64, Pending>,
    negotiated: Option<Negotiated>,
    /// The NEGOTIATE request as sent, for the connection's preauth hash.
    negotiate_request: Vec<u8>,
    /// Connection.PreauthIntegrityHashValue after NEGOTIATE (3.1.1).
    connection_hash: Option<PreauthHash>,
    setup: Option<Setup>,
    session: Option<Session>,
    /// Connected trees: TreeId → must encrypt.
    trees: HashMap<u32, bool>,
    /// Capabilities the NEGOTIATE request announced (validated again on 3.0.x).
    capabilities: u32,
    /// FSCTL_VALIDATE_NEGOTIATE_INFO has confirmed the negotiation (or the dialect needs none).
    validated: bool,
    /// Buffers to decrypt into, given back by the caller (see [`ClientConnection::recycle`]); their
    /// length is their capacity, so reuse writes into them without zero-filling first.
    spare: Vec<Vec<u8>>,
}

impl ClientConnection {
    /// `seed`: 32 random bytes from the caller (the preauth salt).
    pub fn new(cfg: ClientConfig, client_guid: [u8; 16], seed: [u8; 32]) -> Self {
        Self {
            cfg,
            client_guid,
            salt: seed,
            phase: Phase::Start,
            credits: CreditWindow::new(),
            pending: HashMap::new(),
            negotiated: None,
            negotiate_request: Vec::new(),
            connection_hash: None,
            setup: None,
            session: None,
            trees: HashMap::new(),
            capabilities: 0,
            validated: false,
            spare: Vec::new(),
        }
    }

    /// Credits held (MessageIds the client may still use).
    pub fn credits_available(&self) -> u16 {
        u16::try_from(self.credits.available()).unwrap_or(u16::MAX)
    }

    /// The dialect NEGOTIATE settled.
    pub fn dialect(&self) -> Option<Dialect> {
        self.negotiated.as_ref().map(|n| n.dialect)
    }

    /// The cipher NEGOTIATE settled (None: the connection cannot encrypt).
    pub fn cipher(&self) -> Option<Cipher> {
        self.negotiated.as_ref().and_then(|n| n.cipher)
    }

    /// The signing algorithm NEGOTIATE settled.
    pub fn signing(&self) -> Option<SigningAlgorithm> {
        self.negotiated.as_ref().map(|n| n.signing)
    }

    /// The RDMA transforms NEGOTIATE settled (Connection.RDMATransformIds; empty when none).
    pub fn rdma_transforms(&self) -> RdmaTransformSet {
        self.negotiated.as_ref().map_or(RdmaTransformSet::NONE, |n| n.rdma_transforms)
    }

    /// The established session's id.
    pub fn session_id(&self) -> Option<u64> {
        self.session.as_ref().map(|s| s.id)
    }

    /// The largest READ payload one request may ask for (MaxReadSize; 64 KiB without LARGE_MTU).
    pub fn max_read_size(&self) -> Option<u32> {
        self.negotiated.as_ref().map(|n| if n.large_mtu { n.max_read } else { n.max_read.min(65536) })
    }

    /// The largest WRITE payload one request may carry (MaxWriteSize; 64 KiB without LARGE_MTU).
    pub fn max_write_size(&self) -> Option<u32> {
        self.negotiated.as_ref().map(|n| if n.large_mtu { n.max_write } else { n.max_write.min(65536) })
    }

    /// Whether the session encrypts every request (EncryptData or `require_privacy`).
    pub fn session_encrypted(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.encrypt_data)
    }

    /// MS-SMB2 3.2.5.5: a 3.0/3.0.2 connection has no preauth hash, so after logon the client asks
    /// the server to confirm the negotiation with FSCTL_VALIDATE_NEGOTIATE_INFO before trusting it.
    /// True until [`Self::validate_negotiate`] has been answered correctly.
    pub fn needs_validation(&self) -> bool {
        !self.validated
            && self.phase == Phase::LoggedOn
            && matches!(self.dialect(), Some(Dialect::SMB_3_0 | Dialect::SMB_3_0_2))
            && self.session.as_ref().is_some_and(|s| s.signing().is_some())
    }

    fn expect(&self, phase: Phase, op: &'static str) -> Result<(), ClientError> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(ClientError::WrongState { op, state: self.phase.name() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_wire::logoff::Logoff;

    fn conn() -> ClientConnection {
        ClientConnection::new(ClientConfig::default(), [1; 16], [2; 32])
    }

    #[test]
    fn calls_out_of_order_are_refused() {
        let mut c = conn();
        assert!(matches!(c.tree_connect(r"\\s\x"), Err(ClientError::WrongState { op: "tree_connect", .. })));
        let req = c.negotiate().unwrap();
        assert_eq!(Header::parse(&req).unwrap().command, Command::NEGOTIATE);
        assert!(matches!(c.negotiate(), Err(ClientError::WrongState { op: "negotiate", .. })));
        assert_eq!(c.credits_available(), 0, "NEGOTIATE used the one initial credit");
    }

    #[test]
    fn foreign_bytes_and_unknown_responses_are_refused() {
        let mut c = conn();
        c.negotiate().unwrap();
        assert!(matches!(c.receive(&mut [0u8; 80]), Err(ClientError::NotSmb2)));
        let mut short = [0u8; 60];
        short[..4].copy_from_slice(&[0xFD, b'S', b'M', b'B']);
        assert!(matches!(c.receive(&mut short), Err(ClientError::TransformTooShort { len: 60 })));
        let mut h = Header::request(Command::NEGOTIATE, 9, 0, 0);
        h.flags |= 1;
        let mut rsp = smb_wire::pdu::pdu_to_vec(&h, &Logoff);
        assert!(matches!(c.receive(&mut rsp), Err(ClientError::UnexpectedResponse { message_id: 9 })));
        let mut transform = vec![0u8; TRANSFORM_HEADER_LEN + HEADER_LEN];
        transform[..4].copy_from_slice(&[0xFD, b'S', b'M', b'B']);
        assert!(matches!(c.receive(&mut transform), Err(ClientError::UnknownTransformSession { got: 0 })));
    }
}
