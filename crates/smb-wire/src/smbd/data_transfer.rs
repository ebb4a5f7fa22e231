//! MS-SMBD 2.2.3 Data Transfer Message: the one message type after negotiation, carrying one
//! fragment of an upper-layer message, credit grants and keepalive requests.
//!
//! SMB Direct messages have no SMB2 header: `parse` reads the received message from offset 0, and
//! DataOffset counts from the start of the message wherever the writer puts it. The codec enforces
//! the layout rules of MS-SMBD 3.1.5.8 (length, DataOffset alignment and bounds); the value rules
//! (CreditsRequested >= 1, DataLength + RemainingDataLength <= MaxFragmentedRecvSize) need the
//! connection's state and live in the `smbdirect` crate.

use crate::codec::{slice_at, Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::types::{narrow_u32, us};

/// Where senders put the payload: the 20 fixed bytes plus 4 bytes of padding to the 8-byte boundary.
pub const DATA_OFFSET: usize = 24;

/// Length of the fixed fields, and the whole length of a message without payload.
pub const HEADER_LEN: usize = 20;

/// MS-SMBD 2.2.3 Flags.
pub mod data_transfer_flags {
    /// SMB_DIRECT_RESPONSE_REQUESTED: the peer must answer promptly (keepalive).
    pub const RESPONSE_REQUESTED: u16 = 0x0001;
}

/// MS-SMBD 2.2.3 Data Transfer Message: the fields other than the data's placement.
///
/// Kept apart from the payload so the engine can build a message in registered memory: it writes
/// the prefix with [`DataTransferHeader::encode_prefix`] and the payload right after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataTransferHeader {
    /// Total send credits the sender wants, including those already granted.
    pub credits_requested: u16,
    /// New credits granted by this message (incremental).
    pub credits_granted: u16,
    /// [`data_transfer_flags`]; unknown bits are kept as sent.
    pub flags: u16,
    /// Bytes of the upper-layer message still to come after this fragment.
    pub remaining_data_length: u32,
}

impl DataTransferHeader {
    pub fn response_requested(&self) -> bool {
        self.flags & data_transfer_flags::RESPONSE_REQUESTED != 0
    }

    /// Writes the message prefix for a fragment of `data_len` payload bytes into `out` and returns
    /// how many of its bytes belong to the message: [`DATA_OFFSET`] when `data_len > 0` (the payload
    /// then goes at `out`'s end), [`HEADER_LEN`] for an empty message (DataOffset 0, no padding).
    /// All 24 bytes are written either way; the padding is zero.
    pub fn encode_prefix(&self, data_len: u32, out: &mut [u8; DATA_OFFSET]) -> usize {
        let data_offset = if data_len == 0 { 0 } else { DATA_OFFSET as u32 };
        out[0..2].copy_from_slice(&self.credits_requested.to_le_bytes());
        out[2..4].copy_from_slice(&self.credits_granted.to_le_bytes());
        out[4..6].copy_from_slice(&self.flags.to_le_bytes());
        out[6..8].fill(0);
        out[8..12].copy_from_slice(&self.remaining_data_length.to_le_bytes());
        out[12..16].copy_from_slice(&data_offset.to_le_bytes());
        out[16..20].copy_from_slice(&data_len.to_le_bytes());
        out[20..24].fill(0);
        if data_len == 0 {
            HEADER_LEN
        } else {
            DATA_OFFSET
        }
    }
}

/// MS-SMBD 2.2.3 Data Transfer Message, with its payload borrowed from the received buffer.
///
/// DataOffset is not kept: a receiver needs only the payload it points at, and the encoder always
/// places data at [`DATA_OFFSET`] (or sends 20 bytes with DataOffset 0 when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataTransfer<'a> {
    pub header: DataTransferHeader,
    /// This fragment's bytes of the upper-layer message.
    pub payload: &'a [u8],
}

