//! The client's protocol state machine (`smb_client_proto::ClientConnection`) fed sequences of
//! *server responses*, deep past NEGOTIATE: a real server (`smb_session::ServerConnection` over the
//! in-memory file handler, with real NTLM) answers every request the client builds, and the
//! fuzzer's bytes decide what becomes of each answer on its way back: passed on, edited, truncated,
//! held back and delivered later (reordered), delivered twice, replaced by a forged response, grown
//! into a compound, or replaced by raw garbage. The client must turn every bad answer into an error:
//! never panic, never loop, never allocate by a length the server chose (libFuzzer's malloc limit
//! catches that). One property is checked beyond that: once logged on, a client believes nothing of
//! a sealed answer, or a signed one where it requires signing, that was altered on the wire.
//!
//! Edits would die at the first signature or seal check if they were made on the wire, so the
//! target keeps a mirror of the client's logon (a twin NTLM initiator fed the same CHALLENGE, the
//! same preauth hash) and derives the session's keys itself: an edited or forged response is then
//! signed and sealed as the server would, and reaches the parsers of every command with the state
//! the earlier responses left.
//!
//! Input format (see `seeds/client_session/`): byte 0 is the configuration (bits 0-1: the ciphers
//! the client offers, all or AES-128-GCM, AES-256-CCM, AES-128-CCM alone; bit 2: the client's
//! `require_privacy`; bit 3: the share is `secret` (EncryptData) rather than `plain`; bit 4: the
//! server speaks 3.0.2 only (no preauth hash; VALIDATE_NEGOTIATE_INFO); bit 5: the client does not
//! require signing; bit 6: the server encrypts every session; bit 7: the server's transport is SMB
//! Direct, so READ and WRITE data may move by RDMA). Then steps, each an `op` byte (low 4 bits: what
//! the client does, see [`Run::step`]; the high bits vary it) with its arguments, and then for each
//! message the server answered a `mutation` byte (low 3 bits: what happens to it, see [`Run::pass`])
//! with its arguments. Input that runs out reads as zeros, so a run of zero bytes is the plain
//! exchange: NEGOTIATE, SESSION_SETUP legs, TREE_CONNECT, CREATE, then READs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_auth::NtlmInitiator;
use smb_client_proto::{
    ClientConfig, ClientConnection, Completion, FileHandle, RequestId, TreeHandle, WRITE_PAYLOAD_AT,
};
use smb_crypto::transform::{open_message, TRANSFORM_HEADER_LEN};
use smb_crypto::{Backend, Cipher, KeySchedule, PreauthHash, Role, SessionCrypto};
use smb_session::{Flow, ServerConfig, ServerConnection};
use smb_wire::codec::Writer;
use smb_wire::create::{access_mask, CreateDisposition};
use smb_wire::header::{flags, Command, Header, HeaderId, HEADER_LEN};
use smb_wire::negotiate::Dialect;
use smb_wire::pdu::{pdu_to_vec, EncodeDyn};
use smb_wire::query_info::InfoType;
use smb_wire::session_setup::SessionSetupResponse;
use smb_wire::status::NtStatus;
use smb_wire::FileInfoClass;
use std::collections::VecDeque;
use std::sync::Arc;
use testkit::clock::EPOCH_FILETIME;
use testkit::{MemFiles, Ntlm, Recorder, PASSWORD, USER};

/// Steps per input at most: every step costs at least one byte anyway; this bounds the time an
/// input can take.
const MAX_STEPS: usize = 256;
/// PDUs of a compound the target re-signs at most (the client decides how many it accepts).
const MAX_CHAIN: usize = 16;
/// Messages held back at most (older ones are dropped: a lost answer).
const MAX_HELD: usize = 16;
/// The client's NTLM randomness and clock: fixed, so the twin initiator computes the same key.
const RANDOM: [u8; 24] = [7; 24];

/// A body given as bytes.
struct Raw<'a>(&'a [u8]);

impl EncodeDyn for Raw<'_> {
    fn encoded_len_dyn(&self, _at: usize) -> usize {
        self.0.len()
    }
    fn encode_dyn(&self, w: &mut Writer<'_>) -> smb_wire::error::Result<()> {
        w.bytes(self.0)
    }
}

