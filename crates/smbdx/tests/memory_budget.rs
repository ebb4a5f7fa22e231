//! The server-wide memory budget (`smbdx serve --memory-budget`, issue 15): however many clients
//! misbehave at once, the buffers they make the server hold stay within the budget; while it is
//! used up no connection starts a new message, and connections that hold part of it without moving
//! (`--stall-timeout`) are closed, so that a good client is served again.
//!
//! Two ways to fill it, each beyond what the budget holds if every connection got its own limits:
//! - eight clients that send 1 MiB READs and never read an answer (each would hold a 32 MiB outbox,
//!   256 MiB together);
//! - twelve clients that each start an 8 MiB WRITE and send only its first MiB (each would grow a
//!   receive buffer of 8 MiB, 96 MiB together).
//!
//! One test per binary run at a time: the process's RSS is measured.

mod common;

use client::{Client, ClientOptions};
use common::raw::Raw;
use server::config::{ServeConfig, ShareConfig};
use smb_wire::create::CreateDisposition;
use smb_wire::header::Command;
use smb_wire::status::NtStatus;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PASS: &str = "Budg3t-Pa55";
const BUDGET: u64 = 64 << 20;
/// What in-flight memory may add past a used-up budget: work already started when it ran out
/// (one message's answer, the largest 8 MiB).
const OVERSHOOT: u64 = 8 << 20;

/// The tests measure the process's memory: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn config(dir: &Path) -> ServeConfig {
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
    std::fs::write(dir.join("big"), &data).unwrap();
    ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![ShareConfig::parse(&format!("data={}", dir.display())).unwrap()],
        users: vec![format!("alice:{PASS}")],
        reactors: Some(1),
        memory_budget_mib: Some(BUDGET >> 20),
        stall_timeout_secs: Some(2),
        ..Default::default()
    }
}

fn start(dir: &Path) -> common::InProcess {
    common::InProcess::start(&config(dir))
}

/// Eight clients that open `big` and send 1 MiB READs without reading an answer, each until its
/// writes block (the server stopped reading it) or it is closed; each thread returns how many READs
/// it sent.
fn greedy_clients(addr: SocketAddr) -> Vec<std::thread::JoinHandle<u64>> {
    (0..8)
        .map(|_| {
            let mut r = raw_logged_on(addr);
            r.ask = 512;
            let fid = r.create("big", CreateDisposition::OPEN).expect("open big");
            r.ask = 1;
            std::thread::spawn(move || {
                r.s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
                let mut sent = 0u64;
                let end = Instant::now() + Duration::from_secs(30);
                while Instant::now() < end {
                    let batch: Vec<u8> = (0..16).flat_map(|_| r.read_frame(fid, 1 << 20)).collect();
                    if r.s.write_all(&batch).is_err() {
                        break;
                    }
                    sent += 16;
                }
                sent
            })
        })
        .collect()
}

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// The process's largest RSS, sampled every 20 ms until `done`.
fn peak_rss_until(done: impl Fn() -> bool) -> u64 {
    let mut peak = 0;
    while !done() {
        peak = peak.max(rss());
        std::thread::sleep(Duration::from_millis(20));
    }
    peak.max(rss())
}

fn raw_logged_on(addr: SocketAddr) -> Raw {
    let mut r = Raw::connect(addr);
    r.negotiate();
    assert_eq!(r.logon("alice", PASS), NtStatus::SUCCESS);
    assert_eq!(r.tree_connect("data"), NtStatus::SUCCESS);
    r
}

/// A good client logs on and reads the 4 MiB file intact; returns how long it took.
fn good_client_served(addr: SocketAddr) -> Duration {
    let t = Instant::now();
    let c = Client::connect(addr, "alice", PASS, ClientOptions::default()).expect("a good client logs on");
    let f = c.tree("data").unwrap().open("big", client::OpenMode::Read).unwrap();
    let want: Vec<u8> = (0..4u32 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
    let mut back = vec![0u8; want.len()];
    let mut at = 0;
    while at < back.len() {
        at += f.read_at(at as u64, &mut back[at..]).unwrap();
    }
    assert!(back == want, "the good client's data came back intact");
    t.elapsed()
}

fn stalled_closed(srv: &common::InProcess) -> u64 {
    srv.server().observer().reactors.snapshot().iter().map(|r| r.stalled_closed).sum()
}

#[test]
fn clients_that_never_read_hold_the_budget_and_no_more() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let addr = srv.server().local_addrs()[0];
    good_client_served(addr);
    let before = rss();
    let threads = greedy_clients(addr);
    let peak_rss = peak_rss_until(|| threads.iter().all(|t| t.is_finished()));
    let sent: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let budget = &srv.server().observer().budget;
    let grown = peak_rss.saturating_sub(before);
    eprintln!(
        "8 clients that never read: READs sent {sent:?}; budget peak {} MiB of {} MiB; RSS grew {} MiB; \
         {} connections closed as stalled",
        budget.peak() >> 20,
        BUDGET >> 20,
        grown >> 20,
        stalled_closed(&srv)
    );
    assert!(sent.iter().sum::<u64>() >= 8 * 32, "the clients asked for less than their outboxes hold");
    assert!(
        budget.peak() as u64 <= BUDGET + OVERSHOOT,
        "the buffers held {} MiB, over the {} MiB budget",
        budget.peak() >> 20,
        BUDGET >> 20
    );
    // The budget, the overshoot, and the allocator's slack (freed buffers it keeps).
    assert!(grown < BUDGET + OVERSHOOT + (48 << 20), "RSS grew {} MiB", grown >> 20);
    assert!(stalled_closed(&srv) >= 1, "no connection holding the used-up budget was closed");
    // With the stalled ones gone, a good client is served.
    let took = good_client_served(addr);
    assert!(budget.used() < budget.limit(), "the budget is still used up after the stalled clients left");
    eprintln!("a good client was served in {took:?} afterwards");
}

