//! "Cloud - Download file(s)": per file a header, chunks of at most 1 MiB, and an end with
//! Dropbox's content_hash once the bytes sent were checked against it. Memory stays
//! bounded by the channel: when the caller stops reading, the Dropbox read stops too.
//! When Dropbox's body breaks off mid-file (reset, stall, 5xx), the rest is fetched with a
//! Range pinned to the same revision, unseen by the caller, within the client's budget.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use dropbox_client::content_hash::ContentHasher;
use dropbox_client::{ByteRange, DropboxClient, FileMetadata};
use futures::StreamExt;

use super::connection_client::ConnectionClient;
use super::filter::{Lister, ListingLimits, RemoteItem};
use super::overwrite::{LocalFacts, OverwritePolicy};
use super::{Events, Selection, TaskError, emit};

/// Largest DataChunk sent (the server's choice, within what the contract promises).
pub const MAX_CHUNK: usize = 1024 * 1024;
const _: () = assert!(MAX_CHUNK <= dropbox_connector_proto::MAX_CHUNK_BYTES);

/// A part of a single file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub offset: u64,
    /// 0: to the end.
    pub length: u64,
}

/// VisualCron's Download options that the caller sets for the whole call.
#[derive(Debug, Clone, Default)]
pub struct DownloadOptions {
    pub overwrite: OverwritePolicy,
    /// What the caller holds, by relative path.
    pub local_files: HashMap<String, LocalFacts>,
    /// Report each file's client_modified for the caller to set on its copy.
    pub keep_modified_date: bool,
}

impl DownloadOptions {
    /// Whether any file could be skipped: only then is the remote file looked at first.
    fn may_skip(&self) -> bool {
        self.overwrite != OverwritePolicy::Always && !self.local_files.is_empty()
    }

    /// `Some(reason)` when the policy keeps the caller's file at `relative_path`.
    fn skip_reason(&self, relative_path: &str, remote: &FileMetadata) -> Option<String> {
        if !self.may_skip() {
            return None;
        }
        self.overwrite
            .keeps_local(self.local_files.get(relative_path), remote)
    }
}

#[derive(Debug)]
pub enum DownloadEvent {
    Header {
        metadata: FileMetadata,
        relative_path: String,
        offset: u64,
        length: u64,
        /// With keep_modified_date: the time to set on the caller's copy.
        modified_time: Option<time::OffsetDateTime>,
    },
    Chunk {
        offset: u64,
        data: Bytes,
    },
    End {
        content_hash: String,
        bytes_sent: u64,
    },
    Failed {
        path: String,
        error: TaskError,
    },
    /// The overwrite policy keeps the caller's file; nothing is sent for it.
    Skipped {
        path: String,
        relative_path: String,
        reason: String,
        metadata: FileMetadata,
    },
}

/// One file to fetch: what to ask Dropbox for, and how to name it to the caller.
struct Target {
    /// `/path`, `id:...` or `rev:...`.
    arg: String,
    /// What the caller named (for errors).
    shown: String,
    relative_path: Option<String>,
    /// What a listing already reported about it (filter downloads).
    listed: Option<FileMetadata>,
}

pub async fn download_files(
    conn: &ConnectionClient,
    selection: &Selection,
    range: Option<Range>,
    options: &DownloadOptions,
    limits: ListingLimits,
    tx: &Events<DownloadEvent>,
) -> Result<(), TaskError> {
    conn.named(download_all(conn, selection, range, options, limits, tx))
        .await
}

