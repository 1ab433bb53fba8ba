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

use dropbox_content_hash::ContentHasher;

/// What every partial's name ends with.
pub const SUFFIX: &str = ".dbxc-partial";

/// Bytes of the destination's name kept in the partial's name: with the rev and the suffix
/// it stays under the 255-byte limit of a file name whatever the name's characters.
const NAME_BYTES: usize = 100;

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
    let mut end = name.len().min(NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(".{}.", &name[..end])
}

/// The length of the partial of `dest` at `rev`, when one that dbxc may use exists.
pub fn existing_len(dest: &Path, rev: &str) -> Option<u64> {
    let path = path_for(dest, rev)?;
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| owner::is_ours(m).is_ok())
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
        // Only what dbxc made is removed: a symlink, a directory or a file with other
        // names (hard links) or another owner is left alone.
        let Ok(file) = owner::open_existing(&path, false) else {
            continue;
        };
        if lock::try_exclusive(&file).is_ok()
            && lock::still_named(&file, &path)
            && std::fs::remove_file(&path).is_ok()
        {
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
    /// Something dbxc did not make sits where the partial goes.
    #[error(
        "{path} is {what}, not a partial file dbxc made; refusing to write through it or \
         remove it: move it away and run again"
    )]
    NotOurs { path: PathBuf, what: &'static str },
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
    /// The file's device and inode, to remove `path` only while it still names this file.
    identity: Option<(u64, u64)>,
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
            let file = match owner::open_existing(&path, true) {
                Ok(file) => file,
                Err(owner::Refusal::Missing) => match owner::create_new(&path) {
                    Ok(file) => file,
                    // Another run created it since: open that one next time round.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 3 => {
                        continue;
                    }
                    Err(e) => return Err(io(e)),
                },
                Err(owner::Refusal::NotOurs(what)) => {
                    return Err(OpenError::NotOurs {
                        path: path.clone(),
                        what,
                    });
                }
                Err(owner::Refusal::Io(e)) => return Err(io(e)),
            };
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
        let identity = lock::identity(&file);
        Ok(Partial {
            path,
            identity,
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
        // Whatever replaced the file at `path` since (a rename by the user, another run)
        // is not ours to remove.
        if self.remove_on_drop
            && self.identity.is_some()
            && lock::identity_at(&self.path) == self.identity
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The content_hash state and length of the bytes already in `file`.
fn hash_existing(mut file: &File) -> std::io::Result<(ContentHasher, u64)> {
    file.seek(SeekFrom::Start(0))?;
    dropbox_content_hash::of_reader(file)
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

    /// Whether `path` itself (not a symlink's target) still names the open `file`.
    pub fn still_named(file: &File, path: &Path) -> bool {
        let open = identity(file);
        open.is_some() && open == identity_at(path)
    }

    /// The device and inode of an open file.
    pub fn identity(file: &File) -> Option<(u64, u64)> {
        file.metadata().ok().map(|m| (m.dev(), m.ino()))
    }

    /// The device and inode `path` names, without following a symlink.
    pub fn identity_at(path: &Path) -> Option<(u64, u64)> {
        std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino()))
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

    pub fn identity(_file: &File) -> Option<(u64, u64)> {
        Some((0, 0))
    }

    pub fn identity_at(path: &Path) -> Option<(u64, u64)> {
        path.exists().then_some((0, 0))
    }
}

/// Which files are dbxc's own: a regular file (never a symlink, which is not followed),
/// with no other name (a hard link would let a write reach another file), owned by the
/// user running dbxc. Only those are written, resumed or removed.
#[cfg(unix)]
mod owner {
    use std::fs::{File, Metadata, OpenOptions};
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    use std::path::Path;

    /// Why an existing file cannot be used.
    pub enum Refusal {
        /// Nothing there.
        Missing,
        /// Something dbxc did not make: what it is.
        NotOurs(&'static str),
        /// Any other failure.
        Io(std::io::Error),
    }

    fn nofollow() -> i32 {
        // O_NOFOLLOW is a small positive flag on every Unix.
        rustix::fs::OFlags::NOFOLLOW.bits() as i32
    }

    /// Whether metadata (from `symlink_metadata` or an open file) is that of our own file.
    pub fn is_ours(meta: &Metadata) -> Result<(), &'static str> {
        if meta.file_type().is_symlink() {
            Err("a symbolic link")
        } else if !meta.is_file() {
            Err("not a regular file")
        } else if meta.nlink() != 1 {
            Err("a file with other names (hard links)")
        } else if meta.uid() != rustix::process::geteuid().as_raw() {
            Err("owned by another user")
        } else {
            Ok(())
        }
    }

    /// Opens an existing partial (for appending when `write`), never through a symlink.
    pub fn open_existing(path: &Path, write: bool) -> Result<File, Refusal> {
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(nofollow());
        if write {
            options.append(true);
        }
        let file = match options.open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refusal::Missing),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                return Err(Refusal::NotOurs("a symbolic link"));
            }
            Err(e) => return Err(Refusal::Io(e)),
        };
        let meta = file.metadata().map_err(Refusal::Io)?;
        is_ours(&meta).map_err(Refusal::NotOurs)?;
        Ok(file)
    }

    /// Creates a new partial; fails when anything (a file, a symlink) already has the name.
    pub fn create_new(path: &Path) -> std::io::Result<File> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nofollow())
            .open(path)
    }
}

