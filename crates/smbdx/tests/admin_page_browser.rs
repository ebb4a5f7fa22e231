//! The admin page in a real browser (issue 16): `smbdx serve --admin 127.0.0.1:0` serves it while
//! a client copies files; headless Chromium (Debian's `chromium`) loads the page, lets its script
//! poll the API, and the rendered DOM must show the session with its user and cipher and a TCP
//! throughput above zero. Loaded from this host's non-loopback address, the page shows the session
//! only when the URL's fragment carries the admin token (`#token=...`), and says HTTP 401 without it.
//! A screenshot is saved under target/tmp/ for a person to look at.
//!
//! Skipped, with a note, where `chromium` is not installed (scripts/test.sh installs it).

use client::{Client, ClientOptions, OpenMode};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USER: &str = "pageuser";
const PASS: &str = "page-Pa55word";

fn chromium() -> Option<PathBuf> {
    let name = std::env::var_os("SMBDX_CHROMIUM").unwrap_or_else(|| "chromium".into());
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(&name)).find(|p| p.is_file())
}

/// `smbdx serve` with the admin view; killed on drop.
struct Serve {
    child: std::process::Child,
    smb: SocketAddr,
    admin: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TOKEN: &str = "browser-token-0123456789";

/// An address of this host that is not loopback (the one its default route leaves from), if any.
fn non_loopback_local_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?; // TEST-NET-1: nothing is sent, the route is only looked up
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// `smbdx serve` with the admin view on every address, other hosts with the token in `token_file`.
fn serve(share: &Path, token_file: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smbdx"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0", "--reactors", "1"])
        .arg("--admin-token-file")
        .arg(token_file)
        .arg("--share")
        .arg(format!("data={},users={USER}", share.display()))
        .args(["--user", &format!("{USER}:{PASS}")])
        .env("SMBDX_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn smbdx serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut smb, mut admin) = (None, None);
    let mut log = String::new();
    while smb.is_none() || admin.is_none() {
        let line = lines.next().and_then(Result::ok).unwrap_or_else(|| panic!("smbdx serve ended: {log}"));
        if let Some(i) = line.find("listen=") {
            smb = line[i + 7..].split_whitespace().next().and_then(|a| a.parse().ok());
        }
        if let Some(a) = line.strip_prefix("smbdx admin view on http://") {
            admin = a.trim_end_matches('/').parse().ok();
        }
        log.push_str(&line);
        log.push('\n');
    }
    // Keep reading the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Serve { child, smb: smb.unwrap(), admin: admin.unwrap() }
}

/// Runs chromium headless with `args` on `url`, killed after a minute.
fn run_chromium(bin: &Path, args: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

#[test]
fn the_page_shows_the_session_its_cipher_and_moving_throughput() {
    let Some(chromium) = chromium() else {
        eprintln!("note: chromium is not installed; the browser test of the admin page is skipped (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    let srv = serve(&share, &token_file);

    // A client copying files for as long as the browser looks.
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let copier = {
        let (stop, addr) = (Arc::clone(&stop), srv.smb);
        std::thread::spawn(move || {
            let opts = ClientOptions { require_privacy: true, ..ClientOptions::default() };
            let c = Client::connect(addr, USER, PASS, opts).unwrap();
            let tree = c.tree("data").unwrap();
            let chunk = vec![0x5au8; 256 << 10];
            let _ = ready_tx.send(());
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let f = tree.open("moving.bin", OpenMode::Write).unwrap();
                for i in 0..8u64 {
                    f.write_at(i * chunk.len() as u64, &chunk).unwrap();
                }
                f.close().unwrap();
                rounds += 1;
                // Paced: the copy must go on through the browser's run, not starve it of the CPU.
                std::thread::sleep(Duration::from_millis(5));
            }
            rounds
        })
    };
    ready_rx.recv_timeout(Duration::from_secs(20)).expect("the client logged on");

    let url = format!("http://127.0.0.1:{}/", srv.admin.port());
    // Virtual time runs the page's one-second polling several times (it waits for each fetch).
    let dump = ["--virtual-time-budget=6000".to_string(), "--dump-dom".into()];
    let dom = run_chromium(&chromium, &dump, &url);
    assert!(dom.contains(&format!("<td class=\"users\">{USER}</td>")), "the share's users:\n{dom}");
    // From another host (this host's own non-loopback address): the page passes the token from
    // the URL's fragment to the API; without it the API refuses and the page says so.
    if let Some(ip) = non_loopback_local_ip() {
        let remote = format!("http://{}/", SocketAddr::new(ip, srv.admin.port()));
        let with = run_chromium(&chromium, &dump, &format!("{remote}#token={TOKEN}"));
        assert!(with.contains(&format!("<td class=\"user\">{USER}</td>")), "with the token:\n{with}");
        let without = run_chromium(&chromium, &dump, &remote);
        assert!(!without.contains(&format!("<td class=\"user\">{USER}</td>")), "{without}");
        assert!(without.contains("cannot reach the server: HTTP 401"), "{without}");
    } else {
        eprintln!("note: no non-loopback address; the page is not tried as from another host");
    }
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin-page.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &chromium,
        &[
            "--virtual-time-budget=6000".into(),
            "--window-size=1280,1400".into(),
            "--hide-scrollbars".into(),
            format!("--screenshot={}", shot.display()),
        ],
        &url,
    );
    stop.store(true, Ordering::Relaxed);
    let rounds = copier.join().unwrap();
    assert!(rounds > 0);

    // The session row: user and cipher as rendered by the script (the static HTML has neither).
    let row = dom
        .split("<tr data-session=")
        .nth(1)
        .unwrap_or_else(|| panic!("no session row in the rendered page:\n{dom}"));
    let row = row.split("</tr>").next().unwrap();
    assert!(row.contains(&format!("<td class=\"user\">{USER}</td>")), "{row}");
    assert!(row.contains("<td class=\"cipher\">aes-128-gcm</td>"), "{row}");
    assert!(row.contains("tcp #"), "the channel's transport: {row}");
    // Throughput: the highest TCP rate the script computed from successive polls while the copy
    // ran (the latest alone may fall between two WRITE rounds).
    let peak: f64 = dom
        .split("data-transport=\"tcp\"")
        .nth(1)
        .and_then(|r| r.split("data-peak=\"").nth(1))
        .and_then(|r| r.split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no TCP rate in the page:\n{dom}"));
    assert!(peak > 0.0, "the TCP throughput moved while the client copied");
    assert!(dom.contains("class=\"line-tcp\""), "the chart drew the TCP line");
    assert!(dom.contains("aes-128-gcm, aes-256-gcm"), "the cipher order is shown");
    let png = std::fs::read(&shot).expect("chromium saved a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG at {}", shot.display());
    eprintln!("admin page screenshot: {}", shot.display());
}
