//! OAuth 2 helpers for connecting an account: PKCE, the authorize URL and its preflight,
//! and the code exchange.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use url::Url;

use crate::error::{Error, from_reqwest};
use crate::transport::{Endpoints, TransportConfig, build_http_client, route_url};

/// A PKCE verifier (64 URL-safe chars) and its S256 challenge.
#[derive(Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Pkce {
    pub fn generate() -> Self {
        let mut raw = [0u8; 48];
        rand::thread_rng().fill_bytes(&mut raw);
        Self::from_verifier(URL_SAFE_NO_PAD.encode(raw))
    }

    pub fn from_verifier(verifier: String) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// `{oauth_url}/oauth2/authorize?response_type=code&client_id&token_access_type=offline...`
pub fn authorize_url(
    endpoints: &Endpoints,
    app_key: &str,
    redirect_uri: Option<&str>,
    state: &str,
    pkce: Option<&Pkce>,
) -> Result<Url, Error> {
    let mut url = route_url(&endpoints.oauth_url, "oauth2/authorize")?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", app_key);
        q.append_pair("token_access_type", "offline");
        q.append_pair("state", state);
        if let Some(r) = redirect_uri {
            q.append_pair("redirect_uri", r);
        }
        if let Some(p) = pkce {
            q.append_pair("code_challenge", &p.challenge);
            q.append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url)
}

/// What the token endpoint returns for an authorization code.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub uid: Option<String>,
}

impl TokenResponse {
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_in
            .map(|s| OffsetDateTime::now_utc() + time::Duration::seconds(s))
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("account_id", &self.account_id)
            .field("team_id", &self.team_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Exchange an authorization code at `{api_url}/oauth2/token`. Give `code_verifier` (PKCE)
/// or `app_secret` (or both); `redirect_uri` must be the one used in the authorize URL.
pub async fn exchange_code(
    transport: &TransportConfig,
    app_key: &str,
    app_secret: Option<&str>,
    code: &str,
    code_verifier: Option<&str>,
    redirect_uri: Option<&str>,
) -> Result<TokenResponse, Error> {
    let http = build_http_client(transport)?;
    let url = route_url(&transport.endpoints.api_url, "oauth2/token")?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", app_key),
    ];
    if let Some(s) = app_secret {
        form.push(("client_secret", s));
    }
    if let Some(v) = code_verifier {
        form.push(("code_verifier", v));
    }
    if let Some(r) = redirect_uri {
        form.push(("redirect_uri", r));
    }
    let send = async {
        let resp = http.post(url).form(&form).send().await?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, body))
    };
    let (status, body) = tokio::time::timeout(transport.timeout, send)
        .await
        .map_err(|_| Error::Timeout)?
        .map_err(from_reqwest)?;
    tracing::debug!(route = "oauth2/token", status, "code exchange answered");
    if status == 200 {
        return serde_json::from_slice(&body)
            .map_err(|e| Error::Decode(format!("oauth2/token: {e}")));
    }
    #[derive(Deserialize)]
    struct OAuthError {
        #[serde(default)]
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let parsed = serde_json::from_slice::<OAuthError>(&body).ok();
    if let Some(e) = &parsed {
        let description = e.error_description.as_deref().unwrap_or(&e.error);
        let refusal =
            matches!(e.error.as_str(), "invalid_grant" | "invalid_client") || status == 400;
        if refusal && names_redirect_uri(description) {
            return Err(Error::RedirectUriRefused {
                description: description.to_owned(),
            });
        }
    } else if status == 400 && names_redirect_uri(&text) {
        return Err(Error::RedirectUriRefused { description: text });
    }
    match parsed {
        Some(e) if matches!(e.error.as_str(), "invalid_grant" | "invalid_client") => {
            Err(Error::NeedsReauthorization {
                description: e.error_description.unwrap_or(e.error),
            })
        }
        Some(e) if status == 400 => Err(Error::BadRequest(e.error_description.unwrap_or(e.error))),
        _ if status == 400 => Err(Error::BadRequest(text)),
        _ if status >= 500 => Err(Error::Server { status, body: text }),
        _ => Err(Error::Other {
            status,
            summary: String::new(),
            body: text,
        }),
    }
}

/// What opening the authorize URL showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preflight {
    /// The page refused the redirect URI (it is not registered for the app).
    RedirectUriRefused,
    /// Any other answer, with its HTTP status.
    Answered(u16),
}

/// Opens the authorize URL once (no cookies, no login) through the connection's transport:
/// Dropbox checks client_id and redirect_uri before anything else, so an unregistered
/// redirect URI shows up here, before the user's browser is sent to an error page.
pub async fn preflight_authorize(
    transport: &TransportConfig,
    url: &Url,
) -> Result<Preflight, Error> {
    let http = build_http_client(transport)?;
    let answer = async {
        let resp = http.get(url.clone()).send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Ok::<_, reqwest::Error>((status, text))
    };
    let (status, text) = tokio::time::timeout(transport.timeout, answer)
        .await
        .map_err(|_| Error::Timeout)?
        .map_err(from_reqwest)?;
    if status == 400 && names_redirect_uri(&text) {
        return Ok(Preflight::RedirectUriRefused);
    }
    Ok(Preflight::Answered(status))
}

/// The one place OAuth error TEXT is read: Dropbox's authorize page and its token
/// endpoint refuse an unregistered redirect URI with the generic `invalid_grant`/400 and
/// say which parameter was wrong only in prose ("Invalid redirect_uri", "redirect_uri
/// mismatch"). No code or field carries it.
fn names_redirect_uri(text: &str) -> bool {
    text.to_ascii_lowercase().contains("redirect_uri")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_vector() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let g = Pkce::generate();
        assert!((43..=128).contains(&g.verifier.len()));
    }

    #[test]
    fn authorize() {
        let u = authorize_url(
            &Endpoints::default(),
            "key",
            Some("http://localhost:9999"),
            "st",
            None,
        )
        .unwrap();
        assert!(u.as_str().starts_with("https://www.dropbox.com/oauth2/authorize?response_type=code&client_id=key&token_access_type=offline&state=st&redirect_uri=http%3A%2F%2Flocalhost%3A9999"));
    }
}
