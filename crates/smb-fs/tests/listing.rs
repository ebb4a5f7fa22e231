//! QUERY_DIRECTORY: classes, patterns, resumption, flags and caps.

mod common;

use std::collections::BTreeSet;

use common::*;
use smb_fs::{Limits, Opens};
use smb_wire::create::access_mask as am;
use smb_wire::info::chain::Entries;
use smb_wire::info::dir::{AnyDirEntry, FileIdBothDirectoryInformation};
use smb_wire::info::{file_attributes as fa, FileInfoClass as C};
use smb_wire::query_directory::query_directory_flags as qd;
use smb_wire::status::NtStatus;
use smb_wire::types::FileId;

const CLASSES: [C; 6] = [
    C::DIRECTORY,
    C::FULL_DIRECTORY,
    C::BOTH_DIRECTORY,
    C::ID_BOTH_DIRECTORY,
    C::ID_FULL_DIRECTORY,
    C::NAMES,
];

fn sample() -> Fixture {
    let f = Fixture::new();
    f.write_file("a.txt", b"aaaa");
    f.write_file("b.TXT", b"bbbbbbbb");
    f.write_file("c.log", b"");
    f.write_file(".hidden", b"h");
    f.mkdir("sub");
    f
}

/// Walks a chain of `class` entries: (name, entry) pairs, checking each parses.
fn entries(class: C, buf: &[u8]) -> Vec<(String, AnyDirEntry<'_>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let e = AnyDirEntry::parse(class, &buf[pos..]).unwrap().unwrap();
        out.push((e.file_name().to_string().unwrap(), e));
        let next = u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap()) as usize;
        if next == 0 {
            break;
        }
        assert_eq!(next % 8, 0, "entries are 8-byte aligned");
        pos += next;
    }
    out
}

/// Lists `id` to the end with buffers of `room` bytes, returning the names.
fn list_all(f: &mut Fixture, id: FileId, class: C, pattern: &str, room: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut buf = vec![0u8; room];
    loop {
        match f.opens.query_directory(id, class, 0, pattern, &mut buf) {
            Ok(n) => names.extend(entries(class, &buf[..n]).into_iter().map(|(n, _)| n)),
            Err(NtStatus::NO_MORE_FILES) => return names,
            Err(e) => panic!("query_directory: {e:?}"),
        }
    }
}

#[test]
fn every_class_lists_dots_first_then_sorted_names() {
    for class in CLASSES {
        let mut f = sample();
        let d = f.open("", am::GENERIC_READ);
        let mut buf = vec![0u8; 64 * 1024];
        let n = f.opens.query_directory(d, class, 0, "*", &mut buf).unwrap();
        let got = entries(class, &buf[..n]);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [".", "..", ".hidden", "a.txt", "b.TXT", "c.log", "sub"], "{class:?}");
        for (name, e) in &got {
            let base = match e {
                AnyDirEntry::Directory(x) => Some(x.base),
                AnyDirEntry::FullDirectory(x) => Some(x.base),
                AnyDirEntry::BothDirectory(x) => Some(x.base),
                AnyDirEntry::IdBothDirectory(x) => Some(x.base),
                AnyDirEntry::IdFullDirectory(x) => Some(x.base),
                AnyDirEntry::Names(_) => None,
            };
            if let Some(b) = base {
                let (attrs, eof) = match name.as_str() {
                    "." | ".." | "sub" => (fa::DIRECTORY, 0),
                    ".hidden" => (fa::ARCHIVE | fa::HIDDEN, 1),
                    "a.txt" => (fa::ARCHIVE, 4),
                    "b.TXT" => (fa::ARCHIVE, 8),
                    _ => (fa::ARCHIVE, 0),
                };
                assert_eq!((b.file_attributes, b.end_of_file), (attrs, eof), "{class:?} {name}");
                assert!(b.last_write_time > 116_444_736_000_000_000);
            }
            if let AnyDirEntry::IdBothDirectory(x) = e {
                if name == "a.txt" {
                    let ino =
                        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(f.path("a.txt")).unwrap());
                    assert_eq!(x.file_id, ino);
                }
            }
        }
        assert_eq!(f.opens.query_directory(d, class, 0, "*", &mut buf), Err(NtStatus::NO_MORE_FILES));
    }
}

#[test]
fn patterns_filter_case_insensitively() {
    let mut f = sample();
    let cases: [(&str, &[&str]); 7] = [
        ("*.txt", &["a.txt", "b.TXT"]),
        ("?.*", &["..", "a.txt", "b.TXT", "c.log"]),
        ("A.TXT", &["a.txt"]),
        ("a.txt", &["a.txt"]),
        ("sub", &["sub"]),
        ("<.log", &["c.log"]),
        ("", &[".", "..", ".hidden", "a.txt", "b.TXT", "c.log", "sub"]),
    ];
    for (pattern, want) in cases {
        let d = f.open("", am::GENERIC_READ);
        let got = list_all(&mut f, d, C::NAMES, pattern, 4096);
        assert_eq!(got, want, "{pattern:?}");
        f.close(d);
    }
    let d = f.open("", am::GENERIC_READ);
    let mut buf = [0u8; 1024];
    assert_eq!(f.opens.query_directory(d, C::NAMES, 0, "nothing*", &mut buf), Err(NtStatus::NO_SUCH_FILE));
    assert_eq!(f.opens.query_directory(d, C::NAMES, 0, "nothing*", &mut buf), Err(NtStatus::NO_MORE_FILES));
    assert_eq!(
        f.opens.query_directory(d, C::NAMES, qd::RESTART_SCANS, "zzz", &mut buf),
        Err(NtStatus::NO_SUCH_FILE)
    );
    assert_eq!(
        f.opens.query_directory(d, C::NAMES, qd::RESTART_SCANS, r"a\*", &mut buf),
        Err(NtStatus::OBJECT_NAME_INVALID)
    );
}

