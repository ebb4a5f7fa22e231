//! The client (library and CLI) against two servers nobody here wrote and one we did: a private
//! Samba `smbd` (encryption required in one instance, not required in another, not offered in a
//! third) and `smbdx serve` (in process), with the same suite for each:
//! - `smbdx cp` both ways of a 64 MiB file, SHA-256 equal on both sides; ls, stat, mkdir, mv, rm
//!   and recursive cp through the CLI, with its exit codes;
//! - every cipher, and AES-GMAC and AES-CMAC signing, through the library;
//! - require-privacy on a share that does not require encryption still encrypts, shown by a relay
//!   on the loopback path that sees only TRANSFORM_HEADER messages after logon;
//! - errors: wrong password, a client without ciphers on an encrypted share, require-privacy
//!   against a server that does not offer encryption, the server gone mid-transfer (no file left
//!   under the target's name).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;

use client::{Cipher, Client, ClientError, ClientOptions, Dialect, OpenMode, SigningAlgorithm};
use common::cli_with;
use common::proxy::Proxy;
use common::samba::{self, Encrypt, Samba};
use server::config::{ServeConfig, ShareConfig};
use server::serve::Server;

/// One server endpoint with one share, as the suite sees it.
struct Endpoint {
    port: u16,
    share: String,
    /// The directory behind the share, to check what landed there.
    dir: PathBuf,
    user: String,
    pass: String,
}

impl Endpoint {
    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn url(&self, path: &str) -> String {
        format!("smb://{}@127.0.0.1:{}/{}/{path}", self.user, self.port, self.share)
    }

    fn connect(&self, opts: ClientOptions) -> Result<Client, ClientError> {
        Client::connect(self.addr(), &self.user, &self.pass, opts)
    }

    /// Runs the CLI with this endpoint's password in the environment.
    fn cli(&self, args: &[&str]) -> Output {
        cli_with(args, &self.pass)
    }
}

fn ok(out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "smbdx failed ({}): {text}", out.status);
    text
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn sha(path: &Path) -> String {
    common::sha256(path)
}

/// smbdx serve in process: share `data` with EncryptData and share `plain` without.
struct Smbdx {
    server: Option<Server>,
    _dir: tempfile::TempDir,
    enc: Endpoint,
    plain: Endpoint,
}

impl Smbdx {
    fn start() -> Smbdx {
        let dir = tempfile::tempdir().unwrap();
        let (data, plain) = (dir.path().join("data"), dir.path().join("plain"));
        std::fs::create_dir(&data).unwrap();
        std::fs::create_dir(&plain).unwrap();
        let cfg = ServeConfig {
            listen: vec!["127.0.0.1:0".into()],
            shares: vec![
                ShareConfig::parse(&format!("data={},encrypt-data", data.display())).unwrap(),
                ShareConfig::parse(&format!("plain={}", plain.display())).unwrap(),
            ],
            users: vec![format!("{}:{}", common::USER, common::PASS)],
            reactors: Some(1),
            ..Default::default()
        };
        let server = Server::start(&cfg).unwrap();
        let port = server.local_addrs()[0].port();
        let ep = |share: &str, dir: PathBuf| Endpoint {
            port,
            share: share.into(),
            dir,
            user: common::USER.into(),
            pass: common::PASS.into(),
        };
        Smbdx { enc: ep("data", data), plain: ep("plain", plain), server: Some(server), _dir: dir }
    }
}

impl Drop for Smbdx {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().unwrap();
        }
    }
}

fn samba_endpoint(s: &Samba) -> Endpoint {
    Endpoint {
        port: s.port,
        share: "data".into(),
        dir: s.share.clone(),
        user: samba::USER.into(),
        pass: samba::PASS.into(),
    }
}

// --- the suite -------------------------------------------------------------------------------------

/// cp of a 64 MiB file up and back down through the CLI, on the encrypted endpoint.
fn cp_round_trip(ep: &Endpoint) {
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("big.bin");
    common::random_file(&src, 64);
    ok(&ep.cli(&["cp", &src.display().to_string(), &ep.url("")]));
    assert_eq!(sha(&ep.dir.join("big.bin")), sha(&src), "the server has the same bytes");
    let back = local.path().join("back.bin");
    ok(&ep.cli(&["cp", &ep.url("big.bin"), &back.display().to_string()]));
    assert_eq!(sha(&back), sha(&src), "downloaded bytes equal");
    assert!(std::fs::read_dir(local.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("partial")));
    ok(&ep.cli(&["rm", &ep.url("big.bin")]));
    assert!(!ep.dir.join("big.bin").exists());
}

