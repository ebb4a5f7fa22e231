//! Strings in NTLM messages: UTF-16LE when NEGOTIATE_UNICODE was agreed, else the OEM code page (we treat
//! OEM as Latin-1, enough for the ASCII names OEM-only peers use).

use crate::error::{malformed, AuthError};

pub(crate) fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

pub(crate) fn encode(s: &str, unicode: bool) -> Vec<u8> {
    if unicode {
        utf16le(s)
    } else {
        s.chars().map(|c| u8::try_from(c).unwrap_or(b'?')).collect()
    }
}

pub(crate) fn decode(bytes: &[u8], unicode: bool, what: &'static str) -> Result<String, AuthError> {
    if !unicode {
        return Ok(bytes.iter().map(|&b| char::from(b)).collect());
    }
    if bytes.len() & 1 == 1 {
        return Err(malformed(what, "odd length for UTF-16"));
    }
    let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units).collect::<Result<String, _>>().map_err(|_| malformed(what, "invalid UTF-16"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_round_trip_and_rejects() {
        let s = "Üser名";
        assert_eq!(decode(&encode(s, true), true, "n").unwrap(), s);
        assert!(decode(&[0x41], true, "n").is_err());
        assert!(decode(&[0x00, 0xD8], true, "n").is_err(), "lone surrogate");
    }

    #[test]
    fn oem_is_latin1() {
        assert_eq!(encode("ab€", false), b"ab?");
        assert_eq!(decode(b"ab", false, "n").unwrap(), "ab");
    }
}
