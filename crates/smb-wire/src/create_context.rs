//! MS-SMB2 2.2.13.2 SMB2_CREATE_CONTEXT chains, carried as opaque (name, data) pairs.
//!
//! The codec only frames them: what a DH2Q or RqLs context means is the protocol layer's business.

use crate::codec::{align_up, cap, slice_at, Reader, Writer};
use crate::error::{Result, WireError};
use crate::types::{narrow_u16, narrow_u32, us};

/// Well-known create context names (MS-SMB2 2.2.13.2, 2.2.14.2), as they appear on the wire.
pub mod context_name {
    pub const EA_BUFFER: &[u8] = b"ExtA";
    pub const SD_BUFFER: &[u8] = b"SecD";
    pub const DURABLE_HANDLE_REQUEST: &[u8] = b"DHnQ";
    /// Also the name of the durable handle response.
    pub const DURABLE_HANDLE_RESPONSE: &[u8] = b"DHnQ";
    pub const DURABLE_HANDLE_RECONNECT: &[u8] = b"DHnC";
    pub const ALLOCATION_SIZE: &[u8] = b"AlSi";
    pub const QUERY_MAXIMAL_ACCESS: &[u8] = b"MxAc";
    pub const TIMEWARP_TOKEN: &[u8] = b"TWrp";
    pub const QUERY_ON_DISK_ID: &[u8] = b"QFid";
    /// Lease V1 and V2 requests and responses share the name; the data length tells them apart.
    pub const REQUEST_LEASE: &[u8] = b"RqLs";
    pub const DURABLE_HANDLE_REQUEST_V2: &[u8] = b"DH2Q";
    pub const DURABLE_HANDLE_RECONNECT_V2: &[u8] = b"DH2C";
    pub const APP_INSTANCE_ID: &[u8] =
        &[0x45, 0xBC, 0xA6, 0x6A, 0xEF, 0xA7, 0xF7, 0x4A, 0x90, 0x08, 0xFA, 0x46, 0x2E, 0x14, 0x4D, 0x74];
    pub const APP_INSTANCE_VERSION: &[u8] =
        &[0xB9, 0x82, 0xD0, 0xB7, 0x3B, 0x56, 0x07, 0x4F, 0xA0, 0x7B, 0x52, 0x4A, 0x81, 0x16, 0xA0, 0x10];
    pub const SVHDX_OPEN_DEVICE_CONTEXT: &[u8] =
        &[0x9C, 0xCB, 0xCF, 0x9E, 0x04, 0xC1, 0xE6, 0x43, 0x98, 0x0E, 0x15, 0x8D, 0xA1, 0xF6, 0xEC, 0x83];
    /// SMB3 POSIX extensions (not MS-SMB2; Samba and Linux).
    pub const POSIX: &[u8] =
        &[0x93, 0xAD, 0x25, 0x50, 0x9C, 0xB4, 0x11, 0xE7, 0xB4, 0x23, 0x83, 0xDE, 0x96, 0x8B, 0xCD, 0x7C];
    /// Apple's macOS extensions.
    pub const AAPL: &[u8] = b"AAPL";
}

/// MS-SMB2 2.2.13.2 SMB2_CREATE_CONTEXT: one name/data pair, both borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CreateContext<'a> {
    pub name: &'a [u8],
    pub data: &'a [u8],
}

impl<'a> CreateContext<'a> {
    /// Next, NameOffset, NameLength, Reserved, DataOffset, DataLength.
    pub const HEADER_LEN: usize = 16;

    /// Where the data starts, counted from the context start, in the canonical layout.
    fn data_offset(&self) -> usize {
        align_up(Self::HEADER_LEN + self.name.len(), 8)
    }

    /// Unpadded length of the context in the canonical layout.
    fn unpadded_len(&self) -> usize {
        if self.data.is_empty() {
            Self::HEADER_LEN + self.name.len()
        } else {
            self.data_offset() + self.data.len()
        }
    }

