//! One response PDU on its way out, and the buffer layout that lets a large READ response go from
//! the file to the socket without a user-space copy: the file is read straight into the response
//! (data at PDU offset 0x50, MS-SMB2 2.2.20), the PDU is sealed where it lies, the TRANSFORM_HEADER
//! (MS-SMB2 2.2.41) is written into room left in front of it, and the whole buffer is handed to the
//! transport ([`super::Transmit::send_owned`]).

use smb_crypto::transform::TRANSFORM_HEADER_LEN;
use smb_wire::header::HEADER_LEN;
use smb_wire::read::ReadResponse;

/// Where a READ response's data starts in its PDU: header + the 16 fixed bytes (DataOffset 0x50).
pub(super) const READ_DATA_OFFSET: usize = HEADER_LEN + 16;

/// Alignment of the READ data area, so that the file layer can read into it with O_DIRECT.
pub(super) const DATA_ALIGN: usize = 4096;

/// Room kept in front of the PDU for the transform header.
pub(super) const HEADROOM: usize = TRANSFORM_HEADER_LEN;

/// Room kept after a READ's data: `AeadKey::seal_from` needs 16 bytes of scratch there.
pub(super) const TAILROOM: usize = 16;

/// A response PDU: `buf[start..end]`. Replies built in a plain `Vec` have `start == 0` and no
/// headroom; READ replies are laid out by [`Reply::for_read`].
pub(super) struct Reply {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// READ data the handler lent instead of filling the data area: sealed from where it lies
    /// ([`super::Connection`]'s `transmit_reply`), or copied in first ([`Reply::take_in_lent`]).
    pub(super) lent: Option<Box<dyn crate::handler::LentBytes>>,
}

impl Reply {
    pub(super) fn from_vec(buf: Vec<u8>) -> Reply {
        let end = buf.len();
        Reply { buf, start: 0, end, lent: None }
    }

    /// A READ response of up to `len` data bytes in `buf` (a recycled buffer keeps its old length, so
    /// only growth is zero-filled): the data area at PDU offset 0x50 starts on a [`DATA_ALIGN`]
    /// boundary and at least [`HEADROOM`] bytes precede the PDU. The PDU is `len` data bytes long
    /// until [`Reply::finish_read`] says how many were read; until then the data area holds whatever
    /// the buffer held before, which the caller overwrites or cuts off.
    pub(super) fn for_read(mut buf: Vec<u8>, len: usize) -> Reply {
        let need = DATA_ALIGN + HEADROOM + READ_DATA_OFFSET + len + TAILROOM;
        if buf.len() < need {
            buf.resize(need, 0);
        }
        // The first offset at or after HEADROOM + 0x50 whose address is aligned; fits in `need`.
        let first = buf.as_ptr().align_offset(DATA_ALIGN);
        let min = HEADROOM + READ_DATA_OFFSET;
        let data_at =
            if first >= min { first } else { first + DATA_ALIGN * (min - first).div_ceil(DATA_ALIGN) };
        let start = data_at - READ_DATA_OFFSET;
        Reply { buf, start, end: data_at + len, lent: None }
    }

    /// Copies lent READ data into the data area (for a response that is signed, plain, or part of a
    /// compound: nothing gained by sealing from where it lies). When the lent bytes could not be read
    /// as they lay, reads them the ordinary way and cuts the data to what that read. Returns the
    /// data's length when there was lent data (zero: none of it is left).
    pub(super) fn take_in_lent(&mut self) -> Option<usize> {
        let lent = self.lent.take()?;
        let area = self.read_data();
        let n = lent.len().min(area.len());
        let ok = lent.with_bytes(&mut |b| area[..n].copy_from_slice(&b[..n]));
        if ok {
            return Some(n);
        }
        let got = lent.read_into(&mut area[..n]).unwrap_or(0);
        self.finish_read(got);
        Some(got)
    }

