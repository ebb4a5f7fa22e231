//! MS-SMB2 2.2.15 CLOSE Request and 2.2.16 CLOSE Response.

use crate::codec::{Encode, Reader, Writer};
use crate::create::{NetworkOpenInfo, NetworkOpenInfoFields};
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::types::FileId;

/// MS-SMB2 2.2.15 CLOSE Flags (echoed in the response when the attributes are returned).
pub mod close_flags {
    /// Return the file's attributes in the response (otherwise those fields are zero).
    pub const POSTQUERY_ATTRIB: u16 = 0x0001;
}

/// MS-SMB2 2.2.15 SMB2 CLOSE Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseRequest {
    /// [`close_flags`].
    pub flags: u16,
    pub file_id: FileId,
}

impl CloseRequest {
    pub const STRUCTURE_SIZE: u16 = 24;

    pub fn parse(pdu: &[u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "CloseRequest.StructureSize")?;
        let flags = r.u16("CloseRequest.Flags")?;
        r.skip(4, "CloseRequest.Reserved")?;
        Ok(Self { flags, file_id: FileId::read(&mut r, "CloseRequest.FileId")? })
    }
}

impl Encode for CloseRequest {
    fn encoded_len_at(&self, _at: usize) -> usize {
        24
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(self.flags)?;
        w.u32(0)?;
        self.file_id.write(w)
    }
}

const CLOSE_RESPONSE_FIELDS: NetworkOpenInfoFields = NetworkOpenInfoFields {
    creation_time: "CloseResponse.CreationTime",
    last_access_time: "CloseResponse.LastAccessTime",
    last_write_time: "CloseResponse.LastWriteTime",
    change_time: "CloseResponse.ChangeTime",
    allocation_size: "CloseResponse.AllocationSize",
    end_of_file: "CloseResponse.EndofFile",
    file_attributes: "CloseResponse.FileAttributes",
};

/// MS-SMB2 2.2.16 SMB2 CLOSE Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CloseResponse {
    /// POSTQUERY_ATTRIB when `info` holds the file's attributes; otherwise `info` is all zero.
    pub flags: u16,
    pub info: NetworkOpenInfo,
}

impl CloseResponse {
    pub const STRUCTURE_SIZE: u16 = 60;

    pub fn parse(pdu: &[u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "CloseResponse.StructureSize")?;
        let flags = r.u16("CloseResponse.Flags")?;
        r.skip(4, "CloseResponse.Reserved")?;
        Ok(Self { flags, info: NetworkOpenInfo::read(&mut r, CLOSE_RESPONSE_FIELDS)? })
    }
}

impl Encode for CloseResponse {
    fn encoded_len_at(&self, _at: usize) -> usize {
        60
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(self.flags)?;
        w.u32(0)?;
        self.info.write(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::header::Command;
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn request_round_trips(flags in any::<u16>(), p_id in any::<u64>(), v_id in any::<u64>()) {
            let req = CloseRequest { flags, file_id: FileId { persistent: p_id, volatile: v_id } };
            let p = pdu(Command::CLOSE, &req);
            prop_assert_eq!(CloseRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| CloseRequest::parse(b).is_ok());
            prop_assert!(CloseRequest::parse(&p[..p.len() - 1]).is_err());
        }

        #[test]
        fn response_round_trips(flags in any::<u16>(), t in any::<[u64; 6]>(), a in any::<u32>()) {
            let rsp = CloseResponse {
                flags,
                info: NetworkOpenInfo {
                    creation_time: t[0],
                    last_access_time: t[1],
                    last_write_time: t[2],
                    change_time: t[3],
                    allocation_size: t[4],
                    end_of_file: t[5],
                    file_attributes: a,
                },
            };
            let p = pdu(Command::CLOSE, &rsp);
            prop_assert_eq!(CloseResponse::parse(&p).unwrap(), rsp);
            prefixes_never_panic(&p, |b| CloseResponse::parse(b).is_ok());
            prop_assert!(CloseResponse::parse(&p[..p.len() - 1]).is_err());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut p = pdu(Command::CLOSE, &CloseRequest::default());
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = CloseRequest::parse(&p);
            let _ = CloseResponse::parse(&p);
        }
    }

    #[test]
    fn known_bytes() {
        let req = CloseRequest {
            flags: close_flags::POSTQUERY_ATTRIB,
            file_id: FileId { persistent: 1, volatile: 2 },
        };
        let p = pdu(Command::CLOSE, &req);
        assert_eq!(
            hex::encode(&p[HEADER_LEN..]),
            "18000100000000000100000000000000 0200000000000000".replace(' ', "")
        );
        let rsp = CloseResponse {
            flags: close_flags::POSTQUERY_ATTRIB,
            info: NetworkOpenInfo { end_of_file: 0x1234, file_attributes: 0x20, ..Default::default() },
        };
        let p = pdu(Command::CLOSE, &rsp);
        assert_eq!(p.len(), HEADER_LEN + 60);
        assert_eq!(&p[HEADER_LEN + 48..HEADER_LEN + 56], &0x1234u64.to_le_bytes());
        assert_eq!(&p[HEADER_LEN + 56..], &[0x20, 0, 0, 0]);
    }

    #[test]
    fn truncated_fields_are_named() {
        let p = pdu(Command::CLOSE, &CloseResponse::default());
        assert!(matches!(
            CloseResponse::parse(&p[..HEADER_LEN + 58]),
            Err(WireError::Truncated { field: "CloseResponse.FileAttributes", .. })
        ));
        let p = pdu(Command::CLOSE, &CloseRequest::default());
        assert!(matches!(
            CloseRequest::parse(&p[..HEADER_LEN + 20]),
            Err(WireError::Truncated { field: "CloseRequest.FileId", .. })
        ));
        let mut p = p;
        p[HEADER_LEN] = 60;
        assert_eq!(
            CloseRequest::parse(&p),
            Err(WireError::BadValue { field: "CloseRequest.StructureSize", value: 60 })
        );
    }
}
