//! Drives a `ServerConnection` the way a 3.1.1 client does, with an independent client-side
//! computation of the preauth hash, keys, signatures and seals (smb-crypto used from the client's
//! side), so a server that hashed, derived or signed the wrong bytes fails here.
//!
//! Authentication is a two-leg test exchange (real NTLM is exercised by smb-auth and the interop
//! tests); everything else is the real code.

use smb_crypto::kdf::{KdfInput, SessionKeys};
use smb_crypto::transform::{open_message, seal_message, TRANSFORM_HEADER_LEN};
use smb_crypto::{AeadKey, Backend, Cipher, NonceSequence, PreauthHash, SigningAlgorithm, SigningKey};
use smb_session::*;
use smb_wire::echo::Echo;
use smb_wire::fsctl::NetworkInterfaceInfo;
use smb_wire::header::{flags, Command, Header};
use smb_wire::message::Request;
use smb_wire::negotiate::{Dialect, NegotiateRequest, NegotiateResponse};
use smb_wire::negotiate_context::*;
use smb_wire::pdu::{pdu_to_vec, EncodeDyn};
use smb_wire::read::{ReadRequest, ReadResponse};
use smb_wire::session_setup::{SessionSetupRequest, SessionSetupResponse};
use smb_wire::status::NtStatus;
use smb_wire::tree_connect::{share_flags, TreeConnectRequest, TreeConnectResponse};
use smb_wire::types::{utf16le, Utf16};
use smb_wire::write::{WriteRequest, WriteResponse};
use std::sync::Arc;

const SESSION_KEY: [u8; 16] = [0x42; 16];

struct TwoLegAuth(u8);
impl Authenticator for TwoLegAuth {
    fn step(&mut self, token: &[u8]) -> Result<AuthStep, AuthFailure> {
        self.0 += 1;
        match (self.0, token) {
            (1, b"hello") => Ok(AuthStep::Continue(b"challenge".to_vec())),
            (2, b"alice:secret") => Ok(AuthStep::Done {
                token: b"welcome".to_vec(),
                session_key: SESSION_KEY.to_vec(),
                user: "alice".into(),
                anonymous: false,
            }),
            _ => Err(AuthFailure::LogonFailure { user: Some("alice".into()) }),
        }
    }
}
struct Auths;
impl AuthFactory for Auths {
    fn new_exchange(&mut self) -> Box<dyn Authenticator> {
        Box::new(TwoLegAuth(0))
    }
    fn negotiate_token(&self) -> Vec<u8> {
        b"spnego-init".to_vec()
    }
}

/// Shares "plain" and "secret" (EncryptData); answers every file command with an ECHO-shaped body.
/// With `defer`, it takes WRITEs over and finishes them only when the test says so.
#[derive(Default)]
struct Files {
    defer: bool,
    /// (MessageId, payload) of the WRITEs taken over and not yet finished, oldest first.
    pending: std::collections::VecDeque<(u64, IoBuffer)>,
    /// How many of `pending` may finish, and with what result.
    release: Vec<Result<u32, NtStatus>>,
    begun: usize,
}
impl FileHandler for Files {
    fn begin_write(&mut self, _ctx: FileContext, _h: &Header, _args: &WriteArgs) -> IoStart {
        self.begun += 1;
        if self.defer {
            IoStart::Deferred
        } else {
            IoStart::Execute
        }
    }
    fn submit_write(&mut self, message_id: u64, payload: IoBuffer) {
        self.pending.push_back((message_id, payload));
    }
    fn write(
        &mut self,
        _ctx: FileContext,
        _h: &Header,
        args: &WriteArgs,
        data: &[u8],
    ) -> Result<u32, NtStatus> {
        assert_eq!(data.len(), args.len);
        WRITE_SEEN.with(|c| c.set(Some((data.len(), data.as_ptr() as usize % 4096))));
        Ok(data.len() as u32)
    }
    fn begin_read(&mut self, _ctx: FileContext, _h: &Header, r: &ReadRequest<'_>) -> IoStart {
        self.begun += 1;
        match (self.defer, r.offset as usize >= FILE_LEN) {
            (false, _) => IoStart::Execute,
            // Refused at once, as a handler does when its checks fail.
            (true, true) => IoStart::Done(Err(NtStatus::END_OF_FILE)),
            (true, false) => IoStart::Deferred,
        }
    }
    fn submit_read(&mut self, message_id: u64, mut area: IoBuffer) {
        // The area is filled now; the test decides when the READ counts as finished.
        let data = &mut area.buf[area.range.clone()];
        assert_eq!(data.as_ptr() as usize % 4096, 0, "READ data must land page-aligned");
        data.iter_mut().enumerate().for_each(|(i, b)| *b = file_byte(i));
        self.pending.push_back((message_id, area));
    }
    fn io_done(&mut self, _wait: bool) -> Option<IoDone> {
        if self.release.is_empty() {
            return None;
        }
        let (message_id, payload) = self.pending.pop_front()?;
        let result = self.release.remove(0);
        Some(IoDone { message_id, result, buf: payload.buf })
    }
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
        if let Request::Write(w) = req {
            WRITE_SEEN.with(|c| c.set(Some((w.data.len(), w.data.as_ptr() as usize % 4096))));
        }
        put_body(pdu, &Echo);
        Ok(NtStatus::SUCCESS)
    }
    /// A [`FILE_LEN`]-byte file of [`file_byte`]s, read straight into the response.
    fn read(
        &mut self,
        _ctx: FileContext,
        _h: &Header,
        r: &ReadRequest<'_>,
        data: &mut [u8],
    ) -> Result<usize, NtStatus> {
        assert_eq!(data.as_ptr() as usize % 4096, 0, "READ data must land page-aligned");
        assert_eq!(data.len(), r.length as usize);
        let from = (r.offset as usize).min(FILE_LEN);
        let n = data.len().min(FILE_LEN - from);
        data[..n].iter_mut().enumerate().for_each(|(i, b)| *b = file_byte(from + i));
        Ok(n)
    }
    fn logoff(&mut self, _s: u64) {}
    fn network_interfaces(&mut self) -> Vec<NetworkInterfaceInfo> {
        Vec::new()
    }
}