#[test]
fn clients_that_start_large_messages_and_stop_wait_for_the_budget() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let addr = srv.server().local_addrs()[0];
    good_client_served(addr);
    let before = rss();
    let payload = vec![0x5Au8; 8 << 20];
    let mut slow: Vec<Raw> = (0..12)
        .map(|i| {
            let mut r = raw_logged_on(addr);
            let fid = r.create(&format!("slow{i}"), CreateDisposition::OVERWRITE_IF).expect("create");
            let req = smb_wire::write::WriteRequest {
                offset: 0,
                file_id: fid,
                data: &payload,
                ..Default::default()
            };
            let frame = r.frame_charged(Command::WRITE, &req, 128);
            // The header and the first MiB of its payload; the rest never comes.
            r.s.write_all(&frame[..(1 << 20) + 200]).unwrap();
            r
        })
        .collect();
    let end = Instant::now() + Duration::from_secs(6);
    let peak_rss = peak_rss_until(|| Instant::now() >= end);
    let budget = &srv.server().observer().budget;
    let grown = peak_rss.saturating_sub(before);
    let starved: u64 = srv.server().observer().reactors.snapshot().iter().map(|r| r.starved).sum();
    eprintln!(
        "12 clients that start 8 MiB WRITEs and stop: budget peak {} MiB of {} MiB; RSS grew {} MiB; \
         {starved} waits for the budget; {} connections closed as stalled",
        budget.peak() >> 20,
        BUDGET >> 20,
        grown >> 20,
        stalled_closed(&srv)
    );
    assert!(budget.peak() as u64 <= BUDGET + OVERSHOOT, "the buffers held {} MiB", budget.peak() >> 20);
    assert!(grown < BUDGET + OVERSHOOT + (48 << 20), "RSS grew {} MiB", grown >> 20);
    assert!(starved >= 1, "no connection waited for the budget: 12 x 8 MiB fitted in 64 MiB?");
    assert!(stalled_closed(&srv) >= 1, "no connection holding the used-up budget was closed");
    good_client_served(addr);
    slow.clear();
}

/// SMB Direct (the loopback RDMA provider: correctness only): an RDMA client that arrives while
/// non-reading TCP clients hold the whole budget waits (its messages are not taken), then, once
/// the stalled connections are closed, writes and reads 16 MiB by RDMA intact.
#[test]
fn an_rdma_client_waits_out_a_used_up_budget_and_finishes() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig { rdma: vec!["10.9.0.1:445".into()], ..config(dir.path()) };
    let fabric = rdma_verbs::loopback::Fabric::new();
    let server =
        server::serve::Server::start_with_rdma(&cfg, Some(std::sync::Arc::new(fabric.clone()))).unwrap();
    let addr = server.local_addrs()[0];
    let threads = greedy_clients(addr);
    let budget = server.observer().budget;
    let full = Instant::now() + Duration::from_secs(30);
    // The peak, not the moment: the stall rule may already be freeing it when this looks.
    while budget.peak() < budget.limit() && Instant::now() < full {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        budget.peak() >= budget.limit(),
        "the greedy clients did not use the budget up: {} of {} bytes used, peak {}",
        budget.used(),
        budget.limit(),
        budget.peak()
    );
    let opts = ClientOptions {
        transport: client::Transport::Rdma(engine::rdma::RdmaSettings::new(std::sync::Arc::new(
            fabric.clone(),
        ))),
        ..ClientOptions::default()
    };
    let t = Instant::now();
    let c =
        Client::connect(server.local_rdma_addrs()[0], "alice", PASS, opts).expect("logon over SMB Direct");
    let tree = c.tree("data").unwrap();
    let data: Vec<u8> = (0..16u32 << 20).map(|i| (i * 13 + i / 65521) as u8).collect();
    let f = tree.open("rdma.bin", client::OpenMode::Write).unwrap();
    assert_eq!(f.write_at(0, &data).unwrap(), data.len());
    let mut back = vec![0u8; data.len()];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
    assert!(back == data, "16 MiB read back over SMB Direct differs");
    let (placed, pulled) = server.rdma_bytes();
    let stats = server.observer().reactors.snapshot();
    let starved: u64 = stats.iter().map(|r| r.starved).sum();
    let stalled: u64 = stats.iter().map(|r| r.stalled_closed).sum();
    eprintln!(
        "SMB Direct client served in {:?} after the budget was used up: {starved} waits, {stalled} stalled \
         connections closed, {placed} bytes placed and {pulled} pulled by RDMA",
        t.elapsed()
    );
    assert!(placed >= data.len() as u64 && pulled >= data.len() as u64, "the data moved by RDMA");
    assert!(starved >= 1 && stalled >= 1, "nothing waited for the used-up budget, or nothing was closed");
    for t in threads {
        t.join().unwrap();
    }
}
