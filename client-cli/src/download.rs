//! `dbxc download`: list what to fetch, decide the overwrite option against the local files,
//! then download exactly those revisions, each into a partial file that is renamed only
//! after its content_hash is verified. A partial left by an interrupted run is continued
//! with a byte range. Never writes outside LOCAL_DIR.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dropbox_connector_proto::v1::delete_items_response::Outcome as DeleteOutcome;
use dropbox_connector_proto::v1::download_files_request::Selection;
use dropbox_connector_proto::v1::download_files_response::Message;
use dropbox_connector_proto::v1::{
    ByteRange, DeleteItemsRequest, DownloadFilesRequest, DownloadHeader, ItemKind, ItemMetadata,
    ItemRef, ItemRefs, OverwriteMode, OverwritePolicy, SizeComparison, delete_items_request,
};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_stream::StreamExt;

use crate::Ctx;
use crate::args::DownloadArgs;
use crate::content_hash;
use crate::exit::{CliError, NOT_FOUND};
use crate::filter_args::{FilterArgs, normalize_remote};
use crate::list::list_items;
use crate::local_paths::{UnsafePath, create_dirs_inside, safe_join};
use crate::output::{
    emit_json, from_timestamp, human_size, is_folder, item_error_json, item_error_text, item_json,
    local_error_json, str_or_null,
};
use crate::partial::{self, Partial};
use crate::progress::Progress;

/// Files per DownloadFiles call.
const BATCH: usize = 100;

/// A remote file chosen for download.
struct Planned {
    item: ItemMetadata,
    relative: String,
    local: PathBuf,
}

/// Runs `dbxc download`.
pub async fn run(ctx: &Ctx, args: DownloadArgs) -> Result<(), CliError> {
    let connection = ctx.connection()?;
    let items = resolve(ctx, &connection, &args.remote, &args.filter).await?;

    let base = args.local_dir.clone();
    tokio::fs::create_dir_all(&base)
        .await
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", base.display())))?;

    let mut failed = 0usize;
    let total_files = items.len();
    let mut planned = Vec::new();
    let joined: Vec<_> = items
        .into_iter()
        .map(|(item, relative)| {
            let local = safe_join(&base, &relative);
            (item, relative, local)
        })
        .collect();
    let collisions = collisions(&base, &joined);
    for (index, (item, relative, local)) in joined.into_iter().enumerate() {
        if let Some(text) = collisions.get(&index) {
            failed += 1;
            Report::error(
                &item,
                &relative,
                local.as_deref().ok(),
                local_error_json("NAME_COLLISION", text),
                text,
            )
            .print(ctx, None);
            continue;
        }
        let local = match local {
            Ok(p) => p,
            Err(e) => {
                failed += 1;
                Report::error(
                    &item,
                    &relative,
                    None,
                    local_error_json("UNSAFE_PATH", &e.to_string()),
                    &e.to_string(),
                )
                .print(ctx, None);
                continue;
            }
        };
        match decide(&local, &item, &args.overwrite).await {
            Ok(None) => planned.push(Planned {
                item,
                relative,
                local,
            }),
            Ok(Some(reason)) => Report::skipped(&item, &relative, &local, &reason).print(ctx, None),
            Err(message) => {
                failed += 1;
                Report::error(
                    &item,
                    &relative,
                    Some(&local),
                    local_error_json("LOCAL_IO", &message),
                    &message,
                )
                .print(ctx, None);
            }
        }
    }

    let total: u64 = planned.iter().map(|p| p.item.size).sum();
    let progress = Progress::bytes(total, ctx.progress_wanted());
    // A partial of the same rev means an earlier run was interrupted: those files continue
    // where they stopped, each with a ranged call; the others go in batches.
    let (resuming, fresh): (Vec<Planned>, Vec<Planned>) = planned
        .into_iter()
        .partition(|p| partial::existing_len(&p.local, &p.item.rev).is_some_and(|len| len > 0));
    let mut call_error = None;
    for one in &resuming {
        match download_resumed(ctx, &connection, &base, one, &args, &progress).await {
            Ok(n) => failed += n,
            Err((n, error)) => {
                failed += n;
                call_error = Some(error);
                break;
            }
        }
    }
    if call_error.is_none() {
        for batch in fresh.chunks(BATCH) {
            match download_call(ctx, &connection, &base, batch, None, &args, &progress).await {
                Ok(n) => failed += n,
                Err((n, error)) => {
                    failed += n;
                    call_error = Some(error);
                    break;
                }
            }
        }
    }
    progress.finish();
    if let Some(error) = call_error {
        return Err(error);
    }
    if failed > 0 {
        return Err(CliError::failure(format!(
            "{failed} of {total_files} file(s) failed to download"
        )));
    }
    if total_files == 0 && !ctx.json && !ctx.quiet {
        eprintln!("no files matched; nothing downloaded");
    }
    Ok(())
}

