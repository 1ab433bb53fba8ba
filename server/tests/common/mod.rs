//! Harness: the real `dropbox-connector` binary started as a process on 127.0.0.1:0 (as a
//! user or an operator would), pointed at an in-process emulator, a connection named
//! `test`, the generated tonic clients, and reads of the emulator's state over raw HTTP
//! (never through the server's own Dropbox client). Process handling, test data and the
//! emulator reads come from the shared test kit.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)] // test helpers

pub mod tls;

use std::collections::HashMap;
use std::time::Duration;

use dropbox_connector_proto::v1 as pb;
use dropbox_connector_test_kit::{EmulatorHttp, Process};
use dropbox_emulator::{Emulator, EmulatorOptions};
use pb::cloud_task_service_client::CloudTaskServiceClient;
use pb::connection_service_client::ConnectionServiceClient;
use pb::upload_files_request::Message as Up;
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub use dropbox_connector_test_kit::emulator::{Metadata, RemoteFile};
pub use dropbox_connector_test_kit::outcome::upload_results;
pub use dropbox_connector_test_kit::{bytes, random_chunk, wait_until};

pub const TOKEN: &str = "test-token";
pub const CONN: &str = "test";
/// Twice the contract's message cap, so tests can send what a hostile client would.
const MAX: usize = 2 * dropbox_connector_proto::MAX_MESSAGE_BYTES;

pub struct Env {
    pub emulator: Emulator,
    pub channel: Channel,
    pub address: std::net::SocketAddr,
    /// The emulator over raw HTTP with the account's token, for checks that must not
    /// go through the code under test (blocking: see [`Env::on_emulator`]).
    pub emu: EmulatorHttp,
    /// The server's configuration (as environment variables), secrets key included.
    pub config_env: HashMap<String, String>,
    server: Option<Process>,
    /// How clients reach the server over TLS (`None`: plain HTTP/2).
    client_tls: Option<tonic::transport::ClientTlsConfig>,
    /// Where the server process's stderr (its log) goes, across restarts.
    log_path: std::path::PathBuf,
    dir: tempfile::TempDir,
}

/// What an [`Env`] starts with, beyond the defaults.
#[derive(Default)]
pub struct Options {
    /// Emulator OAuth apps.
    pub apps: Vec<dropbox_emulator::AppRegistration>,
    /// An emulator Business team with this team token.
    pub team_token: Option<String>,
    /// More server configuration (`DBXC_*`).
    pub env: Vec<(String, String)>,
    /// Connect over TLS with this (the server then needs `DBXC_TLS__*` in `env`).
    pub client_tls: Option<tonic::transport::ClientTlsConfig>,
    /// The bearer token the kit's own set-up calls send (with a callers file).
    pub admin_token: Option<String>,
    /// The emulator serves HTTPS with a self-signed certificate that the server trusts
    /// through `DBXC_DROPBOX__CA_FILE`.
    pub emulator_tls: bool,
}

/// A connection named `display_name` in `group` that uses the emulator account's token.
pub fn token_connection(display_name: &str, group: &str) -> pb::Connection {
    pb::Connection {
        display_name: display_name.into(),
        group: group.into(),
        credentials: Some(pb::Credentials {
            access_token: TOKEN.into(),
            refresh_token: String::new(),
        }),
        ..Default::default()
    }
}

/// `msg` as a request that carries `authorization: Bearer <token>` when a token is given.
pub fn authed<T>(token: Option<&str>, msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    req
}

/// A fresh random secrets key, base64.
pub fn new_key() -> String {
    dropbox_connector_test_kit::secrets_key()
}

