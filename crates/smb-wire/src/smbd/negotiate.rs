//! MS-SMBD 2.2.1 Negotiate Request and 2.2.2 Negotiate Response.
//!
//! SMB Direct messages have no SMB2 header: `parse` reads the received message from offset 0 and
//! `encode` writes from the writer's position. Only the layout is checked here; the value rules of
//! MS-SMBD 3.1.5.6/3.1.5.7 (version range, minimum sizes, non-zero credits) are the `smbdirect`
//! crate's job, because their failures call for a failure response or a disconnect, not a parse error.

use crate::codec::{Encode, Reader, Writer};
use crate::error::Result;
use crate::status::NtStatus;

/// MS-SMBD 2.2.1 SMB Direct protocol version (MinVersion, MaxVersion, NegotiatedVersion).
///
/// A newtype, not an enum: a future peer may offer versions this crate does not know, and the
/// negotiation logic must still see them to pick 1.0 out of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Version(pub u16);

impl Version {
    /// SMB Direct 1.0, the only version MS-SMBD defines.
    pub const V1: Version = Version(0x0100);

    /// Whether the inclusive range `[min, max]` contains 1.0.
    pub fn range_includes_v1(min: Version, max: Version) -> bool {
        min <= Self::V1 && Self::V1 <= max
    }
}

/// MS-SMBD 2.2.1 Negotiate Request (initiator to listener), 20 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateRequest {
    pub min_version: Version,
    pub max_version: Version,
    /// Send credits the initiator asks for (its SendCreditTarget).
    pub credits_requested: u16,
    /// The initiator's MaxSendSize.
    pub preferred_send_size: u32,
    pub max_receive_size: u32,
    /// The initiator's MaxFragmentedRecvSize.
    pub max_fragmented_size: u32,
}

impl NegotiateRequest {
    pub const LEN: usize = 20;

    /// Parses a received message; bytes after the first 20 are ignored (MS-SMBD checks only
    /// "at least 20").
    pub fn parse(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg);
        let min_version = Version(r.u16("SmbdNegotiateRequest.MinVersion")?);
        let max_version = Version(r.u16("SmbdNegotiateRequest.MaxVersion")?);
        // Reserved: the receiver ignores it.
        r.skip(2, "SmbdNegotiateRequest.Reserved")?;
        Ok(Self {
            min_version,
            max_version,
            credits_requested: r.u16("SmbdNegotiateRequest.CreditsRequested")?,
            preferred_send_size: r.u32("SmbdNegotiateRequest.PreferredSendSize")?,
            max_receive_size: r.u32("SmbdNegotiateRequest.MaxReceiveSize")?,
            max_fragmented_size: r.u32("SmbdNegotiateRequest.MaxFragmentedSize")?,
        })
    }

    /// Whether `[MinVersion, MaxVersion]` contains 1.0 (MS-SMBD 3.1.5.6).
    pub fn includes_v1(&self) -> bool {
        Version::range_includes_v1(self.min_version, self.max_version)
    }
}

impl Encode for NegotiateRequest {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::LEN
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.min_version.0)?;
        w.u16(self.max_version.0)?;
        w.u16(0)?;
        w.u16(self.credits_requested)?;
        w.u32(self.preferred_send_size)?;
        w.u32(self.max_receive_size)?;
        w.u32(self.max_fragmented_size)
    }
}

/// MS-SMBD 2.2.2 Negotiate Response (listener to initiator), 32 bytes.
///
/// A failure response carries a non-zero `status` with the non-fixed fields zero; it has the same
/// layout and parses like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateResponse {
    pub min_version: Version,
    pub max_version: Version,
    pub negotiated_version: Version,
    /// Send credits the listener asks for (its SendCreditTarget).
    pub credits_requested: u16,
    /// Receives the listener has posted for the initiator: its first send credits.
    pub credits_granted: u16,
    pub status: NtStatus,
    /// Largest RDMA read/write per upper-layer I/O.
    pub max_read_write_size: u32,
    /// The listener's MaxSendSize.
    pub preferred_send_size: u32,
    pub max_receive_size: u32,
    /// The listener's MaxFragmentedRecvSize.
    pub max_fragmented_size: u32,
}

impl NegotiateResponse {
    pub const LEN: usize = 32;

