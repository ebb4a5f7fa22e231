//! The SMB 3.1.1 RDMA transform on the server (MS-SMB2 3.3.5.4, 3.3.5.12, 3.3.5.13), checked from
//! an independent client: the kit's [`RawClient`] seals, signs, opens and verifies with its own
//! keys, so data the server sealed under the wrong key, nonce or associated data fails here.
//!
//! What is placed in the client's memory is what the recording transport saw RDMA-written; what is
//! pulled is what the test puts in the lease the server asked to fill.

use smb_crypto::{Cipher, Nonce, SigningAlgorithm};
use smb_session::*;
use smb_wire::channel::{CryptoTransform, CryptoTransformType, CryptoTransforms};
use smb_wire::header::{Command, Header};
use smb_wire::negotiate_context::*;
use smb_wire::read::{read_response_flags, ReadRequest, ReadResponse};
use smb_wire::smbd::BufferDescriptorList;
use smb_wire::status::NtStatus;
use smb_wire::types::FileId;
use smb_wire::write::{WriteRequest, WriteResponse};
use smb_wire::{Channel, Encode, RdmaTransform};
use std::sync::Arc;
use testkit::data::{pattern, pattern_byte as file_byte};
use testkit::raw_client::Offer;
use testkit::{descriptors, MemFiles, Pull, RawClient, Recorder, TwoLegAuth};

const FILE: &str = "f.bin";
const FILE_LEN: usize = 300_000;
const BOTH: [RdmaTransformId; 2] = [RdmaTransformId::ENCRYPTION, RdmaTransformId::SIGNING];

fn server(cfg: ServerConfig) -> RawClient {
    let files = MemFiles::default().with_file("plain", FILE, pattern(FILE_LEN)).with_file(
        "secret",
        FILE,
        pattern(FILE_LEN),
    );
    RawClient::new(ServerConnection::new(Arc::new(cfg), files, TwoLegAuth::default(), [9; 32]))
}

fn offer(cipher: Cipher, signing: SigningAlgorithm, transforms: &[RdmaTransformId]) -> Offer {
    Offer {
        ciphers: vec![CipherId(cipher.id())],
        signing: vec![smb_wire::negotiate_context::SigningAlgorithm(signing.id())],
        rdma_contexts: if transforms.is_empty() { vec![] } else { vec![transforms.to_vec()] },
        ..Offer::default()
    }
}

/// The server's RDMA_TRANSFORM_CAPABILITIES answer, if any.
fn answered(n: &smb_wire::negotiate::NegotiateResponse<'_>) -> Option<Vec<RdmaTransformId>> {
    n.contexts.iter().find_map(|c| match c.decode().unwrap() {
        ContextData::RdmaTransform(t) => Some(t.transform_ids.iter().collect()),
        _ => None,
    })
}

/// Logged on with `cipher` and `signing`, transforms offered as given, on `share`, with [`FILE`] open;
/// requests on "secret" are sealed, on "plain" signed.
fn logged_on(
    cipher: Cipher,
    signing: SigningAlgorithm,
    transforms: &[RdmaTransformId],
    share: &str,
) -> (RawClient, FileId) {
    let mut c = server(ServerConfig::default());
    c.negotiate_with(&offer(cipher, signing, transforms));
    c.logon(cipher);
    let seal = share == "secret";
    c.tree_connect(share, !seal, seal);
    let f = c.create(FILE, !seal, seal);
    (c, f)
}

fn status_of(msg: &[u8]) -> NtStatus {
    Header::parse(msg).unwrap().nt_status()
}

/// The (opened) response and the token it invalidated.
fn answer(c: &RawClient, tx: &mut Recorder) -> (Vec<u8>, Option<u32>) {
    let sent = tx.msgs.remove(0);
    (c.open_reply(sent.bytes), sent.invalidated)
}

/// Sends a READ of `len` bytes at `offset` with Channel RDMA_V1_INVALIDATE over one descriptor,
/// signed or sealed as asked; returns what the transport saw.
fn read_rdma(c: &mut RawClient, file_id: FileId, len: u32, offset: u64, sign: bool, seal: bool) -> Recorder {
    let mut tx = Recorder::smb_direct();
    let (_, info) = descriptors(&[len]);
    let h = c.io_header(Command::READ, len as usize);
    let req = ReadRequest {
        length: len,
        offset,
        file_id,
        channel: Channel::RDMA_V1_INVALIDATE,
        channel_info: &info,
        ..Default::default()
    };
    assert_eq!(c.send(h, &req, sign, seal, &mut tx), Flow::Continue);
    tx
}