/// Starts the `dropbox-connector` binary on 127.0.0.1:0 with `env` as its configuration
/// and waits for its `listening on` line; its stderr is appended to `log_path`.
async fn start_server(
    data_dir: &std::path::Path,
    env: HashMap<String, String>,
    log_path: &std::path::Path,
    client_tls: Option<&tonic::transport::ClientTlsConfig>,
) -> (Channel, std::net::SocketAddr, Process) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dropbox-connector"));
    // Only this test's configuration: nothing from the environment the tests run in.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("DBXC_")) {
        command.env_remove(key);
    }
    command
        .envs(&env)
        .env("DBXC_LISTEN", "127.0.0.1:0")
        .env("DBXC_DATA_DIR", data_dir);
    let log_path = log_path.to_path_buf();
    // The kit blocks while it waits; the emulator shares this runtime.
    let (process, address) = tokio::task::spawn_blocking(move || {
        let (process, address) =
            Process::start_listening_appending(command, "dropbox-connector", &log_path);
        // Stopped by `stop_server` off the runtime; a drop (a failing test) kills it.
        (process.kill_on_drop(), address)
    })
    .await
    .unwrap();
    let address: std::net::SocketAddr = address.parse().unwrap();
    let channel = connect(address, client_tls).await;
    (channel, address, process)
}

