//! Drives `ClientConnection` against smb-session's `ServerConnection` in process, with real NTLM on
//! both ends (smb-auth's initiator in the client, its acceptor in the server) and an in-memory file
//! handler, so every key, signature and seal the client makes is checked by an independent
//! implementation and vice versa.

use smb_auth::{NtlmInitiator, UserDb};
use smb_client_proto::*;
use smb_crypto::{Backend, Cipher};
use smb_session::*;
use smb_wire::create::{access_mask as access, CreateDisposition};
use smb_wire::header::{Command, Header};
use smb_wire::negotiate::Dialect;
use smb_wire::status::NtStatus;
use smb_wire::tree_connect::share_flags;
use std::sync::Arc;
use testkit::clock::EPOCH_FILETIME as NOW;
use testkit::data::checksum;
use testkit::{MemFiles, Pair, Transport, PASSWORD, USER};

// The server's own NTLM adapter (real acceptor, random challenge) answers the client under test.
use server::auth::NtlmAuth as Ntlm;

/// The client under test and a server connection (the kit's in-memory files: shares "plain" and
/// "secret", EncryptData) over Direct TCP.
fn tcp_pair(client_cfg: ClientConfig, server_cfg: ServerConfig) -> Pair<MemFiles, Ntlm> {
    let mut db = UserDb::new();
    db.add_password(USER, PASSWORD);
    Pair::with_auth(Transport::Tcp, client_cfg, server_cfg, Ntlm::new(Arc::new(db), "SRV"))
}

fn client_cfg(ciphers: &[Cipher]) -> ClientConfig {
    ClientConfig { ciphers: ciphers.to_vec(), backend: Backend::PORTABLE, ..ClientConfig::default() }
}

#[test]
fn logs_on_with_each_cipher_and_encrypts_on_an_encrypted_share() {
    for cipher in Cipher::ALL {
        let mut pair = tcp_pair(client_cfg(&[cipher]), ServerConfig::default());
        let n = pair.negotiate().unwrap();
        assert_eq!(
            n,
            vec![Completion::Negotiated {
                dialect: Dialect::SMB_3_1_1,
                cipher: Some(cipher),
                signing: smb_crypto::SigningAlgorithm::AesGmac
            }],
            "{cipher:?}"
        );
        let init = NtlmInitiator::new(USER, PASSWORD, "", "WS", [7; 24], NOW, true);
        let mut req = pair.client.session_setup(init).unwrap();
        let logged_on = loop {
            match pair.one(req) {
                Completion::MoreAuth { bytes, .. } => req = bytes,
                other => break other,
            }
        };
        assert!(
            matches!(logged_on, Completion::LoggedOn { signed: true, encrypted: false, .. }),
            "{logged_on:?}"
        );
        assert!(pair.server.drain_events().iter().any(|e| matches!(e, Event::LoggedOn { .. })));

        let (tree, flags) = pair.tree("secret");
        assert_ne!(flags & share_flags::ENCRYPT_DATA, 0);
        // From here on the client must seal (the server refuses clear requests on this share): the
        // server opening them proves the C2S key, the client opening the answers the S2C key.
        let file = pair.open(tree, "a.txt");
        assert!(pair.last_was_transform(), "{cipher:?}: CREATE answer not sealed");
        let (_, req) = pair.client.write(file, 0, b"sealed bytes").unwrap();
        assert!(matches!(pair.one(req), Completion::Written { count: 12, .. }));
        let (id, req) = pair.client.read(file, 0, 100).unwrap();
        assert_eq!(pair.one(req), Completion::Read { request: id, data: b"sealed bytes".to_vec().into() });
        assert!(pair.last_was_transform());
        assert!(pair.server.drain_events().iter().all(|e| e.id() != Some(1003)), "nothing refused as clear");
    }
}

#[test]
fn require_privacy_encrypts_on_a_plain_share() {
    let cfg = ClientConfig { require_privacy: true, ..client_cfg(&[Cipher::Aes256Gcm]) };
    let mut pair = tcp_pair(cfg, ServerConfig::default());
    assert!(matches!(pair.logon(), Completion::LoggedOn { encrypted: true, .. }));
    let (tree, flags) = pair.tree("plain");
    assert_eq!(flags & share_flags::ENCRYPT_DATA, 0, "the share itself does not ask for encryption");
    assert!(pair.last_was_transform(), "TREE_CONNECT answer not sealed");
    let file = pair.open(tree, "p.txt");
    assert!(pair.last_was_transform());
    let (_, req) = pair.client.write(file, 0, b"private").unwrap();
    assert_eq!(req[0], 0xFD, "the request went out sealed");
    pair.one(req);
    assert!(pair.last_was_transform());
    let (_, req) = pair.client.close(file).unwrap();
    assert!(matches!(pair.one(req), Completion::Closed { file_id, .. } if file_id == file.file_id));
}