    /// Parses a received message; bytes after the first 32 are ignored.
    pub fn parse(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg);
        let min_version = Version(r.u16("SmbdNegotiateResponse.MinVersion")?);
        let max_version = Version(r.u16("SmbdNegotiateResponse.MaxVersion")?);
        let negotiated_version = Version(r.u16("SmbdNegotiateResponse.NegotiatedVersion")?);
        r.skip(2, "SmbdNegotiateResponse.Reserved")?;
        Ok(Self {
            min_version,
            max_version,
            negotiated_version,
            credits_requested: r.u16("SmbdNegotiateResponse.CreditsRequested")?,
            credits_granted: r.u16("SmbdNegotiateResponse.CreditsGranted")?,
            status: NtStatus(r.u32("SmbdNegotiateResponse.Status")?),
            max_read_write_size: r.u32("SmbdNegotiateResponse.MaxReadWriteSize")?,
            preferred_send_size: r.u32("SmbdNegotiateResponse.PreferredSendSize")?,
            max_receive_size: r.u32("SmbdNegotiateResponse.MaxReceiveSize")?,
            max_fragmented_size: r.u32("SmbdNegotiateResponse.MaxFragmentedSize")?,
        })
    }

    /// Whether `[MinVersion, MaxVersion]` contains 1.0.
    pub fn includes_v1(&self) -> bool {
        Version::range_includes_v1(self.min_version, self.max_version)
    }
}

