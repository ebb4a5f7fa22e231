//! Who may use the admin view: loopback always; other hosts only with the token
//! (`--admin-token-file`), sent as `Authorization: Bearer <token>`, and never without a token file.
//!
//! Loopback is what [`std::net::IpAddr::is_loopback`] says: 127.0.0.0/8 and ::1, and IPv4-mapped
//! 127/8 addresses (`::ffff:127.0.0.1`, what a dual-stack socket reports for a local IPv4 peer).
//!
//! A request from loopback without the token must also name the view by address or as `localhost`
//! in its `Host` header: a web page the operator's browser visits could otherwise point a name of
//! its own at 127.0.0.1 (DNS rebinding) and read the API as a loopback client.

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
        #[cfg(unix)]
        if let Ok(m) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            if m.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the admin token file is readable by other users: chmod 600 it");
            }
        }
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

/// Whether a `Host` header names the view by IP address or as localhost (with or without a port).
fn host_is_literal(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // [v6]:port or [v6]
        Some(rest) => return rest.split(']').next().is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            host.rsplit_once(':').map_or(host, |(n, port)| if port.parse::<u16>().is_ok() { n } else { host })
        }
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

/// Decides on a request from `peer` (unknown: treated as remote) carrying `authorization` and
/// `host` (the headers' values, if any).
pub fn check(
    peer: Option<SocketAddr>,
    authorization: Option<&str>,
    host: Option<&str>,
    token: Option<&Token>,
) -> Access {
    let offered = authorization
        .map(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or("").trim());
    if let (Some(t), Some(o)) = (token, offered) {
        if t.matches(o) {
            return Access::Allowed;
        }
    }
    if peer.is_some_and(|p| is_loopback(p.ip())) {
        return if host.is_none_or(host_is_literal) { Access::Allowed } else { Access::Refused };
    }
    match (token, offered) {
        (Some(_), None) => Access::NoToken,
        _ => Access::Refused,
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
            assert_eq!(check(addr(a), None, None, None), Access::Allowed, "{a}");
        }
        for h in ["127.0.0.1:9445", "localhost:9445", "LOCALHOST", "[::1]:9445", "[::1]", "10.0.0.1"] {
            assert_eq!(check(addr("127.0.0.1:1"), None, Some(h), None), Access::Allowed, "{h}");
        }
    }

    #[test]
    fn loopback_requests_naming_another_host_are_refused_without_the_token() {
        let t = Token::new("0123456789abcdef-secret").unwrap();
        let lo = addr("127.0.0.1:1");
        for h in ["evil.example:9445", "evil.example", "localhost.evil.example", "[nope]:1"] {
            assert_eq!(check(lo, None, Some(h), None), Access::Refused, "{h}");
        }
        let bearer = Some("Bearer 0123456789abcdef-secret");
        assert_eq!(check(lo, bearer, Some("smbhost:9445"), Some(&t)), Access::Allowed, "with the token");
    }

    #[test]
    fn other_hosts_need_the_right_token() {
        let t = Token::new("0123456789abcdef-secret").unwrap();
        let remote = addr("192.0.2.7:40000");
        assert_eq!(check(remote, None, None, None), Access::Refused);
        assert_eq!(check(remote, Some("Bearer 0123456789abcdef-secret"), None, None), Access::Refused);
        assert_eq!(check(remote, None, None, Some(&t)), Access::NoToken);
        assert_eq!(check(remote, Some("Bearer wrong"), None, Some(&t)), Access::Refused);
        assert_eq!(check(remote, Some("Basic 0123456789abcdef-secret"), None, Some(&t)), Access::Refused);
        assert_eq!(check(remote, Some("Bearer 0123456789abcdef-secre"), None, Some(&t)), Access::Refused);
        assert_eq!(check(remote, Some("Bearer 0123456789abcdef-secret"), None, Some(&t)), Access::Allowed);
        assert_eq!(check(addr("[::ffff:192.0.2.7]:1"), None, None, Some(&t)), Access::NoToken);
        assert_eq!(check(None, None, None, Some(&t)), Access::NoToken);
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        assert!(Token::new("short").is_none());
        assert!(Token::new("0123456789 abcdef").is_none());
        assert_eq!(Token::new("  0123456789abcdef\n").unwrap().as_str(), "0123456789abcdef");
    }
}
