//! `dbxc upload`: one UploadFiles stream for every selected local file.
//!
//! Stream: the spec, then per file a header (relative path, size, modified time and the
//! content_hash computed locally beforehand), its data in 2 MiB chunks with offsets read from
//! disk as they go (a bounded channel keeps at most a few chunks in memory), and an end
//! marker carrying the same content_hash.

use dropbox_connector_proto::v1::file_result::Outcome;
use dropbox_connector_proto::v1::upload_files_request::Message;
use dropbox_connector_proto::v1::{
    DataChunk, FileEnd, FileHeader, FileResult, UploadFilesRequest, UploadFilesResponse, UploadSpec,
};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::Ctx;
use crate::args::UploadArgs;
use crate::exit::CliError;
use crate::filter_args::normalize_remote;
use crate::local_paths::{LocalFile, MaskSet, collect_upload_files};
use crate::output::{
    emit_json, human_size, item_error_json, item_error_text, item_json, local_error_json,
    opt_item_json, str_or_null, system_time_to_timestamp,
};
use crate::progress::Progress;
use crate::reason::LocalReason;
use crate::resumable_upload;
use dropbox_content_hash as content_hash;

/// Largest data chunk, as the contract allows.
pub const CHUNK_SIZE: usize = dropbox_connector_proto::MAX_CHUNK_BYTES;
/// Messages buffered between the disk reader and the gRPC stream.
const CHANNEL_DEPTH: usize = 4;

/// What happened to a file on this side of the stream.
#[derive(Debug, Clone)]
enum LocalState {
    /// Never reached the stream (could not be read).
    NotSent { message: String },
    /// Sent completely; the server's result decides.
    Sent { hash: String },
    /// Sent, but reading failed part-way; the server is told the full hash, so it does
    /// not commit the truncated data.
    Truncated { hash: String, message: String },
}

/// `--mask` for local names, refused (exit code 2) past the bounds the server's filter has.
fn upload_mask(mask: Option<&str>, case_sensitive: bool) -> Result<MaskSet, CliError> {
    MaskSet::parse(mask.unwrap_or(""), false, case_sensitive)
        .map_err(|e| CliError::usage(format!("--mask: {e}")))
}

/// Runs `dbxc upload`.
pub async fn run(ctx: &Ctx, args: UploadArgs) -> Result<(), CliError> {
    let connection = ctx.connection()?;
    let mask = upload_mask(args.mask.as_deref(), args.case_sensitive)?;
    let collected = collect_upload_files(&args.local, &mask, args.recursive, args.follow_symlinks)
        .map_err(CliError::failure)?;
    for link in &collected.skipped {
        if ctx.json {
            let mut json = Report::base_for(&link.path, &link.relative_path, None, "skipped");
            json["skipped_reason"] = json!(link.reason);
            emit_json(&json);
        } else {
            crate::output::eprint_text(&format!(
                "notice: skipped {}: {}",
                link.path.display(),
                link.reason
            ));
        }
    }
    let files = collected.files;
    if files.is_empty() {
        if !ctx.json && !ctx.quiet {
            eprintln!("no local files matched; nothing to upload");
        }
        return Ok(());
    }
    let total: u64 = files.iter().map(|f| f.size).sum();
    let progress = Progress::bytes(total, ctx.progress_wanted());
    let spec = UploadSpec {
        connection,
        destination_folder: normalize_remote(&args.remote_folder),
        overwrite: Some(args.overwrite),
        keep_modified_date: args.keep_dates,
        autorename: args.autorename,
    };

    let (large, files): (Vec<LocalFile>, Vec<LocalFile>) = files
        .into_iter()
        .partition(|f| f.size >= args.resumable_from);
    let mut failed = 0usize;
    let mut count = files.len();
    if !files.is_empty() {
        failed += upload_stream(ctx, spec.clone(), &files, &progress).await?;
    }
    for file in &large {
        count += 1;
        if !upload_resumable(ctx, &spec, file, &progress)
            .await
            .print(ctx, &progress)
        {
            failed += 1;
        }
    }
    progress.finish();
    if failed > 0 {
        return Err(CliError::failure(format!(
            "{failed} of {count} file(s) failed to upload"
        )));
    }
    Ok(())
}

/// A big file through a resumable upload (see `resumable_upload`).
async fn upload_resumable(
    ctx: &Ctx,
    spec: &UploadSpec,
    file: &LocalFile,
    progress: &Progress,
) -> Report {
    progress.set_message(&format!("hashing {}", file.relative_path));
    let path = file.path.clone();
    let (hash, size) = match tokio::task::spawn_blocking(move || content_hash::of_file(&path)).await
    {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            progress.inc(file.size);
            let message = format!("cannot read {}: {e}", file.path.display());
            return Report::local_error(file, None, LocalReason::LocalIo, &message);
        }
        Err(e) => {
            return Report::local_error(
                file,
                None,
                LocalReason::LocalIo,
                &format!("hashing failed: {e}"),
            );
        }
    };
    progress.set_message(&file.relative_path);
    let folder = spec.destination_folder.trim_end_matches('/');
    let target = resumable_upload::Target {
        connection: spec.connection.clone(),
        path: format!("{folder}/{}", file.relative_path),
        overwrite: spec.overwrite.unwrap_or_default(),
        keep_dates: spec.keep_modified_date,
        autorename: spec.autorename,
    };
    let result = resumable_upload::upload(ctx, &target, file, &hash, size, progress).await;
    Report::from_result(file, &hash, result)
}

