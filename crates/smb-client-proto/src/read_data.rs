//! MS-SMB2 2.2.20 READ response data, left in the buffer the response was decrypted into: the
//! decryption already wrote every byte once, so handing the buffer over (rather than copying the
//! data out of it) saves a pass over each megabyte read. The caller may give the buffer back with
//! [`crate::ClientConnection::recycle`] once done with the data.

use core::ops::{Deref, Range};

/// The data of one READ response: `buf[range]`.
#[derive(Clone, Default)]
pub struct ReadData {
    buf: Vec<u8>,
    range: Range<usize>,
}

impl ReadData {
    /// The bytes at `range` of `buf`; `None` if `range` does not lie within `buf`.
    pub fn within(buf: Vec<u8>, range: Range<usize>) -> Option<ReadData> {
        (range.start <= range.end && range.end <= buf.len()).then_some(ReadData { buf, range })
    }

    /// The data as a vector of its own (copied unless it fills the whole buffer).
    pub fn into_vec(self) -> Vec<u8> {
        if self.range.start == 0 && self.range.end == self.buf.len() {
            self.buf
        } else {
            self.buf[self.range].to_vec()
        }
    }

    /// The whole buffer the data lies in, for reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}

impl From<Vec<u8>> for ReadData {
    fn from(buf: Vec<u8>) -> ReadData {
        let range = 0..buf.len();
        ReadData { buf, range }
    }
}

impl Deref for ReadData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }
}

impl AsRef<[u8]> for ReadData {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for ReadData {
    fn eq(&self, other: &ReadData) -> bool {
        **self == **other
    }
}

impl Eq for ReadData {}

impl core::fmt::Debug for ReadData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ReadData({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_the_range_and_the_buffer_comes_back_whole() {
        let d = ReadData::within(b"..data..".to_vec(), 2..6).unwrap();
        assert_eq!(&*d, b"data");
        assert_eq!(d, ReadData::from(b"data".to_vec()));
        assert_eq!(d.clone().into_vec(), b"data");
        assert_eq!(d.into_buffer(), b"..data..");
        assert_eq!(ReadData::from(vec![7; 3]).into_vec(), [7; 3]);
    }

    #[test]
    fn a_range_outside_the_buffer_is_refused() {
        assert!(ReadData::within(vec![0; 4], 2..5).is_none());
        assert!(ReadData::within(vec![0; 4], 5..5).is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 3..2;
        assert!(ReadData::within(vec![0; 4], backwards).is_none());
    }
}