impl Encode for NegotiateResponse {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::LEN
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.min_version.0)?;
        w.u16(self.max_version.0)?;
        w.u16(self.negotiated_version.0)?;
        w.u16(0)?;
        w.u16(self.credits_requested)?;
        w.u16(self.credits_granted)?;
        w.u32(self.status.0)?;
        w.u32(self.max_read_write_size)?;
        w.u32(self.preferred_send_size)?;
        w.u32(self.max_receive_size)?;
        w.u32(self.max_fragmented_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::WireError;
    use proptest::prelude::*;

    /// Encodes `v` at writer position 0 and checks `encoded_len`.
    fn enc<T: Encode>(v: &T) -> Vec<u8> {
        let b = v.to_vec();
        assert_eq!(b.len(), v.encoded_len(), "encoded length differs from encoded_len");
        b
    }

    fn req_strategy() -> impl Strategy<Value = NegotiateRequest> {
        (any::<u16>(), any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
            |(min, max, c, p, m, f)| NegotiateRequest {
                min_version: Version(min),
                max_version: Version(max),
                credits_requested: c,
                preferred_send_size: p,
                max_receive_size: m,
                max_fragmented_size: f,
            },
        )
    }

    fn rsp_strategy() -> impl Strategy<Value = NegotiateResponse> {
        (
            (any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>(), any::<u16>()),
            (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        )
            .prop_map(|((min, max, neg, cr, cg), (st, rw, p, m, f))| NegotiateResponse {
                min_version: Version(min),
                max_version: Version(max),
                negotiated_version: Version(neg),
                credits_requested: cr,
                credits_granted: cg,
                status: NtStatus(st),
                max_read_write_size: rw,
                preferred_send_size: p,
                max_receive_size: m,
                max_fragmented_size: f,
            })
    }

    proptest! {
        #[test]
        fn request_round_trips(req in req_strategy()) {
            let b = enc(&req);
            prop_assert_eq!(b.len(), NegotiateRequest::LEN);
            prop_assert_eq!(NegotiateRequest::parse(&b).unwrap(), req);
            for n in 0..b.len() {
                prop_assert!(NegotiateRequest::parse(&b[..n]).is_err());
            }
        }

        #[test]
        fn response_round_trips(rsp in rsp_strategy()) {
            let b = enc(&rsp);
            prop_assert_eq!(b.len(), NegotiateResponse::LEN);
            prop_assert_eq!(NegotiateResponse::parse(&b).unwrap(), rsp);
            for n in 0..b.len() {
                prop_assert!(NegotiateResponse::parse(&b[..n]).is_err());
            }
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = NegotiateRequest::parse(&b);
            let _ = NegotiateResponse::parse(&b);
        }

        #[test]
        fn parse_then_encode_is_canonical_apart_from_reserved(b in proptest::collection::vec(any::<u8>(), 32..40)) {
            // Reserved is ignored on receipt and sent as zero; every other byte survives.
            let mut want = b[..20].to_vec();
            want[4..6].fill(0);
            prop_assert_eq!(enc(&NegotiateRequest::parse(&b).unwrap()), want);
            let mut want = b[..32].to_vec();
            want[6..8].fill(0);
            prop_assert_eq!(enc(&NegotiateResponse::parse(&b).unwrap()), want);
        }
    }

    #[test]
    fn prefixes_never_panic() {
        let b = hex::decode("0001000100000a00000400000004000000000200").unwrap();
        for n in 0..=b.len() {
            let _ = NegotiateRequest::parse(&b[..n]);
            let _ = NegotiateResponse::parse(&b[..n]);
        }
    }

    #[test]
    fn short_messages_name_the_cut_field() {
        let b = [0u8; 31];
        assert_eq!(
            NegotiateRequest::parse(&b[..19]),
            Err(WireError::Truncated {
                field: "SmbdNegotiateRequest.MaxFragmentedSize",
                at: 16,
                need: 4,
                have: 3
            })
        );
        assert_eq!(
            NegotiateResponse::parse(&b),
            Err(WireError::Truncated {
                field: "SmbdNegotiateResponse.MaxFragmentedSize",
                at: 28,
                need: 4,
                have: 3
            })
        );
        assert!(matches!(
            NegotiateRequest::parse(&[]),
            Err(WireError::Truncated { field: "SmbdNegotiateRequest.MinVersion", .. })
        ));
    }

    #[test]
    fn windows_default_request_known_bytes() {
        let bytes = hex::decode("00010001 0000ff00 54050000 00200000 00001000".replace(' ', "")).unwrap();
        let req = NegotiateRequest {
            min_version: Version::V1,
            max_version: Version::V1,
            credits_requested: 255,
            preferred_send_size: 1364,
            max_receive_size: 8192,
            max_fragmented_size: 1 << 20,
        };
        assert_eq!(NegotiateRequest::parse(&bytes).unwrap(), req);
        assert_eq!(enc(&req), bytes);
        assert!(req.includes_v1());
    }

    #[test]
    fn ms_smbd_4_1_negotiate_known_bytes() {
        let req_bytes =
            hex::decode("0001 0001 0000 0a00 00040000 00040000 00000200".replace(' ', "")).unwrap();
        let req = NegotiateRequest {
            min_version: Version::V1,
            max_version: Version::V1,
            credits_requested: 10,
            preferred_send_size: 1024,
            max_receive_size: 1024,
            max_fragmented_size: 131072,
        };
        assert_eq!(NegotiateRequest::parse(&req_bytes).unwrap(), req);
        assert_eq!(enc(&req), req_bytes);

        let rsp_bytes = hex::decode(
            "0001 0001 0001 0000 0a00 0a00 00000000 00001000 00040000 00040000 00000200".replace(' ', ""),
        )
        .unwrap();
        let rsp = NegotiateResponse {
            min_version: Version::V1,
            max_version: Version::V1,
            negotiated_version: Version::V1,
            credits_requested: 10,
            credits_granted: 10,
            status: NtStatus::SUCCESS,
            max_read_write_size: 1 << 20,
            preferred_send_size: 1024,
            max_receive_size: 1024,
            max_fragmented_size: 131072,
        };
        assert_eq!(NegotiateResponse::parse(&rsp_bytes).unwrap(), rsp);
        assert_eq!(enc(&rsp), rsp_bytes);
        assert!(rsp.includes_v1());
    }

    #[test]
    fn trailing_bytes_and_nonzero_reserved_are_ignored() {
        let mut b = hex::decode("0001000100000a00000400000004000000000200").unwrap();
        b[4] = 0x55;
        b.extend_from_slice(&[0xEE; 8]);
        let req = NegotiateRequest::parse(&b).unwrap();
        assert_eq!(req.credits_requested, 10);
        assert_eq!(req.max_fragmented_size, 131072);
    }

    #[test]
    fn version_ranges() {
        let r = |min, max| NegotiateRequest {
            min_version: Version(min),
            max_version: Version(max),
            credits_requested: 1,
            preferred_send_size: 0,
            max_receive_size: 0,
            max_fragmented_size: 0,
        };
        assert!(r(0x0100, 0x0100).includes_v1());
        assert!(r(0x0001, 0x0200).includes_v1());
        assert!(!r(0x0101, 0x0200).includes_v1());
        assert!(!r(0x0000, 0x00FF).includes_v1());
        // An inverted range includes nothing: the value check refuses it later.
        assert!(!r(0x0200, 0x0001).includes_v1());
    }

    #[test]
    fn failure_response_parses() {
        let rsp = NegotiateResponse {
            min_version: Version::V1,
            max_version: Version::V1,
            negotiated_version: Version(0),
            credits_requested: 0,
            credits_granted: 0,
            status: NtStatus::NOT_SUPPORTED,
            max_read_write_size: 0,
            preferred_send_size: 0,
            max_receive_size: 0,
            max_fragmented_size: 0,
        };
        let b = enc(&rsp);
        assert_eq!(&b[12..16], &0xC000_00BBu32.to_le_bytes());
        assert_eq!(NegotiateResponse::parse(&b).unwrap(), rsp);
    }

    #[test]
    fn encode_at_an_offset_and_into_a_small_buffer() {
        let req = NegotiateRequest::parse(&hex::decode("0001000100000a00000400000004000000000200").unwrap())
            .unwrap();
        let mut buf = [0xAAu8; 28];
        let mut w = Writer::new(&mut buf);
        w.zeros(8).unwrap();
        req.encode(&mut w).unwrap();
        assert_eq!(NegotiateRequest::parse(&buf[8..]).unwrap(), req);
        let mut small = [0u8; 19];
        assert!(matches!(req.encode_into(&mut small), Err(WireError::BufferTooSmall { .. })));
    }
}
