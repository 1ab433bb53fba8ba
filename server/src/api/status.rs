//! The one place where failures become gRPC: a code, an `ErrorReason`, a message that says
//! what went wrong and what to do, metadata, and RetryInfo for rate limits. Both call-level
//! statuses and per-item errors (`ItemError`) come from [`classify`].

use std::collections::HashMap;
use std::time::Duration;

use crate::tasks::dropbox::{
    AuthError, ConflictKind, Error as DbxError, LookupError, TransportKind,
};
use dropbox_connector_proto::ERROR_DOMAIN;
use dropbox_connector_proto::v1::{ErrorReason, ItemError};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

use crate::tasks::TaskError;
use crate::tasks::resumable::redact;

/// A failure, ready for the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub code: Code,
    pub reason: ErrorReason,
    pub message: String,
    pub metadata: HashMap<String, String>,
    pub retry_after: Option<Duration>,
}

/// `ERROR_REASON_PATH_NOT_FOUND` -> `PATH_NOT_FOUND`, as ErrorInfo carries it.
pub fn reason_name(reason: ErrorReason) -> &'static str {
    let name = reason.as_str_name();
    name.strip_prefix("ERROR_REASON_").unwrap_or(name)
}

fn c(code: Code, reason: ErrorReason, message: String) -> Classified {
    Classified {
        code,
        reason,
        message,
        metadata: HashMap::new(),
        retry_after: None,
    }
}

impl Classified {
    fn with(mut self, key: &str, value: impl Into<String>) -> Classified {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }
}

