//! MS-SMB2 2.2.28 ECHO Request and 2.2.29 ECHO Response.

crate::empty_body::empty_body! {
    /// MS-SMB2 2.2.28 SMB2 ECHO Request and 2.2.29 SMB2 ECHO Response: both are StructureSize 4 +
    /// Reserved, so one type serves both directions.
    Echo,
    "Echo.StructureSize"
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
        let p = pdu(Command::ECHO, &Echo);
        assert_eq!(&p[HEADER_LEN..], &[4, 0, 0, 0]);
        assert_eq!(Echo::parse(&p).unwrap(), Echo);
        prefixes_never_panic(&p, |b| Echo::parse(b).is_ok());
    }

    #[test]
    fn wrong_size_and_truncation_are_rejected() {
        let mut p = pdu(Command::ECHO, &Echo);
        assert!(matches!(
            Echo::parse(&p[..HEADER_LEN + 2]),
            Err(WireError::Truncated { field: "Echo.StructureSize", .. })
        ));
        p[HEADER_LEN + 1] = 1;
        assert_eq!(Echo::parse(&p), Err(WireError::BadValue { field: "Echo.StructureSize", value: 0x104 }));
    }

    proptest! {
        #[test]
        fn round_trips_behind_any_header(mid in any::<u64>(), sid in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut p = crate::pdu::pdu_to_vec(&crate::header::Header::request(Command::ECHO, mid, sid, 0), &Echo);
            p.extend_from_slice(&tail);
            prop_assert_eq!(Echo::parse(&p).unwrap(), Echo);
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut p = pdu(Command::ECHO, &Echo);
            p.truncate(HEADER_LEN);
            p.extend_from_slice(&body);
            let r = Echo::parse(&p);
            prop_assert_eq!(r.is_ok(), body.len() >= 4 && body[..2] == [4, 0]);
        }
    }
}
