//! The deployment files in `deploy/`: the sample `smbdx.toml` is a configuration `smbdx serve`
//! accepts and serves with (its placeholder account logs on with the password its comment names, a
//! wrong one is refused), and the systemd unit starts the binary with that file's install path.
//! (`scripts/test.sh` also runs `systemd-analyze verify` and `security` on the unit.)

use std::path::PathBuf;

use client::{Client, ClientError, ClientOptions, OpenMode};
use server::config::ServeConfig;
use server::serve::Server;

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy").join(file)
}

#[test]
fn the_sample_config_serves_files_to_its_placeholder_account() {
    let mut cfg = ServeConfig::from_file(&deploy("smbdx.toml")).expect("deploy/smbdx.toml parses");
    assert_eq!(cfg.listen, ["0.0.0.0:445"]);
    assert_eq!(cfg.users.len(), 1, "one placeholder account");
    assert_eq!(cfg.shares.len(), 1);
    assert_eq!(cfg.shares[0].name, "data");
    assert_eq!(cfg.shares[0].path, PathBuf::from("/srv/smbdx/data"), "under the unit's ReadWritePaths");
    // What a test may not do here: bind 445 or write /srv. Everything else as the file says.
    let dir = tempfile::tempdir().unwrap();
    cfg.listen = vec!["127.0.0.1:0".into()];
    cfg.shares[0].path = dir.path().to_path_buf();
    let server = Server::start(&cfg).expect("the sample config starts a server");
    let addr = server.local_addrs()[0];

    let c = Client::connect(addr, "smbuser", "change-me", ClientOptions::default())
        .expect("the placeholder account's password is the one the comment names");
    let tree = c.tree("data").unwrap();
    let f = tree.open("hello.txt", OpenMode::Write).unwrap();
    f.write_at(0, b"served by the sample configuration").unwrap();
    f.close().unwrap();
    drop((tree, c));
    assert_eq!(std::fs::read(dir.path().join("hello.txt")).unwrap(), b"served by the sample configuration");

    match Client::connect(addr, "smbuser", "not-change-me", ClientOptions::default()) {
        Err(ClientError::LogonFailure { .. }) => {}
        other => panic!("a wrong password must fail to log on: {:?}", other.map(|_| ())),
    }
    server.shutdown().unwrap();
}

#[test]
fn the_unit_runs_serve_with_the_sample_configs_install_path() {
    let unit = std::fs::read_to_string(deploy("smbdx.service")).unwrap();
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart line");
    assert!(exec.starts_with("/usr/local/bin/smbdx serve --config /etc/smbdx/smbdx.toml"), "{exec}");
    // The share the sample names is writable in the sandbox, and nothing else is.
    assert!(unit.lines().any(|l| l == "ReadWritePaths=/srv/smbdx"));
    assert!(unit.lines().any(|l| l == "ProtectSystem=strict"));
}
