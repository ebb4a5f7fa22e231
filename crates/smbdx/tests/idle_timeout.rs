//! Idle connections are closed (`smbdx serve --idle-timeout`, issue 15), as Windows'
//! AutoDisconnect and Samba's `deadtime` do: a logged-on connection that sends nothing and holds no
//! open file is closed once the timeout passes; one that holds a file open, or that keeps sending
//! (ECHOs, as the Linux client does every 60 s), stays.

mod common;

use common::raw::Raw;
use server::config::{ServeConfig, ShareConfig};
use smb_wire::create::CreateDisposition;
use smb_wire::header::Command;
use smb_wire::status::NtStatus;
use std::time::{Duration, Instant};

const PASS: &str = "Id1e-Pa55";

fn start(dir: &std::path::Path) -> common::InProcess {
    common::InProcess::start(&ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![ShareConfig::parse(&format!("data={}", dir.display())).unwrap()],
        users: vec![format!("alice:{PASS}")],
        reactors: Some(1),
        idle_timeout_secs: Some(1),
        ..Default::default()
    })
}

/// A raw client logged on as alice with the share connected.
fn logged_on(srv: &common::InProcess) -> Raw {
    let mut r = Raw::connect(srv.server().local_addrs()[0]);
    r.negotiate();
    assert_eq!(r.logon("alice", PASS), NtStatus::SUCCESS);
    assert_eq!(r.tree_connect("data"), NtStatus::SUCCESS);
    r
}

#[test]
fn an_idle_session_without_open_files_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let mut r = logged_on(&srv);
    let t = Instant::now();
    assert!(
        common::closed_within(&mut r.s, Duration::from_secs(20)),
        "an idle connection outlived its timeout"
    );
    // Not closed before the timeout: the close came from the idle rule, not from something else.
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the 1 s timeout",
        t.elapsed()
    );
}

#[test]
fn a_connection_holding_an_open_file_stays() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let mut r = logged_on(&srv);
    let f = r.create("held", CreateDisposition::OVERWRITE_IF).expect("CREATE");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(r.close(f), NtStatus::SUCCESS, "the connection holding a file was closed while idle");
    // Its last file closed, the connection is idle from that request on, and goes.
    assert!(common::closed_within(&mut r.s, Duration::from_secs(20)), "idle after its last CLOSE, it stayed");
}

#[test]
fn echoes_keep_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let mut r = logged_on(&srv);
    let until = Instant::now() + Duration::from_millis(3000);
    while Instant::now() < until {
        let (status, _) = r.call(Command::ECHO, &smb_wire::echo::Echo);
        assert_eq!(status, NtStatus::SUCCESS, "an ECHO every 300 ms did not keep the connection");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(r.tree_connect("data"), NtStatus::SUCCESS);
}

/// Every connection asks the timer thread for a wake at its logon and idle deadlines, minutes
/// out; closed connections' wakes must not pile up there (a busy server closes thousands of
/// connections within one idle timeout).
#[test]
fn closed_connections_leave_no_wakes_behind() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::InProcess::start(&ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![ShareConfig::parse(&format!("data={}", dir.path().display())).unwrap()],
        users: vec![format!("alice:{PASS}")],
        reactors: Some(1),
        ..Default::default()
    });
    let addr = srv.server().local_addrs()[0];
    let mut most = 0;
    for _ in 0..3000 {
        let mut r = Raw::connect(addr);
        r.negotiate();
        drop(r);
        most = most.max(srv.server().pending_wakes());
    }
    eprintln!("3000 connections opened and closed: at most {most} wakes pending");
    // Two per live connection (logon deadline, idle check) at a time, plus what the sweep has not
    // reached yet: far below one per connection made.
    assert!(most < 2500, "{most} wakes pending after 3000 short connections");
}
