//! VisualCron's item mask: `;`-separated wildcards (`*` any run, `?` one character), or one
//! regular expression. Both are bounded so that a request cannot make matching expensive.
//!
//! One implementation for the server's remote filter and `dbxc upload --mask`, so a mask
//! selects the same names, and is refused for the same reasons, on both sides.

use regex::{Regex, RegexBuilder};

/// Longest mask (or regex) accepted, in characters.
pub const MAX_MASK_CHARS: usize = 1024;
/// Most `;`-separated wildcards in one mask.
pub const MAX_MASKS: usize = 64;
/// Compiled size limit for a regex (bytes of program), keeps a hostile pattern cheap to
/// build. Matching needs no limit: the `regex` crate has no backtracking and matches in
/// time linear in the name (a pattern such as `(a+)+$` cannot blow up), and names are
/// single path components of at most 255 characters.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaskError {
    #[error(
        "the mask is longer than {MAX_MASK_CHARS} characters; shorten it, or use a regular expression (mask_is_regex)"
    )]
    TooLong,
    #[error(
        "the mask has more than {MAX_MASKS} `;`-separated parts; combine them (e.g. \"*.csv\" instead of one part per file) or use a regular expression"
    )]
    TooManyParts,
    #[error("not a usable regular expression (mask_is_regex): {0}")]
    BadRegex(String),
}

/// A compiled mask.
#[derive(Debug, Clone)]
pub enum NameMatcher {
    /// Any of these wildcards (already lower-cased when matching is case-insensitive).
    Wildcards {
        patterns: Vec<Vec<char>>,
        case_sensitive: bool,
    },
    /// Searched in the name (anchor with `^...$` for a whole-name match).
    Regex(Regex),
}

impl NameMatcher {
    /// Matches every name (the mask `*`).
    pub fn any() -> NameMatcher {
        NameMatcher::Wildcards {
            patterns: vec![vec!['*']],
            case_sensitive: false,
        }
    }

    /// Parses `mask`; empty (or only `;` and blanks) means `*`.
    pub fn parse(
        mask: &str,
        is_regex: bool,
        case_sensitive: bool,
    ) -> Result<NameMatcher, MaskError> {
        if mask.chars().count() > MAX_MASK_CHARS {
            return Err(MaskError::TooLong);
        }
        if is_regex {
            let re = RegexBuilder::new(mask)
                .case_insensitive(!case_sensitive)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| MaskError::BadRegex(e.to_string()))?;
            return Ok(NameMatcher::Regex(re));
        }
        let parts: Vec<&str> = mask
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() > MAX_MASKS {
            return Err(MaskError::TooManyParts);
        }
        let parts = if parts.is_empty() { vec!["*"] } else { parts };
        let patterns = parts
            .into_iter()
            .map(|p| {
                if case_sensitive {
                    p.chars().collect()
                } else {
                    p.to_lowercase().chars().collect()
                }
            })
            .collect();
        Ok(NameMatcher::Wildcards {
            patterns,
            case_sensitive,
        })
    }

    /// Does `name` (one path component) match?
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NameMatcher::Regex(re) => re.is_match(name),
            NameMatcher::Wildcards {
                patterns,
                case_sensitive,
            } => {
                let name: Vec<char> = if *case_sensitive {
                    name.chars().collect()
                } else {
                    name.to_lowercase().chars().collect()
                };
                patterns.iter().any(|p| wildcard_match(p, &name))
            }
        }
    }
}

/// Wildcard match with single-star backtracking: never exponential.
fn wildcard_match(pattern: &[char], name: &[char]) -> bool {
    wildcard_match_counted(pattern, name).0
}

