//! files/download (with Range) and files/download_zip.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Ctx, parse_path, resolve, resolve_node};
use crate::paths::PathArg;
use crate::storage::{LookupErr, Node};
use crate::wire::{self, ApiError, Arg, nest, tag};

fn lookup_err(e: LookupErr) -> ApiError {
    ApiError::endpoint(nest("path", e.json()))
}

/// Parses `Range: bytes=...` for a file of `size` bytes: Ok(None) = whole file.
fn parse_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(h) = header else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            let e: u64 = b.parse().map_err(|_| ())?;
            if e < start {
                return Err(());
            }
            e.min(size.saturating_sub(1))
        };
        (start, end)
    };
    if size == 0 || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn set(resp: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn result_header(resp: &mut Response, result: &Value) {
    if let Ok(v) = HeaderValue::from_str(&wire::header_json(result)) {
        resp.headers_mut().insert("dropbox-api-result", v);
    }
}

pub async fn download(ctx: Ctx) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let mut path = parse_path(&arg, "path", false, || nest("path", tag("malformed_path")))?;
    if let Some(rev) = arg.str("rev")? {
        path = PathArg::Rev(rev.to_string());
    }
    let caller = ctx.caller()?;
    let (metadata, file) = {
        let data = ctx.st.data();
        let (t, node) = resolve_node(&data.tree, caller, &path).map_err(lookup_err)?;
        let file = match &path {
            // `rev:` names one revision, not the file's current one (reference/dropbox-api.md:
            // files/download takes `{path}` as path, `id:...` or `rev:...`); a rev Dropbox
            // does not hold is path/not_found.
            PathArg::Rev(rev) => node.version(rev).ok_or(lookup_err(LookupErr::NotFound))?,
            _ => node.file.as_ref().ok_or(lookup_err(LookupErr::NotFile))?,
        };
        (
            data.tree.version_metadata(&t.ns, &t.key, node, file),
            file.clone(),
        )
    };
    let range_header = ctx.headers.get("range").and_then(|v| v.to_str().ok());
    let range = match parse_range(range_header, file.size) {
        Ok(r) => r,
        Err(()) => {
            let mut resp = wire::text(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "Requested range not satisfiable".into(),
            );
            set(
                &mut resp,
                header::CONTENT_RANGE,
                &format!("bytes */{}", file.size),
            );
            return Ok(resp);
        }
    };
    let (start, len) = match range {
        Some((s, e)) => (s, e - s + 1),
        None => (0, file.size),
    };
    let stream = ctx
        .st
        .0
        .blobs
        .read(&file.blob, start, len)
        .await
        .map_err(|e| ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let stream = crate::meter::metered(stream, ctx.st.0.downloads.clone());
    let mut resp = Response::new(Body::from_stream(stream));
    if let Some((s, e)) = range {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        set(
            &mut resp,
            header::CONTENT_RANGE,
            &format!("bytes {s}-{e}/{}", file.size),
        );
    }
    set(&mut resp, header::CONTENT_TYPE, "application/octet-stream");
    set(&mut resp, header::CONTENT_LENGTH, &len.to_string());
    set(&mut resp, header::ACCEPT_RANGES, "bytes");
    set(&mut resp, header::ETAG, &format!("W/\"{}\"", file.rev));
    result_header(&mut resp, &metadata);
    Ok(resp)
}

const MAX_ZIP_FILE: u64 = 4 * 1024 * 1024 * 1024;
const MAX_ZIP_TOTAL: u64 = 20 * 1024 * 1024 * 1024;
const MAX_ZIP_ENTRIES: usize = 10_000;

pub async fn download_zip(ctx: Ctx) -> Result<Response, ApiError> {
    let arg = Arg::new(&ctx.arg);
    let path = parse_path(&arg, "path", false, || nest("path", tag("malformed_path")))?;
    let caller = ctx.caller()?;
    let (metadata, root_display, entries) = {
        let data = ctx.st.data();
        let t = resolve(&data.tree, caller, &path).map_err(lookup_err)?;
        let node = data
            .tree
            .get(&t.ns, &t.key)
            .ok_or(lookup_err(LookupErr::NotFound))?;
        if !node.is_folder() {
            return Err(lookup_err(LookupErr::NotFolder));
        }
        (
            data.tree.folder_metadata(&t.ns, &t.key, node),
            data.tree.display(&t.ns, &t.key),
            data.tree.subtree(&t.ns, &t.key),
        )
    };
    if entries.len() > MAX_ZIP_ENTRIES {
        return Err(ApiError::endpoint(tag("too_many_files")));
    }
    let total: u64 = entries
        .iter()
        .filter_map(|(_, n)| n.file.as_ref().map(|f| f.size))
        .sum();
    let too_big = entries
        .iter()
        .any(|(_, n)| n.file.as_ref().is_some_and(|f| f.size >= MAX_ZIP_FILE));
    if too_big || total > MAX_ZIP_TOTAL {
        return Err(ApiError::endpoint(tag("too_large")));
    }
    let folder_name = metadata["name"].as_str().unwrap_or("folder").to_string();
    let prefix_len = root_display.len();
    let blobs = ctx.st.0.blobs.clone();
    let scratch = blobs.scratch_path();
    let build = tokio::task::spawn_blocking(move || {
        build_zip(&blobs, scratch, &folder_name, prefix_len, &entries)
    })
    .await
    .map_err(|e| ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let (body, len) = match build {
        Zipped::Memory(bytes) => {
            let len = bytes.len() as u64;
            (Body::from(bytes), len)
        }
        Zipped::File(path) => {
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
            // The open handle keeps the bytes readable after the name is gone.
            let _ = tokio::fs::remove_file(&path).await;
            (
                Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024)),
                len,
            )
        }
    };
    let mut resp = Response::new(body);
    set(&mut resp, header::CONTENT_TYPE, "application/zip");
    set(&mut resp, header::CONTENT_LENGTH, &len.to_string());
    result_header(&mut resp, &json!({ "metadata": metadata }));
    Ok(resp)
}

