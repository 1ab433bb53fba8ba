//! Access tokens, refresh tokens and authorization codes, and turning a request's
//! credentials into the account (and namespace) it acts as.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::accounts::{Account, Directory};
use crate::wire::{self, ApiError};

/// Who a token belongs to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Subject {
    Account(String),
    Team,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessGrant {
    pub subject: Subject,
    /// Seconds since the epoch; `None` never expires.
    pub expires_at: Option<u64>,
    pub refresh_token: Option<String>,
    pub app_key: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub subject: Subject,
    pub app_key: String,
    pub scope: String,
}

#[derive(Clone, Debug)]
pub struct AuthCode {
    pub subject: Subject,
    pub app_key: String,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub expires_at: u64,
    /// `token_access_type=offline`: hand out a refresh token.
    pub offline: bool,
}

/// Every issued credential.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TokenStore {
    pub access: HashMap<String, AccessGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    #[serde(skip)]
    pub codes: HashMap<String, AuthCode>,
}

pub const SCOPE: &str = "account_info.read files.content.read files.content.write files.metadata.read files.metadata.write";

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn random_token(prefix: &str, bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

impl TokenStore {
    /// Issues an access token (and a refresh token when `with_refresh`).
    pub fn issue(
        &mut self,
        subject: Subject,
        app_key: &str,
        lifetime: Duration,
        refresh_token: Option<String>,
    ) -> (String, Option<String>) {
        let refresh = refresh_token.or_else(|| {
            let r = random_token("", 48);
            self.refresh.insert(
                r.clone(),
                RefreshGrant {
                    subject: subject.clone(),
                    app_key: app_key.to_string(),
                    scope: SCOPE.to_string(),
                },
            );
            Some(r)
        });
        let access = random_token("sl.", 96);
        self.access.insert(
            access.clone(),
            AccessGrant {
                subject,
                expires_at: Some(now_secs() + lifetime.as_secs()),
                refresh_token: refresh.clone(),
                app_key: Some(app_key.to_string()),
            },
        );
        (access, refresh)
    }

    /// Expires every issued access token (static `--token` ones too when `all`).
    pub fn expire_all(&mut self, dir: &Directory, all: bool) -> usize {
        let now = now_secs();
        let mut n = 0;
        for grant in self.access.values_mut() {
            grant.expires_at = Some(now.saturating_sub(1));
            n += 1;
        }
        if all {
            for a in &dir.accounts {
                if let Some(t) = &a.access_token {
                    self.access.insert(
                        t.clone(),
                        AccessGrant {
                            subject: Subject::Account(a.account_id.clone()),
                            expires_at: Some(now.saturating_sub(1)),
                            refresh_token: None,
                            app_key: None,
                        },
                    );
                    n += 1;
                }
            }
            if let Some(team) = &dir.team {
                self.access.insert(
                    team.team_token.clone(),
                    AccessGrant {
                        subject: Subject::Team,
                        expires_at: Some(now.saturating_sub(1)),
                        refresh_token: None,
                        app_key: None,
                    },
                );
                n += 1;
            }
        }
        n
    }

    /// Expires one issued access token (static `--token` ones are left alone).
    pub fn expire(&mut self, token: &str) {
        if let Some(grant) = self.access.get_mut(token) {
            grant.expires_at = Some(now_secs().saturating_sub(1));
        }
    }

    /// Revokes an access token and its refresh token (with every token it minted).
    pub fn revoke(&mut self, token: &str) {
        if let Some(grant) = self.access.remove(token)
            && let Some(refresh) = grant.refresh_token
        {
            self.refresh.remove(&refresh);
            self.access
                .retain(|_, g| g.refresh_token.as_deref() != Some(refresh.as_str()));
        }
    }

    /// Who `token` is, or the 401 error.
    pub fn check(&self, dir: &Directory, token: &str) -> Result<Subject, ApiError> {
        if let Some(grant) = self.access.get(token) {
            if grant.expires_at.is_some_and(|t| t <= now_secs()) {
                return Err(ApiError::auth("expired_access_token"));
            }
            return Ok(grant.subject.clone());
        }
        if let Some(a) = dir.by_static_token(token) {
            return Ok(Subject::Account(a.account_id.clone()));
        }
        if dir.team.as_ref().is_some_and(|t| t.team_token == token) {
            return Ok(Subject::Team);
        }
        Err(ApiError::auth("invalid_access_token"))
    }
}

/// The bearer token of a request (header or `authorization` query parameter).
pub fn bearer(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    let raw = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.get("authorization").cloned())?;
    let raw = raw.trim();
    let token = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .unwrap_or(raw);
    Some(token.trim().to_string())
}

