//! The one error type of the engine. Public entry points return `std::io::Result` (sockets are the
//! engine's world); an [`EngineError`] converts into an `io::Error` that keeps its message and kind.

use std::io;
use std::net::SocketAddr;

/// What went wrong, and where (which peer, which operation, which reactor).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The peer broke MS-SMB2 2.1 Direct TCP framing: a non-zero first prefix byte or a length above
    /// `EngineConfig::max_message`. Only that connection is closed.
    #[error("bad Direct TCP frame from {peer}: {source}")]
    Frame { peer: SocketAddr, source: smb_wire::WireError },

    /// The server's memory budget is used up and this connection holds some of it without moving:
    /// its peer has taken none of its answers, or sent none of the message it started, for
    /// `EngineConfig::stall_timeout`. Closed so that the others can go on.
    #[error("{peer} held {held} bytes of the used-up memory budget without progress for {secs} s")]
    Stalled { peer: SocketAddr, held: usize, secs: u64 },

    /// A handler queued a message that a 24-bit Direct TCP length cannot carry.
    #[error("handler queued a {len}-byte message; Direct TCP carries at most {max} bytes", max = smb_wire::framing::MAX_FRAME_LEN)]
    OutgoingTooLarge { len: usize },

    /// A handler passed `Outbox::push_owned` a range that is not inside its buffer.
    #[error("handler queued bytes {start}..{end} of a {buf_len}-byte buffer")]
    OwnedRangeOutside { start: usize, end: usize, buf_len: usize },

    /// The SMB Direct peer broke MS-SMBD (or the negotiation failed): only that connection is closed.
    #[error("SMB Direct with {peer}: {source}")]
    Smbd { peer: SocketAddr, source: smbdirect::Error },

    /// An RDMA verb failed for a connection.
    #[error("{op} for {peer}: {source}")]
    Rdma { peer: SocketAddr, op: &'static str, source: rdma_verbs::Error },

    /// A work request of a connection completed with an error status (the queue pair is broken).
    #[error("RDMA {op} for {peer} completed with {status}")]
    RdmaCompletion { peer: SocketAddr, op: &'static str, status: String },

    /// An RDMA connection could not be set up.
    #[error("RDMA connection with {peer} failed: {reason}")]
    RdmaConnect { peer: SocketAddr, reason: String },

    /// No RDMA provider was configured, or it could not open a device.
    #[error("RDMA is not available: {why}")]
    RdmaUnavailable { why: String },

    /// A handler queued an RDMA READ from a peer that serves none (it connected with 0
    /// responder resources): it would never complete.
    #[error("RDMA READ from {peer}, which serves no RDMA READs (responder resources 0)")]
    RdmaReadNotServed { peer: SocketAddr },

    /// A handler queued RDMA work (an RDMA READ or WRITE, a token to invalidate) on a TCP connection.
    #[error("handler queued RDMA work on the TCP connection with {peer}")]
    RdmaOnTcp { peer: SocketAddr },

    /// A connection handler panicked in `during`; only its connection is closed.
    #[error("connection handler for {peer} panicked in {during}")]
    HandlerPanicked { peer: SocketAddr, during: &'static str },

    /// A socket or thread operation failed.
    #[error("{op} failed{}: {source}", peer.map(|p| format!(" for {p}")).unwrap_or_default())]
    Io { op: &'static str, peer: Option<SocketAddr>, source: io::Error },

    /// A reactor thread ended by panicking (a bug in the engine, not in a handler).
    #[error("reactor {reactor} panicked")]
    ReactorPanicked { reactor: usize },

    /// The acceptor thread ended by panicking.
    #[error("the acceptor thread panicked")]
    AcceptorPanicked,

    /// Every reactor already owns `EngineConfig::max_connections_per_reactor` connections, or its
    /// hand-off queue is full.
    #[error("all {reactors} reactors are full ({max} connections each, or hand-off queue full)")]
    AtCapacity { reactors: usize, max: usize },

    /// The engine is shutting down and takes no new connections.
    #[error("the engine is shutting down")]
    ShuttingDown,

    /// A `ConnectionHandle` was woken after its connection closed (or its reactor stopped).
    #[error("the connection on reactor {reactor} is closed; nothing to wake")]
    ConnectionClosed { reactor: usize },
}

impl EngineError {
    pub(crate) fn io(op: &'static str, peer: Option<SocketAddr>, source: io::Error) -> Self {
        EngineError::Io { op, peer, source }
    }
}

impl From<EngineError> for io::Error {
    fn from(e: EngineError) -> io::Error {
        let kind = match &e {
            EngineError::Io { source, .. } => source.kind(),
            EngineError::Frame { .. }
            | EngineError::OutgoingTooLarge { .. }
            | EngineError::OwnedRangeOutside { .. }
            | EngineError::Smbd { .. }
            | EngineError::RdmaOnTcp { .. }
            | EngineError::RdmaReadNotServed { .. } => io::ErrorKind::InvalidData,
            EngineError::Rdma { .. } | EngineError::RdmaCompletion { .. } => io::ErrorKind::ConnectionAborted,
            EngineError::RdmaConnect { .. } => io::ErrorKind::ConnectionRefused,
            EngineError::RdmaUnavailable { .. } => io::ErrorKind::Unsupported,
            EngineError::AtCapacity { .. } => io::ErrorKind::WouldBlock,
            EngineError::Stalled { .. } => io::ErrorKind::TimedOut,
            EngineError::ShuttingDown | EngineError::ConnectionClosed { .. } => io::ErrorKind::NotConnected,
            EngineError::HandlerPanicked { .. }
            | EngineError::ReactorPanicked { .. }
            | EngineError::AcceptorPanicked => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_peer_and_keep_the_io_kind() {
        let peer: SocketAddr = "127.0.0.1:445".parse().unwrap();
        let e = EngineError::io("read", Some(peer), io::Error::from(io::ErrorKind::ConnectionReset));
        assert!(e.to_string().starts_with("read failed for 127.0.0.1:445"), "{e}");
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::ConnectionReset);
        let e = EngineError::io("bind", None, io::Error::from(io::ErrorKind::AddrInUse));
        assert!(e.to_string().starts_with("bind failed: "), "{e}");
        assert_eq!(
            io::Error::from(EngineError::OutgoingTooLarge { len: 1 << 24 }).kind(),
            io::ErrorKind::InvalidData
        );
    }
}
