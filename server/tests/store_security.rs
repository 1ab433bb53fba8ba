//! The store and its key, as an operator meets them: private files, keys that are keys,
//! plaintext read only by the migration command, and one process at a time on a store.
//! Every test runs the real `dropbox-connector` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use dropbox_connector_server::store::{
    ConnectionStore, NewConnection, Sealer, Secrets, Settings, SqliteStore,
};

const MAKE_A_KEY: &str = "head -c 32 /dev/urandom | base64";
const DEADLINE: Duration = Duration::from_secs(60);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `dropbox-connector` with only the given configuration (nothing from the test's own
/// environment), listening on a free loopback port.
fn command(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dropbox-connector"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("DBXC_")) {
        c.env_remove(key);
    }
    c.args(args)
        .env("DBXC_LISTEN", "127.0.0.1:0")
        .env("DBXC_DATA_DIR", data_dir)
        .env("DBXC_DROPBOX__API_URL", "http://127.0.0.1:9")
        .env("DBXC_DROPBOX__CONTENT_URL", "http://127.0.0.1:9")
        .env("DBXC_DROPBOX__OAUTH_URL", "http://127.0.0.1:9")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    c
}

/// A server process, killed when dropped.
struct Running {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Running {
    /// Starts the server and waits for its `listening on` line.
    fn start(mut command: Command, log: PathBuf) -> Running {
        let stderr = std::fs::File::create(&log).unwrap();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.trim().strip_prefix("listening on ") {
                    let _ = tx.send(a.to_owned());
                }
            }
        });
        let address = rx.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!(
                "no `listening on` line:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Running {
            child,
            address,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until health says SERVING: the store is open.
    async fn wait_serving(&self) {
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let end = Instant::now() + DEADLINE;
        let url = format!("http://{}", self.address);
        while Instant::now() < end {
            let channel = tonic::transport::Endpoint::from_shared(url.clone())
                .unwrap()
                .connect()
                .await;
            if let Ok(channel) = channel {
                let answer = HealthClient::new(channel)
                    .check(HealthCheckRequest::default())
                    .await;
                if answer.is_ok_and(|a| a.into_inner().status == ServingStatus::Serving as i32) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server never reported SERVING:\n{}", self.log());
    }

    /// SIGTERM, and a clean exit. Async so that the test's own connections see the
    /// server's GOAWAY meanwhile (a blocked runtime would keep them open for the whole
    /// shutdown grace period).
    async fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = wait_exit(&mut self.child).await;
        assert!(
            status.success(),
            "graceful exit, got {status}:\n{}",
            self.log()
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_exit(child: &mut Child) -> ExitStatus {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the process was still running after {DEADLINE:?}");
}

/// Runs a command that must end by itself; its exit status, stdout and stderr.
async fn run_to_exit(mut command: Command) -> (ExitStatus, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = command
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child).await;
    (
        status,
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap(),
    )
}

#[tokio::test]
async fn a_new_data_dir_and_the_store_files_in_it_are_private() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("new/data");
    let key = common::new_key();
    let server = Running::start(
        command(&data, &[("DBXC_SECRETS__KEY", &key)], &[]),
        root.path().join("server.log"),
    );
    server.wait_serving().await;
    assert_eq!(mode(&data), 0o700, "data dir");
    for file in [
        "connections.db",
        "connections.db-wal",
        "connections.db-shm",
        "connections.db.lock",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    server.stop().await;
}

#[tokio::test]
async fn dev_mode_makes_its_data_dir_and_key_file_private() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("dev-data");
    let server = Running::start(
        command(&data, &[], &["--dev", "--data-dir", data.to_str().unwrap()]),
        root.path().join("server.log"),
    );
    server.wait_serving().await;
    assert_eq!(mode(&data), 0o700, "data dir");
    for file in ["secrets.key", "connections.db", "connections.db-wal"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    server.stop().await;
}

#[tokio::test]
async fn loose_store_files_are_tightened_and_an_open_data_dir_is_named() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o755);
    // A store left world-readable (by an older version, or a restore from backup).
    let key = common::new_key();
    let store = SqliteStore::open(
        &data.join("connections.db"),
        Sealer::from_base64(&key).unwrap(),
    )
    .await
    .unwrap();
    store.close().await;
    for file in ["connections.db", "connections.db-wal", "connections.db-shm"] {
        if data.join(file).exists() {
            chmod(&data.join(file), 0o644);
        }
    }
    let server = Running::start(
        command(&data, &[("DBXC_SECRETS__KEY", &key)], &[]),
        root.path().join("server.log"),
    );
    server.wait_serving().await;
    for file in ["connections.db", "connections.db-wal", "connections.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let log = server.log();
    assert!(
        log.contains(&format!("chmod 700 {}", data.display())),
        "the open data dir is named with the fix:\n{log}"
    );
    server.stop().await;
}

/// What is wrong, the configuration, the extra arguments.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>);

#[tokio::test]
async fn keys_that_are_not_base64_of_32_bytes_are_refused_at_start() {
    let root = tempfile::tempdir().unwrap();
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
    let passphrase_file = root.path().join("passphrase.key");
    // 32 characters: as raw bytes it would make a key of the right length.
    std::fs::write(&passphrase_file, "correct horse battery staple 123").unwrap();
    let raw_file = root.path().join("raw.key");
    std::fs::write(&raw_file, [0xA5u8; 32]).unwrap();
    let (sixteen, forty_eight) = (b64(16), b64(48));
    let cases: Vec<Case> = vec![
        (
            "a passphrase",
            vec![("DBXC_SECRETS__KEY", "correct horse battery staple")],
            vec![],
        ),
        ("16 bytes", vec![("DBXC_SECRETS__KEY", &sixteen)], vec![]),
        (
            "48 bytes",
            vec![("DBXC_SECRETS__KEY", &forty_eight)],
            vec![],
        ),
        (
            "not base64",
            vec![("DBXC_SECRETS__KEY", "bm90IGJhc2U2NC*=")],
            vec![],
        ),
        (
            "a passphrase file",
            vec![("DBXC_SECRETS__KEY_FILE", passphrase_file.to_str().unwrap())],
            vec![],
        ),
        (
            "a file of 32 raw bytes",
            vec![("DBXC_SECRETS__KEY_FILE", raw_file.to_str().unwrap())],
            vec![],
        ),
        (
            "a passphrase with --dev",
            vec![("DBXC_SECRETS__KEY", "correct horse battery staple")],
            vec!["--dev"],
        ),
    ];
    for (what, env, args) in cases {
        let data = root.path().join(what.replace(' ', "-"));
        let mut args = args;
        let data_arg = data.to_str().unwrap().to_owned();
        if args.contains(&"--dev") {
            args.extend(["--data-dir", &data_arg]);
        }
        let (status, out, err) = run_to_exit(command(&data, &env, &args)).await;
        assert_eq!(status.code(), Some(2), "{what}: {out}{err}");
        assert!(
            err.contains(MAKE_A_KEY),
            "{what}: says how to make a key: {err}"
        );
        assert!(!out.contains("listening on"), "{what}: {out}");
        assert!(
            !data.join("connections.db").exists(),
            "{what}: no store made"
        );
    }
}

#[tokio::test]
async fn a_key_file_readable_by_others_is_warned_about_at_start() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let key_file = root.path().join("secrets.key");
    std::fs::write(&key_file, format!("{}\n", common::new_key())).unwrap();
    chmod(&key_file, 0o644);
    let env = [("DBXC_SECRETS__KEY_FILE", key_file.to_str().unwrap())];
    let server = Running::start(command(&data, &env, &[]), root.path().join("a.log"));
    server.wait_serving().await;
    let log = server.log();
    assert!(
        log.contains(&format!("chmod 600 {}", key_file.display())),
        "names the file and the fix:\n{log}"
    );
    server.stop().await;

    chmod(&key_file, 0o600);
    let server = Running::start(command(&data, &env, &[]), root.path().join("b.log"));
    server.wait_serving().await;
    assert!(!server.log().contains("chmod 600"), "{}", server.log());
    server.stop().await;
}

/// A store as a version before sealing left it: one connection whose secrets are plain
/// JSON (format tag 1). Returns the token in it.
async fn store_with_plaintext_secrets(db: &Path, key: &str) -> String {
    let token = "legacy-access-token-5b1e";
    let store = SqliteStore::open(db, Sealer::from_base64(key).unwrap())
        .await
        .unwrap();
    let secrets = Secrets {
        access_token: Some(token.into()),
        ..Default::default()
    };
    let made = store
        .create(NewConnection {
            display_name: "old".into(),
            group: String::new(),
            settings: Settings::default(),
            secrets: secrets.clone(),
        })
        .await
        .unwrap();
    store.close().await;
    let mut plain = vec![1u8];
    plain.extend(serde_json::to_vec(&secrets).unwrap());
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE connections SET secrets = ?2 WHERE id = ?1")
        .bind(&made.id)
        .bind(&plain)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    token.into()
}

async fn stored_secrets(db: &Path) -> Vec<u8> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let blob: Vec<u8> = sqlx::query_scalar("SELECT secrets FROM connections")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    blob
}

