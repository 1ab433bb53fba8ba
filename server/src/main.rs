//! `dropbox-connector`: wiring only (flags, configuration, logging, listener, signals).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dropbox_connector_server::config::{Config, Overrides};
#[cfg(feature = "dev")]
use dropbox_connector_server::dev;
use dropbox_connector_server::server::serve_with_health;
use dropbox_connector_server::store::{StoreLock, files};
use dropbox_connector_server::telemetry;

/// The dropbox-connector gRPC service: VisualCron's Dropbox Cloud tasks for other services.
///
/// Configuration: defaults < --config FILE (TOML) < DBXC_* environment variables
/// (DBXC_LISTEN, DBXC_DATA_DIR, DBXC_DROPBOX__API_URL, DBXC_LOG__LEVEL, ...) < flags.
///
/// Secrets at rest are sealed with AES-256-GCM under a 32-byte key given as base64 in
/// DBXC_SECRETS__KEY, or in a file named by DBXC_SECRETS__KEY_FILE (make one with
/// `head -c 32 /dev/urandom | base64`; a passphrase is refused). Without a key the server
/// refuses to start, except with --dev, which makes one in the data dir.
///
/// Callers: DBXC_AUTH__CALLERS_FILE names who may call, with which role and connection
/// groups (format: deploy/callers.example.toml); it is re-read when it changes. Without it
/// every call is an anonymous admin, so the server listens on a non-loopback address only
/// with DBXC_AUTH__ALLOW_UNAUTHENTICATED=true, and --dev only on loopback.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:50051).
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<SocketAddr>,
    /// Where connections (and in --dev the emulator's files) are kept.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Start with an in-process Dropbox emulator and a connection named `demo`
    /// (data dir defaults to ./.dev-data). Builds with the `dev` cargo feature only.
    #[arg(long)]
    dev: bool,
}

