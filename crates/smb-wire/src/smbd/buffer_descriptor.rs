//! MS-SMBD 2.2.3.1 Buffer Descriptor V1, and the arrays of them that SMB2 READ/WRITE channel info carry.

use crate::codec::{Reader, Writer};
use crate::error::{Result, WireError};

/// MS-SMBD 2.2.3.1 Buffer Descriptor V1: one registered region the peer may RDMA-read or -write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferDescriptorV1 {
    /// Remote address (or offset in the registered region).
    pub offset: u64,
    /// The steering tag: rkey / STag.
    pub token: u32,
    pub length: u32,
}

impl BufferDescriptorV1 {
    pub const LEN: usize = 16;

    pub fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            offset: r.u64("BufferDescriptorV1.Offset")?,
            token: r.u32("BufferDescriptorV1.Token")?,
            length: r.u32("BufferDescriptorV1.Length")?,
        })
    }

    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.offset)?;
        w.u32(self.token)?;
        w.u32(self.length)
    }
}

/// A borrowed array of descriptors (channel info of RDMA_V1 / RDMA_V1_INVALIDATE). Windows clients
/// send several per I/O, so this is a list, never "the" descriptor. Iteration decodes lazily: no
/// allocation driven by the peer's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferDescriptorList<'a>(&'a [u8]);

impl<'a> BufferDescriptorList<'a> {
    /// At most this many descriptors per I/O: 8 MiB in 4 KiB pages, the largest page list a fast
    /// registration covers, with room to spare.
    pub const MAX_DESCRIPTORS: usize = 4096;

    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if !bytes.len().is_multiple_of(BufferDescriptorV1::LEN) {
            return Err(WireError::BadValue {
                field: "BufferDescriptorList.Length",
                value: bytes.len() as u64,
            });
        }
        crate::codec::cap(
            bytes.len() / BufferDescriptorV1::LEN,
            Self::MAX_DESCRIPTORS,
            "BufferDescriptorList.Count",
        )?;
        Ok(Self(bytes))
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len() / BufferDescriptorV1::LEN
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = BufferDescriptorV1> + 'a {
        self.0.chunks_exact(BufferDescriptorV1::LEN).map(|c| {
            let mut r = Reader::new(c);
            // A 16-byte chunk always holds a whole descriptor.
            BufferDescriptorV1::read(&mut r).unwrap_or_default()
        })
    }

    /// Sum of the descriptors' lengths (u64: 4096 x u32::MAX cannot overflow it).
    pub fn total_len(&self) -> u64 {
        self.iter().map(|d| u64::from(d.length)).sum()
    }

    /// Writes `descs` as a channel-info array.
    pub fn encode(descs: &[BufferDescriptorV1], w: &mut Writer<'_>) -> Result<()> {
        descs.iter().try_for_each(|d| d.write(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn list_round_trips(descs in proptest::collection::vec((any::<u64>(), any::<u32>(), any::<u32>()), 0..20)) {
            let descs: Vec<_> = descs.into_iter().map(|(offset, token, length)| BufferDescriptorV1 { offset, token, length }).collect();
            let mut buf = vec![0u8; descs.len() * 16];
            BufferDescriptorList::encode(&descs, &mut Writer::new(&mut buf)).unwrap();
            let l = BufferDescriptorList::parse(&buf).unwrap();
            prop_assert_eq!(l.iter().collect::<Vec<_>>(), descs.clone());
            prop_assert_eq!(l.total_len(), descs.iter().map(|d| u64::from(d.length)).sum::<u64>());
        }
    }

    #[test]
    fn windows_two_descriptor_megabyte() {
        let descs = [
            BufferDescriptorV1 { offset: 0x1000, token: 7, length: 0xFFFC0 },
            BufferDescriptorV1 { offset: 0x2000, token: 8, length: 0x40 },
        ];
        let mut buf = [0u8; 32];
        BufferDescriptorList::encode(&descs, &mut Writer::new(&mut buf)).unwrap();
        assert_eq!(BufferDescriptorList::parse(&buf).unwrap().total_len(), 1 << 20);
    }

    #[test]
    fn ragged_and_oversized_lists_are_refused() {
        assert!(BufferDescriptorList::parse(&[0u8; 17]).is_err());
        let big = vec![0u8; 16 * (BufferDescriptorList::MAX_DESCRIPTORS + 1)];
        assert!(matches!(BufferDescriptorList::parse(&big), Err(WireError::TooLarge { .. })));
    }
}
