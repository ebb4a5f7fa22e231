//! MS-SMB2 2.2.13 CREATE Request and 2.2.14 CREATE Response, with the access mask (MS-SMB2 2.2.13.1),
//! share access, disposition, option, attribute (MS-FSCC 2.6), action and oplock values they carry.

use crate::codec::{align_up, slice_at_or_empty, Encode, Reader, Writer};
use crate::create_context::CreateContexts;
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::types::{narrow_u16, narrow_u32, us, FileId, Utf16};

/// MS-SMB2 2.2.13 RequestedOplockLevel / 2.2.14 OplockLevel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OplockLevel(pub u8);

impl OplockLevel {
    pub const NONE: OplockLevel = OplockLevel(0x00);
    pub const II: OplockLevel = OplockLevel(0x01);
    pub const EXCLUSIVE: OplockLevel = OplockLevel(0x08);
    pub const BATCH: OplockLevel = OplockLevel(0x09);
    /// The lease is in an RqLs create context.
    pub const LEASE: OplockLevel = OplockLevel(0xFF);
}

/// MS-SMB2 2.2.13 ImpersonationLevel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ImpersonationLevel(pub u32);

impl ImpersonationLevel {
    pub const ANONYMOUS: ImpersonationLevel = ImpersonationLevel(0);
    pub const IDENTIFICATION: ImpersonationLevel = ImpersonationLevel(1);
    pub const IMPERSONATION: ImpersonationLevel = ImpersonationLevel(2);
    pub const DELEGATE: ImpersonationLevel = ImpersonationLevel(3);
}

/// MS-SMB2 2.2.13 CreateDisposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CreateDisposition(pub u32);

impl CreateDisposition {
    pub const SUPERSEDE: CreateDisposition = CreateDisposition(0);
    pub const OPEN: CreateDisposition = CreateDisposition(1);
    pub const CREATE: CreateDisposition = CreateDisposition(2);
    pub const OPEN_IF: CreateDisposition = CreateDisposition(3);
    pub const OVERWRITE: CreateDisposition = CreateDisposition(4);
    pub const OVERWRITE_IF: CreateDisposition = CreateDisposition(5);
}

/// MS-SMB2 2.2.14 CreateAction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CreateAction(pub u32);

impl CreateAction {
    pub const SUPERSEDED: CreateAction = CreateAction(0);
    pub const OPENED: CreateAction = CreateAction(1);
    pub const CREATED: CreateAction = CreateAction(2);
    pub const OVERWRITTEN: CreateAction = CreateAction(3);
}

/// MS-SMB2 2.2.13.1 access mask bits (file, pipe and printer; directory aliases share values).
pub mod access_mask {
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    pub const FILE_LIST_DIRECTORY: u32 = 0x0000_0001;
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    pub const FILE_ADD_FILE: u32 = 0x0000_0002;
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    pub const FILE_ADD_SUBDIRECTORY: u32 = 0x0000_0004;
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    pub const FILE_TRAVERSE: u32 = 0x0000_0020;
    pub const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    pub const DELETE: u32 = 0x0001_0000;
    pub const READ_CONTROL: u32 = 0x0002_0000;
    pub const WRITE_DAC: u32 = 0x0004_0000;
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    pub const GENERIC_READ: u32 = 0x8000_0000;
}

/// MS-SMB2 2.2.13 ShareAccess.
pub mod share_access {
    pub const READ: u32 = 0x0000_0001;
    pub const WRITE: u32 = 0x0000_0002;
    pub const DELETE: u32 = 0x0000_0004;
}

/// MS-SMB2 2.2.13 CreateOptions.
pub mod create_options {
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    pub const WRITE_THROUGH: u32 = 0x0000_0002;
    pub const SEQUENTIAL_ONLY: u32 = 0x0000_0004;
    pub const NO_INTERMEDIATE_BUFFERING: u32 = 0x0000_0008;
    pub const SYNCHRONOUS_IO_ALERT: u32 = 0x0000_0010;
    pub const SYNCHRONOUS_IO_NONALERT: u32 = 0x0000_0020;
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    pub const COMPLETE_IF_OPLOCKED: u32 = 0x0000_0100;
    pub const NO_EA_KNOWLEDGE: u32 = 0x0000_0200;
    pub const OPEN_REMOTE_INSTANCE: u32 = 0x0000_0400;
    pub const RANDOM_ACCESS: u32 = 0x0000_0800;
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
    pub const OPEN_BY_FILE_ID: u32 = 0x0000_2000;
    pub const OPEN_FOR_BACKUP_INTENT: u32 = 0x0000_4000;
    pub const NO_COMPRESSION: u32 = 0x0000_8000;
    pub const OPEN_REQUIRING_OPLOCK: u32 = 0x0001_0000;
    pub const DISALLOW_EXCLUSIVE: u32 = 0x0002_0000;
    pub const RESERVE_OPFILTER: u32 = 0x0010_0000;
    pub const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    pub const OPEN_NO_RECALL: u32 = 0x0040_0000;
    pub const OPEN_FOR_FREE_SPACE_QUERY: u32 = 0x0080_0000;
}

