//! Resumable uploads, in Google Cloud Storage's shape: start (an upload id), write (any
//! number of streams, each going on where the last persisted), query, cancel.
//!
//! The state lives in the store, so an upload survives a lost stream and a restart.
//! Before the file ends only whole 4 MiB blocks go to Dropbox's upload session; the store
//! keeps each block's SHA-256, so the whole file's content_hash is known at the end
//! without reading anything back, whatever process received the earlier bytes. Nothing
//! is committed before the end, so a cancelled upload leaves the destination as it was.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use dropbox_client::content_hash::{BLOCK_SIZE, block_digests, combine_block_digests};
use dropbox_client::{DropboxClient, FileMetadata, FolderMetadata, Metadata, paths};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::TaskError;
use super::budget::{BufferClaim, UploadBudget};
use super::connection_client::ConnectionClient;
use super::overwrite::{Decision, OverwritePolicy, SizeComparison, SourceFacts};
use super::upload::{FileOutcome, MAX_CHUNK, PIECE, UploadSpec, commit_info, lookup};
use crate::store::{PendingAppend, ResumableUpload, StoreError, UploadStore, UploadTarget};

/// Dropbox keeps an upload session for 7 days; the upload cannot outlive it.
pub const UPLOAD_LIFETIME: time::Duration = time::Duration::days(7);

/// What StartResumableUpload asks for.
#[derive(Debug, Clone, Default)]
pub struct StartRequest {
    pub path: String,
    pub overwrite: OverwritePolicy,
    pub modified: Option<OffsetDateTime>,
    pub autorename: bool,
    pub size: Option<u64>,
    pub content_hash: Option<String>,
    /// The caller starting it (`""` without callers): only it may use the upload.
    pub owner: String,
}

/// What StartResumableUpload gives back.
#[derive(Debug)]
pub enum Started {
    Upload {
        id: String,
        expire_time: OffsetDateTime,
    },
    /// The overwrite policy keeps the existing file: nothing to upload.
    Skipped { reason: String, existing: Metadata },
}

/// One message of WriteResumableUpload (after the upload id was taken from the first).
#[derive(Debug, Clone, Default)]
pub struct WriteMessage {
    pub offset: u64,
    pub data: Bytes,
    pub finish: bool,
    pub content_hash: Option<String>,
}

/// Where an upload stands.
#[derive(Debug)]
pub struct Progress {
    pub path: String,
    pub persisted_size: u64,
    pub expire_time: OffsetDateTime,
    /// Set once finished.
    pub outcome: Option<FileOutcome>,
}

/// The outcome of a finished upload as the store keeps it (JSON).
#[derive(Serialize, Deserialize)]
enum StoredOutcome {
    Uploaded(FileMetadata),
    SkippedFile {
        reason: String,
        existing: FileMetadata,
    },
    SkippedFolder {
        reason: String,
        existing: FolderMetadata,
    },
}

impl StoredOutcome {
    fn of(outcome: &FileOutcome) -> Option<StoredOutcome> {
        match outcome {
            FileOutcome::Uploaded(f) => Some(StoredOutcome::Uploaded(f.clone())),
            FileOutcome::Skipped {
                reason,
                existing: Metadata::File(f),
            } => Some(StoredOutcome::SkippedFile {
                reason: reason.clone(),
                existing: f.clone(),
            }),
            FileOutcome::Skipped {
                reason,
                existing: Metadata::Folder(f),
            } => Some(StoredOutcome::SkippedFolder {
                reason: reason.clone(),
                existing: f.clone(),
            }),
            FileOutcome::Failed(_) => None,
        }
    }

    fn into_outcome(self) -> FileOutcome {
        match self {
            StoredOutcome::Uploaded(f) => FileOutcome::Uploaded(f),
            StoredOutcome::SkippedFile { reason, existing } => FileOutcome::Skipped {
                reason,
                existing: Metadata::File(existing),
            },
            StoredOutcome::SkippedFolder { reason, existing } => FileOutcome::Skipped {
                reason,
                existing: Metadata::Folder(existing),
            },
        }
    }
}

/// The resumable uploads of this server: the store, and which uploads a stream is
/// writing right now (one at a time per upload).
pub struct ResumableUploads {
    store: Arc<dyn UploadStore>,
    writing: Arc<Mutex<HashSet<String>>>,
    /// Shared with UploadFiles: what write streams may buffer in total.
    budget: UploadBudget,
}

/// Held by the one stream writing an upload.
pub struct WriteLease {
    id: String,
    writing: Arc<Mutex<HashSet<String>>>,
}

