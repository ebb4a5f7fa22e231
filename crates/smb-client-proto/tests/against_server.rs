//! Drives `ClientConnection` against smb-session's `ServerConnection` in process, with real NTLM on
//! both ends (smb-auth's initiator in the client, its acceptor in the server) and an in-memory file
//! handler, so every key, signature and seal the client makes is checked by an independent
//! implementation and vice versa.

use smb_auth::{NtlmInitiator, UserDb};
use smb_client_proto::*;
use smb_crypto::{Backend, Cipher};
use smb_session::*;
use smb_wire::close::CloseResponse;
use smb_wire::create::{
    access_mask as access, CreateAction, CreateDisposition, CreateResponse, NetworkOpenInfo, OplockLevel,
};
use smb_wire::fsctl::NetworkInterfaceInfo;
use smb_wire::header::{Command, Header};
use smb_wire::message::Request;
use smb_wire::negotiate::Dialect;
use smb_wire::read::ReadResponse;
use smb_wire::status::NtStatus;
use smb_wire::tree_connect::share_flags;
use smb_wire::types::FileId;
use smb_wire::write::WriteResponse;
use std::collections::HashMap;
use std::sync::Arc;

const NOW: u64 = 133_000_000_000_000_000;

// The server's own NTLM adapter (real acceptor, random challenge) answers the client under test.
use server::auth::NtlmAuth as Ntlm;

/// Shares "plain" and "secret" (EncryptData), files kept in memory.
#[derive(Default)]
struct MemFiles {
    files: HashMap<String, Vec<u8>>,
    opens: HashMap<u64, String>,
    next: u64,
}

impl FileHandler for MemFiles {
    fn tree_connect(&mut self, _s: u64, share: &str) -> Result<TreeGrant, NtStatus> {
        match share {
            "plain" | "secret" => Ok(TreeGrant {
                share: if share == "plain" { 1 } else { 2 },
                share_name: share.into(),
                encrypt_data: share == "secret",
                share_type: 1,
                maximal_access: 0x001F_01FF,
            }),
            _ => Err(NtStatus::BAD_NETWORK_NAME),
        }
    }
    fn tree_disconnect(&mut self, _ctx: FileContext) {}
    fn execute(
        &mut self,
        _ctx: FileContext,
        _h: &Header,
        req: &Request<'_>,
        pdu: &mut Vec<u8>,
    ) -> FileResult {
        match req {
            Request::Create(c) => {
                let name = c.name.to_string().map_err(|_| NtStatus::OBJECT_NAME_INVALID)?;
                let existed = self.files.contains_key(&name);
                if !existed && c.create_disposition == CreateDisposition::OPEN {
                    return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
                }
                let len = self.files.entry(name.clone()).or_default().len() as u64;
                self.next += 1;
                self.opens.insert(self.next, name);
                let rsp = CreateResponse {
                    oplock_level: OplockLevel::NONE,
                    create_action: if existed { CreateAction::OPENED } else { CreateAction::CREATED },
                    info: NetworkOpenInfo { end_of_file: len, ..NetworkOpenInfo::default() },
                    file_id: FileId { persistent: self.next, volatile: self.next },
                    ..CreateResponse::default()
                };
                put_body(pdu, &rsp);
            }
            Request::Write(w) => {
                let name = self.opens.get(&w.file_id.volatile).ok_or(NtStatus::FILE_CLOSED)?;
                let file = self.files.get_mut(name).ok_or(NtStatus::FILE_CLOSED)?;
                let end = w.offset as usize + w.data.len();
                if file.len() < end {
                    file.resize(end, 0);
                }
                file[w.offset as usize..end].copy_from_slice(w.data);
                put_body(pdu, &WriteResponse { count: w.data.len() as u32, ..WriteResponse::default() });
            }
            Request::Read(r) => {
                let name = self.opens.get(&r.file_id.volatile).ok_or(NtStatus::FILE_CLOSED)?;
                let file = &self.files[name];
                let start = r.offset as usize;
                if start >= file.len() {
                    return Err(NtStatus::END_OF_FILE);
                }
                let end = file.len().min(start + r.length as usize);
                let data = file[start..end].to_vec();
                put_body(pdu, &ReadResponse { data: &data, ..ReadResponse::default() });
            }
            Request::Close(c) => {
                self.opens.remove(&c.file_id.volatile).ok_or(NtStatus::FILE_CLOSED)?;
                put_body(pdu, &CloseResponse::default());
            }
            _ => return Err(NtStatus::NOT_SUPPORTED),
        }
        Ok(NtStatus::SUCCESS)
    }
    fn logoff(&mut self, _s: u64) {}
    fn network_interfaces(&mut self) -> Vec<NetworkInterfaceInfo> {
        Vec::new()
    }
}

