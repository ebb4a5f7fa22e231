//! Drives a `ServerConnection` the way a 3.1.1 client does, with an independent client-side
//! computation of the preauth hash, keys, signatures and seals (the kit's [`RawClient`]: smb-crypto
//! used from the client's side), so a server that hashed, derived or signed the wrong bytes fails
//! here.
//!
//! Authentication is a two-leg test exchange (real NTLM is exercised by smb-auth, ntlm_logon.rs and
//! the interop tests); the files are the kit's in-memory ones; everything else is the real code.

use smb_crypto::Cipher;
use smb_session::*;
use smb_wire::echo::Echo;
use smb_wire::header::{Command, Header};
use smb_wire::negotiate::{Dialect, NegotiateRequest};
use smb_wire::negotiate_context::*;
use smb_wire::pdu::pdu_to_vec;
use smb_wire::read::{ReadRequest, ReadResponse};
use smb_wire::status::NtStatus;
use smb_wire::tree_connect::{share_flags, TreeConnectResponse};
use smb_wire::types::FileId;
use smb_wire::write::{WriteRequest, WriteResponse};
use std::sync::Arc;
use testkit::data::{pattern, pattern_byte as file_byte};
use testkit::{descriptors, MemFiles, Pull, RawClient, Recorder, TwoLegAuth, WriteSeen};

/// The file both shares hold: [`FILE_LEN`] bytes of [`file_byte`]s.
const FILE: &str = "f.bin";
const FILE_LEN: usize = 300_000;

/// A client of a fresh server connection whose shares "plain" and "secret" (EncryptData) each hold
/// [`FILE`].
fn client(cfg: ServerConfig) -> RawClient {
    let files = MemFiles::default().with_file("plain", FILE, pattern(FILE_LEN)).with_file(
        "secret",
        FILE,
        pattern(FILE_LEN),
    );
    RawClient::new(ServerConnection::new(Arc::new(cfg), files, TwoLegAuth::default(), [9; 32]))
}

