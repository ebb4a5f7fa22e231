//! MS-SMB2 2.2.1 SMB2 Packet Header (sync 2.2.1.2 and async 2.2.1.1 forms).

use crate::codec::{Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::status::NtStatus;

/// `FE 'S' 'M' 'B'`.
pub const SMB2_PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];
/// The header is always 64 bytes; body offsets count from its first byte.
pub const HEADER_LEN: usize = 64;

/// MS-SMB2 2.2.1 Command. A newtype: unknown commands must reach the protocol layer, which answers
/// them with STATUS_INVALID_PARAMETER rather than dropping the connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Command(pub u16);

impl Command {
    pub const NEGOTIATE: Command = Command(0x00);
    pub const SESSION_SETUP: Command = Command(0x01);
    pub const LOGOFF: Command = Command(0x02);
    pub const TREE_CONNECT: Command = Command(0x03);
    pub const TREE_DISCONNECT: Command = Command(0x04);
    pub const CREATE: Command = Command(0x05);
    pub const CLOSE: Command = Command(0x06);
    pub const FLUSH: Command = Command(0x07);
    pub const READ: Command = Command(0x08);
    pub const WRITE: Command = Command(0x09);
    pub const LOCK: Command = Command(0x0A);
    pub const IOCTL: Command = Command(0x0B);
    pub const CANCEL: Command = Command(0x0C);
    pub const ECHO: Command = Command(0x0D);
    pub const QUERY_DIRECTORY: Command = Command(0x0E);
    pub const CHANGE_NOTIFY: Command = Command(0x0F);
    pub const QUERY_INFO: Command = Command(0x10);
    pub const SET_INFO: Command = Command(0x11);
    pub const OPLOCK_BREAK: Command = Command(0x12);

    pub fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 19] = [
            "NEGOTIATE",
            "SESSION_SETUP",
            "LOGOFF",
            "TREE_CONNECT",
            "TREE_DISCONNECT",
            "CREATE",
            "CLOSE",
            "FLUSH",
            "READ",
            "WRITE",
            "LOCK",
            "IOCTL",
            "CANCEL",
            "ECHO",
            "QUERY_DIRECTORY",
            "CHANGE_NOTIFY",
            "QUERY_INFO",
            "SET_INFO",
            "OPLOCK_BREAK",
        ];
        NAMES.get(self.0 as usize).copied()
    }
}

impl core::fmt::Debug for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Command({:#06x})", self.0),
        }
    }
}

/// MS-SMB2 2.2.1.2 Flags.
pub mod flags {
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    pub const ASYNC_COMMAND: u32 = 0x0000_0002;
    pub const RELATED_OPERATIONS: u32 = 0x0000_0004;
    pub const SIGNED: u32 = 0x0000_0008;
    pub const PRIORITY_MASK: u32 = 0x0000_0070;
    pub const DFS_OPERATIONS: u32 = 0x1000_0000;
    pub const REPLAY_OPERATION: u32 = 0x2000_0000;
}

/// The 8 bytes at offset 32, whose meaning depends on SMB2_FLAGS_ASYNC_COMMAND.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderId {
    /// MS-SMB2 2.2.1.2: Reserved (historically ProcessId) and TreeId.
    Sync { process_id: u32, tree_id: u32 },
    /// MS-SMB2 2.2.1.1: AsyncId of a pending operation.
    Async { async_id: u64 },
}

/// MS-SMB2 2.2.1 SMB2 Packet Header.
///
/// `status` holds the NTSTATUS in responses; in 3.x requests the same 4 bytes carry ChannelSequence
/// (low 16 bits) and Reserved, so it is kept as a raw u32 and read through accessors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub credit_charge: u16,
    pub status: u32,
    pub command: Command,
    /// CreditRequest in requests, CreditResponse in responses.
    pub credits: u16,
    /// The flags word, without ASYNC_COMMAND: that bit is derived from `id`.
    pub flags: u32,
    pub next_command: u32,
    pub message_id: u64,
    pub id: HeaderId,
    pub session_id: u64,
    pub signature: [u8; 16],
}

impl Default for Header {
    fn default() -> Self {
        Self {
            credit_charge: 0,
            status: 0,
            command: Command::NEGOTIATE,
            credits: 0,
            flags: 0,
            next_command: 0,
            message_id: 0,
            id: HeaderId::Sync { process_id: 0, tree_id: 0 },
            session_id: 0,
            signature: [0; 16],
        }
    }
}

impl Header {
    /// A request header with the usual defaults (credit charge 1, one credit requested).
    pub fn request(command: Command, message_id: u64, session_id: u64, tree_id: u32) -> Self {
        Self {
            credit_charge: 1,
            command,
            credits: 1,
            message_id,
            session_id,
            id: HeaderId::Sync { process_id: 0xFEFF, tree_id },
            ..Self::default()
        }
    }

