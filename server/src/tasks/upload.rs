//! "Cloud - Upload file(s)": files arrive as header, chunks, end; each is stored with one
//! `files/upload` when it fits in one piece, else through an upload session. At most one
//! piece per file is held in memory. Nothing is committed before the file's end marker
//! arrives and its content_hash checks out, so a cancelled call leaves the destination
//! as it was.

use bytes::{Bytes, BytesMut};
use dropbox_client::content_hash::ContentHasher;
use dropbox_client::{CommitInfo, DropboxClient, FileMetadata, Metadata, WriteMode, paths};
use futures::{Stream, StreamExt};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::budget::{BufferClaim, UploadBudget};
use super::connection_client::ConnectionClient;
use super::overwrite::{Decision, OverwritePolicy, SourceFacts};
use super::{Events, TaskError, emit};

/// Bytes sent to Dropbox per request: a multiple of Dropbox's 4 MiB hash block.
pub const PIECE: usize = 8 * 1024 * 1024;
/// Largest chunk a client may send: the contract's.
pub const MAX_CHUNK: usize = dropbox_connector_proto::MAX_CHUNK_BYTES;

/// The first message of an upload, validated.
#[derive(Debug, Clone)]
pub struct UploadSpec {
    /// Normalised: `""` for the root.
    pub destination_folder: String,
    pub overwrite: OverwritePolicy,
    pub keep_modified_date: bool,
    pub autorename: bool,
}

/// One file's header.
#[derive(Debug, Clone, Default)]
pub struct FileHeader {
    pub relative_path: String,
    pub size: Option<u64>,
    pub modified_time: Option<OffsetDateTime>,
    pub content_hash: Option<String>,
}

/// The messages after the spec.
#[derive(Debug)]
pub enum UploadMessage {
    /// A second spec: out of order.
    Spec,
    Header(FileHeader),
    Chunk {
        offset: u64,
        data: Bytes,
    },
    End {
        content_hash: Option<String>,
    },
}

/// What happened to one file.
#[derive(Debug)]
pub enum FileOutcome {
    Uploaded(FileMetadata),
    Skipped { reason: String, existing: Metadata },
    Failed(TaskError),
}

#[derive(Debug)]
pub struct FileResult {
    pub relative_path: String,
    pub outcome: FileOutcome,
}

/// Where a file stands.
enum State {
    /// Bytes go to Dropbox; `decision` is Create, Replace or NeedSize (decide at the end).
    Writing { decision: Decision },
    /// Bytes are read and dropped.
    Skipped { reason: String, existing: Metadata },
    /// Bytes are read and dropped; the error is the file's result.
    Failed(TaskError),
}

struct Session {
    id: String,
    /// Bytes Dropbox has so far.
    offset: u64,
}

/// One file between its header and its end.
struct OpenFile {
    header: FileHeader,
    /// The validated Dropbox path (unset when the header was refused).
    destination: String,
    received: u64,
    hasher: ContentHasher,
    piece: BytesMut,
    /// What `piece` holds of the shared upload buffer budget.
    claim: BufferClaim,
    session: Option<Session>,
    state: State,
}

/// Most files one UploadFiles call takes (the call remembers each file's destination to
/// catch case-only collisions). More files go in further calls.
pub const MAX_FILES_PER_CALL: usize = 10_000;
/// Longest relative path of a file and longest destination folder, in bytes (Linux's
/// PATH_MAX). It keeps each result, which repeats the paths a few times, far under the
/// 4 MiB that gRPC runtimes accept in one message by default.
pub const MAX_PATH_BYTES: usize = 4096;
/// What results not yet taken by the caller's response stream may add up to (estimated
/// by [`result_bytes`]). The channel itself never makes the upload wait: a client may
/// read only after it has sent every file (a plain way to write a bidirectional call),
/// and an upload that waited for that reader would stop reading the request, so both
/// sides would wait. Only past this many unread bytes does the upload wait for the
/// reader, and for at most [`READER_WAIT`].
pub const RESULTS_BUDGET_BYTES: usize = 7 * 1024 * 1024;
/// How long an upload waits for the caller to read results when [`RESULTS_BUDGET_BYTES`]
/// are unread, before the call fails.
pub const READER_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// The depth of the results channel: every result of a call plus its final error.
pub const RESULT_QUEUE_DEPTH: usize = MAX_FILES_PER_CALL + 1;

