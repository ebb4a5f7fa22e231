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
    fn channel_index_is_bounded() {
        assert!(NonceSequence::new(NonceSequence::MAX_CHANNEL).is_ok());
        assert!(NonceSequence::new(NonceSequence::MAX_CHANNEL + 1).is_err());
    }
}