impl<'a> DataTransfer<'a> {
    /// Parses a received message (`msg` is exactly the bytes the receive completion reported;
    /// trailing bytes after the payload are allowed).
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg);
        let credits_requested = r.u16("SmbdDataTransfer.CreditsRequested")?;
        let credits_granted = r.u16("SmbdDataTransfer.CreditsGranted")?;
        let flags = r.u16("SmbdDataTransfer.Flags")?;
        // Reserved: the receiver ignores it.
        r.skip(2, "SmbdDataTransfer.Reserved")?;
        let remaining_data_length = r.u32("SmbdDataTransfer.RemainingDataLength")?;
        let off = us(r.u32("SmbdDataTransfer.DataOffset")?);
        let len = us(r.u32("SmbdDataTransfer.DataLength")?);
        if len > 0 {
            // Data overlapping the fixed fields would alias them.
            if off < HEADER_LEN {
                return Err(WireError::BadValue { field: "SmbdDataTransfer.DataOffset", value: off as u64 });
            }
            if off % 8 != 0 {
                return Err(WireError::Misaligned {
                    field: "SmbdDataTransfer.DataOffset",
                    offset: off,
                    align: 8,
                });
            }
        }
        // MS-SMBD 3.1.5.8 bounds DataOffset + DataLength by the received length even when empty.
        let payload = slice_at(msg, off, len, "SmbdDataTransfer.Data")?;
        Ok(Self {
            header: DataTransferHeader { credits_requested, credits_granted, flags, remaining_data_length },
            payload,
        })
    }
}

