//! Limits that hold under abuse (issue 15), each set small here so a test can cross it:
//! connections per source address and per server (closed at accept, counted, freed on close),
//! sessions per connection (STATUS_REQUEST_NOT_ACCEPTED), opens per session
//! (STATUS_INSUFFICIENT_RESOURCES, nothing created, nothing left open), and a client that sends
//! READs without reading the answers (the server stops reading it: its memory stays bounded and
//! other clients are served).
//!
//! Waits poll a condition until a deadline; no sleep stands for a timing assertion.

mod common;

use client::{Client, ClientOptions};
use common::raw::{hex_bytes, Raw, NTLM_NEGOTIATE};
use server::config::{ServeConfig, ShareConfig};
use server::live::EVENT_CONNECTIONS_REFUSED;
use smb_wire::create::CreateDisposition;
use smb_wire::status::NtStatus;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const PASS: &str = "L1mits-Pa55";

fn config(dir: &Path) -> ServeConfig {
    ServeConfig {
        listen: vec!["127.0.0.1:0".into(), "[::1]:0".into()],
        shares: vec![ShareConfig::parse(&format!("data={}", dir.display())).unwrap()],
        users: vec![format!("alice:{PASS}")],
        reactors: Some(1),
        ..Default::default()
    }
}

fn addr(srv: &common::InProcess, v6: bool) -> SocketAddr {
    *srv.server().local_addrs().iter().find(|a| a.is_ipv6() == v6).unwrap()
}

fn logon(addr: SocketAddr) -> Result<Client, client::ClientError> {
    Client::connect(addr, "alice", PASS, ClientOptions::default())
}

/// Polls `cond` until it holds or `limit` passes.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `s` is still served: an SMB2 NEGOTIATE gets its answer.
fn served(s: TcpStream) -> bool {
    let mut r = Raw { s, mid: 0, session: 0, tree: 0, ask: 1 };
    r.s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let dialects = 0x0302u16.to_le_bytes();
    let neg = smb_wire::negotiate::NegotiateRequest {
        security_mode: 1,
        capabilities: 0,
        client_guid: [9; 16],
        client_start_time: 0,
        dialects: smb_wire::negotiate_context::U16List::new(&dialects, "d").unwrap(),
        contexts: Default::default(),
    };
    r.send(smb_wire::header::Command::NEGOTIATE, &neg).is_ok() && r.recv().is_ok()
}

fn metric(srv: &common::InProcess, line_start: &str) -> Option<String> {
    let m = admin::metrics::render(&srv.server().observer());
    m.lines().find(|l| l.starts_with(line_start)).map(str::to_string)
}

#[test]
fn a_source_over_its_connection_limit_is_closed_at_accept_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let srv =
        common::InProcess::start(&ServeConfig { max_connections_per_source: Some(3), ..config(dir.path()) });
    let v4 = addr(&srv, false);
    // Three from 127.0.0.1: a logged-on client and two bare sockets.
    let c1 = logon(v4).expect("the first connection is admitted");
    let s2 = TcpStream::connect(v4).unwrap();
    let s3 = TcpStream::connect(v4).unwrap();
    assert!(eventually(Duration::from_secs(10), || srv.server().accepted_open() == 3));
    // The fourth is closed before anything is read from it, a logon through it fails too.
    let mut s4 = TcpStream::connect(v4).unwrap();
    assert!(
        common::closed_within(&mut s4, Duration::from_secs(10)),
        "a 4th connection from 127.0.0.1 stayed open"
    );
    assert!(logon(v4).is_err(), "a 4th connection from 127.0.0.1 logged on");
    assert_eq!(srv.server().refused_connections().source_limit, 2);
    // Another address is untouched, and so are the three admitted connections.
    let c6 = logon(addr(&srv, true)).expect("a client on ::1 logs on");
    c6.tree("data").unwrap();
    c1.tree("data").expect("the admitted client still works");
    assert!(served(s3.try_clone().unwrap()), "an admitted bare connection is still served");
    // Counted for the operator: one event for the episode, every refusal in /metrics.
    let events = srv.server().live().recent_events();
    let ours: Vec<_> = events.iter().filter(|e| e.id == Some(EVENT_CONNECTIONS_REFUSED)).collect();
    assert_eq!(ours.len(), 1, "{events:?}");
    assert_eq!((ours[0].kind, ours[0].client.ip().to_string()), ("connections_refused", "127.0.0.1".into()));
    assert_eq!(
        metric(&srv, "smbdx_connections_refused_total{reason=\"source_limit\"}").as_deref(),
        Some("smbdx_connections_refused_total{reason=\"source_limit\"} 2")
    );
    // A connection that closes frees its place.
    drop(s2);
    assert!(
        eventually(Duration::from_secs(10), || srv.server().accepted_open() == 3),
        "the closed connection's place was not given back"
    );
    let again = logon(v4).expect("127.0.0.1 gets a place again once one of its connections closed");
    again.tree("data").unwrap();
    drop(s3);
}

