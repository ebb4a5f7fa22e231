//! The operator's view (`smbdx serve --admin`, issue 16): a server with the admin view on an
//! ephemeral loopback port, a client that copies a file, then what an operator sees and changes:
//! `/metrics` parsed as Prometheus text with counters that moved by the bytes copied, the JSON API
//! with the session, its user and cipher, the token check for other hosts, and a live share
//! EncryptData change that refuses an SMB 2.1 client with event 1003, done with `smbdx share set`.

use admin::client::AdminClient;
use admin::{AdminServer, Token};
use client::{Client, ClientError, ClientOptions, OpenMode};
use serde_json::Value;
use server::config::{ServeConfig, ShareConfig};
use server::serve::Server;
use smb_wire::negotiate::Dialect;
use std::net::{IpAddr, SocketAddr};

const USER: &str = "alice";
const PASS: &str = "s3cret-Pa55";
const TOKEN: &str = "admin-token-0123456789abcdef";

struct Rig {
    server: Option<Server>,
    admin: Option<AdminServer>,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start(admin_bind: &str, token: Option<&str>) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig {
            listen: vec!["127.0.0.1:0".into()],
            shares: vec![ShareConfig::parse(&format!("data={}", dir.path().display())).unwrap()],
            users: vec![format!("{USER}:{PASS}")],
            reactors: Some(1),
            ..Default::default()
        };
        let server = Server::start(&cfg).expect("server starts");
        let admin = AdminServer::start(
            admin_bind.parse().unwrap(),
            token.map(|t| Token::new(t).unwrap()),
            server.observer(),
        )
        .expect("admin view starts");
        Rig { server: Some(server), admin: Some(admin), _dir: dir }
    }

    fn smb(&self) -> SocketAddr {
        self.server.as_ref().unwrap().local_addrs()[0]
    }

    /// The admin view's address, reached over loopback.
    fn admin(&self) -> SocketAddr {
        let a = self.admin.as_ref().unwrap().local_addr();
        if a.ip().is_unspecified() {
            SocketAddr::new(IpAddr::from([127, 0, 0, 1]), a.port())
        } else {
            a
        }
    }

    fn api(&self) -> AdminClient {
        AdminClient::new(self.admin(), None)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(a) = self.admin.take() {
            a.stop();
        }
        if let Some(s) = self.server.take() {
            let _ = s.shutdown();
        }
    }
}

/// Writes `len` bytes in 64 KiB WRITEs and reads them back in 64 KiB READs.
fn copy_through(c: &Client, name: &str, len: usize) {
    let tree = c.tree("data").unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let f = tree.open(name, OpenMode::Write).unwrap();
    for (i, chunk) in data.chunks(64 << 10).enumerate() {
        f.write_at((i * (64 << 10)) as u64, chunk).unwrap();
    }
    f.close().unwrap();
    let f = tree.open(name, OpenMode::Read).unwrap();
    let mut back = vec![0u8; len];
    let mut at = 0;
    while at < len {
        let end = (at + (64 << 10)).min(len);
        let n = f.read_at(at as u64, &mut back[at..end]).unwrap();
        assert!(n > 0);
        at += n;
    }
    f.close().unwrap();
    assert!(back == data, "the copy came back intact");
}

fn scrape(api: &AdminClient) -> prometheus_parse::Scrape {
    let (status, body) = api.request("GET", "/metrics", None).unwrap();
    assert_eq!(status, 200, "{body}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text parses")
}

