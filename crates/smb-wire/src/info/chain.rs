//! MS-FSCC 2.4 chained entries linked by NextEntryOffset: the lazy walker and the in-place builder
//! shared by the directory classes (2.4.8, 2.4.10, 2.4.14, 2.4.23, 2.4.24, 2.4.32) and
//! FileStreamInformation (2.4.43).
//!
//! Entries start on 8-byte boundaries counted from the start of the buffer; the last entry has
//! NextEntryOffset 0 and needs no padding after it.

use core::marker::PhantomData;

use crate::codec::{align_up, Encode, Reader};
use crate::error::{Result, WireError};
use crate::types::{narrow_u32, us};

/// Entries are aligned to this many bytes.
pub const ENTRY_ALIGN: usize = 8;

/// At most this many entries per chain: an 8 MiB QUERY_DIRECTORY buffer of the smallest entries
/// (FileNamesInformation with one-character names, 16 bytes each) holds 512 Ki, so this only stops
/// walks that something else failed to bound.
pub const MAX_CHAIN_ENTRIES: usize = 1 << 20;

/// One element of a NextEntryOffset chain.
pub trait ChainEntry<'a>: Sized {
    /// `"<Class>.NextEntryOffset"`, for errors about the link.
    const NEXT_ENTRY_OFFSET_FIELD: &'static str;
    /// `"<Class>.Count"`, for the entry cap.
    const COUNT_FIELD: &'static str;
    /// Bytes before the variable tail, NextEntryOffset included.
    const FIXED_LEN: usize;

    /// Reads the entry after its NextEntryOffset field. `r` ends where the next entry starts (or at
    /// the end of the buffer for the last entry), so a name cannot spill into the next entry;
    /// positions count from the start of the chain buffer.
    fn read_entry(r: &mut Reader<'a>) -> Result<Self>;
}

/// A lazy, borrowing walk over a chained buffer, yielding one parsed entry per step.
///
/// Every link is checked before it is followed: it must be a multiple of [`ENTRY_ALIGN`], at least
/// the entry's fixed size, and land inside the buffer; since every step moves forward by at least
/// 8 bytes the walk ends, and [`MAX_CHAIN_ENTRIES`] caps it besides. After the first error the
/// iterator is exhausted. An empty buffer holds no entries.
#[derive(Debug, Clone)]
pub struct Entries<'a, T> {
    buf: &'a [u8],
    pos: Option<usize>,
    count: usize,
    cap: usize,
    _entry: PhantomData<fn() -> T>,
}

impl<'a, T: ChainEntry<'a>> Entries<'a, T> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_cap(buf, MAX_CHAIN_ENTRIES)
    }

    /// Like [`Entries::new`] with a lower entry cap (a caller that knows its own bound).
    pub fn with_cap(buf: &'a [u8], cap: usize) -> Self {
        let cap = cap.min(MAX_CHAIN_ENTRIES);
        Self { buf, pos: if buf.is_empty() { None } else { Some(0) }, count: 0, cap, _entry: PhantomData }
    }

    /// Walks the whole chain, returning the number of entries or the first error.
    pub fn validate(self) -> Result<usize> {
        let mut n = 0;
        for e in self {
            e?;
            n += 1;
        }
        Ok(n)
    }

    fn step(&mut self, pos: usize) -> Result<(T, Option<usize>)> {
        if self.count >= self.cap {
            return Err(WireError::TooLarge { field: T::COUNT_FIELD, value: self.count + 1, cap: self.cap });
        }
        let mut r = Reader::at(self.buf, pos)?;
        let next = us(r.u32(T::NEXT_ENTRY_OFFSET_FIELD)?);
        let (end, after) = if next == 0 {
            (self.buf.len(), None)
        } else {
            let field = T::NEXT_ENTRY_OFFSET_FIELD;
            if !next.is_multiple_of(ENTRY_ALIGN) {
                return Err(WireError::Misaligned { field, offset: next, align: ENTRY_ALIGN });
            }
            if next < T::FIXED_LEN {
                return Err(WireError::BadValue { field, value: next as u64 });
            }
            // The next entry must start inside the buffer (its own NextEntryOffset is read then).
            let np = pos
                .checked_add(next)
                .filter(|&np| np < self.buf.len())
                .ok_or(WireError::OutOfBounds { field, offset: pos, len: next, msg_len: self.buf.len() })?;
            (np, Some(np))
        };
        let limited = self.buf.get(..end).unwrap_or_default();
        let mut r = Reader::at(limited, r.pos())?;
        let entry = T::read_entry(&mut r)?;
        Ok((entry, after))
    }
}

impl<'a, T: ChainEntry<'a>> Iterator for Entries<'a, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        let pos = self.pos?;
        match self.step(pos) {
            Ok((entry, after)) => {
                self.pos = after;
                self.count += 1;
                Some(Ok(entry))
            }
            Err(e) => {
                self.pos = None;
                Some(Err(e))
            }
        }
    }
}

