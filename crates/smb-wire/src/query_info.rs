//! MS-SMB2 2.2.37 QUERY_INFO Request and 2.2.38 QUERY_INFO Response, and the InfoType shared with
//! SET_INFO.
//!
//! Security descriptors (InfoType SECURITY) and quota data are carried raw: this crate has no
//! security descriptor codec.

use crate::codec::{slice_at_or_empty, Encode, Reader, Writer};
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::info::{FileInfoClass, FsInfoClass};
use crate::types::{narrow_u16, narrow_u32, us, FileId};

/// MS-SMB2 2.2.37 InfoType (also 2.2.39). A newtype: unknown types reach the session layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InfoType(pub u8);

impl InfoType {
    /// SMB2_0_INFO_FILE: MS-FSCC 2.4 classes ([`crate::info::file`]).
    pub const FILE: InfoType = InfoType(0x01);
    /// SMB2_0_INFO_FILESYSTEM: MS-FSCC 2.5 classes ([`crate::info::fs`]).
    pub const FILESYSTEM: InfoType = InfoType(0x02);
    /// SMB2_0_INFO_SECURITY: a self-relative security descriptor (MS-DTYP 2.4.6), carried raw.
    pub const SECURITY: InfoType = InfoType(0x03);
    /// SMB2_0_INFO_QUOTA: FILE_QUOTA_INFORMATION (MS-FSCC 2.4), carried raw.
    pub const QUOTA: InfoType = InfoType(0x04);
}

/// MS-SMB2 2.2.37 AdditionalInformation for InfoType SECURITY: which parts of the descriptor.
pub mod security_information {
    pub const OWNER: u32 = 0x0000_0001;
    pub const GROUP: u32 = 0x0000_0002;
    pub const DACL: u32 = 0x0000_0004;
    pub const SACL: u32 = 0x0000_0008;
    pub const LABEL: u32 = 0x0000_0010;
    pub const ATTRIBUTE: u32 = 0x0000_0020;
    pub const SCOPE: u32 = 0x0000_0040;
    pub const BACKUP: u32 = 0x0001_0000;
}

/// MS-SMB2 2.2.37 Flags (for FileFullEaInformation queries).
pub mod query_info_flags {
    pub const RESTART_SCAN: u32 = 0x0000_0001;
    pub const RETURN_SINGLE_ENTRY: u32 = 0x0000_0002;
    pub const INDEX_SPECIFIED: u32 = 0x0000_0004;
}

/// MS-SMB2 2.2.37 SMB2 QUERY_INFO Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryInfoRequest<'a> {
    pub info_type: InfoType,
    /// A [`FileInfoClass`] or [`FsInfoClass`] depending on `info_type`; 0 for SECURITY and QUOTA.
    pub file_info_class: u8,
    /// Most bytes the client accepts in the response's OutputBuffer.
    pub output_buffer_length: u32,
    /// SMB2_QUERY_QUOTA_INFO for QUOTA, FILE_GET_EA_INFORMATION list for FileFullEaInformation;
    /// usually empty. Carried raw.
    pub input: &'a [u8],
    /// [`security_information`] bits for SECURITY; the EA index for FileFullEaInformation.
    pub additional_information: u32,
    /// [`query_info_flags`].
    pub flags: u32,
    pub file_id: FileId,
}

impl<'a> QueryInfoRequest<'a> {
    pub const STRUCTURE_SIZE: u16 = 41;
    /// Fixed body bytes before Buffer.
    const FIXED: usize = 40;

