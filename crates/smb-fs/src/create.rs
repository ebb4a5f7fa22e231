//! MS-SMB2 3.3.5.9 CREATE against the disk (MS-FSA 2.1.5.1 "Server Requests an Open of a File"):
//! dispositions, directory/non-directory options, access checks, and the open that results.

use std::fs::File;

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use smb_wire::create::{access_mask, create_options, CreateAction, CreateDisposition, CreateRequest};
use smb_wire::info::file_attributes;
use smb_wire::status::NtStatus;

use crate::access::{self, DATA_READ, DATA_WRITE};
use crate::error::{FsError, Result};
use crate::meta::{volume_serial, Kind, Meta};
use crate::name::{parse_name, NameUse};
use crate::opens::{CreateOutcome, Open, Opens};
use crate::resolve::{self, Lookup};
use crate::share::Share;

/// CreateOptions an open keeps (FileModeInformation, MS-FSCC 2.4.26).
const MODE_OPTIONS: u32 = create_options::WRITE_THROUGH
    | create_options::SEQUENTIAL_ONLY
    | create_options::NO_INTERMEDIATE_BUFFERING
    | create_options::SYNCHRONOUS_IO_ALERT
    | create_options::SYNCHRONOUS_IO_NONALERT
    | create_options::DELETE_ON_CLOSE;

const BASE: OFlags = OFlags::NOFOLLOW.union(OFlags::CLOEXEC);

impl Opens {
    /// MS-SMB2 3.3.5.9 CREATE in tree 0 (see [`Opens::create_in_tree`]).
    pub fn create(
        &mut self,
        share: &Share,
        req: &CreateRequest<'_>,
    ) -> core::result::Result<CreateOutcome, NtStatus> {
        self.create_in_tree(0, share, req)
    }

    /// MS-SMB2 3.3.5.9 CREATE: opens or creates `req.name` below `share.root`, recording `tree_id` so
    /// TREE_DISCONNECT can close what the tree opened ([`Opens::close_tree`]).
    pub fn create_in_tree(
        &mut self,
        tree_id: u32,
        share: &Share,
        req: &CreateRequest<'_>,
    ) -> core::result::Result<CreateOutcome, NtStatus> {
        // A name created or removed by someone else between the look-up and the open is looked up
        // again once; a second loss is reported as it stands.
        let mut r = self.try_create(tree_id, share, req);
        if matches!(r, Err(FsError::Collision { .. }) | Err(FsError::NotFound { .. }))
            && req.create_disposition != CreateDisposition::CREATE
            && req.create_disposition != CreateDisposition::OPEN
            && req.create_disposition != CreateDisposition::OVERWRITE
        {
            r = self.try_create(tree_id, share, req);
        }
        self.track(r)
    }

