//! Everything the routes share.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::accounts::Directory;
use crate::auth::TokenStore;
use crate::blob::{Blob, BlobStore};
use crate::faults::Faults;
use crate::meter::DownloadMeter;
use crate::network::Network;
use crate::persist::Persister;
use crate::sessions::Sessions;
use crate::storage::Tree;
use crate::{AppRegistration, EmulatorOptions};

/// Accounts, files and credentials: one lock, never held across an await.
pub struct Data {
    pub dir: Directory,
    pub tree: Tree,
    pub tokens: TokenStore,
    pub apps: Vec<AppRegistration>,
}

pub struct Shared {
    pub data: Mutex<Data>,
    pub sessions: Mutex<Sessions>,
    pub jobs: Mutex<HashMap<String, Value>>,
    pub log: Mutex<VecDeque<Value>>,
    pub log_seq: Mutex<u64>,
    pub blobs: BlobStore,
    pub faults: Faults,
    pub downloads: Arc<DownloadMeter>,
    pub network: Arc<Network>,
    pub token_lifetime: Duration,
    pub persister: Option<Persister>,
    /// Commit batches run one at a time (per emulator; Dropbox does it per account).
    pub batch_lock: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

/// Locks a mutex, recovering from poisoning (a panicked handler must not wedge the rest).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub const LOG_CAPACITY: usize = 10_000;

impl AppState {
    pub fn new(options: &EmulatorOptions) -> anyhow::Result<AppState> {
        let mut tokens: Vec<String> = options.tokens.clone();
        if tokens.is_empty() && options.team_token.is_none() {
            tokens.push(crate::auth::random_token("emu-", 24));
        }
        let dir = Directory::seed(&tokens, options.team_token.as_deref());
        let blobs = BlobStore::new(options.data_dir.as_deref())?;
        let persister = match &options.data_dir {
            Some(d) => Some(Persister::new(d)?),
            None => None,
        };
        let (mut tree, token_store) = match &persister {
            Some(p) => p.load()?.unwrap_or_default(),
            None => Default::default(),
        };
        tree.ensure_namespaces(&dir.namespaces());
        if blobs.is_disk() {
            blobs.remove_unreferenced(&tree.blob_names());
        }
        let data = Data {
            dir,
            tree,
            tokens: token_store,
            apps: options.apps.clone(),
        };
        Ok(AppState(Arc::new(Shared {
            data: Mutex::new(data),
            sessions: Mutex::new(Sessions::default()),
            jobs: Mutex::new(HashMap::new()),
            log: Mutex::new(VecDeque::new()),
            log_seq: Mutex::new(0),
            blobs,
            faults: Faults::default(),
            downloads: Arc::new(DownloadMeter::default()),
            network: Arc::new(Network::default()),
            token_lifetime: options.access_token_lifetime,
            persister,
            batch_lock: tokio::sync::Mutex::new(()),
        })))
    }

    pub fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.0.data)
    }

    pub fn sessions(&self) -> MutexGuard<'_, Sessions> {
        lock(&self.0.sessions)
    }

    /// Writes the tree and tokens to the data dir (no-op in memory).
    pub async fn persist(&self) {
        let Some(p) = &self.0.persister else { return };
        let snapshot = {
            let data = self.data();
            p.snapshot(&data.tree, &data.tokens)
        };
        if let Some(snapshot) = snapshot {
            p.write(snapshot).await;
        }
    }

    /// Deletes blobs that nothing references any more.
    pub fn drop_blobs(&self, blobs: Vec<Blob>) {
        for b in &blobs {
            self.0.blobs.remove(b);
        }
    }

    pub fn record(&self, mut entry: Value) {
        let seq = {
            let mut s = lock(&self.0.log_seq);
            *s += 1;
            *s
        };
        if let Some(obj) = entry.as_object_mut() {
            obj.insert("seq".into(), Value::from(seq));
        }
        let mut log = lock(&self.0.log);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }
}