/// A gRPC channel to the server at `address`, over TLS when `client_tls` is given.
pub async fn connect(
    address: std::net::SocketAddr,
    client_tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Channel {
    let scheme = if client_tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut endpoint = tonic::transport::Endpoint::from_shared(format!("{scheme}://{address}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(10));
    if let Some(tls) = client_tls {
        endpoint = endpoint.tls_config(tls.clone()).unwrap();
    }
    endpoint.connect().await.unwrap()
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let emulator = Emulator::start(
            "127.0.0.1:0".parse().unwrap(),
            EmulatorOptions {
                tokens: vec![TOKEN.into()],
                apps: options.apps,
                team_token: options.team_token,
                tls: options.emulator_tls,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let base = emulator.base_url().to_owned();
        let mut tls_env = Vec::new();
        if let Some(pem) = emulator.ca_pem() {
            let ca_file = dir.path().join("emulator-ca.pem");
            std::fs::write(&ca_file, pem).unwrap();
            tls_env.push((
                "DBXC_DROPBOX__CA_FILE".to_owned(),
                ca_file.display().to_string(),
            ));
        }
        let key = new_key();
        let mut env: HashMap<String, String> = [
            ("DBXC_DROPBOX__API_URL", base.as_str()),
            ("DBXC_DROPBOX__CONTENT_URL", base.as_str()),
            ("DBXC_DROPBOX__OAUTH_URL", base.as_str()),
            ("DBXC_LOG__LEVEL", "warn"),
            ("DBXC_SECRETS__KEY", key.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        env.extend(tls_env);
        env.extend(options.env);
        let log_path = dir.path().join("server.log");
        let (channel, address, server) = start_server(
            dir.path(),
            env.clone(),
            &log_path,
            options.client_tls.as_ref(),
        )
        .await;
        let emu = EmulatorHttp::new(&base, TOKEN).with_ca(emulator.ca_pem());
        let env = Env {
            emulator,
            channel,
            address,
            emu,
            config_env: env,
            server: Some(server),
            client_tls: options.client_tls,
            log_path,
            dir,
        };
        env.conns()
            .create_connection(authed(
                options.admin_token.as_deref(),
                pb::CreateConnectionRequest {
                    connection: Some(token_connection(CONN, "")),
                },
            ))
            .await
            .unwrap();
        env
    }

    /// Creates `c` (no caller identity) and returns it as the server stored it.
    pub async fn create_connection(&self, c: pb::Connection) -> pb::Connection {
        self.conns()
            .create_connection(pb::CreateConnectionRequest {
                connection: Some(c),
            })
            .await
            .unwrap()
            .into_inner()
            .connection
            .unwrap()
    }

    pub fn cloud(&self) -> CloudTaskServiceClient<Channel> {
        CloudTaskServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX)
            .max_encoding_message_size(MAX)
    }

    pub fn conns(&self) -> ConnectionServiceClient<Channel> {
        ConnectionServiceClient::new(self.channel.clone())
    }

    /// Stops the server (graceful) and waits for it.
    pub async fn stop(mut self) {
        self.stop_server().await;
    }

    /// Stops the server with SIGTERM (graceful), checks it exits cleanly, and keeps the
    /// emulator and data dir.
    pub async fn stop_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            // Off the runtime: the in-process emulator must keep answering meanwhile.
            tokio::task::spawn_blocking(move || server.stop())
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        }
    }

    /// Kills the server with SIGKILL (a crash: no grace, no cleanup) and waits for it;
    /// the emulator and the data dir stay.
    pub async fn kill_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            tokio::task::spawn_blocking(move || server.kill())
                .await
                .unwrap();
        }
    }

    /// The server process's id (e.g. to read its memory use in /proc).
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Process::pid)
    }

    /// Everything the server process has logged (stderr) so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The data dir (connections.db lives here).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Stops the server and starts it again on the same data dir with `changes` applied
    /// to its configuration.
    pub async fn restart_server(&mut self, changes: &[(&str, &str)]) {
        self.stop_server().await;
        for (k, v) in changes {
            self.config_env.insert((*k).to_owned(), (*v).to_owned());
        }
        let (channel, address, server) = start_server(
            self.dir.path(),
            self.config_env.clone(),
            &self.log_path,
            self.client_tls.as_ref(),
        )
        .await;
        self.channel = channel;
        self.address = address;
        self.server = Some(server);
    }

    /// Runs `read` (blocking raw HTTP to the emulator) off the runtime.
    pub async fn on_emulator<T: Send + 'static>(
        &self,
        read: impl FnOnce(&EmulatorHttp) -> T + Send + 'static,
    ) -> T {
        let emu = self.emu.clone();
        tokio::task::spawn_blocking(move || read(&emu))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// POSTs JSON to the emulator's control API and returns the JSON answer.
    pub async fn control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let path = path.to_owned();
        self.on_emulator(move |e| e.control("POST", &path, Some(body)))
            .await
    }

    /// GETs the emulator's control API.
    pub async fn control_get(&self, path: &str) -> serde_json::Value {
        let path = path.to_owned();
        self.on_emulator(move |e| e.control("GET", &path, None))
            .await
    }

    /// What the emulator has at `path`, if anything.
    pub async fn remote(&self, path: &str) -> Option<Metadata> {
        let path = path.to_owned();
        self.on_emulator(move |e| e.entry(&path)).await
    }

    /// The bytes the emulator has at `path`.
    pub async fn remote_bytes(&self, path: &str) -> Vec<u8> {
        let path = path.to_owned();
        self.on_emulator(move |e| {
            e.download(&path)
                .unwrap_or_else(|| panic!("the emulator has nothing at {path}"))
        })
        .await
    }

    /// The server log's audit lines (`DBXC_LOG__FORMAT=json`, the `audit` target at info).
    pub fn audit_lines(&self) -> Vec<AuditLine> {
        audit_lines(&self.server_log())
    }

    /// Uploads files through the service with `spec`, each as one header, chunks, end.
    pub async fn upload(
        &self,
        spec: pb::UploadSpec,
        files: Vec<Src>,
    ) -> Result<pb::UploadFilesResponse, tonic::Status> {
        let messages = upload_messages(spec, files, 1024 * 1024);
        upload_results(
            self.cloud()
                .upload_files(futures::stream::iter(messages))
                .await,
        )
        .await
    }

    /// Uploads one file with ALWAYS into `folder` (test fixtures).
    pub async fn put(&self, folder: &str, rel: &str, data: &[u8], modified: Option<i64>) {
        let r = self
            .upload(
                spec(folder, None, modified.is_some()),
                vec![Src::new(rel, data).modified(modified)],
            )
            .await
            .unwrap();
        dropbox_connector_test_kit::outcome::assert_all_uploaded(&r, &format!("fixture {rel}"));
    }

    pub async fn list(
        &self,
        filter: pb::RemoteFileFilter,
    ) -> Result<Vec<pb::ItemMetadata>, tonic::Status> {
        use futures::StreamExt;
        let mut stream = self
            .cloud()
            .list_items(pb::ListItemsRequest {
                connection: CONN.into(),
                filter: Some(filter),
            })
            .await?
            .into_inner();
        let mut out = Vec::new();
        while let Some(page) = stream.next().await {
            out.extend(page?.items);
        }
        Ok(out)
    }
}

/// A file to upload.
#[derive(Clone)]
pub struct Src {
    pub rel: String,
    pub data: Vec<u8>,
    pub modified: Option<i64>,
    pub size_in_header: bool,
    pub end_hash: Option<String>,
}

