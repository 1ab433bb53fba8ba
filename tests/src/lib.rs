//! Harness for the end-to-end tests: starts the real binaries (`dropbox-emulator`,
//! `dropbox-connector`, `dbxc`) as a user would, on ephemeral loopback ports, and stops
//! them when the handles drop (SIGTERM, clean exit asserted; see the test kit).
//!
//! The binaries come from the workspace's target directory, so build them first:
//! `cargo build --workspace --bins` (the test command in the README does). A binary older
//! than its sources is refused with that command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub use dropbox_connector_test_kit::outcome::{assert_all_uploaded, upload_results};
pub use dropbox_connector_test_kit::{
    EmulatorHttp, Process, ProxyProcess, SOCKS_USER, ascii_json, bin, bin_dir, bytes, free_port,
    random_chunk, wait_until, write_random_file,
};

pub mod tls;

/// A running `dropbox-emulator` with one personal account.
pub struct EmulatorProcess {
    pub process: Process,
    pub base_url: String,
    pub token: String,
}

impl EmulatorProcess {
    /// Starts the emulator binary in memory with one never-expiring token.
    pub fn start(log_dir: &Path, extra_args: &[&str]) -> EmulatorProcess {
        let token = format!("e2e-token-{}", std::process::id());
        let mut command = Command::new(bin("dropbox-emulator"));
        command
            .args(["--listen", "127.0.0.1:0", "--token", &token])
            .args(extra_args);
        let (process, base_url) = Process::start_listening(command, "dropbox-emulator", log_dir);
        EmulatorProcess {
            process,
            base_url,
            token,
        }
    }

    /// The emulator over raw HTTP, as any client would reach it.
    pub fn http(&self) -> EmulatorHttp {
        EmulatorHttp::new(&self.base_url, &self.token)
    }

    /// GET, POST or DELETE a control-API path (`/__emulator/...`) and parse the JSON answer.
    pub fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        self.http().control(method, path, body)
    }

    /// Calls a Dropbox RPC route (`files/get_metadata`, ...) with the account's token.
    /// Returns the HTTP status and the parsed JSON body (or the text as a JSON string).
    pub fn rpc(&self, route: &str, arg: serde_json::Value) -> (u16, serde_json::Value) {
        self.http().rpc(route, arg)
    }

    /// Downloads a file's bytes straight from the emulator (bypassing the service).
    pub fn download(&self, path: &str) -> Option<Vec<u8>> {
        self.http().download(path)
    }

    /// Metadata of a path as the emulator has it, or None when it does not exist.
    pub fn metadata(&self, path: &str) -> Option<serde_json::Value> {
        self.http().metadata(path)
    }
}

/// A running `dropbox-connector` pointed at an emulator.
pub struct ServerProcess {
    pub process: Process,
    /// `http://127.0.0.1:PORT`, what `dbxc --server` takes.
    pub url: String,
    pub data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts the server with its Dropbox endpoints at `dropbox_base_url`.
    pub fn start(log_dir: &Path, data_dir: &Path, dropbox_base_url: &str) -> ServerProcess {
        Self::start_with_env(log_dir, data_dir, dropbox_base_url, &[])
    }

    /// Like [`ServerProcess::start`], with more environment variables (e.g.
    /// `DBXC_DROPBOX__CA_FILE` for an emulator started with `--tls --ca-out FILE`).
    pub fn start_with_env(
        log_dir: &Path,
        data_dir: &Path,
        dropbox_base_url: &str,
        envs: &[(&str, &str)],
    ) -> ServerProcess {
        let mut command = Command::new(bin("dropbox-connector"));
        command
            .envs(envs.iter().copied())
            .env("DBXC_LISTEN", "127.0.0.1:0")
            .env("DBXC_DATA_DIR", data_dir)
            .env("DBXC_DROPBOX__API_URL", dropbox_base_url)
            .env("DBXC_DROPBOX__CONTENT_URL", dropbox_base_url)
            .env("DBXC_DROPBOX__OAUTH_URL", dropbox_base_url)
            .env("DBXC_LOG__LEVEL", "info");
        command.env(
            "DBXC_SECRETS__KEY",
            dropbox_connector_test_kit::secrets_key(),
        );
        Self::start_command(command, log_dir, data_dir)
    }

    /// Starts `dropbox-connector --dev` with its data in `data_dir`.
    pub fn start_dev(log_dir: &Path, data_dir: &Path) -> ServerProcess {
        let mut command = Command::new(bin("dropbox-connector"));
        command
            .arg("--dev")
            .arg("--data-dir")
            .arg(data_dir)
            .env("DBXC_LISTEN", "127.0.0.1:0");
        Self::start_command(command, log_dir, data_dir)
    }

