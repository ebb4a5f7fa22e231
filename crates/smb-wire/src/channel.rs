//! MS-SMB2 2.2.19/2.2.21 READ/WRITE `Channel` values and the channel info they select: MS-SMBD
//! 2.2.3.1 buffer descriptor arrays, MS-SMB2 2.2.43 SMB2_RDMA_TRANSFORM and 2.2.43.1
//! SMB2_RDMA_CRYPTO_TRANSFORM.
//!
//! Layout of the RDMA transform: the spec diagram of 2.2.43.1 is ambiguous (a "Reserved1" label beside
//! Signature), and Microsoft's own test suites (WindowsProtocolTestSuites, `Smb2Crypto.cs`) place Nonce
//! right after Signature, padded to 8 bytes (docs/SMBDIRECT.md).

use crate::codec::{cap, padding, slice_at, Encode, Reader, Writer};
use crate::error::{Result, WireError};
use crate::smbd::BufferDescriptorList;
use crate::types::{narrow_u16, us};

/// MS-SMB2 2.2.19 Channel (READ and WRITE requests). A newtype: peers may send values we do not know,
/// and the protocol layer, not the codec, answers those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Channel(pub u32);

impl Channel {
    pub const NONE: Channel = Channel(0);
    /// SMB 3.0+: the client invalidates its registration itself.
    pub const RDMA_V1: Channel = Channel(1);
    /// SMB 3.0.2+: the server answers with SEND_WITH_INVALIDATE of the first descriptor's token.
    pub const RDMA_V1_INVALIDATE: Channel = Channel(2);
    /// SMB 3.1.1 with RDMA transforms negotiated: channel info is an SMB2_RDMA_TRANSFORM.
    pub const RDMA_TRANSFORM: Channel = Channel(3);

    /// RDMA_V1 or RDMA_V1_INVALIDATE: channel info is a plain descriptor array.
    pub fn is_rdma_v1(self) -> bool {
        self == Self::RDMA_V1 || self == Self::RDMA_V1_INVALIDATE
    }
}

/// MS-SMB2 2.2.43.1 TransformType.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CryptoTransformType(pub u16);

impl CryptoTransformType {
    pub const ENCRYPTION: CryptoTransformType = CryptoTransformType(0x0001);
    pub const SIGNING: CryptoTransformType = CryptoTransformType(0x0002);
}

/// MS-SMB2 2.2.43.1 SMB2_RDMA_CRYPTO_TRANSFORM: the tag (or MAC) and nonce protecting the RDMA-placed
/// bytes. Signature is immediately followed by Nonce; the whole entry is padded to 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CryptoTransform<'a> {
    pub transform_type: CryptoTransformType,
    pub signature: &'a [u8],
    pub nonce: &'a [u8],
}

impl<'a> CryptoTransform<'a> {
    pub const FIXED_LEN: usize = 8;
    /// AES tags and MACs are 16 bytes; nothing longer is meaningful.
    pub const MAX_SIGNATURE_LEN: usize = 16;
    /// CCM uses 11, GCM/GMAC 12; 16 leaves room without letting a peer describe a large blob.
    pub const MAX_NONCE_LEN: usize = 16;

    /// Wire size of a transform with these lengths, padding included (40 for a 16-byte tag and a
    /// 12- or 11-byte nonce, 24 for CMAC).
    pub const fn wire_len(signature_len: usize, nonce_len: usize) -> usize {
        let raw = Self::FIXED_LEN + signature_len + nonce_len;
        raw + padding(raw, 8)
    }

    /// Reads one transform at the reader's position, padding included.
    pub fn read(r: &mut Reader<'a>) -> Result<Self> {
        let transform_type = CryptoTransformType(r.u16("CryptoTransform.TransformType")?);
        let sl = cap(
            us(r.u16("CryptoTransform.SignatureLength")?),
            Self::MAX_SIGNATURE_LEN,
            "CryptoTransform.SignatureLength",
        )?;
        let nl = cap(
            us(r.u16("CryptoTransform.NonceLength")?),
            Self::MAX_NONCE_LEN,
            "CryptoTransform.NonceLength",
        )?;
        r.skip(2, "CryptoTransform.Reserved")?;
        let signature = r.bytes(sl, "CryptoTransform.Signature")?;
        let nonce = r.bytes(nl, "CryptoTransform.Nonce")?;
        // Padding counted from the transform's own start, so a transform list need not sit at an
        // 8-aligned position of the enclosing buffer for the sizes to match.
        r.skip(Self::wire_len(sl, nl) - Self::FIXED_LEN - sl - nl, "CryptoTransform.Padding")?;
        Ok(Self { transform_type, signature, nonce })
    }