    fn try_create(&mut self, tree_id: u32, share: &Share, req: &CreateRequest<'_>) -> Result<CreateOutcome> {
        const OP: &str = "CREATE";
        use CreateDisposition as D;
        if self.table.len() >= self.limits.max_opens {
            return Err(FsError::TooManyOpens { cap: self.limits.max_opens });
        }
        let disp = req.create_disposition;
        if disp.0 > D::OVERWRITE_IF.0 {
            return Err(FsError::InvalidParameter { op: OP, what: "CreateDisposition" });
        }
        let opts = req.create_options;
        let dir_only = opts & create_options::DIRECTORY_FILE != 0;
        let file_only = opts & create_options::NON_DIRECTORY_FILE != 0;
        if dir_only && file_only {
            return Err(FsError::InvalidParameter { op: OP, what: "DIRECTORY_FILE with NON_DIRECTORY_FILE" });
        }
        if dir_only && !matches!(disp, D::OPEN | D::CREATE | D::OPEN_IF) {
            return Err(FsError::InvalidParameter {
                op: OP,
                what: "DIRECTORY_FILE with an overwriting disposition",
            });
        }
        if opts & create_options::OPEN_BY_FILE_ID != 0 {
            return Err(FsError::NotSupported { op: OP, what: "FILE_OPEN_BY_FILE_ID" });
        }
        let parsed = parse_name(&req.name, NameUse::Create)?;
        let path = parsed.path;
        let display = path.display();
        let delete_on_close = opts & create_options::DELETE_ON_CLOSE != 0;
        let requested = access::expand_generic(req.desired_access);
        if delete_on_close
            && requested & access_mask::DELETE == 0
            && req.desired_access & access_mask::MAXIMUM_ALLOWED == 0
        {
            return Err(FsError::AccessDenied {
                op: "CREATE with DELETE_ON_CLOSE",
                path: display,
                need: access_mask::DELETE,
                granted: requested,
            });
        }

        let root = resolve::open_root(&share.root)?;
        let found = resolve::lookup(&root, &path)?;
        let grant = |maximal: u32| {
            access::grant(req.desired_access, maximal).map_err(|missing| FsError::AccessDenied {
                op: OP,
                path: display.clone(),
                need: missing,
                granted: maximal,
            })
        };

        let (action, file, path_only, meta, granted) = match found.meta {
            Some(meta) => {
                resolve::check_kind(&meta, &display)?;
                if self.delete_pending.contains(&meta.key()) {
                    return Err(FsError::DeletePending { path: display });
                }
                if disp == D::CREATE {
                    return Err(FsError::Collision { path: display });
                }
                let overwrite = matches!(disp, D::SUPERSEDE | D::OVERWRITE | D::OVERWRITE_IF);
                if meta.is_dir() {
                    if file_only {
                        return Err(FsError::IsDirectory { path: display });
                    }
                    if overwrite {
                        return Err(FsError::InvalidParameter {
                            op: OP,
                            what: "a directory cannot be overwritten",
                        });
                    }
                } else if dir_only || parsed.trailing_separator {
                    return Err(FsError::NotDirectory { path: display });
                }
                if overwrite && share.read_only {
                    return Err(FsError::ReadOnlyShare { op: "CREATE (overwrite)", path: display });
                }
                if overwrite && meta.is_read_only() {
                    return Err(FsError::ReadOnlyFile { op: "CREATE (overwrite)", path: display });
                }
                let maximal = access::maximal(share.read_only, meta.is_read_only());
                let granted = grant(maximal)?;
                if delete_on_close {
                    check_deletable(&meta, path.is_root(), &display)?;
                }
                let (file, path_only) = open_existing(&found, meta.is_dir(), granted, overwrite, &display)?;
                let opened = Meta::of_fd(&file).map_err(|e| FsError::io("stat", &display, e))?;
                if opened.key() != meta.key() || opened.kind != meta.kind {
                    // Replaced between the look-up and the open: look again.
                    return Err(FsError::NotFound { path: display });
                }
                let action = match disp {
                    D::SUPERSEDE => CreateAction::SUPERSEDED,
                    D::OVERWRITE | D::OVERWRITE_IF => CreateAction::OVERWRITTEN,
                    _ => CreateAction::OPENED,
                };
                let meta = if overwrite {
                    file.set_len(0).map_err(|e| FsError::io("CREATE (truncate)", &display, e))?;
                    apply_create_attributes(&file, req.file_attributes, &display)?;
                    Meta::of_fd(&file).map_err(|e| FsError::io("stat", &display, e))?
                } else {
                    opened
                };
                (action, file, path_only, meta, granted)
            }
            None => {
                if matches!(disp, D::OPEN | D::OVERWRITE) {
                    return Err(FsError::NotFound { path: display });
                }
                if share.read_only {
                    return Err(FsError::ReadOnlyShare { op: "CREATE (new file)", path: display });
                }
                if parsed.trailing_separator && !dir_only {
                    return Err(FsError::BadName { name: display, reason: "trailing `\\` on a new file" });
                }
                let granted = grant(access::maximal(false, false))?;
                // Created by someone else meanwhile: the caller looks again (once) unless CREATE.
                let file = create_new(&found, dir_only, &display)?;
                if !dir_only {
                    apply_create_attributes(&file, req.file_attributes, &display)?;
                }
                let meta = Meta::of_fd(&file).map_err(|e| FsError::io("stat", &display, e))?;
                (CreateAction::CREATED, file, false, meta, granted)
            }
        };

        let maximal_access = access::maximal(share.read_only, meta.is_read_only());
        let info = meta.network_open_info(path.file_name());
        let is_directory = meta.is_dir();
        let in_memory = !is_directory && !path_only && crate::read::in_memory(&file);
        let open = Open {
            tree_id,
            share_name: share.name.clone(),
            root: share.root.clone(),
            share_read_only: share.read_only,
            path,
            file: std::sync::Arc::new(file),
            direct: Default::default(),
            path_only,
            is_directory,
            in_memory,
            map: None,
            key: meta.key(),
            granted,
            mode: opts & MODE_OPTIONS,
            delete_on_close,
            position: 0,
            listing: None,
        };
        let file_id = self.insert(open)?;
        Ok(CreateOutcome {
            file_id,
            action,
            info,
            is_directory,
            granted_access: granted,
            maximal_access,
            index_number: meta.ino,
            volume_id: u64::from(volume_serial(meta.dev)),
        })
    }
}