#[test]
fn smb311_negotiate_logon_and_encrypted_share() {
    let mut c = client(ServerConfig::default());
    let n = c.negotiate(&[CipherId::AES_256_GCM, CipherId::AES_128_GCM]);
    assert_eq!(n.dialect_revision, Dialect::SMB_3_1_1);
    assert_eq!(n.security_buffer, TwoLegAuth::NEGOTIATE_TOKEN);
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
    let file_id = c.create(FILE, false, true);
    // ...an unencrypted request on it is refused, with event 1003.
    let h = c.header(Command::FLUSH);
    let flush = smb_wire::flush::FlushRequest { file_id };
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
    let mut c = client(ServerConfig::default());
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
    let mut c = client(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    assert_eq!(c.setup(TwoLegAuth::HELLO).0, NtStatus::MORE_PROCESSING_REQUIRED);
    assert_eq!(c.setup(b"alice:wrong").0, NtStatus::LOGON_FAILURE);

    let cfg = ServerConfig { encrypt_data: true, ..ServerConfig::default() };
    let mut c = client(cfg);
    let n = c.negotiate(&[]);
    assert_eq!(n.dialect_revision, Dialect::SMB_3_1_1);
    assert_eq!(c.setup(TwoLegAuth::HELLO).0, NtStatus::MORE_PROCESSING_REQUIRED);
    assert_eq!(c.setup(TwoLegAuth::PROOF).0, NtStatus::ACCESS_DENIED);
    assert!(c.conn.drain_events().iter().any(|e| e.id() == Some(1003)));
}

#[test]
fn garbage_and_second_negotiate_close_only_the_connection() {
    let mut c = client(ServerConfig::default());
    let mut out: Vec<Vec<u8>> = Vec::new();
    assert_eq!(c.conn.on_message(&mut [1, 2, 3, 4, 5], 0, &mut out), Flow::Close);
    let mut c = client(ServerConfig::default());
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
    let mut c = client(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    let mut tx = Recorder::tcp();
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
        let file_id = c.create(FILE, !seal, seal);
        // A multi-credit request takes one MessageId per credit.
        let h = c.io_header(Command::READ, length);
        let req = ReadRequest {
            length: length as u32,
            offset: offset as u64,
            minimum_count,
            file_id,
            ..Default::default()
        };
        assert_eq!(c.send(h, &req, !seal, seal, &mut tx), Flow::Continue);
        let sent = tx.pop().expect("one reply");
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
                    assert!(c.verify(&mut rsp.clone()), "{share} @{offset}: signed");
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
    let mut c = client(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    let mut tx = Recorder::tcp();
    let payload: Vec<u8> = (0..131_072u32).map(|i| i as u8).collect();
    for share in ["secret", "plain"] {
        let seal = share == "secret";
        c.tree_connect(share, !seal, seal);
        let file_id = c.create(FILE, !seal, seal);
        for len in [131_072usize, 4096] {
            let h = c.io_header(Command::WRITE, len);
            let req = WriteRequest { offset: 8192, data: &payload[..len], file_id, ..Default::default() };
            c.conn.files_mut().writes.clear();
            assert_eq!(c.send(h, &req, !seal, seal, &mut tx), Flow::Continue);
            let rsp = c.open_reply(tx.pop().expect("one reply"));
            assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::SUCCESS, "{share} {len}");
            let seen = c.conn.files_mut().writes.pop().expect("the WRITE reached the handler");
            assert_eq!(seen.len, len);
            // Large ones always land on a page boundary (so O_DIRECT can take them); a small plain
            // one stays where the frame put it.
            if len >= 65_536 || seal {
                assert_eq!(seen.page_offset, 0, "{share}: a {len}-byte WRITE payload must be page-aligned");
            }
        }
    }
}

#[test]
fn a_read_below_minimum_count_is_end_of_file() {
    let mut c = client(ServerConfig::default());
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("plain", true, false);
    let file_id = c.create(FILE, true, false);
    let h = c.io_header(Command::READ, 4096);
    let req = ReadRequest {
        length: 4096,
        offset: (FILE_LEN - 10) as u64,
        minimum_count: 11,
        file_id,
        ..Default::default()
    };
    let rsp = c.call(h, &req, true, false).1.unwrap();
    assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::END_OF_FILE);
    let h = c.io_header(Command::READ, 4096);
    let req = ReadRequest {
        length: 4096,
        offset: (FILE_LEN - 10) as u64,
        minimum_count: 10,
        file_id,
        ..Default::default()
    };
    let rsp = c.call(h, &req, true, false).1.unwrap();
    assert_eq!(ReadResponse::parse(&rsp).unwrap().data.len(), 10);
}

/// A logged-on client on the encrypted share, with [`FILE`] open, of a server whose handler defers
/// WRITEs and READs.
fn deferring_client() -> (RawClient, Recorder, FileId) {
    let mut c = client(ServerConfig::default());
    c.conn.files_mut().defer = true;
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("secret", false, true);
    let file_id = c.create(FILE, false, true);
    (c, Recorder::tcp(), file_id)
}

/// One WRITE request (sealed or signed) of `payload` to `file_id`, with its credit charge paid.
fn write_request(c: &mut RawClient, file_id: FileId, payload: &[u8], seal: bool) -> (u64, Vec<u8>) {
    let h = c.io_header(Command::WRITE, payload.len());
    let req = WriteRequest { offset: 65536, data: payload, file_id, ..Default::default() };
    (h.message_id, c.request(h, &req, !seal, seal))
}

/// Found by the `server_session` fuzz target: an empty WRITE to a handler that defers writes
/// lay nowhere in the message, and finding its place underflowed (a panic in debug builds, a wild
/// range in release ones). It is written at once, like any WRITE the handler does not take over.
#[test]
fn an_empty_write_to_a_deferring_handler_is_answered_at_once() {
    let (mut c, _tx, file_id) = deferring_client();
    let h = c.io_header(Command::WRITE, 0);
    let req = WriteRequest { offset: 10, data: &[], file_id, ..Default::default() };
    let rsp = c.call(h, &req, false, true).1.expect("answered at once");
    assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::SUCCESS);
    assert_eq!(WriteResponse::parse(&rsp).unwrap().count, 0);
    assert_eq!(c.conn.deferred_in_flight(), 0);
}

