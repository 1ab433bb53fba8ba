//! A download interrupted at 50% continues from where it
//! stopped when `dbxc download` is run again, and is verified; a byte corrupted by the
//! emulator is detected and the file is not kept.
//!
//! The emulator's network shaping slows the first download down so that it can be killed
//! (SIGKILL) halfway; its request log shows where the second run started (the Range header);
//! its `corrupt` fault flips one byte in the middle of a files/download response.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::time::Duration;

use dropbox_connector_tests::{
    EmulatorProcess, ServerProcess, dbxc, dbxc_spawn, file_content_hash, ok,
    server_with_connection, wait_until, write_random_file,
};
use serde_json::{Value, json};

const CONNECTION: &str = "resume";
const REMOTE_FOLDER: &str = "/dl";
const NAME: &str = "big.bin";

/// An emulator and a server with one file uploaded through dbxc.
struct Setup {
    work: tempfile::TempDir,
    emulator: EmulatorProcess,
    server: ServerProcess,
    source: PathBuf,
    content_hash: String,
    rev: String,
}

impl Setup {
    fn new(size: u64, seed: u64) -> Setup {
        let work = tempfile::tempdir().unwrap();
        let emulator = EmulatorProcess::start(work.path(), &[]);
        let server = server_with_connection(work.path(), &emulator, CONNECTION);
        let upload_dir = work.path().join("upload");
        std::fs::create_dir_all(&upload_dir).unwrap();
        let source = upload_dir.join(NAME);
        write_random_file(&source, size, seed);
        ok(dbxc(
            &server.url,
            &[
                "--connection",
                CONNECTION,
                "upload",
                source.to_str().unwrap(),
                REMOTE_FOLDER,
            ],
        ));
        let remote = emulator
            .metadata(&format!("{REMOTE_FOLDER}/{NAME}"))
            .expect("the upload is in the emulator");
        let content_hash = file_content_hash(&source);
        assert_eq!(remote["content_hash"].as_str(), Some(content_hash.as_str()));
        Setup {
            rev: remote["rev"].as_str().unwrap().to_string(),
            work,
            emulator,
            server,
            source,
            content_hash,
        }
    }

