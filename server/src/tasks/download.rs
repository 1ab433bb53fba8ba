//! "Cloud - Download file(s)": per file a header, chunks of at most 1 MiB, and an end with
//! Dropbox's content_hash once the bytes sent were checked against it. Memory stays
//! bounded by the channel: when the caller stops reading, the Dropbox read stops too.

use bytes::{Bytes, BytesMut};
use dropbox_client::content_hash::ContentHasher;
use dropbox_client::{ByteRange, DropboxClient, FileMetadata};
use futures::StreamExt;

use super::filter::{Lister, RemoteItem};
use super::{Events, Selection, TaskError, emit};

/// Largest DataChunk sent.
pub const MAX_CHUNK: usize = 1024 * 1024;

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
    client: &DropboxClient,
    selection: &Selection,
    range: Option<Range>,
    tx: &Events<DownloadEvent>,
) -> Result<(), TaskError> {
    let targets: Vec<Target> = match selection {
        Selection::Filter(filter) => {
            let items = Lister::new(client, filter).collect().await?;
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
                    error,
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
    while let Some(piece) = download.body.next().await {
        let piece = piece.map_err(|e| TaskError::dropbox(&target.shown, e))?;
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
            source: dropbox_client::Error::Transport(format!(
                "Dropbox sent {sent} of {length} bytes"
            )),
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