    /// Linux cifs sends the body without the StructureSize's extra Buffer byte (and
    /// InputBufferOffset 0) when it has no input, so only the fixed 40 bytes are required.
    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "QueryInfoRequest.StructureSize")?;
        let info_type = InfoType(r.u8("QueryInfoRequest.InfoType")?);
        let file_info_class = r.u8("QueryInfoRequest.FileInfoClass")?;
        let output_buffer_length = r.u32("QueryInfoRequest.OutputBufferLength")?;
        let off = us(r.u16("QueryInfoRequest.InputBufferOffset")?);
        r.skip(2, "QueryInfoRequest.Reserved")?;
        let len = us(r.u32("QueryInfoRequest.InputBufferLength")?);
        let additional_information = r.u32("QueryInfoRequest.AdditionalInformation")?;
        let flags = r.u32("QueryInfoRequest.Flags")?;
        let file_id = FileId::read(&mut r, "QueryInfoRequest.FileId")?;
        let input = slice_at_or_empty(pdu, off, len, "QueryInfoRequest.InputBuffer")?;
        Ok(Self {
            info_type,
            file_info_class,
            output_buffer_length,
            input,
            additional_information,
            flags,
            file_id,
        })
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

impl Encode for QueryInfoRequest<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED + self.input.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let input_off = w.pos() + Self::FIXED;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u8(self.info_type.0)?;
        w.u8(self.file_info_class)?;
        w.u32(self.output_buffer_length)?;
        w.u16(narrow_u16(input_off, "QueryInfoRequest.InputBufferOffset")?)?;
        w.u16(0)?;
        w.u32(narrow_u32(self.input.len(), "QueryInfoRequest.InputBufferLength")?)?;
        w.u32(self.additional_information)?;
        w.u32(self.flags)?;
        self.file_id.write(w)?;
        if self.input.is_empty() {
            // StructureSize 41 counts one byte of Buffer even when it is empty.
            w.u8(0)
        } else {
            w.bytes(self.input)
        }
    }
}

/// MS-SMB2 2.2.38 SMB2 QUERY_INFO Response. `output` is the class's buffer: parse it with the
/// class type the request asked for ([`crate::info`]), or take it raw (security descriptors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryInfoResponse<'a> {
    pub output: &'a [u8],
}

impl<'a> QueryInfoResponse<'a> {
    pub const STRUCTURE_SIZE: u16 = 9;
    /// Fixed body bytes before Buffer.
    pub const FIXED: usize = 8;
    /// Where [`Self::encode_fixed`] puts the output: right after the fixed body, 8-byte aligned.
    pub const OUTPUT_OFFSET: usize = HEADER_LEN + Self::FIXED;

    pub fn parse(pdu: &'a [u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "QueryInfoResponse.StructureSize")?;
        let off = us(r.u16("QueryInfoResponse.OutputBufferOffset")?);
        let len = us(r.u32("QueryInfoResponse.OutputBufferLength")?);
        Ok(Self { output: slice_at_or_empty(pdu, off, len, "QueryInfoResponse.OutputBuffer")? })
    }

    /// Writes only the fixed body, declaring `output_len` bytes at [`Self::OUTPUT_OFFSET`], where
    /// the server has encoded (or will encode) the class in place. `w` must be at [`HEADER_LEN`].
    /// With `output_len == 0` the caller appends one zero byte.
    pub fn encode_fixed(w: &mut Writer<'_>, output_len: usize) -> Result<()> {
        let off = w.pos() + Self::FIXED;
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(narrow_u16(off, "QueryInfoResponse.OutputBufferOffset")?)?;
        w.u32(narrow_u32(output_len, "QueryInfoResponse.OutputBufferLength")?)
    }
}

