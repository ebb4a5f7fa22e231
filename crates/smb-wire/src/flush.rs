//! MS-SMB2 2.2.17 FLUSH Request and 2.2.18 FLUSH Response.

use crate::codec::{Encode, Reader, Writer};
use crate::error::Result;
use crate::header::HEADER_LEN;
use crate::types::FileId;

/// MS-SMB2 2.2.17 SMB2 FLUSH Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushRequest {
    pub file_id: FileId,
}

impl FlushRequest {
    pub const STRUCTURE_SIZE: u16 = 24;

    pub fn parse(pdu: &[u8]) -> Result<Self> {
        let mut r = Reader::at(pdu, HEADER_LEN)?;
        r.expect_u16(Self::STRUCTURE_SIZE, "FlushRequest.StructureSize")?;
        r.skip(2, "FlushRequest.Reserved1")?;
        r.skip(4, "FlushRequest.Reserved2")?;
        Ok(Self { file_id: FileId::read(&mut r, "FlushRequest.FileId")? })
    }
}

impl Encode for FlushRequest {
    fn encoded_len_at(&self, _at: usize) -> usize {
        24
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(Self::STRUCTURE_SIZE)?;
        w.u16(0)?;
        w.u32(0)?;
        self.file_id.write(w)
    }
}

crate::empty_body::empty_body! {
    /// MS-SMB2 2.2.18 SMB2 FLUSH Response: StructureSize 4 and Reserved.
    FlushResponse,
    "FlushResponse.StructureSize"
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
        fn request_round_trips(p_id in any::<u64>(), v_id in any::<u64>()) {
            let req = FlushRequest { file_id: FileId { persistent: p_id, volatile: v_id } };
            let p = pdu(Command::FLUSH, &req);
            prop_assert_eq!(FlushRequest::parse(&p).unwrap(), req);
            prefixes_never_panic(&p, |b| FlushRequest::parse(b).is_ok());
            prop_assert!(FlushRequest::parse(&p[..p.len() - 1]).is_err());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut p = pdu(Command::FLUSH, &FlushResponse);
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let _ = FlushRequest::parse(&p);
            let _ = FlushResponse::parse(&p);
        }
    }

    #[test]
    fn response_round_trips_and_known_bytes() {
        let p = pdu(Command::FLUSH, &FlushResponse);
        assert_eq!(&p[HEADER_LEN..], &[4, 0, 0, 0]);
        assert_eq!(FlushResponse::parse(&p), Ok(FlushResponse));
        prefixes_never_panic(&p, |b| FlushResponse::parse(b).is_ok());
        let req = FlushRequest { file_id: FileId::ANY };
        let p = pdu(Command::FLUSH, &req);
        assert_eq!(hex::encode(&p[HEADER_LEN..HEADER_LEN + 8]), "1800000000000000");
        assert_eq!(&p[HEADER_LEN + 8..], &[0xFF; 16]);
    }

    #[test]
    fn bad_structure_sizes_are_named() {
        let mut p = pdu(Command::FLUSH, &FlushResponse);
        p[HEADER_LEN] = 5;
        assert_eq!(
            FlushResponse::parse(&p),
            Err(WireError::BadValue { field: "FlushResponse.StructureSize", value: 5 })
        );
        let mut p = pdu(Command::FLUSH, &FlushRequest::default());
        p[HEADER_LEN] = 4;
        assert_eq!(
            FlushRequest::parse(&p),
            Err(WireError::BadValue { field: "FlushRequest.StructureSize", value: 4 })
        );
    }
}
