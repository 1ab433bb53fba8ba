//! A real browser authorizes a connection.
//!
//! `dbxc connection authorize` starts the OAuth flow, listens on the redirect URI's
//! loopback port and opens `$BROWSER`: here `tests/browser/click_allow.py`, which drives
//! headless Chromium (Debian package `chromium`) over the DevTools protocol to the
//! emulator's authorize page and clicks Allow. The redirect reaches the CLI, which
//! completes the authorization. Then an upload works, the emulator expires every token,
//! and the next upload still works because the server refreshes on its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dropbox_connector_tests::{
    EmulatorProcess, ServerProcess, dbxc, dbxc_with_env, free_port, ok, repo_dir,
};

const APP_KEY: &str = "browser-app-key";
const APP_SECRET: &str = "browser-app-secret";

#[test]
fn headless_chromium_clicks_allow_and_the_connection_keeps_working() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}");
    let emulator = EmulatorProcess::start(
        work.path(),
        &[
            "--app",
            &format!("{APP_KEY}:{APP_SECRET}"),
            "--redirect-uri",
            &format!("{APP_KEY}={redirect}"),
        ],
    );
    let server = ServerProcess::start(
        work.path(),
        &work.path().join("server-data"),
        &emulator.base_url,
    );
    let secret_file = work.path().join("app-secret");
    std::fs::write(&secret_file, APP_SECRET).unwrap();
    ok(dbxc(
        &server.url,
        &[
            "connection",
            "create",
            "browser",
            "--app-key",
            APP_KEY,
            "--app-secret-file",
            secret_file.to_str().unwrap(),
            "--redirect-uri",
            &redirect,
        ],
    ));

    // $BROWSER: a wrapper so the driver needs no executable bit, tracing to a log file.
    let driver = repo_dir().join("tests/browser/click_allow.py");
    let browser = work.path().join("browser.sh");
    let trace = work.path().join("browser.log");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\nexec python3 '{}' \"$@\"\n",
            driver.to_str().unwrap()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let output = dbxc_with_env(
        &server.url,
        &["connection", "authorize", "browser", "--timeout", "90s"],
        &[
            ("BROWSER", browser.to_str().unwrap()),
            ("CLICK_ALLOW_LOG", trace.to_str().unwrap()),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "authorize failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}\nbrowser trace:\n{}\nserver:\n{}",
        output.status,
        std::fs::read_to_string(&trace).unwrap_or_default(),
        server.process.stderr()
    );
    assert!(stdout.starts_with("authorized browser"), "{stdout}");
    assert!(
        stderr.contains("/oauth2/authorize?"),
        "the URL is printed: {stderr}"
    );
    // The browser really went through the page: the driver's trace says so.
    let trace_text = std::fs::read_to_string(&trace).unwrap_or_default();
    assert!(trace_text.contains("clicked Allow"), "{trace_text}");

    let got: serde_json::Value = serde_json::from_str(&ok(dbxc(
        &server.url,
        &["--json", "connection", "get", "browser"],
    )))
    .unwrap();
    assert_eq!(got["credential_state"]["has_refresh_token"], true, "{got}");
    let email = got["account"]["email"].as_str().unwrap_or_default();
    assert!(email.contains('@'), "account email filled: {got}");
    assert!(
        stdout.contains(email),
        "authorize prints the email: {stdout}"
    );

    let local = work.path().join("one.txt");
    std::fs::write(&local, b"first upload after authorization").unwrap();
    ok(dbxc(
        &server.url,
        &[
            "--connection",
            "browser",
            "upload",
            local.to_str().unwrap(),
            "/authorized",
        ],
    ));

    // Expire every token; nobody acts, the next upload still works (refresh token).
    emulator.control(
        "POST",
        "/__emulator/tokens/expire",
        Some(serde_json::json!({})),
    );
    let local2 = work.path().join("two.txt");
    std::fs::write(&local2, b"second upload after the tokens expired").unwrap();
    ok(dbxc(
        &server.url,
        &[
            "--connection",
            "browser",
            "upload",
            local2.to_str().unwrap(),
            "/authorized",
        ],
    ));
    let listed = ok(dbxc(
        &server.url,
        &["--connection", "browser", "--json", "list", "/authorized"],
    ));
    assert!(
        listed.contains("one.txt") && listed.contains("two.txt"),
        "{listed}"
    );
}
