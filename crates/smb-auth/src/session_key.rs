//! The ExportedSessionKey that NTLM hands to SMB2 as Session.SessionKey (MS-SMB2 3.3.5.5.3).

use zeroize::{Zeroize, ZeroizeOnDrop};

/// 16-byte ExportedSessionKey: wiped when dropped, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SessionKey([u8; 16]);

impl SessionKey {
    pub fn new(key: [u8; 16]) -> Self {
        Self(key)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn as_array(&self) -> &[u8; 16] {
        &self.0
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = SessionKey::new([0xAB; 16]);
        let shown = format!("{k:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert_eq!(k.as_bytes(), &[0xAB; 16]);
    }
}