/// The fuzzer's bytes, read as zeros once they run out.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u16()) << 16
    }

    /// Up to `n` bytes (fewer when the input runs out).
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The session's keys as the server holds them (to sign and seal what the target edits or forges)
/// and as the client holds them (to open what the server sealed before editing it).
struct Keys {
    session_id: u64,
    server: SessionCrypto,
    client: SessionCrypto,
}

/// One fuzz run: the client under test, the server answering it, and the target's mirror of the
/// client's logon.
struct Run {
    client: ClientConnection,
    server: ServerConnection<MemFiles, Ntlm>,
    /// The server's transport (SMB Direct with RDMA, or TCP).
    tx: Recorder,
    server_closed: bool,
    share: &'static str,
    /// The client's `require_signing`.
    require_signing: bool,
    /// The NEGOTIATE request as sent (the start of the preauth hash).
    negotiate_request: Vec<u8>,
    /// Connection.PreauthIntegrityHashValue as the client computed it (3.1.1 only).
    connection_hash: Option<PreauthHash>,
    /// The SESSION_SETUP exchange's hash, mirrored.
    setup_hash: Option<PreauthHash>,
    /// An initiator fed what the client's was fed, for the session key.
    twin: Option<NtlmInitiator>,
    keys: Option<Keys>,
    /// The next SESSION_SETUP leg to send.
    auth: Option<Vec<u8>>,
    tree: Option<TreeHandle>,
    file: Option<FileHandle>,
    /// Requests sent, newest last (MessageId, command, TreeId): what forged answers answer.
    recent: VecDeque<(u64, Command, u32)>,
    /// Server answers held back, to deliver later.
    held: VecDeque<Vec<u8>>,
    /// Data the server placed by RDMA (READs), oldest first.
    placed: VecDeque<Vec<u8>>,
    /// The client's buffer of its last RDMA WRITE (what the server pulls).
    pull_data: Vec<u8>,
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let cfg = inp.byte();
    let mut run = Run::new(cfg);
    let mut steps = 0;
    while !inp.is_empty() && steps < MAX_STEPS {
        run.step(&mut inp);
        steps += 1;
    }
    // What is still held arrives at last, in order.
    while let Some(m) = run.held.pop_front() {
        run.deliver(m);
    }
    run.server.close();
});

impl Run {
    fn new(cfg: u8) -> Run {
        let ciphers = match cfg & 3 {
            0 => Cipher::ALL.to_vec(),
            1 => vec![Cipher::Aes128Gcm],
            2 => vec![Cipher::Aes256Ccm],
            _ => vec![Cipher::Aes128Ccm],
        };
        let old = cfg & 0x10 != 0;
        let client_cfg = ClientConfig {
            dialects: if old {
                vec![Dialect::SMB_3_1_1, Dialect::SMB_3_0_2, Dialect::SMB_3_0]
            } else {
                vec![Dialect::SMB_3_1_1]
            },
            ciphers,
            require_privacy: cfg & 4 != 0,
            require_signing: cfg & 0x20 == 0,
            ..ClientConfig::default()
        };
        let server_cfg = ServerConfig {
            dialects: if old { vec![Dialect::SMB_3_0_2] } else { ServerConfig::default().dialects },
            encrypt_data: cfg & 0x40 != 0,
            ..ServerConfig::default()
        };
        let files = MemFiles::default().with_file("plain", "f.txt", vec![1; 100_000]).with_file(
            "secret",
            "f.txt",
            vec![2; 100_000],
        );
        Run {
            client: ClientConnection::new(client_cfg, [3; 16], [5; 32]),
            server: ServerConnection::new(Arc::new(server_cfg), files, Ntlm::default(), [9; 32]),
            tx: if cfg & 0x80 != 0 { Recorder::smb_direct() } else { Recorder::tcp() },
            server_closed: false,
            require_signing: cfg & 0x20 == 0,
            share: if cfg & 8 != 0 { "secret" } else { "plain" },
            negotiate_request: Vec::new(),
            connection_hash: None,
            setup_hash: None,
            twin: None,
            keys: None,
            auth: None,
            tree: None,
            file: None,
            recent: VecDeque::new(),
            held: VecDeque::new(),
            placed: VecDeque::new(),
            pull_data: Vec::new(),
        }
    }

