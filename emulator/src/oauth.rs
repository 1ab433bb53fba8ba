//! OAuth 2: the authorize page (an Allow button) and the token endpoint (authorization
//! code with PKCE S256, client secret or HTTP Basic; refresh_token grant).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::AppRegistration;
use crate::accounts::Kind;
use crate::auth::{AuthCode, SCOPE, Subject, now_secs, random_token};
use crate::state::AppState;

#[derive(Deserialize, Default, Debug)]
pub struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    token_access_type: Option<String>,
    scope: Option<String>,
    force_reapprove: Option<String>,
    include_granted_scopes: Option<String>,
    account_id: Option<String>,
    allow: Option<String>,
    deny: Option<String>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body>\n<h1>{t}</h1>\n{body}\n</body></html>\n",
        t = esc(title)
    );
    (status, Html(html)).into_response()
}

fn bad_request(msg: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Error (400)",
        &format!("<p id=\"error\">{}</p>", esc(msg)),
    )
}

fn refuse(msg: &str) -> Box<Response> {
    Box::new(bad_request(msg))
}

/// Checks the parameters shared by the page and its form; returns the app.
fn check(st: &AppState, p: &AuthorizeParams) -> Result<AppRegistration, Box<Response>> {
    let data = st.data();
    let client_id = p.client_id.as_deref().unwrap_or("");
    let Some(app) = data.apps.iter().find(|a| a.key == client_id).cloned() else {
        return Err(refuse("Invalid client_id"));
    };
    match p.response_type.as_deref() {
        Some("code") => {}
        Some(other) => {
            return Err(refuse(&format!("Unsupported response_type: \"{other}\"")));
        }
        None => return Err(refuse("Missing response_type")),
    }
    if let Some(uri) = &p.redirect_uri
        && !app.redirect_uris.iter().any(|u| u == uri)
    {
        return Err(refuse(
            "Invalid redirect_uri. It must exactly match one of the redirect URIs you've pre-configured for your app (including the path).",
        ));
    }
    if let Some(method) = &p.code_challenge_method
        && method != "S256"
        && method != "plain"
    {
        return Err(refuse("Invalid code_challenge_method"));
    }
    if p.code_challenge_method.is_some() && p.code_challenge.is_none() {
        return Err(refuse("Missing code_challenge"));
    }
    if let Some(t) = &p.token_access_type
        && !matches!(t.as_str(), "offline" | "online" | "legacy")
    {
        return Err(refuse("Invalid token_access_type"));
    }
    Ok(app)
}

pub async fn authorize_page(
    State(st): State<AppState>,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    if let Err(resp) = check(&st, &p) {
        return *resp;
    }
    let app_key = p.client_id.clone().unwrap_or_default();
    let mut hidden = String::new();
    let fields = [
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("state", &p.state),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("token_access_type", &p.token_access_type),
        ("scope", &p.scope),
        ("force_reapprove", &p.force_reapprove),
        ("include_granted_scopes", &p.include_granted_scopes),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
                esc(v)
            ));
        }
    }
    let options: String = st
        .data()
        .dir
        .accounts
        .iter()
        .map(|a| {
            format!(
                "<option value=\"{}\">{} &lt;{}&gt;</option>\n",
                esc(&a.account_id),
                esc(&a.display_name()),
                esc(&a.email)
            )
        })
        .collect();
    let body = format!(
        "<p>The app <strong>{app}</strong> would like access to the files in your Dropbox.</p>\n\
<form method=\"post\" action=\"/oauth2/authorize\">\n{hidden}\
<label>Account <select name=\"account_id\">\n{options}</select></label>\n\
<button type=\"submit\" name=\"deny\">Cancel</button>\n\
<button type=\"submit\" name=\"allow\">Allow</button>\n</form>",
        app = esc(&app_key)
    );
    page(StatusCode::OK, "API Request Authorization", &body)
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(
            &percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        );
        sep = '&';
    }
    out
}

fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub async fn authorize_submit(
    State(st): State<AppState>,
    Form(p): Form<AuthorizeParams>,
) -> Response {
    let app = match check(&st, &p) {
        Ok(app) => app,
        Err(resp) => return *resp,
    };
    let state = p.state.clone().unwrap_or_default();
    if p.allow.is_none() || p.deny.is_some() {
        return match &p.redirect_uri {
            Some(uri) => {
                let mut pairs = vec![
                    ("error", "access_denied"),
                    (
                        "error_description",
                        "The user chose not to give your app access to their Dropbox account.",
                    ),
                ];
                if p.state.is_some() {
                    pairs.push(("state", &state));
                }
                redirect(&with_query(uri, &pairs))
            }
            None => page(
                StatusCode::OK,
                "Access denied",
                "<p id=\"denied\">Access denied.</p>",
            ),
        };
    }
    let code = random_token("", 32);
    {
        let mut data = st.data();
        let chosen = p
            .account_id
            .as_deref()
            .and_then(|id| data.dir.by_id(id))
            .or_else(|| data.dir.accounts.iter().find(|a| a.kind == Kind::Personal))
            .or_else(|| data.dir.accounts.first())
            .map(|a| a.account_id.clone());
        let Some(account_id) = chosen else {
            return bad_request("No account to authorize");
        };
        let challenge = p.code_challenge.clone().map(|c| {
            if p.code_challenge_method.as_deref() == Some("plain") {
                format!("plain:{c}")
            } else {
                c
            }
        });
        data.tokens.codes.insert(
            code.clone(),
            AuthCode {
                subject: Subject::Account(account_id),
                app_key: app.key.clone(),
                redirect_uri: p.redirect_uri.clone(),
                code_challenge: challenge,
                expires_at: now_secs() + 600,
                offline: p.token_access_type.as_deref() == Some("offline"),
            },
        );
    }
    match &p.redirect_uri {
        Some(uri) => {
            let mut pairs = vec![("code", code.as_str())];
            if p.state.is_some() {
                pairs.push(("state", &state));
            }
            redirect(&with_query(uri, &pairs))
        }
        None => page(
            StatusCode::OK,
            "Access code",
            &format!(
                "<p>Enter this code into {} to finish the process.</p>\n<code id=\"auth-code\">{}</code>",
                esc(&app.key),
                esc(&code)
            ),
        ),
    }
}

#[derive(Deserialize, Default, Debug)]
pub struct TokenParams {
    grant_type: Option<String>,
    code: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code_verifier: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    crate::wire::json_status(StatusCode::BAD_REQUEST, &body)
}

/// client_id/secret from the form or HTTP Basic.
fn client(headers: &HeaderMap, p: &TokenParams) -> (Option<String>, Option<String>) {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(basic.trim())
        && let Ok(s) = String::from_utf8(raw)
        && let Some((k, secret)) = s.split_once(':')
    {
        return (Some(k.to_string()), Some(secret.to_string()));
    }
    (p.client_id.clone(), p.client_secret.clone())
}

pub async fn token(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(p): Form<TokenParams>,
) -> Response {
    let (response, changed) = token_sync(&st, &headers, &p);
    if changed {
        st.persist().await;
    }
    // In the request log so tests count refreshes from what the endpoint received, not
    // from what a client says it did. Only the grant type: codes and tokens are secrets.
    st.record(json!({
        "route": "oauth2/token",
        "method": "POST",
        "grant_type": p.grant_type.as_deref().unwrap_or_default(),
        "status": response.status().as_u16(),
    }));
    response
}