impl Encode for QueryInfoResponse<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::FIXED + self.output.len().max(1)
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        Self::encode_fixed(w, self.output.len())?;
        if self.output.is_empty() {
            // StructureSize 9 counts one byte of Buffer even when it is empty.
            w.u8(0)
        } else {
            w.bytes(self.output)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::header::Command;
    use crate::info::file::{FileAllInformation, FileNameInformation};
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use crate::types::{utf16le, Utf16};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_round_trips(
            t in any::<u8>(),
            c in any::<u8>(),
            out in any::<u32>(),
            input in proptest::collection::vec(any::<u8>(), 0..64),
            ai in any::<u32>(),
            f in any::<u32>(),
            p in any::<u64>(),
            v in any::<u64>(),
        ) {
            let req = QueryInfoRequest {
                info_type: InfoType(t),
                file_info_class: c,
                output_buffer_length: out,
                input: &input,
                additional_information: ai,
                flags: f,
                file_id: FileId { persistent: p, volatile: v },
            };
            let pd = pdu(Command::QUERY_INFO, &req);
            prop_assert_eq!(QueryInfoRequest::parse(&pd).unwrap(), req);
            prefixes_never_panic(&pd, |b| QueryInfoRequest::parse(b).is_ok());
        }

        #[test]
        fn response_round_trips(output in proptest::collection::vec(any::<u8>(), 0..200)) {
            let rsp = QueryInfoResponse { output: &output };
            let p = pdu(Command::QUERY_INFO, &rsp);
            prop_assert_eq!(QueryInfoResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| QueryInfoResponse::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut p = pdu(Command::QUERY_INFO, &QueryInfoResponse::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = QueryInfoRequest::parse(&p);
            let _ = QueryInfoResponse::parse(&p);
        }
    }

    /// Linux cifs sends 104 bytes: no Buffer byte, InputBufferOffset 0.
    #[test]
    fn cifs_request_without_buffer_byte_parses() {
        let req = QueryInfoRequest {
            info_type: InfoType::FILE,
            file_info_class: FileInfoClass::ALL.0,
            output_buffer_length: 100 + 4096 * 2,
            file_id: FileId { persistent: 5, volatile: 6 },
            ..Default::default()
        };
        let mut p = pdu(Command::QUERY_INFO, &req);
        assert_eq!(&p[HEADER_LEN + 8..HEADER_LEN + 10], &104u16.to_le_bytes());
        p.truncate(HEADER_LEN + 40);
        p[HEADER_LEN + 8] = 0;
        let back = QueryInfoRequest::parse(&p).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.file_class(), Some(FileInfoClass::ALL));
        assert_eq!(back.fs_class(), None);
        assert!(matches!(
            QueryInfoRequest::parse(&p[..HEADER_LEN + 39]),
            Err(WireError::Truncated { field: "QueryInfoRequest.FileId", .. })
        ));
    }

    #[test]
    fn input_outside_the_message_is_rejected() {
        let input = [7u8; 8];
        let mut p = pdu(Command::QUERY_INFO, &QueryInfoRequest { input: &input, ..Default::default() });
        p[HEADER_LEN + 12] = 9; // InputBufferLength
        assert!(matches!(
            QueryInfoRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "QueryInfoRequest.InputBuffer", .. })
        ));
        p[HEADER_LEN + 12] = 8;
        p[HEADER_LEN + 8..HEADER_LEN + 10].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(matches!(
            QueryInfoRequest::parse(&p),
            Err(WireError::OutOfBounds { field: "QueryInfoRequest.InputBuffer", .. })
        ));
        let mut p = pdu(Command::QUERY_INFO, &QueryInfoResponse { output: &input });
        p[HEADER_LEN + 4] = 0xFF;
        assert!(matches!(
            QueryInfoResponse::parse(&p),
            Err(WireError::OutOfBounds { field: "QueryInfoResponse.OutputBuffer", .. })
        ));
    }

    #[test]
    fn file_all_information_travels_in_the_output() {
        let name = utf16le(r"\a.txt");
        let all = FileAllInformation {
            name: FileNameInformation { file_name: Utf16::new(&name, "t").unwrap() },
            ..Default::default()
        };
        let out = crate::codec::Encode::to_vec(&all);
        let p = pdu(Command::QUERY_INFO, &QueryInfoResponse { output: &out });
        let rsp = QueryInfoResponse::parse(&p).unwrap();
        assert_eq!(FileAllInformation::parse(rsp.output).unwrap(), all);
        let fs =
            QueryInfoRequest { info_type: InfoType::FILESYSTEM, file_info_class: 7, ..Default::default() };
        assert_eq!(fs.fs_class(), Some(FsInfoClass::FULL_SIZE));
        assert_eq!(fs.file_class(), None);
    }
}