/// The mapping table.
pub fn classify(e: &TaskError) -> Classified {
    use ErrorReason as R;
    match e {
        TaskError::ConnectionNotFound { name } => c(
            Code::NotFound,
            R::ConnectionNotFound,
            format!("no connection is named {name:?}; list them with ListConnections or create it with CreateConnection"),
        )
        .with("connection", name),
        TaskError::ConnectionNameTaken { name } => c(
            Code::AlreadyExists,
            R::ConnectionNameTaken,
            format!("a connection named {name:?} already exists; choose another display_name or update that one"),
        )
        .with("display_name", name),
        TaskError::InvalidArgument { field, message } => {
            c(Code::InvalidArgument, R::InvalidArgument, format!("invalid {field}: {message}")).with("field", field)
        }
        TaskError::InvalidPath { path, rule } => c(
            Code::InvalidArgument,
            R::InvalidPath,
            format!("the path at {path} is not a valid Dropbox path: {rule}"),
        )
        .with("path", path),
        TaskError::StreamOutOfOrder(message) => c(
            Code::InvalidArgument,
            R::StreamOutOfOrder,
            format!("{message} (order: UploadSpec first, then per file FileHeader, DataChunks, FileEnd)"),
        ),
        TaskError::ChunkOffsetMismatch { path, expected, got } => c(
            Code::InvalidArgument,
            R::ChunkOffsetMismatch,
            format!("chunk of {path:?} has offset {got} but {expected} bytes arrived so far; send chunks in order, each at the previous chunk's end"),
        )
        .with("path", path)
        .with("expected_offset", expected.to_string()),
        TaskError::ContentHashMismatch { path, expected, actual } => c(
            Code::DataLoss,
            R::ContentHashMismatch,
            format!("{path:?}: the bytes hash to {actual}, not {expected}; nothing was committed, send the file again"),
        )
        .with("path", path)
        .with("expected", expected)
        .with("actual", actual),
        TaskError::UploadNotFound { upload_id, expired } => c(
            Code::NotFound,
            R::UploadNotFound,
            if *expired {
                format!("resumable upload {} expired (uploads live 7 days, as Dropbox's upload sessions do); start a new one with StartResumableUpload", redact(upload_id))
            } else {
                format!("no resumable upload has the id {}: it was never started, was cancelled, or has expired; start a new one with StartResumableUpload", redact(upload_id))
            },
        )
        .with("upload_id", redact(upload_id)),
        TaskError::RevisionChanged { path, expected_rev, current_rev } => c(
            Code::Aborted,
            R::RevisionChanged,
            format!(
                "{path} changed in Dropbox since revision {expected_rev} ({}); it was kept. Download the current revision before deleting it",
                match current_rev {
                    Some(rev) => format!("now revision {rev}"),
                    None => "the current revision could not be read".to_owned(),
                }
            ),
        )
        .with("path", path)
        .with("expected_rev", expected_rev)
        .with("current_rev", current_rev.clone().unwrap_or_default()),
        TaskError::UploadBusy { upload_id } => c(
            Code::Aborted,
            R::UploadBusy,
            format!("another stream is writing resumable upload {} right now; end that stream first, then ask QueryUpload where to go on", redact(upload_id)),
        )
        .with("upload_id", redact(upload_id)),
        TaskError::UploadSessionLost(message) => c(
            Code::FailedPrecondition,
            R::UploadSessionLost,
            format!("{message}; this upload cannot go on: start a new one with StartResumableUpload"),
        ),
        TaskError::NoItemsMatched { folder } => c(
            Code::NotFound,
            R::NoItemsMatched,
            format!("no items in {folder:?} match the filter; check the mask, kind and conditions, or unset fail_if_empty"),
        )
        .with("path", folder),
        TaskError::NotAuthorized { connection } => c(
            Code::FailedPrecondition,
            R::ConnectionNotAuthorized,
            format!("connection {connection:?} has no usable credentials; give it an access token, or a refresh token and app key"),
        )
        .with("connection", connection),
        TaskError::CaseConflictInCall { path, first } => c(
            Code::AlreadyExists,
            R::CaseConflictInCall,
            format!("{path} differs only in letter case from {first:?}, earlier in this call, and Dropbox paths ignore case, so it was not stored; rename one, or set autorename"),
        )
        .with("path", path)
        .with("first_relative_path", first),
        TaskError::FolderInTheWay { path } => c(
            Code::AlreadyExists,
            R::PathConflict,
            format!("a folder is already at {path}; choose another path, or set autorename"),
        )
        .with("path", path),
        TaskError::WrongKind { path, wanted, actual } => c(
            Code::FailedPrecondition,
            R::PathWrongKind,
            format!("{path} is a {actual}, not a {wanted}; choose another path"),
        )
        .with("path", path),
        TaskError::ReauthorizationRequired { connection } => c(
            Code::FailedPrecondition,
            R::ReauthorizationRequired,
            format!("Dropbox refused the refresh token of connection {connection:?}: it must be authorised again (StartAuthorization, then CompleteAuthorization)"),
        )
        .with("connection", connection),
        TaskError::NoApp { connection } => c(
            Code::FailedPrecondition,
            R::ConnectionNotAuthorized,
            format!("connection {connection:?} has no app key and the server has no registered app: set app.app_key (and app.app_secret) on the connection, or configure dropbox.registered_app.key/.secret (DBXC_DROPBOX__REGISTERED_APP__KEY / DBXC_DROPBOX__REGISTERED_APP__SECRET)"),
        )
        .with("connection", connection)
        .with("field", "app.app_key"),
        TaskError::InvalidRedirectUri { uri, detail } => c(
            Code::FailedPrecondition,
            R::InvalidRedirectUri,
            format!("Dropbox refused the redirect URI {uri} ({detail}): register exactly {uri} (scheme, host, port and path) as a redirect URI in the Dropbox app console, or use one that is registered (VisualCron users register http://localhost and http://localhost:9999)"),
        )
        .with("redirect_uri", uri),
        TaskError::AuthorizationStateInvalid(message) => c(
            Code::FailedPrecondition,
            R::AuthorizationStateInvalid,
            format!("{message}; start the authorization again with StartAuthorization"),
        ),
        TaskError::ProxyFailed(message) => c(
            Code::Unavailable,
            R::ProxyFailed,
            format!("the proxy failed: {message}"),
        ),
        TaskError::TeamMemberRefused { connection, member_id, admin } => c(
            Code::Unauthenticated,
            R::DropboxUnauthorized,
            format!(
                "Dropbox refused the team member id {member_id:?} of connection {connection:?} ({}); fix business.team_member_id (list members with the team admin console or team/members/list)",
                if *admin { "invalid_select_admin: not a team admin" } else { "invalid_select_user: no such member" }
            ),
        )
        .with("connection", connection)
        .with("team_member_id", member_id),
        TaskError::Cancelled => c(Code::Cancelled, R::Cancelled, "the call was cancelled by the client".into()),
        TaskError::Store(err) => {
            tracing::error!(error = %err, "connection store failed");
            c(
                Code::Unavailable,
                R::StoreUnavailable,
                format!("the connection store failed ({err}); retry later, and tell the operator if it persists"),
            )
        }
        TaskError::Internal(message) => c(Code::Internal, R::Internal, format!("internal error: {message}")),
        TaskError::CallerUnknown(message) => c(
            Code::Unauthenticated,
            R::CallerUnknown,
            format!("{message}; send `authorization: Bearer <token>`, a client certificate or a JWT that the service's callers file names"),
        ),
        TaskError::CallerNotAllowed { caller, needed_role, message } => c(
            Code::PermissionDenied,
            R::CallerNotAllowed,
            format!("caller {caller:?} is not allowed: {message}"),
        )
        .with("caller", caller)
        .with("needed_role", needed_role),
        TaskError::ServerBusy { message, retry_after } => {
            let mut r = c(
                Code::ResourceExhausted,
                R::ServerBusy,
                format!("{message}; retry after {} s", retry_after.as_secs().max(1)),
            );
            r.retry_after = Some(*retry_after);
            r
        }
        TaskError::ListingTooLarge { folder, max_entries } => c(
            Code::ResourceExhausted,
            R::ListingTooLarge,
            format!("the listing of {folder:?} holds more than {max_entries} entries; narrow the filter or set a limit"),
        )
        .with("max_entries", max_entries.to_string()),
        TaskError::StreamIdle { idle_seconds } => c(
            Code::DeadlineExceeded,
            R::StreamIdle,
            format!("the stream sent nothing for {idle_seconds} s and was closed; resume or start again"),
        )
        .with("idle_seconds", idle_seconds.to_string()),
        TaskError::TargetNotAllowed { target, message } => c(
            Code::PermissionDenied,
            R::TargetNotAllowed,
            format!("test target {target} is not allowed: {message}"),
        )
        .with("target", target),
        TaskError::Dropbox { path, source } => classify_dropbox(path.as_deref(), source),
    }
}

