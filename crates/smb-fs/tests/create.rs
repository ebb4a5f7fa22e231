//! CREATE: dispositions, options, access checks, the response's action and NetworkOpenInfo.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use smb_fs::{Limits, Opens, Share};
use smb_wire::create::{access_mask as am, create_options as co, CreateAction, CreateDisposition};
use smb_wire::info::file_attributes as fa;
use smb_wire::status::NtStatus;

/// What each disposition does to a file that exists (with "old" in it) or not, per MS-SMB2 2.2.13.
#[test]
fn every_disposition_for_every_existence_of_a_file() {
    use CreateDisposition as D;
    type Expect = Result<(CreateAction, &'static [u8]), NtStatus>;
    let cases: [(D, Expect, Expect); 6] = [
        // (disposition, absent, present)
        (D::SUPERSEDE, Ok((CreateAction::CREATED, b"")), Ok((CreateAction::SUPERSEDED, b""))),
        (D::OPEN, Err(NtStatus::OBJECT_NAME_NOT_FOUND), Ok((CreateAction::OPENED, b"old"))),
        (D::CREATE, Ok((CreateAction::CREATED, b"")), Err(NtStatus::OBJECT_NAME_COLLISION)),
        (D::OPEN_IF, Ok((CreateAction::CREATED, b"")), Ok((CreateAction::OPENED, b"old"))),
        (D::OVERWRITE, Err(NtStatus::OBJECT_NAME_NOT_FOUND), Ok((CreateAction::OVERWRITTEN, b""))),
        (D::OVERWRITE_IF, Ok((CreateAction::CREATED, b"")), Ok((CreateAction::OVERWRITTEN, b""))),
    ];
    for (disp, absent, present) in cases {
        for (exists, expect) in [(false, absent), (true, present)] {
            let mut f = Fixture::new();
            if exists {
                f.write_file("f.txt", b"old");
            }
            let got = f.create("f.txt", RW, disp, FILE);
            match (got, expect) {
                (Ok(out), Ok((action, content))) => {
                    assert_eq!(out.action, action, "{disp:?} exists={exists}");
                    assert!(!out.is_directory);
                    assert_eq!(std::fs::read(f.path("f.txt")).unwrap(), content, "{disp:?} exists={exists}");
                    assert_eq!(out.info.end_of_file, content.len() as u64);
                    f.close(out.file_id);
                }
                (Err(s), Err(e)) => {
                    assert_eq!(s, e, "{disp:?} exists={exists}");
                    assert_eq!(f.exists("f.txt"), exists, "a failed CREATE leaves the disk as it was");
                    if exists {
                        assert_eq!(std::fs::read(f.path("f.txt")).unwrap(), b"old");
                    }
                }
                (got, expect) => panic!("{disp:?} exists={exists}: got {got:?}, expected {expect:?}"),
            }
            assert!(f.opens.is_empty());
        }
    }
}

#[test]
fn directory_dispositions() {
    use CreateDisposition as D;
    for (disp, absent, present) in [
        (D::OPEN, Err(NtStatus::OBJECT_NAME_NOT_FOUND), Ok(CreateAction::OPENED)),
        (D::CREATE, Ok(CreateAction::CREATED), Err(NtStatus::OBJECT_NAME_COLLISION)),
        (D::OPEN_IF, Ok(CreateAction::CREATED), Ok(CreateAction::OPENED)),
    ] {
        for (exists, expect) in [(false, absent), (true, present)] {
            let mut f = Fixture::new();
            if exists {
                f.mkdir("d");
            }
            let got = f.create("d", am::GENERIC_READ, disp, DIR).map(|o| {
                assert!(o.is_directory);
                assert_eq!(o.info.file_attributes & fa::DIRECTORY, fa::DIRECTORY);
                o.action
            });
            assert_eq!(got, expect, "{disp:?} exists={exists}");
            assert_eq!(f.path("d").is_dir(), exists || got.is_ok());
        }
    }
    // DIRECTORY_FILE with a disposition that overwrites is malformed, whether or not the name exists.
    for disp in [D::SUPERSEDE, D::OVERWRITE, D::OVERWRITE_IF] {
        let mut f = Fixture::new();
        assert_eq!(f.create("d", RW, disp, DIR).unwrap_err(), NtStatus::INVALID_PARAMETER);
        assert!(!f.exists("d"));
        // An existing directory cannot be overwritten without DIRECTORY_FILE either.
        f.mkdir("e");
        assert_eq!(f.create("e", RW, disp, 0).unwrap_err(), NtStatus::INVALID_PARAMETER);
    }
}

#[test]
fn directory_and_non_directory_options() {
    let mut f = Fixture::new();
    f.mkdir("d");
    f.write_file("f", b"x");
    assert_eq!(
        f.create("d", RW, D::OPEN, co::NON_DIRECTORY_FILE).unwrap_err(),
        NtStatus::FILE_IS_A_DIRECTORY
    );
    assert_eq!(f.create("f", RW, D::OPEN, co::DIRECTORY_FILE).unwrap_err(), NtStatus::NOT_A_DIRECTORY);
    assert_eq!(f.create("f", RW, D::OPEN_IF, co::DIRECTORY_FILE).unwrap_err(), NtStatus::NOT_A_DIRECTORY);
    assert_eq!(
        f.create("f", RW, D::OPEN, co::DIRECTORY_FILE | co::NON_DIRECTORY_FILE).unwrap_err(),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(f.create("f", RW, CreateDisposition(6), 0).unwrap_err(), NtStatus::INVALID_PARAMETER);
    assert_eq!(f.create("f", RW, D::OPEN, co::OPEN_BY_FILE_ID).unwrap_err(), NtStatus::NOT_SUPPORTED);
    // Without either option, both kinds open.
    assert!(f.create("d", am::GENERIC_READ, D::OPEN, 0).unwrap().is_directory);
    assert!(!f.create("f", am::GENERIC_READ, D::OPEN, 0).unwrap().is_directory);
    // A trailing separator insists on a directory.
    assert!(f.create("d\\", am::GENERIC_READ, D::OPEN, 0).unwrap().is_directory);
    assert_eq!(f.create("f\\", am::GENERIC_READ, D::OPEN, 0).unwrap_err(), NtStatus::NOT_A_DIRECTORY);
}

#[test]
fn missing_or_file_parents_are_path_not_found() {
    let mut f = Fixture::new();
    f.write_file("file", b"x");
    assert_eq!(f.create(r"nodir\a", RW, D::OPEN_IF, FILE).unwrap_err(), NtStatus::OBJECT_PATH_NOT_FOUND);
    assert_eq!(f.create(r"file\a", RW, D::OPEN_IF, FILE).unwrap_err(), NtStatus::OBJECT_PATH_NOT_FOUND);
    assert_eq!(f.create("nofile", RW, D::OPEN, FILE).unwrap_err(), NtStatus::OBJECT_NAME_NOT_FOUND);
    assert!(!f.exists("nodir"));
    // Nested creation works once the parents exist.
    f.create(r"a", RW, D::CREATE, DIR).unwrap();
    f.create(r"a\b", RW, D::CREATE, DIR).unwrap();
    let o = f.create(r"a\b\c.txt", RW, D::CREATE, FILE).unwrap();
    assert_eq!(o.action, CreateAction::CREATED);
    assert!(f.path("a/b/c.txt").is_file());
}

#[test]
fn empty_name_is_the_share_root() {
    let mut f = Fixture::new();
    let o = f.create("", am::FILE_READ_ATTRIBUTES, D::OPEN, 0).unwrap();
    assert!(o.is_directory);
    assert_eq!(o.action, CreateAction::OPENED);
    assert_eq!(o.info.file_attributes, fa::DIRECTORY);
    assert_eq!(f.create("", RW, D::CREATE, DIR).unwrap_err(), NtStatus::OBJECT_NAME_COLLISION);
    assert_eq!(f.create("", RW, D::OPEN, co::NON_DIRECTORY_FILE).unwrap_err(), NtStatus::FILE_IS_A_DIRECTORY);
    // The root cannot be marked for deletion.
    let e = f.create("", am::DELETE, D::OPEN, co::DELETE_ON_CLOSE).unwrap_err();
    assert_eq!(e, smb_fs::error::extra_status::CANNOT_DELETE);
}

#[test]
fn network_open_info_comes_from_the_file() {
    let mut f = Fixture::new();
    f.write_file("data.bin", &vec![7u8; 10_000]);
    f.write_file(".hidden", b"h");
    f.write_file("ro.txt", b"r");
    std::fs::set_permissions(f.path("ro.txt"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let md = std::fs::metadata(f.path("data.bin")).unwrap();
    let o = f.create("data.bin", am::GENERIC_READ, D::OPEN, FILE).unwrap();
    assert_eq!(o.info.end_of_file, 10_000);
    assert!(o.info.allocation_size >= 10_000 || o.info.allocation_size == 0, "{}", o.info.allocation_size);
    assert_eq!(o.info.file_attributes, fa::ARCHIVE);
    assert_eq!(o.info.last_write_time, filetime(md.modified().unwrap()));
    assert_eq!(o.info.last_access_time, filetime(md.accessed().unwrap()));
    assert!(o.info.creation_time <= o.info.last_write_time);
    assert!(o.info.change_time > 116_444_736_000_000_000, "after 1970");
    assert_eq!(o.index_number, std::os::unix::fs::MetadataExt::ino(&md));
    let h = f.create(".hidden", am::GENERIC_READ, D::OPEN, FILE).unwrap();
    assert_eq!(h.info.file_attributes, fa::ARCHIVE | fa::HIDDEN);
    let r = f.create("ro.txt", am::GENERIC_READ, D::OPEN, FILE).unwrap();
    assert_eq!(r.info.file_attributes, fa::ARCHIVE | fa::READONLY);
}

#[test]
fn read_only_share_refuses_every_change() {
    let mut f = Fixture::new();
    f.write_file("f.txt", b"keep");
    f.share.read_only = true;
    assert_eq!(f.share.maximal_access() & (am::FILE_WRITE_DATA | am::DELETE), 0);
    for access in [
        am::GENERIC_WRITE,
        am::FILE_WRITE_DATA,
        am::FILE_APPEND_DATA,
        am::DELETE,
        am::GENERIC_ALL,
        am::FILE_WRITE_ATTRIBUTES,
    ] {
        assert_eq!(
            f.create("f.txt", access, D::OPEN, FILE).unwrap_err(),
            NtStatus::ACCESS_DENIED,
            "{access:#x}"
        );
    }
    for disp in [D::CREATE, D::OPEN_IF, D::OVERWRITE_IF, D::SUPERSEDE] {
        assert_eq!(f.create("new.txt", am::GENERIC_READ, disp, FILE).unwrap_err(), NtStatus::ACCESS_DENIED);
        assert_eq!(f.create("new", am::GENERIC_READ, D::CREATE, DIR).unwrap_err(), NtStatus::ACCESS_DENIED);
    }
    for disp in [D::OVERWRITE, D::OVERWRITE_IF, D::SUPERSEDE] {
        assert_eq!(f.create("f.txt", am::GENERIC_READ, disp, FILE).unwrap_err(), NtStatus::ACCESS_DENIED);
    }
    assert!(!f.exists("new.txt") && !f.exists("new"));
    assert_eq!(std::fs::read(f.path("f.txt")).unwrap(), b"keep");
    // Reading is fine, and MAXIMUM_ALLOWED grants no write right.
    let o = f.create("f.txt", am::MAXIMUM_ALLOWED, D::OPEN, FILE).unwrap();
    assert_eq!(o.granted_access & smb_fs::access::MODIFYING, 0);
    let mut buf = [0u8; 8];
    assert_eq!(f.opens.read(o.file_id, 0, &mut buf), Ok(4));
    assert_eq!(f.opens.write(o.file_id, 0, b"x", false), Err(NtStatus::ACCESS_DENIED));
}

#[test]
fn read_only_file_refuses_data_writes_and_deletion() {
    let mut f = Fixture::new();
    f.write_file("ro.txt", b"keep");
    std::fs::set_permissions(f.path("ro.txt"), std::fs::Permissions::from_mode(0o444)).unwrap();
    assert_eq!(f.create("ro.txt", am::GENERIC_WRITE, D::OPEN, FILE).unwrap_err(), NtStatus::ACCESS_DENIED);
    assert_eq!(f.create("ro.txt", RW, D::OVERWRITE_IF, FILE).unwrap_err(), NtStatus::ACCESS_DENIED);
    assert_eq!(
        f.create("ro.txt", am::DELETE, D::OPEN, co::DELETE_ON_CLOSE).unwrap_err(),
        smb_fs::error::extra_status::CANNOT_DELETE
    );
    assert_eq!(std::fs::read(f.path("ro.txt")).unwrap(), b"keep");
    // Attributes may still change (that is how READONLY is cleared).
    f.create("ro.txt", am::FILE_WRITE_ATTRIBUTES, D::OPEN, FILE).unwrap();
}

#[test]
fn readonly_attribute_on_create_clears_write_bits_but_the_handle_writes() {
    let mut f = Fixture::new();
    let o = f.create_attrs("r.txt", RW, D::CREATE, FILE, fa::READONLY).unwrap();
    assert_eq!(o.info.file_attributes & fa::READONLY, fa::READONLY);
    assert_eq!(std::fs::metadata(f.path("r.txt")).unwrap().permissions().mode() & 0o222, 0);
    assert_eq!(f.opens.write(o.file_id, 0, b"data", false), Ok(4));
    f.close(o.file_id);
    assert_eq!(std::fs::read(f.path("r.txt")).unwrap(), b"data");
}

#[test]
fn delete_on_close_needs_delete_access() {
    let mut f = Fixture::new();
    f.write_file("f", b"x");
    assert_eq!(
        f.create("f", am::GENERIC_READ, D::OPEN, co::DELETE_ON_CLOSE).unwrap_err(),
        NtStatus::ACCESS_DENIED
    );
    assert!(f.exists("f"));
    let o = f.create("f", am::DELETE, D::OPEN, co::DELETE_ON_CLOSE).unwrap();
    assert!(f.exists("f"), "deleted only at close");
    f.close(o.file_id);
    assert!(!f.exists("f"));
}

#[test]
fn open_cap_file_ids_and_unknown_handles() {
    let mut f = Fixture::with_opens(Opens::new(3));
    f.write_file("f", b"x");
    let ids: Vec<_> = (0..3).map(|_| f.open("f", am::GENERIC_READ)).collect();
    assert_eq!(f.create("f", am::GENERIC_READ, D::OPEN, 0).unwrap_err(), NtStatus::INSUFFICIENT_RESOURCES);
    assert!(matches!(f.opens.last_error(), Some(smb_fs::FsError::TooManyOpens { cap: 3 })));
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[1], ids[2]);
    f.close(ids[1]);
    assert_eq!(f.opens.close(ids[1], false), Err(NtStatus::FILE_CLOSED), "closed twice");
    let again = f.open("f", am::GENERIC_READ);
    assert!(!ids.contains(&again), "FileIds are not reused");
    let bogus = smb_wire::types::FileId { persistent: again.persistent, volatile: again.volatile ^ 1 };
    let mut buf = [0u8; 1];
    assert_eq!(f.opens.read(bogus, 0, &mut buf), Err(NtStatus::FILE_CLOSED));
    let mixed = smb_wire::types::FileId { persistent: again.persistent + 1, volatile: again.volatile };
    assert_eq!(f.opens.read(mixed, 0, &mut buf), Err(NtStatus::FILE_CLOSED));
    f.opens.close_all();
    assert!(f.opens.is_empty());
}

#[test]
fn trees_close_their_own_opens() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"x").unwrap();
    let share = Share::new("s", dir.path());
    let mut opens = Opens::with_limits(Limits { max_opens: 8, ..Limits::new(8) });
    let n = smb_wire::types::utf16le("f");
    let req = request(&n, am::GENERIC_READ, D::OPEN, 0, 0);
    let a = opens.create_in_tree(1, &share, &req).unwrap().file_id;
    let b = opens.create_in_tree(2, &share, &req).unwrap().file_id;
    assert_eq!((opens.tree_of(a), opens.tree_of(b)), (Some(1), Some(2)));
    assert_eq!(opens.share_of(a), Some("s"));
    opens.close_tree(1);
    assert_eq!(opens.tree_of(a), None);
    assert_eq!(opens.tree_of(b), Some(2));
    assert_eq!(opens.is_directory(b), Some(false));
}

#[test]
fn maximal_and_granted_access_are_reported() {
    let mut f = Fixture::new();
    let o = f.create("f", am::GENERIC_READ, D::CREATE, FILE).unwrap();
    assert_eq!(o.granted_access, 0x0012_0089);
    assert_eq!(o.maximal_access, smb_fs::access::FILE_ALL_ACCESS);
    let o = f.create("f", am::MAXIMUM_ALLOWED, D::OPEN, FILE).unwrap();
    assert_eq!(o.granted_access, smb_fs::access::FILE_ALL_ACCESS);
    assert_eq!(
        f.create("f", am::ACCESS_SYSTEM_SECURITY, D::OPEN, FILE).unwrap_err(),
        NtStatus::ACCESS_DENIED
    );
}

#[test]
fn special_files_are_not_served() {
    let mut f = Fixture::new();
    let status = std::process::Command::new("mkfifo").arg(f.path("fifo")).status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo unavailable");
        return;
    }
    // Opening a FIFO would block the server: it is refused before any open.
    assert_eq!(f.create("fifo", am::GENERIC_READ, D::OPEN, 0).unwrap_err(), NtStatus::ACCESS_DENIED);
    assert_eq!(f.create("fifo", RW, D::OVERWRITE_IF, 0).unwrap_err(), NtStatus::ACCESS_DENIED);
}