enum Zipped {
    Memory(Vec<u8>),
    File(std::path::PathBuf),
}

fn build_zip(
    blobs: &crate::blob::BlobStore,
    scratch: Option<std::path::PathBuf>,
    folder_name: &str,
    prefix_len: usize,
    entries: &[(String, Node)],
) -> std::io::Result<Zipped> {
    match scratch {
        None => {
            let cursor = std::io::Cursor::new(Vec::new());
            let cursor = write_zip(blobs, cursor, folder_name, prefix_len, entries)?;
            Ok(Zipped::Memory(cursor.into_inner()))
        }
        Some(path) => {
            let file = std::fs::File::create(&path)?;
            match write_zip(blobs, file, folder_name, prefix_len, entries) {
                Ok(_) => Ok(Zipped::File(path)),
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    Err(e)
                }
            }
        }
    }
}

fn write_zip<W: std::io::Write + std::io::Seek>(
    blobs: &crate::blob::BlobStore,
    out: W,
    folder_name: &str,
    prefix_len: usize,
    entries: &[(String, Node)],
) -> std::io::Result<W> {
    let mut zip = zip::ZipWriter::new(out);
    let base =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.add_directory(format!("{folder_name}/"), base)
        .map_err(std::io::Error::other)?;
    for (display, node) in entries {
        let rel = display
            .get(prefix_len..)
            .unwrap_or(display)
            .trim_start_matches('/');
        let name = format!("{folder_name}/{rel}");
        match &node.file {
            None => zip
                .add_directory(format!("{name}/"), base)
                .map_err(std::io::Error::other)?,
            Some(f) => {
                let options = base.large_file(f.size >= 0xFFFF_FFFF);
                zip.start_file(name, options)
                    .map_err(std::io::Error::other)?;
                let mut reader = blobs.open_sync(&f.blob)?;
                std::io::copy(&mut reader, &mut zip)?;
            }
        }
    }
    zip.finish().map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=2-5"), 10), Ok(Some((2, 5))));
        assert_eq!(parse_range(Some("bytes=2-"), 10), Ok(Some((2, 9))));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Err(()));
    }
}
