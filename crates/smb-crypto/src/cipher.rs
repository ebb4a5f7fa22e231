//! AEAD ciphers of SMB 3.x encryption (MS-SMB2 3.1.4.3): AES-128/256 in CCM and GCM, sealing in place
//! on the caller's buffer with the 16-byte tag kept apart (it travels in the TRANSFORM_HEADER, or in the
//! RDMA crypto transform, never after the data).

use crate::backend::Backend;
use crate::error::{CryptoError, Result};
use crate::nonce::Nonce;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{consts::U16, AeadInPlace, KeyInit};
use aws_lc_rs::aead as aws;
use ring::aead as rg;

/// MS-SMB2 2.2.3.1.2 cipher ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    Aes128Ccm,
    Aes128Gcm,
    Aes256Ccm,
    Aes256Gcm,
}

impl Cipher {
    pub const ALL: [Cipher; 4] = [Cipher::Aes128Gcm, Cipher::Aes256Gcm, Cipher::Aes128Ccm, Cipher::Aes256Ccm];

    /// The CipherId on the wire.
    pub fn id(self) -> u16 {
        match self {
            Cipher::Aes128Ccm => 1,
            Cipher::Aes128Gcm => 2,
            Cipher::Aes256Ccm => 3,
            Cipher::Aes256Gcm => 4,
        }
    }

    pub fn from_id(id: u16) -> Option<Cipher> {
        Some(match id {
            1 => Cipher::Aes128Ccm,
            2 => Cipher::Aes128Gcm,
            3 => Cipher::Aes256Ccm,
            4 => Cipher::Aes256Gcm,
            _ => return None,
        })
    }

    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes128Gcm => 16,
            Cipher::Aes256Ccm | Cipher::Aes256Gcm => 32,
        }
    }

    pub fn key_bits(self) -> u32 {
        self.key_len() as u32 * 8
    }

    /// Bytes of the 16-byte Nonce field that feed the cipher (the rest MUST be zero).
    pub fn nonce_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm | Cipher::Aes256Ccm => 11,
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 12,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cipher::Aes128Ccm => "aes-128-ccm",
            Cipher::Aes128Gcm => "aes-128-gcm",
            Cipher::Aes256Ccm => "aes-256-ccm",
            Cipher::Aes256Gcm => "aes-256-gcm",
        }
    }

    pub fn parse(s: &str) -> Option<Cipher> {
        Cipher::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(s))
    }
}

impl core::fmt::Display for Cipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

type Ccm128 = crate::ccm::FusedCcm<aes::Aes128>;
type Ccm256 = crate::ccm::FusedCcm<aes::Aes256>;

enum Imp {
    Aws(aws::LessSafeKey),
    Ring(Box<rg::LessSafeKey>),
    Gcm128(Box<aes_gcm::Aes128Gcm>),
    Gcm256(Box<aes_gcm::Aes256Gcm>),
    Ccm128(Box<Ccm128>),
    Ccm256(Box<Ccm256>),
}

/// A prepared AEAD key (key schedule expanded once, reused for every message), wiped when dropped:
///
/// - aws-lc-rs: the EVP_AEAD_CTX lives in aws-lc's heap, and aws-lc's `OPENSSL_free` cleanses every
///   allocation before freeing it (`EVP_AEAD_CTX_free`), so the key schedule and GHASH key go with it.
/// - ring: the key schedule and GHASH table sit inline in the key object, which ring does not wipe;
///   the key is boxed so [`Drop`] can write a zero-keyed schedule over the same bytes first.
/// - RustCrypto: the AES round keys wipe themselves (the `aes` crate's `zeroize` feature, which CCM
///   and GCM both hold). GCM's GHASH key H is the exception: polyval 0.6 keeps it in a `ManuallyDrop`
///   that nothing wipes, so [`Drop`] here writes a zero-keyed state over it first.
pub struct AeadKey {
    cipher: Cipher,
    imp: Imp,
}