#[cfg(not(unix))]
mod owner {
    use std::fs::{File, Metadata, OpenOptions};
    use std::path::Path;

    pub enum Refusal {
        Missing,
        NotOurs(&'static str),
        Io(std::io::Error),
    }

    pub fn is_ours(meta: &Metadata) -> Result<(), &'static str> {
        if meta.file_type().is_symlink() {
            Err("a symbolic link")
        } else if !meta.is_file() {
            Err("not a regular file")
        } else {
            Ok(())
        }
    }

    pub fn open_existing(path: &Path, write: bool) -> Result<File, Refusal> {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refusal::Missing),
            Err(e) => return Err(Refusal::Io(e)),
            Ok(meta) => is_ours(&meta).map_err(Refusal::NotOurs)?,
        }
        let mut options = OpenOptions::new();
        options.read(true);
        if write {
            options.append(true);
        }
        options.open(path).map_err(Refusal::Io)
    }

    pub fn create_new(path: &Path) -> std::io::Result<File> {
        OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropbox_content_hash::content_hash as of_bytes;

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
    fn partial_names_are_bounded_in_bytes() {
        let dir = tempfile::tempdir().unwrap();
        // 85 three-byte characters: a 255-byte name, as long as a file name can be.
        let dest = dir.path().join("日".repeat(85));
        let rev = "f".repeat(MAX_REV_CHARS);
        let path = path_for(&dest, &rev).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= 255, "{} bytes", name.len());
        assert!(
            name.starts_with(&format!(".{}.", "日".repeat(33))),
            "{name}"
        );
        let partial = Partial::open(&dest, &rev, false).unwrap();
        assert!(partial.path.exists());
        // A cut inside a character is never made: é is two bytes, 100 is not a boundary
        // after a one-byte start.
        let odd = dir.path().join(format!("a{}", "é".repeat(100)));
        let name = path_for(&odd, "abc").unwrap();
        let name = name.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(&format!(".a{}.", "é".repeat(49))),
            "{name}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_partial_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("precious.txt");
        std::fs::write(&target, b"precious").unwrap();
        let dest = dir.path().join("f.bin");
        let planted = path_for(&dest, "aaa111").unwrap();
        std::os::unix::fs::symlink(&target, &planted).unwrap();

        assert_eq!(
            existing_len(&dest, "aaa111"),
            None,
            "not a partial to resume"
        );
        for resume in [true, false] {
            match Partial::open(&dest, "aaa111", resume) {
                Err(OpenError::NotOurs { what, .. }) => assert_eq!(what, "a symbolic link"),
                Err(e) => panic!("{e}"),
                Ok(_) => panic!("opened a symlink (resume {resume})"),
            }
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert!(planted.is_symlink(), "not ours to remove");

        // A dangling one cannot be followed into creating a file either.
        let dangling_target = outside.path().join("created-by-dbxc");
        let other = path_for(&dest, "bbb222").unwrap();
        std::os::unix::fs::symlink(&dangling_target, &other).unwrap();
        assert!(Partial::open(&dest, "bbb222", false).is_err());
        assert!(!dangling_target.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_hard_link_at_the_partial_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"keep me").unwrap();
        let dest = dir.path().join("f.bin");
        std::fs::hard_link(&victim, path_for(&dest, "aaa111").unwrap()).unwrap();
        assert_eq!(existing_len(&dest, "aaa111"), None);
        assert!(matches!(
            Partial::open(&dest, "aaa111", false),
            Err(OpenError::NotOurs { .. })
        ));
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    }

    #[cfg(unix)]
    #[test]
    fn only_our_own_files_are_removed_as_stale() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("precious.txt");
        std::fs::write(&target, b"precious").unwrap();
        let dest = dir.path().join("f.bin");
        let symlink = path_for(&dest, "old1").unwrap();
        std::os::unix::fs::symlink(&target, &symlink).unwrap();
        let hard = path_for(&dest, "old2").unwrap();
        std::fs::hard_link(&target, &hard).unwrap();
        let directory = path_for(&dest, "old3").unwrap();
        std::fs::create_dir(&directory).unwrap();
        let ours = path_for(&dest, "old4").unwrap();
        drop(Partial::open(&dest, "old4", false).unwrap());

        let removed = remove_stale(&dest, "new9").unwrap();
        assert_eq!(removed, vec![ours.clone()]);
        assert!(!ours.exists());
        assert!(symlink.is_symlink());
        assert!(hard.exists());
        assert!(directory.is_dir());
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    }

    #[test]
    fn a_discarded_partial_removes_only_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        let partial = Partial::open(&dest, "", true).unwrap();
        let path = partial.path.clone();
        // Something else now has the partial's name (the user moved the file away and
        // put another there).
        std::fs::rename(&path, dir.path().join("moved")).unwrap();
        std::fs::write(&path, b"not dbxc's").unwrap();
        drop(partial);
        assert_eq!(std::fs::read(&path).unwrap(), b"not dbxc's");
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
