//! Shared by the real-client tests: a running `smbdx serve` with its log, and the client helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const USER: &str = "alice";
pub const PASS: &str = "s3cret-Pa55";

pub fn enabled() -> bool {
    if std::env::var("SMBDX_INTEROP").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("interop tests need SMBDX_INTEROP=1 (scripts/test.sh sets it after installing smbclient and smbprotocol)");
    false
}

/// Runs the `smbdx` binary with `pass` as SMBDX_PASSWORD (and no SMBDX_USER from the caller).
pub fn cli_with(args: &[&str], pass: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smbdx"))
        .args(args)
        .env("SMBDX_PASSWORD", pass)
        .env_remove("SMBDX_USER")
        .output()
        .expect("run smbdx")
}

/// A running `smbdx serve` with its log captured.
pub struct Serve {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Serve {
    pub fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smbdx"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--user",
                &format!("{USER}:{PASS}"),
                "--reactors",
                "2",
            ])
            .args(args)
            .env("SMBDX_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn smbdx serve");
        let log = Arc::new(Mutex::new(String::new()));
        let mut reader = BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut port = 0;
        while port == 0 {
            assert!(Instant::now() < deadline, "smbdx serve did not start: {}", log.lock().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("smbdx serve exited: {}", log.lock().unwrap());
            }
            if let Some(i) = line.find("listen=127.0.0.1:") {
                port = line[i + 17..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
            }
            log.lock().unwrap().push_str(&line);
        }
        let l = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut rest = String::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.get_mut().read(&mut buf) {
                if n == 0 {
                    break;
                }
                rest = String::from_utf8_lossy(&buf[..n]).into_owned();
                l.lock().unwrap().push_str(&rest);
            }
            drop(rest);
        });
        Serve { child, port, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn log_tail(&self, n: usize) -> String {
        let l = self.log();
        l[l.len().saturating_sub(n)..].to_string()
    }

    /// SIGTERM, then wait: the server must stop cleanly.
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "smbdx serve exited with {status}; log:\n{}", self.log());
                return;
            }
            assert!(Instant::now() < deadline, "smbdx serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Serve {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would: no shutdown work runs.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL smbdx serve");
        let status = self.child.wait().unwrap();
        assert!(!status.success(), "smbdx serve exited on its own before the kill: {status}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn smbclient(port: u16, share: &str, extra: &[&str], cmds: &str, cwd: &Path) -> (bool, String) {
    let out = Command::new("smbclient")
        .args([&format!("//127.0.0.1/{share}"), "-p", &port.to_string(), "-U", &format!("{USER}%{PASS}")])
        .args(["-m", "SMB3", "--option=client min protocol=SMB2_02"])
        .args(extra)
        .args(["-c", cmds])
        .current_dir(cwd)
        .output()
        .expect("smbclient is installed (apt-get install smbclient)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && !text.contains("NT_STATUS_"), text)
}

pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string()
}

pub fn random_file(path: &Path, mib: usize) {
    let st = Command::new("head")
        .args(["-c", &(mib << 20).to_string(), "/dev/urandom"])
        .stdout(std::fs::File::create(path).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
}

pub fn shares() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let secure = t.path().join("secure");
    let open = t.path().join("open");
    let local = t.path().join("local");
    for d in [&secure, &open, &local] {
        std::fs::create_dir(d).unwrap();
    }
    (t, secure, open, local)
}

pub mod proxy;
pub mod raw;
pub mod samba;

/// A server started in this test's process (`server::serve::Server`), shut down when dropped.
pub struct InProcess(Option<server::serve::Server>);

impl InProcess {
    pub fn start(cfg: &server::config::ServeConfig) -> InProcess {
        InProcess(Some(server::serve::Server::start(cfg).expect("server starts")))
    }

    pub fn server(&self) -> &server::serve::Server {
        self.0.as_ref().expect("running until dropped")
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            let _ = s.shutdown();
        }
    }
}

/// Whether the server closes `s` within `limit` (reads until EOF or a reset; a read that times
/// out means the connection is still open).
pub fn closed_within(s: &mut std::net::TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// xorshift64: deterministic pseudo-random numbers for test data and choices (seed not zero).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Whether the tests run as root (mounting a small file system needs it; CI runs as root).
pub fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}