struct Rig {
    client: ClientConnection,
    server: ServerConnection<MemFiles, Ntlm>,
    /// The server's last answers, as they went on the wire.
    raw: Vec<Vec<u8>>,
}

impl Rig {
    fn new(client_cfg: ClientConfig, server_cfg: ServerConfig) -> Self {
        let mut db = UserDb::new();
        db.add_password("alice", "correct horse");
        Self {
            client: ClientConnection::new(client_cfg, [3; 16], [5; 32]),
            server: ServerConnection::new(
                Arc::new(server_cfg),
                MemFiles::default(),
                Ntlm::new(Arc::new(db), "SRV"),
                [9; 32],
            ),
            raw: Vec::new(),
        }
    }

    /// Hands `req` to the server and returns its answers without giving them to the client.
    fn serve(&mut self, mut req: Vec<u8>) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        assert_eq!(self.server.on_message(&mut req, NOW, &mut out), Flow::Continue);
        self.raw = out.clone();
        out
    }

    fn exchange(&mut self, req: Vec<u8>) -> Result<Vec<Completion>, ClientError> {
        let mut all = Vec::new();
        for mut m in self.serve(req) {
            all.extend(self.client.receive(&mut m)?);
        }
        Ok(all)
    }

    fn one(&mut self, req: Vec<u8>) -> Completion {
        let mut c = self.exchange(req).expect("response accepted");
        assert_eq!(c.len(), 1, "{c:?}");
        c.pop().unwrap()
    }

    fn negotiate(&mut self) -> Result<Vec<Completion>, ClientError> {
        let req = self.client.negotiate()?;
        self.exchange(req)
    }

    /// NEGOTIATE then SESSION_SETUP legs until the final answer; `tamper` may alter the final
    /// SESSION_SETUP response before the client sees it.
    fn logon_with(
        &mut self,
        password: &str,
        tamper: impl Fn(&mut Vec<u8>),
    ) -> Result<Completion, ClientError> {
        let n = self.negotiate()?;
        assert!(matches!(n[..], [Completion::Negotiated { .. }]), "{n:?}");
        let init = NtlmInitiator::new("alice", password, "", "WS", [7; 24], NOW, true);
        let mut req = self.client.session_setup(init)?;
        for _ in 0..4 {
            let mut out = self.serve(req);
            assert_eq!(out.len(), 1);
            let mut m = out.pop().unwrap();
            if Header::parse(&m).unwrap().nt_status() != NtStatus::MORE_PROCESSING_REQUIRED {
                tamper(&mut m);
            }
            match self.client.receive(&mut m)?.pop().unwrap() {
                Completion::MoreAuth { bytes, .. } => req = bytes,
                other => return Ok(other),
            }
        }
        panic!("logon did not finish");
    }

    fn logon(&mut self) -> Completion {
        self.logon_with("correct horse", |_| {}).expect("logon")
    }

    fn tree(&mut self, share: &str) -> (TreeHandle, u32) {
        let (_, req) = self.client.tree_connect(&format!(r"\\srv\{share}")).unwrap();
        match self.one(req) {
            Completion::TreeConnected { tree, share_flags, .. } => (tree, share_flags),
            other => panic!("tree connect: {other:?}"),
        }
    }

    fn open(&mut self, tree: TreeHandle, name: &str) -> FileHandle {
        let rw = access::FILE_READ_DATA | access::FILE_WRITE_DATA;
        let (_, req) = self.client.create(tree, name, rw, CreateDisposition::OPEN_IF, 0).unwrap();
        match self.one(req) {
            Completion::Created { file, .. } => file,
            other => panic!("create: {other:?}"),
        }
    }

    fn last_was_transform(&self) -> bool {
        !self.raw.is_empty() && self.raw.iter().all(|m| m[0] == 0xFD)
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn client_cfg(ciphers: &[Cipher]) -> ClientConfig {
    ClientConfig { ciphers: ciphers.to_vec(), backend: Backend::PORTABLE, ..ClientConfig::default() }
}

#[test]
fn logs_on_with_each_cipher_and_encrypts_on_an_encrypted_share() {
    for cipher in Cipher::ALL {
        let mut rig = Rig::new(client_cfg(&[cipher]), ServerConfig::default());
        let n = rig.negotiate().unwrap();
        assert_eq!(
            n,
            vec![Completion::Negotiated {
                dialect: Dialect::SMB_3_1_1,
                cipher: Some(cipher),
                signing: smb_crypto::SigningAlgorithm::AesGmac
            }],
            "{cipher:?}"
        );
        let init = NtlmInitiator::new("alice", "correct horse", "", "WS", [7; 24], NOW, true);
        let mut req = rig.client.session_setup(init).unwrap();
        let logged_on = loop {
            match rig.one(req) {
                Completion::MoreAuth { bytes, .. } => req = bytes,
                other => break other,
            }
        };
        assert!(
            matches!(logged_on, Completion::LoggedOn { signed: true, encrypted: false, .. }),
            "{logged_on:?}"
        );
        assert!(rig.server.drain_events().iter().any(|e| matches!(e, Event::LoggedOn { .. })));

        let (tree, flags) = rig.tree("secret");
        assert_ne!(flags & share_flags::ENCRYPT_DATA, 0);
        // From here on the client must seal (the server refuses clear requests on this share): the
        // server opening them proves the C2S key, the client opening the answers the S2C key.
        let file = rig.open(tree, "a.txt");
        assert!(rig.last_was_transform(), "{cipher:?}: CREATE answer not sealed");
        let (_, req) = rig.client.write(file, 0, b"sealed bytes").unwrap();
        assert!(matches!(rig.one(req), Completion::Written { count: 12, .. }));
        let (id, req) = rig.client.read(file, 0, 100).unwrap();
        assert_eq!(rig.one(req), Completion::Read { request: id, data: b"sealed bytes".to_vec().into() });
        assert!(rig.last_was_transform());
        assert!(rig.server.drain_events().iter().all(|e| e.id() != Some(1003)), "nothing refused as clear");
    }
}

#[test]
fn require_privacy_encrypts_on_a_plain_share() {
    let cfg = ClientConfig { require_privacy: true, ..client_cfg(&[Cipher::Aes256Gcm]) };
    let mut rig = Rig::new(cfg, ServerConfig::default());
    assert!(matches!(rig.logon(), Completion::LoggedOn { encrypted: true, .. }));
    let (tree, flags) = rig.tree("plain");
    assert_eq!(flags & share_flags::ENCRYPT_DATA, 0, "the share itself does not ask for encryption");
    assert!(rig.last_was_transform(), "TREE_CONNECT answer not sealed");
    let file = rig.open(tree, "p.txt");
    assert!(rig.last_was_transform());
    let (_, req) = rig.client.write(file, 0, b"private").unwrap();
    assert_eq!(req[0], 0xFD, "the request went out sealed");
    rig.one(req);
    assert!(rig.last_was_transform());
    let (_, req) = rig.client.close(file).unwrap();
    assert!(matches!(rig.one(req), Completion::Closed { file_id, .. } if file_id == file.file_id));
}

#[test]
fn require_privacy_refuses_servers_that_cannot_encrypt() {
    // No cipher in common.
    let server = ServerConfig { ciphers: vec![Cipher::Aes256Ccm], ..ServerConfig::default() };
    let cfg = ClientConfig { require_privacy: true, ..client_cfg(&[Cipher::Aes128Gcm]) };
    let mut rig = Rig::new(cfg, server.clone());
    assert!(matches!(rig.negotiate(), Err(ClientError::PrivacyUnavailable { .. })));
    assert!(matches!(
        rig.client.session_setup(NtlmInitiator::new("a", "b", "", "W", [0; 24], 0, true)),
        Err(ClientError::WrongState { .. })
    ));

    // The same server without require_privacy: logon works, unencrypted, and the encrypted share
    // refuses this client.
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), server);
    assert!(matches!(rig.logon(), Completion::LoggedOn { encrypted: false, signed: true, .. }));
    assert_eq!(rig.client.cipher(), None);
    let (_, req) = rig.client.tree_connect(r"\\srv\secret").unwrap();
    assert!(matches!(rig.one(req), Completion::Error { status: NtStatus::ACCESS_DENIED, .. }));

    // A dialect that predates encryption.
    let server = ServerConfig { dialects: vec![Dialect::SMB_2_1], ..ServerConfig::default() };
    let cfg = ClientConfig {
        require_privacy: true,
        dialects: vec![Dialect::SMB_3_1_1, Dialect::SMB_2_1],
        ..client_cfg(&[Cipher::Aes128Gcm])
    };
    let mut rig = Rig::new(cfg, server);
    assert!(matches!(rig.negotiate(), Err(ClientError::PrivacyUnavailable { .. })));
}

