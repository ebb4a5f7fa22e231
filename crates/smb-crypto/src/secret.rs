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

/// Wipes a buffer it borrows when it goes out of scope, on every way out: the end of the block, an
/// early `?` return, a panic unwinding. For key bytes in storage the code holding them does not get
/// to choose (a session key an authenticator hands over as a plain `Vec`), where [`zeroize::Zeroizing`]
/// would need the owner's type changed. Reads go through [`core::ops::Deref`].
pub struct WipeOnDrop<'a>(&'a mut [u8]);

impl<'a> WipeOnDrop<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self(buf)
    }
}

impl core::ops::Deref for WipeOnDrop<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.0
    }
}

impl Drop for WipeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl core::fmt::Debug for WipeOnDrop<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "WipeOnDrop({} bytes, redacted)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only for types that wipe themselves when dropped.
    fn wipes_on_drop<T: ZeroizeOnDrop>() {}

    /// The key holders wipe on drop: ours by derive, RustCrypto's AES and CMAC schedules by their
    /// crates' `zeroize` features (this stops compiling if one of those features is dropped from
    /// Cargo.toml). aws-lc-rs cleanses in C, out of the type system's sight (see `AeadKey`).
    #[test]
    fn key_holders_are_zeroize_on_drop() {
        wipes_on_drop::<SecretKey>();
        wipes_on_drop::<zeroize::Zeroizing<[u8; 16]>>();
        wipes_on_drop::<aes::Aes128>();
        wipes_on_drop::<aes::Aes256>();
        wipes_on_drop::<cmac::CmacCore<aes::Aes128>>();
    }

    #[test]
    fn wipe_on_drop_wipes_at_the_end_of_scope() {
        let mut key = vec![0x5A; 16];
        {
            let k = WipeOnDrop::new(&mut key);
            assert_eq!(&k[..], &[0x5A; 16], "readable while held");
        }
        assert_eq!(key, [0; 16]);
    }

    #[test]
    fn wipe_on_drop_wipes_on_an_early_return() {
        fn fails_after_taking(key: &mut [u8]) -> Result<(), &'static str> {
            let k = WipeOnDrop::new(key);
            if k[0] == 0x5A {
                return Err("refused");
            }
            Ok(())
        }
        let mut key = [0x5A; 32];
        assert_eq!(fails_after_taking(&mut key), Err("refused"));
        assert_eq!(key, [0; 32]);
    }

    #[test]
    fn wipe_on_drop_wipes_while_unwinding() {
        let mut key = [0x5A; 16];
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _k = WipeOnDrop::new(&mut key);
            panic!("mid-derivation");
        }));
        assert!(r.is_err());
        assert_eq!(key, [0; 16]);
    }

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
