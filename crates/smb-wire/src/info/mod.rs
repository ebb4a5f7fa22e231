//! MS-FSCC 2.4 file information classes, 2.5 file system information classes and 2.6 file attributes:
//! the buffers QUERY_INFO returns, SET_INFO carries and QUERY_DIRECTORY fills.
//!
//! These are not PDUs: every `parse` takes the class's buffer starting at offset 0 (the OutputBuffer
//! of a QUERY_INFO/QUERY_DIRECTORY response, the Buffer of a SET_INFO request), and every `Encode`
//! writes the class at the writer's position. Fixed-size classes accept longer buffers (the trailing
//! bytes are ignored) and refuse shorter ones with [`crate::WireError::Truncated`] naming the first
//! field that was cut; mapping that to STATUS_INFO_LENGTH_MISMATCH is the session layer's job.
//!
//! Times are FILETIMEs (100 ns since 1601-01-01 UTC) carried as u64; sizes are carried as u64 even
//! where the spec says "signed" (a negative EndOfFile in SET_INFO arrives as a value above
//! `i64::MAX`, which the session layer refuses).

use crate::codec::{Reader, Writer};
use crate::error::Result;

/// Generates a fixed-size information class: the struct, `CLASS`, `LEN`, `parse`, `read`, `write`
/// and `Encode`. Fields are read in order, then `tail` reserved bytes (written as zeros).
macro_rules! fixed_info {
    (
        $(#[$doc:meta])*
        pub struct $name:ident: $cty:ident = $class:expr, $(,)? reserved_tail = $tail:literal {
            $( $(#[$fdoc:meta])* pub $field:ident: $ty:ty => $wire:literal, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name {
            $( $(#[$fdoc])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: <$ty as $crate::info::Field>::ZERO, )* }
            }
        }

        impl $name {
            pub const CLASS: $cty = $class;
            /// Bytes on the wire; shorter buffers are refused.
            pub const LEN: usize = 0 $( + <$ty as $crate::info::Field>::LEN )* + $tail;

            /// Parses the class from the start of `buf` (trailing bytes are ignored).
            pub fn parse(buf: &[u8]) -> $crate::error::Result<Self> {
                Self::read(&mut $crate::codec::Reader::new(buf))
            }

            /// Reads the class at the cursor (used by classes that embed it, like FileAllInformation).
            pub fn read(r: &mut $crate::codec::Reader<'_>) -> $crate::error::Result<Self> {
                let v = Self {
                    $( $field: <$ty as $crate::info::Field>::get(
                        r,
                        concat!(stringify!($name), ".", $wire),
                    )?, )*
                };
                r.skip($tail, concat!(stringify!($name), ".Reserved"))?;
                Ok(v)
            }

            pub fn write(&self, w: &mut $crate::codec::Writer<'_>) -> $crate::error::Result<()> {
                $( $crate::info::Field::put(self.$field, w)?; )*
                w.zeros($tail)
            }
        }

        impl $crate::codec::Encode for $name {
            fn encoded_len_at(&self, _at: usize) -> usize {
                Self::LEN
            }

            fn encode(&self, w: &mut $crate::codec::Writer<'_>) -> $crate::error::Result<()> {
                self.write(w)
            }
        }
    };
}

pub mod chain;
pub mod dir;
pub mod file;
pub mod fs;

pub use chain::{Append, ChainBuilder, ChainEntry, Entries, MAX_CHAIN_ENTRIES};
pub use fs::FsInfoClass;

/// MS-FSCC 2.4 FileInformationClass values (the `FileInfoClass` of QUERY_INFO/SET_INFO with
/// InfoType FILE, and the `FileInformationClass` of QUERY_DIRECTORY). A newtype: classes we do not
/// implement must reach the session layer, which answers STATUS_INVALID_INFO_CLASS or
/// STATUS_NOT_SUPPORTED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileInfoClass(pub u8);

impl FileInfoClass {
    pub const DIRECTORY: FileInfoClass = FileInfoClass(1);
    pub const FULL_DIRECTORY: FileInfoClass = FileInfoClass(2);
    pub const BOTH_DIRECTORY: FileInfoClass = FileInfoClass(3);
    pub const BASIC: FileInfoClass = FileInfoClass(4);
    pub const STANDARD: FileInfoClass = FileInfoClass(5);
    pub const INTERNAL: FileInfoClass = FileInfoClass(6);
    pub const EA: FileInfoClass = FileInfoClass(7);
    pub const ACCESS: FileInfoClass = FileInfoClass(8);
    pub const NAME: FileInfoClass = FileInfoClass(9);
    pub const RENAME: FileInfoClass = FileInfoClass(10);
    pub const LINK: FileInfoClass = FileInfoClass(11);
    pub const NAMES: FileInfoClass = FileInfoClass(12);
    pub const DISPOSITION: FileInfoClass = FileInfoClass(13);
    pub const POSITION: FileInfoClass = FileInfoClass(14);
    pub const FULL_EA: FileInfoClass = FileInfoClass(15);
    pub const MODE: FileInfoClass = FileInfoClass(16);
    pub const ALIGNMENT: FileInfoClass = FileInfoClass(17);
    pub const ALL: FileInfoClass = FileInfoClass(18);
    pub const ALLOCATION: FileInfoClass = FileInfoClass(19);
    pub const END_OF_FILE: FileInfoClass = FileInfoClass(20);
    pub const ALTERNATE_NAME: FileInfoClass = FileInfoClass(21);
    pub const STREAM: FileInfoClass = FileInfoClass(22);
    pub const PIPE: FileInfoClass = FileInfoClass(23);
    pub const PIPE_LOCAL: FileInfoClass = FileInfoClass(24);
    pub const PIPE_REMOTE: FileInfoClass = FileInfoClass(25);
    pub const COMPRESSION: FileInfoClass = FileInfoClass(28);
    pub const OBJECT_ID: FileInfoClass = FileInfoClass(29);
    pub const QUOTA: FileInfoClass = FileInfoClass(32);
    pub const REPARSE_POINT: FileInfoClass = FileInfoClass(33);
    pub const NETWORK_OPEN: FileInfoClass = FileInfoClass(34);
    pub const ATTRIBUTE_TAG: FileInfoClass = FileInfoClass(35);
    pub const ID_BOTH_DIRECTORY: FileInfoClass = FileInfoClass(37);
    pub const ID_FULL_DIRECTORY: FileInfoClass = FileInfoClass(38);
    pub const VALID_DATA_LENGTH: FileInfoClass = FileInfoClass(39);
    pub const SHORT_NAME: FileInfoClass = FileInfoClass(40);
    pub const SFIO_RESERVE: FileInfoClass = FileInfoClass(44);
    pub const SFIO_VOLUME: FileInfoClass = FileInfoClass(45);
    pub const HARD_LINK: FileInfoClass = FileInfoClass(46);
    pub const NORMALIZED_NAME: FileInfoClass = FileInfoClass(48);
    pub const ID_GLOBAL_TX_DIRECTORY: FileInfoClass = FileInfoClass(50);
    pub const STANDARD_LINK: FileInfoClass = FileInfoClass(54);
    pub const ID: FileInfoClass = FileInfoClass(59);
    pub const ID_EXTD_DIRECTORY: FileInfoClass = FileInfoClass(60);
    pub const ID_EXTD_BOTH_DIRECTORY: FileInfoClass = FileInfoClass(63);
    pub const DISPOSITION_EX: FileInfoClass = FileInfoClass(64);
    pub const RENAME_EX: FileInfoClass = FileInfoClass(65);
    pub const CASE_SENSITIVE: FileInfoClass = FileInfoClass(71);
    /// SMB3 POSIX extensions (not in MS-FSCC; used by Samba and Linux cifs with `posix`).
    pub const POSIX: FileInfoClass = FileInfoClass(100);
}

/// MS-FSCC 2.6 File Attributes (the `FileAttributes` u32 of many classes); the spec names them
/// `FILE_ATTRIBUTE_<NAME>`.
pub mod file_attributes {
    pub const READONLY: u32 = 0x0000_0001;
    pub const HIDDEN: u32 = 0x0000_0002;
    pub const SYSTEM: u32 = 0x0000_0004;
    pub const DIRECTORY: u32 = 0x0000_0010;
    pub const ARCHIVE: u32 = 0x0000_0020;
    /// Only valid alone: "no other attributes set".
    pub const NORMAL: u32 = 0x0000_0080;
    pub const TEMPORARY: u32 = 0x0000_0100;
    pub const SPARSE_FILE: u32 = 0x0000_0200;
    pub const REPARSE_POINT: u32 = 0x0000_0400;
    pub const COMPRESSED: u32 = 0x0000_0800;
    pub const OFFLINE: u32 = 0x0000_1000;
    pub const NOT_CONTENT_INDEXED: u32 = 0x0000_2000;
    pub const ENCRYPTED: u32 = 0x0000_4000;
    pub const INTEGRITY_STREAM: u32 = 0x0000_8000;
    pub const NO_SCRUB_DATA: u32 = 0x0002_0000;
    pub const RECALL_ON_OPEN: u32 = 0x0004_0000;
    pub const PINNED: u32 = 0x0008_0000;
    pub const UNPINNED: u32 = 0x0010_0000;
    pub const RECALL_ON_DATA_ACCESS: u32 = 0x0040_0000;
}

/// A fixed-width wire field of an information class (used by `fixed_info!`).
pub(crate) trait Field: Sized + Copy {
    const LEN: usize;
    /// The all-zero value (arrays over 32 bytes have no `Default`).
    const ZERO: Self;
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self>;
    fn put(self, w: &mut Writer<'_>) -> Result<()>;
}

impl Field for u8 {
    const ZERO: Self = 0;
    const LEN: usize = 1;
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        r.u8(field)
    }
    fn put(self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self)
    }
}

impl Field for u16 {
    const ZERO: Self = 0;
    const LEN: usize = 2;
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        r.u16(field)
    }
    fn put(self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self)
    }
}

impl Field for u32 {
    const ZERO: Self = 0;
    const LEN: usize = 4;
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        r.u32(field)
    }
    fn put(self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self)
    }
}

