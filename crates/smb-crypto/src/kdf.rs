//! NIST SP800-108 counter-mode KDF with HMAC-SHA256 (MS-SMB2 3.1.4.2) and the SMB 3.x session keys
//! (MS-SMB2 3.2.5.3.1 / 3.3.5.5.3) as bytes. Protocol code wants them as prepared key objects held by
//! role: [`crate::session_crypto::SessionCrypto`] builds those from here.
//!
//! Every intermediate copy is wiped: the HMAC block in [`sp800_108`], the 16-byte Session.SessionKey cut
//! from the GSS key, and the derived keys themselves ([`SecretKey`] wipes itself on drop).

use crate::backend::Backend;
use crate::hash::hmac_sha256;
use crate::preauth::PreauthHash;
use crate::secret::SecretKey;
use zeroize::Zeroizing;

/// KDF(Ki, Label, Context) for L = 128 or 256: one HMAC block, `BE32(1) || Label || 0x00 || Context ||
/// BE32(L)`, truncated to L/8 bytes. `label` and `context` include their own trailing NUL where the spec
/// says so.
pub fn sp800_108(backend: Backend, ki: &[u8], label: &[u8], context: &[u8], l_bits: u32) -> SecretKey {
    debug_assert!(l_bits == 128 || l_bits == 256, "SMB derives 128- or 256-bit keys only");
    let block = Zeroizing::new(hmac_sha256(
        backend,
        ki,
        &[&1u32.to_be_bytes(), label, &[0], context, &l_bits.to_be_bytes()],
    ));
    SecretKey::new(&block[..(l_bits / 8) as usize])
}

/// Session.SessionKey: the first 16 bytes of the GSS session key, zero-padded if shorter (MS-SMB2
/// 3.3.5.5.3), in storage that wipes itself. It keys every KDF but the 256-bit cipher keys', and is
/// the 2.0.2/2.1 signing key itself.
pub fn session_key_16(gss_session_key: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut ki = Zeroizing::new([0u8; 16]);
    let n = gss_session_key.len().min(16);
    ki[..n].copy_from_slice(&gss_session_key[..n]);
    ki
}

/// Which set of labels and contexts to use.
#[derive(Debug, Clone, Copy)]
pub enum KdfInput<'a> {
    /// SMB 3.0 and 3.0.2: fixed labels and contexts.
    Smb30,
    /// SMB 3.1.1: the session's preauth integrity hash is the context of every key.
    Smb311(&'a PreauthHash),
}

/// The (label, context) pairs of MS-SMB2 3.3.5.5.3 for one key schedule, in the order signing,
/// client-to-server cipher, server-to-client cipher, application. Labels and contexts carry their own
/// trailing NUL where the spec says so.
fn labels<'a>(input: KdfInput<'a>) -> [(&'static [u8], &'a [u8]); 4] {
    match input {
        KdfInput::Smb30 => [
            (b"SMB2AESCMAC\0", b"SmbSign\0"),
            (b"SMB2AESCCM\0", b"ServerIn \0"),
            (b"SMB2AESCCM\0", b"ServerOut\0"),
            (b"SMB2APP\0", b"SmbRpc\0"),
        ],
        KdfInput::Smb311(h) => [
            (b"SMBSigningKey\0", h.value()),
            (b"SMBC2SCipherKey\0", h.value()),
            (b"SMBS2CCipherKey\0", h.value()),
            (b"SMBAppKey\0", h.value()),
        ],
    }
}

/// The keys of one SMB 3.x session, named by direction so neither side can mix them up. Each field
/// wipes itself when dropped.
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
        let ki = session_key_16(session_key);
        let (cipher_ki, l) = if cipher_key_bits == 256 { (full_session_key, 256) } else { (&ki[..], 128) };
        let [_, c2s, s2c, app] = labels(input);
        Self {
            signing: Self::signing_key(backend, input, session_key),
            c2s_cipher: sp800_108(backend, cipher_ki, c2s.0, c2s.1, l),
            s2c_cipher: sp800_108(backend, cipher_ki, s2c.0, s2c.1, l),
            application: sp800_108(backend, &ki[..], app.0, app.1, 128),
        }
    }

    /// The signing key alone: Session.SigningKey, or Channel.SigningKey of a channel bound to an
    /// existing session (MS-SMB2 3.3.5.5.3): for 3.1.1 the signing label over the binding channel's
    /// own preauth hash; for 3.0.x the session's signing key again.
    pub fn signing_key(backend: Backend, input: KdfInput<'_>, session_key: &[u8]) -> SecretKey {
        let [(label, context), ..] = labels(input);
        sp800_108(backend, &session_key_16(session_key)[..], label, context, 128)
    }
}
