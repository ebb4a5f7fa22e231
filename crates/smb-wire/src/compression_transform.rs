//! MS-SMB2 2.2.42 SMB2 COMPRESSION_TRANSFORM_HEADER: 2.2.42.1 unchained and 2.2.42.2 chained forms,
//! 2.2.42.2.1 chained payload headers (iterated lazily) and 2.2.42.2.2 Pattern_V1 payloads.
//!
//! Layout only: payloads are borrowed slices, decompression is someone else's job. Whoever
//! decompresses must cap the original sizes read here before allocating for them.

use crate::codec::{slice_at, Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::types::{narrow_u32, us};

/// `FC 'S' 'M' 'B'`.
pub const COMPRESSION_PROTOCOL_ID: [u8; 4] = [0xFC, b'S', b'M', b'B'];
/// Length of the unchained header.
pub const UNCHAINED_HEADER_LEN: usize = 16;
/// ProtocolId + OriginalCompressedSegmentSize: what precedes the first payload header when chained.
pub const CHAINED_HEADER_LEN: usize = 8;

/// MS-SMB2 2.2.42 Flags (and 2.2.42.2.1 payload header Flags).
pub mod compression_flags {
    pub const NONE: u16 = 0x0000;
    /// Set in the transform header (which is the first payload header) of a chained message.
    pub const CHAINED: u16 = 0x0001;
}

pub use crate::negotiate_context::CompressionAlgorithm;

impl CompressionAlgorithm {
    /// Whether a chained payload header with this algorithm carries OriginalPayloadSize
    /// (MS-SMB2 2.2.42.2.1: the real compressors do; NONE and Pattern_V1 do not). Unknown
    /// algorithms are read without it; their payload cannot be decompressed anyway.
    pub fn has_original_payload_size(self) -> bool {
        matches!(self, Self::LZNT1 | Self::LZ77 | Self::LZ77_HUFFMAN | Self::LZ4)
    }
}

/// MS-SMB2 2.2.42 SMB2 COMPRESSION_TRANSFORM_HEADER, in either form, with what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionTransform<'a> {
    Unchained(CompressionTransformUnchained<'a>),
    Chained(CompressionTransformChained<'a>),
}

impl<'a> CompressionTransform<'a> {
    /// Parses a whole compressed message. The form is chosen by the Flags field at offset 10,
    /// which in the chained form is the first payload header's Flags.
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg);
        read_protocol_id(&mut r)?;
        r.skip(6, "CompressionTransformHeader.OriginalCompressedSegmentSize")?;
        match r.u16("CompressionTransformHeader.Flags")? {
            compression_flags::NONE => CompressionTransformUnchained::parse(msg).map(Self::Unchained),
            compression_flags::CHAINED => CompressionTransformChained::parse(msg).map(Self::Chained),
            f => Err(WireError::BadValue { field: "CompressionTransformHeader.Flags", value: f.into() }),
        }
    }

    /// OriginalCompressedSegmentSize as sent.
    pub fn original_compressed_segment_size(&self) -> u32 {
        match self {
            Self::Unchained(u) => u.original_compressed_segment_size,
            Self::Chained(c) => c.original_compressed_segment_size,
        }
    }

    /// Size of the SMB2 message once decompressed, as the sender claims it (a decompressor must cap
    /// this before allocating).
    pub fn original_size(&self) -> u64 {
        match self {
            Self::Unchained(u) => u.original_size(),
            Self::Chained(c) => c.original_compressed_segment_size.into(),
        }
    }
}

impl Encode for CompressionTransform<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        match self {
            Self::Unchained(u) => u.encoded_len_at(at),
            Self::Chained(c) => c.encoded_len_at(at),
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Self::Unchained(u) => u.encode(w),
            Self::Chained(c) => c.encode(w),
        }
    }
}

fn read_protocol_id(r: &mut Reader<'_>) -> Result<()> {
    let proto = r.array::<4>("CompressionTransformHeader.ProtocolId")?;
    if proto != COMPRESSION_PROTOCOL_ID {
        return Err(WireError::BadValue {
            field: "CompressionTransformHeader.ProtocolId",
            value: u32::from_le_bytes(proto).into(),
        });
    }
    Ok(())
}