fn nonce16(bytes: &[u8]) -> Nonce {
    let mut n = [0u8; 16];
    n[..bytes.len()].copy_from_slice(bytes);
    Nonce(n)
}

#[test]
fn the_server_answers_the_common_transforms_and_refuses_malformed_offers() {
    let cases: [(&[RdmaTransformId], Option<Vec<RdmaTransformId>>); 4] = [
        (&BOTH, Some(BOTH.to_vec())),
        (&[RdmaTransformId::ENCRYPTION], Some(vec![RdmaTransformId::ENCRYPTION])),
        (&[RdmaTransformId::NONE, RdmaTransformId(7)], Some(vec![RdmaTransformId::NONE])),
        (&[], None),
    ];
    for (offered, want) in cases {
        let mut c = server(ServerConfig::default());
        let n = c.negotiate_with(&offer(Cipher::Aes128Gcm, SigningAlgorithm::AesGmac, offered));
        assert_eq!(answered(&n), want, "offered {offered:?}");
    }
    // Turned off: the offer is ignored.
    let mut c = server(ServerConfig { rdma_transform: false, ..ServerConfig::default() });
    let n = c.negotiate_with(&offer(Cipher::Aes128Gcm, SigningAlgorithm::AesGmac, &BOTH));
    assert_eq!(answered(&n), None);
    // MS-SMB2 3.3.5.4: two such contexts, or one naming nothing, fail the NEGOTIATE.
    for contexts in [vec![BOTH.to_vec(), BOTH.to_vec()], vec![vec![]]] {
        let mut c = server(ServerConfig::default());
        let o = Offer {
            rdma_contexts: contexts.clone(),
            ..offer(Cipher::Aes128Gcm, SigningAlgorithm::AesGmac, &[])
        };
        assert_eq!(status_of(&c.negotiate_raw(&o)), NtStatus::INVALID_PARAMETER, "{contexts:?}");
    }
}

#[test]
fn an_encrypted_rdma_read_places_ciphertext_that_opens_with_the_server_to_client_key() {
    for cipher in Cipher::ALL {
        let (mut c, file_id) = logged_on(cipher, SigningAlgorithm::AesGmac, &BOTH, "secret");
        let mut seen_nonces = std::collections::HashSet::new();
        for (offset, len) in [(0u64, 4096u32), (1000, 65536), (4096, 200_000)] {
            let mut tx = read_rdma(&mut c, file_id, len, offset, false, true);
            let (descs, _) = descriptors(&[len]);
            assert_eq!(tx.order, "wi", "{cipher}: placed, then the answer invalidating the token");
            let (placed, to) = tx.writes.remove(0);
            assert_eq!((placed.len(), to), (len as usize, descs));
            let plain: Vec<u8> = (0..len as usize).map(|i| file_byte(offset as usize + i)).collect();
            assert_ne!(placed, plain, "{cipher}: plaintext placed");
            assert!(
                !placed.windows(64).any(|w| plain.windows(64).next() == Some(w)),
                "{cipher}: no plain run"
            );
            let sealed_msg = tx.msgs[0].bytes.clone();
            assert_eq!(sealed_msg[0], 0xFD, "{cipher}: the answer carrying the tag is itself sealed");
            let (rsp, inv) = answer(&c, &mut tx);
            assert_eq!((status_of(&rsp), inv), (NtStatus::SUCCESS, Some(0x100)));
            let r = ReadResponse::parse(&rsp).unwrap();
            assert_eq!(rsp[64 + 2], 0x50, "DataOffset 0x50");
            assert_eq!(r.flags, read_response_flags::RESPONSE_RDMA_TRANSFORM);
            assert_eq!(r.data_remaining, len, "DataRemaining: the bytes placed");
            let t = RdmaTransform::parse(r.data).unwrap();
            assert_eq!(t.channel, Channel::NONE);
            let ct: Vec<_> = t.transforms.iter().collect();
            assert_eq!(ct.len(), 1);
            assert_eq!(ct[0].transform_type, CryptoTransformType::ENCRYPTION);
            assert_eq!((ct[0].signature.len(), ct[0].nonce.len()), (16, cipher.nonce_len()));
            assert_eq!(r.data.len(), 16 + CryptoTransform::wire_len(16, cipher.nonce_len()));
            // The client's own S2C key, the carried nonce, no associated data.
            let mut opened = placed.clone();
            let tag: [u8; 16] = ct[0].signature.try_into().unwrap();
            c.s2c.as_ref().unwrap().open_in_place(&nonce16(ct[0].nonce), &[], &mut opened, &tag).unwrap();
            assert_eq!(opened, plain, "{cipher}");
            // Neither the transform's nonce nor the sealed answer's repeats.
            assert!(seen_nonces.insert(ct[0].nonce.to_vec()), "{cipher}: transform nonce reused");
            let header_nonce = sealed_msg[20..20 + cipher.nonce_len()].to_vec();
            assert!(seen_nonces.insert(header_nonce), "{cipher}: a header nonce met a transform nonce");
        }
    }
}

