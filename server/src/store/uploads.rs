//! Resumable uploads as the store keeps them, and the [`UploadStore`] trait.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;

/// One resumable upload. Only whole 4 MiB blocks are ever persisted in Dropbox's session
/// before the end, so `block_digests` covers exactly `persisted_size` bytes (stored one row
/// per block, appended as pieces arrive).
#[derive(Debug, Clone, PartialEq)]
pub struct ResumableUpload {
    /// The id handed to the client. Stored only as its SHA-256.
    pub id: String,
    pub connection_id: String,
    /// The caller that started it (`""` without callers); only it may use the upload.
    pub owner: String,
    pub target: UploadTarget,
    /// Dropbox's upload session.
    pub session_id: String,
    pub persisted_size: u64,
    pub block_digests: Vec<[u8; 32]>,
    /// An append that was started and whose outcome is not recorded: if Dropbox's session
    /// turns out to be past it, these digests say whether the bytes were the same.
    pub pending: Option<PendingAppend>,
    /// The outcome (JSON, written by the task) once the upload has finished.
    pub result: Option<String>,
    pub create_time: OffsetDateTime,
    pub expire_time: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PendingAppend {
    pub offset: u64,
    pub digests: Vec<[u8; 32]>,
}

/// Where and how the file is committed; kept as one JSON document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadTarget {
    pub path: String,
    /// `always`, `if_newer`, `if_size:<comparison>` or `never`.
    pub overwrite: String,
    pub autorename: bool,
    /// Unix microseconds.
    pub modified_micros: Option<i64>,
    pub size: Option<u64>,
    pub content_hash: Option<String>,
}

/// Persistence of resumable uploads.
pub trait UploadStore: Send + Sync + 'static {
    /// Stores a new upload (and drops expired ones).
    fn insert_upload(&self, upload: ResumableUpload) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The upload with this id, expired or not.
    fn get_upload(&self, id: String) -> BoxFuture<'_, Result<Option<ResumableUpload>, StoreError>>;
    /// Records an append about to be sent.
    fn set_pending_append(
        &self,
        id: String,
        pending: PendingAppend,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Records that Dropbox now holds `persisted_size` bytes: the blocks `appended`, from
    /// block number `first_block` on, follow the ones recorded before. Clears the pending
    /// append. Writes only the new blocks, whatever the size of the upload.
    fn record_appended(
        &self,
        id: String,
        persisted_size: u64,
        first_block: u64,
        appended: Vec<[u8; 32]>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Records the outcome of a finished upload.
    fn record_result(&self, id: String, result: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Removes an upload; `NotFound` when there was none.
    fn delete_upload(&self, id: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Removes uploads that expired before `now`; returns how many.
    fn delete_expired_uploads(&self, now: OffsetDateTime)
    -> BoxFuture<'_, Result<u64, StoreError>>;
}
