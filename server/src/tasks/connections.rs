//! Connections as the tasks see them: resolving a name, the rules for settings, and one
//! cached Dropbox client per connection (so token refreshes and rate-limit pacing are
//! shared by every call on that connection).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dropbox_client::{
    ActAs, Credentials, DropboxClient, Endpoints, PathRoot, ProxyConfig, TokenSink, TransportConfig,
};
use time::OffsetDateTime;

use super::TaskError;
use super::connection_client::ConnectionClient;
use crate::store::{
    AccountKind, ConnectionPage, ConnectionRecord, ConnectionStore, NewConnection, PathRootSetting,
    ProxyKind, Secrets, Settings,
};

pub const RESOURCE_PREFIX: &str = "connections/";
pub const DEFAULT_GROUP: &str = "Default group";
pub use dropbox_connector_proto::DEFAULT_TIMEOUT_SECONDS;
pub const DEFAULT_CODE_PAGE: &str = "windows-1252";
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:9999";
const MAX_TIMEOUT_SECONDS: u32 = 24 * 60 * 60;
const MAX_NAME_CHARS: usize = 200;

/// Where Dropbox is, for every connection (from the server's configuration).
#[derive(Debug, Clone, Default)]
pub struct DropboxTarget {
    pub endpoints: Endpoints,
    pub extra_ca_pem: Option<Vec<u8>>,
}

/// The server's OAuth settings.
#[derive(Clone)]
pub struct OAuthOptions {
    /// The operator's registered app, for connections without an app key.
    pub registered_app_key: Option<String>,
    pub registered_app_secret: Option<String>,
    /// How long a StartAuthorization state stays usable.
    pub state_ttl: Duration,
}

impl Default for OAuthOptions {
    fn default() -> Self {
        OAuthOptions {
            registered_app_key: None,
            registered_app_secret: None,
            state_ttl: Duration::from_secs(600),
        }
    }
}

impl std::fmt::Debug for OAuthOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthOptions")
            .field("registered_app_key", &self.registered_app_key)
            .field(
                "registered_app_secret",
                &self.registered_app_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("state_ttl", &self.state_ttl)
            .finish()
    }
}

/// Connection lookups and the client cache.
pub struct Connections {
    pub(crate) store: Arc<dyn ConnectionStore>,
    pub(crate) target: DropboxTarget,
    pub(crate) oauth: OAuthOptions,
    /// id -> (revision the client was built from, client).
    clients: Mutex<HashMap<String, (i64, DropboxClient)>>,
    /// Connections found to need authorization again since their record was read (the
    /// stored flag follows asynchronously).
    reauth_needed: Arc<Mutex<HashSet<String>>>,
}

/// The `connections/{id}` resource name of a record.
pub fn resource_name(record: &ConnectionRecord) -> String {
    format!("{RESOURCE_PREFIX}{}", record.id)
}

