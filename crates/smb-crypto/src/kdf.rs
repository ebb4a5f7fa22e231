//! NIST SP800-108 counter-mode KDF with HMAC-SHA256 (MS-SMB2 3.1.4.2) and the SMB 3.x session keys
//! (MS-SMB2 3.2.5.3.1 / 3.3.5.5.3).

use crate::backend::Backend;
use crate::hash::hmac_sha256;
use crate::preauth::PreauthHash;
use crate::secret::SecretKey;

/// KDF(Ki, Label, Context) for L = 128 or 256: one HMAC block, `BE32(1) || Label || 0x00 || Context ||
/// BE32(L)`, truncated to L/8 bytes. `label` and `context` include their own trailing NUL where the spec
/// says so.
pub fn sp800_108(backend: Backend, ki: &[u8], label: &[u8], context: &[u8], l_bits: u32) -> SecretKey {
    debug_assert!(l_bits == 128 || l_bits == 256, "SMB derives 128- or 256-bit keys only");
    let mut block =
        hmac_sha256(backend, ki, &[&1u32.to_be_bytes(), label, &[0], context, &l_bits.to_be_bytes()]);
    let key = SecretKey::new(&block[..(l_bits / 8) as usize]);
    zeroize::Zeroize::zeroize(&mut block);
    key
}

/// Which set of labels and contexts to use.
#[derive(Debug, Clone, Copy)]
pub enum KdfInput<'a> {
    /// SMB 3.0 and 3.0.2: fixed labels and contexts.
    Smb30,
    /// SMB 3.1.1: the session's preauth integrity hash is the context of every key.
    Smb311(&'a PreauthHash),
}

/// The keys of one SMB 3.x session, named by direction so neither side can mix them up.
#[derive(Debug, Clone)]
pub struct SessionKeys {
    pub signing: SecretKey,
    /// Client-to-server: the client seals with it, the server opens with it ("EncryptionKey" on the
    /// client, "DecryptionKey" on the server).
    pub c2s_cipher: SecretKey,
    /// Server-to-client.
    pub s2c_cipher: SecretKey,
    pub application: SecretKey,
}

impl SessionKeys {
    /// Derives every key of a session.
    ///
    /// `session_key` is Session.SessionKey (first 16 bytes of the GSS key, zero-padded); with a 256-bit
    /// cipher the two cipher keys come from `full_session_key` with L = 256 (MS-SMB2 3.3.5.5.3; deriving
    /// them from the 16-byte key is a known interop bug).
    pub fn derive(
        backend: Backend,
        input: KdfInput<'_>,
        session_key: &[u8],
        full_session_key: &[u8],
        cipher_key_bits: u32,
    ) -> Self {
        let mut ki = [0u8; 16];
        let n = session_key.len().min(16);
        ki[..n].copy_from_slice(&session_key[..n]);
        let (cipher_ki, l) = if cipher_key_bits == 256 { (full_session_key, 256) } else { (&ki[..], 128) };
        let keys = match input {
            KdfInput::Smb30 => Self {
                signing: sp800_108(backend, &ki, b"SMB2AESCMAC\0", b"SmbSign\0", 128),
                c2s_cipher: sp800_108(backend, cipher_ki, b"SMB2AESCCM\0", b"ServerIn \0", l),
                s2c_cipher: sp800_108(backend, cipher_ki, b"SMB2AESCCM\0", b"ServerOut\0", l),
                application: sp800_108(backend, &ki, b"SMB2APP\0", b"SmbRpc\0", 128),
            },
            KdfInput::Smb311(h) => Self {
                signing: sp800_108(backend, &ki, b"SMBSigningKey\0", h.value(), 128),
                c2s_cipher: sp800_108(backend, cipher_ki, b"SMBC2SCipherKey\0", h.value(), l),
                s2c_cipher: sp800_108(backend, cipher_ki, b"SMBS2CCipherKey\0", h.value(), l),
                application: sp800_108(backend, &ki, b"SMBAppKey\0", h.value(), 128),
            },
        };
        zeroize::Zeroize::zeroize(&mut ki);
        keys
    }

    /// Channel.SigningKey of a channel bound to an existing 3.1.1 session (MS-SMB2 3.3.5.5.3): the
    /// signing label over the binding channel's own preauth hash.
    pub fn channel_signing_key(
        backend: Backend,
        session_key: &[u8],
        channel_hash: &PreauthHash,
    ) -> SecretKey {
        let mut ki = [0u8; 16];
        let n = session_key.len().min(16);
        ki[..n].copy_from_slice(&session_key[..n]);
        let k = sp800_108(backend, &ki, b"SMBSigningKey\0", channel_hash.value(), 128);
        zeroize::Zeroize::zeroize(&mut ki);
        k
    }
}