/// Also found by `server_session`: a signed WRITE whose DataOffset is not the usual 0x70 put its
/// payload off a page boundary, and the session handed it over for deferral anyway, breaking the
/// alignment handlers are promised. It is written at once instead.
#[test]
fn a_write_payload_off_a_page_boundary_is_written_at_once() {
    let (mut c, _tx, file_id) = deferring_client();
    let h = c.io_header(Command::WRITE, 65536);
    let payload = vec![0x5Au8; 65536];
    let req = WriteRequest { offset: 0, data: &payload, file_id, ..Default::default() };
    let mut pdu = pdu_to_vec(&h, &req);
    // DataOffset 0x70 -> 0x78: eight bytes of padding before the payload.
    pdu[66..68].copy_from_slice(&0x78u16.to_le_bytes());
    pdu.splice(0x70..0x70, [0u8; 8]);
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut msg = c.seal_pdu(pdu);
    assert_eq!(c.conn.on_message(&mut msg, 0, &mut out), Flow::Continue);
    assert_eq!(c.conn.deferred_in_flight(), 0, "not deferred");
    let rsp = c.open_reply(out.pop().expect("answered at once"));
    assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::SUCCESS);
    assert_eq!(WriteResponse::parse(&rsp).unwrap().count, 65536);
}

#[test]
fn deferred_writes_are_answered_once_the_handler_has_finished_them() {
    let (mut c, mut tx, file_id) = deferring_client();
    let payloads: Vec<Vec<u8>> = (0..3u8).map(|k| (0..131_072u32).map(|i| (i as u8) ^ k).collect()).collect();
    let mut ids = Vec::new();
    for p in &payloads {
        let (id, mut msg) = write_request(&mut c, file_id, p, true);
        ids.push(id);
        assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
        assert!(tx.msgs.is_empty(), "a deferred WRITE is not answered before its data is written");
    }
    assert_eq!(c.conn.deferred_in_flight(), 3);
    // The handler got each payload in the buffer it was decrypted into, page-aligned.
    for (d, want) in c.conn.files_mut().deferred.iter().zip(&payloads) {
        assert!(ids.contains(&d.message_id));
        let payload = &d.buffer.buf[d.buffer.range.clone()];
        assert_eq!(payload, &want[..]);
        assert_eq!(payload.as_ptr() as usize % 4096, 0);
    }
    // Other requests are served meanwhile.
    let h = c.header(Command::ECHO);
    assert_eq!(c.send(h, &Echo, false, true, &mut tx), Flow::Continue);
    let rsp = c.open_reply(tx.pop().expect("ECHO answered while WRITEs are in flight"));
    assert_eq!(Header::parse(&rsp).unwrap().command, Command::ECHO);

    // Two finish: two sealed answers, with the count written and credits granted.
    c.conn.files_mut().release(2);
    assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
    assert_eq!(tx.msgs.len(), 2);
    for (m, id) in tx.take().into_iter().zip(&ids) {
        assert_eq!(m[0], 0xFD, "the answer to an encrypted WRITE is sealed");
        let rsp = c.open_reply(m);
        let h = Header::parse(&rsp).unwrap();
        assert_eq!((h.command, h.message_id, h.nt_status()), (Command::WRITE, *id, NtStatus::SUCCESS));
        assert!(h.credits >= 1);
        assert_eq!(WriteResponse::parse(&rsp).unwrap().count, 131_072);
    }
    // The last fails on the device: the client hears the status.
    c.conn.files_mut().fail_next(NtStatus::DISK_FULL);
    assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
    let rsp = c.open_reply(tx.pop().expect("the failed WRITE is answered"));
    let h = Header::parse(&rsp).unwrap();
    assert_eq!((h.message_id, h.nt_status()), (ids[2], NtStatus::DISK_FULL));
    assert_eq!(c.conn.deferred_in_flight(), 0);
}