/// ls, stat, mkdir, mv, rm and recursive cp through the CLI, and their exit codes.
fn path_commands(ep: &Endpoint) {
    ok(&ep.cli(&["mkdir", &ep.url("d")]));
    assert!(ep.dir.join("d").is_dir());
    assert_eq!(code(&ep.cli(&["mkdir", &ep.url("d")])), 7, "exists");
    let local = tempfile::tempdir().unwrap();
    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("sub/deeper")).unwrap();
    std::fs::write(tree.join("a.txt"), b"alpha").unwrap();
    std::fs::write(tree.join("sub/b.txt"), b"bravo").unwrap();
    std::fs::write(tree.join("sub/deeper/c.txt"), vec![7u8; 300_000]).unwrap();
    ok(&ep.cli(&["cp", "-r", &tree.display().to_string(), &ep.url("d/")]));
    assert_eq!(std::fs::read(ep.dir.join("d/tree/sub/b.txt")).unwrap(), b"bravo");

    let listing = ok(&ep.cli(&["ls", &ep.url("d/tree")]));
    assert!(listing.contains("a.txt") && listing.contains("sub/"), "{listing}");
    let stat = ok(&ep.cli(&["stat", &ep.url("d/tree/sub/deeper/c.txt")]));
    assert!(stat.contains("size: 300000") && stat.contains("type: file"), "{stat}");
    assert_eq!(code(&ep.cli(&["stat", &ep.url("d/nope")])), 6, "not found");

    ok(&ep.cli(&["mv", &ep.url("d/tree/a.txt"), "d/tree/renamed.txt"]));
    assert!(ep.dir.join("d/tree/renamed.txt").exists() && !ep.dir.join("d/tree/a.txt").exists());
    ok(&ep.cli(&["mv", &ep.url("d/tree/renamed.txt"), &ep.url("d/moved.txt")]));
    assert_eq!(std::fs::read(ep.dir.join("d/moved.txt")).unwrap(), b"alpha");

    let down = local.path().join("down");
    ok(&ep.cli(&["cp", "-r", "-q", &ep.url("d/tree"), &down.display().to_string()]));
    assert_eq!(std::fs::read(down.join("sub/deeper/c.txt")).unwrap(), vec![7u8; 300_000]);
    assert_eq!(std::fs::read(down.join("sub/b.txt")).unwrap(), b"bravo");

    assert_eq!(code(&ep.cli(&["rm", &ep.url("d/tree")])), 2, "a directory needs -r or -d");
    assert_eq!(code(&ep.cli(&["rm", "-d", &ep.url("d/tree")])), 7, "not empty");
    ok(&ep.cli(&["rm", "-r", &ep.url("d")]));
    assert!(!ep.dir.join("d").exists());
    assert_eq!(code(&ep.cli(&["rm", &ep.url("d")])), 6);
}