impl Connections {
    pub fn new(
        store: Arc<dyn ConnectionStore>,
        target: DropboxTarget,
        oauth: OAuthOptions,
    ) -> Connections {
        Connections {
            store,
            target,
            oauth,
            clients: Mutex::new(HashMap::new()),
            reauth_needed: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Whether `record` needs authorization again.
    pub fn needs_reauthorization(&self, record: &ConnectionRecord) -> bool {
        record.settings.needs_reauthorization
            || self
                .reauth_needed
                .lock()
                .map(|set| set.contains(&record.id))
                .unwrap_or(false)
    }

    /// Forgets the in-memory flag (the caller clears or replaced the stored one).
    pub(crate) fn clear_reauth_mark(&self, id: &str) {
        if let Ok(mut set) = self.reauth_needed.lock() {
            set.remove(id);
        }
    }

    /// `connections/{id}` or a display_name.
    pub async fn resolve(&self, name: &str) -> Result<ConnectionRecord, TaskError> {
        if name.trim().is_empty() {
            return Err(TaskError::invalid(
                "connection",
                "name a connection: `connections/{id}` or its display_name",
            ));
        }
        let found = match name.strip_prefix(RESOURCE_PREFIX) {
            Some(id) => self.store.get(id.to_owned()).await?,
            None => self.store.get_by_name(name.to_owned()).await?,
        };
        found.ok_or_else(|| TaskError::ConnectionNotFound {
            name: name.to_owned(),
        })
    }

    pub async fn create(&self, mut new: NewConnection) -> Result<ConnectionRecord, TaskError> {
        validate_display_name(&new.display_name)?;
        normalize_settings(&mut new.group, &mut new.settings)?;
        check_proxy_secret(&new.settings, &new.secrets)?;
        Ok(self.store.create(new).await?)
    }

    pub async fn list(
        &self,
        group: Option<String>,
        after: Option<String>,
        limit: u32,
    ) -> Result<ConnectionPage, TaskError> {
        Ok(self.store.list(group, after, limit).await?)
    }

    /// Stores `record` (already merged by the caller) after applying defaults and checks.
    pub async fn update(
        &self,
        mut record: ConnectionRecord,
    ) -> Result<ConnectionRecord, TaskError> {
        validate_display_name(&record.display_name)?;
        normalize_settings(&mut record.group, &mut record.settings)?;
        check_proxy_secret(&record.settings, &record.secrets)?;
        let id = record.id.clone();
        let before = self.store.get(record.id.clone()).await.ok().flatten();
        // Tokens Dropbox already refused cannot be revoked with them.
        let before_refused = before
            .as_ref()
            .is_some_and(|b| self.needs_reauthorization(b));
        // New credentials given by hand end a needs-authorization state.
        if record.settings.needs_reauthorization
            && let Some(before) = &before
            && (before.secrets.refresh_token != record.secrets.refresh_token
                || before.secrets.access_token != record.secrets.access_token
                || before.secrets.app_secret != record.secrets.app_secret
                || before.settings.app_key != record.settings.app_key)
        {
            record.settings.needs_reauthorization = false;
        }
        if !record.settings.needs_reauthorization {
            self.clear_reauth_mark(&record.id);
        }
        let stored = self.store.update(record).await.map_err(|e| match e {
            crate::store::StoreError::NotFound => TaskError::ConnectionNotFound {
                name: format!("{RESOURCE_PREFIX}{id}"),
            },
            other => other.into(),
        })?;
        self.forget(&stored.id);
        if let Some(before) = before
            && !before_refused
        {
            self.revoke_replaced(&before, &stored);
        }
        Ok(stored)
    }

    /// Revokes at Dropbox the tokens `before` held that `after` no longer uses (new
    /// credentials by hand, a new authorization, or cleared), in the background: the new
    /// ones are stored already, and a failure is only logged.
    fn revoke_replaced(&self, before: &ConnectionRecord, after: &ConnectionRecord) {
        let (old, new) = (&before.secrets, &after.secrets);
        // Revoking an access token also revokes its refresh token: while the refresh token
        // stays in use, a replaced access token is left to expire instead.
        let replaced = match &old.refresh_token {
            Some(refresh) => new.refresh_token.as_ref() != Some(refresh),
            None => old.access_token.is_some() && new.access_token != old.access_token,
        };
        if !replaced {
            return;
        }
        let name = after.display_name.clone();
        // The old record's app and proxy, and no token sink: a token refreshed only to be
        // revoked must never be stored over the new one.
        let client = match self.build_client_with(before, None) {
            Ok(c) => c.with_retry_policy(dropbox_client::RetryPolicy::none()),
            Err(e) => {
                tracing::warn!(connection = %name, error = %e, "could not revoke the replaced token at Dropbox");
                return;
            }
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            match client.revoke_token().await {
                Ok(()) => tracing::info!(connection = %name, "replaced token revoked at Dropbox"),
                Err(e) => {
                    tracing::warn!(connection = %name, error = %e, "could not revoke the replaced token at Dropbox; it stays valid until it expires or is revoked in the Dropbox account")
                }
            }
        });
    }

    /// Deletes the connection after revoking its token at Dropbox (best effort: when
    /// Dropbox cannot be reached or refuses, a warning is logged and the delete goes on).
    pub async fn delete(&self, name: &str) -> Result<(), TaskError> {
        let record = self.resolve(name).await?;
        let has_token =
            record.secrets.access_token.is_some() || record.secrets.refresh_token.is_some();
        if has_token && !self.needs_reauthorization(&record) {
            match self.build_client(&record) {
                Ok(client) => {
                    let client = client.with_retry_policy(dropbox_client::RetryPolicy::none());
                    match client.revoke_token().await {
                        Ok(()) => {
                            tracing::info!(connection = %record.display_name, "token revoked at Dropbox")
                        }
                        Err(e) => {
                            tracing::warn!(connection = %record.display_name, error = %e, "could not revoke the token at Dropbox; deleting the connection anyway")
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(connection = %record.display_name, error = %e, "could not revoke the token at Dropbox; deleting the connection anyway")
                }
            }
        }
        self.store
            .delete(record.id.clone())
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound => TaskError::ConnectionNotFound {
                    name: name.to_owned(),
                },
                other => other.into(),
            })?;
        self.forget(&record.id);
        self.clear_reauth_mark(&record.id);
        Ok(())
    }

    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.clients.lock() {
            cache.remove(id);
        }
    }