#[test]
fn a_downgraded_dialect_is_refused() {
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    let req = rig.client.negotiate().unwrap();
    let mut rsp = rig.serve(req).pop().unwrap();
    // DialectRevision sits at body offset 4.
    rsp[68..70].copy_from_slice(&0x0202u16.to_le_bytes());
    assert!(matches!(
        rig.client.receive(&mut rsp),
        Err(ClientError::DialectDowngrade { got: Dialect::SMB_2_0_2, lowest: Dialect::SMB_3_1_1 })
    ));
}

#[test]
fn tampered_signatures_and_seals_are_refused() {
    // The final SESSION_SETUP response with one bit of its body changed.
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    let r = rig.logon_with("correct horse", |m| m[70] ^= 1);
    assert!(matches!(r, Err(ClientError::BadSignature { command: Command::SESSION_SETUP, .. })), "{r:?}");
    // ...and with its signature stripped.
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    let r = rig.logon_with("correct horse", |m| {
        m[16] &= !0x08;
        m[48..64].fill(0);
    });
    assert!(matches!(r, Err(ClientError::UnsignedSessionSetup)), "{r:?}");

    // A signed response altered on the way.
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    rig.logon();
    let (tree, _) = rig.tree("plain");
    let (_, req) =
        rig.client.create(tree, "x", access::FILE_READ_DATA, CreateDisposition::OPEN_IF, 0).unwrap();
    let mut rsp = rig.serve(req).pop().unwrap();
    assert_ne!(rsp[16] & 0x08, 0, "the server signed its answer");
    let mut bad = rsp.clone();
    bad[64 + 8] ^= 0x80;
    assert!(matches!(
        rig.client.receive(&mut bad),
        Err(ClientError::BadSignature { command: Command::CREATE, .. })
    ));
    // The genuine one is still accepted afterwards.
    assert!(matches!(rig.client.receive(&mut rsp).unwrap()[..], [Completion::Created { .. }]));

    // A sealed response altered on the way.
    let cfg = ClientConfig { require_privacy: true, ..client_cfg(&[Cipher::Aes128Ccm]) };
    let mut rig = Rig::new(cfg, ServerConfig::default());
    rig.logon();
    let (_, req) = rig.client.tree_connect(r"\\srv\plain").unwrap();
    let mut rsp = rig.serve(req).pop().unwrap();
    let last = rsp.len() - 1;
    rsp[last] ^= 1;
    assert!(matches!(rig.client.receive(&mut rsp), Err(ClientError::Decrypt(_))));
}

