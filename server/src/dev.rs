//! `--dev`: a Dropbox emulator in-process (files kept under the data dir so they survive a
//! restart), endpoints pointed at it, and a ready connection named `demo`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use dropbox_emulator::{Emulator, EmulatorOptions};

use crate::config::Config;
use crate::server::dropbox_target;
use crate::store::{ConnectionStore, NewConnection, Secrets, Settings, SqliteStore};
use crate::tasks::connections::Connections;

/// The emulator account's access token (it never expires in the emulator).
pub const DEV_TOKEN: &str = "dev-token-demo";
/// The connection `--dev` creates.
pub const DEMO_CONNECTION: &str = "demo";

/// The key file `--dev` makes in the data dir when no key is configured.
pub const DEV_KEY_FILE: &str = "secrets.key";

/// Without a configured key: uses (making it on first run, mode 0600) `secrets.key` in
/// the data dir, and says so on stderr.
pub fn ensure_dev_key(config: &mut Config) -> anyhow::Result<()> {
    if config.secrets_key()?.is_some() {
        return Ok(());
    }
    let file = config.data_dir.join(DEV_KEY_FILE);
    if !file.exists() {
        crate::store::files::create_private_dir(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        let (_, text) = crate::store::Sealer::generate();
        write_private(&file, format!("{text}\n").as_bytes())
            .with_context(|| format!("writing {}", file.display()))?;
        eprintln!(
            "dev mode: generated a secrets key in {} (it seals the stored tokens; keep it with the data dir)",
            file.display()
        );
    } else {
        eprintln!("dev mode: using the secrets key in {}", file.display());
    }
    config.secrets.key_file = Some(file);
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Starts the emulator, points `config` at it and makes sure `demo` exists (making a
/// secrets key in the data dir first when none is configured).
pub async fn prepare(config: &mut Config) -> anyhow::Result<Emulator> {
    ensure_dev_key(config)?;
    let dir = config.data_dir.join("emulator");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let options = EmulatorOptions {
        data_dir: Some(dir),
        tokens: vec![DEV_TOKEN.to_owned()],
        ..Default::default()
    };
    let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let emulator = Emulator::start(listen, options)
        .await
        .context("starting the Dropbox emulator")?;
    let base = emulator.base_url().to_owned();
    config.dropbox.api_url = base.clone();
    config.dropbox.content_url = base.clone();
    config.dropbox.oauth_url = base;
    config.dropbox.ca_file = None;
    ensure_demo_connection(config).await?;
    Ok(emulator)
}

/// Creates `demo` unless it exists (so restarts keep whatever the user changed).
async fn ensure_demo_connection(config: &Config) -> anyhow::Result<()> {
    let store = SqliteStore::open(&config.connections_db(), config.require_secrets_key()?).await?;
    let exists = store
        .get_by_name(DEMO_CONNECTION.to_owned())
        .await?
        .is_some();
    if !exists {
        let shared: Arc<dyn ConnectionStore> = Arc::new(store.clone());
        let connections = Connections::new(
            shared,
            dropbox_target(config)?,
            crate::server::oauth_options(config),
        );
        connections
            .create(NewConnection {
                display_name: DEMO_CONNECTION.to_owned(),
                group: String::new(),
                settings: Settings::default(),
                secrets: Secrets {
                    access_token: Some(DEV_TOKEN.to_owned()),
                    ..Default::default()
                },
            })
            .await
            .map_err(|e| anyhow::anyhow!("creating the demo connection: {e}"))?;
        tracing::info!("created connection {DEMO_CONNECTION:?}");
    }
    store.close().await;
    Ok(())
}

/// What to type next, printed after the `listening on` line.
pub fn next_steps(listen: SocketAddr, emulator_url: &str, config: &Config) -> String {
    format!(
        "dev mode: Dropbox emulator at {emulator_url}, data in {data}\n\
         try (in another terminal):\n\
         \x20 export DBXC_SERVER=http://{listen} DBXC_CONNECTION={DEMO_CONNECTION}\n\
         \x20 dbxc create-folder /reports\n\
         \x20 dbxc upload ./some-file.txt /reports\n\
         \x20 dbxc --connection {DEMO_CONNECTION} list / --recursive\n\
         stop with Ctrl-C",
        data = config.data_dir.display(),
    )
}