/// The files of this download that must not be written because their local path is also
/// another file's (`x`, `\x` and `/x` all become LOCAL_DIR/x): index -> why. When exactly
/// one of them is named as it lands (no backslash, no leading or doubled separator), that
/// one keeps the path; otherwise none does. Nothing is ever written twice to one path.
fn collisions(
    base: &Path,
    joined: &[(ItemMetadata, String, Result<PathBuf, UnsafePath>)],
) -> HashMap<usize, String> {
    let mut by_path: HashMap<&Path, Vec<usize>> = HashMap::new();
    for (index, (_, _, local)) in joined.iter().enumerate() {
        if let Ok(local) = local {
            by_path.entry(local.as_path()).or_default().push(index);
        }
    }
    let mut refused = HashMap::new();
    for (local, indexes) in by_path {
        if indexes.len() < 2 {
            continue;
        }
        let literal = |i: &usize| {
            let relative = &joined[*i].1;
            local
                .strip_prefix(base)
                .ok()
                .and_then(Path::to_str)
                .is_some_and(|l| l == relative.as_str())
        };
        let keeper = match indexes.iter().filter(|i| literal(i)).collect::<Vec<_>>()[..] {
            [one] => Some(*one),
            _ => None,
        };
        let names: Vec<String> = indexes
            .iter()
            .map(|i| format!("{:?}", joined[*i].0.path_display))
            .collect();
        for &index in &indexes {
            if Some(index) == keeper {
                continue;
            }
            let why = match keeper {
                Some(k) => format!("it is the local file of {:?}", joined[k].0.path_display),
                None => format!("it is the local file of each of {}", names.join(", ")),
            };
            refused.insert(
                index,
                format!(
                    "remote name {:?} would be written to {}, but {why}; refusing it rather \
                     than overwrite one file with another",
                    joined[index].1,
                    local.display()
                ),
            );
        }
    }
    refused
}

