//! files/* routes.

use bytes::Bytes;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;

use crate::client::{CallState, DropboxClient, Host, Payload, Received, body_stream};
use crate::content_hash::content_hash;
use crate::error::{ConflictKind, Error, LookupError, SessionError};
use crate::paths;
use crate::wire::{
    FileMetadata, FolderMetadata, Metadata, RawMetadata, decode_result_header, header_arg,
    ser_opt_timestamp,
};

/// Dropbox's limit for one request body (files/upload, or one session append).
pub const MAX_REQUEST_BODY: usize = 150 * 1024 * 1024;

/// How an upload treats an existing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// Never overwrite (conflict, or a renamed copy with `autorename`).
    Add,
    /// Replace whatever file is there.
    Overwrite,
    /// Replace only if the current revision is this one.
    Update(String),
}

impl Serialize for WriteMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            WriteMode::Add => s.serialize_str("add"),
            WriteMode::Overwrite => s.serialize_str("overwrite"),
            WriteMode::Update(rev) => {
                serde_json::json!({".tag": "update", "update": rev}).serialize(s)
            }
        }
    }
}

/// Where and how an upload is committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    pub path: String,
    pub mode: WriteMode,
    pub autorename: bool,
    #[serde(
        serialize_with = "ser_opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_modified: Option<OffsetDateTime>,
    pub mute: bool,
    pub strict_conflict: bool,
}

impl CommitInfo {
    /// `mode: add`, no autorename, no client_modified, not muted, not strict.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            mode: WriteMode::Add,
            autorename: false,
            client_modified: None,
            mute: false,
            strict_conflict: false,
        }
    }

    fn validated(&self) -> Result<CommitInfo, Error> {
        let mut c = self.clone();
        c.path = paths::normalize_non_root(&self.path)?;
        Ok(c)
    }
}

/// An HTTP byte range: `start..=end`, or `start..` when `end` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive end.
    pub end: Option<u64>,
}

impl ByteRange {
    fn header(&self) -> String {
        match self.end {
            Some(end) => format!("bytes={}-{}", self.start, end),
            None => format!("bytes={}-", self.start),
        }
    }
}

/// A parsed `Content-Range: bytes start-end/total` of a 206 reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    /// Inclusive end.
    pub end: u64,
    pub total: Option<u64>,
}

/// A download in progress: metadata first, then the bytes as a stream (never buffered
/// whole). Each read must deliver within the transport timeout.
pub struct Download {
    pub metadata: FileMetadata,
    /// Bytes this response will deliver (`Content-Length`), if the server said.
    pub content_length: Option<u64>,
    /// Set when the server answered a range request with 206.
    pub content_range: Option<ContentRange>,
    pub body: BoxStream<'static, Result<Bytes, Error>>,
}

impl Download {
    /// Size of the whole file (not of this range).
    pub fn total_len(&self) -> u64 {
        self.content_range
            .and_then(|r| r.total)
            .unwrap_or(self.metadata.size)
    }
    /// Offset of the first byte of `body` within the file.
    pub fn start_offset(&self) -> u64 {
        self.content_range.map(|r| r.start).unwrap_or(0)
    }
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("metadata", &self.metadata)
            .field("content_length", &self.content_length)
            .field("content_range", &self.content_range)
            .finish_non_exhaustive()
    }
}

/// One page of files/list_folder (deleted entries already removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFolderPage {
    pub entries: Vec<Metadata>,
    pub cursor: String,
    pub has_more: bool,
}

#[derive(Deserialize)]
struct RawListFolder {
    entries: Vec<RawMetadata>,
    cursor: String,
    has_more: bool,
}

impl From<RawListFolder> for ListFolderPage {
    fn from(r: RawListFolder) -> Self {
        ListFolderPage {
            entries: r
                .entries
                .into_iter()
                .filter_map(RawMetadata::into_metadata)
                .collect(),
            cursor: r.cursor,
            has_more: r.has_more,
        }
    }
}

#[derive(Serialize)]
struct Cursor<'a> {
    session_id: &'a str,
    offset: u64,
}

#[derive(Deserialize)]
struct MetadataWrapper<T> {
    metadata: T,
}

fn check_body(body: &Bytes) -> Result<(), Error> {
    if body.len() > MAX_REQUEST_BODY {
        return Err(Error::PayloadTooLarge {
            summary: format!("request body of {} bytes is over 150 MiB", body.len()),
        });
    }
    Ok(())
}