/// MS-FSCC 2.6 file attributes (CREATE FileAttributes, CREATE/CLOSE responses): one definition, in
/// [`crate::info`].
pub use crate::info::file_attributes;

/// MS-SMB2 2.2.14 CREATE response Flags (3.1.1).
pub mod create_response_flags {
    pub const REPARSEPOINT: u8 = 0x01;
}

/// MS-SMB2 2.2.13 SMB2 CREATE Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreateRequest<'a> {
    /// Reserved; clients send 0.
    pub security_flags: u8,
    pub requested_oplock_level: OplockLevel,
    pub impersonation_level: ImpersonationLevel,
    /// Reserved; clients send 0.
    pub smb_create_flags: u64,
    pub desired_access: u32,
    pub file_attributes: u32,
    pub share_access: u32,
    pub create_disposition: CreateDisposition,
    pub create_options: u32,
    /// Relative to the share root, UTF-16LE; empty opens the root.
    pub name: Utf16<'a>,
    pub create_contexts: CreateContexts<'a>,
}

impl<'a> CreateRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 57;
    const FIXED_LEN: usize = 56;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "CreateRequest.StructureSize")?;
        let security_flags = r.u8("CreateRequest.SecurityFlags")?;
        let requested_oplock_level = OplockLevel(r.u8("CreateRequest.RequestedOplockLevel")?);
        let impersonation_level = ImpersonationLevel(r.u32("CreateRequest.ImpersonationLevel")?);
        let smb_create_flags = r.u64("CreateRequest.SmbCreateFlags")?;
        r.skip(8, "CreateRequest.Reserved")?;
        let desired_access = r.u32("CreateRequest.DesiredAccess")?;
        let file_attributes = r.u32("CreateRequest.FileAttributes")?;
        let share_access = r.u32("CreateRequest.ShareAccess")?;
        let create_disposition = CreateDisposition(r.u32("CreateRequest.CreateDisposition")?);
        let create_options = r.u32("CreateRequest.CreateOptions")?;
        let name_off = us(r.u16("CreateRequest.NameOffset")?);
        let name_len = us(r.u16("CreateRequest.NameLength")?);
        let ctx_off = us(r.u32("CreateRequest.CreateContextsOffset")?);
        let ctx_len = us(r.u32("CreateRequest.CreateContextsLength")?);
        // An empty name may carry any offset: clients differ (0x78 or 0).
        let name = Utf16::new(
            slice_at_or_empty(pdu, name_off, name_len, "CreateRequest.Name")?,
            "CreateRequest.NameLength",
        )?;
        let create_contexts =
            CreateContexts::parse(slice_at_or_empty(pdu, ctx_off, ctx_len, "CreateRequest.CreateContexts")?)?;
        Ok(Self {
            security_flags,
            requested_oplock_level,
            impersonation_level,
            smb_create_flags,
            desired_access,
            file_attributes,
            share_access,
            create_disposition,
            create_options,
            name,
            create_contexts,
        })
    }

    /// Offset of the contexts from writer position `at` (body start) when encoded.
    fn contexts_at(&self, at: usize) -> usize {
        align_up(at + Self::FIXED_LEN + self.name.len(), 8)
    }
}

impl Encode for CreateRequest<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        if self.create_contexts.is_empty() {
            Self::FIXED_LEN + self.name.len().max(1)
        } else {
            self.contexts_at(at) - at + self.create_contexts.encoded_len()
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let at = w.pos();
        let name_off = at + Self::FIXED_LEN;
        let (ctx_off, ctx_len) = if self.create_contexts.is_empty() {
            (0, 0)
        } else {
            (self.contexts_at(at), self.create_contexts.encoded_len())
        };
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.security_flags)?;
        w.u8(self.requested_oplock_level.0)?;
        w.u32(self.impersonation_level.0)?;
        w.u64(self.smb_create_flags)?;
        w.u64(0)?;
        w.u32(self.desired_access)?;
        w.u32(self.file_attributes)?;
        w.u32(self.share_access)?;
        w.u32(self.create_disposition.0)?;
        w.u32(self.create_options)?;
        w.u16(narrow_u16(name_off, "CreateRequest.NameOffset")?)?;
        w.u16(narrow_u16(self.name.len(), "CreateRequest.NameLength")?)?;
        w.u32(narrow_u32(ctx_off, "CreateRequest.CreateContextsOffset")?)?;
        w.u32(narrow_u32(ctx_len, "CreateRequest.CreateContextsLength")?)?;
        w.bytes(self.name.as_bytes())?;
        if self.create_contexts.is_empty() {
            if self.name.is_empty() {
                // StructureSize 57 counts one byte of Buffer even when it is empty.
                w.u8(0)?;
            }
            return Ok(());
        }
        w.zeros(ctx_off - w.pos())?;
        self.create_contexts.write(w)
    }
}

