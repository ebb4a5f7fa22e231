//! Hostile input straight into the state machine: sequences of mutated messages (taken from a valid
//! logon and file session) never panic the connection, and once it says Close it is not used again.

use proptest::prelude::*;
use smb_session::{Flow, ServerConfig, ServerConnection};
use smb_wire::header::{Command, Header};
use smb_wire::negotiate::NegotiateRequest;
use smb_wire::negotiate_context::*;
use smb_wire::pdu::{pdu_to_vec, EncodeDyn};
use smb_wire::tree_connect::TreeConnectRequest;
use smb_wire::types::{utf16le, Utf16};
use std::sync::Arc;
use testkit::{MemFiles, TwoLegAuth};

fn transcript() -> Vec<Vec<u8>> {
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
    let d = [0x0311u16.to_le_bytes(), 0x0300u16.to_le_bytes()].concat();
    let neg = NegotiateRequest {
        security_mode: 1,
        capabilities: 0x40,
        client_guid: [7; 16],
        client_start_time: 0,
        dialects: U16List::new(&d, "d").unwrap(),
        contexts: NegotiateContextList::build(&items, &mut region).unwrap(),
    };
    let ss = smb_wire::session_setup::SessionSetupRequest {
        flags: 0,
        security_mode: 1,
        capabilities: 0,
        channel: 0,
        security_buffer: b"token",
        previous_session_id: 0,
    };
    let p1 = utf16le("\\\\s\\enc");
    let p2 = utf16le("\\\\s\\plain");
    let tc1 = TreeConnectRequest { flags: 0, path: Utf16::new(&p1, "p").unwrap() };
    let tc2 = TreeConnectRequest { flags: 0, path: Utf16::new(&p2, "p").unwrap() };
    let echo = smb_wire::echo::Echo;
    let list: [(Command, &dyn EncodeDyn); 6] = [
        (Command::NEGOTIATE, &neg),
        (Command::SESSION_SETUP, &ss),
        (Command::SESSION_SETUP, &ss),
        (Command::TREE_CONNECT, &tc1),
        (Command::TREE_CONNECT, &tc2),
        (Command::ECHO, &echo),
    ];
    // Session id: what a ServerConnection seeded with [0; 32] hands out first.
    list.iter()
        .enumerate()
        .map(|(i, (c, b))| {
            let mut h = Header::request(*c, i as u64, if i >= 2 { 1 } else { 0 }, if i >= 5 { 1 } else { 0 });
            h.credits = 16;
            pdu_to_vec(&h, *b)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_sessions_never_panic(ops in prop::collection::vec((0usize..6, any::<u16>(), any::<u8>(), 0usize..4), 1..24)) {
        let msgs = transcript();
        // The transcript's shares; mutated paths are granted too, so that they reach the handler.
        let shares = MemFiles::new().share("enc", true).share("plain", false).grant_any_share();
        let mut conn = ServerConnection::new(Arc::new(ServerConfig::default()), shares, TwoLegAuth::anything(), [0; 32]);
        let mut out: Vec<Vec<u8>> = Vec::new();
        for (which, pos, val, kind) in ops {
            let mut m = msgs[which].clone();
            let i = pos as usize % m.len();
            match kind {
                0 => m[i] = val,
                1 => m.truncate(i),
                2 => { m[i] ^= val; }
                _ => {}
            }
            if conn.on_message(&mut m, 0, &mut out) == Flow::Close {
                break;
            }
            let _ = conn.drain_events();
        }
        conn.close();
        for r in &out {
            // Everything sent back is an SMB2 message or a transform (never a raw echo of input).
            prop_assert!(r.starts_with(&[0xFE, b'S', b'M', b'B']) || r.starts_with(&[0xFD, b'S', b'M', b'B']));
        }
    }
}