/// An over-estimate of one file's encoded result: the fixed fields (id, rev, times, hash,
/// an error's reason and message) plus the paths it repeats (relative path twice, name,
/// display and lower-cased paths; an error message may quote the path with escapes).
fn result_bytes(destination_folder: &str, relative_path: &str) -> usize {
    512 + 8 * (destination_folder.len() + relative_path.len())
}

/// A file's result waiting for the caller, holding its share of the unread budget until
/// it is taken with [`QueuedResult::take`].
#[derive(Debug)]
pub struct QueuedResult {
    result: FileResult,
    _unread: OwnedSemaphorePermit,
}

impl QueuedResult {
    /// The result; its bytes no longer count as unread.
    pub fn take(self) -> FileResult {
        self.result
    }
}

/// Claims room for `result` among the call's unread results, waiting up to
/// [`READER_WAIT`] for the reader.
async fn queue(
    unread: &Arc<Semaphore>,
    destination_folder: &str,
    result: FileResult,
) -> Result<QueuedResult, TaskError> {
    let cost = result_bytes(destination_folder, &result.relative_path).min(RESULTS_BUDGET_BYTES);
    let cost = u32::try_from(cost).unwrap_or(u32::MAX);
    match tokio::time::timeout(READER_WAIT, unread.clone().acquire_many_owned(cost)).await {
        Ok(Ok(permit)) => Ok(QueuedResult {
            result,
            _unread: permit,
        }),
        // Closed never happens (the semaphore is the call's own).
        Ok(Err(_)) | Err(_) => Err(TaskError::ServerBusy {
            message: format!(
                "the caller left {} MiB of UploadFiles results unread for {} s; read the response stream while sending",
                RESULTS_BUDGET_BYTES / (1024 * 1024),
                READER_WAIT.as_secs()
            ),
            retry_after: std::time::Duration::from_secs(1),
        }),
    }
}

/// Runs the upload over `messages` (everything after the spec) and emits each file's
/// result on `tx` as soon as the file is finished. A broken or cancelled stream fails
/// the call; per-file problems become that file's result. Buffered bytes are claimed
/// from `budget`; when it stays full the call fails with `ServerBusy`. `tx` should hold
/// [`RESULT_QUEUE_DEPTH`] results.
pub async fn upload_files<S>(
    conn: &ConnectionClient,
    spec: &UploadSpec,
    budget: &UploadBudget,
    messages: S,
    tx: &Events<QueuedResult>,
) -> Result<(), TaskError>
where
    S: Stream<Item = Result<UploadMessage, TaskError>> + Unpin,
{
    let unread = Arc::new(Semaphore::new(RESULTS_BUDGET_BYTES));
    let emit_checked = |r: FileResult| {
        let r = FileResult {
            outcome: match r.outcome {
                FileOutcome::Failed(e) => FileOutcome::Failed(conn.check(e)),
                other => other,
            },
            ..r
        };
        let unread = &unread;
        async move { emit(tx, queue(unread, &spec.destination_folder, r).await?).await }
    };
    let files = conn
        .named(upload_all(
            conn.dropbox(),
            spec,
            budget,
            messages,
            emit_checked,
        ))
        .await?;
    tracing::info!(files, "upload finished");
    Ok(())
}

