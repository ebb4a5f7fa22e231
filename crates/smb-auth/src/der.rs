//! The sliver of ASN.1 DER that SPNEGO needs: single-byte tags, definite lengths up to 4 length bytes,
//! every length checked against what is left. No recursion: callers walk the fixed SPNEGO shape.

use crate::error::{malformed, AuthError};

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const OID: u8 = 0x06;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const ENUMERATED: u8 = 0x0A;
pub(crate) const GENERAL_STRING: u8 = 0x1B;

/// Context-specific constructed tag `[n]`.
pub(crate) const fn ctx(n: u8) -> u8 {
    0xA0 | n
}

/// One TLV borrowed from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    /// The whole encoding, tag and length included (what a mechListMIC is computed over).
    pub raw: &'a [u8],
}

/// Reads the TLV at the start of `input`; returns it and the bytes after it.
pub(crate) fn read<'a>(input: &'a [u8], what: &'static str) -> Result<(Tlv<'a>, &'a [u8]), AuthError> {
    let (&tag, rest) = input.split_first().ok_or(malformed(what, "DER: empty"))?;
    if tag & 0x1F == 0x1F {
        return Err(malformed(what, "DER: multi-byte tag"));
    }
    let (&first, mut rest) = rest.split_first().ok_or(malformed(what, "DER: no length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 {
            return Err(malformed(what, "DER: indefinite length"));
        }
        if n > 4 || n > rest.len() {
            return Err(malformed(what, "DER: bad long-form length"));
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if len > rest.len() {
        return Err(malformed(what, "DER: length beyond the token"));
    }
    let header = input.len() - rest.len();
    let tlv = Tlv { tag, content: &rest[..len], raw: &input[..header + len] };
    Ok((tlv, &rest[len..]))
}

/// Reads a TLV that must carry `tag`.
pub(crate) fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(Tlv<'a>, &'a [u8]), AuthError> {
    let (tlv, rest) = read(input, what)?;
    if tlv.tag != tag {
        return Err(malformed(what, "DER: unexpected tag"));
    }
    Ok((tlv, rest))
}

/// Reads a TLV that must carry `tag` and fill `input` exactly.
pub(crate) fn expect_only<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>, AuthError> {
    let (tlv, rest) = expect(input, tag, what)?;
    if !rest.is_empty() {
        return Err(malformed(what, "DER: trailing bytes"));
    }
    Ok(tlv)
}

/// Appends `tag || length || content`.
pub(crate) fn push(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    push(&mut out, tag, content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 70_000] {
            let content = vec![0xAB; len];
            let enc = tlv(OCTET_STRING, &content);
            let (t, rest) = read(&enc, "t").unwrap();
            assert_eq!(t.tag, OCTET_STRING);
            assert_eq!(t.content.len(), len);
            assert_eq!(t.raw, &enc[..]);
            assert!(rest.is_empty());
        }
        assert_eq!(tlv(OCTET_STRING, &[0; 128])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(OCTET_STRING, &[0; 256])[..4], [0x04, 0x82, 0x01, 0x00]);
    }

    #[test]
    fn rejects_what_it_cannot_bound() {
        assert!(read(&[], "t").is_err());
        assert!(read(&[0x04], "t").is_err());
        assert!(read(&[0x04, 0x80, 0, 0], "t").is_err(), "indefinite");
        assert!(read(&[0x04, 0x85, 1, 1, 1, 1, 1], "t").is_err(), "5 length bytes");
        assert!(read(&[0x04, 0x82, 0x01], "t").is_err(), "truncated length");
        assert!(read(&[0x04, 0x03, 1, 2], "t").is_err(), "content past the end");
        assert!(read(&[0x1F, 0x01, 0], "t").is_err(), "high tag number");
        assert!(expect(&[0x04, 0x00], SEQUENCE, "t").is_err());
        assert!(expect_only(&[0x04, 0x00, 0x00], OCTET_STRING, "t").is_err());
    }

    #[test]
    fn non_minimal_lengths_are_tolerated() {
        let (t, _) = read(&[0x04, 0x81, 0x01, 0x07], "t").unwrap();
        assert_eq!(t.content, &[7]);
    }
}
