//! The one place `dbxc` reaches the server: the endpoint (http, or https with a CA, a
//! client identity), and the bearer token every call carries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::exit::{self, CliError};

/// What every client of the server is built on.
pub type Transport = InterceptedService<Channel, BearerToken>;

/// How to reach the server: the global flags that choose the transport.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `--server`.
    pub server: String,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `--cert-file`.
    pub cert_file: Option<PathBuf>,
    /// `--key-file`.
    pub key_file: Option<PathBuf>,
    /// `--token-file`.
    pub token_file: Option<PathBuf>,
}

/// Adds `authorization: Bearer <token>` to every request when a token was given.
#[derive(Clone, Default)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

// The token is a secret: never shown, not even in debug output.
impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.0.is_some() { "set" } else { "none" };
        f.debug_tuple("BearerToken").field(&shown).finish()
    }
}

impl Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl BearerToken {
    /// Reads the token file: surrounding whitespace (the trailing newline of `echo`) is
    /// trimmed; an empty token or one that cannot be a header value is refused.
    pub fn from_file(path: &Path) -> Result<Self, CliError> {
        let raw = read_flag_file("--token-file", path)?;
        let text = String::from_utf8(raw).map_err(|_| {
            CliError::usage(format!(
                "--token-file {}: the token is not UTF-8 text",
                path.display()
            ))
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(CliError::usage(format!(
                "--token-file {}: the file is empty",
                path.display()
            )));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CliError::usage(format!(
                "--token-file {}: a bearer token is one word of printable ASCII",
                path.display()
            )));
        }
        let mut value: MetadataValue<Ascii> = format!("Bearer {token}").parse().map_err(|_| {
            CliError::usage(format!(
                "--token-file {}: the token cannot be sent as a header",
                path.display()
            ))
        })?;
        // Kept out of HPACK tables and debug output along the way.
        value.set_sensitive(true);
        Ok(Self(Some(value)))
    }

    /// Whether a token will be sent.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

/// The server's URL: a bare `HOST:PORT` means http.
fn server_url(server: &str) -> String {
    if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    }
}

fn read_flag_file(flag: &str, path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|e| CliError::usage(format!("{flag} {}: cannot read it: {e}", path.display())))
}

/// The endpoint and the token for `options`, without connecting. Everything that can be
/// checked locally is: the files are read, the PEM parsed, the scheme matched to the flags.
pub fn prepare(options: &ServerOptions) -> Result<(Endpoint, BearerToken), CliError> {
    let url = server_url(&options.server);
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| CliError::usage(format!("invalid --server {url:?}: {e}")))?
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    let https = url.starts_with("https://");
    let tls_flags: Vec<&str> = [
        ("--ca-file", &options.ca_file),
        ("--cert-file", &options.cert_file),
        ("--key-file", &options.key_file),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(flag, _)| flag)
    .collect();
    if !https && !tls_flags.is_empty() {
        return Err(CliError::usage(format!(
            "{} given, but --server {url} is plain http: use --server https://HOST:PORT for TLS",
            tls_flags.join(", ")
        )));
    }
    if !https && !url.starts_with("http://") {
        return Err(CliError::usage(format!(
            "--server {url}: the scheme is http:// or https://"
        )));
    }
    let endpoint = if https {
        endpoint
            .tls_config(tls_config(options)?)
            .map_err(|e| CliError::usage(format!("TLS settings: {}", exit::error_chain(&e))))?
    } else {
        endpoint
    };
    let token = match &options.token_file {
        Some(path) => BearerToken::from_file(path)?,
        None => BearerToken::default(),
    };
    Ok((endpoint, token))
}