/// Returns how many files were handled.
async fn upload_all<S, E, F>(
    client: &DropboxClient,
    spec: &UploadSpec,
    budget: &UploadBudget,
    mut messages: S,
    emit: E,
) -> Result<usize, TaskError>
where
    S: Stream<Item = Result<UploadMessage, TaskError>> + Unpin,
    E: Fn(FileResult) -> F,
    F: Future<Output = Result<(), TaskError>>,
{
    let mut files = 0;
    let mut open: Option<OpenFile> = None;
    let mut names = NamesInCall::default();
    loop {
        // Room for the next chunk is claimed before it is read: a call that must wait
        // for room then holds no chunk meanwhile, and leaves it in the client's window.
        if let Some(f) = open.as_mut() {
            f.reserve_next_chunk().await?;
        }
        let Some(message) = messages.next().await else {
            break;
        };
        match (message?, open.as_mut()) {
            (UploadMessage::Spec, _) => {
                return Err(TaskError::StreamOutOfOrder(
                    "the upload spec may only come once, as the first message".into(),
                ));
            }
            (UploadMessage::Header(h), None) => {
                if files == MAX_FILES_PER_CALL {
                    let name: String = h.relative_path.chars().take(200).collect();
                    return Err(TaskError::invalid(
                        "file_header",
                        format!(
                            "file {} ({name:?}) is over what one UploadFiles call takes: at most {MAX_FILES_PER_CALL} files; the {files} files before it were handled and their results sent; send the rest in further calls",
                            files + 1,
                        ),
                    ));
                }
                let mut f = start_file(client, spec, h, budget.claim()).await;
                names.check(spec, &mut f);
                open = Some(f);
            }
            (UploadMessage::Header(h), Some(f)) => {
                return Err(TaskError::StreamOutOfOrder(format!(
                    "header for {:?} arrived before the FileEnd of {:?}; send header, chunks, end for each file",
                    h.relative_path, f.header.relative_path
                )));
            }
            (UploadMessage::Chunk { offset, data }, Some(f)) => {
                add_chunk(client, f, offset, data).await?
            }
            (UploadMessage::End { content_hash }, Some(_)) => {
                if let Some(f) = open.take() {
                    files += 1;
                    emit(finish_file(client, spec, f, content_hash).await).await?;
                }
            }
            (UploadMessage::Chunk { .. } | UploadMessage::End { .. }, None) => {
                return Err(TaskError::StreamOutOfOrder(
                    "a chunk or file end arrived outside a file; send a FileHeader first".into(),
                ));
            }
        }
    }
    if let Some(f) = open {
        return Err(TaskError::StreamOutOfOrder(format!(
            "the stream ended inside {:?} (no FileEnd); that file was not stored",
            f.header.relative_path
        )));
    }
    Ok(files)
}

/// Checks a client-given relative path: `/`-separated components, none empty, `.` or `..`.
pub fn check_relative_path(relative: &str) -> Result<(), TaskError> {
    let field = "file_header.relative_path";
    if relative.is_empty() {
        return Err(TaskError::invalid(
            field,
            "a file needs a relative path such as \"sub/a.txt\"",
        ));
    }
    if relative.starts_with('/') {
        return Err(TaskError::invalid(
            field,
            format!("{relative:?} is absolute; give a path relative to the destination folder"),
        ));
    }
    if relative.contains('\\') {
        return Err(TaskError::invalid(
            field,
            format!("{relative:?} contains a backslash; separate folders with \"/\""),
        ));
    }
    if relative
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(TaskError::invalid(
            field,
            format!(
                "{relative:?} has an empty, \".\" or \"..\" component; it must stay under the destination folder"
            ),
        ));
    }
    Ok(())
}

/// Destination folder + relative path.
pub fn destination_path(folder: &str, relative: &str) -> Result<String, TaskError> {
    check_relative_path(relative)?;
    paths::join(folder, relative)
        .map_err(|e| TaskError::invalid_path(format!("{folder}/{relative}"), &e))
}

async fn start_file(
    client: &DropboxClient,
    spec: &UploadSpec,
    header: FileHeader,
    claim: BufferClaim,
) -> OpenFile {
    let mut file = OpenFile {
        destination: String::new(),
        received: 0,
        hasher: ContentHasher::new(),
        piece: BytesMut::new(),
        claim,
        session: None,
        state: State::Writing {
            decision: Decision::Create,
        },
        header,
    };
    file.state = match destination_path(&spec.destination_folder, &file.header.relative_path) {
        Err(e) => State::Failed(e),
        Ok(dest) => {
            file.destination = dest;
            if spec.overwrite == OverwritePolicy::Always {
                // No lookup needed: ALWAYS commits with `overwrite` whatever is there.
                State::Writing {
                    decision: Decision::Replace { rev: String::new() },
                }
            } else {
                let facts = SourceFacts {
                    size: file.header.size,
                    modified: file.header.modified_time,
                    content_hash: file.header.content_hash.as_deref(),
                };
                match lookup(client, &file.destination).await {
                    Err(e) => State::Failed(e),
                    Ok(existing) => state_for(spec.overwrite.decide(existing.as_ref(), &facts)),
                }
            }
        }
    };
    tracing::debug!(path = %file.header.relative_path, "file started");
    file
}