/// Who a request acts as.
#[derive(Clone, Debug)]
pub struct Caller {
    pub account: Account,
    /// Namespace for plain paths (Path-Root applied).
    pub ns: String,
    /// Namespaces `id:` / `ns:` lookups may reach.
    pub namespaces: Vec<String>,
}

/// Who the request acts as: a user, or the team itself (team routes).
pub enum Actor {
    User(Box<Caller>),
    Team,
}

const TEAM_TOKEN_MESSAGE: &str = "This API function operates on a single Dropbox account, but the OAuth 2 access token you provided is for an entire Dropbox Business team.  Since your API app key has team member file access permissions, you can operate on a team member's Dropbox by providing the \"Dropbox-API-Select-User\" HTTP header or \"select_user\" URL parameter to specify the exact user <https://www.dropbox.com/developers/documentation/http/teams>.";

/// Resolves Select-User / Select-Admin / Path-Root for a subject.
pub fn actor(
    dir: &Directory,
    subject: &Subject,
    headers: &HeaderMap,
    team_route: bool,
) -> Result<Actor, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let account = match subject {
        Subject::Account(id) => dir
            .by_id(id)
            .cloned()
            .ok_or_else(|| ApiError::auth("invalid_access_token"))?,
        Subject::Team => {
            if let Some(mid) = header("dropbox-api-select-user") {
                dir.by_member_id(mid)
                    .cloned()
                    .ok_or_else(|| ApiError::auth("invalid_select_user"))?
            } else if let Some(mid) = header("dropbox-api-select-admin") {
                match dir.by_member_id(mid) {
                    Some(a) if a.is_admin => a.clone(),
                    _ => return Err(ApiError::auth("invalid_select_admin")),
                }
            } else if team_route {
                return Ok(Actor::Team);
            } else {
                return Err(ApiError::bad(TEAM_TOKEN_MESSAGE));
            }
        }
    };
    let mut namespaces = vec![account.home_namespace_id.clone()];
    if account.root_namespace_id != account.home_namespace_id {
        namespaces.push(account.root_namespace_id.clone());
    }
    let ns = match header("dropbox-api-path-root") {
        None => account.home_namespace_id.clone(),
        Some(raw) => path_root(&account, raw)?,
    };
    Ok(Actor::User(Box::new(Caller {
        account,
        ns,
        namespaces,
    })))
}

fn path_root(account: &Account, raw: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::BadRequestRaw(format!(
            "Error in call to API function: Invalid \"Dropbox-API-Path-Root\" header: {raw}"
        ))
    };
    let v: Value = serde_json::from_str(raw).map_err(|_| bad())?;
    match wire::union_tag_of(&v) {
        Some("home") => Ok(account.home_namespace_id.clone()),
        Some("root") => {
            let id = v.get("root").and_then(Value::as_str).ok_or_else(bad)?;
            if id == account.root_namespace_id {
                Ok(id.to_string())
            } else {
                Err(ApiError::PathRoot(json!({
                    ".tag": "invalid_root",
                    "invalid_root": account.root_info(),
                })))
            }
        }
        Some("namespace_id") => {
            let id = v
                .get("namespace_id")
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            if account.can_access(id) {
                Ok(id.to_string())
            } else {
                Err(ApiError::PathRoot(json!({ ".tag": "no_permission" })))
            }
        }
        _ => Err(bad()),
    }
}
