//! Credits (`smbdx serve --max-credits`, issue 15): granted up to the limit however many a
//! client asks for; a MessageId beyond them closes the connection (MS-SMB2 3.3.5.2.3); the library
//! client sizes its I/O to a small window. In its own test binary: `limits.rs` measures the
//! process's RSS, which this test's servers and buffers would disturb.

mod common;

use client::{Client, ClientOptions};
use common::raw::Raw;
use server::config::{ServeConfig, ShareConfig};
use smb_wire::status::NtStatus;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const PASS: &str = "Cred1ts-Pa55";

fn config(dir: &Path, max_credits: u16) -> ServeConfig {
    ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![ShareConfig::parse(&format!("data={}", dir.display())).unwrap()],
        users: vec![format!("alice:{PASS}")],
        reactors: Some(1),
        max_credits: Some(max_credits),
        ..Default::default()
    }
}

fn addr(srv: &common::InProcess) -> SocketAddr {
    srv.server().local_addrs()[0]
}
#[test]
fn credits_stop_at_the_limit_and_an_id_beyond_them_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::InProcess::start(&config(dir.path(), 128));
    let mut r = Raw::connect(addr(&srv));
    // Asks for 1000 credits with every request.
    r.ask = 1000;
    r.negotiate();
    assert_eq!(r.logon("alice", PASS), NtStatus::SUCCESS);
    for _ in 0..4 {
        let (status, m) = r.call(smb_wire::header::Command::ECHO, &smb_wire::echo::Echo);
        assert_eq!(status, NtStatus::SUCCESS);
        let granted = smb_wire::header::Header::parse(&m).unwrap().credits;
        assert!(granted <= 128, "granted {granted} credits at once, over the limit of 128");
    }
    // Every request answered, the client holds the 128 credits of the limit: ids mid..mid+128.
    // The last of them (sent out of order) is served; the one after it is not granted.
    let base = r.mid;
    r.mid = base + 127;
    let (status, _) = r.call(smb_wire::header::Command::ECHO, &smb_wire::echo::Echo);
    assert_eq!(status, NtStatus::SUCCESS, "the 128th credit of the window was not honoured");
    r.mid = base + 128;
    r.send(smb_wire::header::Command::ECHO, &smb_wire::echo::Echo).unwrap();
    assert!(
        common::closed_within(&mut r.s, Duration::from_secs(20)),
        "a MessageId beyond the 128 credits granted was served"
    );
    // A library client works within the smallest window allowed: a 1 MiB request costs 16 credits,
    // so eight are in flight at most, and 16 MiB comes back intact.
    let c = Client::connect(addr(&srv), "alice", PASS, ClientOptions::default()).expect("logon");
    let t = c.tree("data").unwrap();
    let data: Vec<u8> = (0..(16u32 << 20)).map(|i| (i * 31 + i / 7919) as u8).collect();
    let f = t.open("credits.bin", client::OpenMode::Write).unwrap();
    assert_eq!(f.write_at(0, &data).unwrap(), data.len());
    let mut back = vec![0u8; data.len()];
    assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
    assert!(back == data, "16 MiB read back under a 128-credit window differs");
}
