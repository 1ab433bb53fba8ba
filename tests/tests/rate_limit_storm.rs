//! A 429 storm (50% of requests for 30 s) under 32 concurrent uploads on one connection:
//! every file is uploaded, and the number of requests the emulator receives during the
//! storm stays under a bound only pacing the whole connection can keep.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::time::Duration;

use dropbox_connector_proto::v1 as pb;
use dropbox_connector_tests::{EmulatorProcess, ServerProcess, grpc, random_chunk};
use pb::upload_files_request::Message as Up;
use serde_json::json;

const UPLOADS: u64 = 32;
/// Small files: each is one `files/upload`, so the storm, not the bytes, sets the pace.
/// Enough of them that a client without pacing is still sending when the storm ends
/// (see the bound below).
const FILES_PER_UPLOAD: u64 = 60;
const FILE_SIZE: usize = 8 * 1024;
const STORM: Duration = Duration::from_secs(30);
/// The Retry-After the storm's 429s carry, in seconds.
const RETRY_AFTER: u64 = 1;

/// The highest sequence number in the emulator's request log.
fn last_seq(emulator: &EmulatorProcess) -> u64 {
    let log = emulator.control("GET", "/__emulator/requests", None);
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .max()
        .unwrap_or(0)
}

/// (requests, of which 429) with a sequence number in `(from, to]`.
fn requests_between(emulator: &EmulatorProcess, from: u64, to: u64) -> (u64, u64) {
    let log = emulator.control("GET", "/__emulator/requests", None);
    let window: Vec<_> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["seq"].as_u64().is_some_and(|s| s > from && s <= to))
        .cloned()
        .collect();
    let limited = window.iter().filter(|e| e["status"] == 429).count();
    (window.len() as u64, limited as u64)
}

async fn upload(channel: tonic::transport::Channel, connection: String, n: u64) -> Vec<String> {
    let mut messages = vec![grpc::spec(&connection, &format!("/storm/{n}"))];
    for f in 0..FILES_PER_UPLOAD {
        messages.push(grpc::message(Up::FileHeader(pb::FileHeader {
            relative_path: format!("f{f}.bin"),
            size: Some(FILE_SIZE as u64),
            ..Default::default()
        })));
        messages.push(grpc::message(Up::Chunk(pb::DataChunk {
            offset: 0,
            data: random_chunk(n, f, FILE_SIZE),
        })));
        messages.push(grpc::message(Up::FileEnd(pb::FileEnd::default())));
    }
    let response = dropbox_connector_tests::upload_results(
        grpc::cloud(&channel)
            .upload_files(tokio_stream::iter(messages))
            .await,
    )
    .await
    .unwrap();
    response
        .results
        .into_iter()
        .filter_map(|r| match r.outcome {
            Some(pb::file_result::Outcome::Uploaded(_)) => None,
            other => Some(format!("{}: {other:?}", r.relative_path)),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_paced_per_connection() {
    let dir = tempfile::tempdir().unwrap();
    // The harness is blocking: keep it off the runtime's async context.
    let (emulator, server) = tokio::task::block_in_place(|| {
        let emulator = EmulatorProcess::start(dir.path(), &[]);
        let server = ServerProcess::start(
            dir.path(),
            &dir.path().join("server-data"),
            &emulator.base_url,
        );
        (emulator, server)
    });
    let channel = grpc::channel(&server.url).await;
    let connection = grpc::create_connection(&channel, "storm", &emulator.token, "", None).await;

    // 50% 429 in all: a quarter as too_many_write_operations, a third of the rest as
    // too_many_requests (faults are tried in order).
    let storm_start = tokio::task::block_in_place(|| {
        for (reason, percent) in [
            ("too_many_write_operations", 25.0),
            ("too_many_requests", 100.0 / 3.0),
        ] {
            emulator.control(
                "POST",
                "/__emulator/faults",
                Some(json!({"route": "*", "kind": "status", "status": 429,
                            "retry_after": RETRY_AFTER, "reason": reason, "percent": percent})),
            );
        }
        last_seq(&emulator)
    });
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|n| tokio::spawn(upload(channel.clone(), connection.clone(), n)))
        .collect();
    tokio::time::sleep(STORM).await; // the storm's length is the point, not a guess
    let storm_end = tokio::task::block_in_place(|| {
        emulator.control("DELETE", "/__emulator/faults", None);
        last_seq(&emulator)
    });
    let mut failures = Vec::new();
    for u in uploads {
        failures.extend(u.await.unwrap());
    }
    assert!(failures.is_empty(), "every file is uploaded: {failures:?}");

    let (during_storm, rate_limited) =
        tokio::task::block_in_place(|| requests_between(&emulator, storm_start, storm_end));
    // What the bound rests on. A 429 pauses the whole connection for its Retry-After
    // (1 s): nothing new is sent while paused, so the 30 s storm holds at most
    // 30 / 1 + 1 = 31 windows in which requests go out. A window closes as soon as any
    // 429 comes back (one does for every other request), each upload has at most one
    // request in flight, and the AIMD limit halves on each 429: each upload gets about one
    // try per window, 31 x 32 = 992 in all.
    // Clients that honour Retry-After only for their own request (no shared pacing)
    // retry a 429 after 1 s but follow a success at once. Half the requests get a 429, so
    // a file takes 2 requests and 1 s on average: 2 requests a second per upload. With 20
    // files per upload that work ran out after about 20 s, at 32 x 20 x 2 = 1,280
    // requests, the bound only 22% below. With 60 files an unpaced upload is still busy
    // when the storm ends: 32 x 2 x 30 = 1,920 requests in the storm, almost twice the
    // bound.
    let windows = STORM.as_secs() / RETRY_AFTER + 1;
    let bound = windows * UPLOADS;
    let unpaced = UPLOADS * 2 * STORM.as_secs();
    println!(
        "429 storm: the emulator received {during_storm} requests in {} s ({rate_limited} answered 429); \
         bound {bound}; unpaced clients would have sent about {unpaced}",
        STORM.as_secs()
    );
    assert!(
        rate_limited > 0,
        "the storm hit the uploads ({during_storm} requests)"
    );
    assert!(
        during_storm <= bound,
        "{during_storm} requests during the storm, more than pacing allows ({bound})"
    );
    drop(server);
}
