//! The two implementations behind every primitive.
//!
//! `AwsLc` (aws-lc-rs) is the fast path: AES-GCM and GMAC with AES-NI/VAES/VPCLMULQDQ, SHA-2 and HMAC in
//! assembly. `RustCrypto` (aes-gcm, aes, ccm, cmac, hmac, sha2) is the portable backend and the
//! cross-check. aws-lc-rs has no AES-CCM, so CCM always runs on RustCrypto; [`Backend::aead_impl`] says
//! which library really runs so benchmarks never label one library's figures with the other's name.

use crate::cipher::Cipher;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    AwsLc,
    RustCrypto,
}

impl Backend {
    pub const FAST: Backend = Backend::AwsLc;
    pub const PORTABLE: Backend = Backend::RustCrypto;
    pub const ALL: [Backend; 2] = [Backend::AwsLc, Backend::RustCrypto];

    pub fn name(self) -> &'static str {
        match self {
            Backend::AwsLc => "aws-lc-rs",
            Backend::RustCrypto => "rustcrypto",
        }
    }

    /// The library that actually seals with `cipher` when this backend is asked to.
    pub fn aead_impl(self, cipher: Cipher) -> Backend {
        match (self, cipher) {
            (Backend::AwsLc, Cipher::Aes128Gcm | Cipher::Aes256Gcm) => Backend::AwsLc,
            _ => Backend::RustCrypto,
        }
    }

    pub fn parse(s: &str) -> Option<Backend> {
        match s {
            "aws-lc-rs" | "aws-lc" | "awslc" | "fast" => Some(Backend::AwsLc),
            "rustcrypto" | "rust-crypto" | "portable" => Some(Backend::RustCrypto),
            _ => None,
        }
    }
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
