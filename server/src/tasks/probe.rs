//! TestConnection: the proxy (when one is set; the HTTP of it is
//! `dropbox_client::transport::check_proxy`), then Dropbox itself
//! (users/get_current_account), each step timed; a failed step ends the test. Here the
//! outcomes become words that name the settings to fix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dropbox_client::transport::{self, ProxyCheckError};
use dropbox_client::{ProxyConfig, ProxyKind, TransportConfig, TransportKind};

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
    let outcome = match connections.connection_client_of(&record) {
        Ok(conn) => {
            conn.named(async {
                conn.dropbox()
                    .clone()
                    .with_retry_policy(dropbox_client::RetryPolicy::none())
                    .get_current_account()
                    .await
                    .map_err(|e| TaskError::Dropbox {
                        path: None,
                        source: e,
                    })
            })
            .await
        }
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

/// TCP to the proxy, then `test_url` fetched through it with the proxy credentials; the
/// outcome in words that name the settings to fix.
async fn check_proxy(
    transport: &TransportConfig,
    proxy: &ProxyConfig,
    test_url: &str,
) -> Result<String, String> {
    let timeout = transport.timeout.as_secs();
    let at = format!("{}:{}", proxy.host, proxy.port);
    let with_credentials = proxy.username.is_some();
    let auth_hint = if with_credentials {
        "the proxy refused the credentials (HTTP 407 Proxy Authentication Required): check proxy.username, proxy.password and proxy.domain"
    } else {
        "the proxy wants credentials (HTTP 407 Proxy Authentication Required): set proxy.use_credentials, proxy.username and proxy.password"
    };
    match transport::check_proxy(transport, proxy, test_url, MAX_TEST_BODY).await {
        Ok(answer) if answer.status == 407 => Err(auth_hint.to_owned()),
        Ok(answer) => Ok(format!(
            "TCP connection to the {kind} proxy {at} in {tcp_ms} ms; GET {test_url} through it answered HTTP {status} ({})",
            body_size(answer.body_read),
            kind = kind_name(proxy.kind),
            tcp_ms = answer.tcp.as_millis(),
            status = answer.status,
        )),
        Err(ProxyCheckError::TcpTimeout(_)) => Err(format!(
            "the proxy {at} did not accept a TCP connection within {timeout} s (timeout_seconds); check proxy.address and proxy.port"
        )),
        Err(ProxyCheckError::Tcp(e)) => Err(format!(
            "cannot open a TCP connection to the proxy {at}: {e}; check proxy.address and proxy.port"
        )),
        Err(ProxyCheckError::Settings(e)) => Err(format!("proxy settings: {e}")),
        Err(ProxyCheckError::FetchTimeout(_)) => Err(format!(
            "connected to the proxy {at}, but GET {test_url} through it got no answer within {timeout} s (timeout_seconds)"
        )),
        // Some proxies (tinyproxy) refuse bad credentials on CONNECT with 401 instead of
        // 407, which reaches us only as a refused tunnel.
        Err(ProxyCheckError::Fetch { kind, detail })
            if kind == TransportKind::ProxyAuth
                || (with_credentials && kind == TransportKind::ProxyTunnel) =>
        {
            Err(format!("{auth_hint} ({detail})"))
        }
        Err(ProxyCheckError::Fetch { detail, .. }) => Err(format!(
            "connected to the proxy {at}, but GET {test_url} through it failed: {detail}"
        )),
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