/// Refuses delete-on-close (or a delete disposition) on what cannot be deleted: the share root and
/// read-only files (STATUS_CANNOT_DELETE).
pub(crate) fn check_deletable(meta: &Meta, is_root: bool, display: &str) -> Result<()> {
    if is_root {
        return Err(FsError::CannotDelete { path: display.to_owned(), reason: "the share root" });
    }
    if meta.is_read_only() {
        return Err(FsError::CannotDelete { path: display.to_owned(), reason: "the file is read-only" });
    }
    Ok(())
}

/// Opens an existing name relative to its parent, with the least access the grant needs: read and
/// write for data writes (write only if reading is refused and not asked for), read for data reads,
/// and for metadata-only opens read or, when even that is refused, O_PATH.
fn open_existing(
    found: &Lookup,
    is_dir: bool,
    granted: u32,
    overwrite: bool,
    display: &str,
) -> Result<(File, bool)> {
    let path_only = BASE | OFlags::PATH | if is_dir { OFlags::DIRECTORY } else { OFlags::empty() };
    let data = BASE | OFlags::NONBLOCK;
    let wants_read = granted & DATA_READ != 0;
    let attempts: &[OFlags] = if is_dir {
        if wants_read {
            &[data.union(OFlags::RDONLY).union(OFlags::DIRECTORY)]
        } else {
            &[data.union(OFlags::RDONLY).union(OFlags::DIRECTORY), path_only]
        }
    } else if granted & DATA_WRITE != 0 || overwrite {
        if wants_read {
            &[data.union(OFlags::RDWR)]
        } else {
            &[data.union(OFlags::RDWR), data.union(OFlags::WRONLY)]
        }
    } else if wants_read {
        &[data.union(OFlags::RDONLY)]
    } else {
        &[data.union(OFlags::RDONLY), path_only]
    };
    let mut last = Errno::ACCESS;
    for flags in attempts {
        match rustix::fs::openat(&found.parent, found.name.as_str(), *flags, Mode::empty()) {
            Ok(fd) => return Ok((File::from(fd), flags.contains(OFlags::PATH))),
            Err(Errno::ACCESS) => last = Errno::ACCESS,
            Err(Errno::LOOP) => return Err(FsError::Symlink { path: display.to_owned() }),
            Err(Errno::NOENT) => return Err(FsError::NotFound { path: display.to_owned() }),
            Err(e) => return Err(FsError::io("open", display, e)),
        }
    }
    Err(FsError::io("open", display, last))
}

/// Creates a file (O_CREAT | O_EXCL, which never follows a link) or a directory relative to the
/// parent and opens it.
fn create_new(found: &Lookup, dir: bool, display: &str) -> Result<File> {
    let name = found.name.as_str();
    let exists = |e: Errno| match e {
        Errno::EXIST => FsError::Collision { path: display.to_owned() },
        e => FsError::io("create", display, e),
    };
    let fd: OwnedFd = if dir {
        rustix::fs::mkdirat(&found.parent, name, Mode::from_bits_truncate(0o777)).map_err(exists)?;
        rustix::fs::openat(&found.parent, name, BASE | OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
            .map_err(|e| FsError::io("open new directory", display, e))?
    } else {
        let flags = BASE | OFlags::NONBLOCK | OFlags::RDWR | OFlags::CREATE | OFlags::EXCL;
        rustix::fs::openat(&found.parent, name, flags, Mode::from_bits_truncate(0o666)).map_err(exists)?
    };
    let file = File::from(fd);
    let m = Meta::of_fd(&file).map_err(|e| FsError::io("stat new file", display, e))?;
    let want = if dir { Kind::Directory } else { Kind::File };
    if m.kind != want {
        return Err(FsError::SpecialFile { path: display.to_owned() });
    }
    Ok(file)
}

/// The CREATE FileAttributes a new or overwritten file keeps: only READONLY has a POSIX meaning (no
/// write permission bits).
fn apply_create_attributes(file: &File, attrs: u32, display: &str) -> Result<()> {
    if attrs & file_attributes::READONLY != 0 {
        set_read_only(file, true, display)?;
    }
    Ok(())
}

/// FILE_ATTRIBUTE_READONLY as permission bits: set clears every write bit, clear restores the owner's.
pub(crate) fn set_read_only(file: &File, read_only: bool, display: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = file.metadata().map_err(|e| FsError::io("stat", display, e))?;
    let mode = meta.permissions().mode() & 0o7777;
    let new = if read_only { mode & !0o222 } else { mode | 0o200 };
    if new != mode {
        file.set_permissions(std::fs::Permissions::from_mode(new))
            .map_err(|e| FsError::io("set read-only attribute", display, e))?;
    }
    Ok(())
}
