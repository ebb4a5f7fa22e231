//! Buffer descriptors (MS-SMBD 2.2.3.1) of an SMB2 READ/WRITE: validation, and planning the RDMA
//! Write (MS-SMBD 3.1.4.5) or RDMA Read (3.1.4.6) work requests that move an I/O over them.
//!
//! A peer's channel info is an **array** of descriptors (Windows sends 0xFFFC0 + 0x40 bytes for a
//! 1 MiB I/O): never "the" descriptor. [`validate`] refuses what cannot be served: no descriptor,
//! too many, a zero Length, an address range that wraps, an I/O above MaxReadWriteSize, or
//! descriptors describing less than the I/O. [`plan`] walks the array by Length as 3.1.4.5/3.1.4.6
//! say ("consuming the elements' Length fields", trimming the first element's front and the last
//! one's tail) and cuts a local buffer of `len` bytes into pieces, one per work request, also
//! splitting a piece larger than the provider's per-request maximum.
//!
//! Nothing here allocates: descriptors are read in place, from a slice or straight from the
//! received bytes ([`BufferDescriptorList`]).

use smb_wire::smbd::{BufferDescriptorList, BufferDescriptorV1};

use crate::error::DescriptorError;

/// An indexed sequence of buffer descriptors, read in place.
pub trait DescriptorSource: Copy {
    /// How many descriptors there are.
    fn count(&self) -> usize;
    /// The descriptor at `index < count()`.
    fn get(&self, index: usize) -> BufferDescriptorV1;
}

impl DescriptorSource for &[BufferDescriptorV1] {
    fn count(&self) -> usize {
        self.len()
    }
    fn get(&self, index: usize) -> BufferDescriptorV1 {
        self[index]
    }
}

impl DescriptorSource for BufferDescriptorList<'_> {
    fn count(&self) -> usize {
        self.len()
    }
    fn get(&self, index: usize) -> BufferDescriptorV1 {
        let at = index * BufferDescriptorV1::LEN;
        let b = &self.as_bytes()[at..at + BufferDescriptorV1::LEN];
        let le64 = |r: &[u8]| u64::from_le_bytes(r.try_into().unwrap_or_default());
        let le32 = |r: &[u8]| u32::from_le_bytes(r.try_into().unwrap_or_default());
        BufferDescriptorV1 { offset: le64(&b[0..8]), token: le32(&b[8..12]), length: le32(&b[12..16]) }
    }
}

/// The limits one connection applies to descriptors (see [`crate::SmbdConnection::descriptor_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most descriptors per I/O ([`crate::Config::max_descriptors`]).
    pub max_descriptors: usize,
    /// The negotiated MaxReadWriteSize.
    pub max_read_write_size: u32,
}

/// Checks the descriptors of one I/O of `io_len` bytes and returns the bytes they describe.
///
/// For a READ `io_len` is the request's Length, for a WRITE its RemainingBytes; the SMB2 layer
/// answers every refusal with [`DescriptorError::status`].
pub fn validate<D: DescriptorSource>(descs: D, io_len: u64, limits: &Limits) -> Result<u64, DescriptorError> {
    let count = descs.count();
    if count == 0 {
        return Err(DescriptorError::Empty);
    }
    if count > limits.max_descriptors {
        return Err(DescriptorError::TooMany { count, max: limits.max_descriptors });
    }
    if io_len > u64::from(limits.max_read_write_size) {
        return Err(DescriptorError::IoTooLarge { len: io_len, max: limits.max_read_write_size });
    }
    let total = total_len(descs)?;
    for index in 0..count {
        if descs.get(index).length == 0 {
            return Err(DescriptorError::ZeroLength { index });
        }
    }
    if total < io_len {
        return Err(DescriptorError::TooShort { total, needed: io_len });
    }
    Ok(total)
}

/// Σ Length, refusing a descriptor whose address range wraps. The sum saturates rather than
/// overflow, though 2³² descriptors of u32::MAX bytes each would still fit in a u64.
fn total_len<D: DescriptorSource>(descs: D) -> Result<u64, DescriptorError> {
    let mut total = 0u64;
    for index in 0..descs.count() {
        let d = descs.get(index);
        if d.offset.checked_add(u64::from(d.length)).is_none() {
            return Err(DescriptorError::AddressOverflow { index, offset: d.offset, length: d.length });
        }
        total = total.saturating_add(u64::from(d.length));
    }
    Ok(total)
}

/// One RDMA Read or Write work request: `len` bytes at `local_offset` in the local buffer to or
/// from `remote_offset` in the peer's registration named by `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdmaPiece {
    /// Offset in the local buffer of the I/O.
    pub local_offset: usize,
    /// The remote address (descriptor Offset plus the position inside that descriptor).
    pub remote_offset: u64,
    /// The descriptor's Token (rkey / STag).
    pub token: u32,
    /// Bytes of this work request (never 0).
    pub len: u32,
}

