//! MS-SMB2 2.2.30 CANCEL Request (there is no CANCEL response).
//!
//! The request names its target by the header alone (MessageId, or AsyncId with ASYNC_COMMAND), so
//! the body carries nothing.

crate::empty_body::empty_body! {
    /// MS-SMB2 2.2.30 SMB2 CANCEL Request: StructureSize 4 + Reserved.
    CancelRequest,
    "CancelRequest.StructureSize"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use crate::header::{Command, HEADER_LEN};
    use crate::pdu::testutil::{pdu, prefixes_never_panic};
    use proptest::prelude::*;

    #[test]
    fn round_trips_and_prefixes_never_panic() {
        let p = pdu(Command::CANCEL, &CancelRequest);
        assert_eq!(&p[HEADER_LEN..], &[4, 0, 0, 0]);
        assert_eq!(CancelRequest::parse(&p).unwrap(), CancelRequest);
        prefixes_never_panic(&p, |b| CancelRequest::parse(b).is_ok());
    }

    #[test]
    fn wrong_size_and_truncation_are_rejected() {
        let mut p = pdu(Command::CANCEL, &CancelRequest);
        assert!(matches!(
            CancelRequest::parse(&p[..HEADER_LEN + 1]),
            Err(WireError::Truncated { field: "CancelRequest.StructureSize", .. })
        ));
        p[HEADER_LEN] = 0;
        assert_eq!(
            CancelRequest::parse(&p),
            Err(WireError::BadValue { field: "CancelRequest.StructureSize", value: 0 })
        );
    }

    proptest! {
        #[test]
        fn round_trips_behind_any_header(mid in any::<u64>(), sid in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut p = crate::pdu::pdu_to_vec(&crate::header::Header::request(Command::CANCEL, mid, sid, 0), &CancelRequest);
            p.extend_from_slice(&tail);
            prop_assert_eq!(CancelRequest::parse(&p).unwrap(), CancelRequest);
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut p = pdu(Command::CANCEL, &CancelRequest);
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let r = CancelRequest::parse(&p);
            prop_assert_eq!(r.is_ok(), body.len() >= 4 && body[..2] == [4, 0]);
        }
    }
}
