//! `--dev` set-up: the emulator keeps its files under the data dir, and `demo` is created
//! once, across restarts.

#![cfg(feature = "dev")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use dropbox_connector_server::config::{Config, Overrides};
use dropbox_connector_server::dev::{DEMO_CONNECTION, DEV_TOKEN, prepare};
use dropbox_connector_server::store::{ConnectionStore, SqliteStore};
use dropbox_connector_test_kit::EmulatorHttp;

/// The dev emulator over raw HTTP with the dev token (off the runtime: it blocks).
async fn on_emulator<T: Send + 'static>(
    base: &str,
    call: impl FnOnce(&EmulatorHttp) -> T + Send + 'static,
) -> T {
    let emu = EmulatorHttp::new(base, DEV_TOKEN);
    tokio::task::spawn_blocking(move || call(&emu))
        .await
        .unwrap()
}

#[tokio::test]
async fn dev_prepare_is_idempotent_and_files_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        dev: true,
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let mut config = Config::load_from(&overrides, Some(Default::default())).unwrap();
    let emulator = prepare(&mut config).await.unwrap();
    assert_eq!(config.dropbox.api_url, emulator.base_url());
    let (status, body) = on_emulator(emulator.base_url(), |e| {
        e.upload("/kept.txt", b"kept".to_vec())
    })
    .await;
    assert_eq!(status, 200, "{body}");
    emulator.stop().await;

    let mut config = Config::load_from(&overrides, Some(Default::default())).unwrap();
    let emulator = prepare(&mut config).await.unwrap();
    let kept = on_emulator(emulator.base_url(), |e| e.download("/kept.txt")).await;
    assert_eq!(kept.as_deref(), Some(&b"kept"[..]));
    // --dev made a key file in the data dir (mode 0600) and uses it on the next start.
    let key_file = dir.path().join(dropbox_connector_server::dev::DEV_KEY_FILE);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(config.secrets.key_file.as_deref(), Some(key_file.as_path()));
    let store = SqliteStore::open(
        &config.connections_db(),
        config.require_secrets_key().unwrap(),
    )
    .await
    .unwrap();
    let page = store.list(None, None, 10).await.unwrap();
    assert_eq!(page.connections.len(), 1);
    assert_eq!(page.connections[0].display_name, DEMO_CONNECTION);
    emulator.stop().await;
}