#[tokio::test]
async fn plaintext_secrets_are_read_only_by_migrate_secrets() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let db = data.join("connections.db");
    let key = common::new_key();
    let token = store_with_plaintext_secrets(&db, &key).await;
    let env = [("DBXC_SECRETS__KEY", key.as_str())];

    // A normal start refuses, naming the command, and leaves the row as it was.
    let (status, _, err) = run_to_exit(command(&data, &env, &[])).await;
    assert!(!status.success(), "{err}");
    assert!(err.contains("dropbox-connector migrate-secrets"), "{err}");
    assert!(!err.contains(&token), "{err}");
    assert_eq!(
        stored_secrets(&db).await[0],
        1,
        "not sealed behind the operator's back"
    );

    let (status, out, err) = run_to_exit(command(&data, &env, &["migrate-secrets"])).await;
    assert!(status.success(), "{out}{err}");
    assert!(out.contains("1 connection"), "reports how many: {out}");
    let sealed = stored_secrets(&db).await;
    assert_eq!(sealed[0], 2);
    assert!(!String::from_utf8_lossy(&sealed).contains(&token));

    let server = Running::start(command(&data, &env, &[]), root.path().join("server.log"));
    server.wait_serving().await;
    server.stop().await;
    let store = SqliteStore::open(&db, Sealer::from_base64(&key).unwrap())
        .await
        .unwrap();
    let old = store.get_by_name("old".into()).await.unwrap().unwrap();
    assert_eq!(old.secrets.access_token.as_deref(), Some(token.as_str()));
    store.close().await;
}