impl<'a, T: ChainEntry<'a>> core::iter::FusedIterator for Entries<'a, T> {}

/// What [`ChainBuilder::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Append {
    /// The entry was written and linked.
    Added,
    /// The entry (with its alignment padding) does not fit; nothing was written. The server stops
    /// here and keeps the entry for the next QUERY_DIRECTORY.
    NoRoom,
}

/// Appends entries into a caller's buffer (typically the OutputBuffer region of the response, cut to
/// the request's OutputBufferLength), 8-byte aligned from the start of that buffer, and links each to
/// the previous one by patching the previous NextEntryOffset.
///
/// Entries' [`Encode`] impls write NextEntryOffset 0; the builder owns the links.
#[derive(Debug)]
pub struct ChainBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
    last: Option<usize>,
    count: usize,
}

impl<'b> ChainBuilder<'b> {
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0, last: None, count: 0 }
    }

    /// Appends `entry` if it fits. An encoding error (say, a short name over 24 bytes) leaves the
    /// chain as it was.
    pub fn push<E: Encode>(&mut self, entry: &E) -> Result<Append> {
        let elen = entry.encoded_len();
        if elen < 4 {
            return Err(WireError::BadValue { field: "ChainBuilder.EntryLength", value: elen as u64 });
        }
        let start = if self.last.is_some() { align_up(self.len, ENTRY_ALIGN) } else { 0 };
        let Some(end) = start.checked_add(elen).filter(|&e| e <= self.buf.len()) else {
            return Ok(Append::NoRoom);
        };
        let link = match self.last {
            Some(last) => Some((last, narrow_u32(start - last, "ChainBuilder.NextEntryOffset")?)),
            None => None,
        };
        self.buf[self.len..start].fill(0);
        let n = entry.encode_into(&mut self.buf[start..end])?;
        if n != elen {
            return Err(WireError::BadValue { field: "ChainBuilder.EntryLength", value: n as u64 });
        }
        if let Some((last, delta)) = link {
            self.buf[last..last + 4].copy_from_slice(&delta.to_le_bytes());
        }
        self.last = Some(start);
        self.len = end;
        self.count += 1;
        Ok(Append::Added)
    }

    /// Bytes used so far: the OutputBufferLength to send.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Entries written.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The chain written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Ends the chain, returning its length.
    pub fn finish(self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::dir::FileNamesInformation;
    use crate::types::{utf16le, Utf16};
    use proptest::prelude::*;

    type Names<'a> = Entries<'a, FileNamesInformation<'a>>;
    const NEXT: &str = "FileNamesInformation.NextEntryOffset";

    fn entry(index: u32, name: &[u8]) -> FileNamesInformation<'_> {
        FileNamesInformation { file_index: index, file_name: Utf16::new(name, "t").unwrap() }
    }

    /// Two FileNamesInformation entries: "ab" at 0 (16 bytes, padded to 16) and "c" at 16.
    fn two() -> Vec<u8> {
        let (a, c) = (utf16le("ab"), utf16le("c"));
        let mut buf = [0u8; 64];
        let mut b = ChainBuilder::new(&mut buf);
        assert_eq!(b.push(&entry(1, &a)).unwrap(), Append::Added);
        assert_eq!(b.push(&entry(2, &c)).unwrap(), Append::Added);
        let n = b.finish();
        buf[..n].to_vec()
    }

    fn set_next(buf: &mut [u8], at: usize, v: u32) {
        buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn builder_aligns_links_and_leaves_no_tail_padding() {
        let buf = two();
        // Entry 0: 12 + 4 bytes = 16, so entry 1 starts at 16; entry 1: 12 + 2 = 14 bytes, no padding.
        assert_eq!(buf.len(), 30);
        assert_eq!(&buf[0..4], &16u32.to_le_bytes());
        assert_eq!(&buf[16..20], &0u32.to_le_bytes());
        let names: Vec<_> = Names::new(&buf).map(|e| e.unwrap().file_name.to_string().unwrap()).collect();
        assert_eq!(names, ["ab", "c"]);
    }

    #[test]
    fn builder_zeroes_padding_and_reports_no_room_at_the_exact_boundary() {
        let name = utf16le("abc"); // 12 + 6 = 18 bytes, next at 24
        let mut buf = [0xAAu8; 24 + 18];
        let mut b = ChainBuilder::new(&mut buf[..41]);
        assert_eq!(b.push(&entry(0, &name)).unwrap(), Append::Added);
        assert_eq!(b.push(&entry(1, &name)).unwrap(), Append::NoRoom);
        assert_eq!(b.len(), 18);
        assert_eq!(b.count(), 1);
        let mut b = ChainBuilder::new(&mut buf);
        assert_eq!(b.push(&entry(0, &name)).unwrap(), Append::Added);
        assert_eq!(b.push(&entry(1, &name)).unwrap(), Append::Added);
        assert_eq!(b.finish(), 42);
        assert_eq!(&buf[18..24], &[0u8; 6]);
        assert_eq!(Names::new(&buf).validate(), Ok(2));
    }

    #[test]
    fn builder_first_entry_that_does_not_fit_leaves_it_empty() {
        let mut buf = [0u8; 11];
        let mut b = ChainBuilder::new(&mut buf);
        assert_eq!(b.push(&entry(0, &[])).unwrap(), Append::NoRoom);
        assert!(b.is_empty());
        assert_eq!(b.as_bytes(), &[] as &[u8]);
    }

    #[test]
    fn empty_buffer_has_no_entries() {
        assert_eq!(Names::new(&[]).count(), 0);
    }

    #[test]
    fn misaligned_next_entry_offset_is_refused() {
        let mut buf = two();
        set_next(&mut buf, 0, 14);
        let mut it = Names::new(&buf);
        assert_eq!(it.next(), Some(Err(WireError::Misaligned { field: NEXT, offset: 14, align: 8 })));
        assert_eq!(it.next(), None, "fused after an error");
        set_next(&mut buf, 0, u32::MAX);
        assert!(matches!(Names::new(&buf).next(), Some(Err(WireError::Misaligned { .. }))));
    }

    #[test]
    fn next_entry_offset_inside_the_fixed_part_is_refused() {
        let mut buf = two();
        set_next(&mut buf, 0, 8);
        assert_eq!(Names::new(&buf).next(), Some(Err(WireError::BadValue { field: NEXT, value: 8 })));
    }

    #[test]
    fn next_entry_offset_overlapping_the_name_is_refused() {
        // Entry 0 needs 16 bytes, so a link of 8 (below FIXED_LEN) or of 16 into a longer name fails.
        let long = utf16le("abcdefgh"); // 12 + 16 = 28 bytes
        let mut buf = [0u8; 64];
        let mut b = ChainBuilder::new(&mut buf);
        let _ = b.push(&entry(0, &long)).unwrap();
        let _ = b.push(&entry(1, &long)).unwrap();
        let n = b.finish();
        let mut v = buf[..n].to_vec();
        set_next(&mut v, 0, 16);
        assert!(matches!(
            Names::new(&v).next(),
            Some(Err(WireError::Truncated { field: "FileNamesInformation.FileName", .. }))
        ));
    }

    #[test]
    fn next_entry_offset_past_the_buffer_is_refused() {
        let mut buf = two();
        // The buffer is 30 bytes: a link of 32 lands past it, one of 24 inside (then truncated).
        for bad in [32, 0x7FFF_FFF8, 0xFFFF_FFF8] {
            set_next(&mut buf, 0, bad);
            let e = Names::new(&buf).next().unwrap().unwrap_err();
            assert!(matches!(e, WireError::OutOfBounds { field: NEXT, .. }), "{bad}: {e:?}");
        }
    }

    #[test]
    fn truncated_last_entry_is_refused() {
        let buf = two();
        let r: Vec<_> = Names::new(&buf[..buf.len() - 1]).collect();
        assert!(r[0].is_ok());
        assert!(matches!(r[1], Err(WireError::Truncated { field: "FileNamesInformation.FileName", .. })));
        let r: Vec<_> = Names::new(&buf[..18]).collect();
        assert!(matches!(r[1], Err(WireError::Truncated { field: NEXT, .. })));
    }

    #[test]
    fn entry_cap_stops_the_walk() {
        let mut buf = [0u8; 64];
        let mut b = ChainBuilder::new(&mut buf);
        while b.push(&entry(0, &[])).unwrap() == Append::Added {}
        let n = b.finish();
        assert_eq!(Names::new(&buf[..n]).validate(), Ok(4));
        let r: Vec<_> = Names::with_cap(&buf[..n], 3).collect();
        assert_eq!(r.len(), 4);
        assert_eq!(r[3], Err(WireError::TooLarge { field: "FileNamesInformation.Count", value: 4, cap: 3 }));
    }

    proptest! {
        #[test]
        fn chains_round_trip(
            entries in proptest::collection::vec((any::<u32>(), crate::info::testutil::name_bytes(9)), 0..12),
            room in 0usize..400,
        ) {
            let mut buf = vec![0x77u8; room];
            let mut b = ChainBuilder::new(&mut buf);
            let mut written = 0;
            for (i, n) in &entries {
                match b.push(&entry(*i, n)).unwrap() {
                    Append::Added => written += 1,
                    Append::NoRoom => break,
                }
            }
            let n = b.finish();
            let back: Vec<_> = Names::new(&buf[..n]).map(|e| e.unwrap()).collect();
            prop_assert_eq!(back.len(), written);
            for (got, (i, name)) in back.iter().zip(&entries) {
                prop_assert_eq!(got.file_index, *i);
                prop_assert_eq!(got.file_name.as_bytes(), &name[..]);
            }
        }

        #[test]
        fn random_chains_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Names::new(&bytes).count();
            let _ = Entries::<crate::info::dir::FileIdBothDirectoryInformation>::new(&bytes).count();
            let _ = Entries::<crate::info::file::FileStreamEntry>::new(&bytes).count();
        }
    }
}
