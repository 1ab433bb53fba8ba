//! Layered configuration: built-in defaults < `--config FILE` (TOML) < environment
//! (`DBXC_` prefix, `__` between nested keys) < command-line flags.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

/// Everything the server reads at start-up.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `DBXC_LISTEN`: the gRPC address.
    pub listen: SocketAddr,
    /// `DBXC_HEALTH_LISTEN`: an extra plain-text listener that serves only the standard
    /// health service, for probes that cannot speak TLS (the kubelet's gRPC probes).
    #[serde(default)]
    pub health_listen: Option<SocketAddr>,
    /// `DBXC_DATA_DIR`: where `connections.db` (and in `--dev` the emulator's files) live.
    pub data_dir: PathBuf,
    pub dropbox: DropboxConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub oauth: OAuthConfig,
    /// `DBXC_TLS__*`: TLS (and mTLS) on the gRPC listener; plain TCP when unset.
    #[serde(default)]
    pub tls: TlsConfig,
    /// `DBXC_LIMITS__*`: bounds on what callers can make the server hold.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `DBXC_REFLECTION`: serve gRPC reflection (off by default: it hands the whole API
    /// to anyone who can connect).
    #[serde(default)]
    pub reflection: bool,
    /// `DBXC_AUTH__*`: who may call.
    #[serde(default)]
    pub auth: AuthConfig,
    /// `DBXC_LISTING__*`: bounds of listing-based work.
    #[serde(default)]
    pub listing: ListingConfig,
    /// `DBXC_TEST_CONNECTION__*`: what TestConnection may reach.
    #[serde(default)]
    pub test_connection: TestConnectionConfig,
}

/// `DBXC_LISTING__*`: bounds of sorted List and filtered Download and Delete.
#[derive(Debug, Clone, Deserialize)]
pub struct ListingConfig {
    /// `DBXC_LISTING__MAX_ENTRIES`: most entries one call holds (default 1,000,000); past
    /// it the call fails with LISTING_TOO_LARGE.
    #[serde(default = "default_listing_max_entries")]
    pub max_entries: u64,
}

impl Default for ListingConfig {
    fn default() -> Self {
        ListingConfig {
            max_entries: default_listing_max_entries(),
        }
    }
}

fn default_listing_max_entries() -> u64 {
    crate::tasks::filter::DEFAULT_MAX_ENTRIES as u64
}

impl ListingConfig {
    pub fn limits(&self) -> crate::tasks::filter::ListingLimits {
        crate::tasks::filter::ListingLimits {
            max_entries: usize::try_from(self.max_entries.max(1)).unwrap_or(usize::MAX),
        }
    }
}

/// `DBXC_TEST_CONNECTION__*`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TestConnectionConfig {
    /// `DBXC_TEST_CONNECTION__ALLOW_PRIVATE_TARGETS`: let TestConnection fetch test URLs on
    /// loopback, link-local and private addresses (default false; `--dev` sets it).
    #[serde(default)]
    pub allow_private_targets: bool,
}

/// `DBXC_AUTH__*`: who may call (see `crate::auth` and deploy/callers.example.toml).
#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    /// `DBXC_AUTH__CALLERS_FILE`: the callers (TOML). Without it every call is an
    /// anonymous admin, which only loopback, `--dev` or `allow_unauthenticated` permit.
    #[serde(default)]
    pub callers_file: Option<PathBuf>,
    /// `DBXC_AUTH__JWKS_FILE`: the keys (JWKS JSON) that sign callers' JWTs.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// `DBXC_AUTH__RELOAD_SECONDS`: how often both files are read again (default 5).
    #[serde(default = "default_reload_seconds")]
    pub reload_seconds: u64,
    /// `DBXC_AUTH__ALLOW_UNAUTHENTICATED`: serve a non-loopback address without callers,
    /// for a mesh that authenticates in front (default false).
    #[serde(default)]
    pub allow_unauthenticated: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            callers_file: None,
            jwks_file: None,
            reload_seconds: default_reload_seconds(),
            allow_unauthenticated: false,
        }
    }
}

