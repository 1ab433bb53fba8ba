//! The CLI session in the README runs as written against
//! `dropbox-connector --dev`, and what comes back is byte-identical to what went up.
//!
//! The commands are read from README.md between the `cli-session` markers, so the README
//! cannot drift from what works.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::process::Command;

use dropbox_connector_tests::{ServerProcess, bin_dir, file_content_hash};

fn readme_session() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&readme).expect("read README.md");
    let start = text
        .find("<!-- cli-session:start -->")
        .expect("README has a <!-- cli-session:start --> marker");
    let end = text
        .find("<!-- cli-session:end -->")
        .expect("README has a <!-- cli-session:end --> marker");
    let block = &text[start..end];
    let body_start = block.find("```sh\n").expect("a ```sh block in the session") + 6;
    let body_end = block[body_start..].find("```").expect("closing ```") + body_start;
    block[body_start..body_end].to_string()
}

#[test]
fn readme_cli_session_round_trips_bytes_and_hashes() {
    let work = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_dev(work.path(), &work.path().join("server-data"));
    let session_dir = work.path().join("session");
    std::fs::create_dir_all(&session_dir).unwrap();

    let script = readme_session();
    assert!(script.contains("dbxc upload"), "the session uploads");
    assert!(script.contains("dbxc download"), "the session downloads");

    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(&script)
        .current_dir(&session_dir)
        .env("PATH", path)
        .env("DBXC_SERVER", &server.url)
        .env_remove("DBXC_CONNECTION")
        .output()
        .expect("run the README session");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "README session failed ({}):\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver:\n{}",
        output.status,
        server.process.stderr()
    );

    // The session uploads site/reports with the mask *.csv and downloads into ./downloaded.
    let uploaded = ["2026/q1.csv", "2026/q2.csv"];
    for rel in uploaded {
        let local = session_dir.join("site/reports").join(rel);
        let back = session_dir.join("downloaded").join(rel);
        assert!(back.exists(), "{rel} came back (stdout:\n{stdout})");
        assert_eq!(
            std::fs::read(&local).unwrap(),
            std::fs::read(&back).unwrap(),
            "{rel} is byte-identical"
        );
        let hash = file_content_hash(&local);
        assert!(
            stdout.contains(&hash),
            "the listing shows {rel}'s content_hash {hash}:\n{stdout}"
        );
    }
    assert!(
        !session_dir.join("downloaded/notes.txt").exists(),
        "the mask kept notes.txt out of the upload"
    );
    // The session ends by deleting the remote folder.
    let listing = dropbox_connector_tests::dbxc(
        &server.url,
        &["--connection", "demo", "list", "/", "--kind", "all"],
    );
    assert!(listing.status.success(), "dbxc list / works");
    let listed = String::from_utf8_lossy(&listing.stdout);
    assert!(
        !listed.contains("/reports"),
        "the session's delete removed /reports:\n{listed}"
    );
}
