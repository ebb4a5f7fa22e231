//! MS-SMB2 2.2.9 TREE_CONNECT Request, 2.2.10 TREE_CONNECT Response, 2.2.11/2.2.12 TREE_DISCONNECT.

use crate::codec::{slice_at, Encode, Reader, Writer};
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::types::{narrow_u16, us, Utf16};

/// TREE_CONNECT request flags (3.1.1).
pub mod tree_connect_flags {
    pub const CLUSTER_RECONNECT: u16 = 0x0001;
    pub const REDIRECT_TO_OWNER: u16 = 0x0002;
    pub const EXTENSION_PRESENT: u16 = 0x0004;
}

/// MS-SMB2 2.2.9 SMB2 TREE_CONNECT Request.
///
/// With EXTENSION_PRESENT the path sits inside a tree connect extension; this codec carries the raw
/// buffer in that case (`path` then holds the bytes PathOffset/PathLength point at, as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConnectRequest<'a> {
    pub flags: u16,
    /// `\\server\share`, UTF-16LE.
    pub path: Utf16<'a>,
}

impl<'a> TreeConnectRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 9;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "TreeConnectRequest.StructureSize")?;
        let flags = r.u16("TreeConnectRequest.Flags")?;
        let off = us(r.u16("TreeConnectRequest.PathOffset")?);
        let len = us(r.u16("TreeConnectRequest.PathLength")?);
        let path =
            Utf16::new(slice_at(pdu, off, len, "TreeConnectRequest.Path")?, "TreeConnectRequest.Path")?;
        Ok(Self { flags, path })
    }
}

impl Encode for TreeConnectRequest<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        8 + self.path.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let path_off = w.pos() + 8;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(self.flags)?;
        w.u16(narrow_u16(path_off, "TreeConnectRequest.PathOffset")?)?;
        w.u16(narrow_u16(self.path.len(), "TreeConnectRequest.PathLength")?)?;
        if self.path.is_empty() {
            // StructureSize 9 counts one byte of Buffer even when it is empty.
            w.u8(0)
        } else {
            w.bytes(self.path.as_bytes())
        }
    }
}

/// MS-SMB2 2.2.10 ShareType.
pub mod share_type {
    pub const DISK: u8 = 0x01;
    pub const PIPE: u8 = 0x02;
    pub const PRINT: u8 = 0x03;
}

/// MS-SMB2 2.2.10 ShareFlags.
pub mod share_flags {
    pub const MANUAL_CACHING: u32 = 0x0000_0000;
    pub const AUTO_CACHING: u32 = 0x0000_0010;
    pub const VDO_CACHING: u32 = 0x0000_0020;
    pub const NO_CACHING: u32 = 0x0000_0030;
    pub const DFS: u32 = 0x0000_0001;
    pub const DFS_ROOT: u32 = 0x0000_0002;
    pub const RESTRICT_EXCLUSIVE_OPENS: u32 = 0x0000_0100;
    pub const FORCE_SHARED_DELETE: u32 = 0x0000_0200;
    pub const ALLOW_NAMESPACE_CACHING: u32 = 0x0000_0400;
    pub const ACCESS_BASED_DIRECTORY_ENUM: u32 = 0x0000_0800;
    pub const FORCE_LEVELII_OPLOCK: u32 = 0x0000_1000;
    pub const ENABLE_HASH_V1: u32 = 0x0000_2000;
    pub const ENABLE_HASH_V2: u32 = 0x0000_4000;
    pub const ENCRYPT_DATA: u32 = 0x0000_8000;
    pub const IDENTITY_REMOTING: u32 = 0x0004_0000;
    pub const COMPRESS_DATA: u32 = 0x0010_0000;
}

/// MS-SMB2 2.2.10 share Capabilities.
pub mod share_caps {
    pub const DFS: u32 = 0x0000_0008;
    pub const CONTINUOUS_AVAILABILITY: u32 = 0x0000_0010;
    pub const SCALEOUT: u32 = 0x0000_0020;
    pub const CLUSTER: u32 = 0x0000_0040;
    pub const ASYMMETRIC: u32 = 0x0000_0080;
    pub const REDIRECT_TO_OWNER: u32 = 0x0000_0100;
}

/// MS-SMB2 2.2.10 SMB2 TREE_CONNECT Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConnectResponse {
    pub share_type: u8,
    pub share_flags: u32,
    pub capabilities: u32,
    pub maximal_access: u32,
}

impl TreeConnectResponse {
    pub const STRUCTURE_SIZE: u16 = 16;

    pub fn parse(pdu: &[u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "TreeConnectResponse.StructureSize")?;
        let share_type = r.u8("TreeConnectResponse.ShareType")?;
        r.skip(1, "TreeConnectResponse.Reserved")?;
        Ok(Self {
            share_type,
            share_flags: r.u32("TreeConnectResponse.ShareFlags")?,
            capabilities: r.u32("TreeConnectResponse.Capabilities")?,
            maximal_access: r.u32("TreeConnectResponse.MaximalAccess")?,
        })
    }
}

impl Encode for TreeConnectResponse {
    fn encoded_len_at(&self, _at: usize) -> usize {
        16
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.share_type)?;
        w.u8(0)?;
        w.u32(self.share_flags)?;
        w.u32(self.capabilities)?;
        w.u32(self.maximal_access)
    }
}

crate::empty_body::empty_body! {
    /// MS-SMB2 2.2.11 TREE_DISCONNECT Request and 2.2.12 Response: both are StructureSize 4 + Reserved.
    /// The same 4-byte shape is also LOGOFF (2.2.7/2.2.8); see [`crate::logoff`].
    TreeDisconnect,
    "TreeDisconnect.StructureSize"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::header::Command;
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use crate::types::utf16le;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_round_trips(flags in any::<u16>(), name in "[a-zA-Z0-9\\\\ .]{0,40}") {
            let bytes = utf16le(&name);
            let req = TreeConnectRequest { flags, path: Utf16::new(&bytes, "t").unwrap() };
            let p = pdu(Command::TREE_CONNECT, &req);
            prop_assert_eq!(TreeConnectRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| TreeConnectRequest::parse(b).is_ok());
        }

        #[test]
        fn response_round_trips(t in any::<u8>(), f in any::<u32>(), c in any::<u32>(), a in any::<u32>()) {
            let rsp = TreeConnectResponse { share_type: t, share_flags: f, capabilities: c, maximal_access: a };
            let p = pdu(Command::TREE_CONNECT, &rsp);
            prop_assert_eq!(TreeConnectResponse::parse(&p).unwrap(), rsp);
            prop_assert!(TreeConnectResponse::parse(&p[..p.len() - 1]).is_err());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut p = pdu(Command::TREE_CONNECT, &TreeDisconnect);
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = TreeConnectRequest::parse(&p);
            let _ = TreeConnectResponse::parse(&p);
            let _ = TreeDisconnect::parse(&p);
        }
    }

    #[test]
    fn path_outside_the_message_is_rejected() {
        let bytes = utf16le("\\\\s\\d");
        let mut p = pdu(
            Command::TREE_CONNECT,
            &TreeConnectRequest { flags: 0, path: Utf16::new(&bytes, "t").unwrap() },
        );
        p[HEADER_LEN + 6] = 0xFF; // PathLength low byte
        assert!(matches!(
            TreeConnectRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "TreeConnectRequest.Path", .. })
        ));
    }
}
