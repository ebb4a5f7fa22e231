//! Nothing outside the share is read, written, created, renamed into or deleted: `..` tricks,
//! absolute, drive, UNC, stream and device names, and symbolic links planted inside the share.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use smb_wire::codec::Encode;
use smb_wire::create::{access_mask as am, create_options as co, CreateDisposition};
use smb_wire::info::file::{FileDispositionInformation, FileRenameInformation};
use smb_wire::info::FileInfoClass as C;
use smb_wire::status::NtStatus;
use smb_wire::types::{utf16le, Utf16};

/// Every path, size, content and mtime under `dir`, to prove it unchanged.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let content = if md.is_file() { std::fs::read(&p).unwrap() } else { Vec::new() };
            out.insert(
                p.strip_prefix(dir).unwrap().display().to_string(),
                (md.len(), content, md.modified().unwrap()),
            );
            if md.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

struct Planted {
    f: Fixture,
    outside: tempfile::TempDir,
}

/// A share holding `dlink` (a link to a directory outside), `flink` (a link to a file outside),
/// `sub/up` (a relative link climbing out), and a real `sub/real.txt`.
fn planted() -> Planted {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"top secret").unwrap();
    std::fs::create_dir(outside.path().join("inner")).unwrap();
    let f = Fixture::new();
    f.mkdir("sub");
    f.write_file("sub/real.txt", b"real");
    std::os::unix::fs::symlink(outside.path(), f.path("dlink")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), f.path("flink")).unwrap();
    std::os::unix::fs::symlink("../..", f.path("sub/up")).unwrap();
    Planted { f, outside }
}