    /// The Dropbox client of a connection: the cached one while the connection is
    /// unchanged, a new one after an update.
    pub async fn client(&self, name: &str) -> Result<DropboxClient, TaskError> {
        let record = self.resolve(name).await?;
        self.client_of(&record)
    }

    /// The client of `name`, naming the connection in its errors (see [`ConnectionClient`]).
    pub async fn connection_client(&self, name: &str) -> Result<ConnectionClient, TaskError> {
        let record = self.resolve(name).await?;
        self.connection_client_of(&record)
    }

    /// The client of `record`, naming the connection in its errors.
    pub fn connection_client_of(
        &self,
        record: &ConnectionRecord,
    ) -> Result<ConnectionClient, TaskError> {
        Ok(ConnectionClient::new(self.client_of(record)?, record))
    }

    /// The (cached) client of a record; fails fast when it needs authorization again.
    pub fn client_of(&self, record: &ConnectionRecord) -> Result<DropboxClient, TaskError> {
        if self.needs_reauthorization(record) {
            return Err(TaskError::ReauthorizationRequired {
                connection: record.display_name.clone(),
            });
        }
        if let Ok(cache) = self.clients.lock()
            && let Some((revision, client)) = cache.get(&record.id)
            && *revision == record.revision
        {
            return Ok(client.clone());
        }
        let client = self.build_client(record)?;
        if let Ok(mut cache) = self.clients.lock() {
            cache.insert(record.id.clone(), (record.revision, client.clone()));
        }
        Ok(client)
    }

    /// How the connection reaches Dropbox (endpoints, trust, timeout, proxy).
    pub fn transport(&self, record: &ConnectionRecord) -> TransportConfig {
        TransportConfig {
            endpoints: self.target.endpoints.clone(),
            extra_ca_pem: self.target.extra_ca_pem.clone(),
            timeout: Duration::from_secs(u64::from(record.settings.timeout_seconds.max(1))),
            proxy: proxy_config(record),
        }
    }

    /// The app of a connection: its own app key (and secret), else the operator's
    /// registered app. `None` when there is neither.
    pub fn app_of(&self, record: &ConnectionRecord) -> Option<(String, Option<String>)> {
        let own = record.settings.app_key.trim();
        if !own.is_empty() {
            return Some((own.to_owned(), record.secrets.app_secret.clone()));
        }
        self.oauth
            .registered_app_key
            .clone()
            .map(|k| (k, self.oauth.registered_app_secret.clone()))
    }

    /// A new (uncached) client for `record`; tokens it refreshes are stored.
    pub fn build_client(&self, record: &ConnectionRecord) -> Result<DropboxClient, TaskError> {
        let sink: Arc<dyn TokenSink> = Arc::new(StoreTokenSink {
            store: self.store.clone(),
            reauth_needed: self.reauth_needed.clone(),
            id: record.id.clone(),
        });
        self.build_client_with(record, Some(sink))
    }

    fn build_client_with(
        &self,
        record: &ConnectionRecord,
        sink: Option<Arc<dyn TokenSink>>,
    ) -> Result<DropboxClient, TaskError> {
        let transport = self.transport(record);
        let (app_key, app_secret) = match self.app_of(record) {
            Some((k, s)) => (Some(k), s),
            None => (None, None),
        };
        let credentials = Credentials {
            access_token: record.secrets.access_token.clone(),
            refresh_token: record.secrets.refresh_token.clone(),
            app_key,
            app_secret,
            expires_at: record
                .secrets
                .access_token_expires_at
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
        };
        DropboxClient::new(&transport, credentials, act_as(record), sink).map_err(|e| match e {
            dropbox_client::Error::NoCredentials => TaskError::NotAuthorized {
                connection: record.display_name.clone(),
            },
            other => TaskError::Dropbox {
                path: None,
                source: other,
            },
        })
    }
}

