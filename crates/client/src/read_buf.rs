//! Data a READ brought back, in the buffer the connection decrypted it into. Dropping it hands the
//! buffer back to the connection for a later READ, so a stream of large reads neither copies its
//! data out of the decryption buffer nor allocates (and zero-fills) a fresh one each time.

use core::ops::Deref;

use crossbeam_channel::Sender;
use smb_client_proto::ReadData;

/// The bytes one READ returned (fewer than asked at end of file, none past it).
pub struct ReadBuf {
    data: ReadData,
    /// Back to the connection's driver; bounded, and a full or closed channel just drops the buffer.
    returns: Option<Sender<Vec<u8>>>,
}

impl ReadBuf {
    pub(crate) fn new(data: ReadData, returns: Sender<Vec<u8>>) -> ReadBuf {
        ReadBuf { data, returns: Some(returns) }
    }

    /// The data as a vector of its own (a copy, unless the data fills its whole buffer).
    pub fn into_vec(mut self) -> Vec<u8> {
        self.returns = None;
        std::mem::take(&mut self.data).into_vec()
    }
}

impl Deref for ReadBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.data
    }
}

impl AsRef<[u8]> for ReadBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl core::fmt::Debug for ReadBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ReadBuf({} bytes)", self.len())
    }
}

impl Drop for ReadBuf {
    fn drop(&mut self) {
        if let Some(tx) = self.returns.take() {
            let _ = tx.try_send(std::mem::take(&mut self.data).into_buffer());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_returns_the_whole_buffer_and_into_vec_keeps_the_data() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let data = ReadData::within(b"hdr:data".to_vec(), 4..8).unwrap();
        let b = ReadBuf::new(data.clone(), tx.clone());
        assert_eq!(&*b, b"data");
        drop(b);
        assert_eq!(rx.try_recv().unwrap(), b"hdr:data");
        assert_eq!(ReadBuf::new(data.clone(), tx.clone()).into_vec(), b"data");
        assert!(rx.try_recv().is_err(), "a buffer given away is not returned");
        // A full channel: the buffer is dropped, not blocked on.
        tx.try_send(vec![]).unwrap();
        drop(ReadBuf::new(data, tx));
        assert_eq!(rx.len(), 1);
    }
}
