//! READ, WRITE, FLUSH and CLOSE.

mod common;

use common::*;
use smb_wire::create::{access_mask as am, create_options as co};
use smb_wire::status::NtStatus;

#[test]
fn write_then_read_round_trips_with_matching_checksums() {
    let mut f = Fixture::new();
    let data = pseudo_random(1 << 20, 42);
    let o = f.create("big.bin", RW, D::CREATE, FILE).unwrap();
    // Out of order, in uneven chunks.
    let chunks: Vec<(usize, usize)> =
        (0..data.len()).step_by(65_537).map(|s| (s, (s + 65_537).min(data.len()))).collect();
    for &(s, e) in chunks.iter().rev() {
        assert_eq!(f.opens.write(o.file_id, s as u64, &data[s..e], false), Ok(e - s));
    }
    f.opens.flush(o.file_id).unwrap();
    let mut back = vec![0u8; data.len()];
    let mut off = 0;
    while off < back.len() {
        let end = (off + 40_000).min(back.len());
        let n = f.opens.read(o.file_id, off as u64, &mut back[off..end]).unwrap();
        assert!(n > 0);
        off += n;
    }
    assert_eq!(checksum(&back), checksum(&data));
    let info = f.opens.close(o.file_id, true).unwrap().unwrap();
    assert_eq!(info.end_of_file, data.len() as u64);
    assert_eq!(checksum(&std::fs::read(f.path("big.bin")).unwrap()), checksum(&data));
}

#[test]
fn write_beyond_eof_extends_with_zeros() {
    let mut f = Fixture::new();
    let o = f.create("sparse", RW, D::CREATE, FILE).unwrap();
    assert_eq!(f.opens.write(o.file_id, 0, b"head", false), Ok(4));
    assert_eq!(f.opens.write(o.file_id, 1_000_000, b"tail", true), Ok(4));
    let on_disk = std::fs::read(f.path("sparse")).unwrap();
    assert_eq!(on_disk.len(), 1_000_004);
    assert_eq!(&on_disk[..4], b"head");
    assert!(on_disk[4..1_000_000].iter().all(|&b| b == 0));
    assert_eq!(&on_disk[1_000_000..], b"tail");
    let mut gap = [0xFFu8; 16];
    assert_eq!(f.opens.read(o.file_id, 500_000, &mut gap), Ok(16));
    assert_eq!(gap, [0; 16]);
}

#[test]
fn reads_at_and_past_eof() {
    let mut f = Fixture::new();
    f.write_file("f", b"0123456789");
    let id = f.open("f", am::GENERIC_READ);
    let mut buf = [0u8; 8];
    assert_eq!(f.opens.read(id, 6, &mut buf), Ok(4), "short read at the end");
    assert_eq!(&buf[..4], b"6789");
    assert_eq!(f.opens.read(id, 10, &mut buf), Err(NtStatus::END_OF_FILE));
    assert_eq!(f.opens.read(id, 1 << 40, &mut buf), Err(NtStatus::END_OF_FILE));
    assert_eq!(f.opens.read(id, 10, &mut []), Ok(0), "zero-length reads succeed anywhere");
    assert_eq!(f.opens.read(id, u64::MAX, &mut buf), Err(NtStatus::INVALID_PARAMETER));
    let mut empty = Fixture::new();
    empty.write_file("e", b"");
    let e = empty.open("e", am::GENERIC_READ);
    assert_eq!(empty.opens.read(e, 0, &mut buf), Err(NtStatus::END_OF_FILE));
}

#[test]
fn access_decides_what_an_open_may_do() {
    let mut f = Fixture::new();
    f.write_file("f", b"data");
    f.mkdir("d");
    let mut buf = [0u8; 4];
    let ro = f.open("f", am::GENERIC_READ);
    assert_eq!(f.opens.write(ro, 0, b"x", false), Err(NtStatus::ACCESS_DENIED));
    assert_eq!(f.opens.flush(ro), Err(NtStatus::ACCESS_DENIED));
    let wo = f.open("f", am::FILE_WRITE_DATA);
    assert_eq!(f.opens.read(wo, 0, &mut buf), Err(NtStatus::ACCESS_DENIED));
    assert_eq!(f.opens.write(wo, 0, b"D", false), Ok(1));
    f.opens.flush(wo).unwrap();
    let attrs = f.open("f", am::FILE_READ_ATTRIBUTES);
    assert_eq!(f.opens.read(attrs, 0, &mut buf), Err(NtStatus::ACCESS_DENIED));
    let d = f.open("d", am::GENERIC_READ | am::GENERIC_WRITE);
    assert_eq!(f.opens.read(d, 0, &mut buf), Err(NtStatus::INVALID_DEVICE_REQUEST));
    assert_eq!(f.opens.write(d, 0, b"x", false), Err(NtStatus::INVALID_DEVICE_REQUEST));
    f.opens.flush(d).unwrap();
    assert_eq!(std::fs::read(f.path("f")).unwrap(), b"Data");
}