/// Plans the work requests moving `len` bytes between a local buffer and the peer's buffer that
/// `descs` describe, starting `start` bytes into it (MS-SMBD 3.1.4.5/3.1.4.6). Each piece is at
/// most `max_per_wr` bytes (0 means no limit beyond the descriptor).
///
/// The pieces, in order, cover the local buffer `0..len` exactly once. Fails if the descriptors
/// end before `start + len` or an address range wraps; run [`validate`] first for the policy
/// checks.
pub fn plan<D: DescriptorSource>(
    descs: D,
    start: u64,
    len: usize,
    max_per_wr: u32,
) -> Result<Plan<D>, DescriptorError> {
    let total = total_len(descs)?;
    let needed = start.saturating_add(len as u64);
    if total < needed {
        return Err(DescriptorError::TooShort { total, needed });
    }
    // Skip whole descriptors before `start`.
    let mut index = 0;
    let mut skip = start;
    while len > 0 && skip >= u64::from(descs.get(index).length) {
        skip -= u64::from(descs.get(index).length);
        index += 1;
    }
    Ok(Plan {
        descs,
        index,
        in_desc: skip,
        local: 0,
        left: len,
        max: if max_per_wr == 0 { u32::MAX } else { max_per_wr },
    })
}

/// The work requests of one I/O, in order (see [`plan`]).
#[derive(Debug, Clone)]
pub struct Plan<D> {
    descs: D,
    index: usize,
    /// Bytes of descriptor `index` already behind us.
    in_desc: u64,
    local: usize,
    left: usize,
    max: u32,
}

impl<D> Plan<D> {
    /// Bytes not yet covered by the pieces returned so far.
    pub fn remaining_len(&self) -> usize {
        self.left
    }
}

impl<D: DescriptorSource> Iterator for Plan<D> {
    type Item = RdmaPiece;

