//! files/upload and the upload session routes (start, append_v2, finish, finish_batch_v2).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Ctx, parse_path, resolve};
use crate::blob::{BodyError, Stored};
use crate::paths::PathArg;
use crate::sessions::{Piece, SessionErr};
use crate::storage::{Commit, WriteMode};
use crate::wire::{self, ApiError, Arg, nest, tag};

/// Largest request body: 150 MiB.
pub const MAX_BODY: u64 = 150 * 1024 * 1024;

/// A CommitInfo before path resolution.
struct CommitArg {
    path: PathArg,
    mode: WriteMode,
    autorename: bool,
    strict_conflict: bool,
    client_modified: Option<String>,
}

fn parse_commit(arg: &Arg<'_>, malformed: impl FnOnce() -> Value) -> Result<CommitArg, ApiError> {
    let path = parse_path(arg, "path", false, malformed)?;
    let mode = match arg.union_tag("mode")? {
        None | Some("add") => WriteMode::Add,
        Some("overwrite") => WriteMode::Overwrite,
        Some("update") => {
            let rev = arg
                .get("mode")
                .and_then(|m| m.get("update"))
                .and_then(Value::as_str)
                .ok_or_else(|| arg.field_err("mode", "update: missing rev"))?;
            WriteMode::Update(rev.to_string())
        }
        Some(other) => {
            return Err(arg.field_err("mode", &format!("unknown tag '{other}'")));
        }
    };
    let client_modified = match arg.str("client_modified")? {
        None => None,
        Some(s) => Some(wire::parse_ts(s).ok_or_else(|| {
            arg.field_err(
                "client_modified",
                &format!("'{s}' is not a valid timestamp"),
            )
        })?),
    };
    Ok(CommitArg {
        path,
        mode,
        autorename: arg.bool("autorename", false)?,
        strict_conflict: arg.bool("strict_conflict", false)?,
        client_modified,
    })
}

/// Streams the request body into a blob, checking the size limit and `content_hash`.
async fn receive(ctx: &Ctx, expected_hash: Option<&str>) -> Result<Stored, ApiError> {
    if ctx.content_length.is_some_and(|l| l > MAX_BODY) {
        return Err(ApiError::endpoint(tag("payload_too_large")));
    }
    let body = ctx.take_body();
    let mut sink = ctx.st.0.blobs.sink().await.map_err(io_err)?;
    match sink.read_body(body, MAX_BODY).await {
        Ok(()) => {}
        Err(BodyError::TooLarge) => return Err(ApiError::endpoint(tag("payload_too_large"))),
        Err(BodyError::Io(e)) => return Err(io_err(e)),
        Err(BodyError::Client(e)) => {
            return Err(ApiError::Status(
                StatusCode::BAD_REQUEST,
                format!("reading the body: {e}"),
            ));
        }
    }
    let stored = sink.finish().await.map_err(io_err)?;
    if let Some(h) = expected_hash
        && !h.eq_ignore_ascii_case(&stored.content_hash)
    {
        ctx.st.drop_blobs(vec![stored.blob]);
        return Err(ApiError::endpoint(tag("content_hash_mismatch")));
    }
    Ok(stored)
}

fn io_err(e: std::io::Error) -> ApiError {
    tracing::error!("storage: {e}");
    ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, String::new())
}

/// Resolves and commits; the error is the WriteError union.
fn commit(ctx: &Ctx, c: &CommitArg, stored: Stored) -> Result<Value, Value> {
    let Some(caller) = ctx.caller.as_ref() else {
        return Err(tag("other"));
    };
    let result = {
        let mut data = ctx.st.data();
        match resolve(&data.tree, caller, &c.path) {
            Err(_) => {
                drop(data);
                ctx.st.drop_blobs(vec![stored.blob]);
                return Err(tag("malformed_path"));
            }
            Ok(t) => {
                let commit = Commit {
                    components: t.components,
                    mode: c.mode.clone(),
                    autorename: c.autorename,
                    strict_conflict: c.strict_conflict,
                    client_modified: c.client_modified.clone(),
                };
                let blob = stored.blob.clone();
                data.tree
                    .commit(&t.ns, &commit, stored)
                    .map_err(|e| (e, blob))
            }
        }
    };
    match result {
        Ok(done) => {
            ctx.st.drop_blobs(done.garbage);
            Ok(done.metadata)
        }
        Err((e, blob)) => {
            ctx.st.drop_blobs(vec![blob]);
            Err(e.json())
        }
    }
}