/// Business settings -> Dropbox team headers (personal connections send none).
fn act_as(record: &ConnectionRecord) -> ActAs {
    let b = &record.settings.business;
    if record.settings.account_type != AccountKind::Business {
        return ActAs::default();
    }
    let member = Some(b.team_member_id.clone()).filter(|m| !m.is_empty());
    ActAs {
        select_user: if b.as_admin { None } else { member.clone() },
        select_admin: if b.as_admin { member } else { None },
        path_root: b.path_root.as_ref().map(|r| match r {
            PathRootSetting::Home => PathRoot::Home,
            PathRootSetting::TeamRoot(ns) => PathRoot::Root(ns.clone()),
            PathRootSetting::Namespace(ns) => PathRoot::NamespaceId(ns.clone()),
        }),
    }
}

fn proxy_config(record: &ConnectionRecord) -> Option<ProxyConfig> {
    let p = &record.settings.proxy;
    let kind = match p.kind {
        ProxyKind::None => return None,
        ProxyKind::Http => dropbox_client::ProxyKind::Http,
        ProxyKind::Https => dropbox_client::ProxyKind::Https,
        ProxyKind::Socks5 => dropbox_client::ProxyKind::Socks5,
        ProxyKind::Socks4 => dropbox_client::ProxyKind::Socks4,
    };
    let nonempty = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    Some(ProxyConfig {
        kind,
        host: p.address.clone(),
        port: u16::try_from(p.port).unwrap_or(0),
        username: if p.use_credentials {
            nonempty(&p.username)
        } else {
            None
        },
        password: if p.use_credentials {
            record.secrets.proxy_password.clone()
        } else {
            None
        },
        domain: if p.use_credentials {
            nonempty(&p.domain)
        } else {
            None
        },
    })
}

/// Marks connection `id` as needing authorization again: now in memory (so the next call
/// fails fast, cached client or not), and in the store in the background.
fn mark_needs_reauthorization(
    marks: &Mutex<HashSet<String>>,
    store: &Arc<dyn ConnectionStore>,
    id: &str,
    description: &str,
) {
    let first = marks
        .lock()
        .map(|mut set| set.insert(id.to_owned()))
        .unwrap_or(true);
    if !first {
        return;
    }
    tracing::warn!(connection_id = %id, reason = %description, "Dropbox refused the refresh token; the connection needs authorization again");
    let store = store.clone();
    let id = id.to_owned();
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            if let Err(e) = store.set_needs_reauthorization(id.clone(), true).await {
                tracing::warn!(connection_id = %id, error = %e, "could not store the needs-authorization flag");
            }
        });
    }
}

/// Persists what the client learns about the tokens: refreshed access tokens (so a
/// restart does not start with an expired one) and a refused refresh token (the
/// connection needs authorization again).
struct StoreTokenSink {
    store: Arc<dyn ConnectionStore>,
    reauth_needed: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl TokenSink for StoreTokenSink {
    fn refresh_refused(&self, description: &str) {
        mark_needs_reauthorization(&self.reauth_needed, &self.store, &self.id, description);
    }

    fn tokens_refreshed(&self, access_token: &str, expires_at: Option<OffsetDateTime>) {
        let store = self.store.clone();
        let id = self.id.clone();
        let token = access_token.to_owned();
        let expires = expires_at.map(OffsetDateTime::unix_timestamp);
        // Called from inside a request; the write must not hold that request up.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(e) = store.save_access_token(id.clone(), token, expires).await {
                    tracing::warn!(connection = %id, error = %e, "could not persist a refreshed access token");
                }
            });
        }
    }
}

