//! Durability across a crash (issue 15): `smbdx serve` is killed with SIGKILL at a random moment
//! while three clients stream WRITEs of 4 KiB to 256 KiB into their own files; after a restart, every
//! WRITE that was acknowledged is in its file with its own bytes, read through the restarted server
//! and from the disk. 20 runs, each with its own kill moment; a failure prints the seed.

mod common;

use common::Rng;

use client::{Client, ClientOptions, OpenMode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const RUNS: u64 = 20;
const CLIENTS: usize = 3;

/// The bytes of record `n` of client `c` in run `run`: a slice of a random pool chosen by the
/// record, stamped with (run, client, record) every 4 KiB, so a record landing at another's place, or
/// an old one left over, shows. (A pool, not a generator per byte: this runs in debug builds.)
fn record(run: u64, c: usize, n: u64, len: usize) -> Vec<u8> {
    static POOL: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        (0..(512 << 10) / 8).flat_map(|_| r.next().to_le_bytes()).collect()
    });
    let start = ((n * 4099 + c as u64 * 65537 + run * 257) % (256 << 10)) as usize;
    let mut v = pool[start..start + len].to_vec();
    for stamp in v.chunks_mut(4096) {
        stamp[..8].copy_from_slice(&run.to_le_bytes());
        stamp[8..16].copy_from_slice(&(c as u64).to_le_bytes());
        stamp[16..24].copy_from_slice(&n.to_le_bytes());
    }
    v
}

/// Writes records back to back into `f{c}.bin` until the server dies; returns the acknowledged
/// ones as (offset, length, record number).
fn stream(port: u16, run: u64, c: usize, started: Arc<AtomicUsize>) -> Vec<(u64, usize, u64)> {
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let client = Client::connect(addr, common::USER, common::PASS, ClientOptions::default()).unwrap();
    let tree = client.tree("d").unwrap();
    let f = tree.open(&format!("f{c}.bin"), OpenMode::Write).unwrap();
    started.fetch_add(1, Ordering::SeqCst);
    let mut rng = Rng(run * 7919 + c as u64 + 1);
    let mut acked = Vec::new();
    let mut off = 0u64;
    for n in 0.. {
        let len = 4096usize << (rng.next() % 7); // 4 KiB .. 256 KiB
        match f.write_at(off, &record(run, c, n, len)) {
            Ok(k) if k == len => acked.push((off, len, n)),
            Ok(k) => panic!("run {run}: short write {k} of {len} acknowledged"),
            Err(_) => break,
        }
        off += len as u64;
    }
    acked
}

#[test]
fn every_acknowledged_write_survives_a_sigkill_of_the_server() {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut rng = Rng(seed | 1);
    let mut total_acked = 0;
    for run in 0..RUNS {
        let dir = tempfile::tempdir().unwrap();
        let share = format!("d={}", dir.path().display());
        let server = common::Serve::start(&["--share", &share]);
        // Counts the writers that have logged on and opened their file: the kill comes once all
        // of them stream (a kill during a logon would test nothing, and fail the logon).
        let started = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let s = Arc::clone(&started);
                let port = server.port;
                std::thread::spawn(move || stream(port, run, c, s))
            })
            .collect();
        while started.load(Ordering::SeqCst) < CLIENTS {
            std::thread::sleep(Duration::from_millis(1));
        }
        let kill_after = 10 + rng.next() % 150;
        std::thread::sleep(Duration::from_millis(kill_after));
        server.kill9();
        let acked: Vec<_> = writers.into_iter().map(|w| w.join().expect("a writer panicked")).collect();

        let server = common::Serve::start(&["--share", &share]);
        let addr = format!("127.0.0.1:{}", server.port).parse().unwrap();
        let client = Client::connect(addr, common::USER, common::PASS, ClientOptions::default()).unwrap();
        let tree = client.tree("d").unwrap();
        for (c, list) in acked.iter().enumerate() {
            let name = format!("f{c}.bin");
            let disk = std::fs::read(dir.path().join(&name)).unwrap_or_default();
            let f = tree.open(&name, OpenMode::Read).unwrap();
            for &(off, len, n) in list {
                let want = record(run, c, n, len);
                let at = off as usize;
                assert!(
                    disk.len() >= at + len && disk[at..at + len] == want[..],
                    "seed {seed} run {run} (killed after {kill_after} ms): client {c} record {n} \
                     ({len} bytes at {off}) acknowledged but not on disk"
                );
                let mut got = vec![0u8; len];
                let mut k = 0;
                while k < len {
                    let r = f.read_at(off + k as u64, &mut got[k..]).unwrap();
                    assert!(r > 0, "seed {seed} run {run}: EOF inside an acknowledged record");
                    k += r;
                }
                assert!(got == want, "seed {seed} run {run}: client {c} record {n} differs read back");
            }
            total_acked += list.len();
        }
        drop(client);
        server.stop();
    }
    assert!(total_acked > RUNS as usize, "hardly any WRITE was acknowledged before the kills: {total_acked}");
    eprintln!("{RUNS} runs, {total_acked} acknowledged WRITEs checked after SIGKILL (seed {seed})");
}
