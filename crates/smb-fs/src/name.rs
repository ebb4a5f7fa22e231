//! Client path names (MS-FSCC 2.1.5 pathname syntax) turned into checked components relative to the
//! share root, before anything touches the disk.
//!
//! A CREATE name is UTF-16, `\`-separated, relative to the share (MS-SMB2 2.2.13 Buffer). What comes
//! out is a list of plain Linux file names: no `/`, no NUL, no `.`/`..`, no stream or drive syntax
//! (`:`), no DOS device name, none longer than a component may be. `..` is resolved lexically and may
//! not climb above the root; the resolver ([`crate::resolve`]) then opens the components one by one
//! without following symbolic links.

use smb_wire::types::Utf16;

use crate::error::{FsError, Result};

/// Longest component, in UTF-16 code units (NTFS) and in UTF-8 bytes (Linux NAME_MAX).
pub const MAX_COMPONENT: usize = 255;

/// Longest QUERY_DIRECTORY search pattern, in characters: a name can be no longer, and the matcher's
/// work grows with pattern length times name length.
pub const MAX_PATTERN: usize = MAX_COMPONENT;

/// The default data stream suffix (MS-FSCC 2.1.5.1): `file::$DATA` names `file` itself.
const DEFAULT_STREAM: &str = "::$DATA";

/// DOS device names (MS-RDPEFS 3.2.5.2.3), refused with or without an extension.
const DEVICE_NAMES: [&str; 7] = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"];

/// Where a name comes from: a CREATE may not start with `\` (MS-SMB2 3.3.5.9); a rename target is
/// "relative to the share root" and some clients write that with a leading `\`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameUse {
    Create,
    RenameTarget,
}

/// A checked path below the share root; no components is the root itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct RelPath {
    comps: Vec<String>,
}

impl RelPath {
    pub fn root() -> Self {
        Self::default()
    }

    pub fn is_root(&self) -> bool {
        self.comps.is_empty()
    }

    pub fn components(&self) -> &[String] {
        &self.comps
    }

    /// The directories leading to the last component, and that component; `None` for the root.
    pub fn split_last(&self) -> Option<(&[String], &str)> {
        let (last, parents) = self.comps.split_last()?;
        Some((parents, last.as_str()))
    }

    /// The last component; empty for the root.
    pub fn file_name(&self) -> &str {
        self.comps.last().map_or("", String::as_str)
    }

    /// `a\b\c`, the form used in logs and FileNormalizedNameInformation; empty for the root.
    pub fn display(&self) -> String {
        self.comps.join("\\")
    }

    /// `\a\b\c`, the form of FileNameInformation (the root is `\`).
    pub fn wire_name(&self) -> String {
        format!("\\{}", self.display())
    }

    /// Whether `self` is `prefix` or lies below it.
    pub fn starts_with(&self, prefix: &RelPath) -> bool {
        self.comps.starts_with(&prefix.comps)
    }

    /// Replaces the leading `from` components by `to` (after a rename of `from`).
    pub fn rebase(&mut self, from: &RelPath, to: &RelPath) {
        if self.starts_with(from) {
            let mut comps = to.comps.clone();
            comps.extend_from_slice(&self.comps[from.comps.len()..]);
            self.comps = comps;
        }
    }

    #[cfg(test)]
    pub(crate) fn from_components(comps: &[&str]) -> Self {
        Self { comps: comps.iter().map(|c| c.to_string()).collect() }
    }
}

/// A parsed name: the path, and whether it ended in `\` (only a directory may be opened so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub path: RelPath,
    pub trailing_separator: bool,
}

/// Parses and checks a client path name.
pub fn parse_name(name: &Utf16<'_>, usage: NameUse) -> Result<ParsedName> {
    let text = name.to_string().map_err(|_| FsError::BadName {
        name: name.to_string_lossy(),
        reason: "not valid UTF-16 (unpaired surrogate)",
    })?;
    parse_str(&text, usage)
}

/// [`parse_name`] on decoded text.
pub fn parse_str(text: &str, usage: NameUse) -> Result<ParsedName> {
    let bad = |reason| FsError::BadName { name: text.to_owned(), reason };
    let mut rest = text;
    if let Some(r) = rest.strip_prefix('\\') {
        if usage == NameUse::Create {
            return Err(FsError::LeadingSeparator { name: text.to_owned() });
        }
        rest = r;
    }
    if rest.len() >= DEFAULT_STREAM.len()
        && rest.is_char_boundary(rest.len() - DEFAULT_STREAM.len())
        && rest[rest.len() - DEFAULT_STREAM.len()..].eq_ignore_ascii_case(DEFAULT_STREAM)
    {
        rest = &rest[..rest.len() - DEFAULT_STREAM.len()];
    }
    let trailing_separator = rest.len() > 1 && rest.ends_with('\\');
    if trailing_separator {
        rest = &rest[..rest.len() - 1];
    }
    let mut comps: Vec<String> = Vec::new();
    if rest.is_empty() {
        return Ok(ParsedName { path: RelPath { comps }, trailing_separator: false });
    }
    for comp in rest.split('\\') {
        match comp {
            "" => return Err(bad("empty path component")),
            "." => continue,
            ".." => {
                if comps.pop().is_none() {
                    return Err(FsError::EscapesRoot { name: text.to_owned() });
                }
                continue;
            }
            _ => {}
        }
        check_component(comp).map_err(|e| match e {
            ComponentError::Device => FsError::DeviceName { name: text.to_owned() },
            ComponentError::Bad(reason) => bad(reason),
        })?;
        comps.push(comp.to_owned());
    }
    Ok(ParsedName { path: RelPath { comps }, trailing_separator })
}

