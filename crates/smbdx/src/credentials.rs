//! Who to log on as. Sources, first that answers wins: `--user` (or the URL's user), then
//! `SMBDX_USER`; the password from `SMBDX_PASSWORD`, then `--credentials-file`, then a prompt with
//! echo off when stdin is a terminal. The password is never printed, logged or put in a `Debug`.

use std::fmt;
use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use crate::url::SmbUrl;

/// A user and password for NTLM logon.
pub struct Credentials {
    /// `DOMAIN\user` or `user`.
    pub user: String,
    pub password: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).field("password", &"<hidden>").finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("no user name: give --user, a user in the URL (smb://user@host/share) or SMBDX_USER")]
    NoUser,
    #[error("no password: set SMBDX_PASSWORD, give --credentials-file, or run on a terminal to be asked")]
    NoPassword,
    #[error("credentials file {path}: {detail}")]
    File { path: String, detail: String },
}

/// The fields of an smbclient-style credentials file (`username = `, `password = `, `domain = `).
#[derive(Default)]
struct FileCreds {
    user: Option<String>,
    password: Option<Zeroizing<String>>,
    domain: Option<String>,
}

fn read_file(path: &Path) -> Result<FileCreds, CredentialsError> {
    let err = |detail: String| CredentialsError::File { path: path.display().to_string(), detail };
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
    let mut c = FileCreds::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) =
            line.split_once('=').ok_or_else(|| err(format!("line {}: expected key = value", n + 1)))?;
        let v = v.trim().to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "username" | "user" => c.user = Some(v),
            "password" => c.password = Some(Zeroizing::new(v)),
            "domain" => c.domain = Some(v),
            other => return Err(err(format!("line {}: unknown key {other:?}", n + 1))),
        }
    }
    Ok(c)
}

/// Resolves the credentials for `url` from the flag, the environment and the file.
pub fn resolve(
    flag_user: Option<&str>,
    file: Option<&Path>,
    url: Option<&SmbUrl>,
) -> Result<Credentials, CredentialsError> {
    let from_file = match file {
        Some(p) => read_file(p)?,
        None => FileCreds::default(),
    };
    let env_user = std::env::var("SMBDX_USER").ok().filter(|s| !s.is_empty());
    let url_user = url.and_then(|u| {
        u.user.as_ref().map(|n| match &u.domain {
            Some(d) => format!("{d}\\{n}"),
            None => n.clone(),
        })
    });
    let file_user = from_file.user.as_ref().map(|n| match &from_file.domain {
        Some(d) if !n.contains('\\') => format!("{d}\\{n}"),
        _ => n.clone(),
    });
    let user = flag_user
        .map(str::to_string)
        .or(url_user)
        .or(env_user)
        .or(file_user)
        .ok_or(CredentialsError::NoUser)?;
    let password = match std::env::var("SMBDX_PASSWORD") {
        Ok(p) => Zeroizing::new(p),
        Err(_) => match from_file.password {
            Some(p) => p,
            None if std::io::stdin().is_terminal() => {
                let p = rpassword::prompt_password(format!("password for {user}: "))
                    .map_err(|_| CredentialsError::NoPassword)?;
                Zeroizing::new(p)
            }
            None => return Err(CredentialsError::NoPassword),
        },
    };
    Ok(Credentials { user, password })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let c = Credentials { user: "alice".into(), password: Zeroizing::new("hunter2".into()) };
        let s = format!("{c:?}");
        assert!(s.contains("alice") && !s.contains("hunter2"), "{s}");
    }

    #[test]
    fn credentials_files_parse_and_bad_ones_say_where() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        std::fs::write(
            &good,
            "# smbclient style\nusername = bob\npassword = pw = with equals\ndomain = CORP\n",
        )
        .unwrap();
        let c = read_file(&good).unwrap();
        assert_eq!(c.user.as_deref(), Some("bob"));
        assert_eq!(c.password.as_deref().map(String::as_str), Some("pw = with equals"));
        assert_eq!(c.domain.as_deref(), Some("CORP"));
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "username = bob\nnonsense\n").unwrap();
        let e = read_file(&bad).err().unwrap().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(read_file(&dir.path().join("missing")).is_err());
    }
}
