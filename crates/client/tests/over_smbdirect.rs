//! The blocking client against the real smbdx server over SMB Direct, both in process on the
//! loopback RDMA provider: SMB 3.1.1 messages carried by MS-SMBD (negotiate, credits, fragments) on
//! the same reactors and handlers as over TCP. Every cipher and signing algorithm, file data checked
//! end to end. (Loopback RDMA is for correctness; it measures nothing about RDMA performance.)

use std::net::SocketAddr;
use std::sync::Arc;

use client::{Cipher, Client, ClientError, ClientOptions, OpenMode, SigningAlgorithm, Transport};
use engine::rdma::RdmaSettings;
use rdma_verbs::loopback::Fabric;
use server::config::{RdmaTransformSetting, ServeConfig, ShareConfig};
use server::serve::{ServeError, Server};
use sha2::{Digest, Sha256};
use smb_wire::status::NtStatus;

struct Rig {
    server: Server,
    rdma: SocketAddr,
    fabric: Fabric,
    dir: tempfile::TempDir,
}

const RDMA_ADDR: &str = "10.9.0.1:445";

/// A server with share `data` (EncryptData) and `plain`, listening on TCP and on the loopback
/// fabric's 10.9.0.1:445.
fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let (data, plain) = (dir.path().join("data"), dir.path().join("plain"));
    std::fs::create_dir(&data).unwrap();
    std::fs::create_dir(&plain).unwrap();
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        rdma: vec![RDMA_ADDR.into()],
        shares: vec![
            ShareConfig::parse(&format!("data={},encrypt-data", data.display())).unwrap(),
            ShareConfig::parse(&format!("plain={}", plain.display())).unwrap(),
        ],
        users: vec!["alice:secret".into()],
        reactors: Some(2),
        ..Default::default()
    };
    let fabric = Fabric::new();
    let server = Server::start_with_rdma(&cfg, Some(Arc::new(fabric.clone()))).unwrap();
    let rdma = server.local_rdma_addrs()[0];
    Rig { server, rdma, fabric, dir }
}

fn over_rdma(rig: &Rig, opts: ClientOptions) -> ClientOptions {
    ClientOptions { transport: Transport::Rdma(RdmaSettings::new(Arc::new(rig.fabric.clone()))), ..opts }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).unwrap();
    v
}

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// Writes `data` to `name` on `share` and reads it back through the client, checking the file on
/// disk too.
fn round_trip(rig: &Rig, c: &Client, share: &str, name: &str, data: &[u8]) {
    let tree = c.tree(share).unwrap();
    let f = tree.open(name, OpenMode::Write).unwrap();
    assert_eq!(f.write_at(0, data).unwrap(), data.len());
    f.close().unwrap();
    assert_eq!(
        sha(&std::fs::read(rig.dir.path().join(share).join(name)).unwrap()),
        sha(data),
        "{share}/{name} on disk"
    );
    let f = tree.open(name, OpenMode::Read).unwrap();
    let mut back = vec![0u8; data.len() + 4096];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len(), "{share}/{name}");
    assert_eq!(sha(&back[..data.len()]), sha(data), "{share}/{name} read back");
    f.close().unwrap();
}

/// Round trips of `sizes` on `share`; returns the bytes the server moved by RDMA (placed, pulled).
fn round_trips(rig: &Rig, c: &Client, share: &str, tag: &str, sizes: &[usize]) -> (u64, u64) {
    let (w0, r0) = rig.server.rdma_bytes();
    for (i, &n) in sizes.iter().enumerate() {
        round_trip(rig, c, share, &format!("{tag}-{i}.bin"), &random_bytes(n));
    }
    let (w1, r1) = rig.server.rdma_bytes();
    (w1 - w0, r1 - r0)
}