fn tls_config(options: &ServerOptions) -> Result<ClientTlsConfig, CliError> {
    let mut config = ClientTlsConfig::new();
    config = match &options.ca_file {
        Some(path) => {
            let pem = read_flag_file("--ca-file", path)?;
            if !looks_like_pem(&pem, "CERTIFICATE") {
                return Err(CliError::usage(format!(
                    "--ca-file {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
                    path.display()
                )));
            }
            config.ca_certificate(Certificate::from_pem(pem))
        }
        // The public web PKI compiled into dbxc: the same set on every machine.
        None => config.with_webpki_roots(),
    };
    match (&options.cert_file, &options.key_file) {
        (Some(cert), Some(key)) => {
            let cert_pem = read_flag_file("--cert-file", cert)?;
            let key_pem = read_flag_file("--key-file", key)?;
            if !looks_like_pem(&cert_pem, "CERTIFICATE") {
                return Err(CliError::usage(format!(
                    "--cert-file {}: no PEM certificate in it",
                    cert.display()
                )));
            }
            if !looks_like_pem(&key_pem, "PRIVATE KEY") {
                return Err(CliError::usage(format!(
                    "--key-file {}: no PEM private key in it",
                    key.display()
                )));
            }
            config = config.identity(Identity::from_pem(cert_pem, key_pem));
        }
        (Some(_), None) => {
            return Err(CliError::usage(
                "--cert-file needs --key-file (the client certificate's private key)",
            ));
        }
        (None, Some(_)) => {
            return Err(CliError::usage(
                "--key-file needs --cert-file (the client certificate)",
            ));
        }
        (None, None) => {}
    }
    Ok(config)
}

/// Whether `pem` has a `-----BEGIN ...<label>-----` block (RSA/EC/PKCS#8 keys all end in
/// `PRIVATE KEY`).
fn looks_like_pem(pem: &[u8], label: &str) -> bool {
    let text = String::from_utf8_lossy(pem);
    text.lines().any(|l| {
        l.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|what| what.ends_with(label))
    })
}

/// Whether a connect error came from the TLS handshake: some cause in its chain is a rustls
/// error, directly or inside the I/O error tokio-rustls reports it in (whose `source()`
/// skips it, so it is looked for with `get_ref`).
fn tls_failed(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<rustls::Error>());
        if inner || e.is::<rustls::Error>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Connects to the server; the transport every client uses.
pub async fn connect(options: &ServerOptions) -> Result<Transport, CliError> {
    let (endpoint, token) = prepare(options)?;
    let url = endpoint.uri().to_string();
    if token.is_set() && url.starts_with("http://") && !is_loopback(&endpoint) {
        eprintln!(
            "warning: the bearer token goes to {url} over plain http; use https:// unless \
             something in between encrypts the traffic"
        );
    }
    let channel = endpoint.connect().await.map_err(|e| {
        let chain = exit::error_chain(&e);
        let hint = if url.starts_with("https://") && tls_failed(&e) {
            " (TLS: is the server's certificate signed by --ca-file / DBXC_CA_FILE, and for \
             this host name? does the server want a client certificate, --cert-file/--key-file?)"
        } else {
            " (is it running? see --server / DBXC_SERVER)"
        };
        CliError::unreachable(format!(
            "UNAVAILABLE: cannot reach the server at {url}: {chain}{hint}"
        ))
    })?;
    Ok(InterceptedService::new(channel, token))
}