impl DropboxClient {
    /// `files/get_metadata`. The root (`""` or `"/"`) is not supported by Dropbox; it is
    /// answered locally with a folder whose name, id and paths are empty.
    pub async fn get_metadata(&self, path: &str) -> Result<Metadata, Error> {
        let path = paths::normalize(path)?;
        if path.is_empty() {
            return Ok(Metadata::Folder(FolderMetadata {
                name: String::new(),
                id: String::new(),
                path_lower: Some(String::new()),
                path_display: Some(String::new()),
            }));
        }
        let arg = serde_json::json!({"path": path});
        let raw: RawMetadata = self
            .rpc("files/get_metadata", &arg, &mut CallState::default())
            .await?;
        raw.into_metadata().ok_or_else(|| Error::Path {
            kind: LookupError::NotFound,
            summary: "path/not_found/ (deleted)".into(),
        })
    }

    /// `files/list_folder`. `limit` is clamped to 1..=2000. Deleted entries are skipped.
    pub async fn list_folder(
        &self,
        path: &str,
        recursive: bool,
        limit: Option<u32>,
    ) -> Result<ListFolderPage, Error> {
        let path = paths::normalize(path)?;
        let mut arg = serde_json::json!({
            "path": path,
            "recursive": recursive,
            "include_deleted": false,
        });
        if let Some(l) = limit {
            arg["limit"] = serde_json::json!(l.clamp(1, 2000));
        }
        let raw: RawListFolder = self
            .rpc("files/list_folder", &arg, &mut CallState::default())
            .await?;
        Ok(raw.into())
    }

    /// `files/list_folder/continue`. `Error::CursorReset` means: list again from the start.
    pub async fn list_folder_continue(&self, cursor: &str) -> Result<ListFolderPage, Error> {
        let arg = serde_json::json!({"cursor": cursor});
        let raw: RawListFolder = self
            .rpc(
                "files/list_folder/continue",
                &arg,
                &mut CallState::default(),
            )
            .await?;
        Ok(raw.into())
    }

    /// `files/upload` (at most 150 MiB), with the body's content_hash. A retry after an
    /// unknown outcome that hits a conflict is resolved by comparing the content_hash of
    /// the file now at `commit.path`.
    pub async fn upload(&self, commit: &CommitInfo, body: Bytes) -> Result<FileMetadata, Error> {
        check_body(&body)?;
        let commit = commit.validated()?;
        let hash = content_hash(&body);
        let mut arg = serde_json::to_value(&commit).map_err(|e| Error::Decode(e.to_string()))?;
        arg["content_hash"] = serde_json::json!(hash);
        let mut st = CallState::default();
        let r = self.upload_call("files/upload", &arg, body, &mut st).await;
        match r {
            Err(Error::Path {
                kind: LookupError::Conflict(_),
                ..
            }) if st.after_unknown => {
                self.file_if_hash(&commit.path, &hash).await.ok_or_else(|| {
                    Error::UnknownOutcome(format!(
                        "upload to {} was retried and hit a conflict",
                        commit.path
                    ))
                })
            }
            other => other,
        }
    }

    /// `files/upload_session/start` with the body's content_hash; returns the session id.
    pub async fn upload_session_start(&self, body: Bytes, close: bool) -> Result<String, Error> {
        check_body(&body)?;
        #[derive(Deserialize)]
        struct Started {
            session_id: String,
        }
        let arg = serde_json::json!({"close": close, "content_hash": content_hash(&body)});
        let s: Started = self
            .upload_call(
                "files/upload_session/start",
                &arg,
                body,
                &mut CallState::default(),
            )
            .await?;
        Ok(s.session_id)
    }

