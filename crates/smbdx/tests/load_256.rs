//! Load (issue 15): 256 clients at once against one `smbdx serve` (its own process, two reactors),
//! for 60 s, each with its own connection and file, doing a random mix of READs and WRITEs of 4 KiB
//! to 1 MiB; a third of the sessions encrypted (AES-128-GCM, AES-256-GCM, AES-128-CCM), the others
//! signed (AES-GMAC, AES-CMAC). Every READ is checked against a copy of what the client wrote; no
//! request may fail; the latencies' p50/p99/max are printed; the server's peak resident size
//! (VmHWM) must stay under [`RSS_BOUND_MIB`].
//!
//! The same mix over SMB Direct: 32 clients on the loopback RDMA provider against an in-process
//! server, READ and WRITE data moved by RDMA (through the RDMA transform for the encrypted and
//! signed sessions), for a quarter of the time; no error, every byte checked, and every lease of
//! registered memory back in its pool once the clients are gone. (Loopback RDMA shows correctness
//! under load, never RDMA performance.)
//!
//! `SMBDX_LOAD_SECS` shortens or lengthens the run (default 60).

mod common;

use common::Rng;

use client::{Client, ClientOptions, OpenMode};
use engine::PollMode;
use smb_crypto::{Cipher, SigningAlgorithm};
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const CLIENTS: usize = 256;
/// Every 16th client moves 1 MiB at a time over a 4 MiB file; the rest 4-256 KiB over 512 KiB.
const BIG_EVERY: usize = 16;
/// The server's peak resident size must stay under this. What it holds: per connection, the
/// buffers of the one request each client has in flight and the spare READ and message buffers kept
/// for reuse (up to 8 of each, smb-session's SPARE_*), 1 MiB each for the big clients; plus the
/// process's fixed part. Measured: 346 MiB at 15 s (the test prints its peak).
const RSS_BOUND_MIB: u64 = 512;

fn vm_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn options(i: usize, base: ClientOptions) -> ClientOptions {
    let base = ClientOptions { poll: PollMode::Interrupt, ..base };
    match i % 6 {
        0 => ClientOptions { ciphers: vec![Cipher::Aes128Gcm], require_privacy: true, ..base },
        1 => ClientOptions { ciphers: vec![Cipher::Aes256Gcm], require_privacy: true, ..base },
        2 => ClientOptions { ciphers: vec![Cipher::Aes128Ccm], require_privacy: true, ..base },
        3 | 4 => ClientOptions { ciphers: vec![], signing: vec![SigningAlgorithm::AesGmac], ..base },
        _ => ClientOptions { ciphers: vec![], signing: vec![SigningAlgorithm::AesCmac], ..base },
    }
}

/// One client's run: returns its operations' latencies in microseconds.
fn client(addr: SocketAddr, base: ClientOptions, i: usize, start: Arc<Barrier>, until: Duration) -> Vec<u32> {
    let c = Client::connect(addr, common::USER, common::PASS, options(i, base))
        .unwrap_or_else(|e| panic!("client {i}: logon: {e}"));
    let tree = c.tree("d").unwrap();
    let f = tree.open(&format!("c{i}.bin"), OpenMode::Write).unwrap();
    let big = i.is_multiple_of(BIG_EVERY);
    let (file_len, max_io) = if big { (4 << 20, 1 << 20) } else { (512 << 10, 256 << 10) };
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ ((i as u64 + 1) * 0x9E37_79B9));
    // What the file holds, written in full before the clock starts.
    let mut copy: Vec<u8> = (0..file_len).map(|_| rng.next() as u8).collect();
    for chunk in (0..file_len).step_by(max_io) {
        f.write_at(chunk as u64, &copy[chunk..chunk + max_io]).unwrap();
    }
    let mut buf = vec![0u8; max_io];
    let mut lat = Vec::new();
    start.wait();
    let t0 = Instant::now();
    while t0.elapsed() < until {
        let len = if big { max_io } else { 4096 << (rng.next() % 7) };
        let off = (rng.next() as usize % (file_len - len + 1)) & !4095;
        let t = Instant::now();
        if rng.next().is_multiple_of(2) {
            let fill = rng.next() as u8;
            copy[off..off + len].iter_mut().enumerate().for_each(|(k, b)| *b = fill ^ (k as u8));
            let n = f
                .write_at(off as u64, &copy[off..off + len])
                .unwrap_or_else(|e| panic!("client {i}: WRITE: {e}"));
            assert_eq!(n, len, "client {i}: short WRITE");
        } else {
            let mut got = 0;
            while got < len {
                let n = f
                    .read_at((off + got) as u64, &mut buf[got..len])
                    .unwrap_or_else(|e| panic!("client {i}: READ: {e}"));
                assert!(n > 0, "client {i}: READ inside the file returned nothing");
                got += n;
            }
            assert!(
                buf[..len] == copy[off..off + len],
                "client {i}: READ of {len} at {off} differs from what was written"
            );
        }
        lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    f.close().unwrap();
    lat
}