/// Turns REMOTE and the filter flags into the files to download, with their paths relative
/// to LOCAL_DIR.
///
/// Rule: with any filter flag, a REMOTE ending in `/`, the root, or an `id:`/`ns:` REMOTE,
/// REMOTE is a folder and the filter selects its files. Otherwise REMOTE is looked up in its
/// parent folder: a file is downloaded alone (under its own name), a folder as above.
async fn resolve(
    ctx: &Ctx,
    connection: &str,
    remote: &str,
    filter: &FilterArgs,
) -> Result<Vec<(ItemMetadata, String)>, CliError> {
    let normalized = normalize_remote(remote);
    let folder_mode = filter.is_set()
        || remote.ends_with('/')
        || normalized.is_empty()
        || normalized.starts_with("id:")
        || normalized.starts_with("ns:");
    if !folder_mode {
        let (parent, name) = match normalized.rfind('/') {
            Some(i) => (&normalized[..i], &normalized[i + 1..]),
            None => ("", normalized.as_str()),
        };
        let lookup = FilterArgs {
            regex: Some(format!("(?i)^{}$", regex::escape(name))),
            case_sensitive: true,
            kind: Some(crate::filter_args::KindArg::All),
            ..FilterArgs::default()
        };
        let mut found: Vec<ItemMetadata> = Vec::new();
        list_items(ctx, connection, lookup.to_filter(parent), |item| {
            found.push(item.clone())
        })
        .await?;
        let wanted = normalized.to_lowercase();
        let hit = found
            .iter()
            .position(|i| i.path_lower == wanted || i.path_display.to_lowercase() == wanted)
            .or(if found.is_empty() { None } else { Some(0) });
        let Some(hit) = hit else {
            return Err(CliError::new(
                NOT_FOUND,
                format!("PATH_NOT_FOUND: {normalized} does not exist"),
            ));
        };
        let item = found.swap_remove(hit);
        if !is_folder(&item) {
            let relative = item.name.clone();
            return Ok(vec![(item, relative)]);
        }
    }
    let mut out = Vec::new();
    list_items(ctx, connection, filter.to_filter(&normalized), |item| {
        if item.kind == ItemKind::File as i32 {
            let relative = if item.relative_path.is_empty() {
                item.name.clone()
            } else {
                item.relative_path.clone()
            };
            out.push((item.clone(), relative));
        }
    })
    .await?;
    Ok(out)
}

/// Applies the overwrite option against the local destination. `Ok(None)`: download;
/// `Ok(Some(reason))`: skip; `Err`: the local side cannot be checked.
async fn decide(
    local: &Path,
    item: &ItemMetadata,
    policy: &OverwritePolicy,
) -> Result<Option<String>, String> {
    let meta = match tokio::fs::metadata(local).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot check {}: {e}", local.display())),
    };
    if meta.is_dir() {
        return Err(format!(
            "{} is a directory; cannot replace it with a file",
            local.display()
        ));
    }
    let mode = OverwriteMode::try_from(policy.mode).unwrap_or(OverwriteMode::Always);
    match mode {
        OverwriteMode::Unspecified | OverwriteMode::Always => Ok(None),
        OverwriteMode::Never => Ok(Some("exists locally (overwrite: never)".into())),
        OverwriteMode::IfNewer => {
            let remote = item
                .client_modified
                .as_ref()
                .or(item.server_modified.as_ref())
                .and_then(from_timestamp);
            let local_time = meta.modified().ok().map(time::OffsetDateTime::from);
            match (remote, local_time) {
                (Some(r), Some(l)) if r > l => Ok(None),
                (Some(_), Some(_)) => Ok(Some(
                    "the local file is as new or newer (overwrite: if-newer)".into(),
                )),
                _ => Ok(None),
            }
        }
        OverwriteMode::IfSize => {
            let (dest, source) = (meta.len(), item.size);
            let cmp = SizeComparison::try_from(policy.size_comparison)
                .unwrap_or(SizeComparison::Unspecified);
            let replace = match cmp {
                SizeComparison::Same => dest == source,
                SizeComparison::Smaller => dest < source,
                SizeComparison::Larger => dest > source,
                SizeComparison::SmallerOrLarger => dest != source,
                SizeComparison::Different => {
                    if dest != source {
                        true
                    } else if item.content_hash.is_empty() {
                        false
                    } else {
                        let path = local.to_path_buf();
                        let hashed =
                            tokio::task::spawn_blocking(move || content_hash::of_file(&path))
                                .await
                                .map_err(|e| e.to_string())?
                                .map_err(|e| format!("cannot read {}: {e}", local.display()))?;
                        hashed.0 != item.content_hash
                    }
                }
                SizeComparison::Unspecified => return Err("if-size needs a comparison".into()),
            };
            if replace {
                Ok(None)
            } else {
                let name = match cmp {
                    SizeComparison::Same => "same",
                    SizeComparison::Smaller => "smaller",
                    SizeComparison::Larger => "larger",
                    SizeComparison::SmallerOrLarger => "smaller-or-larger",
                    _ => "different",
                };
                Ok(Some(format!(
                    "local size {dest} vs remote {source} does not allow replacing (overwrite: if-size={name})"
                )))
            }
        }
    }
}