#[test]
fn compounds_and_writes_beyond_the_bound_are_done_before_they_are_answered() {
    let (mut c, mut tx, file_id) = deferring_client();
    let payload = vec![7u8; 131_072];
    // A small plain WRITE is not in a buffer that can be given away: it runs through execute.
    c.tree_connect("plain", true, false);
    let plain_id = c.create(FILE, true, false);
    let (_, mut msg) = write_request(&mut c, plain_id, &payload[..4096], false);
    c.conn.on_message(&mut msg, 0, &mut tx);
    assert_eq!(c.conn.files_mut().offered, 0);
    assert_eq!(tx.msgs.len(), 1, "answered at once");
    tx.msgs.clear();
    // Sealed ones are deferred up to the connection's bound; the next is done at once.
    c.tree_connect("secret", false, true);
    for _ in 0..17 {
        let (_, mut msg) = write_request(&mut c, file_id, &payload, true);
        assert_eq!(c.conn.on_message(&mut msg, 0, &mut tx), Flow::Continue);
    }
    assert_eq!(c.conn.deferred_in_flight(), 16);
    assert_eq!(c.conn.files_mut().offered, 16, "the 17th is not offered");
    assert_eq!(tx.msgs.len(), 1, "the 17th is answered at once");
    // Closing with WRITEs in flight forgets their answers.
    c.conn.close();
    assert_eq!(c.conn.deferred_in_flight(), 0);
}