impl Drop for WriteLease {
    fn drop(&mut self) {
        if let Ok(mut w) = self.writing.lock() {
            w.remove(&self.id);
        }
    }
}

impl ResumableUploads {
    pub fn new(store: Arc<dyn UploadStore>) -> ResumableUploads {
        ResumableUploads {
            store,
            writing: Arc::new(Mutex::new(HashSet::new())),
            budget: UploadBudget::default(),
        }
    }

    /// Bounds what write streams buffer by the server's shared upload budget.
    pub fn with_budget(mut self, budget: UploadBudget) -> ResumableUploads {
        self.budget = budget;
        self
    }

    /// Starts an upload on the connection of `conn`.
    pub async fn start(
        &self,
        conn: &ConnectionClient,
        req: StartRequest,
    ) -> Result<Started, TaskError> {
        conn.named(self.start_on(conn.dropbox(), conn.connection_id(), req))
            .await
    }

    async fn start_on(
        &self,
        client: &DropboxClient,
        connection_id: &str,
        req: StartRequest,
    ) -> Result<Started, TaskError> {
        let path = paths::normalize_non_root(&req.path)
            .map_err(|e| TaskError::invalid_path(&req.path, &e))?;
        if let Some(h) = &req.content_hash {
            check_hash("content_hash", h)?;
        }
        if req.overwrite != OverwritePolicy::Always {
            let facts = SourceFacts {
                size: req.size,
                modified: req.modified,
                content_hash: req.content_hash.as_deref(),
            };
            let existing = lookup(client, &path).await?;
            match req.overwrite.decide(existing.as_ref(), &facts) {
                Decision::Skip { reason, existing } => {
                    return Ok(Started::Skipped {
                        reason,
                        existing: *existing,
                    });
                }
                Decision::Invalid(message) => return Err(TaskError::invalid("overwrite", message)),
                // A folder in the way fails now rather than after the bytes arrived.
                d @ Decision::FolderInTheWay => {
                    commit_info(
                        &spec_of(&req.overwrite, req.autorename, None),
                        &path,
                        &d,
                        None,
                    )?;
                }
                _ => {}
            }
        }
        let session_id = client
            .upload_session_start(Bytes::new(), false)
            .await
            .map_err(|e| TaskError::dropbox(&path, e))?;
        let now = OffsetDateTime::now_utc();
        let id = format!("ru-{}", uuid::Uuid::new_v4().simple());
        let expire_time = now + UPLOAD_LIFETIME;
        self.store
            .insert_upload(ResumableUpload {
                id: id.clone(),
                connection_id: connection_id.to_owned(),
                owner: req.owner,
                target: UploadTarget {
                    path,
                    overwrite: policy_name(&req.overwrite),
                    autorename: req.autorename,
                    modified_micros: req.modified.map(micros),
                    size: req.size,
                    content_hash: req.content_hash.map(|h| h.to_ascii_lowercase()),
                },
                session_id,
                persisted_size: 0,
                block_digests: Vec::new(),
                pending: None,
                result: None,
                create_time: now,
                expire_time,
            })
            .await?;
        tracing::info!(upload_id = %redact(&id), "resumable upload started");
        Ok(Started::Upload { id, expire_time })
    }

    /// The upload with this id, unless it is unknown or expired.
    pub async fn get(&self, id: &str) -> Result<ResumableUpload, TaskError> {
        let not_found = |expired| TaskError::UploadNotFound {
            upload_id: id.to_owned(),
            expired,
        };
        let upload = self
            .store
            .get_upload(id.to_owned())
            .await?
            .ok_or_else(|| not_found(false))?;
        if upload.expire_time < OffsetDateTime::now_utc() {
            self.store.delete_upload(id.to_owned()).await.ok();
            return Err(not_found(true));
        }
        Ok(upload)
    }

    /// Where the upload stands.
    pub async fn query(&self, id: &str) -> Result<Progress, TaskError> {
        let upload = self.get(id).await?;
        progress(&upload)
    }

