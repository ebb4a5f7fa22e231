//! The implementations behind every primitive, and which one runs.
//!
//! - `AwsLc` (aws-lc-rs): AES-GCM and GMAC with AES-NI/VAES/VPCLMULQDQ (and AVX-512 where aws-lc enables
//!   it), AES-CMAC, SHA-2 and HMAC in assembly.
//! - `Ring` (ring): AES-GCM and GMAC only. Its VAES/AVX2 GCM is the faster one on CPUs where aws-lc
//!   has no wide path (measured on an AMD EPYC with AVX2 and VAES but no AVX-512: `smbdx bench crypto`,
//!   the table in issue 18). Everything else asked of `Ring` runs on aws-lc-rs.
//! - `RustCrypto` (aes-gcm, aes, cmac, hmac, sha2): portable, the cross-check, and the only AES-CCM
//!   (neither aws-lc-rs nor ring has it): smbdx's one-pass CCM ([`crate::ccm`]) over the `aes` crate's
//!   AES-NI code.
//! - `Auto`: the library [`crate::select`] found fastest on this CPU for each cipher (or the one
//!   `SMBDX_CRYPTO_BACKEND` forces). Configurations default to it.
//!
//! [`Backend::aead_impl`] and [`Backend::gmac_impl`] say which library really runs, so benchmarks never
//! label one library's figures with another's name.

use crate::cipher::Cipher;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Auto,
    AwsLc,
    Ring,
    RustCrypto,
}

impl Backend {
    pub const FAST: Backend = Backend::Auto;
    pub const PORTABLE: Backend = Backend::RustCrypto;
    /// The libraries (every one a test or benchmark can force); `Auto` is a choice among them.
    pub const ALL: [Backend; 3] = [Backend::AwsLc, Backend::Ring, Backend::RustCrypto];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::AwsLc => "aws-lc-rs",
            Backend::Ring => "ring",
            Backend::RustCrypto => "rustcrypto",
        }
    }

    /// The library that actually seals with `cipher` when this backend is asked to.
    pub fn aead_impl(self, cipher: Cipher) -> Backend {
        match (self, cipher) {
            (Backend::Auto, _) => crate::select::selection().aead(cipher),
            (Backend::AwsLc, Cipher::Aes128Gcm | Cipher::Aes256Gcm) => Backend::AwsLc,
            (Backend::Ring, Cipher::Aes128Gcm | Cipher::Aes256Gcm) => Backend::Ring,
            _ => Backend::RustCrypto,
        }
    }

    /// The library that computes AES-128-GMAC signatures (GCM over associated data alone). `Auto`
    /// chooses it apart from AES-128-GCM: the fastest GCM need not have the fastest GHASH over
    /// associated data.
    pub fn gmac_impl(self) -> Backend {
        match self {
            Backend::Auto => crate::select::selection().gmac(),
            b => b,
        }
    }

    /// The library for everything but AES-GCM and GMAC (SHA-512, HMAC-SHA256, the KDF, AES-CMAC): ring
    /// has no CMAC and its SHA-2 gains nothing here, so `Ring` and `Auto` mean aws-lc-rs.
    pub fn general_impl(self) -> Backend {
        match self {
            Backend::RustCrypto => Backend::RustCrypto,
            Backend::Auto | Backend::AwsLc | Backend::Ring => Backend::AwsLc,
        }
    }

    pub fn parse(s: &str) -> Option<Backend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Backend::Auto),
            "aws-lc-rs" | "aws-lc" | "awslc" => Some(Backend::AwsLc),
            "ring" => Some(Backend::Ring),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for b in [Backend::Auto, Backend::AwsLc, Backend::Ring, Backend::RustCrypto] {
            assert_eq!(Backend::parse(b.name()), Some(b));
        }
        assert_eq!(Backend::parse(" RING "), Some(Backend::Ring));
        assert_eq!(Backend::parse("openssl"), None);
    }

    #[test]
    fn ccm_runs_on_rustcrypto_whatever_is_asked() {
        for b in [Backend::Auto, Backend::AwsLc, Backend::Ring, Backend::RustCrypto] {
            assert_eq!(b.aead_impl(Cipher::Aes128Ccm), Backend::RustCrypto);
            assert_eq!(b.aead_impl(Cipher::Aes256Ccm), Backend::RustCrypto);
        }
        assert_eq!(Backend::Ring.aead_impl(Cipher::Aes256Gcm), Backend::Ring);
        assert_eq!(Backend::Ring.general_impl(), Backend::AwsLc);
        assert_ne!(Backend::Auto.aead_impl(Cipher::Aes128Gcm), Backend::Auto);
    }
}
