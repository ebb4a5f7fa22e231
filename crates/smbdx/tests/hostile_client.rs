//! A hostile client sends 10,000 mutated but once-valid messages (truncated, wrong lengths and
//! offsets, bad credits, wrong session ids, broken framing) while a well-behaved client transfers
//! files: the server must never crash, and the good client's data must come back intact.
//!
//! The good client is Samba's `smbclient` (SMBDX_INTEROP=1, see interop_server.rs).

mod common;

use common::{enabled, random_file, sha256, smbclient, Serve};
use smb_wire::header::{Command, Header};
use smb_wire::negotiate::NegotiateRequest;
use smb_wire::negotiate_context::*;
use smb_wire::pdu::{pdu_to_vec, EncodeDyn};
use smb_wire::session_setup::SessionSetupRequest;
use smb_wire::tree_connect::TreeConnectRequest;
use smb_wire::types::{utf16le, Utf16};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// xorshift64*: deterministic, so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn valid_messages() -> Vec<Vec<u8>> {
    let (mut hb, mut cb, mut region) = ([0u8; 2], [0u8; 4], [0u8; 256]);
    let salt = [1u8; 32];
    let items: Vec<ContextData<'_>> = vec![
        PreauthIntegrityCapabilities {
            hash_algorithms: U16List::build(&[HashAlgorithm::SHA512], &mut hb).unwrap(),
            salt: &salt,
        }
        .into(),
        EncryptionCapabilities {
            ciphers: U16List::build(&[CipherId::AES_128_GCM, CipherId::AES_256_CCM], &mut cb).unwrap(),
        }
        .into(),
    ];
    let dialects = [0x0311u16.to_le_bytes(), 0x0302u16.to_le_bytes(), 0x0210u16.to_le_bytes()].concat();
    let neg = NegotiateRequest {
        security_mode: 1,
        capabilities: 0x7F,
        client_guid: [7; 16],
        client_start_time: 0,
        dialects: U16List::new(&dialects, "d").unwrap(),
        contexts: NegotiateContextList::build(&items, &mut region).unwrap(),
    };
    // A raw NTLMSSP NEGOTIATE as the Linux client sends it.
    let ntlm = hex_bytes("4e544c4d5353500001000000978208e2000000000000000000000000000000000a00614a0000000f");
    let ss = SessionSetupRequest {
        flags: 0,
        security_mode: 1,
        capabilities: 0,
        channel: 0,
        security_buffer: &ntlm,
        previous_session_id: 0,
    };
    let path = utf16le("\\\\127.0.0.1\\data");
    let tc = TreeConnectRequest { flags: 0, path: Utf16::new(&path, "p").unwrap() };
    let bodies: [(Command, &dyn EncodeDyn); 3] =
        [(Command::NEGOTIATE, &neg), (Command::SESSION_SETUP, &ss), (Command::TREE_CONNECT, &tc)];
    let mut out: Vec<Vec<u8>> = bodies
        .iter()
        .enumerate()
        .map(|(i, (c, b))| pdu_to_vec(&Header::request(*c, i as u64, 0, 0), *b))
        .collect();
    // A 2-PDU compound and an encrypted-looking message.
    let mut comp = out[1].clone();
    comp.resize(comp.len().div_ceil(8) * 8, 0);
    let next = comp.len() as u32;
    comp[20..24].copy_from_slice(&next.to_le_bytes());
    comp.extend_from_slice(&out[2]);
    out.push(comp);
    let mut tf = vec![0xFD, b'S', b'M', b'B'];
    tf.resize(52, 0);
    tf[36..40].copy_from_slice(&64u32.to_le_bytes());
    tf[42] = 1;
    tf.extend_from_slice(&out[2][..64]);
    out.push(tf);
    out
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn mutate(rng: &mut Rng, msg: &[u8]) -> Vec<u8> {
    let mut m = msg.to_vec();
    match rng.below(7) {
        0 => m.truncate(rng.below(m.len())),
        1 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len());
                m[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            // A length or offset field set to an extreme value.
            let i = rng.below(m.len().saturating_sub(4)) & !1;
            let v: u32 = [0, 1, 0xFFFF, 0xFFFF_FFFF, 0x8000_0000, m.len() as u32 + 1][rng.below(6)];
            m[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        3 => {
            // Bad credits: CreditCharge and MessageId.
            m[6..8].copy_from_slice(&(rng.next() as u16).to_le_bytes());
            m[24..32].copy_from_slice(&rng.next().to_le_bytes());
        }
        4 => m[40..48].copy_from_slice(&rng.next().to_le_bytes()), // session id
        5 => m.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
        _ => {
            let i = rng.below(m.len());
            m[i] = rng.next() as u8;
        }
    }
    m
}

/// Sends `msg` with a Direct TCP prefix (sometimes a lying one) and reads whatever comes back briefly.
fn send(stream: &mut Option<TcpStream>, port: u16, rng: &mut Rng, msg: &[u8]) {
    if stream.is_none() {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("server still accepts connections");
        s.set_read_timeout(Some(Duration::from_millis(2))).unwrap();
        *stream = Some(s);
    }
    let s = stream.as_mut().unwrap();
    let mut len = msg.len() as u32;
    if rng.below(20) == 0 {
        len = len.wrapping_add(rng.below(9) as u32).wrapping_sub(4) & 0x00FF_FFFF;
    }
    let mut frame = len.to_be_bytes().to_vec();
    frame[0] = if rng.below(50) == 0 { 0xFF } else { 0 };
    frame.extend_from_slice(msg);
    if s.write_all(&frame).is_err() {
        *stream = None;
        return;
    }
    let mut buf = [0u8; 4096];
    match s.read(&mut buf) {
        Ok(0) => *stream = None,
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
        Err(_) => *stream = None,
    }
}

#[test]
fn hostile_client_cannot_hurt_the_server_or_a_good_client() {
    if !enabled() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (data, local) = (t.path().join("data"), t.path().join("local"));
    std::fs::create_dir(&data).unwrap();
    std::fs::create_dir(&local).unwrap();
    let srv = Serve::start(&["--share", &format!("data={},encrypt-data", data.display())]);
    let port = srv.port;
    random_file(&local.join("good.bin"), 16);
    let want = sha256(&local.join("good.bin"));

    let hostile = std::thread::spawn(move || {
        let msgs = valid_messages();
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let mut stream = None;
        for i in 0..10_000 {
            // Keep some connections past NEGOTIATE so deeper states are reached.
            if i % 25 == 0 {
                stream = None;
                send(&mut stream, port, &mut rng, &msgs[0]);
            }
            let base = &msgs[rng.below(msgs.len())];
            let m = mutate(&mut rng, base);
            send(&mut stream, port, &mut rng, &m);
        }
    });
    let mut transfers = 0;
    while !hostile.is_finished() || transfers < 2 {
        let back = local.join(format!("back{transfers}.bin"));
        let (ok, out) = smbclient(
            port,
            "data",
            &["--option=client smb encrypt=required"],
            &format!("put good.bin g{transfers}.bin; get g{transfers}.bin {}", back.display()),
            &local,
        );
        assert!(ok, "good client failed during the attack:\n{out}\nserver log tail:\n{}", srv.log_tail(4000));
        assert_eq!(sha256(&back), want, "good client's data corrupted");
        transfers += 1;
    }
    hostile.join().expect("hostile client thread");
    // Still serving after the attack.
    let (ok, out) = smbclient(port, "data", &["--option=client smb encrypt=required"], "ls", &local);
    assert!(ok, "server unusable after the attack:\n{out}");
    srv.stop();
}