/// The file being written.
struct Writing {
    index: usize,
    partial: Partial,
    /// The next byte of the file expected (bytes before it are in the partial).
    next_offset: u64,
}

impl Writing {
    /// What a user needs to know about the bytes left behind when this file failed.
    fn kept_note(&self) -> String {
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

/// Server reasons after which a partial's bytes can never complete the download.
fn bytes_are_useless(reason: &str) -> bool {
    matches!(
        reason,
        "CONTENT_HASH_MISMATCH" | "PATH_NOT_FOUND" | "PATH_WRONG_KIND"
    )
}

/// Continues one file from its partial with a ranged call (a range needs a call of its own).
/// A partial that is already complete is verified and moved into place without a call.
async fn download_resumed(
    ctx: &Ctx,
    connection: &str,
    base: &Path,
    planned: &Planned,
    args: &DownloadArgs,
    progress: &Progress,
) -> Result<usize, (usize, CliError)> {
    let local_failure = |text: String| {
        progress.inc(planned.item.size);
        Report::error(
            &planned.item,
            &planned.relative,
            Some(&planned.local),
            local_error_json("LOCAL_IO", &text),
            &text,
        )
        .print(ctx, Some(progress));
        Ok(1)
    };
    let mut partial = match open_partial(base, planned, true).await {
        Ok(p) => p,
        Err(text) => return local_failure(text),
    };
    let size = planned.item.size;
    let complete_here = partial.resumed_from == size
        && planned
            .item
            .content_hash
            .eq_ignore_ascii_case(&partial.hasher.clone().finish());
    if partial.resumed_from >= size && !complete_here {
        // Longer than the file, or all of it but not its bytes: start over.
        if let Err(e) = partial.restart().await {
            return local_failure(format!("cannot empty {}: {e}", partial.path.display()));
        }
    }
    if partial.resumed_from > 0 && !ctx.quiet {
        progress.eprintln(&format!(
            "resuming {} at {} bytes ({} of {})",
            planned.relative,
            partial.resumed_from,
            human_size(partial.resumed_from),
            human_size(size)
        ));
    }
    progress.inc(partial.resumed_from);
    if complete_here {
        return Ok(complete(ctx, connection, planned, partial, "", args, progress).await);
    }
    download_call(
        ctx,
        connection,
        base,
        std::slice::from_ref(planned),
        Some(partial),
        args,
        progress,
    )
    .await
}

/// Downloads `batch` with one DownloadFiles call; with `resumed`, `batch` is that partial's
/// one file and the call asks for the rest of it. Returns the number of failed files, or on
/// a call error that number plus the error.
async fn download_call(
    ctx: &Ctx,
    connection: &str,
    base: &Path,
    batch: &[Planned],
    resumed: Option<Partial>,
    args: &DownloadArgs,
    progress: &Progress,
) -> Result<usize, (usize, CliError)> {
    let refs = batch
        .iter()
        .map(|p| ItemRef {
            path: stable_ref(&p.item),
            rev: p.item.rev.clone(),
        })
        .collect();
    let range = resumed
        .as_ref()
        .filter(|p| p.resumed_from > 0)
        .map(|p| ByteRange {
            offset: p.resumed_from,
            length: 0,
        });
    let mut resumed = resumed;
    let request = DownloadFilesRequest {
        connection: connection.to_string(),
        selection: Some(Selection::Items(ItemRefs { items: refs })),
        range,
    };
    let mut reported = vec![false; batch.len()];
    let mut failed = 0usize;
    // Files that arrived but could not be verified or moved into place (reported by `complete`).
    let mut unverified = 0usize;
    let mut fail = |index: usize, reported: &mut Vec<bool>, error: Value, text: &str| {
        if !reported[index] {
            reported[index] = true;
            failed += 1;
            let p = &batch[index];
            Report::error(&p.item, &p.relative, Some(&p.local), error, text)
                .print(ctx, Some(progress));
        }
    };
    let remaining = |w: &Writing| batch[w.index].item.size.saturating_sub(w.next_offset);

    let mut stream = match ctx.tasks().download_files(request).await {
        Ok(r) => r.into_inner(),
        Err(status) => {
            if let Some(p) = resumed.take() {
                progress.inc(batch[0].item.size.saturating_sub(p.resumed_from));
            }
            return Err((0, CliError::from_status(&status)));
        }
    };
    let mut next = 0usize;
    let mut current: Option<Writing> = None;
    let mut call_error: Option<CliError> = None;
    while let Some(message) = stream.next().await {
        let message = match message {
            Ok(m) => m,
            Err(status) => {
                call_error = Some(CliError::from_status(&status));
                break;
            }
        };
        match message.message {
            Some(Message::Header(header)) => {
                if let Some(w) = current.take() {
                    let text = format!(
                        "the server started another file before ending this one{}",
                        w.kept_note()
                    );
                    progress.inc(remaining(&w));
                    fail(
                        w.index,
                        &mut reported,
                        local_error_json("STREAM_OUT_OF_ORDER", &text),
                        &text,
                    );
                }
                let index = find(
                    batch,
                    next,
                    header
                        .metadata
                        .as_ref()
                        .map(|m| (m.path_lower.as_str(), m.id.as_str())),
                );
                for skipped in next..index {
                    let text = "the server sent no data for this file";
                    fail(
                        skipped,
                        &mut reported,
                        local_error_json("NO_RESULT", text),
                        text,
                    );
                }
                next = index + 1;
                progress.set_message(&batch[index].relative);
                match start(base, &batch[index], &header, resumed.take()).await {
                    Ok((partial, next_offset)) => {
                        current = Some(Writing {
                            index,
                            partial,
                            next_offset,
                        })
                    }
                    Err((text, done)) => {
                        progress.inc(batch[index].item.size.saturating_sub(done));
                        fail(
                            index,
                            &mut reported,
                            local_error_json("LOCAL_IO", &text),
                            &text,
                        );
                    }
                }
            }
            Some(Message::Chunk(chunk)) => {
                let Some(w) = current.as_mut() else { continue };
                let problem = if chunk.offset != w.next_offset {
                    Some((
                        "CHUNK_OFFSET_MISMATCH",
                        format!(
                            "chunk at offset {} where {} was expected",
                            chunk.offset, w.next_offset
                        ),
                    ))
                } else if let Err(e) = w.partial.file.write_all(&chunk.data).await {
                    Some((
                        "LOCAL_IO",
                        format!("writing {} failed: {e}", w.partial.path.display()),
                    ))
                } else {
                    None
                };
                if let Some((reason, text)) = problem {
                    if let Some(w) = current.take() {
                        let text = format!("{text}{}", w.kept_note());
                        progress.inc(remaining(&w));
                        fail(
                            w.index,
                            &mut reported,
                            local_error_json(reason, &text),
                            &text,
                        );
                    }
                    continue;
                }
                w.partial.hasher.update(&chunk.data);
                w.next_offset += chunk.data.len() as u64;
                progress.inc(chunk.data.len() as u64);
            }
            Some(Message::End(end)) => {
                let Some(w) = current.take() else { continue };
                let index = w.index;
                progress.inc(remaining(&w));
                reported[index] = true;
                if complete(
                    ctx,
                    connection,
                    &batch[index],
                    w.partial,
                    &end.content_hash,
                    args,
                    progress,
                )
                .await
                    > 0
                {
                    unverified += 1;
                }
            }
            Some(Message::Error(error)) => {
                let item_error = error.error.unwrap_or_default();
                let useless = bytes_are_useless(&item_error.reason);
                let (index, note) = match current.take() {
                    Some(w) => {
                        progress.inc(remaining(&w));
                        let index = w.index;
                        if useless {
                            w.partial.discard();
                            (index, String::new())
                        } else {
                            (index, w.kept_note())
                        }
                    }
                    None => {
                        let lower = error.path.to_lowercase();
                        let index = batch[next.min(batch.len())..]
                            .iter()
                            .position(|p| {
                                p.item.path_lower == lower
                                    || p.item.path_display.to_lowercase() == lower
                            })
                            .map(|i| i + next)
                            .unwrap_or(next);
                        if index >= batch.len() {
                            continue;
                        }
                        let done = match resumed.take() {
                            Some(p) if useless => {
                                p.discard();
                                0
                            }
                            Some(p) => p.resumed_from,
                            None => 0,
                        };
                        progress.inc(batch[index].item.size.saturating_sub(done));
                        next = index + 1;
                        (index, String::new())
                    }
                };
                let text = format!("{}{note}", item_error_text(&item_error));
                fail(index, &mut reported, item_error_json(&item_error), &text);
            }
            None => {}
        }
    }
    if let Some(w) = current.take() {
        let text = match &call_error {
            Some(e) => e.message.clone(),
            None => "the stream ended in the middle of this file".to_string(),
        };
        let text = format!("{text}{}", w.kept_note());
        progress.inc(remaining(&w));
        fail(
            w.index,
            &mut reported,
            local_error_json("INCOMPLETE", &text),
            &text,
        );
    }
    let untouched = resumed.map(|p| p.resumed_from).unwrap_or(0);
    for index in 0..batch.len() {
        if !reported[index] {
            let text = match &call_error {
                Some(e) => format!("not downloaded: {}", e.message),
                None => "the server sent nothing for this file".to_string(),
            };
            progress.inc(batch[index].item.size.saturating_sub(untouched));
            fail(
                index,
                &mut reported,
                local_error_json("NO_RESULT", &text),
                &text,
            );
        }
    }
    let failed = failed + unverified;
    match call_error {
        Some(e) => Err((failed, e)),
        None => Ok(failed),
    }
}

/// Which planned file a header is for: by path_lower or id from `from` on, else `from`.
fn find(batch: &[Planned], from: usize, key: Option<(&str, &str)>) -> usize {
    let from = from.min(batch.len().saturating_sub(1));
    if let Some((lower, id)) = key
        && let Some(i) = batch[from..].iter().position(|p| {
            (!lower.is_empty() && p.item.path_lower == lower) || (!id.is_empty() && p.item.id == id)
        })
    {
        return from + i;
    }
    from
}

/// Creates the directories of one download and opens its partial (locked; with `resume`,
/// hashing the bytes already there). Partials of other revs are removed as stale.
async fn open_partial(base: &Path, planned: &Planned, resume: bool) -> Result<Partial, String> {
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

/// The partial to write a file's bytes into, and the offset the server starts at. On an
/// error, also the bytes already done (for the progress bar).
async fn start(
    base: &Path,
    planned: &Planned,
    header: &DownloadHeader,
    resumed: Option<Partial>,
) -> Result<(Partial, u64), (String, u64)> {
    let partial = match resumed {
        Some(p) => p,
        None => open_partial(base, planned, false)
            .await
            .map_err(|text| (text, 0))?,
    };
    if header.offset != partial.resumed_from {
        let done = partial.resumed_from;
        return Err((
            format!(
                "the server started at byte {} instead of {done}",
                header.offset
            ),
            done,
        ));
    }
    let offset = header.offset;
    Ok((partial, offset))
}

/// Verifies a finished download and moves it into place, then reports it (and deletes the
/// source when asked). Returns 1 when the file failed, else 0.
async fn complete(
    ctx: &Ctx,
    connection: &str,
    planned: &Planned,
    partial: Partial,
    server_hash: &str,
    args: &DownloadArgs,
    progress: &Progress,
) -> usize {
    let resumed_from = partial.resumed_from;
    match finish(partial, planned, server_hash, args.keep_dates).await {
        Ok(hash) => {
            let mut report = Report::downloaded(
                &planned.item,
                &planned.relative,
                &planned.local,
                &hash,
                resumed_from,
            );
            if args.delete_source {
                delete_source(ctx, connection, &planned.item, &mut report).await;
            }
            report.print(ctx, Some(progress));
            0
        }
        Err((reason, text)) => {
            Report::error(
                &planned.item,
                &planned.relative,
                Some(&planned.local),
                local_error_json(reason, &text),
                &text,
            )
            .print(ctx, Some(progress));
            1
        }
    }
}

/// Verifies a finished download against Dropbox's content_hash and renames it over the
/// destination. A mismatch removes the partial (its bytes are wrong somewhere). Returns the
/// verified hash.
async fn finish(
    mut partial: Partial,
    planned: &Planned,
    server_hash: &str,
    keep_dates: bool,
) -> Result<String, (&'static str, String)> {
    let io = |e: std::io::Error| {
        (
            "LOCAL_IO",
            format!("writing {} failed: {e}", w_path(&planned.local)),
        )
    };
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
            "CONTENT_HASH_MISMATCH",
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
            "CONTENT_HASH_MISMATCH",
            format!(
                "content hash mismatch: the downloaded bytes{resumed} hash to {local_hash}, Dropbox says {expected}; the file was not kept"
            ),
        ));
    }
    partial.file.sync_all().await.map_err(io)?;
    if keep_dates
        && let Some(when) = planned
            .item
            .client_modified
            .as_ref()
            .and_then(from_timestamp)
    {
        let std_file = partial.file.try_clone().await.map_err(io)?.into_std().await;
        std_file.set_modified(when.into()).map_err(io)?;
    }
    // Renamed while still locked, so no other run can be writing into it.
    tokio::fs::rename(&partial.path, &planned.local)
        .await
        .map_err(|e| {
            (
                "LOCAL_IO",
                format!(
                    "cannot move the download into {}: {e}",
                    planned.local.display()
                ),
            )
        })?;
    partial.renamed();
    Ok(local_hash)
}

