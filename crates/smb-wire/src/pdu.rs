//! Whole SMB2 PDUs (header + body) and the body contract every command module follows.
//!
//! A body type `T` of command C provides `T::parse(pdu: &[u8]) -> Result<T>`, where `pdu` starts at the
//! SMB2 header (offsets inside bodies count from there) and may extend past the body (the caller cuts
//! compounds at NextCommand first), and implements [`Encode`] writing at position [`HEADER_LEN`].

use crate::codec::{Encode, Writer};
use crate::error::Result;
use crate::header::{Header, HEADER_LEN};

/// Encodes `header` then `body` at the start of `out`; returns the PDU length.
pub fn encode_pdu(header: &Header, body: &dyn EncodeDyn, out: &mut [u8]) -> Result<usize> {
    let mut w = Writer::new(out);
    header.encode(&mut w)?;
    body.encode_dyn(&mut w)?;
    Ok(w.pos())
}

/// Length of `header` + `body`.
pub fn pdu_len(body: &dyn EncodeDyn) -> usize {
    HEADER_LEN + body.encoded_len_dyn(HEADER_LEN)
}

/// Allocating form of [`encode_pdu`] for tests, tools and cold paths.
pub fn pdu_to_vec(header: &Header, body: &dyn EncodeDyn) -> Vec<u8> {
    let mut v = vec![0u8; pdu_len(body)];
    let n = encode_pdu(header, body, &mut v).expect("pdu_len is exact");
    v.truncate(n);
    v
}

/// Object-safe view of [`Encode`], so PDU helpers take any body.
pub trait EncodeDyn {
    fn encoded_len_dyn(&self, at: usize) -> usize;
    fn encode_dyn(&self, w: &mut Writer<'_>) -> Result<()>;
}

impl<T: Encode> EncodeDyn for T {
    fn encoded_len_dyn(&self, at: usize) -> usize {
        self.encoded_len_at(at)
    }
    fn encode_dyn(&self, w: &mut Writer<'_>) -> Result<()> {
        self.encode(w)
    }
}

/// The StructureSize at the start of a body, read without parsing the rest.
pub fn body_structure_size(pdu: &[u8]) -> Option<u16> {
    pdu.get(HEADER_LEN..HEADER_LEN + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Round-trip helpers used by every body module's tests.
    use super::*;
    use crate::header::Command;

    /// Encodes `body` behind a request header for `cmd`.
    pub fn pdu(cmd: Command, body: &dyn EncodeDyn) -> Vec<u8> {
        let v = pdu_to_vec(&Header::request(cmd, 7, 0x1122, 5), body);
        assert_eq!(v.len(), pdu_len(body), "encoded length differs from encoded_len_at");
        v
    }

    /// Every strict prefix of a valid PDU parses to an error or to some value, never a panic; the
    /// caller supplies the parser.
    pub fn prefixes_never_panic<F>(pdu: &[u8], parse: F)
    where
        F: Fn(&[u8]) -> bool,
    {
        for n in 0..pdu.len() {
            let _ = parse(&pdu[..n]);
        }
    }
}
