//! Who may use the admin view: loopback always; other hosts only with the token
//! (`--admin-token-file`), sent as `Authorization: Bearer <token>`, and never without a token file.
//!
//! Loopback is what [`std::net::IpAddr::is_loopback`] says: 127.0.0.0/8 and ::1, and IPv4-mapped
//! 127/8 addresses (`::ffff:127.0.0.1`, what a dual-stack socket reports for a local IPv4 peer).

use std::net::{IpAddr, SocketAddr};

/// The answer to one request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// 401: no token where one is needed (the client may retry with one).
    NoToken,
    /// 403: a wrong token, or a non-loopback peer while no token is configured.
    Refused,
}

/// The token other hosts must send.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("reading the admin token file {path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    #[error("the admin token file {0} holds no token (one line of at least 16 characters)")]
    TooShort(std::path::PathBuf),
}

impl Token {
    /// At least 16 characters: a short token is guessed.
    const MIN_LEN: usize = 16;

    pub fn new(token: &str) -> Option<Token> {
        let t = token.trim();
        (t.len() >= Self::MIN_LEN && !t.contains(char::is_whitespace)).then(|| Token(t.to_string()))
    }

    /// The token is the file's content without surrounding white space.
    pub fn from_file(path: &std::path::Path) -> Result<Token, TokenError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| TokenError::Read { path: path.into(), source })?;
        Token::new(&text).ok_or_else(|| TokenError::TooShort(path.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the first difference is.
    fn matches(&self, offered: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), offered.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Decides on a request from `peer` (unknown: treated as remote) carrying `authorization` (the
/// header's value, if any).
pub fn check(peer: Option<SocketAddr>, authorization: Option<&str>, token: Option<&Token>) -> Access {
    if peer.is_some_and(|p| is_loopback(p.ip())) {
        return Access::Allowed;
    }
    let Some(token) = token else { return Access::Refused };
    let Some(value) = authorization else { return Access::NoToken };
    let offered = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or("");
    if token.matches(offered.trim()) {
        Access::Allowed
    } else {
        Access::Refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn loopback_is_allowed_without_a_token() {
        for a in ["127.0.0.1:1", "127.0.0.2:1", "[::1]:1", "[::ffff:127.0.0.1]:1"] {
            assert_eq!(check(addr(a), None, None), Access::Allowed, "{a}");
        }
    }

    #[test]
    fn other_hosts_need_the_right_token() {
        let t = Token::new("0123456789abcdef-secret").unwrap();
        let remote = addr("192.0.2.7:40000");
        assert_eq!(check(remote, None, None), Access::Refused);
        assert_eq!(check(remote, Some("Bearer 0123456789abcdef-secret"), None), Access::Refused);
        assert_eq!(check(remote, None, Some(&t)), Access::NoToken);
        assert_eq!(check(remote, Some("Bearer wrong"), Some(&t)), Access::Refused);
        assert_eq!(check(remote, Some("Basic 0123456789abcdef-secret"), Some(&t)), Access::Refused);
        assert_eq!(check(remote, Some("Bearer 0123456789abcdef-secre"), Some(&t)), Access::Refused);
        assert_eq!(check(remote, Some("Bearer 0123456789abcdef-secret"), Some(&t)), Access::Allowed);
        assert_eq!(check(addr("[::ffff:192.0.2.7]:1"), None, Some(&t)), Access::NoToken);
        assert_eq!(check(None, None, Some(&t)), Access::NoToken);
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        assert!(Token::new("short").is_none());
        assert!(Token::new("0123456789 abcdef").is_none());
        assert_eq!(Token::new("  0123456789abcdef\n").unwrap().as_str(), "0123456789abcdef");
    }
}