pub async fn upload(ctx: Ctx) -> Result<Response, ApiError> {
    let arg_value = ctx.arg.clone();
    let arg = Arg::new(&arg_value);
    let write_failed = |reason: Value| {
        // UploadWriteFailed is a struct: its fields sit next to the tag.
        wire::with_tag("path", json!({ "reason": reason, "upload_session_id": "" }))
    };
    let c = parse_commit(&arg, || write_failed(tag("malformed_path")))?;
    let hash = arg.str("content_hash")?;
    let stored = receive(&ctx, hash).await?;
    let result = commit(&ctx, &c, stored);
    ctx.st.persist().await;
    match result {
        Ok(metadata) => Ok(wire::json_ok(&metadata)),
        Err(reason) => Err(ApiError::endpoint(write_failed(reason))),
    }
}

fn account_id(ctx: &Ctx) -> Result<String, ApiError> {
    Ok(ctx.caller()?.account.account_id.clone())
}

pub async fn start(ctx: Ctx) -> Result<Response, ApiError> {
    let arg_value = ctx.arg.clone();
    let arg = Arg::new(&arg_value);
    let close = arg.bool("close", false)?;
    let concurrent = match arg.union_tag("session_type")? {
        None | Some("sequential") => false,
        Some("concurrent") => true,
        Some(other) => {
            return Err(arg.field_err("session_type", &format!("unknown tag '{other}'")));
        }
    };
    let account = account_id(&ctx)?;
    if concurrent {
        if close {
            return Err(ApiError::endpoint(tag(
                "concurrent_session_close_not_allowed",
            )));
        }
        if ctx.content_length.is_some_and(|l| l > 0) {
            return Err(ApiError::endpoint(tag(
                "concurrent_session_data_not_allowed",
            )));
        }
    }
    let stored = receive(&ctx, arg.str("content_hash")?).await?;
    let stored = if concurrent {
        let len = stored.len;
        ctx.st.drop_blobs(vec![stored.blob]);
        if len > 0 {
            return Err(ApiError::endpoint(tag(
                "concurrent_session_data_not_allowed",
            )));
        }
        None
    } else {
        Some(stored)
    };
    let mut sessions = ctx.st.sessions();
    let id = sessions.create(&account, concurrent);
    if let Some(stored) = stored {
        let piece = Piece {
            blob: stored.blob,
            len: stored.len,
            content_hash: stored.content_hash,
        };
        if let Ok(s) = sessions.get_mut(&id, &account)
            && let Ok(Some(old)) = s.add_piece(0, piece, close)
        {
            drop(sessions);
            ctx.st.drop_blobs(vec![old.blob]);
        }
    }
    Ok(wire::json_ok(&json!({ "session_id": id })))
}

fn cursor_of(arg: &Arg<'_>, v: &Value) -> Result<(String, u64), ApiError> {
    let c = arg.nested("cursor", v);
    let id = c.req_str("session_id")?.to_string();
    let offset = c
        .u64("offset")?
        .ok_or_else(|| c.err("missing required field 'offset'".into()))?;
    Ok((id, offset))
}