    fn next(&mut self) -> Option<RdmaPiece> {
        while self.left > 0 {
            // `plan` checked that the descriptors reach `start + len`, so `index` stays in range.
            let d = self.descs.get(self.index);
            let avail = u64::from(d.length) - self.in_desc;
            if avail == 0 {
                self.index += 1;
                self.in_desc = 0;
                continue;
            }
            let take = avail.min(u64::from(self.max)).min(self.left as u64) as u32;
            let piece = RdmaPiece {
                local_offset: self.local,
                remote_offset: d.offset + self.in_desc,
                token: d.token,
                len: take,
            };
            self.in_desc += u64::from(take);
            self.local += take as usize;
            self.left -= take as usize;
            return Some(piece);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use smb_wire::codec::Writer;

    const fn d(offset: u64, token: u32, length: u32) -> BufferDescriptorV1 {
        BufferDescriptorV1 { offset, token, length }
    }

    const LIMITS: Limits = Limits { max_descriptors: 4, max_read_write_size: 8 << 20 };
    const WINDOWS_MIB: [BufferDescriptorV1; 2] = [d(0x10_0000, 7, 0xF_FFC0), d(0x90_0000, 8, 0x40)];

    #[test]
    fn validate_refusals() {
        let none: &[BufferDescriptorV1] = &[];
        assert_eq!(validate(none, 1, &LIMITS), Err(DescriptorError::Empty));
        let five = [d(0, 1, 1); 5];
        assert_eq!(validate(&five[..], 1, &LIMITS), Err(DescriptorError::TooMany { count: 5, max: 4 }));
        let zero = [d(0, 1, 10), d(0, 1, 0)];
        assert_eq!(validate(&zero[..], 5, &LIMITS), Err(DescriptorError::ZeroLength { index: 1 }));
        let short = [d(0, 1, 10), d(100, 2, 10)];
        assert_eq!(
            validate(&short[..], 21, &LIMITS),
            Err(DescriptorError::TooShort { total: 20, needed: 21 })
        );
        let big = [d(0, 1, u32::MAX), d(0, 1, u32::MAX)];
        assert_eq!(
            validate(&big[..], (8 << 20) + 1, &LIMITS),
            Err(DescriptorError::IoTooLarge { len: (8 << 20) + 1, max: 8 << 20 })
        );
        let wrap = [d(u64::MAX - 5, 1, 10)];
        assert_eq!(
            validate(&wrap[..], 1, &LIMITS),
            Err(DescriptorError::AddressOverflow { index: 0, offset: u64::MAX - 5, length: 10 })
        );
        assert_eq!(validate(&WINDOWS_MIB[..], 1 << 20, &LIMITS), Ok(1 << 20));
        // More described than needed is fine.
        assert_eq!(validate(&short[..], 15, &LIMITS), Ok(20));
    }

    #[test]
    fn validate_reads_the_wire_list_in_place() {
        let mut bytes = [0u8; 32];
        BufferDescriptorList::encode(&WINDOWS_MIB, &mut Writer::new(&mut bytes)).unwrap();
        let list = BufferDescriptorList::parse(&bytes).unwrap();
        assert_eq!(list.get(1), WINDOWS_MIB[1]);
        assert_eq!(validate(list, 1 << 20, &LIMITS), Ok(1 << 20));
        assert_eq!(plan(list, 0, 1 << 20, 0).unwrap().count(), 2);
    }

    #[test]
    fn windows_megabyte_is_two_work_requests() {
        let p: Vec<_> = plan(&WINDOWS_MIB[..], 0, 1 << 20, 0).unwrap().collect();
        assert_eq!(
            p,
            [
                RdmaPiece { local_offset: 0, remote_offset: 0x10_0000, token: 7, len: 0xF_FFC0 },
                RdmaPiece { local_offset: 0xF_FFC0, remote_offset: 0x90_0000, token: 8, len: 0x40 },
            ]
        );
    }

    #[test]
    fn a_subrange_trims_the_first_front_and_the_last_tail() {
        let p: Vec<_> = plan(&WINDOWS_MIB[..], 0xF_FFB0, 0x20, 0).unwrap().collect();
        assert_eq!(
            p,
            [
                RdmaPiece { local_offset: 0, remote_offset: 0x10_0000 + 0xF_FFB0, token: 7, len: 0x10 },
                RdmaPiece { local_offset: 0x10, remote_offset: 0x90_0000, token: 8, len: 0x10 },
            ]
        );
        // Starting exactly at a descriptor boundary skips the first one entirely.
        let p: Vec<_> = plan(&WINDOWS_MIB[..], 0xF_FFC0, 0x40, 0).unwrap().collect();
        assert_eq!(p, [RdmaPiece { local_offset: 0, remote_offset: 0x90_0000, token: 8, len: 0x40 }]);
    }

    #[test]
    fn large_pieces_are_split_by_the_work_request_maximum() {
        let p: Vec<_> = plan(&WINDOWS_MIB[..], 0, 1 << 20, 256 * 1024).unwrap().collect();
        let lens: Vec<_> = p.iter().map(|x| x.len).collect();
        assert_eq!(lens, [0x4_0000, 0x4_0000, 0x4_0000, 0x3_FFC0, 0x40]);
        assert_eq!(p[1].remote_offset, 0x14_0000);
        assert_eq!(p[3].local_offset, 0xC_0000);
    }

    #[test]
    fn plan_refuses_descriptors_short_of_the_range() {
        assert_eq!(
            plan(&WINDOWS_MIB[..], 1, 1 << 20, 0).err(),
            Some(DescriptorError::TooShort { total: 1 << 20, needed: (1 << 20) + 1 })
        );
        assert_eq!(plan(&WINDOWS_MIB[..], 5, 0, 0).unwrap().count(), 0);
    }

    fn descs_strategy() -> impl Strategy<Value = Vec<BufferDescriptorV1>> {
        proptest::collection::vec((0u64..1 << 40, any::<u32>(), 0u32..5000), 1..8)
            .prop_map(|v| v.into_iter().map(|(o, t, l)| d(o, t, l)).collect())
    }

    proptest! {
        /// Every local byte maps to the remote byte a naive walk of the descriptors gives, exactly once.
        #[test]
        fn plan_matches_a_byte_walk(descs in descs_strategy(), a in any::<u64>(), b in any::<u64>(), max in 0u32..3000) {
            let total: u64 = descs.iter().map(|x| u64::from(x.length)).sum();
            let start = a % (total + 1);
            let len = (b % (total - start + 1)) as usize;
            // (token, address) of every byte of the described buffer.
            let bytes: Vec<(u32, u64)> = descs.iter()
                .flat_map(|x| (0..u64::from(x.length)).map(move |i| (x.token, x.offset + i)))
                .collect();
            let mut want = bytes[start as usize..start as usize + len].iter();
            let mut next_local = 0;
            let mut p = plan(&descs[..], start, len, max).unwrap();
            while let Some(piece) = p.next() {
                prop_assert!(piece.len > 0);
                prop_assert!(max == 0 || piece.len <= max);
                prop_assert_eq!(piece.local_offset, next_local);
                for i in 0..u64::from(piece.len) {
                    prop_assert_eq!(want.next(), Some(&(piece.token, piece.remote_offset + i)));
                }
                next_local += piece.len as usize;
                prop_assert_eq!(p.remaining_len(), len - next_local);
            }
            prop_assert_eq!(next_local, len);
            prop_assert!(want.next().is_none());
        }
    }
}
