//! Harness for the end-to-end tests: starts the real binaries (`dropbox-emulator`,
//! `dropbox-connector`, `dbxc`) as a user would, on ephemeral loopback ports, and stops
//! them when the handles drop (SIGTERM, clean exit asserted; see the test kit).
//!
//! The binaries come from the workspace's target directory, so build them first:
//! `cargo build --workspace --bins` (the test command in the README does). A binary older
//! than its sources is refused with that command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub use dropbox_connector_test_kit::{
    EmulatorHttp, Process, ascii_json, bin, bin_dir, bytes, free_port, random_chunk, wait_until,
    write_random_file,
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

/// Dropbox's content_hash: SHA-256 over the concatenated SHA-256 digests of 4 MiB blocks.
pub fn content_hash(data: &[u8]) -> String {
    let mut outer = Sha256::new();
    for block in data.chunks(4 * 1024 * 1024) {
        outer.update(Sha256::digest(block));
    }
    hex::encode(outer.finalize())
}

/// The content_hash of a file, read in blocks (never whole into memory).
pub fn file_content_hash(path: &Path) -> String {
    let mut file = std::fs::File::open(path).expect("open file");
    let mut outer = Sha256::new();
    let mut block = vec![0u8; 4 * 1024 * 1024];
    loop {
        let mut filled = 0;
        while filled < block.len() {
            let n = file.read(&mut block[filled..]).expect("read file");
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        outer.update(Sha256::digest(&block[..filled]));
        if filled < block.len() {
            break;
        }
    }
    hex::encode(outer.finalize())
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

/// A real proxy from a Debian package (tinyproxy or danted), on a free loopback port,
/// in the foreground, killed when dropped.
pub struct ProxyProcess {
    pub process: Process,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// The proxy's own log file.
    pub log_file: PathBuf,
}

/// The system user danted checks SOCKS5 user/password against (created on demand).
pub const SOCKS_USER: &str = "dbxc-socks-test";

impl ProxyProcess {
    /// tinyproxy: HTTP proxy with Basic auth `username:password`, LogLevel Info.
    pub fn tinyproxy(dir: &Path, username: &str, password: &str) -> ProxyProcess {
        let dir = private_dir(dir, "tinyproxy");
        let port = free_port();
        let log_file = dir.join("tinyproxy.log");
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "User nobody\nGroup nogroup\nPort {port}\nListen 127.0.0.1\nTimeout 60\n\
                 LogFile \"{}\"\nLogLevel Info\nMaxClients 20\nAllow 127.0.0.1\n\
                 BasicAuth {username} {password}\nDisableViaHeader Yes\n",
                log_file.display()
            ),
        )
        .unwrap();
        let mut command = Command::new("tinyproxy");
        command.arg("-d").arg("-c").arg(&conf);
        let process = Self::start(command, "tinyproxy", &dir, port);
        ProxyProcess {
            process,
            port,
            username: username.to_string(),
            password: password.to_string(),
            log_file,
        }
    }

    /// danted: SOCKS5 with the `username` method, checked against the system user
    /// [`SOCKS_USER`] (created with useradd, its password set with chpasswd: needs root).
    pub fn danted(dir: &Path, password: &str) -> ProxyProcess {
        let dir = private_dir(dir, "danted");
        let exists = Command::new("id")
            .arg(SOCKS_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !exists {
            let status = Command::new("useradd")
                .args([
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SOCKS_USER,
                ])
                .status()
                .expect("run useradd (the SOCKS5 test needs root)");
            assert!(status.success(), "useradd {SOCKS_USER}: {status}");
        }
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("run chpasswd (the SOCKS5 test needs root)");
        chpasswd
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{SOCKS_USER}:{password}\n").as_bytes())
            .unwrap();
        assert!(chpasswd.wait().unwrap().success(), "chpasswd {SOCKS_USER}");

        let port = free_port();
        let log_file = dir.join("danted.log");
        let conf = dir.join("danted.conf");
        std::fs::write(
            &conf,
            format!(
                "logoutput: {log}\n\
                 internal: 127.0.0.1 port = {port}\n\
                 external: 127.0.0.1\n\
                 clientmethod: none\n\
                 socksmethod: username\n\
                 user.privileged: root\n\
                 user.unprivileged: nobody\n\
                 client pass {{\n  from: 127.0.0.1/32 to: 0.0.0.0/0\n  log: connect disconnect error\n}}\n\
                 socks pass {{\n  from: 127.0.0.1/32 to: 0.0.0.0/0\n  command: connect\n  log: connect disconnect error\n}}\n",
                log = log_file.display()
            ),
        )
        .unwrap();
        let mut command = Command::new("danted");
        command.arg("-f").arg(&conf).arg("-N").arg("1");
        let process = Self::start(command, "danted", &dir, port);
        ProxyProcess {
            process,
            port,
            username: SOCKS_USER.to_string(),
            password: password.to_string(),
            log_file,
        }
    }

    fn start(command: Command, name: &str, dir: &Path, port: u16) -> Process {
        Process::start_until_port(command, name, dir, port)
    }

    /// The proxy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }
}

/// A directory the proxies (which drop privileges to `nobody`) can write their logs into.
fn private_dir(parent: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    // tempdir parents are 0700; the proxy's unprivileged user must reach its log.
    let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// Dropbox's content_hash computed as the bytes go by (4 MiB blocks), so large streams
/// are never held whole.
#[derive(Default)]
pub struct ContentHasher {
    outer: Sha256,
    block: Sha256,
    in_block: usize,
}

impl ContentHasher {
    const BLOCK: usize = 4 * 1024 * 1024;

    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (Self::BLOCK - self.in_block).min(data.len());
            self.block.update(&data[..take]);
            self.in_block += take;
            data = &data[take..];
            if self.in_block == Self::BLOCK {
                let block = std::mem::take(&mut self.block);
                self.outer.update(block.finalize());
                self.in_block = 0;
            }
        }
    }

    pub fn finish(mut self) -> String {
        if self.in_block > 0 {
            self.outer.update(self.block.finalize());
        }
        hex::encode(self.outer.finalize())
    }
}

