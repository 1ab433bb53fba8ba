//! `dbxc` against a server that only lets in the callers it knows, over TLS: a bearer
//! token from `--token-file` (or `DBXC_TOKEN_FILE`), a client certificate for mTLS, the
//! CA from `--ca-file`. Without a known identity the CLI says so and exits 5; a reader
//! cannot write; nothing works over plain HTTP or without trusting the server's CA.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

use dropbox_connector_tests::tls::{TestCa, token_sha256};
use dropbox_connector_tests::{EmulatorProcess, ServerProcess, dbxc_with_env};

const ADMIN_TOKEN: &str = "admin-token-for-the-secure-cli-test";
const READER_TOKEN: &str = "reader-token-for-the-secure-cli-test";
const WRITER_URI: &str = "spiffe://cluster.local/ns/reports/sa/exporter";
const ADMIN_URI: &str = "spiffe://cluster.local/ns/ops/sa/admin";

struct Setup {
    emulator: EmulatorProcess,
    server: ServerProcess,
    https_url: String,
    ca: TestCa,
    admin_token_file: String,
    reader_token_file: String,
}

fn callers_file(path: &Path) {
    std::fs::write(
        path,
        format!(
            r#"
[[caller]]
name = "ops"
token_sha256 = "{}"
certificate = "{ADMIN_URI}"
role = "admin"
groups = ["*"]

[[caller]]
name = "auditor"
token_sha256 = "{}"
role = "reader"
groups = ["*"]

[[caller]]
name = "exporter"
certificate = "{WRITER_URI}"
role = "writer"
groups = ["Default group"]
"#,
            token_sha256(ADMIN_TOKEN),
            token_sha256(READER_TOKEN)
        ),
    )
    .unwrap();
}