    /// Decodes the context at `pos` of `list`, returning it and its Next field.
    fn at(list: &'a [u8], pos: usize) -> Result<(Self, usize)> {
        let mut r = Reader::at(list, pos)?;
        let next = us(r.u32("CreateContext.Next")?);
        let name_off = us(r.u16("CreateContext.NameOffset")?);
        let name_len = us(r.u16("CreateContext.NameLength")?);
        r.skip(2, "CreateContext.Reserved")?;
        let data_off = us(r.u16("CreateContext.DataOffset")?);
        let data_len = us(r.u32("CreateContext.DataLength")?);
        let remaining = list.len() - pos;
        let extent = if next == 0 {
            remaining
        } else {
            if !next.is_multiple_of(8) {
                return Err(WireError::Misaligned { field: "CreateContext.Next", offset: next, align: 8 });
            }
            if next < Self::HEADER_LEN {
                return Err(WireError::BadValue { field: "CreateContext.Next", value: next as u64 });
            }
            if next > remaining {
                return Err(WireError::OutOfBounds {
                    field: "CreateContext.Next",
                    offset: pos,
                    len: next,
                    msg_len: list.len(),
                });
            }
            next
        };
        // Name and data must lie after this context's header and before the next context.
        let ctx = slice_at(list, pos, extent, "CreateContext")?;
        if name_len != 0 && name_off < Self::HEADER_LEN {
            return Err(WireError::BadValue { field: "CreateContext.NameOffset", value: name_off as u64 });
        }
        let name =
            if name_len == 0 { &[][..] } else { slice_at(ctx, name_off, name_len, "CreateContext.Name")? };
        if data_len != 0 && data_off < Self::HEADER_LEN {
            return Err(WireError::BadValue { field: "CreateContext.DataOffset", value: data_off as u64 });
        }
        let data =
            if data_len == 0 { &[][..] } else { slice_at(ctx, data_off, data_len, "CreateContext.Data")? };
        Ok((Self { name, data }, next))
    }

    /// Writes this context with the given Next value; the caller pads to the next context.
    fn write(&self, next: usize, w: &mut Writer<'_>) -> Result<()> {
        w.u32(narrow_u32(next, "CreateContext.Next")?)?;
        w.u16(Self::HEADER_LEN as u16)?;
        w.u16(narrow_u16(self.name.len(), "CreateContext.NameLength")?)?;
        w.u16(0)?;
        let data_off = if self.data.is_empty() { 0 } else { self.data_offset() };
        w.u16(narrow_u16(data_off, "CreateContext.DataOffset")?)?;
        w.u32(narrow_u32(self.data.len(), "CreateContext.DataLength")?)?;
        w.bytes(self.name)?;
        if !self.data.is_empty() {
            w.zeros(self.data_offset() - Self::HEADER_LEN - self.name.len())?;
            w.bytes(self.data)?;
        }
        Ok(())
    }
}

/// MS-SMB2 2.2.13.2 a chain of SMB2_CREATE_CONTEXTs: borrowed from a parsed message (validated once by
/// [`CreateContexts::parse`], decoded lazily by [`CreateContexts::iter`]) or a caller's slice to
/// encode. Equality compares the contexts in order, not the representation.
#[derive(Clone, Copy)]
pub struct CreateContexts<'a>(Repr<'a>);

#[derive(Clone, Copy)]
enum Repr<'a> {
    Wire { bytes: &'a [u8], count: usize },
    List(&'a [CreateContext<'a>]),
}

impl<'a> CreateContexts<'a> {
    /// More contexts than any client sends on one CREATE (Windows sends at most a handful).
    pub const MAX_CONTEXTS: usize = 64;

    pub const EMPTY: CreateContexts<'static> = CreateContexts(Repr::List(&[]));

    pub fn from_slice(list: &'a [CreateContext<'a>]) -> Self {
        Self(Repr::List(list))
    }

    /// Validates the chain in `bytes` (the CreateContextsOffset/Length slice): every Next 8-aligned,
    /// moving forward and inside the list; every name and data inside its context; at most
    /// [`Self::MAX_CONTEXTS`]. Empty `bytes` is an empty chain.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut count = 0;
        if !bytes.is_empty() {
            let mut pos = 0;
            loop {
                count += 1;
                cap(count, Self::MAX_CONTEXTS, "CreateContexts.Count")?;
                let (_, next) = CreateContext::at(bytes, pos)?;
                if next == 0 {
                    break;
                }
                // `at` checked 16 <= next <= remaining: the walk moves forward and stays inside.
                pos += next;
            }
        }
        Ok(Self(Repr::Wire { bytes, count }))
    }

    pub fn len(&self) -> usize {
        match self.0 {
            Repr::Wire { count, .. } => count,
            Repr::List(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = CreateContext<'a>> + 'a {
        let (wire, mut list, count) = match self.0 {
            Repr::Wire { bytes, count } => (bytes, [].iter(), count),
            Repr::List(l) => (&[][..], l.iter(), l.len()),
        };
        let is_wire = matches!(self.0, Repr::Wire { .. });
        let mut pos = 0usize;
        (0..count).map_while(move |_| {
            if !is_wire {
                return list.next().copied();
            }
            // Validated by `parse`; an error here would only end the iteration early.
            let (c, next) = CreateContext::at(wire, pos).ok()?;
            pos = pos.checked_add(next)?;
            Some(c)
        })
    }

    /// The first context called `name`.
    pub fn find(&self, name: &[u8]) -> Option<CreateContext<'a>> {
        self.iter().find(|c| c.name == name)
    }

    /// Bytes [`Self::write`] produces: each context starts 8-aligned relative to the first; the last
    /// is not padded.
    pub fn encoded_len(&self) -> usize {
        let mut len = 0;
        for (i, c) in self.iter().enumerate() {
            if i > 0 {
                len = align_up(len, 8);
            }
            len += c.unpadded_len();
        }
        len
    }

    /// Lays the chain out at the writer's position. Alignment is counted from the chain's first byte,
    /// which callers place 8-aligned from the SMB2 header.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        let count = cap(self.len(), Self::MAX_CONTEXTS, "CreateContexts.Count")?;
        for (i, c) in self.iter().enumerate() {
            let len = c.unpadded_len();
            let next = if i + 1 == count { 0 } else { align_up(len, 8) };
            c.write(next, w)?;
            if next != 0 {
                w.zeros(next - len)?;
            }
        }
        Ok(())
    }
}

