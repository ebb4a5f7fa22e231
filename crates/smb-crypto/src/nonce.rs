//! Nonces that cannot repeat under one key.
//!
//! A GCM nonce used twice under one key leaks the authentication key and the XOR of two plaintexts, so
//! nonces come from a counter, never from chance alone. Each sender direction has its own key (C2S / S2C),
//! and within a session the channels bound to it share that key: each channel therefore owns a
//! [`NonceSequence`] with a distinct channel index, which goes into bytes 8..11 beside a 64-bit counter
//! in bytes 0..8. Distinct (channel, counter) pairs give distinct nonces for both the 11-byte CCM and the
//! 12-byte GCM nonce, with no shared state between reactors.

use crate::cipher::Cipher;
use crate::error::{CryptoError, Result};

/// The 16-byte Nonce field of a TRANSFORM_HEADER: CCM uses the first 11 bytes, GCM the first 12; the
/// rest is zero on send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nonce(pub [u8; 16]);

impl Nonce {
    /// The bytes that feed `cipher`.
    pub fn cipher_bytes(&self, cipher: Cipher) -> &[u8] {
        &self.0[..cipher.nonce_len()]
    }

    /// From a received header field (all 16 bytes, used as AAD too).
    pub fn from_field(field: [u8; 16]) -> Self {
        Self(field)
    }
}

/// A per-(session key, channel) nonce counter that refuses to wrap.
#[derive(Debug)]
pub struct NonceSequence {
    next: u64,
    channel: [u8; 3],
    exhausted: bool,
}

impl NonceSequence {
    /// Largest channel index: 3 bytes fit in the 11-byte CCM nonce after the 8-byte counter.
    pub const MAX_CHANNEL: u32 = 0x00FF_FFFF;

    /// A fresh sequence for channel `channel` of a session (0 for the first channel).
    pub fn new(channel: u32) -> Result<Self> {
        Self::starting_at(channel, 0)
    }

    /// A sequence whose next counter value is `next` (tests use it to reach the end quickly).
    pub fn starting_at(channel: u32, next: u64) -> Result<Self> {
        if channel > Self::MAX_CHANNEL {
            return Err(CryptoError::BadInput {
                what: "NonceSequence",
                detail: "channel index above 2^24-1",
            });
        }
        let c = channel.to_le_bytes();
        Ok(Self { next, channel: [c[0], c[1], c[2]], exhausted: false })
    }

    /// The next nonce. Fails forever once the counter has issued u64::MAX, rather than wrapping.
    pub fn next_nonce(&mut self) -> Result<Nonce> {
        if self.exhausted {
            return Err(CryptoError::NonceExhausted);
        }
        let mut n = [0u8; 16];
        n[..8].copy_from_slice(&self.next.to_le_bytes());
        n[8..11].copy_from_slice(&self.channel);
        match self.next.checked_add(1) {
            Some(v) => self.next = v,
            None => self.exhausted = true,
        }
        Ok(Nonce(n))
    }

    /// How many nonces this sequence can still issue.
    pub fn remaining(&self) -> u128 {
        if self.exhausted {
            0
        } else {
            u128::from(u64::MAX - self.next) + 1
        }
    }
}

/// The 12-byte GMAC nonces of SIGNING RDMA transforms (MS-SMB2 2.2.43.1: "implementation-specific",
/// carried in the transform) for one end and channel of a session.
///
/// Both ends sign with the same Session.SigningKey, and header signing already takes GMAC nonces of
/// its own under that key (3.1.4.1: MessageId in bytes 0..8, a 4-byte field whose bit 0 says
/// "server" and bit 1 "CANCEL", all else zero). A transform nonce must collide with none of them,
/// nor with the peer's transform nonces, nor with another channel's, so it is laid out as
///
/// | bytes | holds |
/// |---|---|
/// | 0..8 | a counter, never wrapping |
/// | 8..11 | the channel index (24 bits, as in [`NonceSequence`]) |
/// | 11 | `0x80` (never set by header signing, whose byte 11 is zero) \| `0x01` when the server signs |
#[derive(Debug)]
pub struct TransformNonces {
    next: u64,
    tail: [u8; 4],
    exhausted: bool,
}