#[tokio::test]
async fn rotate_key_and_migrate_secrets_refuse_while_a_server_holds_the_store() {
    let mut env = common::Env::start().await;
    let data = env.data_dir().to_path_buf();
    let db = data.join("connections.db");
    let old_key = env.config_env["DBXC_SECRETS__KEY"].clone();
    let key_file = data.join("new.key");
    std::fs::write(&key_file, format!("{}\n", common::new_key())).unwrap();
    let key_env = [("DBXC_SECRETS__KEY", old_key.as_str())];
    let rotate = ["rotate-key", "--new-key-file", key_file.to_str().unwrap()];

    for args in [&rotate[..], &["migrate-secrets"]] {
        let (status, out, err) = run_to_exit(command(&data, &key_env, args)).await;
        assert!(!status.success(), "{args:?}: {out}{err}");
        assert!(
            err.contains("a server is running on this data dir") && err.contains("stop it first"),
            "{args:?}: {err}"
        );
    }
    // A second server on the same data dir refuses too, before listening.
    let (status, out, err) = run_to_exit(command(&data, &key_env, &[])).await;
    assert!(
        !status.success() && !out.contains("listening on"),
        "{out}{err}"
    );
    assert!(err.contains("stop it first"), "{err}");

    env.stop_server().await;
    // Nothing changed: the old key still opens every secret.
    let store = SqliteStore::open(&db, Sealer::from_base64(&old_key).unwrap())
        .await
        .unwrap();
    let conn = store
        .get_by_name(common::CONN.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conn.secrets.access_token.as_deref(), Some(common::TOKEN));
    store.close().await;

    let (status, out, err) = run_to_exit(command(&data, &key_env, &rotate)).await;
    assert!(
        status.success(),
        "after SIGTERM rotate-key works: {out}{err}"
    );
    assert!(out.contains("1 connection"), "{out}");
}