#[test]
fn require_privacy_refuses_servers_that_cannot_encrypt() {
    // No cipher in common.
    let server = ServerConfig { ciphers: vec![Cipher::Aes256Ccm], ..ServerConfig::default() };
    let cfg = ClientConfig { require_privacy: true, ..client_cfg(&[Cipher::Aes128Gcm]) };
    let mut pair = tcp_pair(cfg, server.clone());
    assert!(matches!(pair.negotiate(), Err(ClientError::PrivacyUnavailable { .. })));
    assert!(matches!(
        pair.client.session_setup(NtlmInitiator::new("a", "b", "", "W", [0; 24], 0, true)),
        Err(ClientError::WrongState { .. })
    ));

    // The same server without require_privacy: logon works, unencrypted, and the encrypted share
    // refuses this client.
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), server);
    assert!(matches!(pair.logon(), Completion::LoggedOn { encrypted: false, signed: true, .. }));
    assert_eq!(pair.client.cipher(), None);
    let (_, req) = pair.client.tree_connect(r"\\srv\secret").unwrap();
    assert!(matches!(pair.one(req), Completion::Error { status: NtStatus::ACCESS_DENIED, .. }));

    // A dialect that predates encryption.
    let server = ServerConfig { dialects: vec![Dialect::SMB_2_1], ..ServerConfig::default() };
    let cfg = ClientConfig {
        require_privacy: true,
        dialects: vec![Dialect::SMB_3_1_1, Dialect::SMB_2_1],
        ..client_cfg(&[Cipher::Aes128Gcm])
    };
    let mut pair = tcp_pair(cfg, server);
    assert!(matches!(pair.negotiate(), Err(ClientError::PrivacyUnavailable { .. })));
}

#[test]
fn a_downgraded_dialect_is_refused() {
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    let req = pair.client.negotiate().unwrap();
    let mut rsp = pair.serve(req).pop().unwrap();
    // DialectRevision sits at body offset 4.
    rsp[68..70].copy_from_slice(&0x0202u16.to_le_bytes());
    assert!(matches!(
        pair.client.receive(&mut rsp),
        Err(ClientError::DialectDowngrade { got: Dialect::SMB_2_0_2, lowest: Dialect::SMB_3_1_1 })
    ));
}

#[test]
fn tampered_signatures_and_seals_are_refused() {
    // The final SESSION_SETUP response with one bit of its body changed.
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    let r = pair.logon_with(USER, PASSWORD, |m| m[70] ^= 1);
    assert!(matches!(r, Err(ClientError::BadSignature { command: Command::SESSION_SETUP, .. })), "{r:?}");
    // ...and with its signature stripped.
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    let r = pair.logon_with(USER, PASSWORD, |m| {
        m[16] &= !0x08;
        m[48..64].fill(0);
    });
    assert!(matches!(r, Err(ClientError::UnsignedSessionSetup)), "{r:?}");

    // A signed response altered on the way.
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    pair.logon();
    let (tree, _) = pair.tree("plain");
    let (_, req) =
        pair.client.create(tree, "x", access::FILE_READ_DATA, CreateDisposition::OPEN_IF, 0).unwrap();
    let mut rsp = pair.serve(req).pop().unwrap();
    assert_ne!(rsp[16] & 0x08, 0, "the server signed its answer");
    let mut bad = rsp.clone();
    bad[64 + 8] ^= 0x80;
    assert!(matches!(
        pair.client.receive(&mut bad),
        Err(ClientError::BadSignature { command: Command::CREATE, .. })
    ));
    // The genuine one is still accepted afterwards.
    assert!(matches!(pair.client.receive(&mut rsp).unwrap()[..], [Completion::Created { .. }]));

    // A sealed response altered on the way.
    let cfg = ClientConfig { require_privacy: true, ..client_cfg(&[Cipher::Aes128Ccm]) };
    let mut pair = tcp_pair(cfg, ServerConfig::default());
    pair.logon();
    let (_, req) = pair.client.tree_connect(r"\\srv\plain").unwrap();
    let mut rsp = pair.serve(req).pop().unwrap();
    let last = rsp.len() - 1;
    rsp[last] ^= 1;
    assert!(matches!(pair.client.receive(&mut rsp), Err(ClientError::Decrypt(_))));
}