fn classify_dropbox(path: Option<&str>, e: &DbxError) -> Classified {
    use ErrorReason as R;
    let at = path.map(|p| format!(" at {p}")).unwrap_or_default();
    let mut out = match e {
        DbxError::Path { kind, .. } => match kind {
            LookupError::NotFound => c(Code::NotFound, R::PathNotFound, format!("nothing exists{at} in Dropbox; check the path")),
            LookupError::NotFile => {
                c(Code::FailedPrecondition, R::PathWrongKind, format!("the item{at} is a folder, a file was needed"))
            }
            LookupError::NotFolder => {
                c(Code::FailedPrecondition, R::PathWrongKind, format!("the item{at} is a file, a folder was needed"))
            }
            LookupError::MalformedPath(_) => {
                c(Code::InvalidArgument, R::MalformedPath, format!("Dropbox refused the path{at} as malformed; fix the path"))
            }
            LookupError::Conflict(kind) => {
                let what = match kind {
                    ConflictKind::File => "a file",
                    ConflictKind::Folder => "a folder",
                    ConflictKind::FileAncestor => "a file where a parent folder should be",
                    _ => "another item",
                };
                c(
                    Code::AlreadyExists,
                    R::PathConflict,
                    format!("{what} is already{at}; choose another path, or allow overwrite/autorename"),
                )
            }
            LookupError::NoWritePermission
            | LookupError::DisallowedName
            | LookupError::RestrictedContent
            | LookupError::TeamFolder
            | LookupError::Locked
            | LookupError::OperationSuppressed
            | LookupError::UnsupportedContentType => c(
                Code::PermissionDenied,
                R::DropboxPermissionDenied,
                format!("Dropbox refused the operation{at} ({kind}); choose another path or check the account's permissions"),
            ),
            _ => c(Code::Internal, R::DropboxError, format!("Dropbox reported a path error{at} ({kind})")),
        },
        // Found by the Dropbox client before any request: not Dropbox's answer.
        DbxError::InvalidPath(p) => {
            c(Code::InvalidArgument, R::InvalidPath, format!("the path{at} is not a valid Dropbox path: {p}"))
        }
        DbxError::Unauthorized { tag, .. } => {
            let hint = match tag {
                AuthError::ExpiredAccessToken => "the access token expired and there is no refresh token; give the connection a refresh token and app key",
                AuthError::MissingScope { .. } => "the app lacks a permission scope; grant it in the Dropbox app console and authorise again",
                AuthError::InvalidSelectUser | AuthError::InvalidSelectAdmin => "the team member id of the connection is wrong; fix business.team_member_id",
                _ => "the token is invalid or revoked; update the connection's credentials",
            };
            c(Code::Unauthenticated, R::DropboxUnauthorized, format!("Dropbox refused the connection's token ({tag}): {hint}"))
        }
        DbxError::NeedsReauthorization { description } => c(
            Code::FailedPrecondition,
            R::ReauthorizationRequired,
            format!("Dropbox refused the refresh token or app credentials ({description}); authorise the connection again (StartAuthorization, then CompleteAuthorization)"),
        ),
        DbxError::NoCredentials => c(
            Code::FailedPrecondition,
            R::ConnectionNotAuthorized,
            "the connection has no usable credentials; give it an access token, or a refresh token and app key".into(),
        ),
        DbxError::RateLimited { retry_after, clamped_from, .. } => {
            let clamped = match clamped_from {
                Some(asked) => format!(" (Dropbox asked to wait {asked}; clamped to {} s)", retry_after.as_secs()),
                None => String::new(),
            };
            let mut r = c(
                Code::ResourceExhausted,
                R::RateLimited,
                format!("Dropbox is rate limiting this connection; retry after {} s{clamped}", retry_after.as_secs().max(1)),
            );
            r.retry_after = Some(*retry_after);
            r
        }
        DbxError::ContentHashMismatch { .. } => c(
            Code::DataLoss,
            R::ContentHashMismatch,
            format!("Dropbox received bytes{at} that do not match their content_hash; nothing was committed, send again"),
        ),
        DbxError::InsufficientSpace { .. } => c(
            Code::ResourceExhausted,
            R::InsufficientSpace,
            "the Dropbox account is out of space; free space or upgrade the account".into(),
        ),
        DbxError::Timeout => c(
            Code::DeadlineExceeded,
            R::DropboxTimeout,
            format!("Dropbox did not answer in time{at}; retry, or raise the connection's timeout_seconds"),
        ),
        DbxError::Server { status, .. } => c(
            Code::Unavailable,
            R::DropboxUnavailable,
            format!("Dropbox failed with HTTP {status}{at} after retries; retry later"),
        ),
        DbxError::Transport { kind, detail } if kind.is_proxy() => c(
            Code::Unavailable,
            R::ProxyFailed,
            match kind {
                TransportKind::ProxyConnect => format!("the proxy could not be reached ({detail}); check proxy.address and proxy.port"),
                TransportKind::ProxyAuth => format!("the proxy refused the credentials ({detail}); check proxy.username, proxy.password and proxy.domain"),
                _ => format!("the proxy refused to open a tunnel to Dropbox ({detail}); check the proxy credentials (proxy.username, proxy.password, proxy.domain) and that the proxy allows CONNECT to port 443"),
            },
        ),
        DbxError::Transport { detail, .. } => c(
            Code::Unavailable,
            R::DropboxUnavailable,
            format!("could not reach Dropbox ({detail}); check the network and proxy settings, then retry"),
        ),
        DbxError::UnknownOutcome(detail) => c(
            Code::Unavailable,
            R::DropboxUnavailable,
            format!("Dropbox may or may not have applied the change{at} ({detail}); check the destination before retrying"),
        ),
        DbxError::AccessDenied { .. } => c(
            Code::PermissionDenied,
            R::DropboxPermissionDenied,
            format!("Dropbox denied access{at}; check the account's and app's permissions"),
        ),
        DbxError::PathRoot { .. } => c(
            Code::FailedPrecondition,
            R::DropboxError,
            "Dropbox refused the connection's path root (business.path_root); fix the namespace id".into(),
        ),
        // The byte range of a download starts at or past the end of the file.
        DbxError::Other { status: 416, .. } => c(
            Code::OutOfRange,
            R::InvalidArgument,
            format!("the byte range starts past the end of the file{at}; ask for an offset below the file's size (ItemMetadata.size)"),
        )
        .with("field", "range"),
        DbxError::Config(detail) => {
            c(Code::FailedPrecondition, R::InvalidArgument, format!("the connection's transport settings are invalid: {detail}"))
                .with("field", "proxy")
        }
        other => c(Code::Internal, R::DropboxError, format!("Dropbox answered with an unexpected error{at}: {other}")),
    };
    if let Some(p) = path {
        out.metadata.insert("path".into(), p.to_owned());
    }
    if let Some(summary) = e.error_summary() {
        out.metadata
            .insert("dropbox_error".into(), summary.to_owned());
    }
    out
}