#[test]
fn unreadable_files_and_directories_still_open_for_attributes() {
    let mut f = Fixture::new();
    f.write_file("locked", b"secret");
    f.mkdir("closed");
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(f.path("locked")).unwrap()) == 0 {
        // Skipped as root: root reads mode-000 files, so the O_PATH fallback is never taken.
        eprintln!("skipped: running as root");
        return;
    }
    std::fs::set_permissions(f.path("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(f.path("closed"), std::fs::Permissions::from_mode(0o100)).unwrap();
    let o = f.create("locked", am::FILE_READ_ATTRIBUTES, D::OPEN, 0).unwrap();
    assert_eq!(o.info.end_of_file, 6);
    let mut buf = [0u8; 64];
    assert_eq!(f.opens.read(o.file_id, 0, &mut buf), Err(NtStatus::ACCESS_DENIED));
    assert!(f.opens.query_info(o.file_id, 1, 4, &mut buf).is_ok());
    assert_eq!(f.create("locked", am::GENERIC_READ, D::OPEN, 0).unwrap_err(), NtStatus::ACCESS_DENIED);
    let d = f.create("closed", am::FILE_READ_ATTRIBUTES, D::OPEN, 0).unwrap();
    assert!(d.is_directory);
    let mut out = vec![0u8; 1024];
    let r = f.opens.query_directory(d.file_id, smb_wire::info::FileInfoClass::NAMES, 0, "*", &mut out);
    assert_eq!(r, Err(NtStatus::ACCESS_DENIED));
    std::fs::set_permissions(f.path("closed"), std::fs::Permissions::from_mode(0o755)).unwrap();
}