/// A server on TLS; with `mtls`, one that also requires a client certificate.
fn start(work: &Path, mtls: bool) -> Setup {
    let ca = TestCa::new(work, "server");
    let server_cert = ca.server_cert("server");
    let callers = work.join("callers.toml");
    callers_file(&callers);
    let admin_token_file = work.join("admin.token");
    std::fs::write(&admin_token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let reader_token_file = work.join("reader.token");
    std::fs::write(&reader_token_file, READER_TOKEN).unwrap();

    let emulator = EmulatorProcess::start(work, &[]);
    let mut env = vec![
        (
            "DBXC_TLS__CERT_FILE",
            server_cert.cert_file.to_str().unwrap(),
        ),
        ("DBXC_TLS__KEY_FILE", server_cert.key_file.to_str().unwrap()),
        ("DBXC_AUTH__CALLERS_FILE", callers.to_str().unwrap()),
    ];
    if mtls {
        // The client certificates come from the same test CA.
        env.push(("DBXC_TLS__CLIENT_CA_FILE", ca.ca_file.to_str().unwrap()));
    }
    let server =
        ServerProcess::start_with_env(work, &work.join("server-data"), &emulator.base_url, &env);
    let https_url = server.url.replacen("http://", "https://", 1);
    Setup {
        emulator,
        server,
        https_url,
        ca,
        admin_token_file: admin_token_file.to_string_lossy().into_owned(),
        reader_token_file: reader_token_file.to_string_lossy().into_owned(),
    }
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_ok(output: &Output) -> String {
    assert!(output.status.success(), "{}", text(output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn dbxc_over_tls_with_bearer_tokens() {
    let work = tempfile::tempdir().unwrap();
    let s = start(work.path(), false);
    let ca = s.ca.ca_file.to_str().unwrap().to_owned();
    let emulator_token = s.emulator.token.clone();

    // The admin creates the connection: token from --token-file, CA from --ca-file.
    let created = dbxc_with_env(
        &s.https_url,
        &[
            "--ca-file",
            &ca,
            "--token-file",
            &s.admin_token_file,
            "connection",
            "create",
            "reports",
            "--access-token-file",
            "-",
        ],
        &[],
        Some(emulator_token.as_bytes()),
    );
    assert_ok(&created);

    // The same through the environment variables.
    let listed = dbxc_with_env(
        &s.https_url,
        &["connection", "list"],
        &[
            ("DBXC_CA_FILE", &ca),
            ("DBXC_TOKEN_FILE", &s.admin_token_file),
        ],
        None,
    );
    assert!(assert_ok(&listed).contains("reports"), "{}", text(&listed));

    // No identity: refused by the server, and the CLI says why with its own exit code.
    let anonymous = dbxc_with_env(
        &s.https_url,
        &["--ca-file", &ca, "connection", "list"],
        &[],
        None,
    );
    assert_eq!(anonymous.status.code(), Some(5), "{}", text(&anonymous));
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("CALLER_UNKNOWN"),
        "{}",
        text(&anonymous)
    );

    // The server's certificate is not trusted without the CA.
    let untrusted = dbxc_with_env(
        &s.https_url,
        &["--token-file", &s.admin_token_file, "connection", "list"],
        &[],
        None,
    );
    assert!(!untrusted.status.success(), "{}", text(&untrusted));
    assert!(
        !String::from_utf8_lossy(&untrusted.stdout).contains("reports"),
        "{}",
        text(&untrusted)
    );

    // Plain HTTP to the TLS port gets nowhere.
    let plain = dbxc_with_env(
        &s.server.url,
        &["--token-file", &s.admin_token_file, "connection", "list"],
        &[],
        None,
    );
    assert!(!plain.status.success(), "{}", text(&plain));

    // The admin uploads a file for the reader to find.
    let local = work.path().join("report.csv");
    std::fs::write(&local, "region,total\nnorth,12\n").unwrap();
    let uploaded = dbxc_with_env(
        &s.https_url,
        &[
            "--ca-file",
            &ca,
            "--token-file",
            &s.admin_token_file,
            "--connection",
            "reports",
            "upload",
            local.to_str().unwrap(),
            "/reports",
        ],
        &[],
        None,
    );
    assert_ok(&uploaded);

    // The reader lists, but may not delete: PERMISSION_DENIED, exit 5, nothing deleted.
    let reader = |args: &[&str]| {
        let mut all = vec![
            "--ca-file",
            ca.as_str(),
            "--token-file",
            &s.reader_token_file,
        ];
        all.extend_from_slice(args);
        dbxc_with_env(&s.https_url, &all, &[], None)
    };
    let seen = reader(&["--connection", "reports", "list", "/reports"]);
    assert!(assert_ok(&seen).contains("report.csv"), "{}", text(&seen));
    let denied = reader(&["--connection", "reports", "delete", "/reports/report.csv"]);
    assert_eq!(denied.status.code(), Some(5), "{}", text(&denied));
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("CALLER_NOT_ALLOWED"),
        "{}",
        text(&denied)
    );
    let still_there = reader(&["--connection", "reports", "list", "/reports"]);
    assert!(assert_ok(&still_there).contains("report.csv"));

    // A token is never taken from the command line.
    let in_argv = dbxc_with_env(
        &s.https_url,
        &[
            "--ca-file",
            &ca,
            "--token",
            ADMIN_TOKEN,
            "connection",
            "list",
        ],
        &[],
        None,
    );
    assert_eq!(in_argv.status.code(), Some(2), "{}", text(&in_argv));
}

#[test]
fn dbxc_over_mtls_is_known_by_its_client_certificate() {
    let work = tempfile::tempdir().unwrap();
    let s = start(work.path(), true);
    let ca = s.ca.ca_file.to_str().unwrap().to_owned();
    let emulator_token = s.emulator.token.clone();
    let admin = s.ca.client_cert("ops", ADMIN_URI);
    let writer = s.ca.client_cert("exporter", WRITER_URI);
    let with_cert =
        |cert: &dropbox_connector_tests::tls::Issued, args: &[&str], stdin: Option<&[u8]>| {
            let mut all = vec![
                "--ca-file",
                ca.as_str(),
                "--cert-file",
                cert.cert_file.to_str().unwrap(),
                "--key-file",
                cert.key_file.to_str().unwrap(),
            ];
            all.extend_from_slice(args);
            dbxc_with_env(&s.https_url, &all, &[], stdin)
        };

    // The admin's certificate alone names it: no token needed.
    assert_ok(&with_cert(
        &admin,
        &[
            "connection",
            "create",
            "reports",
            "--access-token-file",
            "-",
        ],
        Some(emulator_token.as_bytes()),
    ));

    // The writer (by its SPIFFE ID) uploads, and the file is in Dropbox.
    let local = work.path().join("report.csv");
    std::fs::write(&local, "region,total\nnorth,12\n").unwrap();
    assert_ok(&with_cert(
        &writer,
        &[
            "--connection",
            "reports",
            "upload",
            local.to_str().unwrap(),
            "/reports",
        ],
        None,
    ));
    assert!(s.emulator.metadata("/reports/report.csv").is_some());

    // The writer may not manage connections.
    let denied = with_cert(&writer, &["connection", "delete", "reports"], None);
    assert_eq!(denied.status.code(), Some(5), "{}", text(&denied));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("CALLER_NOT_ALLOWED"));

    // Without a client certificate the handshake fails, even with a valid token.
    let no_cert = dbxc_with_env(
        &s.https_url,
        &[
            "--ca-file",
            &ca,
            "--token-file",
            &s.admin_token_file,
            "connection",
            "list",
        ],
        &[],
        None,
    );
    assert!(!no_cert.status.success(), "{}", text(&no_cert));
    assert!(!String::from_utf8_lossy(&no_cert.stdout).contains("reports"));

    // A certificate from another CA is refused as well.
    let other_ca = TestCa::new(work.path(), "other");
    let stranger = other_ca.client_cert("stranger", ADMIN_URI);
    let refused = with_cert(&stranger, &["connection", "list"], None);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("reports"));
}

#[test]
fn dbxc_help_documents_the_tls_and_token_flags() {
    let help = dbxc_with_env("http://127.0.0.1:1", &["--help"], &[], None);
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--ca-file",
        "--cert-file",
        "--key-file",
        "--token-file",
        "DBXC_CA_FILE",
        "DBXC_TOKEN_FILE",
    ] {
        assert!(text.contains(flag), "dbxc --help lacks {flag}:\n{text}");
    }
}