impl AeadKey {
    pub fn new(backend: Backend, cipher: Cipher, key: &[u8]) -> Result<Self> {
        if key.len() != cipher.key_len() {
            return Err(CryptoError::KeyLength {
                what: cipher.name(),
                expected: cipher.key_len(),
                got: key.len(),
            });
        }
        let bad = |_| CryptoError::Backend("AEAD key setup");
        let imp = match (backend.aead_impl(cipher), cipher) {
            (Backend::AwsLc, Cipher::Aes128Gcm) => {
                Imp::Aws(aws::LessSafeKey::new(aws::UnboundKey::new(&aws::AES_128_GCM, key).map_err(bad)?))
            }
            (Backend::AwsLc, _) => {
                Imp::Aws(aws::LessSafeKey::new(aws::UnboundKey::new(&aws::AES_256_GCM, key).map_err(bad)?))
            }
            (Backend::Ring, Cipher::Aes128Gcm) => Imp::Ring(Box::new(ring_key(&rg::AES_128_GCM, key)?)),
            (Backend::Ring, _) => Imp::Ring(Box::new(ring_key(&rg::AES_256_GCM, key)?)),
            (Backend::Auto, _) => return Err(CryptoError::Backend("auto resolves to a library")),
            (Backend::RustCrypto, Cipher::Aes128Gcm) => Imp::Gcm128(Box::new(
                aes_gcm::Aes128Gcm::new_from_slice(key).map_err(|_| CryptoError::Backend("gcm"))?,
            )),
            (Backend::RustCrypto, Cipher::Aes256Gcm) => Imp::Gcm256(Box::new(
                aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Backend("gcm"))?,
            )),
            (Backend::RustCrypto, Cipher::Aes128Ccm) => {
                Imp::Ccm128(Box::new(Ccm128::new_from_slice(key).ok_or(CryptoError::Backend("ccm"))?))
            }
            (Backend::RustCrypto, Cipher::Aes256Ccm) => {
                Imp::Ccm256(Box::new(Ccm256::new_from_slice(key).ok_or(CryptoError::Backend("ccm"))?))
            }
        };
        Ok(Self { cipher, imp })
    }

    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The library that runs this key.
    pub fn implementation(&self) -> Backend {
        match self.imp {
            Imp::Aws(_) => Backend::AwsLc,
            Imp::Ring(_) => Backend::Ring,
            _ => Backend::RustCrypto,
        }
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn seal_in_place(&self, nonce: &Nonce, aad: &[u8], buf: &mut [u8]) -> Result<[u8; 16]> {
        let n = nonce.cipher_bytes(self.cipher);
        let mut tag = [0u8; 16];
        let fail = |_| CryptoError::Backend("seal");
        match &self.imp {
            Imp::Aws(k) => {
                let nonce = aws::Nonce::try_assume_unique_for_key(n).map_err(fail)?;
                let t = k.seal_in_place_separate_tag(nonce, aws::Aad::from(aad), buf).map_err(fail)?;
                tag.copy_from_slice(t.as_ref());
            }
            Imp::Ring(k) => {
                let ring_fail = |_| CryptoError::Backend("seal");
                let nonce = rg::Nonce::try_assume_unique_for_key(n).map_err(ring_fail)?;
                let t = k.seal_in_place_separate_tag(nonce, rg::Aad::from(aad), buf).map_err(ring_fail)?;
                tag.copy_from_slice(t.as_ref());
            }
            Imp::Gcm128(k) => tag = rc_seal(&**k, n, aad, buf)?,
            Imp::Gcm256(k) => tag = rc_seal(&**k, n, aad, buf)?,
            Imp::Ccm128(k) => tag = k.seal(ccm_nonce(n)?, aad, buf).ok_or(CryptoError::Backend("seal"))?,
            Imp::Ccm256(k) => tag = k.seal(ccm_nonce(n)?, aad, buf).ok_or(CryptoError::Backend("seal"))?,
        }
        Ok(tag)
    }

    /// Seals the message `msg[..head] ‖ tail`, with `tail` lying elsewhere: `msg[..head]` in place,
    /// `tail` into `msg[head..head + tail.len()]`. The send path uses it to encrypt a caller's
    /// payload straight into the message buffer, in the pass that would otherwise only copy it
    /// there. `msg` must be `head + tail.len() + 16` bytes long; its last 16 bytes are scratch.
    pub fn seal_from(
        &self,
        nonce: &Nonce,
        aad: &[u8],
        msg: &mut [u8],
        head: usize,
        tail: &[u8],
    ) -> Result<[u8; 16]> {
        if head.checked_add(tail.len()).and_then(|n| n.checked_add(16)) != Some(msg.len()) {
            return Err(CryptoError::BadInput {
                what: "seal_from",
                detail: "buffer is not head + tail + 16 bytes",
            });
        }
        if let Imp::Aws(k) = &self.imp {
            let n = nonce.cipher_bytes(self.cipher);
            let fail = |_| CryptoError::Backend("seal");
            let nonce = aws::Nonce::try_assume_unique_for_key(n).map_err(fail)?;
            let (in_out, out_and_tag) = msg.split_at_mut(head);
            k.seal_in_place_scatter(nonce, aws::Aad::from(aad), in_out, tail, out_and_tag).map_err(fail)?;
            let mut tag = [0u8; 16];
            tag.copy_from_slice(&out_and_tag[tail.len()..]);
            return Ok(tag);
        }
        let end = head + tail.len();
        msg[head..end].copy_from_slice(tail);
        self.seal_in_place(nonce, aad, &mut msg[..end])
    }

    /// Verifies `tag` and decrypts `buf` in place. On failure `buf` holds no plaintext the caller may
    /// use (it is wiped).
    pub fn open_in_place(&self, nonce: &Nonce, aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> Result<()> {
        let n = nonce.cipher_bytes(self.cipher);
        let ok = match &self.imp {
            Imp::Aws(k) => match aws::Nonce::try_assume_unique_for_key(n) {
                Ok(nonce) => k.open_in_place_separate_tag(nonce, aws::Aad::from(aad), tag, buf).is_ok(),
                Err(_) => false,
            },
            Imp::Ring(k) => match rg::Nonce::try_assume_unique_for_key(n) {
                Ok(nonce) => k
                    .open_in_place_separate_tag(nonce, rg::Aad::from(aad), rg::Tag::from(*tag), buf, 0..)
                    .is_ok(),
                Err(_) => false,
            },
            Imp::Gcm128(k) => rc_open(&**k, n, aad, buf, tag),
            Imp::Gcm256(k) => rc_open(&**k, n, aad, buf, tag),
            Imp::Ccm128(k) => ccm_nonce(n).is_ok_and(|n| k.open(n, aad, buf, tag)),
            Imp::Ccm256(k) => ccm_nonce(n).is_ok_and(|n| k.open(n, aad, buf, tag)),
        };
        if ok {
            Ok(())
        } else {
            buf.fill(0);
            Err(CryptoError::TagMismatch)
        }
    }
}

/// The 11 bytes CCM takes ([`Nonce::cipher_bytes`] gives exactly that many for a CCM cipher).
fn ccm_nonce(n: &[u8]) -> Result<&[u8; crate::ccm::NONCE_LEN]> {
    n.try_into().map_err(|_| CryptoError::BadInput { what: "CCM nonce", detail: "not 11 bytes" })
}

/// RustCrypto seal: the GCM modes differ only in type. `n` has the cipher's nonce length by
/// construction ([`Nonce::cipher_bytes`]).
fn rc_seal<A: AeadInPlace<TagSize = U16>>(k: &A, n: &[u8], aad: &[u8], buf: &mut [u8]) -> Result<[u8; 16]> {
    let t = k
        .encrypt_in_place_detached(GenericArray::from_slice(n), aad, buf)
        .map_err(|_| CryptoError::Backend("seal"))?;
    Ok(t.into())
}

fn rc_open<A: AeadInPlace<TagSize = U16>>(
    k: &A,
    n: &[u8],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; 16],
) -> bool {
    k.decrypt_in_place_detached(GenericArray::from_slice(n), aad, buf, GenericArray::from_slice(tag)).is_ok()
}

