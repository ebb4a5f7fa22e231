//! What the CLI tells the user when something fails, and the exit code scripts can test.
//!
//! Exit codes: 0 success, 1 other failure, 2 bad usage, 3 cannot connect, 4 logon failure,
//! 5 access denied (including a share that requires encryption), 6 not found,
//! 7 already exists or not empty, 8 security refusal (no encryption where privacy is required,
//! tampered negotiation, bad signature), 9 local file error.

use std::fmt;

use client::ClientError;

/// A failed command: the message for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

pub const USAGE: i32 = 2;
pub const CONNECT: i32 = 3;
pub const LOGON: i32 = 4;
pub const ACCESS: i32 = 5;
pub const NOT_FOUND: i32 = 6;
pub const EXISTS: i32 = 7;
pub const SECURITY: i32 = 8;
pub const LOCAL: i32 = 9;

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    pub fn local(what: &str, path: &std::path::Path, e: std::io::Error) -> Failure {
        let code = if e.kind() == std::io::ErrorKind::NotFound { NOT_FOUND } else { LOCAL };
        Failure::new(code, format!("{what} {}: {e}", path.display()))
    }

    /// A client error met while doing `what` (e.g. "ls smb://h/s/x").
    pub fn client(what: &str, e: ClientError) -> Failure {
        let code = match &e {
            ClientError::Connect { .. }
            | ClientError::ConnectionClosed { .. }
            | ClientError::Timeout { .. } => CONNECT,
            ClientError::LogonFailure { .. } => LOGON,
            ClientError::AccessDenied { .. } => ACCESS,
            ClientError::NotFound { .. } | ClientError::NoSuchShare { .. } => NOT_FOUND,
            ClientError::Exists { .. } | ClientError::NotEmpty { .. } => EXISTS,
            ClientError::Protocol(p) => match **p {
                smb_client_proto::ClientError::PrivacyUnavailable { .. }
                | smb_client_proto::ClientError::NegotiateTampered
                | smb_client_proto::ClientError::DialectDowngrade { .. }
                | smb_client_proto::ClientError::BadSignature { .. }
                | smb_client_proto::ClientError::UnsignedResponse { .. }
                | smb_client_proto::ClientError::UnencryptedResponse { .. }
                | smb_client_proto::ClientError::UnsignedSessionSetup
                | smb_client_proto::ClientError::Decrypt(_) => SECURITY,
                _ => 1,
            },
            _ => 1,
        };
        let hint = match &e {
            ClientError::AccessDenied { op: "tree connect", .. } => {
                " (the share may require encryption: do not pass --ciphers none)"
            }
            ClientError::Connect { .. } => " (is the server running, and is the port right?)",
            _ => "",
        };
        Failure::new(code, format!("{what}: {e}{hint}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn errors_map_to_their_exit_codes() {
        let addr = "127.0.0.1:1".parse().unwrap();
        let refused = ClientError::Connect { addr, source: std::io::ErrorKind::ConnectionRefused.into() };
        let f = Failure::client("ls smb://h/s", refused);
        assert_eq!(f.code, CONNECT);
        assert!(f.message.starts_with("ls smb://h/s: connecting to 127.0.0.1:1"), "{}", f.message);
        assert_eq!(Failure::client("x", ClientError::LogonFailure { user: "u".into() }).code, LOGON);
        let denied = ClientError::AccessDenied { op: "tree connect", target: "s".into() };
        let f = Failure::client("x", denied);
        assert_eq!(f.code, ACCESS);
        assert!(f.message.contains("require encryption"));
        assert_eq!(Failure::client("x", ClientError::NotFound { target: "a".into() }).code, NOT_FOUND);
        let privacy = smb_client_proto::ClientError::PrivacyUnavailable { reason: "no cipher" };
        assert_eq!(Failure::client("x", ClientError::Protocol(Arc::new(privacy))).code, SECURITY);
        let missing =
            Failure::local("read", std::path::Path::new("/nope"), std::io::ErrorKind::NotFound.into());
        assert_eq!(missing.code, NOT_FOUND);
    }
}