#[test]
fn a_signed_rdma_read_places_plaintext_with_a_mac_of_the_session_signing_key() {
    for signing in [SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac] {
        let (mut c, file_id) = logged_on(Cipher::Aes128Gcm, signing, &BOTH, "plain");
        let mut tx = read_rdma(&mut c, file_id, 65536, 0, true, false);
        let (placed, _) = tx.writes.remove(0);
        let (mut rsp, _) = answer(&c, &mut tx);
        assert!(c.verify(&mut rsp), "{signing}: the answer carrying the MAC is signed");
        let r = ReadResponse::parse(&rsp).unwrap();
        assert_eq!(r.flags, read_response_flags::RESPONSE_RDMA_TRANSFORM, "{signing}");
        let t = RdmaTransform::parse(r.data).unwrap();
        let ct = t.transforms.iter().next().unwrap();
        assert_eq!(ct.transform_type, CryptoTransformType::SIGNING);
        let gmac = signing == SigningAlgorithm::AesGmac;
        assert_eq!(ct.nonce.len(), if gmac { 12 } else { 0 }, "{signing}");
        let nonce: Option<[u8; 12]> = ct.nonce.try_into().ok();
        let mac = c.signing.as_ref().unwrap().mac_placed(nonce.as_ref(), &placed).unwrap();
        assert_eq!(&mac[..], ct.signature, "{signing}: MAC over the placed bytes");
        assert!(placed.iter().enumerate().all(|(i, &b)| b == file_byte(i)), "signing leaves data plain");
        // An unsigned READ on the same (not signing-required) session: plain, no transform.
        let mut tx = read_rdma(&mut c, file_id, 4096, 0, false, false);
        let (rsp, _) = answer(&c, &mut tx);
        assert_eq!(ReadResponse::parse(&rsp).unwrap().flags, 0);
        assert_eq!(rsp.len(), 0x50);
    }
}

/// A WRITE whose data goes by RDMA_TRANSFORM, and how it was made.
struct TransformedWrite {
    transform_type: CryptoTransformType,
    signature: Vec<u8>,
    nonce: Vec<u8>,
    /// Extra crypto transforms after the first (or `Some(0)` to send none).
    count: Option<usize>,
    descriptor_at: Option<u16>,
    /// A 16-bit field of the channel info overwritten after encoding: (offset, value).
    patch: Option<(usize, u16)>,
}

