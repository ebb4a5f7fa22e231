//! A full logon through the real NTLM code on both ends: smb-auth's initiator (the client) against
//! the server connection running smb-auth's acceptor, in SPNEGO and raw NTLMSSP form. The client
//! checks the server's signature on the final SESSION_SETUP response with keys derived from its own
//! preauth hash and its own copy of the exported session key.

use smb_auth::{AcceptStep, NtlmAcceptor, NtlmInitiator, UserDb};
use smb_crypto::kdf::{KdfInput, SessionKeys};
use smb_crypto::{Backend, PreauthHash, SigningAlgorithm, SigningKey};
use smb_session::*;
use smb_wire::fsctl::NetworkInterfaceInfo;
use smb_wire::header::{Command, Header};
use smb_wire::message::Request;
use smb_wire::negotiate::NegotiateRequest;
use smb_wire::negotiate_context::*;
use smb_wire::pdu::pdu_to_vec;
use smb_wire::session_setup::{SessionSetupRequest, SessionSetupResponse};
use smb_wire::status::NtStatus;
use std::sync::Arc;

struct Ntlm(Arc<UserDb>);
struct Exchange(NtlmAcceptor);
impl Authenticator for Exchange {
    fn step(&mut self, token: &[u8]) -> Result<AuthStep, AuthFailure> {
        match self.0.step(token) {
            Ok(AcceptStep::Continue { token }) => Ok(AuthStep::Continue(token)),
            Ok(AcceptStep::Done { token, session_key, user, anonymous, .. }) => {
                Ok(AuthStep::Done { token, session_key: session_key.as_bytes().to_vec(), user, anonymous })
            }
            Err(_) => Err(AuthFailure::LogonFailure { user: None }),
        }
    }
}
impl AuthFactory for Ntlm {
    fn new_exchange(&mut self) -> Box<dyn Authenticator> {
        Box::new(Exchange(NtlmAcceptor::new(
            Arc::clone(&self.0),
            "SRV",
            "SRV",
            [1, 2, 3, 4, 5, 6, 7, 8],
            133_000_000_000_000_000,
        )))
    }
    fn negotiate_token(&self) -> Vec<u8> {
        smb_auth::spnego_server_init_token()
    }
}

struct NoFiles;
impl FileHandler for NoFiles {
    fn tree_connect(&mut self, _: u64, _: &str) -> Result<TreeGrant, NtStatus> {
        Err(NtStatus::BAD_NETWORK_NAME)
    }
    fn tree_disconnect(&mut self, _: FileContext) {}
    fn execute(&mut self, _: FileContext, _: &Header, _: &Request<'_>, _: &mut Vec<u8>) -> FileResult {
        Err(NtStatus::NOT_SUPPORTED)
    }
    fn logoff(&mut self, _: u64) {}
    fn network_interfaces(&mut self) -> Vec<NetworkInterfaceInfo> {
        Vec::new()
    }
}

fn logon(spnego: bool, password: &str) -> (NtStatus, bool) {
    let mut db = UserDb::new();
    db.add_password("alice", "correct horse");
    let mut conn =
        ServerConnection::new(Arc::new(ServerConfig::default()), NoFiles, Ntlm(Arc::new(db)), [4; 32]);
    let mut hash = PreauthHash::new(Backend::PORTABLE);
    let mut out: Vec<Vec<u8>> = Vec::new();

    let (mut hb, mut region) = ([0u8; 2], [0u8; 128]);
    let salt = [9u8; 32];
    let items: Vec<ContextData<'_>> = vec![PreauthIntegrityCapabilities {
        hash_algorithms: U16List::build(&[HashAlgorithm::SHA512], &mut hb).unwrap(),
        salt: &salt,
    }
    .into()];
    let d = 0x0311u16.to_le_bytes();
    let neg = NegotiateRequest {
        security_mode: 1,
        capabilities: 0,
        client_guid: [1; 16],
        client_start_time: 0,
        dialects: U16List::new(&d, "d").unwrap(),
        contexts: NegotiateContextList::build(&items, &mut region).unwrap(),
    };
    let mut m = pdu_to_vec(&Header::request(Command::NEGOTIATE, 0, 0, 0), &neg);
    hash.update(&m);
    assert_eq!(conn.on_message(&mut m, 0, &mut out), Flow::Continue);
    let negrsp = out.pop().unwrap();
    hash.update(&negrsp);

    let mut client =
        NtlmInitiator::new("alice", password, "", "WS", [7; 24], 133_000_000_000_000_000, spnego);
    let mut token = client.step(&[]).unwrap();
    let mut session_id = 0;
    for mid in 1..4u64 {
        let req = SessionSetupRequest {
            flags: 0,
            security_mode: 1,
            capabilities: 0,
            channel: 0,
            security_buffer: &token,
            previous_session_id: 0,
        };
        let mut h = Header::request(Command::SESSION_SETUP, mid, session_id, 0);
        h.credits = 4;
        let mut m = pdu_to_vec(&h, &req);
        hash.update(&m);
        assert_eq!(conn.on_message(&mut m, 0, &mut out), Flow::Continue);
        let mut rsp = out.pop().unwrap();
        let rh = Header::parse(&rsp).unwrap();
        session_id = rh.session_id;
        let status = rh.nt_status();
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            hash.update(&rsp);
            token = client.step(SessionSetupResponse::parse(&rsp).unwrap().security_buffer).unwrap();
            continue;
        }
        if status != NtStatus::SUCCESS {
            return (status, false);
        }
        client.finish(SessionSetupResponse::parse(&rsp).unwrap().security_buffer).unwrap();
        let key = client.session_key().unwrap().as_bytes().to_vec();
        let keys = SessionKeys::derive(Backend::PORTABLE, KdfInput::Smb311(&hash), &key, &key, 128);
        let signing =
            SigningKey::new(Backend::PORTABLE, SigningAlgorithm::AesCmac, keys.signing.as_bytes()).unwrap();
        let verified = signing.verify_in_place(&mut rsp).is_ok();
        return (status, verified);
    }
    panic!("logon did not finish in three legs");
}

#[test]
fn ntlm_over_spnego_and_raw_logs_on_and_keys_agree() {
    assert_eq!(logon(true, "correct horse"), (NtStatus::SUCCESS, true));
    assert_eq!(logon(false, "correct horse"), (NtStatus::SUCCESS, true));
}

#[test]
fn wrong_password_is_logon_failure() {
    assert_eq!(logon(true, "wrong").0, NtStatus::LOGON_FAILURE);
    assert_eq!(logon(false, "wrong").0, NtStatus::LOGON_FAILURE);
}
