//! Errors of the SMB Direct state machine: every refusal of MS-SMBD 3.1.5.6–3.1.5.8, the timers
//! of 3.1.6, local misuse, and the buffer descriptor checks the SMB2 layer maps to statuses.

use smb_wire::error::WireError;
use smb_wire::status::NtStatus;

/// What ended an SMB Direct connection, or why a local request was refused.
///
/// Errors returned by [`crate::SmbdConnection::on_receive`] and those carried by
/// [`crate::Event::Closed`] are fatal: the connection is done and the transport disconnects
/// (MS-SMBD "terminate the connection"). Errors from local requests
/// ([`Error::is_fatal`] false: `queue_message` with a bad length, calls before or after the
/// connection's life) leave the connection as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // ---- local configuration and misuse (not fatal) ----
    /// A [`crate::Config`] value that cannot work.
    #[error("config: {field} = {value} is below the minimum {min}")]
    Config { field: &'static str, value: u64, min: u64 },
    /// `queue_message` before the negotiation finished.
    #[error("the connection is not established yet: nothing can be queued")]
    NotEstablished,
    /// Input after the connection closed.
    #[error("the connection is closed")]
    Closed,
    /// `queue_message(0)`: an empty upper-layer message cannot be told apart from a credit or
    /// keepalive message on the wire (MS-SMBD 3.1.5.4), so the peer would never see it.
    #[error("an upper-layer message must have at least one byte")]
    EmptyMessage,
    /// `queue_message` with more than the peer's MaxFragmentedSize (MS-SMBD 3.1.5.4: "cannot be
    /// sent and an implementation-specific local error MUST be returned").
    #[error("message of {len} bytes exceeds the peer's MaxFragmentedSize {max}")]
    MessageTooLarge { len: usize, max: u32 },

    // ---- negotiation, MS-SMBD 3.1.5.6 / 3.1.5.7 ----
    /// A negotiate message too short or otherwise unparseable; `message` names which.
    #[error("{message}: {source}")]
    Malformed {
        message: &'static str,
        #[source]
        source: WireError,
    },
    /// The client's version range excludes 1.0: the server answers STATUS_NOT_SUPPORTED.
    #[error("negotiate request: versions {min:#06x}..={max:#06x} exclude 0x0100")]
    VersionNotSupported { min: u16, max: u16 },
    /// The server's NegotiatedVersion is not 1.0.
    #[error("negotiate response: NegotiatedVersion {0:#06x} is not 0x0100")]
    NegotiatedVersion(u16),
    /// The server refused the negotiation with a non-zero Status.
    #[error("negotiate response: the server refused with {status}")]
    NegotiateRefused { status: NtStatus },
    /// CreditsRequested 0 in a negotiate or data transfer message.
    #[error("{message}: CreditsRequested is 0")]
    ZeroCreditsRequested { message: &'static str },
    /// The negotiate response grants no credits: the client could never send.
    #[error("negotiate response: CreditsGranted is 0")]
    ZeroCreditsGranted,
    /// MaxReceiveSize below 128.
    #[error("{message}: MaxReceiveSize {value} is below 128")]
    MaxReceiveSizeTooSmall { message: &'static str, value: u32 },
    /// MaxFragmentedSize below 131072.
    #[error("{message}: MaxFragmentedSize {value} is below 131072")]
    MaxFragmentedSizeTooSmall { message: &'static str, value: u32 },
    /// The server's PreferredSendSize is larger than the receive buffers the client posts.
    #[error("negotiate response: PreferredSendSize {value} exceeds our MaxReceiveSize {max}")]
    PreferredSendSizeTooLarge { value: u32, max: u32 },
    /// The server still had no receive posted to grant when its negotiation timer expired: it
    /// answers STATUS_INSUFFICIENT_RESOURCES (MS-SMBD 3.1.5.6) and closes.
    #[error("no receive was posted to grant in the negotiate response before the negotiation timer expired")]
    NoReceiveCredits,

    // ---- data transfer, MS-SMBD 3.1.5.8 and 3.1.5.1 ----
    /// A received message longer than the negotiated MaxReceiveSize.
    #[error("received {len} bytes, more than the negotiated MaxReceiveSize {max}")]
    ReceiveTooLong { len: usize, max: u32 },
    /// The peer sent a message while holding no credit from us.
    #[error("data transfer: the peer sent without a credit")]
    NoCreditForReceive,
    /// The transport reported a receive while the state machine counted no posted receive: the
    /// transport broke the `on_receives_posted` contract.
    #[error("a receive completed while no receive was posted")]
    NoReceivePosted,
    /// DataLength + RemainingDataLength above our MaxFragmentedRecvSize.
    #[error(
        "data transfer: DataLength {data_length} + RemainingDataLength {remaining} exceed \
         MaxFragmentedRecvSize {max}"
    )]
    FragmentTooLarge { data_length: u32, remaining: u32, max: u32 },
    /// A continuation fragment whose lengths do not follow from the previous fragment.
    #[error(
        "data transfer: fragment of {data_length} bytes says {remaining} remain, but {expected} \
         were still due before it"
    )]
    FragmentMismatch { data_length: u32, remaining: u32, expected: u32 },
    /// A message without data that claims more data follows.
    #[error("data transfer: no data but RemainingDataLength {0}")]
    EmptyWithRemaining(u32),
    /// Grants that would take our send credits past 65535: no peer posts that many receives.
    #[error("data transfer: CreditsGranted {granted} on top of {held} held credits overflows")]
    CreditOverflow { granted: u16, held: u32 },
    /// A message where none may arrive (e.g. before the server sent its negotiate response).
    #[error("a message arrived while {state}")]
    UnexpectedMessage { state: &'static str },

    // ---- timers, MS-SMBD 3.1.6, and the transport ----
    /// The negotiation did not finish in time (MS-SMBD 3.1.6.1).
    #[error("negotiation timed out")]
    NegotiateTimeout,
    /// Nothing arrived within the keepalive timeout after a keepalive request (MS-SMBD 3.1.6.2).
    #[error("the peer did not answer a keepalive")]
    KeepaliveTimeout,
    /// The transport reported the connection lost (MS-SMBD 3.1.7.1).
    #[error("the RDMA connection was lost")]
    ConnectionLost,
}

