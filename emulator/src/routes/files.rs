//! list_folder (+continue), get_metadata, create_folder_v2, delete_v2, delete_batch and
//! the async job check routes.

use axum::response::Response;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Ctx, parse_path, resolve, resolve_node};
use crate::paths::PathArg;
use crate::storage::LookupErr;
use crate::wire::{self, ApiError, Arg, nest, tag};

#[derive(Serialize, Deserialize)]
struct Cursor {
    ns: String,
    key: String,
    recursive: bool,
    limit: usize,
    /// Paging: the last key returned. `None`: changes since `since`.
    after: Option<String>,
    since: u64,
    epoch: u64,
}

impl Cursor {
    fn encode(&self) -> String {
        let raw = serde_json::to_vec(self).unwrap_or_default();
        format!(
            "AAE{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        )
    }

    fn decode(s: &str) -> Option<Cursor> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.strip_prefix("AAE")?)
            .ok()?;
        serde_json::from_slice(&raw).ok()
    }
}

pub(super) fn lookup_err(e: LookupErr) -> ApiError {
    ApiError::endpoint(nest("path", e.json()))
}

pub fn get_metadata(ctx: Ctx) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let path = parse_path(&arg, "path", false, || nest("path", tag("malformed_path")))?;
    let caller = ctx.caller()?;
    let data = ctx.st.data();
    let (t, node) = resolve_node(&data.tree, caller, &path).map_err(lookup_err)?;
    // GetMetadataArg.path takes `rev:` as well (its documented pattern,
    // paths::PATTERN); it describes that revision.
    if let PathArg::Rev(rev) = &path {
        let file = node.version(rev).ok_or(lookup_err(LookupErr::NotFound))?;
        let metadata = data.tree.version_metadata(&t.ns, &t.key, node, file);
        return Ok(wire::json_ok(&wire::with_tag("file", metadata)));
    }
    Ok(wire::json_ok(&data.tree.metadata(&t.ns, &t.key, node)))
}

pub fn list_folder(ctx: Ctx) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let path = parse_path(&arg, "path", true, || nest("path", tag("malformed_path")))?;
    let recursive = arg.bool("recursive", false)?;
    let _include_deleted = arg.bool("include_deleted", false)?;
    let limit = arg.limit("limit", 2000, 2000)?;
    let caller = ctx.caller()?;
    let data = ctx.st.data();
    let t = resolve(&data.tree, caller, &path).map_err(lookup_err)?;
    if !t.key.is_empty() {
        match data.tree.get(&t.ns, &t.key) {
            None => return Err(lookup_err(LookupErr::NotFound)),
            Some(n) if !n.is_folder() => return Err(lookup_err(LookupErr::NotFolder)),
            Some(_) => {}
        }
    }
    let since = data.tree.seq;
    let (entries, after) = data.tree.list_page(&t.ns, &t.key, recursive, None, limit);
    let cursor = Cursor {
        ns: t.ns,
        key: t.key,
        recursive,
        limit,
        after: after.clone(),
        since,
        epoch: data.tree.epoch,
    };
    Ok(page(entries, cursor, after.is_some()))
}

fn page(entries: Vec<Value>, cursor: Cursor, has_more: bool) -> Response {
    wire::json_ok(&json!({
        "entries": entries,
        "cursor": cursor.encode(),
        "has_more": has_more,
    }))
}

fn read_cursor(ctx: &Ctx) -> Result<Cursor, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let raw = arg.req_str("cursor")?;
    let cursor = Cursor::decode(raw).ok_or_else(|| arg.field_err("cursor", "Invalid cursor"))?;
    let caller = ctx.caller()?;
    if !caller.namespaces.contains(&cursor.ns) {
        return Err(arg.field_err("cursor", "Invalid cursor"));
    }
    Ok(cursor)
}

pub fn list_folder_continue(ctx: Ctx) -> Result<Response, ApiError> {
    let mut cursor = read_cursor(&ctx)?;
    let data = ctx.st.data();
    if cursor.epoch != data.tree.epoch {
        return Err(ApiError::endpoint(tag("reset")));
    }
    match cursor.after.take() {
        Some(after) => {
            if !cursor.key.is_empty() && data.tree.get(&cursor.ns, &cursor.key).is_none() {
                return Err(lookup_err(LookupErr::NotFound));
            }
            let (entries, next) = data.tree.list_page(
                &cursor.ns,
                &cursor.key,
                cursor.recursive,
                Some(&after),
                cursor.limit,
            );
            let has_more = next.is_some();
            cursor.after = next;
            Ok(page(entries, cursor, has_more))
        }
        None => {
            let entries =
                data.tree
                    .changes(&cursor.ns, &cursor.key, cursor.recursive, cursor.since);
            cursor.since = data.tree.seq;
            Ok(page(entries, cursor, false))
        }
    }
}

