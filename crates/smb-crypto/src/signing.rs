//! SMB2 message signing (MS-SMB2 3.1.4.1): HMAC-SHA256 (2.0.2/2.1), AES-128-CMAC (3.0/3.0.2, and
//! 3.1.1 by default) and AES-128-GMAC (3.1.1 SIGNING_CAPABILITIES).
//!
//! Signing works on a PDU in place: set SMB2_FLAGS_SIGNED, zero the Signature field, MAC the PDU (for a
//! compound, the PDU including its padding), write the first 16 bytes of the MAC into the field.

use crate::backend::Backend;
use crate::error::{CryptoError, Result};
use crate::hash::hmac_sha256;
use crate::secret::SecretKey;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aws_lc_rs::{aead as aws, cmac as awscmac};
use cmac::Mac;

/// MS-SMB2 2.2.3.1.7 signing algorithm ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    HmacSha256,
    AesCmac,
    AesGmac,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 3] =
        [SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac, SigningAlgorithm::HmacSha256];

    pub fn id(self) -> u16 {
        match self {
            SigningAlgorithm::HmacSha256 => 0,
            SigningAlgorithm::AesCmac => 1,
            SigningAlgorithm::AesGmac => 2,
        }
    }

    pub fn from_id(id: u16) -> Option<Self> {
        Some(match id {
            0 => SigningAlgorithm::HmacSha256,
            1 => SigningAlgorithm::AesCmac,
            2 => SigningAlgorithm::AesGmac,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::HmacSha256 => "hmac-sha256",
            SigningAlgorithm::AesCmac => "aes-cmac",
            SigningAlgorithm::AesGmac => "aes-gmac",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(s))
    }
}

impl core::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

enum Imp {
    Hmac(SecretKey),
    AwsCmac(awscmac::Key),
    RcCmac(Box<cmac::Cmac<aes::Aes128>>),
    AwsGmac(aws::LessSafeKey),
    RingGmac(Box<ring::aead::LessSafeKey>),
    RcGmac(Box<aes_gcm::Aes128Gcm>),
}

// Header fields the signer reads (MS-SMB2 2.2.1).
const FLAGS: core::ops::Range<usize> = 16..20;
const COMMAND: core::ops::Range<usize> = 12..14;
const MESSAGE_ID: core::ops::Range<usize> = 24..32;
const SIGNATURE: core::ops::Range<usize> = 48..64;
const FLAG_SERVER_TO_REDIR: u32 = 0x1;
const FLAG_SIGNED: u32 = 0x8;
const CMD_CANCEL: u16 = 0x0C;

/// A prepared signing key, wiped when dropped: the HMAC key is a [`SecretKey`]; aws-lc-rs's CMAC and
/// GMAC contexts are cleansed by aws-lc when freed; ring's GMAC key is overwritten like an
/// [`crate::AeadKey`]'s; RustCrypto's CMAC state wipes itself (`cmac`
/// feature `zeroize`) and its GMAC is overwritten like an [`crate::AeadKey`]'s GCM state.
///
/// Per-message HMAC-SHA256 state on the RustCrypto backend is not wiped (hmac 0.12 and sha2 0.10 have
/// no `zeroize` support); on aws-lc-rs the HMAC context is cleansed when dropped.
pub struct SigningKey {
    alg: SigningAlgorithm,
    backend: Backend,
    imp: Imp,
}

