//! MS-NLMP 3.4 session security, as far as SPNEGO needs it: the signing and sealing keys (3.4.5.2,
//! 3.4.5.3) and the NTLM signature with extended session security (3.4.4.2) that a mechListMIC is.

use rc4::{consts::U16, KeyInit, Rc4, StreamCipher};
use zeroize::Zeroizing;

use crate::flags::{NEGOTIATE_128, NEGOTIATE_56, NEGOTIATE_KEY_EXCH};
use crate::ntlmv2::{ct_eq, hmac_md5, md5, Key16};

/// Which way a message travels; each direction has its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

/// SIGNKEY (MS-NLMP 3.4.5.2) with extended session security.
pub fn signing_key(exported_session_key: &[u8; 16], dir: Direction) -> Key16 {
    let magic: &[u8] = match dir {
        Direction::ClientToServer => b"session key to client-to-server signing key magic constant\0",
        Direction::ServerToClient => b"session key to server-to-client signing key magic constant\0",
    };
    Zeroizing::new(md5(&[exported_session_key, magic]))
}

/// SEALKEY (MS-NLMP 3.4.5.3) with extended session security: the exported key is cut to 16, 7 or 5 bytes
/// by NEGOTIATE_128 / NEGOTIATE_56 before hashing.
pub fn sealing_key(exported_session_key: &[u8; 16], flags: u32, dir: Direction) -> Key16 {
    let magic: &[u8] = match dir {
        Direction::ClientToServer => b"session key to client-to-server sealing key magic constant\0",
        Direction::ServerToClient => b"session key to server-to-client sealing key magic constant\0",
    };
    let used = if flags & NEGOTIATE_128 != 0 {
        16
    } else if flags & NEGOTIATE_56 != 0 {
        7
    } else {
        5
    };
    Zeroizing::new(md5(&[&exported_session_key[..used], magic]))
}

/// One direction's NTLM security context: a signing key, the RC4 sealing handle (its state runs on
/// across messages, as MS-NLMP requires) and the flags that choose whether checksums are sealed.
pub struct NtlmSecurity {
    signing_key: Key16,
    sealing: Rc4<U16>,
    key_exch: bool,
}

impl NtlmSecurity {
    pub fn new(exported_session_key: &[u8; 16], flags: u32, dir: Direction) -> Self {
        let seal = sealing_key(exported_session_key, flags, dir);
        Self {
            signing_key: signing_key(exported_session_key, dir),
            sealing: Rc4::<U16>::new((&*seal).into()),
            key_exch: flags & NEGOTIATE_KEY_EXCH != 0,
        }
    }

    /// MAC (MS-NLMP 3.4.4.2): `Version 1 || Checksum[8] || SeqNum`, the checksum being the first 8
    /// bytes of HMAC-MD5(SigningKey, SeqNum || message), RC4-sealed when KEY_EXCH was negotiated.
    pub fn sign(&mut self, seq_num: u32, message: &[u8]) -> [u8; 16] {
        let mac = hmac_md5(&*self.signing_key, &[&seq_num.to_le_bytes(), message]);
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&mac[..8]);
        if self.key_exch {
            self.sealing.apply_keystream(&mut checksum);
        }
        let mut sig = [0u8; 16];
        sig[..4].copy_from_slice(&1u32.to_le_bytes());
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq_num.to_le_bytes());
        sig
    }

    /// Checks a signature the peer made with the same key and sequence number, in constant time.
    pub fn verify(&mut self, seq_num: u32, message: &[u8], signature: &[u8]) -> bool {
        let expected = self.sign(seq_num, message);
        ct_eq(&expected, signature)
    }

    /// SEAL (MS-NLMP 3.4.3): encrypts `message` in place and returns its signature. SMB never seals
    /// with NTLM; this exists so the 4.2.4.4 vector can pin the RC4 handle's ordering.
    pub fn seal(&mut self, seq_num: u32, message: &mut [u8]) -> [u8; 16] {
        let plain = Zeroizing::new(message.to_vec());
        self.sealing.apply_keystream(message);
        self.sign(seq_num, &plain)
    }
}

/// The mechListMIC (RFC 4178 / MS-SPNG 3.1.5.1): an NTLM signature, sequence number 0, over the DER
/// encoding of the initiator's mechTypes list, with a fresh context of the sender's direction.
pub fn mech_list_mic(
    exported_session_key: &[u8; 16],
    flags: u32,
    dir: Direction,
    mech_types: &[u8],
) -> [u8; 16] {
    NtlmSecurity::new(exported_session_key, flags, dir).sign(0, mech_types)
}

