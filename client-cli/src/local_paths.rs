//! Local file-system helpers: the safe join that keeps downloads inside the destination,
//! wildcard masks for local file names, and the walk that finds files to upload.

use std::path::{Component, Path, PathBuf};

/// Why a remote relative path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafePath {
    /// The name contains a NUL byte.
    #[error("remote name {0:?} contains a NUL byte; refusing to write it")]
    Nul(String),
    /// A `..` component.
    #[error(
        "remote name {0:?} contains a `..` component; refusing to write outside the destination"
    )]
    ParentDir(String),
    /// A Windows drive letter or other prefix (`C:`).
    #[error(
        "remote name {0:?} starts with a drive letter; refusing to write outside the destination"
    )]
    Drive(String),
    /// Nothing left once separators and `.` are removed.
    #[error("remote name {0:?} is empty once separators are removed")]
    Empty(String),
    /// A component longer than a local file name may be.
    #[error(
        "remote name {name:?} has a component of {bytes} bytes; local file names hold at most \
         {MAX_NAME_BYTES} bytes, so it cannot be stored here"
    )]
    TooLong { name: String, bytes: usize },
}

/// Longest file name, in bytes (not characters), that Linux file systems (and macOS's)
/// accept in one path component.
pub const MAX_NAME_BYTES: usize = 255;

/// Joins a remote relative path onto `base` so that the result is always inside `base`.
///
/// Rules: `/` and `\` are both separators; leading separators are dropped (so `/etc/x`
/// becomes `base/etc/x`); empty and `.` components are dropped; a `..` component, a NUL byte,
/// or a first component that is a drive letter (`C:`) refuse the whole name.
pub fn safe_join(base: &Path, remote_relative: &str) -> Result<PathBuf, UnsafePath> {
    if remote_relative.contains('\0') {
        return Err(UnsafePath::Nul(remote_relative.to_string()));
    }
    let mut out = base.to_path_buf();
    let mut pushed = 0usize;
    for component in remote_relative.split(['/', '\\']) {
        match component {
            "" | "." => continue,
            ".." => return Err(UnsafePath::ParentDir(remote_relative.to_string())),
            _ => {}
        }
        if pushed == 0 && is_drive(component) {
            return Err(UnsafePath::Drive(remote_relative.to_string()));
        }
        if component.len() > MAX_NAME_BYTES {
            return Err(UnsafePath::TooLong {
                name: remote_relative.to_string(),
                bytes: component.len(),
            });
        }
        // After the split, the component has no separator; make sure the platform agrees
        // that it is one plain name (no root, prefix or parent).
        let mut parts = Path::new(component).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(_)), None) => out.push(component),
            _ => return Err(UnsafePath::ParentDir(remote_relative.to_string())),
        }
        pushed += 1;
    }
    if pushed == 0 {
        return Err(UnsafePath::Empty(remote_relative.to_string()));
    }
    Ok(out)
}

fn is_drive(component: &str) -> bool {
    let bytes = component.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Checks, after the directories exist, that `dir` resolves inside `base` (a symlink inside
/// the destination must not lead elsewhere).
pub fn ensure_inside(base: &Path, dir: &Path) -> std::io::Result<()> {
    let base = base.canonicalize()?;
    let dir = dir.canonicalize()?;
    if dir.starts_with(&base) {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} resolves outside {}; refusing to write there",
                dir.display(),
                base.display()
            ),
        ))
    }
}

/// Creates `dir` (below the existing `base`) one level at a time, checking each level
/// with [`ensure_inside`] before making the next one in it. `create_dir_all` then checking
/// would follow a symlink already in the destination (`base/sub -> /elsewhere`) and make
/// `/elsewhere/deeper` before the check refused it.
pub fn create_dirs_inside(base: &Path, dir: &Path) -> std::io::Result<()> {
    let relative = dir.strip_prefix(base).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} is not under {}", dir.display(), base.display()),
        )
    })?;
    let mut level = base.to_path_buf();
    for part in relative.components() {
        level.push(part);
        match std::fs::create_dir(&level) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => ensure_inside(base, &level)?,
        }
    }
    ensure_inside(base, dir)
}

