//! Structured errors and the decoding of Dropbox error responses.
//!
//! The server maps [`Error`] to gRPC statuses in one place; nothing here needs string
//! parsing by the caller. The raw `error_summary` is kept in `summary` fields and exposed by
//! [`Error::error_summary`].

use std::time::Duration;

use serde_json::Value;

use crate::paths::PathError;
use crate::retry_after::RetryAfter;
use crate::transport::{TransportKind, error_chain};

/// Everything a Dropbox call can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A lookup or write error on a path (409 `path`, `path_lookup`, `path_write`, upload's
    /// `path.reason`, ...).
    #[error("path error: {kind} ({summary})")]
    Path { kind: LookupError, summary: String },
    /// 401: the token was refused.
    #[error("unauthorized: {tag} ({summary})")]
    Unauthorized { tag: AuthError, summary: String },
    /// The refresh token was refused (`invalid_grant`) or the app key/secret is wrong
    /// (`invalid_client`): the connection must be authorised again.
    #[error("the connection needs to be authorised again: {description}")]
    NeedsReauthorization { description: String },
    /// The OAuth authorize page or token endpoint refused the redirect URI (not registered
    /// for the app, or not the one the authorization started with).
    #[error("the redirect URI was refused: {description}")]
    RedirectUriRefused { description: String },
    /// No usable credentials: neither an access token nor a refresh token with an app key.
    #[error("no usable credentials (need an access token, or a refresh token and app key)")]
    NoCredentials,
    /// 429 (`too_many_requests`, `too_many_write_operations`) after the retry budget ran out,
    /// or a wait longer than the budget allows.
    #[error("rate limited by Dropbox, retry after {retry_after:?}{} ({summary})", crate::retry_after::clamp_note(.clamped_from.as_deref()))]
    RateLimited {
        /// Never more than [`crate::MAX_RETRY_AFTER`].
        retry_after: Duration,
        summary: String,
        /// What Dropbox asked for, when that was out of range and `retry_after` is the clamp.
        clamped_from: Option<String>,
    },
    /// The content_hash sent with an upload did not match the bytes Dropbox received.
    #[error("content hash mismatch ({summary})")]
    ContentHashMismatch { summary: String },
    /// Upload session append/finish at the wrong offset.
    #[error("incorrect upload offset, Dropbox has {correct_offset} bytes ({summary})")]
    IncorrectOffset {
        correct_offset: u64,
        summary: String,
    },
    /// Other upload session lookup errors (not_found, closed, ...).
    #[error("upload session error: {kind} ({summary})")]
    UploadSession { kind: SessionError, summary: String },
    /// The account is full.
    #[error("insufficient space in the Dropbox account ({summary})")]
    InsufficientSpace { summary: String },
    /// A single request body was over Dropbox's limit (150 MiB).
    #[error("payload too large ({summary})")]
    PayloadTooLarge { summary: String },
    /// list_folder/continue: the cursor is no longer valid; list again from the start.
    #[error("list cursor reset, list again ({summary})")]
    CursorReset { summary: String },
    /// 403 access errors.
    #[error("access denied ({summary})")]
    AccessDenied { summary: String },
    /// 422 `Dropbox-API-Path-Root` errors (invalid_root, no_permission).
    #[error("invalid path root ({summary})")]
    PathRoot { summary: String },
    /// 400: the plain-text message Dropbox gave.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 5xx after retries. `body` is whatever text came back (may be empty).
    #[error("Dropbox server error {status}")]
    Server { status: u16, body: String },
    /// The request or a read of the response body timed out.
    #[error("timed out talking to Dropbox")]
    Timeout,
    /// Connection, TLS, proxy or body stream errors. `kind` is decided once, from the
    /// error's source chain ([`TransportKind::of`]); `detail` is that chain as text, for
    /// people only.
    #[error("transport error: {detail}")]
    Transport { kind: TransportKind, detail: String },
    /// A retry happened after a failure whose outcome was unknown and the result cannot be
    /// confirmed (e.g. a finish whose session is gone): the caller should check the target.
    #[error("outcome unknown after a retry: {0}")]
    UnknownOutcome(String),
    /// The path failed local validation before any request was sent.
    #[error("invalid path: {0}")]
    InvalidPath(#[from] PathError),
    /// Bad client configuration (proxy, CA PEM, URL).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A success response we could not decode.
    #[error("could not decode Dropbox response: {0}")]
    Decode(String),
    /// Any other error response.
    #[error("Dropbox error {status}: {summary}")]
    Other {
        status: u16,
        summary: String,
        body: String,
    },
}