/// Every cipher on the encrypted endpoint: write, read back, compare, and the cipher really used.
fn each_cipher(ep: &Endpoint) {
    let data: Vec<u8> = (0..(4 << 20)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for c in Cipher::ALL {
        let client = ep.connect(ClientOptions { ciphers: vec![c], ..ClientOptions::default() }).unwrap();
        assert_eq!(client.cipher(), Some(c));
        let tree = client.tree(&ep.share).unwrap();
        assert!(tree.encrypted());
        let name = format!("cipher-{}.bin", c.name());
        let f = tree.open(&name, OpenMode::Write).unwrap();
        f.write_at(0, &data).unwrap();
        f.close().unwrap();
        let f = tree.open(&name, OpenMode::Read).unwrap();
        let mut back = vec![0u8; data.len()];
        assert_eq!(f.read_at(0, &mut back).unwrap(), data.len());
        assert!(back == data, "{c}: read back differs");
        f.close().unwrap();
        tree.remove_file(&name).unwrap();
    }
}

/// AES-GMAC and AES-CMAC signing on the plain endpoint, without encryption.
fn each_signing(ep: &Endpoint) {
    for alg in [SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac] {
        let opts = ClientOptions { ciphers: vec![], signing: vec![alg], ..ClientOptions::default() };
        let client = ep.connect(opts).unwrap();
        assert_eq!(client.signing(), Some(alg));
        assert!(!client.session_encrypted());
        let tree = client.tree(&ep.share).unwrap();
        let name = format!("signed-{}.bin", alg.name());
        let f = tree.open(&name, OpenMode::Write).unwrap();
        f.write_at(0, &[0x5a; 100_000]).unwrap();
        f.close().unwrap();
        let f = tree.open(&name, OpenMode::Read).unwrap();
        let mut back = vec![0u8; 100_000];
        assert_eq!(f.read_at(0, &mut back).unwrap(), 100_000);
        assert!(back.iter().all(|&b| b == 0x5a));
        f.close().unwrap();
        assert!(tree.list("").unwrap().iter().any(|e| e.name == name));
        assert_eq!(tree.stat(&name).unwrap().size, 100_000);
        tree.remove_file(&name).unwrap();
    }
}

/// 3.1.1, 3.0.2 and 3.0 each on their own (the two older ones confirmed by
/// VALIDATE_NEGOTIATE_INFO before the first tree is handed out), encrypted where the share says.
fn each_dialect(ep: &Endpoint) {
    for d in [Dialect::SMB_3_1_1, Dialect::SMB_3_0_2, Dialect::SMB_3_0] {
        let client = ep.connect(ClientOptions { dialects: vec![d], ..ClientOptions::default() }).unwrap();
        assert_eq!(client.dialect(), Some(d));
        let tree = client.tree(&ep.share).unwrap();
        let name = format!("dialect-{:x}.txt", d.0);
        let f = tree.open(&name, OpenMode::Write).unwrap();
        f.write_at(0, name.as_bytes()).unwrap();
        f.close().unwrap();
        assert_eq!(std::fs::read(ep.dir.join(&name)).unwrap(), name.as_bytes());
        tree.remove_file(&name).unwrap();
    }
}

const TRANSFORM: [u8; 4] = [0xFD, b'S', b'M', b'B'];
const SESSION_SETUP: u16 = 1;

/// Everything after the last SESSION_SETUP message, in both directions.
fn after_logon(seen: &[common::proxy::Seen]) -> Vec<common::proxy::Seen> {
    let last = seen.iter().rposition(|s| s.command == Some(SESSION_SETUP)).expect("logon seen");
    seen[last + 1..].to_vec()
}

/// The plain endpoint through a recording relay: with require-privacy every message after logon
/// is a transform; without it (and without ciphers) none is, so the check can tell.
fn require_privacy_encrypts(ep: &Endpoint) {
    for privacy in [true, false] {
        let proxy = Proxy::start(ep.addr(), None);
        let opts = if privacy {
            ClientOptions { require_privacy: true, ..ClientOptions::default() }
        } else {
            ClientOptions { ciphers: vec![], ..ClientOptions::default() }
        };
        let client = Client::connect(proxy.addr, &ep.user, &ep.pass, opts).unwrap();
        assert_eq!(client.session_encrypted(), privacy);
        let tree = client.tree(&ep.share).unwrap();
        let f = tree.open("private.txt", OpenMode::Write).unwrap();
        f.write_at(0, b"for your eyes only").unwrap();
        f.close().unwrap();
        tree.remove_file("private.txt").unwrap();
        drop(tree);
        client.logoff().unwrap();
        let after = after_logon(&proxy.seen());
        assert!(after.len() >= 10, "{after:?}");
        let sealed = after.iter().filter(|s| s.protocol == TRANSFORM).count();
        if privacy {
            assert_eq!(sealed, after.len(), "require-privacy: every message sealed: {after:?}");
        } else {
            assert_eq!(sealed, 0, "plain session: nothing sealed: {after:?}");
        }
    }
}

fn wrong_password_and_no_cipher(enc: &Endpoint) {
    let out = cli_with(&["ls", &enc.url("")], "not-the-password");
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("logon failure"));
    let out = enc.cli(&["ls", &enc.url(""), "--ciphers", "none"]);
    assert_eq!(code(&out), 5, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("access denied"));
}