/// `;`-separated wildcard masks (`*` any run, `?` one character) for local file names: the
/// server filter's own matcher and bounds, so `--mask` means the same on both sides.
pub type MaskSet = dropbox_wildcard::NameMatcher;

/// A local file chosen for upload.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// Where it is on disk.
    pub path: PathBuf,
    /// Where it goes under the destination folder, `/`-separated.
    pub relative_path: String,
    /// Its size when it was found.
    pub size: u64,
    /// Its modification time.
    pub modified: Option<std::time::SystemTime>,
}

/// A symbolic link the walk did not follow.
#[derive(Debug, Clone)]
pub struct SkippedLink {
    /// The link.
    pub path: PathBuf,
    /// Where it would go under the destination folder.
    pub relative_path: String,
    /// Why it was not followed.
    pub reason: String,
}

/// What the walk found: the files to upload and the links it did not follow.
#[derive(Debug, Default)]
pub struct Collected {
    pub files: Vec<LocalFile>,
    pub skipped: Vec<SkippedLink>,
}

/// Finds the files to upload.
///
/// Each LOCAL that is a file is uploaded under its own name. Each LOCAL that is a directory
/// contributes the files directly inside it (and, with `recursive`, the files of its sub
/// directories, keeping their layout relative to that directory). The mask applies to
/// every file's name, including files named directly. Inside a directory, a symbolic link
/// is followed only when it stays inside that LOCAL directory; one that leads out of it is
/// skipped (and reported) unless `follow_symlinks`. Symbolic links to directories are
/// descended into only with `follow_symlinks` (each directory once, so a loop ends).
/// Results keep argument order, and directory entries are sorted by name. A missing LOCAL
/// is an error.
pub fn collect_upload_files(
    locals: &[PathBuf],
    mask: &MaskSet,
    recursive: bool,
    follow_symlinks: bool,
) -> Result<Collected, String> {
    let mut out = Collected::default();
    for local in locals {
        let meta = std::fs::metadata(local).map_err(|e| format!("{}: {e}", local.display()))?;
        if meta.is_dir() {
            let root = local
                .canonicalize()
                .map_err(|e| format!("{}: {e}", local.display()))?;
            let mut walk = Walk {
                root,
                mask,
                recursive,
                follow_symlinks,
                visited: Vec::new(),
                out: &mut out,
            };
            walk.dir(local, "")?;
        } else {
            let name = file_name_utf8(local)?;
            if mask.matches(&name) {
                out.files.push(LocalFile {
                    path: local.clone(),
                    relative_path: name,
                    size: meta.len(),
                    modified: meta.modified().ok(),
                });
            }
        }
    }
    Ok(out)
}

/// One LOCAL directory's walk.
struct Walk<'a> {
    /// The LOCAL directory, resolved: links leading out of it are not followed by default.
    root: PathBuf,
    mask: &'a MaskSet,
    recursive: bool,
    follow_symlinks: bool,
    /// Directories entered through links, resolved, so a link loop is entered once.
    visited: Vec<PathBuf>,
    out: &'a mut Collected,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, prefix: &str) -> Result<(), String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut paths: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            paths.push(entry.path());
        }
        paths.sort();
        for path in paths {
            let link =
                std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // a dangling symlink
            };
            let name = file_name_utf8(&path)?;
            let relative = format!("{prefix}{name}");
            let is_link = link.file_type().is_symlink();
            if is_link && !self.follow_symlinks {
                let resolved = path
                    .canonicalize()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if !resolved.starts_with(&self.root) {
                    let ignored = (meta.is_dir() && !self.recursive)
                        || (meta.is_file() && !self.mask.matches(&name));
                    if ignored {
                        continue; // would not be uploaded anyway
                    }
                    self.out.skipped.push(SkippedLink {
                        reason: format!(
                            "symbolic link to {} outside {}; not followed (--follow-symlinks follows it)",
                            resolved.display(),
                            self.root.display()
                        ),
                        path,
                        relative_path: relative,
                    });
                    continue;
                }
            }
            if meta.is_dir() {
                if !self.recursive {
                    continue;
                }
                if is_link {
                    if !self.follow_symlinks {
                        continue;
                    }
                    let resolved = path
                        .canonicalize()
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    if self.visited.contains(&resolved) || self.root.starts_with(&resolved) {
                        continue; // a loop back into a directory being walked
                    }
                    self.visited.push(resolved);
                }
                self.dir(&path, &format!("{relative}/"))?;
            } else if meta.is_file() && self.mask.matches(&name) {
                self.out.files.push(LocalFile {
                    relative_path: relative,
                    path,
                    size: meta.len(),
                    modified: meta.modified().ok(),
                });
            }
        }
        Ok(())
    }
}

