//! MS-SMB2 3.1.4.3 Encrypting the Message / 3.3.5.2.1.1 Decrypting the Message: the TRANSFORM_HEADER
//! seal and open, in place.
//!
//! The 52-byte header and the message it protects may live in different buffers (the engine puts the
//! header in front of a payload that already sits in registered memory), so both are passed apart.

use crate::cipher::AeadKey;
use crate::error::{CryptoError, Result};
use crate::nonce::Nonce;

pub const TRANSFORM_HEADER_LEN: usize = 52;
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];
/// Flags (3.1.1) / EncryptionAlgorithm (3.0.x): 0x0001 = encrypted (AES-128-CCM for 3.0.x).
pub const TRANSFORM_FLAG_ENCRYPTED: u16 = 0x0001;
/// Bytes 20..52 (Nonce through SessionId) are the AAD.
pub const AAD_RANGE: core::ops::Range<usize> = 20..52;
const SIGNATURE_RANGE: core::ops::Range<usize> = 4..20;

/// Builds the transform header for `msg` and encrypts `msg` in place with `key` (the sender's
/// direction key) and `nonce`.
pub fn seal_message(
    key: &AeadKey,
    nonce: &Nonce,
    session_id: u64,
    header: &mut [u8; TRANSFORM_HEADER_LEN],
    msg: &mut [u8],
) -> Result<()> {
    fill_header(key, nonce, session_id, header, msg.len())?;
    let tag = key.seal_in_place(nonce, &header[AAD_RANGE], msg)?;
    header[SIGNATURE_RANGE].copy_from_slice(&tag);
    Ok(())
}

/// Like [`seal_message`] for the message `msg[..head] ‖ tail`, with `tail` (a payload) lying
/// elsewhere: it is encrypted into `msg[head..]` (see [`AeadKey::seal_from`]; `msg` is
/// `head + tail.len()` bytes plus 16 of scratch at its end, which are not part of the message).
pub fn seal_message_from(
    key: &AeadKey,
    nonce: &Nonce,
    session_id: u64,
    header: &mut [u8; TRANSFORM_HEADER_LEN],
    msg: &mut [u8],
    head: usize,
    tail: &[u8],
) -> Result<()> {
    fill_header(key, nonce, session_id, header, head.saturating_add(tail.len()))?;
    let tag = key.seal_from(nonce, &header[AAD_RANGE], msg, head, tail)?;
    header[SIGNATURE_RANGE].copy_from_slice(&tag);
    Ok(())
}

/// Every field of the transform header but the signature, which stays zero until the seal.
fn fill_header(
    key: &AeadKey,
    nonce: &Nonce,
    session_id: u64,
    header: &mut [u8; TRANSFORM_HEADER_LEN],
    len: usize,
) -> Result<()> {
    let size = u32::try_from(len)
        .map_err(|_| CryptoError::BadInput { what: "seal_message", detail: "message above 4 GiB" })?;
    header[..4].copy_from_slice(&TRANSFORM_PROTOCOL_ID);
    header[SIGNATURE_RANGE].fill(0);
    // Bytes of the nonce field the cipher does not use MUST be zero (MS-SMB2 2.2.41).
    let used = key.cipher().nonce_len();
    header[20..20 + used].copy_from_slice(&nonce.0[..used]);
    header[20 + used..36].fill(0);
    header[36..40].copy_from_slice(&size.to_le_bytes());
    header[40..42].fill(0);
    header[42..44].copy_from_slice(&TRANSFORM_FLAG_ENCRYPTED.to_le_bytes());
    header[44..52].copy_from_slice(&session_id.to_le_bytes());
    Ok(())
}

/// Checks the header against `msg` and decrypts `msg` in place. The caller has already matched the
/// header's SessionId to a session and picked that session's receive-direction key.
pub fn open_message(key: &AeadKey, header: &[u8; TRANSFORM_HEADER_LEN], msg: &mut [u8]) -> Result<()> {
    check_header(header, msg.len())?;
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&header[20..36]);
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&header[SIGNATURE_RANGE]);
    key.open_in_place(&Nonce(nonce), &header[AAD_RANGE], msg, &tag)
}

/// Like [`open_message`], decrypting `ciphertext` into `out` (same length) instead of in place.
pub fn open_message_to(
    key: &AeadKey,
    header: &[u8; TRANSFORM_HEADER_LEN],
    ciphertext: &[u8],
    out: &mut [u8],
) -> Result<()> {
    check_header(header, ciphertext.len())?;
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&header[20..36]);
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&header[SIGNATURE_RANGE]);
    key.open_to(&Nonce(nonce), &header[AAD_RANGE], ciphertext, out, &tag)
}

fn check_header(header: &[u8; TRANSFORM_HEADER_LEN], len: usize) -> Result<()> {
    if header[..4] != TRANSFORM_PROTOCOL_ID {
        return Err(CryptoError::BadInput { what: "TRANSFORM_HEADER", detail: "ProtocolId is not FD 'SMB'" });
    }
    let size = u32::from_le_bytes([header[36], header[37], header[38], header[39]]) as usize;
    if size != len {
        return Err(CryptoError::BadInput {
            what: "TRANSFORM_HEADER.OriginalMessageSize",
            detail: "differs from the encrypted length",
        });
    }
    if u16::from_le_bytes([header[42], header[43]]) != TRANSFORM_FLAG_ENCRYPTED {
        return Err(CryptoError::BadInput { what: "TRANSFORM_HEADER.Flags", detail: "not 0x0001" });
    }
    Ok(())
}

/// The SessionId of a transform header (to find the session before opening).
pub fn session_id(header: &[u8; TRANSFORM_HEADER_LEN]) -> u64 {
    u64::from_le_bytes([
        header[44], header[45], header[46], header[47], header[48], header[49], header[50], header[51],
    ])
}
