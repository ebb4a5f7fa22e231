//! MS-SMB2 3.2.4.2.4 connecting to a share (TREE_CONNECT) and 3.2.4.22 closing the connection
//! (TREE_DISCONNECT), and the check every request on a tree makes first. Their responses complete in
//! [`super::receive`].

use super::*;
use smb_wire::tree_connect::{TreeConnectRequest, TreeDisconnect};
use smb_wire::types::{utf16le, Utf16};

impl ClientConnection {
    /// MS-SMB2 3.2.4.2.4 TREE_CONNECT to `unc` (`\\server\share`).
    pub fn tree_connect(&mut self, unc: &str) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.expect(Phase::LoggedOn, "tree_connect")?;
        let path = utf16le(unc);
        let req = TreeConnectRequest {
            flags: 0,
            path: Utf16::new(&path, "path").map_err(ClientError::wire("Path"))?,
        };
        self.send(Command::TREE_CONNECT, 0, 1, &req, None)
    }

    pub fn tree_disconnect(&mut self, tree: TreeHandle) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("tree_disconnect", tree)?;
        self.send(Command::TREE_DISCONNECT, tree.0, 1, &TreeDisconnect, None)
    }

    /// Logged on, and `tree` connected: what every request on a tree needs.
    pub(super) fn ready(&self, op: &'static str, tree: TreeHandle) -> Result<(), ClientError> {
        self.expect(Phase::LoggedOn, op)?;
        self.known_tree(tree)
    }

    fn known_tree(&self, tree: TreeHandle) -> Result<(), ClientError> {
        if self.trees.contains_key(&tree.0) {
            Ok(())
        } else {
            Err(ClientError::UnknownTree { tree_id: tree.0 })
        }
    }
}
