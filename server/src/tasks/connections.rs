//! Connections as the tasks see them: resolving a name, the rules for settings, and one
//! cached Dropbox client per connection (so token refreshes and rate-limit pacing are
//! shared by every call on that connection).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dropbox_client::{
    ActAs, Credentials, DropboxClient, Endpoints, PathRoot, ProxyConfig, TokenSink, TransportConfig,
};
use time::OffsetDateTime;

use super::TaskError;
use crate::store::{
    AccountKind, ConnectionPage, ConnectionRecord, ConnectionStore, NewConnection, PathRootSetting,
    ProxyKind, Settings,
};

pub const RESOURCE_PREFIX: &str = "connections/";
pub const DEFAULT_GROUP: &str = "Default group";
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 60;
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

/// Connection lookups and the client cache.
pub struct Connections {
    store: Arc<dyn ConnectionStore>,
    target: DropboxTarget,
    /// id -> (revision the client was built from, client).
    clients: Mutex<HashMap<String, (i64, DropboxClient)>>,
}

/// The `connections/{id}` resource name of a record.
pub fn resource_name(record: &ConnectionRecord) -> String {
    format!("{RESOURCE_PREFIX}{}", record.id)
}

impl Connections {
    pub fn new(store: Arc<dyn ConnectionStore>, target: DropboxTarget) -> Connections {
        Connections {
            store,
            target,
            clients: Mutex::new(HashMap::new()),
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
        let id = record.id.clone();
        let stored = self.store.update(record).await.map_err(|e| match e {
            crate::store::StoreError::NotFound => TaskError::ConnectionNotFound {
                name: format!("{RESOURCE_PREFIX}{id}"),
            },
            other => other.into(),
        })?;
        self.forget(&stored.id);
        Ok(stored)
    }

    pub async fn delete(&self, name: &str) -> Result<(), TaskError> {
        let record = self.resolve(name).await?;
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
        Ok(())
    }

    fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.clients.lock() {
            cache.remove(id);
        }
    }

    /// The Dropbox client of a connection: the cached one while the connection is
    /// unchanged, a new one after an update.
    pub async fn client(&self, name: &str) -> Result<DropboxClient, TaskError> {
        let record = self.resolve(name).await?;
        if let Ok(cache) = self.clients.lock()
            && let Some((revision, client)) = cache.get(&record.id)
            && *revision == record.revision
        {
            return Ok(client.clone());
        }
        let client = self.build_client(&record)?;
        if let Ok(mut cache) = self.clients.lock() {
            cache.insert(record.id.clone(), (record.revision, client.clone()));
        }
        Ok(client)
    }

    fn build_client(&self, record: &ConnectionRecord) -> Result<DropboxClient, TaskError> {
        let s = &record.settings;
        let transport = TransportConfig {
            endpoints: self.target.endpoints.clone(),
            extra_ca_pem: self.target.extra_ca_pem.clone(),
            timeout: Duration::from_secs(u64::from(s.timeout_seconds.max(1))),
            proxy: proxy_config(record),
        };
        let credentials = Credentials {
            access_token: record.secrets.access_token.clone(),
            refresh_token: record.secrets.refresh_token.clone(),
            app_key: Some(s.app_key.clone()).filter(|k| !k.is_empty()),
            app_secret: record.secrets.app_secret.clone(),
            expires_at: record
                .secrets
                .access_token_expires_at
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
        };
        let sink: Arc<dyn TokenSink> = Arc::new(StoreTokenSink {
            store: self.store.clone(),
            id: record.id.clone(),
        });
        DropboxClient::new(&transport, credentials, act_as(record), Some(sink)).map_err(|e| match e
        {
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

/// Persists tokens the client refreshed, so a restart does not start with an expired one.
struct StoreTokenSink {
    store: Arc<dyn ConnectionStore>,
    id: String,
}

impl TokenSink for StoreTokenSink {
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
    if url::Url::parse(&s.redirect_uri).is_err() {
        return Err(TaskError::invalid(
            "app.redirect_uri",
            format!(
                "{:?} is not a URL; Dropbox needs one registered for the app, e.g. {DEFAULT_REDIRECT_URI}",
                s.redirect_uri
            ),
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
