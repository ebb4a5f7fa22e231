//! MS-SMB2 3.2 client processing for one connection, sans-I/O: each call builds one request message
//! (bytes for the transport, without the Direct TCP prefix); [`ClientConnection::receive`] takes one
//! response message and returns what it completed.
//!
//! Protection of each request (MS-SMB2 3.2.4.1.8 / 3.2.4.1.1): encrypted when the session
//! (EncryptData), the tree (SMB2_SHAREFLAG_ENCRYPT_DATA) or `require_privacy` says so, otherwise signed
//! when the session requires signing. Each response is checked the same way before it is believed.

use crate::completion::{Completion, CreateInfo, FileHandle, RequestId, TreeHandle};
use crate::config::ClientConfig;
use crate::credits::CreditWindow;
use crate::error::ClientError;
use crate::read_data::ReadData;
use core::ops::Range;
use smb_auth::NtlmInitiator;
use smb_crypto::transform::{open_message_to, TRANSFORM_HEADER_LEN};
use smb_crypto::{
    AeadKey, Cipher, CryptoError, KeySchedule, PreauthHash, Role, SealingKey, SessionCrypto,
    SigningAlgorithm, SigningKey,
};
use smb_wire::close::{CloseRequest, CloseResponse};
use smb_wire::create::{
    share_access, CreateDisposition, CreateRequest, CreateResponse, ImpersonationLevel, OplockLevel,
};
use smb_wire::flush::{FlushRequest, FlushResponse};
use smb_wire::fsctl::{CtlCode, Dialects, ValidateNegotiateInfoRequest, ValidateNegotiateInfoResponse};
use smb_wire::header::{Command, Header, HEADER_LEN};
use smb_wire::info::FileInfoClass;
use smb_wire::ioctl::{ioctl_flags, IoctlRequest, IoctlResponse};
use smb_wire::logoff::Logoff;
use smb_wire::negotiate::{capabilities, security_mode, Dialect, NegotiateRequest, NegotiateResponse};
use smb_wire::negotiate_context::{
    CipherId, ContextData, EncryptionCapabilities, HashAlgorithm, NegotiateContextList,
    PreauthIntegrityCapabilities, SigningAlgorithm as WireSigning, SigningCapabilities, U16List,
};
use smb_wire::pdu::{encode_pdu, pdu_len, EncodeDyn};
use smb_wire::query_directory::{QueryDirectoryRequest, QueryDirectoryResponse};
use smb_wire::query_info::{InfoType, QueryInfoRequest, QueryInfoResponse};
use smb_wire::read::{ReadRequest, ReadResponse};
use smb_wire::session_setup::{session_flags, SessionSetupRequest, SessionSetupResponse};
use smb_wire::set_info::{SetInfoRequest, SetInfoResponse};
use smb_wire::status::NtStatus;
use smb_wire::tree_connect::{share_flags, TreeConnectRequest, TreeConnectResponse, TreeDisconnect};
use smb_wire::types::{utf16le, FileId, Guid, Utf16};
use smb_wire::write::{WriteRequest, WriteResponse};
use smb_wire::Compound;
use std::collections::HashMap;

/// Where [`ClientConnection::write_prebuilt`] expects the payload: after room for a
/// TRANSFORM_HEADER, the SMB2 header and the fixed part of the WRITE request.
pub const WRITE_PAYLOAD_AT: usize = TRANSFORM_HEADER_LEN + HEADER_LEN + WriteRequest::FIXED_LEN;

/// The WRITE request without its payload (which lies in the caller's buffer right behind it).
struct WriteHead<'a> {
    req: WriteRequest<'a>,
    len: usize,
}

impl smb_wire::Encode for WriteHead<'_> {
    fn encoded_len_at(&self, at: usize) -> usize {
        self.req.head_len_at(at, self.len)
    }

    fn encode(&self, w: &mut smb_wire::Writer<'_>) -> smb_wire::Result<()> {
        self.req.encode_head(self.len, w).map(|_| ())
    }
}

/// share_access for CREATE: let others read, write and delete (what Windows clients send).
const SHARE_ALL: u32 = share_access::READ | share_access::WRITE | share_access::DELETE;
/// Caps the outstanding requests tracked per connection (a caller cannot hold more credits anyway).
const MAX_PENDING: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Negotiating,
    Negotiated,
    SettingUp,
    LoggedOn,
    LoggedOff,
    Failed,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Start => "not negotiated",
            Phase::Negotiating => "waiting for the NEGOTIATE response",
            Phase::Negotiated => "negotiated, not logged on",
            Phase::SettingUp => "in SESSION_SETUP",
            Phase::LoggedOn => "logged on",
            Phase::LoggedOff => "logged off",
            Phase::Failed => "failed",
        }
    }
}

/// What NEGOTIATE settled (MS-SMB2 3.2.1.2 Connection).
struct Negotiated {
    dialect: Dialect,
    cipher: Option<Cipher>,
    signing: SigningAlgorithm,
    server_signing_required: bool,
    large_mtu: bool,
    max_read: u32,
    max_write: u32,
    /// What FSCTL_VALIDATE_NEGOTIATE_INFO must see again (MS-SMB2 3.2.5.14.12).
    server_guid: Guid,
    server_capabilities: u32,
    server_security_mode: u16,
}

/// MS-SMB2 3.2.1.3 Session, once established.
struct Session {
    id: u64,
    /// The client's keys (MS-SMB2 3.2.5.3.1); None for anonymous and guest sessions.
    keys: Option<SessionCrypto>,
    signing_required: bool,
    encrypt_data: bool,
}

impl Session {
    fn signing(&self) -> Option<&SigningKey> {
        self.keys.as_ref().map(SessionCrypto::signing_key)
    }

    /// Client-to-server key and its nonces.
    fn sealing(&mut self) -> Option<&mut SealingKey> {
        self.keys.as_mut().and_then(SessionCrypto::sealing_key)
    }

    /// Server-to-client key.
    fn opening(&self) -> Option<&AeadKey> {
        self.keys.as_ref().and_then(SessionCrypto::opening_key)
    }

    fn can_encrypt(&self) -> bool {
        self.keys.as_ref().is_some_and(SessionCrypto::can_encrypt)
    }
}

/// A SESSION_SETUP exchange in progress.
struct Setup {
    initiator: NtlmInitiator,
    /// Session.PreauthIntegrityHashValue (3.1.1 only).
    hash: Option<PreauthHash>,
    session_id: u64,
}

/// A request sent and not yet answered.
#[derive(Debug, Clone, Copy)]
struct Pending {
    command: Command,
    tree: u32,
    file: Option<FileId>,
    encrypted: bool,
    signed: bool,
}

/// The client side of one SMB2 connection.
pub struct ClientConnection {
    cfg: ClientConfig,
    client_guid: [u8; 16],
    salt: [u8; 32],
    phase: Phase,
    credits: CreditWindow,
    pending: HashMap<u64, Pending>,
    negotiated: Option<Negotiated>,
    /// The NEGOTIATE request as sent, for the connection's preauth hash.
    negotiate_request: Vec<u8>,
    /// Connection.PreauthIntegrityHashValue after NEGOTIATE (3.1.1).
    connection_hash: Option<PreauthHash>,
    setup: Option<Setup>,
    session: Option<Session>,
    /// Connected trees: TreeId → must encrypt.
    trees: HashMap<u32, bool>,
    /// Capabilities the NEGOTIATE request announced (validated again on 3.0.x).
    capabilities: u32,
    /// FSCTL_VALIDATE_NEGOTIATE_INFO has confirmed the negotiation (or the dialect needs none).
    validated: bool,
    /// Buffers to decrypt into, given back by the caller (see [`ClientConnection::recycle`]); their
    /// length is their capacity, so reuse writes into them without zero-filling first.
    spare: Vec<Vec<u8>>,
}