impl SigningKey {
    pub fn new(backend: Backend, alg: SigningAlgorithm, key: &[u8]) -> Result<Self> {
        let need16 = || {
            if key.len() == 16 {
                Ok(())
            } else {
                Err(CryptoError::KeyLength { what: alg.name(), expected: 16, got: key.len() })
            }
        };
        let imp = match alg {
            SigningAlgorithm::HmacSha256 => Imp::Hmac(SecretKey::new(key)),
            SigningAlgorithm::AesCmac => {
                need16()?;
                match backend.general_impl() {
                    Backend::RustCrypto => Imp::RcCmac(Box::new(
                        <cmac::Cmac<aes::Aes128> as KeyInit>::new_from_slice(key)
                            .map_err(|_| CryptoError::Backend("cmac"))?,
                    )),
                    _ => Imp::AwsCmac(
                        awscmac::Key::new(awscmac::AES_128, key).map_err(|_| CryptoError::Backend("cmac"))?,
                    ),
                }
            }
            SigningAlgorithm::AesGmac => {
                need16()?;
                match backend.gmac_impl() {
                    Backend::RustCrypto => Imp::RcGmac(Box::new(
                        aes_gcm::Aes128Gcm::new_from_slice(key).map_err(|_| CryptoError::Backend("gmac"))?,
                    )),
                    Backend::Ring => {
                        Imp::RingGmac(Box::new(crate::cipher::ring_key(&ring::aead::AES_128_GCM, key)?))
                    }
                    _ => {
                        let k = aws::UnboundKey::new(&aws::AES_128_GCM, key)
                            .map_err(|_| CryptoError::Backend("gmac"))?;
                        Imp::AwsGmac(aws::LessSafeKey::new(k))
                    }
                }
            }
        };
        Ok(Self { alg, backend, imp })
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.alg
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The library that computes this key's MACs.
    pub fn implementation(&self) -> Backend {
        match self.imp {
            Imp::Hmac(_) => self.backend.general_impl(),
            Imp::AwsCmac(_) | Imp::AwsGmac(_) => Backend::AwsLc,
            Imp::RingGmac(_) => Backend::Ring,
            Imp::RcCmac(_) | Imp::RcGmac(_) => Backend::RustCrypto,
        }
    }

    /// The MAC of `pdu` exactly as given (its Signature field must already be zero). GMAC's nonce is
    /// taken from the PDU's own header: MessageId, then bit 0 = sent by the server, bit 1 = CANCEL.
    pub fn mac(&self, pdu: &[u8]) -> Result<[u8; 16]> {
        if pdu.len() < 64 {
            return Err(CryptoError::TooShort { what: "signed PDU", len: pdu.len() });
        }
        self.mac_with(&gmac_nonce(pdu), pdu)
    }

    /// The MAC of `data` (not a PDU: bytes placed by RDMA, MS-SMB2 2.2.43.1 SIGNING transform) with
    /// the 12-byte GMAC `nonce` the caller drew from a [`crate::nonce::TransformNonces`]; CMAC and
    /// HMAC-SHA256 take no nonce and must be given `None`, GMAC must be given one.
    pub fn mac_placed(&self, nonce: Option<&[u8; 12]>, data: &[u8]) -> Result<[u8; 16]> {
        match (self.alg, nonce) {
            (SigningAlgorithm::AesGmac, Some(n)) => self.mac_with(n, data),
            (SigningAlgorithm::AesGmac, None) => {
                Err(CryptoError::BadInput { what: "GMAC transform", detail: "needs a nonce" })
            }
            (_, Some(_)) => {
                Err(CryptoError::BadInput { what: "CMAC/HMAC transform", detail: "takes no nonce" })
            }
            (_, None) => self.mac_with(&[0; 12], data),
        }
    }

    /// Verifies the MAC of placed `data` (see [`SigningKey::mac_placed`]) in constant time.
    pub fn verify_placed(&self, nonce: Option<&[u8; 12]>, data: &[u8], signature: &[u8; 16]) -> Result<()> {
        let want = self.mac_placed(nonce, data)?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(&want, signature).is_ok() {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// The MAC of `data`; `nonce` feeds GMAC only.
    fn mac_with(&self, nonce: &[u8; 12], data: &[u8]) -> Result<[u8; 16]> {
        let mut out = [0u8; 16];
        match &self.imp {
            Imp::Hmac(k) => out.copy_from_slice(&hmac_sha256(self.backend, k.as_bytes(), &[data])[..16]),
            Imp::AwsCmac(k) => {
                let t = awscmac::sign(k, data).map_err(|_| CryptoError::Backend("cmac"))?;
                out.copy_from_slice(t.as_ref());
            }
            Imp::RcCmac(k) => {
                let mut m = (**k).clone();
                m.update(data);
                out.copy_from_slice(&m.finalize().into_bytes());
            }
            Imp::AwsGmac(k) => {
                let n = aws::Nonce::assume_unique_for_key(*nonce);
                let t = k
                    .seal_in_place_separate_tag(n, aws::Aad::from(data), &mut [])
                    .map_err(|_| CryptoError::Backend("gmac"))?;
                out.copy_from_slice(t.as_ref());
            }
            Imp::RingGmac(k) => {
                let n = ring::aead::Nonce::assume_unique_for_key(*nonce);
                let t = k
                    .seal_in_place_separate_tag(n, ring::aead::Aad::from(data), &mut [])
                    .map_err(|_| CryptoError::Backend("gmac"))?;
                out.copy_from_slice(t.as_ref());
            }
            Imp::RcGmac(k) => {
                let t = k
                    .encrypt_in_place_detached(GenericArray::from_slice(nonce), data, &mut [])
                    .map_err(|_| CryptoError::Backend("gmac"))?;
                out.copy_from_slice(&t);
            }
        }
        Ok(out)
    }

    /// Signs `pdu` in place: sets SMB2_FLAGS_SIGNED, zeroes the Signature, MACs, writes the signature.
    pub fn sign_in_place(&self, pdu: &mut [u8]) -> Result<()> {
        if pdu.len() < 64 {
            return Err(CryptoError::TooShort { what: "signed PDU", len: pdu.len() });
        }
        let flags = u32::from_le_bytes(pdu[FLAGS].try_into().unwrap_or_default()) | FLAG_SIGNED;
        pdu[FLAGS].copy_from_slice(&flags.to_le_bytes());
        pdu[SIGNATURE].fill(0);
        let sig = self.mac(pdu)?;
        pdu[SIGNATURE].copy_from_slice(&sig);
        Ok(())
    }

    /// Verifies the signature of `pdu` in constant time. The buffer is restored before returning, so
    /// the caller still sees the PDU as received.
    pub fn verify_in_place(&self, pdu: &mut [u8]) -> Result<()> {
        if pdu.len() < 64 {
            return Err(CryptoError::TooShort { what: "signed PDU", len: pdu.len() });
        }
        let mut got = [0u8; 16];
        got.copy_from_slice(&pdu[SIGNATURE]);
        pdu[SIGNATURE].fill(0);
        let want = self.mac(pdu);
        pdu[SIGNATURE].copy_from_slice(&got);
        let want = want?;
        if aws_lc_rs::constant_time::verify_slices_are_equal(&want, &got).is_ok() {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }
}

/// MS-SMB2 3.1.4.1: the 12-byte AES-GMAC nonce of a PDU.
fn gmac_nonce(pdu: &[u8]) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&pdu[MESSAGE_ID]);
    let flags = u32::from_le_bytes(pdu[FLAGS].try_into().unwrap_or_default());
    let command = u16::from_le_bytes(pdu[COMMAND].try_into().unwrap_or_default());
    let mut role = 0u8;
    if flags & FLAG_SERVER_TO_REDIR != 0 {
        role |= 1;
    }
    if command == CMD_CANCEL {
        role |= 2;
    }
    n[8] = role;
    n
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        match &mut self.imp {
            Imp::RcGmac(k) => crate::cipher::overwrite_gcm(&mut **k),
            Imp::RingGmac(k) => crate::cipher::overwrite_ring(k),
            _ => {}
        }
    }
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SigningKey({}, {})", self.alg, self.backend)
    }
}