    /// One step: the client builds a request (`op` & 15) and the server's answers to it pass
    /// through [`Run::pass`]; or held answers are released, or a forged or raw message arrives.
    ///
    /// 0 the natural next request; 1 NEGOTIATE; 2 SESSION_SETUP (bit 4: a wrong password); 3 the
    /// pending SESSION_SETUP leg; 4 TREE_CONNECT; 5 CREATE; 6 READ; 7 WRITE (three ways); 8 READ by
    /// RDMA; 9 WRITE by RDMA; 10 CLOSE or FLUSH; 11 QUERY_INFO, QUERY_DIRECTORY or SET_INFO; 12
    /// VALIDATE_NEGOTIATE_INFO; 13 LOGOFF or TREE_DISCONNECT; 14 release held answers; 15 a forged
    /// response or raw bytes.
    fn step(&mut self, inp: &mut Input<'_>) {
        let op = inp.byte();
        let v = op >> 4;
        let file = self
            .file
            .unwrap_or(FileHandle { tree: self.tree.unwrap_or(TreeHandle(1)), file_id: Default::default() });
        let tree = self.tree.unwrap_or(TreeHandle(1));
        let req = match op & 15 {
            0 => self.next_request(),
            1 => self.negotiate(),
            2 => self.session_setup(if v & 1 == 0 { PASSWORD } else { "wrong" }),
            3 => self.auth_leg(),
            4 => {
                let share = match v & 3 {
                    0 => self.share,
                    1 => "plain",
                    2 => "secret",
                    _ => "nosuch",
                };
                note(
                    &mut self.recent,
                    self.client.tree_connect(&format!(r"\\srv\{share}")),
                    Command::TREE_CONNECT,
                    0,
                )
            }
            5 => {
                let name = ["f.txt", "new.txt", "", "dir\\x"][usize::from(v & 3)];
                let disposition =
                    if v & 4 == 0 { CreateDisposition::OPEN_IF } else { CreateDisposition::OPEN };
                let rw = access_mask::FILE_READ_DATA | access_mask::FILE_WRITE_DATA;
                let r = self.client.create(tree, name, rw, disposition, 0);
                note(&mut self.recent, r, Command::CREATE, tree.0)
            }
            6 => {
                let offset = u64::from(inp.u16()) << (v & 7);
                let len = u32::from(inp.u16()) << (v >> 3);
                note(&mut self.recent, self.client.read(file, offset, len), Command::READ, file.tree.0)
            }
            7 => {
                let offset = u64::from(inp.u16());
                let len = usize::from(inp.u16()) << (v >> 3);
                let data = vec![v; len];
                let r = match v & 3 {
                    0 | 1 => self.client.write(file, offset, &data),
                    2 => {
                        let mut msg = vec![0u8; WRITE_PAYLOAD_AT + len];
                        self.client
                            .write_prebuilt(file, offset, &mut msg)
                            .map(|(id, start)| (id, msg[start..].to_vec()))
                    }
                    _ => {
                        let mut msg = Vec::new();
                        self.client
                            .write_from(file, offset, &data, &mut msg)
                            .map(|(id, range)| (id, msg[range].to_vec()))
                    }
                };
                note(&mut self.recent, r, Command::WRITE, file.tree.0)
            }
            8 => {
                let len = u32::from(inp.u16()) + 1;
                let (descs, _) = testkit::descriptors(&[len]);
                let r = self.client.read_rdma(file, u64::from(inp.u16()), len, &descs, v & 1 == 1);
                note(&mut self.recent, r, Command::READ, file.tree.0)
            }
            9 => {
                let len = usize::from(inp.u16()) + 1;
                let (descs, _) = testkit::descriptors(&[len as u32]);
                let r = if v & 2 == 0 {
                    let mut data = vec![v; len];
                    let r = self.client.write_rdma(file, 0, &mut data, &descs, v & 1 == 1);
                    self.pull_data = data;
                    r
                } else {
                    self.pull_data = vec![v; len];
                    self.client.write_rdma_unprotected(file, 0, len as u32, &descs, v & 1 == 1)
                };
                note(&mut self.recent, r, Command::WRITE, file.tree.0)
            }
            10 if v & 1 == 0 => note(&mut self.recent, self.client.close(file), Command::CLOSE, file.tree.0),
            10 => note(&mut self.recent, self.client.flush(file), Command::FLUSH, file.tree.0),
            11 => {
                let class = inp.byte();
                let out = u32::from(inp.u16());
                let r = match v & 3 {
                    0 => self.client.query_info(file, InfoType(1 + (v >> 2)), class, out),
                    1 => {
                        let r = self.client.query_directory(file, FileInfoClass(class), "*", v >> 2, out);
                        let req = note(&mut self.recent, r, Command::QUERY_DIRECTORY, file.tree.0);
                        return self.send(req, inp);
                    }
                    _ => {
                        let n = usize::from(inp.byte());
                        let buf = inp.take(n);
                        let r = self.client.set_info(file, InfoType(1 + (v >> 2)), class, buf);
                        let req = note(&mut self.recent, r, Command::SET_INFO, file.tree.0);
                        return self.send(req, inp);
                    }
                };
                note(&mut self.recent, r, Command::QUERY_INFO, file.tree.0)
            }
            12 => note(&mut self.recent, self.client.validate_negotiate(tree), Command::IOCTL, tree.0),
            13 if v & 1 == 0 => note(&mut self.recent, self.client.logoff(), Command::LOGOFF, 0),
            13 => note(&mut self.recent, self.client.tree_disconnect(tree), Command::TREE_DISCONNECT, tree.0),
            14 => {
                // Held answers arrive now: oldest first, or newest first (reordered).
                let n = usize::from(v & 7) + 1;
                for _ in 0..n {
                    let m = if v & 8 == 0 { self.held.pop_front() } else { self.held.pop_back() };
                    match m {
                        Some(m) => self.deliver(m),
                        None => break,
                    }
                }
                None
            }
            _ => {
                let m = if v & 1 == 0 {
                    self.forge(inp)
                } else {
                    // Raw bytes, sealed under the session's key when asked, so garbage also
                    // reaches what lies behind the decryption.
                    let len = usize::from(inp.u16());
                    let raw = inp.take(len).to_vec();
                    if v & 2 != 0 {
                        self.seal(raw)
                    } else {
                        raw
                    }
                };
                self.deliver(m);
                None
            }
        };
        self.send(req, inp);
    }

