//! The stored shape of a connection, independent of protobuf and of the database.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A connection as the store keeps it. `settings` is everything that is not secret;
/// `secrets` travels sealed (see [`super::secrets`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRecord {
    /// The `{id}` of `connections/{id}`.
    pub id: String,
    pub display_name: String,
    pub group: String,
    pub settings: Settings,
    pub secrets: Secrets,
    /// Moves on every user change; cached Dropbox clients are keyed by it.
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

/// Non-secret settings, stored as one JSON document so that adding a setting needs no
/// migration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub timeout_seconds: u32,
    pub code_page: String,
    pub app_key: String,
    pub redirect_uri: String,
    pub account_type: AccountKind,
    pub business: Business,
    pub proxy: Proxy,
    pub account: Option<Account>,
    /// Dropbox refused the refresh token: every call fails fast until the connection is
    /// authorised again (CompleteAuthorization, or new credentials by hand).
    pub needs_reauthorization: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    #[default]
    Personal,
    Business,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Business {
    pub team_member_id: String,
    pub as_admin: bool,
    pub path_root: Option<PathRootSetting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathRootSetting {
    Home,
    TeamRoot(String),
    Namespace(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyKind {
    #[default]
    None,
    Http,
    Https,
    Socks5,
    Socks4,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Proxy {
    pub kind: ProxyKind,
    pub address: String,
    pub port: u32,
    pub use_credentials: bool,
    pub username: String,
    pub domain: String,
    pub test_url: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    pub account_id: String,
    pub email: String,
    pub display_name: String,
    pub account_type: String,
}

/// The write-only values. `Debug` never prints them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Secrets {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub app_secret: Option<String>,
    pub proxy_password: Option<String>,
    /// Unix seconds when `access_token` expires, when known.
    pub access_token_expires_at: Option<i64>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |o: &Option<String>| o.is_some();
        f.debug_struct("Secrets")
            .field("access_token", &set(&self.access_token))
            .field("refresh_token", &set(&self.refresh_token))
            .field("app_secret", &set(&self.app_secret))
            .field("proxy_password", &set(&self.proxy_password))
            .field("access_token_expires_at", &self.access_token_expires_at)
            .finish()
    }
}

/// What a new connection starts with.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub display_name: String,
    pub group: String,
    pub settings: Settings,
    pub secrets: Secrets,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct ConnectionPage {
    pub connections: Vec<ConnectionRecord>,
    /// The display_name to continue after, when there is more.
    pub next_after: Option<String>,
}

/// An authorization in progress (StartAuthorization -> CompleteAuthorization). `Debug`
/// never prints the verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// The `state` parameter: random, single use.
    pub state: String,
    pub connection_id: String,
    /// The app the authorize URL was made for.
    pub app_key: String,
    /// `None`: no redirect (the user pastes the code).
    pub redirect_uri: Option<String>,
    /// The PKCE verifier (sealed at rest).
    pub verifier: String,
    /// Unix seconds after which the state is refused.
    pub expires_at: i64,
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("connection_id", &self.connection_id)
            .field("app_key", &self.app_key)
            .field("redirect_uri", &self.redirect_uri)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