    /// Abandons the upload (Dropbox drops its session when it expires).
    pub async fn cancel(&self, id: &str) -> Result<(), TaskError> {
        self.get(id).await?;
        match self.store.delete_upload(id.to_owned()).await {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Drops expired uploads; returns how many.
    pub async fn sweep_expired(&self) -> Result<u64, TaskError> {
        Ok(self
            .store
            .delete_expired_uploads(OffsetDateTime::now_utc())
            .await?)
    }

    /// Claims the upload for one writing stream.
    pub fn lease(&self, id: &str) -> Result<WriteLease, TaskError> {
        let mut writing = self
            .writing
            .lock()
            .map_err(|_| TaskError::Internal("upload lease lock poisoned".into()))?;
        if !writing.insert(id.to_owned()) {
            return Err(TaskError::UploadBusy {
                upload_id: id.to_owned(),
            });
        }
        Ok(WriteLease {
            id: id.to_owned(),
            writing: self.writing.clone(),
        })
    }

    /// Writes `first` and the rest of `messages` into `upload`. Ends with the outcome once
    /// a message sets `finish`; otherwise with the persisted size (whole blocks only).
    pub async fn write<S>(
        &self,
        lease: &WriteLease,
        conn: &ConnectionClient,
        upload: ResumableUpload,
        first: WriteMessage,
        messages: S,
    ) -> Result<Progress, TaskError>
    where
        S: Stream<Item = Result<WriteMessage, TaskError>> + Unpin,
    {
        conn.named(self.write_on(lease, conn.dropbox(), upload, first, messages))
            .await
    }

    async fn write_on<S>(
        &self,
        _lease: &WriteLease,
        client: &DropboxClient,
        upload: ResumableUpload,
        first: WriteMessage,
        mut messages: S,
    ) -> Result<Progress, TaskError>
    where
        S: Stream<Item = Result<WriteMessage, TaskError>> + Unpin,
    {
        if upload.result.is_some() {
            // Finished already (a client that lost the answer asks again): report it.
            return progress(&upload);
        }
        let mut w = Writer {
            store: self.store.as_ref(),
            client,
            cursor: upload.persisted_size,
            buffer: BytesMut::new(),
            claim: self.budget.claim(),
            upload,
        };
        let mut next = Some(Ok(first));
        while let Some(message) = next {
            let message = message?;
            w.take(message.offset, message.data).await?;
            if message.finish {
                let outcome = w.finish(message.content_hash).await?;
                let mut p = progress(&w.upload)?;
                p.outcome = Some(outcome);
                return Ok(p);
            }
            // Room for the next message is claimed before it is read, so a stream
            // waiting for room holds no bytes meanwhile.
            w.claim.grow_to(w.buffer.len() + MAX_CHUNK).await?;
            next = messages.next().await;
        }
        // The client ended the stream without finishing: keep whole blocks.
        let whole = w.buffer.len() / BLOCK_SIZE * BLOCK_SIZE;
        if whole > 0 {
            let blocks = w.buffer.split_to(whole).freeze();
            w.append(blocks).await?;
            w.claim.shrink(whole);
        }
        progress(&w.upload)
    }
}

/// One stream's work on an upload.
struct Writer<'a> {
    store: &'a dyn UploadStore,
    client: &'a DropboxClient,
    upload: ResumableUpload,
    /// The file offset the next byte from the client is at.
    cursor: u64,
    /// Bytes after `upload.persisted_size`, not yet sent to Dropbox (< one piece).
    buffer: BytesMut,
    /// What `buffer` holds of the shared upload buffer budget.
    claim: BufferClaim,
}

impl Writer<'_> {
    /// Takes the bytes of one message: what the service already has is skipped, a gap is
    /// refused, and whole pieces go to Dropbox.
    async fn take(&mut self, offset: u64, mut data: Bytes) -> Result<(), TaskError> {
        if data.len() > MAX_CHUNK {
            return Err(TaskError::invalid(
                "data",
                format!(
                    "a message carries at most {MAX_CHUNK} bytes, this one {}; split it",
                    data.len()
                ),
            ));
        }
        if offset > self.cursor {
            return Err(TaskError::ChunkOffsetMismatch {
                path: self.upload.target.path.clone(),
                expected: self.cursor,
                got: offset,
            });
        }
        let known = usize::try_from(self.cursor - offset).unwrap_or(usize::MAX);
        if known >= data.len() {
            return Ok(());
        }
        let fresh = data.split_off(known);
        self.claim.grow_to(self.buffer.len() + fresh.len()).await?;
        self.cursor += fresh.len() as u64;
        self.buffer.extend_from_slice(&fresh);
        while self.buffer.len() >= PIECE {
            let piece = self.buffer.split_to(PIECE).freeze();
            self.append(piece).await?;
            self.claim.shrink(PIECE);
        }
        Ok(())
    }

