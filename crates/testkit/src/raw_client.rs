//! [`RawClient`]: SMB2 requests built by hand against a `ServerConnection`, for what a real client
//! would never send (a bad signature, a reused MessageId, a malformed channel) and for checking the
//! server's cryptography independently: the client side computes its own preauth hash, keys,
//! signatures and seals with smb-crypto, so a server that hashed, derived or signed the wrong bytes
//! fails.
//!
//! It owns the server connection (`conn`), as the tests it serves poke the server directly.

use crate::auth::TwoLegAuth;
use crate::clock::EPOCH_FILETIME;
use crate::files::MemFiles;
use smb_crypto::kdf::{KdfInput, SessionKeys};
use smb_crypto::transform::{open_message, seal_message, TRANSFORM_HEADER_LEN};
use smb_crypto::{AeadKey, Backend, Cipher, NonceSequence, PreauthHash, SigningAlgorithm, SigningKey};
use smb_session::{AuthFactory, FileHandler, Flow, ServerConnection, Transmit};
use smb_wire::create::{access_mask, CreateDisposition, CreateRequest, CreateResponse};
use smb_wire::header::{flags, Command, Header};
use smb_wire::negotiate::{Dialect, NegotiateRequest, NegotiateResponse};
use smb_wire::negotiate_context::{
    CipherId, ContextData, EncryptionCapabilities, HashAlgorithm, NegotiateContextList,
    PreauthIntegrityCapabilities, RdmaTransformCapabilities, RdmaTransformId,
    SigningAlgorithm as WireSigning, SigningCapabilities, U16List,
};
use smb_wire::pdu::{pdu_to_vec, EncodeDyn};
use smb_wire::session_setup::{SessionSetupRequest, SessionSetupResponse};
use smb_wire::status::NtStatus;
use smb_wire::tree_connect::TreeConnectRequest;
use smb_wire::types::{utf16le, FileId, Utf16};

/// What the NEGOTIATE request offers.
#[derive(Debug, Clone)]
pub struct Offer {
    pub dialects: Vec<Dialect>,
    /// ENCRYPTION_CAPABILITIES, left out when empty.
    pub ciphers: Vec<CipherId>,
    /// SIGNING_CAPABILITIES, left out when empty.
    pub signing: Vec<WireSigning>,
    pub capabilities: u32,
    pub client_guid: [u8; 16],
    pub salt: [u8; 32],
    /// RDMA_TRANSFORM_CAPABILITIES contexts to send, each with these ids (normally none or one).
    pub rdma_contexts: Vec<Vec<RdmaTransformId>>,
}

impl Default for Offer {
    /// 3.1.1 and 3.0.2, AES-GMAC signing, DFS and encryption capabilities, no cipher.
    fn default() -> Self {
        Offer {
            dialects: vec![Dialect::SMB_3_1_1, Dialect::SMB_3_0_2],
            ciphers: Vec::new(),
            signing: vec![WireSigning::AES_GMAC],
            capabilities: 0x44,
            client_guid: [3; 16],
            salt: [5; 32],
            rdma_contexts: Vec::new(),
        }
    }
}

/// A hand-built client holding the server connection it talks to.
pub struct RawClient<F: FileHandler = MemFiles, A: AuthFactory = TwoLegAuth> {
    pub conn: ServerConnection<F, A>,
    /// The next MessageId.
    pub mid: u64,
    pub session: u64,
    /// The TreeId requests carry (the last tree connected).
    pub tree: u32,
    hash: PreauthHash,
    /// What NEGOTIATE settled: the dialect and the signing algorithm.
    negotiated: Option<(Dialect, SigningAlgorithm)>,
    pub signing: Option<SigningKey>,
    pub c2s: Option<AeadKey>,
    pub s2c: Option<AeadKey>,
    nonces: NonceSequence,
}

impl<F: FileHandler, A: AuthFactory> RawClient<F, A> {
    pub fn new(conn: ServerConnection<F, A>) -> Self {
        RawClient {
            conn,
            mid: 0,
            session: 0,
            tree: 0,
            hash: PreauthHash::new(Backend::PORTABLE),
            negotiated: None,
            signing: None,
            c2s: None,
            s2c: None,
            nonces: NonceSequence::new(7).expect("a channel index nonces accept"),
        }
    }

