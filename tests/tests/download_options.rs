//! `dbxc download` with VisualCron's Download options, end to end with the real binaries:
//! `--overwrite if-newer` skips what the server says to skip (dbxc only tells it what it
//! holds), `--keep-dates` gives the files the time the server sends, and `--delete-source`
//! keeps a source that changed in Dropbox while it was being downloaded (REVISION_CHANGED).
//!
//! The change in Dropbox is made over raw HTTP (the emulator's files/upload), never through
//! the code under test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dropbox_connector_tests::{
    EmulatorProcess, ServerProcess, content_hash, dbxc, dbxc_spawn, file_content_hash, ok,
    random_chunk, server_with_connection, wait_until,
};
use serde_json::{Value, json};

const CONNECTION: &str = "opts";
/// The remote files' modified time (client_modified), set by an upload that keeps dates.
const REMOTE_TIME: u64 = 1_600_000_000;

struct Setup {
    work: tempfile::TempDir,
    emulator: EmulatorProcess,
    server: ServerProcess,
}

impl Setup {
    fn start() -> Setup {
        let work = tempfile::tempdir().unwrap();
        let emulator = EmulatorProcess::start(work.path(), &[]);
        let server = server_with_connection(work.path(), &emulator, CONNECTION);
        Setup {
            work,
            emulator,
            server,
        }
    }

    fn dbxc(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--connection", CONNECTION];
        all.extend_from_slice(args);
        dbxc(&self.server.url, &all)
    }

    fn download_requests(&self) -> usize {
        self.emulator
            .http()
            .requests()
            .iter()
            .filter(|r| r["route"] == "files/download")
            .count()
    }
}

fn write_dated(path: &Path, data: &[u8], seconds: u64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(seconds))
        .unwrap();
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn if_newer_skips_per_the_server_and_keep_dates_sets_the_servers_time() {
    let s = Setup::start();
    // Remote: old.txt and new.txt, both modified at REMOTE_TIME (kept from the upload).
    let up = s.work.path().join("up");
    write_dated(&up.join("old.txt"), b"remote old", REMOTE_TIME);
    write_dated(&up.join("new.txt"), b"remote new", REMOTE_TIME);
    write_dated(&up.join("fresh.txt"), b"remote fresh", REMOTE_TIME);
    ok(s.dbxc(&[
        "upload",
        up.join("old.txt").to_str().unwrap(),
        up.join("new.txt").to_str().unwrap(),
        up.join("fresh.txt").to_str().unwrap(),
        "/opts",
        "--keep-dates",
    ]));

    // Local: old.txt is older than Dropbox's, new.txt newer; fresh.txt is not held.
    let local = s.work.path().join("local");
    write_dated(&local.join("old.txt"), b"local old", REMOTE_TIME - 1000);
    write_dated(&local.join("new.txt"), b"local new", REMOTE_TIME + 1000);
    s.emulator.control("DELETE", "/__emulator/requests", None);

    let stdout = ok(s.dbxc(&[
        "--json",
        "download",
        "/opts",
        local.to_str().unwrap(),
        "--overwrite",
        "if-newer",
        "--keep-dates",
    ]));
    let reports = json_lines(&stdout);
    let outcome = |name: &str| {
        reports
            .iter()
            .find(|r| r["relative_path"] == name)
            .unwrap_or_else(|| panic!("no report for {name}: {stdout}"))
            .clone()
    };
    assert_eq!(outcome("old.txt")["outcome"], "downloaded", "{stdout}");
    assert_eq!(outcome("fresh.txt")["outcome"], "downloaded", "{stdout}");
    let skipped = outcome("new.txt");
    assert_eq!(skipped["outcome"], "skipped", "{stdout}");
    // The server's reason (dbxc has no overwrite rules of its own any more).
    let reason = skipped["skipped_reason"].as_str().unwrap();
    assert!(reason.contains("is not older than the source"), "{reason}");

    assert_eq!(std::fs::read(local.join("old.txt")).unwrap(), b"remote old");
    assert_eq!(
        std::fs::read(local.join("fresh.txt")).unwrap(),
        b"remote fresh"
    );
    assert_eq!(std::fs::read(local.join("new.txt")).unwrap(), b"local new");
    assert_eq!(s.download_requests(), 2, "the skipped file was not fetched");
    // --keep-dates: the time the server sent (Dropbox's client_modified).
    let remote_time = UNIX_EPOCH + Duration::from_secs(REMOTE_TIME);
    assert_eq!(mtime(&local.join("old.txt")), remote_time);
    assert_eq!(mtime(&local.join("fresh.txt")), remote_time);
    assert_eq!(
        mtime(&local.join("new.txt")),
        UNIX_EPOCH + Duration::from_secs(REMOTE_TIME + 1000),
        "a skipped file is not touched"
    );

    // never: everything held stays, and nothing is fetched.
    s.emulator.control("DELETE", "/__emulator/requests", None);
    let stdout = ok(s.dbxc(&[
        "--json",
        "download",
        "/opts",
        local.to_str().unwrap(),
        "--overwrite",
        "never",
    ]));
    assert!(
        json_lines(&stdout)
            .iter()
            .all(|r| r["outcome"] == "skipped"),
        "{stdout}"
    );
    assert_eq!(s.download_requests(), 0);
}

