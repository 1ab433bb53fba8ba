//! A 300 MiB file — twice Dropbox's 150 MiB single-request
//! limit — goes up through `dbxc` and comes back byte-identical, the content_hash the CLI
//! reports is the emulator's, and the server's peak RSS stays under 100 MiB.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use dropbox_connector_tests::{
    EmulatorProcess, dbxc, file_content_hash, ok, server_with_connection, write_random_file,
};

const FILE_SIZE: u64 = 300 * 1024 * 1024;
const RSS_LIMIT: u64 = 100 * 1024 * 1024;

/// Every string value under a key named `content_hash` in a JSON document (or JSON lines).
fn content_hashes(output: &str) -> Vec<String> {
    fn walk(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    if let (true, Some(s)) = (key == "content_hash", v.as_str()) {
                        found.push(s.to_string());
                    }
                    walk(v, found);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(output) {
        walk(&doc, &mut found);
    } else {
        for line in output.lines() {
            if let Ok(doc) = serde_json::from_str::<serde_json::Value>(line) {
                walk(&doc, &mut found);
            }
        }
    }
    found
}

#[test]
fn a_300_mib_file_round_trips_in_bounded_server_memory() {
    let work = tempfile::tempdir().unwrap();
    let emulator_data = work.path().join("emulator-data");
    std::fs::create_dir_all(&emulator_data).unwrap();
    let emulator = EmulatorProcess::start(
        work.path(),
        &["--data-dir", emulator_data.to_str().unwrap()],
    );
    let server = server_with_connection(work.path(), &emulator, "big");

    let source = work.path().join("big.bin");
    write_random_file(&source, FILE_SIZE, 0x5eed);
    let local_hash = file_content_hash(&source);

    let upload = ok(dbxc(
        &server.url,
        &[
            "--connection",
            "big",
            "--json",
            "upload",
            source.to_str().unwrap(),
            "/large",
        ],
    ));
    let reported = content_hashes(&upload);
    assert!(
        reported.contains(&local_hash),
        "dbxc upload reports the file's content_hash {local_hash}: {upload}"
    );

    let remote = emulator
        .metadata("/large/big.bin")
        .expect("the emulator has /large/big.bin");
    assert_eq!(remote["size"].as_u64(), Some(FILE_SIZE));
    assert_eq!(
        remote["content_hash"].as_str(),
        Some(local_hash.as_str()),
        "the emulator's content_hash equals the one dbxc reported"
    );

    let target = work.path().join("back");
    std::fs::create_dir_all(&target).unwrap();
    ok(dbxc(
        &server.url,
        &[
            "--connection",
            "big",
            "download",
            "/large/big.bin",
            target.to_str().unwrap(),
        ],
    ));
    let downloaded = target.join("big.bin");
    assert_eq!(std::fs::metadata(&downloaded).unwrap().len(), FILE_SIZE);
    assert_eq!(
        file_content_hash(&downloaded),
        local_hash,
        "byte-identical download"
    );

    let peak = server.process.peak_rss_bytes();
    println!(
        "server peak RSS during a {} MiB upload + download: {:.1} MiB",
        FILE_SIZE >> 20,
        peak as f64 / (1024.0 * 1024.0)
    );
    assert!(
        peak < RSS_LIMIT,
        "server peak RSS {} MiB exceeds {} MiB",
        peak >> 20,
        RSS_LIMIT >> 20
    );
}