    /// What a client would do next: negotiate, log on, connect the tree, open the file, read.
    fn next_request(&mut self) -> Option<Vec<u8>> {
        if self.client.dialect().is_none() {
            self.negotiate()
        } else if self.auth.is_some() {
            self.auth_leg()
        } else if self.client.session_id().is_none() {
            self.session_setup(PASSWORD)
        } else if self.tree.is_none() {
            let r = self.client.tree_connect(&format!(r"\\srv\{}", self.share));
            note(&mut self.recent, r, Command::TREE_CONNECT, 0)
        } else if let (None, Some(tree)) = (self.file, self.tree) {
            let rw = access_mask::FILE_READ_DATA | access_mask::FILE_WRITE_DATA;
            let r = self.client.create(tree, "f.txt", rw, CreateDisposition::OPEN_IF, 0);
            note(&mut self.recent, r, Command::CREATE, tree.0)
        } else {
            let file = self.file?;
            note(&mut self.recent, self.client.read(file, 0, 4096), Command::READ, file.tree.0)
        }
    }

    fn negotiate(&mut self) -> Option<Vec<u8>> {
        let req = self.client.negotiate().ok()?;
        self.negotiate_request = req.clone();
        self.recent_plain(&req);
        Some(req)
    }

    fn session_setup(&mut self, password: &str) -> Option<Vec<u8>> {
        let init = || NtlmInitiator::new(USER, password, "", "WS", RANDOM, EPOCH_FILETIME, true);
        let req = self.client.session_setup(init()).ok()?;
        // The client's exchange starts over from the connection's hash with a fresh initiator.
        let mut twin = init();
        let _ = twin.step(&[]);
        self.twin = Some(twin);
        self.setup_hash = self.connection_hash.map(|h| h.updated(&req));
        self.auth = None;
        self.recent_plain(&req);
        Some(req)
    }

    fn auth_leg(&mut self) -> Option<Vec<u8>> {
        let req = self.auth.take()?;
        self.recent_plain(&req);
        Some(req)
    }

    fn recent_plain(&mut self, req: &[u8]) {
        if let Ok(h) = Header::parse(req) {
            remember(&mut self.recent, h.message_id, h.command, h.tree_id().unwrap_or(0));
        }
    }

    /// The server answers `req`; each answer, and each RDMA transfer it asks for, as the fuzzer says.
    fn send(&mut self, req: Option<Vec<u8>>, inp: &mut Input<'_>) {
        let Some(mut req) = req else { return };
        if self.server_closed {
            return;
        }
        let flow = self.server.on_message(&mut req, EPOCH_FILETIME, &mut self.tx);
        self.after_server(flow, inp);
        let answers = self.tx.take();
        for m in answers {
            self.pass(m, inp);
        }
    }

