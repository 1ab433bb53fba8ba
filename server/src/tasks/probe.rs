//! TestConnection: the proxy (when one is set), then Dropbox itself
//! (users/get_current_account), each step timed; a failed step ends the test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dropbox_client::{ProxyConfig, ProxyKind, TransportConfig};

use super::TaskError;
use super::connections::Connections;
use crate::store::Account;

/// One step's outcome.
#[derive(Debug)]
pub struct Step {
    pub step: &'static str,
    pub ok: bool,
    pub detail: String,
    pub duration: Duration,
    pub error: Option<TaskError>,
}

/// Every step run, in order, and the account when the Dropbox step worked.
#[derive(Debug, Default)]
pub struct Report {
    pub steps: Vec<Step>,
    pub account: Option<Account>,
}

impl Report {
    pub fn ok(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.ok)
    }
}

/// Most bytes of the test URL's answer read: enough to show bytes flow back through the
/// proxy, never a whole (possibly endless) body in memory.
pub const MAX_TEST_BODY: usize = 64 * 1024;

/// Runs the test. Only an unknown connection (or a store failure), or a test URL aimed at a
/// non-public address while `allow_private_targets` is off, fails the call.
pub async fn test_connection(
    connections: &Arc<Connections>,
    name: &str,
    allow_private_targets: bool,
) -> Result<Report, TaskError> {
    let record = connections.resolve(name).await?;
    let transport = connections.transport(&record);
    let mut report = Report::default();
    if let Some(proxy) = &transport.proxy {
        let given = record.settings.proxy.test_url.trim();
        if !given.is_empty() {
            super::probe_target::check_test_url(given, allow_private_targets, transport.timeout)
                .await?;
        }
        let started = Instant::now();
        let test_url = Some(given)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| transport.endpoints.api_url.to_string());
        let outcome = check_proxy(&transport, proxy, &test_url).await;
        let duration = started.elapsed();
        let failed = outcome.is_err();
        report.steps.push(match outcome {
            Ok(detail) => Step {
                step: "proxy",
                ok: true,
                detail,
                duration,
                error: None,
            },
            Err(message) => Step {
                step: "proxy",
                ok: false,
                detail: message.clone(),
                duration,
                error: Some(TaskError::ProxyFailed(message)),
            },
        });
        if failed {
            return Ok(report);
        }
    }

    let started = Instant::now();
    let watch = connections.watch(&record);
    let outcome = match connections.client_of(&record) {
        Ok(client) => client
            .with_retry_policy(dropbox_client::RetryPolicy::none())
            .get_current_account()
            .await
            .map_err(|e| {
                watch.check(TaskError::Dropbox {
                    path: None,
                    source: e,
                })
            }),
        Err(e) => Err(e),
    };
    let duration = started.elapsed();
    report.steps.push(match outcome {
        Ok(a) => {
            let account = Account {
                account_id: a.account_id.clone(),
                email: a.email.clone(),
                display_name: a.name.display_name.clone(),
                account_type: super::authorize::account_type(&a.account_type).to_owned(),
            };
            let step = Step {
                step: "dropbox",
                ok: true,
                detail: format!(
                    "users/get_current_account: {} <{}> ({} account {})",
                    account.display_name,
                    account.email,
                    if account.account_type.is_empty() {
                        "unknown"
                    } else {
                        &account.account_type
                    },
                    account.account_id
                ),
                duration,
                error: None,
            };
            report.account = Some(account);
            step
        }
        Err(e) => Step {
            step: "dropbox",
            ok: false,
            detail: format!("users/get_current_account failed: {e}"),
            duration,
            error: Some(e),
        },
    });
    Ok(report)
}