    pub fn encoded_len(&self) -> usize {
        Self::wire_len(self.signature.len(), self.nonce.len())
    }

    /// Writes the transform; refuses lengths the parser would refuse.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        let sl = cap(self.signature.len(), Self::MAX_SIGNATURE_LEN, "CryptoTransform.SignatureLength")?;
        let nl = cap(self.nonce.len(), Self::MAX_NONCE_LEN, "CryptoTransform.NonceLength")?;
        w.u16(self.transform_type.0)?;
        w.u16(sl as u16)?;
        w.u16(nl as u16)?;
        w.u16(0)?;
        w.bytes(self.signature)?;
        w.bytes(self.nonce)?;
        w.zeros(self.encoded_len() - Self::FIXED_LEN - sl - nl)
    }
}

/// MS-SMB2 2.2.43 the TransformCount SMB2_RDMA_CRYPTO_TRANSFORMs of an RDMA transform: either borrowed
/// from a parsed message (validated once, decoded lazily) or a caller's slice to encode. Equality compares the transforms,
/// not the representation.
#[derive(Clone, Copy)]
pub struct CryptoTransforms<'a>(CtRepr<'a>);

#[derive(Clone, Copy)]
enum CtRepr<'a> {
    Wire { bytes: &'a [u8], count: usize },
    List(&'a [CryptoTransform<'a>]),
}

impl<'a> CryptoTransforms<'a> {
    pub const EMPTY: CryptoTransforms<'static> = CryptoTransforms(CtRepr::List(&[]));

    pub fn from_slice(list: &'a [CryptoTransform<'a>]) -> Self {
        Self(CtRepr::List(list))
    }

    /// Reads `count` transforms at the reader's position.
    fn read(r: &mut Reader<'a>, count: usize) -> Result<Self> {
        let start = r.pos();
        for _ in 0..count {
            CryptoTransform::read(r)?;
        }
        let bytes = slice_at(r.buf(), start, r.pos() - start, "RdmaTransform.Transforms")?;
        Ok(Self(CtRepr::Wire { bytes, count }))
    }

    pub fn len(&self) -> usize {
        match self.0 {
            CtRepr::Wire { count, .. } => count,
            CtRepr::List(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = CryptoTransform<'a>> + 'a {
        let (mut wire, mut list, count) = match self.0 {
            CtRepr::Wire { bytes, count } => (Some(Reader::new(bytes)), [].iter(), count),
            CtRepr::List(l) => (None, l.iter(), l.len()),
        };
        (0..count).map_while(move |_| match wire.as_mut() {
            // Validated at parse time; a failure here would only end the iteration early.
            Some(r) => CryptoTransform::read(r).ok(),
            None => list.next().copied(),
        })
    }

    /// Bytes of all transforms, padding included (always a multiple of 8).
    pub fn encoded_len(&self) -> usize {
        self.iter().map(|t| t.encoded_len()).sum()
    }

    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        self.iter().try_for_each(|t| t.write(w))
    }
}

impl PartialEq for CryptoTransforms<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for CryptoTransforms<'_> {}

impl Default for CryptoTransforms<'_> {
    fn default() -> Self {
        Self(CtRepr::List(&[]))
    }
}

impl core::fmt::Debug for CryptoTransforms<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// MS-SMB2 2.2.43 SMB2_RDMA_TRANSFORM: channel info of a READ/WRITE with Channel RDMA_TRANSFORM.
///
/// Offsets inside count from the start of this structure, not from the SMB2 header; `parse` takes the
/// channel-info bytes alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RdmaTransform<'a> {
    /// The inner channel: NONE (no descriptors), RDMA_V1 or RDMA_V1_INVALIDATE.
    pub channel: Channel,
    pub transforms: CryptoTransforms<'a>,
    /// Empty when `channel` is NONE.
    pub descriptors: BufferDescriptorList<'a>,
}

