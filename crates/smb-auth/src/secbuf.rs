//! Little-endian fields and MS-NLMP "security buffers" (`Len u16, MaxLen u16, BufferOffset u32`, the
//! offset counted from the start of the message), read bounds-checked and written by appending payload.

use std::ops::Range;

use crate::error::{malformed, AuthError};

pub(crate) fn u16_at(msg: &[u8], at: usize, what: &'static str) -> Result<u16, AuthError> {
    match msg.get(at..at.saturating_add(2)) {
        Some(b) => Ok(u16::from_le_bytes([b[0], b[1]])),
        None => Err(malformed(what, "message too short")),
    }
}

pub(crate) fn u32_at(msg: &[u8], at: usize, what: &'static str) -> Result<u32, AuthError> {
    match msg.get(at..at.saturating_add(4)) {
        Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(malformed(what, "message too short")),
    }
}

pub(crate) fn array_at<const N: usize>(
    msg: &[u8],
    at: usize,
    what: &'static str,
) -> Result<[u8; N], AuthError> {
    msg.get(at..at.saturating_add(N))
        .and_then(|b| b.try_into().ok())
        .ok_or(malformed(what, "message too short"))
}

/// Where the security buffer described at `at` lies in `msg`. An empty buffer is an empty range at 0
/// whatever its offset says (clients put anything there), so it never points outside the message.
pub(crate) fn secbuf_range(msg: &[u8], at: usize, what: &'static str) -> Result<Range<usize>, AuthError> {
    let len = usize::from(u16_at(msg, at, what)?);
    let offset = u32_at(msg, at + 4, what)?;
    if len == 0 {
        return Ok(0..0);
    }
    let start = usize::try_from(offset).map_err(|_| malformed(what, "offset beyond the message"))?;
    let end = start.checked_add(len).ok_or(malformed(what, "offset beyond the message"))?;
    if end > msg.len() {
        return Err(malformed(what, "buffer extends beyond the message"));
    }
    Ok(start..end)
}

pub(crate) fn secbuf<'a>(msg: &'a [u8], at: usize, what: &'static str) -> Result<&'a [u8], AuthError> {
    let r = secbuf_range(msg, at, what)?;
    Ok(&msg[r])
}

/// Builds an NTLM message: a zeroed fixed part written by position, then payloads appended in order,
/// each with its security buffer filled in.
pub(crate) struct MessageBuilder {
    buf: Vec<u8>,
}

impl MessageBuilder {
    pub(crate) fn new(fixed_len: usize) -> Self {
        Self { buf: vec![0; fixed_len] }
    }

    pub(crate) fn put(&mut self, at: usize, bytes: &[u8]) {
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    pub(crate) fn put_u32(&mut self, at: usize, v: u32) {
        self.put(at, &v.to_le_bytes());
    }

    /// Appends `data` and describes it in the security buffer at `field_at`.
    pub(crate) fn payload(
        &mut self,
        field_at: usize,
        data: &[u8],
        what: &'static str,
    ) -> Result<(), AuthError> {
        let len = u16::try_from(data.len()).map_err(|_| AuthError::TooLarge {
            what,
            len: data.len(),
            max: usize::from(u16::MAX),
        })?;
        // Tokens are capped far below 4 GiB, so the offset always fits.
        let offset = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.put(field_at, &len.to_le_bytes());
        self.put(field_at + 2, &len.to_le_bytes());
        self.put_u32(field_at + 4, offset);
        self.buf.extend_from_slice(data);
        Ok(())
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_secbuf_by_its_offset() {
        let mut msg = vec![0u8; 8];
        msg[0] = 3; // Len
        msg[2] = 3; // MaxLen
        msg[4] = 8; // Offset
        msg.extend_from_slice(b"abc");
        assert_eq!(secbuf(&msg, 0, "f").unwrap(), b"abc");
    }

    #[test]
    fn rejects_a_secbuf_past_the_end_and_ignores_the_offset_of_an_empty_one() {
        let mut msg = [0u8; 10];
        msg[0] = 3;
        msg[4] = 8;
        assert!(matches!(secbuf(&msg, 0, "f"), Err(AuthError::Malformed { what: "f", .. })));
        msg[0] = 0;
        msg[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(secbuf(&msg, 0, "f").unwrap(), b"");
        msg[0] = 1;
        assert!(secbuf(&msg, 0, "f").is_err());
    }

    #[test]
    fn short_fields_are_errors() {
        assert!(u16_at(&[1], 0, "f").is_err());
        assert!(u32_at(&[1, 2, 3, 4], 1, "f").is_err());
        assert!(array_at::<8>(&[0; 7], 0, "f").is_err());
        assert!(secbuf_range(&[0; 7], 0, "f").is_err());
    }

    #[test]
    fn builder_round_trips() {
        let mut b = MessageBuilder::new(16);
        b.payload(0, b"xy", "a").unwrap();
        b.payload(8, b"", "b").unwrap();
        let msg = b.finish();
        assert_eq!(secbuf(&msg, 0, "a").unwrap(), b"xy");
        assert_eq!(secbuf(&msg, 8, "b").unwrap(), b"");
        assert_eq!(u32_at(&msg, 12, "b").unwrap(), 18, "an empty buffer points at the end, as Windows does");
        assert!(MessageBuilder::new(8).payload(0, &vec![0; 70_000], "big").is_err());
    }
}
