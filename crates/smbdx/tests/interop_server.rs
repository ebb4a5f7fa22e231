//! `smbdx serve` against clients nobody here wrote: Samba's `smbclient` and PyPI's `smbprotocol`.
//!
//! These need the real clients installed; `scripts/test.sh` installs them and sets SMBDX_INTEROP=1 and
//! SMBDX_PYTHON (a venv with smbprotocol). Without SMBDX_INTEROP the tests say so and return; with it,
//! a missing client is a failure.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn smbclient_encrypted_and_plain_file_operations() {
    if !enabled() {
        return;
    }
    let (_t, secure, open, local) = shares();
    let srv = Serve::start(&[
        "--share",
        &format!("secure={},encrypt-data", secure.display()),
        "--share",
        &format!("open={}", open.display()),
    ]);
    random_file(&local.join("big.bin"), 64);
    let want = sha256(&local.join("big.bin"));
    for (share, root, extra) in [
        ("secure", &secure, vec!["--option=client smb encrypt=required"]),
        ("open", &open, vec!["--option=client smb encrypt=off"]),
    ] {
        let (ok, out) = smbclient(
            srv.port,
            share,
            &extra,
            "put big.bin; mkdir d1; rename big.bin d1\\moved.bin; ls; ls d1\\*; allinfo d1\\moved.bin",
            &local,
        );
        assert!(ok, "{share}: smbclient failed:\n{out}\nserver log:\n{}", srv.log());
        assert!(out.contains("moved.bin"), "{share}: listing lacks the file:\n{out}");
        assert_eq!(sha256(&root.join("d1/moved.bin")), want, "{share}: server copy differs");
        let back = local.join(format!("back-{share}.bin"));
        let (ok, out) =
            smbclient(srv.port, share, &extra, &format!("get d1\\moved.bin {}", back.display()), &local);
        assert!(ok, "{share}: get failed:\n{out}");
        assert_eq!(sha256(&back), want, "{share}: downloaded copy differs");
        let (ok, out) = smbclient(srv.port, share, &extra, "rm d1\\moved.bin; rmdir d1; ls", &local);
        assert!(ok, "{share}: cleanup failed:\n{out}");
        assert!(!root.join("d1").exists(), "{share}: rmdir left the directory");
    }
    // A client that does not encrypt is refused on the encrypted share, and the server says so.
    let (ok, out) = smbclient(srv.port, "secure", &["--option=client max protocol=SMB2_10"], "ls", &local);
    assert!(!ok && out.contains("NT_STATUS_ACCESS_DENIED"), "unencrypted client was not refused:\n{out}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(srv.log().contains("event_id=1003"), "no event 1003 logged:\n{}", srv.log());
    srv.stop();
}

fn python() -> String {
    std::env::var("SMBDX_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn suite(port: u16, share: &str, cipher: &str, signing: &str, mode: &str) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/smbprotocol_suite.py");
    let out = Command::new(python())
        .arg(script)
        .args(["127.0.0.1", &port.to_string(), share, USER, PASS, cipher, signing, mode])
        .output()
        .expect("python with smbprotocol (SMBDX_PYTHON)");
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn smbprotocol_every_cipher_and_signing_algorithm() {
    if !enabled() {
        return;
    }
    let (_t, secure, open, _local) = shares();
    let srv = Serve::start(&[
        "--share",
        &format!("secure={},encrypt-data", secure.display()),
        "--share",
        &format!("open={}", open.display()),
    ]);
    for cipher in ["aes-128-gcm", "aes-256-gcm", "aes-128-ccm", "aes-256-ccm"] {
        let (ok, out) = suite(srv.port, "secure", cipher, "aes-gmac", "files");
        assert!(ok, "{cipher}:\n{out}\nserver log:\n{}", srv.log());
    }
    for signing in ["aes-gmac", "aes-cmac"] {
        let (ok, out) = suite(srv.port, "open", "aes-128-gcm", signing, "signed");
        assert!(ok, "{signing} signing:\n{out}\nserver log:\n{}", srv.log());
    }
    let (ok, out) = suite(srv.port, "open", "aes-128-gcm", "aes-gmac", "badpass");
    assert!(ok, "wrong password:\n{out}");
    let (ok, out) = suite(srv.port, "secure", "aes-128-gcm", "aes-gmac", "noencrypt");
    assert!(ok, "unencrypted access:\n{out}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(srv.log().contains("event_id=1003"));
    srv.stop();

    // Server-wide EncryptData: a client limited to SMB 2.1 cannot encrypt and is refused.
    let srv = Serve::start(&["--encrypt-data", "--share", &format!("open={}", open.display())]);
    let (ok, out) = suite(srv.port, "open", "aes-128-gcm", "hmac-sha256", "smb21");
    assert!(ok, "SMB 2.1 against --encrypt-data:\n{out}\nserver log:\n{}", srv.log());
    srv.stop();
}

#[test]
fn path_escapes_are_refused_and_nothing_outside_the_share_is_touched() {
    if !enabled() {
        return;
    }
    let (t, _secure, open, local) = shares();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), b"not for clients").unwrap();
    std::os::unix::fs::symlink(&outside, open.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), open.join("secret-link.txt")).unwrap();
    std::fs::write(local.join("x.txt"), b"payload").unwrap();
    let srv = Serve::start(&["--share", &format!("open={}", open.display())]);
    let attempts = [
        "get link\\secret.txt stolen1.txt",
        "get secret-link.txt stolen2.txt",
        "get ..\\outside\\secret.txt stolen3.txt",
        "put x.txt ..\\outside\\planted.txt",
        "put x.txt link\\planted.txt",
        "cd link; ls",
        "rename secret-link.txt ..\\moved.txt",
    ];
    for cmd in attempts {
        let (ok, out) = smbclient(srv.port, "open", &[], cmd, &local);
        assert!(!ok, "{cmd:?} succeeded:\n{out}");
    }
    // smbclient resolves `..` itself; smbprotocol sends names as given.
    let (ok, out) = suite(srv.port, "open", "aes-128-gcm", "aes-gmac", "escape");
    assert!(ok, "raw escape names:\n{out}\nserver log:\n{}", srv.log());
    for f in ["stolen1.txt", "stolen2.txt", "stolen3.txt"] {
        let p = local.join(f);
        assert!(
            !p.exists() || std::fs::read(&p).unwrap() != b"not for clients",
            "{f} leaked the outside file"
        );
    }
    let names: Vec<_> = std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("secret.txt")],
        "something was created outside the share"
    );
    assert_eq!(std::fs::read(outside.join("secret.txt")).unwrap(), b"not for clients");
    assert!(!t.path().join("planted.txt").exists() && !t.path().join("moved.txt").exists());
    srv.stop();
}
