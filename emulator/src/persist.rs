//! The data dir's `state.json`: the file tree (blob names, not bytes) and issued tokens,
//! written atomically after every change.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::auth::TokenStore;
use crate::storage::Tree;

#[derive(Serialize, Deserialize)]
struct Snapshot {
    tree: Tree,
    tokens: TokenStore,
}

pub struct Persister {
    path: PathBuf,
    version: AtomicU64,
    written: tokio::sync::Mutex<u64>,
}

pub struct Pending {
    version: u64,
    bytes: Vec<u8>,
}

impl Persister {
    pub fn new(data_dir: &Path) -> std::io::Result<Persister> {
        std::fs::create_dir_all(data_dir)?;
        Ok(Persister {
            path: data_dir.join("state.json"),
            version: AtomicU64::new(0),
            written: tokio::sync::Mutex::new(0),
        })
    }

    pub fn load(&self) -> anyhow::Result<Option<(Tree, TokenStore)>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let s: Snapshot = serde_json::from_slice(&bytes)?;
                Ok(Some((s.tree, s.tokens)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Serializes under the caller's lock.
    pub fn snapshot(&self, tree: &Tree, tokens: &TokenStore) -> Option<Pending> {
        #[derive(Serialize)]
        struct SnapshotRef<'a> {
            tree: &'a Tree,
            tokens: &'a TokenStore,
        }
        let bytes = serde_json::to_vec(&SnapshotRef { tree, tokens }).ok()?;
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        Some(Pending { version, bytes })
    }

    /// Writes a snapshot unless a newer one was written already.
    pub async fn write(&self, pending: Pending) {
        let mut written = self.written.lock().await;
        if *written >= pending.version {
            return;
        }
        let tmp = self.path.with_extension("json.tmp");
        let path = self.path.clone();
        let bytes = pending.bytes;
        let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path)
        })
        .await;
        match result {
            Ok(Ok(())) => *written = pending.version,
            Ok(Err(e)) => tracing::error!("writing state.json: {e}"),
            Err(e) => tracing::error!("writing state.json: {e}"),
        }
    }
}