impl Encode for DataTransfer<'_> {
    /// Offsets count from the message start, so the length does not depend on `at`.
    fn encoded_len_at(&self, _at: usize) -> usize {
        if self.payload.is_empty() {
            HEADER_LEN
        } else {
            DATA_OFFSET + self.payload.len()
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let data_len = narrow_u32(self.payload.len(), "SmbdDataTransfer.DataLength")?;
        let mut prefix = [0u8; DATA_OFFSET];
        let n = self.header.encode_prefix(data_len, &mut prefix);
        w.bytes(&prefix[..n])?;
        w.bytes(self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{Command, Header};
    use proptest::prelude::*;

    fn enc(m: &DataTransfer<'_>) -> Vec<u8> {
        let b = m.to_vec();
        assert_eq!(b.len(), m.encoded_len(), "encoded length differs from encoded_len");
        b
    }

    /// A 20-byte fixed part with the given placement, followed by `tail`.
    fn raw(off: u32, len: u32, tail: &[u8]) -> Vec<u8> {
        let mut b = vec![1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(tail);
        b
    }

    fn header_strategy() -> impl Strategy<Value = DataTransferHeader> {
        (any::<u16>(), any::<u16>(), any::<u16>(), any::<u32>()).prop_map(|(cr, cg, f, rem)| {
            DataTransferHeader {
                credits_requested: cr,
                credits_granted: cg,
                flags: f,
                remaining_data_length: rem,
            }
        })
    }

    proptest! {
        #[test]
        fn round_trips(header in header_strategy(), payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let m = DataTransfer { header, payload: &payload };
            let b = enc(&m);
            prop_assert_eq!(b.len(), if payload.is_empty() { 20 } else { 24 + payload.len() });
            prop_assert_eq!(DataTransfer::parse(&b).unwrap(), m);
            for n in 0..b.len() {
                let _ = DataTransfer::parse(&b[..n]);
            }
            if !payload.is_empty() {
                prop_assert!(DataTransfer::parse(&b[..b.len() - 1]).is_err());
            }
        }

        #[test]
        fn offsets_count_from_the_message_start(header in header_strategy(), payload in proptest::collection::vec(any::<u8>(), 0..64), at in 0usize..16) {
            let m = DataTransfer { header, payload: &payload };
            let mut buf = vec![0xAAu8; at + m.encoded_len_at(at)];
            let mut w = Writer::new(&mut buf);
            w.zeros(at).unwrap();
            m.encode(&mut w).unwrap();
            prop_assert_eq!(w.pos(), buf.len());
            prop_assert_eq!(DataTransfer::parse(&buf[at..]).unwrap(), m);
        }

        #[test]
        fn prefix_plus_payload_is_the_full_encoding(header in header_strategy(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let m = DataTransfer { header, payload: &payload };
            let mut prefix = [0xAAu8; DATA_OFFSET];
            let n = header.encode_prefix(payload.len() as u32, &mut prefix);
            let mut joined = prefix[..n].to_vec();
            joined.extend_from_slice(&payload);
            prop_assert_eq!(joined, enc(&m));
            prop_assert_eq!(&prefix[20..], &[0u8; 4][..]);
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = DataTransfer::parse(&b);
        }

        /// The accept/reject decision matches the MS-SMBD 3.1.5.8 layout rules for every placement.
        #[test]
        fn placement_rules(off in 0u32..72, len in 0u32..72, extra in 0usize..72) {
            let b = raw(off, len, &vec![0x5A; extra]);
            let (o, l) = (off as usize, len as usize);
            let ok = if l == 0 { o <= b.len() } else { o >= 20 && o % 8 == 0 && o + l <= b.len() };
            match DataTransfer::parse(&b) {
                Ok(m) => {
                    prop_assert!(ok);
                    prop_assert_eq!(m.payload, &b[o..o + l]);
                    // Re-encoding is canonical: same fields, same payload, DataOffset 24 or 0.
                    let again = enc(&m);
                    prop_assert_eq!(DataTransfer::parse(&again).unwrap(), m);
                }
                Err(_) => prop_assert!(!ok),
            }
        }
    }

    #[test]
    fn prefixes_never_panic() {
        let b = enc(&DataTransfer { header: DataTransferHeader::default(), payload: &[7; 40] });
        for n in 0..=b.len() {
            let _ = DataTransfer::parse(&b[..n]);
        }
    }

    #[test]
    fn first_data_transfer_known_bytes() {
        // MS-SMBD 4.1: the initiator's first message carries the SMB2 NEGOTIATE request.
        let smb2 = Header::request(Command::NEGOTIATE, 0, 0, 0).to_vec();
        let mut bytes = hex::decode("0a000a00 00000000 00000000 18000000".replace(' ', "")).unwrap();
        bytes.extend_from_slice(&(smb2.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&smb2);
        let m = DataTransfer {
            header: DataTransferHeader {
                credits_requested: 10,
                credits_granted: 10,
                flags: 0,
                remaining_data_length: 0,
            },
            payload: &smb2,
        };
        assert_eq!(DataTransfer::parse(&bytes).unwrap(), m);
        assert_eq!(enc(&m), bytes);
        assert_eq!(&bytes[24..28], b"\xfeSMB");
    }

    #[test]
    fn empty_message_is_twenty_bytes_with_zero_offset() {
        let m = DataTransfer {
            header: DataTransferHeader {
                credits_requested: 255,
                credits_granted: 3,
                flags: data_transfer_flags::RESPONSE_REQUESTED,
                remaining_data_length: 0,
            },
            payload: &[],
        };
        let b = enc(&m);
        assert_eq!(hex::encode(&b), "ff00030001000000000000000000000000000000");
        let back = DataTransfer::parse(&b).unwrap();
        assert_eq!(back, m);
        assert!(back.header.response_requested());
    }

    #[test]
    fn payload_is_borrowed_from_the_input() {
        let b = raw(24, 4, &[0, 0, 0, 0, 9, 8, 7, 6]);
        let m = DataTransfer::parse(&b).unwrap();
        assert_eq!(m.payload, &[9, 8, 7, 6]);
        assert!(core::ptr::eq(m.payload.as_ptr(), b[24..].as_ptr()));
    }

    #[test]
    fn larger_aligned_offset_and_trailing_bytes_are_accepted() {
        let mut tail = vec![0u8; 12];
        tail.extend_from_slice(&[1, 2, 3]);
        tail.extend_from_slice(&[0xEE; 5]);
        let b = raw(32, 3, &tail);
        let m = DataTransfer::parse(&b).unwrap();
        assert_eq!(m.payload, &[1, 2, 3]);
        // Re-encoded canonically at offset 24.
        assert_eq!(enc(&m)[12..16], 24u32.to_le_bytes());
    }

    #[test]
    fn short_message_names_the_cut_field() {
        let b = raw(0, 0, &[]);
        assert_eq!(
            DataTransfer::parse(&b[..19]),
            Err(WireError::Truncated { field: "SmbdDataTransfer.DataLength", at: 16, need: 4, have: 3 })
        );
        assert!(matches!(
            DataTransfer::parse(&[]),
            Err(WireError::Truncated { field: "SmbdDataTransfer.CreditsRequested", .. })
        ));
    }

    #[test]
    fn misaligned_offset_is_rejected() {
        assert_eq!(
            DataTransfer::parse(&raw(28, 1, &[0; 16])),
            Err(WireError::Misaligned { field: "SmbdDataTransfer.DataOffset", offset: 28, align: 8 })
        );
    }

    #[test]
    fn offset_inside_the_fixed_fields_is_rejected() {
        assert_eq!(
            DataTransfer::parse(&raw(16, 4, &[0; 8])),
            Err(WireError::BadValue { field: "SmbdDataTransfer.DataOffset", value: 16 })
        );
        assert_eq!(
            DataTransfer::parse(&raw(0, 4, &[0; 8])),
            Err(WireError::BadValue { field: "SmbdDataTransfer.DataOffset", value: 0 })
        );
    }

    #[test]
    fn data_past_the_message_is_rejected() {
        assert_eq!(
            DataTransfer::parse(&raw(24, 5, &[0; 8])),
            Err(WireError::OutOfBounds { field: "SmbdDataTransfer.Data", offset: 24, len: 5, msg_len: 28 })
        );
        // An empty payload must still point inside the message.
        assert!(matches!(
            DataTransfer::parse(&raw(24, 0, &[])),
            Err(WireError::OutOfBounds { field: "SmbdDataTransfer.Data", .. })
        ));
    }

    #[test]
    fn offset_plus_length_overflow_is_rejected() {
        for (off, len) in [(0xFFFF_FFF8, 0x10), (24, u32::MAX), (u32::MAX - 7, u32::MAX)] {
            assert!(matches!(
                DataTransfer::parse(&raw(off, len, &[0; 16])),
                Err(WireError::OutOfBounds { field: "SmbdDataTransfer.Data", .. })
            ));
        }
    }

    #[test]
    fn reserved_is_ignored_and_sent_as_zero() {
        let mut b = raw(24, 1, &[0, 0, 0, 0, 0x42]);
        b[6] = 0xFF;
        let out = enc(&DataTransfer::parse(&b).unwrap());
        b[6] = 0;
        assert_eq!(out, b);
    }

    #[test]
    fn prefix_of_an_empty_message() {
        let mut out = [0xAAu8; DATA_OFFSET];
        let h = DataTransferHeader { credits_requested: 1, ..Default::default() };
        assert_eq!(h.encode_prefix(0, &mut out), HEADER_LEN);
        assert_eq!(&out[12..16], &[0; 4]);
        assert_eq!(h.encode_prefix(1340, &mut out), DATA_OFFSET);
        assert_eq!(&out[12..20], &[24, 0, 0, 0, 0x3C, 0x05, 0, 0]);
    }

    #[test]
    fn encode_into_a_small_buffer_fails() {
        let m = DataTransfer { header: DataTransferHeader::default(), payload: &[1; 10] };
        let mut small = [0u8; 33];
        assert!(matches!(m.encode_into(&mut small), Err(WireError::BufferTooSmall { .. })));
    }
}
