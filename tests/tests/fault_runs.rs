//! A 256 MiB upload and a 256 MiB download through the service finish with the content hash
//! of the bytes sent, while the emulator injects faults of every kind it advertises:
//! connection resets, 401 expired token (a real expiry: the emulator's tokens are expired
//! mid-transfer), 429 with Retry-After 1 and 503, each at least once in the upload and at
//! least once in the download (asserted, and the count of each printed), on top of 10% 429
//! and 5% 503 drawn at random. The upload's counted 429 and 503 come before the request body
//! is read (then drained, or the connection closed) or after it (`"phase"`), as the seed
//! decides.
//!
//! Reproducible: one seed decides the file's bytes, where each counted fault falls, its
//! phase, and the random draws. The seed is printed; `FAULT_RUNS_SEED=<n>` replays it.
//! And a caller that cancels a download mid-file stops the Dropbox read at once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dropbox_connector_proto::v1 as pb;
use dropbox_connector_tests::{
    ContentHasher, EmulatorProcess, ServerProcess, grpc, random_chunk, wait_until,
};
use pb::download_files_response::Message as Down;
use pb::upload_files_request::Message as Up;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

const MIB: u64 = 1024 * 1024;
const FILE_SIZE: u64 = 256 * MIB;
/// The largest chunk the service takes.
const CHUNK: u64 = dropbox_connector_proto::MAX_CHUNK_BYTES as u64;
/// The service sends 8 MiB pieces: a start, about 30 appends and a finish.
const APPENDS: u64 = 30;
const APP_KEY: &str = "fault-app";
const APP_SECRET: &str = "fault-secret";
/// The fault kinds the emulator offers that a transfer must survive.
const KINDS: [&str; 4] = ["reset", "401", "429", "503"];

/// The emulator, the service, and a connection holding a refresh token and the app's key
/// (so a token expiry heals by itself).
struct Setup {
    emulator: EmulatorProcess,
    server: ServerProcess,
    channel: tonic::transport::Channel,
    connection: String,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    // The harness is blocking: keep it off the runtime's async context.
    let (emulator, minted, server) = tokio::task::block_in_place(|| {
        let emulator =
            EmulatorProcess::start(dir.path(), &["--app", &format!("{APP_KEY}:{APP_SECRET}")]);
        let minted = emulator.control(
            "POST",
            "/__emulator/tokens",
            Some(json!({ "app_key": APP_KEY })),
        );
        let server = ServerProcess::start(
            dir.path(),
            &dir.path().join("server-data"),
            &emulator.base_url,
        );
        (emulator, minted, server)
    });
    let channel = grpc::channel(&server.url).await;
    let connection = grpc::create_connection(
        &channel,
        "faulty",
        minted["access_token"].as_str().unwrap(),
        minted["refresh_token"].as_str().unwrap(),
        Some((APP_KEY, APP_SECRET)),
    )
    .await;
    Setup {
        emulator,
        server,
        channel,
        connection,
        _dir: dir,
    }
}

/// A control call from async code (the harness's HTTP client is blocking).
fn control(emulator: &EmulatorProcess, method: &str, path: &str, body: Option<Value>) -> Value {
    tokio::task::block_in_place(|| emulator.control(method, path, body))
}

/// The run's seed: `FAULT_RUNS_SEED` (decimal or 0x-hex) or a fresh one.
fn run_seed() -> u64 {
    let parsed = std::env::var("FAULT_RUNS_SEED").ok().map(|v| {
        let v = v.trim();
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => v.parse(),
        }
        .unwrap_or_else(|e| panic!("FAULT_RUNS_SEED={v:?}: {e}"))
    });
    parsed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    })
}

/// splitmix64: the plan's draws, all from the run's seed.
struct Plan(u64);

impl Plan {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// When a status fault answers: before the body is read (then drained, or the
    /// connection closed), or after it.
    fn phase(&mut self) -> &'static str {
        ["early", "early_close", "after_body"][self.below(3) as usize]
    }
}

