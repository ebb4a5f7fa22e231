//! SHA-512 and HMAC-SHA256 on aws-lc-rs or RustCrypto ([`Backend::general_impl`]), over message parts (so callers never concatenate).

use crate::backend::Backend;
use aws_lc_rs::{digest, hmac as awshmac};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// SHA-512 of the concatenation of `parts`.
pub fn sha512(backend: Backend, parts: &[&[u8]]) -> [u8; 64] {
    let mut out = [0u8; 64];
    match backend.general_impl() {
        Backend::Auto | Backend::Ring | Backend::AwsLc => {
            let mut ctx = digest::Context::new(&digest::SHA512);
            parts.iter().for_each(|p| ctx.update(p));
            out.copy_from_slice(ctx.finish().as_ref());
        }
        Backend::RustCrypto => {
            let mut h = Sha512::new();
            parts.iter().for_each(|p| h.update(p));
            out.copy_from_slice(&h.finalize());
        }
    }
    out
}

/// HMAC-SHA256(key, concatenation of `parts`).
pub fn hmac_sha256(backend: Backend, key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    match backend.general_impl() {
        Backend::Auto | Backend::Ring | Backend::AwsLc => {
            let k = awshmac::Key::new(awshmac::HMAC_SHA256, key);
            let mut ctx = awshmac::Context::with_key(&k);
            parts.iter().for_each(|p| ctx.update(p));
            out.copy_from_slice(ctx.sign().as_ref());
        }
        Backend::RustCrypto => {
            // HMAC accepts keys of any length; new_from_slice cannot fail for it.
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
            parts.iter().for_each(|p| m.update(p));
            // The MAC is a derived key when the KDF calls this: the library's copy is wiped too.
            let mut mac = m.finalize().into_bytes();
            out.copy_from_slice(&mac);
            zeroize::Zeroize::zeroize(mac.as_mut_slice());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_sha256_rfc4231_case2_both_backends() {
        for b in Backend::ALL {
            let mac = hmac_sha256(b, b"Jefe", &[b"what do ya want ", b"for nothing?"]);
            assert_eq!(
                hex::encode(mac),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "{b}"
            );
        }
    }

    /// FIPS 180-2 "abc".
    #[test]
    fn sha512_abc_both_backends() {
        for b in Backend::ALL {
            assert_eq!(
                hex::encode(sha512(b, &[b"a", b"bc"])),
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
                "{b}"
            );
        }
    }
}
