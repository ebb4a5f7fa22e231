//! SET_INFO: times and attributes, end of file, allocation, deletion and rename.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use smb_wire::codec::Encode;
use smb_wire::create::{access_mask as am, create_options as co};
use smb_wire::info::file::*;
use smb_wire::info::{file_attributes as fa, FileInfoClass as C};
use smb_wire::status::NtStatus;
use smb_wire::types::{utf16le, FileId, Utf16};

const FILE_T: u8 = 1;

fn set<T: Encode>(f: &mut Fixture, id: FileId, class: C, v: &T) -> Result<(), NtStatus> {
    let share = f.share.clone();
    f.opens.set_info(&share, id, FILE_T, class.0, &v.to_vec())
}

fn rename(f: &mut Fixture, id: FileId, to: &str, replace: bool) -> Result<(), NtStatus> {
    let name = utf16le(to);
    let info = FileRenameInformation {
        replace_if_exists: replace,
        root_directory: 0,
        file_name: Utf16::new(&name, "t").unwrap(),
    };
    set(f, id, C::RENAME, &info)
}

fn delete_pending(f: &mut Fixture, id: FileId, on: bool) -> Result<(), NtStatus> {
    set(f, id, C::DISPOSITION, &FileDispositionInformation { delete_pending: on })
}

#[test]
fn basic_information_sets_times_and_readonly() {
    let mut f = Fixture::new();
    f.write_file("f", b"x");
    let id = f.open("f", am::FILE_WRITE_ATTRIBUTES | am::FILE_READ_ATTRIBUTES);
    // 2001-09-09T01:46:40Z and 2009-02-13T23:31:30.1234567Z as FILETIMEs.
    let atime = filetime(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000));
    let mtime = filetime(std::time::UNIX_EPOCH + std::time::Duration::new(1_234_567_890, 123_456_700));
    let v = FileBasicInformation { last_access_time: atime, last_write_time: mtime, ..Default::default() };
    set(&mut f, id, C::BASIC, &v).unwrap();
    let md = std::fs::metadata(f.path("f")).unwrap();
    assert_eq!(filetime(md.accessed().unwrap()), atime);
    assert_eq!(filetime(md.modified().unwrap()), mtime);
    // 0 and -1 change nothing.
    let keep = FileBasicInformation { last_access_time: u64::MAX, last_write_time: 0, ..Default::default() };
    set(&mut f, id, C::BASIC, &keep).unwrap();
    let md = std::fs::metadata(f.path("f")).unwrap();
    assert_eq!(filetime(md.modified().unwrap()), mtime);
    assert_eq!(filetime(md.accessed().unwrap()), atime);
    // READONLY maps to the write bits, both ways.
    set(&mut f, id, C::BASIC, &FileBasicInformation { file_attributes: fa::READONLY, ..Default::default() })
        .unwrap();
    assert_eq!(std::fs::metadata(f.path("f")).unwrap().permissions().mode() & 0o222, 0);
    set(&mut f, id, C::BASIC, &FileBasicInformation { file_attributes: fa::ARCHIVE, ..Default::default() })
        .unwrap();
    assert_ne!(std::fs::metadata(f.path("f")).unwrap().permissions().mode() & 0o200, 0);
    // Malformed or unauthorised changes.
    let neg = FileBasicInformation { last_write_time: 1 << 63, ..Default::default() };
    assert_eq!(set(&mut f, id, C::BASIC, &neg), Err(NtStatus::INVALID_PARAMETER));
    let dir_attr = FileBasicInformation { file_attributes: fa::DIRECTORY, ..Default::default() };
    assert_eq!(set(&mut f, id, C::BASIC, &dir_attr), Err(NtStatus::INVALID_PARAMETER));
    let share = f.share.clone();
    assert_eq!(
        f.opens.set_info(&share, id, FILE_T, C::BASIC.0, &[0u8; 39]),
        Err(NtStatus::INFO_LENGTH_MISMATCH)
    );
    let ro = f.open("f", am::GENERIC_READ);
    assert_eq!(set(&mut f, ro, C::BASIC, &v), Err(NtStatus::ACCESS_DENIED));
}