    /// The next request's header: this session and tree, 8 credits asked.
    pub fn header(&mut self, cmd: Command) -> Header {
        let mut h = Header::request(cmd, self.mid, self.session, self.tree);
        h.credits = 8;
        self.mid += 1;
        h
    }

    /// A header charging `len` bytes' worth of credits (one per 64 KiB), with the MessageIds that
    /// takes.
    pub fn io_header(&mut self, cmd: Command, len: usize) -> Header {
        let mut h = self.header(cmd);
        h.credit_charge = len.div_ceil(65536).max(1) as u16;
        self.mid += u64::from(h.credit_charge) - 1;
        h
    }

    /// Sends one PDU (optionally signed or sealed) and returns the one response, opened.
    pub fn call(
        &mut self,
        h: Header,
        body: &dyn EncodeDyn,
        sign: bool,
        seal: bool,
    ) -> (Flow, Option<Vec<u8>>) {
        let mut msg = self.request(h, body, sign, seal);
        let mut out: Vec<Vec<u8>> = Vec::new();
        let flow = self.conn.on_message(&mut msg, EPOCH_FILETIME, &mut out);
        assert!(out.len() <= 1, "one request, at most one response: {}", out.len());
        (flow, out.pop().map(|m| self.open_reply(m)))
    }

    /// Sends one PDU (optionally signed or sealed) through `tx`, a transport the test reads
    /// afterwards (a [`crate::Recorder`], say): what the server connection says of the connection.
    pub fn send(
        &mut self,
        h: Header,
        body: &dyn EncodeDyn,
        sign: bool,
        seal: bool,
        tx: &mut dyn Transmit,
    ) -> Flow {
        let mut msg = self.request(h, body, sign, seal);
        self.conn.on_message(&mut msg, EPOCH_FILETIME, tx)
    }

    /// One request message, signed or sealed as asked.
    pub fn request(&mut self, h: Header, body: &dyn EncodeDyn, sign: bool, seal: bool) -> Vec<u8> {
        let mut pdu = pdu_to_vec(&h, body);
        if sign {
            self.signing.as_ref().expect("signing before logon").sign_in_place(&mut pdu).expect("signed");
        }
        if !seal {
            return pdu;
        }
        self.seal_pdu(pdu)
    }

    /// `pdu` (a request as the test built it, bytes and all) sealed into a message with the C2S key.
    pub fn seal_pdu(&mut self, mut pdu: Vec<u8>) -> Vec<u8> {
        let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
        let n = self.nonces.next_nonce().expect("a nonce");
        let key = self.c2s.as_ref().expect("sealing before logon");
        seal_message(key, &n, self.session, &mut hdr, &mut pdu).expect("sealed");
        [&hdr[..], &pdu].concat()
    }

    /// A response message, opened with the S2C key when it is sealed.
    pub fn open_reply(&self, mut m: Vec<u8>) -> Vec<u8> {
        if m[0] != 0xFD {
            return m;
        }
        let mut hdr = [0u8; TRANSFORM_HEADER_LEN];
        hdr.copy_from_slice(&m[..TRANSFORM_HEADER_LEN]);
        let mut body = m.split_off(TRANSFORM_HEADER_LEN);
        let key = self.s2c.as_ref().expect("encrypted reply before keys");
        open_message(key, &hdr, &mut body).expect("the reply opens with the S2C key");
        body
    }

