//! What went wrong in the file system backend, and the one NTSTATUS each case answers with.
//!
//! Every operation fails with an [`FsError`] naming the operation and the share-relative path (or
//! the value) at fault; [`FsError::status`] maps it to the status MS-SMB2/MS-FSA prescribe. The public
//! [`crate::Opens`] methods return the status, and keep the last error for logs
//! ([`crate::Opens::last_error`]).

use std::io;

use smb_wire::status::NtStatus;
use smb_wire::types::FileId;

/// Statuses this crate answers with that `smb-wire` does not name (MS-ERREF 2.3).
pub mod extra_status {
    use smb_wire::status::NtStatus;

    /// The file is read-only (or the share root): it cannot be deleted.
    pub const CANNOT_DELETE: NtStatus = NtStatus(0xC000_0121);
    /// A rename across file systems inside the share.
    pub const NOT_SAME_DEVICE: NtStatus = NtStatus(0xC000_00D4);
    /// The disk failed (EIO).
    pub const IO_DEVICE_ERROR: NtStatus = NtStatus(0xC000_0185);
}

/// Why a file system operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("name {name:?} is invalid: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("name {name:?} starts with a path separator")]
    LeadingSeparator { name: String },
    #[error("name {name:?} climbs above the share root with `..`")]
    EscapesRoot { name: String },
    #[error("{name:?} is a reserved DOS device name")]
    DeviceName { name: String },
    #[error("{path:?} is a symbolic link: refused")]
    Symlink { path: String },
    #[error("{path:?} is neither a regular file nor a directory: refused")]
    SpecialFile { path: String },
    #[error("{op} on {path:?} needs access {need:#010x}, the open was granted {granted:#010x}")]
    AccessDenied { op: &'static str, path: String, need: u32, granted: u32 },
    #[error("{op} on {path:?} refused: the share is read-only")]
    ReadOnlyShare { op: &'static str, path: String },
    #[error("{op} on {path:?} refused: the file is read-only")]
    ReadOnlyFile { op: &'static str, path: String },
    #[error("{path:?} does not exist")]
    NotFound { path: String },
    #[error("a directory on the way to {path:?} does not exist")]
    PathNotFound { path: String },
    #[error("{path:?} already exists")]
    Collision { path: String },
    #[error("{path:?} is a directory")]
    IsDirectory { path: String },
    #[error("{path:?} is not a directory")]
    NotDirectory { path: String },
    #[error("directory {path:?} is not empty")]
    DirectoryNotEmpty { path: String },
    #[error("{path:?} is waiting to be deleted")]
    DeletePending { path: String },
    #[error("{path:?} cannot be deleted: {reason}")]
    CannotDelete { path: String, reason: &'static str },
    #[error("{op}: invalid parameter: {what}")]
    InvalidParameter { op: &'static str, what: &'static str },
    #[error("{op} on {path:?}: not valid for this kind of open")]
    InvalidDeviceRequest { op: &'static str, path: String },
    #[error("{op}: {what} is not supported")]
    NotSupported { op: &'static str, what: &'static str },
    #[error("no open with file id {0:?}")]
    UnknownFileId(FileId),
    #[error("open table is full ({cap} opens)")]
    TooManyOpens { cap: usize },
    #[error("directory {path:?} has more than {cap} entries to list")]
    DirectoryTooLarge { path: String, cap: usize },
    #[error("directory listings of this session hold more than {cap} bytes")]
    ListingBudget { cap: usize },
    #[error("information class {class} of info type {info_type} is not supported")]
    InvalidInfoClass { info_type: u8, class: u8 },
    #[error("{what} needs {need} bytes, the buffer has {have}")]
    InfoLength { what: &'static str, need: usize, have: usize },
    #[error("the first matching entry of {path:?} does not fit in {have} bytes")]
    EntryTooLarge { path: String, have: usize },
    #[error("read at {offset} of {path:?}: at or past the end of file")]
    EndOfFile { path: String, offset: u64 },
    #[error("no file in {path:?} matches {pattern:?}")]
    NoSuchFile { path: String, pattern: String },
    #[error("enumeration of {path:?} is complete")]
    NoMoreFiles { path: String },
    #[error("{op} on {path:?}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
}

impl FsError {
    /// The NTSTATUS the client sees.
    pub fn status(&self) -> NtStatus {
        use FsError::*;
        match self {
            BadName { .. } => NtStatus::OBJECT_NAME_INVALID,
            LeadingSeparator { .. } => NtStatus::INVALID_PARAMETER,
            EscapesRoot { .. } => NtStatus::OBJECT_PATH_SYNTAX_BAD,
            DeviceName { .. }
            | Symlink { .. }
            | SpecialFile { .. }
            | AccessDenied { .. }
            | ReadOnlyShare { .. }
            | ReadOnlyFile { .. } => NtStatus::ACCESS_DENIED,
            NotFound { .. } => NtStatus::OBJECT_NAME_NOT_FOUND,
            PathNotFound { .. } => NtStatus::OBJECT_PATH_NOT_FOUND,
            Collision { .. } => NtStatus::OBJECT_NAME_COLLISION,
            IsDirectory { .. } => NtStatus::FILE_IS_A_DIRECTORY,
            NotDirectory { .. } => NtStatus::NOT_A_DIRECTORY,
            DirectoryNotEmpty { .. } => NtStatus::DIRECTORY_NOT_EMPTY,
            DeletePending { .. } => NtStatus::DELETE_PENDING,
            CannotDelete { .. } => extra_status::CANNOT_DELETE,
            InvalidParameter { .. } => NtStatus::INVALID_PARAMETER,
            InvalidDeviceRequest { .. } => NtStatus::INVALID_DEVICE_REQUEST,
            NotSupported { .. } => NtStatus::NOT_SUPPORTED,
            UnknownFileId(_) => NtStatus::FILE_CLOSED,
            TooManyOpens { .. } | DirectoryTooLarge { .. } | ListingBudget { .. } => {
                NtStatus::INSUFFICIENT_RESOURCES
            }
            InvalidInfoClass { .. } => NtStatus::INVALID_INFO_CLASS,
            InfoLength { .. } => NtStatus::INFO_LENGTH_MISMATCH,
            EntryTooLarge { .. } => NtStatus::BUFFER_OVERFLOW,
            EndOfFile { .. } => NtStatus::END_OF_FILE,
            NoSuchFile { .. } => NtStatus::NO_SUCH_FILE,
            NoMoreFiles { .. } => NtStatus::NO_MORE_FILES,
            Io { source, .. } => io_status(source),
        }
    }

    /// Wraps an I/O error, keeping the operation and path for the log.
    pub(crate) fn io(op: &'static str, path: &str, source: impl Into<io::Error>) -> Self {
        FsError::Io { op, path: path.to_owned(), source: source.into() }
    }
}

impl From<FsError> for NtStatus {
    fn from(e: FsError) -> Self {
        e.status()
    }
}

/// Maps an errno the kernel returned to the status Windows reports for the same condition.
fn io_status(e: &io::Error) -> NtStatus {
    use rustix::io::Errno;
    let Some(errno) = Errno::from_io_error(e) else {
        return NtStatus::UNSUCCESSFUL;
    };
    match errno {
        Errno::NOENT => NtStatus::OBJECT_NAME_NOT_FOUND,
        Errno::NOTDIR => NtStatus::OBJECT_PATH_NOT_FOUND,
        Errno::EXIST => NtStatus::OBJECT_NAME_COLLISION,
        // ELOOP: O_NOFOLLOW met a symlink that appeared after the checks.
        Errno::ACCESS | Errno::PERM | Errno::LOOP | Errno::ROFS | Errno::BADF => NtStatus::ACCESS_DENIED,
        Errno::NOSPC | Errno::DQUOT | Errno::FBIG => NtStatus::DISK_FULL,
        Errno::NOTEMPTY => NtStatus::DIRECTORY_NOT_EMPTY,
        Errno::ISDIR => NtStatus::FILE_IS_A_DIRECTORY,
        Errno::NAMETOOLONG => NtStatus::OBJECT_NAME_INVALID,
        Errno::INVAL => NtStatus::INVALID_PARAMETER,
        Errno::MFILE | Errno::NFILE | Errno::NOMEM => NtStatus::INSUFFICIENT_RESOURCES,
        Errno::BUSY | Errno::TXTBSY => NtStatus::SHARING_VIOLATION,
        Errno::XDEV => extra_status::NOT_SAME_DEVICE,
        Errno::IO => extra_status::IO_DEVICE_ERROR,
        Errno::OPNOTSUPP | Errno::NOSYS => NtStatus::NOT_SUPPORTED,
        _ => NtStatus::UNSUCCESSFUL,
    }
}

pub type Result<T> = core::result::Result<T, FsError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping_matches_windows() {
        let e = |n: Errno| FsError::io("t", "x", io::Error::from_raw_os_error(n.raw_os_error())).status();
        use rustix::io::Errno;
        assert_eq!(e(Errno::NOENT), NtStatus::OBJECT_NAME_NOT_FOUND);
        assert_eq!(e(Errno::EXIST), NtStatus::OBJECT_NAME_COLLISION);
        assert_eq!(e(Errno::LOOP), NtStatus::ACCESS_DENIED);
        assert_eq!(e(Errno::NOSPC), NtStatus::DISK_FULL);
        assert_eq!(e(Errno::NOTEMPTY), NtStatus::DIRECTORY_NOT_EMPTY);
        assert_eq!(e(Errno::XDEV), extra_status::NOT_SAME_DEVICE);
        assert_eq!(FsError::io("t", "x", io::Error::other("?")).status(), NtStatus::UNSUCCESSFUL);
    }

    #[test]
    fn messages_name_the_operation_and_path() {
        let e = FsError::AccessDenied { op: "WRITE", path: "a\\b".into(), need: 2, granted: 1 };
        assert_eq!(
            e.to_string(),
            "WRITE on \"a\\\\b\" needs access 0x00000002, the open was granted 0x00000001"
        );
        assert_eq!(NtStatus::from(e), NtStatus::ACCESS_DENIED);
    }
}