fn add_fault(emulator: &EmulatorProcess, fault: Value) {
    println!("  fault: {fault}");
    control(emulator, "POST", "/__emulator/faults", Some(fault));
}

/// 10% 429 (Retry-After 1, as `too_many_write_operations` on writes) and 5% 503 on every
/// files route, seeded. Faults are tried in order, so the 503 share is taken of the 90% left.
fn add_background_faults(emulator: &EmulatorProcess, plan: &mut Plan) {
    add_fault(
        emulator,
        json!({"route": "files/*", "kind": "status", "status": 429, "retry_after": 1,
               "reason": "too_many_write_operations", "percent": 10.0, "seed": plan.next()}),
    );
    add_fault(
        emulator,
        json!({"route": "files/*", "kind": "status", "status": 503, "percent": 5.0 / 0.9,
               "seed": plan.next()}),
    );
}

/// How often each fault kind fired, from the emulator's fault counters (reset, 429, 503)
/// and its request log since `since_seq` (401: the expired token was presented).
fn fired(emulator: &EmulatorProcess, since_seq: u64) -> (BTreeMap<&'static str, u64>, u64) {
    let mut counts: BTreeMap<&'static str, u64> = KINDS.iter().map(|k| (*k, 0)).collect();
    let faults = control(emulator, "GET", "/__emulator/faults", None);
    for f in faults["faults"].as_array().unwrap() {
        let n = f["fired"].as_u64().unwrap();
        let kind = match (f["kind"].as_str().unwrap(), f["status"].as_u64()) {
            ("reset", _) => "reset",
            ("status", Some(429) | None) => "429",
            ("status", Some(503)) => "503",
            ("status", Some(401)) => "401",
            other => panic!("a fault this run does not set: {other:?}"),
        };
        *counts.get_mut(kind).unwrap() += n;
    }
    let log = control(emulator, "GET", "/__emulator/requests", None);
    let mut last_seq = since_seq;
    for entry in log["requests"].as_array().unwrap() {
        let seq = entry["seq"].as_u64().unwrap_or(0);
        if seq <= since_seq {
            continue;
        }
        last_seq = last_seq.max(seq);
        if entry["status"] == 401 && entry["fault"].is_null() {
            *counts.get_mut("401").unwrap() += 1;
        }
    }
    (counts, last_seq)
}

fn report_and_check(what: &str, counts: &BTreeMap<&'static str, u64>) {
    let shown: Vec<String> = counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    println!("{what}: faults fired: {}", shown.join(", "));
    for kind in KINDS {
        assert!(
            counts[kind] >= 1,
            "{what}: no {kind} fault fired: {counts:?}"
        );
    }
}

