//! MS-SMB2 3.3.5.18 QUERY_DIRECTORY (MS-FSA 2.1.5.6.3 directory information queries): a stable
//! enumeration of a directory open, filled into the client's buffer a chain of entries at a time.
//!
//! The first query of an open (or one with RESTART_SCANS or REOPEN) takes a snapshot of the matching
//! names, sorted, with `.` and `..` first; later queries continue from where the last one stopped,
//! so a client paging with small buffers sees every name once even while the directory changes.
//! Metadata is read when an entry is emitted (a name that vanished meanwhile is skipped).

use rustix::fs::{Dir, FileType};
use smb_wire::create::access_mask;
use smb_wire::info::chain::{Append, ChainBuilder, ChainEntry};
use smb_wire::info::dir::{
    AnyDirEntry, FileBothDirectoryInformation, FileDirectoryInformation, FileFullDirectoryInformation,
    FileIdBothDirectoryInformation, FileIdFullDirectoryInformation, FileNamesInformation,
};
use smb_wire::info::FileInfoClass;
use smb_wire::query_directory::query_directory_flags as qd;
use smb_wire::query_info::InfoType;
use smb_wire::status::NtStatus;
use smb_wire::types::{FileId, Utf16};

use crate::error::{FsError, Result};
use crate::meta::{Kind, Meta};
use crate::name::{check_component, check_pattern};
use crate::opens::{Open, Opens};
use crate::wildcard::Pattern;

/// Bytes a snapshot is charged per name beyond the name itself (the boxed string's pointer and
/// length, and allocator slack).
const PER_NAME_OVERHEAD: usize = 32;

/// The enumeration state of one directory open.
#[derive(Debug)]
pub(crate) struct Listing {
    names: Vec<Box<str>>,
    /// The next name to emit.
    cursor: usize,
    bytes: usize,
    /// A query ran since the snapshot: an empty answer is NO_MORE_FILES from then on, NO_SUCH_FILE
    /// only for the first query.
    started: bool,
    /// The pattern as the client sent it (for errors).
    pattern: Box<str>,
}

impl Listing {
    /// Memory the snapshot holds, charged against [`crate::Limits::max_listing_bytes`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The fixed part of one entry of a directory class, or `None` for other classes.
fn fixed_len(class: FileInfoClass) -> Option<usize> {
    Some(match class {
        FileInfoClass::DIRECTORY => FileDirectoryInformation::FIXED_LEN,
        FileInfoClass::FULL_DIRECTORY => FileFullDirectoryInformation::FIXED_LEN,
        FileInfoClass::BOTH_DIRECTORY => FileBothDirectoryInformation::FIXED_LEN,
        FileInfoClass::ID_BOTH_DIRECTORY => FileIdBothDirectoryInformation::FIXED_LEN,
        FileInfoClass::ID_FULL_DIRECTORY => FileIdFullDirectoryInformation::FIXED_LEN,
        FileInfoClass::NAMES => FileNamesInformation::FIXED_LEN,
        _ => return None,
    })
}

impl Opens {
    /// MS-SMB2 3.3.5.18 QUERY_DIRECTORY: fills `out` (the OutputBufferLength the client allows) with
    /// entries of `class` whose names match `pattern` (DOS wildcards `* ? < > "`, case-insensitive;
    /// empty means `*`), continuing this open's enumeration unless `flags` has RESTART_SCANS or
    /// REOPEN; returns the bytes written. `.` and `..` come first, as on Windows and Samba.
    ///
    /// Errors: NO_SUCH_FILE when nothing matches at all, NO_MORE_FILES when the enumeration is done,
    /// INFO_LENGTH_MISMATCH when `out` cannot hold an entry's fixed part, BUFFER_OVERFLOW when the
    /// next entry does not fit (it stays for the next query), INVALID_INFO_CLASS for a
    /// non-directory class, INVALID_PARAMETER on a file open.
    pub fn query_directory(
        &mut self,
        id: FileId,
        class: FileInfoClass,
        flags: u8,
        pattern: &str,
        out: &mut [u8],
    ) -> core::result::Result<usize, NtStatus> {
        let r = self.query_directory_inner(id, class, flags, pattern, out);
        self.track(r)
    }

