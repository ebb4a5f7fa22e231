//! The blocking client against the real smbdx server, started in process on 127.0.0.1:0 with
//! tempdir shares.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use client::{Client, ClientError, ClientOptions, OpenMode};
use server::config::{ServeConfig, ShareConfig};
use server::serve::Server;
use sha2::{Digest, Sha256};
use smb_wire::tree_connect::share_flags::ENCRYPT_DATA;

struct Rig {
    server: Server,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

/// A server with share `data` (EncryptData) and share `plain`, both under one tempdir.
fn rig() -> Rig {
    rig_with(None)
}

/// [`rig`] with `--write-threads` as given.
fn rig_with(write_threads: Option<usize>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let (data, plain) = (dir.path().join("data"), dir.path().join("plain"));
    std::fs::create_dir(&data).unwrap();
    std::fs::create_dir(&plain).unwrap();
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![
            ShareConfig::parse(&format!("data={},encrypt-data", data.display())).unwrap(),
            ShareConfig::parse(&format!("plain={}", plain.display())).unwrap(),
        ],
        users: vec!["alice:secret".into()],
        reactors: Some(1),
        write_threads,
        ..Default::default()
    };
    let server = Server::start(&cfg).unwrap();
    let addr = server.local_addrs()[0];
    Rig { server, addr, dir }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).unwrap();
    v
}

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

#[test]
fn eight_mib_round_trip_on_an_encrypted_share() {
    let rig = rig();
    let c = Client::connect(rig.addr, "alice", "secret", ClientOptions::default()).unwrap();
    let tree = c.tree("data").unwrap();
    assert_ne!(tree.share_flags() & ENCRYPT_DATA, 0, "share announced EncryptData");
    let data = random_bytes(8 << 20);
    let f = tree.open("big.bin", OpenMode::Write).unwrap();
    assert_eq!(f.write_at(0, &data).unwrap(), data.len());
    f.close().unwrap();
    assert_eq!(sha(&std::fs::read(rig.dir.path().join("data/big.bin")).unwrap()), sha(&data));
    let before_reads = rig.server.offloaded_io();

    let f = tree.open("big.bin", OpenMode::Read).unwrap();
    assert_eq!(f.size_at_open(), data.len() as u64);
    let mut back = vec![0u8; data.len() + 4096];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len(), "short at end of file");
    assert_eq!(sha(&back[..data.len()]), sha(&data));
    // An unaligned read in the middle, and one past the end.
    let mut mid = vec![0u8; 3 << 20];
    assert_eq!(f.read_at(12345, &mut mid).unwrap(), mid.len());
    assert_eq!(mid, data[12345..12345 + mid.len()]);
    assert_eq!(f.read_at(data.len() as u64 + 10, &mut mid).unwrap(), 0);
    // The large READs were done by the reactor's helper threads, not the reactor (WRITEs go there
    // too where the file system takes O_DIRECT, which a tempdir may not).
    assert!(rig.server.offloaded_io() > before_reads, "no READ went to a helper thread");
    f.close().unwrap();
    drop((tree, c));
    rig.server.shutdown().unwrap();
}

#[test]
fn requests_of_the_largest_size_go_out_first_thing_on_a_new_connection() {
    let rig = rig();
    let c = Client::connect(rig.addr, "alice", "secret", ClientOptions::default()).unwrap();
    let tree = c.tree("data").unwrap();
    // One WRITE of 8 MiB costs 128 credits; two in flight before any other I/O.
    let data = random_bytes(8 << 20);
    let f = tree.open("one-request.bin", OpenMode::Write).unwrap();
    let first = f.start_write(0, &data).unwrap();
    let second = f.start_write(data.len() as u64, &data).unwrap();
    assert_eq!(first.wait().unwrap() as usize, data.len());
    assert_eq!(second.wait().unwrap() as usize, data.len());
    let back = f.start_read(data.len() as u64, data.len() as u32).unwrap().wait().unwrap();
    assert_eq!(sha(&back), sha(&data));
    f.close().unwrap();
    drop((tree, c));
    rig.server.shutdown().unwrap();
}

