//! The store on disk: a private data dir (0700), private store files (0600), and the
//! advisory lock that makes one process at a time (a server, `rotate-key` or
//! `migrate-secrets`) the owner of the store.
//!
//! The files hold sealed secrets and connection settings (names, accounts, proxies); other
//! local users have no business reading them, whatever the umask is.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Suffixes of the files SQLite keeps beside the database in WAL mode.
const SQLITE_SIDE_FILES: [&str; 2] = ["-wal", "-shm"];
/// Suffix of the lock file beside the database.
const LOCK_SUFFIX: &str = ".lock";

/// Creates `dir` (and missing parents) readable by its owner only. An existing directory
/// is left as the operator made it (it may be a mounted volume); see
/// [`open_data_dir_warning`].
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A warning when other users can enter or read the data dir.
pub fn open_data_dir_warning(dir: &Path) -> Option<String> {
    let mode = unix_mode(dir)?;
    (mode & 0o007 != 0).then(|| {
        format!(
            "the data dir {} is open to other users (mode {:04o}); the store files in it are \
             private, but restrict the directory too: `chmod 700 {}`",
            dir.display(),
            mode & 0o7777,
            dir.display()
        )
    })
}

/// A warning when the secrets key file can be read by users other than this process's
/// own: readable by others, or by a group the process is not in. (A group the process is
/// in is its own: Kubernetes makes a Secret volume group-readable for the pod's fsGroup.)
pub fn exposed_key_file_warning(file: &Path) -> Option<String> {
    let (mode, gid) = unix_mode_and_gid(file)?;
    let others = mode & 0o004 != 0;
    let foreign_group = mode & 0o040 != 0 && !is_own_group(gid);
    (others || foreign_group).then(|| {
        format!(
            "the secrets key file {} is readable by {} (mode {:04o}); anyone who reads it can \
             open every stored token: `chmod 600 {}`",
            file.display(),
            if others { "other users" } else { "its group" },
            mode & 0o7777,
            file.display()
        )
    })
}

/// Makes the database file exist with mode 0600 before SQLite opens it, and tightens the
/// database and its WAL files when they already exist with looser modes. SQLite gives the
/// `-wal` and `-shm` files it creates the mode of the database file, so they follow.
pub fn prepare_private_db(db: &Path) -> io::Result<()> {
    create_private_file(db)?;
    tighten(db)?;
    for suffix in SQLITE_SIDE_FILES {
        let side = with_suffix(db, suffix);
        if side.exists() {
            tighten(&side)?;
        }
    }
    Ok(())
}

/// The lock that one process at a time holds on a store: an exclusive `flock` on
/// `<db>.lock`, released when this value is dropped or the process ends (also on a crash).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another dropbox-connector process holds the store {}: a server is running on this \
         data dir (or a rotate-key / migrate-secrets is); stop it first",
        .0.display()
    )]
    Held(PathBuf),
    #[error("cannot lock the store with {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl StoreLock {
    /// Takes the lock of the database `db` without waiting, creating the data dir
    /// privately when it is missing.
    pub fn acquire(db: &Path) -> Result<StoreLock, LockError> {
        let path = with_suffix(db, LOCK_SUFFIX);
        let io_error = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(io_error)?;
        }
        let file = open_private(&path).map_err(io_error)?;
        lock_exclusive(&file).map_err(|e| match e {
            LockAttempt::Held => LockError::Held(db.to_path_buf()),
            LockAttempt::Io(e) => io_error(e),
        })?;
        Ok(StoreLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

enum LockAttempt {
    Held,
    Io(io::Error),
}

#[cfg(unix)]
fn lock_exclusive(file: &File) -> Result<(), LockAttempt> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(LockAttempt::Held),
        Err(e) => Err(LockAttempt::Io(e.into())),
    }
}

#[cfg(not(unix))]
fn lock_exclusive(_file: &File) -> Result<(), LockAttempt> {
    Ok(())
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn create_private_file(path: &Path) -> io::Result<()> {
    open_private(path).map(drop)
}

/// Opens `path` for writing, creating it with mode 0600 when missing (never truncating).
fn open_private(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn tighten(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn unix_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn unix_mode(_path: &Path) -> Option<u32> {
    None
}

#[cfg(unix)]
fn unix_mode_and_gid(path: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.mode(), m.gid()))
}

#[cfg(not(unix))]
fn unix_mode_and_gid(_path: &Path) -> Option<(u32, u32)> {
    None
}

#[cfg(unix)]
fn is_own_group(gid: u32) -> bool {
    use rustix::process::{getegid, getgroups};
    getegid().as_raw() == gid
        || getgroups().is_ok_and(|groups| groups.iter().any(|g| g.as_raw() == gid))
}

#[cfg(not(unix))]
fn is_own_group(_gid: u32) -> bool {
    true
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).map_or(0, |m| m.permissions().mode()) & 0o777
    }

    #[test]
    fn new_dirs_and_files_are_private_and_loose_files_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("connections.db");
        prepare_private_db(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        let wal = dir.join("connections.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o664)).unwrap();
        prepare_private_db(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
    }

    #[test]
    fn open_dirs_and_readable_key_files_are_named() {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let warning = open_data_dir_warning(root.path()).unwrap();
        assert!(warning.contains("chmod 700"), "{warning}");
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(open_data_dir_warning(root.path()), None);

        let key = root.path().join("k");
        std::fs::write(&key, b"x").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warning = exposed_key_file_warning(&key).unwrap();
        assert!(warning.contains(&format!("chmod 600 {}", key.display())));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(exposed_key_file_warning(&key), None);
        // The process's own group (a Kubernetes fsGroup) is not "others".
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(exposed_key_file_warning(&key), None);
    }

    #[test]
    fn one_holder_at_a_time() {
        let root = tempfile::tempdir().unwrap();
        let db = root.path().join("data/connections.db");
        let held = StoreLock::acquire(&db).unwrap();
        assert_eq!(mode(held.path()), 0o600);
        assert_eq!(mode(&root.path().join("data")), 0o700);
        let second = StoreLock::acquire(&db).unwrap_err();
        assert!(matches!(second, LockError::Held(_)));
        assert!(second.to_string().contains("stop it first"), "{second}");
        drop(held);
        StoreLock::acquire(&db).unwrap();
    }
}