pub fn verify_mech_list_mic(
    exported_session_key: &[u8; 16],
    flags: u32,
    dir: Direction,
    mech_types: &[u8],
    mic: &[u8],
) -> bool {
    NtlmSecurity::new(exported_session_key, flags, dir).verify(0, mech_types, mic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::NEGOTIATE_EXTENDED_SESSIONSECURITY;

    const ESK: [u8; 16] = [0x55; 16];
    const FLAGS: u32 = NEGOTIATE_KEY_EXCH | NEGOTIATE_128 | NEGOTIATE_56 | NEGOTIATE_EXTENDED_SESSIONSECURITY;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn ms_nlmp_4_2_4_signing_and_sealing_keys() {
        assert_eq!(
            signing_key(&ESK, Direction::ClientToServer).to_vec(),
            h("4788dc861b4782f35d43fd98fe1a2d39")
        );
        assert_eq!(
            sealing_key(&ESK, FLAGS, Direction::ClientToServer).to_vec(),
            h("59f600973cc4960a25480a7c196e4c58")
        );
        // Computed: MS-NLMP 4.2.4 gives the client's keys only (docs/TEST-VECTORS.md).
        assert_eq!(
            signing_key(&ESK, Direction::ServerToClient).to_vec(),
            h("d04d6f10741041d1d246d64188d7a8ad")
        );
        assert_eq!(
            sealing_key(&ESK, FLAGS, Direction::ServerToClient).to_vec(),
            h("9355f3a957c1583d25c4c2f11e40390e")
        );
    }

    #[test]
    fn ms_nlmp_4_2_4_4_gss_wrap_ex() {
        let mut msg = crate::text::utf16le("Plaintext");
        let sig = NtlmSecurity::new(&ESK, FLAGS, Direction::ClientToServer).seal(0, &mut msg);
        assert_eq!(hex::encode(msg), "54e50165bf1936dc996020c1811b0f06fb5f");
        assert_eq!(hex::encode(sig), "010000007fb38ec5c55d497600000000");
    }

    #[test]
    fn server_direction_wrap_matches_an_independent_implementation() {
        // From a third-party NTLM test suite (server side of the 4.2.4.4 inputs), not from MS-NLMP itself.
        let mut msg = crate::text::utf16le("Plaintext");
        let sig = NtlmSecurity::new(&ESK, FLAGS, Direction::ServerToClient).seal(0, &mut msg);
        assert_eq!(hex::encode(msg), "160871b730ba74e946c453d7465b54278dd0");
        assert_eq!(hex::encode(sig), "01000000b298b847ce7c580700000000");
    }

    #[test]
    fn shorter_sealing_keys_without_128() {
        let k56 = sealing_key(&ESK, NEGOTIATE_56, Direction::ClientToServer);
        let k40 = sealing_key(&ESK, 0, Direction::ClientToServer);
        assert_ne!(*k56, *k40);
        assert_ne!(k56.to_vec(), h("59f600973cc4960a25480a7c196e4c58"));
    }

    #[test]
    fn mech_list_mic_verifies_only_with_the_right_key_direction_and_bytes() {
        let mech_types = h("300c060a2b06010401823702020a");
        let mic = mech_list_mic(&ESK, FLAGS, Direction::ClientToServer, &mech_types);
        assert_eq!(&mic[..4], &[1, 0, 0, 0]);
        assert_eq!(&mic[12..], &[0, 0, 0, 0]);
        assert!(verify_mech_list_mic(&ESK, FLAGS, Direction::ClientToServer, &mech_types, &mic));
        assert!(!verify_mech_list_mic(&ESK, FLAGS, Direction::ServerToClient, &mech_types, &mic));
        assert!(!verify_mech_list_mic(&[0x56; 16], FLAGS, Direction::ClientToServer, &mech_types, &mic));
        assert!(!verify_mech_list_mic(&ESK, FLAGS, Direction::ClientToServer, &mech_types[1..], &mic));
        // Without KEY_EXCH the checksum is not sealed, so the signature differs.
        let plain = mech_list_mic(&ESK, FLAGS & !NEGOTIATE_KEY_EXCH, Direction::ClientToServer, &mech_types);
        assert_ne!(plain, mic);
    }
}