#[test]
fn shared_payloads_and_pipelined_reads_round_trip_on_both_shares() {
    let rig = rig();
    let c = Client::connect(rig.addr, "alice", "secret", ClientOptions::default()).unwrap();
    for share in ["data", "plain"] {
        let tree = c.tree(share).unwrap();
        let f = tree.open("shared.bin", OpenMode::Write).unwrap();
        // One payload shared by several WRITEs in flight, each sealed (or copied) from it.
        let chunk = client::Bytes::from(random_bytes(1 << 20));
        let pending: Vec<_> =
            (0..6u64).map(|i| f.start_write_shared(i << 20, chunk.clone()).unwrap()).collect();
        for p in pending {
            assert_eq!(p.wait().unwrap() as usize, chunk.len(), "{share}");
        }
        let on_disk = std::fs::read(rig.dir.path().join(share).join("shared.bin")).unwrap();
        assert_eq!(on_disk.len(), 6 << 20, "{share}");
        for part in on_disk.chunks(1 << 20) {
            assert_eq!(sha(part), sha(&chunk), "{share}");
        }
        // Many READs in flight, their buffers dropped and reused by later ones as they go.
        for round in 0..3 {
            let reads: Vec<_> = (0..6u64).map(|i| f.start_read(i << 20, 1 << 20).unwrap()).collect();
            for r in reads {
                assert_eq!(sha(&r.wait().unwrap()), sha(&chunk), "{share} round {round}");
            }
        }
        assert_eq!(f.start_read(6 << 20, 4096).unwrap().wait().unwrap().len(), 0, "past the end");
        let tail = f.start_read((6 << 20) - 10, 4096).unwrap().wait().unwrap().into_vec();
        assert_eq!(tail, chunk[chunk.len() - 10..]);
        f.close().unwrap();
    }
    drop(c);
    rig.server.shutdown().unwrap();
}

#[test]
fn with_no_helper_threads_the_reactor_does_the_io_itself() {
    let rig = rig_with(Some(0));
    let c = Client::connect(rig.addr, "alice", "secret", ClientOptions::default()).unwrap();
    let tree = c.tree("data").unwrap();
    let data = random_bytes(3 << 20);
    let f = tree.open("r.bin", OpenMode::Write).unwrap();
    assert_eq!(f.write_at(0, &data).unwrap(), data.len());
    let mut back = vec![0u8; data.len()];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
    f.close().unwrap();
    assert_eq!(sha(&back), sha(&data));
    assert_eq!(sha(&std::fs::read(rig.dir.path().join("data/r.bin")).unwrap()), sha(&data));
    assert_eq!(rig.server.offloaded_io(), 0);
    drop((tree, c));
    rig.server.shutdown().unwrap();
}

#[test]
fn require_privacy_works_against_a_plain_share() {
    let rig = rig();
    let opts = ClientOptions { require_privacy: true, ..ClientOptions::default() };
    let c = Client::connect(rig.addr, "alice", "secret", opts).unwrap();
    let tree = c.tree("plain").unwrap();
    assert_eq!(tree.share_flags() & ENCRYPT_DATA, 0);
    let data = random_bytes(300_000);
    let f = tree.open("sub.bin", OpenMode::Write).unwrap();
    f.write_at(0, &data).unwrap();
    let mut back = vec![0u8; data.len()];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
    assert_eq!(back, data);
    f.close().unwrap();
    assert_eq!(std::fs::read(rig.dir.path().join("plain/sub.bin")).unwrap(), data);
    drop((tree, c));
    rig.server.shutdown().unwrap();
}

#[test]
fn a_wrong_password_is_a_logon_failure() {
    let rig = rig();
    let r = Client::connect(rig.addr, "alice", "wrong", ClientOptions::default());
    assert!(matches!(&r, Err(ClientError::LogonFailure { user }) if user == "alice"), "{:?}", r.err());
    rig.server.shutdown().unwrap();
}

#[test]
fn a_client_that_cannot_encrypt_is_denied_the_encrypted_share() {
    let rig = rig();
    let opts = ClientOptions { ciphers: vec![], ..ClientOptions::default() };
    let c = Client::connect(rig.addr, "alice", "secret", opts).unwrap();
    let r = c.tree("data");
    assert!(matches!(&r, Err(ClientError::AccessDenied { target, .. }) if target == "data"), "{:?}", r.err());
    assert!(c.tree("plain").is_ok(), "the plain share is still open to it");
    let r = c.tree("nope");
    assert!(matches!(&r, Err(ClientError::NoSuchShare { share }) if share == "nope"), "{:?}", r.err());
    drop(c);
    rig.server.shutdown().unwrap();
}

#[test]
fn opening_a_missing_file_is_not_found() {
    let rig = rig();
    let c = Client::connect(rig.addr, "alice", "secret", ClientOptions::default()).unwrap();
    let tree = c.tree("data").unwrap();
    let r = tree.open("no/such.txt", OpenMode::Read);
    assert!(matches!(&r, Err(ClientError::NotFound { target }) if target == "no/such.txt"), "{:?}", r.err());
    let r = tree.open("absent.txt", OpenMode::Read);
    assert!(matches!(&r, Err(ClientError::NotFound { .. })), "{:?}", r.err());
    drop((tree, c));
    rig.server.shutdown().unwrap();
}

#[test]
fn server_shutdown_mid_session_is_a_clean_error() {
    let rig = rig();
    let opts = ClientOptions { timeout: Duration::from_secs(20), ..ClientOptions::default() };
    let c = Client::connect(rig.addr, "alice", "secret", opts).unwrap();
    let tree = c.tree("data").unwrap();
    let f = tree.open("x.bin", OpenMode::Write).unwrap();
    f.write_at(0, b"before").unwrap();
    rig.server.shutdown().unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 16];
    let r = f.read_at(0, &mut buf);
    assert!(matches!(r, Err(ClientError::ConnectionClosed { op: "read" })), "{r:?}");
    assert!(matches!(f.close(), Err(ClientError::ConnectionClosed { op: "close" })));
    assert!(matches!(tree.open("y", OpenMode::Read), Err(ClientError::ConnectionClosed { .. })));
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
}