fn validate_display_name(name: &str) -> Result<(), TaskError> {
    if name.trim().is_empty() {
        return Err(TaskError::invalid(
            "display_name",
            "a connection needs a display_name (e.g. \"reports\")",
        ));
    }
    if name.starts_with(RESOURCE_PREFIX) {
        return Err(TaskError::invalid(
            "display_name",
            format!(
                "a display_name must not start with {RESOURCE_PREFIX:?}: that form is reserved for resource names"
            ),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(TaskError::invalid(
            "display_name",
            format!(
                "a display_name has at most {MAX_NAME_CHARS} characters and no control characters"
            ),
        ));
    }
    Ok(())
}

/// Defaults (VisualCron's) and checks for settings.
pub fn normalize_settings(group: &mut String, s: &mut Settings) -> Result<(), TaskError> {
    if group.trim().is_empty() {
        *group = DEFAULT_GROUP.to_owned();
    }
    if s.timeout_seconds == 0 {
        s.timeout_seconds = DEFAULT_TIMEOUT_SECONDS;
    }
    if s.timeout_seconds > MAX_TIMEOUT_SECONDS {
        return Err(TaskError::invalid(
            "timeout_seconds",
            format!("at most {MAX_TIMEOUT_SECONDS} seconds"),
        ));
    }
    if s.code_page.trim().is_empty() {
        s.code_page = DEFAULT_CODE_PAGE.to_owned();
    }
    match encoding_rs::Encoding::for_label(s.code_page.trim().as_bytes()) {
        Some(enc) => s.code_page = enc.name().to_ascii_lowercase(),
        None => {
            return Err(TaskError::invalid(
                "code_page",
                format!(
                    "{:?} is not a known encoding label; use one like \"windows-1252\" or \"utf-8\"",
                    s.code_page
                ),
            ));
        }
    }
    if s.redirect_uri.trim().is_empty() {
        s.redirect_uri = DEFAULT_REDIRECT_URI.to_owned();
    }
    s.redirect_uri = s.redirect_uri.trim().to_owned();
    validate_redirect_uri("app.redirect_uri", &s.redirect_uri)?;
    let p = &s.proxy;
    if p.kind != ProxyKind::None {
        if p.address.trim().is_empty() {
            return Err(TaskError::invalid(
                "proxy.address",
                "a proxy needs an address",
            ));
        }
        if p.port == 0 || p.port > u32::from(u16::MAX) {
            return Err(TaskError::invalid(
                "proxy.port",
                "a proxy needs a port between 1 and 65535",
            ));
        }
    }
    Ok(())
}

/// SOCKS4 has no password field (only a user id), and the HTTP stack sends none: a
/// stored password would be dropped unseen, so the proxy would see an anonymous client.
fn check_proxy_secret(s: &Settings, secrets: &Secrets) -> Result<(), TaskError> {
    let has_password = secrets
        .proxy_password
        .as_deref()
        .is_some_and(|p| !p.is_empty());
    if s.proxy.kind == ProxyKind::Socks4 && s.proxy.use_credentials && has_password {
        return Err(TaskError::invalid(
            "proxy.password",
            "a SOCKS4 proxy cannot carry a password, so it would never reach the proxy; use proxy type SOCKS5, which carries a username and password, or clear proxy.password / use_credentials",
        ));
    }
    Ok(())
}

/// A redirect URI Dropbox can accept: https, or http only for a loopback host
/// (localhost, 127.0.0.1, [::1]); no fragment.
pub fn validate_redirect_uri(field: &str, uri: &str) -> Result<(), TaskError> {
    let hint = format!(
        "register exactly this URI in the Dropbox app console; VisualCron users register {DEFAULT_REDIRECT_URI} and http://localhost"
    );
    let url = url::Url::parse(uri).map_err(|_| {
        TaskError::invalid(
            field,
            format!("{uri:?} is not a URL; use e.g. {DEFAULT_REDIRECT_URI} ({hint})"),
        )
    })?;
    if url.fragment().is_some() {
        return Err(TaskError::invalid(
            field,
            format!("{uri:?} has a #fragment, which OAuth redirect URIs must not have"),
        ));
    }
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(TaskError::invalid(
            field,
            format!(
                "{uri:?}: Dropbox accepts http:// redirect URIs only for localhost, 127.0.0.1 or [::1]; use https:// for other hosts"
            ),
        )),
        _ => Err(TaskError::invalid(
            field,
            format!("{uri:?}: a redirect URI must be https:// (or http:// on localhost)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        for ok in [
            "http://localhost",
            "http://localhost:9999",
            "http://127.0.0.1:8080/cb",
            "http://[::1]:9999",
            "https://example.com/oauth",
        ] {
            assert!(validate_redirect_uri("f", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "ftp://localhost",
            "localhost:9999",
            "https://localhost/#x",
            "http://localhost.example.com",
        ] {
            assert!(validate_redirect_uri("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_and_code_pages() {
        let mut group = String::new();
        let mut s = Settings::default();
        normalize_settings(&mut group, &mut s).unwrap();
        assert_eq!(group, DEFAULT_GROUP);
        assert_eq!(s.timeout_seconds, 60);
        assert_eq!(s.code_page, "windows-1252");
        assert_eq!(s.redirect_uri, DEFAULT_REDIRECT_URI);
        s.code_page = "UTF8".into();
        normalize_settings(&mut group, &mut s).unwrap();
        assert_eq!(s.code_page, "utf-8");
        s.code_page = "klingon".into();
        assert!(normalize_settings(&mut group, &mut s).is_err());
    }

    #[test]
    fn names() {
        assert!(validate_display_name("reports").is_ok());
        assert!(validate_display_name(" ").is_err());
        assert!(validate_display_name("connections/x").is_err());
    }
}