/// TCP to the proxy, then `test_url` fetched through it with the proxy credentials.
async fn check_proxy(
    transport: &TransportConfig,
    proxy: &ProxyConfig,
    test_url: &str,
) -> Result<String, String> {
    let timeout = transport.timeout;
    let at = format!("{}:{}", proxy.host, proxy.port);
    let tcp_started = Instant::now();
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((proxy.host.as_str(), proxy.port)),
    )
    .await
    {
        Err(_) => {
            return Err(format!(
                "the proxy {at} did not accept a TCP connection within {} s (timeout_seconds); check proxy.address and proxy.port",
                timeout.as_secs()
            ));
        }
        Ok(Err(e)) => {
            return Err(format!(
                "cannot open a TCP connection to the proxy {at}: {e}; check proxy.address and proxy.port"
            ));
        }
        Ok(Ok(_)) => {}
    }
    let tcp_ms = tcp_started.elapsed().as_millis();
    let http = http_client(transport)?;
    let fetch = async {
        let mut resp = http.get(test_url).send().await?;
        let status = resp.status().as_u16();
        // Reading the body proves bytes flow back through the proxy; the start of it does.
        let mut read = 0usize;
        while read < MAX_TEST_BODY {
            match resp.chunk().await? {
                Some(chunk) => read += chunk.len(),
                None => break,
            }
        }
        Ok::<_, reqwest::Error>((status, read))
    };
    let with_credentials = proxy.username.is_some();
    let auth_hint = if with_credentials {
        "the proxy refused the credentials (HTTP 407 Proxy Authentication Required): check proxy.username, proxy.password and proxy.domain"
    } else {
        "the proxy wants credentials (HTTP 407 Proxy Authentication Required): set proxy.use_credentials, proxy.username and proxy.password"
    };
    match tokio::time::timeout(timeout, fetch).await {
        Err(_) => Err(format!(
            "connected to the proxy {at}, but GET {test_url} through it got no answer within {} s (timeout_seconds)",
            timeout.as_secs()
        )),
        Ok(Ok((407, _))) => Err(auth_hint.to_owned()),
        Ok(Ok((status, len))) => Ok(format!(
            "TCP connection to the {kind} proxy {at} in {tcp_ms} ms; GET {test_url} through it answered HTTP {status} ({})",
            body_size(len),
            kind = kind_name(proxy.kind)
        )),
        Ok(Err(e)) => {
            let chain = error_chain(&e);
            let lower = chain.to_ascii_lowercase();
            // hyper-util: "proxy authorization required" (HTTP CONNECT 407), "credentials
            // not accepted" (SOCKS5 user/password refused).
            if lower.contains("407")
                || lower.contains("proxy authorization required")
                || lower.contains("proxy authentication required")
                || lower.contains("credentials not accepted")
                || lower.contains("authentication")
                // Some proxies (tinyproxy) refuse bad credentials on CONNECT with 401
                // instead of 407, which reaches us only as a failed tunnel.
                || (with_credentials && lower.contains("tunnel"))
            {
                Err(format!("{auth_hint} ({chain})"))
            } else {
                Err(format!(
                    "connected to the proxy {at}, but GET {test_url} through it failed: {chain}"
                ))
            }
        }
    }
}

fn body_size(read: usize) -> String {
    if read >= MAX_TEST_BODY {
        format!(
            "{read} bytes read; the rest, if any, was not: the test reads at most {MAX_TEST_BODY} bytes"
        )
    } else {
        format!("{read} bytes")
    }
}

fn kind_name(kind: ProxyKind) -> &'static str {
    match kind {
        ProxyKind::Http => "HTTP",
        ProxyKind::Https => "HTTPS",
        ProxyKind::Socks5 => "SOCKS5",
        ProxyKind::Socks4 => "SOCKS4",
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A plain HTTP client with the connection's transport (proxy, trust, timeouts), like the
/// Dropbox client's own: for the proxy test and the authorize preflight.
pub fn http_client(t: &TransportConfig) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(true)
        .connect_timeout(t.timeout)
        .timeout(t.timeout)
        .user_agent(concat!("dropbox-connector/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &t.extra_ca_pem {
        let certs =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("extra CA PEM: {e}"))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    match &t.proxy {
        None => b = b.no_proxy(),
        Some(p) => {
            let scheme = match p.kind {
                ProxyKind::Http => "http",
                ProxyKind::Https => "https",
                ProxyKind::Socks5 => "socks5h",
                ProxyKind::Socks4 => "socks4a",
            };
            let host = if p.host.contains(':') && !p.host.starts_with('[') {
                format!("[{}]", p.host)
            } else {
                p.host.clone()
            };
            let mut proxy = reqwest::Proxy::all(format!("{scheme}://{host}:{}", p.port))
                .map_err(|e| format!("proxy settings: {e}"))?;
            if let Some(user) = p.username.as_deref().filter(|u| !u.is_empty()) {
                let user = match p.domain.as_deref().filter(|d| !d.is_empty()) {
                    Some(d) => format!("{d}\\{user}"),
                    None => user.to_owned(),
                };
                proxy = proxy.basic_auth(&user, p.password.as_deref().unwrap_or(""));
            }
            b = b.proxy(proxy);
        }
    }
    b.build().map_err(|e| format!("HTTP client: {e}"))
}