/// Most bytes of the message, and of each metadata value, sent back. Errors quote what
/// the client sent (paths, names); a long one quoted in full can push the status
/// trailers over the client's header list limit (16 KiB by default), and then the client
/// sees a protocol error instead of this status.
const MAX_ECHO_BYTES: usize = 1024;

fn bounded(mut k: Classified) -> Classified {
    fn cut(s: &mut String) {
        if s.len() > MAX_ECHO_BYTES {
            let mut end = MAX_ECHO_BYTES - '…'.len_utf8();
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push('…');
        }
    }
    cut(&mut k.message);
    k.metadata.values_mut().for_each(cut);
    k
}

/// A call-level failure.
pub fn to_status(e: &TaskError) -> tonic::Status {
    let k = bounded(classify(e));
    let mut details =
        ErrorDetails::with_error_info(reason_name(k.reason), ERROR_DOMAIN, k.metadata);
    if k.retry_after.is_some() {
        details.set_retry_info(k.retry_after);
    }
    tonic::Status::with_error_details(k.code, k.message, details)
}

/// A per-item failure.
pub fn to_item_error(e: &TaskError) -> ItemError {
    let k = bounded(classify(e));
    ItemError {
        code: k.code as i32,
        reason: reason_name(k.reason).to_owned(),
        message: k.message,
        metadata: k.metadata,
    }
}

