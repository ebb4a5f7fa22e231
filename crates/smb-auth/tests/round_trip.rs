//! Initiator <-> acceptor exchanges through the public API, in both SPNEGO and raw NTLMSSP forms.

use std::sync::Arc;

use smb_auth::message::authenticate::MIC_OFFSET;
use smb_auth::spnego::{self, NegState, NegTokenResp, NegotiationToken};
use smb_auth::{AcceptStep, AuthError, NtlmAcceptor, NtlmInitiator, SessionKey, UserDb};

const NOW: u64 = 0x01DC_0102_0304_0506;

fn db() -> Arc<UserDb> {
    let mut db = UserDb::new();
    db.add_spec("alice:correct horse").unwrap();
    db.add_spec("bob:nthash:a4f49c406510bdcab6824ee7c30fd852").unwrap(); // "Password"
    Arc::new(db)
}

fn acceptor() -> NtlmAcceptor {
    NtlmAcceptor::new(db(), "NODE1", "WORKGROUP", [0x5A; 8], NOW)
}

fn initiator(user: &str, password: &str, spnego: bool) -> NtlmInitiator {
    NtlmInitiator::new(user, password, "WORKGROUP", "CLIENT7", [0x3C; 24], NOW + 1, spnego)
}

fn expect_continue(step: AcceptStep) -> Vec<u8> {
    match step {
        AcceptStep::Continue { token } => token,
        AcceptStep::Done { .. } => panic!("acceptor finished a leg early"),
    }
}

struct Outcome {
    final_token: Vec<u8>,
    key: SessionKey,
    user: String,
    domain: String,
    anonymous: bool,
}

/// NEGOTIATE, CHALLENGE, AUTHENTICATE; the AUTHENTICATE passes through `tamper` on its way.
fn exchange(
    client: &mut NtlmInitiator,
    server: &mut NtlmAcceptor,
    server_init: &[u8],
    tamper: impl FnOnce(&mut Vec<u8>),
) -> Result<Outcome, AuthError> {
    let negotiate = client.step(server_init)?;
    let challenge = expect_continue(server.step(&negotiate)?);
    let mut authenticate = client.step(&challenge)?;
    tamper(&mut authenticate);
    match server.step(&authenticate)? {
        AcceptStep::Done { token, session_key, user, domain, anonymous } => {
            Ok(Outcome { final_token: token, key: session_key, user, domain, anonymous })
        }
        AcceptStep::Continue { .. } => panic!("acceptor wanted a fourth leg"),
    }
}

#[test]
fn spnego_round_trip_agrees_on_the_key_and_closes_with_a_mech_list_mic() {
    let mut client = initiator("alice", "correct horse", true);
    let mut server = acceptor();
    let init = smb_auth::spnego_server_init_token();
    let out = exchange(&mut client, &mut server, &init, |_| {}).unwrap();
    assert_eq!(out.user, "alice");
    assert_eq!(out.domain, "WORKGROUP");
    assert!(!out.anonymous);
    assert_eq!(client.session_key().unwrap(), &out.key);
    assert_eq!(out.key.as_bytes(), &[0x3C; 16], "KEY_EXCH carried the client's random key");
    let NegotiationToken::Resp(fin) = spnego::parse(&out.final_token).unwrap() else { panic!() };
    assert_eq!(fin.neg_state, Some(NegState::AcceptCompleted));
    assert!(fin.mech_list_mic.is_some());
    client.finish(&out.final_token).unwrap();
}

#[test]
fn spnego_works_without_the_servers_init_token() {
    let mut client = initiator("alice", "correct horse", true);
    let mut server = acceptor();
    let out = exchange(&mut client, &mut server, &[], |_| {}).unwrap();
    assert_eq!(client.session_key().unwrap(), &out.key);
    client.finish(&out.final_token).unwrap();
}

#[test]
fn raw_round_trip_answers_raw() {
    let mut client = initiator("ALICE", "correct horse", false);
    let mut server = acceptor();
    let negotiate = client.step(&[]).unwrap();
    assert!(negotiate.starts_with(b"NTLMSSP\0"));
    let challenge = expect_continue(server.step(&negotiate).unwrap());
    assert!(challenge.starts_with(b"NTLMSSP\0\x02\0\0\0"), "raw NEGOTIATE gets a raw CHALLENGE");
    let authenticate = client.step(&challenge).unwrap();
    let AcceptStep::Done { token, session_key, user, .. } = server.step(&authenticate).unwrap() else {
        panic!()
    };
    assert!(token.is_empty(), "raw NTLMSSP ends with an empty buffer");
    assert_eq!(user, "ALICE", "the name as the client sent it");
    assert_eq!(client.session_key().unwrap(), &session_key);
    client.finish(&token).unwrap();
}

#[test]
fn a_stored_nt_hash_authenticates_like_a_password() {
    let out = exchange(&mut initiator("bob", "Password", false), &mut acceptor(), &[], |_| {}).unwrap();
    assert_eq!(out.user, "bob");
}

