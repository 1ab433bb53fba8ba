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
    /// `DBXC_DATA_DIR`: where `connections.db` (and in `--dev` the emulator's files) live.
    pub data_dir: PathBuf,
    pub dropbox: DropboxConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub oauth: OAuthConfig,
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
            .set_default("shutdown.grace_seconds", 30)?;
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