impl AeadKey {
    /// Verifies `tag` and decrypts `ciphertext` into `out` (same length): the receive path uses it to
    /// place plaintext where it wants it (page-aligned file data) without a separate copy.
    pub fn open_to(
        &self,
        nonce: &Nonce,
        aad: &[u8],
        ciphertext: &[u8],
        out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<()> {
        if ciphertext.len() != out.len() {
            return Err(CryptoError::BadInput {
                what: "open_to",
                detail: "output length differs from input",
            });
        }
        if let Imp::Aws(k) = &self.imp {
            let n = nonce.cipher_bytes(self.cipher);
            let ok = aws::Nonce::try_assume_unique_for_key(n).is_ok_and(|nonce| {
                k.open_separate_gather(nonce, aws::Aad::from(aad), ciphertext, tag, out).is_ok()
            });
            if ok {
                return Ok(());
            }
            out.fill(0);
            return Err(CryptoError::TagMismatch);
        }
        out.copy_from_slice(ciphertext);
        self.open_in_place(nonce, aad, out, tag)
    }
}

impl Drop for AeadKey {
    fn drop(&mut self) {
        match &mut self.imp {
            Imp::Gcm128(k) => overwrite_gcm(&mut **k),
            Imp::Gcm256(k) => overwrite_gcm(&mut **k),
            Imp::Ring(k) => overwrite_ring(k),
            Imp::Aws(_) | Imp::Ccm128(_) | Imp::Ccm256(_) => {}
        }
    }
}

/// Overwrites a RustCrypto AES-GCM (or GMAC) state in place with one keyed by zeros, before it is
/// freed. aes-gcm 0.10 wipes its AES round keys on drop, but its GHASH key H = AES_K(0^128) sits in
/// polyval 0.6's CPU-autodetecting backend inside a `ManuallyDrop` that no one wipes. H is not the
/// key, but it forges tags under it. The assignment writes the new state over the same bytes (the
/// same backend is chosen again); `black_box` keeps the compiler from removing those stores as dead
/// before the free.
pub(crate) fn overwrite_gcm<A: KeyInit>(k: &mut A) {
    *k = A::new(&Default::default());
    core::hint::black_box(&*k);
}

/// A ring AES-GCM key from `key` (length already checked).
pub(crate) fn ring_key(alg: &'static rg::Algorithm, key: &[u8]) -> Result<rg::LessSafeKey> {
    rg::UnboundKey::new(alg, key)
        .map(rg::LessSafeKey::new)
        .map_err(|_| CryptoError::Backend("ring key setup"))
}

/// Overwrites a ring AES-GCM key in place with one keyed by zeros before it is freed: ring keeps the
/// AES round keys and the GHASH table inline and does not wipe them. As in [`overwrite_gcm`], the
/// assignment writes over the same (boxed) bytes and `black_box` keeps the stores alive.
pub(crate) fn overwrite_ring(k: &mut rg::LessSafeKey) {
    let alg = k.algorithm();
    if let Ok(zero) = ring_key(alg, &[0u8; 32][..alg.key_len()]) {
        *k = zero;
    }
    core::hint::black_box(&*k);
}

impl core::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AeadKey({}, {})", self.cipher, self.implementation())
    }
}