/// Tag of a 401 error (`AuthError` in auth.stone).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    ExpiredAccessToken,
    InvalidAccessToken,
    InvalidSelectUser,
    InvalidSelectAdmin,
    UserSuspended,
    MissingScope { required_scope: Option<String> },
    RouteAccessDenied,
    Other(String),
}

/// Path lookup and write errors (files.stone `LookupError` and `WriteError` merged).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupError {
    NotFound,
    NotFile,
    NotFolder,
    MalformedPath(Option<String>),
    RestrictedContent,
    Locked,
    UnsupportedContentType,
    Conflict(ConflictKind),
    NoWritePermission,
    DisallowedName,
    TeamFolder,
    OperationSuppressed,
    Other(String),
}

/// What is in the way for a write conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictKind {
    File,
    Folder,
    FileAncestor,
    Other(String),
}

/// Upload session lookup errors other than `incorrect_offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    NotFound,
    Closed,
    NotClosed,
    TooLarge,
    ConcurrentSessionInvalidOffset,
    ConcurrentSessionInvalidDataSize,
    Other(String),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            AuthError::ExpiredAccessToken => "expired_access_token",
            AuthError::InvalidAccessToken => "invalid_access_token",
            AuthError::InvalidSelectUser => "invalid_select_user",
            AuthError::InvalidSelectAdmin => "invalid_select_admin",
            AuthError::UserSuspended => "user_suspended",
            AuthError::MissingScope { .. } => "missing_scope",
            AuthError::RouteAccessDenied => "route_access_denied",
            AuthError::Other(t) => t,
        };
        f.write_str(s)
    }
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::NotFound => f.write_str("not_found"),
            LookupError::NotFile => f.write_str("not_file"),
            LookupError::NotFolder => f.write_str("not_folder"),
            LookupError::MalformedPath(_) => f.write_str("malformed_path"),
            LookupError::RestrictedContent => f.write_str("restricted_content"),
            LookupError::Locked => f.write_str("locked"),
            LookupError::UnsupportedContentType => f.write_str("unsupported_content_type"),
            LookupError::Conflict(k) => write!(f, "conflict/{k}"),
            LookupError::NoWritePermission => f.write_str("no_write_permission"),
            LookupError::DisallowedName => f.write_str("disallowed_name"),
            LookupError::TeamFolder => f.write_str("team_folder"),
            LookupError::OperationSuppressed => f.write_str("operation_suppressed"),
            LookupError::Other(t) => f.write_str(t),
        }
    }
}

impl std::fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConflictKind::File => f.write_str("file"),
            ConflictKind::Folder => f.write_str("folder"),
            ConflictKind::FileAncestor => f.write_str("file_ancestor"),
            ConflictKind::Other(t) => f.write_str(t),
        }
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            SessionError::NotFound => "not_found",
            SessionError::Closed => "closed",
            SessionError::NotClosed => "not_closed",
            SessionError::TooLarge => "too_large",
            SessionError::ConcurrentSessionInvalidOffset => "concurrent_session_invalid_offset",
            SessionError::ConcurrentSessionInvalidDataSize => {
                "concurrent_session_invalid_data_size"
            }
            SessionError::Other(t) => t,
        };
        f.write_str(s)
    }
}