impl From<TaskError> for tonic::Status {
    fn from(e: TaskError) -> tonic::Status {
        to_status(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::dropbox::paths::PathError;

    fn dbx(e: DbxError) -> TaskError {
        dbx_at("/x", e)
    }

    fn dbx_at(at: &str, e: DbxError) -> TaskError {
        TaskError::dropbox(at, e)
    }

    fn path(kind: LookupError) -> DbxError {
        DbxError::Path {
            kind,
            summary: "path/…".into(),
        }
    }

    #[test]
    fn table() {
        use ErrorReason as R;
        let cases: Vec<(TaskError, Code, ErrorReason)> = vec![
            (
                TaskError::ConnectionNotFound { name: "x".into() },
                Code::NotFound,
                R::ConnectionNotFound,
            ),
            (
                TaskError::ConnectionNameTaken { name: "x".into() },
                Code::AlreadyExists,
                R::ConnectionNameTaken,
            ),
            (
                TaskError::invalid("f", "m"),
                Code::InvalidArgument,
                R::InvalidArgument,
            ),
            (
                TaskError::StreamOutOfOrder("x".into()),
                Code::InvalidArgument,
                R::StreamOutOfOrder,
            ),
            (
                TaskError::ChunkOffsetMismatch {
                    path: "a".into(),
                    expected: 1,
                    got: 2,
                },
                Code::InvalidArgument,
                R::ChunkOffsetMismatch,
            ),
            (
                TaskError::InvalidPath {
                    path: "a//b".into(),
                    rule: "empty path component".into(),
                },
                Code::InvalidArgument,
                R::InvalidPath,
            ),
            (
                TaskError::NoItemsMatched { folder: "/".into() },
                Code::NotFound,
                R::NoItemsMatched,
            ),
            (
                TaskError::NotAuthorized {
                    connection: "c".into(),
                },
                Code::FailedPrecondition,
                R::ConnectionNotAuthorized,
            ),
            (
                dbx(path(LookupError::NotFound)),
                Code::NotFound,
                R::PathNotFound,
            ),
            (
                dbx(path(LookupError::Conflict(ConflictKind::File))),
                Code::AlreadyExists,
                R::PathConflict,
            ),
            (
                dbx(path(LookupError::MalformedPath(None))),
                Code::InvalidArgument,
                R::MalformedPath,
            ),
            (
                dbx(path(LookupError::NotFolder)),
                Code::FailedPrecondition,
                R::PathWrongKind,
            ),
            (
                dbx(path(LookupError::NoWritePermission)),
                Code::PermissionDenied,
                R::DropboxPermissionDenied,
            ),
            (
                dbx(DbxError::InvalidPath(PathError::TrailingSlash)),
                Code::InvalidArgument,
                R::InvalidPath,
            ),
            (
                dbx(DbxError::Unauthorized {
                    tag: AuthError::InvalidAccessToken,
                    summary: "invalid_access_token/".into(),
                }),
                Code::Unauthenticated,
                R::DropboxUnauthorized,
            ),
            (
                dbx(DbxError::RateLimited {
                    retry_after: Duration::from_secs(15),
                    summary: String::new(),
                    clamped_from: None,
                }),
                Code::ResourceExhausted,
                R::RateLimited,
            ),
            (
                dbx(DbxError::Timeout),
                Code::DeadlineExceeded,
                R::DropboxTimeout,
            ),
            (
                dbx(DbxError::Server {
                    status: 503,
                    body: String::new(),
                }),
                Code::Unavailable,
                R::DropboxUnavailable,
            ),
            (
                dbx(DbxError::Transport {
                    kind: TransportKind::Reset,
                    detail: "reset".into(),
                }),
                Code::Unavailable,
                R::DropboxUnavailable,
            ),
            (
                dbx(DbxError::Transport {
                    kind: TransportKind::ProxyTunnel,
                    detail: "tunnel error: unsuccessful".into(),
                }),
                Code::Unavailable,
                R::ProxyFailed,
            ),
            (
                dbx(DbxError::InsufficientSpace {
                    summary: String::new(),
                }),
                Code::ResourceExhausted,
                R::InsufficientSpace,
            ),
            (
                dbx(DbxError::ContentHashMismatch {
                    summary: String::new(),
                }),
                Code::DataLoss,
                R::ContentHashMismatch,
            ),
            (
                dbx(DbxError::Other {
                    status: 416,
                    summary: String::new(),
                    body: String::new(),
                }),
                Code::OutOfRange,
                R::InvalidArgument,
            ),
            (
                dbx(DbxError::BadRequest("x".into())),
                Code::Internal,
                R::DropboxError,
            ),
            (
                TaskError::RevisionChanged {
                    path: "/a.txt".into(),
                    expected_rev: "015f00000001".into(),
                    current_rev: Some("015f00000002".into()),
                },
                Code::Aborted,
                R::RevisionChanged,
            ),
        ];
        for (err, code, reason) in cases {
            let k = classify(&err);
            assert_eq!((k.code, k.reason), (code, reason), "{err:?}");
            assert!(!k.message.is_empty());
        }
    }

    /// One error of every kind. The match below has no wildcard, so a new variant does
    /// not compile until it is added here (and so checked by the tests that use this).
    fn one_of_each() -> Vec<TaskError> {
        let s = || String::from("x");
        let all = vec![
            TaskError::ConnectionNotFound { name: s() },
            TaskError::ConnectionNameTaken { name: s() },
            TaskError::invalid("f", "m"),
            TaskError::InvalidPath {
                path: s(),
                rule: s(),
            },
            TaskError::StreamOutOfOrder(s()),
            TaskError::ChunkOffsetMismatch {
                path: s(),
                expected: 1,
                got: 2,
            },
            TaskError::ContentHashMismatch {
                path: s(),
                expected: s(),
                actual: s(),
            },
            TaskError::NoItemsMatched { folder: s() },
            TaskError::NotAuthorized { connection: s() },
            TaskError::CaseConflictInCall {
                path: s(),
                first: s(),
            },
            TaskError::FolderInTheWay { path: s() },
            TaskError::WrongKind {
                path: s(),
                wanted: "file",
                actual: "folder",
            },
            dbx(DbxError::Timeout),
            TaskError::ReauthorizationRequired { connection: s() },
            TaskError::NoApp { connection: s() },
            TaskError::InvalidRedirectUri {
                uri: s(),
                detail: s(),
            },
            TaskError::AuthorizationStateInvalid(s()),
            TaskError::ProxyFailed(s()),
            TaskError::TeamMemberRefused {
                connection: s(),
                member_id: s(),
                admin: false,
            },
            TaskError::UploadNotFound {
                upload_id: s(),
                expired: true,
            },
            TaskError::UploadBusy { upload_id: s() },
            TaskError::UploadSessionLost(s()),
            TaskError::Cancelled,
            TaskError::Store(crate::store::StoreError::Corrupt(s())),
            TaskError::Internal(s()),
            TaskError::CallerUnknown(s()),
            TaskError::CallerNotAllowed {
                caller: s(),
                needed_role: s(),
                message: s(),
            },
            TaskError::ServerBusy {
                message: s(),
                retry_after: Duration::from_secs(1),
            },
            TaskError::ListingTooLarge {
                folder: s(),
                max_entries: 1,
            },
            TaskError::StreamIdle { idle_seconds: 1 },
            TaskError::TargetNotAllowed {
                target: s(),
                message: s(),
            },
        ];
        let mut kinds: Vec<&str> = all
            .iter()
            .map(|e| match e {
                TaskError::ConnectionNotFound { .. } => "ConnectionNotFound",
                TaskError::ConnectionNameTaken { .. } => "ConnectionNameTaken",
                TaskError::InvalidArgument { .. } => "InvalidArgument",
                TaskError::InvalidPath { .. } => "InvalidPath",
                TaskError::StreamOutOfOrder(_) => "StreamOutOfOrder",
                TaskError::ChunkOffsetMismatch { .. } => "ChunkOffsetMismatch",
                TaskError::ContentHashMismatch { .. } => "ContentHashMismatch",
                TaskError::NoItemsMatched { .. } => "NoItemsMatched",
                TaskError::NotAuthorized { .. } => "NotAuthorized",
                TaskError::CaseConflictInCall { .. } => "CaseConflictInCall",
                TaskError::FolderInTheWay { .. } => "FolderInTheWay",
                TaskError::WrongKind { .. } => "WrongKind",
                TaskError::Dropbox { .. } => "Dropbox",
                TaskError::ReauthorizationRequired { .. } => "ReauthorizationRequired",
                TaskError::NoApp { .. } => "NoApp",
                TaskError::InvalidRedirectUri { .. } => "InvalidRedirectUri",
                TaskError::AuthorizationStateInvalid(_) => "AuthorizationStateInvalid",
                TaskError::ProxyFailed(_) => "ProxyFailed",
                TaskError::TeamMemberRefused { .. } => "TeamMemberRefused",
                TaskError::UploadNotFound { .. } => "UploadNotFound",
                TaskError::UploadBusy { .. } => "UploadBusy",
                TaskError::UploadSessionLost(_) => "UploadSessionLost",
                TaskError::Cancelled => "Cancelled",
                TaskError::Store(_) => "Store",
                TaskError::Internal(_) => "Internal",
                TaskError::CallerUnknown(_) => "CallerUnknown",
                TaskError::CallerNotAllowed { .. } => "CallerNotAllowed",
                TaskError::ServerBusy { .. } => "ServerBusy",
                TaskError::ListingTooLarge { .. } => "ListingTooLarge",
                TaskError::StreamIdle { .. } => "StreamIdle",
                TaskError::TargetNotAllowed { .. } => "TargetNotAllowed",
                TaskError::RevisionChanged { .. } => "RevisionChanged",
            })
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), all.len(), "one error of each kind");
        all
    }

