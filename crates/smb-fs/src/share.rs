//! A share: a name clients connect to and the directory it serves.

use std::path::PathBuf;

use crate::access;

/// One share (MS-SMB2 3.3.1.6 Share): `root` is served as the share's root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub name: String,
    /// The directory served. Symbolic links inside it are never followed; the path itself may contain
    /// links (it is the administrator's choice).
    pub root: PathBuf,
    /// Share.EncryptData: the session layer refuses unencrypted access; this crate ignores it.
    pub encrypt_data: bool,
    /// Every create, write, delete, rename and attribute change fails with STATUS_ACCESS_DENIED.
    pub read_only: bool,
    /// The users who may connect to the share (compared without regard to case, like Windows
    /// account names); empty lets every authenticated user in.
    pub users: Vec<String>,
}

impl Share {
    pub fn new(name: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            root: root.into(),
            encrypt_data: false,
            read_only: false,
            users: Vec::new(),
        }
    }

    /// Whether `user` may connect: the share lists no users, or lists this one. An anonymous or
    /// guest session (no user name) gets into no share that lists users.
    pub fn admits(&self, user: &str) -> bool {
        self.users.is_empty() || (!user.is_empty() && self.users.iter().any(|u| u.eq_ignore_ascii_case(user)))
    }

    /// The MaximalAccess of a TREE_CONNECT response (MS-SMB2 2.2.10) for this share.
    pub fn maximal_access(&self) -> u32 {
        access::maximal(self.read_only, false)
    }
}

#[cfg(test)]
mod tests {
    use super::Share;

    #[test]
    fn a_user_list_admits_its_users_only() {
        let mut s = Share::new("p", "/x");
        assert!(s.admits("anyone") && s.admits(""), "no list: every session");
        s.users = vec!["alice".into(), "Bob".into()];
        assert!(s.admits("alice") && s.admits("ALICE") && s.admits("bob"));
        assert!(!s.admits("carol"));
        assert!(!s.admits(""), "an anonymous session gets into no share that lists users");
    }
}
