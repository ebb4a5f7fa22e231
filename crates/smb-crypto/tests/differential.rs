//! Differential tests: aws-lc-rs and ring must each agree with RustCrypto on every output, for thousands
//! of random keys, nonces, AADs and lengths from 0 to 1 MiB, and both must refuse tampering.

use proptest::prelude::*;
use smb_crypto::kdf::sp800_108;
use smb_crypto::signing::{SigningAlgorithm, SigningKey};
use smb_crypto::{AeadKey, Backend, Cipher, Nonce, PreauthHash};

/// Deterministic filler so a 1 MiB case costs one seed, not a million proptest draws.
fn fill(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        v.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    v.truncate(len);
    v
}

fn cipher() -> impl Strategy<Value = Cipher> {
    prop::sample::select(Cipher::ALL.to_vec())
}

/// Mostly small messages (where edge cases live: 0, partial blocks), some up to 1 MiB.
fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        30 => 0usize..=70,
        12 => 71usize..=16 * 1024,
        1 => 16 * 1024usize..=1024 * 1024,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn aead_backends_agree_and_detect_tampering(
        cipher in cipher(),
        key in prop::array::uniform32(any::<u8>()),
        nonce in prop::array::uniform16(any::<u8>()),
        aad in prop::collection::vec(any::<u8>(), 0..64),
        len in length(),
        seed in any::<u64>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let key = &key[..cipher.key_len()];
        let nonce = Nonce(nonce);
        let plain = fill(seed, len);
        // Each fast library against the portable one (for CCM both are RustCrypto's).
        for lib in [Backend::AwsLc, Backend::Ring] {
            let fast = AeadKey::new(lib, cipher, key).unwrap();
            let portable = AeadKey::new(Backend::RustCrypto, cipher, key).unwrap();

            let mut a = plain.clone();
            let tag_a = fast.seal_in_place(&nonce, &aad, &mut a).unwrap();
            let mut b = plain.clone();
            let tag_b = portable.seal_in_place(&nonce, &aad, &mut b).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(tag_a, tag_b);

            // Each opens the other's output.
            let mut x = a.clone();
            portable.open_in_place(&nonce, &aad, &mut x, &tag_a).unwrap();
            prop_assert_eq!(&x, &plain);
            let mut y = b.clone();
            fast.open_in_place(&nonce, &aad, &mut y, &tag_b).unwrap();
            prop_assert_eq!(&y, &plain);

            // Sealing a head in place and a tail from elsewhere is the same seal, split anywhere.
            let head = flip.index(len + 1);
            for k in [&fast, &portable] {
                let mut msg = vec![0xEEu8; len + 16];
                msg[..head].copy_from_slice(&plain[..head]);
                let tag = k.seal_from(&nonce, &aad, &mut msg, head, &plain[head..]).unwrap();
                prop_assert_eq!(&msg[..len], &a[..]);
                prop_assert_eq!(tag, tag_a);
                prop_assert!(k.seal_from(&nonce, &aad, &mut msg[1..], head, &plain[head..]).is_err());
            }

            // Out-of-place opening agrees too.
            for k in [&fast, &portable] {
                let mut out = vec![0u8; a.len()];
                k.open_to(&nonce, &aad, &a, &mut out, &tag_a).unwrap();
                prop_assert_eq!(&out, &plain);
            }

            // One flipped bit anywhere (ciphertext or tag) is refused by both.
            let mut bad_tag = tag_a;
            let mut bad_ct = a.clone();
            if bad_ct.is_empty() {
                bad_tag[flip.index(16)] ^= 1;
            } else {
                let i = flip.index(bad_ct.len());
                bad_ct[i] ^= 0x80;
            }
            for k in [&fast, &portable] {
                let mut m = bad_ct.clone();
                prop_assert!(k.open_in_place(&nonce, &aad, &mut m, &bad_tag).is_err());
                prop_assert!(m.iter().all(|&v| v == 0), "plaintext left behind after a failed open");
            }
            // A different AAD is refused too.
            let mut other_aad = aad.clone();
            other_aad.push(1);
            let mut m = a.clone();
            prop_assert!(fast.open_in_place(&nonce, &other_aad, &mut m, &tag_a).is_err());
        }
    }

    #[test]
    fn signing_backends_agree(
        alg in prop::sample::select(SigningAlgorithm::ALL.to_vec()),
        key in prop::array::uniform16(any::<u8>()),
        len in 64usize..9000,
        seed in any::<u64>(),
    ) {
        let mut pdu = fill(seed, len);
        pdu[48..64].fill(0);
        let signed = pdu.clone();
        for lib in [Backend::AwsLc, Backend::Ring] {
            let mut pdu = signed.clone();
            let fast = SigningKey::new(lib, alg, &key).unwrap();
            let portable = SigningKey::new(Backend::RustCrypto, alg, &key).unwrap();
            prop_assert_eq!(fast.mac(&pdu).unwrap(), portable.mac(&pdu).unwrap());
            fast.sign_in_place(&mut pdu).unwrap();
            portable.verify_in_place(&mut pdu).unwrap();
            let i = (seed as usize) % len;
            pdu[i] ^= 1;
            // Any flipped bit, in the signature or the signed bytes, fails verification.
            prop_assert!(portable.verify_in_place(&mut pdu).is_err());
            prop_assert!(fast.verify_in_place(&mut pdu).is_err());
        }
    }

    #[test]
    fn kdf_and_preauth_backends_agree(
        ki in prop::collection::vec(any::<u8>(), 16..=32),
        label in prop::collection::vec(any::<u8>(), 0..32),
        context in prop::collection::vec(any::<u8>(), 0..80),
        wide in any::<bool>(),
        msg in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let l = if wide { 256 } else { 128 };
        let fast = sp800_108(Backend::AwsLc, &ki, &label, &context, l);
        let portable = sp800_108(Backend::RustCrypto, &ki, &label, &context, l);
        prop_assert_eq!(fast.as_bytes(), portable.as_bytes());
        let a = PreauthHash::new(Backend::AwsLc).updated(&msg).updated(&label);
        let b = PreauthHash::new(Backend::RustCrypto).updated(&msg).updated(&label);
        prop_assert_eq!(a.value(), b.value());
    }

    /// smbdx's one-pass CCM (the only CCM the backends run) against the `ccm` crate's two-pass one.
    #[test]
    fn fused_ccm_matches_the_ccm_crate(
        wide in any::<bool>(),
        key in prop::array::uniform32(any::<u8>()),
        nonce in prop::array::uniform11(any::<u8>()),
        aad in prop::collection::vec(any::<u8>(), 0..80),
        len in length(),
        seed in any::<u64>(),
    ) {
        use aes_gcm::aead::{consts::{U11, U16}, generic_array::GenericArray, AeadInPlace, KeyInit};
        let plain = fill(seed, len);
        let mut ours = plain.clone();
        let mut theirs = plain.clone();
        let n = GenericArray::from_slice(&nonce);
        let (tag, want) = if wide {
            let k = smb_crypto::ccm::FusedCcm::<aes::Aes256>::new_from_slice(&key).unwrap();
            let r = ccm::Ccm::<aes::Aes256, U16, U11>::new_from_slice(&key).unwrap();
            (k.seal(&nonce, &aad, &mut ours).unwrap(), r.encrypt_in_place_detached(n, &aad, &mut theirs).unwrap())
        } else {
            let k = smb_crypto::ccm::FusedCcm::<aes::Aes128>::new_from_slice(&key[..16]).unwrap();
            let r = ccm::Ccm::<aes::Aes128, U16, U11>::new_from_slice(&key[..16]).unwrap();
            (k.seal(&nonce, &aad, &mut ours).unwrap(), r.encrypt_in_place_detached(n, &aad, &mut theirs).unwrap())
        };
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(&tag[..], &want[..]);
    }
}