    /// Every Dropbox client error, one of each kind that classify_dropbox tells apart.
    fn dropbox_errors() -> Vec<TaskError> {
        let s = || String::from("x");
        [
            path(LookupError::NotFound),
            path(LookupError::NotFile),
            path(LookupError::NotFolder),
            path(LookupError::MalformedPath(None)),
            path(LookupError::Conflict(ConflictKind::Folder)),
            path(LookupError::NoWritePermission),
            DbxError::InvalidPath(PathError::TrailingSlash),
            DbxError::Unauthorized {
                tag: AuthError::InvalidAccessToken,
                summary: s(),
            },
            DbxError::NeedsReauthorization { description: s() },
            DbxError::NoCredentials,
            DbxError::RateLimited {
                retry_after: Duration::from_secs(1),
                summary: s(),
                clamped_from: None,
            },
            DbxError::ContentHashMismatch { summary: s() },
            DbxError::InsufficientSpace { summary: s() },
            DbxError::Timeout,
            DbxError::Server {
                status: 500,
                body: s(),
            },
            DbxError::Transport {
                kind: TransportKind::ProxyAuth,
                detail: s(),
            },
            DbxError::Transport {
                kind: TransportKind::Reset,
                detail: s(),
            },
            DbxError::Other {
                status: 416,
                summary: s(),
                body: s(),
            },
            DbxError::BadRequest(s()),
        ]
        .into_iter()
        .map(dbx)
        .collect()
    }