#[test]
fn deferred_reads_are_sealed_and_sent_once_the_handler_has_filled_them() {
    let (mut c, mut tx, file_id) = deferring_client();
    let mut ids = Vec::new();
    for (len, minimum) in [(131_072u32, 0u32), (65_536, 0), (65_536, 65_537)] {
        let h = c.io_header(Command::READ, len as usize);
        ids.push(h.message_id);
        let req =
            ReadRequest { length: len, offset: 0, minimum_count: minimum, file_id, ..Default::default() };
        assert_eq!(c.send(h, &req, false, true, &mut tx), Flow::Continue);
    }
    assert!(tx.msgs.is_empty(), "no READ is answered before its data is there");
    assert_eq!(c.conn.deferred_in_flight(), 3);
    // A READ the handler refuses at once is answered at once.
    let h = c.io_header(Command::READ, 65_536);
    let req = ReadRequest { length: 65_536, offset: FILE_LEN as u64, file_id, ..Default::default() };
    let rsp = c.call(h, &req, false, true).1.expect("refused at once");
    assert_eq!(Header::parse(&rsp).unwrap().nt_status(), NtStatus::END_OF_FILE);

    c.conn.files_mut().release(3);
    assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
    assert_eq!(tx.msgs.len(), 3);
    let replies: Vec<Vec<u8>> = tx.take().into_iter().map(|m| c.open_reply(m)).collect();
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

/// Deferred READs whose responses are sealed by aws-lc-rs may be lent by the handler instead of
/// read into the response (issue 18): sealed from the lent bytes in one pass, they reach the client
/// as the file holds them; lent bytes that fail (a file truncated beneath its mapping) are read the
/// ordinary way instead, and the response carries what that read found (END_OF_FILE for nothing).
#[test]
fn lent_reads_are_sealed_from_where_they_lie_and_fall_back_when_the_file_shrinks() {
    for mode in [testkit::Lending::Readable, testkit::Lending::Shrinks, testkit::Lending::Gone] {
        let mut c =
            client(ServerConfig { crypto_backend: smb_crypto::Backend::AwsLc, ..ServerConfig::default() });
        c.conn.files_mut().defer = true;
        c.conn.files_mut().lend = Some(mode);
        c.negotiate(&[CipherId::AES_128_GCM]);
        c.logon(Cipher::Aes128Gcm);
        c.tree_connect("secret", false, true);
        let file_id = c.create(FILE, false, true);
        let mut tx = Recorder::tcp();
        let mut ids = Vec::new();
        for (len, offset) in [(131_072u32, 0u64), (65_536, 4096), (4096, 0)] {
            let h = c.io_header(Command::READ, len as usize);
            ids.push(h.message_id);
            let req = ReadRequest { length: len, offset, file_id, ..Default::default() };
            assert_eq!(c.send(h, &req, false, true, &mut tx), Flow::Continue);
        }
        // The 4 KiB READ is below the size worth lending: read into its response as before.
        assert_eq!(c.conn.files_mut().lent, 2, "{mode:?}");
        c.conn.files_mut().release(3);
        assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
        let replies: Vec<Vec<u8>> = tx.take().into_iter().map(|m| c.open_reply(m)).collect();
        assert_eq!(replies.len(), 3);
        for rsp in &replies {
            let h = Header::parse(rsp).unwrap();
            let i = ids.iter().position(|id| *id == h.message_id).unwrap();
            if mode == testkit::Lending::Gone && i < 2 {
                // Nothing left at the offset: the error a READ at the end of file gets.
                assert_eq!(h.nt_status(), NtStatus::END_OF_FILE, "READ {i}");
                continue;
            }
            assert_eq!(h.nt_status(), NtStatus::SUCCESS);
            let (len, offset) = [(131_072usize, 0usize), (65_536, 4096), (4096, 0)][i];
            let want = if mode == testkit::Lending::Shrinks && i < 2 { len / 2 } else { len };
            let data = ReadResponse::parse(rsp).unwrap().data;
            assert_eq!(data.len(), want, "{mode:?} READ {i}");
            assert!(
                data.iter().enumerate().all(|(k, b)| *b == file_byte(offset + k)),
                "{mode:?} READ {i} data"
            );
        }
    }
}

#[test]
fn signed_reads_are_never_lent() {
    let mut c =
        client(ServerConfig { crypto_backend: smb_crypto::Backend::AwsLc, ..ServerConfig::default() });
    c.conn.files_mut().defer = true;
    c.conn.files_mut().lend = Some(testkit::Lending::Readable);
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("plain", true, false);
    let file_id = c.create(FILE, true, false);
    let mut tx = Recorder::tcp();
    let h = c.io_header(Command::READ, 131_072);
    let req = ReadRequest { length: 131_072, offset: 0, file_id, ..Default::default() };
    assert_eq!(c.send(h, &req, true, false, &mut tx), Flow::Continue);
    assert_eq!(c.conn.files_mut().lent, 0, "a signed response gains nothing from lending");
}

// ------------------------------------------------------------------------------------------------
// SMB2 READ and WRITE with RDMA channels (MS-SMB2 3.3.5.12 / 3.3.5.13) over an SMB Direct transport
// (the kit's `Recorder::smb_direct`: it records what the session asks of it, in order).

use smb_wire::Channel;

/// A logged-on client on a plain (signing not required) session with the "plain" tree and [`FILE`]
/// open on it.
fn rdma_client(cfg: ServerConfig) -> (RawClient, FileId) {
    let mut c = client(cfg);
    c.negotiate(&[CipherId::AES_128_GCM]);
    c.logon(Cipher::Aes128Gcm);
    c.tree_connect("plain", true, false);
    let file_id = c.create(FILE, true, false);
    (c, file_id)
}

/// Sends a signed READ of `file_id`, `length` bytes at `offset`, with `channel` and `info`.
fn rdma_read(
    c: &mut RawClient,
    tx: &mut dyn Transmit,
    file_id: FileId,
    length: u32,
    offset: u64,
    channel: Channel,
    info: &[u8],
) {
    let h = c.io_header(Command::READ, length as usize);
    let req = ReadRequest { length, offset, file_id, channel, channel_info: info, ..Default::default() };
    assert_eq!(c.send(h, &req, true, false, tx), Flow::Continue);
}

fn status_of(msg: &[u8]) -> NtStatus {
    Header::parse(msg).unwrap().nt_status()
}

#[test]
fn rdma_channels_are_refused_on_tcp_and_checked_on_smb_direct() {
    let (mut c, file_id) = rdma_client(ServerConfig::default());
    let (_, info) = descriptors(&[65536]);
    // Over TCP, any RDMA channel is invalid.
    let mut tcp = Recorder::tcp();
    rdma_read(&mut c, &mut tcp, file_id, 65536, 0, Channel::RDMA_V1, &info);
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
        let mut tx = Recorder::smb_direct();
        rdma_read(&mut c, &mut tx, file_id, length, 0, channel, info);
        assert_eq!(tx.msgs.len(), 1, "{what}");
        assert_eq!(status_of(&tx.msgs[0].bytes), NtStatus::INVALID_PARAMETER, "{what}");
        assert!(tx.writes.is_empty(), "{what}: nothing placed");
        let parsed_ok = info.len() >= 16 && info.len() % 16 == 0 && channel != Channel::RDMA_TRANSFORM;
        let want = (channel == Channel::RDMA_V1_INVALIDATE && parsed_ok).then_some(0x100);
        assert_eq!(tx.msgs[0].invalidated, want, "{what}: invalidation with the error");
    }
    // A zero-length WRITE, and a WRITE with RDMA channel but inline data.
    for (what, remaining, data) in [("zero-length", 0u32, &[][..]), ("inline data too", 4096, &[7u8; 16][..])]
    {
        let mut tx = Recorder::smb_direct();
        let h = c.header(Command::WRITE);
        let (_, info) = descriptors(&[4096]);
        let req = WriteRequest {
            channel: Channel::RDMA_V1_INVALIDATE,
            remaining_bytes: remaining,
            channel_info: &info,
            data,
            file_id,
            ..Default::default()
        };
        assert_eq!(c.send(h, &req, true, false, &mut tx), Flow::Continue);
        assert_eq!(status_of(&tx.msgs[0].bytes), NtStatus::INVALID_PARAMETER, "{what}");
        assert!(tx.reads.is_empty(), "{what}: nothing pulled");
    }
}