/// Spare decryption buffers kept, at most: enough for a deep queue of READs coming back.
const SPARE_BUFFERS: usize = 32;
/// Bytes of spare buffers kept, at most.
const SPARE_BYTES: usize = 64 << 20;
/// Messages smaller than this are decrypted into a fresh buffer, and such buffers are not kept: a
/// pool full of small buffers would leave every large READ to allocate (and zero) its own.
const SPARE_MIN: usize = 64 << 10;

/// A completion as the response chain produced it; a READ's data is still at `read` in the message.
struct Done {
    completion: Completion,
    read: Option<Range<usize>>,
}

impl From<Completion> for Done {
    fn from(completion: Completion) -> Done {
        Done { completion, read: None }
    }
}

impl ClientConnection {
    /// `seed`: 32 random bytes from the caller (the preauth salt).
    pub fn new(cfg: ClientConfig, client_guid: [u8; 16], seed: [u8; 32]) -> Self {
        Self {
            cfg,
            client_guid,
            salt: seed,
            phase: Phase::Start,
            credits: CreditWindow::new(),
            pending: HashMap::new(),
            negotiated: None,
            negotiate_request: Vec::new(),
            connection_hash: None,
            setup: None,
            session: None,
            trees: HashMap::new(),
            capabilities: 0,
            validated: false,
            spare: Vec::new(),
        }
    }

    /// Credits held (MessageIds the client may still use).
    pub fn credits_available(&self) -> u16 {
        u16::try_from(self.credits.available()).unwrap_or(u16::MAX)
    }

    /// The dialect NEGOTIATE settled.
    pub fn dialect(&self) -> Option<Dialect> {
        self.negotiated.as_ref().map(|n| n.dialect)
    }

    /// The cipher NEGOTIATE settled (None: the connection cannot encrypt).
    pub fn cipher(&self) -> Option<Cipher> {
        self.negotiated.as_ref().and_then(|n| n.cipher)
    }

    /// The signing algorithm NEGOTIATE settled.
    pub fn signing(&self) -> Option<SigningAlgorithm> {
        self.negotiated.as_ref().map(|n| n.signing)
    }

    /// The established session's id.
    pub fn session_id(&self) -> Option<u64> {
        self.session.as_ref().map(|s| s.id)
    }

    /// The largest READ payload one request may ask for (MaxReadSize; 64 KiB without LARGE_MTU).
    pub fn max_read_size(&self) -> Option<u32> {
        self.negotiated.as_ref().map(|n| if n.large_mtu { n.max_read } else { n.max_read.min(65536) })
    }

    /// The largest WRITE payload one request may carry (MaxWriteSize; 64 KiB without LARGE_MTU).
    pub fn max_write_size(&self) -> Option<u32> {
        self.negotiated.as_ref().map(|n| if n.large_mtu { n.max_write } else { n.max_write.min(65536) })
    }