fn is_loopback(endpoint: &Endpoint) -> bool {
    match endpoint.uri().host() {
        Some(host) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(server: &str) -> ServerOptions {
        ServerOptions {
            server: server.into(),
            ..ServerOptions::default()
        }
    }

    fn header(token: &BearerToken) -> Option<String> {
        let mut interceptor = token.clone();
        let request = interceptor.call(tonic::Request::new(())).unwrap();
        request
            .metadata()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// A CA certificate made for the test (PEM).
    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn the_token_file_is_read_trimmed_and_sent_on_every_call() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  s3cr3t-token.xyz\n\n").unwrap();
        let mut opts = options("http://127.0.0.1:1");
        opts.token_file = Some(file);
        let (_, token) = prepare(&opts).unwrap();
        assert_eq!(header(&token).as_deref(), Some("Bearer s3cr3t-token.xyz"));
        // Each call gets it, not just the first.
        assert_eq!(header(&token).as_deref(), Some("Bearer s3cr3t-token.xyz"));
        assert!(
            !format!("{token:?}").contains("s3cr3t"),
            "never in debug output"
        );
    }

    #[test]
    fn no_token_file_sends_no_authorization() {
        let (_, token) = prepare(&options("127.0.0.1:50051")).unwrap();
        assert_eq!(header(&token), None);
    }

    #[test]
    fn a_missing_token_file_names_the_flag_and_the_path() {
        let mut opts = options("http://127.0.0.1:1");
        opts.token_file = Some("/nonexistent/dbxc-token".into());
        let error = prepare(&opts).unwrap_err();
        assert_eq!(error.code, exit::USAGE);
        assert!(error.message.contains("--token-file"), "{}", error.message);
        assert!(
            error.message.contains("/nonexistent/dbxc-token"),
            "{}",
            error.message
        );
    }

    #[test]
    fn empty_or_multi_word_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [("empty", " \n"), ("two", "a b\n"), ("ctl", "a\u{1b}b")] {
            let file = dir.path().join(name);
            std::fs::write(&file, content).unwrap();
            let mut opts = options("http://127.0.0.1:1");
            opts.token_file = Some(file);
            let error = prepare(&opts).unwrap_err();
            assert_eq!(error.code, exit::USAGE, "{name}");
            assert!(
                error.message.contains("--token-file"),
                "{name}: {}",
                error.message
            );
        }
    }

    #[test]
    fn tls_flags_with_plain_http_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, ca_pem()).unwrap();
        let mut opts = options("http://127.0.0.1:1");
        opts.ca_file = Some(ca);
        let error = prepare(&opts).unwrap_err();
        assert_eq!(error.code, exit::USAGE);
        assert!(error.message.contains("--ca-file"), "{}", error.message);
        assert!(error.message.contains("https://"), "{}", error.message);
    }

    #[test]
    fn https_with_a_ca_file_builds_a_tls_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, ca_pem()).unwrap();
        let mut opts = options("https://dropbox-connector.example:50051");
        opts.ca_file = Some(ca);
        let (endpoint, _) = prepare(&opts).unwrap();
        assert_eq!(endpoint.uri().scheme_str(), Some("https"));
        // Without --ca-file the compiled-in roots are used.
        assert!(prepare(&options("https://dropbox-connector.example:50051")).is_ok());
    }

    #[test]
    fn unusable_tls_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let mut opts = options("https://127.0.0.1:1");
        opts.ca_file = Some(junk.clone());
        let error = prepare(&opts).unwrap_err();
        assert!(error.message.contains("--ca-file"), "{}", error.message);

        let mut opts = options("https://127.0.0.1:1");
        opts.cert_file = Some(dir.path().join("missing-cert.pem"));
        opts.key_file = Some(junk);
        let error = prepare(&opts).unwrap_err();
        assert_eq!(error.code, exit::USAGE);
        assert!(error.message.contains("--cert-file"), "{}", error.message);
        assert!(
            error.message.contains("missing-cert.pem"),
            "{}",
            error.message
        );
    }

    #[test]
    fn mtls_identity_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["client.example".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (cert_file, key_file) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        let mut opts = options("https://127.0.0.1:1");
        opts.cert_file = Some(cert_file);
        opts.key_file = Some(key_file);
        assert!(prepare(&opts).is_ok());
    }

    /// A listener that answers whatever it is sent with plain HTTP, as a server without TLS
    /// would: an https client fails in its TLS handshake.
    async fn plain_http_listener() -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_failed_tls_handshake_gets_the_tls_hint() {
        let addr = plain_http_listener().await;
        let error = connect(&options(&format!("https://{addr}")))
            .await
            .err()
            .unwrap();
        assert_eq!(error.code, exit::UNAVAILABLE);
        assert!(error.message.contains("(TLS: "), "{}", error.message);
    }

    #[tokio::test]
    async fn nothing_listening_gets_the_is_it_running_hint() {
        let addr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        for scheme in ["http", "https"] {
            let error = connect(&options(&format!("{scheme}://{addr}")))
                .await
                .err()
                .unwrap();
            assert_eq!(error.code, exit::UNAVAILABLE);
            assert!(
                error.message.contains("(is it running? "),
                "{}",
                error.message
            );
        }
    }
}
