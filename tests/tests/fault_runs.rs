//! Acceptance (issue 5, line 1): a 256 MiB upload and a 256 MiB download through the
//! service finish with identical content hashes while the emulator injects 10% 429 with
//! Retry-After 1, 5% 503, one connection reset in the middle of the transfer and one token
//! expiry. And a caller that cancels a download mid-file stops the Dropbox read at once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

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
const APP_KEY: &str = "fault-app";
const APP_SECRET: &str = "fault-secret";

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

/// 10% 429 (Retry-After 1, as `too_many_write_operations` on writes) and 5% 503 on every
/// files route. Faults are tried in order, so the 503 share is taken of the 90% left.
fn add_background_faults(emulator: &EmulatorProcess) {
    for fault in [
        json!({"route": "files/*", "kind": "status", "status": 429, "retry_after": 1,
               "reason": "too_many_write_operations", "percent": 10.0}),
        json!({"route": "files/*", "kind": "status", "status": 503, "percent": 5.0 / 0.9}),
    ] {
        control(emulator, "POST", "/__emulator/faults", Some(fault));
    }
}

/// What the emulator's request log shows of the faults since `since_seq`.
#[derive(Debug, Default)]
struct Seen {
    requests: u64,
    rate_limited: u64,
    unavailable: u64,
    resets: u64,
    expired_token: u64,
    last_seq: u64,
}

fn seen(emulator: &EmulatorProcess, since_seq: u64) -> Seen {
    let log = control(emulator, "GET", "/__emulator/requests", None);
    let mut s = Seen {
        last_seq: since_seq,
        ..Default::default()
    };
    for entry in log["requests"].as_array().unwrap() {
        let seq = entry["seq"].as_u64().unwrap_or(0);
        if seq <= since_seq {
            continue;
        }
        s.last_seq = s.last_seq.max(seq);
        s.requests += 1;
        match entry["status"].as_u64() {
            Some(429) => s.rate_limited += 1,
            Some(503) => s.unavailable += 1,
            Some(401) => s.expired_token += 1,
            _ => {}
        }
        if entry["fault"] == "reset" {
            s.resets += 1;
        }
    }
    s
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

fn report(what: &str, s: &Seen) {
    println!(
        "{what}: {} Dropbox requests; retries seen: {} x 429, {} x 503, {} reset(s), {} x 401 expired token",
        s.requests, s.rate_limited, s.unavailable, s.resets, s.expired_token
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_upload_and_download_survive_injected_faults() {
    const SEED: u64 = 0x5eed_f00d;
    let s = setup().await;

    // Upload: one reset in the body of the 10th append (of ~31), the token expires when
    // half the bytes have been handed to the service.
    control(
        &s.emulator,
        "POST",
        "/__emulator/faults",
        Some(
            json!({"route": "files/upload_session/append_v2", "kind": "reset",
                    "phase": "request", "after": 9, "count": 1}),
        ),
    );
    add_background_faults(&s.emulator);
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
    let messages = upload_messages(&s.connection, SEED, sent_hash.clone(), move || {
        if let Some(expire) = expired_once.take() {
            expire();
        }
    });
    let response = grpc::cloud(&s.channel)
        .upload_files(messages)
        .await
        .unwrap()
        .into_inner();
    let expected = sent_hash
        .lock()
        .unwrap()
        .clone()
        .expect("the whole file was sent");
    let uploaded = match &response.results[0].outcome {
        Some(pb::file_result::Outcome::Uploaded(m)) => m.clone(),
        other => panic!("upload failed: {other:?}"),
    };
    assert_eq!(uploaded.size, FILE_SIZE);
    assert_eq!(uploaded.content_hash, expected);
    let meta = tokio::task::block_in_place(|| s.emulator.metadata("/faults/big.bin")).unwrap();
    assert_eq!(
        meta["content_hash"],
        expected.as_str(),
        "the emulator's own hash"
    );
    let up = seen(&s.emulator, 0);
    report("upload", &up);
    assert!(up.resets >= 1, "the append reset fired: {up:?}");
    assert!(up.expired_token >= 1, "the token expiry was hit: {up:?}");

    // Download: the first response is cut halfway, the token expires on the way.
    control(&s.emulator, "DELETE", "/__emulator/faults", None);
    control(
        &s.emulator,
        "POST",
        "/__emulator/faults",
        Some(json!({"route": "files/download", "kind": "reset", "phase": "response", "count": 1})),
    );
    add_background_faults(&s.emulator);
    let mut stream = grpc::cloud(&s.channel)
        .download_files(pb::DownloadFilesRequest {
            connection: s.connection.clone(),
            selection: Some(pb::download_files_request::Selection::Items(pb::ItemRefs {
                items: vec![pb::ItemRef {
                    path: "/faults/big.bin".into(),
                    rev: String::new(),
                }],
            })),
            range: None,
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
            Down::Error(e) => panic!("download failed: {e:?}"),
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
    let down = seen(&s.emulator, up.last_seq);
    report("download", &down);
    assert!(down.resets >= 1, "the download reset fired: {down:?}");
    assert!(
        down.expired_token >= 1,
        "the token expiry was hit: {down:?}"
    );
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
    let r = grpc::cloud(&s.channel)
        .upload_files(tokio_stream::iter(chunks))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(
            r.results[0].outcome,
            Some(pb::file_result::Outcome::Uploaded(_))
        ),
        "{r:?}"
    );

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
                }],
            })),
            range: None,
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
