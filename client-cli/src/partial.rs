//! The partial file of one download, `.<name>.<rev>.dbxc-partial` next to its destination.
//!
//! The rev in the name ties the bytes to exactly one Dropbox revision: a later run resumes a
//! partial only for the same rev (whose bytes can still complete to that rev's content_hash),
//! and removes partials of other revs of the same destination as stale. While a run writes
//! a partial it holds an exclusive lock on it, so two runs never write into the same one.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::content_hash::ContentHasher;

/// What every partial's name ends with.
pub const SUFFIX: &str = ".dbxc-partial";

/// Characters of the destination's name kept in the partial's name (names may be long).
const NAME_CHARS: usize = 100;

/// Longest rev accepted into a file name (Dropbox's are 9 to ~20 hex digits).
const MAX_REV_CHARS: usize = 64;

/// The partial's path for `dest` at `rev`, or None when `rev` is not a plain alphanumeric
/// word (such a rev must not become part of a file name, so that download cannot resume).
pub fn path_for(dest: &Path, rev: &str) -> Option<PathBuf> {
    if !is_plain_rev(rev) {
        return None;
    }
    Some(dest.with_file_name(format!("{}{rev}{SUFFIX}", name_prefix(dest))))
}

fn is_plain_rev(rev: &str) -> bool {
    !rev.is_empty() && rev.len() <= MAX_REV_CHARS && rev.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `.<name>.`: what the partials of `dest` start with.
fn name_prefix(dest: &Path) -> String {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let short: String = name.chars().take(NAME_CHARS).collect();
    format!(".{short}.")
}

/// The length of the partial of `dest` at `rev`, when one exists.
pub fn existing_len(dest: &Path, rev: &str) -> Option<u64> {
    let path = path_for(dest, rev)?;
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// Removes the partials of `dest` for revs other than `rev` (a newer or older revision's
/// bytes cannot complete this one). A partial another run is writing is left alone.
pub fn remove_stale(dest: &Path, rev: &str) -> std::io::Result<Vec<PathBuf>> {
    let Some(dir) = dest.parent() else {
        return Ok(Vec::new());
    };
    let prefix = name_prefix(dest);
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(other) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(SUFFIX))
        else {
            continue;
        };
        if other == rev || !is_plain_rev(other) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if lock::try_exclusive(&file).is_ok() && std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Why a partial could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another run holds the lock.
    #[error("{0} is being written by another dbxc run; try again when it has finished")]
    Busy(PathBuf),
    /// Anything else.
    #[error("cannot open {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An open, locked partial and the content_hash state of the bytes in it.
pub struct Partial {
    /// Where it is.
    pub path: PathBuf,
    /// The file, opened for appending.
    pub file: tokio::fs::File,
    /// The hash of the bytes in the file so far.
    pub hasher: ContentHasher,
    /// How many bytes were in the file when it was opened (0 for a fresh start).
    pub resumed_from: u64,
    /// Whether dropping it removes the file: true when it could not be named for resuming.
    remove_on_drop: bool,
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

impl Partial {
    /// Opens the partial of `dest` at `rev` and locks it. With `resume`, the bytes already
    /// there are kept and hashed (bounded memory, blocking I/O); otherwise it is emptied.
    /// A rev that cannot be part of a name gets a per-run file that is removed when dropped.
    pub fn open(dest: &Path, rev: &str, resume: bool) -> Result<Partial, OpenError> {
        let Some(path) = path_for(dest, rev) else {
            let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
            let path = dest.with_file_name(format!(
                "{}{}-{n}{SUFFIX}",
                name_prefix(dest),
                std::process::id()
            ));
            let mut partial = Self::open_locked(path, false)?;
            partial.remove_on_drop = true;
            return Ok(partial);
        };
        Self::open_locked(path, resume)
    }

    fn open_locked(path: PathBuf, resume: bool) -> Result<Partial, OpenError> {
        let io = |source: std::io::Error| OpenError::Io {
            path: path.clone(),
            source,
        };
        // Another run may rename or remove the file between our open and our lock; then
        // the lock is on a file that is no longer the partial, and we open again.
        let mut attempts = 0;
        let file = loop {
            attempts += 1;
            let file = File::options()
                .read(true)
                .append(true)
                .create(true)
                .open(&path)
                .map_err(io)?;
            match lock::try_exclusive(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(OpenError::Busy(path));
                }
                Err(e) => return Err(io(e)),
            }
            if lock::still_named(&file, &path) {
                break file;
            }
            if attempts >= 3 {
                return Err(OpenError::Busy(path));
            }
        };
        let (hasher, resumed_from) = if resume {
            hash_existing(&file).map_err(io)?
        } else {
            file.set_len(0).map_err(io)?;
            (ContentHasher::new(), 0)
        };
        Ok(Partial {
            path,
            file: tokio::fs::File::from_std(file),
            hasher,
            resumed_from,
            remove_on_drop: false,
        })
    }

    /// Empties the file to start over (its bytes cannot complete the download).
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.file.set_len(0).await?;
        self.hasher = ContentHasher::new();
        self.resumed_from = 0;
        Ok(())
    }

    /// Removes the file when dropped: its bytes must not be kept.
    pub fn discard(mut self) {
        self.remove_on_drop = true;
    }

    /// The file was renamed into place: nothing to remove any more.
    pub fn renamed(mut self) {
        self.remove_on_drop = false;
    }

    /// Whether a later run can resume from this file.
    pub fn is_resumable(&self) -> bool {
        !self.remove_on_drop
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The content_hash state and length of the bytes already in `file`.
fn hash_existing(mut file: &File) -> std::io::Result<(ContentHasher, u64)> {
    file.seek(SeekFrom::Start(0))?;
    crate::content_hash::of_reader(file)
}

#[cfg(unix)]
mod lock {
    use std::fs::File;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    /// An exclusive advisory lock, released when the file is closed (also when the process
    /// is killed). `WouldBlock` when another process holds it.
    pub fn try_exclusive(file: &File) -> std::io::Result<()> {
        rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(std::io::Error::from)
    }

    /// Whether `path` still names the open `file`.
    pub fn still_named(file: &File, path: &Path) -> bool {
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }
}

#[cfg(not(unix))]
mod lock {
    use std::fs::File;
    use std::path::Path;

    // No advisory lock without `flock`; a concurrent run on the same file is then caught
    // only by the content_hash check.
    pub fn try_exclusive(_file: &File) -> std::io::Result<()> {
        Ok(())
    }

    pub fn still_named(_file: &File, path: &Path) -> bool {
        path.exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content_hash::of_bytes;

    #[test]
    fn the_name_carries_the_rev() {
        let dest = Path::new("/d/report.csv");
        assert_eq!(
            path_for(dest, "015f3a9c1").unwrap(),
            Path::new("/d/.report.csv.015f3a9c1.dbxc-partial")
        );
        let long = format!("/d/{}", "n".repeat(300));
        let name = path_for(Path::new(&long), "abc").unwrap();
        let name = name.file_name().unwrap().to_str().unwrap();
        assert!(name.len() < 255, "{} bytes", name.len());
        assert!(name.ends_with(".abc.dbxc-partial"));
    }

    #[test]
    fn odd_revs_never_become_names() {
        for rev in ["", "../x", "a/b", "a.b", "a b", &"f".repeat(65)] {
            assert!(path_for(Path::new("/d/f"), rev).is_none(), "{rev:?}");
        }
    }

    #[test]
    fn a_partial_of_the_same_rev_resumes_with_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        std::fs::write(path_for(&dest, "aaa111").unwrap(), b"hello ").unwrap();
        assert_eq!(existing_len(&dest, "aaa111"), Some(6));
        assert_eq!(existing_len(&dest, "bbb222"), None);

        let partial = Partial::open(&dest, "aaa111", true).unwrap();
        assert_eq!(partial.resumed_from, 6);
        assert!(partial.is_resumable());
        let mut hasher = partial.hasher.clone();
        hasher.update(b"world");
        assert_eq!(hasher.finish(), of_bytes(b"hello world"));
        drop(partial);
        assert!(
            path_for(&dest, "aaa111").unwrap().exists(),
            "kept for a later run"
        );
    }

    #[test]
    fn a_fresh_open_empties_the_partial() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        std::fs::write(path_for(&dest, "aaa111").unwrap(), b"old").unwrap();
        let partial = Partial::open(&dest, "aaa111", false).unwrap();
        assert_eq!(partial.resumed_from, 0);
        assert_eq!(std::fs::metadata(&partial.path).unwrap().len(), 0);
    }

    #[test]
    fn partials_of_other_revs_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        let old = path_for(&dest, "old1").unwrap();
        let current = path_for(&dest, "new2").unwrap();
        // Another file whose name starts like this one's partials.
        let neighbour = path_for(&dir.path().join("f.bin.x"), "old1").unwrap();
        for p in [&old, &current, &neighbour] {
            std::fs::write(p, b"x").unwrap();
        }
        let removed = remove_stale(&dest, "new2").unwrap();
        assert_eq!(removed, vec![old.clone()]);
        assert!(!old.exists());
        assert!(current.exists());
        assert!(neighbour.exists());
    }

    #[cfg(unix)]
    #[test]
    fn one_writer_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        let first = Partial::open(&dest, "aaa111", false).unwrap();
        assert!(matches!(
            Partial::open(&dest, "aaa111", true),
            Err(OpenError::Busy(_))
        ));
        // A partial being written is not stale for another run that sees a newer rev.
        assert!(remove_stale(&dest, "bbb222").unwrap().is_empty());
        assert!(first.path.exists());
        drop(first);
        assert!(Partial::open(&dest, "aaa111", true).is_ok());
    }

    #[test]
    fn an_unnamable_rev_gets_a_throwaway_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        let partial = Partial::open(&dest, "", true).unwrap();
        let path = partial.path.clone();
        assert!(!partial.is_resumable());
        assert!(path.exists());
        drop(partial);
        assert!(!path.exists());
    }
}