#[test]
fn enumeration_resumes_across_small_buffers_and_is_stable() {
    let mut f = Fixture::new();
    let mut want = BTreeSet::new();
    let name_of = |i: usize| format!("file-{i:03}-{}", "x".repeat(i % 40));
    let last = name_of(149);
    for i in 0..150 {
        let name = name_of(i);
        f.write_file(&name, &vec![1u8; i]);
        want.insert(name);
    }
    for (class, room) in [(C::ID_BOTH_DIRECTORY, 400), (C::NAMES, 120), (C::FULL_DIRECTORY, 1000)] {
        let d = f.open("", am::GENERIC_READ);
        let mut buf = vec![0u8; room];
        let mut names = Vec::new();
        let mut calls = 0;
        loop {
            match f.opens.query_directory(d, class, 0, "file-*", &mut buf) {
                Ok(n) => {
                    assert!(n <= room);
                    names.extend(entries(class, &buf[..n]).into_iter().map(|(n, _)| n));
                }
                Err(NtStatus::NO_MORE_FILES) => break,
                Err(e) => panic!("{class:?}: {e:?}"),
            }
            calls += 1;
            if calls == 3 {
                // Changes during the enumeration: a listed-later name vanishes, a new one appears.
                std::fs::remove_file(f.path(&last)).unwrap();
                f.write_file("file-999-new", b"");
            }
        }
        assert!(calls > 5, "{class:?}: the small buffer took several calls");
        let got: BTreeSet<String> = names.iter().cloned().collect();
        assert_eq!(got.len(), names.len(), "{class:?}: no name twice");
        let mut expect = want.clone();
        expect.remove(&last);
        assert_eq!(got, expect, "{class:?}: the snapshot, less what vanished");
        // Restart picks up the new state.
        let all = {
            let mut buf = vec![0u8; 64 * 1024];
            let n = f.opens.query_directory(d, C::NAMES, qd::RESTART_SCANS, "file-9*", &mut buf).unwrap();
            entries(C::NAMES, &buf[..n]).into_iter().map(|(n, _)| n).collect::<Vec<_>>()
        };
        assert_eq!(all, ["file-999-new"]);
        f.close(d);
        f.write_file(&last, &[1u8; 149]);
        std::fs::remove_file(f.path("file-999-new")).unwrap();
    }
}

#[test]
fn single_entry_restart_and_reopen() {
    let mut f = sample();
    let d = f.open("", am::GENERIC_READ);
    let mut buf = vec![0u8; 4096];
    let mut names = Vec::new();
    for _ in 0..3 {
        let n =
            f.opens.query_directory(d, C::ID_BOTH_DIRECTORY, qd::RETURN_SINGLE_ENTRY, "*", &mut buf).unwrap();
        let e = entries(C::ID_BOTH_DIRECTORY, &buf[..n]);
        assert_eq!(e.len(), 1);
        names.push(e[0].0.clone());
    }
    assert_eq!(names, [".", "..", ".hidden"]);
    // Later patterns are ignored until a restart...
    let n = f.opens.query_directory(d, C::NAMES, qd::RETURN_SINGLE_ENTRY, "zzz", &mut buf).unwrap();
    assert_eq!(entries(C::NAMES, &buf[..n])[0].0, "a.txt");
    // ...which starts over with the new one.
    let n = f.opens.query_directory(d, C::NAMES, qd::RESTART_SCANS, "*.log", &mut buf).unwrap();
    assert_eq!(entries(C::NAMES, &buf[..n]).len(), 1);
    let n = f.opens.query_directory(d, C::NAMES, qd::REOPEN, "sub", &mut buf).unwrap();
    assert_eq!(entries(C::NAMES, &buf[..n])[0].0, "sub");
}

