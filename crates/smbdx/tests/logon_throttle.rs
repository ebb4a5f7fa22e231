//! Logon throttling by source (`smbdx serve --logon-throttle`): a client guessing passwords from
//! 127.0.0.1 is answered late after two failures and refused after four, each step a security event
//! with its own id; the good user on ::1 (another source address) logs on at once throughout, and
//! the guessing source gets in again once its lockout is over.
//!
//! The delays asserted are lower bounds the server must impose (400 ms), not performance figures.

mod common;

use client::{Client, ClientError, ClientOptions};
use server::config::{ServeConfig, ShareConfig};
use server::throttle::{EVENT_LOGON_SLOWED, EVENT_SOURCE_LOCKED_OUT};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PASS: &str = "Thr0ttle-Pa55";
const DELAY: Duration = Duration::from_millis(400);
const LOCKOUT: Duration = Duration::from_secs(3);

struct Rig {
    server: common::InProcess,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig {
            listen: vec!["127.0.0.1:0".into(), "[::1]:0".into()],
            shares: vec![ShareConfig::parse(&format!("data={}", dir.path().display())).unwrap()],
            users: vec![format!("alice:{PASS}")],
            reactors: Some(1),
            logon_throttle: Some(format!("2,{},4,{}", DELAY.as_millis(), LOCKOUT.as_secs())),
            ..Default::default()
        };
        Rig { server: common::InProcess::start(&cfg), _dir: dir }
    }

    fn addr(&self, v6: bool) -> SocketAddr {
        *self.server.server().local_addrs().iter().find(|a| a.is_ipv6() == v6).unwrap()
    }

    /// A logon from the IPv4 (guessing) or IPv6 (good) side, and how long it took.
    fn logon(&self, v6: bool, pass: &str) -> (Result<Client, ClientError>, Duration) {
        let t = Instant::now();
        let r = Client::connect(self.addr(v6), "alice", pass, ClientOptions::default());
        (r, t.elapsed())
    }

    fn event_ids(&self) -> Vec<(Option<u32>, &'static str, String)> {
        let live = self.server.server().live();
        live.recent_events().into_iter().map(|e| (e.id, e.kind, e.client.ip().to_string())).collect()
    }
}

#[test]
fn guessing_is_slowed_then_refused_and_a_good_user_elsewhere_is_not() {
    let rig = Rig::start();
    // Two wrong passwords: answered as usual.
    for _ in 0..2 {
        let (r, _) = rig.logon(false, "wrong");
        assert!(matches!(r, Err(ClientError::LogonFailure { .. })), "{:?}", r.err());
    }
    assert!(rig.event_ids().iter().any(|(id, kind, ip)| *id == Some(EVENT_LOGON_SLOWED)
        && *kind == "logon_slowed"
        && ip == "127.0.0.1"));
    // From now on every logon from that address waits, the right password's too (the delay must
    // not tell a good guess), and failures still count.
    let (r, took) = rig.logon(false, "wrong");
    assert!(matches!(r, Err(ClientError::LogonFailure { .. })), "{:?}", r.err());
    assert!(took >= DELAY, "a throttled failure took {took:?}");
    let (r, took) = rig.logon(false, PASS);
    assert!(r.is_ok(), "the right password still works while slowed: {:?}", r.err());
    assert!(took >= DELAY, "a throttled logon took {took:?}");
    // The good user on another address: no wait, no refusal.
    let (r, _) = rig.logon(true, PASS);
    let good = r.expect("the good user logs on from ::1");
    good.tree("data").unwrap();

    // The fourth failure locks the address out: its next logon, good password or not, is refused
    // (the connection is closed at SESSION_SETUP) and the lockout is an event of its own.
    let (r, _) = rig.logon(false, "wrong");
    assert!(matches!(r, Err(ClientError::LogonFailure { .. })), "{:?}", r.err());
    let locked_at = Instant::now();
    assert!(rig.event_ids().iter().any(|(id, kind, ip)| *id == Some(EVENT_SOURCE_LOCKED_OUT)
        && *kind == "logon_source_locked_out"
        && ip == "127.0.0.1"));
    let (r, _) = rig.logon(false, PASS);
    assert!(r.is_err(), "a locked-out address is refused even with the right password");
    assert!(!matches!(r, Err(ClientError::LogonFailure { .. })), "refused without checking the password");
    let (r, _) = rig.logon(true, PASS);
    assert!(r.is_ok(), "the good user is still unaffected: {:?}", r.err());
    // The operator's /metrics counts both steps under their ids.
    let metrics = admin::metrics::render(&rig.server.server().observer());
    for (kind, id) in
        [("logon_slowed", EVENT_LOGON_SLOWED), ("logon_source_locked_out", EVENT_SOURCE_LOCKED_OUT)]
    {
        let line = format!("smbdx_security_events_total{{kind=\"{kind}\",event_id=\"{id}\"}} 1");
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    // The session that was established before goes on.
    good.tree("data").unwrap();

    // After the lockout the address gets in again (that it starts afresh, with no delay, is the
    // throttle's unit tests' to show on a simulated clock).
    std::thread::sleep(LOCKOUT.saturating_sub(locked_at.elapsed()) + Duration::from_millis(100));
    let (r, _) = rig.logon(false, PASS);
    assert!(r.is_ok(), "{:?}", r.err());
}
