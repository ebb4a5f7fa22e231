//! The kit itself: the pair carries the same exchanges over both transports, SMB Direct fragments
//! and credits the way MS-SMBD says, RDMA data lands where the client granted it, time moves only
//! when advanced, and messages in flight can be held and tampered with.

use smb_client_proto::{ClientConfig, ClientError, Completion};
use smb_session::ServerConfig;
use smb_wire::header::Command;
use std::time::Duration;
use testkit::data::{checksum, pattern};
use testkit::{Access, Pair, Side, Transport};

fn both() -> [Transport; 2] {
    [Transport::Tcp, Transport::smbd()]
}

#[test]
fn the_same_exchange_runs_over_tcp_and_smb_direct() {
    for transport in both() {
        let mut pair = Pair::new(transport.clone());
        assert!(matches!(pair.logon(), Completion::LoggedOn { signed: true, .. }), "{transport:?}");
        for share in ["plain", "secret"] {
            let (tree, _) = pair.tree(share);
            let file = pair.open(tree, "f.bin");
            assert_eq!(pair.last_was_transform(), share == "secret", "{transport:?} {share}");
            let data = pattern(200_000);
            let (_, req) = pair.client.write(file, 7, &data).unwrap();
            assert!(matches!(pair.one(req), Completion::Written { count: 200_000, .. }));
            let (_, req) = pair.client.read(file, 7, 200_000).unwrap();
            let Completion::Read { data: back, .. } = pair.one(req) else { panic!("no read") };
            assert_eq!(checksum(&back), checksum(&data), "{transport:?} {share}");
            let on_file = pair.server.files_mut().file(share, "f.bin").unwrap().to_vec();
            assert_eq!(checksum(&on_file[7..]), checksum(&data));
        }
        assert_eq!(pair.closed(), None);
        match transport {
            Transport::Tcp => assert!(pair.tcp_bytes().unwrap()[1] > 400_000),
            Transport::Smbd { .. } => assert!(pair.smbd_stats().unwrap().fragments[1] > 300),
        }
    }
}

#[test]
fn the_smb_direct_pair_fragments_a_1_mib_message_and_credits_never_go_negative() {
    let mut pair = Pair::new(Transport::smbd());
    pair.logon();
    let (tree, _) = pair.tree("plain");
    let file = pair.open(tree, "big.bin");
    // As large as an inline WRITE gets under the 1 MiB MaxFragmentedSize.
    let data = pattern(1_040_000);
    let (_, req) = pair.client.write(file, 0, &data).unwrap();
    assert!(req.len() > 1_040_000 && req.len() <= 1 << 20);
    let before = pair.smbd_stats().unwrap().clone();
    assert!(matches!(pair.one(req), Completion::Written { count: 1_040_000, .. }));
    let s = pair.smbd_stats().unwrap().clone();
    // 1364-byte sends carry 1340 bytes of payload: 777 fragments, three times the 255 credits the
    // client held, so it ran dry and waited for the server's grants (the link checked every send
    // had a credit and every arrival a posted receive).
    assert!(s.fragments[0] - before.fragments[0] >= 1_040_000 / 1340, "{s:?}");
    assert!(s.stalls[0] > before.stalls[0], "the client never waited for credits: {s:?}");
    assert!(s.largest_send <= 1364);
    // Read back inline: the server's answer is fragmented the same way.
    let (_, req) = pair.client.read(file, 0, 1_040_000).unwrap();
    let Completion::Read { data: back, .. } = pair.one(req) else { panic!("no read") };
    assert_eq!(checksum(&back), checksum(&data));
    // Credit books balance: what each side holds is what its peer granted less what it spent.
    let s = pair.smbd_stats().unwrap().clone();
    for (side, peer) in [(Side::Client, Side::Server), (Side::Server, Side::Client)] {
        let (i, j) = (side as usize, peer as usize);
        let held = pair.smbd_connection(side).unwrap().credits().send;
        assert_eq!(u64::from(held), s.granted[j] - (s.fragments[i] + s.empty[i]), "{side:?}: {s:?}");
    }
}

#[test]
fn small_credit_windows_still_carry_everything() {
    let tight =
        smbdirect::Config { receive_credit_max: 2, send_credit_target: 2, ..smbdirect::Config::default() };
    let mut pair = Pair::with_configs(
        Transport::Smbd { client: tight.clone(), server: tight },
        ClientConfig::default(),
        ServerConfig::default(),
    );
    pair.logon();
    let (tree, _) = pair.tree("secret");
    let file = pair.open(tree, "t.bin");
    let data = pattern(100_000);
    let (_, req) = pair.client.write(file, 0, &data).unwrap();
    assert!(matches!(pair.one(req), Completion::Written { count: 100_000, .. }));
    let s = pair.smbd_stats().unwrap();
    assert!(s.last_credit_sends[0] > 0, "the last-credit rule was exercised: {s:?}");
}

