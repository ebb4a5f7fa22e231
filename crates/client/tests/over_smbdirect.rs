//! The blocking client against the real smbdx server over SMB Direct, both in process on the
//! loopback RDMA provider: SMB 3.1.1 messages carried by MS-SMBD (negotiate, credits, fragments) on
//! the same reactors and handlers as over TCP. Every cipher and signing algorithm, file data checked
//! end to end. (Loopback RDMA is for correctness; it measures nothing about RDMA performance.)

use std::net::SocketAddr;
use std::sync::Arc;

use client::{Cipher, Client, ClientError, ClientOptions, OpenMode, SigningAlgorithm, Transport};
use engine::rdma::RdmaSettings;
use rdma_verbs::loopback::Fabric;
use server::config::{ServeConfig, ShareConfig};
use server::serve::{ServeError, Server};
use sha2::{Digest, Sha256};

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

#[test]
fn files_round_trip_over_smb_direct_with_every_cipher_and_signing_algorithm() {
    let rig = rig();
    // Sizes inside one fragment, across fragments, and several whole inline I/Os (1 MiB messages).
    let sizes = [1usize, 1300, 100_000, (3 << 20) + 12345];
    for cipher in [Cipher::Aes128Gcm, Cipher::Aes256Gcm, Cipher::Aes128Ccm, Cipher::Aes256Ccm] {
        let opts = over_rdma(&rig, ClientOptions { ciphers: vec![cipher], ..ClientOptions::default() });
        let c = Client::connect(rig.rdma, "alice", "secret", opts).unwrap();
        assert_eq!(c.cipher(), Some(cipher));
        for (i, &n) in sizes.iter().enumerate() {
            round_trip(&rig, &c, "data", &format!("{cipher:?}-{i}.bin"), &random_bytes(n));
        }
        c.logoff().unwrap();
    }
    for signing in [SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac] {
        let opts = over_rdma(&rig, ClientOptions { signing: vec![signing], ..ClientOptions::default() });
        let c = Client::connect(rig.rdma, "alice", "secret", opts).unwrap();
        assert_eq!(c.signing(), Some(signing));
        assert!(!c.session_encrypted());
        for (i, &n) in sizes.iter().enumerate() {
            round_trip(&rig, &c, "plain", &format!("{signing:?}-{i}.bin"), &random_bytes(n));
        }
        c.logoff().unwrap();
    }
    rig.server.shutdown().unwrap();
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
    // The encrypted share on the same connection: inline, whatever the size.
    let before = rig.server.rdma_bytes();
    round_trip(&rig, &c, "data", "sealed.bin", &random_bytes(3 << 20));
    assert_eq!(rig.server.rdma_bytes(), before, "sealed data never goes by RDMA");
    assert_eq!(c.rdma_stats(), s, "nor does the client grant a window for it");
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