/// The server vanishes mid-transfer (a relay cuts the connection after 20 MB): a clear error,
/// and no file under the target's name on either side.
fn server_gone_mid_transfer(ep: &Endpoint) {
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("big.bin");
    common::random_file(&src, 48);
    std::fs::copy(&src, ep.dir.join("cut.bin")).unwrap();
    let proxy = Proxy::start(ep.addr(), Some(20 << 20));
    let url = format!("smb://{}@127.0.0.1:{}/{}/", ep.user, proxy.addr.port(), ep.share);
    let dst = local.path().join("down.bin");
    let out = ep.cli(&["cp", &format!("{url}cut.bin"), &dst.display().to_string(), "--timeout", "10"]);
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("connection closed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(local.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("big.bin")], "no partial download left: {left:?}");

    let proxy = Proxy::start(ep.addr(), Some(20 << 20));
    let url = format!("smb://{}@127.0.0.1:{}/{}/", ep.user, proxy.addr.port(), ep.share);
    let out = ep.cli(&["cp", &src.display().to_string(), &format!("{url}up.bin"), "--timeout", "10"]);
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!ep.dir.join("up.bin").exists(), "no upload under the target's name");
    std::fs::remove_file(ep.dir.join("cut.bin")).unwrap();
    let _ = std::fs::remove_file(ep.dir.join("up.bin.smbdx-partial"));
}

// --- against smbdx serve ---------------------------------------------------------------------------

#[test]
fn smbdx_cp_round_trip_and_path_commands() {
    let s = Smbdx::start();
    cp_round_trip(&s.enc);
    path_commands(&s.plain);
}

#[test]
fn smbdx_each_cipher_and_signing() {
    let s = Smbdx::start();
    each_cipher(&s.enc);
    each_signing(&s.plain);
    each_dialect(&s.enc);
}

#[test]
fn smbdx_require_privacy_encrypts_on_a_plain_share() {
    let s = Smbdx::start();
    require_privacy_encrypts(&s.plain);
}

#[test]
fn smbdx_errors() {
    let s = Smbdx::start();
    wrong_password_and_no_cipher(&s.enc);
    server_gone_mid_transfer(&s.plain);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = cli_with(&["ls", &format!("smb://u@127.0.0.1:{port}/x")], "p");
    assert_eq!(code(&out), 3, "connection refused: {}", String::from_utf8_lossy(&out.stderr));
}

// --- against Samba ---------------------------------------------------------------------------------

#[test]
fn samba_cp_round_trip_and_path_commands() {
    if !samba::enabled() {
        return;
    }
    let enc = Samba::start(Encrypt::Required);
    cp_round_trip(&samba_endpoint(&enc));
    let plain = Samba::start(Encrypt::IfRequired);
    path_commands(&samba_endpoint(&plain));
}

#[test]
fn samba_each_cipher_and_signing() {
    if !samba::enabled() {
        return;
    }
    let enc = Samba::start(Encrypt::Required);
    each_cipher(&samba_endpoint(&enc));
    each_dialect(&samba_endpoint(&enc));
    let plain = Samba::start(Encrypt::IfRequired);
    each_signing(&samba_endpoint(&plain));
    each_dialect(&samba_endpoint(&plain));
}

#[test]
fn samba_require_privacy_encrypts_where_encryption_is_not_required() {
    if !samba::enabled() {
        return;
    }
    let plain = Samba::start(Encrypt::IfRequired);
    require_privacy_encrypts(&samba_endpoint(&plain));
}

#[test]
fn samba_errors() {
    if !samba::enabled() {
        return;
    }
    let enc = Samba::start(Encrypt::Required);
    wrong_password_and_no_cipher(&samba_endpoint(&enc));
    let plain = Samba::start(Encrypt::IfRequired);
    server_gone_mid_transfer(&samba_endpoint(&plain));
    // A server that does not offer encryption at all: require-privacy refuses it.
    let off = Samba::start(Encrypt::Off);
    let ep = samba_endpoint(&off);
    let out = ep.cli(&["ls", &ep.url(""), "--require-privacy"]);
    assert_eq!(code(&out), 8, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("privacy required"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = off.logs();
}
