//! "Cloud - Download file(s)": per file a header, chunks of at most 1 MiB, and an end with
//! Dropbox's content_hash once the bytes sent were checked against it. Memory stays
//! bounded by the channel: when the caller stops reading, the Dropbox read stops too.
//! When Dropbox's body breaks off mid-file (reset, stall, 5xx), the rest is fetched with a
//! Range pinned to the same revision, unseen by the caller, within the client's budget.

use bytes::{Bytes, BytesMut};
use dropbox_client::content_hash::ContentHasher;
use dropbox_client::{ByteRange, DropboxClient, FileMetadata};
use futures::StreamExt;

use super::connection_client::ConnectionClient;
use super::filter::{Lister, ListingLimits, RemoteItem};
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

#[derive(Debug)]
pub enum DownloadEvent {
    Header {
        metadata: FileMetadata,
        relative_path: String,
        offset: u64,
        length: u64,
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
}

/// One file to fetch: what to ask Dropbox for, and how to name it to the caller.
struct Target {
    /// `/path`, `id:...` or `rev:...`.
    arg: String,
    /// What the caller named (for errors).
    shown: String,
    relative_path: Option<String>,
}

pub async fn download_files(
    conn: &ConnectionClient,
    selection: &Selection,
    range: Option<Range>,
    limits: ListingLimits,
    tx: &Events<DownloadEvent>,
) -> Result<(), TaskError> {
    conn.named(download_all(conn, selection, range, limits, tx))
        .await
}

async fn download_all(
    conn: &ConnectionClient,
    selection: &Selection,
    range: Option<Range>,
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
                relative_path: None,
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
        if let Err(error) = download_one(client, target, range, tx).await {
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

/// Streams one file. A Dropbox failure is returned (and reported for this file);
/// `Cancelled` means the caller is gone.
async fn download_one(
    client: &DropboxClient,
    target: &Target,
    range: Option<Range>,
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