#[test]
fn wrong_password_and_unknown_user_are_logon_failures() {
    for spnego in [false, true] {
        let r = exchange(&mut initiator("alice", "Correct horse", spnego), &mut acceptor(), &[], |_| {});
        assert_eq!(r.err(), Some(AuthError::LogonFailure));
        let r = exchange(&mut initiator("carol", "correct horse", spnego), &mut acceptor(), &[], |_| {});
        assert_eq!(r.err(), Some(AuthError::LogonFailure));
    }
}

#[test]
fn a_tampered_mic_is_a_mic_mismatch() {
    let r = exchange(&mut initiator("alice", "correct horse", false), &mut acceptor(), &[], |auth| {
        auth[MIC_OFFSET + 3] ^= 0x40;
    });
    assert_eq!(r.err(), Some(AuthError::MicMismatch { which: "NTLM MIC" }));
}

#[test]
fn a_tampered_workstation_is_caught_by_the_mic() {
    // The workstation name is covered by nothing but the MIC.
    let r = exchange(&mut initiator("alice", "correct horse", false), &mut acceptor(), &[], |auth| {
        let off = u32::from_le_bytes(auth[48..52].try_into().unwrap()) as usize;
        auth[off] ^= 0x01;
    });
    assert_eq!(r.err(), Some(AuthError::MicMismatch { which: "NTLM MIC" }));
}

#[test]
fn a_tampered_mech_list_mic_is_a_mic_mismatch() {
    let r = exchange(&mut initiator("alice", "correct horse", true), &mut acceptor(), &[], |tok| {
        let last = tok.len() - 6; // inside the 16-byte mechListMIC, which ends the token
        tok[last] ^= 0x01;
    });
    assert_eq!(r.err(), Some(AuthError::MicMismatch { which: "SPNEGO mechListMIC" }));
}

#[test]
fn the_client_checks_the_servers_final_token() {
    let mut client = initiator("alice", "correct horse", true);
    let out = exchange(&mut client, &mut acceptor(), &[], |_| {}).unwrap();
    let mut forged = out.final_token.clone();
    let last = forged.len() - 6;
    forged[last] ^= 1;
    assert_eq!(client.finish(&forged).unwrap_err(), AuthError::MicMismatch { which: "SPNEGO mechListMIC" });

    let mut client = initiator("alice", "correct horse", true);
    exchange(&mut client, &mut acceptor(), &[], |_| {}).unwrap();
    let reject =
        spnego::resp_token(&NegTokenResp { neg_state: Some(NegState::Reject), ..Default::default() });
    assert_eq!(client.finish(&reject).unwrap_err(), AuthError::LogonFailure);

    // ksmbd answers with negState accept-completed alone: that is enough.
    let mut client = initiator("alice", "correct horse", true);
    exchange(&mut client, &mut acceptor(), &[], |_| {}).unwrap();
    let bare = spnego::resp_token(&NegTokenResp {
        neg_state: Some(NegState::AcceptCompleted),
        ..Default::default()
    });
    client.finish(&bare).unwrap();
}

#[test]
fn anonymous_round_trip_needs_permission() {
    for spnego in [false, true] {
        let r = exchange(&mut initiator("", "", spnego), &mut acceptor(), &[], |_| {});
        assert_eq!(r.err(), Some(AuthError::AnonymousRefused));

        let mut open_db = UserDb::new();
        open_db.allow_anonymous(true);
        let mut server = NtlmAcceptor::new(Arc::new(open_db), "NODE1", "WORKGROUP", [1; 8], NOW);
        let mut client = initiator("", "", spnego);
        let out = exchange(&mut client, &mut server, &[], |_| {}).unwrap();
        assert!(out.anonymous);
        assert_eq!(out.user, "");
        assert_eq!(client.session_key().unwrap(), &out.key);
        client.finish(&out.final_token).unwrap();
    }
}

#[test]
fn keys_differ_between_exchanges_with_different_randomness() {
    let a = exchange(&mut initiator("alice", "correct horse", true), &mut acceptor(), &[], |_| {}).unwrap();
    let mut other =
        NtlmInitiator::new("alice", "correct horse", "WORKGROUP", "CLIENT7", [0x3D; 24], NOW, true);
    let b = exchange(&mut other, &mut acceptor(), &[], |_| {}).unwrap();
    assert_ne!(a.key, b.key);
}

#[test]
fn a_stripped_mech_list_mic_is_refused_when_the_ntlm_mic_was_sent() {
    let r = exchange(&mut initiator("alice", "correct horse", true), &mut acceptor(), &[], |tok| {
        let NegotiationToken::Resp(resp) = spnego::parse(tok).unwrap() else { panic!() };
        let stripped = spnego::resp_token(&NegTokenResp { mech_list_mic: None, ..resp });
        *tok = stripped;
    });
    assert_eq!(r.err(), Some(AuthError::MechListMicMissing));
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let mut server = acceptor();
    let err = server.step(&vec![0x60; smb_auth::MAX_TOKEN_LEN + 1]).unwrap_err();
    assert!(matches!(err, AuthError::TooLarge { .. }));
    let mut client = initiator("alice", "correct horse", true);
    client.step(&[]).unwrap();
    assert!(matches!(client.step(&vec![0xA1; smb_auth::MAX_TOKEN_LEN + 1]), Err(AuthError::TooLarge { .. })));
}