impl<'a> RdmaTransform<'a> {
    pub const FIXED_LEN: usize = 16;
    /// Real messages carry one (encryption or signing); the cap bounds the parse work.
    pub const MAX_TRANSFORMS: usize = 8;

    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let desc_off = us(r.u16("RdmaTransform.RdmaDescriptorOffset")?);
        let desc_len = us(r.u16("RdmaTransform.RdmaDescriptorLength")?);
        let channel = Channel(r.u32("RdmaTransform.Channel")?);
        let count = cap(
            us(r.u16("RdmaTransform.TransformCount")?),
            Self::MAX_TRANSFORMS,
            "RdmaTransform.TransformCount",
        )?;
        r.skip(2, "RdmaTransform.Reserved1")?;
        r.skip(4, "RdmaTransform.Reserved2")?;
        let transforms = CryptoTransforms::read(&mut r, count)?;
        let descriptors = if channel == Channel::NONE || desc_len == 0 {
            if channel != Channel::NONE && !channel.is_rdma_v1() {
                return Err(WireError::BadValue { field: "RdmaTransform.Channel", value: channel.0.into() });
            }
            BufferDescriptorList::default()
        } else if channel.is_rdma_v1() {
            if !desc_off.is_multiple_of(8) {
                return Err(WireError::Misaligned {
                    field: "RdmaTransform.RdmaDescriptorOffset",
                    offset: desc_off,
                    align: 8,
                });
            }
            if desc_off < r.pos() {
                // Descriptors overlapping the fixed part or the crypto transforms.
                return Err(WireError::BadValue {
                    field: "RdmaTransform.RdmaDescriptorOffset",
                    value: desc_off as u64,
                });
            }
            BufferDescriptorList::parse(slice_at(
                bytes,
                desc_off,
                desc_len,
                "RdmaTransform.RdmaDescriptors",
            )?)?
        } else {
            return Err(WireError::BadValue { field: "RdmaTransform.Channel", value: channel.0.into() });
        };
        Ok(Self { channel, transforms, descriptors })
    }

    /// Offset of the descriptors from the start of the structure when encoded.
    fn descriptor_offset(&self) -> usize {
        Self::FIXED_LEN + self.transforms.encoded_len()
    }
}

impl Encode for RdmaTransform<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        self.descriptor_offset() + self.descriptors.as_bytes().len()
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        let descs = self.descriptors.as_bytes();
        if !(self.channel == Channel::NONE || self.channel.is_rdma_v1()) {
            return Err(WireError::BadValue { field: "RdmaTransform.Channel", value: self.channel.0.into() });
        }
        if self.channel == Channel::NONE && !descs.is_empty() {
            return Err(WireError::BadValue {
                field: "RdmaTransform.RdmaDescriptorLength",
                value: descs.len() as u64,
            });
        }
        let count = cap(self.transforms.len(), Self::MAX_TRANSFORMS, "RdmaTransform.TransformCount")?;
        let off = if descs.is_empty() { 0 } else { self.descriptor_offset() };
        w.u16(narrow_u16(off, "RdmaTransform.RdmaDescriptorOffset")?)?;
        w.u16(narrow_u16(descs.len(), "RdmaTransform.RdmaDescriptorLength")?)?;
        w.u32(self.channel.0)?;
        w.u16(count as u16)?;
        w.u16(0)?;
        w.u32(0)?;
        // Each transform is a multiple of 8 long, so the descriptors that follow are 8-aligned.
        self.transforms.write(w)?;
        w.bytes(descs)
    }
}