/// How to name a listed item in a later call: by its Dropbox id when there is one, since
/// an id does not depend on the item's name (which may be anything, or have changed).
fn stable_ref(item: &ItemMetadata) -> String {
    [&item.id, &item.path_lower, &item.path_display]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_default()
}

fn w_path(p: &Path) -> String {
    p.display().to_string()
}

/// Deletes the downloaded revision of the source; records the outcome in the report.
async fn delete_source(ctx: &Ctx, connection: &str, item: &ItemMetadata, report: &mut Report) {
    let request = DeleteItemsRequest {
        connection: connection.to_string(),
        selection: Some(delete_items_request::Selection::Items(ItemRefs {
            items: vec![ItemRef {
                path: stable_ref(item),
                rev: item.rev.clone(),
            }],
        })),
        dry_run: false,
    };
    let outcome: Result<(), (Value, String)> = async {
        let mut stream = ctx
            .tasks()
            .delete_items(request)
            .await
            .map_err(|s| status_error(&s))?
            .into_inner();
        let mut deleted = false;
        while let Some(response) = stream.next().await {
            match response.map_err(|s| status_error(&s))?.outcome {
                Some(DeleteOutcome::Deleted(_)) => deleted = true,
                Some(DeleteOutcome::Error(e)) => {
                    return Err((item_error_json(&e), item_error_text(&e)));
                }
                None => {}
            }
        }
        if deleted {
            Ok(())
        } else {
            Err((Value::Null, "the server reported no deletion".to_string()))
        }
    }
    .await;
    match outcome {
        Ok(()) => {
            report.json["source_deleted"] = json!(true);
            report.human.push_str(", source deleted");
        }
        Err((error, text)) => {
            report.json["source_deleted"] = json!(false);
            report.json["source_delete_error"] = error;
            report.source_warning = Some(format!(
                "warning: {}: source not deleted: {text}",
                item.path_display
            ));
            report.failed = true;
        }
    }
}