fn default_reload_seconds() -> u64 {
    5
}

impl AuthConfig {
    /// The callers file, unless unset or empty.
    pub fn callers_file(&self) -> Option<&Path> {
        self.callers_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }

    /// The JWKS file, unless unset or empty.
    pub fn jwks_file(&self) -> Option<&Path> {
        self.jwks_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }
}

/// `DBXC_TLS__*`. Certificate and key are both set (TLS) or both unset (plain TCP).
#[derive(Debug, Clone, Deserialize)]
pub struct TlsConfig {
    /// `DBXC_TLS__CERT_FILE`: PEM certificate chain, leaf first.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// `DBXC_TLS__KEY_FILE`: PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// `DBXC_TLS__CLIENT_CA_FILE`: PEM CAs; when set, every client must present a
    /// certificate signed by one of them (mTLS).
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// `DBXC_TLS__RELOAD_SECONDS`: how often the files are checked for new content
    /// (rotation without a restart). Default 10.
    #[serde(default = "default_tls_reload")]
    pub reload_seconds: u64,
    /// `DBXC_TLS__HANDSHAKE_TIMEOUT_SECONDS`: a client that has not finished its TLS
    /// handshake by then is dropped. Default 10.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_seconds: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: None,
            key_file: None,
            client_ca_file: None,
            reload_seconds: default_tls_reload(),
            handshake_timeout_seconds: default_handshake_timeout(),
        }
    }
}

fn default_tls_reload() -> u64 {
    10
}

fn default_handshake_timeout() -> u64 {
    10
}

/// `DBXC_LIMITS__*`: what hostile or broken callers can make the server hold.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitsConfig {
    /// `DBXC_LIMITS__MAX_STREAMS_PER_CONNECTION`: concurrent HTTP/2 streams one client
    /// connection may open (advertised in SETTINGS). Default 100.
    #[serde(default = "default_streams_per_connection")]
    pub max_streams_per_connection: u32,
    /// `DBXC_LIMITS__MAX_CALLS`: calls in progress across all connections (health checks
    /// not counted); past it a call gets RESOURCE_EXHAUSTED (SERVER_BUSY). Default 256.
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    /// `DBXC_LIMITS__KEEPALIVE_INTERVAL_SECONDS`: HTTP/2 PING interval on idle
    /// connections. Default 30.
    #[serde(default = "default_keepalive_interval")]
    pub keepalive_interval_seconds: u64,
    /// `DBXC_LIMITS__KEEPALIVE_TIMEOUT_SECONDS`: a connection whose PING is not answered
    /// within this is closed. Default 20.
    #[serde(default = "default_keepalive_timeout")]
    pub keepalive_timeout_seconds: u64,
    /// `DBXC_LIMITS__STREAM_IDLE_SECONDS`: a client stream (UploadFiles,
    /// WriteResumableUpload) that sends nothing for this long ends with
    /// DEADLINE_EXCEEDED (STREAM_IDLE); nothing of it is committed. Default 60.
    #[serde(default = "default_stream_idle")]
    pub stream_idle_seconds: u64,
    /// `DBXC_LIMITS__UPLOAD_BUFFER_BYTES`: upload bytes held in memory before they go to
    /// Dropbox, across all calls. Default 128 MiB.
    #[serde(default = "default_upload_buffer")]
    pub upload_buffer_bytes: usize,
    /// `DBXC_LIMITS__UPLOAD_BUFFER_WAIT_MS`: how long an upload waits for room in that
    /// budget before it gets RESOURCE_EXHAUSTED (SERVER_BUSY). Default 2000.
    #[serde(default = "default_upload_buffer_wait")]
    pub upload_buffer_wait_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_streams_per_connection: default_streams_per_connection(),
            max_calls: default_max_calls(),
            keepalive_interval_seconds: default_keepalive_interval(),
            keepalive_timeout_seconds: default_keepalive_timeout(),
            stream_idle_seconds: default_stream_idle(),
            upload_buffer_bytes: default_upload_buffer(),
            upload_buffer_wait_ms: default_upload_buffer_wait(),
        }
    }
}