/// MS-SMB2 2.2.42.1 SMB2_COMPRESSION_TRANSFORM_HEADER_UNCHAINED, with the uncompressed leading
/// part of the message (Offset bytes) and the compressed rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompressionTransformUnchained<'a> {
    /// Uncompressed size of the compressed segment (not counting `uncompressed`).
    pub original_compressed_segment_size: u32,
    /// Must not be NONE per the spec; carried as sent, the decompressor refuses what it lacks.
    pub algorithm: CompressionAlgorithm,
    /// The first Offset bytes of the SMB2 message, sent as is (e.g. a WRITE's header and body while
    /// only its data is compressed).
    pub uncompressed: &'a [u8],
    /// The compressed segment: everything after `uncompressed`.
    pub compressed: &'a [u8],
}

impl<'a> CompressionTransformUnchained<'a> {
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg);
        read_protocol_id(&mut r)?;
        let original_compressed_segment_size =
            r.u32("CompressionTransformHeader.OriginalCompressedSegmentSize")?;
        let algorithm = CompressionAlgorithm(r.u16("CompressionTransformHeader.CompressionAlgorithm")?);
        let flags = r.u16("CompressionTransformHeader.Flags")?;
        if flags != compression_flags::NONE {
            return Err(WireError::BadValue {
                field: "CompressionTransformHeader.Flags",
                value: flags.into(),
            });
        }
        let offset = us(r.u32("CompressionTransformHeader.Offset")?);
        let uncompressed = slice_at(msg, UNCHAINED_HEADER_LEN, offset, "CompressionTransformHeader.Offset")?;
        r.skip(offset, "CompressionTransformHeader.Offset")?;
        Ok(Self { original_compressed_segment_size, algorithm, uncompressed, compressed: r.rest() })
    }

    /// Offset + OriginalCompressedSegmentSize.
    pub fn original_size(&self) -> u64 {
        self.uncompressed.len() as u64 + u64::from(self.original_compressed_segment_size)
    }
}

impl Encode for CompressionTransformUnchained<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        UNCHAINED_HEADER_LEN + self.uncompressed.len() + self.compressed.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&COMPRESSION_PROTOCOL_ID)?;
        w.u32(self.original_compressed_segment_size)?;
        w.u16(self.algorithm.0)?;
        w.u16(compression_flags::NONE)?;
        w.u32(narrow_u32(self.uncompressed.len(), "CompressionTransformHeader.Offset")?)?;
        w.bytes(self.uncompressed)?;
        w.bytes(self.compressed)
    }
}

/// MS-SMB2 2.2.42.2 SMB2_COMPRESSION_TRANSFORM_HEADER_CHAINED: the 8-byte header and the chain of
/// payload headers + payloads after it, kept raw and walked by [`CompressionTransformChained::payloads`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompressionTransformChained<'a> {
    /// Uncompressed size of the whole message.
    pub original_compressed_segment_size: u32,
    /// From the first payload header to the end of the message.
    pub chain: &'a [u8],
}

impl<'a> CompressionTransformChained<'a> {
    /// Checks the header and that the first payload header says CHAINED; the rest of the chain is
    /// checked as it is iterated.
    pub fn parse(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg);
        read_protocol_id(&mut r)?;
        let original_compressed_segment_size =
            r.u32("CompressionTransformHeader.OriginalCompressedSegmentSize")?;
        let chain = r.rest();
        let mut first = Reader::new(chain);
        first.skip(2, "CompressionPayloadHeader.CompressionAlgorithm")?;
        let flags = first.u16("CompressionPayloadHeader.Flags")?;
        if flags != compression_flags::CHAINED {
            return Err(WireError::BadValue {
                field: "CompressionTransformHeader.Flags",
                value: flags.into(),
            });
        }
        Ok(Self { original_compressed_segment_size, chain })
    }

    /// The payloads in order. Yields an error (then stops) at the first malformed payload header.
    pub fn payloads(&self) -> ChainedPayloads<'a> {
        ChainedPayloads { chain: self.chain, pos: 0, done: false }
    }
}

impl Encode for CompressionTransformChained<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        CHAINED_HEADER_LEN + self.chain.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        Self::write_header(self.original_compressed_segment_size, w)?;
        w.bytes(self.chain)
    }
}

impl CompressionTransformChained<'_> {
    /// Writes the 8-byte chained header; the caller follows it with [`CompressionPayload`]s, the
    /// first with Flags CHAINED.
    pub fn write_header(original_compressed_segment_size: u32, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&COMPRESSION_PROTOCOL_ID)?;
        w.u32(original_compressed_segment_size)
    }
}

