//! The accounts an acceptor knows: user name (case-insensitive) -> NT hash. Passwords are hashed on the
//! way in and never kept.

use std::collections::HashMap;

use zeroize::Zeroizing;

use crate::error::AuthError;
use crate::ntlmv2::nt_hash;

/// User name (compared case-insensitively, as Windows does) -> NT hash, plus the anonymous-logon policy.
#[derive(Default)]
pub struct UserDb {
    users: HashMap<String, Zeroizing<[u8; 16]>>,
    anonymous: bool,
}

impl UserDb {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_password(&mut self, user: &str, password: &str) {
        self.add_nt_hash(user, nt_hash(password));
    }

    pub fn add_nt_hash(&mut self, user: &str, hash: [u8; 16]) {
        self.users.insert(fold(user), Zeroizing::new(hash));
    }

    /// `user:password` (the CLI form) or `user:nthash:<32 hex digits>`. The password may contain ':'.
    pub fn add_spec(&mut self, spec: &str) -> Result<(), AuthError> {
        let (user, secret) =
            spec.split_once(':').ok_or(AuthError::InvalidUserSpec { why: "expected user:password" })?;
        if user.is_empty() {
            return Err(AuthError::InvalidUserSpec { why: "empty user name" });
        }
        match secret.strip_prefix("nthash:") {
            Some(hex) => {
                let hash = parse_hash(hex)
                    .ok_or(AuthError::InvalidUserSpec { why: "nthash must be 32 hex digits" })?;
                self.add_nt_hash(user, hash);
            }
            None => self.add_password(user, secret),
        }
        Ok(())
    }

    /// Whether null sessions (empty user, empty NT response) are accepted. Default: no.
    pub fn allow_anonymous(&mut self, yes: bool) {
        self.anonymous = yes;
    }

    pub fn anonymous_allowed(&self) -> bool {
        self.anonymous
    }

    /// The NT hash of `user`, if known.
    pub fn nt_hash_of(&self, user: &str) -> Option<&[u8; 16]> {
        self.users.get(&fold(user)).map(|h| &**h)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl std::fmt::Debug for UserDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserDb")
            .field("users", &self.users.len())
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

fn fold(user: &str) -> String {
    user.to_uppercase()
}

fn parse_hash(hex: &str) -> Option<[u8; 16]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *o = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive() {
        let mut db = UserDb::new();
        db.add_password("Alice", "pw");
        assert_eq!(db.nt_hash_of("ALICE"), Some(&nt_hash("pw")));
        assert_eq!(db.nt_hash_of("alice"), Some(&nt_hash("pw")));
        assert_eq!(db.nt_hash_of("bob"), None);
    }

    #[test]
    fn specs_add_passwords_and_hashes() {
        let mut db = UserDb::new();
        db.add_spec("user:Pass:word").unwrap();
        assert_eq!(db.nt_hash_of("user"), Some(&nt_hash("Pass:word")));
        db.add_spec("h:nthash:A4F49C406510BDCAB6824EE7C30FD852").unwrap();
        assert_eq!(db.nt_hash_of("h"), Some(&nt_hash("Password")));
        db.add_spec("empty:").unwrap();
        assert_eq!(db.nt_hash_of("empty"), Some(&nt_hash("")));
        assert_eq!(db.len(), 3);
    }

    #[test]
    fn bad_specs_are_refused() {
        let mut db = UserDb::new();
        assert!(db.add_spec("nocolon").is_err());
        assert!(db.add_spec(":pw").is_err());
        assert!(db.add_spec("u:nthash:a4f4").is_err());
        assert!(db.add_spec("u:nthash:zz f49c406510bdcab6824ee7c30fd852").is_err());
        assert!(db.add_spec("u:nthash:é4f49c406510bdcab6824ee7c30fd85").is_err(), "non-ASCII");
        assert!(db.is_empty());
    }

    #[test]
    fn anonymous_is_off_by_default_and_debug_hides_hashes() {
        let mut db = UserDb::new();
        assert!(!db.anonymous_allowed());
        db.allow_anonymous(true);
        assert!(db.anonymous_allowed());
        db.add_password("x", "secret");
        assert_eq!(format!("{db:?}"), "UserDb { users: 1, anonymous: true }");
    }
}