/// The match, and how many steps it took: at most (len(pattern) + 1) * (len(name) + 2),
/// since between two moves of the last `*`'s restart point (which only goes forward in
/// the name) every step advances in the pattern.
fn wildcard_match_counted(pattern: &[char], name: &[char]) -> (bool, usize) {
    let (mut p, mut s) = (0usize, 0usize);
    // Where the last `*` was, and the name position it is currently absorbing up to.
    let mut star: Option<(usize, usize)> = None;
    let mut steps = 0usize;
    while s < name.len() {
        steps += 1;
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, s));
                p += 1;
            }
            Some('?') => {
                p += 1;
                s += 1;
            }
            Some(c) if *c == name[s] => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    p = sp + 1;
                    s = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return (false, steps),
            },
        }
    }
    (pattern[p..].iter().all(|c| *c == '*'), steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(mask: &str, cs: bool) -> NameMatcher {
        NameMatcher::parse(mask, false, cs).unwrap()
    }

    #[test]
    fn wildcards() {
        assert!(m("", false).matches("anything"));
        assert!(m("*", false).matches(""));
        assert!(m("*.csv", false).matches("a.csv"));
        assert!(!m("*.csv", false).matches("a.csv.bak"));
        assert!(m("report-??.txt", false).matches("report-01.txt"));
        assert!(!m("report-??.txt", false).matches("report-1.txt"));
        assert!(m("*.csv; *.txt", false).matches("x.txt"));
        assert!(m("a*b*c", false).matches("aXXbYYbc"));
        assert!(!m("a*b*c", false).matches("aXXbYYb"));
        assert!(m("日本?.txt", false).matches("日本語.txt"));
        assert!(m("*.txt", false).matches(".txt"));
        assert!(m(" ; ", false).matches("x"));
        assert!(NameMatcher::any().matches(""));
        assert!(NameMatcher::any().matches("anything"));
    }

    #[test]
    fn case() {
        assert!(m("*.CSV", false).matches("a.csv"));
        assert!(!m("*.CSV", true).matches("a.csv"));
        assert!(
            NameMatcher::parse("^A", true, false)
                .unwrap()
                .matches("abc")
        );
        assert!(!NameMatcher::parse("^A", true, true).unwrap().matches("abc"));
    }

    #[test]
    fn bounds() {
        assert_eq!(
            NameMatcher::parse(&"a".repeat(MAX_MASK_CHARS + 1), false, false).unwrap_err(),
            MaskError::TooLong
        );
        assert_eq!(
            NameMatcher::parse(&"a;".repeat(MAX_MASKS + 1), false, false).unwrap_err(),
            MaskError::TooManyParts
        );
        assert!(matches!(
            NameMatcher::parse("(", true, false),
            Err(MaskError::BadRegex(_))
        ));
        // A pattern whose compiled program is far over the size limit is refused.
        assert!(matches!(
            NameMatcher::parse("(\\w{100}){100}", true, false),
            Err(MaskError::BadRegex(_))
        ));
    }

    /// Reference matcher: plain recursion, exponential but fine for tiny inputs.
    fn reference(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
            Some(('?', rest)) => !s.is_empty() && reference(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && reference(rest, &s[1..]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn matcher_agrees_with_reference(p in "[ab*?]{0,8}", s in "[ab]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let sc: Vec<char> = s.chars().collect();
            prop_assert_eq!(wildcard_match(&pc, &sc), reference(&pc, &sc));
        }

        #[test]
        // Mask parts are trimmed (so "*.csv; *.txt" works): names here have no outer blanks.
        fn literal_mask_matches_itself(name in "[a-zA-Z0-9._-]([a-zA-Z0-9 ._-]{0,18}[a-zA-Z0-9._-])?") {
            prop_assert!(m(&name, true).matches(&name));
            prop_assert!(m(&name.to_uppercase(), false).matches(&name));
        }

        #[test]
        fn parser_never_panics(mask in "\\PC{0,40}", regex in any::<bool>(), cs in any::<bool>(),
                               name in "\\PC{0,40}") {
            if let Ok(matcher) = NameMatcher::parse(&mask, regex, cs) {
                let _ = matcher.matches(&name);
            }
        }

        #[test]
        fn star_and_empty_match_everything(name in "\\PC{0,60}", cs in any::<bool>()) {
            prop_assert!(m("*", cs).matches(&name));
            prop_assert!(m("", cs).matches(&name));
            prop_assert!(m(" ; ;", cs).matches(&name));
        }

        #[test]
        // A name without wildcards (and without outer blanks, which parts lose) matches
        // exactly itself: case-insensitively unless the mask is case sensitive.
        fn literal_mask_matches_only_its_name(
            name in "[^*?;\\s]([^*?;]{0,18}[^*?;\\s])?",
            other in "[^*?;\\s]([^*?;]{0,18}[^*?;\\s])?",
        ) {
            prop_assert!(m(&name, true).matches(&name));
            prop_assert_eq!(m(&name, true).matches(&other), name == other);
            prop_assert_eq!(
                m(&name, false).matches(&other),
                name.to_lowercase() == other.to_lowercase()
            );
        }

    }

    proptest! {
        // Each case does real matching work; a few dozen cover the shapes.
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        // The hostile shapes for backtracking matchers: many stars against a long name
        // that almost matches. The wildcard matcher's work stays within
        // (pattern + 1) x (name + 2) steps, where a backtracking one would explode.
        fn hostile_masks_match_in_bounded_steps(stars in 1usize..120, len in 1usize..256,
                                                tail in "[ab?]{0,4}") {
            let name: Vec<char> = "a".repeat(len).chars().collect();
            let mask: Vec<char> = format!("{}b{tail}", "*a".repeat(stars)).chars().collect();
            let (matched, steps) = wildcard_match_counted(&mask, &name);
            prop_assert!(!matched);
            prop_assert!(steps <= (mask.len() + 1) * (name.len() + 2), "{} steps", steps);
        }

        #[test]
        // The regex crate does not backtrack: the classic catastrophic patterns compile
        // within the size limit and simply answer.
        fn redos_patterns_answer(n in 1usize..30, len in 1usize..256) {
            let name = format!("{}!", "a".repeat(len));
            for pattern in [
                "^(a+)+$".to_owned(),
                "^(a|a)*$".to_owned(),
                "^(a|aa)+$".to_owned(),
                format!("^({}a*)+b$", "a?".repeat(n)),
            ] {
                let re = NameMatcher::parse(&pattern, true, false);
                prop_assert!(re.is_ok(), "{pattern}: {re:?}");
                prop_assert!(!re.unwrap().matches(&name));
            }
        }
    }
}