/// MS-SMB2 2.2.14/2.2.16 the timestamps, sizes and attributes CREATE and CLOSE responses report, in
/// their common wire order (FILE_NETWORK_OPEN_INFORMATION, MS-FSCC 2.4.29, without its padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkOpenInfo {
    /// FILETIME values (100 ns since 1601).
    pub creation_time: u64,
    pub last_access_time: u64,
    pub last_write_time: u64,
    pub change_time: u64,
    pub allocation_size: u64,
    pub end_of_file: u64,
    pub file_attributes: u32,
}

impl NetworkOpenInfo {
    pub const LEN: usize = 52;

    pub(crate) fn read(r: &mut Reader<'_>, prefix: NetworkOpenInfoFields) -> Result<Self> {
        Ok(Self {
            creation_time: r.u64(prefix.creation_time)?,
            last_access_time: r.u64(prefix.last_access_time)?,
            last_write_time: r.u64(prefix.last_write_time)?,
            change_time: r.u64(prefix.change_time)?,
            allocation_size: r.u64(prefix.allocation_size)?,
            end_of_file: r.u64(prefix.end_of_file)?,
            file_attributes: r.u32(prefix.file_attributes)?,
        })
    }

    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.creation_time)?;
        w.u64(self.last_access_time)?;
        w.u64(self.last_write_time)?;
        w.u64(self.change_time)?;
        w.u64(self.allocation_size)?;
        w.u64(self.end_of_file)?;
        w.u32(self.file_attributes)
    }
}

/// Field names [`NetworkOpenInfo::read`] reports errors with, one set per message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetworkOpenInfoFields {
    pub(crate) creation_time: &'static str,
    pub(crate) last_access_time: &'static str,
    pub(crate) last_write_time: &'static str,
    pub(crate) change_time: &'static str,
    pub(crate) allocation_size: &'static str,
    pub(crate) end_of_file: &'static str,
    pub(crate) file_attributes: &'static str,
}

const CREATE_RESPONSE_FIELDS: NetworkOpenInfoFields = NetworkOpenInfoFields {
    creation_time: "CreateResponse.CreationTime",
    last_access_time: "CreateResponse.LastAccessTime",
    last_write_time: "CreateResponse.LastWriteTime",
    change_time: "CreateResponse.ChangeTime",
    allocation_size: "CreateResponse.AllocationSize",
    end_of_file: "CreateResponse.EndofFile",
    file_attributes: "CreateResponse.FileAttributes",
};

/// MS-SMB2 2.2.14 SMB2 CREATE Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreateResponse<'a> {
    pub oplock_level: OplockLevel,
    /// [`create_response_flags`].
    pub flags: u8,
    pub create_action: CreateAction,
    pub info: NetworkOpenInfo,
    pub file_id: FileId,
    pub create_contexts: CreateContexts<'a>,
}

impl<'a> CreateResponse<'a> {
    pub const STRUCTURE_SIZE: u16 = 89;
    const FIXED_LEN: usize = 88;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "CreateResponse.StructureSize")?;
        let oplock_level = OplockLevel(r.u8("CreateResponse.OplockLevel")?);
        let flags = r.u8("CreateResponse.Flags")?;
        let create_action = CreateAction(r.u32("CreateResponse.CreateAction")?);
        let info = NetworkOpenInfo::read(&mut r, CREATE_RESPONSE_FIELDS)?;
        r.skip(4, "CreateResponse.Reserved2")?;
        let file_id = FileId::read(&mut r, "CreateResponse.FileId")?;
        let ctx_off = us(r.u32("CreateResponse.CreateContextsOffset")?);
        let ctx_len = us(r.u32("CreateResponse.CreateContextsLength")?);
        let create_contexts = CreateContexts::parse(slice_at_or_empty(
            pdu,
            ctx_off,
            ctx_len,
            "CreateResponse.CreateContexts",
        )?)?;
        Ok(Self { oplock_level, flags, create_action, info, file_id, create_contexts })
    }
}