/// The UploadFiles messages for one generated file, lazily: a chunk is made when tonic
/// asks for it, hashed on the way (the hash sent lands in `sent_hash`), and `at_half` runs
/// once half the bytes are out.
fn upload_messages(
    connection: &str,
    seed: u64,
    sent_hash: Arc<Mutex<Option<String>>>,
    mut at_half: impl FnMut() + Send + 'static,
) -> impl tokio_stream::Stream<Item = pb::UploadFilesRequest> + Send + 'static {
    let chunks = FILE_SIZE.div_ceil(CHUNK);
    let head = [
        grpc::spec(connection, "/faults"),
        grpc::message(Up::FileHeader(pb::FileHeader {
            relative_path: "big.bin".into(),
            size: Some(FILE_SIZE),
            ..Default::default()
        })),
    ];
    let mut hasher = Some(ContentHasher::default());
    let body = (0..=chunks).map(move |i| {
        if i == chunks {
            let hash = hasher.take().unwrap().finish();
            *sent_hash.lock().unwrap() = Some(hash.clone());
            return grpc::message(Up::FileEnd(pb::FileEnd { content_hash: hash }));
        }
        if i == chunks / 2 {
            at_half();
        }
        let data = random_chunk(seed, i, CHUNK.min(FILE_SIZE - i * CHUNK) as usize);
        hasher.as_mut().unwrap().update(&data);
        grpc::message(Up::Chunk(pb::DataChunk {
            offset: i * CHUNK,
            data,
        }))
    });
    tokio_stream::iter(head.into_iter().chain(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_upload_and_download_survive_every_fault_kind() {
    let seed = run_seed();
    println!("fault_runs seed: {seed} (FAULT_RUNS_SEED={seed} replays this run)");
    let mut plan = Plan(seed);
    let s = setup().await;

    // Upload: one reset, one 429 and one 503 on appends the seed picks (each rule counts
    // only the appends that reach it), the token expires when half the bytes have been
    // handed to the service, and the seeded background faults.
    add_fault(
        &s.emulator,
        json!({"route": "files/upload_session/append_v2", "kind": "reset",
               "phase": "request", "after": plan.below(APPENDS / 3), "times": 1}),
    );
    for status in [429, 503] {
        add_fault(
            &s.emulator,
            json!({"route": "files/upload_session/append_v2", "kind": "status",
                   "status": status, "retry_after": 1, "phase": plan.phase(),
                   "after": plan.below(APPENDS / 3), "times": 1}),
        );
    }
    add_background_faults(&s.emulator, &mut plan);
    let base_url = s.emulator.base_url.clone();
    let expire = move || {
        let r = tokio::task::block_in_place(|| {
            reqwest::blocking::Client::new()
                .post(format!("{base_url}/__emulator/tokens/expire"))
                .send()
        });
        assert!(r.unwrap().status().is_success());
    };
    let mut expired_once = Some(expire);
    let sent_hash = Arc::new(Mutex::new(None));
    let messages = upload_messages(&s.connection, seed, sent_hash.clone(), move || {
        if let Some(expire) = expired_once.take() {
            expire();
        }
    });
    let response = dropbox_connector_tests::upload_results(
        grpc::cloud(&s.channel).upload_files(messages).await,
    )
    .await
    .unwrap();
    let expected = sent_hash
        .lock()
        .unwrap()
        .clone()
        .expect("the whole file was sent");
    let uploaded = match &response.results[0].outcome {
        Some(pb::file_result::Outcome::Uploaded(m)) => m.clone(),
        other => panic!("upload failed (seed {seed}): {other:?}"),
    };
    assert_eq!(uploaded.size, FILE_SIZE);
    assert_eq!(uploaded.content_hash, expected);
    let (up, last_seq) = fired(&s.emulator, 0);
    report_and_check("upload", &up);
    // The faults go before the test reads the emulator's state itself: its own read of
    // files/* must not meet the background 429s and 503s meant for the service.
    control(&s.emulator, "DELETE", "/__emulator/faults", None);
    let meta = tokio::task::block_in_place(|| s.emulator.metadata("/faults/big.bin")).unwrap();
    assert_eq!(
        meta["content_hash"],
        expected.as_str(),
        "the emulator's own hash"
    );

    // Download: a reset (the response cut halfway), a 429 and a 503 on the download
    // requests, in an order the seed picks; the token expires once 32 MiB have arrived,
    // so the request after the cut meets it.
    let mut download_faults = vec![
        json!({"route": "files/download", "kind": "reset", "phase": "response", "times": 1}),
        json!({"route": "files/download", "kind": "status", "status": 429, "retry_after": 1,
               "times": 1}),
        json!({"route": "files/download", "kind": "status", "status": 503, "times": 1}),
    ];
    for i in (1..download_faults.len()).rev() {
        download_faults.swap(i, plan.below(i as u64 + 1) as usize);
    }
    for fault in download_faults {
        add_fault(&s.emulator, fault);
    }
    add_background_faults(&s.emulator, &mut plan);
    let mut stream = grpc::cloud(&s.channel)
        .download_files(pb::DownloadFilesRequest {
            connection: s.connection.clone(),
            selection: Some(pb::download_files_request::Selection::Items(pb::ItemRefs {
                items: vec![pb::ItemRef {
                    path: "/faults/big.bin".into(),
                    rev: String::new(),
                    ..Default::default()
                }],
            })),
            range: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut hasher = ContentHasher::default();
    let mut received = 0u64;
    let mut end = None;
    let mut expired = false;
    while let Some(message) = stream.next().await {
        match message.unwrap().message.unwrap() {
            Down::Header(h) => assert_eq!(h.length, FILE_SIZE),
            Down::Chunk(c) => {
                assert_eq!(c.offset, received, "chunks arrive in order, without gaps");
                hasher.update(&c.data);
                received += c.data.len() as u64;
                if received >= 32 * MIB && !expired {
                    expired = true;
                    control(&s.emulator, "POST", "/__emulator/tokens/expire", None);
                }
            }
            Down::End(e) => end = Some(e),
            Down::Skipped(s) => panic!("no overwrite policy was set, yet {s:?}"),
            Down::Error(e) => panic!("download failed (seed {seed}): {e:?}"),
        }
    }
    let end = end.expect("a DownloadEnd");
    assert_eq!(received, FILE_SIZE);
    assert_eq!(end.bytes_sent, FILE_SIZE);
    assert_eq!(end.content_hash, expected);
    assert_eq!(
        hasher.finish(),
        expected,
        "the bytes received hash to Dropbox's hash"
    );
    let (down, _) = fired(&s.emulator, last_seq);
    report_and_check("download", &down);
    drop(s.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_download_stops_the_dropbox_read() {
    const SIZE: u64 = 32 * MIB;
    let s = setup().await;
    let chunks: Vec<pb::UploadFilesRequest> = [
        grpc::spec(&s.connection, "/cancel"),
        grpc::message(Up::FileHeader(pb::FileHeader {
            relative_path: "slow.bin".into(),
            size: Some(SIZE),
            ..Default::default()
        })),
    ]
    .into_iter()
    .chain((0..SIZE / CHUNK).map(|i| {
        grpc::message(Up::Chunk(pb::DataChunk {
            offset: i * CHUNK,
            data: random_chunk(7, i, CHUNK as usize),
        }))
    }))
    .chain([grpc::message(Up::FileEnd(pb::FileEnd::default()))])
    .collect();
    let r = dropbox_connector_tests::upload_results(
        grpc::cloud(&s.channel)
            .upload_files(tokio_stream::iter(chunks))
            .await,
    )
    .await
    .unwrap();
    dropbox_connector_tests::assert_all_uploaded(&r, "the upload under a slow network");

    // 1 MiB/s: the whole file would take 32 s to leave the emulator.
    control(
        &s.emulator,
        "POST",
        "/__emulator/network",
        Some(json!({"bandwidth_bytes_per_sec": MIB})),
    );
    let mut stream = grpc::cloud(&s.channel)
        .download_files(pb::DownloadFilesRequest {
            connection: s.connection.clone(),
            selection: Some(pb::download_files_request::Selection::Items(pb::ItemRefs {
                items: vec![pb::ItemRef {
                    path: "/cancel/slow.bin".into(),
                    rev: String::new(),
                    ..Default::default()
                }],
            })),
            range: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Read until the first data arrives, then walk away.
    loop {
        match stream.next().await.unwrap().unwrap().message.unwrap() {
            Down::Chunk(_) => break,
            Down::Header(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(stream);
    let emulator = &s.emulator;
    tokio::task::block_in_place(|| {
        wait_until(
            Duration::from_secs(15),
            "the emulator's download body to be dropped",
            || emulator.control("GET", "/__emulator/downloads", None)["open_bodies"] == 0,
        )
    });
    let downloads = control(&s.emulator, "GET", "/__emulator/downloads", None);
    assert_eq!(downloads["opened"], 1, "{downloads}");
    let served = downloads["bytes_served"].as_u64().unwrap();
    println!("cancelled download: the emulator served {served} of {SIZE} bytes");
    assert!(
        served < SIZE / 2,
        "the Dropbox read stopped soon after the caller left: {served} of {SIZE} bytes served"
    );
}