#[test]
fn a_signed_answer_naming_another_session_is_refused() {
    // Found by the client_session fuzz target: a check that looked up the response's session by
    // its SessionId, and took a response naming no session of ours for a NEGOTIATE or
    // SESSION_SETUP leg before keys, believed it without a signature. A man in the middle changing
    // SessionId (a field the signature covers, but nothing verified it) forged any answer.
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    assert!(matches!(pair.logon(), Completion::LoggedOn { signed: true, .. }));
    let (tree, _) = pair.tree("plain");
    let file = pair.open(tree, "s.txt");
    let (_, req) = pair.client.write(file, 0, b"genuine").unwrap();
    assert!(matches!(pair.one(req), Completion::Written { count: 7, .. }));
    let (_, req) = pair.client.read(file, 0, 10).unwrap();
    let mut rsp = pair.serve(req).pop().unwrap();
    assert_ne!(rsp[16] & 0x08, 0, "the server signed its answer");
    let mut forged = rsp.clone();
    forged[40] ^= 1; // SessionId
    assert!(
        matches!(
            pair.client.receive(&mut forged),
            Err(ClientError::UnsignedResponse { command: Command::READ, .. })
        ),
        "an answer naming another session was believed"
    );
    // ...also unsigned, its signature stripped.
    forged[16] &= !0x08;
    forged[48..64].fill(0);
    assert!(
        pair.client.receive(&mut forged).is_err(),
        "an unsigned answer naming another session was believed"
    );
    // The genuine one is still accepted afterwards.
    let got = pair.client.receive(&mut rsp).unwrap();
    assert!(matches!(&got[..], [Completion::Read { data, .. }] if data[..] == b"genuine"[..]), "{got:?}");
}

#[test]
fn a_signed_request_outstanding_at_logoff_is_not_answered_unverified() {
    // Once the session is gone its key is too: an answer to a request it signed can no longer be
    // verified, so it is not believed (before, it was taken as a pre-logon exchange).
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    pair.logon();
    let (tree, _) = pair.tree("plain");
    let file = pair.open(tree, "l.txt");
    let (_, req) = pair.client.read(file, 0, 10).unwrap();
    let mut late = pair.serve(req).pop().unwrap();
    let (_, req) = pair.client.logoff().unwrap();
    assert!(matches!(pair.one(req), Completion::LoggedOff { .. }));
    assert!(pair.client.receive(&mut late).is_err(), "an answer after logoff was believed unverified");
}

#[test]
fn a_clear_answer_to_a_sealed_request_is_refused() {
    let cfg = ClientConfig { require_privacy: true, ..client_cfg(&[Cipher::Aes128Gcm]) };
    let mut pair = tcp_pair(cfg, ServerConfig::default());
    pair.logon();
    let (id, req) = pair.client.tree_connect(r"\\srv\plain").unwrap();
    drop(req);
    // Forge a clear TREE_CONNECT response for that MessageId.
    let mut h = Header::request(Command::TREE_CONNECT, id.0, pair.client.session_id().unwrap(), 1);
    h.flags |= 1;
    let body = smb_wire::tree_connect::TreeConnectResponse {
        share_type: 1,
        share_flags: 0,
        capabilities: 0,
        maximal_access: 0,
    };
    let mut forged = smb_wire::pdu::pdu_to_vec(&h, &body);
    assert!(matches!(pair.client.receive(&mut forged), Err(ClientError::UnencryptedResponse { .. })));
}

#[test]
fn wrong_password_completes_with_logon_failure() {
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    let c = pair.logon_with(USER, "wrong", |_| {}).unwrap();
    assert!(
        matches!(
            c,
            Completion::Error { command: Command::SESSION_SETUP, status: NtStatus::LOGON_FAILURE, .. }
        ),
        "{c:?}"
    );
    assert!(matches!(pair.client.tree_connect(r"\\srv\plain"), Err(ClientError::WrongState { .. })));
}