    fn local_dir(&self) -> PathBuf {
        let dir = self.work.path().join("local");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The arguments of `dbxc [--json] download /dl/big.bin LOCAL_DIR`.
    fn download_args(&self, local_dir: &Path, json: bool) -> Vec<String> {
        let mut args = vec!["--connection", CONNECTION];
        if json {
            args.push("--json");
        }
        let remote = format!("{REMOTE_FOLDER}/{NAME}");
        args.extend(["download", &remote, local_dir.to_str().unwrap()]);
        args.into_iter().map(str::to_string).collect()
    }

    fn download(&self, local_dir: &Path, json: bool) -> std::process::Output {
        let args = self.download_args(local_dir, json);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        dbxc(&self.server.url, &args)
    }

    /// Where dbxc keeps the bytes of this file's revision until they are verified.
    fn partial(&self, local_dir: &Path) -> PathBuf {
        local_dir.join(format!(".{NAME}.{}.dbxc-partial", self.rev))
    }

    /// The files/download requests the emulator logged since its log was last cleared.
    fn download_requests(&self) -> Vec<Value> {
        let log = self.emulator.control("GET", "/__emulator/requests", None);
        log["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["route"] == "files/download")
            .cloned()
            .collect()
    }

    fn clear_request_log(&self) {
        self.emulator
            .control("DELETE", "/__emulator/requests", None);
    }

    fn set_bandwidth(&self, bytes_per_sec: u64) {
        self.emulator.control(
            "POST",
            "/__emulator/network",
            Some(json!({ "bandwidth_bytes_per_sec": bytes_per_sec })),
        );
    }

    fn corrupt_next_download(&self) {
        self.emulator.control(
            "POST",
            "/__emulator/faults",
            Some(json!({ "route": "files/download", "kind": "corrupt", "count": 1 })),
        );
    }

    /// How often injected faults fired so far.
    fn faults_fired(&self) -> u64 {
        let faults = self.emulator.control("GET", "/__emulator/faults", None);
        faults["faults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["fired"].as_u64().unwrap_or(0))
            .sum()
    }
}

/// The first byte a request asked for with `Range: bytes=N-`, or None without a Range.
fn range_start(request: &Value) -> Option<u64> {
    let range = request["headers"]["range"].as_str()?;
    let spec = range.strip_prefix("bytes=").expect("a bytes range");
    let (start, _) = spec.split_once('-').expect("bytes=START-[END]");
    Some(start.parse().expect("a numeric range start"))
}

fn partials_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".dbxc-partial"))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_download_killed_halfway_resumes_where_it_stopped_and_is_verified() {
    const SIZE: u64 = 64 * 1024 * 1024;
    let setup = Setup::new(SIZE, 0x7e5);
    let local_dir = setup.local_dir();
    let dest = local_dir.join(NAME);
    let partial = setup.partial(&local_dir);

    // Slow enough that the first run is still busy when it holds half of the file.
    setup.set_bandwidth(4 * 1024 * 1024);
    let args = setup.download_args(&local_dir, true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut first = dbxc_spawn(&setup.server.url, &args);
    wait_until(
        Duration::from_secs(120),
        "the partial file to hold half of the file",
        || {
            if let Ok(Some(status)) = first.try_wait() {
                panic!("the first dbxc run ended ({status}) before it could be interrupted");
            }
            std::fs::metadata(&partial).is_ok_and(|m| m.len() >= SIZE / 2)
        },
    );
    first.kill().expect("SIGKILL dbxc");
    let killed = first.wait_with_output().unwrap();
    assert!(
        !killed.status.success(),
        "the first run was killed: {killed:?}"
    );

    let kept = std::fs::metadata(&partial)
        .expect("the partial survives the kill")
        .len();
    assert!(!dest.exists(), "nothing unverified at the destination");
    assert!(
        (SIZE / 2..SIZE).contains(&kept),
        "the partial holds {kept} of {SIZE} bytes"
    );

    setup.set_bandwidth(0);
    setup.clear_request_log();
    let second = setup.download(&local_dir, true);
    let stdout = ok(second.clone());
    let stderr = text(&second.stderr);

    assert_eq!(std::fs::metadata(&dest).unwrap().len(), SIZE);
    assert_eq!(
        file_content_hash(&dest),
        setup.content_hash,
        "the resumed download is byte-identical to the source"
    );
    assert!(!partial.exists(), "the partial was moved into place");
    assert!(partials_in(&local_dir).is_empty(), "no partial left behind");
    assert!(
        stderr.contains(&format!("resuming {NAME} at {kept} bytes")),
        "dbxc says where it resumed: {stderr}"
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(report["outcome"], "downloaded");
    assert_eq!(report["resumed_from"], kept);
    assert_eq!(report["content_hash"], setup.content_hash.as_str());

    // The emulator saw one download in the second run, asking for the rest only.
    let requests = setup.download_requests();
    assert_eq!(requests.len(), 1, "one files/download: {requests:?}");
    let start = range_start(&requests[0]).expect("the second run sent a Range header");
    assert_eq!(
        start, kept,
        "the second run started where the first stopped"
    );
    assert!(start >= SIZE / 2);
    assert_eq!(requests[0]["status"], 206);
    let fetched = SIZE - start;
    println!(
        "{} MiB file: killed with {kept} bytes ({:.1}%) on disk; the second run asked for \
         bytes {start}- and fetched {fetched} bytes ({:.1}% of the file)",
        SIZE >> 20,
        kept as f64 * 100.0 / SIZE as f64,
        fetched as f64 * 100.0 / SIZE as f64
    );
    assert!(fetched * 100 < SIZE * 60, "the second run fetched < 60%");
}

#[test]
fn a_corrupted_byte_is_detected_and_the_file_is_not_kept() {
    // Three 4 MiB content_hash blocks and a bit.
    const SIZE: u64 = 12 * 1024 * 1024 + 4321;
    let setup = Setup::new(SIZE, 0xc0ffee);
    let local_dir = setup.local_dir();
    let dest = local_dir.join(NAME);
    let partial = setup.partial(&local_dir);

    // 1. A whole-file download replacing an existing local file: the flipped byte is caught
    //    (by the server, which sees the whole file) and the local file stays as it was.
    std::fs::write(&dest, b"the local copy from yesterday\n").unwrap();
    setup.corrupt_next_download();
    let run = setup.download(&local_dir, false);
    let stderr = text(&run.stderr);
    assert_eq!(
        setup.faults_fired(),
        1,
        "the emulator corrupted the download"
    );
    assert_eq!(run.status.code(), Some(1), "the run fails: {stderr}");
    assert!(
        stderr.contains("CONTENT_HASH_MISMATCH"),
        "the error names the content hash mismatch: {stderr}"
    );
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        b"the local copy from yesterday\n",
        "the existing local file is unchanged"
    );
    assert!(partials_in(&local_dir).is_empty(), "no partial left behind");

    // 2. A resumed download: the server sees only the rest of the file, so only dbxc's
    //    check of the whole file can catch the flipped byte. The partial stands for an
    //    earlier run interrupted after one block and a bit.
    std::fs::remove_file(&dest).unwrap();
    let first_part = 4 * 1024 * 1024 + 1000;
    let source = std::fs::read(&setup.source).unwrap();
    std::fs::write(&partial, &source[..first_part]).unwrap();
    setup.clear_request_log();
    setup.corrupt_next_download();
    let run = setup.download(&local_dir, false);
    let stderr = text(&run.stderr);
    assert_eq!(
        setup.faults_fired(),
        2,
        "the emulator corrupted the download"
    );
    let requests = setup.download_requests();
    assert_eq!(
        requests.iter().map(range_start).collect::<Vec<_>>(),
        [Some(first_part as u64)],
        "the run resumed with a range: {requests:?}"
    );
    assert_eq!(run.status.code(), Some(1), "the run fails: {stderr}");
    assert!(
        stderr.contains("CONTENT_HASH_MISMATCH") && stderr.contains("content hash mismatch"),
        "the error names the content hash mismatch: {stderr}"
    );
    assert!(!dest.exists(), "the corrupted file is not kept");
    assert!(
        partials_in(&local_dir).is_empty(),
        "the corrupted partial is removed: {:?}",
        partials_in(&local_dir)
    );

    // 3. Without the fault, the next run downloads the whole file again and keeps it.
    ok(setup.download(&local_dir, false));
    assert_eq!(file_content_hash(&dest), setup.content_hash);
    assert!(partials_in(&local_dir).is_empty());
}

#[test]
fn a_folder_download_resumes_only_the_file_that_has_a_partial() {
    const SIZE: u64 = 5 * 1024 * 1024 + 77;
    let setup = Setup::new(SIZE, 0xf01d);
    let other = setup.work.path().join("upload/other.bin");
    write_random_file(&other, 3 * 1024 * 1024, 0xbeef);
    ok(dbxc(
        &setup.server.url,
        &[
            "--connection",
            CONNECTION,
            "upload",
            other.to_str().unwrap(),
            REMOTE_FOLDER,
        ],
    ));
    let local_dir = setup.local_dir();
    let source = std::fs::read(&setup.source).unwrap();
    let first_part = 1024 * 1024 + 5;
    std::fs::write(setup.partial(&local_dir), &source[..first_part]).unwrap();
    // A partial of a revision that is no longer current cannot complete this one.
    let stale = local_dir.join(format!(".{NAME}.0123456789abc.dbxc-partial"));
    std::fs::write(&stale, b"bytes of an older revision").unwrap();

    setup.clear_request_log();
    let run = dbxc(
        &setup.server.url,
        &[
            "--connection",
            CONNECTION,
            "download",
            &format!("{REMOTE_FOLDER}/"),
            local_dir.to_str().unwrap(),
        ],
    );
    let stderr = text(&run.stderr);
    ok(run);

    assert_eq!(file_content_hash(&local_dir.join(NAME)), setup.content_hash);
    assert_eq!(
        file_content_hash(&local_dir.join("other.bin")),
        file_content_hash(&other)
    );
    assert!(
        partials_in(&local_dir).is_empty(),
        "no partial left, the stale one included: {:?}",
        partials_in(&local_dir)
    );
    assert!(
        stderr.contains(&format!("resuming {NAME} at {first_part} bytes")),
        "{stderr}"
    );
    let mut starts: Vec<Option<u64>> = setup.download_requests().iter().map(range_start).collect();
    starts.sort();
    assert_eq!(
        starts,
        [None, Some(first_part as u64)],
        "one whole download and one ranged"
    );
}

#[test]
fn a_download_cut_off_by_dropbox_keeps_its_bytes_for_the_next_run() {
    const SIZE: u64 = 10 * 1024 * 1024 + 999;
    let setup = Setup::new(SIZE, 0xdead);
    let local_dir = setup.local_dir();
    let partial = setup.partial(&local_dir);

    // The emulator cuts the response halfway, as a dropped connection would, and then
    // stays down (faults apply in order: the 503s start with the next request) for longer
    // than the server's own resume attempts last.
    setup.emulator.control(
        "POST",
        "/__emulator/faults",
        Some(json!({ "route": "files/download", "kind": "reset", "count": 1 })),
    );
    setup.emulator.control(
        "POST",
        "/__emulator/faults",
        Some(json!({ "route": "files/download", "kind": "status", "status": 503, "count": 50 })),
    );
    let run = setup.download(&local_dir, false);
    let stderr = text(&run.stderr);
    assert!(setup.faults_fired() >= 2, "the emulator cut the download");
    assert_eq!(run.status.code(), Some(1), "the run fails: {stderr}");
    assert!(
        stderr.contains("run the command again to resume"),
        "dbxc says how to go on: {stderr}"
    );
    assert!(!local_dir.join(NAME).exists());
    let kept = std::fs::metadata(&partial)
        .expect("the bytes that arrived are kept")
        .len();
    assert!(kept > 0 && kept < SIZE, "{kept} of {SIZE} bytes kept");

    setup.emulator.control("DELETE", "/__emulator/faults", None);
    setup.clear_request_log();
    let run = setup.download(&local_dir, false);
    let stderr = text(&run.stderr);
    ok(run);
    assert_eq!(file_content_hash(&local_dir.join(NAME)), setup.content_hash);
    assert!(
        stderr.contains(&format!("resuming {NAME} at {kept} bytes")),
        "{stderr}"
    );
    let starts: Vec<Option<u64>> = setup.download_requests().iter().map(range_start).collect();
    assert_eq!(starts, [Some(kept)]);
    assert!(partials_in(&local_dir).is_empty());
}