    /// Completes the RDMA READs the server asked for (the client's WRITE data, corrupted or failed
    /// as the fuzzer says) and keeps the data it placed by RDMA WRITE (the client's READs).
    fn after_server(&mut self, mut flow: Flow, inp: &mut Input<'_>) {
        // Each completed pull may answer a WRITE; none asks for another pull, but stay bounded.
        for _ in 0..4 {
            for (data, _) in self.tx.writes.drain(..) {
                if self.placed.len() < MAX_HELD {
                    self.placed.push_back(data);
                }
            }
            if flow == Flow::Close || self.tx.reads.is_empty() {
                break;
            }
            for pull in std::mem::take(&mut self.tx.reads) {
                let how = inp.byte();
                let mut into = pull.into;
                let n = pull.len.min(self.pull_data.len()).min(into.len());
                into[..n].copy_from_slice(&self.pull_data[..n]);
                if how & 1 == 1 && n > 0 {
                    into[usize::from(how >> 1) % n] ^= 0x5A;
                }
                let result = if how == 0xFF { Err("fuzzed RDMA failure".to_string()) } else { Ok(into) };
                flow = self.server.on_pulled(pull.token, result, &mut self.tx);
                if flow == Flow::Close {
                    break;
                }
            }
        }
        if flow == Flow::Close {
            self.server_closed = true;
            self.server.close();
        }
    }