/// The small files through one UploadFiles stream; returns how many failed.
async fn upload_stream(
    ctx: &Ctx,
    spec: UploadSpec,
    files: &[LocalFile],
    progress: &Progress,
) -> Result<usize, CliError> {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let producer = tokio::spawn(produce(tx, spec, files.to_vec(), progress.clone()));
    let call = ctx.tasks().upload_files(ReceiverStream::new(rx)).await;
    let results = match all_results(call).await {
        Ok(results) => results,
        Err(status) => {
            // The server gave up on the stream; stop reading files.
            producer.abort();
            progress.finish();
            return Err(CliError::from_status(&status));
        }
    };
    // The server ends its stream only after the end of ours, so the producer is done.
    let states = producer
        .await
        .map_err(|e| CliError::failure(format!("the file reader stopped: {e}")))?;

    let mut results = results.into_iter();
    let mut failed = 0;
    for (file, state) in files.iter().zip(states) {
        let report = match state {
            LocalState::NotSent { message } => {
                Report::local_error(file, None, LocalReason::LocalIo, &message)
            }
            LocalState::Sent { hash } => match results.next() {
                Some(result) => Report::from_result(file, &hash, result),
                None => Report::local_error(
                    file,
                    Some(&hash),
                    LocalReason::NoResult,
                    "the server sent no result for this file",
                ),
            },
            LocalState::Truncated { hash, message } => {
                let _ = results.next();
                Report::local_error(file, Some(&hash), LocalReason::LocalIo, &message)
            }
        };
        if !report.print(ctx, progress) {
            failed += 1;
        }
    }
    Ok(failed)
}

/// Every file's result of an UploadFiles call: the server sends them as files finish,
/// spread over its response messages, and ends with the call's status.
async fn all_results(
    call: Result<tonic::Response<tonic::Streaming<UploadFilesResponse>>, tonic::Status>,
) -> Result<Vec<FileResult>, tonic::Status> {
    let mut stream = call?.into_inner();
    let mut results = Vec::new();
    while let Some(response) = stream.message().await? {
        results.extend(response.results);
    }
    Ok(results)
}

/// Reads the files and feeds the stream. Returns what happened to each file, in order.
async fn produce(
    tx: mpsc::Sender<UploadFilesRequest>,
    spec: UploadSpec,
    files: Vec<LocalFile>,
    progress: Progress,
) -> Vec<LocalState> {
    let send = |message: Message| UploadFilesRequest {
        message: Some(message),
    };
    let mut states = Vec::with_capacity(files.len());
    if tx.send(send(Message::Spec(spec))).await.is_err() {
        return states;
    }
    for file in files {
        progress.set_message(&format!("hashing {}", file.relative_path));
        let path = file.path.clone();
        let hashed = tokio::task::spawn_blocking(move || content_hash::of_file(&path)).await;
        let (hash, size) = match hashed {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                progress.inc(file.size);
                states.push(LocalState::NotSent {
                    message: format!("cannot read {}: {e}", file.path.display()),
                });
                continue;
            }
            Err(e) => {
                states.push(LocalState::NotSent {
                    message: format!("hashing failed: {e}"),
                });
                continue;
            }
        };
        let mut source = match tokio::fs::File::open(&file.path).await {
            Ok(f) => f,
            Err(e) => {
                progress.inc(file.size);
                states.push(LocalState::NotSent {
                    message: format!("cannot open {}: {e}", file.path.display()),
                });
                continue;
            }
        };
        progress.set_message(&file.relative_path);
        let header = FileHeader {
            relative_path: file.relative_path.clone(),
            size: Some(size),
            modified_time: file.modified.map(system_time_to_timestamp),
            content_hash: hash.clone(),
        };
        if tx.send(send(Message::FileHeader(header))).await.is_err() {
            return states;
        }
        let mut offset = 0u64;
        let mut read_error = None;
        loop {
            let mut buffer = vec![0u8; CHUNK_SIZE];
            match fill(&mut source, &mut buffer).await {
                Ok(0) => break,
                Ok(n) => {
                    buffer.truncate(n);
                    let chunk = DataChunk {
                        offset,
                        data: buffer,
                    };
                    if tx.send(send(Message::Chunk(chunk))).await.is_err() {
                        return states;
                    }
                    offset += n as u64;
                    progress.inc(n as u64);
                }
                Err(e) => {
                    read_error = Some(format!(
                        "reading {} failed at byte {offset}: {e}",
                        file.path.display()
                    ));
                    break;
                }
            }
        }
        // Keep the bar honest when the file shrank or grew since it was found.
        if offset < file.size {
            progress.inc(file.size - offset);
        }
        let end = FileEnd {
            content_hash: hash.clone(),
        };
        if tx.send(send(Message::FileEnd(end))).await.is_err() {
            return states;
        }
        states.push(match read_error {
            None => LocalState::Sent { hash },
            Some(message) => LocalState::Truncated { hash, message },
        });
    }
    states
}

