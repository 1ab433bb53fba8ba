//! `dbxc upload` for big files: each goes through a resumable upload, whose id is kept in
//! a small state file. When the upload is interrupted (Ctrl-C, a lost network, the server
//! restarting), running the same command again asks the server how much it has and sends
//! only the rest.
//!
//! The state file is named after the connection, the destination and the file's
//! content_hash, so a changed file starts afresh instead of mixing old and new bytes.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dropbox_connector_proto::v1::file_result::Outcome;
use dropbox_connector_proto::v1::{
    ErrorReason, FileResult, ItemError, OverwritePolicy, QueryUploadRequest,
    StartResumableUploadRequest, WriteResumableUploadRequest,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncSeekExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic_types::StatusExt;

use crate::Ctx;
use crate::local_paths::LocalFile;
use crate::output::system_time_to_timestamp;
use crate::progress::Progress;
use crate::reason::{LocalReason, status_reason};
use crate::upload::{CHUNK_SIZE, fill};

/// Where the upload goes and how it is committed.
pub struct Target {
    pub connection: String,
    /// The Dropbox path of the file.
    pub path: String,
    pub overwrite: OverwritePolicy,
    pub keep_dates: bool,
    pub autorename: bool,
}

/// What the state file remembers.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Saved {
    upload_id: String,
    path: String,
    size: u64,
    content_hash: String,
}

/// `DBXC_STATE_DIR`, else `$XDG_STATE_HOME/dbxc`, else `~/.local/state/dbxc`.
fn state_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("DBXC_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return Some(PathBuf::from(dir).join("dbxc"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".local/state/dbxc"))
}

fn state_file(dir: &Path, connection: &str, path: &str, content_hash: &str) -> PathBuf {
    let key = Sha256::digest(format!("{connection}\n{path}\n{content_hash}").as_bytes());
    dir.join("uploads")
        .join(format!("{}.json", hex::encode(key)))
}

fn load(file: &Path) -> Option<Saved> {
    serde_json::from_slice(&std::fs::read(file).ok()?).ok()
}

/// Writes the state readable by the user only: the upload id lets anyone write the upload.
fn save(file: &Path, saved: &Saved) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(file)?;
    out.write_all(&serde_json::to_vec(saved).map_err(std::io::Error::other)?)?;
    out.sync_all()
}

fn forget(file: Option<&PathBuf>) {
    if let Some(f) = file {
        let _ = std::fs::remove_file(f);
    }
}

/// A status as a per-file error, so it is reported like the server's per-file failures.
fn error_result(relative_path: &str, status: &tonic::Status, hint: &str) -> FileResult {
    let info = status.get_details_error_info();
    FileResult {
        relative_path: relative_path.to_owned(),
        outcome: Some(Outcome::Error(ItemError {
            code: status.code() as i32,
            reason: info.as_ref().map(|i| i.reason.clone()).unwrap_or_default(),
            message: format!("{}{hint}", status.message()),
            metadata: info.map(|i| i.metadata).unwrap_or_default(),
        })),
    }
}

fn local_failure(relative_path: &str, message: String) -> FileResult {
    FileResult {
        relative_path: relative_path.to_owned(),
        outcome: Some(Outcome::Error(ItemError {
            code: tonic::Code::Unavailable as i32,
            reason: LocalReason::LocalIo.as_str().into(),
            message,
            metadata: Default::default(),
        })),
    }
}

/// Errors after which this upload cannot go on: start afresh next time.
fn is_final(status: &tonic::Status) -> bool {
    matches!(
        status_reason(status),
        Some(
            ErrorReason::ContentHashMismatch
                | ErrorReason::UploadNotFound
                | ErrorReason::UploadSessionLost
        )
    )
}