    /// One server answer on its way to the client, by the `mutation` byte's low 3 bits:
    /// 0 passed on; 1 edited (1-4 writes of 1, 2, 4 or 8 bytes) then signed and sealed again as the
    /// server would; 2 edited on the wire; 3 truncated; 4 held back; 5 delivered twice; 6 replaced by
    /// a forged response; 7 followed by a forged response in the same compound.
    fn pass(&mut self, msg: Vec<u8>, inp: &mut Input<'_>) {
        let mutation = inp.byte();
        match mutation & 7 {
            0 => self.deliver(msg),
            1 => {
                let (mut plain, sealed) = self.unseal(msg);
                let edits = 1 + (mutation >> 3) % 4;
                for _ in 0..edits {
                    edit(&mut plain, inp);
                }
                let m = self.protect(plain, sealed);
                self.deliver(m);
            }
            2 => {
                let mut altered = msg.clone();
                edit(&mut altered, inp);
                self.deliver_altered(&msg, altered);
            }
            3 => {
                let mut altered = msg.clone();
                altered.truncate(usize::from(inp.u16()) % (msg.len() + 1));
                self.deliver_altered(&msg, altered);
            }
            4 => {
                if self.held.len() == MAX_HELD {
                    self.held.pop_front();
                }
                self.held.push_back(msg);
            }
            5 => {
                self.deliver(msg.clone());
                self.deliver(msg);
            }
            6 => {
                let m = self.forge(inp);
                self.deliver(m);
            }
            _ => {
                let (mut plain, sealed) = self.unseal(msg);
                // Chained after the last PDU, 8-byte aligned as MS-SMB2 3.3.4.1.3 says.
                let mut at = 0;
                for _ in 0..MAX_CHAIN {
                    let next = plain
                        .get(at + 20..at + 24)
                        .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or_default()) as usize);
                    if next == 0 || at + next >= plain.len() {
                        break;
                    }
                    at += next;
                }
                if plain.len() >= at + HEADER_LEN {
                    let len = (plain.len() - at).next_multiple_of(8);
                    plain.resize(at + len, 0);
                    plain[at + 20..at + 24].copy_from_slice(&(len as u32).to_le_bytes());
                }
                plain.extend_from_slice(&self.forge_pdu(inp).0);
                let m = self.protect(plain, sealed);
                self.deliver(m);
            }
        }
    }

    /// A response to a recent request, made up from the input: status (SUCCESS, PENDING,
    /// MORE_PROCESSING_REQUIRED or any), async or not, credits, body; signed and sealed as asked.
    fn forge(&mut self, inp: &mut Input<'_>) -> Vec<u8> {
        let (pdu, seal) = self.forge_pdu(inp);
        self.protect(pdu, seal)
    }

    /// The forged PDU, unprotected, and whether the input asks for it sealed.
    fn forge_pdu(&mut self, inp: &mut Input<'_>) -> (Vec<u8>, bool) {
        let sel = inp.byte();
        let (mid, command, tree) = match self.recent.len() {
            0 => (0, Command::NEGOTIATE, 0),
            n => self.recent[n - 1 - usize::from(sel >> 5) % n],
        };
        let status = match sel & 3 {
            0 => NtStatus::SUCCESS.0,
            1 => NtStatus::PENDING.0,
            2 => NtStatus::MORE_PROCESSING_REQUIRED.0,
            _ => inp.u32(),
        };
        let session = self.keys.as_ref().map(|k| k.session_id).or(self.client.session_id()).unwrap_or(0);
        let mut h = Header::request(command, mid, session, tree);
        h.status = status;
        h.credits = u16::from(inp.byte());
        h.flags = flags::SERVER_TO_REDIR | if sel & 8 != 0 { flags::SIGNED } else { 0 };
        if sel & 4 != 0 {
            h.id = HeaderId::Async { async_id: 1 };
        }
        let len = usize::from(inp.u16());
        (pdu_to_vec(&h, &Raw(inp.take(len))), sel & 0x10 != 0)
    }

    /// A server message opened with the server-to-client key (when it is sealed and the keys are
    /// known), and whether it was sealed.
    fn unseal(&self, mut msg: Vec<u8>) -> (Vec<u8>, bool) {
        let Some(key) = self.keys.as_ref().and_then(|k| k.client.opening_key()) else { return (msg, false) };
        if msg.len() < TRANSFORM_HEADER_LEN || msg[0] != 0xFD {
            return (msg, false);
        }
        let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
        hdr.copy_from_slice(&msg[..TRANSFORM_HEADER_LEN]);
        let mut body = msg.split_off(TRANSFORM_HEADER_LEN);
        match open_message(key, &hdr, &mut body) {
            Ok(()) => (body, true),
            Err(_) => {
                msg.extend_from_slice(&body);
                (msg, false)
            }
        }
    }

    /// Signs every PDU of `plain` whose header says SIGNED, then seals the whole when `seal`, as the
    /// server does (where the target knows the keys).
    fn protect(&mut self, mut plain: Vec<u8>, seal: bool) -> Vec<u8> {
        if let Some(keys) = &self.keys {
            let key = keys.server.signing_key();
            let mut at = 0;
            for _ in 0..MAX_CHAIN {
                let Some(rest) = plain.get_mut(at..) else { break };
                let Ok(h) = Header::parse(rest) else { break };
                let next = h.next_command as usize;
                let len = if next == 0 { rest.len() } else { next.min(rest.len()) };
                if h.is_signed() {
                    let _ = key.sign_in_place(&mut rest[..len]);
                }
                if next == 0 {
                    break;
                }
                at += len;
            }
        }
        if seal {
            self.seal(plain)
        } else {
            plain
        }
    }

    /// `plain` under a TRANSFORM_HEADER with the server-to-client key (unchanged without one).
    fn seal(&mut self, mut plain: Vec<u8>) -> Vec<u8> {
        let Some(keys) = &mut self.keys else { return plain };
        let session_id = keys.session_id;
        let Some(sealing) = keys.server.sealing_key() else { return plain };
        let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
        if sealing.seal_message(session_id, &mut hdr, &mut plain).is_err() {
            return plain;
        }
        [&hdr[..], &plain].concat()
    }

    /// Gives `msg` to the client; what it completes moves the target's mirror along.
    fn deliver(&mut self, msg: Vec<u8>) {
        self.receive(msg, false);
    }

    /// [`Run::deliver`], returning what the client completed, described when `describe`.
    fn receive(&mut self, mut msg: Vec<u8>, describe: bool) -> Vec<String> {
        let seen = msg.clone();
        let Ok(done) = self.client.receive(&mut msg) else { return Vec::new() };
        let mut described = Vec::new();
        for c in done {
            described.push(if describe { format!("{c:?}") } else { String::new() });
            self.completed(c, &seen);
        }
        described
    }

    /// `altered`, `original` changed on the wire, given to the client. A logged-on client must
    /// believe none of it where `original` was protected: sealed, or signed to a client that
    /// requires signing (the target's oracle beyond "no panic": anything else is a forgery
    /// accepted).
    fn deliver_altered(&mut self, original: &[u8], altered: Vec<u8>) {
        let protected = self.client.session_id().is_some()
            && (original.first() == Some(&0xFD)
                || self.require_signing
                    && Header::parse(original).is_ok_and(|h| {
                        h.is_signed()
                            && h.command != Command::NEGOTIATE
                            && h.command != Command::SESSION_SETUP
                    }));
        let changed = altered != original;
        let done = self.receive(altered, protected && changed);
        assert!(
            !(protected && changed) || done.is_empty(),
            "a protected response altered on the wire was believed: {done:?}"
        );
    }

    /// Moves the mirror along after the client completed `c` from the message `seen`.
    fn completed(&mut self, c: Completion, seen: &[u8]) {
        match c {
            Completion::Negotiated { dialect, .. } => {
                self.connection_hash = (dialect == Dialect::SMB_3_1_1)
                    .then(|| PreauthHash::new(Backend::FAST).updated(&self.negotiate_request).updated(seen));
            }
            Completion::MoreAuth { bytes, .. } => {
                // As the client did: the response joins the hash, the initiator takes its token,
                // and the next leg joins the hash.
                if let Some(h) = &mut self.setup_hash {
                    h.update(seen);
                }
                if let (Some(twin), Ok(rsp)) = (&mut self.twin, SessionSetupResponse::parse(seen)) {
                    let _ = twin.step(rsp.security_buffer);
                }
                if let Some(h) = &mut self.setup_hash {
                    h.update(&bytes);
                }
                // The keys are settled now: the final SESSION_SETUP response is signed with them.
                self.keys = Header::parse(seen).ok().and_then(|h| self.derive_keys(h.session_id));
                self.auth = Some(bytes);
            }
            Completion::LoggedOn { .. } => self.auth = None,
            Completion::TreeConnected { tree, .. } => self.tree = Some(tree),
            Completion::Created { file, .. } => self.file = Some(file),
            Completion::Closed { .. } => self.file = None,
            Completion::TreeDisconnected { .. } => self.tree = None,
            Completion::LoggedOff { .. } => {
                self.keys = None;
                self.tree = None;
                self.file = None;
            }
            Completion::Read { data, .. } => self.client.recycle(data.into_buffer()),
            Completion::ReadPlaced { request, transform: Some(t), .. } => {
                let mut data = self.placed.pop_front().unwrap_or_default();
                let _ = self.client.open_placed(request, &t, &mut data);
            }
            Completion::Error { command: Command::SESSION_SETUP, .. } => self.auth = None,
            _ => {}
        }
    }

    /// The session's keys from the twin initiator's key and the mirrored hash, as both ends derive
    /// them (MS-SMB2 3.2.5.3.1, 3.3.5.5.3).
    fn derive_keys(&self, session_id: u64) -> Option<Keys> {
        let key = self.twin.as_ref()?.session_key()?;
        let dialect = self.client.dialect()?;
        let schedule = match &self.setup_hash {
            _ if dialect.0 < Dialect::SMB_3_0.0 => KeySchedule::Smb2,
            Some(h) => KeySchedule::Smb311(h),
            None => KeySchedule::Smb30,
        };
        let (cipher, signing) = (self.client.cipher(), self.client.signing()?);
        let derive = |role| {
            SessionCrypto::derive(role, schedule, key.as_bytes(), cipher, signing, Backend::FAST, true).ok()
        };
        Some(Keys { session_id, server: derive(Role::Server)?, client: derive(Role::Client)? })
    }
}

/// Records a request the client built (what forged answers answer) and passes it on.
fn note(
    recent: &mut VecDeque<(u64, Command, u32)>,
    r: Result<(RequestId, Vec<u8>), smb_client_proto::ClientError>,
    command: Command,
    tree: u32,
) -> Option<Vec<u8>> {
    let (id, req) = r.ok()?;
    remember(recent, id.0, command, tree);
    Some(req)
}

fn remember(recent: &mut VecDeque<(u64, Command, u32)>, mid: u64, command: Command, tree: u32) {
    if recent.len() == 8 {
        recent.pop_front();
    }
    recent.push_back((mid, command, tree));
}

/// Overwrites 1, 2, 4 or 8 bytes of `msg` at an offset from the input with bytes from the input.
fn edit(msg: &mut [u8], inp: &mut Input<'_>) {
    let kind = inp.byte();
    let at = usize::from(inp.u16());
    let width = 1usize << (kind & 3);
    if msg.is_empty() {
        return;
    }
    let at = at % msg.len();
    let value = inp.take(width);
    let end = (at + value.len()).min(msg.len());
    msg[at..end].copy_from_slice(&value[..end - at]);
}