/// The destinations of one call's files, folded as Dropbox compares paths: it is
/// case-insensitive (reference/dropbox-api.md, "Paths"), so `A.txt` and `a.txt` in one
/// call name one file. Left alone, the second would replace the first (ALWAYS) or be
/// skipped as "already exists" (NEVER) - either way one of the caller's files is lost.
/// Dropbox's own clients keep both instead (a "(Case Conflict)" copy), so the second
/// file fails with a path conflict naming the first, or, with autorename, is added
/// beside it under a new name. Unicode forms are not folded: Dropbox keeps NFC and NFD
/// names apart (its desktop client reports them as "Unicode Encoding Conflict").
#[derive(Default)]
struct NamesInCall {
    /// Folded destination -> the relative path that claimed it first.
    first: std::collections::HashMap<String, String>,
}

impl NamesInCall {
    fn check(&mut self, spec: &UploadSpec, f: &mut OpenFile) {
        if f.destination.is_empty() {
            return;
        }
        let key = f.destination.to_lowercase();
        let Some(first) = self.first.get(&key) else {
            self.first.insert(key, f.header.relative_path.clone());
            return;
        };
        if !matches!(f.state, State::Writing { .. } | State::Skipped { .. }) {
            return;
        }
        f.state = if spec.autorename {
            // `add` + autorename: Dropbox stores it beside the first under a new name.
            State::Writing {
                decision: Decision::Create,
            }
        } else {
            State::Failed(TaskError::CaseConflictInCall {
                path: f.destination.clone(),
                first: first.clone(),
            })
        };
    }
}

fn state_for(decision: Decision) -> State {
    match decision {
        Decision::Skip { reason, existing } => State::Skipped {
            reason,
            existing: *existing,
        },
        Decision::Invalid(message) => {
            State::Failed(TaskError::invalid("file_header.modified_time", message))
        }
        other => State::Writing { decision: other },
    }
}

/// The destination's metadata, `None` when nothing is there.
pub(crate) async fn lookup(
    client: &DropboxClient,
    path: &str,
) -> Result<Option<Metadata>, TaskError> {
    match client.get_metadata(path).await {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(TaskError::dropbox(path, e)),
    }
}

/// Takes one chunk of the open file. Problems with the chunk fail the file; only a full
/// buffer budget fails the call (`Err`).
async fn add_chunk(
    client: &DropboxClient,
    f: &mut OpenFile,
    offset: u64,
    data: Bytes,
) -> Result<(), TaskError> {
    if !matches!(f.state, State::Writing { .. }) {
        // Skipped or failed: the bytes are consumed and dropped.
        return Ok(());
    }
    if data.len() > MAX_CHUNK {
        f.fail(TaskError::invalid(
            "chunk.data",
            format!(
                "a chunk carries at most {MAX_CHUNK} bytes, this one {}; split it",
                data.len()
            ),
        ));
        return Ok(());
    }
    if offset != f.received {
        f.fail(TaskError::ChunkOffsetMismatch {
            path: f.header.relative_path.clone(),
            expected: f.received,
            got: offset,
        });
        return Ok(());
    }
    f.claim.grow_to(f.piece.len() + data.len()).await?;
    f.received += data.len() as u64;
    f.hasher.update(&data);
    f.piece.extend_from_slice(&data);
    while f.piece.len() >= PIECE {
        let piece = f.piece.split_to(PIECE).freeze();
        let sent = send_piece(client, f, piece).await;
        f.claim.shrink(PIECE);
        if let Err(e) = sent {
            f.fail(e);
            return Ok(());
        }
    }
    Ok(())
}

/// Sends a full piece: it starts the session, or is appended to it.
async fn send_piece(
    client: &DropboxClient,
    f: &mut OpenFile,
    piece: Bytes,
) -> Result<(), TaskError> {
    let len = piece.len() as u64;
    let dest = f.destination.clone();
    match &mut f.session {
        None => {
            let id = client
                .upload_session_start(piece, false)
                .await
                .map_err(|e| TaskError::dropbox(&dest, e))?;
            f.session = Some(Session { id, offset: len });
        }
        Some(s) => {
            client
                .upload_session_append(&s.id, s.offset, piece, false)
                .await
                .map_err(|e| TaskError::dropbox(&dest, e))?;
            s.offset += len;
        }
    }
    Ok(())
}

impl OpenFile {
    /// Claims budget for the buffered bytes plus one more chunk (while bytes are kept).
    async fn reserve_next_chunk(&mut self) -> Result<(), TaskError> {
        if matches!(self.state, State::Writing { .. }) {
            self.claim.grow_to(self.piece.len() + MAX_CHUNK).await?;
        }
        Ok(())
    }

