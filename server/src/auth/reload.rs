//! A configuration file that is read again when its content changes (a ConfigMap or
//! Secret update), keeping the last good value when the new content does not parse.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

/// The parsed value of one file and what it was parsed from.
pub struct Watched<T> {
    path: PathBuf,
    /// What `path` is in errors: `callers file`, `JWKS file`.
    what: &'static str,
    parse: fn(&str) -> Result<T, String>,
    state: RwLock<(Arc<T>, [u8; 32])>,
}

impl<T> Watched<T> {
    /// Reads and parses the file now; `Err` names the file and the mistake.
    pub fn load(
        path: &Path,
        what: &'static str,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<Watched<T>, String> {
        let (value, digest) = read(path, what, parse)?;
        Ok(Watched {
            path: path.to_path_buf(),
            what,
            parse,
            state: RwLock::new((Arc::new(value), digest)),
        })
    }

    /// The current value.
    pub fn get(&self) -> Arc<T> {
        match self.state.read() {
            Ok(s) => s.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// Reads the file again; a changed content that parses replaces the value. A broken
    /// or missing file keeps the old value and logs why.
    pub fn refresh(&self) {
        let current = match self.state.read() {
            Ok(s) => s.1,
            Err(poisoned) => poisoned.into_inner().1,
        };
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(file = %self.path.display(), error = %e, "cannot read the {}; keeping the previous one", self.what);
                return;
            }
        };
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        if digest == current {
            return;
        }
        match parse_bytes(&bytes, &self.path, self.what, self.parse) {
            Ok(value) => {
                if let Ok(mut s) = self.state.write() {
                    *s = (Arc::new(value), digest);
                }
                tracing::info!(file = %self.path.display(), "{} changed; reloaded", self.what);
            }
            Err(e) => {
                // Not retried until the content changes again: one error per edit.
                if let Ok(mut s) = self.state.write() {
                    s.1 = digest;
                }
                tracing::error!(file = %self.path.display(), error = %e, "the new {} is refused; keeping the previous one", self.what);
            }
        }
    }
}

fn read<T>(
    path: &Path,
    what: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<(T, [u8; 32]), String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("reading the {what} {}: {e}", path.display()))?;
    let value = parse_bytes(&bytes, path, what, parse)?;
    Ok((value, Sha256::digest(&bytes).into()))
}

fn parse_bytes<T>(
    bytes: &[u8],
    path: &Path,
    what: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| format!("the {what} {} is not UTF-8 text", path.display()))?;
    parse(text).map_err(|e| format!("the {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> Result<u32, String> {
        s.trim().parse().map_err(|_| format!("{s:?} is no number"))
    }

    #[test]
    fn a_broken_edit_keeps_the_old_value_and_a_good_one_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("n");
        std::fs::write(&f, "1").unwrap();
        let w = Watched::load(&f, "number file", number).unwrap();
        assert_eq!(*w.get(), 1);
        std::fs::write(&f, "x").unwrap();
        w.refresh();
        assert_eq!(*w.get(), 1);
        std::fs::remove_file(&f).unwrap();
        w.refresh();
        assert_eq!(*w.get(), 1);
        std::fs::write(&f, "2").unwrap();
        w.refresh();
        assert_eq!(*w.get(), 2);
        std::fs::write(&f, "x").unwrap();
        let e = Watched::load(&f, "number file", number).err().unwrap();
        assert!(e.contains("number file") && e.contains("no number"), "{e}");
    }
}
