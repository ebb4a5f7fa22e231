//! The crypto of the SMB 3.1.1 RDMA transform (MS-SMB2 2.2.43.1, 3.3.5.12, 3.2.4.7): what one end
//! seals or signs over placed bytes the other end opens or verifies, for every cipher, signing
//! algorithm and pair of backends; the exact inputs (sender's key, no associated data, the carried
//! nonce); what tampering gets; and nonces that never repeat under a key, whichever message kind,
//! channel or end draws them.

use smb_crypto::kdf::{KdfInput, SessionKeys};
use smb_crypto::{
    AeadKey, Backend, Cipher, CryptoError, KeySchedule, Nonce, NonceSequence, PreauthHash, Role,
    SessionCrypto, SigningAlgorithm, SigningKey, TransformNonces,
};
use std::collections::HashSet;

const SESSION_KEY: [u8; 16] = [0x5A; 16];

fn pair(cipher: Cipher, alg: SigningAlgorithm, cb: Backend, sb: Backend) -> (SessionCrypto, SessionCrypto) {
    let hash = PreauthHash::new(Backend::FAST).updated(b"negotiate").updated(b"setup");
    let d = |role, b| {
        SessionCrypto::derive(role, KeySchedule::Smb311(&hash), &SESSION_KEY, Some(cipher), alg, b, true)
            .unwrap()
    };
    (d(Role::Client, cb), d(Role::Server, sb))
}

/// Bytes that look like file data and differ at every position.
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + i / 251) as u8).collect()
}

#[test]
fn placed_data_sealed_by_one_end_opens_at_the_other_for_every_cipher_and_backend() {
    for cb in Backend::ALL {
        for sb in Backend::ALL {
            for cipher in Cipher::ALL {
                let what = format!("{cipher} client {cb} server {sb}");
                let (mut client, mut server) = pair(cipher, SigningAlgorithm::AesGmac, cb, sb);
                for len in [1, 4096, 65536 + 3] {
                    let plain = data(len);
                    // WRITE: the client seals, the server opens.
                    let mut buf = plain.clone();
                    let seal = client.seal_placed(&mut buf).unwrap();
                    assert_ne!(buf, plain, "{what}");
                    assert_eq!(seal.nonce().len(), cipher.nonce_len(), "{what}");
                    let mut own = buf.clone();
                    assert_eq!(
                        client.open_placed(seal.nonce(), &seal.signature, &mut own),
                        Err(CryptoError::TagMismatch),
                        "an end opened its own direction: {what}"
                    );
                    server.open_placed(seal.nonce(), &seal.signature, &mut buf).unwrap();
                    assert_eq!(buf, plain, "{what}");
                    // READ: the server seals, the client opens.
                    let seal = server.seal_placed(&mut buf).unwrap();
                    client.open_placed(seal.nonce(), &seal.signature, &mut buf).unwrap();
                    assert_eq!(buf, plain, "{what}");
                }
            }
        }
    }
}

/// MS-SMB2 2.2.43.1 / 3.3.5.12: the sender's direction key (C2S for WRITE data, S2C for READ data),
/// the carried nonce, and no associated data: an AEAD built apart from those inputs gives the same
/// ciphertext and tag.
#[test]
fn the_seal_is_the_senders_key_over_the_data_alone() {
    let hash = PreauthHash::new(Backend::FAST).updated(b"negotiate").updated(b"setup");
    for cipher in Cipher::ALL {
        let (mut client, mut server) = pair(cipher, SigningAlgorithm::AesCmac, Backend::FAST, Backend::FAST);
        let keys = SessionKeys::derive(
            Backend::FAST,
            KdfInput::Smb311(&hash),
            &SESSION_KEY,
            &SESSION_KEY,
            cipher.key_bits(),
        );
        for (end, key) in [(&mut client, &keys.c2s_cipher), (&mut server, &keys.s2c_cipher)] {
            let plain = data(5000);
            let mut sealed = plain.clone();
            let seal = end.seal_placed(&mut sealed).unwrap();
            let reference = AeadKey::new(Backend::RustCrypto, cipher, key.as_bytes()).unwrap();
            let mut n = [0u8; 16];
            n[..seal.nonce().len()].copy_from_slice(seal.nonce());
            let mut expect = plain.clone();
            let tag = reference.seal_in_place(&Nonce(n), &[], &mut expect).unwrap();
            assert_eq!(sealed, expect, "{cipher} {:?}", end.role());
            assert_eq!(seal.signature, tag, "{cipher} {:?}", end.role());
        }
    }
}

