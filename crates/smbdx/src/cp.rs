//! `smbdx cp SRC DST`: copies between the local file system and a share, either direction,
//! recursively with `-r`.
//!
//! A copy is written under a temporary name beside its target (`NAME.smbdx-partial`) and renamed
//! into place only once every byte is there, so a transfer cut short (server gone, disk full,
//! Ctrl-C) never leaves a file that claims to be complete under the target's name.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use std::collections::VecDeque;

use client::{Client, ClientError, OpenMode, Pending, ReadBuf, Tree};

use crate::cli::CpArgs;
use crate::failure::Failure;
use crate::progress::Progress;
use crate::remote;
use crate::url::SmbUrl;

/// Largest request payload the copy uses (the server's maximum may be lower).
const CHUNK: usize = 1 << 20;
/// Requests in flight per file.
const WINDOW: usize = 16;
const PARTIAL: &str = ".smbdx-partial";

pub fn run(args: &CpArgs) -> Result<(), Failure> {
    match (SmbUrl::is_smb(&args.src), SmbUrl::is_smb(&args.dst)) {
        (false, true) => upload(args),
        (true, false) => download(args),
        (true, true) => Err(Failure::usage("cp copies between local and remote; both are smb:// URLs")),
        (false, false) => {
            Err(Failure::usage("cp needs one smb:// URL (use your shell's cp for local copies)"))
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn upload(args: &CpArgs) -> Result<(), Failure> {
    let src = Path::new(&args.src);
    let dst = remote::parse_url(&args.dst)?;
    let meta = fs::metadata(src).map_err(|e| Failure::local("cp: reading", src, e))?;
    let (c, tree) = remote::tree(&dst, &args.conn)?;
    let what = format!("cp {} {dst}", src.display());
    let base = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Into an existing directory (or the share root) the source keeps its name.
    let into_dir = dst.path.is_empty()
        || args.dst.ends_with('/')
        || tree.stat(&dst.path).map(|m| m.is_dir()).unwrap_or(false);
    let target = if into_dir { join(&dst.path, &base) } else { dst.path.clone() };
    if meta.is_dir() {
        if !args.recursive {
            return Err(Failure::usage(format!("{what}: {} is a directory (use -r)", src.display())));
        }
        upload_tree(&tree, src, &target, args.quiet).map_err(|e| e.context(&what))?;
    } else {
        upload_file(&tree, src, &target, args.quiet).map_err(|e| e.context(&what))?;
    }
    rdma_summary(&c, args);
    Ok(())
}

/// Over SMB Direct (and not `-q`): one line on what moved by RDMA and how the windows ended.
fn rdma_summary(c: &Client, args: &CpArgs) {
    if args.quiet || args.conn.transport != "rdma" {
        return;
    }
    let s = c.rdma_stats();
    eprintln!(
        "SMB Direct: {} READs and {} WRITEs by RDMA ({} bytes); windows invalidated by the server {}, revoked here {}",
        s.reads, s.writes, s.bytes, s.invalidated_by_server, s.revoked_locally
    );
}

/// A failure inside a copy, before the command's name is put in front.
enum CopyError {
    Local(PathBuf, std::io::Error),
    Remote(ClientError),
}

impl From<ClientError> for CopyError {
    fn from(e: ClientError) -> Self {
        CopyError::Remote(e)
    }
}

impl CopyError {
    fn context(self, what: &str) -> Failure {
        match self {
            CopyError::Local(p, e) => Failure::local(&format!("{what}:"), &p, e),
            CopyError::Remote(e) => Failure::client(what, e),
        }
    }
}

fn upload_tree(tree: &Tree, dir: &Path, target: &str, quiet: bool) -> Result<(), CopyError> {
    match tree.mkdir(target) {
        Ok(()) | Err(ClientError::Exists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let local = |e| CopyError::Local(dir.to_path_buf(), e);
    let mut entries: Vec<_> = fs::read_dir(dir).map_err(local)?.collect::<Result<_, _>>().map_err(local)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = join(target, &e.file_name().to_string_lossy());
        let kind = e.file_type().map_err(|err| CopyError::Local(path.clone(), err))?;
        if kind.is_dir() {
            upload_tree(tree, &path, &name, quiet)?;
        } else if kind.is_file() {
            upload_file(tree, &path, &name, quiet)?;
        }
        // Symlinks and special files are not followed: a copy never leaves the tree it was given.
    }
    Ok(())
}

fn upload_file(tree: &Tree, src: &Path, target: &str, quiet: bool) -> Result<(), CopyError> {
    let local = |e| CopyError::Local(src.to_path_buf(), e);
    let mut input = fs::File::open(src).map_err(local)?;
    let total = input.metadata().map_err(local)?.len();
    let partial = format!("{target}{PARTIAL}");
    let mut progress = Progress::new(target, total, quiet);
    let result = (|| {
        let file = tree.open(&partial, OpenMode::Write)?;
        // A sliding window of requests, so the pipe never drains between chunks.
        let chunk = file.max_io().1.min(CHUNK as u32) as usize;
        let mut inflight: VecDeque<(usize, Pending<u32>)> = VecDeque::new();
        let mut buf = vec![0u8; chunk];
        let mut offset = 0u64;
        loop {
            let n = read_full(&mut input, &mut buf).map_err(local)?;
            if n > 0 {
                inflight.push_back((n, file.start_write(offset, &buf[..n])?));
                offset += n as u64;
            }
            while inflight.len() >= WINDOW || (n == 0 && !inflight.is_empty()) {
                let Some((len, p)) = inflight.pop_front() else { break };
                if p.wait()? as usize != len {
                    return Err(ClientError::ShortWrite { offset, written: 0, asked: len }.into());
                }
                progress.add(len as u64);
            }
            if n == 0 {
                break;
            }
        }
        file.close()?;
        tree.rename(&partial, target, true)?;
        Ok(())
    })();
    progress.finish();
    if result.is_err() {
        // Best effort: with the server gone this fails too, and the partial name says what it is.
        let _ = tree.remove_file(&partial);
    }
    result
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn download(args: &CpArgs) -> Result<(), Failure> {
    let src = remote::parse_url(&args.src)?;
    let dst = PathBuf::from(&args.dst);
    let (c, tree) = remote::tree(&src, &args.conn)?;
    let what = format!("cp {src} {}", dst.display());
    let meta = tree.stat(&src.path).map_err(|e| Failure::client(&what, e))?;
    let target = if dst.is_dir() { dst.join(src.file_name()) } else { dst };
    if meta.is_dir() {
        if !args.recursive {
            return Err(Failure::usage(format!("{what}: {src} is a directory (use -r)")));
        }
        download_tree(&tree, &src.path, &target, args.quiet).map_err(|e| e.context(&what))?;
    } else {
        download_file(&tree, &src.path, &target, args.quiet).map_err(|e| e.context(&what))?;
    }
    rdma_summary(&c, args);
    Ok(())
}

fn download_tree(tree: &Tree, dir: &str, target: &Path, quiet: bool) -> Result<(), CopyError> {
    match fs::create_dir(target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && target.is_dir() => {}
        Err(e) => return Err(CopyError::Local(target.to_path_buf(), e)),
    }
    let mut entries = tree.list(dir)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for e in entries {
        if !is_plain_name(&e.name) {
            // A server naming an entry like a path is not followed out of the target directory.
            continue;
        }
        let remote = join(dir, &e.name);
        let local = target.join(&e.name);
        if e.metadata.is_dir() {
            download_tree(tree, &remote, &local, quiet)?;
        } else {
            download_file(tree, &remote, &local, quiet)?;
        }
    }
    Ok(())
}

/// A directory entry name that stays inside the directory it is joined to: not empty, not `.` or
/// `..`, no separator and no NUL. A hostile server could name entries otherwise.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

fn download_file(tree: &Tree, src: &str, target: &Path, quiet: bool) -> Result<(), CopyError> {
    let mut partial = target.as_os_str().to_owned();
    partial.push(PARTIAL);
    let partial = PathBuf::from(partial);
    let local = |e| CopyError::Local(partial.clone(), e);
    let result = (|| {
        let file = tree.open(src, OpenMode::Read)?;
        let total = file.size_at_open();
        let mut progress = Progress::new(src, total, quiet);
        let mut out = fs::File::create(&partial).map_err(local)?;
        let chunk = u64::from(file.max_io().0.min(CHUNK as u32));
        let mut inflight: VecDeque<(u64, Pending<ReadBuf>)> = VecDeque::new();
        let mut next = 0u64;
        let mut written = 0u64;
        // Reads up to the size seen at open, a window of them in flight; a short one ends the copy.
        loop {
            while next < total && inflight.len() < WINDOW {
                let len = chunk.min(total - next);
                inflight.push_back((len, file.start_read(next, len as u32)?));
                next += len;
            }
            let Some((len, p)) = inflight.pop_front() else { break };
            let data = p.wait()?;
            out.write_all(&data).map_err(local)?;
            written += data.len() as u64;
            progress.add(data.len() as u64);
            if (data.len() as u64) < len {
                break;
            }
        }
        drop(inflight);
        if written != total {
            return Err(ClientError::Unexpected { op: "read: the file changed size during the copy" }.into());
        }
        progress.finish();
        file.close()?;
        out.sync_all().map_err(local)?;
        fs::rename(&partial, target).map_err(|e| CopyError::Local(target.to_path_buf(), e))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_from_the_server_cannot_leave_the_target() {
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "/etc", "nul\0byte"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
        assert!(is_plain_name("file.txt") && is_plain_name("..hidden") && is_plain_name("a b"));
    }

    #[test]
    fn joins_share_paths() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("d/e", "a"), "d/e/a");
    }

    #[test]
    fn read_full_fills_across_short_reads() {
        struct Dribble(Vec<u8>);
        impl Read for Dribble {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(3).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0.drain(..n);
                Ok(n)
            }
        }
        let mut r = Dribble((0..10).collect());
        let mut buf = [0u8; 8];
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 8);
        assert_eq!(buf, [0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 2);
    }
}