/// Sends a sealed (`seal`) or signed WRITE of `len` bytes at offset 0 with Channel RDMA_TRANSFORM
/// as `w` describes; returns what the server did (its pull, if any).
fn send_transformed(
    c: &mut RawClient,
    file_id: FileId,
    len: u32,
    w: &TransformedWrite,
    seal: bool,
    tx: &mut Recorder,
) -> Option<Pull> {
    let (_, descs) = descriptors(&[len]);
    let ct = CryptoTransform { transform_type: w.transform_type, signature: &w.signature, nonce: &w.nonce };
    let list = match w.count {
        Some(0) => vec![],
        Some(n) => vec![ct; n],
        None => vec![ct],
    };
    let t = RdmaTransform {
        channel: Channel::RDMA_V1_INVALIDATE,
        transforms: CryptoTransforms::from_slice(&list),
        descriptors: BufferDescriptorList::parse(&descs).unwrap(),
    };
    let mut info = t.to_vec();
    if let Some(at) = w.descriptor_at {
        info[0..2].copy_from_slice(&at.to_le_bytes());
        info.extend_from_slice(&[0; 8]);
    }
    if let Some((at, v)) = w.patch {
        info[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    let h = c.io_header(Command::WRITE, len as usize);
    let req = WriteRequest {
        channel: Channel::RDMA_TRANSFORM,
        remaining_bytes: len,
        channel_info: &info,
        file_id,
        ..Default::default()
    };
    assert_eq!(c.send(h, &req, !seal, seal, tx), Flow::Continue);
    tx.reads.pop()
}

/// Puts `data` in the lease of `pull` and tells the server it arrived.
fn arrive(c: &mut RawClient, pull: Pull, data: &[u8], tx: &mut Recorder) {
    let Pull { token, into: mut lease, len, .. } = pull;
    assert_eq!(len, data.len());
    lease[..len].copy_from_slice(data);
    assert_eq!(c.conn.on_pulled(token, Ok(lease), tx), Flow::Continue);
}

fn file_now(c: &mut RawClient, share: &str) -> Vec<u8> {
    c.conn.files_mut().file(share, FILE).unwrap().to_vec()
}

#[test]
fn an_encrypted_rdma_write_is_pulled_sealed_and_opened_before_it_reaches_the_file() {
    for cipher in Cipher::ALL {
        let (mut c, file_id) = logged_on(cipher, SigningAlgorithm::AesGmac, &BOTH, "secret");
        let plain: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 1) as u8).collect();
        let mut sealed = plain.clone();
        let nonce = [0x42u8; 12];
        let n = &nonce[..cipher.nonce_len()];
        let tag = c.c2s.as_ref().unwrap().seal_in_place(&nonce16(n), &[], &mut sealed).unwrap();
        let w = TransformedWrite {
            transform_type: CryptoTransformType::ENCRYPTION,
            signature: tag.to_vec(),
            nonce: n.to_vec(),
            count: None,
            descriptor_at: None,
            patch: None,
        };
        let mut tx = Recorder::smb_direct();
        let pull = send_transformed(&mut c, file_id, 100_000, &w, true, &mut tx).expect("pulled");
        assert!(tx.msgs.is_empty(), "{cipher}: no answer before the data is here");
        arrive(&mut c, pull, &sealed, &mut tx);
        let (rsp, inv) = answer(&c, &mut tx);
        assert_eq!((status_of(&rsp), inv), (NtStatus::SUCCESS, Some(0x100)), "{cipher}");
        assert_eq!(WriteResponse::parse(&rsp).unwrap().count, 100_000);
        assert_eq!(&file_now(&mut c, "secret")[..100_000], &plain[..], "{cipher}: the plaintext is written");
    }
}

#[test]
fn a_signed_rdma_write_is_verified_before_it_reaches_the_file() {
    for signing in [SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac] {
        let (mut c, file_id) = logged_on(Cipher::Aes128Gcm, signing, &BOTH, "plain");
        let data = vec![0x77u8; 8192];
        let gmac = signing == SigningAlgorithm::AesGmac;
        let nonce = [0x11u8; 12];
        let key = c.signing.as_ref().unwrap();
        let mac = key.mac_placed(gmac.then_some(&nonce), &data).unwrap();
        let mut w = TransformedWrite {
            transform_type: CryptoTransformType::SIGNING,
            signature: mac.to_vec(),
            nonce: if gmac { nonce.to_vec() } else { vec![] },
            count: None,
            descriptor_at: None,
            patch: None,
        };
        let mut tx = Recorder::smb_direct();
        let pull = send_transformed(&mut c, file_id, 8192, &w, false, &mut tx).expect("pulled");
        arrive(&mut c, pull, &data, &mut tx);
        let (rsp, _) = answer(&c, &mut tx);
        assert_eq!(status_of(&rsp), NtStatus::SUCCESS, "{signing}");
        assert_eq!(&file_now(&mut c, "plain")[..8192], &data[..]);
        // The same WRITE with data changed in flight: INVALID_SIGNATURE, nothing written.
        w.signature[0] ^= 1;
        let before = file_now(&mut c, "plain");
        let mut tx = Recorder::smb_direct();
        let pull = send_transformed(&mut c, file_id, 8192, &w, false, &mut tx).expect("pulled");
        arrive(&mut c, pull, &[0x66; 8192], &mut tx);
        let (rsp, inv) = answer(&c, &mut tx);
        assert_eq!((status_of(&rsp), inv), (NtStatus::INVALID_SIGNATURE, Some(0x100)), "{signing}");
        assert_eq!(file_now(&mut c, "plain"), before, "{signing}: nothing written");
        assert!(c.conn.drain_events().iter().any(|e| matches!(e, Event::PlacedDataRejected { .. })));
    }
}

