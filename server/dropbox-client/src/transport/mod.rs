//! HTTP transport: endpoints, proxy, timeouts and TLS trust; what kind a transport failure
//! is; the proxy check of a connection test.

mod failure;
mod proxy_check;

use std::time::Duration;

use url::Url;

use crate::error::Error;

pub use failure::{TransportKind, error_chain};
pub use proxy_check::{ProxyAnswer, ProxyCheckError, check_proxy};

/// Base URLs of the three Dropbox hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// RPC routes and `/oauth2/token`: `https://api.dropboxapi.com`.
    pub api_url: Url,
    /// Upload and download routes: `https://content.dropboxapi.com`.
    pub content_url: Url,
    /// The authorize page: `https://www.dropbox.com`.
    pub oauth_url: Url,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            api_url: fixed_url("https://api.dropboxapi.com"),
            content_url: fixed_url("https://content.dropboxapi.com"),
            oauth_url: fixed_url("https://www.dropbox.com"),
        }
    }
}

impl Endpoints {
    /// All three endpoints on one base URL (the emulator serves everything on one port).
    pub fn single(base: &Url) -> Self {
        Self {
            api_url: base.clone(),
            content_url: base.clone(),
            oauth_url: base.clone(),
        }
    }
}

#[allow(clippy::expect_used)] // fixed literals, covered by a unit test
fn fixed_url(s: &'static str) -> Url {
    Url::parse(s).expect("literal URL")
}

/// Join a route onto a base URL, keeping any path prefix the base has.
pub(crate) fn route_url(base: &Url, route: &str) -> Result<Url, Error> {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push('/');
    s.push_str(route.trim_start_matches('/'));
    Url::parse(&s).map_err(|e| Error::Config(format!("bad URL for {route}: {e}")))
}

/// Proxy protocols VisualCron offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    Http,
    Https,
    Socks5,
    Socks4,
}

/// A proxy. `domain` (NTLM-style) is sent as `DOMAIN\username` with basic auth; NTLM itself
/// is not supported by the HTTP stack.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub domain: Option<String>,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("domain", &self.domain)
            .finish()
    }
}

/// Everything needed to build the HTTP client.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub endpoints: Endpoints,
    /// PEM certificates trusted in addition to the built-in Mozilla roots (webpki-roots).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Connect timeout and idle timeout: an RPC call must answer within it, an upload must
    /// keep accepting bytes (and answer within it once sent), a download must deliver a
    /// chunk at least this often. Not a total deadline for large transfers.
    pub timeout: Duration,
    pub proxy: Option<ProxyConfig>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            endpoints: Endpoints::default(),
            extra_ca_pem: None,
            timeout: Duration::from_secs(60),
            proxy: None,
        }
    }
}

/// The HTTP client every request of a connection goes through: its proxy, the trusted CAs
/// and the connect timeout; no redirects followed.
pub fn build_http_client(cfg: &TransportConfig) -> Result<reqwest::Client, Error> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(true)
        .https_only(false)
        .connect_timeout(cfg.timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("dropbox-connector/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &cfg.extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::Config(format!("extra CA PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::Config("extra CA PEM contains no certificate".into()));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    match &cfg.proxy {
        Some(p) => b = b.proxy(build_proxy(p)?),
        None => b = b.no_proxy(),
    }
    b.build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))
}

fn build_proxy(p: &ProxyConfig) -> Result<reqwest::Proxy, Error> {
    let scheme = match p.kind {
        ProxyKind::Http => "http",
        ProxyKind::Https => "https",
        ProxyKind::Socks5 => "socks5h",
        ProxyKind::Socks4 => "socks4a",
    };
    if p.host.is_empty() {
        return Err(Error::Config("proxy host is empty".into()));
    }
    let host = if p.host.contains(':') && !p.host.starts_with('[') {
        format!("[{}]", p.host)
    } else {
        p.host.clone()
    };
    let url = Url::parse(&format!("{scheme}://{host}:{}", p.port))
        .map_err(|e| Error::Config(format!("proxy URL: {e}")))?;
    let mut proxy =
        reqwest::Proxy::all(url.as_str()).map_err(|e| Error::Config(format!("proxy: {e}")))?;
    if let Some(user) = p.username.as_deref().filter(|u| !u.is_empty()) {
        let user = match p.domain.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => format!("{d}\\{user}"),
            None => user.to_owned(),
        };
        proxy = proxy.basic_auth(&user, p.password.as_deref().unwrap_or(""));
    }
    Ok(proxy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_route_urls() {
        let e = Endpoints::default();
        assert_eq!(e.api_url.as_str(), "https://api.dropboxapi.com/");
        assert_eq!(
            route_url(&e.content_url, "2/files/upload")
                .unwrap()
                .as_str(),
            "https://content.dropboxapi.com/2/files/upload"
        );
        let prefixed = Url::parse("http://127.0.0.1:8080/prefix/").unwrap();
        assert_eq!(
            route_url(&prefixed, "/oauth2/token").unwrap().as_str(),
            "http://127.0.0.1:8080/prefix/oauth2/token"
        );
    }

    #[test]
    fn proxies_build() {
        for kind in [
            ProxyKind::Http,
            ProxyKind::Https,
            ProxyKind::Socks5,
            ProxyKind::Socks4,
        ] {
            let cfg = TransportConfig {
                proxy: Some(ProxyConfig {
                    kind,
                    host: "proxy.local".into(),
                    port: 3128,
                    username: Some("u".into()),
                    password: Some("secret".into()),
                    domain: Some("CORP".into()),
                }),
                ..Default::default()
            };
            build_http_client(&cfg).unwrap();
            assert!(!format!("{:?}", cfg.proxy).contains("secret"));
        }
    }

    #[test]
    fn bad_pem_is_config_error() {
        let cfg = TransportConfig {
            extra_ca_pem: Some(b"not a pem".to_vec()),
            ..Default::default()
        };
        assert!(matches!(build_http_client(&cfg), Err(Error::Config(_))));
    }
}