#[test]
fn a_clear_answer_to_a_sealed_request_is_refused() {
    let cfg = ClientConfig { require_privacy: true, ..client_cfg(&[Cipher::Aes128Gcm]) };
    let mut rig = Rig::new(cfg, ServerConfig::default());
    rig.logon();
    let (id, req) = rig.client.tree_connect(r"\\srv\plain").unwrap();
    drop(req);
    // Forge a clear TREE_CONNECT response for that MessageId.
    let mut h = Header::request(Command::TREE_CONNECT, id.0, rig.client.session_id().unwrap(), 1);
    h.flags |= 1;
    let body = smb_wire::tree_connect::TreeConnectResponse {
        share_type: 1,
        share_flags: 0,
        capabilities: 0,
        maximal_access: 0,
    };
    let mut forged = smb_wire::pdu::pdu_to_vec(&h, &body);
    assert!(matches!(rig.client.receive(&mut forged), Err(ClientError::UnencryptedResponse { .. })));
}

#[test]
fn wrong_password_completes_with_logon_failure() {
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    let c = rig.logon_with("wrong", |_| {}).unwrap();
    assert!(
        matches!(
            c,
            Completion::Error { command: Command::SESSION_SETUP, status: NtStatus::LOGON_FAILURE, .. }
        ),
        "{c:?}"
    );
    assert!(matches!(rig.client.tree_connect(r"\\srv\plain"), Err(ClientError::WrongState { .. })));
}