impl Field for u64 {
    const ZERO: Self = 0;
    const LEN: usize = 8;
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        r.u64(field)
    }
    fn put(self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self)
    }
}

/// A one-byte BOOLEAN: any non-zero byte reads as true (Windows tests `!= 0`), true writes as 1.
impl Field for bool {
    const ZERO: Self = false;
    const LEN: usize = 1;
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        Ok(r.u8(field)? != 0)
    }
    fn put(self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(u8::from(self))
    }
}

impl<const N: usize> Field for [u8; N] {
    const ZERO: Self = [0; N];
    const LEN: usize = N;
    fn get(r: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        r.array(field)
    }
    fn put(self, w: &mut Writer<'_>) -> Result<()> {
        w.bytes(&self)
    }
}

/// Classes that end in a name and may be cut to fit the client's OutputBufferLength.
///
/// MS-FSA 2.1.5.12 and 2.1.5.13 have the object store copy the fixed part whole (with the full name
/// length in its length field) and then as many name bytes as fit, returning STATUS_BUFFER_OVERFLOW.
/// A buffer smaller than [`EncodeTruncated::fixed_len`] gets STATUS_INFO_LENGTH_MISMATCH instead,
/// which the caller decides before encoding.
pub trait EncodeTruncated: crate::codec::Encode {
    /// Bytes before the name.
    fn fixed_len(&self) -> usize;