#[test]
fn threads_share_one_client() {
    let rig = rig();
    let c = Client::connect(rig.addr, "alice", "secret", ClientOptions::default()).unwrap();
    let tree = c.tree("data").unwrap();
    std::thread::scope(|s| {
        for i in 0..4 {
            let tree = &tree;
            s.spawn(move || {
                let data = random_bytes((1 << 20) + i * 777);
                let name = format!("t{i}.bin");
                let f = tree.open(&name, OpenMode::Write).unwrap();
                f.write_at(0, &data).unwrap();
                let mut back = vec![0u8; data.len()];
                assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
                assert_eq!(sha(&back), sha(&data), "thread {i}");
                f.close().unwrap();
            });
        }
    });
    drop((tree, c));
    rig.server.shutdown().unwrap();
}

#[test]
fn path_operations_list_stat_mkdir_rename_remove() {
    let rig = rig();
    let c = Client::connect(rig.addr, "alice", "secret", ClientOptions::default()).unwrap();
    assert!(c.session_encrypted() || c.tree("data").unwrap().encrypted());
    let tree = c.tree("plain").unwrap();
    let root = rig.dir.path().join("plain");

    tree.mkdir("dir").unwrap();
    assert!(root.join("dir").is_dir());
    assert!(matches!(tree.mkdir("dir"), Err(ClientError::Exists { .. })));
    let f = tree.open("dir/a.txt", OpenMode::Write).unwrap();
    f.write_at(0, b"hello world").unwrap();
    f.flush().unwrap();
    assert_eq!(f.size().unwrap(), 11);
    f.close().unwrap();
    assert!(matches!(tree.open("dir/a.txt", OpenMode::CreateNew), Err(ClientError::Exists { .. })));

    let st = tree.stat("dir/a.txt").unwrap();
    assert!(st.is_file());
    assert_eq!(st.size, 11);
    assert!(tree.stat("dir").unwrap().is_dir());
    assert!(tree.stat("").unwrap().is_dir(), "the share root");
    assert!(matches!(tree.stat("nope"), Err(ClientError::NotFound { .. })));

    let names: Vec<(String, bool, u64)> = {
        let mut v: Vec<_> = tree
            .list("dir")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.metadata.is_dir(), e.metadata.size))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names, vec![("a.txt".to_string(), false, 11)]);
    // Enough entries to need several QUERY_DIRECTORY rounds of 64 KiB.
    for i in 0..1500 {
        std::fs::write(root.join(format!("dir/file-with-a-longish-name-{i:05}.bin")), b"x").unwrap();
    }
    assert_eq!(tree.list("dir").unwrap().len(), 1501);
    assert!(tree.list("").unwrap().iter().any(|e| e.name == "dir" && e.metadata.is_dir()));
    assert!(matches!(tree.list("dir/a.txt"), Err(ClientError::WrongKind { is_dir: false, .. })));

    tree.rename("dir/a.txt", "b.txt", false).unwrap();
    assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), b"hello world");
    assert!(!root.join("dir/a.txt").exists());
    std::fs::write(root.join("c.txt"), b"c").unwrap();
    assert!(matches!(tree.rename("c.txt", "b.txt", false), Err(ClientError::Exists { .. })));
    tree.rename("c.txt", "b.txt", true).unwrap();
    assert_eq!(std::fs::read(root.join("b.txt")).unwrap(), b"c");

    assert!(matches!(tree.remove_dir("dir"), Err(ClientError::NotEmpty { .. })));
    assert!(matches!(tree.remove_file("dir"), Err(ClientError::WrongKind { is_dir: true, .. })));
    for e in tree.list("dir").unwrap() {
        tree.remove_file(&format!("dir/{}", e.name)).unwrap();
    }
    tree.remove_dir("dir").unwrap();
    tree.remove_file("b.txt").unwrap();
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    assert!(matches!(tree.remove_file("b.txt"), Err(ClientError::NotFound { .. })));
    drop(tree);
    c.logoff().unwrap();
    rig.server.shutdown().unwrap();
}

#[test]
fn ipc_dollar_connects_like_on_every_smb_server_and_holds_nothing() {
    let rig = rig();
    let c = Client::connect(rig.addr, "alice", "secret", ClientOptions::default()).unwrap();
    let ipc = c.tree("IPC$").unwrap();
    assert!(matches!(ipc.open("srvsvc", OpenMode::Read), Err(ClientError::NotFound { .. })));
    drop((ipc, c));
    rig.server.shutdown().unwrap();
}