#[test]
fn tampered_data_tag_or_nonce_never_opens() {
    for cipher in Cipher::ALL {
        let (mut client, server) = pair(cipher, SigningAlgorithm::AesGmac, Backend::FAST, Backend::FAST);
        let plain = data(8192);
        let mut sealed = plain.clone();
        let seal = client.seal_placed(&mut sealed).unwrap();
        let flip = |buf: &mut Vec<u8>, nonce: &[u8], tag: &[u8]| server.open_placed(nonce, tag, buf);
        let mut b = sealed.clone();
        b[4000] ^= 0x40;
        assert_eq!(flip(&mut b, seal.nonce(), &seal.signature), Err(CryptoError::TagMismatch), "{cipher}");
        assert!(b.iter().all(|&x| x == 0), "a failed open leaves no plaintext: {cipher}");
        let mut tag = seal.signature;
        tag[15] ^= 1;
        assert_eq!(flip(&mut sealed.clone(), seal.nonce(), &tag), Err(CryptoError::TagMismatch), "{cipher}");
        let mut nonce = seal.nonce().to_vec();
        nonce[0] ^= 1;
        assert_eq!(
            flip(&mut sealed.clone(), &nonce, &seal.signature),
            Err(CryptoError::TagMismatch),
            "{cipher}"
        );
        // Lengths the cipher does not use are refused before any decryption.
        let long = [0u8; 16];
        for bad in [&long[..cipher.nonce_len() - 1], &long[..cipher.nonce_len() + 1], &[][..]] {
            assert!(
                matches!(flip(&mut sealed.clone(), bad, &seal.signature), Err(CryptoError::BadInput { .. })),
                "{cipher} nonce of {} bytes",
                bad.len()
            );
        }
        assert!(matches!(
            flip(&mut sealed.clone(), seal.nonce(), &seal.signature[..15]),
            Err(CryptoError::BadInput { .. })
        ));
        let mut ok = sealed.clone();
        flip(&mut ok, seal.nonce(), &seal.signature).unwrap();
        assert_eq!(ok, plain);
    }
}

#[test]
fn placed_data_signed_by_one_end_verifies_at_the_other() {
    for cb in Backend::ALL {
        for sb in Backend::ALL {
            for alg in SigningAlgorithm::ALL {
                let what = format!("{alg} client {cb} server {sb}");
                let (mut client, mut server) = pair(Cipher::Aes128Gcm, alg, cb, sb);
                let plain = data(70_000);
                let s = client.sign_placed(&plain).unwrap();
                let gmac = alg == SigningAlgorithm::AesGmac;
                assert_eq!(s.nonce().len(), if gmac { 12 } else { 0 }, "{what}");
                server.verify_placed(s.nonce(), &s.signature, &plain).unwrap();
                let s2 = server.sign_placed(&plain).unwrap();
                client.verify_placed(s2.nonce(), &s2.signature, &plain).unwrap();
                if gmac {
                    assert_ne!(s.nonce(), s2.nonce(), "the two ends' GMAC nonces differ: {what}");
                }
                let mut bad = plain.clone();
                bad[69_999] ^= 1;
                assert_eq!(
                    server.verify_placed(s.nonce(), &s.signature, &bad),
                    Err(CryptoError::BadSignature)
                );
                let mut sig = s.signature;
                sig[0] ^= 1;
                assert_eq!(server.verify_placed(s.nonce(), &sig, &plain), Err(CryptoError::BadSignature));
                // A nonce where the algorithm takes none, or none where it needs one.
                let wrong: &[u8] = if gmac { &[0; 11] } else { &[0; 12] };
                assert!(matches!(
                    server.verify_placed(wrong, &s.signature, &plain),
                    Err(CryptoError::BadInput { .. })
                ));
            }
        }
    }
}

/// The SIGNING transform's MAC is the negotiated algorithm under Session.SigningKey over the data
/// alone; GMAC's under the carried nonce.
#[test]
fn the_signing_transform_is_the_session_signing_key_over_the_data() {
    let hash = PreauthHash::new(Backend::FAST).updated(b"negotiate").updated(b"setup");
    let key = SessionKeys::signing_key(Backend::FAST, KdfInput::Smb311(&hash), &SESSION_KEY);
    for alg in SigningAlgorithm::ALL {
        let (mut client, _) = pair(Cipher::Aes256Gcm, alg, Backend::FAST, Backend::FAST);
        let reference = SigningKey::new(Backend::RustCrypto, alg, key.as_bytes()).unwrap();
        let plain = data(3000);
        let s = client.sign_placed(&plain).unwrap();
        let nonce: Option<[u8; 12]> = s.nonce().try_into().ok();
        assert_eq!(reference.mac_placed(nonce.as_ref(), &plain).unwrap(), s.signature, "{alg}");
    }
}