fn default_streams_per_connection() -> u32 {
    100
}

fn default_max_calls() -> usize {
    256
}

fn default_keepalive_interval() -> u64 {
    30
}

fn default_keepalive_timeout() -> u64 {
    20
}

fn default_stream_idle() -> u64 {
    60
}

fn default_upload_buffer() -> usize {
    128 * 1024 * 1024
}

fn default_upload_buffer_wait() -> u64 {
    2000
}

/// `DBXC_SECRETS__*`: the key that seals secrets at rest. `Debug` never prints the key.
#[derive(Clone, Default, Deserialize)]
pub struct SecretsConfig {
    /// `DBXC_SECRETS__KEY`: 32 bytes, standard base64.
    #[serde(default)]
    pub key: Option<String>,
    /// `DBXC_SECRETS__KEY_FILE`: a file holding the key (base64 text), e.g. a mounted
    /// secret. Used when `key` is not set.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsConfig")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("key_file", &self.key_file)
            .finish()
    }
}

/// `DBXC_OAUTH__*`.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthConfig {
    /// How long a StartAuthorization state stays usable (default 600 s).
    #[serde(default = "default_state_ttl")]
    pub state_ttl_seconds: u64,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            state_ttl_seconds: default_state_ttl(),
        }
    }
}

fn default_state_ttl() -> u64 {
    600
}

/// The operator's own Dropbox app, used by connections without an app key.
/// `Debug` never prints the secret.
#[derive(Clone, Default, Deserialize)]
pub struct RegisteredApp {
    /// `DBXC_DROPBOX__REGISTERED_APP__KEY`.
    #[serde(default)]
    pub key: String,
    /// `DBXC_DROPBOX__REGISTERED_APP__SECRET` (optional with PKCE).
    #[serde(default)]
    pub secret: String,
}

impl std::fmt::Debug for RegisteredApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredApp")
            .field("key", &self.key)
            .field("secret", &(!self.secret.is_empty()).then_some("<redacted>"))
            .finish()
    }
}

/// `DBXC_DROPBOX__*`: where Dropbox is.
#[derive(Debug, Clone, Deserialize)]
pub struct DropboxConfig {
    /// RPC routes and `/oauth2/token`.
    pub api_url: String,
    /// Upload and download routes.
    pub content_url: String,
    /// The OAuth authorize page.
    pub oauth_url: String,
    /// A PEM file of extra CAs to trust (e.g. a TLS-intercepting proxy, or the emulator).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The operator's registered app (`dropbox.registered_app.key` / `.secret`).
    #[serde(default)]
    pub registered_app: RegisteredApp,
}

/// `DBXC_LOG__*`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing_subscriber::EnvFilter` syntax, e.g. `info,dropbox_client=debug`.
    pub level: String,
}

/// Human-readable lines or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `DBXC_SHUTDOWN__*`.
#[derive(Debug, Clone, Deserialize)]
pub struct ShutdownConfig {
    /// How long in-flight calls (long uploads and downloads) may run on after SIGTERM.
    pub grace_seconds: u64,
}

impl ShutdownConfig {
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_seconds)
    }
}

/// Command-line values that take precedence over every other layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    /// `--dev` changes the default data dir to `./.dev-data`.
    pub dev: bool,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEV_DATA_DIR: &str = "./.dev-data";
const ENV_PREFIX: &str = "DBXC";

impl Config {
    /// Loads the layers from the process environment.
    pub fn load(overrides: &Overrides) -> anyhow::Result<Config> {
        Self::load_from(overrides, None)
    }

