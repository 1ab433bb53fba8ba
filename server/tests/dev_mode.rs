//! `--dev` set-up: the emulator keeps its files under the data dir, and `demo` is created
//! once, across restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use dropbox_client::{Credentials, DropboxClient, Endpoints, TransportConfig};
use dropbox_connector_server::config::{Config, Overrides};
use dropbox_connector_server::dev::{DEMO_CONNECTION, DEV_TOKEN, prepare};
use dropbox_connector_server::store::{ConnectionStore, SqliteStore};

fn client(base: &str) -> DropboxClient {
    let transport = TransportConfig {
        endpoints: Endpoints::single(&url::Url::parse(base).unwrap()),
        ..Default::default()
    };
    let creds = Credentials {
        access_token: Some(DEV_TOKEN.into()),
        ..Default::default()
    };
    DropboxClient::new(&transport, creds, Default::default(), None).unwrap()
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
    let commit = dropbox_client::CommitInfo::new("/kept.txt");
    client(emulator.base_url())
        .upload(&commit, bytes::Bytes::from_static(b"kept"))
        .await
        .unwrap();
    emulator.stop().await;

    let mut config = Config::load_from(&overrides, Some(Default::default())).unwrap();
    let emulator = prepare(&mut config).await.unwrap();
    let meta = client(emulator.base_url())
        .get_metadata("/kept.txt")
        .await
        .unwrap();
    assert_eq!(meta.as_file().unwrap().size, 4);
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