#[test]
fn files_round_trip_over_smb_direct_with_every_cipher_and_signing_algorithm() {
    let rig = rig();
    // Sizes inside one fragment, across fragments, several 1 MiB RDMA I/Os, and one 8 MiB one.
    let sizes = [1usize, 1300, 4096, 100_000, (3 << 20) + 12345, 8 << 20];
    let by_rdma: u64 = sizes.iter().filter(|&&n| n >= 4096).map(|&n| n as u64).sum();
    // round_trip reads 4 KiB past the end of each file: every READ goes by RDMA, and the server
    // places what there is.
    let read_back: u64 = sizes.iter().map(|&n| n as u64).sum();
    for cipher in [Cipher::Aes128Gcm, Cipher::Aes256Gcm, Cipher::Aes128Ccm, Cipher::Aes256Ccm] {
        // The RDMA transform (the default): sealed data moves by RDMA both ways.
        let opts = over_rdma(&rig, ClientOptions { ciphers: vec![cipher], ..ClientOptions::default() });
        let c = Client::connect(rig.rdma, "alice", "secret", opts).unwrap();
        assert_eq!(c.cipher(), Some(cipher));
        let (placed, pulled) = round_trips(&rig, &c, "data", &format!("{cipher:?}-transform"), &sizes);
        assert_eq!(pulled, by_rdma, "{cipher}: every WRITE of 4 KiB and more pulled, sealed");
        assert_eq!(placed, read_back, "{cipher}: every READ of 4 KiB and more placed, sealed");
        c.logoff().unwrap();
        // Without it (what Linux's client does with `seal`): inline, all of it.
        let opts = over_rdma(
            &rig,
            ClientOptions { ciphers: vec![cipher], rdma_transform: false, ..ClientOptions::default() },
        );
        let c = Client::connect(rig.rdma, "alice", "secret", opts).unwrap();
        let moved = round_trips(&rig, &c, "data", &format!("{cipher:?}-inline"), &sizes[..5]);
        assert_eq!(moved, (0, 0), "{cipher}: no transform, no RDMA for sealed data");
        c.logoff().unwrap();
    }
    for signing in [SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac] {
        let opts = over_rdma(&rig, ClientOptions { signing: vec![signing], ..ClientOptions::default() });
        let c = Client::connect(rig.rdma, "alice", "secret", opts).unwrap();
        assert_eq!(c.signing(), Some(signing));
        assert!(!c.session_encrypted());
        let (placed, pulled) = round_trips(&rig, &c, "plain", &format!("{signing:?}"), &sizes);
        assert_eq!(pulled, by_rdma, "{signing}: signed WRITE data pulled by RDMA");
        assert_eq!(placed, read_back, "{signing}: signed READ data placed by RDMA");
        c.logoff().unwrap();
    }
    rig.server.shutdown().unwrap();
}

#[test]
fn a_client_or_server_that_requires_the_transform_refuses_a_peer_without_it() {
    let rig = rig();
    let no_transform = ClientOptions { rdma_transform: false, ..ClientOptions::default() };
    // The server here offers it: a requiring client connects, and a client without it too.
    let opts = over_rdma(&rig, ClientOptions { require_rdma_transform: true, ..ClientOptions::default() });
    Client::connect(rig.rdma, "alice", "secret", opts).unwrap().logoff().unwrap();
    Client::connect(rig.rdma, "alice", "secret", over_rdma(&rig, no_transform.clone())).unwrap();
    rig.server.shutdown().unwrap();
    // A server that requires it: SMB Direct clients without it are refused, TCP ones are not. A
    // server that has it off: a requiring client refuses it.
    for setting in [RdmaTransformSetting::Required, RdmaTransformSetting::Off] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig {
            listen: vec!["127.0.0.1:0".into()],
            rdma: vec![RDMA_ADDR.into()],
            shares: vec![ShareConfig::parse(&format!("d={}", dir.path().display())).unwrap()],
            users: vec!["alice:secret".into()],
            rdma_transform: setting,
            ..Default::default()
        };
        let fabric = Fabric::new();
        let server = Server::start_with_rdma(&cfg, Some(Arc::new(fabric.clone()))).unwrap();
        let with_fabric = |o: ClientOptions| ClientOptions {
            transport: Transport::Rdma(RdmaSettings::new(Arc::new(fabric.clone()))),
            ..o
        };
        let rdma = server.local_rdma_addrs()[0];
        let requiring = ClientOptions { require_rdma_transform: true, ..ClientOptions::default() };
        let (without, with) = (
            Client::connect(rdma, "alice", "secret", with_fabric(no_transform.clone())),
            Client::connect(rdma, "alice", "secret", with_fabric(requiring)),
        );
        if setting == RdmaTransformSetting::Required {
            assert!(
                matches!(&without, Err(ClientError::Status { status: NtStatus::NOT_SUPPORTED, .. })),
                "NEGOTIATE refused: {:?}",
                without.err()
            );
            with.unwrap();
        } else {
            without.unwrap();
            assert!(matches!(&with, Err(ClientError::Protocol(_))), "client refuses: {:?}", with.err());
        }
        Client::connect(server.local_addrs()[0], "alice", "secret", no_transform.clone()).unwrap();
        server.shutdown().unwrap();
    }
}

