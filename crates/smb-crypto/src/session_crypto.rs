//! The session key schedule of MS-SMB2 3.2.5.3.1 (client) and 3.3.5.5.3 (server), once for both
//! ends: from the GSS session key to the prepared keys one end signs, seals and opens with.
//!
//! Keys are held by role, not by direction, so an end cannot seal with its peer's key: the client
//! seals with the client-to-server key (its EncryptionKey) and opens with the server-to-client one
//! (its DecryptionKey); the server the other way round. Both ends sign with the same key.
//!
//! | schedule | signing | sealing / opening |
//! |---|---|---|
//! | [`KeySchedule::Smb2`] (2.0.2, 2.1) | HMAC-SHA256 keyed with Session.SessionKey | none |
//! | [`KeySchedule::Smb30`] (3.0, 3.0.2) | KDF with the fixed 3.0 labels | AES-128-CCM keys, fixed labels |
//! | [`KeySchedule::Smb311`] (3.1.1) | KDF over the session's preauth hash | the negotiated cipher's keys |
//!
//! Room kept for what comes next:
//!
//! - The SMB 3.1.1 RDMA transform (issue 13) seals data placed by RDMA with the same sender key and
//!   the same nonce sequence as TRANSFORM_HEADER messages. A nonce must never repeat under a key
//!   across the two uses, so [`SealingKey`] owns the key and its [`NonceSequence`] together, and every
//!   nonce, whichever message it protects, comes from [`SealingKey::reserve_nonce`].
//! - A channel bound to the session (multichannel) signs with Channel.SigningKey, the same KDF over
//!   the binding exchange's own preauth hash: [`derive_signing_key`] with
//!   `KeySchedule::Smb311(&channel_hash)` (3.0.x: the session's signing key again). Encryption keys
//!   stay per session; a second channel sealing under them needs its own [`NonceSequence`] with a
//!   distinct channel index (see [`crate::nonce`]), not a second copy of this one.

use crate::backend::Backend;
use crate::cipher::{AeadKey, Cipher};
use crate::error::{CryptoError, Result};
use crate::kdf::{session_key_16, KdfInput, SessionKeys};
use crate::nonce::{Nonce, NonceSequence, TransformNonces};
use crate::placed::{tag16, PlacedJob, PlacedSeal};
use crate::preauth::PreauthHash;
use crate::signing::{SigningAlgorithm, SigningKey};
use crate::transform::{self, TRANSFORM_HEADER_LEN};
use std::sync::Arc;

const NO_KEY: CryptoError =
    CryptoError::BadInput { what: "RDMA transform", detail: "the session does not encrypt" };

/// Which end of the connection the keys are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Client,
    Server,
}

/// The dialect's key schedule, with what it is derived over.
#[derive(Debug, Clone, Copy)]
pub enum KeySchedule<'a> {
    /// SMB 2.0.2 and 2.1: no KDF; Session.SessionKey signs with HMAC-SHA256, nothing is encrypted.
    Smb2,
    /// SMB 3.0 and 3.0.2: the KDF with fixed labels and contexts.
    Smb30,
    /// SMB 3.1.1: the KDF over the session's preauth integrity hash (for a bound channel, the
    /// binding exchange's hash).
    Smb311(&'a PreauthHash),
}

impl<'a> KeySchedule<'a> {
    fn kdf_input(self) -> Option<KdfInput<'a>> {
        match self {
            KeySchedule::Smb2 => None,
            KeySchedule::Smb30 => Some(KdfInput::Smb30),
            KeySchedule::Smb311(h) => Some(KdfInput::Smb311(h)),
        }
    }
}

/// Session.SigningKey, or Channel.SigningKey of a channel bound to a session (MS-SMB2 3.2.5.3.1,
/// 3.2.5.3.2, 3.3.5.5.3), prepared for `alg`:
///
/// - `Smb311(hash)`: KDF(SessionKey, "SMBSigningKey\0", hash); for a bound channel `hash` is the
///   channel's own preauth hash.
/// - `Smb30`: KDF(SessionKey, "SMB2AESCMAC\0", "SmbSign\0"), which a bound channel shares.
/// - `Smb2`: Session.SessionKey itself; `alg` must be HMAC-SHA256.
///
/// `session_key` is the GSS session key as authentication produced it; the 16-byte Session.SessionKey
/// is cut from it (and wiped once used).
pub fn derive_signing_key(
    backend: Backend,
    schedule: KeySchedule<'_>,
    session_key: &[u8],
    alg: SigningAlgorithm,
) -> Result<SigningKey> {
    match schedule.kdf_input() {
        Some(input) => {
            let key = SessionKeys::signing_key(backend, input, session_key);
            SigningKey::new(backend, alg, key.as_bytes())
        }
        None if alg == SigningAlgorithm::HmacSha256 => {
            SigningKey::new(backend, alg, &session_key_16(session_key)[..])
        }
        None => Err(CryptoError::BadInput {
            what: "signing algorithm",
            detail: "SMB 2.0.2/2.1 sign with HMAC-SHA256 only",
        }),
    }
}