#[test]
fn large_io_round_trips_with_multi_credit_charges() {
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    pair.logon();
    let (tree, _) = pair.tree("plain");
    let file = pair.open(tree, "big.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let before = pair.client.credits_available();
    let (_, req) = pair.client.write(file, 0, &data).unwrap();
    assert_eq!(Header::parse(&req).unwrap().credit_charge, 5, "300000 bytes cost five 64 KiB credits");
    assert_eq!(pair.client.credits_available(), before - 5);
    assert!(matches!(pair.one(req), Completion::Written { count: 300_000, .. }));
    let (_, req) = pair.client.read(file, 0, 300_000).unwrap();
    assert_eq!(Header::parse(&req).unwrap().credit_charge, 5);
    let Completion::Read { data: back, .. } = pair.one(req) else { panic!("no read") };
    assert_eq!(checksum(&back), checksum(&data));
    assert_eq!(back.len(), data.len());
    // The client asked for enough credits to send a request of the largest size at once.
    assert!(pair.client.credits_available() >= 128, "{}", pair.client.credits_available());
    // Asking for more than the credits held is refused before anything is sent: built requests (not
    // sent here) use up the credits until the next 8 MiB READ no longer fits.
    while pair.client.credits_available() >= 128 {
        // Never down to zero: one credit is kept for the LOGOFF below.
        let len = if pair.client.credits_available() == 128 { 65536 } else { 8 << 20 };
        pair.client.read(file, 0, len).unwrap();
    }
    let have = pair.client.credits_available();
    assert!(matches!(pair.client.read(file, 0, 8 << 20), Err(ClientError::NoCredits { need: 128, .. })));
    assert_eq!(pair.client.credits_available(), have);
    let (_, req) = pair.client.logoff().unwrap();
    assert!(matches!(pair.one(req), Completion::LoggedOff { .. }));
}

#[test]
fn smb302_logs_on_with_the_30_kdf_and_encrypts_with_aes128_ccm() {
    let server = ServerConfig { dialects: vec![Dialect::SMB_3_0_2], ..ServerConfig::default() };
    let cfg = ClientConfig {
        dialects: vec![Dialect::SMB_3_1_1, Dialect::SMB_3_0_2],
        ..client_cfg(&[Cipher::Aes128Gcm, Cipher::Aes128Ccm])
    };
    let mut pair = tcp_pair(cfg, server);
    assert!(matches!(pair.logon(), Completion::LoggedOn { signed: true, .. }));
    assert_eq!(pair.client.dialect(), Some(Dialect::SMB_3_0_2));
    assert_eq!(pair.client.cipher(), Some(Cipher::Aes128Ccm));
    let (tree, _) = pair.tree("secret");
    let file = pair.open(tree, "c.txt");
    assert!(pair.last_was_transform());
    let (_, req) = pair.client.write(file, 0, b"ccm").unwrap();
    assert!(matches!(pair.one(req), Completion::Written { count: 3, .. }));
}

#[test]
fn smb302_validates_the_negotiation_and_detects_a_tampered_one() {
    let server = || ServerConfig { dialects: vec![Dialect::SMB_3_0_2], ..ServerConfig::default() };
    let cfg = || ClientConfig {
        dialects: vec![Dialect::SMB_3_1_1, Dialect::SMB_3_0_2, Dialect::SMB_3_0],
        ..client_cfg(&[Cipher::Aes128Gcm, Cipher::Aes128Ccm])
    };
    // Untouched: the server's signed answer repeats its NEGOTIATE response.
    let mut pair = tcp_pair(cfg(), server());
    pair.logon();
    assert!(pair.client.needs_validation());
    let (tree, _) = pair.tree("plain");
    let (_, req) = pair.client.validate_negotiate(tree).unwrap();
    assert!(matches!(pair.one(req), Completion::Validated { .. }));
    assert!(!pair.client.needs_validation());

    // A man in the middle strips a capability from the NEGOTIATE response: 3.0.2 has no preauth
    // hash, so only VALIDATE_NEGOTIATE_INFO can notice.
    let mut pair = tcp_pair(cfg(), server());
    let req = pair.client.negotiate().unwrap();
    let mut rsp = pair.serve(req).pop().unwrap();
    let caps_at = smb_wire::HEADER_LEN + 24; // NEGOTIATE response: Capabilities
    rsp[caps_at] &= !0x04; // SMB2_GLOBAL_CAP_LARGE_MTU
    assert!(matches!(pair.client.receive(&mut rsp).unwrap()[..], [Completion::Negotiated { .. }]));
    let init = NtlmInitiator::new(USER, PASSWORD, "", "WS", [7; 24], NOW, true);
    let mut req = pair.client.session_setup(init).unwrap();
    loop {
        match pair.one(req) {
            Completion::MoreAuth { bytes, .. } => req = bytes,
            Completion::LoggedOn { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    let (tree, _) = pair.tree("plain");
    let (_, req) = pair.client.validate_negotiate(tree).unwrap();
    assert!(matches!(pair.call(req), Err(ClientError::NegotiateTampered)));
    assert!(pair.client.tree_connect(r"\\srv\plain").is_err(), "the connection is dead");
}

#[test]
fn smb311_needs_no_validation() {
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    pair.logon();
    assert!(!pair.client.needs_validation());
    assert_eq!(pair.client.max_read_size(), Some(ServerConfig::default().max_read_size));
}

#[test]
fn prebuilt_writes_land_sealed_and_signed() {
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    pair.logon();
    for (share, sealed) in [("secret", true), ("plain", false)] {
        let (tree, _) = pair.tree(share);
        let file = pair.open(tree, "pre.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let mut msg = vec![0u8; WRITE_PAYLOAD_AT];
        msg.extend_from_slice(&data);
        let before = msg.clone();
        let (_, start) = pair.client.write_prebuilt(file, 5, &mut msg).unwrap();
        assert_eq!(msg[start] == 0xFD, sealed, "{share}");
        assert_eq!(msg[WRITE_PAYLOAD_AT..] == before[WRITE_PAYLOAD_AT..], !sealed, "sealed in place");
        assert!(matches!(pair.one(msg[start..].to_vec()), Completion::Written { count: 200_000, .. }));
        let (_, req) = pair.client.read(file, 5, 200_000).unwrap();
        match pair.one(req) {
            Completion::Read { data: back, .. } => assert_eq!(checksum(&back), checksum(&data)),
            other => panic!("{other:?}"),
        }
    }
    let (tree, _) = pair.tree("plain");
    let file = pair.open(tree, "x");
    assert!(matches!(
        pair.client.write_prebuilt(file, 0, &mut [0; WRITE_PAYLOAD_AT]),
        Err(ClientError::BufferSize { .. })
    ));
}

#[test]
fn writes_from_the_callers_bytes_land_sealed_and_signed() {
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    pair.logon();
    for (share, sealed) in [("secret", true), ("plain", false)] {
        let (tree, _) = pair.tree(share);
        let file = pair.open(tree, "from.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 + 1) as u8).collect();
        // A reused message buffer, larger than needed, with stale bytes in it.
        let mut msg = vec![0xAB; 300_000];
        let (_, range) = pair.client.write_from(file, 3, &data, &mut msg).unwrap();
        assert_eq!(range.len(), WRITE_PAYLOAD_AT - if sealed { 0 } else { 52 } + data.len(), "{share}");
        assert_eq!(msg[range.start] == 0xFD, sealed, "{share}");
        assert_eq!(msg[WRITE_PAYLOAD_AT..range.end] == data[..], !sealed, "{share}: payload sealed");
        assert!(matches!(pair.one(msg[range].to_vec()), Completion::Written { count: 200_000, .. }));
        let (_, req) = pair.client.read(file, 3, 200_000).unwrap();
        match pair.one(req) {
            Completion::Read { data: back, .. } => assert_eq!(checksum(&back), checksum(&data)),
            other => panic!("{other:?}"),
        }
    }
    let (tree, _) = pair.tree("plain");
    let file = pair.open(tree, "x");
    let before = pair.client.credits_available();
    assert!(matches!(
        pair.client.write_from(file, 0, &[], &mut Vec::new()),
        Err(ClientError::BufferSize { .. })
    ));
    assert_eq!(pair.client.credits_available(), before, "nothing charged for a refused request");
}

#[test]
fn sealed_read_data_comes_in_the_buffer_it_was_decrypted_into_and_buffers_are_reused() {
    let mut pair = tcp_pair(client_cfg(&[Cipher::Aes256Gcm]), ServerConfig::default());
    pair.logon();
    let (tree, _) = pair.tree("secret");
    let file = pair.open(tree, "r.bin");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i ^ (i >> 7)) as u8).collect();
    let (_, req) = pair.client.write(file, 0, &data).unwrap();
    assert!(matches!(pair.one(req), Completion::Written { .. }));
    let read = |pair: &mut Pair<MemFiles, Ntlm>| {
        let (_, req) = pair.client.read(file, 0, 100_000).unwrap();
        match pair.one(req) {
            Completion::Read { data, .. } => data,
            other => panic!("{other:?}"),
        }
    };
    let first = read(&mut pair);
    assert_eq!(checksum(&first), checksum(&data));
    // The data sits behind the headers in its buffer: handed over, not copied out.
    let buf = first.into_buffer();
    assert!(buf.len() >= 100_000 + 64 + 16);
    let at = buf.as_ptr() as usize;
    pair.client.recycle(buf);
    let second = read(&mut pair);
    assert_eq!(checksum(&second), checksum(&data));
    let inside = second.as_ptr() as usize;
    assert!(inside > at && inside < at + 100, "the recycled buffer was decrypted into");
}