const FILE_LEN: usize = 300_000;

thread_local! {
    /// The last WRITE the file handler saw: (payload length, payload address modulo 4096).
    static WRITE_SEEN: std::cell::Cell<Option<(usize, usize)>> = const { std::cell::Cell::new(None) };
}

fn file_byte(at: usize) -> u8 {
    (at % 251) as u8
}

/// A transport that takes owned buffers as the engine's outbox does: it keeps each message and gives
/// the buffers back for reuse.
#[derive(Default)]
struct OwnedTx {
    msgs: Vec<Vec<u8>>,
    owned: usize,
    back: Vec<Vec<u8>>,
    /// Addresses of the buffers handed over, to see them come round again.
    seen: Vec<usize>,
}

impl Transmit for OwnedTx {
    fn send(&mut self, msg: &[u8]) {
        self.msgs.push(msg.to_vec());
    }
    fn send_owned(&mut self, buf: Vec<u8>, range: std::ops::Range<usize>) {
        self.msgs.push(buf[range].to_vec());
        self.owned += 1;
        self.seen.push(buf.as_ptr() as usize);
        self.back.push(buf);
    }
    fn reclaim(&mut self) -> Option<Vec<u8>> {
        self.back.pop()
    }
}

struct Client {
    conn: ServerConnection<Files, Auths>,
    mid: u64,
    session: u64,
    tree: u32,
    hash: PreauthHash,
    signing: Option<SigningKey>,
    c2s: Option<AeadKey>,
    s2c: Option<AeadKey>,
    nonces: NonceSequence,
}

impl Client {
    fn new(cfg: ServerConfig) -> Self {
        Self {
            conn: ServerConnection::new(Arc::new(cfg), Files::default(), Auths, [9; 32]),
            mid: 0,
            session: 0,
            tree: 0,
            hash: PreauthHash::new(Backend::PORTABLE),
            signing: None,
            c2s: None,
            s2c: None,
            nonces: NonceSequence::new(7).unwrap(),
        }
    }

    fn header(&mut self, cmd: Command) -> Header {
        let mut h = Header::request(cmd, self.mid, self.session, self.tree);
        h.credits = 8;
        self.mid += 1;
        h
    }

    /// Sends one PDU (optionally signed or sealed) and returns the one response PDU, opened.
    fn call(&mut self, h: Header, body: &dyn EncodeDyn, sign: bool, seal: bool) -> (Flow, Option<Vec<u8>>) {
        let mut msg = self.request(h, body, sign, seal);
        let mut out: Vec<Vec<u8>> = Vec::new();
        let flow = self.conn.on_message(&mut msg, 133_000_000_000_000_000, &mut out);
        assert!(out.len() <= 1);
        (flow, out.pop().map(|m| self.open_reply(m)))
    }

    /// One request message, signed or sealed as asked.
    fn request(&mut self, h: Header, body: &dyn EncodeDyn, sign: bool, seal: bool) -> Vec<u8> {
        let mut pdu = pdu_to_vec(&h, body);
        if sign {
            self.signing.as_ref().unwrap().sign_in_place(&mut pdu).unwrap();
        }
        if seal {
            let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
            let n = self.nonces.next_nonce().unwrap();
            seal_message(self.c2s.as_ref().unwrap(), &n, self.session, &mut hdr, &mut pdu).unwrap();
            [&hdr[..], &pdu].concat()
        } else {
            pdu
        }
    }

    /// A response message, opened with the S2C key when it is sealed.
    fn open_reply(&self, mut m: Vec<u8>) -> Vec<u8> {
        if m[0] != 0xFD {
            return m;
        }
        let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
        hdr.copy_from_slice(&m[..TRANSFORM_HEADER_LEN]);
        let mut body = m.split_off(TRANSFORM_HEADER_LEN);
        open_message(self.s2c.as_ref().expect("encrypted reply before keys"), &hdr, &mut body).unwrap();
        body
    }