    /// Appends whole blocks at the persisted size and records them. The append is
    /// recorded as pending first: if this process dies before Dropbox's answer, the next
    /// stream can tell whether the session holds exactly these bytes.
    async fn append(&mut self, blocks: Bytes) -> Result<(), TaskError> {
        let offset = self.upload.persisted_size;
        let len = blocks.len() as u64;
        let digests = block_digests(&blocks);
        let earlier = self.upload.pending.take();
        self.store
            .set_pending_append(
                self.upload.id.clone(),
                PendingAppend {
                    offset,
                    digests: digests.clone(),
                },
            )
            .await?;
        let path = self.upload.target.path.clone();
        match self
            .client
            .upload_session_append(&self.upload.session_id, offset, blocks, false)
            .await
        {
            Ok(()) => {}
            Err(dropbox_client::Error::IncorrectOffset { correct_offset, .. })
                if correct_offset == offset + len
                    && earlier
                        .as_ref()
                        .is_some_and(|p| p.offset == offset && p.digests == digests) =>
            {
                tracing::info!(offset, len, "append was applied before the stream was lost");
            }
            Err(dropbox_client::Error::IncorrectOffset { correct_offset, .. }) => {
                return Err(TaskError::UploadSessionLost(format!(
                    "Dropbox's upload session holds {correct_offset} bytes where the service recorded {offset}"
                )));
            }
            Err(dropbox_client::Error::UploadSession { summary, .. }) => {
                return Err(TaskError::UploadSessionLost(format!(
                    "Dropbox refused the upload session ({summary})"
                )));
            }
            Err(e) => return Err(TaskError::dropbox(path, e)),
        }
        self.upload.persisted_size += len;
        let first_block = self.upload.block_digests.len() as u64;
        self.upload.block_digests.extend_from_slice(&digests);
        self.store
            .record_appended(
                self.upload.id.clone(),
                self.upload.persisted_size,
                first_block,
                digests,
            )
            .await?;
        Ok(())
    }

    /// Checks size and content_hash, decides by the overwrite policy, and commits.
    async fn finish(&mut self, client_hash: Option<String>) -> Result<FileOutcome, TaskError> {
        let target = self.upload.target.clone();
        let tail = std::mem::take(&mut self.buffer).freeze();
        let total = self.upload.persisted_size + tail.len() as u64;
        if let Some(size) = target.size
            && size != total
        {
            return Err(TaskError::invalid(
                "finish_write",
                format!(
                    "the upload was started with size {size} but {total} bytes arrived; nothing was committed: send the missing bytes from offset {} (QueryUpload) and finish again",
                    self.upload.persisted_size
                ),
            ));
        }
        let mut digests = self.upload.block_digests.clone();
        digests.extend(block_digests(&tail));
        let actual = combine_block_digests(&digests);
        if let Some(h) = &client_hash {
            check_hash("content_hash", h)?;
        }
        if let Some(expected) = client_hash.or(target.content_hash.clone())
            && !expected.eq_ignore_ascii_case(&actual)
        {
            // The bytes in Dropbox's session are not the file: this upload cannot succeed.
            self.store.delete_upload(self.upload.id.clone()).await.ok();
            return Err(TaskError::ContentHashMismatch {
                path: target.path.clone(),
                expected,
                actual,
            });
        }
        let policy = policy_from_name(&target.overwrite)?;
        let modified = target.modified_micros.and_then(from_micros);
        let decision = if policy == OverwritePolicy::Always {
            Decision::Replace { rev: String::new() }
        } else {
            let facts = SourceFacts {
                size: Some(total),
                modified,
                content_hash: Some(&actual),
            };
            match policy.decide(lookup(self.client, &target.path).await?.as_ref(), &facts) {
                Decision::Skip { reason, existing } => {
                    let outcome = FileOutcome::Skipped {
                        reason,
                        existing: *existing,
                    };
                    self.record(&outcome).await?;
                    return Ok(outcome);
                }
                Decision::Invalid(message) => return Err(TaskError::invalid("overwrite", message)),
                other => other,
            }
        };
        let spec = spec_of(&policy, target.autorename, modified);
        let commit = commit_info(&spec, &target.path, &decision, modified)?;
        let stored = self
            .client
            .upload_session_finish_verified(
                &self.upload.session_id,
                self.upload.persisted_size,
                &commit,
                tail,
                &actual,
            )
            .await
            .map_err(|e| TaskError::dropbox(&target.path, e))?;
        if stored
            .content_hash
            .as_deref()
            .is_some_and(|h| !h.eq_ignore_ascii_case(&actual))
        {
            tracing::error!(path = %target.path, "Dropbox stored a different content_hash than was sent");
            return Err(TaskError::ContentHashMismatch {
                path: target.path,
                expected: actual,
                actual: stored.content_hash.unwrap_or_default(),
            });
        }
        self.upload.persisted_size = total;
        let outcome = FileOutcome::Uploaded(stored);
        self.record(&outcome).await?;
        tracing::info!(path = %target.path, size = total, "resumable upload committed");
        Ok(outcome)
    }