    /// Loads the layers; `env` replaces the process environment (for tests).
    pub fn load_from(
        overrides: &Overrides,
        env: Option<HashMap<String, String>>,
    ) -> anyhow::Result<Config> {
        let data_dir_default = if overrides.dev {
            DEV_DATA_DIR
        } else {
            DEFAULT_DATA_DIR
        };
        let mut builder = config::Config::builder()
            .set_default("listen", DEFAULT_LISTEN)?
            .set_default("data_dir", data_dir_default)?
            .set_default("dropbox.api_url", "https://api.dropboxapi.com")?
            .set_default("dropbox.content_url", "https://content.dropboxapi.com")?
            .set_default("dropbox.oauth_url", "https://www.dropbox.com")?
            .set_default("log.format", "text")?
            .set_default("log.level", "info")?
            .set_default("shutdown.grace_seconds", 30)?
            .set_default("test_connection.allow_private_targets", overrides.dev)?;
        if let Some(file) = &overrides.config_file {
            builder = builder
                .add_source(config::File::from(file.as_path()).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .try_parsing(false)
                .source(env),
        );
        if let Some(listen) = overrides.listen {
            builder = builder.set_override("listen", listen.to_string())?;
        }
        if let Some(dir) = &overrides.data_dir {
            builder = builder.set_override("data_dir", dir.to_string_lossy().into_owned())?;
        }
        let built = builder.build().context("reading configuration")?;
        let config: Config = built
            .try_deserialize()
            .context("invalid configuration (check DBXC_* variables and the --config file)")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for (key, value) in [
            ("dropbox.api_url", &self.dropbox.api_url),
            ("dropbox.content_url", &self.dropbox.content_url),
            ("dropbox.oauth_url", &self.dropbox.oauth_url),
        ] {
            url::Url::parse(value).with_context(|| format!("{key} = {value:?} is not a URL"))?;
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .with_context(|| format!("log.level = {:?} is not a valid filter", self.log.level))?;
        self.validate_transport()?;
        if self.auth.reload_seconds == 0 {
            anyhow::bail!("auth.reload_seconds (DBXC_AUTH__RELOAD_SECONDS) must be at least 1");
        }
        Ok(())
    }

    /// Secure by default: `--dev` only on loopback, and outside it a non-loopback address
    /// only with callers configured or an explicit opt-out.
    pub fn check_exposure(&self, dev: bool) -> anyhow::Result<()> {
        let ip = self.listen.ip();
        if ip.is_loopback() {
            return Ok(());
        }
        if dev {
            anyhow::bail!(
                "--dev listens only on loopback, but the listen address is {}: --dev serves a \
                 demo connection and makes its own secrets key. Use --listen 127.0.0.1:<port> \
                 (or [::1]:<port>), or run without --dev for a real deployment.",
                self.listen
            );
        }
        if self.auth.callers_file().is_none() && !self.auth.allow_unauthenticated {
            anyhow::bail!(
                "refusing to listen on {} without callers: anyone who reaches the port could \
                 use every connection. Name the callers in a TOML file and set \
                 DBXC_AUTH__CALLERS_FILE to it (config: auth.callers_file; see \
                 deploy/callers.example.toml for the format). If something in front of this \
                 service (a mesh) already authenticates every call, opt out explicitly with \
                 DBXC_AUTH__ALLOW_UNAUTHENTICATED=true. Or listen on 127.0.0.1.",
                self.listen
            );
        }
        Ok(())
    }

    fn validate_transport(&self) -> anyhow::Result<()> {
        let set = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| !p.as_os_str().is_empty());
        let tls = &self.tls;
        match (set(&tls.cert_file), set(&tls.key_file)) {
            (true, false) => anyhow::bail!(
                "tls.cert_file (DBXC_TLS__CERT_FILE) is set but tls.key_file (DBXC_TLS__KEY_FILE) is not; set both for TLS, or neither"
            ),
            (false, true) => anyhow::bail!(
                "tls.key_file (DBXC_TLS__KEY_FILE) is set but tls.cert_file (DBXC_TLS__CERT_FILE) is not; set both for TLS, or neither"
            ),
            (false, false) if set(&tls.client_ca_file) => anyhow::bail!(
                "tls.client_ca_file (DBXC_TLS__CLIENT_CA_FILE) needs TLS: set DBXC_TLS__CERT_FILE and DBXC_TLS__KEY_FILE too"
            ),
            _ => {}
        }
        let l = &self.limits;
        for (key, value) in [
            ("tls.reload_seconds", tls.reload_seconds),
            (
                "tls.handshake_timeout_seconds",
                tls.handshake_timeout_seconds,
            ),
            (
                "limits.max_streams_per_connection",
                u64::from(l.max_streams_per_connection),
            ),
            ("limits.max_calls", l.max_calls as u64),
            (
                "limits.keepalive_interval_seconds",
                l.keepalive_interval_seconds,
            ),
            (
                "limits.keepalive_timeout_seconds",
                l.keepalive_timeout_seconds,
            ),
            ("limits.stream_idle_seconds", l.stream_idle_seconds),
            ("limits.upload_buffer_bytes", l.upload_buffer_bytes as u64),
        ] {
            if value == 0 {
                anyhow::bail!("{key} must be at least 1");
            }
        }
        // One upload's largest buffer (a piece short of one byte, plus a chunk) must fit,
        // or that upload could never send a piece and make room.
        let least = crate::tasks::upload::PIECE + crate::tasks::upload::MAX_CHUNK;
        if l.upload_buffer_bytes < least {
            anyhow::bail!(
                "limits.upload_buffer_bytes must be at least {least} (one upload piece plus one chunk)"
            );
        }
        Ok(())
    }

    /// The SQLite file of the embedded connection store.
    pub fn connections_db(&self) -> PathBuf {
        self.data_dir.join("connections.db")
    }

    /// The key that seals secrets: `secrets.key`, else the file `secrets.key_file`.
    /// `Ok(None)` when neither is set. Either must be base64 of exactly 32 bytes: a
    /// passphrase, or raw bytes in the file, are refused with how to make a key.
    pub fn secrets_key(&self) -> anyhow::Result<Option<crate::store::Sealer>> {
        if let Some(k) = self.secrets.key.as_deref().filter(|k| !k.trim().is_empty()) {
            return crate::store::Sealer::from_base64(k)
                .map(Some)
                .context("secrets.key (DBXC_SECRETS__KEY)");
        }
        let Some(p) = self.secrets_key_file() else {
            return Ok(None);
        };
        let raw = std::fs::read(p).with_context(|| {
            format!(
                "reading secrets.key_file (DBXC_SECRETS__KEY_FILE) {}",
                p.display()
            )
        })?;
        // Non-UTF-8 bytes become U+FFFD, which no base64 text holds: refused like any
        // other text that is not a key.
        crate::store::Sealer::from_base64(&String::from_utf8_lossy(&raw))
            .map(Some)
            .with_context(|| format!("secrets.key_file (DBXC_SECRETS__KEY_FILE) {}", p.display()))
    }

    /// The key file the key comes from: `secrets.key_file` when `secrets.key` is not set.
    pub fn secrets_key_file(&self) -> Option<&Path> {
        if self
            .secrets
            .key
            .as_deref()
            .is_some_and(|k| !k.trim().is_empty())
        {
            return None;
        }
        self.secrets
            .key_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }

    /// The key, or the start-up refusal that says how to give one.
    pub fn require_secrets_key(&self) -> anyhow::Result<crate::store::Sealer> {
        self.secrets_key()?.ok_or_else(|| {
            anyhow::anyhow!(
                "no secrets key: stored secrets (tokens, app secret, proxy password) are sealed \
                 with AES-256-GCM and the server needs the key. Set DBXC_SECRETS__KEY to 32 \
                 random bytes in base64, or DBXC_SECRETS__KEY_FILE to a file holding them \
                 (config: secrets.key / secrets.key_file). Make a key with \
                 `{}`. (`--dev` makes one in the data dir.)",
                crate::store::secrets::MAKE_A_KEY
            )
        })
    }

    /// Reads the extra CA file, if one is configured.
    pub fn extra_ca_pem(&self) -> anyhow::Result<Option<Vec<u8>>> {
        match &self.dropbox.ca_file {
            None => Ok(None),
            Some(p) if p.as_os_str().is_empty() => Ok(None),
            Some(p) => read_file(p).map(Some),
        }
    }
}

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading dropbox.ca_file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults() {
        let c = Config::load_from(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.dropbox.api_url, "https://api.dropboxapi.com");
        assert_eq!(c.log.format, LogFormat::Text);
        assert_eq!(c.shutdown.grace(), Duration::from_secs(30));
        let dev = Config::load_from(
            &Overrides {
                dev: true,
                ..Default::default()
            },
            env(&[]),
        )
        .unwrap();
        assert_eq!(dev.data_dir, PathBuf::from("./.dev-data"));
    }

