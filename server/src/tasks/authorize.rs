//! OAuth 2 authorization code flow with PKCE (S256), state and `token_access_type=offline`:
//! StartAuthorization makes the authorize URL and keeps state + verifier (single use,
//! expiring); CompleteAuthorization exchanges the code and stores the tokens and account.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dropbox_client::oauth::{Pkce, Preflight, authorize_url, exchange_code, preflight_authorize};
use rand::RngCore;
use time::OffsetDateTime;

use super::TaskError;
use super::connections::{
    Connections, DEFAULT_REDIRECT_URI, RESOURCE_PREFIX, validate_redirect_uri,
};
use crate::store::{Account, ConnectionRecord, PendingAuthorization};

/// What StartAuthorization answers.
#[derive(Debug, Clone)]
pub struct Started {
    pub authorize_url: String,
    pub state: String,
    /// `None` with no_redirect.
    pub redirect_uri: Option<String>,
    pub expire_time: OffsetDateTime,
}

/// StartAuthorization.
pub async fn start(
    connections: &Connections,
    name: &str,
    redirect_override: &str,
    no_redirect: bool,
) -> Result<Started, TaskError> {
    let record = connections.resolve(name).await?;
    let (app_key, _) = connections
        .app_of(&record)
        .ok_or_else(|| TaskError::NoApp {
            connection: record.display_name.clone(),
        })?;
    let redirect_uri = if no_redirect {
        None
    } else if !redirect_override.trim().is_empty() {
        let uri = redirect_override.trim().to_owned();
        validate_redirect_uri("redirect_uri", &uri)?;
        Some(uri)
    } else if record.settings.redirect_uri.trim().is_empty() {
        Some(DEFAULT_REDIRECT_URI.to_owned())
    } else {
        Some(record.settings.redirect_uri.trim().to_owned())
    };
    let pkce = Pkce::generate();
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let state = URL_SAFE_NO_PAD.encode(raw);
    let url = authorize_url(
        &connections.target.endpoints,
        &app_key,
        redirect_uri.as_deref(),
        &state,
        Some(&pkce),
    )
    .map_err(|e| TaskError::Dropbox {
        path: None,
        source: e,
    })?;
    if let Some(uri) = &redirect_uri {
        preflight(connections, &record, &url, uri).await?;
    }
    let ttl = time::Duration::try_from(connections.oauth.state_ttl)
        .unwrap_or(time::Duration::minutes(10));
    let expire_time = OffsetDateTime::now_utc() + ttl;
    connections
        .store
        .put_pending_authorization(PendingAuthorization {
            state: state.clone(),
            connection_id: record.id.clone(),
            app_key,
            redirect_uri: redirect_uri.clone(),
            verifier: pkce.verifier.clone(),
            expires_at: expire_time.unix_timestamp(),
        })
        .await?;
    tracing::info!(connection = %record.display_name, redirect_uri = ?redirect_uri, "authorization started");
    Ok(Started {
        authorize_url: url.to_string(),
        state,
        redirect_uri,
        expire_time,
    })
}

/// Opens the authorize URL once (see [`preflight_authorize`]): an unregistered redirect
/// URI is better reported now, by name, than as an error page in the user's browser.
/// Anything but a clear refusal of the redirect URI is ignored.
async fn preflight(
    connections: &Connections,
    record: &ConnectionRecord,
    url: &url::Url,
    redirect_uri: &str,
) -> Result<(), TaskError> {
    let transport = connections.transport(record);
    match preflight_authorize(&transport, url).await {
        Ok(Preflight::RedirectUriRefused) => Err(TaskError::InvalidRedirectUri {
            uri: redirect_uri.to_owned(),
            detail: "the authorize page answered \"Invalid redirect_uri\"".into(),
        }),
        Ok(Preflight::Answered(status)) => {
            tracing::debug!(status, "authorize preflight answered");
            Ok(())
        }
        Err(e) => {
            tracing::debug!(error = %e, "authorize preflight failed; going on");
            Ok(())
        }
    }
}

