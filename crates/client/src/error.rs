//! What can go wrong for a caller of the blocking client, naming the operation and its target.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smb_wire::status::NtStatus;

/// One error type for the crate.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection to the server could not be made, or the engine could not start.
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The server refused the user name or password (STATUS_LOGON_FAILURE).
    #[error("logon failure for user {user:?}")]
    LogonFailure { user: String },
    /// The server denied access (STATUS_ACCESS_DENIED), e.g. a share that requires encryption when
    /// this client cannot encrypt.
    #[error("access denied: {op} {target:?}")]
    AccessDenied { op: &'static str, target: String },
    /// The file or directory does not exist (STATUS_OBJECT_NAME_NOT_FOUND and its kin).
    #[error("not found: {target:?}")]
    NotFound { target: String },
    /// The name is taken (STATUS_OBJECT_NAME_COLLISION): mkdir of an existing directory, rename
    /// onto an existing name without replace, a create-new of an existing file.
    #[error("already exists: {target:?}")]
    Exists { target: String },
    /// The directory is not empty (STATUS_DIRECTORY_NOT_EMPTY).
    #[error("directory not empty: {target:?}")]
    NotEmpty { target: String },
    /// A file was named where a directory is needed, or the other way round.
    #[error("{target:?} is {}", if *.is_dir { "a directory" } else { "not a directory" })]
    WrongKind { target: String, is_dir: bool },
    /// The share does not exist (STATUS_BAD_NETWORK_NAME).
    #[error("no such share: {share:?}")]
    NoSuchShare { share: String },
    /// The server answered with another error status.
    #[error("{op} {target:?} failed: {status:?}")]
    Status { op: &'static str, target: String, status: NtStatus },
    /// The connection is gone (server closed it, network error, engine stopped).
    #[error("connection closed during {op}")]
    ConnectionClosed { op: &'static str },
    /// No answer within the bounded wait.
    #[error("{op} timed out after {after:?}")]
    Timeout { op: &'static str, after: Duration },
    /// The SMB protocol layer refused a request or a response (bad signature, downgrade, no
    /// cipher in common, ...). Shared because one failure of the connection fails every request.
    #[error("protocol error: {0}")]
    Protocol(#[source] Arc<smb_client_proto::ClientError>),
    /// The server wrote fewer bytes than asked without an error status.
    #[error("short write at offset {offset}: {written} of {asked} bytes")]
    ShortWrite { offset: u64, written: usize, asked: usize },
    /// A structure in the server's answer does not parse.
    #[error("malformed {what} from the server: {source}")]
    Malformed {
        what: &'static str,
        #[source]
        source: smb_wire::WireError,
    },
    /// The server sent more of something than this client holds.
    #[error("more than {max} {what}")]
    TooMany { what: &'static str, max: usize },
    /// The server's answer does not match the request (e.g. more bytes read than asked).
    #[error("unexpected answer to {op}")]
    Unexpected { op: &'static str },
}

impl ClientError {
    /// The typed error for an error status `status` of `op` on `target`.
    pub(crate) fn from_status(op: &'static str, target: &str, status: NtStatus) -> ClientError {
        let target = target.to_string();
        match status {
            NtStatus::LOGON_FAILURE => ClientError::LogonFailure { user: target },
            NtStatus::ACCESS_DENIED => ClientError::AccessDenied { op, target },
            NtStatus::OBJECT_NAME_NOT_FOUND | NtStatus::OBJECT_PATH_NOT_FOUND | NtStatus::NO_SUCH_FILE => {
                ClientError::NotFound { target }
            }
            NtStatus::BAD_NETWORK_NAME => ClientError::NoSuchShare { share: target },
            NtStatus::OBJECT_NAME_COLLISION => ClientError::Exists { target },
            NtStatus::DIRECTORY_NOT_EMPTY => ClientError::NotEmpty { target },
            NtStatus::FILE_IS_A_DIRECTORY => ClientError::WrongKind { target, is_dir: true },
            NtStatus::NOT_A_DIRECTORY => ClientError::WrongKind { target, is_dir: false },
            _ => ClientError::Status { op, target, status },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_their_variants() {
        assert!(matches!(
            ClientError::from_status("logon", "bob", NtStatus::LOGON_FAILURE),
            ClientError::LogonFailure { user } if user == "bob"
        ));
        assert!(matches!(
            ClientError::from_status("open", "a/b", NtStatus::OBJECT_PATH_NOT_FOUND),
            ClientError::NotFound { target } if target == "a/b"
        ));
        assert!(matches!(
            ClientError::from_status("tree connect", "x", NtStatus::ACCESS_DENIED),
            ClientError::AccessDenied { op: "tree connect", .. }
        ));
        assert!(matches!(
            ClientError::from_status("tree connect", "x", NtStatus::BAD_NETWORK_NAME),
            ClientError::NoSuchShare { .. }
        ));
        let e = ClientError::from_status("read", "f", NtStatus::DISK_FULL);
        assert!(matches!(e, ClientError::Status { status: NtStatus::DISK_FULL, .. }));
    }
}
