//! MS-FSA 2.1.4.4 "Algorithm for Determining if a FileName Is in an Expression": the DOS wildcard
//! matching QUERY_DIRECTORY applies to names, case-insensitively.
//!
//! `*` matches any run of characters, `?` exactly one; the DOS forms are `<` (DOS_STAR: any run up to
//! and including the last `.`, but not past it), `>` (DOS_QM: one character other than `.`, or
//! nothing at a `.` or at the end) and `"` (DOS_DOT: a `.`, or nothing at the end), with the edge
//! cases Samba's `ms_fnmatch` settled on. The matcher simulates the pattern as
//! a set of positions, so its cost is at most pattern length times name length (both capped at 255 by
//! [`crate::name`]), with no backtracking blow-up.

/// A compiled search pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The pattern as given.
    text: String,
    /// Case-folded pattern characters, runs of `*` collapsed.
    chars: Vec<char>,
    /// No wildcard at all: the pattern names one file.
    literal: bool,
    /// Just `*`: everything matches.
    all: bool,
}

const DOS_STAR: char = '<';
const DOS_QM: char = '>';
const DOS_DOT: char = '"';

/// One character of simple case folding (Windows compares names upper-cased).
fn fold(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

impl Pattern {
    pub fn new(pattern: &str) -> Self {
        let mut chars: Vec<char> = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            if c == '*' && chars.last() == Some(&'*') {
                continue;
            }
            chars.push(fold(c));
        }
        let literal = !chars.iter().any(|&c| matches!(c, '*' | '?' | DOS_STAR | DOS_QM | DOS_DOT));
        let all = chars == ['*'];
        Self { text: pattern.to_owned(), chars, literal, all }
    }

    /// The pattern as given (for a literal pattern: the name, in the client's case).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The pattern has no wildcard: it matches one name (case-insensitively).
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    pub fn matches(&self, name: &str) -> bool {
        if self.all {
            return true;
        }
        let name: Vec<char> = name.chars().map(fold).collect();
        if self.literal {
            return name == self.chars;
        }
        let p = &self.chars;
        let last_dot = name.iter().rposition(|&c| c == '.');
        let mut cur = vec![false; p.len() + 1];
        let mut next = vec![false; p.len() + 1];
        cur[0] = true;
        for k in 0..=name.len() {
            let ch = name.get(k).copied();
            self.close(&mut cur, ch);
            let Some(ch) = ch else { break };
            next.fill(false);
            for i in 0..p.len() {
                if !cur[i] {
                    continue;
                }
                match p[i] {
                    // A star stays where it is after eating a character.
                    '*' => next[i] = true,
                    DOS_STAR => {
                        // Eats anything except the last dot of the name.
                        if Some(k) != last_dot {
                            next[i] = true;
                        } else {
                            next[i + 1] = true;
                        }
                    }
                    '?' => next[i + 1] = true,
                    DOS_QM => {
                        // Any character but a dot; a dot only when it ends the name.
                        if ch != '.' || k + 1 == name.len() {
                            next[i + 1] = true;
                        }
                    }
                    DOS_DOT => {
                        if ch == '.' {
                            next[i + 1] = true;
                        }
                    }
                    c => {
                        if c == ch {
                            next[i + 1] = true;
                        }
                    }
                }
            }
            core::mem::swap(&mut cur, &mut next);
        }
        cur[p.len()]
    }

    /// Adds the positions reachable without consuming `ch` (`None` at the end of the name).
    fn close(&self, set: &mut [bool], ch: Option<char>) {
        let p = &self.chars;
        for i in 0..p.len() {
            if !set[i] {
                continue;
            }
            let skip = match p[i] {
                '*' | DOS_STAR => true,
                DOS_QM => ch.is_none() || ch == Some('.'),
                DOS_DOT => ch.is_none(),
                _ => false,
            };
            if skip {
                set[i + 1] = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, n: &str) -> bool {
        Pattern::new(p).matches(n)
    }

    #[test]
    fn star_and_question_mark() {
        assert!(m("*", "anything.txt"));
        assert!(m("*", "."));
        assert!(m("*.txt", "a.txt"));
        assert!(m("*.txt", ".txt"));
        assert!(!m("*.txt", "a.txt.bak"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("?.c", "x.c"));
        assert!(!m("?.c", "xy.c"));
        assert!(m("**", ""));
        assert!(!m("?", ""));
        assert!(m("*.*", "a.b"));
        assert!(!m("*.*", "ab"), "MS-FSA: *.* needs a dot; clients send `<\"*` or `*` for all");
    }

    #[test]
    fn matching_ignores_case() {
        assert!(m("README.TXT", "readme.txt"));
        assert!(m("*.TxT", "a.txt"));
        assert!(m("\u{c9}t\u{e9}", "\u{e9}T\u{c9}"));
        assert!(Pattern::new("Readme.txt").is_literal());
        assert!(!Pattern::new("Read?e.txt").is_literal());
    }

    #[test]
    fn dos_star_stops_at_the_last_dot() {
        // `<.txt`: everything up to the last dot, then ".txt".
        assert!(m("<.txt", "a.b.txt"));
        assert!(!m("<.txt", "a.txt.b"));
        // `<` alone matches names with no dot... and names with dots, stopping at the last one.
        assert!(m("<", "abc"));
        assert!(!m("<", "a.b"));
        assert!(m("<.*", "a.b"));
        // The DOS form of "*.*": `<"*` matches everything.
        for n in ["abc", "a.b", "a.b.c", ".x", "x."] {
            assert!(m("<\"*", n), "{n}");
        }
    }

    #[test]
    fn dos_qm_and_dos_dot() {
        // `>>>.>>>` (the DOS form of "???.???") matches 8.3-ish names of up to 3+3 characters.
        assert!(m(">>>.>>>", "ab.c"));
        assert!(m(">>>.>>>", "abc.def"));
        assert!(!m(">>>.>>>", "abcd.e"));
        // `>` matches nothing at the end of the name.
        assert!(m("ab>", "ab"));
        assert!(m("ab>", "abc"));
        // `"` matches a dot, or nothing at the end.
        assert!(m("ab\"", "ab"));
        assert!(m("ab\"", "ab."));
        assert!(!m("ab\"", "abc"));
    }

    proptest! {
        #[test]
        fn literal_patterns_match_exactly_themselves(name in "[a-zA-Z0-9. _-]{1,20}") {
            let p = Pattern::new(&name);
            prop_assert!(p.matches(&name));
            prop_assert!(p.matches(&name.to_uppercase()));
            let longer = format!("{name}x");
            prop_assert!(!p.matches(&longer));
        }

        #[test]
        fn star_suffix_patterns_match_prefixes(prefix in "[a-z]{0,6}", rest in "[a-z.]{0,10}") {
            let pattern = format!("{prefix}*");
            let name = format!("{prefix}{rest}");
            prop_assert!(Pattern::new(&pattern).matches(&name));
        }

        #[test]
        fn hostile_patterns_finish(p in "[*?<>\"a.]{0,60}", n in "[a.]{0,60}") {
            let _ = Pattern::new(&p).matches(&n);
        }
    }
}