#[test]
fn an_rdma_read_places_the_data_then_answers_invalidating_the_token() {
    let (mut c, file_id) = rdma_client(ServerConfig::default());
    let mut tx = Recorder::smb_direct();
    // Windows-style split descriptors: 0xFFFC0 + 0x40 bytes for one I/O.
    let (descs, info) = descriptors(&[0xFFFC0 - 0xF0000, 0x40 + 0x10000]);
    rdma_read(&mut c, &mut tx, file_id, 0x20000, 1000, Channel::RDMA_V1_INVALIDATE, &info);
    assert_eq!(tx.order, "wi", "the data is RDMA-written before the response is sent");
    let (placed, to) = &tx.writes[0];
    assert_eq!(to, &descs);
    assert_eq!(placed.len(), 0x20000);
    assert!(placed.iter().enumerate().all(|(i, &b)| b == file_byte(1000 + i)));
    let (rsp, inv) = (&tx.msgs[0].bytes, tx.msgs[0].invalidated);
    assert_eq!(inv, Some(0x100), "the response invalidates the first descriptor's token");
    assert_eq!(status_of(rsp), NtStatus::SUCCESS);
    let r = ReadResponse::parse(rsp).unwrap();
    assert_eq!((r.data.len(), r.data_remaining), (0, 0x20000), "DataLength 0, DataRemaining = bytes placed");
    assert_eq!(rsp[64 + 2], 0x50, "DataOffset 0x50");
    assert_eq!(rsp.len(), 0x50, "no Buffer byte after the fixed part: Linux reads exactly 80 bytes");
    // Past the end of the file: an error, nothing placed, the token still invalidated.
    let mut tx = Recorder::smb_direct();
    rdma_read(&mut c, &mut tx, file_id, 4096, FILE_LEN as u64, Channel::RDMA_V1_INVALIDATE, &info);
    assert_eq!(tx.order, "i");
    assert_eq!(status_of(&tx.msgs[0].bytes), NtStatus::END_OF_FILE);
    // RDMA_V1 (no invalidation asked): the response is a plain send.
    let mut tx = Recorder::smb_direct();
    rdma_read(&mut c, &mut tx, file_id, 4096, 0, Channel::RDMA_V1, &info);
    assert_eq!(tx.order, "ws");
    // Inline (Channel NONE) over SMB Direct: refused when the response would not fit one message
    // the client reassembles, served when it does.
    for (length, want) in [(262_144u32, NtStatus::INVALID_PARAMETER), (131_072, NtStatus::SUCCESS)] {
        let mut tx = Recorder::smb_direct();
        rdma_read(&mut c, &mut tx, file_id, length, 0, Channel::NONE, &[]);
        assert_eq!(status_of(&tx.msgs[0].bytes), want, "{length} bytes inline");
        assert!(tx.writes.is_empty());
    }
}

