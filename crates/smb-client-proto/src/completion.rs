//! What the caller gets back: handles naming trees and opens, and typed completions of requests.

use crate::read_data::ReadData;
use smb_crypto::{Cipher, SigningAlgorithm};
use smb_wire::create::{CreateAction, NetworkOpenInfo};
use smb_wire::header::Command;
use smb_wire::negotiate::Dialect;
use smb_wire::status::NtStatus;
use smb_wire::types::FileId;

/// The MessageId of a request: how its completion is matched to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// A connected tree (its TreeId).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeHandle(pub u32);

/// An open file: the tree it lives in and its FileId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileHandle {
    pub tree: TreeHandle,
    pub file_id: FileId,
}

/// What CREATE reported about the file it opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateInfo {
    pub action: CreateAction,
    pub info: NetworkOpenInfo,
}

/// One completed request (or a step of logon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// NEGOTIATE settled these.
    Negotiated {
        dialect: Dialect,
        cipher: Option<Cipher>,
        signing: SigningAlgorithm,
    },
    /// SESSION_SETUP needs another leg: send these bytes.
    MoreAuth {
        request: RequestId,
        bytes: Vec<u8>,
    },
    /// The session is established (keys derived, the server's signature checked).
    LoggedOn {
        session_id: u64,
        encrypted: bool,
        signed: bool,
    },
    TreeConnected {
        request: RequestId,
        tree: TreeHandle,
        share_flags: u32,
    },
    Created {
        request: RequestId,
        file: FileHandle,
        info: CreateInfo,
    },
    Read {
        request: RequestId,
        data: ReadData,
    },
    /// A READ by RDMA: the server placed `len` bytes in the buffers the request described; with
    /// `transform`, sealed or signed, to be opened or verified with
    /// [`crate::ClientConnection::open_placed`] before use.
    ReadPlaced {
        request: RequestId,
        len: u32,
        transform: Option<PlacedTransform>,
    },
    Written {
        request: RequestId,
        count: u32,
    },
    Closed {
        request: RequestId,
        file_id: FileId,
    },
    TreeDisconnected {
        request: RequestId,
    },
    Flushed {
        request: RequestId,
    },
    /// A QUERY_DIRECTORY answer: a chain of entries in the class asked for
    /// (`smb_wire::info::dir`).
    DirectoryListed {
        request: RequestId,
        entries: Vec<u8>,
    },
    /// A QUERY_INFO answer: the class's buffer (`smb_wire::info`).
    InfoQueried {
        request: RequestId,
        output: Vec<u8>,
    },
    InfoSet {
        request: RequestId,
    },
    /// The server confirmed the negotiation (FSCTL_VALIDATE_NEGOTIATE_INFO).
    Validated {
        request: RequestId,
    },
    LoggedOff {
        request: RequestId,
    },
    /// The server answered `request` with an error status.
    Error {
        request: RequestId,
        command: Command,
        status: NtStatus,
    },
}

/// The crypto transform that came with data placed by RDMA (MS-SMB2 2.2.43.1): what it is, its tag
/// or MAC, its nonce. Only [`crate::ClientConnection::open_placed`] uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacedTransform {
    pub(crate) encrypted: bool,
    pub(crate) signature: [u8; 16],
    pub(crate) nonce: [u8; 16],
    pub(crate) nonce_len: u8,
}

impl PlacedTransform {
    /// ENCRYPTION (true) or SIGNING (false).
    pub fn is_encryption(&self) -> bool {
        self.encrypted
    }

    pub(crate) fn nonce(&self) -> &[u8] {
        &self.nonce[..usize::from(self.nonce_len)]
    }
}