/// A sender's sealing key and the sequence its nonces come from, owned together so that nothing can
/// seal under the key with a nonce of its own making: TRANSFORM_HEADER messages now, RDMA-placed data
/// (issue 13) later, all draw from [`SealingKey::reserve_nonce`].
#[derive(Debug)]
pub struct SealingKey {
    key: Arc<AeadKey>,
    nonces: NonceSequence,
}

impl SealingKey {
    /// The AEAD key, for sealing with a nonce taken from [`SealingKey::reserve_nonce`].
    pub fn key(&self) -> &AeadKey {
        &self.key
    }

    pub fn cipher(&self) -> Cipher {
        self.key.cipher()
    }

    /// Takes the next nonce of this key for one message or one RDMA buffer; it is never handed out
    /// again. Fails once the sequence is spent: the session must then be re-established
    /// ([`CryptoError::NonceExhausted`], STATUS_ENCRYPTION_FAILED).
    pub fn reserve_nonce(&mut self) -> Result<Nonce> {
        self.nonces.next_nonce()
    }

    /// How many nonces are left.
    pub fn nonces_left(&self) -> u128 {
        self.nonces.remaining()
    }

    /// [`transform::seal_message`] under this key with the next nonce.
    pub fn seal_message(
        &mut self,
        session_id: u64,
        header: &mut [u8; TRANSFORM_HEADER_LEN],
        msg: &mut [u8],
    ) -> Result<()> {
        let nonce = self.reserve_nonce()?;
        transform::seal_message(&self.key, &nonce, session_id, header, msg)
    }

    /// [`transform::seal_message_from`] under this key with the next nonce.
    pub fn seal_message_from(
        &mut self,
        session_id: u64,
        header: &mut [u8; TRANSFORM_HEADER_LEN],
        msg: &mut [u8],
        head: usize,
        tail: &[u8],
    ) -> Result<()> {
        let nonce = self.reserve_nonce()?;
        transform::seal_message_from(&self.key, &nonce, session_id, header, msg, head, tail)
    }
}

/// The prepared keys of one end of a session: what it signs and verifies with, what it seals with
/// (its own direction's key, with the nonces), and what it opens the peer's messages with. Every key
/// wipes itself when dropped (see [`AeadKey`], [`SigningKey`]); so does every intermediate copy the
/// derivation makes.
#[derive(Debug)]
pub struct SessionCrypto {
    role: Role,
    signing: Arc<SigningKey>,
    /// GMAC nonces of this end's SIGNING RDMA transforms.
    transform_nonces: TransformNonces,
    sealing: Option<SealingKey>,
    opening: Option<Arc<AeadKey>>,
}

impl SessionCrypto {
    /// The library that runs this end's sealing, when it can seal.
    pub fn sealing_backend(&self) -> Option<Backend> {
        self.sealing.as_ref().map(|s| s.key.implementation())
    }