#[test]
fn name_tricks_are_refused_before_the_disk() {
    let Planted { mut f, outside } = planted();
    let before = snapshot(outside.path());
    let share_before = snapshot(f.dir.path());
    let cases: [(&str, NtStatus); 14] = [
        (r"..\..\etc\passwd", NtStatus::OBJECT_PATH_SYNTAX_BAD),
        (r"..", NtStatus::OBJECT_PATH_SYNTAX_BAD),
        (r"sub\..\..\secret", NtStatus::OBJECT_PATH_SYNTAX_BAD),
        (r"\\?\C:\", NtStatus::INVALID_PARAMETER),
        (r"\etc\passwd", NtStatus::INVALID_PARAMETER),
        (r"C:\Windows\win.ini", NtStatus::OBJECT_NAME_INVALID),
        ("/etc/passwd", NtStatus::OBJECT_NAME_INVALID),
        (r"sub/../../x", NtStatus::OBJECT_NAME_INVALID),
        ("a:stream", NtStatus::OBJECT_NAME_INVALID),
        (r"sub\real.txt:ads:$DATA", NtStatus::OBJECT_NAME_INVALID),
        ("CON", NtStatus::ACCESS_DENIED),
        ("nul.txt", NtStatus::ACCESS_DENIED),
        (r"sub\LPT1.log", NtStatus::ACCESS_DENIED),
        ("a\0b", NtStatus::OBJECT_NAME_INVALID),
    ];
    for (name, want) in cases {
        for disp in [CreateDisposition::OPEN, CreateDisposition::OPEN_IF, CreateDisposition::OVERWRITE_IF] {
            assert_eq!(f.create(name, RWD, disp, 0).unwrap_err(), want, "{name:?} {disp:?}");
            assert_eq!(
                f.create(name, RWD, disp, co::DIRECTORY_FILE).map(|_| ()).unwrap_err(),
                if disp == CreateDisposition::OVERWRITE_IF { NtStatus::INVALID_PARAMETER } else { want }
            );
        }
    }
    // `..` that stays inside is fine.
    assert!(f.create(r"sub\..\sub\real.txt", am::GENERIC_READ, CreateDisposition::OPEN, 0).is_ok());
    assert_eq!(snapshot(outside.path()), before);
    assert_eq!(snapshot(f.dir.path()), share_before);
}

#[test]
fn links_are_never_followed() {
    let Planted { mut f, outside } = planted();
    let before = snapshot(outside.path());
    use CreateDisposition as D;
    let cases: [(&str, u32); 9] = [
        (r"dlink\secret", 0),
        (r"dlink\new.txt", 0),
        (r"dlink\inner", co::DIRECTORY_FILE),
        (r"dlink\inner\deeper", co::DIRECTORY_FILE),
        ("dlink", co::DIRECTORY_FILE),
        ("dlink", 0),
        ("flink", 0),
        (r"sub\up\etc\passwd", 0),
        (r"sub\up", 0),
    ];
    for (name, opts) in cases {
        for disp in [D::OPEN, D::CREATE, D::OPEN_IF, D::OVERWRITE, D::OVERWRITE_IF, D::SUPERSEDE] {
            if opts & co::DIRECTORY_FILE != 0 && !matches!(disp, D::OPEN | D::CREATE | D::OPEN_IF) {
                continue;
            }
            let got = f.create(name, RWD, disp, opts);
            let s = got.map(|_| ()).unwrap_err();
            // The last component being the link: ACCESS_DENIED (CREATE collides with the link's name
            // first); a link on the way: ACCESS_DENIED.
            let ok =
                s == NtStatus::ACCESS_DENIED || (s == NtStatus::OBJECT_NAME_COLLISION && disp == D::CREATE);
            assert!(ok, "{name:?} {disp:?}: {s:?}");
        }
        // Delete-on-close through a link deletes nothing.
        let s = f.create(name, am::DELETE, D::OPEN, opts | co::DELETE_ON_CLOSE).map(|_| ()).unwrap_err();
        assert_eq!(s, NtStatus::ACCESS_DENIED, "{name:?}");
    }
    assert!(f.opens.is_empty());
    assert_eq!(snapshot(outside.path()), before, "nothing outside changed");
    // The links themselves are still there, untouched.
    assert!(f.path("dlink").symlink_metadata().unwrap().file_type().is_symlink());
    assert!(f.path("flink").symlink_metadata().unwrap().file_type().is_symlink());
}

#[test]
fn renames_cannot_leave_the_share_or_pass_links() {
    let Planted { mut f, outside } = planted();
    let before = snapshot(outside.path());
    let id = f.open(r"sub\real.txt", am::DELETE | am::GENERIC_READ);
    let share = f.share.clone();
    for (target, want) in [
        (r"dlink\stolen.txt", NtStatus::ACCESS_DENIED),
        (r"sub\up\stolen.txt", NtStatus::ACCESS_DENIED),
        (r"..\stolen.txt", NtStatus::OBJECT_PATH_SYNTAX_BAD),
        (r"sub\..\..\stolen.txt", NtStatus::OBJECT_PATH_SYNTAX_BAD),
        ("flink", NtStatus::OBJECT_NAME_COLLISION),
        ("C:stolen", NtStatus::OBJECT_NAME_INVALID),
        ("AUX", NtStatus::ACCESS_DENIED),
    ] {
        let name = utf16le(target);
        let info = FileRenameInformation {
            replace_if_exists: false,
            root_directory: 0,
            file_name: Utf16::new(&name, "t").unwrap(),
        };
        assert_eq!(f.opens.set_info(&share, id, 1, C::RENAME.0, &info.to_vec()), Err(want), "{target:?}");
    }
    // Replacing the link itself is refused too (it is not a file the share serves).
    let name = utf16le("flink");
    let info = FileRenameInformation {
        replace_if_exists: true,
        root_directory: 0,
        file_name: Utf16::new(&name, "t").unwrap(),
    };
    assert_eq!(f.opens.set_info(&share, id, 1, C::RENAME.0, &info.to_vec()), Err(NtStatus::ACCESS_DENIED));
    assert_eq!(std::fs::read(f.path("sub/real.txt")).unwrap(), b"real");
    // Deleting the real file works and touches nothing else.
    let del = FileDispositionInformation { delete_pending: true };
    f.opens.set_info(&share, id, 1, C::DISPOSITION.0, &del.to_vec()).unwrap();
    f.close(id);
    assert!(!f.exists("sub/real.txt"));
    assert_eq!(snapshot(outside.path()), before);
}

#[test]
fn a_directory_swapped_for_a_link_after_open_is_not_followed() {
    let Planted { mut f, outside } = planted();
    let before = snapshot(outside.path());
    f.mkdir("victim");
    f.write_file("victim/f", b"x");
    let id = f.open(r"victim\f", am::DELETE | am::GENERIC_READ);
    // Behind the server's back, the directory becomes a link to the outside, holding a same-named file.
    std::fs::write(outside.path().join("f"), b"outside f").unwrap();
    let before_with_f = snapshot(outside.path());
    std::fs::rename(f.path("victim"), f.path("moved")).unwrap();
    std::os::unix::fs::symlink(outside.path(), f.path("victim")).unwrap();
    let share = f.share.clone();
    let del = FileDispositionInformation { delete_pending: true };
    // The delete walks the name again, meets the link and refuses.
    assert_eq!(f.opens.set_info(&share, id, 1, C::DISPOSITION.0, &del.to_vec()), Ok(()));
    f.close(id);
    assert_eq!(snapshot(outside.path()), before_with_f, "the outside file survived");
    assert!(f.path("moved/f").is_file(), "the real file was not found under its old name, so it stays");
    std::fs::remove_file(outside.path().join("f")).unwrap();
    assert_eq!(snapshot(outside.path()), before);
    // And new opens through the swapped name are refused.
    assert_eq!(
        f.create(r"victim\f", am::GENERIC_READ, CreateDisposition::OPEN, 0).unwrap_err(),
        NtStatus::ACCESS_DENIED
    );
}

#[test]
fn the_listing_never_shows_links() {
    let Planted { mut f, .. } = planted();
    let d = f.open("", am::GENERIC_READ);
    let mut buf = vec![0u8; 4096];
    let n = f.opens.query_directory(d, C::NAMES, 0, "*", &mut buf).unwrap();
    let names: Vec<String> =
        smb_wire::info::chain::Entries::<smb_wire::info::dir::FileNamesInformation>::new(&buf[..n])
            .map(|e| e.unwrap().file_name.to_string().unwrap())
            .collect();
    assert_eq!(names, [".", "..", "sub"]);
    // A literal pattern naming a link finds nothing either.
    assert_eq!(
        f.opens.query_directory(
            d,
            C::NAMES,
            smb_wire::query_directory::query_directory_flags::RESTART_SCANS,
            "dlink",
            &mut buf
        ),
        Err(NtStatus::NO_SUCH_FILE)
    );
}
