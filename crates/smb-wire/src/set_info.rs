//! MS-SMB2 2.2.39 SET_INFO Request and 2.2.40 SET_INFO Response.

use crate::codec::{slice_at_or_empty, Encode, Reader, Writer};
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::info::{FileInfoClass, FsInfoClass};
use crate::query_info::InfoType;
use crate::types::{narrow_u16, narrow_u32, us, FileId};

/// MS-SMB2 2.2.39 SMB2 SET_INFO Request. `buffer` is the class's buffer: parse it with the class
/// type (`FileRenameInformation::parse(req.buffer)`, ...), or take it raw (security descriptors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetInfoRequest<'a> {
    pub info_type: InfoType,
    /// A [`FileInfoClass`] or [`FsInfoClass`] depending on `info_type`; 0 for SECURITY and QUOTA.
    pub file_info_class: u8,
    pub buffer: &'a [u8],
    /// [`crate::query_info::security_information`] bits for SECURITY, else 0.
    pub additional_information: u32,
    pub file_id: FileId,
}

impl<'a> SetInfoRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 33;
    /// Fixed body bytes before Buffer.
    const FIXED: usize = 32;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "SetInfoRequest.StructureSize")?;
        let info_type = InfoType(r.u8("SetInfoRequest.InfoType")?);
        let file_info_class = r.u8("SetInfoRequest.FileInfoClass")?;
        let len = us(r.u32("SetInfoRequest.BufferLength")?);
        let off = us(r.u16("SetInfoRequest.BufferOffset")?);
        r.skip(2, "SetInfoRequest.Reserved")?;
        let additional_information = r.u32("SetInfoRequest.AdditionalInformation")?;
        let file_id = FileId::read(&mut r, "SetInfoRequest.FileId")?;
        let buffer = slice_at_or_empty(pdu, off, len, "SetInfoRequest.Buffer")?;
        Ok(Self { info_type, file_info_class, buffer, additional_information, file_id })
    }

    /// The class as a file information class, when `info_type` is FILE.
    pub fn file_class(&self) -> Option<FileInfoClass> {
        (self.info_type == InfoType::FILE).then_some(FileInfoClass(self.file_info_class))
    }

    /// The class as a file system information class, when `info_type` is FILESYSTEM.
    pub fn fs_class(&self) -> Option<FsInfoClass> {
        (self.info_type == InfoType::FILESYSTEM).then_some(FsInfoClass(self.file_info_class))
    }
}

impl Encode for SetInfoRequest<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED + self.buffer.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let buf_off = w.pos() + Self::FIXED;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.info_type.0)?;
        w.u8(self.file_info_class)?;
        w.u32(narrow_u32(self.buffer.len(), "SetInfoRequest.BufferLength")?)?;
        w.u16(narrow_u16(buf_off, "SetInfoRequest.BufferOffset")?)?;
        w.u16(0)?;
        w.u32(self.additional_information)?;
        self.file_id.write(w)?;
        if self.buffer.is_empty() {
            // StructureSize 33 counts one byte of Buffer even when it is empty.
            w.u8(0)
        } else {
            w.bytes(self.buffer)
        }
    }
}

/// MS-SMB2 2.2.40 SMB2 SET_INFO Response: StructureSize 2 and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetInfoResponse;

impl SetInfoResponse {
    pub const STRUCTURE_SIZE: u16 = 2;

    pub fn parse(pdu: &[u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "SetInfoResponse.StructureSize")?;
        Ok(Self)
    }
}

impl Encode for SetInfoResponse {
    fn encoded_len_at(&self, _at: usize) -> usize {
        2
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(Self::STRUCTURE_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::header::Command;
    use crate::info::file::FileRenameInformation;
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_round_trips(
            t in any::<u8>(),
            c in any::<u8>(),
            buffer in proptest::collection::vec(any::<u8>(), 0..64),
            ai in any::<u32>(),
            p in any::<u64>(),
            v in any::<u64>(),
        ) {
            let req = SetInfoRequest {
                info_type: InfoType(t),
                file_info_class: c,
                buffer: &buffer,
                additional_information: ai,
                file_id: FileId { persistent: p, volatile: v },
            };
            let pd = pdu(Command::SET_INFO, &req);
            prop_assert_eq!(SetInfoRequest::parse(&pd).unwrap(), req);
            prefixes_never_panic(&pd, |b| SetInfoRequest::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..96)) {
            let mut p = pdu(Command::SET_INFO, &SetInfoResponse);
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = SetInfoRequest::parse(&p);
            let _ = SetInfoResponse::parse(&p);
        }
    }

    #[test]
    fn response_round_trips_and_checks_structure_size() {
        let p = pdu(Command::SET_INFO, &SetInfoResponse);
        assert_eq!(p.len(), HEADER_LEN + 2);
        assert_eq!(SetInfoResponse::parse(&p), Ok(SetInfoResponse));
        let mut bad = p.clone();
        bad[HEADER_LEN] = 3;
        assert_eq!(
            SetInfoResponse::parse(&bad),
            Err(WireError::BadValue { field: "SetInfoResponse.StructureSize", value: 3 })
        );
        assert!(SetInfoResponse::parse(&p[..HEADER_LEN + 1]).is_err());
    }

    /// A rename to "b.txt" as smbclient's `rename` sends it: FILE, class 10, 30-byte buffer at 96.
    #[test]
    fn rename_request_known_bytes() {
        let body = hex::decode(
            concat!(
                "2100 01 0a 1e000000 6000 0000 00000000 0300000000000000 0400000000000000",
                "00 00000000000000 0000000000000000 0a000000 62002e00740078007400"
            )
            .replace(' ', ""),
        )
        .unwrap();
        let mut p = pdu(Command::SET_INFO, &SetInfoResponse);
        p.truncate(HEADER_LEN);
        p.extend_from_slice(&body);
        let req = SetInfoRequest::parse(&p).unwrap();
        assert_eq!(req.file_class(), Some(FileInfoClass::RENAME));
        assert_eq!(req.fs_class(), None);
        assert_eq!(req.file_id, FileId { persistent: 3, volatile: 4 });
        let r = FileRenameInformation::parse(req.buffer).unwrap();
        assert!(!r.replace_if_exists);
        assert_eq!(r.file_name.to_string().unwrap(), "b.txt");
        assert_eq!(&pdu(Command::SET_INFO, &req)[HEADER_LEN..], &body[..]);
    }

    #[test]
    fn buffer_outside_the_message_is_rejected() {
        let buffer = [0u8; 8];
        let mut p = pdu(Command::SET_INFO, &SetInfoRequest { buffer: &buffer, ..Default::default() });
        p[HEADER_LEN + 4] = 9; // BufferLength
        assert!(matches!(
            SetInfoRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "SetInfoRequest.Buffer", .. })
        ));
        assert!(matches!(
            SetInfoRequest::parse(&p[..HEADER_LEN + 20]),
            Err(WireError::Truncated { field: "SetInfoRequest.FileId", .. })
        ));
    }
}
