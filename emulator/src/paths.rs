//! Dropbox path rules: `""` is the root, everything else starts with `/`; `id:`, `rev:`
//! and `ns:` forms; case-insensitive, case-preserving; no empty components, no trailing
//! slash or whitespace, components of at most 255 characters.

/// A parsed path argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathArg {
    /// `/a/b` (display components; empty = root).
    Path(Vec<String>),
    /// `id:xxx` optionally followed by `/rest`.
    Id(String, Vec<String>),
    /// `rev:xxx`.
    Rev(String),
    /// `ns:123` optionally followed by `/rest`.
    Ns(String, Vec<String>),
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// 400: the argument does not fit the route's pattern (message after `path: `).
    BadInput(String),
    /// 409 `malformed_path`.
    Malformed,
}

pub const PATTERN: &str = r"(/(.|[\r\n])*|id:.*)|(rev:[0-9a-f]{9,})|(ns:[0-9]+(/.*)?)";

/// Parses a path argument. `allow_root` says whether `""` is acceptable for the route.
pub fn parse(raw: &str, allow_root: bool) -> Result<PathArg, PathError> {
    if raw.is_empty() {
        return if allow_root {
            Ok(PathArg::Path(Vec::new()))
        } else {
            Err(PathError::BadInput(
                "The root folder is unsupported.".into(),
            ))
        };
    }
    if raw == "/" {
        return Err(PathError::BadInput(
            "Specify the root folder as an empty string rather than as \"/\".".into(),
        ));
    }
    if let Some(rest) = raw.strip_prefix('/') {
        return components(rest).map(PathArg::Path);
    }
    if let Some(rest) = raw.strip_prefix("id:") {
        let (id, tail) = split_tail(rest);
        if id.is_empty() {
            return Err(PathError::Malformed);
        }
        return Ok(PathArg::Id(format!("id:{id}"), tail_components(tail)?));
    }
    if let Some(rest) = raw.strip_prefix("rev:") {
        if rest.len() >= 9
            && rest
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Ok(PathArg::Rev(rest.to_string()));
        }
        return Err(pattern_error(raw));
    }
    if let Some(rest) = raw.strip_prefix("ns:") {
        let (ns, tail) = split_tail(rest);
        if ns.is_empty() || !ns.chars().all(|c| c.is_ascii_digit()) {
            return Err(pattern_error(raw));
        }
        return Ok(PathArg::Ns(ns.to_string(), tail_components(tail)?));
    }
    Err(pattern_error(raw))
}

fn pattern_error(raw: &str) -> PathError {
    PathError::BadInput(format!("'{raw}' did not match pattern '{PATTERN}'"))
}

fn split_tail(rest: &str) -> (&str, Option<&str>) {
    match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    }
}

fn tail_components(tail: Option<&str>) -> Result<Vec<String>, PathError> {
    match tail {
        None => Ok(Vec::new()),
        Some(t) => components(t),
    }
}

fn components(rest: &str) -> Result<Vec<String>, PathError> {
    let mut out = Vec::new();
    for part in rest.split('/') {
        check_component(part)?;
        out.push(part.to_string());
    }
    Ok(out)
}

fn check_component(part: &str) -> Result<(), PathError> {
    if part.is_empty()
        || part == "."
        || part == ".."
        || part.chars().count() > 255
        || part.ends_with(char::is_whitespace)
        || part.chars().any(|c| c == '\0')
    {
        return Err(PathError::Malformed);
    }
    Ok(())
}

/// The case-insensitive key of a list of components: `/a/b` (root = `""`).
pub fn key_of(components: &[String]) -> String {
    let mut key = String::new();
    for c in components {
        key.push('/');
        key.push_str(&fold(c));
    }
    key
}

/// Case folding used for path keys.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Names Dropbox refuses to store (clients such as rclone skip them).
pub fn is_disallowed_name(name: &str) -> bool {
    matches!(
        fold(name).as_str(),
        "desktop.ini" | "thumbs.db" | ".ds_store" | "icon\r" | ".dropbox" | ".dropbox.attr"
    )
}

/// `name (n).ext` for autorename (the extension stays at the end).
pub fn numbered(name: &str, n: u32) -> String {
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{} ({n}){}", &name[..i], &name[i..]),
        _ => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_slash() {
        assert_eq!(parse("", true), Ok(PathArg::Path(vec![])));
        assert!(matches!(parse("", false), Err(PathError::BadInput(_))));
        assert!(matches!(parse("/", true), Err(PathError::BadInput(_))));
    }

    #[test]
    fn malformed() {
        for p in ["/a/", "/a//b", "/a /b", "/a/..", "/x "] {
            assert_eq!(parse(p, true), Err(PathError::Malformed), "{p}");
        }
        let long = format!("/{}", "a".repeat(256));
        assert_eq!(parse(&long, true), Err(PathError::Malformed));
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse("/A/b", true),
            Ok(PathArg::Path(vec!["A".into(), "b".into()]))
        );
        assert_eq!(
            parse("id:abc", true),
            Ok(PathArg::Id("id:abc".into(), vec![]))
        );
        assert_eq!(
            parse("rev:0123456789", true),
            Ok(PathArg::Rev("0123456789".into()))
        );
        assert_eq!(
            parse("ns:12/x", true),
            Ok(PathArg::Ns("12".into(), vec!["x".into()]))
        );
        assert!(matches!(parse("foo", true), Err(PathError::BadInput(_))));
        assert_eq!(key_of(&["A".into(), "Été".into()]), "/a/été");
    }

    #[test]
    fn numbering() {
        assert_eq!(numbered("a.txt", 2), "a (2).txt");
        assert_eq!(numbered("folder", 3), "folder (3)");
        assert_eq!(numbered(".bashrc", 2), ".bashrc (2)");
    }
}