    /// The buffer for sealing a READ response from lent data: the PDU's head (header and fixed part)
    /// in place, the data area and the [`TAILROOM`] after it for the ciphertext.
    pub(super) fn seal_layout(&mut self) -> (&mut [u8], &mut [u8], usize) {
        let (front, rest) = self.buf.split_at_mut(self.start);
        let msg = &mut rest[..self.end - self.start + TAILROOM];
        (front, msg, READ_DATA_OFFSET)
    }

    /// The READ data area (`len` bytes as given to [`Reply::for_read`]).
    pub(super) fn read_data(&mut self) -> &mut [u8] {
        &mut self.buf[self.start + READ_DATA_OFFSET..self.end]
    }

    /// Where the READ data area lies in the buffer.
    pub(super) fn data_range(&self) -> std::ops::Range<usize> {
        self.start + READ_DATA_OFFSET..self.end
    }

    /// Cuts the READ data to the `n` bytes read and writes the READ response's fixed part in front of
    /// it (the header is written later, as for every reply).
    pub(super) fn finish_read(&mut self, n: usize) {
        let n = n.min(self.end - self.start - READ_DATA_OFFSET);
        self.end = self.start + READ_DATA_OFFSET + n;
        let rsp = ReadResponse { data_remaining: 0, flags: 0, data: &[] };
        let pdu = &mut self.buf[self.start..self.end];
        if let Ok(mut w) = smb_wire::codec::Writer::at(pdu, HEADER_LEN) {
            // 16 bytes at offset 64 of a PDU of at least 80 bytes: encoding cannot run out of room, and
            // DataOffset 0x50 fits its byte.
            let _ = rsp.encode_head(n, &mut w);
        }
    }

    pub(super) fn pdu(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn pdu_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    pub(super) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Room in front of the PDU.
    pub(super) fn headroom(&self) -> usize {
        self.start
    }

    /// The buffer and the PDU's place in it, with `front` bytes before the PDU included
    /// (`front <= headroom()`).
    pub(super) fn into_parts(self, front: usize) -> (Vec<u8>, std::ops::Range<usize>) {
        let from = self.start - front.min(self.start);
        (self.buf, from..self.end)
    }

    /// The underlying buffer, for reuse.
    pub(super) fn into_buf(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes in front of the PDU and the PDU, mutably and apart.
    pub(super) fn split_front(&mut self) -> (&mut [u8], &mut [u8]) {
        let (front, rest) = self.buf.split_at_mut(self.start);
        (front, &mut rest[..self.end - self.start])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_layout_aligns_the_data_and_leaves_headroom() {
        for len in [0, 1, 4096, 65536 + 17] {
            for stale in [0, 100, 9000] {
                let mut r = Reply::for_read(vec![0xAB; stale], len);
                assert!(r.headroom() >= HEADROOM);
                assert_eq!(r.read_data().len(), len);
                assert_eq!(r.read_data().as_ptr() as usize % DATA_ALIGN, 0);
                assert_eq!(r.len(), READ_DATA_OFFSET + len);
            }
        }
    }

    #[test]
    fn finish_read_cuts_to_the_bytes_read_and_encodes_the_head() {
        let mut r = Reply::for_read(Vec::new(), 100);
        r.read_data().fill(7);
        r.finish_read(60);
        assert_eq!(r.len(), READ_DATA_OFFSET + 60);
        let rsp = ReadResponse::parse(r.pdu()).unwrap();
        assert_eq!(rsp.data, &[7u8; 60][..]);
        // More than the area holds is clamped, never read past it.
        r.finish_read(1000);
        assert_eq!(ReadResponse::parse(r.pdu()).unwrap().data.len(), 60);
    }

    #[test]
    fn parts_include_the_front_asked_for() {
        let r = Reply::for_read(Vec::new(), 10);
        let (start, end) = (r.headroom(), r.headroom() + r.len());
        let (buf, range) = r.into_parts(HEADROOM);
        assert_eq!(range, start - HEADROOM..end);
        assert!(range.end <= buf.len());
        let (_, range) = Reply::from_vec(vec![1, 2, 3]).into_parts(HEADROOM);
        assert_eq!(range, 0..3);
    }
}