pub fn latest_cursor(ctx: Ctx) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let path = parse_path(&arg, "path", true, || nest("path", tag("malformed_path")))?;
    let recursive = arg.bool("recursive", false)?;
    let caller = ctx.caller()?;
    let data = ctx.st.data();
    let t = resolve(&data.tree, caller, &path).map_err(lookup_err)?;
    let cursor = Cursor {
        ns: t.ns,
        key: t.key,
        recursive,
        limit: 2000,
        after: None,
        since: data.tree.seq,
        epoch: data.tree.epoch,
    };
    Ok(wire::json_ok(&json!({ "cursor": cursor.encode() })))
}

pub async fn create_folder(ctx: Ctx) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let path = parse_path(&arg, "path", false, || nest("path", tag("malformed_path")))?;
    let autorename = arg.bool("autorename", false)?;
    let caller = ctx.caller()?;
    let metadata = {
        let mut data = ctx.st.data();
        let t = resolve(&data.tree, caller, &path)
            .map_err(|_| ApiError::endpoint(nest("path", tag("malformed_path"))))?;
        data.tree
            .create_folder(&t.ns, &t.components, autorename)
            .map_err(|e| ApiError::endpoint(nest("path", e.json())))?
    };
    ctx.st.persist().await;
    Ok(wire::json_ok(&json!({ "metadata": metadata })))
}

/// Deletes one path argument; returns the metadata or the DeleteError union.
fn delete_one(ctx: &Ctx, entry: &Value) -> Result<Value, Result<Value, ApiError>> {
    let arg = Arg::new(entry);
    let path = parse_path(&arg, "path", false, || {
        nest("path_lookup", tag("malformed_path"))
    })
    .map_err(|e| match e {
        ApiError::Endpoint(v) => Ok(v),
        other => Err(other),
    })?;
    let parent_rev = arg.str("parent_rev").map_err(Err)?;
    let caller = ctx.caller().map_err(Err)?;
    let (metadata, garbage) = {
        let mut data = ctx.st.data();
        let t =
            resolve(&data.tree, caller, &path).map_err(|e| Ok(nest("path_lookup", e.json())))?;
        data.tree
            .delete(&t.ns, &t.key, parent_rev)
            .map_err(|e| Ok(e.json()))?
    };
    ctx.st.drop_blobs(garbage);
    Ok(metadata)
}

pub async fn delete(ctx: Ctx) -> Result<Response, ApiError> {
    let result = delete_one(&ctx, &ctx.arg);
    ctx.st.persist().await;
    match result {
        Ok(metadata) => Ok(wire::json_ok(&json!({ "metadata": metadata }))),
        Err(Ok(error)) => Err(ApiError::endpoint(error)),
        Err(Err(e)) => Err(e),
    }
}

pub async fn delete_batch(ctx: Ctx) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let entries = arg.array("entries")?;
    if entries.len() > 1000 {
        return Err(arg.field_err("entries", "must have at most 1000 items"));
    }
    let mut results = Vec::new();
    for entry in entries {
        results.push(match delete_one(&ctx, entry) {
            Ok(metadata) => json!({ ".tag": "success", "metadata": metadata }),
            Err(Ok(failure)) => json!({ ".tag": "failure", "failure": failure }),
            Err(Err(e)) => return Err(e),
        });
    }
    ctx.st.persist().await;
    let job = new_job(&ctx, json!({ ".tag": "complete", "entries": results }));
    Ok(wire::json_ok(
        &json!({ ".tag": "async_job_id", "async_job_id": job }),
    ))
}

/// Stores a finished job's answer; returns its id.
pub fn new_job(ctx: &Ctx, result: Value) -> String {
    let id = format!("dbjid:{}", crate::auth::random_token("", 36));
    let owner = ctx
        .caller
        .as_ref()
        .map(|c| c.account.account_id.clone())
        .unwrap_or_default();
    crate::state::lock(&ctx.st.0.jobs)
        .insert(id.clone(), json!({ "owner": owner, "result": result }));
    id
}

pub fn job_check(ctx: Ctx, _upload: bool) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let id = arg.req_str("async_job_id")?;
    let owner = ctx.caller()?.account.account_id.clone();
    let jobs = crate::state::lock(&ctx.st.0.jobs);
    match jobs.get(id) {
        Some(job) if job["owner"] == json!(owner) => Ok(wire::json_ok(&job["result"])),
        _ => Err(ApiError::endpoint(tag("invalid_async_job_id"))),
    }
}
