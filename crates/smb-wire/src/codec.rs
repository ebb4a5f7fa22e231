//! Bounds-checked little-endian cursors over borrowed bytes, and the [`Encode`] trait.
//!
//! Every read names the field it reads, so a truncated message reports which field was cut.
//! SMB2 counts body offsets from the start of the SMB2 header, so both cursors count positions from
//! the start of the slice they were given: callers hand them the slice that begins at the header.

use crate::error::{Result, WireError};

/// A read cursor over a borrowed message.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A cursor over `buf` positioned at `pos` (positions still count from `buf[0]`).
    pub fn at(buf: &'a [u8], pos: usize) -> Result<Self> {
        if pos > buf.len() {
            return Err(WireError::Truncated { field: "start", at: pos, need: 0, have: buf.len() });
        }
        Ok(Self { buf, pos })
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Everything from the cursor to the end, consuming it.
    pub fn rest(&mut self) -> &'a [u8] {
        let r = &self.buf[self.pos..];
        self.pos = self.buf.len();
        r
    }

    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(WireError::Truncated { field, at: self.pos, need: n, have: self.remaining() });
        }
        let r = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(r)
    }

    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
        let b = self.bytes(N, field)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    pub fn skip(&mut self, n: usize, field: &'static str) -> Result<()> {
        self.bytes(n, field).map(|_| ())
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8> {
        Ok(self.array::<1>(field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    pub fn u16_be(&mut self, field: &'static str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub fn u32_be(&mut self, field: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// Reads a u16 that must equal `expected` (StructureSize and similar fixed fields).
    pub fn expect_u16(&mut self, expected: u16, field: &'static str) -> Result<()> {
        let v = self.u16(field)?;
        if v != expected {
            return Err(WireError::BadValue { field, value: v.into() });
        }
        Ok(())
    }

    /// Skips forward to the next multiple of `align` (counted from the start of the buffer).
    pub fn align(&mut self, align: usize, field: &'static str) -> Result<()> {
        let pad = padding(self.pos, align);
        self.skip(pad, field)
    }
}

/// The sub-slice `[offset, offset + len)` of `buf`, or an error naming `field` when it lies outside.
pub fn slice_at<'a>(buf: &'a [u8], offset: usize, len: usize, field: &'static str) -> Result<&'a [u8]> {
    let end = offset.checked_add(len).filter(|&e| e <= buf.len()).ok_or(WireError::OutOfBounds {
        field,
        offset,
        len,
        msg_len: buf.len(),
    })?;
    Ok(&buf[offset..end])
}

/// Like [`slice_at`], but an empty field may carry any offset (clients often send 0 there).
pub fn slice_at_or_empty<'a>(
    buf: &'a [u8],
    offset: usize,
    len: usize,
    field: &'static str,
) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    slice_at(buf, offset, len, field)
}

/// Bytes of padding needed to bring `pos` up to a multiple of `align`.
pub const fn padding(pos: usize, align: usize) -> usize {
    (align - pos % align) % align
}

/// `pos` rounded up to a multiple of `align`.
pub const fn align_up(pos: usize, align: usize) -> usize {
    pos + padding(pos, align)
}

/// Fails with [`WireError::TooLarge`] when `value > cap`.
pub fn cap(value: usize, cap: usize, field: &'static str) -> Result<usize> {
    if value > cap {
        return Err(WireError::TooLarge { field, value, cap });
    }
    Ok(value)
}

/// A write cursor into a caller's buffer (registered memory, a pooled send buffer, a `Vec`).
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A writer over `buf` positioned at `pos`: bodies are encoded after a header already in place,
    /// with positions (and so offsets) still counted from `buf[0]`.
    pub fn at(buf: &'a mut [u8], pos: usize) -> Result<Self> {
        if pos > buf.len() {
            return Err(WireError::BufferTooSmall { need: pos, have: buf.len() });
        }
        Ok(Self { buf, pos })
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    fn room(&mut self, n: usize) -> Result<&mut [u8]> {
        let end = self.pos + n;
        if end > self.buf.len() {
            return Err(WireError::BufferTooSmall { need: end, have: self.buf.len() });
        }
        let s = &mut self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<()> {
        self.room(b.len())?.copy_from_slice(b);
        Ok(())
    }

    pub fn zeros(&mut self, n: usize) -> Result<()> {
        self.room(n)?.fill(0);
        Ok(())
    }

    pub fn u8(&mut self, v: u8) -> Result<()> {
        self.bytes(&[v])
    }

    pub fn u16(&mut self, v: u16) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn u64(&mut self, v: u64) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn u16_be(&mut self, v: u16) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    pub fn u32_be(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// Zero padding up to the next multiple of `align` (counted from the start of the buffer).
    pub fn align(&mut self, align: usize) -> Result<()> {
        self.zeros(padding(self.pos, align))
    }

    /// Overwrites a u16 already written at `at` (back-patching lengths and offsets).
    pub fn patch_u16(&mut self, at: usize, v: u16) -> Result<()> {
        self.patch(at, &v.to_le_bytes())
    }

    pub fn patch_u32(&mut self, at: usize, v: u32) -> Result<()> {
        self.patch(at, &v.to_le_bytes())
    }

    fn patch(&mut self, at: usize, b: &[u8]) -> Result<()> {
        if at + b.len() > self.pos {
            return Err(WireError::BufferTooSmall { need: at + b.len(), have: self.pos });
        }
        self.buf[at..at + b.len()].copy_from_slice(b);
        Ok(())
    }
}

/// A value with a wire encoding.
///
/// `encode` writes at the writer's position; for SMB2 bodies the writer's origin must be the start of
/// the SMB2 header because the body's offsets are counted from there.
pub trait Encode {
    /// Bytes `encode` will write when started at writer position `at` (alignment padding may depend
    /// on it).
    fn encoded_len_at(&self, at: usize) -> usize;

    fn encode(&self, w: &mut Writer<'_>) -> Result<()>;

    /// Bytes `encode` writes when started at position 0.
    fn encoded_len(&self) -> usize {
        self.encoded_len_at(0)
    }

    /// Encodes at the start of `out`, returning the number of bytes written.
    fn encode_into(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out);
        self.encode(&mut w)?;
        Ok(w.pos())
    }

    /// Convenience for tests and cold paths; hot paths encode into pooled buffers instead.
    fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.encoded_len()];
        let n = self.encode_into(&mut v).expect("encoded_len is exact");
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_the_truncated_field() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16("a").unwrap(), 0x0201);
        assert_eq!(r.u32("b"), Err(WireError::Truncated { field: "b", at: 2, need: 4, have: 1 }));
    }

    #[test]
    fn slice_at_rejects_overflowing_offsets() {
        let buf = [0u8; 8];
        assert!(slice_at(&buf, usize::MAX, 2, "f").is_err());
        assert!(slice_at(&buf, 4, 5, "f").is_err());
        assert_eq!(slice_at(&buf, 4, 4, "f").unwrap().len(), 4);
    }

    #[test]
    fn writer_refuses_to_overrun() {
        let mut b = [0u8; 3];
        let mut w = Writer::new(&mut b);
        w.u16(7).unwrap();
        assert_eq!(w.u16(1), Err(WireError::BufferTooSmall { need: 4, have: 3 }));
    }

    #[test]
    fn padding_is_to_the_next_multiple() {
        assert_eq!(padding(0, 8), 0);
        assert_eq!(padding(1, 8), 7);
        assert_eq!(padding(8, 8), 0);
        assert_eq!(align_up(13, 8), 16);
    }
}