#[test]
fn the_server_limit_counts_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::InProcess::start(&ServeConfig { max_connections: Some(2), ..config(dir.path()) });
    let a = TcpStream::connect(addr(&srv, false)).unwrap();
    let _b = TcpStream::connect(addr(&srv, true)).unwrap();
    assert!(eventually(Duration::from_secs(10), || srv.server().accepted_open() == 2));
    let mut c = TcpStream::connect(addr(&srv, true)).unwrap();
    assert!(
        common::closed_within(&mut c, Duration::from_secs(10)),
        "a 3rd connection to a server of 2 stayed open"
    );
    assert_eq!(srv.server().refused_connections().server_limit, 1);
    assert!(metric(&srv, "smbdx_connections_refused_total{reason=\"server_limit\"} 1").is_some());
    drop(a);
    assert!(eventually(Duration::from_secs(10), || srv.server().accepted_open() == 1));
    logon(addr(&srv, false)).expect("a place is free again").tree("data").unwrap();
}

#[test]
fn sessions_over_the_connection_limit_are_not_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let srv =
        common::InProcess::start(&ServeConfig { max_sessions_per_connection: Some(3), ..config(dir.path()) });
    let mut r = Raw::connect(addr(&srv, false));
    r.negotiate();
    assert_eq!(r.logon("alice", PASS), NtStatus::SUCCESS);
    let established = r.session;
    // Two more sessions, left half-way through their logons: they count as well.
    let mut pending = Vec::new();
    for _ in 0..2 {
        r.session = 0;
        assert_eq!(r.setup(&hex_bytes(NTLM_NEGOTIATE)).0, NtStatus::MORE_PROCESSING_REQUIRED);
        pending.push(r.session);
    }
    // The fourth: refused as Windows refuses one session too many (ERROR_REQ_NOT_ACCEP, "no more
    // connections can be made to this remote computer").
    r.session = 0;
    assert_eq!(r.setup(&hex_bytes(NTLM_NEGOTIATE)).0, NtStatus::REQUEST_NOT_ACCEPTED);
    // The connection and its sessions go on.
    r.session = established;
    assert_eq!(r.tree_connect("data"), NtStatus::SUCCESS);
    // A session that ends (here a logon that fails) frees its place.
    r.session = pending[0];
    assert_eq!(r.setup(b"not an NTLM message").0, NtStatus::LOGON_FAILURE);
    r.session = 0;
    assert_eq!(r.setup(&hex_bytes(NTLM_NEGOTIATE)).0, NtStatus::MORE_PROCESSING_REQUIRED);
    r.session = 0;
    assert_eq!(r.setup(&hex_bytes(NTLM_NEGOTIATE)).0, NtStatus::REQUEST_NOT_ACCEPTED);
    // Another connection has its own sessions.
    logon(addr(&srv, true)).expect("another connection logs on").tree("data").unwrap();
}

/// Descriptors of this process open on something under `dir`.
fn fds_under(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

fn open_files(srv: &common::InProcess) -> u64 {
    let live = srv.server().live();
    live.connections().iter().map(|c| c.open_files.load(std::sync::atomic::Ordering::Relaxed)).sum()
}

#[test]
fn opens_over_the_session_limit_fail_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let srv = common::InProcess::start(&ServeConfig { max_opens_per_session: Some(3), ..config(&root) });
    let mut r = Raw::connect(addr(&srv, false));
    r.negotiate();
    assert_eq!(r.logon("alice", PASS), NtStatus::SUCCESS);
    assert_eq!(r.tree_connect("data"), NtStatus::SUCCESS);
    let ids: Vec<_> = (0..3)
        .map(|i| r.create(&format!("f{i}"), CreateDisposition::CREATE).expect("under the cap"))
        .collect();
    assert_eq!(open_files(&srv), 3);
    // One more: refused before anything is created, and an existing file is not opened either.
    assert_eq!(r.create("f3", CreateDisposition::CREATE), Err(NtStatus::INSUFFICIENT_RESOURCES));
    assert!(!root.join("f3").exists(), "a refused CREATE created the file");
    assert_eq!(r.create("f0", CreateDisposition::OPEN), Err(NtStatus::INSUFFICIENT_RESOURCES));
    assert_eq!(open_files(&srv), 3);
    // Closing one makes room.
    assert_eq!(r.close(ids[1]), NtStatus::SUCCESS);
    r.create("f3", CreateDisposition::CREATE).expect("room after a CLOSE");
    assert!(root.join("f3").exists());
    // The cap is per session: a second session on the same connection has its own.
    let first = (r.session, r.tree);
    assert_eq!(r.logon("alice", PASS), NtStatus::SUCCESS);
    assert_eq!(r.tree_connect("data"), NtStatus::SUCCESS);
    r.create("g0", CreateDisposition::CREATE).expect("another session's first open");
    assert_eq!(open_files(&srv), 4);
    (r.session, r.tree) = first;
    assert_eq!(r.create("f4", CreateDisposition::CREATE), Err(NtStatus::INSUFFICIENT_RESOURCES));
    // The client goes away without closing: every descriptor on the share is released.
    assert!(fds_under(&root) >= 4, "the opens hold descriptors");
    drop(r);
    assert!(
        eventually(Duration::from_secs(10), || fds_under(&root) == 0 && open_files(&srv) == 0),
        "{} descriptors left open under the share",
        fds_under(&root)
    );
    let mut names: Vec<_> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["f0", "f1", "f2", "f3", "g0"]);
}