/// gRPC access to a [`ServerProcess`] for tests that stream more than `dbxc` shows.
pub mod grpc {
    use dropbox_connector_proto::v1 as pb;
    use pb::cloud_task_service_client::CloudTaskServiceClient;
    use pb::connection_service_client::ConnectionServiceClient;
    use tonic::transport::Channel;

    /// Largest gRPC message either way (a 2 MiB chunk and its framing fit).
    const MAX_MESSAGE: usize = 16 * 1024 * 1024;

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

// --- Issue 14 (proxy kinds): a SOCKS server for SOCKS4 clients. ---

impl ProxyProcess {
    /// danted accepting SOCKS v4 without authentication (`socksmethod: none`): SOCKS4
    /// carries a user id but no password, so there is nothing to check.
    pub fn danted_socks4(dir: &Path) -> ProxyProcess {
        let dir = private_dir(dir, "danted-socks4");
        let port = free_port();
        let log_file = dir.join("danted.log");
        let conf = dir.join("danted.conf");
        // danted wants one keyword per line inside a rule.
        let rule = "  from: 127.0.0.1/32 to: 0.0.0.0/0\n  log: connect disconnect error\n";
        std::fs::write(
            &conf,
            format!(
                "logoutput: {log}\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
                 clientmethod: none\nsocksmethod: none\n\
                 user.privileged: root\nuser.unprivileged: nobody\n\
                 client pass {{\n{rule}}}\nsocks pass {{\n{rule}  command: connect\n}}\n",
                log = log_file.display()
            ),
        )
        .unwrap();
        let mut command = Command::new("danted");
        command.arg("-f").arg(&conf).arg("-N").arg("1");
        let process = Self::start(command, "danted", &dir, port);
        ProxyProcess {
            process,
            port,
            username: String::new(),
            password: String::new(),
            log_file,
        }
    }
}