    async fn record(&mut self, outcome: &FileOutcome) -> Result<(), TaskError> {
        if let Some(stored) = StoredOutcome::of(outcome) {
            let json = serde_json::to_string(&stored)
                .map_err(|e| TaskError::Internal(format!("encoding an upload outcome: {e}")))?;
            self.upload.result = Some(json.clone());
            self.store
                .record_result(self.upload.id.clone(), json)
                .await?;
        }
        Ok(())
    }
}

fn progress(upload: &ResumableUpload) -> Result<Progress, TaskError> {
    let outcome = upload
        .result
        .as_deref()
        .map(|json| {
            serde_json::from_str::<StoredOutcome>(json)
                .map(StoredOutcome::into_outcome)
                .map_err(|e| TaskError::Internal(format!("stored upload outcome: {e}")))
        })
        .transpose()?;
    Ok(Progress {
        path: upload.target.path.clone(),
        persisted_size: upload.persisted_size,
        expire_time: upload.expire_time,
        outcome,
    })
}

fn spec_of(
    policy: &OverwritePolicy,
    autorename: bool,
    modified: Option<OffsetDateTime>,
) -> UploadSpec {
    UploadSpec {
        destination_folder: String::new(),
        overwrite: *policy,
        keep_modified_date: modified.is_some(),
        autorename,
    }
}

fn check_hash(field: &str, hash: &str) -> Result<(), TaskError> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(TaskError::invalid(
            field,
            "a Dropbox content_hash is 64 hex characters (SHA-256 over the SHA-256s of 4 MiB blocks)",
        ))
    }
}

/// The first characters of an upload id, for logs: the id itself lets anyone write.
pub fn redact(id: &str) -> String {
    format!("{}…", id.get(..8).unwrap_or(id))
}

fn policy_name(policy: &OverwritePolicy) -> String {
    match policy {
        OverwritePolicy::Always => "always".into(),
        OverwritePolicy::IfNewer => "if_newer".into(),
        OverwritePolicy::Never => "never".into(),
        OverwritePolicy::IfSize(c) => format!(
            "if_size:{}",
            match c {
                SizeComparison::Same => "same",
                SizeComparison::Smaller => "smaller",
                SizeComparison::Larger => "larger",
                SizeComparison::SmallerOrLarger => "smaller_or_larger",
                SizeComparison::Different => "different",
            }
        ),
    }
}

fn policy_from_name(name: &str) -> Result<OverwritePolicy, TaskError> {
    Ok(match name {
        "always" | "" => OverwritePolicy::Always,
        "if_newer" => OverwritePolicy::IfNewer,
        "never" => OverwritePolicy::Never,
        "if_size:same" => OverwritePolicy::IfSize(SizeComparison::Same),
        "if_size:smaller" => OverwritePolicy::IfSize(SizeComparison::Smaller),
        "if_size:larger" => OverwritePolicy::IfSize(SizeComparison::Larger),
        "if_size:smaller_or_larger" => OverwritePolicy::IfSize(SizeComparison::SmallerOrLarger),
        "if_size:different" => OverwritePolicy::IfSize(SizeComparison::Different),
        other => {
            return Err(TaskError::Internal(format!(
                "stored overwrite policy {other:?} is unknown"
            )));
        }
    })
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn from_micros(v: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip_through_their_stored_names() {
        let all = [
            OverwritePolicy::Always,
            OverwritePolicy::IfNewer,
            OverwritePolicy::Never,
            OverwritePolicy::IfSize(SizeComparison::Same),
            OverwritePolicy::IfSize(SizeComparison::Smaller),
            OverwritePolicy::IfSize(SizeComparison::Larger),
            OverwritePolicy::IfSize(SizeComparison::SmallerOrLarger),
            OverwritePolicy::IfSize(SizeComparison::Different),
        ];
        for p in all {
            assert_eq!(policy_from_name(&policy_name(&p)).unwrap(), p);
        }
        assert!(policy_from_name("sometimes").is_err());
    }

    #[test]
    fn ids_are_redacted_in_logs() {
        assert_eq!(redact("ru-0123456789abcdef"), "ru-01234…");
    }
}