pub async fn append(ctx: Ctx, v2: bool) -> Result<Response, ApiError> {
    let arg_value = ctx.arg.clone();
    let arg = Arg::new(&arg_value);
    let (id, offset, close) = if v2 {
        let (id, offset) = cursor_of(&arg, arg.req("cursor")?)?;
        (id, offset, arg.bool("close", false)?)
    } else {
        let (id, offset) = cursor_of(&arg, &arg_value)?;
        (id, offset, false)
    };
    let account = account_id(&ctx)?;
    let lookup = |e: SessionErr| ApiError::endpoint(e.json());
    ctx.st
        .sessions()
        .get_mut(&id, &account)
        .and_then(|s| s.check_append_start(offset))
        .map_err(lookup)?;
    let stored = receive(&ctx, arg.str("content_hash")?).await?;
    let piece = Piece {
        blob: stored.blob.clone(),
        len: stored.len,
        content_hash: stored.content_hash,
    };
    let result = ctx
        .st
        .sessions()
        .get_mut(&id, &account)
        .and_then(|s| s.add_piece(offset, piece, close));
    match result {
        Ok(old) => {
            ctx.st.drop_blobs(old.into_iter().map(|p| p.blob).collect());
            Ok(wire::json_ok(&Value::Null))
        }
        Err(e) => {
            ctx.st.drop_blobs(vec![stored.blob]);
            Err(lookup(e))
        }
    }
}

/// UploadSessionFinishError for a session rule.
fn finish_err(e: SessionErr) -> Value {
    match e {
        SessionErr::MissingData => tag("concurrent_session_missing_data"),
        other => nest("lookup_failed", other.json()),
    }
}

/// Finishes one session: takes its pieces, assembles the file and commits it.
async fn finish_one(
    ctx: &Ctx,
    id: &str,
    offset: u64,
    c: &CommitArg,
    body: Option<Stored>,
    batch: bool,
) -> Result<Value, Value> {
    let Ok(account) = account_id(ctx) else {
        return Err(tag("other"));
    };
    let discard = |body: Option<Stored>| {
        if let Some(b) = body {
            ctx.st.drop_blobs(vec![b.blob]);
        }
    };
    // Take the session out of the table while its file is assembled.
    let session = {
        let mut sessions = ctx.st.sessions();
        let checked = sessions.get_mut(id, &account).and_then(|s| {
            let has_body = body.as_ref().is_some_and(|b| b.len > 0);
            if s.concurrent {
                if has_body {
                    return Err(SessionErr::InvalidDataSize);
                }
                if !s.closed {
                    return Err(SessionErr::NotClosed);
                }
                if offset != s.offset {
                    return Err(SessionErr::IncorrectOffset(s.offset));
                }
            } else {
                if offset != s.offset {
                    return Err(SessionErr::IncorrectOffset(s.offset));
                }
                if s.closed && has_body {
                    return Err(SessionErr::Closed);
                }
                if batch && !s.closed {
                    return Err(SessionErr::NotClosed);
                }
            }
            s.ordered_pieces()?;
            Ok(s.concurrent)
        });
        match checked {
            Ok(_) => sessions.map.remove(id),
            Err(e) => {
                drop(sessions);
                let concurrent = ctx.st.sessions().map.get(id).is_some_and(|s| s.concurrent);
                discard(body);
                return Err(match e {
                    SessionErr::InvalidDataSize => tag("concurrent_session_data_not_allowed"),
                    SessionErr::NotClosed if concurrent => tag("concurrent_session_not_closed"),
                    other => finish_err(other),
                });
            }
        }
    };
    let Some(mut session) = session else {
        discard(body);
        return Err(finish_err(SessionErr::NotFound));
    };
    if let Some(b) = body {
        if b.len > 0 {
            let piece = Piece {
                blob: b.blob,
                len: b.len,
                content_hash: b.content_hash,
            };
            if let Ok(Some(unused)) = session.add_piece(offset, piece, true) {
                ctx.st.drop_blobs(vec![unused.blob]);
            }
        } else {
            ctx.st.drop_blobs(vec![b.blob]);
        }
    }
    let pieces = match session.ordered_pieces() {
        Ok(p) => p,
        Err(e) => return Err(finish_err(e)),
    };
    let assembled = match assemble(ctx, &pieces).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("assembling an upload session: {e}");
            ctx.st.sessions().map.insert(id.to_string(), session);
            return Err(tag("other"));
        }
    };
    match commit(ctx, c, assembled) {
        Ok(metadata) => {
            // Memory pieces share their bytes with the file; dropping them is a no-op.
            ctx.st
                .drop_blobs(pieces.into_iter().map(|p| p.blob).collect());
            Ok(metadata)
        }
        Err(e) => {
            ctx.st.sessions().map.insert(id.to_string(), session);
            Err(nest("path", e))
        }
    }
}

