//! Finding a name below the share root without ever leaving it.
//!
//! Every lookup starts from a descriptor of the share root and opens one component at a time with
//! `openat(dir, component, O_PATH | O_DIRECTORY | O_NOFOLLOW)`: a symbolic link anywhere on the way
//! is refused rather than followed, and since each step is relative to the directory the previous step
//! opened, swapping a directory for a link between checks cannot redirect the walk. The last component
//! is examined with `statx(AT_SYMLINK_NOFOLLOW)` and opened (or created, renamed, unlinked) relative
//! to its parent's descriptor, again with O_NOFOLLOW; `..` never reaches here ([`crate::name`]
//! resolved it lexically).

use std::path::Path;

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::error::{FsError, Result};
use crate::meta::{Kind, Meta};
use crate::name::RelPath;

/// Flags of every directory step: a handle for further lookups only, never a link.
const STEP: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// A name found (or found missing) below the root.
#[derive(Debug)]
pub struct Lookup {
    /// The directory holding the name (the root itself for the root).
    pub parent: OwnedFd,
    /// The last component, `.` for the root.
    pub name: String,
    /// The name's metadata, `None` when it does not exist.
    pub meta: Option<Meta>,
}

/// Opens the share root (the administrator's path, links in it allowed) for lookups.
pub fn open_root(root: &Path) -> Result<OwnedFd> {
    rustix::fs::open(root, STEP.difference(OFlags::NOFOLLOW), Mode::empty())
        .map_err(|e| FsError::io("open share root", &root.display().to_string(), e))
}

/// Opens the directory `comps` below `root_fd`; `display` names the whole request in errors.
pub fn open_dir(root_fd: &OwnedFd, comps: &[String], display: &str) -> Result<OwnedFd> {
    let mut cur = rustix::io::dup(root_fd).map_err(|e| FsError::io("dup share root", display, e))?;
    for comp in comps {
        cur = match rustix::fs::openat(&cur, comp.as_str(), STEP, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Err(FsError::PathNotFound { path: display.to_owned() }),
            Err(Errno::NOTDIR | Errno::LOOP) => {
                return Err(match Meta::of_name(&cur, comp) {
                    Ok(m) if m.kind == Kind::Symlink => FsError::Symlink { path: display.to_owned() },
                    _ => FsError::PathNotFound { path: display.to_owned() },
                })
            }
            Err(e) => return Err(FsError::io("open directory", display, e)),
        };
    }
    Ok(cur)
}

/// Finds `path` below `root_fd`: opens its parent, and stats the last component without following it.
pub fn lookup(root_fd: &OwnedFd, path: &RelPath) -> Result<Lookup> {
    let display = path.display();
    let Some((parents, name)) = path.split_last() else {
        let parent = rustix::io::dup(root_fd).map_err(|e| FsError::io("dup share root", &display, e))?;
        let meta = Meta::of_fd(&parent).map_err(|e| FsError::io("stat share root", &display, e))?;
        return Ok(Lookup { parent, name: ".".to_owned(), meta: Some(meta) });
    };
    let parent = open_dir(root_fd, parents, &display)?;
    let meta = match Meta::of_name(&parent, name) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(FsError::io("stat", &display, e)),
    };
    Ok(Lookup { parent, name: name.to_owned(), meta })
}

/// Refuses links and special files: only regular files and directories are served.
pub fn check_kind(meta: &Meta, display: &str) -> Result<()> {
    match meta.kind {
        Kind::File | Kind::Directory => Ok(()),
        Kind::Symlink => Err(FsError::Symlink { path: display.to_owned() }),
        Kind::Other => Err(FsError::SpecialFile { path: display.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_wire::status::NtStatus;

    #[test]
    fn walks_directories_and_refuses_links_on_the_way() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        let share = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(share.path().join("a/b")).unwrap();
        std::fs::write(share.path().join("a/b/f"), b"data").unwrap();
        std::os::unix::fs::symlink(outside.path(), share.path().join("a/link")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), share.path().join("a/flink")).unwrap();
        let root = open_root(share.path()).unwrap();

        let l = lookup(&root, &RelPath::from_components(&["a", "b", "f"])).unwrap();
        assert_eq!(l.meta.unwrap().size, 4);
        let l = lookup(&root, &RelPath::from_components(&["a", "b", "none"])).unwrap();
        assert!(l.meta.is_none());
        let e = lookup(&root, &RelPath::from_components(&["a", "nodir", "f"])).unwrap_err();
        assert_eq!(e.status(), NtStatus::OBJECT_PATH_NOT_FOUND);
        let e = lookup(&root, &RelPath::from_components(&["a", "b", "f", "g"])).unwrap_err();
        assert_eq!(e.status(), NtStatus::OBJECT_PATH_NOT_FOUND);
        let e = lookup(&root, &RelPath::from_components(&["a", "link", "secret"])).unwrap_err();
        assert!(matches!(e, FsError::Symlink { .. }), "{e:?}");
        // The link itself is found as a link, never as its target.
        let l = lookup(&root, &RelPath::from_components(&["a", "flink"])).unwrap();
        let m = l.meta.unwrap();
        assert_eq!(m.kind, Kind::Symlink);
        assert_eq!(check_kind(&m, "a\\flink").unwrap_err().status(), NtStatus::ACCESS_DENIED);
        let l = lookup(&root, &RelPath::root()).unwrap();
        assert_eq!(l.name, ".");
        assert!(l.meta.unwrap().is_dir());
    }
}
