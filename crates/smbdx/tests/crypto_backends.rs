//! The crypto library is a setting (`crypto_backend`, `--crypto-backend`, SMBDX_CRYPTO_BACKEND): every
//! library seals, opens and signs whole SMB sessions against every other, server and client each
//! forced to one; a value naming no library is refused at start; `smbdx bench crypto` shows every
//! library, the one `auto` chose, and the AES-CTR row of the same run.

mod common;

use client::{Client, ClientOptions, OpenMode};
use server::config::{ServeConfig, ShareConfig};
use smb_crypto::{Backend, Cipher, SigningAlgorithm};

const PASS: &str = "Crypt0-Libs";

/// Pseudo-random bytes, so a keystream or block mix-up cannot pass.
fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut r = common::Rng(seed | 1);
    (0..len).map(|_| r.next() as u8).collect()
}

/// Writes and reads back, through share `share`, pieces of 4 KiB to 1 MiB; checks what is on disk.
fn round_trip(client: &Client, share: &str, dir: &std::path::Path, seed: u64) {
    let tree = client.tree(share).unwrap();
    let name = format!("f{seed}.bin");
    let f = tree.open(&name, OpenMode::Write).unwrap();
    let mut expect = Vec::new();
    for (i, len) in [4096usize, 65536, 1 << 20, 12345].into_iter().enumerate() {
        let piece = data(seed + i as u64, len);
        f.write_at(expect.len() as u64, &piece).unwrap();
        expect.extend_from_slice(&piece);
    }
    let mut got = vec![0u8; expect.len()];
    let mut off = 0;
    while off < got.len() {
        let n = f.read_at(off as u64, &mut got[off..(off + (1 << 20)).min(expect.len())]).unwrap();
        assert!(n > 0, "short read at {off}");
        off += n;
    }
    f.close().unwrap();
    assert!(got == expect, "read back differs ({share}, seed {seed})");
    assert!(std::fs::read(dir.join(share).join(&name)).unwrap() == expect, "disk differs");
}

#[test]
fn every_library_talks_to_every_other_sealed_and_signed() {
    let dir = tempfile::tempdir().unwrap();
    for d in ["sealed", "signed"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    let p = dir.path().display();
    let pairs = [
        (Backend::Ring, Backend::RustCrypto),
        (Backend::RustCrypto, Backend::Ring),
        (Backend::AwsLc, Backend::Ring),
        (Backend::Ring, Backend::AwsLc),
        (Backend::Auto, Backend::RustCrypto),
    ];
    for (seed, (srv, cli)) in pairs.into_iter().enumerate() {
        let cfg = ServeConfig {
            listen: vec!["127.0.0.1:0".into()],
            shares: vec![
                ShareConfig::parse(&format!("sealed={p}/sealed,encrypt-data")).unwrap(),
                ShareConfig::parse(&format!("signed={p}/signed")).unwrap(),
            ],
            users: vec![format!("alice:{PASS}")],
            crypto_backend: Some(srv.name().into()),
            require_signing: true,
            reactors: Some(1),
            ..Default::default()
        };
        let server = common::InProcess::start(&cfg);
        let crypto = &server.server().live().settings.crypto;
        assert!(crypto.contains(&("backend".into(), srv.name().into())), "{crypto:?}");
        assert!(crypto.contains(&("aes-256-gcm".into(), srv.aead_impl(Cipher::Aes256Gcm).name().into())));
        let addr = server.server().local_addrs()[0];
        for cipher in [Cipher::Aes256Gcm, Cipher::Aes128Gcm] {
            let opts =
                ClientOptions { crypto_backend: cli, ciphers: vec![cipher], ..ClientOptions::default() };
            let c = Client::connect(addr, "alice", PASS, opts).unwrap();
            round_trip(&c, "sealed", dir.path(), seed as u64 * 10 + cipher.id() as u64);
        }
        // No cipher offered: the plain share's traffic is signed, with GMAC.
        let opts = ClientOptions {
            crypto_backend: cli,
            ciphers: vec![],
            signing: vec![SigningAlgorithm::AesGmac],
            ..ClientOptions::default()
        };
        let c = Client::connect(addr, "alice", PASS, opts).unwrap();
        round_trip(&c, "signed", dir.path(), seed as u64 * 10 + 9);
    }
}

#[test]
fn a_backend_that_names_no_library_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let share = format!("d={}", dir.path().display());
    let serve = |flag: &[&str], env: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_smbdx"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--share", &share, "--user", "a:b"]).args(flag);
        match env {
            Some(v) => cmd.env("SMBDX_CRYPTO_BACKEND", v),
            None => cmd.env_remove("SMBDX_CRYPTO_BACKEND"),
        };
        cmd.output().unwrap()
    };
    let out = serve(&["--crypto-backend", "openssl"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("openssl"), "{out:?}");
    let out = serve(&[], Some("openssl"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SMBDX_CRYPTO_BACKEND"), "{out:?}");
    let out = common::cli_with(&["ls", "smb://a@127.0.0.1:1/d", "--crypto-backend", "rot13"], "b");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn bench_crypto_shows_every_library_the_choice_and_the_ctr_row() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smbdx"))
        .args(["bench", "crypto", "--json", "--sizes", "64k", "--windows", "1", "--window-ms", "5"])
        .args(["--ciphers", "aes-128-gcm,aes-128-ccm"])
        .env_remove("SMBDX_CRYPTO_BACKEND")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let has = |op: &str, cipher: &str, backend: &str| {
        rows.iter().any(|r| r["op"] == op && r["cipher"] == cipher && r["backend"] == backend)
    };
    for lib in ["aws-lc-rs", "ring", "rustcrypto"] {
        assert!(has("seal", "aes-128-gcm", lib) && has("open", "aes-128-gcm", lib), "{lib}: {rows:?}");
        assert!(has("sign", "aes-gmac", lib), "{lib}: {rows:?}");
    }
    // No library is credited with a primitive it lacks.
    assert!(!has("seal", "aes-128-ccm", "ring") && !has("seal", "aes-128-ccm", "aws-lc-rs"));
    assert!(!has("sign", "aes-cmac", "ring"));
    assert!(has("ctr", "aes-128-ctr", "aws-lc-rs"), "{rows:?}");
    let chosen: Vec<_> = rows.iter().filter(|r| r["op"] == "seal" && r["chosen"] == true).collect();
    assert_eq!(chosen.len(), 2, "one chosen library per cipher: {chosen:?}");
    for r in chosen {
        let v = r["vs_fastest"].as_f64().unwrap();
        assert!(v > 0.0 && v <= 1.0, "{r}");
    }
    let choice = rows.iter().find(|r| r["op"] == "auto").expect("the choice row");
    assert!(choice["choice"].as_str().unwrap().contains("aes-gmac: "), "{choice}");
}