/// Concatenates the pieces of a session into one blob (hashing on the way).
async fn assemble(ctx: &Ctx, pieces: &[Piece]) -> std::io::Result<Stored> {
    if let [only] = pieces {
        // The single piece becomes the file (commit may drop it, so keep a copy when the
        // session might be restored: memory blobs are cheap to clone, disk blobs are copied).
        if let crate::blob::Blob::Memory(_) = only.blob {
            return Ok(Stored {
                blob: only.blob.clone(),
                content_hash: only.content_hash.clone(),
                len: only.len,
            });
        }
    }
    let blobs = &ctx.st.0.blobs;
    let mut sink = blobs.sink().await?;
    for p in pieces {
        blobs.copy_into(&p.blob, p.len, &mut sink).await?;
    }
    sink.finish().await
}

pub async fn finish(ctx: Ctx) -> Result<Response, ApiError> {
    let arg_value = ctx.arg.clone();
    let arg = Arg::new(&arg_value);
    let (id, offset) = cursor_of(&arg, arg.req("cursor")?)?;
    let commit_value = arg.req("commit")?;
    let c = parse_commit(&arg.nested("commit", commit_value), || {
        nest("path", tag("malformed_path"))
    })?;
    let account = account_id(&ctx)?;
    // Refuse early, before reading a body that would be thrown away.
    let early = ctx
        .st
        .sessions()
        .get_mut(&id, &account)
        .map(|s| s.concurrent);
    match early {
        Err(e) => return Err(ApiError::endpoint(finish_err(e))),
        Ok(true) if ctx.content_length.is_some_and(|l| l > 0) => {
            return Err(ApiError::endpoint(tag(
                "concurrent_session_data_not_allowed",
            )));
        }
        Ok(_) => {}
    }
    let body = receive(&ctx, arg.str("content_hash")?).await?;
    let result = finish_one(&ctx, &id, offset, &c, Some(body), false).await;
    ctx.st.persist().await;
    match result {
        Ok(metadata) => Ok(wire::json_ok(&metadata)),
        Err(e) => Err(ApiError::endpoint(e)),
    }
}

pub async fn finish_batch(ctx: Ctx, launch: bool) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let entries = arg.array("entries")?;
    if entries.len() > 1000 {
        return Err(arg.field_err("entries", "must have at most 1000 items"));
    }
    let mut parsed = Vec::new();
    for entry in entries {
        let e = arg.nested("entries", entry);
        let (id, offset) = cursor_of(&e, e.req("cursor")?)?;
        let commit_value = e.req("commit")?;
        let c = parse_commit(&e.nested("commit", commit_value), || {
            nest("path", tag("malformed_path"))
        });
        parsed.push((id, offset, c));
    }
    let _batch = ctx.st.0.batch_lock.lock().await;
    let mut results = Vec::new();
    for (id, offset, c) in parsed {
        let r = match c {
            Ok(c) => finish_one(&ctx, &id, offset, &c, None, true).await,
            Err(ApiError::Endpoint(v)) => Err(v),
            Err(e) => return Err(e),
        };
        results.push(match r {
            Ok(metadata) => wire::with_tag("success", metadata),
            Err(failure) => json!({ ".tag": "failure", "failure": failure }),
        });
    }
    drop(_batch);
    ctx.st.persist().await;
    if launch {
        let job = super::files::new_job(&ctx, json!({ ".tag": "complete", "entries": results }));
        return Ok(wire::json_ok(
            &json!({ ".tag": "async_job_id", "async_job_id": job }),
        ));
    }
    Ok(wire::json_ok(&json!({ "entries": results })))
}