    fn negotiate(&mut self, ciphers: &[CipherId]) -> NegotiateResponse<'static> {
        let (mut hb, mut cb, mut sb, mut region) = ([0u8; 2], [0u8; 16], [0u8; 2], [0u8; 256]);
        let salt = [5u8; 32];
        let mut items: Vec<ContextData<'_>> = vec![PreauthIntegrityCapabilities {
            hash_algorithms: U16List::build(&[HashAlgorithm::SHA512], &mut hb).unwrap(),
            salt: &salt,
        }
        .into()];
        if !ciphers.is_empty() {
            items.push(EncryptionCapabilities { ciphers: U16List::build(ciphers, &mut cb).unwrap() }.into());
        }
        items.push(
            SigningCapabilities {
                algorithms: U16List::build(&[SigningAlgorithm_::AES_GMAC], &mut sb).unwrap(),
            }
            .into(),
        );
        let dialects = [0x0311u16.to_le_bytes(), 0x0302u16.to_le_bytes()].concat();
        let req = NegotiateRequest {
            security_mode: 1,
            capabilities: 0x44,
            client_guid: [3; 16],
            client_start_time: 0,
            dialects: U16List::new(&dialects, "d").unwrap(),
            contexts: NegotiateContextList::build(&items, &mut region).unwrap(),
        };
        let h = self.header(Command::NEGOTIATE);
        let req_pdu = pdu_to_vec(&h, &req);
        let (flow, rsp) = self.call(h, &req, false, false);
        assert_eq!(flow, Flow::Continue);
        let rsp = rsp.unwrap();
        self.hash.update(&req_pdu);
        self.hash.update(&rsp);
        let leaked: &'static [u8] = Box::leak(rsp.into_boxed_slice());
        NegotiateResponse::parse(leaked).unwrap()
    }

    fn setup(&mut self, token: &[u8]) -> (NtStatus, Vec<u8>) {
        let h = self.header(Command::SESSION_SETUP);
        let req = SessionSetupRequest {
            flags: 0,
            security_mode: 1,
            capabilities: 0,
            channel: 0,
            security_buffer: token,
            previous_session_id: 0,
        };
        self.hash.update(&pdu_to_vec(&h, &req));
        let (_, rsp) = self.call(h, &req, false, false);
        let rsp = rsp.unwrap();
        let rh = Header::parse(&rsp).unwrap();
        self.session = rh.session_id;
        if rh.nt_status() == NtStatus::MORE_PROCESSING_REQUIRED {
            self.hash.update(&rsp);
        }
        (rh.nt_status(), rsp)
    }

    fn logon(&mut self, cipher: Cipher) {
        assert_eq!(self.setup(b"hello").0, NtStatus::MORE_PROCESSING_REQUIRED);
        let (status, rsp) = self.setup(b"alice:secret");
        assert_eq!(status, NtStatus::SUCCESS);
        let keys = SessionKeys::derive(
            Backend::PORTABLE,
            KdfInput::Smb311(&self.hash),
            &SESSION_KEY,
            &SESSION_KEY,
            cipher.key_bits(),
        );
        let signing =
            SigningKey::new(Backend::PORTABLE, SigningAlgorithm::AesGmac, keys.signing.as_bytes()).unwrap();
        // The final SESSION_SETUP response is signed with the key both sides derived independently.
        let mut rsp = rsp;
        assert_ne!(rsp[16] & flags::SIGNED as u8, 0, "final session setup response must be signed");
        signing.verify_in_place(&mut rsp).expect("server signed with the key the client derived");
        assert_eq!(SessionSetupResponse::parse(&rsp).unwrap().security_buffer, b"welcome");
        self.signing = Some(signing);
        self.c2s = Some(AeadKey::new(Backend::PORTABLE, cipher, keys.c2s_cipher.as_bytes()).unwrap());
        self.s2c = Some(AeadKey::new(Backend::PORTABLE, cipher, keys.s2c_cipher.as_bytes()).unwrap());
    }

    fn tree_connect(&mut self, share: &str, sign: bool, seal: bool) -> Vec<u8> {
        let path = utf16le(&format!("\\\\srv\\{share}"));
        let req = TreeConnectRequest { flags: 0, path: Utf16::new(&path, "p").unwrap() };
        let h = self.header(Command::TREE_CONNECT);
        let rsp = self.call(h, &req, sign, seal).1.unwrap();
        if Header::parse(&rsp).unwrap().nt_status() == NtStatus::SUCCESS {
            self.tree = Header::parse(&rsp).unwrap().tree_id().unwrap();
        }
        rsp
    }
}

use smb_wire::negotiate_context::SigningAlgorithm as SigningAlgorithm_;

#[test]
fn smb311_negotiate_logon_and_encrypted_share() {
    let mut c = Client::new(ServerConfig::default());
    let n = c.negotiate(&[CipherId::AES_256_GCM, CipherId::AES_128_GCM]);
    assert_eq!(n.dialect_revision, Dialect::SMB_3_1_1);
    assert_eq!(n.security_buffer, b"spnego-init");
    // Server preference (AES-128-GCM first by default) wins over the client's order.
    let enc = n.contexts.iter().find_map(|c| match c.decode().unwrap() {
        ContextData::Encryption(e) => Some(e.ciphers.iter().next().unwrap()),
        _ => None,
    });
    assert_eq!(enc, Some(CipherId::AES_128_GCM));
    assert_eq!(n.capabilities & 0x40, 0, "a 3.1.1 server must not set CAP_ENCRYPTION");
    c.logon(Cipher::Aes128Gcm);

    // Unencrypted tree connect to an encrypted share is allowed (the client learns it must encrypt)...
    let rsp = c.tree_connect("secret", true, false);
    let t = TreeConnectResponse::parse(&rsp).unwrap();
    assert_ne!(t.share_flags & share_flags::ENCRYPT_DATA, 0);
    // ...an unencrypted request on it is refused, with event 1003.
    let h = c.header(Command::FLUSH);
    let flush = smb_wire::flush::FlushRequest { file_id: Default::default() };
    let rsp = c.call(h, &flush, true, false).1.unwrap();
    assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::ACCESS_DENIED);
    assert!(c.conn.drain_events().iter().any(|e| e.id() == Some(1003)));
    // Encrypted, the same request is served and the answer comes back sealed with the S2C key.
    let h = c.header(Command::FLUSH);
    let rsp = c.call(h, &flush, false, true).1.unwrap();
    assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::SUCCESS);
}

