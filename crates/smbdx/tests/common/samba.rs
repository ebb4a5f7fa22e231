//! A private Samba `smbd` for the client tests: its own config, state and passdb under a tempdir,
//! loopback only, a free port, one share, and a Unix account for the SMB user (Samba maps SMB users
//! onto Unix users, so this needs root, which scripts/test.sh has).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `smb encrypt` of the instance: required, if_required (offered, not required), or off (not
/// offered at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    Required,
    IfRequired,
    Off,
}

impl Encrypt {
    fn conf(self) -> &'static str {
        match self {
            Encrypt::Required => "required",
            Encrypt::IfRequired => "if_required",
            Encrypt::Off => "off",
        }
    }
}

pub const USER: &str = "smbdxtest";
pub const PASS: &str = "Samba-Te5t-pw";

/// The tests need Samba when scripts/test.sh says so (it installs it); elsewhere they say why they
/// did nothing.
pub fn enabled() -> bool {
    if std::env::var("SMBDX_SAMBA").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("Samba client tests need SMBDX_SAMBA=1, root and smbd (scripts/test.sh provides all three)");
    false
}

pub struct Samba {
    child: Child,
    pub port: u16,
    /// The directory behind share `data`.
    pub share: PathBuf,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Samba {
    pub fn start(encrypt: Encrypt) -> Samba {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["private", "lock", "state", "cache", "pid", "log", "share"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let share = d.join("share");
        let port = free_port();
        let p = |s: &str| d.join(s).display().to_string();
        let conf = format!(
            "[global]\n  server role = standalone server\n  smb ports = {port}\n  interfaces = lo\n  \
             bind interfaces only = yes\n  passdb backend = tdbsam:{}\n  private dir = {}\n  lock directory = {}\n  \
             state directory = {}\n  cache directory = {}\n  pid directory = {}\n  ncalrpc dir = {}\n  \
             log file = {}\n  disable spoolss = yes\n  load printers = no\n  printing = bsd\n  printcap name = /dev/null\n  \
             server min protocol = SMB2_02\n  server smb encrypt = {}\n  unix password sync = no\n  map to guest = never\n\
             [data]\n  path = {}\n  read only = no\n  force user = root\n",
            p("private/passdb.tdb"),
            p("private"),
            p("lock"),
            p("state"),
            p("cache"),
            p("pid"),
            p("state/ncalrpc"),
            p("log/%m.log"),
            encrypt.conf(),
            share.display(),
        );
        let conf_path = d.join("smb.conf");
        std::fs::write(&conf_path, conf).unwrap();
        if !Command::new("id").args(["-u", USER]).output().unwrap().status.success() {
            run(Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", USER]));
        }
        let mut pw = Command::new("smbpasswd")
            .args(["-c", &conf_path.display().to_string(), "-s", "-a", USER])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("smbpasswd (apt-get install samba)");
        use std::io::Write;
        pw.stdin.take().unwrap().write_all(format!("{PASS}\n{PASS}\n").as_bytes()).unwrap();
        assert!(pw.wait().unwrap().success(), "smbpasswd failed");
        let child = Command::new("smbd")
            .args(["-F", "--no-process-group", "-s", &conf_path.display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smbd (apt-get install samba)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "smbd did not start; see {}", d.join("log").display());
            std::thread::sleep(Duration::from_millis(100));
        }
        Samba { child, port, share, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("smb://{USER}@127.0.0.1:{}/data/{path}", self.port)
    }

    pub fn logs(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        // smbd forks one child per client: stop them too.
        let _ = Command::new("pkill").args(["-TERM", "-P", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