/// Uploads `file` (whose content_hash and size were read just before) to `target`,
/// resuming an earlier interrupted upload of the same bytes to the same place.
pub async fn upload(
    ctx: &Ctx,
    target: &Target,
    file: &LocalFile,
    content_hash: &str,
    size: u64,
    progress: &Progress,
) -> FileResult {
    let rel = file.relative_path.as_str();
    let state = state_dir().map(|d| state_file(&d, &target.connection, &target.path, content_hash));
    let mut tasks = ctx.tasks();

    let mut resume = None;
    if let Some(saved) = state.as_deref().and_then(load) {
        let query = QueryUploadRequest {
            upload_id: saved.upload_id.clone(),
        };
        match tasks.query_upload(query).await {
            Ok(status) => {
                let status = status.into_inner();
                if let Some(result) = status.result {
                    forget(state.as_ref());
                    return result;
                }
                if !ctx.json && !ctx.quiet {
                    progress.eprintln(&format!(
                        "resuming {rel} at {} bytes of {size}",
                        status.persisted_size
                    ));
                }
                resume = Some((saved.upload_id, status.persisted_size));
            }
            Err(s) if s.code() == tonic::Code::NotFound => forget(state.as_ref()),
            Err(s) => return error_result(rel, &s, ""),
        }
    }
    let (upload_id, offset) = match resume {
        Some(r) => r,
        None => {
            let start = StartResumableUploadRequest {
                connection: target.connection.clone(),
                path: target.path.clone(),
                overwrite: Some(target.overwrite),
                modified_time: if target.keep_dates {
                    file.modified.map(system_time_to_timestamp)
                } else {
                    None
                },
                autorename: target.autorename,
                size: Some(size),
                content_hash: content_hash.to_owned(),
            };
            let started = match tasks.start_resumable_upload(start).await {
                Ok(r) => r.into_inner(),
                Err(s) => return error_result(rel, &s, ""),
            };
            if let Some(skipped) = started.skipped {
                return FileResult {
                    relative_path: rel.to_owned(),
                    outcome: Some(Outcome::Skipped(skipped)),
                };
            }
            if let Some(f) = &state {
                let saved = Saved {
                    upload_id: started.upload_id.clone(),
                    path: target.path.clone(),
                    size,
                    content_hash: content_hash.to_owned(),
                };
                if let Err(e) = save(f, &saved) {
                    progress.eprintln(&format!(
                        "warning: cannot keep the upload state in {} ({e}); an interrupted upload of {rel} will start over",
                        f.display()
                    ));
                }
            }
            (started.upload_id, 0)
        }
    };
    progress.inc(offset.min(size));
    let mut offset = offset;
    let mut busy_until = None;
    loop {
        let (tx, rx) = mpsc::channel(4);
        let reader = tokio::spawn(send_from(
            tx,
            file.path.clone(),
            upload_id.clone(),
            offset,
            content_hash.to_owned(),
            progress.clone(),
        ));
        let answer = tasks.write_resumable_upload(ReceiverStream::new(rx)).await;
        let read = reader.await;
        return match answer {
            Ok(r) => match r.into_inner().result {
                Some(result) => {
                    forget(state.as_ref());
                    result
                }
                None => {
                    let why = match read {
                        Ok((_, Some(e))) => e,
                        _ => "the stream ended before the file did".into(),
                    };
                    local_failure(
                        rel,
                        format!(
                            "{why}; what was sent is kept: run the same command again to resume"
                        ),
                    )
                }
            },
            // The stream of an interrupted run has not let go of the upload yet: it will
            // within moments (its client is gone). Ask again where to go on.
            Err(s) if is_busy(&s) && busy_until.is_none_or(|t| Instant::now() < t) => {
                busy_until.get_or_insert_with(|| Instant::now() + BUSY_WAIT);
                tokio::time::sleep(Duration::from_millis(500)).await;
                let query = QueryUploadRequest {
                    upload_id: upload_id.clone(),
                };
                match tasks.query_upload(query).await {
                    Ok(q) => {
                        let persisted = q.into_inner().persisted_size;
                        // The bar counted what this attempt sent; count from the new start.
                        progress.dec(read.map(|(sent, _)| sent).unwrap_or(0));
                        progress.inc(persisted.saturating_sub(offset));
                        offset = persisted;
                        continue;
                    }
                    Err(s) => error_result(rel, &s, ""),
                }
            }
            Err(s) if is_final(&s) => {
                forget(state.as_ref());
                error_result(rel, &s, "")
            }
            Err(s) => error_result(
                rel,
                &s,
                "; what was sent is kept: run the same command again to resume",
            ),
        };
    }
}

/// How long an upload held by a lost stream is waited for.
const BUSY_WAIT: Duration = Duration::from_secs(30);

fn is_busy(status: &tonic::Status) -> bool {
    status_reason(status) == Some(ErrorReason::UploadBusy)
}

/// Reads the file from `offset` into the stream; the last message finishes the upload.
/// A read error ends the stream without finishing (the server keeps what it has).
/// Returns the bytes sent, and the read error if there was one.
async fn send_from(
    tx: mpsc::Sender<WriteResumableUploadRequest>,
    path: PathBuf,
    upload_id: String,
    start: u64,
    content_hash: String,
    progress: Progress,
) -> (u64, Option<String>) {
    let mut offset = start;
    let mut source = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => return (0, Some(format!("cannot open {}: {e}", path.display()))),
    };
    if let Err(e) = source.seek(SeekFrom::Start(offset)).await {
        return (0, Some(format!("cannot seek in {}: {e}", path.display())));
    }
    let mut first = true;
    let mut id = || {
        if std::mem::take(&mut first) {
            upload_id.clone()
        } else {
            String::new()
        }
    };
    loop {
        let mut buffer = vec![0u8; CHUNK_SIZE];
        let n = match fill(&mut source, &mut buffer).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let message = format!("reading {} failed at byte {offset}: {e}", path.display());
                return (offset - start, Some(message));
            }
        };
        buffer.truncate(n);
        let message = WriteResumableUploadRequest {
            upload_id: id(),
            write_offset: offset,
            data: buffer,
            ..Default::default()
        };
        if tx.send(message).await.is_err() {
            return (offset - start, None);
        }
        offset += n as u64;
        progress.inc(n as u64);
    }
    let finish = WriteResumableUploadRequest {
        upload_id: id(),
        write_offset: offset,
        finish_write: true,
        content_hash,
        ..Default::default()
    };
    let _ = tx.send(finish).await;
    (offset - start, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_files_are_keyed_by_connection_destination_and_content() {
        let dir = Path::new("/state");
        let a = state_file(dir, "c", "/x/a.bin", "h1");
        assert_eq!(a, state_file(dir, "c", "/x/a.bin", "h1"));
        assert_ne!(a, state_file(dir, "c", "/x/a.bin", "h2"), "changed file");
        assert_ne!(
            a,
            state_file(dir, "c", "/x/b.bin", "h1"),
            "other destination"
        );
        assert_ne!(
            a,
            state_file(dir, "d", "/x/a.bin", "h1"),
            "other connection"
        );
        assert!(a.starts_with("/state/uploads"));
    }

    #[test]
    fn state_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = state_file(dir.path(), "c", "/a", "h");
        let saved = Saved {
            upload_id: "ru-1".into(),
            path: "/a".into(),
            size: 3,
            content_hash: "h".into(),
        };
        save(&file, &saved).unwrap();
        assert_eq!(load(&file), Some(saved));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        forget(Some(&file));
        assert_eq!(load(&file), None);
    }
}