impl Error {
    /// The raw Dropbox `error_summary` (or 400 text) when the error came from Dropbox.
    pub fn error_summary(&self) -> Option<&str> {
        match self {
            Error::Path { summary, .. }
            | Error::Unauthorized { summary, .. }
            | Error::RateLimited { summary, .. }
            | Error::ContentHashMismatch { summary }
            | Error::IncorrectOffset { summary, .. }
            | Error::UploadSession { summary, .. }
            | Error::InsufficientSpace { summary }
            | Error::PayloadTooLarge { summary }
            | Error::CursorReset { summary }
            | Error::AccessDenied { summary }
            | Error::PathRoot { summary }
            | Error::Other { summary, .. } => Some(summary),
            Error::BadRequest(text) => Some(text),
            _ => None,
        }
    }

    /// True for `Error::Path { kind: LookupError::NotFound, .. }`.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::Path {
                kind: LookupError::NotFound,
                ..
            }
        )
    }

    /// Errors a caller may retry later (rate limits, 5xx, timeouts, transport errors).
    /// A timeout is not among them: the connection's timeout_seconds is the user's bound
    /// ("the connection fails after this time"), so a request that used it up fails
    /// instead of starting the wait again.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. } | Error::Server { .. } | Error::Transport { .. }
        )
    }

    /// Failures after which the request may or may not have been applied by Dropbox.
    pub(crate) fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Server { .. } | Error::Timeout | Error::Transport { .. }
        )
    }
}

/// The tag of a union value, accepting both `"tag"` and `{".tag": "tag", ...}`.
pub(crate) fn union_tag(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(m) => m.get(".tag").and_then(Value::as_str),
        _ => None,
    }
}

/// The payload of a union member: `{".tag":"x","x":{...}}` -> `{...}`.
fn union_field<'a>(v: &'a Value, tag: &str) -> Option<&'a Value> {
    v.as_object().and_then(|m| m.get(tag))
}

