//! `smb://[[domain;]user@]host[:port]/share[/path]`: how the CLI names a remote file, after the
//! SMB URI scheme smbclient and GNOME use (`;` separates the domain in the user part).

use std::fmt;

/// A parsed `smb://` URL. The password is never part of it (a `user:pass@` form is refused, so
/// a password cannot land in shell history or `ps` by way of a URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbUrl {
    pub domain: Option<String>,
    pub user: Option<String>,
    /// Host name or address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    pub share: String,
    /// Share-relative path, `/`-separated, without a leading `/`; empty for the share root.
    pub path: String,
}

/// Why a string is not an SMB URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not an smb:// URL: {0:?}")]
    NotSmb(String),
    #[error("no host in {0:?}")]
    NoHost(String),
    #[error("no share in {0:?} (smb://host/share/path)")]
    NoShare(String),
    #[error("bad port in {0:?}")]
    BadPort(String),
    #[error("passwords do not go in URLs ({0:?}); use SMBDX_PASSWORD, --credentials-file or the prompt")]
    PasswordInUrl(String),
    #[error("bad %-escape in {0:?}")]
    BadEscape(String),
}

pub const DEFAULT_PORT: u16 = 445;

impl SmbUrl {
    pub fn is_smb(s: &str) -> bool {
        s.len() >= 6 && s[..6].eq_ignore_ascii_case("smb://")
    }

    pub fn parse(s: &str) -> Result<SmbUrl, UrlError> {
        if !Self::is_smb(s) {
            return Err(UrlError::NotSmb(s.into()));
        }
        let rest = &s[6..];
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (mut domain, mut user) = (None, None);
        if let Some(u) = userinfo {
            if u.contains(':') {
                return Err(UrlError::PasswordInUrl(s.into()));
            }
            let u = unescape(u).ok_or_else(|| UrlError::BadEscape(s.into()))?;
            match u.split_once(';') {
                Some((d, n)) => {
                    domain = Some(d.to_string());
                    user = Some(n.to_string());
                }
                None => user = Some(u),
            }
        }
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| UrlError::NoHost(s.into()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| UrlError::BadPort(s.into()))?,
                None if after.is_empty() => DEFAULT_PORT,
                None => return Err(UrlError::BadPort(s.into())),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| UrlError::BadPort(s.into()))?),
                None => (hostport.to_string(), DEFAULT_PORT),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost(s.into()));
        }
        let path = unescape(path).ok_or_else(|| UrlError::BadEscape(s.into()))?;
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        let share = parts.next().ok_or_else(|| UrlError::NoShare(s.into()))?.to_string();
        let path = parts.collect::<Vec<_>>().join("/");
        Ok(SmbUrl { domain, user, host, port, share, path })
    }

    /// `host:port` for the resolver (IPv6 literals bracketed).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The last component of the path (the share name for the root).
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(&self.share)
    }
}

impl fmt::Display for SmbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "smb://")?;
        if let Some(u) = &self.user {
            if let Some(d) = &self.domain {
                write!(f, "{d};")?;
            }
            write!(f, "{u}@")?;
        }
        write!(f, "{}/{}", self.authority(), self.share)?;
        if !self.path.is_empty() {
            write!(f, "/{}", self.path)?;
        }
        Ok(())
    }
}

/// Percent-decoding (RFC 3986) into UTF-8; None for a broken escape or invalid UTF-8.
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_form_parses() {
        let u = SmbUrl::parse("smb://CORP;alice@files.example:4450/data/dir/a%20b.txt").unwrap();
        assert_eq!(u.domain.as_deref(), Some("CORP"));
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!((u.host.as_str(), u.port), ("files.example", 4450));
        assert_eq!((u.share.as_str(), u.path.as_str()), ("data", "dir/a b.txt"));
        assert_eq!(u.file_name(), "a b.txt");
        assert_eq!(u.to_string(), "smb://CORP;alice@files.example:4450/data/dir/a b.txt");
    }

    #[test]
    fn defaults_and_ipv6() {
        let u = SmbUrl::parse("SMB://10.0.0.1/share").unwrap();
        assert_eq!((u.port, u.path.as_str(), u.user.clone()), (445, "", None));
        assert_eq!(u.file_name(), "share");
        let u = SmbUrl::parse("smb://[::1]:4450/s/x/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("::1", 4450, "x"));
        assert_eq!(u.authority(), "[::1]:4450");
    }

    #[test]
    fn bad_urls_say_why() {
        assert!(matches!(SmbUrl::parse("http://h/s"), Err(UrlError::NotSmb(_))));
        assert!(matches!(SmbUrl::parse("smb:///s"), Err(UrlError::NoHost(_))));
        assert!(matches!(SmbUrl::parse("smb://h"), Err(UrlError::NoShare(_))));
        assert!(matches!(SmbUrl::parse("smb://h//"), Err(UrlError::NoShare(_))));
        assert!(matches!(SmbUrl::parse("smb://h:x/s"), Err(UrlError::BadPort(_))));
        assert!(matches!(SmbUrl::parse("smb://u:pw@h/s"), Err(UrlError::PasswordInUrl(_))));
        assert!(matches!(SmbUrl::parse("smb://h/s/%zz"), Err(UrlError::BadEscape(_))));
        assert!(matches!(SmbUrl::parse("smb://h/s/%"), Err(UrlError::BadEscape(_))));
    }
}
