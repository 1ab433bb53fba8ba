//! Where connections live: the [`ConnectionStore`] trait, the embedded SQLite store, and
//! the one module that knows how secrets are encoded.

pub mod files;
mod model;
pub mod secrets;
pub mod sqlite;
mod sqlite_uploads;
mod uploads;

use futures::future::BoxFuture;

pub use files::{LockError, StoreLock};
pub use model::{
    Account, AccountKind, Business, ConnectionPage, ConnectionRecord, NewConnection,
    PathRootSetting, PendingAuthorization, Proxy, ProxyKind, Secrets, Settings,
};
pub use secrets::Sealer;
pub use sqlite::{SqliteStore, migrate_secrets, rotate_key};
pub use uploads::{PendingAppend, ResumableUpload, UploadStore, UploadTarget};

/// Store failures. `NameTaken` and `NotFound` are the caller's business; the rest are
/// operational.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a connection named {0:?} already exists")]
    NameTaken(String),
    #[error("the connection does not exist")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Secrets(#[from] secrets::SecretsError),
    #[error("stored connection is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "{0} connection(s) still hold secrets in the legacy plain (unsealed) format, which a \
         server does not read: stop the server and run `dropbox-connector {cmd}` (with the \
         usual DBXC_SECRETS__KEY or DBXC_SECRETS__KEY_FILE) to seal them under the current key",
        cmd = secrets::MIGRATE_COMMAND
    )]
    LegacyPlaintext(usize),
    #[error(transparent)]
    Locked(#[from] LockError),
}

/// Persistence of connections. Object-safe (boxed futures) so that the server can pick
/// SQLite or, later, PostgreSQL at start-up.
pub trait ConnectionStore: Send + Sync + 'static {
    /// Inserts a connection; `NameTaken` when the display_name is in use.
    fn create(&self, new: NewConnection) -> BoxFuture<'_, Result<ConnectionRecord, StoreError>>;
    /// By id (the `{id}` of `connections/{id}`).
    fn get(&self, id: String) -> BoxFuture<'_, Result<Option<ConnectionRecord>, StoreError>>;
    /// By display_name (exact).
    fn get_by_name(
        &self,
        display_name: String,
    ) -> BoxFuture<'_, Result<Option<ConnectionRecord>, StoreError>>;
    /// Ordered by display_name, starting after `after`, at most `limit`.
    fn list(
        &self,
        group: Option<String>,
        after: Option<String>,
        limit: u32,
    ) -> BoxFuture<'_, Result<ConnectionPage, StoreError>>;
    /// Replaces every field but id and create_time; bumps revision and update_time.
    fn update(
        &self,
        record: ConnectionRecord,
    ) -> BoxFuture<'_, Result<ConnectionRecord, StoreError>>;
    /// `NotFound` when there was nothing to delete.
    fn delete(&self, id: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Persists a refreshed access token without bumping the revision (the cached client
    /// already holds it).
    fn save_access_token(
        &self,
        id: String,
        access_token: String,
        expires_at: Option<i64>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Sets or clears the "needs authorization again" flag without bumping the revision.
    fn set_needs_reauthorization(
        &self,
        id: String,
        flag: bool,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Keeps an authorization in progress (and drops expired ones).
    fn put_pending_authorization(
        &self,
        pending: PendingAuthorization,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Removes and returns the authorization of `state` (single use), expired or not.
    fn take_pending_authorization(
        &self,
        state: String,
    ) -> BoxFuture<'_, Result<Option<PendingAuthorization>, StoreError>>;
}