    /// Encodes at most `max` bytes; returns `true` when the name was cut (STATUS_BUFFER_OVERFLOW).
    /// Fails with [`crate::WireError::BufferTooSmall`] when `max` is below [`Self::fixed_len`].
    fn encode_truncated(&self, w: &mut Writer<'_>, max: usize) -> Result<bool>;
}

/// Checks `max` against the fixed part before a truncating encode.
pub(crate) fn check_fixed(fixed: usize, max: usize) -> Result<()> {
    if max < fixed {
        return Err(crate::error::WireError::BufferTooSmall { need: fixed, have: max });
    }
    Ok(())
}

/// Writes as much of `tail` as fits in `room` bytes; returns whether it was cut.
pub(crate) fn write_tail(w: &mut Writer<'_>, tail: &[u8], room: usize) -> Result<bool> {
    let n = tail.len().min(room);
    w.bytes(tail.get(..n).unwrap_or_default())?;
    Ok(n < tail.len())
}

/// Reads a `u32` name length then that many bytes as a UTF-16LE name.
pub(crate) fn read_name<'a>(
    r: &mut Reader<'a>,
    len_field: &'static str,
    name_field: &'static str,
) -> Result<crate::types::Utf16<'a>> {
    let len = crate::types::us(r.u32(len_field)?);
    crate::types::Utf16::new(r.bytes(len, name_field)?, name_field)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Shared strategies and helpers for the information class tests.
    use crate::codec::Encode;
    use proptest::prelude::*;

    /// UTF-16LE bytes of a short name (ASCII and a few BMP letters), at most `max` chars.
    pub fn name_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![Just('a'), Just('Z'), Just('.'), Just('~'), Just('\u{e9}'), Just('\u{4e2d}')],
            0..=max,
        )
        .prop_map(|cs| crate::types::utf16le(&cs.into_iter().collect::<String>()))
    }

    /// Encodes `v` into a buffer of exactly `encoded_len()` bytes, checking the length is exact and
    /// that one byte less is refused.
    pub fn enc<T: Encode>(v: &T) -> Vec<u8> {
        let n = v.encoded_len();
        let mut b = vec![0u8; n];
        assert_eq!(v.encode_into(&mut b).unwrap(), n, "encoded_len is not exact");
        if n > 0 {
            assert!(v.encode_into(&mut vec![0u8; n - 1]).is_err());
        }
        b
    }

    /// Every prefix of `bytes` parses or fails, never panics.
    pub fn prefixes<F: Fn(&[u8])>(bytes: &[u8], f: F) {
        for n in 0..=bytes.len() {
            f(&bytes[..n]);
        }
    }

    /// Per-class tests for `fixed_info!` classes: a round trip from arbitrary bytes (every field
    /// value reachable; reserved bytes and booleans come back canonical), exact length, and
    /// Truncated for every shorter buffer.
    macro_rules! fixed_class_tests {
        ($($t:ident),* $(,)?) => { mod fixed_classes { $(
            #[allow(non_snake_case)]
            mod $t {
                use super::super::super::$t;
                use crate::error::WireError;
                use crate::info::testutil::enc;
                use proptest::prelude::*;

                proptest! {
                    #[test]
                    fn round_trips(bytes in proptest::collection::vec(any::<u8>(), $t::LEN..=$t::LEN + 8)) {
                        let v = $t::parse(&bytes).unwrap();
                        let e = enc(&v);
                        prop_assert_eq!(e.len(), $t::LEN);
                        prop_assert_eq!($t::parse(&e).unwrap(), v);
                        prop_assert_eq!(enc(&$t::parse(&e).unwrap()), e);
                    }
                }

                #[test]
                fn short_buffers_are_truncated() {
                    let full = [0x5Au8; $t::LEN];
                    for n in 0..$t::LEN {
                        let err = $t::parse(&full[..n]).unwrap_err();
                        let ours = matches!(err, WireError::Truncated { field, .. }
                            if field.starts_with(stringify!($t)));
                        assert!(
                            ours,
                            "{} bytes: {err:?}",
                            n
                        );
                    }
                    assert_eq!($t::default(), $t::parse(&[0u8; $t::LEN]).unwrap());
                }
            }
        )* } };
    }
    pub(crate) use fixed_class_tests;
}