/// MS-SMB2 2.2.42.2.1 SMB2_COMPRESSION_CHAINED_PAYLOAD_HEADER with its payload.
///
/// `original_payload_size` is present exactly when
/// [`CompressionAlgorithm::has_original_payload_size`]; encoding refuses a mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompressionPayload<'a> {
    pub algorithm: CompressionAlgorithm,
    /// [`compression_flags`]: CHAINED on the first payload, NONE after.
    pub flags: u16,
    pub original_payload_size: Option<u32>,
    /// The payload after the header (and after OriginalPayloadSize).
    pub data: &'a [u8],
}

impl<'a> CompressionPayload<'a> {
    /// CompressionAlgorithm + Flags + Length.
    pub const HEADER_LEN: usize = 8;

    pub fn read(r: &mut Reader<'a>) -> Result<Self> {
        let algorithm = CompressionAlgorithm(r.u16("CompressionPayloadHeader.CompressionAlgorithm")?);
        let flags = r.u16("CompressionPayloadHeader.Flags")?;
        let length = us(r.u32("CompressionPayloadHeader.Length")?);
        if length > r.remaining() {
            return Err(WireError::OutOfBounds {
                field: "CompressionPayloadHeader.Length",
                offset: r.pos(),
                len: length,
                msg_len: r.buf().len(),
            });
        }
        // Length counts OriginalPayloadSize when present.
        let (original_payload_size, data_len) = if algorithm.has_original_payload_size() {
            let Some(n) = length.checked_sub(4) else {
                return Err(WireError::BadValue {
                    field: "CompressionPayloadHeader.Length",
                    value: length as u64,
                });
            };
            (Some(r.u32("CompressionPayloadHeader.OriginalPayloadSize")?), n)
        } else {
            (None, length)
        };
        let data = r.bytes(data_len, "CompressionPayloadHeader.Length")?;
        Ok(Self { algorithm, flags, original_payload_size, data })
    }
}

impl Encode for CompressionPayload<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::HEADER_LEN + usize::from(self.algorithm.has_original_payload_size()) * 4 + self.data.len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let extra = match (self.algorithm.has_original_payload_size(), self.original_payload_size) {
            (true, Some(_)) => 4,
            (false, None) => 0,
            _ => {
                return Err(WireError::BadValue {
                    field: "CompressionPayloadHeader.OriginalPayloadSize",
                    value: self.algorithm.0.into(),
                })
            }
        };
        let length = self.data.len().saturating_add(extra);
        w.u16(self.algorithm.0)?;
        w.u16(self.flags)?;
        w.u32(narrow_u32(length, "CompressionPayloadHeader.Length")?)?;
        if let Some(n) = self.original_payload_size {
            w.u32(n)?;
        }
        w.bytes(self.data)
    }
}

/// Lazy iterator over a chain's payloads; borrows, never allocates. Each step consumes at least a
/// payload header, so the work is bounded by the message length.
#[derive(Debug, Clone)]
pub struct ChainedPayloads<'a> {
    chain: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for ChainedPayloads<'a> {
    type Item = Result<CompressionPayload<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.chain.len() {
            return None;
        }
        let item = Reader::at(self.chain, self.pos).and_then(|mut r| {
            let p = CompressionPayload::read(&mut r)?;
            self.pos = r.pos();
            Ok(p)
        });
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

impl core::iter::FusedIterator for ChainedPayloads<'_> {}

/// MS-SMB2 2.2.42.2.2 SMB2_COMPRESSION_PATTERN_PAYLOAD_V1: the data of a Pattern_V1 payload, one
/// byte repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatternV1 {
    pub pattern: u8,
    pub repetitions: u32,
}

impl PatternV1 {
    pub const LEN: usize = 8;

    /// Parses a Pattern_V1 payload's data, which is exactly 8 bytes.
    pub fn parse(data: &[u8]) -> Result<Self> {
        if data.len() != Self::LEN {
            return Err(WireError::BadValue { field: "PatternV1.Length", value: data.len() as u64 });
        }
        let mut r = Reader::new(data);
        let pattern = r.u8("PatternV1.Pattern")?;
        r.skip(3, "PatternV1.Reserved")?;
        Ok(Self { pattern, repetitions: r.u32("PatternV1.Repetitions")? })
    }
}