fn file_name_utf8(path: &Path) -> Result<String, String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    name.to_str().map(str::to_string).ok_or_else(|| {
        format!(
            "{}: the name is not valid UTF-8 (Dropbox names are)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PathBuf {
        PathBuf::from("/tmp/dest")
    }

    #[test]
    fn plain_relative_paths_join() {
        assert_eq!(safe_join(&base(), "a.txt").unwrap(), base().join("a.txt"));
        assert_eq!(
            safe_join(&base(), "sub/b.txt").unwrap(),
            base().join("sub").join("b.txt")
        );
        assert_eq!(
            safe_join(&base(), "./sub//c").unwrap(),
            base().join("sub").join("c")
        );
        assert_eq!(safe_join(&base(), "..foo").unwrap(), base().join("..foo"));
    }

    #[test]
    fn parent_components_are_refused() {
        for bad in [
            "../evil",
            "a/../../evil",
            "..",
            "..\\evil",
            "a\\..\\..\\evil",
            "sub/..",
        ] {
            assert!(
                matches!(safe_join(&base(), bad), Err(UnsafePath::ParentDir(_))),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn absolute_paths_land_inside() {
        assert_eq!(
            safe_join(&base(), "/etc/x").unwrap(),
            base().join("etc").join("x")
        );
        assert_eq!(
            safe_join(&base(), "//etc/x").unwrap(),
            base().join("etc").join("x")
        );
        assert_eq!(
            safe_join(&base(), "\\etc\\x").unwrap(),
            base().join("etc").join("x")
        );
    }

    #[test]
    fn backslashes_are_separators() {
        assert_eq!(
            safe_join(&base(), "a\\b.txt").unwrap(),
            base().join("a").join("b.txt")
        );
    }

    #[test]
    fn drive_letters_nul_and_empty_are_refused() {
        assert!(matches!(
            safe_join(&base(), "C:\\Windows\\x"),
            Err(UnsafePath::Drive(_))
        ));
        assert!(matches!(
            safe_join(&base(), "c:evil"),
            Err(UnsafePath::Drive(_))
        ));
        assert!(matches!(
            safe_join(&base(), "/D:/x"),
            Err(UnsafePath::Drive(_))
        ));
        assert!(matches!(
            safe_join(&base(), "a\0b"),
            Err(UnsafePath::Nul(_))
        ));
        assert!(matches!(safe_join(&base(), ""), Err(UnsafePath::Empty(_))));
        assert!(matches!(
            safe_join(&base(), "/./"),
            Err(UnsafePath::Empty(_))
        ));
        // A colon later in a name is an ordinary character on Unix.
        assert!(safe_join(&base(), "sub/C:x").is_ok());
    }

    #[test]
    fn names_are_bounded_in_bytes_not_characters() {
        // 255 characters but 510 bytes: a Dropbox name that no local file can carry.
        let long = "é".repeat(255);
        match safe_join(&base(), &format!("sub/{long}")) {
            Err(UnsafePath::TooLong { bytes, .. }) => assert_eq!(bytes, 510),
            other => panic!("{other:?}"),
        }
        let fits = "日".repeat(85); // 255 bytes
        assert_eq!(safe_join(&base(), &fits).unwrap(), base().join(&fits));
        assert!(safe_join(&base(), &format!("{fits}x")).is_err());
        assert!(safe_join(&base(), &"a".repeat(256)).is_err());
    }

    #[test]
    fn joined_paths_stay_under_base() {
        for name in ["x", "/x", "\\x", "a/b/c", "./a"] {
            assert!(safe_join(&base(), name).unwrap().starts_with(base()));
        }
    }

    #[test]
    fn ensure_inside_catches_symlink_escape() {
        let dest = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(dest.path().join("real")).unwrap();
        assert!(ensure_inside(dest.path(), &dest.path().join("real")).is_ok());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path(), dest.path().join("link")).unwrap();
            assert!(ensure_inside(dest.path(), &dest.path().join("link")).is_err());
        }
    }

    #[test]
    fn walk_keeps_layout_and_applies_mask() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(root.join("a.txt"), b"a").unwrap();
        std::fs::write(root.join("b.log"), b"b").unwrap();
        std::fs::write(root.join("sub/c.txt"), b"c").unwrap();
        std::fs::write(root.join("sub/deeper/d.txt"), b"d").unwrap();
        let mask = MaskSet::parse("*.txt", false, false).unwrap();

        let flat = collect_upload_files(std::slice::from_ref(&root), &mask, false, false)
            .unwrap()
            .files;
        let names: Vec<_> = flat.iter().map(|f| f.relative_path.as_str()).collect();
        assert_eq!(names, ["a.txt"]);

        let deep = collect_upload_files(std::slice::from_ref(&root), &mask, true, false)
            .unwrap()
            .files;
        let names: Vec<_> = deep.iter().map(|f| f.relative_path.as_str()).collect();
        assert_eq!(names, ["a.txt", "sub/c.txt", "sub/deeper/d.txt"]);

        let direct = collect_upload_files(&[root.join("b.log")], &MaskSet::any(), true, false)
            .unwrap()
            .files;
        assert_eq!(direct[0].relative_path, "b.log");
        assert_eq!(direct[0].size, 1);

        assert!(collect_upload_files(&[root.join("missing")], &mask, false, false).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn directories_are_never_made_through_a_link_out_of_the_destination() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        let base = dir.path().join("dest");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::create_dir_all(base.join("real")).unwrap();
        symlink(&outside, base.join("out")).unwrap();
        symlink(base.join("real"), base.join("in")).unwrap();

        let e = create_dirs_inside(&base, &base.join("out/deeper/deepest")).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        // A link that stays inside the destination is fine, and new levels are made.
        create_dirs_inside(&base, &base.join("in/x/y")).unwrap();
        assert!(base.join("real/x/y").is_dir());
        create_dirs_inside(&base, &base.join("a/b")).unwrap();
        assert!(base.join("a/b").is_dir());
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_tree_are_followed_only_when_asked() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(outside.join("secrets")).unwrap();
        std::fs::write(outside.join("id_rsa"), b"key").unwrap();
        std::fs::write(outside.join("secrets/token"), b"t").unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.txt"), b"a").unwrap();
        std::fs::write(root.join("sub/b.txt"), b"b").unwrap();
        symlink(outside.join("id_rsa"), root.join("key-link")).unwrap();
        symlink(outside.join("secrets"), root.join("dir-link")).unwrap();
        symlink(root.join("a.txt"), root.join("inside-link")).unwrap();
        symlink(&root, root.join("sub/loop")).unwrap();
        let all = MaskSet::any();

        let plain = collect_upload_files(std::slice::from_ref(&root), &all, true, false).unwrap();
        let names: Vec<_> = plain
            .files
            .iter()
            .map(|f| f.relative_path.as_str())
            .collect();
        assert_eq!(names, ["a.txt", "inside-link", "sub/b.txt"]);
        let skipped: Vec<_> = plain
            .skipped
            .iter()
            .map(|s| s.relative_path.as_str())
            .collect();
        assert_eq!(skipped, ["dir-link", "key-link"]);
        assert!(
            plain.skipped[1].reason.contains("--follow-symlinks"),
            "{:?}",
            plain.skipped
        );

        let followed = collect_upload_files(std::slice::from_ref(&root), &all, true, true).unwrap();
        let names: Vec<_> = followed
            .files
            .iter()
            .map(|f| f.relative_path.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "a.txt",
                "dir-link/token",
                "inside-link",
                "key-link",
                "sub/b.txt"
            ]
        );
        assert!(followed.skipped.is_empty());
    }
}