impl Src {
    pub fn new(rel: &str, data: &[u8]) -> Src {
        Src {
            rel: rel.into(),
            data: data.to_vec(),
            modified: None,
            size_in_header: true,
            end_hash: None,
        }
    }
    pub fn modified(mut self, t: Option<i64>) -> Src {
        self.modified = t;
        self
    }
    pub fn no_size(mut self) -> Src {
        self.size_in_header = false;
        self
    }
    pub fn end_hash(mut self, h: &str) -> Src {
        self.end_hash = Some(h.into());
        self
    }
}

pub fn ts(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

pub fn spec(
    folder: &str,
    overwrite: Option<pb::OverwritePolicy>,
    keep_modified_date: bool,
) -> pb::UploadSpec {
    pb::UploadSpec {
        connection: CONN.into(),
        destination_folder: folder.into(),
        overwrite,
        keep_modified_date,
        autorename: false,
    }
}

pub fn msg(m: Up) -> pb::UploadFilesRequest {
    pb::UploadFilesRequest { message: Some(m) }
}

pub fn header(src: &Src) -> pb::UploadFilesRequest {
    msg(Up::FileHeader(pb::FileHeader {
        relative_path: src.rel.clone(),
        size: src.size_in_header.then_some(src.data.len() as u64),
        modified_time: src.modified.map(ts),
        content_hash: String::new(),
    }))
}

pub fn upload_messages(
    spec: pb::UploadSpec,
    files: Vec<Src>,
    chunk: usize,
) -> Vec<pb::UploadFilesRequest> {
    let mut out = vec![msg(Up::Spec(spec))];
    for f in files {
        out.push(header(&f));
        for (i, piece) in f.data.chunks(chunk).enumerate() {
            out.push(msg(Up::Chunk(pb::DataChunk {
                offset: (i * chunk) as u64,
                data: piece.to_vec(),
            })));
        }
        let hash = f
            .end_hash
            .clone()
            .unwrap_or_else(|| dropbox_content_hash::content_hash(&f.data));
        out.push(msg(Up::FileEnd(pb::FileEnd { content_hash: hash })));
    }
    out
}

/// (code, ErrorInfo.reason) of a status.
pub fn reason(status: &tonic::Status) -> (tonic::Code, String) {
    let details = status.get_error_details();
    let info = details
        .error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, dropbox_connector_proto::ERROR_DOMAIN);
    (status.code(), info.reason.clone())
}

pub fn names(items: &[pb::ItemMetadata]) -> Vec<String> {
    items.iter().map(|i| i.relative_path.clone()).collect()
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// What a browser does on the emulator's authorize page: open it, press Allow, and read
/// the redirect. Returns (code, state) from the redirect.
pub async fn approve(env: &Env, authorize_url: &str) -> (String, String) {
    let mut http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = env.emulator.ca_pem() {
        http = http.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    let http = http.build().unwrap();
    let page = http.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<button type=\"submit\" name=\"allow\">")
    );
    let url = url::Url::parse(authorize_url).unwrap();
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("allow".into(), "Allow".into()));
    let resp = http
        .post(format!("{}/oauth2/authorize", env.emulator.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let back = url::Url::parse(&location).unwrap();
    let get = |k: &str| {
        back.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (get("code"), get("state"))
}

/// One audit line: (method, caller, connection, items, outcome).
pub type AuditLine = (String, String, String, u64, String);

/// The audit lines of a server log in the JSON format.
pub fn audit_lines(log: &str) -> Vec<AuditLine> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "audit")
        .map(|v| {
            let f = &v["fields"];
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (
                s("method"),
                s("caller"),
                s("connection"),
                f["items"].as_u64().unwrap_or(u64::MAX),
                s("outcome"),
            )
        })
        .collect()
}

/// Uploads `data` as `folder/name` through connection `connection` and checks it was stored.
pub async fn upload_one(env: &Env, connection: &str, folder: &str, name: &str, data: &[u8]) {
    let spec = pb::UploadSpec {
        connection: connection.into(),
        destination_folder: folder.into(),
        ..Default::default()
    };
    let messages = upload_messages(spec, vec![Src::new(name, data)], 1024);
    let r = upload_results(
        env.cloud()
            .upload_files(futures::stream::iter(messages))
            .await,
    )
    .await
    .unwrap();
    dropbox_connector_test_kit::outcome::assert_all_uploaded(&r, connection);
}