/// MS-SMB2 2.2.19/2.2.21 the channel info of a READ or WRITE request, decoded by its Channel field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelInfo<'a> {
    /// Channel NONE: any channel-info bytes are ignored.
    None,
    /// RDMA_V1 or RDMA_V1_INVALIDATE: an array of buffer descriptors.
    Rdma(BufferDescriptorList<'a>),
    /// RDMA_TRANSFORM.
    RdmaTransform(RdmaTransform<'a>),
}

impl<'a> ChannelInfo<'a> {
    /// Decodes `bytes` (the ReadChannelInfo/WriteChannelInfo slice) for `channel`; an unknown channel
    /// is [`WireError::BadValue`] on `ChannelInfo.Channel`.
    pub fn parse(channel: Channel, bytes: &'a [u8]) -> Result<Self> {
        match channel {
            Channel::NONE => Ok(Self::None),
            Channel::RDMA_V1 | Channel::RDMA_V1_INVALIDATE => {
                Ok(Self::Rdma(BufferDescriptorList::parse(bytes)?))
            }
            Channel::RDMA_TRANSFORM => Ok(Self::RdmaTransform(RdmaTransform::parse(bytes)?)),
            Channel(v) => Err(WireError::BadValue { field: "ChannelInfo.Channel", value: v.into() }),
        }
    }
}

impl Encode for ChannelInfo<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        match self {
            Self::None => 0,
            Self::Rdma(l) => l.as_bytes().len(),
            Self::RdmaTransform(t) => t.encoded_len_at(at),
        }
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Self::None => Ok(()),
            Self::Rdma(l) => w.bytes(l.as_bytes()),
            Self::RdmaTransform(t) => t.encode(w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smbd::BufferDescriptorV1;
    use proptest::prelude::*;

    fn desc_bytes(descs: &[BufferDescriptorV1]) -> Vec<u8> {
        let mut v = vec![0u8; descs.len() * BufferDescriptorV1::LEN];
        BufferDescriptorList::encode(descs, &mut Writer::new(&mut v)).unwrap();
        v
    }

    fn arb_descs() -> impl Strategy<Value = Vec<BufferDescriptorV1>> {
        proptest::collection::vec(
            (any::<u64>(), any::<u32>(), any::<u32>())
                .prop_map(|(offset, token, length)| BufferDescriptorV1 { offset, token, length }),
            0..5,
        )
    }

    type RawTransform = (u16, Vec<u8>, Vec<u8>);

    fn arb_transforms() -> impl Strategy<Value = Vec<RawTransform>> {
        proptest::collection::vec(
            (
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 0..=16),
                proptest::collection::vec(any::<u8>(), 0..=16),
            ),
            0..=RdmaTransform::MAX_TRANSFORMS,
        )
    }

    fn to_transforms(raw: &[RawTransform]) -> Vec<CryptoTransform<'_>> {
        raw.iter()
            .map(|(t, s, n)| CryptoTransform {
                transform_type: CryptoTransformType(*t),
                signature: s,
                nonce: n,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn rdma_transform_round_trips(
            inner in 0u32..3,
            raw in arb_transforms(),
            descs in arb_descs(),
        ) {
            let channel = Channel(inner);
            let descs = if channel == Channel::NONE { vec![] } else { descs };
            let db = desc_bytes(&descs);
            let list = to_transforms(&raw);
            let t = RdmaTransform {
                channel,
                transforms: CryptoTransforms::from_slice(&list),
                descriptors: BufferDescriptorList::parse(&db).unwrap(),
            };
            let bytes = t.to_vec();
            prop_assert_eq!(bytes.len(), t.encoded_len());
            let back = RdmaTransform::parse(&bytes).unwrap();
            prop_assert_eq!(back, t);
            prop_assert_eq!(back.transforms.iter().collect::<Vec<_>>(), list.clone());
            prop_assert_eq!(back.descriptors.iter().collect::<Vec<_>>(), descs);
            // Re-encoding the parsed (wire) form gives the same bytes.
            prop_assert_eq!(back.to_vec(), bytes.clone());
            for n in 0..bytes.len() {
                let _ = RdmaTransform::parse(&bytes[..n]);
            }
            let ci = ChannelInfo::parse(Channel::RDMA_TRANSFORM, &bytes).unwrap();
            prop_assert_eq!(ci, ChannelInfo::RdmaTransform(t));
            prop_assert_eq!(ci.to_vec(), bytes);
        }

        #[test]
        fn channel_info_round_trips(ch in 0u32..3, descs in arb_descs()) {
            let db = desc_bytes(&descs);
            let channel = Channel(ch);
            let ci = ChannelInfo::parse(channel, &db).unwrap();
            match channel {
                Channel::NONE => prop_assert_eq!(ci, ChannelInfo::None),
                _ => {
                    prop_assert_eq!(ci, ChannelInfo::Rdma(BufferDescriptorList::parse(&db).unwrap()));
                    prop_assert_eq!(ci.to_vec(), db);
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(ch in 0u32..6, bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(ChannelInfo::RdmaTransform(t)) = ChannelInfo::parse(Channel(ch), &bytes) {
                let _ = t.transforms.iter().count();
                let _ = t.descriptors.iter().count();
                let _ = t.to_vec();
            }
            let _ = RdmaTransform::parse(&bytes);
        }
    }

    /// 16-byte fixed part: (offset, length, channel, count).
    fn fixed(desc_off: u16, desc_len: u16, channel: u32, count: u16) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&desc_off.to_le_bytes());
        v.extend_from_slice(&desc_len.to_le_bytes());
        v.extend_from_slice(&channel.to_le_bytes());
        v.extend_from_slice(&count.to_le_bytes());
        v.extend_from_slice(&[0; 6]);
        v
    }

    #[test]
    fn encryption_transform_is_56_bytes_and_cmac_40() {
        // With that layout a READ response carrying the transform has DataLength 16+40 (encryption,
        // GMAC) or 16+24 (CMAC) (docs/SMBDIRECT.md).
        let tag = [0xAA; 16];
        let gcm = [0x11; 12];
        let enc = [CryptoTransform {
            transform_type: CryptoTransformType::ENCRYPTION,
            signature: &tag,
            nonce: &gcm,
        }];
        let t = RdmaTransform {
            channel: Channel::NONE,
            transforms: CryptoTransforms::from_slice(&enc),
            descriptors: BufferDescriptorList::default(),
        };
        let b = t.to_vec();
        assert_eq!(b.len(), 56);
        let mut want = fixed(0, 0, 0, 1);
        want.extend_from_slice(&[0x01, 0x00, 0x10, 0x00, 0x0C, 0x00, 0x00, 0x00]);
        want.extend_from_slice(&tag);
        want.extend_from_slice(&gcm);
        want.extend_from_slice(&[0; 4]);
        assert_eq!(hex::encode(&b), hex::encode(&want));

        let cmac =
            [CryptoTransform { transform_type: CryptoTransformType::SIGNING, signature: &tag, nonce: &[] }];
        let t = RdmaTransform { transforms: CryptoTransforms::from_slice(&cmac), ..t };
        assert_eq!(t.to_vec().len(), 40);
        assert_eq!(CryptoTransform::wire_len(16, 11), 40);
    }

    #[test]
    fn descriptors_follow_the_transforms_at_an_aligned_offset() {
        let tag = [1u8; 16];
        let ccm = [2u8; 11];
        let enc = [CryptoTransform {
            transform_type: CryptoTransformType::ENCRYPTION,
            signature: &tag,
            nonce: &ccm,
        }];
        let db = desc_bytes(&[BufferDescriptorV1 { offset: 0x1000, token: 7, length: 0x10_0000 }]);
        let t = RdmaTransform {
            channel: Channel::RDMA_V1_INVALIDATE,
            transforms: CryptoTransforms::from_slice(&enc),
            descriptors: BufferDescriptorList::parse(&db).unwrap(),
        };
        let b = t.to_vec();
        assert_eq!(&b[0..4], &[56, 0, 16, 0]);
        assert_eq!(&b[56..], &db[..]);
    }

    #[test]
    fn oversized_signature_and_nonce_are_refused() {
        let mut b = fixed(0, 0, 0, 1);
        b.extend_from_slice(&[0x01, 0x00, 17, 0x00, 0, 0, 0, 0]);
        b.extend_from_slice(&[0; 32]);
        assert_eq!(
            RdmaTransform::parse(&b),
            Err(WireError::TooLarge { field: "CryptoTransform.SignatureLength", value: 17, cap: 16 })
        );
        b[18] = 16;
        b[20] = 17;
        assert_eq!(
            RdmaTransform::parse(&b),
            Err(WireError::TooLarge { field: "CryptoTransform.NonceLength", value: 17, cap: 16 })
        );
        let long = [0u8; 17];
        let t =
            CryptoTransform { transform_type: CryptoTransformType::SIGNING, signature: &long, nonce: &[] };
        let mut out = [0u8; 64];
        assert!(matches!(
            t.write(&mut Writer::new(&mut out)),
            Err(WireError::TooLarge { field: "CryptoTransform.SignatureLength", .. })
        ));
    }

    #[test]
    fn transform_count_is_capped_and_checked_against_the_bytes() {
        let b = fixed(0, 0, 0, 9);
        assert_eq!(
            RdmaTransform::parse(&b),
            Err(WireError::TooLarge { field: "RdmaTransform.TransformCount", value: 9, cap: 8 })
        );
        let b = fixed(0, 0, 0, 2);
        assert!(matches!(
            RdmaTransform::parse(&b),
            Err(WireError::Truncated { field: "CryptoTransform.TransformType", .. })
        ));
        // A transform missing its padding.
        let mut b = fixed(0, 0, 0, 1);
        b.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, 0x0C, 0x00, 0x00, 0x00]);
        b.extend_from_slice(&[0; 28]);
        assert!(matches!(
            RdmaTransform::parse(&b),
            Err(WireError::Truncated { field: "CryptoTransform.Padding", .. })
        ));
    }

    #[test]
    fn descriptor_offset_checks() {
        let db = desc_bytes(&[BufferDescriptorV1 { offset: 1, token: 2, length: 3 }]);
        let mut b = fixed(20, 16, 1, 0);
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&db);
        assert_eq!(
            RdmaTransform::parse(&b),
            Err(WireError::Misaligned { field: "RdmaTransform.RdmaDescriptorOffset", offset: 20, align: 8 })
        );
        let mut b = fixed(8, 16, 1, 0);
        b.extend_from_slice(&db);
        assert_eq!(
            RdmaTransform::parse(&b),
            Err(WireError::BadValue { field: "RdmaTransform.RdmaDescriptorOffset", value: 8 })
        );
        let mut b = fixed(16, 32, 1, 0);
        b.extend_from_slice(&db);
        assert!(matches!(
            RdmaTransform::parse(&b),
            Err(WireError::OutOfBounds { field: "RdmaTransform.RdmaDescriptors", offset: 16, len: 32, .. })
        ));
        let mut b = fixed(16, 15, 2, 0);
        b.extend_from_slice(&db);
        assert!(matches!(
            RdmaTransform::parse(&b),
            Err(WireError::BadValue { field: "BufferDescriptorList.Length", value: 15 })
        ));
        // Inner NONE ignores whatever offset/length say.
        let b = fixed(0xFFF8, 0xFFFF, 0, 0);
        assert_eq!(RdmaTransform::parse(&b).unwrap().descriptors.len(), 0);
    }

    #[test]
    fn unknown_channels_are_reported() {
        assert_eq!(
            RdmaTransform::parse(&fixed(16, 16, 3, 0)),
            Err(WireError::BadValue { field: "RdmaTransform.Channel", value: 3 })
        );
        assert_eq!(
            RdmaTransform::parse(&fixed(0, 0, 9, 0)),
            Err(WireError::BadValue { field: "RdmaTransform.Channel", value: 9 })
        );
        assert_eq!(
            ChannelInfo::parse(Channel(4), &[]),
            Err(WireError::BadValue { field: "ChannelInfo.Channel", value: 4 })
        );
        assert_eq!(ChannelInfo::parse(Channel::NONE, &[1, 2, 3]), Ok(ChannelInfo::None));
        let db = desc_bytes(&[BufferDescriptorV1::default()]);
        let t = RdmaTransform {
            channel: Channel::NONE,
            transforms: CryptoTransforms::EMPTY,
            descriptors: BufferDescriptorList::parse(&db).unwrap(),
        };
        let mut out = [0u8; 64];
        assert!(matches!(
            t.encode(&mut Writer::new(&mut out)),
            Err(WireError::BadValue { field: "RdmaTransform.RdmaDescriptorLength", .. })
        ));
    }
}
