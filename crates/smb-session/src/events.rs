//! Things an administrator must hear about, as typed events; the server logs them with the peer's
//! address (the event ids are those of the Windows SMB server's audit log).

/// A security-relevant event of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// event_id=1003: a client that does not encrypt was refused access to something that requires
    /// encryption (RejectUnencryptedAccess).
    UnencryptedAccessRejected { share: Option<String>, reason: &'static str },
    /// event_id=1005: the negotiation was tampered with (VALIDATE_NEGOTIATE_INFO mismatch, or a 3.1.1
    /// client asking for validation); the connection is dropped.
    NegotiateTampered { detail: &'static str },
    /// A TREE_CONNECT was refused because the share's user list does not name the session's user
    /// (`user` is empty for an anonymous session).
    ShareAccessDenied { user: String, share: String },
    /// A logon failed (wrong user or password, malformed token).
    LogonFailed { user: Option<String> },
    /// A session was established.
    LoggedOn { user: String, session_id: u64, encrypted: bool, signed: bool },
    /// A session logged off (LOGOFF); a connection that ends takes its sessions with it unsaid.
    LoggedOff { session_id: u64 },
    /// The connection is being dropped because of what the peer sent.
    ProtocolViolation { detail: &'static str },
    /// An SMB2 READ or WRITE asked for an RDMA channel that this session may not use (its data
    /// must be signed, and no SIGNING transform was negotiated), or an SMB Direct client did not
    /// negotiate the RDMA transform a server requires.
    RdmaRefused { reason: &'static str },
    /// Data a WRITE placed for RDMA failed its RDMA transform's tag or signature (tampered in the
    /// client's memory or on the wire): nothing was written, the WRITE got an error status.
    PlacedDataRejected { session_id: u64, detail: &'static str },
}

impl Event {
    /// The Windows SMB server event id, where there is one.
    pub fn id(&self) -> Option<u32> {
        match self {
            Event::UnencryptedAccessRejected { .. } => Some(1003),
            Event::NegotiateTampered { .. } => Some(1005),
            _ => None,
        }
    }
}
