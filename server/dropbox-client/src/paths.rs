//! Dropbox path rules, checked before any request is sent.
//!
//! Root is `""` (users may type `"/"`, which becomes `""`); everything else starts with `/`,
//! has no trailing slash or trailing whitespace, no empty, `.` or `..` components, no NUL,
//! and components of at most 255 characters. `id:...`, `rev:...` and `ns:<id>[/...]` forms
//! are passed through (the part after `ns:<id>` is checked like a path; a `rev:` must be
//! Dropbox's `[0-9a-f]{9,}`).

/// Maximum length of one path component, in characters.
pub const MAX_COMPONENT_CHARS: usize = 255;

/// Why a path was refused locally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    #[error("path must start with \"/\" (root is \"\" or \"/\")")]
    NotAbsolute,
    #[error("path must not end with a slash")]
    TrailingSlash,
    #[error("path must not end with whitespace")]
    TrailingWhitespace,
    #[error("path has an empty component (\"//\")")]
    EmptyComponent,
    #[error("path component longer than 255 characters")]
    ComponentTooLong,
    #[error("path contains a NUL character")]
    Nul,
    #[error("path contains a \".\" or \"..\" component")]
    DotComponent,
    #[error("relative path must not be empty or start with \"/\"")]
    BadRelative,
    #[error(
        "malformed id:, rev: or ns: path (forms: \"id:abc\", \"rev:\" and at least 9 lowercase hex digits, \"ns:123/a\")"
    )]
    BadIdForm,
    #[error(
        "the root folder cannot be used here; name a file or folder under it, e.g. \"/reports\""
    )]
    Root,
}

/// Shortest revision Dropbox issues (`rev:` paths and `parent_rev`).
pub const MIN_REV_CHARS: usize = 9;

/// Dropbox's rev pattern: `[0-9a-f]{9,}`.
pub fn is_rev(rev: &str) -> bool {
    rev.len() >= MIN_REV_CHARS && rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Validate and normalise a user-supplied Dropbox path: `"/"` and `""` become `""`.
/// Anything else must already follow the rules (no silent trimming).
pub fn normalize(path: &str) -> Result<String, PathError> {
    if path.is_empty() || path == "/" {
        return Ok(String::new());
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if let Some(rest) = path.strip_prefix("id:") {
        if rest.is_empty() || rest.contains('/') || rest.trim() != rest {
            return Err(PathError::BadIdForm);
        }
        return Ok(path.to_owned());
    }
    if let Some(rev) = path.strip_prefix("rev:") {
        if !is_rev(rev) {
            return Err(PathError::BadIdForm);
        }
        return Ok(path.to_owned());
    }
    if let Some(rest) = path.strip_prefix("ns:") {
        let (id, tail) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PathError::BadIdForm);
        }
        if tail.is_empty() || tail == "/" {
            return Ok(format!("ns:{id}"));
        }
        check_absolute(tail)?;
        return Ok(path.to_owned());
    }
    check_absolute(path)?;
    Ok(path.to_owned())
}

/// Like [`normalize`] but for paths that must not be a root (files, folders to create or
/// delete): `""`, `"/"` and a namespace root `ns:<id>` give `PathError::Root`.
pub fn normalize_non_root(path: &str) -> Result<String, PathError> {
    let p = normalize(path)?;
    let namespace_root = p.strip_prefix("ns:").is_some_and(|id| !id.contains('/'));
    if p.is_empty() || namespace_root {
        Err(PathError::Root)
    } else {
        Ok(p)
    }
}

fn check_absolute(path: &str) -> Result<(), PathError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PathError::NotAbsolute);
    };
    if rest.ends_with('/') {
        return Err(PathError::TrailingSlash);
    }
    if path.ends_with(char::is_whitespace) {
        return Err(PathError::TrailingWhitespace);
    }
    for component in rest.split('/') {
        check_component(component)?;
    }
    Ok(())
}