#[test]
fn large_io_round_trips_with_multi_credit_charges() {
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    rig.logon();
    let (tree, _) = rig.tree("plain");
    let file = rig.open(tree, "big.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let before = rig.client.credits_available();
    let (_, req) = rig.client.write(file, 0, &data).unwrap();
    assert_eq!(Header::parse(&req).unwrap().credit_charge, 5, "300000 bytes cost five 64 KiB credits");
    assert_eq!(rig.client.credits_available(), before - 5);
    assert!(matches!(rig.one(req), Completion::Written { count: 300_000, .. }));
    let (_, req) = rig.client.read(file, 0, 300_000).unwrap();
    assert_eq!(Header::parse(&req).unwrap().credit_charge, 5);
    let Completion::Read { data: back, .. } = rig.one(req) else { panic!("no read") };
    assert_eq!(fnv1a(&back), fnv1a(&data));
    assert_eq!(back.len(), data.len());
    // The client asked for enough credits to send a request of the largest size at once.
    assert!(rig.client.credits_available() >= 128, "{}", rig.client.credits_available());
    // Asking for more than the credits held is refused before anything is sent: built requests (not
    // sent here) use up the credits until the next 8 MiB READ no longer fits.
    while rig.client.credits_available() >= 128 {
        // Never down to zero: one credit is kept for the LOGOFF below.
        let len = if rig.client.credits_available() == 128 { 65536 } else { 8 << 20 };
        rig.client.read(file, 0, len).unwrap();
    }
    let have = rig.client.credits_available();
    assert!(matches!(rig.client.read(file, 0, 8 << 20), Err(ClientError::NoCredits { need: 128, .. })));
    assert_eq!(rig.client.credits_available(), have);
    let (_, req) = rig.client.logoff().unwrap();
    assert!(matches!(rig.one(req), Completion::LoggedOff { .. }));
}

#[test]
fn smb302_logs_on_with_the_30_kdf_and_encrypts_with_aes128_ccm() {
    let server = ServerConfig { dialects: vec![Dialect::SMB_3_0_2], ..ServerConfig::default() };
    let cfg = ClientConfig {
        dialects: vec![Dialect::SMB_3_1_1, Dialect::SMB_3_0_2],
        ..client_cfg(&[Cipher::Aes128Gcm, Cipher::Aes128Ccm])
    };
    let mut rig = Rig::new(cfg, server);
    assert!(matches!(rig.logon(), Completion::LoggedOn { signed: true, .. }));
    assert_eq!(rig.client.dialect(), Some(Dialect::SMB_3_0_2));
    assert_eq!(rig.client.cipher(), Some(Cipher::Aes128Ccm));
    let (tree, _) = rig.tree("secret");
    let file = rig.open(tree, "c.txt");
    assert!(rig.last_was_transform());
    let (_, req) = rig.client.write(file, 0, b"ccm").unwrap();
    assert!(matches!(rig.one(req), Completion::Written { count: 3, .. }));
}

#[test]
fn smb302_validates_the_negotiation_and_detects_a_tampered_one() {
    let server = || ServerConfig { dialects: vec![Dialect::SMB_3_0_2], ..ServerConfig::default() };
    let cfg = || ClientConfig {
        dialects: vec![Dialect::SMB_3_1_1, Dialect::SMB_3_0_2, Dialect::SMB_3_0],
        ..client_cfg(&[Cipher::Aes128Gcm, Cipher::Aes128Ccm])
    };
    // Untouched: the server's signed answer repeats its NEGOTIATE response.
    let mut rig = Rig::new(cfg(), server());
    rig.logon();
    assert!(rig.client.needs_validation());
    let (tree, _) = rig.tree("plain");
    let (_, req) = rig.client.validate_negotiate(tree).unwrap();
    assert!(matches!(rig.one(req), Completion::Validated { .. }));
    assert!(!rig.client.needs_validation());

    // A man in the middle strips a capability from the NEGOTIATE response: 3.0.2 has no preauth
    // hash, so only VALIDATE_NEGOTIATE_INFO can notice.
    let mut rig = Rig::new(cfg(), server());
    let req = rig.client.negotiate().unwrap();
    let mut rsp = rig.serve(req).pop().unwrap();
    let caps_at = smb_wire::HEADER_LEN + 24; // NEGOTIATE response: Capabilities
    rsp[caps_at] &= !0x04; // SMB2_GLOBAL_CAP_LARGE_MTU
    assert!(matches!(rig.client.receive(&mut rsp).unwrap()[..], [Completion::Negotiated { .. }]));
    let init = NtlmInitiator::new("alice", "correct horse", "", "WS", [7; 24], NOW, true);
    let mut req = rig.client.session_setup(init).unwrap();
    loop {
        match rig.one(req) {
            Completion::MoreAuth { bytes, .. } => req = bytes,
            Completion::LoggedOn { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    let (tree, _) = rig.tree("plain");
    let (_, req) = rig.client.validate_negotiate(tree).unwrap();
    assert!(matches!(rig.exchange(req), Err(ClientError::NegotiateTampered)));
    assert!(rig.client.tree_connect(r"\\srv\plain").is_err(), "the connection is dead");
}

#[test]
fn smb311_needs_no_validation() {
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    rig.logon();
    assert!(!rig.client.needs_validation());
    assert_eq!(rig.client.max_read_size(), Some(ServerConfig::default().max_read_size));
}

#[test]
fn prebuilt_writes_land_sealed_and_signed() {
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    rig.logon();
    for (share, sealed) in [("secret", true), ("plain", false)] {
        let (tree, _) = rig.tree(share);
        let file = rig.open(tree, "pre.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let mut msg = vec![0u8; WRITE_PAYLOAD_AT];
        msg.extend_from_slice(&data);
        let before = msg.clone();
        let (_, start) = rig.client.write_prebuilt(file, 5, &mut msg).unwrap();
        assert_eq!(msg[start] == 0xFD, sealed, "{share}");
        assert_eq!(msg[WRITE_PAYLOAD_AT..] == before[WRITE_PAYLOAD_AT..], !sealed, "sealed in place");
        assert!(matches!(rig.one(msg[start..].to_vec()), Completion::Written { count: 200_000, .. }));
        let (_, req) = rig.client.read(file, 5, 200_000).unwrap();
        match rig.one(req) {
            Completion::Read { data: back, .. } => assert_eq!(fnv1a(&back), fnv1a(&data)),
            other => panic!("{other:?}"),
        }
    }
    let (tree, _) = rig.tree("plain");
    let file = rig.open(tree, "x");
    assert!(matches!(
        rig.client.write_prebuilt(file, 0, &mut [0; WRITE_PAYLOAD_AT]),
        Err(ClientError::BufferSize { .. })
    ));
}

#[test]
fn writes_from_the_callers_bytes_land_sealed_and_signed() {
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes128Gcm]), ServerConfig::default());
    rig.logon();
    for (share, sealed) in [("secret", true), ("plain", false)] {
        let (tree, _) = rig.tree(share);
        let file = rig.open(tree, "from.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 + 1) as u8).collect();
        // A reused message buffer, larger than needed, with stale bytes in it.
        let mut msg = vec![0xAB; 300_000];
        let (_, range) = rig.client.write_from(file, 3, &data, &mut msg).unwrap();
        assert_eq!(range.len(), WRITE_PAYLOAD_AT - if sealed { 0 } else { 52 } + data.len(), "{share}");
        assert_eq!(msg[range.start] == 0xFD, sealed, "{share}");
        assert_eq!(msg[WRITE_PAYLOAD_AT..range.end] == data[..], !sealed, "{share}: payload sealed");
        assert!(matches!(rig.one(msg[range].to_vec()), Completion::Written { count: 200_000, .. }));
        let (_, req) = rig.client.read(file, 3, 200_000).unwrap();
        match rig.one(req) {
            Completion::Read { data: back, .. } => assert_eq!(fnv1a(&back), fnv1a(&data)),
            other => panic!("{other:?}"),
        }
    }
    let (tree, _) = rig.tree("plain");
    let file = rig.open(tree, "x");
    let before = rig.client.credits_available();
    assert!(matches!(
        rig.client.write_from(file, 0, &[], &mut Vec::new()),
        Err(ClientError::BufferSize { .. })
    ));
    assert_eq!(rig.client.credits_available(), before, "nothing charged for a refused request");
}

#[test]
fn sealed_read_data_comes_in_the_buffer_it_was_decrypted_into_and_buffers_are_reused() {
    let mut rig = Rig::new(client_cfg(&[Cipher::Aes256Gcm]), ServerConfig::default());
    rig.logon();
    let (tree, _) = rig.tree("secret");
    let file = rig.open(tree, "r.bin");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i ^ (i >> 7)) as u8).collect();
    let (_, req) = rig.client.write(file, 0, &data).unwrap();
    assert!(matches!(rig.one(req), Completion::Written { .. }));
    let read = |rig: &mut Rig| {
        let (_, req) = rig.client.read(file, 0, 100_000).unwrap();
        match rig.one(req) {
            Completion::Read { data, .. } => data,
            other => panic!("{other:?}"),
        }
    };
    let first = read(&mut rig);
    assert_eq!(fnv1a(&first), fnv1a(&data));
    // The data sits behind the headers in its buffer: handed over, not copied out.
    let buf = first.into_buffer();
    assert!(buf.len() >= 100_000 + 64 + 16);
    let at = buf.as_ptr() as usize;
    rig.client.recycle(buf);
    let second = read(&mut rig);
    assert_eq!(fnv1a(&second), fnv1a(&data));
    let inside = second.as_ptr() as usize;
    assert!(inside > at && inside < at + 100, "the recycled buffer was decrypted into");
}
