//! Access token state, refresh (shared by concurrent requests) and the token sink.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;
use url::Url;

use crate::error::{Error, from_reqwest};

/// Refresh this long before the access token expires.
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What a connection authenticates with. `Debug` never prints secrets.
#[derive(Clone, Default)]
pub struct Credentials {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub app_key: Option<String>,
    pub app_secret: Option<String>,
    /// When `access_token` expires, if known.
    pub expires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("Credentials")
            .field("access_token", &redact(&self.access_token))
            .field("refresh_token", &redact(&self.refresh_token))
            .field("app_key", &self.app_key)
            .field("app_secret", &redact(&self.app_secret))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Told what happens to a connection's tokens, so the server can persist it.
pub trait TokenSink: Send + Sync {
    /// A refresh gave a new access token.
    fn tokens_refreshed(&self, access_token: &str, expires_at: Option<OffsetDateTime>);

    /// Dropbox refused the refresh token or the app credentials: no call on this
    /// connection can work until it is authorised again. Told once per client.
    fn refresh_refused(&self, _description: &str) {}
}

struct TokenState {
    access_token: Option<String>,
    expires_at: Option<OffsetDateTime>,
    /// Bumped on every refresh, so a request that saw an old token knows one happened.
    generation: u64,
    /// Set once the refresh token was refused: further refreshes are pointless.
    dead: Option<String>,
}

pub(crate) struct Auth {
    state: RwLock<TokenState>,
    refresh_lock: tokio::sync::Mutex<()>,
    refresh_token: Option<String>,
    app_key: Option<String>,
    app_secret: Option<String>,
    token_url: Url,
    timeout: Duration,
    sink: Option<Arc<dyn TokenSink>>,
}

#[derive(Deserialize)]
struct RefreshReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct OAuthErrorReply {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl Auth {
    pub(crate) fn new(
        creds: Credentials,
        token_url: Url,
        timeout: Duration,
        sink: Option<Arc<dyn TokenSink>>,
    ) -> Result<Self, Error> {
        let nonempty = |o: Option<String>| o.filter(|s| !s.is_empty());
        let access_token = nonempty(creds.access_token);
        let refresh_token = nonempty(creds.refresh_token);
        let app_key = nonempty(creds.app_key);
        if access_token.is_none() && (refresh_token.is_none() || app_key.is_none()) {
            return Err(Error::NoCredentials);
        }
        Ok(Self {
            state: RwLock::new(TokenState {
                access_token,
                expires_at: creds.expires_at,
                generation: 0,
                dead: None,
            }),
            refresh_lock: tokio::sync::Mutex::new(()),
            refresh_token,
            app_key,
            app_secret: nonempty(creds.app_secret),
            token_url,
            timeout,
            sink,
        })
    }

    pub(crate) fn can_refresh(&self) -> bool {
        self.refresh_token.is_some() && self.app_key.is_some()
    }

    fn snapshot(&self) -> (Option<String>, Option<OffsetDateTime>, u64, Option<String>) {
        match self.state.read() {
            Ok(s) => (
                s.access_token.clone(),
                s.expires_at,
                s.generation,
                s.dead.clone(),
            ),
            Err(p) => {
                let s = p.into_inner();
                (
                    s.access_token.clone(),
                    s.expires_at,
                    s.generation,
                    s.dead.clone(),
                )
            }
        }
    }

    /// The token to use now and its generation; refreshes first when it is missing or
    /// expires within [`REFRESH_MARGIN`].
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<(String, u64), Error> {
        let (token, expires_at, generation, dead) = self.snapshot();
        let expiring = expires_at.is_some_and(|t| {
            t - OffsetDateTime::now_utc()
                < time::Duration::try_from(REFRESH_MARGIN).unwrap_or(time::Duration::ZERO)
        });
        match token {
            Some(t) if !(expiring && self.can_refresh() && dead.is_none()) => Ok((t, generation)),
            _ if self.can_refresh() => self.refresh(http, generation).await,
            Some(t) => Ok((t, generation)),
            None => Err(Error::NoCredentials),
        }
    }

    /// Refresh unless someone else already did since `seen_generation`. Concurrent callers
    /// queue on one lock, so only one refresh request goes out.
    pub(crate) async fn refresh(
        &self,
        http: &reqwest::Client,
        seen_generation: u64,
    ) -> Result<(String, u64), Error> {
        let _guard = self.refresh_lock.lock().await;
        let (token, _, generation, dead) = self.snapshot();
        if let Some(description) = dead {
            return Err(Error::NeedsReauthorization { description });
        }
        if generation != seen_generation
            && let Some(t) = token
        {
            return Ok((t, generation));
        }
        let (Some(refresh_token), Some(app_key)) = (&self.refresh_token, &self.app_key) else {
            return Err(Error::NoCredentials);
        };
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", app_key.as_str()),
        ];
        if let Some(secret) = &self.app_secret {
            form.push(("client_secret", secret.as_str()));
        }
        tracing::debug!(route = "oauth2/token", "refreshing access token");
        let send = http.post(self.token_url.clone()).form(&form).send();
        let resp = tokio::time::timeout(self.timeout, send)
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(from_reqwest)?;
        let status = resp.status().as_u16();
        let body = tokio::time::timeout(self.timeout, resp.bytes())
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(from_reqwest)?;
        tracing::debug!(route = "oauth2/token", status, "refresh answered");
        if status == 200 {
            let reply: RefreshReply = serde_json::from_slice(&body)
                .map_err(|e| Error::Decode(format!("oauth2/token reply: {e}")))?;
            let expires_at = reply
                .expires_in
                .map(|s| OffsetDateTime::now_utc() + time::Duration::seconds(s));
            let new_generation = {
                let mut s = match self.state.write() {
                    Ok(s) => s,
                    Err(p) => p.into_inner(),
                };
                s.access_token = Some(reply.access_token.clone());
                s.expires_at = expires_at;
                s.generation += 1;
                s.generation
            };
            if let Some(sink) = &self.sink {
                sink.tokens_refreshed(&reply.access_token, expires_at);
            }
            return Ok((reply.access_token, new_generation));
        }
        if status >= 500 || status == 429 {
            return Err(crate::error::decode_error_response(status, None, &body));
        }
        let oauth: Option<OAuthErrorReply> = serde_json::from_slice(&body).ok();
        let (code, description) = match oauth {
            Some(o) => (o.error.clone(), o.error_description.unwrap_or(o.error)),
            None => (
                String::new(),
                String::from_utf8_lossy(&body).chars().take(300).collect(),
            ),
        };
        if matches!(
            code.as_str(),
            "invalid_grant" | "invalid_client" | "unauthorized_client"
        ) || status == 400
            || status == 401
        {
            let description = if description.is_empty() {
                code
            } else {
                description
            };
            let first = match self.state.write() {
                Ok(mut s) => s.dead.replace(description.clone()).is_none(),
                Err(_) => true,
            };
            if first && let Some(sink) = &self.sink {
                sink.refresh_refused(&description);
            }
            return Err(Error::NeedsReauthorization { description });
        }
        Err(Error::Other {
            status,
            summary: code,
            body: description,
        })
    }
}