#[test]
fn delete_source_keeps_a_source_changed_during_its_download() {
    const MIB: usize = 1024 * 1024;
    let s = Setup::start();
    let old = random_chunk(7, 0, 3 * MIB);
    let new = b"changed in Dropbox meanwhile".to_vec();
    let (status, meta) = s.emulator.http().upload("/src/big.bin", old.clone());
    assert_eq!(status, 200, "{meta}");
    let (status, meta) = s
        .emulator
        .http()
        .upload("/src/small.txt", b"small".to_vec());
    assert_eq!(status, 200, "{meta}");
    s.emulator.control("DELETE", "/__emulator/requests", None);

    // Slow enough that the file can change in Dropbox while dbxc downloads it.
    s.emulator.control(
        "POST",
        "/__emulator/network",
        Some(json!({ "bandwidth_bytes_per_sec": MIB })),
    );
    let local = s.work.path().join("local");
    let child = dbxc_spawn(
        &s.server.url,
        &[
            "--connection",
            CONNECTION,
            "--json",
            "download",
            "/src",
            local.to_str().unwrap(),
            "--delete-source",
        ],
    );
    wait_until(
        Duration::from_secs(60),
        "big.bin's partial file to have bytes",
        || {
            std::fs::read_dir(&local).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    e.file_name().to_string_lossy().starts_with(".big.bin.")
                        && e.metadata().is_ok_and(|m| m.len() > 0)
                })
            })
        },
    );
    let (status, meta) = s.emulator.http().upload("/src/big.bin", new.clone());
    assert_eq!(status, 200, "{meta}");
    s.emulator.control(
        "POST",
        "/__emulator/network",
        Some(json!({ "bandwidth_bytes_per_sec": 0 })),
    );
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "a source that was not deleted is a failure\nstdout: {stdout}\nstderr: {stderr}"
    );
    let reports = json_lines(&stdout);
    let big = reports
        .iter()
        .find(|r| r["relative_path"] == "big.bin")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(big["outcome"], "downloaded", "{big}");
    assert_eq!(big["source_deleted"], false, "{big}");
    assert_eq!(
        big["source_delete_error"]["reason"], "REVISION_CHANGED",
        "{big}"
    );
    // What landed is the revision that was downloaded; Dropbox keeps the new one.
    assert_eq!(
        file_content_hash(&local.join("big.bin")),
        content_hash(&old)
    );
    assert_eq!(
        s.emulator.download("/src/big.bin").unwrap(),
        new,
        "the changed source is kept"
    );
    // The unchanged source was deleted after its download.
    let small = reports
        .iter()
        .find(|r| r["relative_path"] == "small.txt")
        .unwrap();
    assert_eq!(small["source_deleted"], true, "{small}");
    assert!(s.emulator.metadata("/src/small.txt").is_none());
    assert_eq!(std::fs::read(local.join("small.txt")).unwrap(), b"small");
}