fn status_error(status: &tonic::Status) -> (Value, String) {
    let e = CliError::from_status(status);
    (local_error_json("CALL_FAILED", &e.message), e.message)
}

/// One file's outcome, for printing.
struct Report {
    failed: bool,
    human: String,
    json: Value,
    source_warning: Option<String>,
}

impl Report {
    fn base(item: &ItemMetadata, relative: &str, local: Option<&Path>, outcome: &str) -> Value {
        json!({
            "path_display": item.path_display,
            "relative_path": relative,
            "local_path": local.map(|p| Value::String(p.display().to_string())).unwrap_or(Value::Null),
            "outcome": outcome,
            "size": item.size,
            "content_hash": str_or_null(&item.content_hash),
            "rev": str_or_null(&item.rev),
            "item": item_json(item),
            "skipped_reason": null,
            "error": null,
            "source_deleted": null,
            "source_delete_error": null,
            "resumed_from": null,
        })
    }

    fn downloaded(
        item: &ItemMetadata,
        relative: &str,
        local: &Path,
        hash: &str,
        resumed_from: u64,
    ) -> Self {
        let mut json = Self::base(item, relative, Some(local), "downloaded");
        json["content_hash"] = json!(hash);
        let resumed = if resumed_from > 0 {
            json["resumed_from"] = json!(resumed_from);
            format!(", resumed at {resumed_from} bytes")
        } else {
            String::new()
        };
        let human = format!(
            "downloaded {} -> {} ({}{resumed}, content_hash {hash})",
            item.path_display,
            local.display(),
            human_size(item.size)
        );
        Self {
            failed: false,
            human,
            json,
            source_warning: None,
        }
    }

