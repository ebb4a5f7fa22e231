//! A failing disk (issue 15): the share's file system (ext4 on a loop device) is shut down under
//! the running server with the `shutdown` ioctl xfstests use to simulate a dead device
//! (`xfs_io -x -c shutdown`; ext4 takes the same ioctl as XFS's GOINGDOWN), after which the kernel
//! answers EIO to every read, write, create and sync on it. Each request then gets
//! STATUS_IO_DEVICE_ERROR (no WRITE is acknowledged), small ones the reactor does itself and large
//! ones the helper threads do alike; the server stays up, serves the other share, and takes new
//! logons.
//!
//! Mounting needs root (CI runs as root), `mkfs.ext4` and `xfs_io` (`scripts/test.sh` installs
//! them); elsewhere the test says why it did nothing.

mod common;

use client::{Client, ClientError, ClientOptions, OpenMode};
use server::config::{ServeConfig, ShareConfig};
use smb_wire::status::NtStatus;
use std::path::{Path, PathBuf};
use std::process::Command;

const PASS: &str = "D1sk-Err0r";
const MIB: usize = 1 << 20;
/// What smb-fs answers for EIO (MS-ERREF STATUS_IO_DEVICE_ERROR).
const IO_DEVICE_ERROR: NtStatus = NtStatus(0xC000_0185);

/// An ext4 file system on a loop device over a sparse image, mounted at `dir`; unmounted (and the
/// loop device freed: `mount -o loop` sets autoclear) when dropped.
struct LoopFs(PathBuf);

impl LoopFs {
    fn mount(image: &Path, dir: &Path, mib: u64) -> Result<LoopFs, String> {
        std::fs::File::create(image).and_then(|f| f.set_len(mib << 20)).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(image))?;
        run(Command::new("mount").args(["-o", "loop"]).arg(image).arg(dir))?;
        Ok(LoopFs(dir.to_path_buf()))
    }

    /// Every later access to the file system fails with EIO, as if its device had died.
    fn shut_down(&self) -> Result<(), String> {
        run(Command::new("xfs_io").args(["-x", "-c", "shutdown"]).arg(&self.0))
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn piece(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 131 + j * 7 + j / 4099) as u8).collect()
}

fn status_of(r: Result<impl std::fmt::Debug, ClientError>) -> Option<NtStatus> {
    match r {
        Err(ClientError::Status { status, .. }) => Some(status),
        other => panic!("expected an error status, got {other:?}"),
    }
}

#[test]
fn a_dead_device_answers_io_device_error_and_the_server_goes_on() {
    let root = common::is_root();
    let tools = ["mkfs.ext4", "xfs_io"].iter().all(|t| {
        Command::new("sh").args(["-c", &format!("command -v {t}")]).output().is_ok_and(|o| o.status.success())
    });
    if !root || !tools {
        eprintln!(
            "disk_errors: needs root, mkfs.ext4 and xfs_io (root {root}, tools {tools}); nothing tested"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = LoopFs::mount(&dir.path().join("disk.img"), &dir.path().join("disk"), 64)
        .unwrap_or_else(|e| panic!("an ext4 loop mount failed as root: {e}"));
    std::fs::create_dir(dir.path().join("other")).unwrap();
    let cfg = ServeConfig {
        listen: vec!["127.0.0.1:0".into()],
        shares: vec![
            ShareConfig::parse(&format!("disk={}", fs.0.display())).unwrap(),
            ShareConfig::parse(&format!("other={}/other", dir.path().display())).unwrap(),
        ],
        users: vec![format!("alice:{PASS}")],
        reactors: Some(1),
        ..Default::default()
    };
    let server = common::InProcess::start(&cfg);
    let addr = server.server().local_addrs()[0];
    let c = Client::connect(addr, "alice", PASS, ClientOptions::default()).unwrap();
    let disk = c.tree("disk").unwrap();

    // Healthy: large (helper thread) and small (reactor) WRITEs and READs work.
    let big = disk.open("big.bin", OpenMode::Write).unwrap();
    let small = disk.open("small.bin", OpenMode::Write).unwrap();
    for i in 0..2 {
        assert_eq!(big.write_at((i * MIB) as u64, &piece(i, MIB)).unwrap(), MIB);
    }
    assert_eq!(small.write_at(0, &piece(7, 4096)).unwrap(), 4096);
    let mut buf = vec![0u8; MIB];
    assert_eq!(big.read_at(0, &mut buf).unwrap(), MIB);
    assert!(buf == piece(0, MIB));

    fs.shut_down().unwrap_or_else(|e| panic!("the shutdown ioctl failed: {e}"));

    // Dead: every request on the share gets STATUS_IO_DEVICE_ERROR; no WRITE is acknowledged.
    assert_eq!(
        status_of(big.write_at((2 * MIB) as u64, &piece(2, MIB))),
        Some(IO_DEVICE_ERROR),
        "1 MiB WRITE"
    );
    assert_eq!(status_of(small.write_at(4096, &piece(8, 4096))), Some(IO_DEVICE_ERROR), "4 KiB WRITE");
    assert_eq!(status_of(big.read_at(0, &mut buf)), Some(IO_DEVICE_ERROR), "1 MiB READ");
    assert_eq!(status_of(small.read_at(0, &mut buf[..4096])), Some(IO_DEVICE_ERROR), "4 KiB READ");
    assert_eq!(status_of(big.flush()), Some(IO_DEVICE_ERROR), "FLUSH");
    assert_eq!(status_of(disk.open("new.bin", OpenMode::Write).map(|_| ())), Some(IO_DEVICE_ERROR), "CREATE");

    // The server goes on: the other share takes WRITEs and READs, a new connection logs on, and
    // the dead share still answers (with its error), the connection intact.
    let other = c.tree("other").unwrap();
    let g = other.open("elsewhere.bin", OpenMode::Write).unwrap();
    g.write_at(0, &piece(99, MIB)).unwrap();
    assert_eq!(g.read_at(0, &mut buf).unwrap(), MIB);
    assert!(buf == piece(99, MIB), "the other share's data read back");
    g.close().unwrap();
    let second = Client::connect(addr, "alice", PASS, ClientOptions::default()).unwrap();
    second.tree("disk").unwrap();
    assert_eq!(status_of(big.write_at(0, &piece(3, MIB))), Some(IO_DEVICE_ERROR), "WRITE again");
    let _ = big.close();
    let _ = small.close();
    drop(second);
    drop(c);
    drop(server);
    drop(fs);
}