/// The answer to --dev of a build without the `dev` feature: the flag stays known so an
/// operator reads what to do instead of clap's "unexpected argument".
#[cfg(not(feature = "dev"))]
const NO_DEV_MODE: &str = "this build has no development mode (built without the `dev` cargo \
     feature, as production images are): point it at Dropbox, or at a dropbox-emulator with \
     DBXC_DROPBOX__API_URL, DBXC_DROPBOX__CONTENT_URL and DBXC_DROPBOX__OAUTH_URL; for --dev \
     build with `--features dev` (the default of `cargo run`)";

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Re-seal every stored secret under a new key, in one transaction.
    ///
    /// The current key comes from the usual configuration (DBXC_SECRETS__KEY or
    /// DBXC_SECRETS__KEY_FILE). Stop the server first (this refuses while a server runs on
    /// the data dir); afterwards start it with DBXC_SECRETS__KEY_FILE set to the new file
    /// (and drop the old key). Authorizations in progress are dropped.
    RotateKey {
        /// A file holding the new key (32 bytes, base64).
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
    /// Seal, under the current key and in one transaction, the secrets that a version
    /// before sealing stored in plain form. The server refuses to start while any are
    /// left. Stop the server first (this refuses while a server runs on the data dir).
    MigrateSecrets,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(not(feature = "dev"))]
    if cli.dev {
        eprintln!("dropbox-connector: {NO_DEV_MODE}");
        return ExitCode::from(2);
    }
    let overrides = Overrides {
        config_file: cli.config,
        listen: cli.listen,
        data_dir: cli.data_dir,
        dev: cli.dev,
    };
    let config = match Config::load(&overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dropbox-connector: {e:#}");
            return ExitCode::from(2);
        }
    };
    // A key that is configured but is not a key is refused before anything else, --dev
    // included (it only makes a key when none is configured).
    if let Err(e) = config.secrets_key() {
        eprintln!("dropbox-connector: {e:#}");
        return ExitCode::from(2);
    }
    if let Some(command) = cli.command {
        return admin(command, &config).await;
    }
    if let Err(e) = config.check_exposure(cli.dev) {
        eprintln!("dropbox-connector: {e:#}");
        return ExitCode::from(2);
    }
    if !cli.dev
        && let Err(e) = config.require_secrets_key()
    {
        eprintln!("dropbox-connector: {e:#}");
        return ExitCode::from(2);
    }
    // A callers or JWKS file that does not parse refuses the start (the server parses
    // them again when it starts serving, and then on every change).
    if let Err(e) = dropbox_connector_server::auth::Auth::load(&config.auth) {
        eprintln!("dropbox-connector: {e:#}");
        return ExitCode::from(2);
    }
    match run(config, cli.dev).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("dropbox-connector: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The store commands: one line on stdout saying what was done, or the error on stderr.
async fn admin(command: Command, config: &Config) -> ExitCode {
    let (name, done) = match command {
        Command::RotateKey { new_key_file } => (
            "rotate-key",
            rotate(config, &new_key_file).await.map(|n| {
                format!(
                    "re-sealed the secrets of {n} connection(s) under the key in {file}; start the server with DBXC_SECRETS__KEY_FILE={file} (and without the old key)",
                    file = new_key_file.display()
                )
            }),
        ),
        Command::MigrateSecrets => (
            "migrate-secrets",
            migrate(config).await.map(|n| {
                format!(
                    "sealed the secrets of {n} connection(s) that were stored in the legacy plain format"
                )
            }),
        ),
    };
    match done {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dropbox-connector {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn rotate(config: &Config, new_key_file: &std::path::Path) -> anyhow::Result<usize> {
    let old = config.require_secrets_key()?;
    let new = Config {
        secrets: dropbox_connector_server::config::SecretsConfig {
            key: None,
            key_file: Some(new_key_file.to_path_buf()),
        },
        ..config.clone()
    }
    .require_secrets_key()?;
    if old.key_id() == new.key_id() {
        anyhow::bail!("the new key is the current key (id {})", old.key_id());
    }
    let db = existing_store(config)?;
    Ok(dropbox_connector_server::store::rotate_key(&db, old, new).await?)
}

async fn migrate(config: &Config) -> anyhow::Result<usize> {
    let key = config.require_secrets_key()?;
    let db = existing_store(config)?;
    Ok(dropbox_connector_server::store::migrate_secrets(&db, key).await?)
}

fn existing_store(config: &Config) -> anyhow::Result<PathBuf> {
    let db = config.connections_db();
    if !db.exists() {
        anyhow::bail!("no connection store at {}", db.display());
    }
    Ok(db)
}

/// Logs what makes the store or its key readable by other local users.
fn warn_about_exposed_files(config: &Config) {
    if let Some(w) = files::open_data_dir_warning(&config.data_dir) {
        tracing::warn!("{w}");
    }
    if let Some(w) = config
        .secrets_key_file()
        .and_then(files::exposed_key_file_warning)
    {
        tracing::warn!("{w}");
    }
}

#[cfg_attr(
    not(feature = "dev"),
    expect(
        unused_mut,
        unused_variables,
        reason = "only --dev rewrites the config"
    )
)]
async fn run(mut config: Config, dev_mode: bool) -> anyhow::Result<()> {
    telemetry::init(&config.log)?;
    // Bad TLS files refuse the start before anything listens.
    dropbox_connector_server::transport::tls::check(&config.tls)?;
    // Held until the process ends: rotate-key, migrate-secrets and a second server on
    // this data dir refuse meanwhile.
    let _store_lock = StoreLock::acquire(&config.connections_db())?;
    warn_about_exposed_files(&config);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let health_listener = match config.health_listen {
        Some(health) => Some(tokio::net::TcpListener::bind(health).await?),
        None => None,
    };
    #[cfg(feature = "dev")]
    let emulator = if dev_mode {
        Some(dev::prepare(&mut config).await?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {address}")?;
    if let Some(health) = &health_listener {
        writeln!(out, "health listening on {}", health.local_addr()?)?;
    }
    #[cfg(feature = "dev")]
    if let Some(e) = &emulator {
        writeln!(out, "{}", dev::next_steps(address, e.base_url(), &config))?;
    }
    out.flush()?;
    drop(out);
    let result = serve_with_health(
        config,
        listener,
        health_listener,
        telemetry::shutdown_signal(),
    )
    .await;
    #[cfg(feature = "dev")]
    if let Some(e) = emulator {
        e.stop().await;
    }
    result
}