#[test]
fn an_rdma_write_pulls_the_payload_before_it_is_written_and_answered() {
    let (mut c, file_id) = rdma_client(ServerConfig::default());
    let mut tx = Recorder::smb_direct();
    let len = 200_000u32;
    let (descs, info) = descriptors(&[150_000, 50_000]);
    let h = c.io_header(Command::WRITE, len as usize);
    assert_eq!(h.credit_charge, 4);
    let message_id = h.message_id;
    let req = WriteRequest {
        channel: Channel::RDMA_V1_INVALIDATE,
        remaining_bytes: len,
        channel_info: &info,
        offset: 4096,
        file_id,
        ..Default::default()
    };
    c.conn.files_mut().writes.clear();
    assert_eq!(c.send(h, &req, true, false, &mut tx), Flow::Continue);
    assert_eq!(tx.order, "r", "no answer before the payload is here");
    let Pull { token, into: mut lease, len: n, descs: d } = tx.reads.pop().unwrap();
    assert_eq!((token, n, d), (message_id, len as usize, descs));
    assert_eq!(c.conn.files_mut().writes, [], "nothing written before the payload arrived");
    lease[..n].fill(0x5A);
    assert_eq!(c.conn.on_pulled(token, Ok(lease), &mut tx), Flow::Continue);
    let seen = c.conn.files_mut().writes.pop().expect("the file handler got the WRITE");
    assert_eq!(seen, WriteSeen { len: len as usize, page_offset: 0 }, "the whole payload, page-aligned");
    assert_eq!(tx.order, "ri");
    let (rsp, inv) = (&tx.msgs[0].bytes, tx.msgs[0].invalidated);
    assert_eq!((inv, status_of(rsp)), (Some(0x100), NtStatus::SUCCESS));
    assert_eq!(WriteResponse::parse(rsp).unwrap().count, len);
    // A pull that failed: never acknowledged, the connection goes.
    let h = c.header(Command::WRITE);
    let req = WriteRequest {
        channel: Channel::RDMA_V1,
        remaining_bytes: 4096,
        channel_info: &info,
        file_id,
        ..Default::default()
    };
    let mut tx = Recorder::smb_direct();
    assert_eq!(c.send(h, &req, true, false, &mut tx), Flow::Continue);
    let Pull { token, .. } = tx.reads.pop().unwrap();
    assert_eq!(c.conn.on_pulled(token, Err("REM_ACCESS_ERR".into()), &mut tx), Flow::Close);
    assert!(tx.msgs.is_empty(), "a WRITE whose RDMA READ failed is never answered");
}

#[test]
fn sessions_that_must_encrypt_or_sign_move_their_data_inline_only() {
    let (_, info) = descriptors(&[65536]);
    // EncryptData share: a sealed READ asking for RDMA is refused (event 1003), nothing placed.
    let (mut c, _) = rdma_client(ServerConfig::default());
    c.tree_connect("secret", false, true);
    let file_id = c.create(FILE, false, true);
    let mut tx = Recorder::smb_direct();
    let h = c.io_header(Command::READ, 4096);
    let req = ReadRequest {
        length: 4096,
        file_id,
        channel: Channel::RDMA_V1_INVALIDATE,
        channel_info: &info,
        ..Default::default()
    };
    assert_eq!(c.send(h, &req, false, true, &mut tx), Flow::Continue);
    assert_eq!(tx.order, "i", "only the (sealed) refusal, invalidating the token");
    let rsp = c.open_reply(tx.msgs[0].bytes.clone());
    assert_eq!(status_of(&rsp), NtStatus::ACCESS_DENIED);
    assert!(c.conn.drain_events().iter().any(|e| e.id() == Some(1003)));
    // The same share, data inline: served.
    let h = c.io_header(Command::READ, 4096);
    let req = ReadRequest { length: 4096, file_id, ..Default::default() };
    let mut tx = Recorder::smb_direct();
    assert_eq!(c.send(h, &req, false, true, &mut tx), Flow::Continue);
    assert_eq!(status_of(&c.open_reply(tx.msgs[0].bytes.clone())), NtStatus::SUCCESS);
    // A server that requires signing: RDMA refused with its own event.
    let (mut c, file_id) = rdma_client(ServerConfig { require_signing: true, ..ServerConfig::default() });
    let mut tx = Recorder::smb_direct();
    rdma_read(&mut c, &mut tx, file_id, 4096, 0, Channel::RDMA_V1, &info);
    assert_eq!(status_of(&tx.msgs[0].bytes), NtStatus::ACCESS_DENIED);
    assert!(c.conn.drain_events().iter().any(|e| matches!(e, Event::RdmaRefused { .. })));
    assert!(tx.writes.is_empty());
}