impl Encode for PatternV1 {
    fn encoded_len_at(&self, _at: usize) -> usize {
        Self::LEN
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.pattern)?;
        w.zeros(3)?;
        w.u32(self.repetitions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chained(size: u32, payloads: &[CompressionPayload<'_>]) -> Vec<u8> {
        let len = CHAINED_HEADER_LEN + payloads.iter().map(|p| p.encoded_len()).sum::<usize>();
        let mut v = vec![0u8; len];
        let mut w = Writer::new(&mut v);
        CompressionTransformChained::write_header(size, &mut w).unwrap();
        for p in payloads {
            p.encode(&mut w).unwrap();
        }
        assert_eq!(w.pos(), len);
        v
    }

    #[test]
    fn unchained_layout() {
        let u = CompressionTransformUnchained {
            original_compressed_segment_size: 0x1000,
            algorithm: CompressionAlgorithm::LZ4,
            uncompressed: b"HDR!",
            compressed: b"zz",
        };
        let b = u.to_vec();
        assert_eq!(hex::encode(&b), "fc534d42001000000500000004000000484452217a7a");
        assert_eq!(CompressionTransform::parse(&b).unwrap(), CompressionTransform::Unchained(u));
        assert_eq!(CompressionTransform::parse(&b).unwrap().original_size(), 0x1004);
    }

    #[test]
    fn chained_layout_and_iteration() {
        let pat = PatternV1 { pattern: 0xAB, repetitions: 4096 }.to_vec();
        let ps = [
            CompressionPayload {
                algorithm: CompressionAlgorithm::NONE,
                flags: compression_flags::CHAINED,
                original_payload_size: None,
                data: b"SMB2 header+body",
            },
            CompressionPayload {
                algorithm: CompressionAlgorithm::LZ77,
                flags: compression_flags::NONE,
                original_payload_size: Some(100),
                data: b"lz",
            },
            CompressionPayload {
                algorithm: CompressionAlgorithm::PATTERN_V1,
                flags: compression_flags::NONE,
                original_payload_size: None,
                data: &pat,
            },
        ];
        let b = chained(4212, &ps);
        // The LZ77 payload header: Length 6 = OriginalPayloadSize + 2 bytes.
        assert_eq!(&b[32..44], &[2, 0, 0, 0, 6, 0, 0, 0, 100, 0, 0, 0]);
        let CompressionTransform::Chained(c) = CompressionTransform::parse(&b).unwrap() else {
            panic!("chained");
        };
        assert_eq!(c.original_compressed_segment_size, 4212);
        assert_eq!(c.payloads().collect::<Result<Vec<_>>>().unwrap(), ps.to_vec());
        assert_eq!(PatternV1::parse(ps[2].data).unwrap(), PatternV1 { pattern: 0xAB, repetitions: 4096 });
        assert_eq!(c.to_vec(), b);
    }

    #[test]
    fn bad_headers_are_refused() {
        let u = CompressionTransformUnchained { uncompressed: b"abc", ..Default::default() };
        let mut b = u.to_vec();
        b[0] = 0xFD;
        assert!(matches!(
            CompressionTransform::parse(&b),
            Err(WireError::BadValue { field: "CompressionTransformHeader.ProtocolId", .. })
        ));
        b[0] = 0xFC;
        b[10] = 2;
        assert_eq!(
            CompressionTransform::parse(&b),
            Err(WireError::BadValue { field: "CompressionTransformHeader.Flags", value: 2 })
        );
        b[10] = 0;
        b[12] = 4; // Offset past the end
        assert!(matches!(
            CompressionTransform::parse(&b),
            Err(WireError::OutOfBounds { field: "CompressionTransformHeader.Offset", len: 4, .. })
        ));
        b[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            CompressionTransform::parse(&b),
            Err(WireError::OutOfBounds { field: "CompressionTransformHeader.Offset", .. })
        ));
        assert!(matches!(
            CompressionTransform::parse(&b[..11]),
            Err(WireError::Truncated { field: "CompressionTransformHeader.Flags", .. })
        ));
        // Calling the chained parser on an unchained message.
        let b = u.to_vec();
        assert!(matches!(
            CompressionTransformChained::parse(&b),
            Err(WireError::BadValue { field: "CompressionTransformHeader.Flags", value: 0 })
        ));
    }

    #[test]
    fn bad_payload_lengths_are_refused() {
        let p = CompressionPayload {
            algorithm: CompressionAlgorithm::LZNT1,
            flags: compression_flags::CHAINED,
            original_payload_size: Some(9),
            data: b"abcd",
        };
        let mut b = chained(9, &[p]);
        b[12] = 9; // Length 8 -> 9
        let c = CompressionTransformChained::parse(&b).unwrap();
        let mut it = c.payloads();
        assert!(matches!(
            it.next(),
            Some(Err(WireError::OutOfBounds { field: "CompressionPayloadHeader.Length", len: 9, .. }))
        ));
        assert!(it.next().is_none(), "fused after an error");
        b[12] = 3; // shorter than OriginalPayloadSize
        let c = CompressionTransformChained::parse(&b).unwrap();
        assert_eq!(
            c.payloads().next(),
            Some(Err(WireError::BadValue { field: "CompressionPayloadHeader.Length", value: 3 }))
        );
        // A trailing partial payload header.
        let mut b = chained(9, &[p]);
        b.extend_from_slice(&[0, 0, 0]);
        let c = CompressionTransformChained::parse(&b).unwrap();
        let items: Vec<_> = c.payloads().collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(
            items[1],
            Err(WireError::Truncated { field: "CompressionPayloadHeader.Flags", .. })
        ));
    }