/// Reads until `buffer` is full or the file ends; returns the bytes read.
pub async fn fill(file: &mut tokio::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// One file's outcome, for printing.
struct Report {
    failed: bool,
    human: String,
    json: Value,
}

impl Report {
    fn base(file: &LocalFile, local_hash: Option<&str>, outcome: &str) -> Value {
        Self::base_for(&file.path, &file.relative_path, local_hash, outcome)
    }

    fn base_for(
        path: &std::path::Path,
        relative_path: &str,
        local_hash: Option<&str>,
        outcome: &str,
    ) -> Value {
        json!({
            "local_path": path.display().to_string(),
            "relative_path": relative_path,
            "outcome": outcome,
            "path_display": null,
            "size": null,
            "content_hash": null,
            "rev": null,
            "local_content_hash": local_hash.map(str_or_null).unwrap_or(Value::Null),
            "item": null,
            "skipped_reason": null,
            "existing": null,
            "error": null,
        })
    }

    fn local_error(
        file: &LocalFile,
        local_hash: Option<&str>,
        reason: LocalReason,
        message: &str,
    ) -> Self {
        let mut json = Self::base(file, local_hash, "error");
        json["error"] = local_error_json(reason, message);
        Self {
            failed: true,
            human: format!(
                "error: {}: {}: {message}",
                file.relative_path,
                reason.as_str()
            ),
            json,
        }
    }

    fn from_result(file: &LocalFile, local_hash: &str, result: FileResult) -> Self {
        match result.outcome {
            Some(Outcome::Uploaded(item)) => {
                let mut json = Self::base(file, Some(local_hash), "uploaded");
                json["path_display"] = json!(item.path_display);
                json["size"] = json!(item.size);
                json["content_hash"] = str_or_null(&item.content_hash);
                json["rev"] = str_or_null(&item.rev);
                json["item"] = item_json(&item);
                let human = format!(
                    "uploaded {} ({}, content_hash {})",
                    item.path_display,
                    human_size(item.size),
                    item.content_hash
                );
                Self {
                    failed: false,
                    human,
                    json,
                }
            }
            Some(Outcome::Skipped(skipped)) => {
                let mut json = Self::base(file, Some(local_hash), "skipped");
                json["skipped_reason"] = json!(skipped.reason);
                json["existing"] = opt_item_json(skipped.existing.as_ref());
                if let Some(existing) = &skipped.existing {
                    json["path_display"] = json!(existing.path_display);
                }
                let human = format!("skipped {} ({})", file.relative_path, skipped.reason);
                Self {
                    failed: false,
                    human,
                    json,
                }
            }
            Some(Outcome::Error(error)) => {
                let mut json = Self::base(file, Some(local_hash), "error");
                json["error"] = item_error_json(&error);
                let human = format!("error: {}: {}", file.relative_path, item_error_text(&error));
                Self {
                    failed: true,
                    human,
                    json,
                }
            }
            None => Self::local_error(
                file,
                Some(local_hash),
                LocalReason::NoResult,
                "the server sent an empty result",
            ),
        }
    }

    /// Prints the report; returns whether the file made it (uploaded or skipped).
    fn print(&self, ctx: &Ctx, progress: &Progress) -> bool {
        if ctx.json {
            emit_json(&self.json);
        } else if self.failed {
            progress.eprintln(&self.human);
        } else if !ctx.quiet {
            progress.println_stdout(&self.human);
        }
        !self.failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_bounds_are_the_servers_and_refusals_are_usage_errors() {
        let many = "a;".repeat(dropbox_wildcard::MAX_MASKS + 1);
        let error = upload_mask(Some(&many), false).unwrap_err();
        assert_eq!(error.code, crate::exit::USAGE);
        assert!(error.message.starts_with("--mask: "), "{}", error.message);
        let long = "a".repeat(dropbox_wildcard::MAX_MASK_CHARS + 1);
        assert_eq!(
            upload_mask(Some(&long), false).unwrap_err().code,
            crate::exit::USAGE
        );

        let mask = upload_mask(Some("*.txt;report-??.csv"), false).unwrap();
        assert!(mask.matches("A.TXT") && mask.matches("report-01.csv"));
        assert!(!mask.matches("report-1.csv"));
        assert!(upload_mask(None, false).unwrap().matches("anything"));
        assert!(!upload_mask(Some("*.txt"), true).unwrap().matches("a.TXT"));
    }
}
