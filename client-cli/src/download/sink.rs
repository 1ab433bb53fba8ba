//! Where a download's bytes go: its partial file (see [`crate::partial`]), hashed as it is
//! written, verified against Dropbox's content_hash, and renamed over the destination only
//! then.

use std::path::Path;

use tokio::io::AsyncWriteExt;

use super::Planned;
use crate::local_paths::create_dirs_inside;
use crate::output::from_timestamp;
use crate::partial::{self, Partial};
use crate::reason::LocalReason;
use dropbox_connector_proto::v1::ErrorReason;

/// The file being written.
pub(super) struct Writing {
    pub(super) index: usize,
    pub(super) partial: Partial,
    /// The next byte of the file expected (bytes before it are in the partial).
    pub(super) next_offset: u64,
    /// The server's DownloadHeader.modified_time (with keep_modified_date).
    pub(super) modified_time: Option<prost_types::Timestamp>,
}

impl Writing {
    /// Appends the next bytes and hashes them.
    pub(super) async fn write(&mut self, data: &[u8]) -> Result<(), String> {
        self.partial
            .file
            .write_all(data)
            .await
            .map_err(|e| format!("writing {} failed: {e}", self.partial.path.display()))?;
        self.partial.hasher.update(data);
        self.next_offset += data.len() as u64;
        Ok(())
    }

    /// What a user needs to know about the bytes left behind when this file failed.
    pub(super) fn kept_note(&self) -> String {
        if self.partial.is_resumable() && self.next_offset > 0 {
            format!(
                "; {} bytes are kept in {}: run the command again to resume",
                self.next_offset,
                self.partial.path.display()
            )
        } else {
            String::new()
        }
    }
}

/// Creates the directories of one download and opens its partial (locked; with `resume`,
/// hashing the bytes already there). Partials of other revs are removed as stale.
pub(super) async fn open_partial(
    base: &Path,
    planned: &Planned,
    resume: bool,
) -> Result<Partial, String> {
    let parent = planned.local.parent().unwrap_or(base);
    let (inside, dir) = (base.to_path_buf(), parent.to_path_buf());
    tokio::task::spawn_blocking(move || create_dirs_inside(&inside, &dir))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let dest = planned.local.clone();
    let rev = planned.item.rev.clone();
    tokio::task::spawn_blocking(move || {
        // A stale partial that cannot be removed is only clutter: not worth failing for.
        let _ = partial::remove_stale(&dest, &rev);
        Partial::open(&dest, &rev, resume)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

/// The partial a file's bytes go into from `offset` on: the resumed one, or a fresh one.
pub(super) async fn start(
    base: &Path,
    planned: &Planned,
    index: usize,
    offset: u64,
    modified_time: Option<prost_types::Timestamp>,
    resumed: Option<Partial>,
) -> Result<Writing, String> {
    let partial = match resumed {
        Some(p) => p,
        None => open_partial(base, planned, false).await?,
    };
    Ok(Writing {
        index,
        partial,
        next_offset: offset,
        modified_time,
    })
}

/// Verifies a finished download against Dropbox's content_hash, gives it `modified_time`
/// (the server's, sent when dates are kept) and renames it over the destination. A mismatch
/// removes the partial (its bytes are wrong somewhere). Returns the verified hash.
pub(super) async fn finish(
    mut partial: Partial,
    planned: &Planned,
    server_hash: &str,
    modified_time: Option<&prost_types::Timestamp>,
) -> Result<String, (LocalReason, String)> {
    let io = |e: std::io::Error| {
        (
            LocalReason::LocalIo,
            format!("writing {} failed: {e}", planned.local.display()),
        )
    };
    let mismatch = LocalReason::Contract(ErrorReason::ContentHashMismatch);
    partial.file.flush().await.map_err(io)?;
    let local_hash = std::mem::take(&mut partial.hasher).finish();
    let expected = if server_hash.is_empty() {
        planned.item.content_hash.as_str()
    } else {
        server_hash
    };
    if expected.is_empty() {
        partial.discard();
        return Err((
            mismatch,
            "the server sent no content_hash; the file was not kept".into(),
        ));
    }
    if !expected.eq_ignore_ascii_case(&local_hash) {
        let resumed = match partial.resumed_from {
            0 => String::new(),
            n => format!(" (resumed at byte {n})"),
        };
        partial.discard();
        return Err((
            mismatch,
            format!(
                "content hash mismatch: the downloaded bytes{resumed} hash to {local_hash}, Dropbox says {expected}; the file was not kept"
            ),
        ));
    }
    partial.file.sync_all().await.map_err(io)?;
    if let Some(when) = modified_time.and_then(from_timestamp) {
        let std_file = partial.file.try_clone().await.map_err(io)?.into_std().await;
        std_file.set_modified(when.into()).map_err(io)?;
    }
    // Renamed while still locked, so no other run can be writing into it.
    tokio::fs::rename(&partial.path, &planned.local)
        .await
        .map_err(|e| {
            (
                LocalReason::LocalIo,
                format!(
                    "cannot move the download into {}: {e}",
                    planned.local.display()
                ),
            )
        })?;
    partial.renamed();
    Ok(local_hash)
}