/// CompleteAuthorization: returns the stored connection. `allowed` vets the connection the
/// state belongs to (the caller's groups) before any code is exchanged.
pub async fn complete(
    connections: &Arc<Connections>,
    state: &str,
    code: &str,
    allowed: impl Fn(&ConnectionRecord) -> Result<(), TaskError>,
) -> Result<ConnectionRecord, TaskError> {
    if state.trim().is_empty() {
        return Err(TaskError::invalid(
            "state",
            "give the state StartAuthorization returned",
        ));
    }
    if code.trim().is_empty() {
        return Err(TaskError::invalid(
            "code",
            "give the authorization code from the redirect or the Dropbox page",
        ));
    }
    let pending = connections
        .store
        .take_pending_authorization(state.trim().to_owned())
        .await?
        .ok_or_else(|| {
            TaskError::AuthorizationStateInvalid(
                "the state is unknown or was already used (each state works once)".into(),
            )
        })?;
    if pending.expires_at <= OffsetDateTime::now_utc().unix_timestamp() {
        return Err(TaskError::AuthorizationStateInvalid(format!(
            "the state expired (states are usable for {} s)",
            connections.oauth.state_ttl.as_secs()
        )));
    }
    let record = connections
        .store
        .get(pending.connection_id.clone())
        .await?
        .ok_or_else(|| TaskError::ConnectionNotFound {
            name: format!("{RESOURCE_PREFIX}{}", pending.connection_id),
        })?;
    // The caller's groups, before any token is exchanged or stored.
    allowed(&record)?;
    let secret = if pending.app_key == record.settings.app_key {
        record.secrets.app_secret.clone()
    } else if connections.oauth.registered_app_key.as_deref() == Some(pending.app_key.as_str()) {
        connections.oauth.registered_app_secret.clone()
    } else {
        None
    };
    let transport = connections.transport(&record);
    let tokens = exchange_code(
        &transport,
        &pending.app_key,
        secret.as_deref(),
        code.trim(),
        Some(&pending.verifier),
        pending.redirect_uri.as_deref(),
    )
    .await
    .map_err(|e| exchange_error(e, pending.redirect_uri.as_deref()))?;

    let mut updated = record.clone();
    updated.secrets.access_token = Some(tokens.access_token.clone());
    if tokens.refresh_token.is_some() {
        updated.secrets.refresh_token = tokens.refresh_token.clone();
    }
    updated.secrets.access_token_expires_at = tokens.expires_at().map(|t| t.unix_timestamp());
    updated.settings.needs_reauthorization = false;
    let client = connections
        .build_client(&updated)?
        .with_retry_policy(dropbox_client::RetryPolicy::none());
    match client.get_current_account().await {
        Ok(a) => {
            updated.settings.account = Some(Account {
                account_id: a.account_id,
                email: a.email,
                display_name: a.name.display_name,
                account_type: account_type(&a.account_type).to_owned(),
            });
        }
        Err(e) => {
            tracing::warn!(connection = %record.display_name, error = %e, "authorised, but users/get_current_account failed; the account fields stay empty");
        }
    }
    connections.clear_reauth_mark(&record.id);
    let stored = connections.update(updated).await?;
    tracing::info!(connection = %stored.display_name, "authorization completed");
    Ok(stored)
}

pub fn account_type(t: &dropbox_client::AccountType) -> &'static str {
    match t {
        dropbox_client::AccountType::Basic => "basic",
        dropbox_client::AccountType::Pro => "pro",
        dropbox_client::AccountType::Business => "business",
        _ => "",
    }
}

fn exchange_error(e: dropbox_client::Error, redirect_uri: Option<&str>) -> TaskError {
    match e {
        dropbox_client::Error::RedirectUriRefused { description } => {
            TaskError::InvalidRedirectUri {
                uri: redirect_uri.unwrap_or("(none)").to_owned(),
                detail: description,
            }
        }
        dropbox_client::Error::NeedsReauthorization { description } => {
            TaskError::AuthorizationStateInvalid(format!(
                "Dropbox refused the authorization code or the app credentials ({description})"
            ))
        }
        other => TaskError::Dropbox {
            path: None,
            source: other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_errors() {
        let e = exchange_error(
            dropbox_client::Error::RedirectUriRefused {
                description: "redirect_uri mismatch".into(),
            },
            Some("http://localhost:8080/cb"),
        );
        assert!(
            matches!(&e, TaskError::InvalidRedirectUri { uri, .. } if uri == "http://localhost:8080/cb")
        );
        let e = exchange_error(
            dropbox_client::Error::NeedsReauthorization {
                description: "code doesn't exist or has expired".into(),
            },
            None,
        );
        assert!(matches!(e, TaskError::AuthorizationStateInvalid(_)));
        let e = exchange_error(dropbox_client::Error::Timeout, None);
        assert!(matches!(e, TaskError::Dropbox { .. }));
    }
}