/// Every malformed or tampered transform of MS-SMB2 3.3.5.13 gets its status; nothing reaches the
/// file, and the connection stays.
#[test]
fn tampered_or_malformed_write_transforms_are_answered_as_the_spec_says_and_write_nothing() {
    let cipher = Cipher::Aes256Gcm;
    let len = 65536u32;
    let plain = vec![0xC3u8; len as usize];
    type Case = (&'static str, bool, fn(&mut TransformedWrite, &mut Vec<u8>), NtStatus, bool);
    let cases: [Case; 12] = [
        ("ciphertext changed", true, |_, d| d[1000] ^= 1, NtStatus::AUTH_TAG_MISMATCH, true),
        ("tag changed", true, |w, _| w.signature[15] ^= 0x80, NtStatus::AUTH_TAG_MISMATCH, true),
        ("another nonce", true, |w, _| w.nonce[0] ^= 1, NtStatus::AUTH_TAG_MISMATCH, true),
        ("an 11-byte nonce for GCM", true, |w, _| w.nonce.truncate(11), NtStatus::AUTH_TAG_MISMATCH, false),
        ("a 15-byte tag", true, |w, _| w.signature.truncate(15), NtStatus::AUTH_TAG_MISMATCH, false),
        // SignatureLength 17 (the encoder refuses to write one; the padding still fits).
        ("a 17-byte tag", true, |w, _| w.patch = Some((18, 17)), NtStatus::AUTH_TAG_MISMATCH, false),
        ("no crypto transform", true, |w, _| w.count = Some(0), NtStatus::INVALID_PARAMETER, false),
        ("two crypto transforms", true, |w, _| w.count = Some(2), NtStatus::INVALID_PARAMETER, false),
        (
            "an unknown transform",
            true,
            |w, _| w.transform_type = CryptoTransformType(3),
            NtStatus::INVALID_PARAMETER,
            false,
        ),
        (
            "descriptors misaligned",
            true,
            |w, _| w.descriptor_at = Some(60),
            NtStatus::INVALID_PARAMETER,
            false,
        ),
        (
            "SIGNING on an encrypted request",
            true,
            |w, _| w.transform_type = CryptoTransformType::SIGNING,
            NtStatus::INVALID_PARAMETER,
            false,
        ),
        ("ENCRYPTION on a signed request", false, |_, _| {}, NtStatus::INVALID_PARAMETER, false),
    ];
    for (what, seal, tamper, status, pulled) in cases {
        let share = if seal { "secret" } else { "plain" };
        let (mut c, file_id) = logged_on(cipher, SigningAlgorithm::AesGmac, &BOTH, share);
        let mut data = plain.clone();
        let nonce = [9u8; 12];
        let tag = c.c2s.as_ref().unwrap().seal_in_place(&nonce16(&nonce), &[], &mut data).unwrap();
        let mut w = TransformedWrite {
            transform_type: CryptoTransformType::ENCRYPTION,
            signature: tag.to_vec(),
            nonce: nonce.to_vec(),
            count: None,
            descriptor_at: None,
            patch: None,
        };
        tamper(&mut w, &mut data);
        let before = file_now(&mut c, share);
        c.conn.files_mut().writes.clear();
        let mut tx = Recorder::smb_direct();
        let pull = send_transformed(&mut c, file_id, len, &w, seal, &mut tx);
        assert_eq!(pull.is_some(), pulled, "{what}: pulled only when the transform is well formed");
        if let Some(p) = pull {
            arrive(&mut c, p, &data, &mut tx);
        }
        let (rsp, _) = answer(&c, &mut tx);
        assert_eq!(status_of(&rsp), status, "{what}");
        assert_eq!(c.conn.files_mut().writes, [], "{what}: nothing handed to the file");
        assert_eq!(file_now(&mut c, share), before, "{what}: the file is unchanged");
        // The connection goes on: a plain READ on it still works.
        let h = c.header(Command::ECHO);
        let (flow, rsp) = c.call(h, &smb_wire::echo::Echo, !seal, seal);
        assert_eq!((flow, rsp.map(|r| status_of(&r))), (Flow::Continue, Some(NtStatus::SUCCESS)), "{what}");
    }
}

/// Without negotiated transforms, RDMA_TRANSFORM is invalid, and data that must be encrypted or
/// signed cannot move by RDMA at all (event 1003 for the encrypted share).
#[test]
fn without_negotiated_transforms_protected_data_never_moves_by_rdma() {
    let (mut c, file_id) = logged_on(Cipher::Aes128Gcm, SigningAlgorithm::AesGmac, &[], "secret");
    let w = TransformedWrite {
        transform_type: CryptoTransformType::ENCRYPTION,
        signature: vec![0; 16],
        nonce: vec![0; 12],
        count: None,
        descriptor_at: None,
        patch: None,
    };
    let mut tx = Recorder::smb_direct();
    assert!(send_transformed(&mut c, file_id, 4096, &w, true, &mut tx).is_none());
    assert_eq!(status_of(&answer(&c, &mut tx).0), NtStatus::INVALID_PARAMETER);
    let mut tx = read_rdma(&mut c, file_id, 4096, 0, false, true);
    assert!(tx.writes.is_empty(), "nothing placed");
    assert_eq!(status_of(&answer(&c, &mut tx).0), NtStatus::ACCESS_DENIED);
    assert!(c.conn.drain_events().iter().any(|e| e.id() == Some(1003)));
}

/// With a handler that does its I/O later (the server's helper threads), the transform's crypto
/// goes with the data and runs there: a READ's data is sealed where it was read, a WRITE's opened
/// before it is written, and a WRITE whose tag fails still writes nothing.
#[test]
fn deferred_reads_and_writes_run_the_transform_in_the_handler() {
    let cipher = Cipher::Aes128Ccm;
    let (mut c, file_id) = logged_on(cipher, SigningAlgorithm::AesGmac, &BOTH, "secret");
    c.conn.files_mut().defer = true;
    // READ: nothing placed until the handler is done; then ciphertext that opens with the S2C key.
    let mut tx = read_rdma(&mut c, file_id, 65536, 8192, false, true);
    assert!(tx.writes.is_empty() && tx.msgs.is_empty(), "deferred");
    c.conn.files_mut().release(1);
    assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
    let (placed, _) = tx.writes.remove(0);
    let (rsp, _) = answer(&c, &mut tx);
    let r = ReadResponse::parse(&rsp).unwrap();
    let ct = RdmaTransform::parse(r.data).unwrap().transforms.iter().next().unwrap();
    let mut opened = placed.clone();
    let tag: [u8; 16] = ct.signature.try_into().unwrap();
    c.s2c.as_ref().unwrap().open_in_place(&nonce16(ct.nonce), &[], &mut opened, &tag).unwrap();
    assert!(opened.iter().enumerate().all(|(i, &b)| b == file_byte(8192 + i)), "sealed by the handler");
    // WRITE: good, then tampered.
    for tamper in [false, true] {
        let plain = vec![if tamper { 0xEE } else { 0x3C }; 32768];
        let mut sealed = plain.clone();
        let nonce = [0x21u8; 11];
        let tag = c.c2s.as_ref().unwrap().seal_in_place(&nonce16(&nonce), &[], &mut sealed).unwrap();
        if tamper {
            sealed[77] ^= 4;
        }
        let w = TransformedWrite {
            transform_type: CryptoTransformType::ENCRYPTION,
            signature: tag.to_vec(),
            nonce: nonce.to_vec(),
            count: None,
            descriptor_at: None,
            patch: None,
        };
        let before = file_now(&mut c, "secret");
        let mut tx = Recorder::smb_direct();
        let pull = send_transformed(&mut c, file_id, 32768, &w, true, &mut tx).expect("pulled");
        arrive(&mut c, pull, &sealed, &mut tx);
        assert!(tx.msgs.is_empty(), "deferred");
        c.conn.files_mut().release(1);
        assert_eq!(c.conn.answer_deferred(false, &mut tx), Flow::Continue);
        let (rsp, _) = answer(&c, &mut tx);
        if tamper {
            assert_eq!(status_of(&rsp), NtStatus::AUTH_TAG_MISMATCH);
            assert_eq!(file_now(&mut c, "secret"), before, "nothing written");
            assert!(c.conn.drain_events().iter().any(|e| matches!(e, Event::PlacedDataRejected { .. })));
        } else {
            assert_eq!(status_of(&rsp), NtStatus::SUCCESS);
            assert_eq!(&file_now(&mut c, "secret")[..32768], &plain[..], "opened by the handler");
        }
    }
}
