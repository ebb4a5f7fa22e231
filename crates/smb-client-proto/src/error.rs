//! What can go wrong on the client side of a connection, naming the step and the field.

use smb_wire::header::Command;
use smb_wire::negotiate::Dialect;

/// One error type for the crate.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A READ that asked for its data by RDMA got it inline instead (MS-SMB2 3.3.5.12 says the
    /// server places it): the connection is not to be trusted.
    #[error("READ {request}: {len} bytes inline in the response to an RDMA READ")]
    InlineDataForRdmaRead { request: u64, len: usize },
    /// A READ response's RDMA transform breaks MS-SMB2 3.2.5.11 (STATUS_INVALID_NETWORK_RESPONSE
    /// there): missing where the data must be protected, of the wrong kind, malformed. The
    /// connection is not to be trusted.
    #[error("READ {request}: RDMA transform: {detail}")]
    BadRdmaTransform { request: u64, detail: &'static str },
    /// Data the server placed by RDMA failed its transform's tag or signature: it is not handed over.
    #[error("READ {request}: RDMA-placed data fails its {what}")]
    PlacedDataRejected { request: u64, what: &'static str },
    /// The transport under the connection failed an operation the protocol asked of it (granting
    /// a buffer, revoking a window).
    #[error("transport: {0}")]
    Transport(String),
    /// The call does not fit the connection's state (e.g. `tree_connect` before logon).
    #[error("{op} is not allowed now: the connection is {state}")]
    WrongState { op: &'static str, state: &'static str },
    /// Fewer credits are held than the request costs.
    #[error("request needs {need} credits, {have} available")]
    NoCredits { need: u16, have: u64 },
    /// The server chose a dialect below the lowest one configured.
    #[error("server negotiated {got:?}, below the lowest configured dialect {lowest:?}")]
    DialectDowngrade { got: Dialect, lowest: Dialect },
    /// The server chose a dialect that was not offered.
    #[error("server negotiated {got:?}, which was not offered")]
    DialectNotOffered { got: Dialect },
    /// `require_privacy` is set and the server or the dialect cannot encrypt.
    #[error("privacy required but unavailable: {reason}")]
    PrivacyUnavailable { reason: &'static str },
    /// The NEGOTIATE response is inconsistent with what was offered.
    #[error("invalid NEGOTIATE response: {detail}")]
    BadNegotiate { detail: &'static str },
    /// FSCTL_VALIDATE_NEGOTIATE_INFO's answer differs from the NEGOTIATE response: someone altered
    /// the negotiation (e.g. a downgrade). The connection must be dropped.
    #[error("the server's VALIDATE_NEGOTIATE_INFO answer does not match the negotiation: tampered")]
    NegotiateTampered,
    /// The final SESSION_SETUP response of a 3.x session was not signed.
    #[error("final SESSION_SETUP response is not signed")]
    UnsignedSessionSetup,
    /// A response's signature does not verify.
    #[error("bad signature on {command:?} response (MessageId {message_id})")]
    BadSignature { command: Command, message_id: u64 },
    /// A response arrived unsigned where signing is required, or naming a session other than the
    /// one that signed the request (whose signature, then, nothing can verify).
    #[error("unsigned {command:?} response (MessageId {message_id}) where signing is required")]
    UnsignedResponse { command: Command, message_id: u64 },
    /// A response arrived in the clear where encryption is required.
    #[error("unencrypted {command:?} response (MessageId {message_id}) where encryption is required")]
    UnencryptedResponse { command: Command, message_id: u64 },
    /// A transform message failed to open (bad tag, bad header).
    #[error("transform message does not decrypt: {0}")]
    Decrypt(#[source] smb_crypto::CryptoError),
    /// A transform message names a session other than ours, or arrives before the keys exist.
    #[error("transform message for session {got:#x}, which has no keys here")]
    UnknownTransformSession { got: u64 },
    /// A response whose MessageId matches no outstanding request.
    #[error("response with MessageId {message_id} matches no outstanding request")]
    UnexpectedResponse { message_id: u64 },
    /// A PDU of the received message does not parse.
    #[error("malformed {what}: {source}")]
    Wire {
        what: &'static str,
        #[source]
        source: smb_wire::WireError,
    },
    /// A transform message too short to hold its header and an SMB2 header.
    #[error("transform message of {len} bytes is too short")]
    TransformTooShort { len: usize },
    /// The bytes are neither an SMB2 message nor a transform.
    #[error("not an SMB2 message")]
    NotSmb2,
    /// Authentication (NTLM/SPNEGO) failed on the client side.
    #[error("authentication: {0}")]
    Auth(#[from] smb_auth::AuthError),
    /// Key set-up, signing or sealing failed.
    #[error("{what}: {source}")]
    Crypto {
        what: &'static str,
        #[source]
        source: smb_crypto::CryptoError,
    },
    /// An I/O size above what the server announced.
    #[error("{what} of {len} bytes exceeds the server's maximum of {max}")]
    TooLarge { what: &'static str, len: usize, max: u32 },
    /// A caller-built message buffer of the wrong size (see `WRITE_PAYLOAD_AT`).
    #[error("message buffer of {got} bytes where {expected} are needed")]
    BufferSize { expected: usize, got: usize },
    /// A tree handle that is not (or no longer) connected.
    #[error("tree {tree_id} is not connected")]
    UnknownTree { tree_id: u32 },
}

impl ClientError {
    pub(crate) fn wire(what: &'static str) -> impl FnOnce(smb_wire::WireError) -> ClientError {
        move |source| ClientError::Wire { what, source }
    }

    pub(crate) fn crypto(what: &'static str) -> impl FnOnce(smb_crypto::CryptoError) -> ClientError {
        move |source| ClientError::Crypto { what, source }
    }
}
