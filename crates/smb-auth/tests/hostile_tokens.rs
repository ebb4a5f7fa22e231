//! Hostile input: random, truncated and bit-flipped tokens never panic, and a tampered AUTHENTICATE
//! never authenticates with a key other than the one the genuine client holds.

use std::sync::Arc;

use proptest::prelude::*;
use smb_auth::{AcceptStep, NtlmAcceptor, NtlmInitiator, UserDb};

const NOW: u64 = 0x01DC_0000_0000_0001;

fn acceptor() -> NtlmAcceptor {
    let mut db = UserDb::new();
    db.add_password("alice", "pw");
    db.allow_anonymous(true);
    NtlmAcceptor::new(Arc::new(db), "NODE", "DOM", [9; 8], NOW)
}

/// A genuine exchange up to the AUTHENTICATE: the acceptor waiting for it, the token, and the key the
/// client holds.
fn genuine(spnego: bool) -> (NtlmAcceptor, Vec<u8>, Vec<u8>) {
    let mut server = acceptor();
    let mut client = NtlmInitiator::new("alice", "pw", "DOM", "WS", [4; 24], NOW, spnego);
    let negotiate = client.step(&[]).unwrap();
    let AcceptStep::Continue { token: challenge } = server.step(&negotiate).unwrap() else { panic!() };
    let authenticate = client.step(&challenge).unwrap();
    (server, authenticate, client.session_key().unwrap().as_bytes().to_vec())
}

fn first_legs(spnego: bool) -> (Vec<u8>, Vec<u8>) {
    let mut server = acceptor();
    let mut client = NtlmInitiator::new("alice", "pw", "DOM", "WS", [4; 24], NOW, spnego);
    let negotiate = client.step(&[]).unwrap();
    let AcceptStep::Continue { token: challenge } = server.step(&negotiate).unwrap() else { panic!() };
    (negotiate, challenge)
}

/// Feeds a tampered AUTHENTICATE: must not panic, and must not succeed with a different key.
fn check_tampered(spnego: bool, index: usize, mask: u8) {
    let (mut server, mut auth, key) = genuine(spnego);
    let i = index % auth.len();
    auth[i] ^= mask;
    if let Ok(AcceptStep::Done { session_key, user, .. }) = server.step(&auth) {
        assert_eq!(session_key.as_bytes(), &key[..], "byte {i} ^ {mask:#x} authenticated with another key");
        assert_eq!(user.to_uppercase(), "ALICE");
    }
}

#[test]
fn every_single_byte_flip_of_the_authenticate_fails_or_keeps_the_key() {
    for spnego in [false, true] {
        let (_, auth, _) = genuine(spnego);
        let mut accepted = 0;
        for i in 0..auth.len() {
            for mask in [0x01, 0x80, 0xFF] {
                let (mut server, mut tampered, key) = genuine(spnego);
                tampered[i] ^= mask;
                if let Ok(AcceptStep::Done { session_key, .. }) = server.step(&tampered) {
                    assert_eq!(session_key.as_bytes(), &key[..]);
                    accepted += 1;
                }
            }
        }
        // The MIC covers the whole AUTHENTICATE and the SPNEGO framing has no slack: nothing passes.
        assert_eq!(accepted, 0, "spnego={spnego}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn flipped_authenticate_never_authenticates_with_a_wrong_key(
        spnego in any::<bool>(), index in any::<usize>(), mask in 1u8..=255,
    ) {
        check_tampered(spnego, index, mask);
    }

    #[test]
    fn random_first_tokens_never_panic(token in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = acceptor().step(&token);
        let _ = NtlmInitiator::new("a", "b", "c", "d", [0; 24], 0, true).step(&token);
    }

    #[test]
    fn random_tokens_with_a_valid_prefix_never_panic(
        which in 0usize..3, tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let prefix: &[u8] = [&b"NTLMSSP\0"[..], &[0x60, 0x82, 0x01, 0x00], &[0xA1, 0x81, 0x90, 0x30]][which];
        let mut token = prefix.to_vec();
        token.extend_from_slice(&tail);
        let _ = acceptor().step(&token);
        let (mut server, _, _) = genuine(which == 1);
        let _ = server.step(&token);
    }

    #[test]
    fn truncated_tokens_never_panic(spnego in any::<bool>(), cut in any::<usize>()) {
        let (negotiate, challenge) = first_legs(spnego);
        let n = &negotiate[..cut % (negotiate.len() + 1)];
        let _ = acceptor().step(n);

        let (mut server, auth, _) = genuine(spnego);
        let a = &auth[..cut % auth.len()];
        prop_assert!(server.step(a).is_err(), "a truncated AUTHENTICATE must fail");

        let mut client = NtlmInitiator::new("alice", "pw", "DOM", "WS", [4; 24], NOW, spnego);
        client.step(&[]).unwrap();
        let _ = client.step(&challenge[..cut % challenge.len()]);
    }

    #[test]
    fn random_challenges_and_final_tokens_never_panic(
        spnego in any::<bool>(), junk in proptest::collection::vec(any::<u8>(), 0..400), flip in any::<usize>(),
    ) {
        let mut client = NtlmInitiator::new("alice", "pw", "DOM", "WS", [4; 24], NOW, spnego);
        client.step(&[]).unwrap();
        let _ = client.step(&junk);

        let (_, mut challenge) = first_legs(spnego);
        let i = flip % challenge.len();
        challenge[i] ^= 0x5A;
        let mut client = NtlmInitiator::new("alice", "pw", "DOM", "WS", [4; 24], NOW, spnego);
        client.step(&[]).unwrap();
        if client.step(&challenge).is_ok() {
            let _ = client.finish(&junk);
        }
    }
}