    /// Whether the session encrypts every request (EncryptData or `require_privacy`).
    pub fn session_encrypted(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.encrypt_data)
    }

    /// MS-SMB2 3.2.5.5: a 3.0/3.0.2 connection has no preauth hash, so after logon the client asks
    /// the server to confirm the negotiation with FSCTL_VALIDATE_NEGOTIATE_INFO before trusting it.
    /// True until [`Self::validate_negotiate`] has been answered correctly.
    pub fn needs_validation(&self) -> bool {
        !self.validated
            && self.phase == Phase::LoggedOn
            && matches!(self.dialect(), Some(Dialect::SMB_3_0 | Dialect::SMB_3_0_2))
            && self.session.as_ref().is_some_and(|s| s.signing().is_some())
    }

    fn expect(&self, phase: Phase, op: &'static str) -> Result<(), ClientError> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(ClientError::WrongState { op, state: self.phase.name() })
        }
    }

    /// MS-SMB2 3.2.4.2.2.2 the NEGOTIATE request, with the 3.1.1 contexts when 3.1.1 is offered.
    pub fn negotiate(&mut self) -> Result<Vec<u8>, ClientError> {
        self.expect(Phase::Start, "negotiate")?;
        let mut dialects: Vec<Dialect> = self.cfg.dialects.clone();
        dialects.sort_by_key(|d| d.0);
        dialects.dedup();
        let mut dialect_buf = vec![0u8; 2 * dialects.len()];
        let dialect_list =
            U16List::build(&dialects, &mut dialect_buf).map_err(ClientError::wire("Dialects"))?;
        let ciphers: Vec<CipherId> = self.cfg.ciphers.iter().map(|c| CipherId(c.id())).take(16).collect();
        let algs: Vec<WireSigning> = self.cfg.signing.iter().map(|a| WireSigning(a.id())).take(16).collect();
        let (mut hb, mut cb, mut sb, mut region) = ([0u8; 2], [0u8; 32], [0u8; 32], [0u8; 256]);
        let mut items: Vec<ContextData<'_>> = vec![PreauthIntegrityCapabilities {
            hash_algorithms: U16List::build(&[HashAlgorithm::SHA512], &mut hb)
                .map_err(ClientError::wire("HashAlgorithms"))?,
            salt: &self.salt,
        }
        .into()];
        if !ciphers.is_empty() {
            let ciphers = U16List::build(&ciphers, &mut cb).map_err(ClientError::wire("Ciphers"))?;
            items.push(EncryptionCapabilities { ciphers }.into());
        }
        if !algs.is_empty() {
            let algorithms =
                U16List::build(&algs, &mut sb).map_err(ClientError::wire("SigningAlgorithms"))?;
            items.push(SigningCapabilities { algorithms }.into());
        }
        let contexts = if dialects.contains(&Dialect::SMB_3_1_1) {
            NegotiateContextList::build(&items, &mut region)
                .map_err(ClientError::wire("NegotiateContexts"))?
        } else {
            NegotiateContextList::default()
        };
        let mut caps = capabilities::LARGE_MTU;
        // CAP_ENCRYPTION says the client can encrypt at all. 3.0.x servers take it to mean
        // AES-128-CCM; 3.1.1 servers (Samba among them) still look for it before the cipher context.
        if !self.cfg.ciphers.is_empty() {
            caps |= capabilities::ENCRYPTION;
        }
        self.capabilities = caps;
        let req = NegotiateRequest {
            security_mode: self.security_mode(),
            capabilities: caps,
            client_guid: self.client_guid,
            client_start_time: 0,
            dialects: dialect_list,
            contexts,
        };
        let (_, pdu) = self.frame(Command::NEGOTIATE, 0, 1, &req, None)?;
        self.negotiate_request = pdu.clone();
        self.phase = Phase::Negotiating;
        Ok(pdu)
    }

    fn security_mode(&self) -> u16 {
        security_mode::SIGNING_ENABLED
            | if self.cfg.require_signing { security_mode::SIGNING_REQUIRED } else { 0 }
    }

    /// MS-SMB2 3.2.4.2.3 the first SESSION_SETUP leg, carrying the initiator's first token.
    pub fn session_setup(&mut self, mut initiator: NtlmInitiator) -> Result<Vec<u8>, ClientError> {
        self.expect(Phase::Negotiated, "session_setup")?;
        let token = initiator.step(&[])?;
        self.setup = Some(Setup { initiator, hash: self.connection_hash, session_id: 0 });
        self.phase = Phase::SettingUp;
        self.session_setup_leg(&token).map(|(_, b)| b)
    }

    fn session_setup_leg(&mut self, token: &[u8]) -> Result<(RequestId, Vec<u8>), ClientError> {
        let mode = self.security_mode() as u8;
        let req = SessionSetupRequest {
            flags: 0,
            security_mode: mode,
            capabilities: 0,
            channel: 0,
            security_buffer: token,
            previous_session_id: 0,
        };
        let (id, pdu) = self.frame(Command::SESSION_SETUP, 0, 1, &req, None)?;
        if let Some(Setup { hash: Some(h), .. }) = &mut self.setup {
            h.update(&pdu);
        }
        Ok((id, pdu))
    }

    /// MS-SMB2 3.2.4.2.4 TREE_CONNECT to `unc` (`\\server\share`).
    pub fn tree_connect(&mut self, unc: &str) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.expect(Phase::LoggedOn, "tree_connect")?;
        let path = utf16le(unc);
        let req = TreeConnectRequest {
            flags: 0,
            path: Utf16::new(&path, "path").map_err(ClientError::wire("Path"))?,
        };
        self.send(Command::TREE_CONNECT, 0, 1, &req, None)
    }

    pub fn tree_disconnect(&mut self, tree: TreeHandle) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("tree_disconnect", tree)?;
        self.send(Command::TREE_DISCONNECT, tree.0, 1, &TreeDisconnect, None)
    }

    /// MS-SMB2 3.2.4.3 CREATE of `name` (relative to the share root).
    pub fn create(
        &mut self,
        tree: TreeHandle,
        name: &str,
        access: u32,
        disposition: CreateDisposition,
        options: u32,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("create", tree)?;
        let name = utf16le(name);
        let req = CreateRequest {
            requested_oplock_level: OplockLevel::NONE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            desired_access: access,
            share_access: SHARE_ALL,
            create_disposition: disposition,
            create_options: options,
            name: Utf16::new(&name, "name").map_err(ClientError::wire("Name"))?,
            ..CreateRequest::default()
        };
        self.send(Command::CREATE, tree.0, 1, &req, None)
    }

    /// MS-SMB2 3.2.4.6 READ; a large read is charged one credit per 64 KiB.
    pub fn read(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: u32,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("read", file.tree)?;
        let charge = self.io_charge("read", len as usize)?;
        let req = ReadRequest {
            padding: 0x50,
            length: len,
            offset,
            file_id: file.file_id,
            ..ReadRequest::default()
        };
        self.send(Command::READ, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.7 WRITE; charged like READ.
    pub fn write(
        &mut self,
        file: FileHandle,
        offset: u64,
        data: &[u8],
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("write", file.tree)?;
        let charge = self.io_charge("write", data.len())?;
        let req = WriteRequest { offset, file_id: file.file_id, data, ..WriteRequest::default() };
        self.send(Command::WRITE, file.tree.0, charge, &req, Some(file.file_id))
    }

    pub fn close(&mut self, file: FileHandle) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("close", file.tree)?;
        let req = CloseRequest { flags: 0, file_id: file.file_id };
        self.send(Command::CLOSE, file.tree.0, 1, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.4 FLUSH: the server answers once the file's data is on stable storage.
    pub fn flush(&mut self, file: FileHandle) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("flush", file.tree)?;
        let req = FlushRequest { file_id: file.file_id };
        self.send(Command::FLUSH, file.tree.0, 1, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.17 QUERY_DIRECTORY of the open directory `file`: entries of `class` matching
    /// `pattern`, at most `output_len` bytes of them. STATUS_NO_MORE_FILES ends the listing.
    pub fn query_directory(
        &mut self,
        file: FileHandle,
        class: FileInfoClass,
        pattern: &str,
        flags: u8,
        output_len: u32,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("query_directory", file.tree)?;
        let charge = self.transact_charge("query_directory", output_len)?;
        let name = utf16le(pattern);
        let req = QueryDirectoryRequest {
            file_information_class: class,
            flags,
            file_index: 0,
            file_id: file.file_id,
            file_name: Utf16::new(&name, "pattern").map_err(ClientError::wire("FileName"))?,
            output_buffer_length: output_len,
        };
        self.send(Command::QUERY_DIRECTORY, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.14 QUERY_INFO of `class` (a file or filesystem class, per `info_type`).
    pub fn query_info(
        &mut self,
        file: FileHandle,
        info_type: InfoType,
        class: u8,
        output_len: u32,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("query_info", file.tree)?;
        let charge = self.transact_charge("query_info", output_len)?;
        let req = QueryInfoRequest {
            info_type,
            file_info_class: class,
            output_buffer_length: output_len,
            file_id: file.file_id,
            ..QueryInfoRequest::default()
        };
        self.send(Command::QUERY_INFO, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.4.15 SET_INFO: `buffer` is the encoded class (rename, disposition, end of file, ...).
    pub fn set_info(
        &mut self,
        file: FileHandle,
        info_type: InfoType,
        class: u8,
        buffer: &[u8],
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("set_info", file.tree)?;
        let charge = self.transact_charge("set_info", u32::try_from(buffer.len()).unwrap_or(u32::MAX))?;
        let req = SetInfoRequest {
            info_type,
            file_info_class: class,
            buffer,
            additional_information: 0,
            file_id: file.file_id,
        };
        self.send(Command::SET_INFO, file.tree.0, charge, &req, Some(file.file_id))
    }

    /// MS-SMB2 3.2.5.5 / 3.2.4.20.1: FSCTL_VALIDATE_NEGOTIATE_INFO on `tree`, repeating what this
    /// client's NEGOTIATE said; the (signed) answer must repeat what the server's said.
    pub fn validate_negotiate(&mut self, tree: TreeHandle) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.ready("validate_negotiate", tree)?;
        let mut dialects: Vec<u16> = self.cfg.dialects.iter().map(|d| d.0).collect();
        dialects.sort_unstable();
        dialects.dedup();
        let input = ValidateNegotiateInfoRequest {
            capabilities: self.capabilities,
            guid: self.client_guid,
            security_mode: self.security_mode(),
            dialects: Dialects::from_slice(&dialects),
        };
        let input = smb_wire::Encode::to_vec(&input);
        let req = IoctlRequest {
            ctl_code: CtlCode::VALIDATE_NEGOTIATE_INFO,
            file_id: FileId::ANY,
            max_input_response: 0,
            max_output_response: ValidateNegotiateInfoResponse::LEN as u32,
            flags: ioctl_flags::IS_FSCTL,
            input: &input,
            output: &[],
        };
        self.send_protected(Command::IOCTL, tree.0, &req)
    }

    pub fn logoff(&mut self) -> Result<(RequestId, Vec<u8>), ClientError> {
        self.expect(Phase::LoggedOn, "logoff")?;
        self.send(Command::LOGOFF, 0, 1, &Logoff, None)
    }

    /// Logged on, and `tree` connected: what every request on a tree needs.
    fn ready(&self, op: &'static str, tree: TreeHandle) -> Result<(), ClientError> {
        self.expect(Phase::LoggedOn, op)?;
        self.known_tree(tree)
    }

    fn known_tree(&self, tree: TreeHandle) -> Result<(), ClientError> {
        if self.trees.contains_key(&tree.0) {
            Ok(())
        } else {
            Err(ClientError::UnknownTree { tree_id: tree.0 })
        }
    }

    /// MS-SMB2 3.2.4.1.5: CreditCharge = ceil(payload / 64 KiB) with LARGE_MTU; at most 64 KiB without.
    fn io_charge(&self, what: &'static str, len: usize) -> Result<u16, ClientError> {
        let n =
            self.negotiated.as_ref().ok_or(ClientError::WrongState { op: what, state: "not negotiated" })?;
        let max = if what == "read" { n.max_read } else { n.max_write };
        let max = if n.large_mtu { max } else { max.min(65536) };
        if len > max as usize {
            return Err(ClientError::TooLarge { what, len, max });
        }
        Ok(u16::try_from(len.div_ceil(65536).max(1)).unwrap_or(u16::MAX))
    }

    /// MS-SMB2 3.2.4.1.5 for QUERY_DIRECTORY, QUERY_INFO, SET_INFO: charged like I/O by the larger
    /// of the request and response payloads, capped by MaxTransactSize's 64 KiB multiples.
    fn transact_charge(&self, what: &'static str, len: u32) -> Result<u16, ClientError> {
        let n =
            self.negotiated.as_ref().ok_or(ClientError::WrongState { op: what, state: "not negotiated" })?;
        let max = if n.large_mtu { 8 << 20 } else { 65536 };
        if len > max {
            return Err(ClientError::TooLarge { what, len: len as usize, max });
        }
        Ok(u16::try_from((len as usize).div_ceil(65536).max(1)).unwrap_or(u16::MAX))
    }

    /// VALIDATE_NEGOTIATE_INFO is signed whatever the session's signing policy (MS-SMB2 3.2.4.20.1),
    /// or sealed when the session encrypts, so a man in the middle who altered the negotiation
    /// cannot answer it.
    fn send_protected(
        &mut self,
        command: Command,
        tree: u32,
        body: &dyn EncodeDyn,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        if self.session.as_ref().is_some_and(|s| s.signing().is_none()) {
            return Err(ClientError::WrongState { op: "validate_negotiate", state: "no signing key" });
        }
        let force = self.session.as_mut().map(|s| std::mem::replace(&mut s.signing_required, true));
        let r = self.send(command, tree, 1, body, None);
        if let (Some(s), Some(was)) = (self.session.as_mut(), force) {
            s.signing_required = was;
        }
        r
    }

    /// Frames a request after logon: header, then seal or sign as policy says.
    fn send(
        &mut self,
        command: Command,
        tree: u32,
        charge: u16,
        body: &dyn EncodeDyn,
        file: Option<FileId>,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        let (encrypt, sign) = self.protection(tree)?;
        // A sealed message is built with room for its TRANSFORM_HEADER in front, so sealing works
        // in place and the payload is copied once, into this buffer.
        let room = if encrypt { TRANSFORM_HEADER_LEN } else { 0 };
        let mut msg = vec![0u8; room + pdu_len(body)];
        let id = self.frame_into(command, tree, charge, body, file, &mut msg[room..])?;
        self.protect(id, &mut msg, room, encrypt, sign)?;
        Ok((id, msg))
    }

    /// MS-SMB2 3.2.4.7 WRITE of a payload the caller has already placed in `msg` at
    /// [`WRITE_PAYLOAD_AT`] (everything before it is overwritten): the header and the fixed WRITE
    /// body are written in front of it and the message signed or sealed in place, so the payload is
    /// never copied here. Returns the request and where the message starts: send `msg[start..]`.
    /// Nothing is taken from the credit window on error, and the payload is left as it was.
    pub fn write_prebuilt(
        &mut self,
        file: FileHandle,
        offset: u64,
        msg: &mut [u8],
    ) -> Result<(RequestId, usize), ClientError> {
        let len = msg.len().saturating_sub(WRITE_PAYLOAD_AT);
        let (id, encrypt, sign) = self.frame_write(file, offset, len, msg)?;
        let start = self.protect(id, msg, TRANSFORM_HEADER_LEN, encrypt, sign)?;
        Ok((id, start))
    }

    /// The checks of a WRITE of `len` payload bytes and its header and fixed body, framed into
    /// `msg[TRANSFORM_HEADER_LEN..WRITE_PAYLOAD_AT]`; returns the request and whether to (encrypt,
    /// sign) it. Nothing is taken from the credit window on error.
    fn frame_write(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: usize,
        msg: &mut [u8],
    ) -> Result<(RequestId, bool, bool), ClientError> {
        self.ready("write", file.tree)?;
        if len == 0 || msg.len() < WRITE_PAYLOAD_AT {
            return Err(ClientError::BufferSize { expected: WRITE_PAYLOAD_AT + 1, got: msg.len() });
        }
        let charge = self.io_charge("write", len)?;
        let (encrypt, sign) = self.protection(file.tree.0)?;
        let head =
            WriteHead { req: WriteRequest { offset, file_id: file.file_id, ..WriteRequest::default() }, len };
        let at = TRANSFORM_HEADER_LEN..WRITE_PAYLOAD_AT;
        let id =
            self.frame_into(Command::WRITE, file.tree.0, charge, &head, Some(file.file_id), &mut msg[at])?;
        Ok((id, encrypt, sign))
    }

    /// MS-SMB2 3.2.4.7 WRITE of `data`, built in `msg` (resized to fit; reuse one to save the
    /// allocation): header and fixed WRITE body in front, then the payload. A sealed request has
    /// the payload encrypted from where it lies straight into `msg`, in one pass, where copying it
    /// in first and sealing in place would take two. Returns the request and the part of `msg` to
    /// send. Nothing is taken from the credit window if the request is refused.
    pub fn write_from(
        &mut self,
        file: FileHandle,
        offset: u64,
        data: &[u8],
        msg: &mut Vec<u8>,
    ) -> Result<(RequestId, Range<usize>), ClientError> {
        let end = WRITE_PAYLOAD_AT + data.len();
        // 16 bytes past the message: the seal's scratch for the tag.
        msg.resize(end + 16, 0);
        let (id, encrypt, sign) = self.frame_write(file, offset, data.len(), msg)?;
        let pdu_at = TRANSFORM_HEADER_LEN;
        if !encrypt {
            msg[WRITE_PAYLOAD_AT..end].copy_from_slice(data);
            let start = self.protect(id, &mut msg[..end], pdu_at, false, sign)?;
            return Ok((id, start..end));
        }
        if let Some(p) = self.pending.get_mut(&id.0) {
            p.encrypted = true;
        }
        let (hdr, rest) = msg.split_at_mut(pdu_at);
        let hdr: &mut [u8; TRANSFORM_HEADER_LEN] =
            hdr.try_into().map_err(|_| ClientError::BufferSize { expected: TRANSFORM_HEADER_LEN, got: 0 })?;
        let (sealing, session_id) = self.sealing()?;
        sealing
            .seal_message_from(session_id, hdr, rest, WRITE_PAYLOAD_AT - pdu_at, data)
            .map_err(seal_error)?;
        Ok((id, 0..end))
    }

    /// The session's sealing key with its nonces, and the session's id.
    fn sealing(&mut self) -> Result<(&mut SealingKey, u64), ClientError> {
        let session =
            self.session.as_mut().ok_or(ClientError::WrongState { op: "send", state: "no session" })?;
        let id = session.id;
        let sealing = session.sealing().ok_or(ClientError::PrivacyUnavailable {
            reason: "encryption required but the session has no key",
        })?;
        Ok((sealing, id))
    }

    /// How a request on `tree` is protected (MS-SMB2 3.2.4.1.8, 3.2.4.1.1): (encrypt, sign).
    fn protection(&self, tree: u32) -> Result<(bool, bool), ClientError> {
        let session =
            self.session.as_ref().ok_or(ClientError::WrongState { op: "send", state: "no session" })?;
        let tree_encrypt = self.trees.get(&tree).copied().unwrap_or(false);
        let encrypt = session.encrypt_data || tree_encrypt || self.cfg.require_privacy;
        if encrypt && !session.can_encrypt() {
            return Err(ClientError::PrivacyUnavailable {
                reason: "encryption required but the session has no key",
            });
        }
        Ok((encrypt, !encrypt && session.signing_required))
    }

    /// Signs or seals the request `id` whose PDU is `msg[pdu_at..]`, in place; a seal puts the
    /// TRANSFORM_HEADER in the `TRANSFORM_HEADER_LEN` bytes before `pdu_at`. Returns where the
    /// message to send starts.
    fn protect(
        &mut self,
        id: RequestId,
        msg: &mut [u8],
        pdu_at: usize,
        encrypt: bool,
        sign: bool,
    ) -> Result<usize, ClientError> {
        if let Some(p) = self.pending.get_mut(&id.0) {
            p.encrypted = encrypt;
            p.signed = sign;
        }
        let Some(session) = self.session.as_mut() else {
            return Err(ClientError::WrongState { op: "send", state: "no session" });
        };
        if sign {
            if let Some(key) = session.signing() {
                key.sign_in_place(&mut msg[pdu_at..]).map_err(ClientError::crypto("signing a request"))?;
            }
        }
        if !encrypt {
            return Ok(pdu_at);
        }
        let start = pdu_at
            .checked_sub(TRANSFORM_HEADER_LEN)
            .ok_or(ClientError::BufferSize { expected: TRANSFORM_HEADER_LEN, got: pdu_at })?;
        let (hdr, pdu) = msg[start..].split_at_mut(TRANSFORM_HEADER_LEN);
        let hdr: &mut [u8; TRANSFORM_HEADER_LEN] =
            hdr.try_into().map_err(|_| ClientError::BufferSize { expected: TRANSFORM_HEADER_LEN, got: 0 })?;
        let (sealing, session_id) = self.sealing()?;
        sealing.seal_message(session_id, hdr, pdu).map_err(seal_error)?;
        Ok(start)
    }

    /// Takes MessageIds for `charge` credits and encodes the PDU; records it as pending.
    fn frame(
        &mut self,
        command: Command,
        tree: u32,
        charge: u16,
        body: &dyn EncodeDyn,
        file: Option<FileId>,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        let mut pdu = vec![0u8; pdu_len(body)];
        let id = self.frame_into(command, tree, charge, body, file, &mut pdu)?;
        Ok((id, pdu))
    }

    /// Takes MessageIds for `charge` credits, encodes header and body into `out` (exactly their
    /// length), and records the request as pending.
    fn frame_into(
        &mut self,
        command: Command,
        tree: u32,
        charge: u16,
        body: &dyn EncodeDyn,
        file: Option<FileId>,
        out: &mut [u8],
    ) -> Result<RequestId, ClientError> {
        if self.pending.len() >= MAX_PENDING {
            return Err(ClientError::NoCredits { need: charge, have: 0 });
        }
        if out.len() != pdu_len(body) {
            return Err(ClientError::BufferSize { expected: pdu_len(body), got: out.len() });
        }
        let credit_request = self.credits.request_for(charge);
        let have = self.credits.available();
        let mid = self.credits.take(charge).ok_or(ClientError::NoCredits { need: charge.max(1), have })?;
        let session_id = match command {
            Command::NEGOTIATE => 0,
            Command::SESSION_SETUP => self.setup.as_ref().map_or(0, |s| s.session_id),
            _ => self.session.as_ref().map_or(0, |s| s.id),
        };
        let mut h = Header::request(command, mid, session_id, tree);
        // 2.0.2 has no multi-credit requests: CreditCharge stays 0 there.
        h.credit_charge = if self.dialect() == Some(Dialect::SMB_2_0_2) { 0 } else { charge.max(1) };
        h.credits = credit_request;
        encode_pdu(&h, body, out).map_err(ClientError::wire("request"))?;
        self.pending.insert(mid, Pending { command, tree, file, encrypted: false, signed: false });
        Ok(RequestId(mid))
    }

    /// Takes one received transport message (an SMB2 message, possibly compounded, or a transform)
    /// and returns what it completed. A message that fails its integrity checks is dropped whole and
    /// reported as an error; nothing in it is believed.
    ///
    /// READ data comes back in the buffer the message was decrypted into (no copy of it), or copied
    /// out of `msg` when the message was not encrypted or held more than the one READ response.
    pub fn receive(&mut self, msg: &mut [u8]) -> Result<Vec<Completion>, ClientError> {
        match msg.get(..4) {
            Some([0xFE, b'S', b'M', b'B']) => {
                let done = self.receive_chain(msg, false)?;
                Ok(copy_reads(done, msg))
            }
            Some([0xFD, b'S', b'M', b'B']) => {
                if msg.len() < TRANSFORM_HEADER_LEN + HEADER_LEN {
                    return Err(ClientError::TransformTooShort { len: msg.len() });
                }
                let (hdr, body) = msg.split_at_mut(TRANSFORM_HEADER_LEN);
                let mut header = [0u8; TRANSFORM_HEADER_LEN];
                header.copy_from_slice(hdr);
                let got = smb_crypto::transform::session_id(&header);
                let key = self
                    .session
                    .as_ref()
                    .filter(|s| s.id == got)
                    .and_then(Session::opening)
                    .ok_or(ClientError::UnknownTransformSession { got })?;
                // Decrypted out of place: the AEAD writes every plaintext byte anyway, and a buffer of
                // our own can then carry READ data to the caller as it is.
                let len = body.len();
                let mut plain = take_spare(&mut self.spare, len);
                if let Err(e) = open_message_to(key, &header, body, &mut plain[..len]) {
                    self.recycle(plain);
                    return Err(ClientError::Decrypt(e));
                }
                let done = match self.receive_chain(&mut plain[..len], true) {
                    Ok(done) => done,
                    Err(e) => {
                        self.recycle(plain);
                        return Err(e);
                    }
                };
                if let [Done { completion: Completion::Read { request, .. }, read: Some(range) }] = &done[..]
                {
                    if let Some(data) = ReadData::within(plain, range.clone()) {
                        return Ok(vec![Completion::Read { request: *request, data }]);
                    }
                    // Not reached: the range was taken from a part of the message.
                    return Err(ClientError::UnexpectedResponse { message_id: request.0 });
                }
                let completions = copy_reads(done, &plain[..len]);
                self.recycle(plain);
                Ok(completions)
            }
            _ => Err(ClientError::NotSmb2),
        }
    }

    fn receive_chain(&mut self, msg: &mut [u8], encrypted: bool) -> Result<Vec<Done>, ClientError> {
        let mut lens = Vec::new();
        for pdu in Compound::new(msg) {
            lens.push(pdu.map_err(ClientError::wire("compound chain"))?.len());
        }
        // Check every PDU before acting on any, so a tampered compound changes nothing.
        let mut start = 0;
        let mut headers = Vec::with_capacity(lens.len());
        for &len in &lens {
            let pdu = &mut msg[start..start + len];
            headers.push(self.check(pdu, encrypted)?);
            start += len;
        }
        let mut out = Vec::new();
        let mut start = 0;
        for (len, (header, pending)) in lens.into_iter().zip(headers) {
            let pdu_at = start;
            let pdu = &mut msg[start..start + len];
            start += len;
            self.credits.grant(header.credits);
            if header.is_async() && header.nt_status() == NtStatus::PENDING {
                // Interim response: the final one comes later under the same MessageId.
                continue;
            }
            self.pending.remove(&header.message_id);
            if let Some(mut d) = self.complete(pdu, &header, pending)? {
                d.read = d.read.map(|r| pdu_at + r.start..pdu_at + r.end);
                out.push(d);
            }
        }
        Ok(out)
    }

    /// MS-SMB2 3.2.5.1: the response must answer a request we sent, and carry the protection its
    /// session requires.
    fn check(&self, pdu: &mut [u8], encrypted: bool) -> Result<(Header, Pending), ClientError> {
        let header = Header::parse(pdu).map_err(ClientError::wire("SMB2 header"))?;
        let message_id = header.message_id;
        if !header.is_response() {
            return Err(ClientError::UnexpectedResponse { message_id });
        }
        let pending = *self.pending.get(&message_id).ok_or(ClientError::UnexpectedResponse { message_id })?;
        if pending.command != header.command {
            return Err(ClientError::UnexpectedResponse { message_id });
        }
        let command = header.command;
        let Some(session) = self.session.as_ref().filter(|s| s.id == header.session_id) else {
            // NEGOTIATE and SESSION_SETUP legs before keys: the preauth hash protects them, and the
            // final leg's signature is checked when it completes.
            if encrypted || pending.encrypted {
                return Err(ClientError::UnencryptedResponse { command, message_id });
            }
            return Ok((header, pending));
        };
        if encrypted {
            return Ok((header, pending));
        }
        if pending.encrypted {
            return Err(ClientError::UnencryptedResponse { command, message_id });
        }
        let interim = header.is_async() && header.nt_status() == NtStatus::PENDING;
        if header.is_signed() {
            let key = session.signing().ok_or(ClientError::BadSignature { command, message_id })?;
            key.verify_in_place(pdu).map_err(|_| ClientError::BadSignature { command, message_id })?;
        } else if (pending.signed || session.signing_required) && !interim {
            return Err(ClientError::UnsignedResponse { command, message_id });
        }
        Ok((header, pending))
    }

    fn complete(
        &mut self,
        pdu: &mut [u8],
        header: &Header,
        pending: Pending,
    ) -> Result<Option<Done>, ClientError> {
        let request = RequestId(header.message_id);
        let status = header.nt_status();
        match header.command {
            Command::NEGOTIATE => return self.on_negotiate(pdu, header).map(|c| Some(c.into())),
            Command::SESSION_SETUP => {
                return self.on_session_setup(pdu, header, request).map(|c| c.map(Done::from))
            }
            _ => {}
        }
        if status.is_error() {
            return Ok(Some(Completion::Error { request, command: header.command, status }.into()));
        }
        let c = match header.command {
            Command::TREE_CONNECT => {
                let rsp =
                    TreeConnectResponse::parse(pdu).map_err(ClientError::wire("TREE_CONNECT response"))?;
                let tree = header.tree_id().unwrap_or(0);
                self.trees.insert(tree, rsp.share_flags & share_flags::ENCRYPT_DATA != 0);
                Completion::TreeConnected { request, tree: TreeHandle(tree), share_flags: rsp.share_flags }
            }
            Command::TREE_DISCONNECT => {
                self.trees.remove(&pending.tree);
                Completion::TreeDisconnected { request }
            }
            Command::CREATE => {
                let rsp = CreateResponse::parse(pdu).map_err(ClientError::wire("CREATE response"))?;
                let file = FileHandle { tree: TreeHandle(pending.tree), file_id: rsp.file_id };
                Completion::Created {
                    request,
                    file,
                    info: CreateInfo { action: rsp.create_action, info: rsp.info },
                }
            }
            Command::READ => {
                let rsp = ReadResponse::parse(pdu).map_err(ClientError::wire("READ response"))?;
                // The data is a part of `pdu`; where it starts there is its offset.
                let at = (rsp.data.as_ptr() as usize).wrapping_sub(pdu.as_ptr() as usize);
                let data = ReadData::default();
                return Ok(Some(Done {
                    completion: Completion::Read { request, data },
                    read: Some(at..at + rsp.data.len()),
                }));
            }
            Command::WRITE => {
                let rsp = WriteResponse::parse(pdu).map_err(ClientError::wire("WRITE response"))?;
                Completion::Written { request, count: rsp.count }
            }
            Command::CLOSE => {
                CloseResponse::parse(pdu).map_err(ClientError::wire("CLOSE response"))?;
                Completion::Closed { request, file_id: pending.file.unwrap_or_default() }
            }
            Command::FLUSH => {
                FlushResponse::parse(pdu).map_err(ClientError::wire("FLUSH response"))?;
                Completion::Flushed { request }
            }
            Command::QUERY_DIRECTORY => {
                let rsp = QueryDirectoryResponse::parse(pdu)
                    .map_err(ClientError::wire("QUERY_DIRECTORY response"))?;
                Completion::DirectoryListed { request, entries: rsp.output.to_vec() }
            }
            Command::QUERY_INFO => {
                let rsp = QueryInfoResponse::parse(pdu).map_err(ClientError::wire("QUERY_INFO response"))?;
                Completion::InfoQueried { request, output: rsp.output.to_vec() }
            }
            Command::SET_INFO => {
                SetInfoResponse::parse(pdu).map_err(ClientError::wire("SET_INFO response"))?;
                Completion::InfoSet { request }
            }
            Command::IOCTL => {
                let rsp = IoctlResponse::parse(pdu).map_err(ClientError::wire("IOCTL response"))?;
                self.check_validation(header, &pending, &rsp)?;
                Completion::Validated { request }
            }
            Command::LOGOFF => {
                self.session = None;
                self.trees.clear();
                self.phase = Phase::LoggedOff;
                Completion::LoggedOff { request }
            }
            _ => return Ok(None),
        };
        Ok(Some(c.into()))
    }

    /// Gives a buffer back for decrypting later messages into, typically that of a [`ReadData`]
    /// the caller is done with (see [`ReadData::into_buffer`]). Kept only while the spare buffers
    /// stay within their bounds.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        let held: usize = self.spare.iter().map(Vec::len).sum();
        if self.spare.len() < SPARE_BUFFERS
            && held + buf.capacity() <= SPARE_BYTES
            && buf.capacity() >= SPARE_MIN
        {
            buf.resize(buf.capacity(), 0);
            self.spare.push(buf);
        }
    }

    /// MS-SMB2 3.2.5.14.12: the answer to VALIDATE_NEGOTIATE_INFO must be signed and repeat the
    /// NEGOTIATE response; anything else means the negotiation was tampered with.
    fn check_validation(
        &mut self,
        header: &Header,
        pending: &Pending,
        rsp: &IoctlResponse<'_>,
    ) -> Result<(), ClientError> {
        let n = self
            .negotiated
            .as_ref()
            .ok_or(ClientError::WrongState { op: "IOCTL", state: "not negotiated" })?;
        if rsp.ctl_code != CtlCode::VALIDATE_NEGOTIATE_INFO {
            return Err(ClientError::UnexpectedResponse { message_id: header.message_id });
        }
        // check() has verified the signature or the seal; one of them must be there.
        if !header.is_signed() && !pending.encrypted {
            return Err(ClientError::UnsignedResponse {
                command: Command::IOCTL,
                message_id: header.message_id,
            });
        }
        let got = ValidateNegotiateInfoResponse::parse(rsp.output)
            .map_err(ClientError::wire("VALIDATE_NEGOTIATE_INFO response"))?;
        if got.dialect != n.dialect.0
            || got.guid != n.server_guid
            || got.security_mode != n.server_security_mode
            || got.capabilities != n.server_capabilities
        {
            self.phase = Phase::Failed;
            return Err(ClientError::NegotiateTampered);
        }
        self.validated = true;
        Ok(())
    }

    /// MS-SMB2 3.2.5.2 receiving the NEGOTIATE response.
    fn on_negotiate(&mut self, pdu: &[u8], header: &Header) -> Result<Completion, ClientError> {
        if self.phase != Phase::Negotiating {
            return Err(ClientError::WrongState { op: "NEGOTIATE response", state: self.phase.name() });
        }
        let status = header.nt_status();
        if status != NtStatus::SUCCESS {
            self.phase = Phase::Failed;
            return Ok(Completion::Error {
                request: RequestId(header.message_id),
                command: Command::NEGOTIATE,
                status,
            });
        }
        match self.negotiated_from(pdu) {
            Ok(c) => Ok(c),
            Err(e) => {
                self.phase = Phase::Failed;
                Err(e)
            }
        }
    }

    fn negotiated_from(&mut self, pdu: &[u8]) -> Result<Completion, ClientError> {
        let rsp = NegotiateResponse::parse(pdu).map_err(ClientError::wire("NEGOTIATE response"))?;
        let dialect = rsp.dialect_revision;
        if let Some(lowest) = self.cfg.lowest_dialect() {
            if dialect.0 < lowest.0 {
                return Err(ClientError::DialectDowngrade { got: dialect, lowest });
            }
        }
        if !self.cfg.dialects.contains(&dialect) {
            return Err(ClientError::DialectNotOffered { got: dialect });
        }
        let bad = |detail| ClientError::BadNegotiate { detail };
        let mut cipher = None;
        let mut signing = match dialect {
            Dialect::SMB_2_0_2 | Dialect::SMB_2_1 => SigningAlgorithm::HmacSha256,
            _ => SigningAlgorithm::AesCmac,
        };
        if dialect == Dialect::SMB_3_1_1 {
            let mut saw_preauth = false;
            for ctx in rsp.contexts.iter() {
                match ctx.decode().map_err(ClientError::wire("negotiate context"))? {
                    ContextData::PreauthIntegrity(p) => {
                        if p.hash_algorithms.len() != 1
                            || p.hash_algorithms.first() != Some(HashAlgorithm::SHA512)
                        {
                            return Err(bad("preauth hash algorithm is not SHA-512"));
                        }
                        saw_preauth = true;
                    }
                    ContextData::Encryption(e) => {
                        let id = e.ciphers.first().ok_or(bad("empty ENCRYPTION_CAPABILITIES"))?;
                        if e.ciphers.len() != 1 {
                            return Err(bad("more than one cipher chosen"));
                        }
                        if id != CipherId::NONE {
                            let c = Cipher::from_id(id.0).filter(|c| self.cfg.ciphers.contains(c));
                            cipher = Some(c.ok_or(bad("server chose a cipher that was not offered"))?);
                        }
                    }
                    ContextData::Signing(s) => {
                        let id = s.algorithms.first().ok_or(bad("empty SIGNING_CAPABILITIES"))?;
                        let a = SigningAlgorithm::from_id(id.0).filter(|a| self.cfg.signing.contains(a));
                        signing = a.ok_or(bad("server chose a signing algorithm that was not offered"))?;
                    }
                    _ => {}
                }
            }
            if !saw_preauth {
                return Err(bad("3.1.1 response without PREAUTH_INTEGRITY_CAPABILITIES"));
            }
            let hash = PreauthHash::new(self.cfg.backend).updated(&self.negotiate_request).updated(pdu);
            self.connection_hash = Some(hash);
        } else if dialect.0 >= Dialect::SMB_3_0.0
            && rsp.capabilities & capabilities::ENCRYPTION != 0
            && self.cfg.ciphers.contains(&Cipher::Aes128Ccm)
        {
            cipher = Some(Cipher::Aes128Ccm);
        }
        self.validated = !matches!(dialect, Dialect::SMB_3_0 | Dialect::SMB_3_0_2);
        if self.cfg.require_privacy {
            if dialect.0 < Dialect::SMB_3_0.0 {
                return Err(ClientError::PrivacyUnavailable {
                    reason: "the negotiated dialect predates encryption",
                });
            }
            if cipher.is_none() {
                return Err(ClientError::PrivacyUnavailable {
                    reason: "no cipher in common with the server",
                });
            }
        }
        self.negotiated = Some(Negotiated {
            dialect,
            cipher,
            signing,
            server_signing_required: rsp.security_mode & security_mode::SIGNING_REQUIRED != 0,
            large_mtu: rsp.capabilities & capabilities::LARGE_MTU != 0,
            max_read: rsp.max_read_size,
            max_write: rsp.max_write_size,
            server_guid: rsp.server_guid,
            server_capabilities: rsp.capabilities,
            server_security_mode: rsp.security_mode,
        });
        self.phase = Phase::Negotiated;
        Ok(Completion::Negotiated { dialect, cipher, signing })
    }

    /// MS-SMB2 3.2.5.3 receiving a SESSION_SETUP response.
    fn on_session_setup(
        &mut self,
        pdu: &mut [u8],
        header: &Header,
        request: RequestId,
    ) -> Result<Option<Completion>, ClientError> {
        if self.phase != Phase::SettingUp {
            return Err(ClientError::WrongState { op: "SESSION_SETUP response", state: self.phase.name() });
        }
        let status = header.nt_status();
        if status == NtStatus::MORE_PROCESSING_REQUIRED {
            let rsp =
                SessionSetupResponse::parse(pdu).map_err(ClientError::wire("SESSION_SETUP response"))?;
            let setup = self
                .setup
                .as_mut()
                .ok_or(ClientError::WrongState { op: "SESSION_SETUP", state: "no exchange" })?;
            setup.session_id = header.session_id;
            if let Some(h) = &mut setup.hash {
                h.update(pdu);
            }
            let token = match setup.initiator.step(rsp.security_buffer) {
                Ok(t) => t,
                Err(e) => return Err(self.fail_setup(e.into())),
            };
            let (request, bytes) = self.session_setup_leg(&token)?;
            return Ok(Some(Completion::MoreAuth { request, bytes }));
        }
        if status != NtStatus::SUCCESS {
            self.setup = None;
            self.phase = Phase::Negotiated;
            return Ok(Some(Completion::Error { request, command: Command::SESSION_SETUP, status }));
        }
        match self.establish(pdu, header) {
            Ok(c) => Ok(Some(c)),
            Err(e) => Err(self.fail_setup(e)),
        }
    }

    fn fail_setup(&mut self, e: ClientError) -> ClientError {
        self.setup = None;
        self.phase = Phase::Negotiated;
        e
    }

    /// Derives the session's keys (MS-SMB2 3.2.5.3.1), checks the server's signature on the final
    /// response, and sets the session's signing and encryption policy.
    fn establish(&mut self, pdu: &mut [u8], header: &Header) -> Result<Completion, ClientError> {
        let n = self
            .negotiated
            .as_ref()
            .ok_or(ClientError::WrongState { op: "SESSION_SETUP", state: "not negotiated" })?;
        let mut setup =
            self.setup.take().ok_or(ClientError::WrongState { op: "SESSION_SETUP", state: "no exchange" })?;
        let rsp = SessionSetupResponse::parse(pdu).map_err(ClientError::wire("SESSION_SETUP response"))?;
        let flags_ = rsp.session_flags;
        let token = rsp.security_buffer.to_vec();
        let anonymous = flags_ & (session_flags::IS_NULL | session_flags::IS_GUEST) != 0;
        let keys = match setup.initiator.session_key() {
            Some(key) if !anonymous => {
                let schedule = match &setup.hash {
                    _ if n.dialect.0 < Dialect::SMB_3_0.0 => KeySchedule::Smb2,
                    Some(h) => KeySchedule::Smb311(h),
                    None => KeySchedule::Smb30,
                };
                let keys = SessionCrypto::derive(
                    Role::Client,
                    schedule,
                    key.as_bytes(),
                    n.cipher,
                    n.signing,
                    self.cfg.backend,
                    // A client can encrypt whenever NEGOTIATE settled a cipher.
                    true,
                );
                Some(keys.map_err(ClientError::crypto("session keys"))?)
            }
            _ => None,
        };
        // MS-SMB2 3.2.5.3.1: the final response of a 3.1.1 session is signed; an unsigned one could
        // have come from anyone who saw the exchange.
        match keys.as_ref().map(SessionCrypto::signing_key) {
            Some(k) => {
                if !header.is_signed() {
                    if n.dialect == Dialect::SMB_3_1_1 {
                        return Err(ClientError::UnsignedSessionSetup);
                    }
                } else {
                    k.verify_in_place(pdu).map_err(|_| ClientError::BadSignature {
                        command: Command::SESSION_SETUP,
                        message_id: header.message_id,
                    })?;
                }
            }
            None => {
                if self.cfg.require_privacy || self.cfg.require_signing {
                    return Err(ClientError::PrivacyUnavailable {
                        reason: "anonymous or guest session has no keys",
                    });
                }
            }
        }
        setup.initiator.finish(&token)?;
        let encrypt_data = flags_ & session_flags::ENCRYPT_DATA != 0 || self.cfg.require_privacy;
        if encrypt_data && !keys.as_ref().is_some_and(SessionCrypto::can_encrypt) {
            return Err(ClientError::PrivacyUnavailable {
                reason: "encryption required but no session key to encrypt with",
            });
        }
        let signing_required = keys.is_some() && (self.cfg.require_signing || n.server_signing_required);
        let session_id = header.session_id;
        self.session = Some(Session { id: session_id, keys, signing_required, encrypt_data });
        self.phase = Phase::LoggedOn;
        Ok(Completion::LoggedOn { session_id, encrypted: encrypt_data, signed: signing_required })
    }
}

/// What failed when sealing a request: the nonces running out, or the seal.
fn seal_error(e: CryptoError) -> ClientError {
    let what = if e == CryptoError::NonceExhausted { "nonce" } else { "sealing a request" };
    ClientError::Crypto { what, source: e }
}

/// A buffer of at least `len` bytes to decrypt into: a spare one if any is large enough.
fn take_spare(spare: &mut Vec<Vec<u8>>, len: usize) -> Vec<u8> {
    if len < SPARE_MIN {
        return vec![0; len];
    }
    match spare.iter().rposition(|b| b.len() >= len) {
        Some(i) => spare.swap_remove(i),
        None => vec![0; len],
    }
}

/// The completions of a message, each READ given a copy of its data from `msg`.
fn copy_reads(done: Vec<Done>, msg: &[u8]) -> Vec<Completion> {
    done.into_iter()
        .map(|d| match (d.completion, d.read) {
            (Completion::Read { request, .. }, Some(r)) => {
                Completion::Read { request, data: msg.get(r).unwrap_or_default().to_vec().into() }
            }
            (c, _) => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> ClientConnection {
        ClientConnection::new(ClientConfig::default(), [1; 16], [2; 32])
    }

    #[test]
    fn calls_out_of_order_are_refused() {
        let mut c = conn();
        assert!(matches!(c.tree_connect(r"\\s\x"), Err(ClientError::WrongState { op: "tree_connect", .. })));
        let req = c.negotiate().unwrap();
        assert_eq!(Header::parse(&req).unwrap().command, Command::NEGOTIATE);
        assert!(matches!(c.negotiate(), Err(ClientError::WrongState { op: "negotiate", .. })));
        assert_eq!(c.credits_available(), 0, "NEGOTIATE used the one initial credit");
    }

    #[test]
    fn foreign_bytes_and_unknown_responses_are_refused() {
        let mut c = conn();
        c.negotiate().unwrap();
        assert!(matches!(c.receive(&mut [0u8; 80]), Err(ClientError::NotSmb2)));
        let mut short = [0u8; 60];
        short[..4].copy_from_slice(&[0xFD, b'S', b'M', b'B']);
        assert!(matches!(c.receive(&mut short), Err(ClientError::TransformTooShort { len: 60 })));
        let mut h = Header::request(Command::NEGOTIATE, 9, 0, 0);
        h.flags |= 1;
        let mut rsp = smb_wire::pdu::pdu_to_vec(&h, &Logoff);
        assert!(matches!(c.receive(&mut rsp), Err(ClientError::UnexpectedResponse { message_id: 9 })));
        let mut transform = vec![0u8; TRANSFORM_HEADER_LEN + HEADER_LEN];
        transform[..4].copy_from_slice(&[0xFD, b'S', b'M', b'B']);
        assert!(matches!(c.receive(&mut transform), Err(ClientError::UnknownTransformSession { got: 0 })));
    }
}