/// Why one component is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentError {
    Bad(&'static str),
    Device,
}

/// Checks one component (also applied to directory entries, so a listing never shows a name that
/// cannot be opened).
pub fn check_component(comp: &str) -> core::result::Result<(), ComponentError> {
    use ComponentError::Bad;
    if comp.is_empty() || comp == "." || comp == ".." {
        return Err(Bad("empty, `.` or `..` component"));
    }
    if comp.len() > MAX_COMPONENT || comp.encode_utf16().count() > MAX_COMPONENT {
        return Err(Bad("component longer than 255 characters"));
    }
    for c in comp.chars() {
        match c {
            '\0'..='\u{1f}' => return Err(Bad("control character in name")),
            '/' => return Err(Bad("`/` in name")),
            '\\' => return Err(Bad("`\\` in name")),
            ':' => return Err(Bad("stream names and drive letters are not supported")),
            '*' | '?' | '<' | '>' | '"' | '|' => return Err(Bad("wildcard or reserved character in name")),
            _ => {}
        }
    }
    if is_device_name(comp) {
        return Err(ComponentError::Device);
    }
    Ok(())
}

/// CON, PRN, AUX, NUL, COM1-9, LPT1-9 (and the console/clock devices), any case, with or without an
/// extension, ignoring spaces before the extension.
fn is_device_name(comp: &str) -> bool {
    let base = comp.split('.').next().unwrap_or(comp).trim_end_matches(' ');
    if DEVICE_NAMES.iter().any(|d| base.eq_ignore_ascii_case(d)) {
        return true;
    }
    let b = base.as_bytes();
    b.len() == 4
        && (b[..3].eq_ignore_ascii_case(b"COM") || b[..3].eq_ignore_ascii_case(b"LPT"))
        && (b'1'..=b'9').contains(&b[3])
}

/// A QUERY_DIRECTORY search pattern: empty means `*`; no separators, no NUL, at most
/// [`MAX_PATTERN`] characters.
pub fn parse_pattern(pattern: &Utf16<'_>) -> Result<String> {
    let text = pattern.to_string().map_err(|_| FsError::BadName {
        name: pattern.to_string_lossy(),
        reason: "pattern is not valid UTF-16",
    })?;
    check_pattern(&text)?;
    Ok(if text.is_empty() { "*".to_owned() } else { text })
}

