//! Shared fixtures for the integration tests: a share in a temporary directory and CREATE helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use smb_fs::{CreateOutcome, Opens, Share};
use smb_wire::create::{access_mask as am, create_options as co, CreateDisposition, CreateRequest};
use smb_wire::status::NtStatus;
use smb_wire::types::{utf16le, FileId, Utf16};

pub use smb_wire::create::CreateDisposition as D;

pub const RW: u32 = am::GENERIC_READ | am::GENERIC_WRITE;
pub const RWD: u32 = am::GENERIC_READ | am::GENERIC_WRITE | am::DELETE;
pub const FILE: u32 = co::NON_DIRECTORY_FILE;
pub const DIR: u32 = co::DIRECTORY_FILE;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub share: Share,
    pub opens: Opens,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_opens(Opens::new(256))
    }

    pub fn with_opens(opens: Opens) -> Self {
        Self::with_dir(tempfile::tempdir().unwrap(), opens)
    }

    /// A share in a new directory under `parent`.
    pub fn in_dir(parent: &std::path::Path) -> Self {
        Self::with_dir(tempfile::tempdir_in(parent).unwrap(), Opens::new(256))
    }

    fn with_dir(dir: tempfile::TempDir, opens: Opens) -> Self {
        let share = Share::new("data", dir.path());
        Self { dir, share, opens }
    }

    /// The on-disk path of a share-relative `a/b` path.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write_file(&self, rel: &str, data: &[u8]) {
        std::fs::write(self.path(rel), data).unwrap();
    }

    pub fn mkdir(&self, rel: &str) {
        std::fs::create_dir_all(self.path(rel)).unwrap();
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }

    pub fn create(
        &mut self,
        name: &str,
        access: u32,
        disposition: CreateDisposition,
        options: u32,
    ) -> Result<CreateOutcome, NtStatus> {
        self.create_attrs(name, access, disposition, options, 0)
    }

    pub fn create_attrs(
        &mut self,
        name: &str,
        access: u32,
        disposition: CreateDisposition,
        options: u32,
        attributes: u32,
    ) -> Result<CreateOutcome, NtStatus> {
        let n = utf16le(name);
        let req = request(&n, access, disposition, options, attributes);
        self.opens.create(&self.share, &req)
    }

    /// Opens an existing file or directory for everything.
    pub fn open(&mut self, name: &str, access: u32) -> FileId {
        self.create(name, access, D::OPEN, 0).unwrap_or_else(|s| panic!("open {name}: {s:?}")).file_id
    }

    pub fn close(&mut self, id: FileId) {
        self.opens.close(id, false).unwrap();
    }
}

pub fn request(
    name: &[u8],
    access: u32,
    disposition: CreateDisposition,
    options: u32,
    attrs: u32,
) -> CreateRequest<'_> {
    CreateRequest {
        desired_access: access,
        file_attributes: attrs,
        share_access: 7,
        create_disposition: disposition,
        create_options: options,
        name: Utf16::new(name, "name").unwrap(),
        ..Default::default()
    }
}

/// FNV-1a 64: a checksum for comparing file contents.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Deterministic pseudo-random bytes (xorshift).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The FILETIME of a std SystemTime.
pub fn filetime(t: std::time::SystemTime) -> u64 {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap();
    (d.as_secs() + 11_644_473_600) * 10_000_000 + u64::from(d.subsec_nanos() / 100)
}