fn check_component(c: &str) -> Result<(), PathError> {
    if c.is_empty() {
        return Err(PathError::EmptyComponent);
    }
    if c == "." || c == ".." {
        return Err(PathError::DotComponent);
    }
    if c.contains('\0') {
        return Err(PathError::Nul);
    }
    if c.chars().count() > MAX_COMPONENT_CHARS {
        return Err(PathError::ComponentTooLong);
    }
    Ok(())
}

/// Join a folder (any form [`normalize`] accepts, root included) and a relative path of
/// `/`-separated components (e.g. `sub/dir/file.txt`). The result is validated.
pub fn join(folder: &str, relative: &str) -> Result<String, PathError> {
    let folder = normalize(folder)?;
    if relative.is_empty() || relative.starts_with('/') {
        return Err(PathError::BadRelative);
    }
    if folder.starts_with("id:") || folder.starts_with("rev:") {
        return Err(PathError::BadIdForm);
    }
    let joined = format!("{folder}/{relative}");
    normalize(&joined)
}

/// The last component of a path (`""` for the root).
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The parent folder of a normalised path (`""` for top-level items and the root).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// Dropbox compares paths case-insensitively.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn root_forms() {
        assert_eq!(normalize("").unwrap(), "");
        assert_eq!(normalize("/").unwrap(), "");
        assert_eq!(normalize("/a/b.txt").unwrap(), "/a/b.txt");
        assert_eq!(normalize("/日本/é 😀.txt").unwrap(), "/日本/é 😀.txt");
        assert!(normalize_non_root("/").is_err());
    }

    #[test]
    fn refusals() {
        let cases: &[(&str, PathError)] = &[
            ("a/b", PathError::NotAbsolute),
            ("/a/", PathError::TrailingSlash),
            ("//", PathError::TrailingSlash),
            ("/a ", PathError::TrailingWhitespace),
            ("/a\t", PathError::TrailingWhitespace),
            ("/a//b", PathError::EmptyComponent),
            ("/a/./b", PathError::DotComponent),
            ("/a/..", PathError::DotComponent),
            ("/../etc", PathError::DotComponent),
            ("/a\0b", PathError::Nul),
            ("id:", PathError::BadIdForm),
            ("ns:abc/x", PathError::BadIdForm),
        ];
        for (p, e) in cases {
            assert_eq!(normalize(p).as_ref(), Err(e), "{p:?}");
        }
        let long = format!("/{}", "x".repeat(256));
        assert_eq!(normalize(&long), Err(PathError::ComponentTooLong));
        let ok = format!("/{}", "é".repeat(255));
        assert!(normalize(&ok).is_ok(), "255 chars (more bytes) is fine");
    }

    #[test]
    fn id_forms() {
        assert_eq!(normalize("id:abc123").unwrap(), "id:abc123");
        assert_eq!(normalize("rev:0123456789").unwrap(), "rev:0123456789");
        assert_eq!(normalize("ns:123").unwrap(), "ns:123");
        assert_eq!(normalize("ns:123/").unwrap(), "ns:123");
        assert_eq!(normalize("ns:123/a/b").unwrap(), "ns:123/a/b");
        assert!(normalize("ns:123/a/").is_err());
        for bad_rev in [
            "rev:",
            "rev:12345678",
            "rev:0123456789ABCDEF",
            "rev:../../x",
        ] {
            assert_eq!(normalize(bad_rev), Err(PathError::BadIdForm), "{bad_rev}");
        }
    }

    #[test]
    fn roots_are_refused_where_an_item_is_needed() {
        for root in ["", "/", "ns:123", "ns:123/"] {
            assert_eq!(normalize_non_root(root), Err(PathError::Root), "{root:?}");
        }
        assert_eq!(normalize_non_root("ns:123/a").unwrap(), "ns:123/a");
        assert_eq!(normalize_non_root("id:abc").unwrap(), "id:abc");
    }

    #[test]
    fn join_and_helpers() {
        assert_eq!(join("/", "a.txt").unwrap(), "/a.txt");
        assert_eq!(join("", "sub/a.txt").unwrap(), "/sub/a.txt");
        assert_eq!(join("/dest", "sub/a.txt").unwrap(), "/dest/sub/a.txt");
        assert_eq!(join("/dest", "../x"), Err(PathError::DotComponent));
        assert_eq!(join("/dest", "/x"), Err(PathError::BadRelative));
        assert_eq!(join("/dest", ""), Err(PathError::BadRelative));
        assert_eq!(join("/dest/", "x"), Err(PathError::TrailingSlash));
        assert_eq!(file_name("/a/b.txt"), "b.txt");
        assert_eq!(parent("/a/b.txt"), "/a");
        assert_eq!(parent("/a"), "");
        assert!(eq_ignore_case("/A/Ä", "/a/ä"));
    }

    fn component() -> impl Strategy<Value = String> {
        "[^/\u{0}]{1,20}".prop_filter("not a dot component, no trailing ws", |c| {
            c != "." && c != ".." && !c.ends_with(char::is_whitespace)
        })
    }

    /// Strings made of the characters path rules care about, to hit the edge cases often.
    fn hostile() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("/".to_owned()),
                Just(".".to_owned()),
                Just("..".to_owned()),
                Just(" ".to_owned()),
                Just("\0".to_owned()),
                Just("\t".to_owned()),
                Just("id:".to_owned()),
                Just("rev:".to_owned()),
                Just("ns:".to_owned()),
                Just("x".repeat(256)),
                "[a-f0-9]{1,12}",
                "\\PC{1,3}",
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        // Bounded so the whole file runs in well under a second in CI.
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn normalize_is_idempotent_and_well_formed(s in prop_oneof!["\\PC{0,40}", hostile()]) {
            if let Ok(p) = normalize(&s) {
                prop_assert_eq!(normalize(&p), Ok(p.clone()));
                if !(p.starts_with("id:") || p.starts_with("rev:") || p.starts_with("ns:")) {
                    prop_assert!(p.is_empty() || p.starts_with('/'));
                    prop_assert!(!p.ends_with('/'));
                    prop_assert!(!p.contains("//"));
                    prop_assert!(!p.contains('\0'));
                    prop_assert!(p.split('/').skip(1).all(|c| c != "." && c != ".."));
                }
            }
        }

        #[test]
        fn join_valid_components(folder in proptest::collection::vec(component(), 0..4),
                                 rel in proptest::collection::vec(component(), 1..4)) {
            let folder = folder.iter().map(|c| format!("/{c}")).collect::<String>();
            let relative = rel.join("/");
            let joined = join(&folder, &relative).unwrap();
            prop_assert_eq!(&joined, &format!("{folder}/{relative}"));
            prop_assert_eq!(parent(&joined).len() + 1 + file_name(&joined).len(), joined.len());
            prop_assert_eq!(file_name(&joined), rel.last().unwrap().as_str());
        }

        #[test]
        fn join_never_escapes(rel in prop_oneof!["[a-z./]{1,12}", hostile()]) {
            if let Ok(p) = join("/base", &rel) {
                prop_assert!(p.starts_with("/base/"));
                prop_assert!(p.split('/').skip(1).all(|c| c != ".." && c != "." && !c.is_empty()));
                prop_assert!(!p.contains('\0'));
            }
        }

        #[test]
        fn valid_output_follows_every_rule(s in hostile()) {
            if let Ok(p) = normalize(&s) {
                if p.starts_with('/') {
                    prop_assert!(!p.ends_with('/') && !p.ends_with(char::is_whitespace));
                    prop_assert!(!p.contains("//") && !p.contains('\0'));
                    for c in p.split('/').skip(1) {
                        prop_assert!(c != "." && c != "..");
                        prop_assert!(c.chars().count() <= MAX_COMPONENT_CHARS);
                    }
                } else {
                    prop_assert!(p.is_empty() || p.starts_with("id:") || p.starts_with("rev:") || p.starts_with("ns:"));
                }
            }
        }

        #[test]
        fn non_root_is_never_a_root(s in hostile()) {
            if let Ok(p) = normalize_non_root(&s) {
                prop_assert!(!p.is_empty());
                prop_assert!(!p.starts_with("ns:") || p.contains('/'));
            }
        }
    }
}