    pub fn nt_status(&self) -> NtStatus {
        NtStatus(self.status)
    }

    pub fn channel_sequence(&self) -> u16 {
        self.status as u16
    }

    pub fn is_response(&self) -> bool {
        self.flags & flags::SERVER_TO_REDIR != 0
    }

    pub fn is_async(&self) -> bool {
        matches!(self.id, HeaderId::Async { .. })
    }

    pub fn is_signed(&self) -> bool {
        self.flags & flags::SIGNED != 0
    }

    pub fn is_related(&self) -> bool {
        self.flags & flags::RELATED_OPERATIONS != 0
    }

    pub fn tree_id(&self) -> Option<u32> {
        match self.id {
            HeaderId::Sync { tree_id, .. } => Some(tree_id),
            HeaderId::Async { .. } => None,
        }
    }

    /// Parses the 64-byte header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let proto = r.array::<4>("Header.ProtocolId")?;
        if proto != SMB2_PROTOCOL_ID {
            return Err(WireError::BadValue {
                field: "Header.ProtocolId",
                value: u32::from_le_bytes(proto).into(),
            });
        }
        r.expect_u16(64, "Header.StructureSize")?;
        let credit_charge = r.u16("Header.CreditCharge")?;
        let status = r.u32("Header.Status")?;
        let command = Command(r.u16("Header.Command")?);
        let credits = r.u16("Header.CreditRequestResponse")?;
        let raw_flags = r.u32("Header.Flags")?;
        let next_command = r.u32("Header.NextCommand")?;
        let message_id = r.u64("Header.MessageId")?;
        let id = if raw_flags & flags::ASYNC_COMMAND != 0 {
            HeaderId::Async { async_id: r.u64("Header.AsyncId")? }
        } else {
            HeaderId::Sync { process_id: r.u32("Header.Reserved")?, tree_id: r.u32("Header.TreeId")? }
        };
        let session_id = r.u64("Header.SessionId")?;
        let signature = r.array::<16>("Header.Signature")?;
        Ok(Self {
            credit_charge,
            status,
            command,
            credits,
            flags: raw_flags & !flags::ASYNC_COMMAND,
            next_command,
            message_id,
            id,
            session_id,
            signature,
        })
    }
}

impl Encode for Header {
    fn encoded_len_at(&self, _at: usize) -> usize {
        HEADER_LEN
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&SMB2_PROTOCOL_ID)?;
        w.u16(64)?;
        w.u16(self.credit_charge)?;
        w.u32(self.status)?;
        w.u16(self.command.0)?;
        w.u16(self.credits)?;
        let async_bit = if self.is_async() { flags::ASYNC_COMMAND } else { 0 };
        w.u32(self.flags | async_bit)?;
        w.u32(self.next_command)?;
        w.u64(self.message_id)?;
        match self.id {
            HeaderId::Sync { process_id, tree_id } => {
                w.u32(process_id)?;
                w.u32(tree_id)?;
            }
            HeaderId::Async { async_id } => w.u64(async_id)?,
        }
        w.u64(self.session_id)?;
        w.bytes(&self.signature)
    }
}

/// Byte range of the Signature field inside a header, for signing in place.
pub const SIGNATURE_RANGE: core::ops::Range<usize> = 48..64;
/// Byte offset of the Flags field inside a header.
pub const FLAGS_OFFSET: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ms_blog_negotiate_request_header() {
        let b = hex::decode(
            "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000\
             000000000000000000000000000000000000000000000000",
        )
        .unwrap();
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.command, Command::NEGOTIATE);
        assert_eq!(h.credit_charge, 1);
        assert_eq!(h.credits, 0x80);
        assert_eq!(h.message_id, 1);
        assert_eq!(h.id, HeaderId::Sync { process_id: 0xFEFF, tree_id: 0 });
        assert_eq!(h.to_vec(), b);
    }

    #[test]
    fn async_form_round_trips() {
        let h = Header {
            flags: flags::SERVER_TO_REDIR,
            id: HeaderId::Async { async_id: 0x1122_3344_5566_7788 },
            status: NtStatus::PENDING.0,
            ..Header::default()
        };
        let b = h.to_vec();
        assert_eq!(b[16] & 0x02, 0x02);
        assert_eq!(Header::parse(&b).unwrap(), h);
    }

    #[test]
    fn rejects_wrong_protocol_id_and_size() {
        let mut b = Header::default().to_vec();
        b[0] = 0xFF;
        assert!(matches!(Header::parse(&b), Err(WireError::BadValue { field: "Header.ProtocolId", .. })));
        let mut b = Header::default().to_vec();
        b[4] = 65;
        assert!(matches!(Header::parse(&b), Err(WireError::BadValue { field: "Header.StructureSize", .. })));
        assert!(Header::parse(&b[..63]).is_err());
    }
}