#[test]
fn append_only_opens_write_at_the_end() {
    let mut f = Fixture::new();
    f.write_file("log", b"one;");
    let id = f.open("log", am::FILE_APPEND_DATA | am::SYNCHRONIZE);
    assert_eq!(f.opens.write(id, u64::MAX, b"two;", false), Ok(4));
    assert_eq!(f.opens.write(id, 0, b"XXXX", false), Err(NtStatus::ACCESS_DENIED), "no rewriting");
    assert_eq!(f.opens.write(id, 8, b"three", false), Ok(5));
    assert_eq!(std::fs::read(f.path("log")).unwrap(), b"one;two;three");
}

#[test]
fn offsets_beyond_2_pow_63_are_invalid() {
    let mut f = Fixture::new();
    let o = f.create("f", RW, D::CREATE, FILE).unwrap();
    assert_eq!(f.opens.write(o.file_id, i64::MAX as u64, b"xy", false), Err(NtStatus::INVALID_PARAMETER));
    assert_eq!(f.opens.write(o.file_id, u64::MAX - 1, b"x", false), Err(NtStatus::INVALID_PARAMETER));
    assert_eq!(f.opens.write(o.file_id, 0, b"", false), Ok(0));
    assert_eq!(std::fs::metadata(f.path("f")).unwrap().len(), 0);
}

#[test]
fn write_through_opens_write_and_close_reports_the_result() {
    let mut f = Fixture::new();
    let o = f.create("wt", RW, D::CREATE, FILE | co::WRITE_THROUGH).unwrap();
    assert_eq!(f.opens.write(o.file_id, 0, &[1u8; 4096], false), Ok(4096));
    assert_eq!(f.opens.close(o.file_id, false), Ok(None));
    let o = f.create("wt", am::GENERIC_READ, D::OPEN, FILE).unwrap();
    let info = f.opens.close(o.file_id, true).unwrap().unwrap();
    assert_eq!(info.end_of_file, 4096);
    assert_eq!(info.file_attributes, smb_wire::info::file_attributes::ARCHIVE);
}

#[test]
fn a_read_of_cached_data_is_done_without_waiting_and_a_short_one_is_left_to_the_blocking_read() {
    let mut f = Fixture::new();
    let data = pseudo_random(256 << 10, 7);
    f.write_file("hot.bin", &data);
    let id = f.open("hot.bin", am::GENERIC_READ);
    // Just written: the page cache holds all of it.
    let r = f.opens.prepare_read(id, 4096, 128 << 10).unwrap();
    let mut buf = vec![0u8; 200 << 10];
    assert_eq!(r.read_cached(&mut buf), Some(128 << 10), "no more than the READ's length");
    assert_eq!(checksum(&buf[..128 << 10]), checksum(&data[4096..4096 + (128 << 10)]));
    // Running into the end of the file: short, so the blocking read (which reports it) does it.
    let r = f.opens.prepare_read(id, (200 << 10) as u64, 128 << 10).unwrap();
    assert_eq!(r.read_cached(&mut buf), None);
    assert_eq!(r.read(&mut buf).unwrap(), 56 << 10);
    assert_eq!(checksum(&buf[..56 << 10]), checksum(&data[200 << 10..]));
    let r = f.opens.prepare_read(id, 1 << 30, 4096).unwrap();
    assert_eq!(r.read_cached(&mut buf), None);
}

/// A share in a new directory on tmpfs (/dev/shm, which Debian mounts so).
fn tmpfs_fixture() -> Fixture {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        mounts.lines().any(|l| l.split(' ').take(3).collect::<Vec<_>>()[1..] == ["/dev/shm", "tmpfs"]),
        "this test needs /dev/shm on tmpfs"
    );
    Fixture::in_dir(std::path::Path::new("/dev/shm"))
}

#[test]
fn an_aligned_write_on_tmpfs_is_not_direct_and_lands_all_the_same() {
    let mut f = tmpfs_fixture();
    let o = f.create("ram.bin", RW, D::CREATE, FILE).unwrap();
    let data = pseudo_random(256 << 10, 5);
    let w = f.opens.prepare_write(o.file_id, 64 << 10, data.len(), false).unwrap();
    assert!(!w.is_direct(), "nothing to bypass: a tmpfs write is a copy, done where it arrives");
    assert_eq!(w.write(&data).unwrap(), data.len());
    let back = std::fs::read(f.path("ram.bin")).unwrap();
    assert_eq!(checksum(&back[64 << 10..]), checksum(&data));
}

#[test]
fn a_read_on_tmpfs_counts_as_cached_though_tmpfs_refuses_rwf_nowait() {
    let mut f = tmpfs_fixture();
    let data = pseudo_random(256 << 10, 9);
    f.write_file("ram.bin", &data);
    let id = f.open("ram.bin", am::GENERIC_READ);
    let r = f.opens.prepare_read(id, 8192, 64 << 10).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    assert_eq!(r.read_cached(&mut buf), Some(64 << 10));
    assert_eq!(checksum(&buf), checksum(&data[8192..8192 + (64 << 10)]));
    // Still short at the end of the file: left to the blocking read.
    let r = f.opens.prepare_read(id, (240 << 10) as u64, 64 << 10).unwrap();
    assert_eq!(r.read_cached(&mut buf), None);
}
