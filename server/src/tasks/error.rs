//! What a task can fail with. The api layer turns these into gRPC statuses (and per-item
//! errors) in exactly one place: `api::status`.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("no connection is named {name:?}")]
    ConnectionNotFound { name: String },
    #[error("a connection named {name:?} already exists")]
    ConnectionNameTaken { name: String },
    #[error("{field}: {message}")]
    InvalidArgument { field: String, message: String },
    /// A path the caller gave breaks a Dropbox path rule; refused before any request.
    #[error("invalid path {path:?}: {rule}")]
    InvalidPath { path: String, rule: String },
    #[error("stream out of order: {0}")]
    StreamOutOfOrder(String),
    #[error("chunk for {path} starts at {got}, but {expected} bytes have arrived")]
    ChunkOffsetMismatch {
        path: String,
        expected: u64,
        got: u64,
    },
    #[error("content_hash of {path} is {actual}, the client said {expected}")]
    ContentHashMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("no items in {folder:?} match the filter")]
    NoItemsMatched { folder: String },
    #[error("connection {connection:?} has no usable credentials")]
    NotAuthorized { connection: String },
    /// Two files of one upload call name one Dropbox file (paths ignore case).
    #[error("{path} differs only in case from {first:?}, earlier in this call")]
    CaseConflictInCall { path: String, first: String },
    /// A folder is where a file is to be stored.
    #[error("a folder is at {path}")]
    FolderInTheWay { path: String },
    #[error("{path} is a {actual} where a {wanted} was needed")]
    WrongKind {
        path: String,
        wanted: &'static str,
        actual: &'static str,
    },
    #[error("Dropbox: {source}")]
    Dropbox {
        /// The Dropbox path the call was about, when there is one.
        path: Option<String>,
        #[source]
        source: dropbox_client::Error,
    },
    #[error("connection {connection:?} needs to be authorised again")]
    ReauthorizationRequired { connection: String },
    #[error("connection {connection:?} has no app key and the server has no registered app")]
    NoApp { connection: String },
    #[error("Dropbox refused the redirect URI {uri}: {detail}")]
    InvalidRedirectUri { uri: String, detail: String },
    #[error("authorization state refused: {0}")]
    AuthorizationStateInvalid(String),
    #[error("the proxy failed: {0}")]
    ProxyFailed(String),
    #[error("Dropbox refused the team member id {member_id:?} of connection {connection:?}")]
    TeamMemberRefused {
        connection: String,
        member_id: String,
        admin: bool,
    },
    #[error("no resumable upload {upload_id:?} (expired: {expired})")]
    UploadNotFound { upload_id: String, expired: bool },
    #[error("another stream is writing resumable upload {upload_id:?}")]
    UploadBusy { upload_id: String },
    #[error("resumable upload cannot go on: {0}")]
    UploadSessionLost(String),
    #[error("cancelled by the client")]
    Cancelled,
    #[error("connection store: {0}")]
    Store(StoreError),
    #[error("internal error: {0}")]
    Internal(String),
    /// No known identity on the call (see `auth`).
    #[error("caller not recognised: {0}")]
    CallerUnknown(String),
    /// A known caller whose role or groups do not allow the call or the connection.
    #[error("caller {caller:?} is not allowed: {message}")]
    CallerNotAllowed {
        caller: String,
        needed_role: String,
        message: String,
    },
    /// The service is at a resource limit (upload buffer budget, streams); retry later.
    #[error("server busy: {message}")]
    ServerBusy {
        message: String,
        retry_after: std::time::Duration,
    },
    /// A listing-based call would hold more entries than the configured cap.
    #[error("listing of {folder:?} holds more than {max_entries} entries")]
    ListingTooLarge { folder: String, max_entries: u64 },
    /// The client stopped sending on a stream for longer than the idle timeout.
    #[error("stream idle for {idle_seconds} s")]
    StreamIdle { idle_seconds: u64 },
    /// A delete pinned to a revision found another one: the file changed and was kept.
    #[error("{path} is no longer at revision {expected_rev}")]
    RevisionChanged {
        path: String,
        expected_rev: String,
        /// `None` when the current revision could not be read.
        current_rev: Option<String>,
    },
    /// A connection test aimed at a loopback, link-local or private address.
    #[error("test target {target} is not allowed: {message}")]
    TargetNotAllowed { target: String, message: String },
}

impl TaskError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> TaskError {
        TaskError::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The caller's `path` broke a path rule (checked here, before any request).
    pub fn invalid_path(
        path: impl Into<String>,
        rule: &dropbox_client::paths::PathError,
    ) -> TaskError {
        TaskError::InvalidPath {
            path: path.into(),
            rule: rule.to_string(),
        }
    }

    /// A Dropbox failure about `path`.
    pub fn dropbox(path: impl Into<String>, source: dropbox_client::Error) -> TaskError {
        TaskError::Dropbox {
            path: Some(path.into()),
            source,
        }
    }
}

impl From<StoreError> for TaskError {
    fn from(e: StoreError) -> TaskError {
        match e {
            StoreError::NameTaken(name) => TaskError::ConnectionNameTaken { name },
            other => TaskError::Store(other),
        }
    }
}