    fn start_command(command: Command, log_dir: &Path, data_dir: &Path) -> ServerProcess {
        let (process, address) = Process::start_listening(command, "dropbox-connector", log_dir);
        ServerProcess {
            process,
            url: format!("http://{address}"),
            data_dir: data_dir.to_path_buf(),
        }
    }
}

/// Starts the server (data under `work/server-data`) against `emulator`, and creates the
/// connection `name` with the emulator account's token, as a user would with `dbxc`.
pub fn server_with_connection(
    work: &Path,
    emulator: &EmulatorProcess,
    name: &str,
) -> ServerProcess {
    let server = ServerProcess::start(work, &work.join("server-data"), &emulator.base_url);
    ok(dbxc_with_stdin(
        &server.url,
        &["connection", "create", name, "--access-token-file", "-"],
        Some(emulator.token.as_bytes()),
    ));
    server
}

/// Runs `dbxc` against `server` and returns its output.
pub fn dbxc(server: &str, args: &[&str]) -> Output {
    dbxc_with_stdin(server, args, None)
}

/// Runs `dbxc` with `stdin` piped in.
pub fn dbxc_with_stdin(server: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    dbxc_with_env(server, args, &[], stdin)
}

/// Fails with dbxc's output unless it exited 0; returns stdout.
pub fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "dbxc failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

pub use dropbox_content_hash::{ContentHasher, content_hash};

/// The content_hash of a file, read in blocks (never whole into memory).
pub fn file_content_hash(path: &Path) -> String {
    dropbox_content_hash::of_file(path).expect("read file").0
}

/// Runs `dbxc` with extra environment variables (and optional stdin).
pub fn dbxc_with_env(
    server: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Output {
    let mut command = Command::new(bin("dbxc"));
    command
        .env("DBXC_SERVER", server)
        .env_remove("DBXC_CONNECTION")
        .envs(envs.iter().copied())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start dbxc");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).expect("write stdin");
    }
    child.wait_with_output().expect("wait for dbxc")
}

/// The repository's root directory (for files such as `tests/browser/click_allow.py`).
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// gRPC access to a [`ServerProcess`] for tests that stream more than `dbxc` shows.
pub mod grpc {
    use dropbox_connector_proto::v1 as pb;
    use pb::cloud_task_service_client::CloudTaskServiceClient;
    use pb::connection_service_client::ConnectionServiceClient;
    use tonic::transport::Channel;

    /// Largest gRPC message either way (a 2 MiB chunk and its framing fit).
    const MAX_MESSAGE: usize = dropbox_connector_proto::MAX_MESSAGE_BYTES;

    pub async fn channel(server_url: &str) -> Channel {
        tonic::transport::Endpoint::from_shared(server_url.to_owned())
            .unwrap()
            .connect_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await
            .unwrap()
    }

    pub fn cloud(channel: &Channel) -> CloudTaskServiceClient<Channel> {
        CloudTaskServiceClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }

    /// Creates a connection and returns its resource name. With `app` (key, secret) and a
    /// refresh token, the server can refresh an expired access token by itself.
    pub async fn create_connection(
        channel: &Channel,
        display_name: &str,
        access_token: &str,
        refresh_token: &str,
        app: Option<(&str, &str)>,
    ) -> String {
        let connection = pb::Connection {
            display_name: display_name.into(),
            app: app.map(|(key, secret)| pb::AppSettings {
                app_key: key.into(),
                app_secret: secret.into(),
                redirect_uri: String::new(),
            }),
            credentials: Some(pb::Credentials {
                access_token: access_token.into(),
                refresh_token: refresh_token.into(),
            }),
            ..Default::default()
        };
        ConnectionServiceClient::new(channel.clone())
            .create_connection(pb::CreateConnectionRequest {
                connection: Some(connection),
            })
            .await
            .unwrap()
            .into_inner()
            .connection
            .unwrap()
            .name
    }

    pub fn message(m: pb::upload_files_request::Message) -> pb::UploadFilesRequest {
        pb::UploadFilesRequest { message: Some(m) }
    }

    /// The UploadSpec of an upload into `folder` with the default overwrite policy.
    pub fn spec(connection: &str, folder: &str) -> pb::UploadFilesRequest {
        message(pb::upload_files_request::Message::Spec(pb::UploadSpec {
            connection: connection.into(),
            destination_folder: folder.into(),
            ..Default::default()
        }))
    }
}

/// Starts `dbxc` against `server` without waiting for it (to interrupt it: `Child::kill`
/// sends SIGKILL). Its stdout and stderr are piped.
pub fn dbxc_spawn(server: &str, args: &[&str]) -> Child {
    Command::new(bin("dbxc"))
        .env("DBXC_SERVER", server)
        .env_remove("DBXC_CONNECTION")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dbxc")
}