    fn skipped(item: &ItemMetadata, relative: &str, local: &Path, reason: &str) -> Self {
        let mut json = Self::base(item, relative, Some(local), "skipped");
        json["skipped_reason"] = json!(reason);
        Self {
            failed: false,
            human: format!("skipped {} ({reason})", item.path_display),
            json,
            source_warning: None,
        }
    }

    fn error(
        item: &ItemMetadata,
        relative: &str,
        local: Option<&Path>,
        error: Value,
        text: &str,
    ) -> Self {
        let mut json = Self::base(item, relative, local, "error");
        json["error"] = error;
        let reason = json["error"]["reason"].as_str().map(str::to_string);
        let human = match reason {
            Some(reason) if !text.starts_with(&reason) => {
                format!("error: {}: {reason}: {text}", item.path_display)
            }
            _ => format!("error: {}: {text}", item.path_display),
        };
        Self {
            failed: true,
            human,
            json,
            source_warning: None,
        }
    }

    fn print(&self, ctx: &Ctx, progress: Option<&Progress>) {
        let out = |line: &str| match progress {
            Some(p) => p.println_stdout(line),
            None => crate::output::emit_text(line),
        };
        let err = |line: &str| match progress {
            Some(p) => p.eprintln(line),
            None => crate::output::eprint_text(line),
        };
        if ctx.json {
            emit_json(&self.json);
        } else {
            if self.json["outcome"] == "error" {
                err(&self.human);
            } else if !ctx.quiet {
                out(&self.human);
            }
        }
        if !ctx.json
            && let Some(w) = &self.source_warning
        {
            err(w);
        }
    }
}
