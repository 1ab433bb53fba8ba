//! Outbound TLS trusts one set of roots: Mozilla's, built in, plus `DBXC_DROPBOX__CA_FILE`
//! (README "Which CAs are trusted"). The host's CA bundle is not read: a CA that only the
//! system bundle holds does not make a Dropbox endpoint trusted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dropbox_connector_tests::{EmulatorProcess, ServerProcess, dbxc, ok};

#[test]
fn the_system_ca_bundle_is_not_trusted_and_the_ca_file_is() {
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("emulator-ca.pem");
    let ca_text = ca.to_str().unwrap().to_owned();
    let emulator = EmulatorProcess::start(work.path(), &["--tls", "--ca-out", &ca_text]);
    let token = work.path().join("token");
    std::fs::write(&token, &emulator.token).unwrap();
    let token = token.to_str().unwrap();
    let empty_dir = work.path().join("no-certs");
    std::fs::create_dir(&empty_dir).unwrap();

    // The emulator's CA as the host's bundle (where a native-roots loader would look).
    let system_logs = work.path().join("system");
    std::fs::create_dir(&system_logs).unwrap();
    let system_only = ServerProcess::start_with_env(
        &system_logs,
        &system_logs.join("data"),
        &emulator.base_url,
        &[
            ("SSL_CERT_FILE", &ca_text),
            ("SSL_CERT_DIR", empty_dir.to_str().unwrap()),
        ],
    );
    ok(dbxc(
        &system_only.url,
        &["connection", "create", "c", "--access-token-file", token],
    ));
    let refused = dbxc(&system_only.url, &["connection", "test", "c"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !refused.status.success(),
        "trusted the system bundle: {said}"
    );
    assert!(said.to_lowercase().contains("certificate"), "{said}");

    let ca_logs = work.path().join("ca-file");
    std::fs::create_dir(&ca_logs).unwrap();
    let with_ca_file = ServerProcess::start_with_env(
        &ca_logs,
        &ca_logs.join("data"),
        &emulator.base_url,
        &[("DBXC_DROPBOX__CA_FILE", &ca_text)],
    );
    ok(dbxc(
        &with_ca_file.url,
        &["connection", "create", "c", "--access-token-file", token],
    ));
    let report = ok(dbxc(&with_ca_file.url, &["connection", "test", "c"]));
    assert!(report.contains('@'), "the account's email: {report}");
}
