//! The crypto of data placed by RDMA (MS-SMB2 2.2.43.1, the SMB 3.1.1 RDMA transform), as jobs that
//! carry their key (shared, never copied) and nonce, so they run where the data is: a helper thread
//! that just read a READ's data into registered memory, or is about to write a WRITE's.
//!
//! A job is made by [`crate::SessionCrypto`] on the thread that owns the session (the nonce is
//! reserved there, so it is never handed out twice), then [`PlacedJob::run`] anywhere.

use crate::cipher::AeadKey;
use crate::error::{CryptoError, Result};
use crate::nonce::Nonce;
use crate::signing::SigningKey;
use std::sync::Arc;

/// What protects one run of bytes placed by RDMA (MS-SMB2 2.2.43.1 SMB2_RDMA_CRYPTO_TRANSFORM): the
/// tag or MAC, and the nonce it was made under (11 bytes for CCM, 12 for GCM and GMAC, none for
/// CMAC and HMAC-SHA256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacedSeal {
    pub signature: [u8; 16],
    nonce: [u8; 12],
    nonce_len: u8,
}

impl PlacedSeal {
    pub(crate) fn new(signature: [u8; 16], nonce: &[u8]) -> Self {
        let mut n = [0u8; 12];
        let len = nonce.len().min(12);
        n[..len].copy_from_slice(&nonce[..len]);
        Self { signature, nonce: n, nonce_len: len as u8 }
    }

    /// The nonce as carried in the transform.
    pub fn nonce(&self) -> &[u8] {
        &self.nonce[..usize::from(self.nonce_len)]
    }
}

/// One crypto step over placed data, ready to run on any thread.
pub struct PlacedJob(Job);

enum Job {
    /// ENCRYPTION transform: seal in place under this nonce, no associated data.
    Seal { key: Arc<AeadKey>, nonce: Nonce },
    /// Open the peer's ENCRYPTION transform in place.
    Open { key: Arc<AeadKey>, nonce: Nonce, tag: [u8; 16] },
    /// SIGNING transform: MAC (GMAC under `nonce`).
    Sign { key: Arc<SigningKey>, nonce: Option<[u8; 12]> },
    /// Verify the peer's SIGNING transform.
    Verify { key: Arc<SigningKey>, nonce: Option<[u8; 12]>, mac: [u8; 16] },
}

impl PlacedJob {
    pub(crate) fn seal(key: Arc<AeadKey>, nonce: Nonce) -> Self {
        PlacedJob(Job::Seal { key, nonce })
    }

    pub(crate) fn open(key: Arc<AeadKey>, nonce: Nonce, tag: [u8; 16]) -> Self {
        PlacedJob(Job::Open { key, nonce, tag })
    }

    pub(crate) fn sign(key: Arc<SigningKey>, nonce: Option<[u8; 12]>) -> Self {
        PlacedJob(Job::Sign { key, nonce })
    }

    pub(crate) fn verify(key: Arc<SigningKey>, nonce: Option<[u8; 12]>, mac: [u8; 16]) -> Self {
        PlacedJob(Job::Verify { key, nonce, mac })
    }

    /// Whether it checks the peer's data (open, verify) rather than protecting this end's (seal, sign).
    pub fn checks(&self) -> bool {
        matches!(self.0, Job::Open { .. } | Job::Verify { .. })
    }

    /// Runs the step over `data` in place: a seal or MAC to send (`Some`), or a check passed
    /// (`None`). A check that fails is [`CryptoError::TagMismatch`] (a failed open also wipes
    /// `data`) or [`CryptoError::BadSignature`].
    pub fn run(&self, data: &mut [u8]) -> Result<Option<PlacedSeal>> {
        match &self.0 {
            Job::Seal { key, nonce } => {
                let tag = key.seal_in_place(nonce, &[], data)?;
                Ok(Some(PlacedSeal::new(tag, nonce.cipher_bytes(key.cipher()))))
            }
            Job::Open { key, nonce, tag } => key.open_in_place(nonce, &[], data, tag).map(|()| None),
            Job::Sign { key, nonce } => {
                let mac = key.mac_placed(nonce.as_ref(), data)?;
                Ok(Some(PlacedSeal::new(mac, nonce.as_ref().map_or(&[][..], |n| &n[..]))))
            }
            Job::Verify { key, nonce, mac } => key.verify_placed(nonce.as_ref(), data, mac).map(|()| None),
        }
    }
}

impl PlacedJob {
    /// [`PlacedJob::run`] with the data taken from `src` and left in `dst[..src.len()]`: a seal
    /// encrypts from `src` straight into `dst` in one pass, where copying first and sealing in place
    /// would take two (`dst` must hold `src.len() + 16` bytes: the 16 past the data are scratch);
    /// the other steps copy, then run.
    pub fn run_from(&self, src: &[u8], dst: &mut [u8]) -> Result<Option<PlacedSeal>> {
        let n = src.len();
        let end = n.checked_add(16).filter(|&e| e <= dst.len()).ok_or(CryptoError::BadInput {
            what: "run_from",
            detail: "destination shorter than the data + 16",
        })?;
        match &self.0 {
            Job::Seal { key, nonce } => {
                let tag = key.seal_from(nonce, &[], &mut dst[..end], 0, src)?;
                Ok(Some(PlacedSeal::new(tag, nonce.cipher_bytes(key.cipher()))))
            }
            _ => {
                dst[..n].copy_from_slice(src);
                self.run(&mut dst[..n])
            }
        }
    }

    /// [`PlacedJob::run`] for the steps that only read the data (sign, verify); `None` for the
    /// others (seal, open), which write it.
    pub fn run_on(&self, data: &[u8]) -> Option<Result<Option<PlacedSeal>>> {
        match &self.0 {
            Job::Sign { key, nonce } => Some(
                key.mac_placed(nonce.as_ref(), data)
                    .map(|mac| Some(PlacedSeal::new(mac, nonce.as_ref().map_or(&[][..], |n| &n[..])))),
            ),
            Job::Verify { key, nonce, mac } => {
                Some(key.verify_placed(nonce.as_ref(), data, mac).map(|()| None))
            }
            Job::Seal { .. } | Job::Open { .. } => None,
        }
    }
}

impl core::fmt::Debug for PlacedJob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match self.0 {
            Job::Seal { .. } => "seal",
            Job::Open { .. } => "open",
            Job::Sign { .. } => "sign",
            Job::Verify { .. } => "verify",
        };
        write!(f, "PlacedJob({what})")
    }
}

/// Checked lengths of a received transform's nonce and tag.
pub(crate) fn tag16(tag: &[u8]) -> Result<[u8; 16]> {
    tag.try_into().map_err(|_| CryptoError::BadInput { what: "transform signature", detail: "not 16 bytes" })
}