#[test]
fn pipelined_io_and_directory_operations_over_smb_direct() {
    let rig = rig();
    let c = Client::connect(rig.rdma, "alice", "secret", over_rdma(&rig, ClientOptions::default())).unwrap();
    let tree = c.tree("plain").unwrap();
    tree.mkdir("dir").unwrap();
    let f = tree.open("dir/pipelined.bin", OpenMode::Write).unwrap();
    let chunk = client::Bytes::from(random_bytes(512 << 10));
    let pending: Vec<_> =
        (0..16u64).map(|i| f.start_write_shared(i * (512 << 10), chunk.clone()).unwrap()).collect();
    for p in pending {
        assert_eq!(p.wait().unwrap() as usize, chunk.len());
    }
    let reads: Vec<_> = (0..16u64).map(|i| f.start_read(i * (512 << 10), 512 << 10).unwrap()).collect();
    for r in reads {
        assert_eq!(sha(&r.wait().unwrap()), sha(&chunk));
    }
    f.close().unwrap();
    let names: Vec<String> = tree.list("dir").unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["pipelined.bin"]);
    assert_eq!(tree.stat("dir/pipelined.bin").unwrap().size, 16 * (512 << 10));
    tree.rename("dir/pipelined.bin", "dir/renamed.bin", false).unwrap();
    tree.remove_file("dir/renamed.bin").unwrap();
    tree.remove_dir("dir").unwrap();
    assert!(matches!(tree.stat("dir"), Err(ClientError::NotFound { .. })));
    drop((tree, c));
    rig.server.shutdown().unwrap();
}

#[test]
fn tcp_and_smb_direct_clients_share_one_server_and_policies_hold_over_both() {
    let rig = rig();
    let tcp =
        Client::connect(rig.server.local_addrs()[0], "alice", "secret", ClientOptions::default()).unwrap();
    let rdma =
        Client::connect(rig.rdma, "alice", "secret", over_rdma(&rig, ClientOptions::default())).unwrap();
    let data = random_bytes(200_000);
    round_trip(&rig, &tcp, "plain", "from-tcp.bin", &data);
    // What one wrote, the other reads.
    let f = rdma.tree("plain").unwrap().open("from-tcp.bin", OpenMode::Read).unwrap();
    let mut back = vec![0u8; data.len()];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
    assert_eq!(back, data);
    f.close().unwrap();
    // RejectUnencryptedAccess holds over SMB Direct as over TCP.
    let opts = over_rdma(&rig, ClientOptions { ciphers: vec![], ..ClientOptions::default() });
    let weak = Client::connect(rig.rdma, "alice", "secret", opts).unwrap();
    assert!(matches!(weak.tree("data"), Err(ClientError::AccessDenied { .. })));
    // Wrong password: a logon failure, not a transport error.
    let r = Client::connect(rig.rdma, "alice", "wrong", over_rdma(&rig, ClientOptions::default()));
    assert!(matches!(&r, Err(ClientError::LogonFailure { .. })), "{:?}", r.err());
    drop((tcp, rdma, weak));
    rig.server.shutdown().unwrap();
}

