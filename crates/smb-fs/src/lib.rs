//! # smb-fs: shares as directories, and the open table behind the SMB2 file commands
//!
//! What this crate is for: the file side of an SMB 3.1.1 server. A [`Share`] maps a share name to a
//! directory; an [`Opens`] table (one per session) turns CREATE, CLOSE, READ, WRITE, FLUSH,
//! QUERY_DIRECTORY, QUERY_INFO and SET_INFO into file system calls, and answers with the typed
//! `smb-wire` structures and the NTSTATUS Windows would give (MS-SMB2 3.3.5.9-3.3.5.21, MS-FSA 2.1.5).
//!
//! What it must not do: sessions, trees, credits, signing, encryption or sockets (that is
//! `smb-session` and the server). It knows files and statuses, nothing else.
//!
//! Containment: no client name ever reaches a path outside the share. Names are checked before use
//! ([`name`]: no `..` above the root, no absolute, drive, UNC, stream or device names, no `/` or
//! NUL), then resolved one component at a time from a descriptor of the share root with O_NOFOLLOW
//! ([`resolve`]): a symbolic link anywhere in the share is refused (STATUS_ACCESS_DENIED), never
//! followed; listings leave out links, special files and names a client could not open. Only regular
//! files and directories are served.
//!
//! Semantics in brief: FileIds are unique within one table; delete-on-close and delete dispositions
//! take effect when the last open of the file in this table closes; directory enumerations are
//! sorted snapshots, capped ([`Limits`]); there are no ACLs (every user may do what the server
//! process may, less writes on a read-only share), no oplocks, no byte-range locks, no streams, no
//! EAs, and names are case-sensitive on disk (patterns match case-insensitively).
//!
//! ```
//! use smb_fs::{Opens, Share};
//! use smb_wire::create::{access_mask, create_options, CreateDisposition, CreateRequest};
//! use smb_wire::types::{utf16le, Utf16};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let share = Share::new("data", dir.path());
//! let mut opens = Opens::new(64);
//! let name = utf16le(r"hello.txt");
//! let req = CreateRequest {
//!     desired_access: access_mask::GENERIC_READ | access_mask::GENERIC_WRITE,
//!     create_disposition: CreateDisposition::OVERWRITE_IF,
//!     create_options: create_options::NON_DIRECTORY_FILE,
//!     name: Utf16::new(&name, "name").unwrap(),
//!     ..Default::default()
//! };
//! let created = opens.create(&share, &req).unwrap();
//! assert_eq!(opens.write(created.file_id, 0, b"hi", false), Ok(2));
//! let mut buf = [0u8; 8];
//! assert_eq!(opens.read(created.file_id, 0, &mut buf), Ok(2));
//! assert_eq!(opens.close(created.file_id, true).unwrap().unwrap().end_of_file, 2);
//! assert_eq!(std::fs::read(dir.path().join("hello.txt")).unwrap(), b"hi");
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod access;
mod create;
pub mod error;
pub mod meta;
pub mod name;
mod opens;
mod query_directory;
mod query_info;
mod read;
pub mod resolve;
mod set_info;
mod share;
pub mod wildcard;
mod write;

pub use error::FsError;
pub use opens::{direct_aligned, CreateOutcome, Limits, Opens, DIRECT_ALIGN};
pub use query_info::FILE_SYSTEM_NAME;
pub use read::{lent_reads, LentRead, PreparedRead};
pub use share::Share;
pub use smb_wire::status::NtStatus;
pub use write::PreparedWrite;
