//! A Dropbox API v2 emulator on loopback, for tests and for a first run without a Dropbox
//! account. One listener serves the RPC, content, OAuth and control routes under one base
//! URL: `{base}/2/<namespace>/<route>`, `{base}/oauth2/token`, `{base}/oauth2/authorize`
//! and `{base}/__emulator/...`.

mod accounts;
mod auth;
mod blob;
mod control;
mod faults;
mod hash;
mod meter;
mod network;
mod oauth;
mod paths;
mod persist;
mod routes;
mod server;
mod sessions;
mod state;
mod storage;
mod tls;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use hash::content_hash;

/// An OAuth app registered with the emulator (`--app KEY:SECRET`).
#[derive(Clone, Debug)]
pub struct AppRegistration {
    pub key: String,
    pub secret: String,
    /// Redirect URIs accepted by `/oauth2/authorize` (exact match, path and port included).
    pub redirect_uris: Vec<String>,
}

impl AppRegistration {
    /// An app with the default redirect URIs `http://localhost`, `http://localhost:9999`
    /// and `http://127.0.0.1:9999`.
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> AppRegistration {
        AppRegistration {
            key: key.into(),
            secret: secret.into(),
            redirect_uris: DEFAULT_REDIRECT_URIS
                .iter()
                .map(|u| u.to_string())
                .collect(),
        }
    }
}

/// Redirect URIs every `--app` gets.
pub const DEFAULT_REDIRECT_URIS: [&str; 3] = [
    "http://localhost",
    "http://localhost:9999",
    "http://127.0.0.1:9999",
];

/// How to run an [`Emulator`].
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Where files and state live; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for 127.0.0.1/localhost.
    pub tls: bool,
    /// One personal account per token; these access tokens never expire.
    pub tokens: Vec<String>,
    /// OAuth apps.
    pub apps: Vec<AppRegistration>,
    /// A Business team whose team token is this (`--team TOKEN`).
    pub team_token: Option<String>,
    /// Lifetime of access tokens issued by `/oauth2/token` (4 hours by default).
    pub access_token_lifetime: Duration,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            data_dir: None,
            tls: false,
            tokens: Vec::new(),
            apps: Vec::new(),
            team_token: None,
            access_token_lifetime: Duration::from_secs(4 * 60 * 60),
        }
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    base_url: String,
    ca_pem: Option<String>,
    running: server::Running,
}

impl Emulator {
    /// Binds `listen` (use port 0 for any free port) and starts serving.
    pub async fn start(listen: SocketAddr, options: EmulatorOptions) -> anyhow::Result<Emulator> {
        let state = state::AppState::new(&options)?;
        let tls = if options.tls {
            Some(tls::SelfSigned::generate()?)
        } else {
            None
        };
        let ca_pem = tls.as_ref().map(|t| t.cert_pem.clone());
        let running = server::serve(listen, state, tls).await?;
        let scheme = if options.tls { "https" } else { "http" };
        let base_url = format!("{scheme}://{}", running.local_addr);
        Ok(Emulator {
            base_url,
            ca_pem,
            running,
        })
    }

    /// e.g. `http://127.0.0.1:41234` or `https://127.0.0.1:41234`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The PEM of the self-signed certificate (with `tls`), for clients to trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.running.local_addr
    }

    /// Stops the server and flushes state to the data dir.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}
