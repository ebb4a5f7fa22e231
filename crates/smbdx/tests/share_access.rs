//! Who may use a share, and what a read-only share refuses (`--share NAME=PATH,users=A+B,read-only`):
//! a server with three shares and two users, the client library as each user, and the directories on
//! disk checked after every refusal (a denied change leaves them as they were).

mod common;

use client::{Client, ClientError, ClientOptions, OpenMode};
use server::config::{ServeConfig, ShareConfig};
use std::path::Path;

const PASS: &str = "Share-Acc3ss";

struct Rig {
    server: common::InProcess,
    dir: tempfile::TempDir,
}

impl Rig {
    /// Shares: `open` (everyone), `private` (alice only), `ro` (alice and bob, read-only, holding
    /// `kept.txt` and the directory `keep`).
    fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        for d in ["open", "private", "ro", "ro/keep"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("ro/kept.txt"), b"as it was").unwrap();
        let share = |spec: String| ShareConfig::parse(&spec).unwrap();
        let p = dir.path().display();
        let cfg = ServeConfig {
            listen: vec!["127.0.0.1:0".into()],
            shares: vec![
                share(format!("open={p}/open")),
                share(format!("private={p}/private,users=alice")),
                share(format!("ro={p}/ro,read-only,users=alice+BOB")),
            ],
            users: vec![format!("alice:{PASS}"), format!("bob:{PASS}"), format!("carol:{PASS}")],
            reactors: Some(1),
            ..Default::default()
        };
        Rig { server: common::InProcess::start(&cfg), dir }
    }

    fn login(&self, user: &str) -> Client {
        let addr = self.server.server().local_addrs()[0];
        Client::connect(addr, user, PASS, ClientOptions::default()).unwrap()
    }

    fn on_disk(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }
}

fn denied<T>(r: Result<T, ClientError>, what: &str) {
    match r {
        Err(ClientError::AccessDenied { .. }) => {}
        Err(e) => panic!("{what}: {e:?}, not access denied"),
        Ok(_) => panic!("{what}: allowed"),
    }
}

/// Names in a directory on disk, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_share_with_users_admits_only_them() {
    let rig = Rig::start();
    let bob = rig.login("bob");
    denied(bob.tree("private"), "bob on alice's share");
    // The refusal costs nothing else: the connection and the session go on.
    let open = bob.tree("open").unwrap();
    let f = open.open("bob.txt", OpenMode::Write).unwrap();
    f.write_at(0, b"bob was here").unwrap();
    f.close().unwrap();
    assert_eq!(std::fs::read(rig.on_disk("open/bob.txt")).unwrap(), b"bob was here");

    let alice = rig.login("alice");
    let private = alice.tree("private").unwrap();
    let f = private.open("alice.txt", OpenMode::Write).unwrap();
    f.write_at(0, b"alice only").unwrap();
    f.close().unwrap();
    assert_eq!(std::fs::read(rig.on_disk("private/alice.txt")).unwrap(), b"alice only");

    // Names compare without regard to case (the list says BOB); a user not listed gets nowhere.
    bob.tree("ro").unwrap();
    denied(rig.login("carol").tree("ro"), "carol on a share for alice and bob");

    let events = rig.server.server().live().recent_events();
    let refusals: Vec<_> = events.iter().filter(|e| e.kind == "share_access_denied").collect();
    assert_eq!(refusals.len(), 2, "{events:?}");
    assert_eq!(refusals[0].user.as_deref(), Some("bob"));
    assert_eq!(refusals[0].share.as_deref(), Some("private"));
    assert_eq!(refusals[1].user.as_deref(), Some("carol"));
}

#[test]
fn a_read_only_share_refuses_every_change_and_keeps_its_files() {
    let rig = Rig::start();
    let alice = rig.login("alice");
    let ro = alice.tree("ro").unwrap();
    let before = listing(&rig.on_disk("ro"));

    denied(ro.open("new.txt", OpenMode::Write), "create a file");
    denied(ro.open("new.txt", OpenMode::CreateNew), "create a new file");
    denied(ro.open("kept.txt", OpenMode::Write), "overwrite (truncate) a file");
    denied(ro.open("kept.txt", OpenMode::ReadWrite), "open a file for writing");
    denied(ro.mkdir("made"), "make a directory");
    denied(ro.remove_file("kept.txt"), "delete a file");
    denied(ro.remove_dir("keep"), "delete a directory");
    denied(ro.rename("kept.txt", "moved.txt", false), "rename a file");

    assert_eq!(listing(&rig.on_disk("ro")), before, "nothing created, deleted or renamed");
    assert_eq!(std::fs::read(rig.on_disk("ro/kept.txt")).unwrap(), b"as it was", "the file is unchanged");
    // Reading is what the share is for.
    let f = ro.open("kept.txt", OpenMode::Read).unwrap();
    let mut buf = [0u8; 9];
    assert_eq!(f.read_at(0, &mut buf).unwrap(), 9);
    assert_eq!(&buf, b"as it was");
}
