//! What kind of transport failure an error is, decided once from its source chain, and the
//! chain as one line of text for messages.

use std::error::Error as StdError;
use std::io;

/// Why no answer came back from Dropbox (or from the proxy on the way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The proxy itself could not be reached to open a tunnel or SOCKS session.
    ProxyConnect,
    /// The proxy was reached but refused the tunnel (CONNECT answered with an error, a
    /// SOCKS request refused, or the proxy hung up during the handshake).
    ProxyTunnel,
    /// The proxy asked for credentials, or refused the ones given (HTTP 407, SOCKS5
    /// user/password refused).
    ProxyAuth,
    /// No TCP connection: refused, or the host or network is unreachable.
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (untrusted certificate, wrong name, protocol error).
    Tls,
    /// An open connection broke: reset, aborted, or closed before the answer was complete.
    Reset,
    /// Nothing arrived in time.
    Timeout,
    /// Anything else.
    Other,
}

impl TransportKind {
    /// The kind of `e`, from the outermost error in its chain that says something definite.
    pub fn of(e: &(dyn StdError + 'static)) -> TransportKind {
        find(e).unwrap_or(TransportKind::Other)
    }

    /// Whether the proxy, not Dropbox, is what failed.
    pub fn is_proxy(self) -> bool {
        matches!(
            self,
            TransportKind::ProxyConnect | TransportKind::ProxyTunnel | TransportKind::ProxyAuth
        )
    }
}

fn find(e: &(dyn StdError + 'static)) -> Option<TransportKind> {
    let mut next = Some(e);
    while let Some(err) = next {
        let kind = match typed_kind(err) {
            Verdict::Kind(kind) => Some(kind),
            Verdict::KnownType => None,
            Verdict::UnknownType => untyped_kind(err),
        };
        if kind.is_some() {
            return kind;
        }
        next = err.source();
    }
    None
}

enum Verdict {
    Kind(TransportKind),
    /// A type we know that says nothing definite here: look at its source.
    KnownType,
    UnknownType,
}

fn typed_kind(err: &(dyn StdError + 'static)) -> Verdict {
    let some = |kind: Option<TransportKind>| kind.map_or(Verdict::KnownType, Verdict::Kind);
    if let Some(e) = err.downcast_ref::<reqwest::Error>() {
        return some(e.is_timeout().then_some(TransportKind::Timeout));
    }
    if let Some(e) = err.downcast_ref::<hyper::Error>() {
        return some(if e.is_timeout() {
            Some(TransportKind::Timeout)
        } else if e.is_incomplete_message() || e.is_closed() {
            Some(TransportKind::Reset)
        } else {
            None
        });
    }
    if err.is::<rustls::Error>() {
        return Verdict::Kind(TransportKind::Tls);
    }
    let Some(io) = err.downcast_ref::<io::Error>() else {
        return Verdict::UnknownType;
    };
    // An io::Error's `source()` skips the error it wraps (rustls errors from the TLS
    // stream, proxy errors from the connector): look at that one too.
    if let Some(inner) = io.get_ref()
        && let Some(kind) = find(inner)
    {
        return Verdict::Kind(kind);
    }
    use io::ErrorKind as K;
    some(match io.kind() {
        K::TimedOut => Some(TransportKind::Timeout),
        K::ConnectionRefused
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown
        | K::AddrNotAvailable => Some(TransportKind::Connect),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            Some(TransportKind::Reset)
        }
        _ => None,
    })
}

/// The one place where error TEXT is read. hyper-util's proxy errors (`TunnelError`,
/// `SocksError`) live in private modules and its `ConnectError` is not exported either, so
/// they cannot be downcast; their Display texts (hyper-util 0.1, via reqwest 0.12) are the
/// only signal. Only errors of no known type get here, and only whole texts match: a text
/// that hyper-util changes falls through to `Other` instead of being guessed at.
fn untyped_kind(err: &(dyn StdError + 'static)) -> Option<TransportKind> {
    let text = err.to_string();
    let kind = match text.as_str() {
        "dns error" | "error resolving for socks proxy" => TransportKind::Dns,
        "tunnel error: proxy authorization required"
        | "SOCKS error: credentials not accepted"
        | "SOCKS error: server does not support user/pass authentication"
        | "SOCKS error: server implements authentication incorrectly" => TransportKind::ProxyAuth,
        "tunnel error: failed to create underlying connection"
        | "SOCKS error: failed to create underlying connection" => TransportKind::ProxyConnect,
        // The proxy answered, but would not open the tunnel (hyper-util's `TunnelError` and
        // `SocksError` variants, SOCKS4 and SOCKS5 replies included).
        "tunnel error: missing destination host"
        | "tunnel error: proxy response headers too long"
        | "tunnel error: unexpected end of file"
        | "tunnel error: unsuccessful"
        | "tunnel error: io error establishing tunnel"
        | "SOCKS error: io error during SOCKS handshake"
        | "SOCKS error: could not resolve to acceptable address type"
        | "SOCKS error: missing destination host"
        | "SOCKS error: missing destination port"
        | "SOCKS error: failed parsing server response"
        | "SOCKS error: failed serialize request"
        | "SOCKS error: IPV6 is not supported"
        | "SOCKS error: server failed to execute command"
        | "SOCKS error: server ident service failed"
        | "SOCKS error: server ident service did not recognise client identifier"
        | "SOCKS error: host address is more than 255 characters"
        | "SOCKS error: general server failure"
        | "SOCKS error: connection not allowed"
        | "SOCKS error: network unreachable"
        | "SOCKS error: host unreachable"
        | "SOCKS error: connection refused"
        | "SOCKS error: ttl expired"
        | "SOCKS error: command not supported"
        | "SOCKS error: address type not supported" => TransportKind::ProxyTunnel,
        _ => return None,
    };
    Some(kind)
}

/// `e` and its sources on one line, `outer: inner: ...`, for messages and logs.
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut last = out.clone();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        // Some wrappers print their source as their own message; say it once.
        if text != last {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        next = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    //! Real sockets on 127.0.0.1 and a real client: the kinds come from the errors reqwest
    //! actually returns, not from hand-made ones.

    use std::time::Duration;

    use super::*;
    use crate::transport::{ProxyConfig, ProxyKind, TransportConfig, build_http_client};

    async fn kind_of_get(url: &str, proxy: Option<ProxyConfig>) -> TransportKind {
        let cfg = TransportConfig {
            timeout: Duration::from_secs(10),
            proxy,
            ..Default::default()
        };
        let http = build_http_client(&cfg).unwrap();
        let err = http.get(url).send().await.unwrap_err();
        TransportKind::of(&err)
    }

    fn http_proxy(port: u16) -> ProxyConfig {
        ProxyConfig {
            kind: ProxyKind::Http,
            host: "127.0.0.1".into(),
            port,
            username: Some("u".into()),
            password: Some("wrong".into()),
            domain: None,
        }
    }

    /// A peer that reads one request and answers `reply` (or nothing) before closing.
    fn peer(reply: &'static [u8]) -> u16 {
        dropbox_connector_test_kit::peer::answering(reply)
    }

    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn refused_port_is_connect() {
        let url = format!("http://127.0.0.1:{}/", closed_port());
        assert_eq!(kind_of_get(&url, None).await, TransportKind::Connect);
    }

    #[tokio::test]
    async fn peer_that_hangs_up_is_reset() {
        let port = peer(b"");
        let url = format!("http://127.0.0.1:{port}/");
        assert_eq!(kind_of_get(&url, None).await, TransportKind::Reset);
    }

    #[tokio::test]
    async fn proxy_answering_407_to_connect_is_proxy_auth() {
        let port = peer(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n\r\n");
        let kind = kind_of_get("https://api.dropboxapi.com/", Some(http_proxy(port))).await;
        assert_eq!(kind, TransportKind::ProxyAuth);
        assert!(kind.is_proxy());
    }

    #[tokio::test]
    async fn proxy_refusing_connect_is_proxy_tunnel() {
        let port = peer(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        let kind = kind_of_get("https://api.dropboxapi.com/", Some(http_proxy(port))).await;
        assert_eq!(kind, TransportKind::ProxyTunnel);
    }

    #[tokio::test]
    async fn unreachable_proxy_is_proxy_connect() {
        let kind = kind_of_get(
            "https://api.dropboxapi.com/",
            Some(http_proxy(closed_port())),
        )
        .await;
        assert_eq!(kind, TransportKind::ProxyConnect);
    }

    #[tokio::test]
    async fn unknown_host_is_dns() {
        // `.invalid` never resolves (RFC 6761).
        let kind = kind_of_get("http://no-such-host.invalid/", None).await;
        assert_eq!(kind, TransportKind::Dns);
    }

    #[tokio::test]
    async fn untrusted_certificate_is_tls() {
        let opts = dropbox_emulator::EmulatorOptions {
            tls: true,
            ..Default::default()
        };
        let emu = dropbox_emulator::Emulator::start("127.0.0.1:0".parse().unwrap(), opts)
            .await
            .unwrap();
        let kind = kind_of_get(emu.base_url(), None).await;
        emu.stop().await;
        assert_eq!(kind, TransportKind::Tls);
    }

    #[test]
    fn error_chain_names_each_source_once() {
        let inner = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let outer = io::Error::other(Wrap(inner));
        let chain = error_chain(&outer);
        assert_eq!(chain, "wrapped: refused");
    }

    #[derive(Debug)]
    struct Wrap(io::Error);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }
}