/// The token endpoint's work; says whether credentials changed.
fn token_sync(st: &AppState, headers: &HeaderMap, p: &TokenParams) -> (Response, bool) {
    let (client_id, secret) = client(headers, p);
    let Some(client_id) = client_id else {
        return (
            oauth_error(
                "invalid_request",
                "No auth function available for given request",
            ),
            false,
        );
    };
    let lifetime = st.0.token_lifetime;
    let mut data = st.data();
    let Some(app) = data.apps.iter().find(|a| a.key == client_id).cloned() else {
        return (
            oauth_error("invalid_client", "Invalid client_id or client_secret"),
            false,
        );
    };
    if let Some(s) = &secret
        && *s != app.secret
    {
        return (
            oauth_error("invalid_client", "Invalid client_id or client_secret"),
            false,
        );
    }
    match p.grant_type.as_deref() {
        Some("authorization_code") => {
            let Some(code) = p.code.as_deref() else {
                return (oauth_error("invalid_request", "Missing code"), false);
            };
            let Some(grant) = data.tokens.codes.remove(code) else {
                return (
                    oauth_error("invalid_grant", "code doesn't exist or has expired"),
                    false,
                );
            };
            if grant.expires_at < now_secs() || grant.app_key != app.key {
                return (
                    oauth_error("invalid_grant", "code doesn't exist or has expired"),
                    false,
                );
            }
            if grant.redirect_uri != p.redirect_uri {
                return (oauth_error("invalid_grant", "redirect_uri mismatch"), false);
            }
            match (&grant.code_challenge, &p.code_verifier) {
                (Some(challenge), Some(verifier))
                    if !(43..=128).contains(&verifier.len()) || !pkce_ok(challenge, verifier) =>
                {
                    return (oauth_error("invalid_grant", "invalid code verifier"), false);
                }
                (Some(_), Some(_)) => {}
                (Some(_), None) if secret.is_none() => {
                    return (oauth_error("invalid_grant", "invalid code verifier"), false);
                }
                (None, _) if secret.is_none() => {
                    return (
                        oauth_error(
                            "invalid_client",
                            "No auth function available for given request",
                        ),
                        false,
                    );
                }
                _ => {}
            }
            let (access, refresh) = if grant.offline {
                data.tokens
                    .issue(grant.subject.clone(), &app.key, lifetime, None)
            } else {
                let (a, _) = data
                    .tokens
                    .issue(grant.subject.clone(), &app.key, lifetime, None);
                // Online access: no refresh token handed out.
                if let Some(g) = data.tokens.access.get_mut(&a)
                    && let Some(r) = g.refresh_token.take()
                {
                    data.tokens.refresh.remove(&r);
                }
                (a, None)
            };
            let mut body = json!({
                "access_token": access,
                "token_type": "bearer",
                "expires_in": lifetime.as_secs(),
                "scope": SCOPE,
            });
            if let Some(r) = refresh {
                body["refresh_token"] = json!(r);
            }
            match &grant.subject {
                Subject::Account(id) => {
                    let uid = data
                        .dir
                        .by_id(id)
                        .map(|a| a.home_namespace_id.clone())
                        .unwrap_or_default();
                    body["account_id"] = json!(id);
                    body["uid"] = json!(uid);
                }
                Subject::Team => {
                    body["team_id"] = json!(data.dir.team.as_ref().map(|t| t.team_id.clone()));
                    body["uid"] = json!("");
                }
            }
            (crate::wire::json_ok(&body), true)
        }
        Some("refresh_token") => {
            let Some(refresh) = p.refresh_token.clone() else {
                return (
                    oauth_error("invalid_request", "Missing refresh_token"),
                    false,
                );
            };
            let Some(grant) = data.tokens.refresh.get(&refresh).cloned() else {
                return (
                    oauth_error("invalid_grant", "refresh token is invalid or revoked"),
                    false,
                );
            };
            if grant.app_key != app.key {
                return (
                    oauth_error("invalid_grant", "refresh token is invalid or revoked"),
                    false,
                );
            }
            let (access, _) = data
                .tokens
                .issue(grant.subject, &app.key, lifetime, Some(refresh));
            let body = json!({
                "access_token": access,
                "token_type": "bearer",
                "expires_in": lifetime.as_secs(),
            });
            (crate::wire::json_ok(&body), true)
        }
        Some(other) => (
            oauth_error(
                "unsupported_grant_type",
                &format!("grant_type \"{other}\" is not supported"),
            ),
            false,
        ),
        None => (oauth_error("invalid_request", "Missing grant_type"), false),
    }
}

fn pkce_ok(challenge: &str, verifier: &str) -> bool {
    if let Some(plain) = challenge.strip_prefix("plain:") {
        return plain == verifier;
    }
    let digest = Sha256::digest(verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
}
