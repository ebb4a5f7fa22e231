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
}

impl Share {
    pub fn new(name: impl Into<String>, root: impl Into<PathBuf>) -> Self {
        Self { name: name.into(), root: root.into(), encrypt_data: false, read_only: false }
    }

    /// The MaximalAccess of a TREE_CONNECT response (MS-SMB2 2.2.10) for this share.
    pub fn maximal_access(&self) -> u32 {
        access::maximal(self.read_only, false)
    }
}
