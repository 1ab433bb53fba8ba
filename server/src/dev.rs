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

/// Starts the emulator, points `config` at it and makes sure `demo` exists.
pub async fn prepare(config: &mut Config) -> anyhow::Result<Emulator> {
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
    let store = SqliteStore::open(&config.connections_db()).await?;
    let exists = store
        .get_by_name(DEMO_CONNECTION.to_owned())
        .await?
        .is_some();
    if !exists {
        let shared: Arc<dyn ConnectionStore> = Arc::new(store.clone());
        let connections = Connections::new(shared, dropbox_target(config)?);
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