#[test]
fn bad_signature_is_refused_and_reused_message_id_drops_the_connection() {
    let mut c = Client::new(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("plain", true, false);
    let h = c.header(Command::ECHO);
    let mut pdu = pdu_to_vec(&h, &Echo);
    c.signing.as_ref().unwrap().sign_in_place(&mut pdu).unwrap();
    pdu[50] ^= 1;
    let mut out: Vec<Vec<u8>> = Vec::new();
    assert_eq!(c.conn.on_message(&mut pdu, 0, &mut out), Flow::Continue);
    assert_eq!(Header::parse(&out[0]).unwrap().nt_status(), NtStatus::ACCESS_DENIED);
    // The same MessageId again: outside the credit window.
    let mut again = pdu_to_vec(&h, &Echo);
    assert_eq!(c.conn.on_message(&mut again, 0, &mut out), Flow::Close);
}

#[test]
fn wrong_password_is_logon_failure_and_server_encrypt_data_refuses_clients_without_ciphers() {
    let mut c = Client::new(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    assert_eq!(c.setup(b"hello").0, NtStatus::MORE_PROCESSING_REQUIRED);
    assert_eq!(c.setup(b"alice:wrong").0, NtStatus::LOGON_FAILURE);

    let cfg = ServerConfig { encrypt_data: true, ..ServerConfig::default() };
    let mut c = Client::new(cfg);
    let n = c.negotiate(&[]);
    assert_eq!(n.dialect_revision, Dialect::SMB_3_1_1);
    assert_eq!(c.setup(b"hello").0, NtStatus::MORE_PROCESSING_REQUIRED);
    assert_eq!(c.setup(b"alice:secret").0, NtStatus::ACCESS_DENIED);
    assert!(c.conn.drain_events().iter().any(|e| e.id() == Some(1003)));
}

#[test]
fn garbage_and_second_negotiate_close_only_the_connection() {
    let mut c = Client::new(ServerConfig::default());
    let mut out: Vec<Vec<u8>> = Vec::new();
    assert_eq!(c.conn.on_message(&mut [1, 2, 3, 4, 5], 0, &mut out), Flow::Close);
    let mut c = Client::new(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    let h = c.header(Command::NEGOTIATE);
    let dialects = 0x0311u16.to_le_bytes();
    let req = NegotiateRequest {
        security_mode: 1,
        capabilities: 0,
        client_guid: [3; 16],
        client_start_time: 0,
        dialects: U16List::new(&dialects, "d").unwrap(),
        contexts: NegotiateContextList::default(),
    };
    assert_eq!(c.call(h, &req, false, false).0, Flow::Close);
}

#[test]
fn reads_are_sealed_and_sent_from_the_buffer_they_were_read_into() {
    let mut c = Client::new(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    let mut tx = OwnedTx::default();
    // (share, offset, length, minimum count) -> the data expected back, or the error status.
    type Case = (&'static str, usize, usize, u32, Result<usize, NtStatus>);
    let cases: [Case; 6] = [
        ("secret", 0, 131_072, 0, Ok(131_072)),
        ("secret", 4096, 131_072, 0, Ok(131_072)),
        ("secret", 200_000, 131_072, 0, Ok(FILE_LEN - 200_000)),
        ("secret", 17, 100, 0, Ok(100)),
        ("plain", 65_536, 131_072, 0, Ok(131_072)),
        ("plain", FILE_LEN, 4096, 0, Err(NtStatus::END_OF_FILE)),
    ];
    let mut owned = 0;
    for (share, offset, length, minimum_count, want) in cases {
        let seal = share == "secret";
        c.tree_connect(share, !seal, seal);
        let mut h = c.header(Command::READ);
        h.credit_charge = length.div_ceil(65536) as u16;
        // A multi-credit request takes one MessageId per credit.
        c.mid += u64::from(h.credit_charge) - 1;
        let req =
            ReadRequest { length: length as u32, offset: offset as u64, minimum_count, ..Default::default() };
        let mut msg = c.request(h, &req, !seal, seal);
        assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
        let sent = tx.msgs.pop().expect("one reply");
        assert_eq!(sent[0] == 0xFD, seal, "{share}: sealed iff the share encrypts");
        let rsp = c.open_reply(sent);
        let status = Header::parse(&rsp).unwrap().nt_status();
        match want {
            Ok(n) => {
                assert_eq!(status, NtStatus::SUCCESS);
                let data = ReadResponse::parse(&rsp).unwrap().data;
                assert_eq!(data.len(), n);
                assert!(
                    data.iter().enumerate().all(|(i, b)| *b == file_byte(offset + i)),
                    "{share} @{offset}"
                );
                if !seal {
                    c.signing.as_ref().unwrap().verify_in_place(&mut rsp.clone()).unwrap();
                }
                // Large answers go out as owned buffers, small ones are copied.
                owned += usize::from(rsp.len() >= 65_536);
                assert_eq!(tx.owned, owned, "{share} @{offset} len {length}");
            }
            Err(e) => assert_eq!(status, e),
        }
    }
    // The buffers came back through reclaim and were used again.
    let mut seen = tx.seen.clone();
    seen.sort();
    seen.dedup();
    assert!(seen.len() < tx.seen.len(), "no READ buffer was reused: {:?}", tx.seen);
}

#[test]
fn large_writes_reach_the_file_layer_page_aligned_sealed_or_not() {
    let mut c = Client::new(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    let mut tx = OwnedTx::default();
    let payload: Vec<u8> = (0..131_072u32).map(|i| i as u8).collect();
    for share in ["secret", "plain"] {
        let seal = share == "secret";
        c.tree_connect(share, !seal, seal);
        for len in [131_072usize, 4096] {
            let mut h = c.header(Command::WRITE);
            h.credit_charge = len.div_ceil(65536) as u16;
            c.mid += u64::from(h.credit_charge) - 1;
            let req =
                smb_wire::write::WriteRequest { offset: 8192, data: &payload[..len], ..Default::default() };
            let mut msg = c.request(h, &req, !seal, seal);
            WRITE_SEEN.with(|w| w.set(None));
            assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
            let rsp = c.open_reply(tx.msgs.pop().expect("one reply"));
            assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::SUCCESS, "{share} {len}");
            let (seen_len, misalign) = WRITE_SEEN.with(|w| w.get()).expect("the WRITE reached the handler");
            assert_eq!(seen_len, len);
            // Large ones always land on a page boundary (so O_DIRECT can take them); a small plain
            // one stays where the frame put it.
            if len >= 65_536 || seal {
                assert_eq!(misalign, 0, "{share}: a {len}-byte WRITE payload must be page-aligned");
            }
        }
    }
}

#[test]
fn a_read_below_minimum_count_is_end_of_file() {
    let mut c = Client::new(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("plain", true, false);
    let mut h = c.header(Command::READ);
    h.credit_charge = 1;
    let req =
        ReadRequest { length: 4096, offset: (FILE_LEN - 10) as u64, minimum_count: 11, ..Default::default() };
    let rsp = c.call(h, &req, true, false).1.unwrap();
    assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::END_OF_FILE);
    let mut h = c.header(Command::READ);
    h.credit_charge = 1;
    let req =
        ReadRequest { length: 4096, offset: (FILE_LEN - 10) as u64, minimum_count: 10, ..Default::default() };
    let rsp = c.call(h, &req, true, false).1.unwrap();
    assert_eq!(ReadResponse::parse(&rsp).unwrap().data.len(), 10);
}

/// A logged-on client on the encrypted share of a server whose handler defers WRITEs and READs.
fn deferring_client() -> (Client, OwnedTx) {
    let mut c = Client::new(ServerConfig::default());
    c.conn.files_mut().defer = true;
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("secret", false, true);
    (c, OwnedTx::default())
}

/// One 128 KiB WRITE request (sealed or signed) of `payload`, with its credit charge paid.
fn write_request(c: &mut Client, payload: &[u8], seal: bool) -> (u64, Vec<u8>) {
    let mut h = c.header(Command::WRITE);
    h.credit_charge = payload.len().div_ceil(65536) as u16;
    c.mid += u64::from(h.credit_charge) - 1;
    let req = WriteRequest { offset: 65536, data: payload, ..Default::default() };
    (h.message_id, c.request(h, &req, !seal, seal))
}

#[test]
fn deferred_writes_are_answered_once_the_handler_has_finished_them() {
    let (mut c, mut tx) = deferring_client();
    let payloads: Vec<Vec<u8>> = (0..3u8).map(|k| (0..131_072u32).map(|i| (i as u8) ^ k).collect()).collect();
    let mut ids = Vec::new();
    for p in &payloads {
        let (id, mut msg) = write_request(&mut c, p, true);
        ids.push(id);
        assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
        assert!(tx.msgs.is_empty(), "a deferred WRITE is not answered before its data is written");
    }
    assert_eq!(c.conn.deferred_in_flight(), 3);
    // The handler got each payload in the buffer it was decrypted into, page-aligned.
    for ((id, payload), want) in c.conn.files_mut().pending.iter().zip(&payloads) {
        assert!(ids.contains(id));
        assert_eq!(&payload.buf[payload.range.clone()], &want[..]);
        assert_eq!(payload.buf[payload.range.clone()].as_ptr() as usize % 4096, 0);
    }
    // Other requests are served meanwhile.
    let h = c.header(Command::ECHO);
    let echo = c.request(h, &Echo, false, true);
    assert_eq!(c.conn.on_message(&mut echo.clone(), 0, &mut tx), Flow::Continue);
    let rsp = c.open_reply(tx.msgs.pop().expect("ECHO answered while WRITEs are in flight"));
    assert_eq!(Header::parse(&rsp).unwrap().command, Command::ECHO);

    // Two finish: two sealed answers, with the count written and credits granted.
    c.conn.files_mut().release = vec![Ok(131_072), Ok(131_072)];
    assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
    assert_eq!(tx.msgs.len(), 2);
    for (m, id) in std::mem::take(&mut tx.msgs).into_iter().zip(&ids) {
        assert_eq!(m[0], 0xFD, "the answer to an encrypted WRITE is sealed");
        let rsp = c.open_reply(m);
        let h = Header::parse(&rsp).unwrap();
        assert_eq!((h.command, h.message_id, h.nt_status()), (Command::WRITE, *id, NtStatus::SUCCESS));
        assert!(h.credits >= 1);
        assert_eq!(WriteResponse::parse(&rsp).unwrap().count, 131_072);
    }
    // The last fails on the device: the client hears the status.
    c.conn.files_mut().release = vec![Err(NtStatus::DISK_FULL)];
    assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
    let rsp = c.open_reply(tx.msgs.pop().expect("the failed WRITE is answered"));
    let h = Header::parse(&rsp).unwrap();
    assert_eq!((h.message_id, h.nt_status()), (ids[2], NtStatus::DISK_FULL));
    assert_eq!(c.conn.deferred_in_flight(), 0);
}

#[test]
fn compounds_and_writes_beyond_the_bound_are_done_before_they_are_answered() {
    let (mut c, mut tx) = deferring_client();
    let payload = vec![7u8; 131_072];
    // A small plain WRITE is not in a buffer that can be given away: it runs through execute.
    c.tree_connect("plain", true, false);
    let (_, mut msg) = {
        let mut h = c.header(Command::WRITE);
        h.credit_charge = 1;
        let req = WriteRequest { offset: 0, data: &payload[..4096], ..Default::default() };
        (h.message_id, c.request(h, &req, true, false))
    };
    c.conn.on_message(&mut msg, 0, &mut tx);
    assert_eq!(c.conn.files_mut().begun, 0);
    assert_eq!(tx.msgs.len(), 1, "answered at once");
    tx.msgs.clear();
    // Sealed ones are deferred up to the connection's bound; the next is done at once.
    c.tree_connect("secret", false, true);
    for _ in 0..17 {
        let (_, mut msg) = write_request(&mut c, &payload, true);
        assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
    }
    assert_eq!(c.conn.deferred_in_flight(), 16);
    assert_eq!(c.conn.files_mut().begun, 16, "the 17th is not offered");
    assert_eq!(tx.msgs.len(), 1, "the 17th is answered at once");
    // Closing with WRITEs in flight forgets their answers.
    c.conn.close();
    assert_eq!(c.conn.deferred_in_flight(), 0);
}

#[test]
fn deferred_reads_are_sealed_and_sent_once_the_handler_has_filled_them() {
    let (mut c, mut tx) = deferring_client();
    let mut ids = Vec::new();
    for (len, minimum) in [(131_072u32, 0u32), (65_536, 0), (65_536, 65_537)] {
        let mut h = c.header(Command::READ);
        h.credit_charge = (len as usize).div_ceil(65536) as u16;
        c.mid += u64::from(h.credit_charge) - 1;
        ids.push(h.message_id);
        let req = ReadRequest { length: len, offset: 0, minimum_count: minimum, ..Default::default() };
        let mut msg = c.request(h, &req, false, true);
        assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
    }
    assert!(tx.msgs.is_empty(), "no READ is answered before its data is there");
    assert_eq!(c.conn.deferred_in_flight(), 3);
    // A READ the handler refuses at once is answered at once.
    let mut h = c.header(Command::READ);
    h.credit_charge = 1;
    let req = ReadRequest { length: 65_536, offset: FILE_LEN as u64, ..Default::default() };
    let rsp = c.call(h, &req, false, true).1.expect("refused at once");
    assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::END_OF_FILE);

    c.conn.files_mut().release = vec![Ok(131_072), Ok(65_536), Ok(65_536)];
    assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
    assert_eq!(tx.msgs.len(), 3);
    let replies: Vec<Vec<u8>> = std::mem::take(&mut tx.msgs).into_iter().map(|m| c.open_reply(m)).collect();
    for (i, (rsp, id)) in replies.iter().zip(&ids).enumerate() {
        let h = Header::parse(rsp).unwrap();
        assert_eq!(h.message_id, *id);
        if i < 2 {
            assert_eq!(h.nt_status(), NtStatus::SUCCESS);
            let data = ReadResponse::parse(rsp).unwrap().data;
            assert_eq!(data.len(), [131_072, 65_536][i]);
            assert!(data.iter().enumerate().all(|(k, b)| *b == file_byte(k)), "READ {i} data");
        } else {
            // Fewer bytes than MinimumCount: END_OF_FILE, as for a READ done at once.
            assert_eq!(h.nt_status(), NtStatus::END_OF_FILE);
        }
    }
    // Sealed and handed to the transport from the buffer the data was read into.
    assert_eq!(tx.owned, 2);
    assert_eq!(c.conn.deferred_in_flight(), 0);
}

// ------------------------------------------------------------------------------------------------
// SMB2 READ and WRITE with RDMA channels (MS-SMB2 3.3.5.12 / 3.3.5.13) over an SMB Direct transport.

use smb_session::RdmaTransmit;
use smb_wire::smbd::BufferDescriptorV1;
use smb_wire::Channel;

/// An SMB Direct transport that records what the session asks of it, in order.
struct RdmaTx {
    /// Messages sent, with the token each invalidated.
    msgs: Vec<(Vec<u8>, Option<u32>)>,
    /// RDMA WRITEs: the bytes placed and where.
    writes: Vec<(Vec<u8>, Vec<BufferDescriptorV1>)>,
    /// RDMA READs asked for: (token, buffer, length, descriptors).
    reads: Vec<(u64, iobuf::Lease, usize, Vec<BufferDescriptorV1>)>,
    /// The order of the above: 'w' write, 's' send, 'i' send invalidating, 'r' read.
    order: String,
    pool: iobuf::Pool,
    max_rw: u32,
}

impl RdmaTx {
    fn new() -> Self {
        let pool = iobuf::Pool::new(&iobuf::PoolConfig::default());
        RdmaTx { msgs: vec![], writes: vec![], reads: vec![], order: String::new(), pool, max_rw: 1 << 20 }
    }
}

impl Transmit for RdmaTx {
    fn send(&mut self, msg: &[u8]) {
        self.msgs.push((msg.to_vec(), None));
        self.order.push('s');
    }
    fn rdma(&mut self) -> Option<&mut dyn RdmaTransmit> {
        Some(self)
    }
}

impl RdmaTransmit for RdmaTx {
    fn max_read_write(&self) -> u32 {
        self.max_rw
    }
    fn max_message(&self) -> usize {
        // ksmbd's MaxFragmentedSize (255 credits x 1364 / 2).
        173_910
    }
    fn lease(&mut self, len: usize) -> Option<iobuf::Lease> {
        self.pool.take(len).ok()
    }
    fn write(&mut self, data: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        self.writes.push((data[..len].to_vec(), descs.to_vec()));
        self.order.push('w');
    }
    fn read(&mut self, token: u64, into: iobuf::Lease, len: usize, descs: &[BufferDescriptorV1]) {
        self.reads.push((token, into, len, descs.to_vec()));
        self.order.push('r');
    }
    fn send_parts_invalidating(&mut self, parts: &[&[u8]], token: u32) {
        self.msgs.push((parts.concat(), Some(token)));
        self.order.push('i');
    }
}

/// Buffer descriptors covering `lens` bytes each, token 0x100 + i.
fn descriptors(lens: &[u32]) -> (Vec<BufferDescriptorV1>, Vec<u8>) {
    let descs: Vec<BufferDescriptorV1> = lens
        .iter()
        .enumerate()
        .map(|(i, &length)| BufferDescriptorV1 {
            offset: 0x7f00_0000_0000 + (i as u64) * 0x10_0000,
            token: 0x100 + i as u32,
            length,
        })
        .collect();
    let mut bytes = vec![0u8; 16 * descs.len()];
    for (i, d) in descs.iter().enumerate() {
        bytes[16 * i..16 * i + 8].copy_from_slice(&d.offset.to_le_bytes());
        bytes[16 * i + 8..16 * i + 12].copy_from_slice(&d.token.to_le_bytes());
        bytes[16 * i + 12..16 * i + 16].copy_from_slice(&d.length.to_le_bytes());
    }
    (descs, bytes)
}

/// A logged-on client on a plain (signing not required) session with the "plain" tree.
fn rdma_client(cfg: ServerConfig) -> Client {
    let mut c = Client::new(cfg);
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("plain", true, false);
    c
}

/// Sends a READ of `length` bytes at `offset` with `channel` and `info`; returns the status of the
/// one response.
fn rdma_read(
    c: &mut Client,
    tx: &mut dyn Transmit,
    length: u32,
    offset: u64,
    channel: Channel,
    info: &[u8],
) -> Option<Vec<u8>> {
    let mut h = c.header(Command::READ);
    h.credit_charge = (length as usize).div_ceil(65536).max(1) as u16;
    c.mid += u64::from(h.credit_charge) - 1;
    let req = ReadRequest { length, offset, channel, channel_info: info, ..Default::default() };
    let mut msg = c.request(h, &req, true, false);
    assert_eq!(c.conn.on_message(&mut msg, 0, tx), Flow::Continue);
    None
}

fn status_of(msg: &[u8]) -> NtStatus {
    Header::parse(msg).unwrap().nt_status()
}

#[test]
fn rdma_channels_are_refused_on_tcp_and_checked_on_smb_direct() {
    let mut c = rdma_client(ServerConfig::default());
    let (_, info) = descriptors(&[65536]);
    // Over TCP, any RDMA channel is invalid.
    let mut tcp: Vec<Vec<u8>> = Vec::new();
    rdma_read(&mut c, &mut tcp, 65536, 0, Channel::RDMA_V1, &info);
    assert_eq!(status_of(&tcp.pop().unwrap()), NtStatus::INVALID_PARAMETER);
    // Over SMB Direct, each malformed request is refused, and a V1_INVALIDATE one still
    // invalidates the client's token with the error.
    let (_, short) = descriptors(&[4096, 4096]);
    let (_, zero) = descriptors(&[65536, 0]);
    let (_, many) = descriptors(&[1024; 65]);
    let (_, big) = descriptors(&[2 << 20]);
    let cases: [(&str, u32, Channel, &[u8]); 7] = [
        ("no channel info", 65536, Channel::RDMA_V1_INVALIDATE, &[]),
        ("info not whole descriptors", 65536, Channel::RDMA_V1, &info[..15]),
        ("descriptors short of the I/O", 65536, Channel::RDMA_V1_INVALIDATE, &short),
        ("a zero-length descriptor", 65536, Channel::RDMA_V1_INVALIDATE, &zero),
        ("too many descriptors", 65536, Channel::RDMA_V1_INVALIDATE, &many),
        ("I/O over MaxReadWriteSize", 2 << 20, Channel::RDMA_V1_INVALIDATE, &big),
        ("a transform channel in a READ", 65536, Channel::RDMA_TRANSFORM, &info),
    ];
    for (what, length, channel, info) in cases {
        let mut tx = RdmaTx::new();
        rdma_read(&mut c, &mut tx, length, 0, channel, info);
        assert_eq!(tx.msgs.len(), 1, "{what}");
        assert_eq!(status_of(&tx.msgs[0].0), NtStatus::INVALID_PARAMETER, "{what}");
        assert!(tx.writes.is_empty(), "{what}: nothing placed");
        let parsed_ok = info.len() >= 16 && info.len() % 16 == 0 && channel != Channel::RDMA_TRANSFORM;
        let want = (channel == Channel::RDMA_V1_INVALIDATE && parsed_ok).then_some(0x100);
        assert_eq!(tx.msgs[0].1, want, "{what}: invalidation with the error");
    }
    // A zero-length WRITE, and a WRITE with RDMA channel but inline data.
    for (what, remaining, data) in [("zero-length", 0u32, &[][..]), ("inline data too", 4096, &[7u8; 16][..])]
    {
        let mut tx = RdmaTx::new();
        let h = c.header(Command::WRITE);
        let (_, info) = descriptors(&[4096]);
        let req = WriteRequest {
            channel: Channel::RDMA_V1_INVALIDATE,
            remaining_bytes: remaining,
            channel_info: &info,
            data,
            ..Default::default()
        };
        let mut msg = c.request(h, &req, true, false);
        assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
        assert_eq!(status_of(&tx.msgs[0].0), NtStatus::INVALID_PARAMETER, "{what}");
        assert!(tx.reads.is_empty(), "{what}: nothing pulled");
    }
}

#[test]
fn an_rdma_read_places_the_data_then_answers_invalidating_the_token() {
    let mut c = rdma_client(ServerConfig::default());
    let mut tx = RdmaTx::new();
    // Windows-style split descriptors: 0xFFFC0 + 0x40 bytes for one I/O.
    let (descs, info) = descriptors(&[0xFFFC0 - 0xF0000, 0x40 + 0x10000]);
    rdma_read(&mut c, &mut tx, 0x20000, 1000, Channel::RDMA_V1_INVALIDATE, &info);
    assert_eq!(tx.order, "wi", "the data is RDMA-written before the response is sent");
    let (placed, to) = &tx.writes[0];
    assert_eq!(to, &descs);
    assert_eq!(placed.len(), 0x20000);
    assert!(placed.iter().enumerate().all(|(i, &b)| b == file_byte(1000 + i)));
    let (rsp, inv) = &tx.msgs[0];
    assert_eq!(*inv, Some(0x100), "the response invalidates the first descriptor's token");
    assert_eq!(status_of(rsp), NtStatus::SUCCESS);
    let r = ReadResponse::parse(rsp).unwrap();
    assert_eq!((r.data.len(), r.data_remaining), (0, 0x20000), "DataLength 0, DataRemaining = bytes placed");
    assert_eq!(rsp[64 + 2], 0x50, "DataOffset 0x50");
    assert_eq!(rsp.len(), 0x50, "no Buffer byte after the fixed part: Linux reads exactly 80 bytes");
    // Past the end of the file: an error, nothing placed, the token still invalidated.
    let mut tx = RdmaTx::new();
    rdma_read(&mut c, &mut tx, 4096, FILE_LEN as u64, Channel::RDMA_V1_INVALIDATE, &info);
    assert_eq!(tx.order, "i");
    assert_eq!(status_of(&tx.msgs[0].0), NtStatus::END_OF_FILE);
    // RDMA_V1 (no invalidation asked): the response is a plain send.
    let mut tx = RdmaTx::new();
    rdma_read(&mut c, &mut tx, 4096, 0, Channel::RDMA_V1, &info);
    assert_eq!(tx.order, "ws");
    // Inline (Channel NONE) over SMB Direct: refused when the response would not fit one message
    // the client reassembles, served when it does.
    for (length, want) in [(262_144u32, NtStatus::INVALID_PARAMETER), (131_072, NtStatus::SUCCESS)] {
        let mut tx = RdmaTx::new();
        rdma_read(&mut c, &mut tx, length, 0, Channel::NONE, &[]);
        assert_eq!(status_of(&tx.msgs[0].0), want, "{length} bytes inline");
        assert!(tx.writes.is_empty());
    }
}

#[test]
fn an_rdma_write_pulls_the_payload_before_it_is_written_and_answered() {
    let mut c = rdma_client(ServerConfig::default());
    let mut tx = RdmaTx::new();
    let len = 200_000u32;
    let (descs, info) = descriptors(&[150_000, 50_000]);
    let mut h = c.header(Command::WRITE);
    h.credit_charge = 4;
    c.mid += 3;
    let message_id = h.message_id;
    let req = WriteRequest {
        channel: Channel::RDMA_V1_INVALIDATE,
        remaining_bytes: len,
        channel_info: &info,
        offset: 4096,
        ..Default::default()
    };
    let mut msg = c.request(h, &req, true, false);
    WRITE_SEEN.with(|w| w.set(None));
    assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
    assert_eq!(tx.order, "r", "no answer before the payload is here");
    let (token, mut lease, n, d) = tx.reads.pop().unwrap();
    assert_eq!((token, n, d), (message_id, len as usize, descs));
    assert_eq!(WRITE_SEEN.with(|w| w.get()), None, "nothing written before the payload arrived");
    lease[..n].fill(0x5A);
    assert_eq!(c.conn.on_pulled(token, Ok(lease), &mut tx), Flow::Continue);
    let seen = WRITE_SEEN.with(|w| w.get()).expect("the file handler got the WRITE");
    assert_eq!(seen, (len as usize, 0), "the whole payload, page-aligned");
    assert_eq!(tx.order, "ri");
    let (rsp, inv) = &tx.msgs[0];
    assert_eq!((*inv, status_of(rsp)), (Some(0x100), NtStatus::SUCCESS));
    assert_eq!(WriteResponse::parse(rsp).unwrap().count, len);
    // A pull that failed: never acknowledged, the connection goes.
    let h = c.header(Command::WRITE);
    let req = WriteRequest {
        channel: Channel::RDMA_V1,
        remaining_bytes: 4096,
        channel_info: &info,
        ..Default::default()
    };
    let mut msg = c.request(h, &req, true, false);
    let mut tx = RdmaTx::new();
    assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
    let (token, _, _, _) = tx.reads.pop().unwrap();
    assert_eq!(c.conn.on_pulled(token, Err("REM_ACCESS_ERR".into()), &mut tx), Flow::Close);
    assert!(tx.msgs.is_empty(), "a WRITE whose RDMA READ failed is never answered");
}

#[test]
fn sessions_that_must_encrypt_or_sign_move_their_data_inline_only() {
    let (_, info) = descriptors(&[65536]);
    // EncryptData share: a sealed READ asking for RDMA is refused (event 1003), nothing placed.
    let mut c = rdma_client(ServerConfig::default());
    c.tree_connect("secret", false, true);
    let mut tx = RdmaTx::new();
    let mut h = c.header(Command::READ);
    h.credit_charge = 1;
    let req = ReadRequest {
        length: 4096,
        channel: Channel::RDMA_V1_INVALIDATE,
        channel_info: &info,
        ..Default::default()
    };
    let mut msg = c.request(h, &req, false, true);
    assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
    assert_eq!(tx.order, "i", "only the (sealed) refusal, invalidating the token");
    let rsp = c.open_reply(tx.msgs[0].0.clone());
    assert_eq!(status_of(&rsp), NtStatus::ACCESS_DENIED);
    assert!(c.conn.drain_events().iter().any(|e| e.id() == Some(1003)));
    // The same share, data inline: served.
    let mut h = c.header(Command::READ);
    h.credit_charge = 1;
    let req = ReadRequest { length: 4096, ..Default::default() };
    let mut msg = c.request(h, &req, false, true);
    let mut tx = RdmaTx::new();
    assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
    assert_eq!(status_of(&c.open_reply(tx.msgs[0].0.clone())), NtStatus::SUCCESS);
    // A server that requires signing: RDMA refused with its own event.
    let mut c = rdma_client(ServerConfig { require_signing: true, ..ServerConfig::default() });
    let mut tx = RdmaTx::new();
    rdma_read(&mut c, &mut tx, 4096, 0, Channel::RDMA_V1, &info);
    assert_eq!(status_of(&tx.msgs[0].0), NtStatus::ACCESS_DENIED);
    assert!(c.conn.drain_events().iter().any(|e| matches!(e, Event::RdmaRefused { .. })));
    assert!(tx.writes.is_empty());
}
