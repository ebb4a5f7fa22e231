//! MS-SMB2 2.1 Direct TCP transport framing: each message is preceded by a 4-byte prefix, a zero
//! byte and a 24-bit big-endian length (MS-SMB2 2.1, "StreamProtocolLength").
//!
//! SMB Direct does not use this prefix; its own framing is in [`crate::smbd`].

use crate::codec::Writer;
use crate::error::{Result, WireError};

/// Length of the Direct TCP prefix.
pub const FRAME_PREFIX_LEN: usize = 4;
/// The largest length 24 bits can carry.
pub const MAX_FRAME_LEN: usize = 0x00FF_FFFF;

/// What [`split_frame`] found at the start of a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Not enough bytes yet: the buffer must hold `total` bytes (prefix included) before the frame
    /// is complete. While the prefix itself is incomplete, `total` is [`FRAME_PREFIX_LEN`].
    Incomplete { total: usize },
    /// A whole message, and the bytes it took from the buffer (prefix + message).
    Complete { message: &'a [u8], consumed: usize },
}

/// Reads the frame prefix at the start of `buf`: `Ok(None)` while fewer than 4 bytes are there,
/// otherwise the message length (prefix excluded).
///
/// Fails on a non-zero first byte (NetBIOS session packets such as keepalives do not belong on
/// Direct TCP) and on a length above `max_len`, which the caller sets from its negotiated sizes
/// (e.g. 8 MiB of payload plus headroom for headers) so that no peer can make it buffer more.
pub fn read_frame_header(buf: &[u8], max_len: usize) -> Result<Option<usize>> {
    let Some(prefix) = buf.first_chunk::<FRAME_PREFIX_LEN>() else {
        return Ok(None);
    };
    if prefix[0] != 0 {
        return Err(WireError::BadValue { field: "DirectTcp.Zero", value: prefix[0].into() });
    }
    let len = usize::from(prefix[1]) << 16 | usize::from(prefix[2]) << 8 | usize::from(prefix[3]);
    crate::codec::cap(len, max_len, "DirectTcp.StreamProtocolLength")?;
    Ok(Some(len))
}

/// Splits the first frame off a receive buffer (see [`read_frame_header`] for the checks).
pub fn split_frame(buf: &[u8], max_len: usize) -> Result<Frame<'_>> {
    let Some(len) = read_frame_header(buf, max_len)? else {
        return Ok(Frame::Incomplete { total: FRAME_PREFIX_LEN });
    };
    // len < 2^24, so this cannot overflow.
    let total = FRAME_PREFIX_LEN + len;
    match buf.get(FRAME_PREFIX_LEN..total) {
        Some(message) => Ok(Frame::Complete { message, consumed: total }),
        None => Ok(Frame::Incomplete { total }),
    }
}

/// The prefix for a message of `len` bytes.
pub fn frame_prefix(len: usize) -> Result<[u8; FRAME_PREFIX_LEN]> {
    crate::codec::cap(len, MAX_FRAME_LEN, "DirectTcp.StreamProtocolLength")?;
    let b = (len as u32).to_be_bytes();
    Ok([0, b[1], b[2], b[3]])
}

/// Writes the prefix for a message of `len` bytes at the writer's position.
pub fn write_frame_prefix(w: &mut Writer<'_>, len: usize) -> Result<()> {
    w.bytes(&frame_prefix(len)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 8 * 1024 * 1024 + 64 * 1024;

    #[test]
    fn known_prefix() {
        // The NEGOTIATE request of the MS preauth integrity blog is 0xCC bytes (docs/TEST-VECTORS.md).
        assert_eq!(frame_prefix(0xCC).unwrap(), [0, 0, 0, 0xCC]);
        assert_eq!(frame_prefix(0x01_0203).unwrap(), [0, 1, 2, 3]);
        assert_eq!(frame_prefix(MAX_FRAME_LEN).unwrap(), [0, 0xFF, 0xFF, 0xFF]);
        assert_eq!(read_frame_header(&[0, 1, 2, 3, 9], usize::MAX).unwrap(), Some(0x01_0203));
    }

    #[test]
    fn partial_prefixes_are_incomplete() {
        for n in 0..4 {
            assert_eq!(read_frame_header(&[0, 0, 0, 8][..n], MAX).unwrap(), None);
            assert_eq!(split_frame(&[0, 0, 0, 8][..n], MAX).unwrap(), Frame::Incomplete { total: 4 });
        }
        assert_eq!(split_frame(&[0, 0, 0, 8, 1, 2], MAX).unwrap(), Frame::Incomplete { total: 12 });
    }

    #[test]
    fn complete_frame_leaves_the_rest() {
        let buf = [0, 0, 0, 3, 7, 8, 9, 0, 0];
        assert_eq!(split_frame(&buf, MAX).unwrap(), Frame::Complete { message: &[7, 8, 9], consumed: 7 });
        assert_eq!(split_frame(&[0, 0, 0, 0], MAX).unwrap(), Frame::Complete { message: &[], consumed: 4 });
    }

    #[test]
    fn nonzero_first_byte_is_refused() {
        // A NetBIOS keepalive (0x85) and an SMB1-style session request (0x81).
        assert_eq!(
            read_frame_header(&[0x85, 0, 0, 0], MAX),
            Err(WireError::BadValue { field: "DirectTcp.Zero", value: 0x85 })
        );
        assert!(matches!(split_frame(&[0x81, 0, 0, 0x44], MAX), Err(WireError::BadValue { .. })));
    }

    #[test]
    fn lengths_above_the_cap_are_refused() {
        assert_eq!(
            read_frame_header(&[0, 0xFF, 0xFF, 0xFF], MAX),
            Err(WireError::TooLarge {
                field: "DirectTcp.StreamProtocolLength",
                value: MAX_FRAME_LEN,
                cap: MAX
            })
        );
        assert!(read_frame_header(&[0, 0, 1, 0], 256).unwrap().is_some());
        assert!(read_frame_header(&[0, 0, 1, 1], 256).is_err());
        assert!(matches!(
            frame_prefix(MAX_FRAME_LEN + 1),
            Err(WireError::TooLarge { field: "DirectTcp.StreamProtocolLength", .. })
        ));
    }

    proptest! {
        #[test]
        fn prefix_round_trips(msg in proptest::collection::vec(any::<u8>(), 0..300), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut buf = vec![0u8; 4];
            write_frame_prefix(&mut Writer::new(&mut buf), msg.len()).unwrap();
            buf.extend_from_slice(&msg);
            buf.extend_from_slice(&tail);
            prop_assert_eq!(split_frame(&buf, MAX).unwrap(), Frame::Complete { message: &msg, consumed: 4 + msg.len() });
            for n in 0..4 + msg.len() {
                let want = if n < 4 { 4 } else { 4 + msg.len() };
                prop_assert_eq!(split_frame(&buf[..n], MAX).unwrap(), Frame::Incomplete { total: want });
            }
        }

        #[test]
        fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..16), max in any::<usize>()) {
            match split_frame(&buf, max) {
                Ok(Frame::Complete { message, consumed }) => prop_assert_eq!(message.len() + 4, consumed),
                Ok(Frame::Incomplete { total }) => prop_assert!(total > buf.len()),
                Err(_) => {}
            }
        }
    }
}