/// The checks of [`parse_pattern`] on decoded text.
pub fn check_pattern(text: &str) -> Result<()> {
    let bad = |reason| FsError::BadName { name: text.to_owned(), reason };
    if text.chars().count() > MAX_PATTERN {
        return Err(bad("pattern longer than 255 characters"));
    }
    if text.contains(['\\', '/', '\0']) {
        return Err(bad("pattern contains a separator or NUL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_wire::status::NtStatus;

    fn ok(s: &str) -> Vec<String> {
        parse_str(s, NameUse::Create).unwrap().path.components().to_vec()
    }

    fn status(s: &str) -> NtStatus {
        parse_str(s, NameUse::Create).unwrap_err().status()
    }

    #[test]
    fn plain_names_split_on_backslash() {
        assert!(ok("").is_empty());
        assert_eq!(ok("a"), ["a"]);
        assert_eq!(ok(r"dir\sub\file.txt"), ["dir", "sub", "file.txt"]);
        assert_eq!(ok("caf\u{e9} \u{4e2d}.txt"), ["caf\u{e9} \u{4e2d}.txt"]);
        assert_eq!(ok("..."), ["..."]);
    }

    #[test]
    fn dot_components_resolve_lexically_inside_the_root() {
        assert_eq!(ok(r"a\.\b"), ["a", "b"]);
        assert_eq!(ok(r"a\..\b"), ["b"]);
        assert_eq!(ok(r"a\b\..\.."), Vec::<String>::new());
        assert_eq!(status(r"..\..\etc\passwd"), NtStatus::OBJECT_PATH_SYNTAX_BAD);
        assert_eq!(status(r"a\..\..\x"), NtStatus::OBJECT_PATH_SYNTAX_BAD);
        assert_eq!(status(".."), NtStatus::OBJECT_PATH_SYNTAX_BAD);
    }

    #[test]
    fn absolute_drive_stream_and_unc_forms_are_refused() {
        assert_eq!(status(r"\etc\passwd"), NtStatus::INVALID_PARAMETER);
        assert_eq!(status(r"\\?\C:\"), NtStatus::INVALID_PARAMETER);
        assert_eq!(status(r"C:\Windows"), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(status("a:stream"), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(status("a:stream:$DATA"), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(status("/etc/passwd"), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(status(r"a\\b"), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(status("a\0b"), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(status("a\u{1}b"), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(status("*.txt"), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(status(&"x".repeat(256)), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(ok(&"x".repeat(255)).len(), 1);
        // 128 two-byte characters: 128 UTF-16 units but 256 UTF-8 bytes.
        assert_eq!(status(&"\u{e9}".repeat(128)), NtStatus::OBJECT_NAME_INVALID);
    }

    #[test]
    fn the_default_stream_suffix_names_the_file() {
        assert_eq!(ok("f.txt::$DATA"), ["f.txt"]);
        assert_eq!(ok("f.txt::$data"), ["f.txt"]);
        assert_eq!(status("f.txt:s:$DATA"), NtStatus::OBJECT_NAME_INVALID);
    }

    #[test]
    fn device_names_are_refused_with_any_extension_and_case() {
        for n in ["CON", "con", "nul.txt", "Aux.tar.gz", "COM1", "lpt9.log", "PRN ", r"d\CON\x", "CON .txt"] {
            assert_eq!(status(n), NtStatus::ACCESS_DENIED, "{n}");
        }
        for n in ["CONSOLE", "COM10", "COM0", "nul_", "console.txt", "LPT"] {
            assert_eq!(ok(n).len(), 1, "{n}");
        }
    }

    #[test]
    fn trailing_separator_is_remembered() {
        let p = parse_str(r"dir\", NameUse::Create).unwrap();
        assert_eq!(p.path.components(), ["dir"]);
        assert!(p.trailing_separator);
        assert!(!parse_str("dir", NameUse::Create).unwrap().trailing_separator);
    }

    #[test]
    fn rename_targets_may_start_with_a_separator() {
        let p = parse_str(r"\dir\new.txt", NameUse::RenameTarget).unwrap();
        assert_eq!(p.path.components(), ["dir", "new.txt"]);
        let e = parse_str(r"\\server\share\x", NameUse::RenameTarget).unwrap_err();
        assert_eq!(e.status(), NtStatus::OBJECT_NAME_INVALID);
    }

    #[test]
    fn invalid_utf16_is_refused() {
        let lone = [0x00, 0xD8];
        let e = parse_name(&Utf16::new(&lone, "t").unwrap(), NameUse::Create).unwrap_err();
        assert_eq!(e.status(), NtStatus::OBJECT_NAME_INVALID);
    }

    #[test]
    fn rel_path_forms_and_rebase() {
        let mut p = RelPath::from_components(&["a", "b", "c"]);
        assert_eq!(p.display(), r"a\b\c");
        assert_eq!(p.wire_name(), r"\a\b\c");
        assert_eq!(RelPath::root().wire_name(), r"\");
        p.rebase(&RelPath::from_components(&["a", "b"]), &RelPath::from_components(&["z"]));
        assert_eq!(p.components(), ["z", "c"]);
        p.rebase(&RelPath::from_components(&["q"]), &RelPath::root());
        assert_eq!(p.components(), ["z", "c"]);
    }

    proptest::proptest! {
        #[test]
        fn parsed_components_are_always_plain_names(
            raw in proptest::collection::vec(proptest::prelude::any::<u16>(), 0..40),
            text in r"[a-c.\\/:*?<>|\x00 ]{0,24}",
        ) {
            let bytes: Vec<u8> = raw.iter().flat_map(|u| u.to_le_bytes()).collect();
            let utf = Utf16::new(&bytes, "t").unwrap();
            let parsed = [parse_name(&utf, NameUse::Create), parse_str(&text, NameUse::RenameTarget)];
            for p in parsed.into_iter().flatten() {
                for c in p.path.components() {
                    proptest::prop_assert!(check_component(c).is_ok(), "{c:?}");
                    proptest::prop_assert!(!c.contains(['/', '\\', '\0']));
                }
            }
        }
    }

    #[test]
    fn patterns() {
        let enc = smb_wire::types::utf16le;
        let p = |s: &str| {
            let b = enc(s);
            parse_pattern(&Utf16::new(&b, "t").unwrap())
        };
        assert_eq!(p("").unwrap(), "*");
        assert_eq!(p("*.txt").unwrap(), "*.txt");
        assert_eq!(p(r"a\*").unwrap_err().status(), NtStatus::OBJECT_NAME_INVALID);
        assert_eq!(p(&"?".repeat(256)).unwrap_err().status(), NtStatus::OBJECT_NAME_INVALID);
    }
}
