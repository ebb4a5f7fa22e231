//! Errors of the security layer, each saying what failed.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("{what} needs a {expected}-byte key, got {got}")]
    KeyLength { what: &'static str, expected: usize, got: usize },

    /// AEAD open failed: wrong key, nonce, AAD, or tampered ciphertext/tag (STATUS_AUTH_TAG_MISMATCH).
    #[error("authentication tag mismatch")]
    TagMismatch,

    /// A signed PDU's signature does not verify (STATUS_INVALID_SIGNATURE / STATUS_ACCESS_DENIED).
    #[error("signature mismatch")]
    BadSignature,

    /// The per-key nonce counter reached its end. Reusing a nonce would break GCM, so the session
    /// must be re-established instead (STATUS_ENCRYPTION_FAILED).
    #[error("nonce space of this key is exhausted; the session must be re-keyed")]
    NonceExhausted,

    #[error("{what}: {len} bytes is too short")]
    TooShort { what: &'static str, len: usize },

    #[error("{what}: {detail}")]
    BadInput { what: &'static str, detail: &'static str },

    /// The backend library refused an operation it should accept (a bug or an unusual build).
    #[error("{0} failed inside the crypto backend")]
    Backend(&'static str),
}

pub type Result<T> = core::result::Result<T, CryptoError>;
