//! Real proxies from Debian packages between the server and Dropbox (the emulator).
//!
//! - tinyproxy (HTTP, Basic auth) and danted (SOCKS5, user/password): upload, list and
//!   download through each with byte checks; the proxy's own log shows the traffic;
//!   `dbxc connection test` reports the account name and email through the proxy.
//! - A wrong proxy password gives an error naming the proxy credentials, and the failed
//!   TestConnection step is "proxy".
//! - An unreachable proxy (a closed port, and one that accepts but never answers) fails
//!   within the connection's timeout_seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use dropbox_connector_tests::{
    EmulatorProcess, ProxyProcess, ServerProcess, dbxc, free_port, ok, write_random_file,
};

struct Setup {
    work: tempfile::TempDir,
    emulator: EmulatorProcess,
    server: ServerProcess,
    emulator_port: u16,
}

/// The emulator over HTTPS (as Dropbox is: proxies then see CONNECT), or plain HTTP.
fn setup(tls: bool) -> Setup {
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("emulator-ca.pem");
    let ca_text = ca.to_str().unwrap().to_string();
    let tls_args: &[&str] = if tls {
        &["--tls", "--ca-out", &ca_text]
    } else {
        &[]
    };
    let emulator = EmulatorProcess::start(work.path(), tls_args);
    let envs: &[(&str, &str)] = if tls {
        &[("DBXC_DROPBOX__CA_FILE", &ca_text)]
    } else {
        &[]
    };
    let server = ServerProcess::start_with_env(
        work.path(),
        &work.path().join("server-data"),
        &emulator.base_url,
        envs,
    );
    let emulator_port = emulator
        .base_url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("emulator base URL has a port");
    Setup {
        work,
        emulator,
        server,
        emulator_port,
    }
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_string()
}

/// Creates connection `name` through the proxy (`kind` http or socks5) with `password`.
fn create_connection(
    s: &Setup,
    name: &str,
    kind: &str,
    port: u16,
    username: &str,
    password: &str,
    timeout_seconds: u32,
) {
    let token = write(s.work.path(), &format!("{name}.token"), &s.emulator.token);
    let password = write(s.work.path(), &format!("{name}.proxy-password"), password);
    ok(dbxc(
        &s.server.url,
        &[
            "connection",
            "create",
            name,
            "--access-token-file",
            &token,
            "--timeout-seconds",
            &timeout_seconds.to_string(),
            "--proxy-type",
            kind,
            "--proxy-address",
            "127.0.0.1",
            "--proxy-port",
            &port.to_string(),
            "--proxy-username",
            username,
            "--proxy-password-file",
            &password,
        ],
    ));
}

/// The emulator account's email and display name, asked directly (trusting its CA).
fn account(s: &Setup) -> (String, String) {
    let mut client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30));
    let ca = s.work.path().join("emulator-ca.pem");
    if let Ok(pem) = std::fs::read(&ca) {
        client = client.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    let body: serde_json::Value = client
        .build()
        .unwrap()
        .post(format!(
            "{}/2/users/get_current_account",
            s.emulator.base_url
        ))
        .bearer_auth(&s.emulator.token)
        .header("Content-Type", "application/json")
        .body("null")
        .send()
        .unwrap()
        .json()
        .unwrap();
    (
        body["email"].as_str().unwrap().to_string(),
        body["name"]["display_name"].as_str().unwrap().to_string(),
    )
}