#[test]
fn times_on_a_directory() {
    let mut f = Fixture::new();
    f.mkdir("d");
    let id = f.open("d", am::FILE_WRITE_ATTRIBUTES);
    let mtime = filetime(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000));
    set(
        &mut f,
        id,
        C::BASIC,
        &FileBasicInformation {
            last_write_time: mtime,
            file_attributes: fa::DIRECTORY,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(filetime(std::fs::metadata(f.path("d")).unwrap().modified().unwrap()), mtime);
}

#[test]
fn end_of_file_truncates_and_extends() {
    let mut f = Fixture::new();
    f.write_file("f", &[9u8; 100]);
    let id = f.open("f", RW);
    set(&mut f, id, C::END_OF_FILE, &FileEndOfFileInformation { end_of_file: 10 }).unwrap();
    assert_eq!(std::fs::read(f.path("f")).unwrap(), [9u8; 10]);
    set(&mut f, id, C::END_OF_FILE, &FileEndOfFileInformation { end_of_file: 20 }).unwrap();
    let data = std::fs::read(f.path("f")).unwrap();
    assert_eq!(&data[..10], &[9u8; 10]);
    assert_eq!(&data[10..], &[0u8; 10]);
    let big = FileEndOfFileInformation { end_of_file: 1 << 63 };
    assert_eq!(set(&mut f, id, C::END_OF_FILE, &big), Err(NtStatus::INVALID_PARAMETER));
    let ro = f.open("f", am::GENERIC_READ);
    assert_eq!(
        set(&mut f, ro, C::END_OF_FILE, &FileEndOfFileInformation { end_of_file: 0 }),
        Err(NtStatus::ACCESS_DENIED)
    );
    assert_eq!(std::fs::metadata(f.path("f")).unwrap().len(), 20);
    // Allocation below the end of file truncates; above it keeps the size.
    set(&mut f, id, C::ALLOCATION, &FileAllocationInformation { allocation_size: 5 }).unwrap();
    assert_eq!(std::fs::metadata(f.path("f")).unwrap().len(), 5);
    set(&mut f, id, C::ALLOCATION, &FileAllocationInformation { allocation_size: 1 << 20 }).unwrap();
    assert_eq!(std::fs::metadata(f.path("f")).unwrap().len(), 5);
    f.mkdir("d");
    let d = f.open("d", RW);
    assert_eq!(
        set(&mut f, d, C::END_OF_FILE, &FileEndOfFileInformation { end_of_file: 0 }),
        Err(NtStatus::INVALID_PARAMETER)
    );
}

#[test]
fn disposition_deletes_at_last_close() {
    let mut f = Fixture::new();
    f.write_file("f", b"x");
    let a = f.open("f", am::DELETE | am::FILE_READ_ATTRIBUTES);
    let b = f.open("f", am::GENERIC_READ);
    delete_pending(&mut f, a, true).unwrap();
    let mut buf = vec![0u8; 64];
    f.opens.query_info(a, FILE_T, C::STANDARD.0, &mut buf).unwrap();
    assert!(FileStandardInformation::parse(&buf).unwrap().delete_pending);
    assert_eq!(f.create("f", am::GENERIC_READ, D::OPEN, 0).unwrap_err(), NtStatus::DELETE_PENDING);
    f.close(a);
    assert!(f.exists("f"), "another open remains");
    f.close(b);
    assert!(!f.exists("f"));
}

#[test]
fn disposition_can_be_cleared_and_needs_delete_access() {
    let mut f = Fixture::new();
    f.write_file("f", b"x");
    let ro = f.open("f", am::GENERIC_READ);
    assert_eq!(delete_pending(&mut f, ro, true), Err(NtStatus::ACCESS_DENIED));
    let id = f.open("f", am::DELETE);
    delete_pending(&mut f, id, true).unwrap();
    delete_pending(&mut f, id, false).unwrap();
    f.close(id);
    f.close(ro);
    assert!(f.exists("f"));
    // The Ex form, and a read-only file.
    std::fs::set_permissions(f.path("f"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let id = f.open("f", am::DELETE);
    let ex = |flags| FileDispositionInformationEx { flags };
    assert_eq!(
        set(&mut f, id, C::DISPOSITION_EX, &ex(disposition_ex_flags::DELETE)),
        Err(smb_fs::error::extra_status::CANNOT_DELETE)
    );
    set(
        &mut f,
        id,
        C::DISPOSITION_EX,
        &ex(disposition_ex_flags::DELETE | disposition_ex_flags::IGNORE_READONLY_ATTRIBUTE),
    )
    .unwrap();
    f.close(id);
    assert!(!f.exists("f"));
}

#[test]
fn rmdir_refuses_non_empty_directories() {
    let mut f = Fixture::new();
    f.mkdir("d/sub");
    let d = f.create("d", am::DELETE | am::GENERIC_READ, D::OPEN, co::DIRECTORY_FILE).unwrap().file_id;
    assert_eq!(delete_pending(&mut f, d, true), Err(NtStatus::DIRECTORY_NOT_EMPTY));
    let sub = f.create(r"d\sub", am::DELETE, D::OPEN, co::DIRECTORY_FILE).unwrap().file_id;
    delete_pending(&mut f, sub, true).unwrap();
    f.close(sub);
    assert!(!f.exists("d/sub"));
    delete_pending(&mut f, d, true).unwrap();
    f.close(d);
    assert!(!f.exists("d"));
    // DELETE_ON_CLOSE on a directory that is not empty: the close succeeds, the directory stays.
    f.mkdir("e/x");
    let e = f.create("e", am::DELETE, D::OPEN, co::DIRECTORY_FILE | co::DELETE_ON_CLOSE).unwrap().file_id;
    assert_eq!(f.opens.close(e, false), Ok(None));
    assert!(f.exists("e/x"));
    let root = f.open("", am::DELETE);
    assert_eq!(delete_pending(&mut f, root, true), Err(smb_fs::error::extra_status::CANNOT_DELETE));
}

#[test]
fn delete_on_close_waits_for_the_last_open() {
    let mut f = Fixture::new();
    f.write_file("f", b"x");
    let keep = f.open("f", am::GENERIC_READ);
    let doc =
        f.create("f", am::DELETE, D::OPEN, co::DELETE_ON_CLOSE | co::NON_DIRECTORY_FILE).unwrap().file_id;
    f.close(doc);
    assert!(f.exists("f"));
    f.close(keep);
    assert!(!f.exists("f"));
    // A new file created delete-on-close (a temporary file) is gone at close, and so at logoff.
    let t = f.create("tmp", RWD, D::CREATE, co::DELETE_ON_CLOSE).unwrap().file_id;
    f.opens.write(t, 0, b"scratch", false).unwrap();
    assert!(f.exists("tmp"));
    f.opens.close_all();
    assert!(!f.exists("tmp"));
}

#[test]
fn rename_moves_and_replaces_only_when_asked() {
    let mut f = Fixture::new();
    f.write_file("a.txt", b"A");
    f.write_file("b.txt", b"B");
    f.mkdir("dir");
    let a = f.open("a.txt", am::DELETE | am::GENERIC_READ);
    rename(&mut f, a, "c.txt", false).unwrap();
    assert!(!f.exists("a.txt"));
    assert_eq!(std::fs::read(f.path("c.txt")).unwrap(), b"A");
    assert_eq!(rename(&mut f, a, "b.txt", false), Err(NtStatus::OBJECT_NAME_COLLISION));
    assert_eq!(std::fs::read(f.path("b.txt")).unwrap(), b"B");
    assert_eq!(
        rename(&mut f, a, "dir", true),
        Err(NtStatus::ACCESS_DENIED),
        "directories are never replaced"
    );
    rename(&mut f, a, "b.txt", true).unwrap();
    assert_eq!(std::fs::read(f.path("b.txt")).unwrap(), b"A");
    rename(&mut f, a, r"\dir\moved.txt", false).unwrap();
    assert_eq!(std::fs::read(f.path("dir/moved.txt")).unwrap(), b"A");
    // The open follows its file.
    let mut buf = vec![0u8; 512];
    let (n, _) = f.opens.query_info(a, FILE_T, C::NAME.0, &mut buf).unwrap();
    assert_eq!(
        FileNameInformation::parse(&buf[..n]).unwrap().file_name.to_string().unwrap(),
        r"\dir\moved.txt"
    );
    rename(&mut f, a, r"dir\moved.txt", false).unwrap();
    assert_eq!(rename(&mut f, a, r"nodir\x", false), Err(NtStatus::OBJECT_PATH_NOT_FOUND));
    assert_eq!(rename(&mut f, a, "", false), Err(NtStatus::INVALID_PARAMETER));
    assert_eq!(rename(&mut f, a, "x:y", false), Err(NtStatus::OBJECT_NAME_INVALID));
}

#[test]
fn rename_refuses_open_targets_and_needs_delete() {
    let mut f = Fixture::new();
    f.write_file("a", b"A");
    f.write_file("b", b"B");
    let target_open = f.open("b", am::GENERIC_READ);
    let a = f.open("a", am::DELETE);
    assert_eq!(rename(&mut f, a, "b", true), Err(NtStatus::ACCESS_DENIED));
    f.close(target_open);
    let no_delete = f.open("a", am::GENERIC_READ);
    assert_eq!(rename(&mut f, no_delete, "z", false), Err(NtStatus::ACCESS_DENIED));
    let root = f.open("", am::DELETE);
    assert_eq!(rename(&mut f, root, "newroot", false), Err(NtStatus::ACCESS_DENIED));
    rename(&mut f, a, "b", true).unwrap();
    assert_eq!(std::fs::read(f.path("b")).unwrap(), b"A");
    let bad = FileRenameInformation {
        root_directory: 7,
        file_name: Utf16::new(b"x\0", "t").unwrap(),
        ..Default::default()
    };
    assert_eq!(set(&mut f, a, C::RENAME, &bad), Err(NtStatus::INVALID_PARAMETER));
}

#[test]
fn renaming_a_directory_carries_open_children() {
    let mut f = Fixture::new();
    f.mkdir("old/inner");
    f.write_file("old/inner/f", b"x");
    let child = f.open(r"old\inner\f", am::GENERIC_READ | am::DELETE);
    let d = f.create("old", am::DELETE, D::OPEN, co::DIRECTORY_FILE).unwrap().file_id;
    rename(&mut f, d, "new", false).unwrap();
    assert!(f.path("new/inner/f").is_file());
    let mut buf = vec![0u8; 512];
    let (n, _) = f.opens.query_info(child, FILE_T, C::NAME.0, &mut buf).unwrap();
    assert_eq!(
        FileNameInformation::parse(&buf[..n]).unwrap().file_name.to_string().unwrap(),
        r"\new\inner\f"
    );
    // And deleting through the moved child still finds it.
    delete_pending(&mut f, child, true).unwrap();
    f.close(child);
    assert!(!f.exists("new/inner/f"));
}

#[test]
fn read_only_share_and_other_classes() {
    let mut f = Fixture::new();
    f.write_file("f", b"x");
    let id = f.open("f", am::MAXIMUM_ALLOWED);
    set(&mut f, id, C::POSITION, &FilePositionInformation { current_byte_offset: 77 }).unwrap();
    let mut buf = vec![0u8; 16];
    f.opens.query_info(id, FILE_T, C::POSITION.0, &mut buf).unwrap();
    assert_eq!(FilePositionInformation::parse(&buf).unwrap().current_byte_offset, 77);
    set(&mut f, id, C::MODE, &FileModeInformation { mode: file_mode::SEQUENTIAL_ONLY }).unwrap();
    assert_eq!(
        set(&mut f, id, C::MODE, &FileModeInformation { mode: 0x8000 }),
        Err(NtStatus::INVALID_PARAMETER)
    );
    let share = f.share.clone();
    assert_eq!(f.opens.set_info(&share, id, FILE_T, C::LINK.0, &[0u8; 24]), Err(NtStatus::NOT_SUPPORTED));
    assert_eq!(f.opens.set_info(&share, id, FILE_T, 99, &[0u8; 8]), Err(NtStatus::INVALID_INFO_CLASS));
    assert_eq!(f.opens.set_info(&share, id, 2, 1, &[0u8; 8]), Err(NtStatus::NOT_SUPPORTED));
    assert_eq!(f.opens.set_info(&share, id, 3, 0, &[0u8; 8]), Err(NtStatus::NOT_SUPPORTED));
    // A different share's tree cannot use this open.
    let mut other = share.clone();
    other.name = "other".into();
    assert_eq!(f.opens.set_info(&other, id, FILE_T, C::POSITION.0, &[0u8; 8]), Err(NtStatus::FILE_CLOSED));
    // On a read-only share nothing that changes the file is accepted.
    f.share.read_only = true;
    let ro_share = f.share.clone();
    let eof = FileEndOfFileInformation { end_of_file: 0 }.to_vec();
    assert_eq!(f.opens.set_info(&ro_share, id, FILE_T, C::END_OF_FILE.0, &eof), Err(NtStatus::ACCESS_DENIED));
    assert_eq!(std::fs::read(f.path("f")).unwrap(), b"x");
}
