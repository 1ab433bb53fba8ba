//! `dbxc upload` of a big file is killed part-way; the same command run again resumes the
//! server's resumable upload where it stopped (no new upload session, only the missing
//! pieces sent) and the file arrives byte-identical.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::process::{Command, Stdio};
use std::time::Duration;

use dropbox_connector_tests::{
    EmulatorProcess, bin, content_hash, file_content_hash, server_with_connection, wait_until,
    write_random_file,
};

const MIB: u64 = 1024 * 1024;
const FILE_SIZE: u64 = 48 * MIB;
/// The server appends whole 8 MiB pieces.
const PIECE: u64 = 8 * MIB;

fn routes(emulator: &EmulatorProcess) -> Vec<(String, u64)> {
    let log = emulator.control("GET", "/__emulator/requests", None);
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["route"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn appended(emulator: &EmulatorProcess) -> usize {
    routes(emulator)
        .iter()
        .filter(|(route, status)| route == "files/upload_session/append_v2" && *status == 200)
        .count()
}

#[test]
fn an_interrupted_upload_resumes_when_the_command_is_run_again() {
    let work = tempfile::tempdir().unwrap();
    let emulator = EmulatorProcess::start(work.path(), &[]);
    let server = server_with_connection(work.path(), &emulator, "up");
    let source = work.path().join("big.bin");
    write_random_file(&source, FILE_SIZE, 0xfeed);
    let local_hash = file_content_hash(&source);
    let state_dir = work.path().join("state");
    let args = [
        "--connection",
        "up",
        "upload",
        source.to_str().unwrap(),
        "/resume",
    ];
    let dbxc = |args: &[&str]| {
        let mut c = Command::new(bin("dbxc"));
        c.env("DBXC_SERVER", &server.url)
            .env("DBXC_STATE_DIR", &state_dir)
            .env_remove("DBXC_CONNECTION")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };

    // A slow link, so that the upload can be interrupted part-way.
    emulator.control(
        "POST",
        "/__emulator/network",
        Some(serde_json::json!({ "bandwidth_bytes_per_sec": 8 * MIB })),
    );
    let mut first = dbxc(&args).spawn().unwrap();
    wait_until(
        Duration::from_secs(60),
        "two pieces appended to the upload session",
        || appended(&emulator) >= 2,
    );
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        emulator.metadata("/resume/big.bin").is_none(),
        "nothing committed by the interrupted run"
    );
    let saved: Vec<_> = std::fs::read_dir(state_dir.join("uploads"))
        .unwrap()
        .collect();
    assert_eq!(saved.len(), 1, "the upload's state is kept");
    let before = appended(&emulator) as u64;

    emulator.control("DELETE", "/__emulator/requests", None);
    emulator.control(
        "POST",
        "/__emulator/network",
        Some(serde_json::json!({ "bandwidth_bytes_per_sec": 0 })),
    );
    let second = dbxc(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "second run failed: {stderr}");
    assert!(stderr.contains("resuming big.bin at"), "{stderr}");

    let second_routes = routes(&emulator);
    assert!(
        !second_routes
            .iter()
            .any(|(r, _)| r == "files/upload_session/start"),
        "the same upload session goes on: {second_routes:?}"
    );
    let appends_now = appended(&emulator) as u64;
    // What was persisted is not sent again: the pieces still missing, plus at most the one
    // that was in flight when the first run was killed.
    assert!(
        appends_now <= FILE_SIZE / PIECE - before + 1,
        "{appends_now} appends after {before}"
    );
    let sent = (before + appends_now) * PIECE;
    println!(
        "first run appended {before} pieces, second {appends_now}: {:.2} x the file in all",
        sent as f64 / FILE_SIZE as f64
    );
    assert!((sent as f64) < 1.5 * FILE_SIZE as f64);

    let remote = emulator.download("/resume/big.bin").expect("uploaded");
    assert_eq!(content_hash(&remote), local_hash, "byte-identical");
    assert!(
        std::fs::read_dir(state_dir.join("uploads"))
            .unwrap()
            .next()
            .is_none(),
        "the state is dropped once the upload is done"
    );
}
