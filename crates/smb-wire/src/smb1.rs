//! MS-CIFS 2.2.4.52.1 SMB_COM_NEGOTIATE Request (behind the MS-CIFS 2.2.3.1 SMB header): only the
//! dialect strings, so the server can answer an SMB1 multi-protocol negotiate offering SMB2 with the
//! SMB2 wildcard (MS-SMB2 3.3.5.3.1) and drop clients that speak only SMB1. Nothing else of SMB1.

use crate::codec::{Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::types::narrow_u16;

/// `FF 'S' 'M' 'B'`.
pub const SMB1_PROTOCOL_ID: [u8; 4] = [0xFF, b'S', b'M', b'B'];
/// SMB_COM_NEGOTIATE.
pub const SMB_COM_NEGOTIATE: u8 = 0x72;
/// The fixed SMB1 header (MS-CIFS 2.2.3.1).
pub const SMB1_HEADER_LEN: usize = 32;
/// Dialect string offered by clients that speak SMB 2.0.2.
pub const DIALECT_SMB_2_002: &[u8] = b"SMB 2.002";
/// Dialect string offered by clients that speak SMB 2.1 or later.
pub const DIALECT_SMB_2_WILDCARD: &[u8] = b"SMB 2.???";

/// BufferFormat byte in front of each dialect string (MS-CIFS 2.2.4.52.1: "Dialect" buffer).
const BUFFER_FORMAT_DIALECT: u8 = 0x02;

/// Whether `msg` starts with the SMB1 protocol id.
pub fn is_smb1(msg: &[u8]) -> bool {
    msg.starts_with(&SMB1_PROTOCOL_ID)
}

/// MS-CIFS 2.2.4.52.1 SMB_COM_NEGOTIATE Request: the dialects the client offers.
///
/// The header's other fields (flags, PID, MID, ...) are ignored on parse and written as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Smb1NegotiateRequest<'a> {
    pub dialects: Smb1Dialects<'a>,
}

impl<'a> Smb1NegotiateRequest<'a> {
    /// `msg` starts at the SMB1 header (no transport framing).
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg);
        let id = r.array::<4>("Smb1Header.Protocol")?;
        if id != SMB1_PROTOCOL_ID {
            return Err(WireError::BadValue {
                field: "Smb1Header.Protocol",
                value: u32::from_be_bytes(id).into(),
            });
        }
        let command = r.u8("Smb1Header.Command")?;
        if command != SMB_COM_NEGOTIATE {
            return Err(WireError::BadValue { field: "Smb1Header.Command", value: command.into() });
        }
        r.skip(SMB1_HEADER_LEN - 5, "Smb1Header")?;
        let word_count = r.u8("Smb1NegotiateRequest.WordCount")?;
        if word_count != 0 {
            return Err(WireError::BadValue {
                field: "Smb1NegotiateRequest.WordCount",
                value: word_count.into(),
            });
        }
        let byte_count = r.u16("Smb1NegotiateRequest.ByteCount")?;
        let bytes = r.bytes(usize::from(byte_count), "Smb1NegotiateRequest.ByteCount")?;
        Ok(Self { dialects: Smb1Dialects::parse(bytes)? })
    }
}

impl Encode for Smb1NegotiateRequest<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        SMB1_HEADER_LEN + 3 + self.dialects.as_bytes().len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let byte_count = narrow_u16(self.dialects.as_bytes().len(), "Smb1NegotiateRequest.ByteCount")?;
        w.bytes(&SMB1_PROTOCOL_ID)?;
        w.u8(SMB_COM_NEGOTIATE)?;
        w.zeros(SMB1_HEADER_LEN - 5)?;
        w.u8(0)?;
        w.u16(byte_count)?;
        w.bytes(self.dialects.as_bytes())
    }
}

/// The Dialects buffer of an SMB1 NEGOTIATE: 0x02-prefixed, NUL-terminated OEM strings, validated at
/// parse time and iterated without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Smb1Dialects<'a>(&'a [u8]);

