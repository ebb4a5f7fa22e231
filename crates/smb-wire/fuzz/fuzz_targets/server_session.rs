//! The server's session layer (`smb_session::ServerConnection` over the in-memory file handler)
//! fed whole request sequences on a session that is really logged on: NEGOTIATE, an NTLM logon and
//! a TREE_CONNECT are done first, with the keys derived, so the fuzzer's requests pass signature or
//! decryption checks and reach every command's handler with the state earlier requests left. It
//! must never panic, and a closed connection takes nothing more.
//!
//! Input format (see `seeds/server_session/`): byte 0 picks the protection (bit 0: seal every
//! request, else sign; bit 1: the tree that requires encryption, sealed whatever bit 0 says; bit 2: the handler defers READs
//! and WRITEs, finishing them after each request); then requests, each
//! `command: u8` (index into the 19 SMB2 commands), `flags: u8` (bit 0: leave unsigned/unsealed,
//! bit 1: use a stale MessageId, bits 2-7: credit charge), `len: u16 LE` and `len` body bytes. The
//! 16 bytes `FILEIDFILEIDFILE` in a body stand for the FileId of the file opened before the
//! requests, so the fuzzer need not guess it.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use smb_crypto::Cipher;
use smb_session::{Flow, ServerConfig, ServerConnection};
use smb_wire::codec::Writer;
use smb_wire::header::Command;
use smb_wire::negotiate_context::CipherId;
use smb_wire::pdu::EncodeDyn;
use testkit::{MemFiles, RawClient, TwoLegAuth};

const MARKER: &[u8; 16] = b"FILEIDFILEIDFILE";

/// A request body given as bytes.
struct Raw(Vec<u8>);

impl EncodeDyn for Raw {
    fn encoded_len_dyn(&self, _at: usize) -> usize {
        self.0.len()
    }
    fn encode_dyn(&self, w: &mut Writer<'_>) -> smb_wire::error::Result<()> {
        w.bytes(&self.0)
    }
}

const COMMANDS: [Command; 19] = [
    Command::NEGOTIATE,
    Command::SESSION_SETUP,
    Command::LOGOFF,
    Command::TREE_CONNECT,
    Command::TREE_DISCONNECT,
    Command::CREATE,
    Command::CLOSE,
    Command::FLUSH,
    Command::READ,
    Command::WRITE,
    Command::LOCK,
    Command::IOCTL,
    Command::CANCEL,
    Command::ECHO,
    Command::QUERY_DIRECTORY,
    Command::CHANGE_NOTIFY,
    Command::QUERY_INFO,
    Command::SET_INFO,
    Command::OPLOCK_BREAK,
];

fuzz_target!(|data: &[u8]| {
    let Some((&head, mut rest)) = data.split_first() else { return };
    // The tree that requires encryption takes sealed requests only.
    let secret = head & 2 == 2;
    let seal = head & 1 == 1 || secret;
    let mut files = MemFiles::default().with_file("plain", "f.txt", vec![7u8; 200_000]).with_file(
        "secret",
        "f.txt",
        vec![9u8; 200_000],
    );
    files.defer = head & 4 == 4;
    let conn =
        ServerConnection::new(Arc::new(ServerConfig::default()), files, TwoLegAuth::default(), [9; 32]);
    let mut c = RawClient::new(conn);
    c.negotiate_and_forget(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect(if secret { "secret" } else { "plain" }, !seal, seal);
    let file_id = c.create("f.txt", !seal, seal);
    let mut fid = [0u8; 16];
    fid[..8].copy_from_slice(&file_id.persistent.to_le_bytes());
    fid[8..].copy_from_slice(&file_id.volatile.to_le_bytes());

    while rest.len() >= 4 {
        let (cmd, flags, len) = (rest[0], rest[1], u16::from_le_bytes([rest[2], rest[3]]) as usize);
        rest = &rest[4..];
        let take = len.min(rest.len());
        let mut body = rest[..take].to_vec();
        rest = &rest[take..];
        let mut i = 0;
        while i + 16 <= body.len() {
            if &body[i..i + 16] == MARKER {
                body[i..i + 16].copy_from_slice(&fid);
                i += 16;
            } else {
                i += 1;
            }
        }
        let command = COMMANDS[cmd as usize % COMMANDS.len()];
        let mut h = c.header(command);
        h.credit_charge = u16::from(flags >> 2);
        if flags & 2 == 2 {
            h.message_id = h.message_id.saturating_sub(1 + u64::from(flags >> 4));
        }
        let protect = flags & 1 == 0;
        let mut msg = c.request(h, &Raw(body), protect && !seal, protect && seal);
        let mut out: Vec<Vec<u8>> = Vec::new();
        if c.conn.on_message(&mut msg, 0, &mut out) == Flow::Close {
            break;
        }
        // Answers the handler finished later, as the server's reactor would collect them.
        c.conn.files_mut().release(4);
        if c.conn.answer_deferred(false, &mut out) == Flow::Close {
            break;
        }
    }
    c.conn.close();
});
