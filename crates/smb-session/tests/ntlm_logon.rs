//! A full logon through the real NTLM code on both ends: smb-auth's initiator (the client) against
//! the server connection running smb-auth's acceptor (the kit's [`Ntlm`]), in SPNEGO and raw NTLMSSP
//! form. The client checks the server's signature on the final SESSION_SETUP response with keys
//! derived from its own preauth hash and its own copy of the exported session key.

use smb_auth::NtlmInitiator;
use smb_crypto::SigningAlgorithm;
use smb_session::{ServerConfig, ServerConnection};
use smb_wire::negotiate::Dialect;
use smb_wire::session_setup::SessionSetupResponse;
use smb_wire::status::NtStatus;
use std::sync::Arc;
use testkit::clock::EPOCH_FILETIME;
use testkit::{MemFiles, Ntlm, Offer, RawClient, PASSWORD, USER};

fn logon(spnego: bool, password: &str) -> (NtStatus, bool) {
    // No shares: only SESSION_SETUP matters here.
    let conn =
        ServerConnection::new(Arc::new(ServerConfig::default()), MemFiles::new(), Ntlm::default(), [4; 32]);
    let mut c = RawClient::new(conn);
    // 3.1.1 alone, without SIGNING_CAPABILITIES: AES-CMAC signs.
    let offer = Offer {
        dialects: vec![Dialect::SMB_3_1_1],
        signing: Vec::new(),
        capabilities: 0,
        client_guid: [1; 16],
        salt: [9; 32],
        ..Offer::default()
    };
    c.negotiate_with(&offer);
    assert_eq!(c.signing_algorithm(), Some(SigningAlgorithm::AesCmac));

    let mut client = NtlmInitiator::new(USER, password, "", "WS", [7; 24], EPOCH_FILETIME, spnego);
    let mut token = client.step(&[]).unwrap();
    for _ in 1..4 {
        let (status, mut rsp) = c.setup(&token);
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            token = client.step(SessionSetupResponse::parse(&rsp).unwrap().security_buffer).unwrap();
            continue;
        }
        if status != NtStatus::SUCCESS {
            return (status, false);
        }
        client.finish(SessionSetupResponse::parse(&rsp).unwrap().security_buffer).unwrap();
        let key = client.session_key().unwrap().as_bytes().to_vec();
        c.derive_keys(&key, None);
        return (status, c.verify(&mut rsp));
    }
    panic!("logon did not finish in three legs");
}

#[test]
fn ntlm_over_spnego_and_raw_logs_on_and_keys_agree() {
    assert_eq!(logon(true, PASSWORD), (NtStatus::SUCCESS, true));
    assert_eq!(logon(false, PASSWORD), (NtStatus::SUCCESS, true));
}

#[test]
fn wrong_password_is_logon_failure() {
    assert_eq!(logon(true, "wrong").0, NtStatus::LOGON_FAILURE);
    assert_eq!(logon(false, "wrong").0, NtStatus::LOGON_FAILURE);
}
