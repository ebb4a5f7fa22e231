//! Key material that wipes itself.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 16- or 32-byte key, zeroized on drop (clones too). No `PartialEq`: comparing secrets must be
/// constant-time and explicit.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey {
    bytes: [u8; 32],
    len: u8,
}

impl SecretKey {
    /// Copies `key` (at most 32 bytes: SMB keys are 128 or 256 bits).
    pub fn new(key: &[u8]) -> Self {
        assert!(key.len() <= 32, "SMB keys are at most 256 bits");
        let mut bytes = [0u8; 32];
        bytes[..key.len()].copy_from_slice(key);
        Self { bytes, len: key.len() as u8 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SecretKey({} bytes, redacted)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let k = SecretKey::new(&[0xAB; 16]);
        let s = format!("{k:?}");
        assert!(!s.to_lowercase().contains("ab"), "{s}");
    }

    #[test]
    fn zeroize_wipes_the_bytes() {
        let mut k = SecretKey::new(&[7; 32]);
        k.zeroize();
        assert!(k.as_bytes().iter().all(|&b| b == 0));
    }
}