    #[test]
    fn inconsistent_original_payload_size_is_refused_on_encode() {
        let p = CompressionPayload { algorithm: CompressionAlgorithm::LZ4, ..Default::default() };
        let mut buf = [0u8; 16];
        assert!(matches!(
            p.encode(&mut Writer::new(&mut buf)),
            Err(WireError::BadValue { field: "CompressionPayloadHeader.OriginalPayloadSize", .. })
        ));
        let p = CompressionPayload { original_payload_size: Some(1), ..Default::default() };
        assert!(p.encode(&mut Writer::new(&mut buf)).is_err());
    }

    #[test]
    fn pattern_v1_needs_eight_bytes() {
        assert_eq!(
            PatternV1::parse(&[0; 7]),
            Err(WireError::BadValue { field: "PatternV1.Length", value: 7 })
        );
        assert_eq!(
            PatternV1::parse(&[1, 9, 9, 9, 2, 0, 0, 0]).unwrap(),
            PatternV1 { pattern: 1, repetitions: 2 }
        );
    }

    fn payload_strategy() -> impl Strategy<Value = (u16, u16, u32, Vec<u8>)> {
        (0u16..8, any::<u16>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..40))
    }

    proptest! {
        #[test]
        fn unchained_round_trips(
            size in any::<u32>(), alg in any::<u16>(),
            un in proptest::collection::vec(any::<u8>(), 0..40), co in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let u = CompressionTransformUnchained {
                original_compressed_segment_size: size, algorithm: CompressionAlgorithm(alg), uncompressed: &un, compressed: &co,
            };
            let t = CompressionTransform::Unchained(u);
            let b = t.to_vec();
            prop_assert_eq!(b.len(), t.encoded_len());
            prop_assert_eq!(CompressionTransform::parse(&b).unwrap(), t);
            for n in 0..b.len() {
                let _ = CompressionTransform::parse(&b[..n]);
            }
        }

        #[test]
        fn chained_round_trips(size in any::<u32>(), raw in proptest::collection::vec(payload_strategy(), 1..6)) {
            let ps: Vec<_> = raw
                .iter()
                .enumerate()
                .map(|(i, (alg, flags, ops, d))| {
                    let algorithm = CompressionAlgorithm(*alg);
                    CompressionPayload {
                        algorithm,
                        flags: if i == 0 { compression_flags::CHAINED } else { *flags },
                        original_payload_size: algorithm.has_original_payload_size().then_some(*ops),
                        data: d,
                    }
                })
                .collect();
            let b = chained(size, &ps);
            let t = CompressionTransform::parse(&b).unwrap();
            prop_assert_eq!(t.to_vec(), b.clone());
            let CompressionTransform::Chained(c) = t else { panic!("chained") };
            prop_assert_eq!(c.payloads().collect::<Result<Vec<_>>>().unwrap(), ps);
            for n in 0..b.len() {
                if let Ok(CompressionTransform::Chained(c)) = CompressionTransform::parse(&b[..n]) {
                    let _ = c.payloads().count();
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..96), chained in any::<bool>()) {
            if b.len() >= 12 {
                b[..4].copy_from_slice(&COMPRESSION_PROTOCOL_ID);
                b[10] = u8::from(chained);
                b[11] = 0;
            }
            match CompressionTransform::parse(&b) {
                Ok(CompressionTransform::Chained(c)) => {
                    prop_assert!(c.payloads().count() <= b.len() / CompressionPayload::HEADER_LEN);
                }
                Ok(CompressionTransform::Unchained(u)) => {
                    prop_assert_eq!(UNCHAINED_HEADER_LEN + u.uncompressed.len() + u.compressed.len(), b.len());
                }
                Err(_) => {}
            }
            let _ = PatternV1::parse(&b);
        }
    }
}