impl Encode for CreateResponse<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        if self.create_contexts.is_empty() {
            Self::FIXED_LEN + 1
        } else {
            align_up(at + Self::FIXED_LEN, 8) - at + self.create_contexts.encoded_len()
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let at = w.pos();
        let (ctx_off, ctx_len) = if self.create_contexts.is_empty() {
            (0, 0)
        } else {
            (align_up(at + Self::FIXED_LEN, 8), self.create_contexts.encoded_len())
        };
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.oplock_level.0)?;
        w.u8(self.flags)?;
        w.u32(self.create_action.0)?;
        self.info.write(w)?;
        w.u32(0)?;
        self.file_id.write(w)?;
        w.u32(narrow_u32(ctx_off, "CreateResponse.CreateContextsOffset")?)?;
        w.u32(narrow_u32(ctx_len, "CreateResponse.CreateContextsLength")?)?;
        if self.create_contexts.is_empty() {
            // StructureSize 89 counts one byte of Buffer.
            return w.u8(0);
        }
        w.zeros(ctx_off - w.pos())?;
        self.create_contexts.write(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create_context::tests::{arb_contexts, to_contexts};
    use crate::create_context::{context_name, CreateContext};
    use crate::error::WireError;
    use crate::header::Command;
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use crate::types::utf16le;
    use proptest::prelude::*;

    fn arb_info() -> impl Strategy<Value = NetworkOpenInfo> {
        (any::<[u64; 6]>(), any::<u32>()).prop_map(|(t, a)| NetworkOpenInfo {
            creation_time: t[0],
            last_access_time: t[1],
            last_write_time: t[2],
            change_time: t[3],
            allocation_size: t[4],
            end_of_file: t[5],
            file_attributes: a,
        })
    }

    proptest! {
        #[test]
        fn request_round_trips(
            sf in any::<u8>(), ol in any::<u8>(), il in any::<u32>(), cf in any::<u64>(),
            da in any::<u32>(), fa in any::<u32>(), sa in any::<u32>(), cd in any::<u32>(), co in any::<u32>(),
            name in "[a-zA-Z0-9\\\\ .é]{0,30}", raw in arb_contexts(),
        ) {
            let nb = utf16le(&name);
            let list = to_contexts(&raw);
            let req = CreateRequest {
                security_flags: sf,
                requested_oplock_level: OplockLevel(ol),
                impersonation_level: ImpersonationLevel(il),
                smb_create_flags: cf,
                desired_access: da,
                file_attributes: fa,
                share_access: sa,
                create_disposition: CreateDisposition(cd),
                create_options: co,
                name: Utf16::new(&nb, "t").unwrap(),
                create_contexts: CreateContexts::from_slice(&list),
            };
            let p = pdu(Command::CREATE, &req);
            prop_assert_eq!(CreateRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| CreateRequest::parse(b).is_ok());
        }

        #[test]
        fn response_round_trips(
            ol in any::<u8>(), fl in any::<u8>(), ca in any::<u32>(), info in arb_info(),
            p_id in any::<u64>(), v_id in any::<u64>(), raw in arb_contexts(),
        ) {
            let list = to_contexts(&raw);
            let rsp = CreateResponse {
                oplock_level: OplockLevel(ol),
                flags: fl,
                create_action: CreateAction(ca),
                info,
                file_id: FileId { persistent: p_id, volatile: v_id },
                create_contexts: CreateContexts::from_slice(&list),
            };
            let p = pdu(Command::CREATE, &rsp);
            prop_assert_eq!(CreateResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| CreateResponse::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut p = pdu(Command::CREATE, &CreateRequest::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            if let Ok(r) = CreateRequest::parse(&p) {
                let _ = r.create_contexts.iter().count();
            }
            if let Ok(r) = CreateResponse::parse(&p) {
                let _ = r.create_contexts.iter().count();
            }
        }
    }

    fn sample_request<'a>(name: &'a [u8], ctxs: &'a [CreateContext<'a>]) -> CreateRequest<'a> {
        CreateRequest {
            requested_oplock_level: OplockLevel::LEASE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            desired_access: access_mask::GENERIC_READ | access_mask::SYNCHRONIZE,
            file_attributes: 0,
            share_access: share_access::READ | share_access::WRITE,
            create_disposition: CreateDisposition::OPEN,
            create_options: create_options::NON_DIRECTORY_FILE,
            name: Utf16::new(name, "t").unwrap(),
            create_contexts: CreateContexts::from_slice(ctxs),
            ..Default::default()
        }
    }

    #[test]
    fn known_layout_name_at_0x78_contexts_8_aligned() {
        let name = utf16le("a.txt"); // 10 bytes: 0x78..0x82, contexts at 0x88
        let ctxs = [CreateContext { name: context_name::QUERY_MAXIMAL_ACCESS, data: &[] }];
        let p = pdu(Command::CREATE, &sample_request(&name, &ctxs));
        let b = &p[HEADER_LEN..];
        assert_eq!(&b[0..4], &[57, 0, 0x00, 0xFF]); // SecurityFlags, then RequestedOplockLevel LEASE
        assert_eq!(&b[4..8], &2u32.to_le_bytes());
        assert_eq!(&b[24..28], &0x8010_0000u32.to_le_bytes());
        assert_eq!(&b[44..48], &[0x78, 0x00, 0x0A, 0x00]);
        assert_eq!(&b[48..56], &[0x88, 0, 0, 0, 20, 0, 0, 0]);
        assert_eq!(&p[0x78..0x82], &name[..]);
        assert_eq!(&p[0x82..0x88], &[0; 6]);
        assert_eq!(&p[0x88 + 16..], b"MxAc");
    }

    #[test]
    fn empty_name_without_contexts_still_has_a_byte() {
        let p = pdu(Command::CREATE, &sample_request(&[], &[]));
        assert_eq!(p.len(), HEADER_LEN + 57);
        assert_eq!(&p[HEADER_LEN + 44..HEADER_LEN + 56], &[0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // Without the pad byte (as some clients send) it still parses.
        assert!(CreateRequest::parse(&p[..p.len() - 1]).unwrap().name.is_empty());
        // Empty name with contexts: the contexts start right at 0x78.
        let ctxs = [CreateContext { name: b"QFid", data: &[] }];
        let p = pdu(Command::CREATE, &sample_request(&[], &ctxs));
        assert_eq!(&p[HEADER_LEN + 48..HEADER_LEN + 52], &0x78u32.to_le_bytes());
        assert_eq!(p.len(), 0x78 + 20);
    }

    #[test]
    fn name_and_contexts_outside_the_message_are_rejected() {
        let name = utf16le("x");
        let ctxs = [CreateContext { name: b"DH2Q", data: &[1; 32] }];
        let good = pdu(Command::CREATE, &sample_request(&name, &ctxs));
        let mut p = good.clone();
        p[HEADER_LEN + 46] = 0xFE; // NameLength
        assert!(matches!(
            CreateRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "CreateRequest.Name", .. })
        ));
        let mut p = good.clone();
        p[HEADER_LEN + 46] = 3;
        assert_eq!(
            CreateRequest::parse(&p),
            Err(WireError::BadValue { field: "CreateRequest.NameLength", value: 3 })
        );
        let mut p = good.clone();
        p[HEADER_LEN + 52] += 1; // CreateContextsLength
        assert!(matches!(
            CreateRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "CreateRequest.CreateContexts", .. })
        ));
        let mut p = good.clone();
        p[HEADER_LEN + 48..HEADER_LEN + 52].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            CreateRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "CreateRequest.CreateContexts", .. })
        ));
        let mut p = good;
        p[HEADER_LEN] = 56;
        assert_eq!(
            CreateRequest::parse(&p),
            Err(WireError::BadValue { field: "CreateRequest.StructureSize", value: 56 })
        );
    }

    #[test]
    fn response_contexts_at_0x98_and_bounds_checked() {
        let ctxs = [CreateContext { name: b"MxAc", data: &[0; 8] }];
        let rsp = CreateResponse {
            oplock_level: OplockLevel::BATCH,
            create_action: CreateAction::OPENED,
            create_contexts: CreateContexts::from_slice(&ctxs),
            ..Default::default()
        };
        let good = pdu(Command::CREATE, &rsp);
        assert_eq!(&good[HEADER_LEN + 80..HEADER_LEN + 88], &[0x98, 0, 0, 0, 32, 0, 0, 0]);
        let mut p = good.clone();
        p[HEADER_LEN + 84] = 33;
        assert!(matches!(
            CreateResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "CreateResponse.CreateContexts", .. })
        ));
        let empty = pdu(Command::CREATE, &CreateResponse::default());
        assert_eq!(empty.len(), HEADER_LEN + 89);
        assert!(matches!(
            CreateResponse::parse(&good[..HEADER_LEN + 58]),
            Err(WireError::Truncated { field: "CreateResponse.FileAttributes", .. })
        ));
    }
}