impl TransformNonces {
    /// Byte 11's mark that no header-signing nonce carries.
    pub const TRANSFORM_MARK: u8 = 0x80;

    /// The sequence of `server`'s end (true) or the client's (false) on channel `channel`.
    pub fn new(server: bool, channel: u32) -> Result<Self> {
        Self::starting_at(server, channel, 0)
    }

    /// A sequence whose next counter value is `next` (tests use it to reach the end quickly).
    pub fn starting_at(server: bool, channel: u32, next: u64) -> Result<Self> {
        if channel > NonceSequence::MAX_CHANNEL {
            return Err(CryptoError::BadInput {
                what: "TransformNonces",
                detail: "channel index above 2^24-1",
            });
        }
        let c = channel.to_le_bytes();
        let tail = [c[0], c[1], c[2], Self::TRANSFORM_MARK | u8::from(server)];
        Ok(Self { next, tail, exhausted: false })
    }

    /// The next nonce; fails forever once the counter is spent, rather than wrapping.
    pub fn next_nonce(&mut self) -> Result<[u8; 12]> {
        if self.exhausted {
            return Err(CryptoError::NonceExhausted);
        }
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&self.next.to_le_bytes());
        n[8..].copy_from_slice(&self.tail);
        match self.next.checked_add(1) {
            Some(v) => self.next = v,
            None => self.exhausted = true,
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nonces_are_distinct_and_unused_bytes_zero() {
        let mut s = NonceSequence::new(5).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let n = s.next_nonce().unwrap();
            assert_eq!(&n.0[11..], &[0; 5]);
            assert!(seen.insert(n.cipher_bytes(Cipher::Aes128Ccm).to_vec()), "CCM nonce repeated");
        }
    }

    #[test]
    fn channels_never_collide() {
        let mut a = NonceSequence::new(0).unwrap();
        let mut b = NonceSequence::new(1).unwrap();
        for _ in 0..1000 {
            assert_ne!(a.next_nonce().unwrap().0[..11], b.next_nonce().unwrap().0[..11]);
        }
    }

    #[test]
    fn wrap_around_is_refused_not_reused() {
        let mut s = NonceSequence::starting_at(0, u64::MAX - 1).unwrap();
        let a = s.next_nonce().unwrap();
        let b = s.next_nonce().unwrap();
        assert_ne!(a, b);
        assert_eq!(&b.0[..8], &u64::MAX.to_le_bytes());
        assert_eq!(s.remaining(), 0);
        // Once exhausted it stays exhausted: in particular counter 0 is never issued again.
        for _ in 0..3 {
            assert_eq!(s.next_nonce(), Err(CryptoError::NonceExhausted));
        }
    }

    #[test]
    fn transform_nonces_differ_by_end_and_channel_and_never_look_like_header_nonces() {
        let mut seen = HashSet::new();
        for (server, channel) in [(false, 0), (true, 0), (false, 1), (true, 0x00FF_FFFF)] {
            let mut s = TransformNonces::new(server, channel).unwrap();
            for _ in 0..1000 {
                let n = s.next_nonce().unwrap();
                assert_eq!(n[11] & TransformNonces::TRANSFORM_MARK, TransformNonces::TRANSFORM_MARK);
                assert_eq!(n[11] & 1, u8::from(server));
                assert!(seen.insert(n), "transform nonce repeated");
            }
        }
        let mut s = TransformNonces::starting_at(true, 0, u64::MAX).unwrap();
        assert!(s.next_nonce().is_ok());
        assert_eq!(s.next_nonce(), Err(CryptoError::NonceExhausted));
        assert!(TransformNonces::new(false, NonceSequence::MAX_CHANNEL + 1).is_err());
    }

    #[test]
    fn channel_index_is_bounded() {
        assert!(NonceSequence::new(NonceSequence::MAX_CHANNEL).is_ok());
        assert!(NonceSequence::new(NonceSequence::MAX_CHANNEL + 1).is_err());
    }
}
