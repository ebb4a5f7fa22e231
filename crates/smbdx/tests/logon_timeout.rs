//! A connection that establishes no session in time is closed (`smbdx serve --logon-timeout`,
//! issue 15): one that sends nothing, and one that trickles a byte now and then (the deadline runs
//! from the connect, so slow bytes do not extend it); a client that logged on stays.

mod common;

use client::{Client, ClientOptions};
use server::config::{ServeConfig, ShareConfig};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const PASS: &str = "Time0ut-Pa55";

fn start(dir: &std::path::Path) -> common::InProcess {
    common::InProcess::start(&ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![ShareConfig::parse(&format!("data={}", dir.display())).unwrap()],
        users: vec![format!("alice:{PASS}")],
        reactors: Some(1),
        logon_timeout_secs: Some(1),
        ..Default::default()
    })
}

#[test]
fn a_silent_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let mut s = TcpStream::connect(srv.server().local_addrs()[0]).unwrap();
    assert!(
        common::closed_within(&mut s, Duration::from_secs(20)),
        "a silent connection outlived its logon timeout"
    );
}

#[test]
fn a_trickling_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let s = TcpStream::connect(srv.server().local_addrs()[0]).unwrap();
    let mut w = s.try_clone().unwrap();
    let started = Instant::now();
    // A Direct TCP frame header announcing 64 KiB, then one byte every 100 ms: never a whole message.
    let trickle = std::thread::spawn(move || {
        let mut sent = 0usize;
        for b in [0u8, 0x01, 0x00, 0x00].into_iter().chain(std::iter::repeat(0xAA)) {
            if w.write_all(&[b]).is_err() || started.elapsed() > Duration::from_secs(20) {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        sent
    });
    let mut r = s;
    assert!(
        common::closed_within(&mut r, Duration::from_secs(20)),
        "a trickling connection outlived its logon timeout"
    );
    let sent = trickle.join().unwrap();
    assert!(sent < 150, "the server took {sent} trickled bytes before closing");
}

#[test]
fn a_logged_on_client_stays_past_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let c = Client::connect(srv.server().local_addrs()[0], "alice", PASS, ClientOptions::default()).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    c.tree("data").expect("the session outlives the logon timeout");
}