    fn fail(&mut self, e: TaskError) {
        tracing::debug!(path = %self.header.relative_path, error = %e, "file failed");
        self.state = State::Failed(e);
        // Free the buffered piece now; the session (if any) is abandoned and expires.
        self.piece = BytesMut::new();
        self.claim.release();
    }
}

async fn finish_file(
    client: &DropboxClient,
    spec: &UploadSpec,
    mut f: OpenFile,
    client_hash: Option<String>,
) -> FileResult {
    let relative_path = f.header.relative_path.clone();
    let outcome = match finish_outcome(client, spec, &mut f, client_hash).await {
        Ok(o) => o,
        Err(e) => FileOutcome::Failed(e),
    };
    FileResult {
        relative_path,
        outcome,
    }
}

async fn finish_outcome(
    client: &DropboxClient,
    spec: &UploadSpec,
    f: &mut OpenFile,
    client_hash: Option<String>,
) -> Result<FileOutcome, TaskError> {
    let decision = match std::mem::replace(
        &mut f.state,
        State::Writing {
            decision: Decision::Create,
        },
    ) {
        State::Failed(e) => return Err(e),
        State::Skipped { reason, existing } => {
            return Ok(FileOutcome::Skipped { reason, existing });
        }
        State::Writing { decision } => decision,
    };
    let actual = std::mem::take(&mut f.hasher).finish();
    if let Some(expected) = client_hash.filter(|h| !h.is_empty())
        && !expected.eq_ignore_ascii_case(&actual)
    {
        return Err(TaskError::ContentHashMismatch {
            path: f.header.relative_path.clone(),
            expected,
            actual,
        });
    }
    if let Some(size) = f.header.size
        && size != f.received
    {
        return Err(TaskError::invalid(
            "file_header.size",
            format!(
                "the header announced {size} bytes but {} arrived; the file was not stored",
                f.received
            ),
        ));
    }
    let decision = match decision {
        Decision::NeedSize => {
            let facts = SourceFacts {
                size: Some(f.received),
                modified: f.header.modified_time,
                content_hash: Some(&actual),
            };
            let existing = lookup(client, &f.destination).await?;
            match spec.overwrite.decide(existing.as_ref(), &facts) {
                Decision::Skip { reason, existing } => {
                    return Ok(FileOutcome::Skipped {
                        reason,
                        existing: *existing,
                    });
                }
                Decision::Invalid(message) => {
                    return Err(TaskError::invalid("file_header", message));
                }
                // Still undecided cannot happen with size and hash known; write it.
                other => other,
            }
        }
        other => other,
    };
    let commit = commit_info(spec, &f.destination, &decision, f.header.modified_time)?;
    let last = std::mem::take(&mut f.piece).freeze();
    let stored = match &f.session {
        None => client.upload(&commit, last).await,
        Some(s) => {
            client
                .upload_session_finish_verified(&s.id, s.offset, &commit, last, &actual)
                .await
        }
    }
    .map_err(|e| TaskError::dropbox(&f.destination, e))?;
    if stored
        .content_hash
        .as_deref()
        .is_some_and(|h| !h.eq_ignore_ascii_case(&actual))
    {
        tracing::error!(path = %f.destination, "Dropbox stored a different content_hash than was sent");
        return Err(TaskError::ContentHashMismatch {
            path: f.header.relative_path.clone(),
            expected: actual,
            actual: stored.content_hash.unwrap_or_default(),
        });
    }
    Ok(FileOutcome::Uploaded(stored))
}

