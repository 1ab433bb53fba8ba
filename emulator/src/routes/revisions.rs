//! files/list_revisions: the revisions of one file, newest first.

use axum::response::Response;
use serde_json::json;

use super::files::lookup_err;
use super::{Ctx, parse_path, resolve_node};
use crate::storage::LookupErr;
use crate::wire::{self, ApiError, Arg, nest, tag};

// ListRevisionsError has `path` (a LookupError), as DownloadError and GetMetadataError do,
// so files.rs's lookup_err builds it.

/// ListRevisionsArg `{path, mode, limit, before_rev}` -> ListRevisionsResult
/// `{is_deleted, entries, has_more}`.
/// `mode` is `path` (default) or `id`: "in path (default) mode, all revisions at the same
/// file path as the latest file entry are returned; if revisions with the same file id are
/// desired, then mode must be set to id" (Dropbox's ListRevisionsArg docs). Files here never
/// move, so both give the same list. `limit` is 1..=100, default 10 (Dropbox Java SDK,
/// ListRevisionsBuilder.withLimit).
pub fn list_revisions(ctx: Ctx) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let path = parse_path(&arg, "path", false, || nest("path", tag("malformed_path")))?;
    match arg.union_tag("mode")? {
        None | Some("path") | Some("id") => {}
        Some(other) => return Err(arg.field_err("mode", &format!("unknown tag '{other}'"))),
    }
    let limit = arg.limit("limit", 10, 100)?;
    let caller = ctx.caller()?;
    let data = ctx.st.data();
    let (t, node) = resolve_node(&data.tree, caller, &path).map_err(lookup_err)?;
    if node.is_folder() {
        return Err(lookup_err(LookupErr::NotFile));
    }
    // `before_rev`: only revisions older than this one, the way to page on with
    // `has_more` (the official Python SDK's ListRevisionsArg/ListRevisionsResult docs).
    let mut older = node.revisions().peekable();
    if let Some(before) = arg.str("before_rev")? {
        if node.version(before).is_none() {
            return Err(lookup_err(LookupErr::NotFound));
        }
        older.find(|f| f.rev == before);
    }
    let entries: Vec<_> = older
        .by_ref()
        .take(limit)
        .map(|f| data.tree.version_metadata(&t.ns, &t.key, node, f))
        .collect();
    Ok(wire::json_ok(&json!({
        "is_deleted": false,
        "entries": entries,
        "has_more": older.peek().is_some(),
    })))
}