#[test]
fn buffer_sizes() {
    let mut f = sample();
    let d = f.open("", am::GENERIC_READ);
    let fixed = <FileIdBothDirectoryInformation as smb_wire::info::chain::ChainEntry>::FIXED_LEN;
    let mut small = vec![0u8; fixed - 1];
    assert_eq!(
        f.opens.query_directory(d, C::ID_BOTH_DIRECTORY, 0, "*", &mut small),
        Err(NtStatus::INFO_LENGTH_MISMATCH)
    );
    // Room for the fixed part but not the name: the entry waits for a larger buffer.
    let mut tight = vec![0u8; fixed];
    assert_eq!(
        f.opens.query_directory(d, C::ID_BOTH_DIRECTORY, 0, "a.txt", &mut tight),
        Err(NtStatus::BUFFER_OVERFLOW)
    );
    let mut buf = vec![0u8; 1024];
    let n = f.opens.query_directory(d, C::ID_BOTH_DIRECTORY, 0, "a.txt", &mut buf).unwrap();
    assert_eq!(entries(C::ID_BOTH_DIRECTORY, &buf[..n])[0].0, "a.txt");
    // Exactly one entry's worth fits one entry.
    let n = f.opens.query_directory(d, C::NAMES, qd::RESTART_SCANS, "*", &mut buf[..12 + 2]).unwrap();
    assert_eq!(n, 14);
    let e = Entries::<smb_wire::info::dir::FileNamesInformation>::new(&buf[..n]).count();
    assert_eq!(e, 1);
}

#[test]
fn wrong_class_or_open_kind() {
    let mut f = sample();
    let d = f.open("", am::GENERIC_READ);
    let mut buf = vec![0u8; 1024];
    assert_eq!(f.opens.query_directory(d, C::BASIC, 0, "*", &mut buf), Err(NtStatus::INVALID_INFO_CLASS));
    let file = f.open("a.txt", am::GENERIC_READ);
    assert_eq!(f.opens.query_directory(file, C::NAMES, 0, "*", &mut buf), Err(NtStatus::INVALID_PARAMETER));
    let no_list = f.open("sub", am::FILE_READ_ATTRIBUTES);
    assert_eq!(f.opens.query_directory(no_list, C::NAMES, 0, "*", &mut buf), Err(NtStatus::ACCESS_DENIED));
}

#[test]
fn subdirectory_dotdot_describes_the_parent() {
    let mut f = sample();
    f.write_file("sub/inner", b"12345");
    let d = f.open("sub", am::GENERIC_READ);
    let mut buf = vec![0u8; 4096];
    let n = f.opens.query_directory(d, C::ID_FULL_DIRECTORY, 0, "*", &mut buf).unwrap();
    let got = entries(C::ID_FULL_DIRECTORY, &buf[..n]);
    let ids: Vec<(String, u64)> = got
        .iter()
        .map(|(n, e)| match e {
            AnyDirEntry::IdFullDirectory(x) => (n.clone(), x.file_id),
            _ => unreachable!(),
        })
        .collect();
    let ino = |p: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(f.path(p)).unwrap());
    assert_eq!(ids, [(".".into(), ino("sub")), ("..".into(), ino("")), ("inner".into(), ino("sub/inner"))]);
}

#[test]
fn links_and_special_files_are_not_listed() {
    let mut f = sample();
    std::os::unix::fs::symlink("/etc", f.path("etc-link")).unwrap();
    std::os::unix::fs::symlink(f.path("a.txt"), f.path("a-link")).unwrap();
    let _ = std::process::Command::new("mkfifo").arg(f.path("fifo")).status();
    f.write_file("bad:name", b"");
    f.write_file("con.txt", b"");
    let d = f.open("", am::GENERIC_READ);
    let names = list_all(&mut f, d, C::NAMES, "*", 4096);
    assert_eq!(names, [".", "..", ".hidden", "a.txt", "b.TXT", "c.log", "sub"]);
}

#[test]
fn snapshot_caps() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10 {
        std::fs::write(dir.path().join(format!("f{i}")), b"").unwrap();
    }
    let opens = Opens::with_limits(Limits { max_opens: 8, max_dir_entries: 5, max_listing_bytes: 1 << 20 });
    let mut f = Fixture { share: smb_fs::Share::new("s", dir.path()), dir, opens };
    let d = f.open("", am::GENERIC_READ);
    let mut buf = vec![0u8; 4096];
    assert_eq!(f.opens.query_directory(d, C::NAMES, 0, "*", &mut buf), Err(NtStatus::INSUFFICIENT_RESOURCES));
    // A pattern that selects fewer names fits.
    assert!(f.opens.query_directory(d, C::NAMES, qd::RESTART_SCANS, "f1*", &mut buf).is_ok());

    let dir = tempfile::tempdir().unwrap();
    for i in 0..10 {
        std::fs::write(dir.path().join(format!("{i}{}", "n".repeat(60))), b"").unwrap();
    }
    let opens = Opens::with_limits(Limits { max_opens: 8, max_dir_entries: 100, max_listing_bytes: 1000 });
    let mut f = Fixture { share: smb_fs::Share::new("s", dir.path()), dir, opens };
    let a = f.open("", am::GENERIC_READ);
    let b = f.open("", am::GENERIC_READ);
    assert!(f.opens.query_directory(a, C::NAMES, 0, "*", &mut buf).is_ok());
    assert_eq!(f.opens.query_directory(b, C::NAMES, 0, "*", &mut buf), Err(NtStatus::INSUFFICIENT_RESOURCES));
    f.close(a);
    assert!(f.opens.query_directory(b, C::NAMES, 0, "*", &mut buf).is_ok(), "closing frees the budget");
}