#[test]
fn rdma_reads_and_writes_land_in_the_granted_memory_and_revoke_it() {
    let cfg = ClientConfig { require_signing: false, ..ClientConfig::default() };
    let mut pair = Pair::with_configs(Transport::smbd(), cfg, ServerConfig::default());
    pair.logon();
    let (tree, _) = pair.tree("plain");
    assert!(pair.client.rdma_allowed(tree));
    let file = pair.open(tree, "r.bin");
    let data = pattern(1 << 20);

    let desc = pair.memory.grant(data.clone(), Access::RemoteRead);
    let granted = &mut pair.memory.window_mut(desc.token).unwrap().bytes;
    let (_, req) = pair.client.write_rdma(file, 0, granted, &[desc], true).unwrap();
    let fragments = pair.smbd_stats().unwrap().fragments;
    assert!(matches!(pair.one(req), Completion::Written { count: 0x10_0000, .. }));
    assert!(pair.smbd_stats().unwrap().fragments[0] - fragments[0] <= 2, "the payload did not go inline");
    assert_eq!(pair.server.files_mut().file("plain", "r.bin").map(checksum), Some(checksum(&data)));
    assert!(!pair.memory.window(desc.token).unwrap().valid, "the WRITE's answer revoked the window");

    let window = pair.memory.grant(vec![0; 1 << 20], Access::RemoteWrite);
    // Two descriptors over one window, as Windows describes 1 MiB.
    let descs = pair.memory.describe(window.token, &[0xFFFC0, 0x40]);
    let (_, req) = pair.client.read_rdma(file, 0, 1 << 20, &descs, true).unwrap();
    assert!(matches!(pair.one(req), Completion::ReadPlaced { len: 0x10_0000, .. }));
    let w = pair.memory.window(window.token).unwrap();
    assert_eq!(checksum(&w.bytes), checksum(&data));
    assert!(!w.valid);
    assert_eq!(pair.memory.invalidated, vec![desc.token, window.token]);

    // A READ into a revoked window is a remote access error: the connection breaks.
    let (_, req) = pair.client.read_rdma(file, 0, 4096, &descs, false).unwrap();
    pair.send(req);
    pair.drive();
    assert!(pair.closed().unwrap().contains("invalidated"), "{:?}", pair.closed());
}

#[test]
fn the_clock_only_moves_when_advanced() {
    let mut pair = Pair::new(Transport::smbd());
    let (t0, f0) = (pair.clock().instant(), pair.clock().filetime());
    assert_eq!(f0, testkit::clock::EPOCH_FILETIME);
    pair.logon();
    let (tree, _) = pair.tree("plain");
    let file = pair.open(tree, "c.bin");
    let (_, req) = pair.client.write(file, 0, &pattern(500_000)).unwrap();
    pair.one(req);
    assert_eq!((pair.clock().instant(), pair.clock().filetime()), (t0, f0), "work takes no time");

    pair.advance(Duration::from_secs(5));
    assert_eq!(pair.clock().instant() - t0, Duration::from_secs(5));
    assert_eq!(pair.clock().filetime() - f0, 50_000_000);
    assert_eq!(pair.smbd_stats().unwrap().response_requested, [0, 0], "no keepalive before the interval");

    // Idle past the keepalive interval (120 s): a keepalive goes and is answered; nothing closes.
    pair.advance(Duration::from_secs(120));
    let s = pair.smbd_stats().unwrap().clone();
    assert!(s.response_requested.iter().sum::<u64>() >= 1, "{s:?}");
    for _ in 0..10 {
        pair.advance(Duration::from_secs(60));
    }
    assert_eq!(pair.closed(), None);
    assert!(pair.smbd_connection(Side::Client).unwrap().is_established());
    let (_, req) = pair.client.read(file, 0, 10).unwrap();
    assert!(matches!(pair.one(req), Completion::Read { .. }), "still serving after 17 idle minutes");
}

#[test]
fn held_messages_can_be_tampered_with_and_released() {
    for transport in both() {
        let mut pair = Pair::new(transport.clone());
        pair.logon();
        pair.hold(Side::Client);
        let (_, req) = pair.client.tree_connect(r"\\srv\plain").unwrap();
        pair.send(req);
        pair.drive();
        assert!(pair.received.is_empty(), "{transport:?}: held");
        let inbox = pair.inbox(Side::Client);
        assert_eq!(inbox.len(), 1);
        inbox[0][64 + 4] ^= 1; // ShareFlags, under the signature
        pair.release(Side::Client);
        pair.drive();
        let got = pair.received.pop_front().unwrap();
        assert!(
            matches!(got, Err(ClientError::BadSignature { command: Command::TREE_CONNECT, .. })),
            "{transport:?}: {got:?}"
        );
    }
}