    #[test]
    fn layers_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\ndata_dir = \"/from-file\"\n[log]\nformat = \"json\"\n[dropbox]\napi_url = \"http://file\"\n",
        )
        .unwrap();
        let o = Overrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::load_from(
            &o,
            env(&[
                ("DBXC_DATA_DIR", "/from-env"),
                ("DBXC_DROPBOX__CONTENT_URL", "http://env:1"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:1");
        assert_eq!(c.data_dir, PathBuf::from("/from-env"));
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.dropbox.api_url, "http://file");
        assert_eq!(c.dropbox.content_url, "http://env:1");
        let o = Overrides {
            config_file: Some(file),
            data_dir: Some("/flag".into()),
            ..Default::default()
        };
        let c = Config::load_from(
            &o,
            env(&[
                ("DBXC_DATA_DIR", "/from-env"),
                ("DBXC_SHUTDOWN__GRACE_SECONDS", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/flag"));
        assert_eq!(c.shutdown.grace_seconds, 5);
    }

    #[test]
    fn listing_and_test_connection_sections() {
        let c = Config::load_from(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(c.listing.max_entries, 1_000_000);
        assert!(!c.test_connection.allow_private_targets);
        let dev = Overrides {
            dev: true,
            ..Default::default()
        };
        let c = Config::load_from(&dev, env(&[])).unwrap();
        assert!(c.test_connection.allow_private_targets, "--dev allows them");
        let c = Config::load_from(
            &Overrides::default(),
            env(&[
                ("DBXC_LISTING__MAX_ENTRIES", "5"),
                ("DBXC_TEST_CONNECTION__ALLOW_PRIVATE_TARGETS", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listing.limits().max_entries, 5);
        assert!(c.test_connection.allow_private_targets);
    }

    #[test]
    fn secrets_key_from_env_or_file_and_a_clear_refusal() {
        let none = Config::load_from(&Overrides::default(), env(&[])).unwrap();
        let msg = format!("{:#}", none.require_secrets_key().unwrap_err());
        for needle in [
            "DBXC_SECRETS__KEY ",
            "DBXC_SECRETS__KEY_FILE",
            "head -c 32 /dev/urandom | base64",
        ] {
            assert!(msg.contains(needle), "{msg}");
        }
        let (sealer, text) = crate::store::Sealer::generate();
        let c =
            Config::load_from(&Overrides::default(), env(&[("DBXC_SECRETS__KEY", &text)])).unwrap();
        assert_eq!(c.require_secrets_key().unwrap().key_id(), sealer.key_id());
        assert!(!format!("{c:?}").contains(&text));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        std::fs::write(&file, format!("{text}\n")).unwrap();
        let c = Config::load_from(
            &Overrides::default(),
            env(&[("DBXC_SECRETS__KEY_FILE", file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.require_secrets_key().unwrap().key_id(), sealer.key_id());
        let bad = Config::load_from(
            &Overrides::default(),
            env(&[("DBXC_SECRETS__KEY", "c2hvcnQ=")]),
        )
        .unwrap();
        assert!(bad.require_secrets_key().is_err());
        // Raw bytes in a key file are not a key (a 32-character passphrase would pass).
        std::fs::write(&file, "correct horse battery staple 123").unwrap();
        let raw = Config::load_from(
            &Overrides::default(),
            env(&[("DBXC_SECRETS__KEY_FILE", file.to_str().unwrap())]),
        )
        .unwrap();
        let msg = format!("{:#}", raw.secrets_key().unwrap_err());
        assert!(msg.contains("head -c 32 /dev/urandom | base64"), "{msg}");
        let app = Config::load_from(
            &Overrides::default(),
            env(&[
                ("DBXC_DROPBOX__REGISTERED_APP__KEY", "k"),
                ("DBXC_DROPBOX__REGISTERED_APP__SECRET", "s3cr3t"),
                ("DBXC_OAUTH__STATE_TTL_SECONDS", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(app.dropbox.registered_app.key, "k");
        assert_eq!(app.dropbox.registered_app.secret, "s3cr3t");
        assert_eq!(app.oauth.state_ttl_seconds, 5);
        assert!(!format!("{app:?}").contains("s3cr3t"));
    }

    #[test]
    fn transport_settings_have_defaults_and_half_a_tls_setup_is_refused() {
        let c = Config::load_from(&Overrides::default(), env(&[])).unwrap();
        assert!(c.tls.cert_file.is_none() && !c.reflection);
        assert_eq!(c.tls.reload_seconds, 10);
        assert_eq!(c.limits.stream_idle_seconds, 60);
        assert_eq!(c.limits.upload_buffer_bytes, 128 * 1024 * 1024);
        let c = Config::load_from(
            &Overrides::default(),
            env(&[
                ("DBXC_TLS__CERT_FILE", "/c.pem"),
                ("DBXC_TLS__KEY_FILE", "/k.pem"),
                ("DBXC_TLS__RELOAD_SECONDS", "1"),
                ("DBXC_REFLECTION", "true"),
                ("DBXC_LIMITS__MAX_CALLS", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(c.tls.cert_file, Some(PathBuf::from("/c.pem")));
        assert_eq!(
            (c.tls.reload_seconds, c.reflection, c.limits.max_calls),
            (1, true, 3)
        );
        for (bad, says) in [
            ("DBXC_TLS__CERT_FILE", "DBXC_TLS__KEY_FILE"),
            ("DBXC_TLS__KEY_FILE", "DBXC_TLS__CERT_FILE"),
            ("DBXC_TLS__CLIENT_CA_FILE", "needs TLS"),
        ] {
            let e = Config::load_from(&Overrides::default(), env(&[(bad, "/f.pem")])).unwrap_err();
            assert!(format!("{e:#}").contains(says), "{bad}: {e:#}");
        }
        for (bad, value, says) in [
            (
                "DBXC_LIMITS__STREAM_IDLE_SECONDS",
                "0",
                "limits.stream_idle_seconds",
            ),
            (
                "DBXC_LIMITS__UPLOAD_BUFFER_BYTES",
                "1048576",
                "limits.upload_buffer_bytes",
            ),
        ] {
            let e = Config::load_from(&Overrides::default(), env(&[(bad, value)])).unwrap_err();
            assert!(format!("{e:#}").contains(says), "{bad}: {e:#}");
        }
    }

    #[test]
    fn refuses_bad_values() {
        assert!(Config::load_from(&Overrides::default(), env(&[("DBXC_LISTEN", "nope")])).is_err());
        assert!(
            Config::load_from(
                &Overrides::default(),
                env(&[("DBXC_DROPBOX__API_URL", "::")])
            )
            .is_err()
        );
        assert!(
            Config::load_from(&Overrides::default(), env(&[("DBXC_LOG__FORMAT", "xml")])).is_err()
        );
    }
}