/// Under one key, the nonces of TRANSFORM_HEADER messages and of ENCRYPTION transforms come from one
/// sequence per channel, and SIGNING transforms' GMAC nonces from another that header signing can
/// never produce. Two million draws over four channels, both ends and every kind, in a random
/// interleaving: no repeat under any key.
#[test]
fn millions_of_nonces_across_channels_ends_and_kinds_never_repeat() {
    const CHANNELS: u32 = 4;
    let mut sealing: Vec<NonceSequence> = (0..CHANNELS).map(|c| NonceSequence::new(c).unwrap()).collect();
    let mut transform: Vec<[TransformNonces; 2]> = (0..CHANNELS)
        .map(|c| [TransformNonces::new(false, c).unwrap(), TransformNonces::new(true, c).unwrap()])
        .collect();
    // Under the (one) sender key: header and ENCRYPTION transform nonces; under the signing key
    // (shared by both ends): header-signing GMAC nonces and SIGNING transform nonces.
    let mut under_cipher_key = HashSet::new();
    let mut under_signing_key = HashSet::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut message_id = [0u64; 2];
    for _ in 0..2_000_000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let channel = (rng % u64::from(CHANNELS)) as usize;
        match (rng >> 8) % 4 {
            // A TRANSFORM_HEADER message or an ENCRYPTION transform: the same sequence.
            0 | 1 => {
                let n = sealing[channel].next_nonce().unwrap();
                let key: [u8; 12] = n.0[..12].try_into().unwrap();
                assert!(under_cipher_key.insert(key), "cipher nonce repeated");
            }
            // A SIGNING transform of either end.
            2 => {
                let end = ((rng >> 16) & 1) as usize;
                let n = transform[channel][end].next_nonce().unwrap();
                assert!(under_signing_key.insert(n), "signing transform nonce repeated");
            }
            // A signed header of either end (MS-SMB2 3.1.4.1): MessageId, then the role bit. Each
            // end's MessageIds are unique on a connection; CANCEL reuses one with bit 1 set.
            _ => {
                let end = ((rng >> 16) & 1) as usize;
                let mut n = [0u8; 12];
                n[..8].copy_from_slice(&message_id[end].to_le_bytes());
                n[8] = end as u8;
                message_id[end] += 1;
                assert!(under_signing_key.insert(n), "header-signing nonce met a transform nonce");
            }
        }
    }
    assert!(under_cipher_key.len() + under_signing_key.len() == 2_000_000);
}

/// A session that does not encrypt has nothing to seal or open placed data with.
#[test]
fn no_encryption_transform_without_encryption_keys() {
    let hash = PreauthHash::new(Backend::FAST);
    let mut c = SessionCrypto::derive(
        Role::Client,
        KeySchedule::Smb311(&hash),
        &[1; 16],
        None,
        SigningAlgorithm::AesCmac,
        Backend::FAST,
        true,
    )
    .unwrap();
    assert!(matches!(c.seal_placed(&mut [0; 10]), Err(CryptoError::BadInput { .. })));
    assert!(matches!(c.open_placed(&[0; 12], &[0; 16], &mut [0; 10]), Err(CryptoError::BadInput { .. })));
    assert!(c.sign_placed(b"still signs").is_ok());
}

/// Sealing from the caller's bytes into the registered buffer in one pass gives what copying and
/// sealing in place gives; the buffer needs 16 bytes of scratch past the data.
#[test]
fn sealing_from_a_source_matches_sealing_in_place() {
    for cipher in Cipher::ALL {
        let (mut a, server) = pair(cipher, SigningAlgorithm::AesGmac, Backend::FAST, Backend::FAST);
        let src = data(70_001);
        let mut dst = vec![0xEEu8; src.len() + 16];
        let seal = a.seal_job().unwrap().run_from(&src, &mut dst).unwrap().unwrap();
        let mut opened = dst[..src.len()].to_vec();
        server.open_placed(seal.nonce(), &seal.signature, &mut opened).unwrap();
        assert_eq!(opened, src, "{cipher}");
        let mut short = vec![0u8; src.len() + 15];
        assert!(matches!(
            a.seal_job().unwrap().run_from(&src, &mut short),
            Err(CryptoError::BadInput { .. })
        ));
        // A MAC from a source copies the data, then signs it.
        let mac = a.sign_job().unwrap().run_from(&src, &mut dst).unwrap().unwrap();
        assert_eq!(&dst[..src.len()], &src[..]);
        server.verify_placed(mac.nonce(), &mac.signature, &src).unwrap();
    }
}