    /// NEGOTIATE with [`Offer::default`] and `ciphers`.
    pub fn negotiate(&mut self, ciphers: &[CipherId]) -> NegotiateResponse<'static> {
        self.negotiate_with(&Offer { ciphers: ciphers.to_vec(), ..Offer::default() })
    }

    /// NEGOTIATE offering `offer`; the response is kept for the rest of the test (leaked).
    pub fn negotiate_with(&mut self, offer: &Offer) -> NegotiateResponse<'static> {
        let rsp = self.negotiate_raw(offer);
        let leaked: &'static [u8] = Box::leak(rsp.into_boxed_slice());
        self.negotiated_by(leaked)
    }

    /// [`RawClient::negotiate`] keeping nothing: for a fuzz target's loop, where leaked responses
    /// would pile up.
    pub fn negotiate_and_forget(&mut self, ciphers: &[CipherId]) {
        let rsp = self.negotiate_raw(&Offer { ciphers: ciphers.to_vec(), ..Offer::default() });
        self.negotiated_by(&rsp);
    }

    /// What the NEGOTIATE response `rsp` settles (dialect, signing algorithm) kept, and the response
    /// joined to the preauth hash.
    fn negotiated_by<'r>(&mut self, rsp: &'r [u8]) -> NegotiateResponse<'r> {
        assert_eq!(Header::parse(rsp).expect("a header").nt_status(), NtStatus::SUCCESS, "NEGOTIATE");
        self.hash.update(rsp);
        let n = NegotiateResponse::parse(rsp).expect("a NEGOTIATE response");
        let chosen = n.contexts.iter().find_map(|c| match c.decode() {
            Ok(ContextData::Signing(s)) => s.algorithms.iter().next(),
            _ => None,
        });
        // MS-SMB2 3.3.5.4: without SIGNING_CAPABILITIES, AES-CMAC from 3.0 on, HMAC-SHA256 before.
        let signing = match chosen.and_then(|a| SigningAlgorithm::from_id(a.0)) {
            Some(a) => a,
            None if n.dialect_revision.0 >= Dialect::SMB_3_0.0 => SigningAlgorithm::AesCmac,
            None => SigningAlgorithm::HmacSha256,
        };
        self.negotiated = Some((n.dialect_revision, signing));
        n
    }

    /// Sends the NEGOTIATE `offer` describes and returns the response as it came, whatever its
    /// status (the request, not the response, joins the preauth hash).
    pub fn negotiate_raw(&mut self, offer: &Offer) -> Vec<u8> {
        let (mut hb, mut cb, mut sb, mut region) = ([0u8; 2], [0u8; 16], [0u8; 6], [0u8; 256]);
        let mut rb = [[0u8; 16]; 4];
        let mut items: Vec<ContextData<'_>> = vec![PreauthIntegrityCapabilities {
            hash_algorithms: U16List::build(&[HashAlgorithm::SHA512], &mut hb).expect("fits"),
            salt: &offer.salt,
        }
        .into()];
        if !offer.ciphers.is_empty() {
            items.push(
                EncryptionCapabilities { ciphers: U16List::build(&offer.ciphers, &mut cb).expect("fits") }
                    .into(),
            );
        }
        if !offer.signing.is_empty() {
            items.push(
                SigningCapabilities { algorithms: U16List::build(&offer.signing, &mut sb).expect("fits") }
                    .into(),
            );
        }
        for (ids, buf) in offer.rdma_contexts.iter().zip(rb.iter_mut()) {
            let transform_ids = U16List::build(ids, buf).expect("fits");
            items.push(RdmaTransformCapabilities { transform_ids }.into());
        }
        let dialects: Vec<u8> = offer.dialects.iter().flat_map(|d| d.0.to_le_bytes()).collect();
        let req = NegotiateRequest {
            security_mode: 1,
            capabilities: offer.capabilities,
            client_guid: offer.client_guid,
            client_start_time: 0,
            dialects: U16List::new(&dialects, "Dialects").expect("whole dialects"),
            contexts: NegotiateContextList::build(&items, &mut region).expect("fits"),
        };
        let h = self.header(Command::NEGOTIATE);
        let req_pdu = pdu_to_vec(&h, &req);
        let (flow, rsp) = self.call(h, &req, false, false);
        assert_eq!(flow, Flow::Continue);
        self.hash.update(&req_pdu);
        rsp.expect("a NEGOTIATE response")
    }

    /// The signing algorithm NEGOTIATE settled.
    pub fn signing_algorithm(&self) -> Option<SigningAlgorithm> {
        self.negotiated.map(|(_, s)| s)
    }

    /// One SESSION_SETUP leg with `token`: the status and the response. Keeps the preauth hash
    /// (every request, and every response but the last) and the SessionId the server gave.
    pub fn setup(&mut self, token: &[u8]) -> (NtStatus, Vec<u8>) {
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
        let (flow, rsp) = self.call(h, &req, false, false);
        assert_eq!(flow, Flow::Continue, "the server keeps the connection through SESSION_SETUP");
        let rsp = rsp.expect("a SESSION_SETUP response");
        let rh = Header::parse(&rsp).expect("a header");
        self.session = rh.session_id;
        if rh.nt_status() == NtStatus::MORE_PROCESSING_REQUIRED {
            self.hash.update(&rsp);
        }
        (rh.nt_status(), rsp)
    }

    /// Derives this end's keys (MS-SMB2 3.2.5.3.1) from `session_key`, with `cipher`'s key size
    /// (128 bits without one).
    pub fn derive_keys(&mut self, session_key: &[u8], cipher: Option<Cipher>) {
        let (dialect, signing) = self.negotiated.expect("keys before NEGOTIATE");
        if dialect.0 < Dialect::SMB_3_0.0 {
            // SMB 2.x signs with the session key itself and cannot encrypt (MS-SMB2 3.2.5.3.1).
            self.signing = Some(SigningKey::new(Backend::PORTABLE, signing, session_key).expect("a key"));
            return;
        }
        let input =
            if dialect == Dialect::SMB_3_1_1 { KdfInput::Smb311(&self.hash) } else { KdfInput::Smb30 };
        let bits = cipher.map_or(128, Cipher::key_bits);
        let keys = SessionKeys::derive(Backend::PORTABLE, input, session_key, session_key, bits);
        self.signing =
            Some(SigningKey::new(Backend::PORTABLE, signing, keys.signing.as_bytes()).expect("a key"));
        if let Some(cipher) = cipher {
            self.c2s =
                Some(AeadKey::new(Backend::PORTABLE, cipher, keys.c2s_cipher.as_bytes()).expect("a key"));
            self.s2c =
                Some(AeadKey::new(Backend::PORTABLE, cipher, keys.s2c_cipher.as_bytes()).expect("a key"));
        }
    }

    /// Whether `msg` carries a good signature by the derived signing key.
    pub fn verify(&self, msg: &mut [u8]) -> bool {
        self.signing.as_ref().expect("keys derived").verify_in_place(msg).is_ok()
    }

    /// Logs on through [`TwoLegAuth`]'s tokens and derives the keys; checks that the final
    /// SESSION_SETUP response is signed with the key both sides derived independently and carries
    /// [`TwoLegAuth::WELCOME`].
    pub fn logon(&mut self, cipher: Cipher) {
        assert_eq!(self.setup(TwoLegAuth::HELLO).0, NtStatus::MORE_PROCESSING_REQUIRED);
        let (status, mut rsp) = self.setup(TwoLegAuth::PROOF);
        assert_eq!(status, NtStatus::SUCCESS);
        self.derive_keys(&TwoLegAuth::SESSION_KEY, Some(cipher));
        assert_ne!(rsp[16] & flags::SIGNED as u8, 0, "final session setup response must be signed");
        assert!(self.verify(&mut rsp), "server signed with the key the client derived");
        assert_eq!(SessionSetupResponse::parse(&rsp).expect("parses").security_buffer, TwoLegAuth::WELCOME);
    }

    /// TREE_CONNECT to `\\srv\share`; on success later requests carry the new TreeId.
    pub fn tree_connect(&mut self, share: &str, sign: bool, seal: bool) -> Vec<u8> {
        let path = utf16le(&format!("\\\\srv\\{share}"));
        let req = TreeConnectRequest { flags: 0, path: Utf16::new(&path, "Path").expect("a path") };
        let h = self.header(Command::TREE_CONNECT);
        let rsp = self.call(h, &req, sign, seal).1.expect("a TREE_CONNECT response");
        let rh = Header::parse(&rsp).expect("a header");
        if rh.nt_status() == NtStatus::SUCCESS {
            self.tree = rh.tree_id().expect("a TreeId");
        }
        rsp
    }

    /// Opens (or creates) `name` on the current tree for reading and writing; panics unless the
    /// server says SUCCESS.
    pub fn create(&mut self, name: &str, sign: bool, seal: bool) -> FileId {
        let n = utf16le(name);
        let req = CreateRequest {
            desired_access: access_mask::FILE_READ_DATA | access_mask::FILE_WRITE_DATA,
            share_access: 7,
            create_disposition: CreateDisposition::OPEN_IF,
            name: Utf16::new(&n, "Name").expect("a name"),
            ..CreateRequest::default()
        };
        let h = self.header(Command::CREATE);
        let rsp = self.call(h, &req, sign, seal).1.expect("a CREATE response");
        assert_eq!(Header::parse(&rsp).expect("a header").nt_status(), NtStatus::SUCCESS, "CREATE {name}");
        CreateResponse::parse(&rsp).expect("a CREATE response").file_id
    }
}