/// The commit for a decision: see the overwrite policy and `autorename` in the contract.
pub(crate) fn commit_info(
    spec: &UploadSpec,
    destination: &str,
    decision: &Decision,
    modified: Option<OffsetDateTime>,
) -> Result<CommitInfo, TaskError> {
    let mut commit = CommitInfo::new(destination);
    commit.autorename = spec.autorename;
    if spec.keep_modified_date {
        commit.client_modified = modified;
    }
    commit.mode = match decision {
        Decision::Create => WriteMode::Add,
        // ALWAYS (no lookup was made): replace whatever file is there.
        Decision::Replace { rev } if rev.is_empty() => WriteMode::Overwrite,
        // Conditional replace: only the revision the policy looked at, so a concurrent
        // change turns into a conflict instead of being overwritten unseen.
        Decision::Replace { rev } => WriteMode::Update(rev.clone()),
        Decision::FolderInTheWay if spec.autorename => WriteMode::Add,
        Decision::FolderInTheWay => {
            return Err(TaskError::FolderInTheWay {
                path: destination.to_owned(),
            });
        }
        Decision::NeedSize | Decision::Skip { .. } | Decision::Invalid(_) => {
            return Err(TaskError::Internal(
                "upload committed without a decision".into(),
            ));
        }
    };
    Ok(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_result(relative_path: String) -> FileResult {
        FileResult {
            relative_path,
            outcome: FileOutcome::Failed(TaskError::Cancelled),
        }
    }

    /// A caller that sends everything before reading: results queue without any wait
    /// until RESULTS_BUDGET_BYTES are unread; past that, a result waits READER_WAIT for
    /// the reader and then fails the call with SERVER_BUSY. Time is paused, so the wait
    /// costs nothing here.
    #[tokio::test(start_paused = true)]
    async fn unread_results_past_the_budget_fail_the_call_after_the_reader_wait() {
        let unread = Arc::new(Semaphore::new(RESULTS_BUDGET_BYTES));
        let long = "r".repeat(MAX_PATH_BYTES - 8);
        let cost = result_bytes("/dest", &long);
        let started = tokio::time::Instant::now();
        let mut held = Vec::new();
        while unread.available_permits() >= cost {
            held.push(
                queue(&unread, "/dest", failed_result(long.clone()))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(
            started.elapsed(),
            std::time::Duration::ZERO,
            "no result waited while the budget had room"
        );
        assert!(
            held.len() * cost > RESULTS_BUDGET_BYTES - cost,
            "{}",
            held.len()
        );

        let refused = queue(&unread, "/dest", failed_result(long.clone())).await;
        assert!(
            matches!(refused, Err(TaskError::ServerBusy { .. })),
            "{refused:?}"
        );
        assert_eq!(started.elapsed(), READER_WAIT);

        // A reader that takes one result lets the next one in at once.
        let waiting = tokio::spawn({
            let unread = unread.clone();
            let long = long.clone();
            async move { queue(&unread, "/dest", failed_result(long)).await }
        });
        tokio::task::yield_now().await;
        let taken_at = tokio::time::Instant::now();
        assert_eq!(held.pop().unwrap().take().relative_path, long);
        assert!(waiting.await.unwrap().is_ok());
        assert_eq!(taken_at.elapsed(), std::time::Duration::ZERO);
    }

    #[test]
    fn relative_paths_and_joining() {
        assert_eq!(destination_path("", "a.txt").unwrap(), "/a.txt");
        assert_eq!(
            destination_path("/dest", "sub/deeper/a.txt").unwrap(),
            "/dest/sub/deeper/a.txt"
        );
        for bad in ["", "/abs", "a/../b", "..", "./a", "a//b", "a\\b", "a/"] {
            assert!(destination_path("/dest", bad).is_err(), "{bad:?}");
        }
        // Dropbox's own rules apply too (trailing whitespace).
        assert!(destination_path("/dest", "a ").is_err());
    }

    #[test]
    fn commit_modes() {
        let spec = UploadSpec {
            destination_folder: "/d".into(),
            overwrite: OverwritePolicy::Always,
            keep_modified_date: true,
            autorename: false,
        };
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).ok();
        let c = commit_info(&spec, "/d/a", &Decision::Create, t).unwrap();
        assert_eq!((c.mode, c.client_modified), (WriteMode::Add, t));
        let c = commit_info(&spec, "/d/a", &Decision::Replace { rev: String::new() }, t).unwrap();
        assert_eq!(c.mode, WriteMode::Overwrite);
        let c = commit_info(
            &spec,
            "/d/a",
            &Decision::Replace {
                rev: "0123456789".into(),
            },
            None,
        )
        .unwrap();
        assert_eq!(c.mode, WriteMode::Update("0123456789".into()));
        assert!(commit_info(&spec, "/d/a", &Decision::FolderInTheWay, None).is_err());
        let spec = UploadSpec {
            autorename: true,
            keep_modified_date: false,
            ..spec
        };
        let c = commit_info(&spec, "/d/a", &Decision::FolderInTheWay, t).unwrap();
        assert_eq!(
            (c.mode, c.autorename, c.client_modified),
            (WriteMode::Add, true, None)
        );
    }
}