impl<'a> Smb1Dialects<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut rest = bytes;
        while let Some((&format, tail)) = rest.split_first() {
            if format != BUFFER_FORMAT_DIALECT {
                return Err(WireError::BadValue {
                    field: "Smb1NegotiateRequest.BufferFormat",
                    value: format.into(),
                });
            }
            let nul = tail.iter().position(|&b| b == 0).ok_or(WireError::Truncated {
                field: "Smb1NegotiateRequest.DialectString",
                at: bytes.len() - rest.len(),
                need: tail.len() + 2,
                have: rest.len(),
            })?;
            rest = &tail[nul + 1..];
        }
        Ok(Self(bytes))
    }

    /// Writes `names` (without terminators) as a Dialects buffer into `out`.
    pub fn build<'b>(names: &[&[u8]], out: &'b mut [u8]) -> Result<Smb1Dialects<'b>> {
        let mut w = Writer::new(out);
        for n in names {
            if n.contains(&0) {
                return Err(WireError::BadValue { field: "Smb1NegotiateRequest.DialectString", value: 0 });
            }
            w.u8(BUFFER_FORMAT_DIALECT)?;
            w.bytes(n)?;
            w.u8(0)?;
        }
        let n = w.pos();
        Ok(Smb1Dialects(&out[..n]))
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The dialect strings in the client's order, without the 0x02 prefix and the NUL.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        // Validated at parse: every entry is 0x02, text, NUL.
        self.0.split(|&b| b == 0).filter_map(|s| s.split_first().map(|(_, name)| name))
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.iter().any(|d| d == name)
    }

    /// Whether the client offers any SMB2 dialect ("SMB 2.002" or "SMB 2.???"); a client that does
    /// not is SMB1-only and is dropped.
    pub fn offers_smb2(&self) -> bool {
        self.iter().any(|d| d == DIALECT_SMB_2_002 || d == DIALECT_SMB_2_WILDCARD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::testutil::prefixes_never_panic;
    use proptest::prelude::*;

    /// A Windows 7 style multi-protocol negotiate: "NT LM 0.12", "SMB 2.002", "SMB 2.???".
    const WIN7_NEGOTIATE: &str =
        "FF534D42 72 00000000 18 53C8 0000 0000000000000000 0000 0000 FFFE 0000 0000 \
        00 2200 \
        02 4E54204C4D20302E3132 00 \
        02 534D4220322E303032 00 \
        02 534D4220322E3F3F3F 00";

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn windows_multi_protocol_negotiate() {
        let msg = unhex(WIN7_NEGOTIATE);
        assert!(is_smb1(&msg));
        let req = Smb1NegotiateRequest::parse(&msg).unwrap();
        let names: Vec<_> = req.dialects.iter().collect();
        assert_eq!(names, [&b"NT LM 0.12"[..], DIALECT_SMB_2_002, DIALECT_SMB_2_WILDCARD]);
        assert!(req.dialects.offers_smb2());
        assert!(req.dialects.contains(b"SMB 2.???"));
        prefixes_never_panic(&msg, |b| Smb1NegotiateRequest::parse(b).is_ok());
    }

    #[test]
    fn smb1_only_clients_are_recognised() {
        let mut buf = [0u8; 64];
        let d = Smb1Dialects::build(&[b"PC NETWORK PROGRAM 1.0", b"NT LM 0.12"], &mut buf).unwrap();
        assert!(!d.offers_smb2());
        assert_eq!(d.iter().count(), 2);
    }

    #[test]
    fn header_checks_name_their_fields() {
        let msg = unhex(WIN7_NEGOTIATE);
        let mut p = msg.clone();
        p[0] = 0xFE;
        assert!(matches!(
            Smb1NegotiateRequest::parse(&p),
            Err(WireError::BadValue { field: "Smb1Header.Protocol", .. })
        ));
        let mut p = msg.clone();
        p[4] = 0x73;
        assert_eq!(
            Smb1NegotiateRequest::parse(&p),
            Err(WireError::BadValue { field: "Smb1Header.Command", value: 0x73 })
        );
        let mut p = msg.clone();
        p[32] = 1;
        assert_eq!(
            Smb1NegotiateRequest::parse(&p),
            Err(WireError::BadValue { field: "Smb1NegotiateRequest.WordCount", value: 1 })
        );
        let mut p = msg.clone();
        p[33] = 0x23;
        assert!(matches!(
            Smb1NegotiateRequest::parse(&p),
            Err(WireError::Truncated { field: "Smb1NegotiateRequest.ByteCount", .. })
        ));
    }

    #[test]
    fn dialect_buffer_checks() {
        assert!(matches!(
            Smb1Dialects::parse(b"\x02NT LM 0.12\x00\x03x\x00"),
            Err(WireError::BadValue { field: "Smb1NegotiateRequest.BufferFormat", value: 3 })
        ));
        assert!(matches!(
            Smb1Dialects::parse(b"\x02NT LM 0.12\x00\x02SMB 2"),
            Err(WireError::Truncated { field: "Smb1NegotiateRequest.DialectString", at: 12, .. })
        ));
        // An empty string is still a (useless) dialect entry.
        assert_eq!(Smb1Dialects::parse(b"\x02\x00").unwrap().iter().collect::<Vec<_>>(), [&b""[..]]);
        assert_eq!(Smb1Dialects::parse(b"").unwrap().iter().count(), 0);
        let mut buf = [0u8; 8];
        assert!(Smb1Dialects::build(&[b"a\0b"], &mut buf).is_err());
    }

    proptest! {
        #[test]
        fn request_round_trips(names in proptest::collection::vec("[ -~]{0,16}", 0..6)) {
            let names: Vec<&[u8]> = names.iter().map(|s| s.as_bytes()).collect();
            let mut buf = vec![0u8; names.iter().map(|n| n.len() + 2).sum()];
            let dialects = Smb1Dialects::build(&names, &mut buf).unwrap();
            let req = Smb1NegotiateRequest { dialects };
            let msg = req.to_vec();
            prop_assert_eq!(msg.len(), req.encoded_len());
            let back = Smb1NegotiateRequest::parse(&msg).unwrap();
            prop_assert_eq!(back, req);
            prop_assert_eq!(back.dialects.iter().collect::<Vec<_>>(), names);
            prefixes_never_panic(&msg, |b| Smb1NegotiateRequest::parse(b).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..96)) {
            let mut msg = unhex(WIN7_NEGOTIATE);
            msg.truncate(SMB1_HEADER_LEN);
            msg.extend_from_slice(&body);
            if let Ok(r) = Smb1NegotiateRequest::parse(&msg) {
                let _ = r.dialects.offers_smb2();
            }
            if let Ok(d) = Smb1Dialects::parse(&body) {
                prop_assert!(d.iter().count() <= body.len() / 2);
            }
        }
    }
}