    fn query_directory_inner(
        &mut self,
        id: FileId,
        class: FileInfoClass,
        flags: u8,
        pattern: &str,
        out: &mut [u8],
    ) -> Result<usize> {
        const OP: &str = "QUERY_DIRECTORY";
        let fixed = fixed_len(class)
            .ok_or(FsError::InvalidInfoClass { info_type: InfoType::FILE.0, class: class.0 })?;
        let open = self.get(id)?;
        if !open.is_directory {
            return Err(FsError::InvalidParameter { op: OP, what: "the open is not a directory" });
        }
        open.require(OP, access_mask::FILE_LIST_DIRECTORY)?;
        if out.len() < fixed {
            return Err(FsError::InfoLength { what: "a directory entry", need: fixed, have: out.len() });
        }
        let restart = flags & (qd::RESTART_SCANS | qd::REOPEN) != 0 || open.listing.is_none();
        if restart {
            check_pattern(pattern)?;
            let pattern = Pattern::new(if pattern.is_empty() { "*" } else { pattern });
            if let Some(old) = self.get_mut(id)?.listing.take() {
                self.listing_bytes = self.listing_bytes.saturating_sub(old.bytes);
            }
            let budget = self.limits.max_listing_bytes.saturating_sub(self.listing_bytes);
            let listing = snapshot(
                self.get(id)?,
                &pattern,
                self.limits.max_dir_entries,
                budget,
                self.limits.max_listing_bytes,
            )?;
            self.listing_bytes += listing.bytes;
            self.get_mut(id)?.listing = Some(listing);
        }
        let open = self.get_mut(id)?;
        fill(open, class, flags & qd::RETURN_SINGLE_ENTRY != 0, out)
    }
}

/// The sorted names of `open`'s directory that match `pattern`, `.` and `..` first.
fn snapshot(
    open: &Open,
    pattern: &Pattern,
    max_entries: usize,
    budget: usize,
    total_cap: usize,
) -> Result<Listing> {
    let display = open.display();
    let mut names: Vec<Box<str>> =
        [".", ".."].into_iter().filter(|d| pattern.matches(d)).map(Box::from).collect();
    let dots = names.len();
    let mut bytes = 0usize;
    let mut push = |names: &mut Vec<Box<str>>, name: &str| -> Result<()> {
        if names.len() - dots >= max_entries {
            return Err(FsError::DirectoryTooLarge { path: display.clone(), cap: max_entries });
        }
        bytes += name.len() + PER_NAME_OVERHEAD;
        if bytes > budget {
            return Err(FsError::ListingBudget { cap: total_cap });
        }
        names.push(Box::from(name));
        Ok(())
    };
    // A pattern without wildcards names one file: look it up instead of reading the directory,
    // falling back to the case-insensitive scan when the exact name is absent.
    let mut literal = false;
    if pattern.is_literal() {
        let p = pattern.text();
        literal = p == "." || p == "..";
        if !literal
            && check_component(p).is_ok()
            && Meta::of_name(&open.file, p).is_ok_and(|m| matches!(m.kind, Kind::File | Kind::Directory))
        {
            push(&mut names, p)?;
            literal = true;
        }
    }
    if !literal {
        let mut dir = Dir::read_from(&open.file).map_err(|e| FsError::io("list directory", &display, e))?;
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| FsError::io("list directory", &display, e))?;
            if entry.file_type() == FileType::Symlink {
                continue;
            }
            let Ok(name) = entry.file_name().to_str() else { continue };
            if name == "." || name == ".." || check_component(name).is_err() || !pattern.matches(name) {
                continue;
            }
            push(&mut names, name)?;
        }
        names[dots..].sort_unstable();
    }
    Ok(Listing { names, cursor: 0, bytes, started: false, pattern: pattern.text().into() })
}

/// Emits entries from the cursor until `out` is full (or one entry when `single`).
fn fill(open: &mut Open, class: FileInfoClass, single: bool, out: &mut [u8]) -> Result<usize> {
    let Open { file, listing, path, .. } = open;
    let is_root = path.is_root();
    let listing = listing.as_mut().ok_or_else(|| FsError::NoMoreFiles { path: path.display() })?;
    let first = !listing.started;
    listing.started = true;
    let have = out.len();
    let mut chain = ChainBuilder::new(out);
    let mut name_buf: Vec<u8> = Vec::with_capacity(64);
    while let Some(name) = listing.names.get(listing.cursor) {
        let meta = match &**name {
            "." => Meta::of_fd(&*file),
            ".." if is_root => Meta::of_fd(&*file),
            n => Meta::of_name(&*file, n),
        };
        let meta = match meta {
            Ok(m) if matches!(m.kind, Kind::File | Kind::Directory) => m,
            // Gone, replaced by a link or a special file since the snapshot: not listed.
            _ => {
                listing.cursor += 1;
                continue;
            }
        };
        name_buf.clear();
        name_buf.extend(name.encode_utf16().flat_map(u16::to_le_bytes));
        let file_name = Utf16::new(&name_buf, "FileName")
            .map_err(|_| FsError::BadName { name: name.to_string(), reason: "cannot be encoded" })?;
        let full = FileIdBothDirectoryInformation {
            base: meta.dir_entry_base(name),
            ea_size: 0,
            short_name: Utf16::default(),
            file_id: meta.ino,
            file_name,
        };
        let entry = AnyDirEntry::project(class, &full)
            .ok_or(FsError::InvalidInfoClass { info_type: InfoType::FILE.0, class: class.0 })?;
        match chain.push(&entry) {
            Ok(Append::Added) => {
                listing.cursor += 1;
                if single {
                    break;
                }
            }
            Ok(Append::NoRoom) | Err(_) => break,
        }
    }
    let n = chain.finish();
    if n == 0 {
        let path = path.display();
        return Err(if listing.cursor < listing.names.len() {
            FsError::EntryTooLarge { path, have }
        } else if first {
            FsError::NoSuchFile { path, pattern: listing.pattern.to_string() }
        } else {
            FsError::NoMoreFiles { path }
        });
    }
    Ok(n)
}