/// This process's resident size, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// A client that keeps sending 1 MiB READs and never reads an answer: the server answers into the
/// connection's outbox until it holds `max_outbox_bytes` (32 MiB), then stops reading that
/// connection, so the requests back up in the kernel's socket buffers, and the client's writes
/// block. The server's memory grows by a bounded amount however much the client asked for; the
/// reactor it shares with a good client keeps serving that one.
#[test]
fn a_client_that_never_reads_costs_bounded_memory_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i * 7 + i / 4096) as u8).collect();
    std::fs::write(dir.path().join("big"), &data).unwrap();
    let srv = common::InProcess::start(&config(dir.path()));
    let v4 = addr(&srv, false);

    let mut greedy = Raw::connect(v4);
    greedy.negotiate();
    assert_eq!(greedy.logon("alice", PASS), NtStatus::SUCCESS);
    assert_eq!(greedy.tree_connect("data"), NtStatus::SUCCESS);
    greedy.ask = 512;
    let fid = greedy.create("big", CreateDisposition::OPEN).expect("open big");
    greedy.ask = 1;
    // Warm the server's buffers with one READ read back, so the baseline includes what any
    // client's READs cost.
    let one = greedy.read_frame(fid, 1 << 20);
    greedy.s.write_all(&one).unwrap();
    let rsp = greedy.recv().unwrap();
    assert_eq!(smb_wire::Header::parse(&rsp).unwrap().nt_status(), NtStatus::SUCCESS);
    let before = rss();

    // Each READ charges 16 credits and asks 16 back; the server grants them as it answers, in
    // order, so the MessageIds stay valid without reading a single grant.
    // The bound: the outbox (32 MiB) plus one message's answer, the receive buffer (8 MiB and a
    // little), the deferred READs' buffers (32 MiB at most), spare buffers kept for reuse (24
    // MiB), and the allocator's slack: far below the GiBs asked for. Checked as the client sends,
    // so a server that does buffer without bound fails here instead of filling the machine.
    const BOUND: u64 = 160 << 20;
    greedy.s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut sent = 0u64;
    let started = Instant::now();
    let stalled = loop {
        let grown = rss().saturating_sub(before);
        assert!(
            grown < BOUND,
            "RSS grew {} MiB after {sent} READs from a client that reads nothing",
            grown >> 20
        );
        let batch: Vec<u8> = (0..64).flat_map(|_| greedy.read_frame(fid, 1 << 20)).collect();
        match greedy.s.write_all(&batch) {
            Ok(()) => sent += 64,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                break true
            }
            Err(e) => panic!("the greedy connection was closed after {sent} READs: {e}"),
        }
        if started.elapsed() > Duration::from_secs(60) {
            break false;
        }
    };
    let grown = rss().saturating_sub(before);
    eprintln!(
        "greedy client: {sent} READs of 1 MiB sent before its writes blocked; RSS grew {} MiB",
        grown >> 20
    );
    assert!(stalled, "the server kept reading a client that reads nothing ({sent} READs)");
    assert!(sent >= 1024, "only {sent} READs were sent: the test did not ask for more than the bound");
    assert!(grown < BOUND, "RSS grew {} MiB for a client that reads nothing", grown >> 20);

    // The same reactor serves a good client meanwhile.
    let good = logon(v4).expect("a good client logs on while the greedy one is stalled");
    let f = good.tree("data").unwrap().open("big", client::OpenMode::Read).unwrap();
    let mut back = vec![0u8; data.len()];
    let mut at = 0;
    while at < back.len() {
        at += f.read_at(at as u64, &mut back[at..]).unwrap();
    }
    assert!(back == data, "the good client's data came back intact");
    // The greedy connection is stalled, not closed: an answer is there to read.
    greedy.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let rsp = greedy.recv().expect("the stalled connection still answers");
    assert_eq!(smb_wire::Header::parse(&rsp).unwrap().nt_status(), NtStatus::SUCCESS);
    // Gone, it frees its place.
    drop(greedy);
    assert!(eventually(Duration::from_secs(20), || srv.server().live().connections().len() == 1));
}
