//! MS-SMB2 2.2.7 LOGOFF Request and 2.2.8 LOGOFF Response.

crate::empty_body::empty_body! {
    /// MS-SMB2 2.2.7 SMB2 LOGOFF Request and 2.2.8 SMB2 LOGOFF Response: both are StructureSize 4 +
    /// Reserved, so one type serves both directions.
    Logoff,
    "Logoff.StructureSize"
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
        let p = pdu(Command::LOGOFF, &Logoff);
        assert_eq!(&p[HEADER_LEN..], &[4, 0, 0, 0]);
        assert_eq!(Logoff::parse(&p).unwrap(), Logoff);
        prefixes_never_panic(&p, |b| Logoff::parse(b).is_ok());
    }

    #[test]
    fn wrong_size_and_truncation_are_rejected() {
        let mut p = pdu(Command::LOGOFF, &Logoff);
        assert!(matches!(
            Logoff::parse(&p[..HEADER_LEN + 3]),
            Err(WireError::Truncated { field: "Logoff.StructureSize", .. })
        ));
        p[HEADER_LEN] = 5;
        assert_eq!(Logoff::parse(&p), Err(WireError::BadValue { field: "Logoff.StructureSize", value: 5 }));
    }

    proptest! {
        #[test]
        fn round_trips_behind_any_header(mid in any::<u64>(), sid in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut p = crate::pdu::pdu_to_vec(&crate::header::Header::request(Command::LOGOFF, mid, sid, 0), &Logoff);
            p.extend_from_slice(&tail);
            prop_assert_eq!(Logoff::parse(&p).unwrap(), Logoff);
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut p = pdu(Command::LOGOFF, &Logoff);
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let r = Logoff::parse(&p);
            prop_assert_eq!(r.is_ok(), body.len() >= 4 && body[..2] == [4, 0]);
        }
    }
}