    /// ERROR_REASON_UNSPECIFIED is never sent: every failure has a reason of its own, and
    /// internal ones have INTERNAL.
    #[test]
    fn no_failure_is_sent_without_a_reason() {
        for e in one_of_each().iter().chain(&dropbox_errors()) {
            let k = classify(e);
            assert_ne!(k.reason, ErrorReason::Unspecified, "{e:?}");
            assert_ne!(to_item_error(e).reason, "UNSPECIFIED", "{e:?}");
        }
        assert_eq!(
            classify(&TaskError::Internal("x".into())).reason,
            ErrorReason::Internal
        );
    }

    /// Messages speak to API callers of any language: a remedy that names a dbxc command
    /// belongs to dbxc (client-cli/src/reason.rs), not to the service.
    #[test]
    fn no_message_names_a_dbxc_command() {
        for e in one_of_each().iter().chain(&dropbox_errors()) {
            let k = classify(e);
            assert!(!k.message.contains("dbxc"), "{e:?}: {}", k.message);
        }
    }

    /// The same for every message the server builds anywhere: no string literal in
    /// server/src names dbxc.
    #[test]
    fn no_server_string_names_dbxc() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        rust_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        assert!(files.len() > 20, "{files:?}");
        // Spelled in two pieces so this test's own source does not match.
        let needle = concat!("dbx", "c ");
        let mut found = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                // Inside a string literal: after an odd number of quotes.
                if let Some(at) = code.find(needle)
                    && code[..at].matches('"').count() % 2 == 1
                {
                    found.push(format!("{}:{}: {code}", file.display(), n + 1));
                }
            }
        }
        assert!(
            found.is_empty(),
            "server strings name dbxc:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn long_echoes_are_cut() {
        let long_path = format!("/{}", "é/".repeat(3000));
        let status = to_status(&dbx_at(&long_path, path(LookupError::NotFound)));
        assert!(status.message().len() <= MAX_ECHO_BYTES);
        assert!(status.message().ends_with('…'));
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert!(info.metadata["path"].len() <= MAX_ECHO_BYTES);
        assert!(info.metadata["path"].starts_with("/é/é/"));
        let short = to_status(&dbx(path(LookupError::NotFound)));
        assert_eq!(
            short.get_error_details().error_info().unwrap().metadata["path"],
            "/x"
        );
    }

    #[test]
    fn status_carries_error_info_and_retry_info() {
        let err = dbx(DbxError::RateLimited {
            retry_after: Duration::from_secs(15),
            summary: "too_many_requests/".into(),
            clamped_from: None,
        });
        let status = to_status(&err);
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = status.get_error_details();
        let info = details.error_info().unwrap();
        assert_eq!(info.reason, "RATE_LIMITED");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(info.metadata.get("path").map(String::as_str), Some("/x"));
        assert_eq!(
            info.metadata.get("dropbox_error").map(String::as_str),
            Some("too_many_requests/")
        );
        assert_eq!(
            details.retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(15))
        );

        let item = to_item_error(&dbx(path(LookupError::NotFound)));
        assert_eq!(
            (item.code, item.reason.as_str()),
            (Code::NotFound as i32, "PATH_NOT_FOUND")
        );
    }
}