#[test]
fn rdma_listeners_need_a_provider_and_a_missing_server_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        rdma: vec![RDMA_ADDR.into()],
        shares: vec![ShareConfig::parse(&format!("d={}", dir.path().display())).unwrap()],
        ..Default::default()
    };
    assert!(matches!(Server::start(&cfg), Err(ServeError::NoRdma)));
    let fabric = Fabric::new();
    let opts = ClientOptions {
        transport: Transport::Rdma(RdmaSettings::new(Arc::new(fabric))),
        timeout: std::time::Duration::from_secs(5),
        ..ClientOptions::default()
    };
    let r = Client::connect(RDMA_ADDR.parse().unwrap(), "alice", "secret", opts);
    assert!(
        matches!(&r, Err(ClientError::ConnectionClosed { .. } | ClientError::Connect { .. })),
        "{:?}",
        r.err()
    );
}

#[test]
fn large_reads_and_writes_move_their_data_by_rdma_small_ones_inline() {
    let rig = rig();
    // RDMA for file data only where it needs neither encryption nor signing.
    let opts = over_rdma(&rig, ClientOptions { require_signing: false, ..ClientOptions::default() });
    let c = Client::connect(rig.rdma, "alice", "secret", opts).unwrap();
    let sizes = [100usize, 4095, 4096, 65536, 1 << 20, (5 << 20) + 4321];
    let mut moved = 0u64;
    for (i, &n) in sizes.iter().enumerate() {
        let (w0, r0) = rig.server.rdma_bytes();
        let data = random_bytes(n);
        round_trip(&rig, &c, "plain", &format!("rdma-{i}.bin"), &data);
        let (w1, r1) = rig.server.rdma_bytes();
        if n < 4096 {
            assert_eq!(r1 - r0, 0, "{n} bytes written: inline");
        } else {
            assert_eq!(r1 - r0, n as u64, "{n} bytes written: every byte pulled by RDMA READ");
        }
        // round_trip reads 4 KiB more than the file holds (RDMA whatever the file's size): the
        // server places what there is.
        assert_eq!(w1 - w0, n as u64, "{n} bytes read: every byte placed by RDMA WRITE");
        moved += w1 - w0;
    }
    assert!(moved > 6 << 20);
    // The client saw the same: every window it granted was invalidated by the server's response.
    let s = c.rdma_stats();
    // (Windows span whole requests: a READ past the end of the file asks more than is placed.)
    let (w, r) = rig.server.rdma_bytes();
    assert!(s.bytes >= w + r && s.bytes <= w + r + 6 * 4096, "{s:?}, server {w} placed, {r} pulled");
    assert!(s.reads >= 4 && s.writes >= 4, "{s:?}");
    assert_eq!((s.invalidated_by_server, s.revoked_locally), (s.reads + s.writes, 0), "{s:?}");
    // The encrypted share on the same connection: by RDMA through the transform.
    let (placed, pulled) = round_trips(&rig, &c, "data", "sealed", &[3 << 20]);
    assert_eq!((placed, pulled), (3 << 20, 3 << 20), "sealed data by RDMA, through the transform");
    let s = c.rdma_stats();
    assert_eq!((s.invalidated_by_server, s.revoked_locally), (s.reads + s.writes, 0), "{s:?}");
    // Many RDMA I/Os in flight at once.
    let tree = c.tree("plain").unwrap();
    let f = tree.open("pipelined-rdma.bin", OpenMode::Write).unwrap();
    let chunk = client::Bytes::from(random_bytes(1 << 20));
    let pending: Vec<_> = (0..12u64).map(|i| f.start_write_shared(i << 20, chunk.clone()).unwrap()).collect();
    for p in pending {
        assert_eq!(p.wait().unwrap() as usize, chunk.len());
    }
    let reads: Vec<_> = (0..12u64).map(|i| f.start_read(i << 20, 1 << 20).unwrap()).collect();
    for r in reads {
        assert_eq!(sha(&r.wait().unwrap()), sha(&chunk));
    }
    f.close().unwrap();
    drop((tree, c));
    rig.server.shutdown().unwrap();
}