impl PartialEq for CreateContexts<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for CreateContexts<'_> {}

impl Default for CreateContexts<'_> {
    fn default() -> Self {
        Self(Repr::List(&[]))
    }
}

impl core::fmt::Debug for CreateContexts<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) type RawContext = (Vec<u8>, Vec<u8>);

    pub(crate) fn arb_contexts() -> impl Strategy<Value = Vec<RawContext>> {
        proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..20), proptest::collection::vec(any::<u8>(), 0..40)),
            0..5,
        )
    }

    pub(crate) fn to_contexts(raw: &[RawContext]) -> Vec<CreateContext<'_>> {
        raw.iter().map(|(n, d)| CreateContext { name: n, data: d }).collect()
    }

    fn encode(list: &[CreateContext<'_>]) -> Vec<u8> {
        let c = CreateContexts::from_slice(list);
        let mut v = vec![0u8; c.encoded_len()];
        let mut w = Writer::new(&mut v);
        c.write(&mut w).unwrap();
        assert_eq!(w.pos(), v.len());
        v
    }

    proptest! {
        #[test]
        fn chain_round_trips(raw in arb_contexts()) {
            let list = to_contexts(&raw);
            let bytes = encode(&list);
            let parsed = CreateContexts::parse(&bytes).unwrap();
            prop_assert_eq!(parsed, CreateContexts::from_slice(&list));
            prop_assert_eq!(parsed.iter().collect::<Vec<_>>(), list.clone());
            prop_assert_eq!(parsed.len(), list.len());
            for n in 0..bytes.len() {
                let _ = CreateContexts::parse(&bytes[..n]);
            }
            // Re-encoding the wire form is byte-identical.
            let mut again = vec![0u8; parsed.encoded_len()];
            parsed.write(&mut Writer::new(&mut again)).unwrap();
            prop_assert_eq!(again, bytes);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
            if let Ok(c) = CreateContexts::parse(&bytes) {
                prop_assert_eq!(c.iter().count(), c.len());
            }
        }

        #[test]
        fn mutated_chains_never_panic(raw in arb_contexts(), at in any::<usize>(), v in any::<u8>()) {
            let list = to_contexts(&raw);
            let mut bytes = encode(&list);
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = v;
            }
            if let Ok(c) = CreateContexts::parse(&bytes) {
                prop_assert_eq!(c.iter().count(), c.len());
            }
        }
    }

    #[test]
    fn known_layout_of_mxac_and_qfid_requests() {
        // Two empty-data contexts as Windows sends on CREATE: 20 bytes each, the first padded to 24.
        let list = [
            CreateContext { name: context_name::QUERY_MAXIMAL_ACCESS, data: &[] },
            CreateContext { name: context_name::QUERY_ON_DISK_ID, data: &[] },
        ];
        let b = encode(&list);
        assert_eq!(
            hex::encode(&b),
            concat!(
                "18000000", "1000", "0400", "0000", "0000", "00000000", "4d784163", "00000000", "00000000",
                "1000", "0400", "0000", "0000", "00000000", "51466964",
            )
        );
        let parsed = CreateContexts::parse(&b).unwrap();
        assert_eq!(parsed.find(b"QFid"), Some(list[1]));
        assert_eq!(parsed.find(b"RqLs"), None);
    }

    #[test]
    fn data_is_8_aligned_after_the_name() {
        let data = [7u8; 4];
        let b = encode(&[CreateContext { name: b"DH2Q", data: &data }]);
        assert_eq!(&b[10..12], &24u16.to_le_bytes());
        assert_eq!(&b[24..], &data);
    }

    /// A lone context header with the given fields, followed by `tail`.
    fn ctx(next: u32, name_off: u16, name_len: u16, data_off: u16, data_len: u32, tail: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&next.to_le_bytes());
        v.extend_from_slice(&name_off.to_le_bytes());
        v.extend_from_slice(&name_len.to_le_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&data_off.to_le_bytes());
        v.extend_from_slice(&data_len.to_le_bytes());
        v.extend_from_slice(tail);
        v
    }

    #[test]
    fn next_must_be_aligned_forward_and_inside() {
        let b = ctx(20, 16, 4, 0, 0, &[0; 24]);
        assert_eq!(
            CreateContexts::parse(&b),
            Err(WireError::Misaligned { field: "CreateContext.Next", offset: 20, align: 8 })
        );
        let b = ctx(8, 16, 4, 0, 0, &[0; 24]);
        assert_eq!(
            CreateContexts::parse(&b),
            Err(WireError::BadValue { field: "CreateContext.Next", value: 8 })
        );
        let b = ctx(48, 16, 4, 0, 0, &[0; 8]);
        assert!(matches!(
            CreateContexts::parse(&b),
            Err(WireError::OutOfBounds { field: "CreateContext.Next", offset: 0, len: 48, .. })
        ));
        // Next pointing exactly at the end leaves no room for the next header.
        let b = ctx(24, 16, 4, 0, 0, &[0; 8]);
        assert!(matches!(
            CreateContexts::parse(&b),
            Err(WireError::Truncated { field: "CreateContext.Next", .. })
        ));
        // A next context cut short.
        let mut b = ctx(24, 16, 4, 0, 0, &[0; 8]);
        b.extend_from_slice(&[0; 10]);
        assert!(matches!(
            CreateContexts::parse(&b),
            Err(WireError::Truncated { field: "CreateContext.DataOffset", .. })
        ));
    }

    #[test]
    fn name_and_data_must_stay_inside_their_context() {
        let b = ctx(0, 16, 8, 0, 0, b"MxAc");
        assert!(matches!(
            CreateContexts::parse(&b),
            Err(WireError::OutOfBounds { field: "CreateContext.Name", offset: 16, len: 8, msg_len: 20 })
        ));
        let b = ctx(0, 4, 4, 0, 0, b"MxAc");
        assert_eq!(
            CreateContexts::parse(&b),
            Err(WireError::BadValue { field: "CreateContext.NameOffset", value: 4 })
        );
        let b = ctx(0, 16, 4, 24, 0xFFFF_FFFF, b"MxAc\0\0\0\0abcd");
        assert!(matches!(
            CreateContexts::parse(&b),
            Err(WireError::OutOfBounds { field: "CreateContext.Data", .. })
        ));
        let b = ctx(0, 16, 4, 8, 4, b"MxAc");
        assert_eq!(
            CreateContexts::parse(&b),
            Err(WireError::BadValue { field: "CreateContext.DataOffset", value: 8 })
        );
        // Data of the first context may not reach into the second.
        let mut b = ctx(24, 16, 4, 20, 8, b"MxAc\0\0\0\0");
        b.extend_from_slice(&ctx(0, 16, 4, 0, 0, b"QFid"));
        assert!(matches!(
            CreateContexts::parse(&b),
            Err(WireError::OutOfBounds { field: "CreateContext.Data", offset: 20, len: 8, msg_len: 24 })
        ));
    }

    #[test]
    fn count_is_capped() {
        let one = ctx(16, 0, 0, 0, 0, &[]);
        let mut b = Vec::new();
        for _ in 0..CreateContexts::MAX_CONTEXTS {
            b.extend_from_slice(&one);
        }
        b.extend_from_slice(&ctx(0, 0, 0, 0, 0, &[]));
        assert_eq!(
            CreateContexts::parse(&b),
            Err(WireError::TooLarge { field: "CreateContexts.Count", value: 65, cap: 64 })
        );
        b.truncate(b.len() - 32);
        b.extend_from_slice(&ctx(0, 0, 0, 0, 0, &[]));
        assert_eq!(CreateContexts::parse(&b).unwrap().len(), 64);
    }
}
