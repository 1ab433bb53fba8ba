//! Dropbox API v2 client used by dropbox-connector: the only code that speaks HTTP to
//! Dropbox (and to proxies); the server's tasks call it and never name the HTTP stack.
//!
//! * [`DropboxClient`]: cheap to clone; shares one `reqwest::Client`, token state and
//!   rate-limit pacing between clones.
//! * [`transport`]: optional proxy, timeouts, extra CA PEM on top of the built-in Mozilla
//!   roots (webpki-roots); [`TransportKind`] says what a transport failure was; the proxy
//!   check of a connection test.
//! * [`oauth`]: PKCE, the authorize URL and its preflight, the code exchange.
//! * Auth: access token, refresh via `{api_url}/oauth2/token` about 5 minutes before expiry
//!   and once on `expired_access_token`; concurrent requests share one refresh.
//! * Errors: [`Error`] is structured so callers never parse strings.
//! * Retries: 429 honoured (pacing is shared by all clones), 5xx and connection errors
//!   get jittered exponential backoff, bounded by [`RetryPolicy`].

mod auth;
mod client;
mod error;
pub mod oauth;
pub mod paths;
mod retry;
mod retry_after;
mod routes;
pub mod transport;
mod wire;

/// Dropbox's content_hash, from its own crate so the CLI and test kits share it; the path
/// `dropbox_client::content_hash` stays for the server's callers.
pub use dropbox_content_hash as content_hash;

pub use auth::{Credentials, TokenSink};
pub use client::{ActAs, DropboxClient, PathRoot};
pub use error::{AuthError, ConflictKind, Error, LookupError, SessionError};
pub use retry::RetryPolicy;
pub use retry_after::MAX_RETRY_AFTER;
pub use routes::files::{
    ByteRange, CommitInfo, ContentRange, Download, ListFolderPage, MAX_REQUEST_BODY, WriteMode,
};
pub use transport::{
    Endpoints, ProxyConfig, ProxyKind, TransportConfig, TransportKind, error_chain,
};
pub use wire::{
    Account, AccountType, FileMetadata, FolderMetadata, Metadata, Name, RootInfo,
    escape_header_json, format_timestamp,
};
