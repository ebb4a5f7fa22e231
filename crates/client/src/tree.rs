//! A connected share and the path operations on it: open, list, stat, mkdir, remove, rename.
//!
//! Each path operation is what Windows clients do on the wire: a CREATE that opens the object with
//! just the access it needs, the operation (QUERY_DIRECTORY, SET_INFO), then CLOSE. A failure in the
//! middle still closes the handle.

use std::sync::Arc;

use smb_client_proto::{Completion, FileHandle, TreeHandle};
use smb_wire::create::{access_mask as access, create_options, CreateDisposition};
use smb_wire::info::dir::FileDirectoryInformation;
use smb_wire::info::file::{FileDispositionInformation, FileRenameInformation};
use smb_wire::info::FileInfoClass;
use smb_wire::query_directory::query_directory_flags;
use smb_wire::query_info::InfoType;
use smb_wire::status::NtStatus;
use smb_wire::types::{utf16le, Utf16};
use smb_wire::Encode;

use crate::client::Shared;
use crate::driver::Op;
use crate::error::ClientError;
use crate::file::File;
use crate::metadata::{DirEntry, Metadata};
use crate::options::OpenMode;

/// Bytes of directory entries asked for per QUERY_DIRECTORY.
const LIST_CHUNK: u32 = 64 << 10;
/// A listing longer than this is refused rather than held in memory (a hostile server could
/// otherwise answer forever).
const MAX_LISTING: usize = 1 << 20;

/// The share-relative SMB form of `path`: no leading separator, `\` between components.
pub(crate) fn smb_path(path: &str) -> String {
    path.trim_matches(['/', '\\']).replace('/', "\\")
}

/// A connected share.
pub struct Tree {
    shared: Arc<Shared>,
    tree: TreeHandle,
    share_flags: u32,
}

impl Tree {
    pub(crate) fn new(shared: Arc<Shared>, tree: TreeHandle, share_flags: u32) -> Tree {
        Tree { shared, tree, share_flags }
    }

    /// The ShareFlags the server announced (e.g. SMB2_SHAREFLAG_ENCRYPT_DATA).
    pub fn share_flags(&self) -> u32 {
        self.share_flags
    }

    /// Whether messages on this share are encrypted (the session's or the share's setting).
    pub fn encrypted(&self) -> bool {
        self.shared.encrypted || self.share_flags & smb_wire::tree_connect::share_flags::ENCRYPT_DATA != 0
    }

    /// CREATE of `path`; the handle and what the server said about the object.
    fn create(
        &self,
        op: &'static str,
        path: &str,
        access: u32,
        disposition: CreateDisposition,
        options: u32,
    ) -> Result<(FileHandle, Metadata), ClientError> {
        let create = Op::Create { tree: self.tree, path: smb_path(path), access, disposition, options };
        match self.shared.call(create, op, path)? {
            Completion::Created { file, info, .. } => Ok((file, Metadata::from_open(&info.info))),
            _ => Err(ClientError::Unexpected { op }),
        }
    }

    /// Runs `body` on an open handle, then closes it whatever `body` returned.
    fn with_handle<T>(
        &self,
        handle: FileHandle,
        path: &str,
        body: impl FnOnce() -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let r = body();
        let closed = match self.shared.call(Op::Close { file: handle }, "close", path) {
            Ok(Completion::Closed { .. }) => Ok(()),
            Ok(_) => Err(ClientError::Unexpected { op: "close" }),
            Err(e) => Err(e),
        };
        let v = r?;
        closed.map(|()| v)
    }

    /// Opens the file `path` (relative to the share root; `/` or `\` separated) as `mode` says.
    ///
    /// Errors: [`ClientError::NotFound`] for a missing file in [`OpenMode::Read`],
    /// [`ClientError::AccessDenied`], and those of every call.
    pub fn open(&self, path: &str, mode: OpenMode) -> Result<File, ClientError> {
        let read = access::FILE_READ_DATA | access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE;
        let write = read | access::FILE_WRITE_DATA | access::FILE_APPEND_DATA | access::FILE_WRITE_ATTRIBUTES;
        let (access, disposition) = match mode {
            OpenMode::Read => (read, CreateDisposition::OPEN),
            OpenMode::Write => (write, CreateDisposition::OVERWRITE_IF),
            OpenMode::ReadWrite => (write, CreateDisposition::OPEN),
            OpenMode::CreateNew => (write, CreateDisposition::CREATE),
        };
        let (handle, meta) =
            self.create("open", path, access, disposition, create_options::NON_DIRECTORY_FILE)?;
        Ok(File::new(self.shared.clone(), handle, path.to_string(), meta.size, self.encrypted()))
    }

    /// What the server knows about `path` (a file or a directory; `""` is the share root).
    pub fn stat(&self, path: &str) -> Result<Metadata, ClientError> {
        let (handle, meta) =
            self.create("stat", path, access::FILE_READ_ATTRIBUTES, CreateDisposition::OPEN, 0)?;
        self.with_handle(handle, path, || Ok(meta))
    }