async fn download_all(
    conn: &ConnectionClient,
    selection: &Selection,
    range: Option<Range>,
    options: &DownloadOptions,
    limits: ListingLimits,
    tx: &Events<DownloadEvent>,
) -> Result<(), TaskError> {
    let client = conn.dropbox();
    let targets: Vec<Target> = match selection {
        Selection::Filter(filter) => {
            let items = Lister::new(client, filter, limits).collect(tx).await?;
            let files: Vec<RemoteItem> = items
                .into_iter()
                .filter(|i| !i.metadata.is_folder())
                .collect();
            if files.is_empty() && filter.fail_if_empty {
                return Err(super::list::no_items(filter));
            }
            files
                .into_iter()
                .map(|i| {
                    let path = i
                        .metadata
                        .path_display()
                        .unwrap_or(i.metadata.name())
                        .to_owned();
                    Target {
                        // The lower-case path is what Dropbox resolves fastest and never
                        // depends on display case.
                        arg: i
                            .metadata
                            .path_lower()
                            .map(str::to_owned)
                            .unwrap_or_else(|| path.clone()),
                        shown: path,
                        relative_path: Some(i.relative_path),
                        listed: i.metadata.as_file().cloned(),
                    }
                })
                .collect()
        }
        Selection::Items(refs) => refs
            .iter()
            .map(|r| Target {
                arg: match &r.rev {
                    Some(rev) => format!("rev:{rev}"),
                    None => r.path.clone(),
                },
                shown: r.path.clone(),
                relative_path: r.relative_path.clone(),
                listed: None,
            })
            .collect(),
    };
    if range.is_some() && targets.len() != 1 {
        return Err(TaskError::invalid(
            "range",
            format!(
                "a byte range needs exactly one file, but the selection has {}",
                targets.len()
            ),
        ));
    }
    for target in &targets {
        if tx.is_closed() {
            return Err(TaskError::Cancelled);
        }
        if let Err(error) = download_or_skip(client, target, range, options, tx).await {
            if matches!(error, TaskError::Cancelled) {
                return Err(error);
            }
            emit(
                tx,
                DownloadEvent::Failed {
                    path: target.shown.clone(),
                    error: conn.check(error),
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Applies the overwrite policy to one file, then streams it or reports it skipped. The
/// remote file is looked at first only when the policy could skip it; a file named
/// directly is then downloaded at exactly the revision the policy was decided on.
async fn download_or_skip(
    client: &DropboxClient,
    target: &Target,
    range: Option<Range>,
    options: &DownloadOptions,
    tx: &Events<DownloadEvent>,
) -> Result<(), TaskError> {
    if !options.may_skip() {
        return download_one(client, target, range, options, tx).await;
    }
    let (remote, pinned) = match &target.listed {
        Some(listed) => (listed.clone(), None),
        None => {
            let metadata = client
                .get_metadata(&target.arg)
                .await
                .map_err(|e| TaskError::dropbox(&target.shown, e))?;
            let Some(file) = metadata.as_file().cloned() else {
                return Err(TaskError::WrongKind {
                    path: target.shown.clone(),
                    wanted: "file",
                    actual: "folder",
                });
            };
            let pinned = Target {
                arg: format!("rev:{}", file.rev),
                shown: target.shown.clone(),
                relative_path: target.relative_path.clone(),
                listed: None,
            };
            (file, Some(pinned))
        }
    };
    let relative_path = target
        .relative_path
        .clone()
        .unwrap_or_else(|| remote.name.clone());
    if let Some(reason) = options.skip_reason(&relative_path, &remote) {
        return emit(
            tx,
            DownloadEvent::Skipped {
                path: target.shown.clone(),
                relative_path,
                reason,
                metadata: remote,
            },
        )
        .await;
    }
    download_one(
        client,
        pinned.as_ref().unwrap_or(target),
        range,
        options,
        tx,
    )
    .await
}

/// Streams one file. A Dropbox failure is returned (and reported for this file);
/// `Cancelled` means the caller is gone.
async fn download_one(
    client: &DropboxClient,
    target: &Target,
    range: Option<Range>,
    options: &DownloadOptions,
    tx: &Events<DownloadEvent>,
) -> Result<(), TaskError> {
    let byte_range = range
        .filter(|r| r.offset > 0 || r.length > 0)
        .map(|r| ByteRange {
            start: r.offset,
            end: (r.length > 0).then(|| r.offset + r.length - 1),
        });
    let mut download = client
        .download(&target.arg, byte_range)
        .await
        .map_err(|e| TaskError::dropbox(&target.shown, e))?;
    let start = download.start_offset();
    let total = download.total_len();
    let length = download
        .content_length
        .unwrap_or_else(|| total.saturating_sub(start));
    let whole_file = start == 0 && length == total;
    let metadata = download.metadata.clone();
    let relative_path = target
        .relative_path
        .clone()
        .unwrap_or_else(|| metadata.name.clone());
    emit(
        tx,
        DownloadEvent::Header {
            modified_time: options
                .keep_modified_date
                .then_some(metadata.client_modified),
            metadata: metadata.clone(),
            relative_path,
            offset: start,
            length,
        },
    )
    .await?;

    let mut hasher = ContentHasher::new();
    let mut pending = BytesMut::new();
    let mut sent = 0u64;
    let mut resume = Resume::new(client, &metadata, start, length);
    loop {
        let piece = match download.body.next().await {
            None => break,
            Some(Ok(piece)) => piece,
            Some(Err(e)) => {
                let received = sent + pending.len() as u64;
                download = resume
                    .reopen(e, received)
                    .await
                    .map_err(|e| TaskError::dropbox(&target.shown, e))?;
                continue;
            }
        };
        resume.progressed();
        hasher.update(&piece);
        pending.extend_from_slice(&piece);
        while pending.len() >= MAX_CHUNK {
            let data = pending.split_to(MAX_CHUNK).freeze();
            let n = data.len() as u64;
            emit(
                tx,
                DownloadEvent::Chunk {
                    offset: start + sent,
                    data,
                },
            )
            .await?;
            sent += n;
        }
    }
    if !pending.is_empty() {
        let n = pending.len() as u64;
        emit(
            tx,
            DownloadEvent::Chunk {
                offset: start + sent,
                data: pending.freeze(),
            },
        )
        .await?;
        sent += n;
    }
    if sent != length {
        return Err(TaskError::Dropbox {
            path: Some(target.shown.clone()),
            source: dropbox_client::Error::Transport {
                kind: dropbox_client::TransportKind::Reset,
                detail: format!("Dropbox sent {sent} of {length} bytes"),
            },
        });
    }
    let expected = metadata.content_hash.clone().unwrap_or_default();
    if whole_file && !expected.is_empty() {
        let actual = hasher.finish();
        if !actual.eq_ignore_ascii_case(&expected) {
            return Err(TaskError::ContentHashMismatch {
                path: target.shown.clone(),
                expected,
                actual,
            });
        }
    }
    emit(
        tx,
        DownloadEvent::End {
            content_hash: expected,
            bytes_sent: sent,
        },
    )
    .await
}

/// Re-opens a broken download from where it stopped: same revision, a Range from the
/// first byte not yet received. Consecutive failures without a byte in between are
/// bounded by the retry policy's attempts; the client's deadline bounds the time.
struct Resume<'a> {
    client: &'a DropboxClient,
    /// `rev:...`: a file replaced meanwhile must not be spliced into the old one.
    pinned: String,
    rev: String,
    /// Offset in the file of the first byte of the original response.
    start: u64,
    /// Bytes the original response was to deliver.
    length: u64,
    failures: u32,
}

impl<'a> Resume<'a> {
    fn new(client: &'a DropboxClient, metadata: &FileMetadata, start: u64, length: u64) -> Self {
        Resume {
            client,
            pinned: format!("rev:{}", metadata.rev),
            rev: metadata.rev.clone(),
            start,
            length,
            failures: 0,
        }
    }

    fn progressed(&mut self) {
        self.failures = 0;
    }

    /// A new response for the bytes after `received`, or the error that ends this file.
    async fn reopen(
        &mut self,
        error: dropbox_client::Error,
        received: u64,
    ) -> Result<dropbox_client::Download, dropbox_client::Error> {
        let mut error = error;
        loop {
            let resumable = matches!(
                error,
                dropbox_client::Error::Transport { .. }
                    | dropbox_client::Error::Timeout
                    | dropbox_client::Error::Server { .. }
            );
            self.failures += 1;
            let policy = self.client.retry_policy();
            let delay = policy.backoff(self.failures);
            let past_deadline = self
                .client
                .deadline()
                .is_some_and(|d| tokio::time::Instant::now() + delay > d);
            if !resumable
                || received >= self.length
                || self.failures >= policy.max_attempts
                || past_deadline
            {
                return Err(error);
            }
            tracing::warn!(received, error = %error, "download broke off; resuming with a range");
            tokio::time::sleep(delay).await;
            let from = self.start + received;
            let range = ByteRange {
                start: from,
                end: Some(self.start + self.length - 1),
            };
            match self.client.download(&self.pinned, Some(range)).await {
                Ok(d) if d.metadata.rev == self.rev && d.start_offset() == from => return Ok(d),
                Ok(d) => {
                    return Err(dropbox_client::Error::Decode(format!(
                        "resumed download answered rev {} from {} instead of rev {} from {from}",
                        d.metadata.rev,
                        d.start_offset(),
                        self.rev
                    )));
                }
                Err(e) => error = e,
            }
        }
    }
}
