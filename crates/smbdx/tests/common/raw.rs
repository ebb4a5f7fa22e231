//! A hand-driven SMB2 client over a real socket, for what the library client never does: many
//! sessions on one connection, requests sent without reading their answers. Unsigned SMB 3.0.2
//! (the server's default policy lets a client that does not ask for signing go unsigned), one
//! credit per request, MessageIds in order.

use smb_wire::create::{access_mask, CreateDisposition, CreateRequest, CreateResponse};
use smb_wire::header::{Command, Header};
use smb_wire::negotiate::NegotiateRequest;
use smb_wire::negotiate_context::U16List;
use smb_wire::pdu::{pdu_to_vec, EncodeDyn};
use smb_wire::read::ReadRequest;
use smb_wire::session_setup::{SessionSetupRequest, SessionSetupResponse};
use smb_wire::status::NtStatus;
use smb_wire::tree_connect::TreeConnectRequest;
use smb_wire::types::{utf16le, FileId, Utf16};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

pub struct Raw {
    pub s: TcpStream,
    pub mid: u64,
    pub session: u64,
    pub tree: u32,
    /// CreditRequest of each request at least (1 keeps one credit outstanding: enough for one
    /// request at a time).
    pub ask: u16,
}

/// A raw NTLMSSP NEGOTIATE as the Linux client sends it: the first leg of a new session.
pub const NTLM_NEGOTIATE: &str =
    "4e544c4d5353500001000000978208e2000000000000000000000000000000000a00614a0000000f";

pub fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        Raw { s, mid: 0, session: 0, tree: 0, ask: 1 }
    }

    /// One request as bytes with its Direct TCP prefix, taking the next MessageId.
    pub fn frame(&mut self, cmd: Command, body: &dyn EncodeDyn) -> Vec<u8> {
        self.frame_charged(cmd, body, 1)
    }

    /// A request charging `charge` credits (and asking as many back), taking that many MessageIds.
    pub fn frame_charged(&mut self, cmd: Command, body: &dyn EncodeDyn, charge: u16) -> Vec<u8> {
        let mut h = Header::request(cmd, self.mid, self.session, self.tree);
        h.credit_charge = charge;
        h.credits = charge.max(self.ask);
        self.mid += u64::from(charge);
        let pdu = pdu_to_vec(&h, body);
        let mut f = (pdu.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&pdu);
        f
    }

    pub fn send(&mut self, cmd: Command, body: &dyn EncodeDyn) -> std::io::Result<()> {
        let f = self.frame(cmd, body);
        self.s.write_all(&f)
    }

    /// The next message from the server.
    pub fn recv(&mut self) -> std::io::Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len)?;
        let mut m = vec![0u8; u32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut m)?;
        Ok(m)
    }

    /// One request and its final answer (interim STATUS_PENDING ones skipped).
    pub fn call(&mut self, cmd: Command, body: &dyn EncodeDyn) -> (NtStatus, Vec<u8>) {
        self.send(cmd, body).expect("send");
        loop {
            let m = self.recv().expect("an answer");
            let h = Header::parse(&m).expect("a header");
            if h.nt_status() != NtStatus::PENDING {
                return (h.nt_status(), m);
            }
        }
    }

    /// NEGOTIATE for SMB 3.0.2 (no negotiate contexts), signing enabled, not required.
    pub fn negotiate(&mut self) {
        let dialects = 0x0302u16.to_le_bytes();
        let neg = NegotiateRequest {
            security_mode: 1,
            capabilities: 0,
            client_guid: [9; 16],
            client_start_time: 0,
            dialects: U16List::new(&dialects, "Dialects").unwrap(),
            contexts: Default::default(),
        };
        let (status, _) = self.call(Command::NEGOTIATE, &neg);
        assert_eq!(status, NtStatus::SUCCESS, "NEGOTIATE");
    }

    /// One SESSION_SETUP leg carrying `token` on the current SessionId (0: a new session); keeps
    /// the SessionId the server answers with.
    pub fn setup(&mut self, token: &[u8]) -> (NtStatus, Vec<u8>) {
        let req = SessionSetupRequest {
            flags: 0,
            security_mode: 1,
            capabilities: 0,
            channel: 0,
            security_buffer: token,
            previous_session_id: 0,
        };
        let (status, m) = self.call(Command::SESSION_SETUP, &req);
        let h = Header::parse(&m).unwrap();
        if h.session_id != 0 {
            self.session = h.session_id;
        }
        (status, m)
    }

    /// A whole NTLMv2 logon as `user`.
    pub fn logon(&mut self, user: &str, pass: &str) -> NtStatus {
        self.session = 0;
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).unwrap();
        let mut ntlm =
            smb_auth::NtlmInitiator::new(user, pass, "", "RAW", random, 0x01DA_0000_0000_0000, false);
        let (status, m) = self.setup(&ntlm.step(&[]).unwrap());
        if status != NtStatus::MORE_PROCESSING_REQUIRED {
            return status;
        }
        let challenge = SessionSetupResponse::parse(&m).unwrap().security_buffer.to_vec();
        self.setup(&ntlm.step(&challenge).unwrap()).0
    }

    pub fn tree_connect(&mut self, share: &str) -> NtStatus {
        let path = utf16le(&format!("\\\\127.0.0.1\\{share}"));
        let req = TreeConnectRequest { flags: 0, path: Utf16::new(&path, "Path").unwrap() };
        let (status, m) = self.call(Command::TREE_CONNECT, &req);
        if status == NtStatus::SUCCESS {
            self.tree = Header::parse(&m).unwrap().tree_id().unwrap();
        }
        status
    }

    /// CREATE of `name` with `disposition`, for reading and writing.
    pub fn create(&mut self, name: &str, disposition: CreateDisposition) -> Result<FileId, NtStatus> {
        let n = utf16le(name);
        let req = CreateRequest {
            desired_access: access_mask::FILE_READ_DATA | access_mask::FILE_WRITE_DATA,
            share_access: 7,
            create_disposition: disposition,
            name: Utf16::new(&n, "Name").unwrap(),
            ..CreateRequest::default()
        };
        match self.call(Command::CREATE, &req) {
            (NtStatus::SUCCESS, m) => Ok(CreateResponse::parse(&m).unwrap().file_id),
            (status, _) => Err(status),
        }
    }

    /// A READ request of `length` bytes at 0 as bytes to send (a credit per 64 KiB).
    pub fn read_frame(&mut self, file_id: FileId, length: u32) -> Vec<u8> {
        let req = ReadRequest { padding: 0x50, length, file_id, ..ReadRequest::default() };
        self.frame_charged(Command::READ, &req, length.div_ceil(65536).max(1) as u16)
    }

    pub fn close(&mut self, file_id: FileId) -> NtStatus {
        let req = smb_wire::close::CloseRequest { flags: 0, file_id };
        self.call(Command::CLOSE, &req).0
    }
}