    /// `files/upload_session/append_v2` at `offset`. After a retry whose first attempt's
    /// outcome was unknown, Dropbox's `incorrect_offset` decides: `correct_offset ==
    /// offset + len` means it already has these bytes (success); a `correct_offset` inside
    /// the body means it kept a prefix, and only the rest is sent, from there. Any other
    /// `Error::IncorrectOffset { correct_offset }` tells the caller where to resume.
    pub async fn upload_session_append(
        &self,
        session_id: &str,
        offset: u64,
        body: Bytes,
        close: bool,
    ) -> Result<(), Error> {
        check_body(&body)?;
        let end = offset + body.len() as u64;
        let (mut offset, mut body) = (offset, body);
        loop {
            let arg = serde_json::json!({
                "cursor": Cursor { session_id, offset },
                "close": close,
                "content_hash": content_hash(&body),
            });
            let mut st = CallState::default();
            let r: Result<serde_json::Value, Error> = self
                .upload_call(
                    "files/upload_session/append_v2",
                    &arg,
                    body.clone(),
                    &mut st,
                )
                .await;
            match r {
                Ok(_) => return Ok(()),
                Err(Error::IncorrectOffset { correct_offset, .. })
                    if st.after_unknown && correct_offset == end =>
                {
                    tracing::info!(offset, end, "append already applied by an earlier attempt");
                    return Ok(());
                }
                Err(Error::IncorrectOffset { correct_offset, .. })
                    if st.after_unknown && correct_offset > offset && correct_offset < end =>
                {
                    tracing::info!(
                        offset,
                        correct_offset,
                        "an earlier attempt was applied in part; sending the rest"
                    );
                    body = body.slice((correct_offset - offset) as usize..);
                    offset = correct_offset;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `files/upload_session/finish` with the last bytes (may be empty) at `offset`.
    /// If a retry after an unknown outcome finds the session already finished (or the
    /// file conflicting), the result is `Error::UnknownOutcome`: use
    /// [`DropboxClient::upload_session_finish_verified`] to resolve it automatically.
    pub async fn upload_session_finish(
        &self,
        session_id: &str,
        offset: u64,
        commit: &CommitInfo,
        body: Bytes,
    ) -> Result<FileMetadata, Error> {
        self.finish_inner(session_id, offset, commit, body, None)
            .await
    }

    /// Like [`DropboxClient::upload_session_finish`], but an ambiguous outcome after a retry
    /// is resolved by looking at `commit.path`: if the file there has
    /// `expected_content_hash` (the whole file's), its metadata is returned.
    pub async fn upload_session_finish_verified(
        &self,
        session_id: &str,
        offset: u64,
        commit: &CommitInfo,
        body: Bytes,
        expected_content_hash: &str,
    ) -> Result<FileMetadata, Error> {
        self.finish_inner(
            session_id,
            offset,
            commit,
            body,
            Some(expected_content_hash),
        )
        .await
    }

    async fn finish_inner(
        &self,
        session_id: &str,
        offset: u64,
        commit: &CommitInfo,
        body: Bytes,
        expected_hash: Option<&str>,
    ) -> Result<FileMetadata, Error> {
        check_body(&body)?;
        let commit = commit.validated()?;
        let len = body.len() as u64;
        let arg = serde_json::json!({
            "cursor": Cursor { session_id, offset },
            "commit": commit,
            "content_hash": content_hash(&body),
        });
        let mut st = CallState::default();
        let r = self
            .upload_call("files/upload_session/finish", &arg, body, &mut st)
            .await;
        let ambiguous = match &r {
            Err(Error::IncorrectOffset { correct_offset, .. }) => *correct_offset == offset + len,
            Err(Error::UploadSession {
                kind: SessionError::NotFound | SessionError::Closed,
                ..
            }) => true,
            Err(Error::Path {
                kind: LookupError::Conflict(_),
                ..
            }) => true,
            _ => false,
        };
        if !(st.after_unknown && ambiguous) {
            return r;
        }
        if let Some(hash) = expected_hash
            && let Some(meta) = self.file_if_hash(&commit.path, hash).await
        {
            tracing::info!("finish already applied by an earlier attempt (verified by hash)");
            return Ok(meta);
        }
        Err(Error::UnknownOutcome(format!(
            "upload_session/finish to {} was retried and the session is already consumed",
            commit.path
        )))
    }

    /// The file at `path` if its content_hash is `hash`.
    async fn file_if_hash(&self, path: &str, hash: &str) -> Option<FileMetadata> {
        match self.get_metadata(path).await {
            Ok(Metadata::File(f)) if f.content_hash.as_deref() == Some(hash) => Some(f),
            _ => None,
        }
    }

    /// `files/download` (path, `id:` or `rev:`), optionally a byte range. The body streams.
    pub async fn download(&self, path: &str, range: Option<ByteRange>) -> Result<Download, Error> {
        let path = paths::normalize_non_root(path)?;
        let arg = header_arg(&serde_json::json!({"path": path}))?;
        let range_header = range.map(|r| r.header());
        let payload = Payload::Download {
            arg: &arg,
            range: range_header.as_deref(),
        };
        let resp = match self
            .send(
                "files/download",
                Host::Content,
                &payload,
                &mut CallState::default(),
            )
            .await?
        {
            Received::Stream(r) => r,
            Received::Body(_) => return Err(Error::Decode("files/download: no stream".into())),
        };
        let headers = resp.headers();
        let raw = headers
            .get("Dropbox-API-Result")
            .ok_or_else(|| Error::Decode("files/download: no Dropbox-API-Result header".into()))?;
        let metadata: FileMetadata = decode_result_header(raw.as_bytes())?;
        let content_length = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let content_range = if resp.status().as_u16() == 206 {
            headers
                .get(http::header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_content_range)
        } else {
            None
        };
        if range.is_some_and(|r| r.start > 0 || r.end.is_some()) && content_range.is_none() {
            // The server ignored the range: refuse rather than hand back misaligned bytes.
            return Err(Error::Decode(
                "files/download: range requested but not honoured".into(),
            ));
        }
        let body = body_stream(resp, self.inner.timeout);
        Ok(Download {
            metadata,
            content_length,
            content_range,
            body,
        })
    }

    /// `files/create_folder_v2`. A retry after an unknown outcome that finds a folder there
    /// (without autorename) returns that folder.
    pub async fn create_folder(
        &self,
        path: &str,
        autorename: bool,
    ) -> Result<FolderMetadata, Error> {
        let path = paths::normalize_non_root(path)?;
        let arg = serde_json::json!({"path": path, "autorename": autorename});
        let mut st = CallState::default();
        let r: Result<MetadataWrapper<FolderMetadata>, Error> =
            self.rpc("files/create_folder_v2", &arg, &mut st).await;
        match r {
            Ok(w) => Ok(w.metadata),
            Err(Error::Path {
                kind: LookupError::Conflict(ConflictKind::Folder),
                ..
            }) if st.after_unknown && !autorename => match self.get_metadata(&path).await? {
                Metadata::Folder(f) => Ok(f),
                Metadata::File(_) => Err(Error::Path {
                    kind: LookupError::Conflict(ConflictKind::File),
                    summary: "path/conflict/file/".into(),
                }),
            },
            Err(e) => Err(e),
        }
    }

    /// `files/delete_v2`; returns the metadata of what was deleted. `parent_rev` makes it
    /// conditional for files. If a retry after an unknown outcome finds nothing there, the
    /// result is `Error::UnknownOutcome` (it was most likely deleted by the first attempt).
    pub async fn delete(&self, path: &str, parent_rev: Option<&str>) -> Result<Metadata, Error> {
        let path = paths::normalize_non_root(path)?;
        let mut arg = serde_json::json!({"path": path});
        if let Some(rev) = parent_rev {
            arg["parent_rev"] = serde_json::json!(rev);
        }
        let mut st = CallState::default();
        let r: Result<MetadataWrapper<Metadata>, Error> =
            self.rpc("files/delete_v2", &arg, &mut st).await;
        match r {
            Ok(w) => Ok(w.metadata),
            Err(e) if e.is_not_found() && st.after_unknown => Err(Error::UnknownOutcome(format!(
                "delete of {path} was retried and the path is gone (probably deleted by the first attempt)"
            ))),
            Err(e) => Err(e),
        }
    }
}

fn parse_content_range(v: &str) -> Option<ContentRange> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    Some(ContentRange {
        start: start.trim().parse().ok()?,
        end: end.trim().parse().ok()?,
        total: total.trim().parse().ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_info_wire() {
        let mut c = CommitInfo::new("/a/é.txt");
        c.client_modified = Some(
            OffsetDateTime::from_unix_timestamp(1431705038).unwrap()
                + time::Duration::milliseconds(500),
        );
        let s = serde_json::to_string(&c).unwrap();
        assert_eq!(
            s,
            "{\"path\":\"/a/é.txt\",\"mode\":\"add\",\"autorename\":false,\"client_modified\":\"2015-05-15T15:50:38Z\",\"mute\":false,\"strict_conflict\":false}"
        );
        c.mode = WriteMode::Update("a1c10ce0dd78".into());
        c.client_modified = None;
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v["mode"],
            serde_json::json!({".tag":"update","update":"a1c10ce0dd78"})
        );
        assert!(v.get("client_modified").is_none());
        let h = header_arg(&c).unwrap();
        assert!(h.contains("\\u00e9") && h.is_ascii());
    }

    #[test]
    fn ranges() {
        assert_eq!(
            ByteRange {
                start: 5,
                end: None
            }
            .header(),
            "bytes=5-"
        );
        assert_eq!(
            ByteRange {
                start: 0,
                end: Some(9)
            }
            .header(),
            "bytes=0-9"
        );
        assert_eq!(
            parse_content_range("bytes 100-199/1000"),
            Some(ContentRange {
                start: 100,
                end: 199,
                total: Some(1000)
            })
        );
        assert_eq!(
            parse_content_range("bytes 0-0/*"),
            Some(ContentRange {
                start: 0,
                end: 0,
                total: None
            })
        );
        assert_eq!(parse_content_range("garbage"), None);
    }

    #[test]
    fn list_page_skips_deleted() {
        let raw: RawListFolder = serde_json::from_str(r#"{"entries":[{".tag":"deleted","name":"x","path_lower":"/x","path_display":"/x"},{".tag":"folder","name":"d","id":"id:1","path_lower":"/d","path_display":"/d"}],"cursor":"c","has_more":true}"#).unwrap();
        let page: ListFolderPage = raw.into();
        assert_eq!(page.entries.len(), 1);
        assert!(page.has_more);
    }
}