    /// Derives and prepares the keys of `role`'s end of a session.
    ///
    /// - `session_key`: the GSS session key as authentication produced it (Session.FullSessionKey).
    ///   Session.SessionKey, its first 16 bytes zero-padded, keys everything but the 256-bit cipher
    ///   keys, which the full key keys with L = 256 (MS-SMB2 3.3.5.5.3).
    /// - `cipher`: Connection.CipherId (None: the connection cannot encrypt). 3.0.x uses AES-128-CCM.
    /// - `signing`: the negotiated signing algorithm (HMAC-SHA256 for 2.0.2/2.1).
    /// - `can_encrypt`: whether this session may encrypt at all (a server refuses it to anonymous
    ///   sessions and to 3.0.x clients without CAP_ENCRYPTION). Without it, or without a cipher, no
    ///   sealing or opening key is made.
    ///
    /// The sealing key's nonces are those of channel 0, the connection the session was set up on.
    ///
    /// Fails if the inputs do not fit the schedule (2.0.2/2.1 with a cipher, or another signing
    /// algorithm than HMAC-SHA256) or a backend refuses a key.
    pub fn derive(
        role: Role,
        schedule: KeySchedule<'_>,
        session_key: &[u8],
        cipher: Option<Cipher>,
        signing: SigningAlgorithm,
        backend: Backend,
        can_encrypt: bool,
    ) -> Result<Self> {
        let cipher = cipher.filter(|_| can_encrypt);
        let signing = derive_signing_key(backend, schedule, session_key, signing)?;
        let (sealing, opening) = match (schedule.kdf_input(), cipher) {
            (_, None) => (None, None),
            (None, Some(_)) => {
                return Err(CryptoError::BadInput { what: "cipher", detail: "SMB 2.0.2/2.1 cannot encrypt" })
            }
            (Some(input), Some(c)) => {
                let keys = SessionKeys::derive(backend, input, session_key, session_key, c.key_bits());
                let (mine, theirs) = match role {
                    Role::Client => (&keys.c2s_cipher, &keys.s2c_cipher),
                    Role::Server => (&keys.s2c_cipher, &keys.c2s_cipher),
                };
                let sealing = SealingKey {
                    key: Arc::new(AeadKey::new(backend, c, mine.as_bytes())?),
                    nonces: NonceSequence::new(0)?,
                };
                (Some(sealing), Some(Arc::new(AeadKey::new(backend, c, theirs.as_bytes())?)))
            }
        };
        let transform_nonces = TransformNonces::new(role == Role::Server, 0)?;
        Ok(Self { role, signing: Arc::new(signing), transform_nonces, sealing, opening })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Signs this end's messages and verifies the peer's.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// This end's sealing key with its nonces (None: the session does not encrypt).
    pub fn sealing_key(&mut self) -> Option<&mut SealingKey> {
        self.sealing.as_mut()
    }

    /// Opens the peer's sealed messages (None: the session does not encrypt).
    pub fn opening_key(&self) -> Option<&AeadKey> {
        self.opening.as_deref()
    }

    /// Whether the session has encryption keys.
    pub fn can_encrypt(&self) -> bool {
        self.sealing.is_some()
    }

    /// ENCRYPTION transform (MS-SMB2 3.3.5.12 READ data, 3.2.4.7 WRITE data): a job that encrypts
    /// data in place with this end's sealing key, no associated data, under the key's next nonce,
    /// reserved now (the sequence TRANSFORM_HEADER messages draw from too, so no nonce serves twice).
    pub fn seal_job(&mut self) -> Result<PlacedJob> {
        let sealing = self.sealing.as_mut().ok_or(NO_KEY)?;
        let nonce = sealing.reserve_nonce()?;
        Ok(PlacedJob::seal(sealing.key.clone(), nonce))
    }

    /// A job that opens the peer's ENCRYPTION transform in place: `nonce` must have the cipher's
    /// length (11 CCM, 12 GCM) and `tag` 16 bytes ([`CryptoError::BadInput`] otherwise, now).
    pub fn open_job(&self, nonce: &[u8], tag: &[u8]) -> Result<PlacedJob> {
        let key = self.opening.as_ref().ok_or(NO_KEY)?;
        if nonce.len() != key.cipher().nonce_len() {
            return Err(CryptoError::BadInput { what: "transform nonce", detail: "not the cipher's length" });
        }
        let mut n = [0u8; 16];
        n[..nonce.len()].copy_from_slice(nonce);
        Ok(PlacedJob::open(key.clone(), Nonce(n), tag16(tag)?))
    }

    /// SIGNING transform: a job that MACs data under Session.SigningKey with the negotiated
    /// algorithm; GMAC under a nonce of this end's transform sequence (see [`TransformNonces`]).
    pub fn sign_job(&mut self) -> Result<PlacedJob> {
        let nonce = match self.signing.algorithm() {
            SigningAlgorithm::AesGmac => Some(self.transform_nonces.next_nonce()?),
            _ => None,
        };
        Ok(PlacedJob::sign(self.signing.clone(), nonce))
    }

    /// A job that verifies the peer's SIGNING transform: a GMAC one carries a 12-byte nonce, a CMAC
    /// or HMAC one none, and the MAC is 16 bytes ([`CryptoError::BadInput`] otherwise, now).
    pub fn verify_job(&self, nonce: &[u8], signature: &[u8]) -> Result<PlacedJob> {
        let mac = tag16(signature)?;
        let nonce: Option<[u8; 12]> = match (self.signing.algorithm(), nonce.len()) {
            (SigningAlgorithm::AesGmac, 12) => nonce.try_into().ok(),
            (SigningAlgorithm::AesGmac, _) => {
                return Err(CryptoError::BadInput { what: "transform nonce", detail: "GMAC needs 12 bytes" })
            }
            (_, 0) => None,
            (_, _) => {
                return Err(CryptoError::BadInput { what: "transform nonce", detail: "CMAC/HMAC take none" })
            }
        };
        Ok(PlacedJob::verify(self.signing.clone(), nonce, mac))
    }

    /// [`SessionCrypto::seal_job`] run here over `data`.
    pub fn seal_placed(&mut self, data: &mut [u8]) -> Result<PlacedSeal> {
        self.seal_job()?.run(data)?.ok_or(CryptoError::Backend("seal"))
    }

    /// [`SessionCrypto::open_job`] run here over `data`: a tag that does not verify is
    /// [`CryptoError::TagMismatch`] and leaves `data` wiped.
    pub fn open_placed(&self, nonce: &[u8], tag: &[u8], data: &mut [u8]) -> Result<()> {
        self.open_job(nonce, tag)?.run(data).map(|_| ())
    }

    /// [`SessionCrypto::sign_job`] run here over `data`.
    pub fn sign_placed(&mut self, data: &[u8]) -> Result<PlacedSeal> {
        self.sign_job()?.run_on(data).ok_or(CryptoError::Backend("mac"))??.ok_or(CryptoError::Backend("mac"))
    }

    /// [`SessionCrypto::verify_job`] run here over `data`: a MAC that does not match is
    /// [`CryptoError::BadSignature`].
    pub fn verify_placed(&self, nonce: &[u8], signature: &[u8], data: &[u8]) -> Result<()> {
        self.verify_job(nonce, signature)?.run_on(data).ok_or(CryptoError::Backend("mac"))?.map(|_| ())
    }
}
