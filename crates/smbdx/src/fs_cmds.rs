//! `smbdx ls|stat|mkdir|rm|mv`: one path operation each on a remote share.

use std::time::SystemTime;

use client::{Metadata, Tree};

use crate::cli::{ConnArgs, MvArgs, PathArgs, RmArgs};
use crate::failure::Failure;
use crate::remote;
use crate::url::SmbUrl;

fn human_time(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn line(name: &str, m: &Metadata) -> String {
    let kind = if m.is_dir() { 'd' } else { '-' };
    format!("{kind} {:>14} {} {name}", m.size, human_time(m.modified))
}

fn open(url: &str, conn: &ConnArgs) -> Result<(SmbUrl, client::Client, Tree), Failure> {
    let url = remote::parse_url(url)?;
    let (c, t) = remote::tree(&url, conn)?;
    Ok((url, c, t))
}

pub fn ls(args: &PathArgs) -> Result<(), Failure> {
    let (url, _c, tree) = open(&args.url, &args.conn)?;
    let what = format!("ls {url}");
    let meta = tree.stat(&url.path).map_err(|e| Failure::client(&what, e))?;
    if !meta.is_dir() {
        println!("{}", line(url.file_name(), &meta));
        return Ok(());
    }
    let mut entries = tree.list(&url.path).map_err(|e| Failure::client(&what, e))?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for e in &entries {
        let name = if e.metadata.is_dir() { format!("{}/", e.name) } else { e.name.clone() };
        println!("{}", line(&name, &e.metadata));
    }
    Ok(())
}

pub fn stat(args: &PathArgs) -> Result<(), Failure> {
    let (url, _c, tree) = open(&args.url, &args.conn)?;
    let m = tree.stat(&url.path).map_err(|e| Failure::client(&format!("stat {url}"), e))?;
    println!("  name: {}", url.file_name());
    println!("  type: {}", if m.is_dir() { "directory" } else { "file" });
    println!("  size: {}", m.size);
    println!(" alloc: {}", m.allocation_size);
    println!("  attr: {:#010x}", m.attributes);
    println!("create: {}", human_time(m.created));
    println!("access: {}", human_time(m.accessed));
    println!(" write: {}", human_time(m.modified));
    println!("change: {}", human_time(m.changed));
    Ok(())
}

pub fn mkdir(args: &PathArgs) -> Result<(), Failure> {
    let (url, _c, tree) = open(&args.url, &args.conn)?;
    if url.path.is_empty() {
        return Err(Failure::usage("mkdir needs a path below the share"));
    }
    tree.mkdir(&url.path).map_err(|e| Failure::client(&format!("mkdir {url}"), e))
}

pub fn rm(args: &RmArgs) -> Result<(), Failure> {
    let (url, _c, tree) = open(&args.url, &args.conn)?;
    if url.path.is_empty() {
        return Err(Failure::usage("rm will not remove a share root"));
    }
    let what = format!("rm {url}");
    let meta = tree.stat(&url.path).map_err(|e| Failure::client(&what, e))?;
    if !meta.is_dir() {
        return tree.remove_file(&url.path).map_err(|e| Failure::client(&what, e));
    }
    if !args.recursive && !args.dir {
        return Err(Failure::usage(format!(
            "{what}: is a directory (use -d for an empty one, -r for a tree)"
        )));
    }
    if args.recursive {
        remove_tree(&tree, &url.path).map_err(|e| Failure::client(&what, e))
    } else {
        tree.remove_dir(&url.path).map_err(|e| Failure::client(&what, e))
    }
}

fn remove_tree(tree: &Tree, path: &str) -> Result<(), client::ClientError> {
    for e in tree.list(path)? {
        let child = format!("{path}/{}", e.name);
        if e.metadata.is_dir() {
            remove_tree(tree, &child)?;
        } else {
            tree.remove_file(&child)?;
        }
    }
    tree.remove_dir(path)
}

pub fn mv(args: &MvArgs) -> Result<(), Failure> {
    let (from, _c, tree) = open(&args.from, &args.conn)?;
    // The target is a path on the same share: a full URL (same server and share) or a bare path.
    let to = if SmbUrl::is_smb(&args.to) {
        let to = remote::parse_url(&args.to)?;
        if (to.host.as_str(), to.port, to.share.as_str())
            != (from.host.as_str(), from.port, from.share.as_str())
        {
            return Err(Failure::usage("mv moves within one share; use cp to copy between shares"));
        }
        to.path
    } else {
        args.to.trim_matches('/').to_string()
    };
    if from.path.is_empty() || to.is_empty() {
        return Err(Failure::usage("mv needs a source and a target below the share root"));
    }
    tree.rename(&from.path, &to, args.force).map_err(|e| Failure::client(&format!("mv {from} {to}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(human_time(SystemTime::UNIX_EPOCH), "1970-01-01 00:00:00");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(human_time(t), "2026-11-18 11:06:40");
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