impl Error {
    /// Whether this error ends the connection. Only refusals of local requests do not.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Error::Config { .. }
                | Error::NotEstablished
                | Error::Closed
                | Error::EmptyMessage
                | Error::MessageTooLarge { .. }
        )
    }
}

/// Why an SMB2 READ/WRITE's buffer descriptors (MS-SMBD 2.2.3.1) are refused.
///
/// The SMB2 layer answers all of them with [`DescriptorError::status`] (MS-SMB2 3.3.5.12,
/// 3.3.5.13: STATUS_INVALID_PARAMETER); the variants say what was wrong for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    /// No descriptor at all.
    #[error("no buffer descriptors")]
    Empty,
    /// More descriptors than [`crate::Config::max_descriptors`].
    #[error("{count} buffer descriptors, more than the limit of {max}")]
    TooMany { count: usize, max: usize },
    /// A descriptor of Length 0 (MS-SMB2 3.3.5.13 names a zero first Length; any zero is useless
    /// and would make the planner emit empty work requests).
    #[error("buffer descriptor {index} has Length 0")]
    ZeroLength { index: usize },
    /// Offset + Length wraps the 64-bit address space.
    #[error("buffer descriptor {index}: Offset {offset:#x} + Length {length} wraps")]
    AddressOverflow { index: usize, offset: u64, length: u32 },
    /// The I/O is larger than the negotiated MaxReadWriteSize.
    #[error("I/O of {len} bytes exceeds MaxReadWriteSize {max}")]
    IoTooLarge { len: u64, max: u32 },
    /// The descriptors describe fewer bytes than the I/O needs.
    #[error("buffer descriptors cover {total} bytes, short of the {needed} the I/O needs")]
    TooShort { total: u64, needed: u64 },
}

impl DescriptorError {
    /// The MS-SMB2 status the server answers the READ or WRITE with.
    pub fn status(&self) -> NtStatus {
        NtStatus::INVALID_PARAMETER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_refusals_are_not_fatal() {
        assert!(!Error::EmptyMessage.is_fatal());
        assert!(!Error::MessageTooLarge { len: 2, max: 1 }.is_fatal());
        assert!(!Error::NotEstablished.is_fatal());
        assert!(Error::NoCreditForReceive.is_fatal());
        assert!(Error::KeepaliveTimeout.is_fatal());
        assert!(Error::VersionNotSupported { min: 0x200, max: 0x200 }.is_fatal());
    }

    #[test]
    fn messages_name_the_field() {
        let e = Error::MaxReceiveSizeTooSmall { message: "negotiate request", value: 64 };
        assert_eq!(e.to_string(), "negotiate request: MaxReceiveSize 64 is below 128");
        assert_eq!(DescriptorError::ZeroLength { index: 1 }.status(), NtStatus::INVALID_PARAMETER);
    }
}
