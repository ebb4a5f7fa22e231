//! Encrypted READs sealed straight from the page cache (issue 18, `read_path = "map"`): a client
//! reading at depth 8 gets every byte of the file, and the server lent its READs from the file's
//! mapping (smb-fs counts them) where `read_path = "copy"` lent none; a file truncated and restored
//! over and over beneath the server's mapping while it is read costs no crash (the SIGBUS guard) and
//! leaves the server serving it right once it stays put.

mod common;

use client::{Client, ClientOptions, OpenMode, Pending, ReadBuf};
use server::config::{ServeConfig, ShareConfig};
use smb_crypto::{Backend, Cipher};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const PASS: &str = "Page-Cach3";
const MIB: usize = 1 << 20;

fn server(dir: &Path, read_path: &str) -> common::InProcess {
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![ShareConfig::parse(&format!("d={},encrypt-data", dir.display())).unwrap()],
        users: vec![format!("alice:{PASS}")],
        // Lending pays only where the library seals from elsewhere in one pass (aws-lc-rs).
        crypto_backend: Some("aws-lc-rs".into()),
        read_path: Some(read_path.into()),
        reactors: Some(1),
        ..Default::default()
    };
    common::InProcess::start(&cfg)
}

fn client(s: &common::InProcess) -> Client {
    let opts = ClientOptions {
        ciphers: vec![Cipher::Aes128Gcm],
        require_privacy: true,
        crypto_backend: Backend::AwsLc,
        ..ClientOptions::default()
    };
    Client::connect(s.server().local_addrs()[0], "alice", PASS, opts).unwrap()
}

/// Reads `len` bytes of `name` at depth 8 in 1 MiB READs (the last one short at the end of file);
/// `Err` carries the first failure.
fn read_all(c: &Client, name: &str, len: usize) -> Result<Vec<u8>, client::ClientError> {
    let tree = c.tree("d")?;
    let f = tree.open(name, OpenMode::Read)?;
    let mut out = vec![0u8; len];
    let mut pending: VecDeque<(usize, Pending<ReadBuf>)> = VecDeque::new();
    let mut next = 0;
    while next < len || !pending.is_empty() {
        while next < len && pending.len() < 8 {
            pending.push_back((next, f.start_read(next as u64, MIB as u32)?));
            next += MIB;
        }
        let (at, p) = pending.pop_front().unwrap();
        let data = p.wait()?;
        out[at..at + data.len()].copy_from_slice(&data);
    }
    f.close()?;
    Ok(out)
}

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(seed as u32) as u8).collect()
}

#[test]
fn encrypted_reads_sealed_from_the_page_cache_carry_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let len = 24 * MIB + 12_345;
    let data = content(len, 3);
    std::fs::write(dir.path().join("f.bin"), &data).unwrap();

    let before = smb_fs::lent_reads();
    let copy = server(dir.path(), "copy");
    assert!(read_all(&client(&copy), "f.bin", len).unwrap() == data, "read_path copy");
    drop(copy);
    let between = smb_fs::lent_reads();

    let map = server(dir.path(), "map");
    for _ in 0..3 {
        assert!(read_all(&client(&map), "f.bin", len).unwrap() == data, "read_path map");
    }
    let after = smb_fs::lent_reads();
    // Other tests in this binary may lend meanwhile; this one's two servers are the only ones
    // with `copy`, and lending there would show as a count during its run... unless another test
    // lent at the same time, hence only the map server's count is asserted.
    assert!(after > between, "no READ was lent with read_path map ({before} {between} {after})");
}

#[test]
fn a_file_truncated_beneath_the_mapping_costs_no_crash() {
    let dir = tempfile::tempdir().unwrap();
    let len = 16 * MIB;
    let data = content(len, 7);
    let path = dir.path().join("t.bin");
    std::fs::write(&path, &data).unwrap();
    let s = server(dir.path(), "map");
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (stop, path, data) = (Arc::clone(&stop), path.clone(), data.clone());
        std::thread::spawn(move || {
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                f.set_len(MIB as u64).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(300));
                std::os::unix::fs::FileExt::write_all_at(&f, &data[MIB..], MIB as u64).unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    let c = client(&s);
    let mut outcomes = (0, 0);
    let caught_before = filemap::truncations_caught();
    // Until a lent READ has met a truncation (a SIGBUS caught, and its data read again the ordinary
    // way); a few rounds usually suffice.
    for _ in 0..400 {
        // Short reads, end-of-file errors, whatever a racing truncation makes of a READ: all fine,
        // so long as the server answers.
        match read_all(&c, "t.bin", len) {
            Ok(_) => outcomes.0 += 1,
            Err(e) => {
                if outcomes.1 == 0 {
                    eprintln!("first failure: {e:?}");
                }
                outcomes.1 += 1
            }
        }
        if filemap::truncations_caught() > caught_before && outcomes.0 + outcomes.1 >= 10 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = churn.join().unwrap();
    assert!(
        filemap::truncations_caught() > caught_before,
        "no lent READ met a truncation in {outcomes:?} reads"
    );
    // No request failed because of it: errors there were are the READs past a shrunk end of file.
    // The file is whole again and stays so: the server (the same process as this test: a SIGBUS
    // would have killed it) serves it right, on the same connection and on a new one.
    assert!(read_all(&c, "t.bin", len).unwrap() == data);
    assert!(read_all(&client(&s), "t.bin", len).unwrap() == data);
    eprintln!(
        "reads of a churned file: {} answered, {} failed; {rounds} truncations; {} lent READs met one (SIGBUS caught)",
        outcomes.0,
        outcomes.1,
        filemap::truncations_caught()
    );
}