/// Upload, list, download with byte checks, `connection test`, then a wrong password.
fn exercise(s: &Setup, proxy: &ProxyProcess, kind: &str, traffic_marker: &str) {
    let name = format!("via-{kind}");
    create_connection(
        s,
        &name,
        kind,
        proxy.port,
        &proxy.username,
        &proxy.password,
        20,
    );
    let local = s.work.path().join(format!("{kind}-data.bin"));
    write_random_file(&local, 3 * 1024 * 1024 + 17, 42);
    let original = std::fs::read(&local).unwrap();
    let remote = format!("/{kind}");
    ok(dbxc(
        &s.server.url,
        &[
            "--connection",
            &name,
            "upload",
            local.to_str().unwrap(),
            &remote,
        ],
    ));
    let listed = ok(dbxc(
        &s.server.url,
        &["--connection", &name, "--json", "list", &remote],
    ));
    assert!(listed.contains(&format!("{kind}-data.bin")), "{listed}");
    let down = s.work.path().join(format!("{kind}-down"));
    ok(dbxc(
        &s.server.url,
        &[
            "--connection",
            &name,
            "download",
            &format!("{remote}/{kind}-data.bin"),
            down.to_str().unwrap(),
        ],
    ));
    let downloaded = std::fs::read(down.join(format!("{kind}-data.bin"))).unwrap();
    assert!(
        downloaded == original,
        "downloaded bytes differ from uploaded"
    );

    // The proxy's own log shows the traffic to the emulator's port.
    let log = proxy.log();
    assert!(
        log.contains(traffic_marker),
        "{} log has no {traffic_marker:?}:\n{log}",
        proxy.process.name()
    );

    // TestConnection through the proxy: both steps ok, the account's name and email.
    let (email, display_name) = account(s);
    let report = ok(dbxc(&s.server.url, &["connection", "test", &name]));
    assert!(report.contains(&email), "{report}");
    assert!(report.contains(&display_name), "{report}");
    let lines: Vec<&str> = report.lines().collect();
    assert!(
        lines[0].starts_with("proxy") && lines[0].contains(" ok "),
        "{report}"
    );
    assert!(
        lines[1].starts_with("dropbox") && lines[1].contains(" ok "),
        "{report}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(dbxc(
        &s.server.url,
        &["--json", "connection", "test", &name],
    )))
    .unwrap();
    assert_eq!(json["ok"], true, "{json}");
    assert_eq!(json["account"]["email"], email.as_str(), "{json}");

    // A wrong proxy password: a clear error naming the proxy credentials.
    let wrong = write(s.work.path(), &format!("{name}.wrong"), "not-the-password");
    ok(dbxc(
        &s.server.url,
        &[
            "connection",
            "update",
            &name,
            "--proxy-password-file",
            &wrong,
        ],
    ));
    let out = dbxc(&s.server.url, &["connection", "test", &name]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.lines().next().unwrap_or("").starts_with("proxy") && stdout.contains("failed"),
        "{stdout}"
    );
    assert!(stderr.contains("step \"proxy\" failed"), "{stderr}");
    assert!(stderr.contains("proxy.password"), "{stderr}");
    // The data path (a Cloud task) says the same kind of thing.
    let out = dbxc(&s.server.url, &["--connection", &name, "list", &remote]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        !out.status.success(),
        "list with a wrong proxy password succeeded"
    );
    assert!(
        stderr.contains("proxy") && (stderr.contains("password") || stderr.contains("credentials")),
        "the error names the proxy credentials: {stderr}"
    );
}

#[test]
fn tinyproxy_http_basic_auth() {
    let s = setup(true);
    let proxy = ProxyProcess::tinyproxy(s.work.path(), "proxyuser", "proxy-pass-1");
    let marker = format!("CONNECT 127.0.0.1:{}", s.emulator_port);
    exercise(&s, &proxy, "http", &marker);
}

#[test]
fn danted_socks5_user_password() {
    let s = setup(true);
    let proxy = ProxyProcess::danted(s.work.path(), "socks-pass-1");
    // danted writes addresses as `127.0.0.1.PORT`.
    let marker = format!("127.0.0.1.{}", s.emulator_port);
    exercise(&s, &proxy, "socks5", &marker);
}

/// Runs a command on the connection and returns its output and how long it took.
fn timed(s: &Setup, args: &[&str]) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let out = dbxc(&s.server.url, args);
    (out, started.elapsed())
}

#[test]
fn unreachable_proxy_fails_within_the_timeout() {
    let s = setup(false);
    const TIMEOUT: u32 = 4;
    let bound = Duration::from_secs(u64::from(TIMEOUT));

    // 1. A closed port.
    create_connection(&s, "closed", "http", free_port(), "u", "p", TIMEOUT);
    let (out, took) = timed(&s, &["--connection", "closed", "list", "/"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.to_lowercase().contains("proxy"), "{stderr}");
    assert!(
        took < bound,
        "closed proxy port: failed after {took:?}, timeout {bound:?}: {stderr}"
    );
    let (out, took) = timed(&s, &["connection", "test", "closed"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("step \"proxy\" failed"));
    assert!(took < bound, "connection test: {took:?}");

    // 2. A proxy that accepts TCP and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let held = held.clone();
        std::thread::spawn(move || {
            for stream in silent.incoming().flatten() {
                held.lock().unwrap().push(stream);
            }
        });
    }
    create_connection(&s, "silent", "http", silent_port, "u", "p", TIMEOUT);
    // The timeout fires at timeout_seconds; allow 1.5 s for starting dbxc and gRPC.
    let slack = Duration::from_millis(1500);
    let (out, took) = timed(&s, &["connection", "test", "silent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("step \"proxy\" failed"));
    assert!(took < bound + slack, "connection test: {took:?}");
    let (out, took) = timed(&s, &["--connection", "silent", "list", "/"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        took < bound + slack,
        "silent proxy: failed after {took:?}, timeout {bound:?}: {stderr}"
    );
}