/// The sum of a metric's samples whose labels include every `want` pair.
fn sum(s: &prometheus_parse::Scrape, metric: &str, want: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric && want.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[test]
fn metrics_and_the_api_follow_a_copy_and_the_operator_closes_the_session() {
    let rig = Rig::start("127.0.0.1:0", None);
    let api = rig.api();
    let before = scrape(&api);
    let opts = ClientOptions { require_privacy: true, ..ClientOptions::default() };
    let c = Client::connect(rig.smb(), USER, PASS, opts).unwrap();
    const LEN: usize = 1 << 20;
    copy_through(&c, "copied.bin", LEN);

    let after = scrape(&api);
    let grown =
        |metric: &str, labels: &[(&str, &str)]| sum(&after, metric, labels) - sum(&before, metric, labels);
    let tcp_gcm = [("transport", "tcp"), ("cipher", "aes-128-gcm")];
    let write = [&tcp_gcm[..], &[("command", "WRITE")]].concat();
    let read = [&tcp_gcm[..], &[("command", "READ")]].concat();
    assert!(grown("smbdx_request_bytes_total", &write) >= LEN as f64, "WRITE bytes in: {after:?}");
    assert!(grown("smbdx_response_bytes_total", &read) >= LEN as f64, "READ bytes out");
    assert_eq!(grown("smbdx_requests_total", &write), 16.0, "sixteen 64 KiB WRITEs");
    assert_eq!(grown("smbdx_requests_total", &read), 16.0, "sixteen 64 KiB READs");
    let ok_reads = [&read[..], &[("status", "STATUS_SUCCESS")]].concat();
    assert_eq!(grown("smbdx_responses_total", &ok_reads), 16.0);
    assert_eq!(sum(&after, "smbdx_connections", &[("transport", "tcp")]), 1.0);
    assert_eq!(sum(&after, "smbdx_sessions", &[("transport", "tcp")]), 1.0);
    assert!(sum(&after, "smbdx_reactor_messages_total", &[]) > 0.0);
    assert!(after.samples.iter().any(|x| x.metric == "smbdx_reactor_busy_seconds_total"));

    let st = api.status().unwrap();
    let sessions = st["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{st}");
    let s = &sessions[0];
    assert_eq!(s["user"], USER);
    assert_eq!(s["cipher"], "aes-128-gcm");
    assert_eq!(s["dialect"], "3.1.1");
    let ch = &s["channels"][0];
    assert_eq!(ch["transport"], "tcp");
    assert!(
        ch["bytes_in"].as_u64().unwrap() >= LEN as u64 && ch["bytes_out"].as_u64().unwrap() >= LEN as u64
    );
    assert!(st["traffic"]["tcp"]["bytes_in"].as_u64().unwrap() >= LEN as u64);
    assert_eq!(st["settings"]["reject_unencrypted_access"], true);
    assert_eq!(st["shares"][0]["name"], "data");
    assert_eq!(st["shares"][0]["encrypt_data"], false);

    // Open files: counted while open, not after.
    let tree = c.tree("data").unwrap();
    let f = tree.open("copied.bin", OpenMode::Read).unwrap();
    assert_eq!(api.status().unwrap()["sessions"][0]["open_files"], 1);
    assert_eq!(sum(&scrape(&api), "smbdx_open_files", &[("transport", "tcp")]), 1.0);
    f.close().unwrap();
    assert_eq!(api.status().unwrap()["sessions"][0]["open_files"], 0);
    drop(tree);

    // Close-SmbSession: the session's connection goes, and the client notices.
    let id = u64::from_str_radix(s["id"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    api.close_session(id).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !api.status().unwrap()["sessions"].as_array().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the session was not closed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(c.tree("data").is_err(), "the closed session cannot go on");
    assert!(api.close_session(id).is_err(), "a session that is gone cannot be closed");
    // The ended connection's bytes stay counted.
    assert!(sum(&scrape(&api), "smbdx_request_bytes_total", &write) >= LEN as f64);
}

/// An address of this host that is not loopback (the one its default route leaves from), if any.
fn non_loopback_local_ip() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?; // TEST-NET-1: nothing is sent, the route is only looked up
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn other_hosts_need_the_token_and_loopback_does_not() {
    // The rule itself, for any peer address (also where this host has no other address).
    let t = Token::new(TOKEN).unwrap();
    let remote: SocketAddr = "198.51.100.7:50000".parse().unwrap();
    assert_eq!(admin::auth::check(Some(remote), None, None, Some(&t)), admin::auth::Access::NoToken);
    assert_eq!(
        admin::auth::check(Some(remote), Some("Bearer nope"), None, Some(&t)),
        admin::auth::Access::Refused
    );
    assert_eq!(admin::auth::check(Some(remote), None, None, None), admin::auth::Access::Refused);

    let rig = Rig::start("0.0.0.0:0", Some(TOKEN));
    let port = rig.admin().port();
    assert_eq!(rig.api().request("GET", "/api/status", None).unwrap().0, 200, "loopback needs no token");
    let Some(ip) = non_loopback_local_ip() else {
        eprintln!("note: this host has no non-loopback address; the HTTP part of the token check is skipped");
        return;
    };
    // Connecting to the host's own non-loopback address comes from that address: a peer that is not
    // loopback, as another host would be.
    let from_elsewhere = |token: Option<&str>| {
        let c = AdminClient::new(SocketAddr::new(ip, port), token.map(|t| Token::new(t).unwrap()));
        c.request("GET", "/metrics", None).unwrap().0
    };
    assert_eq!(from_elsewhere(None), 401);
    // The page is static (no data in it) and loads anywhere; its script then needs the token.
    let page = AdminClient::new(SocketAddr::new(ip, port), None).request("GET", "/", None).unwrap();
    assert_eq!(page.0, 200);
    assert!(!page.1.contains(USER) && page.1.contains("#token="));
    assert_eq!(from_elsewhere(Some("wrong-token-0123456789")), 403);
    assert_eq!(from_elsewhere(Some(TOKEN)), 200);
    let with = AdminClient::new(SocketAddr::new(ip, port), Some(Token::new(TOKEN).unwrap()));
    assert_eq!(with.status().unwrap()["shares"][0]["name"], "data");
    drop(rig);

    // Without a token file, other hosts get nothing at all.
    let open = Rig::start("0.0.0.0:0", None);
    let c = AdminClient::new(SocketAddr::new(ip, open.admin().port()), Some(Token::new(TOKEN).unwrap()));
    assert_eq!(c.request("GET", "/api/status", None).unwrap().0, 403);
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_smbdx")).args(args).output().expect("run smbdx")
}

#[test]
fn share_set_encrypt_data_refuses_an_smb21_client_with_event_1003() {
    let rig = Rig::start("127.0.0.1:0", None);
    let admin = rig.admin().to_string();
    let smb21 = || ClientOptions { dialects: vec![Dialect::SMB_2_1], ..ClientOptions::default() };

    let c = Client::connect(rig.smb(), USER, PASS, smb21()).unwrap();
    assert_eq!(c.dialect(), Some(Dialect::SMB_2_1));
    let before = c.tree("data").expect("an SMB 2.1 client may connect while EncryptData is off");
    drop(before);

    let out = cli(&["share", "set", "data", "--encrypt-data", "on", "--admin", &admin]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    match c.tree("data") {
        Err(ClientError::AccessDenied { .. }) => {}
        other => panic!("EncryptData is on: an SMB 2.1 client must be refused, got {:?}", other.map(|_| ())),
    }
    // A client that encrypts still gets in.
    let sealed = Client::connect(rig.smb(), USER, PASS, ClientOptions::default()).unwrap();
    assert!(sealed.tree("data").unwrap().encrypted());

    let out = cli(&["status", "--json", "--admin", &admin]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["shares"][0]["encrypt_data"], true);
    let e = st["events"].as_array().unwrap().iter().find(|e| e["id"] == 1003).expect("event 1003 recorded");
    assert_eq!(e["share"], "data");
    assert_eq!(e["client"].as_str().unwrap().split(':').next(), Some("127.0.0.1"));
    let m = scrape(&rig.api());
    assert_eq!(sum(&m, "smbdx_security_events_total", &[("event_id", "1003")]), 1.0);
    assert_eq!(sum(&m, "smbdx_share_encrypt_data", &[("share", "data")]), 1.0);

    let out = cli(&["status", "--admin", &admin]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(USER) && text.contains("unencrypted_access_rejected"),
        "{text}"
    );

    // Off again: the 2.1 client connects again.
    let out = cli(&["share", "set", "data", "--encrypt-data", "off", "--admin", &admin]);
    assert!(out.status.success());
    c.tree("data").expect("EncryptData off again");
    let out = cli(&["share", "set", "nosuch", "--encrypt-data", "on", "--admin", &admin]);
    assert_eq!(out.status.code(), Some(6), "an unknown share is not found");
}

#[test]
fn smb_direct_traffic_is_counted_under_rdma_and_in_the_clear() {
    // With helper threads (WRITEs answered when a helper is done) and without (answered at once).
    for write_threads in [None, Some(0)] {
        smb_direct_traffic_is_counted(write_threads);
    }
}

fn smb_direct_traffic_is_counted(write_threads: Option<usize>) {
    // SMB Direct on the loopback RDMA fabric (correctness only): READ and WRITE data move by RDMA
    // on an unencrypted share, and must still show in the byte counters, under transport "rdma".
    let dir = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        rdma: vec!["10.9.0.1:445".into()],
        shares: vec![ShareConfig::parse(&format!("data={}", dir.path().display())).unwrap()],
        users: vec![format!("{USER}:{PASS}")],
        reactors: Some(1),
        write_threads,
        ..Default::default()
    };
    let fabric = rdma_verbs::loopback::Fabric::new();
    let server = Server::start_with_rdma(&cfg, Some(std::sync::Arc::new(fabric.clone()))).unwrap();
    let admin = AdminServer::start("127.0.0.1:0".parse().unwrap(), None, server.observer()).unwrap();
    let api = AdminClient::new(admin.local_addr(), None);
    let opts = ClientOptions {
        transport: client::Transport::Rdma(engine::rdma::RdmaSettings::new(std::sync::Arc::new(
            fabric.clone(),
        ))),
        // Signed data stays inline (no RDMA transform yet).
        require_signing: false,
        ..ClientOptions::default()
    };
    let c = Client::connect(server.local_rdma_addrs()[0], USER, PASS, opts).unwrap();
    const LEN: usize = 1 << 20;
    copy_through(&c, "direct.bin", LEN);
    let (rdma_write, rdma_read) = server.rdma_bytes();
    assert!(rdma_write >= LEN as u64 && rdma_read >= LEN as u64, "the data moved by RDMA");

    let m = scrape(&api);
    let clear_rdma = [("transport", "rdma"), ("cipher", "none")];
    let write = [&clear_rdma[..], &[("command", "WRITE")]].concat();
    let read = [&clear_rdma[..], &[("command", "READ")]].concat();
    assert!(sum(&m, "smbdx_request_bytes_total", &write) >= LEN as f64, "WRITE data pulled by RDMA READ");
    assert!(sum(&m, "smbdx_response_bytes_total", &read) >= LEN as f64, "READ data pushed by RDMA WRITE");
    assert_eq!(sum(&m, "smbdx_request_bytes_total", &[("transport", "tcp")]), 0.0);
    assert!(sum(&m, "smbdx_rdma_bytes_total", &[("direction", "write")]) >= LEN as f64);
    assert!(sum(&m, "smbdx_rdma_bytes_total", &[("direction", "read")]) >= LEN as f64);
    assert_eq!(sum(&m, "smbdx_connections", &[("transport", "rdma")]), 1.0);
    let st = api.status().unwrap();
    assert_eq!(st["sessions"][0]["channels"][0]["transport"], "rdma", "{st}");
    assert!(st["traffic"]["rdma"]["bytes_out"].as_u64().unwrap() >= LEN as u64);
    drop(c);
    admin.stop();
    server.shutdown().unwrap();
}

#[test]
fn posts_need_json_and_unknown_paths_are_not_found() {
    let rig = Rig::start("127.0.0.1:0", None);
    let api = rig.api();
    assert_eq!(api.request("POST", "/api/shares/data", None).unwrap().0, 415, "no JSON content type");
    let bad = serde_json::json!({ "encrypt_data": "yes" });
    assert_eq!(api.request("POST", "/api/shares/data", Some(&bad)).unwrap().0, 400);
    assert_eq!(api.request("GET", "/etc/passwd", None).unwrap().0, 404);
    assert_eq!(api.request("GET", "/api/shares/data/files", None).unwrap().0, 404, "no file data here");
    assert_eq!(api.request("DELETE", "/api/status", None).unwrap().0, 405);
    // DNS rebinding: a loopback request that names another host gets nothing without the token.
    let mut s = std::net::TcpStream::connect(rig.admin()).unwrap();
    std::io::Write::write_all(&mut s, b"GET /api/status HTTP/1.0\r\nHost: rebound.example:9445\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut s, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 403") || answer.starts_with("HTTP/1.1 403"), "{answer}");
    let (status, page) = api.request("GET", "/", None).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("/api/status") && page.contains("<svg id=\"chart\""));
}

/// `smbdx serve --admin ... --admin-token-file F` and `smbdx status --token-file F`, as an operator
/// runs them: off the loopback the token file is needed at both ends; without it, no start.
#[test]
fn serve_and_status_take_the_token_from_files() {
    use std::io::BufRead;
    let Some(ip) = non_loopback_local_ip() else {
        eprintln!("note: this host has no non-loopback address; the token-file CLI test is skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin.token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let share = format!("data={}", dir.path().display());
    let base = ["serve", "--listen", "127.0.0.1:0", "--share", &share, "--user", "u:p", "--reactors", "1"];

    let refused = cli(&[&base[..], &["--admin", "0.0.0.0:0"]].concat());
    assert_eq!(refused.status.code(), Some(1), "no token file, not loopback: no start");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("admin-token-file"));

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_smbdx"))
        .args(base)
        .args(["--admin", "0.0.0.0:0", "--admin-token-file", token.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("serve printed its admin address").unwrap();
        if let Some(a) = line.strip_prefix("smbdx admin view on http://") {
            break a.trim_end_matches('/').parse::<SocketAddr>().unwrap().port();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let remote = SocketAddr::new(ip, port).to_string();
    let without = cli(&["status", "--admin", &remote]);
    assert_eq!(without.status.code(), Some(5), "refused without the token");
    let with = cli(&["status", "--json", "--admin", &remote, "--token-file", token.to_str().unwrap()]);
    assert!(with.status.success(), "{}", String::from_utf8_lossy(&with.stderr));
    let st: Value = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(st["shares"][0]["name"], "data");
    let _ = child.kill();
    let _ = child.wait();
}