/// Decode an error response from its status, headers' Retry-After and body.
pub(crate) fn decode_error_response(
    status: u16,
    retry_after_header: Option<RetryAfter>,
    body: &[u8],
) -> Error {
    let text = String::from_utf8_lossy(body).into_owned();
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let summary = json
        .as_ref()
        .and_then(|j| j.get("error_summary"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| truncate(&text, 300));
    let err = json.as_ref().and_then(|j| j.get("error"));
    match status {
        400 => Error::BadRequest(truncate(&text, 2000)),
        401 => {
            let tag = err
                .map(decode_auth_error)
                .unwrap_or(AuthError::Other(String::new()));
            Error::Unauthorized { tag, summary }
        }
        403 => Error::AccessDenied { summary },
        409 => match err {
            Some(e) => decode_endpoint_error(e, summary, text),
            None => Error::Other {
                status,
                summary,
                body: truncate(&text, 2000),
            },
        },
        422 => Error::PathRoot { summary },
        429 => {
            let body_wait = err
                .and_then(|e| e.get("retry_after"))
                .and_then(crate::retry_after::from_body);
            let asked = retry_after_header.or(body_wait).unwrap_or(RetryAfter {
                wait: Duration::from_secs(1),
                clamped_from: None,
            });
            Error::RateLimited {
                retry_after: asked.wait,
                summary,
                clamped_from: asked.clamped_from,
            }
        }
        500..=599 => Error::Server {
            status,
            body: truncate(&text, 2000),
        },
        _ => Error::Other {
            status,
            summary,
            body: truncate(&text, 2000),
        },
    }
}

fn decode_auth_error(e: &Value) -> AuthError {
    match union_tag(e) {
        Some("expired_access_token") => AuthError::ExpiredAccessToken,
        Some("invalid_access_token") => AuthError::InvalidAccessToken,
        Some("invalid_select_user") => AuthError::InvalidSelectUser,
        Some("invalid_select_admin") => AuthError::InvalidSelectAdmin,
        Some("user_suspended") => AuthError::UserSuspended,
        Some("route_access_denied") => AuthError::RouteAccessDenied,
        Some("missing_scope") => AuthError::MissingScope {
            // TokenScopeError is a struct: inline next to `.tag` (nested also accepted).
            required_scope: e
                .get("required_scope")
                .or_else(|| union_field(e, "missing_scope").and_then(|m| m.get("required_scope")))
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        Some(other) => AuthError::Other(other.to_owned()),
        None => AuthError::Other(String::new()),
    }
}

/// Decode a 409 route error (the `error` member).
pub(crate) fn decode_endpoint_error(e: &Value, summary: String, body: String) -> Error {
    let Some(tag) = union_tag(e) else {
        return Error::Other {
            status: 409,
            summary,
            body: truncate(&body, 2000),
        };
    };
    match tag {
        // Path-carrying members across routes.
        "path" | "path_lookup" | "path_write" | "from_lookup" | "from_write" | "to" => {
            // A union-typed member nests under its tag; a struct-typed one (files/upload's
            // UploadWriteFailed {reason: WriteError, upload_session_id}) sits inline next to
            // `.tag`. Accept both, and the nested form of the struct too.
            let inner = match union_field(e, tag) {
                Some(v) => v.get("reason").unwrap_or(v),
                None => e.get("reason").unwrap_or(&Value::Null),
            };
            decode_path_error(inner, summary)
        }
        "lookup_failed" => {
            let inner = union_field(e, tag).unwrap_or(&Value::Null);
            decode_session_error(inner, summary)
        }
        "not_found"
        | "closed"
        | "not_closed"
        | "too_large"
        | "incorrect_offset"
        | "concurrent_session_invalid_offset"
        | "concurrent_session_invalid_data_size" => decode_session_error(e, summary),
        "content_hash_mismatch" => Error::ContentHashMismatch { summary },
        "payload_too_large" => Error::PayloadTooLarge { summary },
        "insufficient_space" => Error::InsufficientSpace { summary },
        "too_many_write_operations" | "too_many_files" => Error::RateLimited {
            retry_after: Duration::from_secs(1),
            summary,
            clamped_from: None,
        },
        "reset" => Error::CursorReset { summary },
        _ => Error::Other {
            status: 409,
            summary,
            body: truncate(&body, 2000),
        },
    }
}

fn decode_path_error(inner: &Value, summary: String) -> Error {
    let tag = union_tag(inner).unwrap_or("");
    let kind = match tag {
        "not_found" => LookupError::NotFound,
        "not_file" => LookupError::NotFile,
        "not_folder" => LookupError::NotFolder,
        "malformed_path" => LookupError::MalformedPath(
            union_field(inner, "malformed_path")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        "restricted_content" => LookupError::RestrictedContent,
        "locked" => LookupError::Locked,
        "unsupported_content_type" => LookupError::UnsupportedContentType,
        "conflict" => {
            let k = union_field(inner, "conflict")
                .and_then(union_tag)
                .unwrap_or("");
            LookupError::Conflict(match k {
                "file" => ConflictKind::File,
                "folder" => ConflictKind::Folder,
                "file_ancestor" => ConflictKind::FileAncestor,
                other => ConflictKind::Other(other.to_owned()),
            })
        }
        "no_write_permission" => LookupError::NoWritePermission,
        "disallowed_name" => LookupError::DisallowedName,
        "team_folder" => LookupError::TeamFolder,
        "operation_suppressed" => LookupError::OperationSuppressed,
        "insufficient_space" => return Error::InsufficientSpace { summary },
        "too_many_write_operations" => {
            return Error::RateLimited {
                retry_after: Duration::from_secs(1),
                summary,
                clamped_from: None,
            };
        }
        other => LookupError::Other(other.to_owned()),
    };
    Error::Path { kind, summary }
}

fn decode_session_error(inner: &Value, summary: String) -> Error {
    let tag = union_tag(inner).unwrap_or("");
    let kind = match tag {
        "incorrect_offset" => {
            let correct = inner
                .get("correct_offset")
                .or_else(|| {
                    union_field(inner, "incorrect_offset").and_then(|v| v.get("correct_offset"))
                })
                .and_then(Value::as_u64);
            match correct {
                Some(correct_offset) => {
                    return Error::IncorrectOffset {
                        correct_offset,
                        summary,
                    };
                }
                None => SessionError::Other("incorrect_offset".to_owned()),
            }
        }
        "not_found" => SessionError::NotFound,
        "closed" => SessionError::Closed,
        "not_closed" => SessionError::NotClosed,
        "too_large" => SessionError::TooLarge,
        "concurrent_session_invalid_offset" => SessionError::ConcurrentSessionInvalidOffset,
        "concurrent_session_invalid_data_size" => SessionError::ConcurrentSessionInvalidDataSize,
        "payload_too_large" => return Error::PayloadTooLarge { summary },
        "content_hash_mismatch" => return Error::ContentHashMismatch { summary },
        other => SessionError::Other(other.to_owned()),
    };
    Error::UploadSession { kind, summary }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Map a reqwest error to ours. Never includes URLs with credentials (we never put any there).
pub(crate) fn from_reqwest(e: reqwest::Error) -> Error {
    match TransportKind::of(&e) {
        TransportKind::Timeout => Error::Timeout,
        kind => Error::Transport {
            kind,
            detail: error_chain(&e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(status: u16, body: &str) -> Error {
        decode_error_response(status, None, body.as_bytes())
    }

    #[test]
    fn not_found() {
        let e = dec(
            409,
            r#"{"error_summary":"path/not_found/..","error":{".tag":"path","path":{".tag":"not_found"}}}"#,
        );
        assert!(e.is_not_found());
        assert_eq!(e.error_summary(), Some("path/not_found/.."));
    }

    #[test]
    fn conflict_file_and_string_union() {
        let e = dec(
            409,
            r#"{"error_summary":"path/conflict/file/.","error":{".tag":"path","path":{".tag":"conflict","conflict":{".tag":"file"}}}}"#,
        );
        assert!(matches!(
            e,
            Error::Path {
                kind: LookupError::Conflict(ConflictKind::File),
                ..
            }
        ));
        let e = dec(
            409,
            r#"{"error_summary":"path/conflict/folder/","error":{".tag":"path","path":{".tag":"conflict","conflict":"folder"}}}"#,
        );
        assert!(matches!(
            e,
            Error::Path {
                kind: LookupError::Conflict(ConflictKind::Folder),
                ..
            }
        ));
        let e = dec(
            409,
            r#"{"error_summary":"x","error":{".tag":"path","path":"not_folder"}}"#,
        );
        assert!(matches!(
            e,
            Error::Path {
                kind: LookupError::NotFolder,
                ..
            }
        ));
    }

    #[test]
    fn upload_write_failed_reason() {
        let e = dec(
            409,
            r#"{"error_summary":"path/conflict/file/..","error":{".tag":"path","path":{"reason":{".tag":"conflict","conflict":{".tag":"file"}},"upload_session_id":"abc"}}}"#,
        );
        assert!(matches!(
            e,
            Error::Path {
                kind: LookupError::Conflict(ConflictKind::File),
                ..
            }
        ));
        let e = dec(
            409,
            r#"{"error_summary":"path/insufficient_space/","error":{".tag":"path","path":{"reason":{".tag":"insufficient_space"},"upload_session_id":"abc"}}}"#,
        );
        assert!(matches!(e, Error::InsufficientSpace { .. }));
    }

    #[test]
    fn struct_members_inline() {
        // Stone puts a struct-typed member's fields next to `.tag`.
        let e = dec(
            409,
            r#"{"error_summary":"path/conflict/file/...","error":{".tag":"path","reason":{".tag":"conflict","conflict":{".tag":"file"}},"upload_session_id":""}}"#,
        );
        assert!(
            matches!(
                e,
                Error::Path {
                    kind: LookupError::Conflict(ConflictKind::File),
                    ..
                }
            ),
            "{e:?}"
        );
        let e = dec(
            401,
            r#"{"error_summary":"missing_scope/","error":{".tag":"missing_scope","required_scope":"files.metadata.read"}}"#,
        );
        assert!(
            matches!(e, Error::Unauthorized { tag: AuthError::MissingScope { required_scope: Some(ref s) }, .. } if s == "files.metadata.read"),
            "{e:?}"
        );
        let e = dec(
            409,
            r#"{"error_summary":"path/malformed_path/","error":{".tag":"path","path":{".tag":"malformed_path","malformed_path":"bad"}}}"#,
        );
        assert!(
            matches!(
                e,
                Error::Path {
                    kind: LookupError::MalformedPath(Some(_)),
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn delete_path_lookup() {
        let e = dec(
            409,
            r#"{"error_summary":"path_lookup/not_found/.","error":{".tag":"path_lookup","path_lookup":{".tag":"not_found"}}}"#,
        );
        assert!(e.is_not_found());
    }

    #[test]
    fn incorrect_offset_append_and_finish() {
        let e = dec(
            409,
            r#"{"error_summary":"incorrect_offset/.","error":{".tag":"incorrect_offset","correct_offset":300000000}}"#,
        );
        assert!(matches!(
            e,
            Error::IncorrectOffset {
                correct_offset: 300_000_000,
                ..
            }
        ));
        let e = dec(
            409,
            r#"{"error_summary":"lookup_failed/incorrect_offset/..","error":{".tag":"lookup_failed","lookup_failed":{".tag":"incorrect_offset","correct_offset":42}}}"#,
        );
        assert!(matches!(
            e,
            Error::IncorrectOffset {
                correct_offset: 42,
                ..
            }
        ));
        let e = dec(
            409,
            r#"{"error_summary":"lookup_failed/not_found/","error":{".tag":"lookup_failed","lookup_failed":{".tag":"not_found"}}}"#,
        );
        assert!(matches!(
            e,
            Error::UploadSession {
                kind: SessionError::NotFound,
                ..
            }
        ));
        let e = dec(
            409,
            r#"{"error_summary":"closed/","error":{".tag":"closed"}}"#,
        );
        assert!(matches!(
            e,
            Error::UploadSession {
                kind: SessionError::Closed,
                ..
            }
        ));
    }

    #[test]
    fn content_hash_mismatch_and_reset() {
        let e = dec(
            409,
            r#"{"error_summary":"content_hash_mismatch/","error":{".tag":"content_hash_mismatch"}}"#,
        );
        assert!(matches!(e, Error::ContentHashMismatch { .. }));
        let e = dec(
            409,
            r#"{"error_summary":"reset/..","error":{".tag":"reset"}}"#,
        );
        assert!(matches!(e, Error::CursorReset { .. }));
    }

    #[test]
    fn unauthorized() {
        let e = dec(
            401,
            r#"{"error_summary":"expired_access_token/..","error":{".tag":"expired_access_token"}}"#,
        );
        assert!(matches!(
            e,
            Error::Unauthorized {
                tag: AuthError::ExpiredAccessToken,
                ..
            }
        ));
        let e = dec(
            401,
            r#"{"error_summary":"missing_scope/.","error":{".tag":"missing_scope","missing_scope":{"required_scope":"files.content.write"}}}"#,
        );
        match e {
            Error::Unauthorized {
                tag: AuthError::MissingScope { required_scope },
                ..
            } => {
                assert_eq!(required_scope.as_deref(), Some("files.content.write"))
            }
            other => panic!("{other:?}"),
        }
        let e = dec(
            401,
            r#"{"error_summary":"other/","error":{".tag":"other"}}"#,
        );
        assert!(matches!(
            e,
            Error::Unauthorized {
                tag: AuthError::Other(_),
                ..
            }
        ));
    }

    #[test]
    fn bad_request_plain_text() {
        let text = "Error in call to API function \"files/list_folder\": request body: path: Specify the root folder as an empty string rather than as \"/\".";
        let e = dec(400, text);
        match &e {
            Error::BadRequest(t) => assert_eq!(t, text),
            other => panic!("{other:?}"),
        }
        assert_eq!(e.error_summary(), Some(text));
    }

    #[test]
    fn rate_limited_header_body_and_text() {
        let body = r#"{"error_summary":"too_many_requests/..","error":{"reason":{".tag":"too_many_requests"},"retry_after":300}}"#;
        let e = decode_error_response(429, None, body.as_bytes());
        assert!(
            matches!(e, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(300))
        );
        let e = decode_error_response(
            429,
            crate::retry_after::parse_header("15", time::OffsetDateTime::now_utc()),
            body.as_bytes(),
        );
        assert!(
            matches!(e, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(15))
        );
        let e = decode_error_response(429, None, b"<html>slow down</html>");
        assert!(
            matches!(e, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(1))
        );
        let e = dec(
            429,
            r#"{"error_summary":"too_many_write_operations/..","error":{"reason":{".tag":"too_many_write_operations"}}}"#,
        );
        assert!(matches!(e, Error::RateLimited { .. }));
    }

    #[test]
    fn rate_limited_out_of_range_waits_are_clamped_and_said() {
        let huge = r#"{"error_summary":"too_many_requests/..","error":{"reason":{".tag":"too_many_requests"},"retry_after":18446744073709551615}}"#;
        let e = decode_error_response(429, None, huge.as_bytes());
        let Error::RateLimited {
            retry_after,
            clamped_from,
            ..
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(*retry_after, crate::MAX_RETRY_AFTER);
        assert_eq!(clamped_from.as_deref(), Some("18446744073709551615 s"));
        let text = e.to_string();
        assert!(
            text.contains("Dropbox asked to wait 18446744073709551615 s; clamped to 900 s"),
            "{text}"
        );
        for body in [
            r#"{"error":{"retry_after":-3}}"#,
            r#"{"error":{"retry_after":"garbage"}}"#,
            r#"{"error":{"retry_after":0.25}}"#,
        ] {
            let e = decode_error_response(429, None, body.as_bytes());
            assert!(
                matches!(e, Error::RateLimited { retry_after, .. } if retry_after <= Duration::from_secs(1)),
                "{body}: {e:?}"
            );
        }
    }

    #[test]
    fn server_errors_empty_body() {
        let e = dec(500, "");
        assert!(matches!(e, Error::Server { status: 500, .. }));
        assert!(e.is_transient());
        let e = dec(503, "<html>unavailable</html>");
        assert!(matches!(e, Error::Server { status: 503, .. }));
    }

    #[test]
    fn path_root_and_unknown() {
        assert!(matches!(
            dec(
                422,
                r#"{"error_summary":"invalid_root/","error":{".tag":"invalid_root"}}"#
            ),
            Error::PathRoot { .. }
        ));
        let e = dec(
            409,
            r#"{"error_summary":"something_new/..","error":{".tag":"something_new"}}"#,
        );
        assert!(matches!(e, Error::Other { status: 409, .. }));
        assert_eq!(e.error_summary(), Some("something_new/.."));
        let e = dec(
            409,
            r#"{"error_summary":"path/future_tag/","error":{".tag":"path","path":{".tag":"future_tag"}}}"#,
        );
        assert!(
            matches!(e, Error::Path { kind: LookupError::Other(ref t), .. } if t == "future_tag")
        );
    }
}