    /// The entries of directory `path` (`""` is the share root), without "." and "..".
    pub fn list(&self, path: &str) -> Result<Vec<DirEntry>, ClientError> {
        let want = access::FILE_LIST_DIRECTORY | access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE;
        let (handle, _) =
            self.create("list", path, want, CreateDisposition::OPEN, create_options::DIRECTORY_FILE)?;
        self.with_handle(handle, path, || self.read_directory(handle, path))
    }

    fn read_directory(&self, handle: FileHandle, path: &str) -> Result<Vec<DirEntry>, ClientError> {
        let mut out = Vec::new();
        let mut flags = query_directory_flags::RESTART_SCANS;
        loop {
            let op = Op::QueryDirectory {
                file: handle,
                class: FileInfoClass::DIRECTORY,
                pattern: "*".into(),
                flags,
                output_len: LIST_CHUNK,
            };
            flags = 0;
            let entries = match self.shared.call(op, "list", path) {
                Ok(Completion::DirectoryListed { entries, .. }) => entries,
                Ok(_) => return Err(ClientError::Unexpected { op: "list" }),
                Err(ClientError::Status { status: NtStatus::NO_MORE_FILES, .. }) => return Ok(out),
                Err(e) => return Err(e),
            };
            if entries.is_empty() {
                return Ok(out);
            }
            for e in FileDirectoryInformation::entries(&entries) {
                let e = e.map_err(|source| ClientError::Malformed { what: "directory entry", source })?;
                let name = e.file_name.to_string_lossy();
                if name == "." || name == ".." {
                    continue;
                }
                if out.len() >= MAX_LISTING {
                    return Err(ClientError::TooMany { what: "directory entries", max: MAX_LISTING });
                }
                out.push(DirEntry { name, metadata: Metadata::from_dir(&e.base) });
            }
        }
    }

    /// Creates directory `path` (its parent must exist).
    pub fn mkdir(&self, path: &str) -> Result<(), ClientError> {
        let (handle, _) = self.create(
            "mkdir",
            path,
            access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE,
            CreateDisposition::CREATE,
            create_options::DIRECTORY_FILE,
        )?;
        self.with_handle(handle, path, || Ok(()))
    }

    /// Deletes the file `path`.
    pub fn remove_file(&self, path: &str) -> Result<(), ClientError> {
        self.delete(path, create_options::NON_DIRECTORY_FILE)
    }

    /// Deletes the empty directory `path`.
    pub fn remove_dir(&self, path: &str) -> Result<(), ClientError> {
        self.delete(path, create_options::DIRECTORY_FILE)
    }

    /// MS-FSCC FileDispositionInformation on an open with DELETE access: the object goes when the
    /// handle closes. Done with SET_INFO rather than FILE_DELETE_ON_CLOSE so that a refusal (a
    /// non-empty directory) comes back as its own status.
    fn delete(&self, path: &str, kind: u32) -> Result<(), ClientError> {
        let want = access::DELETE | access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE;
        let (handle, _) = self.create("remove", path, want, CreateDisposition::OPEN, kind)?;
        self.with_handle(handle, path, || {
            let info = FileDispositionInformation { delete_pending: true };
            self.set_info(handle, FileDispositionInformation::CLASS, info.to_vec(), "remove", path)
        })
    }

    /// Renames (moves) `from` to `to`, both relative to the share root; an existing `to` is
    /// replaced only when `replace` is set.
    pub fn rename(&self, from: &str, to: &str, replace: bool) -> Result<(), ClientError> {
        let want = access::DELETE | access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE;
        let (handle, _) = self.create("rename", from, want, CreateDisposition::OPEN, 0)?;
        self.with_handle(handle, from, || {
            let name = utf16le(&smb_path(to));
            let file_name = Utf16::new(&name, "rename target")
                .map_err(|source| ClientError::Malformed { what: "rename target", source })?;
            let info = FileRenameInformation { replace_if_exists: replace, root_directory: 0, file_name };
            self.set_info(handle, FileRenameInformation::CLASS, info.to_vec(), "rename", from)
        })
    }

    fn set_info(
        &self,
        file: FileHandle,
        class: FileInfoClass,
        buffer: Vec<u8>,
        op: &'static str,
        path: &str,
    ) -> Result<(), ClientError> {
        let set = Op::SetInfo { file, info_type: InfoType::FILE, class: class.0, buffer };
        match self.shared.call(set, op, path)? {
            Completion::InfoSet { .. } => Ok(()),
            _ => Err(ClientError::Unexpected { op }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_share_relative_with_backslashes() {
        assert_eq!(smb_path("/a/b.txt"), r"a\b.txt");
        assert_eq!(smb_path(r"\a\b\"), r"a\b");
        assert_eq!(smb_path(""), "");
        assert_eq!(smb_path("/"), "");
    }
}
