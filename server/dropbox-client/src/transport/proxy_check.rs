//! The proxy step of a connection test: TCP to the proxy, then a URL fetched through it.

use std::time::{Duration, Instant};

use super::{ProxyConfig, TransportConfig, TransportKind, build_http_client, error_chain};
use crate::error::Error;

/// What the proxy check saw when the proxy let the request through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAnswer {
    /// Time to open the TCP connection to the proxy.
    pub tcp: Duration,
    /// The HTTP status of the fetched URL (407 when the proxy wants credentials).
    pub status: u16,
    /// Body bytes read, at most the `max_body` asked for.
    pub body_read: usize,
}

/// Why the proxy check failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxyCheckError {
    /// No TCP connection to the proxy within the timeout.
    #[error("no TCP connection to the proxy within {0:?}")]
    TcpTimeout(Duration),
    /// The TCP connection to the proxy failed.
    #[error("cannot open a TCP connection to the proxy: {0}")]
    Tcp(String),
    /// The HTTP client could not be built from the settings.
    #[error("{0}")]
    Settings(Error),
    /// Connected, but the request through the proxy got no answer within the timeout.
    #[error("no answer through the proxy within {0:?}")]
    FetchTimeout(Duration),
    /// Connected, but the request through the proxy failed.
    #[error("{detail}")]
    Fetch { kind: TransportKind, detail: String },
}

/// Opens a TCP connection to `proxy`, then GETs `test_url` through it with the transport's
/// proxy credentials and trust, reading at most `max_body` bytes of the answer (enough to
/// show bytes flow back, never a whole, possibly endless, body). Each step is bounded by
/// the transport's timeout.
pub async fn check_proxy(
    transport: &TransportConfig,
    proxy: &ProxyConfig,
    test_url: &str,
    max_body: usize,
) -> Result<ProxyAnswer, ProxyCheckError> {
    let timeout = transport.timeout;
    let started = Instant::now();
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((proxy.host.as_str(), proxy.port)),
    )
    .await
    {
        Err(_) => return Err(ProxyCheckError::TcpTimeout(timeout)),
        Ok(Err(e)) => return Err(ProxyCheckError::Tcp(e.to_string())),
        Ok(Ok(_)) => {}
    }
    let tcp = started.elapsed();
    let mut with_proxy = transport.clone();
    with_proxy.proxy = Some(proxy.clone());
    let http = build_http_client(&with_proxy).map_err(ProxyCheckError::Settings)?;
    let fetch = async {
        let mut resp = http.get(test_url).send().await?;
        let status = resp.status().as_u16();
        let mut read = 0usize;
        while read < max_body {
            match resp.chunk().await? {
                Some(chunk) => read += chunk.len(),
                None => break,
            }
        }
        Ok::<_, reqwest::Error>((status, read))
    };
    match tokio::time::timeout(timeout, fetch).await {
        Err(_) => Err(ProxyCheckError::FetchTimeout(timeout)),
        Ok(Ok((status, body_read))) => Ok(ProxyAnswer {
            tcp,
            status,
            body_read,
        }),
        Ok(Err(e)) => Err(ProxyCheckError::Fetch {
            kind: TransportKind::of(&e),
            detail: error_chain(&e),
        }),
    }
}
