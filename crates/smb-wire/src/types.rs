//! Small value types shared by many messages.

use crate::codec::{Reader, Writer};
use crate::error::{Result, WireError};

/// A 16-byte GUID as it travels (MS-DTYP 2.3.4.2, little-endian fields); compared bytewise.
pub type Guid = [u8; 16];

/// MS-SMB2 2.2.14.1 SMB2_FILEID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId {
    pub persistent: u64,
    pub volatile: u64,
}

impl FileId {
    /// All ones: "no file" in IOCTLs that target the share, and the related-operation placeholder in
    /// compounds (MS-SMB2 3.2.4.1.4).
    pub const ANY: FileId = FileId { persistent: u64::MAX, volatile: u64::MAX };

    pub fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self> {
        Ok(Self { persistent: r.u64(field)?, volatile: r.u64(field)? })
    }

    pub fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u64(self.persistent)?;
        w.u64(self.volatile)
    }
}

/// A UTF-16LE string borrowed from a message (file names, share paths). Not copied, not decoded
/// until asked; only the even length is checked at parse time.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Utf16<'a>(&'a [u8]);

impl<'a> Utf16<'a> {
    pub fn new(bytes: &'a [u8], field: &'static str) -> Result<Self> {
        if !bytes.len().is_multiple_of(2) {
            return Err(WireError::BadValue { field, value: bytes.len() as u64 });
        }
        Ok(Self(bytes))
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The byte length on the wire.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn units(&self) -> impl Iterator<Item = u16> + 'a {
        self.0.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]))
    }

    /// Decodes, failing on unpaired surrogates (path names must be exact, never "lossy").
    pub fn to_string(&self) -> core::result::Result<String, core::char::DecodeUtf16Error> {
        char::decode_utf16(self.units()).collect()
    }

    pub fn to_string_lossy(&self) -> String {
        char::decode_utf16(self.units()).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
    }
}

impl core::fmt::Debug for Utf16<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

/// Encodes `s` as UTF-16LE (for building messages; parsing never allocates for names).
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Converts a u16/u32 wire offset or length to usize (a no-op widening, named for readability).
pub(crate) fn us<T: Into<u64>>(v: T) -> usize {
    v.into() as usize
}

/// Narrows a length to the wire width, failing with the field name when it does not fit.
pub(crate) fn narrow_u16(v: usize, field: &'static str) -> Result<u16> {
    u16::try_from(v).map_err(|_| WireError::TooLarge { field, value: v, cap: u16::MAX as usize })
}

#[allow(dead_code)] // used by the message modules that carry u32 lengths
pub(crate) fn narrow_u32(v: usize, field: &'static str) -> Result<u32> {
    u32::try_from(v).map_err(|_| WireError::TooLarge { field, value: v, cap: u32::MAX as usize })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_round_trip_and_odd_length() {
        let b = utf16le("\\\\srv\\data");
        assert_eq!(Utf16::new(&b, "f").unwrap().to_string().unwrap(), "\\\\srv\\data");
        assert!(Utf16::new(&b[..3], "f").is_err());
        let lone = [0x00, 0xD8];
        assert!(Utf16::new(&lone, "f").unwrap().to_string().is_err());
    }
}