fn load_secs() -> u64 {
    std::env::var("SMBDX_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60)
}

fn latencies(mut lat: Vec<u32>) -> (usize, u32, u32, u32) {
    lat.sort_unstable();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    (lat.len(), pct(0.5), pct(0.99), lat[lat.len() - 1])
}

#[test]
fn two_hundred_fifty_six_clients_mixed_io_no_error_every_byte_checked_rss_bounded() {
    let secs = load_secs();
    let dir = tempfile::tempdir().unwrap();
    let share = format!("d={}", dir.path().display());
    // 256 clients from one address: the per-source default (256) would admit exactly them.
    let server = common::Serve::start(&["--share", &share, "--max-connections-per-source", "1024"]);
    let pid = server.pid();
    let before = vm_hwm_kib(pid);
    let start = Arc::new(Barrier::new(CLIENTS + 1));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let s = Arc::clone(&start);
            let addr = format!("127.0.0.1:{}", server.port).parse().unwrap();
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || client(addr, ClientOptions::default(), i, s, Duration::from_secs(secs)))
                .unwrap()
        })
        .collect();
    start.wait();
    let lat: Vec<u32> = clients.into_iter().flat_map(|c| c.join().expect("a client failed")).collect();
    let peak = vm_hwm_kib(pid);
    let (n, p50, p99, max) = latencies(lat);
    eprintln!(
        "{CLIENTS} clients, {secs} s: {n} operations, 0 errors; latency us p50 {p50} p99 {p99} max {max}; server VmHWM {} MiB (before the clients: {} MiB; bound {RSS_BOUND_MIB} MiB)",
        peak / 1024,
        before / 1024
    );
    assert!(n > CLIENTS, "hardly any operation ran");
    assert!(
        peak > 0 && peak / 1024 < RSS_BOUND_MIB,
        "server peak RSS {} MiB over {RSS_BOUND_MIB} MiB",
        peak / 1024
    );
    server.stop();
}

#[test]
fn thirty_two_clients_over_smb_direct_mixed_io_no_error_every_lease_returned() {
    const RDMA_CLIENTS: usize = 32;
    let secs = load_secs().div_ceil(4);
    let dir = tempfile::tempdir().unwrap();
    let cfg = server::config::ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        rdma: vec!["10.9.0.1:445".into()],
        shares: vec![server::config::ShareConfig::parse(&format!("d={}", dir.path().display())).unwrap()],
        users: vec![format!("{}:{}", common::USER, common::PASS)],
        reactors: Some(2),
        ..Default::default()
    };
    let fabric = rdma_verbs::loopback::Fabric::new();
    let server = server::serve::Server::start_with_rdma(&cfg, Some(Arc::new(fabric.clone()))).unwrap();
    let addr = server.local_rdma_addrs()[0];
    let leases_before = server.rdma_leases_out();
    let start = Arc::new(Barrier::new(RDMA_CLIENTS + 1));
    let clients: Vec<_> = (0..RDMA_CLIENTS)
        .map(|i| {
            let s = Arc::clone(&start);
            let base = ClientOptions {
                transport: client::Transport::Rdma(engine::rdma::RdmaSettings::new(Arc::new(fabric.clone()))),
                ..ClientOptions::default()
            };
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || client(addr, base, i, s, Duration::from_secs(secs)))
                .unwrap()
        })
        .collect();
    start.wait();
    let lat: Vec<u32> = clients.into_iter().flat_map(|c| c.join().expect("a client failed")).collect();
    let (n, p50, p99, max) = latencies(lat);
    let (placed, pulled) = server.rdma_bytes();
    // The clients are gone: their connections close, and every lease comes back.
    let end = Instant::now() + Duration::from_secs(20);
    while server.rdma_leases_out() != leases_before && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "{RDMA_CLIENTS} clients over SMB Direct (loopback provider), {secs} s: {n} operations, 0 errors; \
         latency us p50 {p50} p99 {p99} max {max}; {placed} bytes placed and {pulled} pulled by RDMA; \
         leases out {} (before {leases_before})",
        server.rdma_leases_out()
    );
    assert!(n > RDMA_CLIENTS, "hardly any operation ran");
    assert!(placed > 0 && pulled > 0, "no data moved by RDMA");
    assert_eq!(server.rdma_leases_out(), leases_before, "registered-memory leases were not returned");
}
