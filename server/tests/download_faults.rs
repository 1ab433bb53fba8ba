//! DownloadFiles when Dropbox misbehaves mid-file: a broken body is resumed with a Range
//! pinned to the same revision, unseen by the caller; corrupted bytes end the file with
//! DATA_LOSS / CONTENT_HASH_MISMATCH instead of a DownloadEnd.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use dropbox_connector_proto::v1 as pb;
use futures::StreamExt;
use pb::download_files_response::Message as Down;

/// What the caller saw of a one-file download.
#[derive(Debug, Default)]
struct Seen {
    bytes: Vec<u8>,
    end: Option<pb::DownloadEnd>,
    error: Option<pb::ItemError>,
}

async fn download(env: &Env, path: &str) -> Seen {
    let req = pb::DownloadFilesRequest {
        connection: CONN.into(),
        selection: Some(pb::download_files_request::Selection::Items(pb::ItemRefs {
            items: vec![pb::ItemRef {
                path: path.into(),
                rev: String::new(),
                ..Default::default()
            }],
        })),
        range: None,
        ..Default::default()
    };
    let mut stream = env.cloud().download_files(req).await.unwrap().into_inner();
    let mut seen = Seen::default();
    while let Some(m) = stream.next().await {
        match m.unwrap().message.unwrap() {
            Down::Header(_) => {}
            Down::Chunk(c) => {
                assert_eq!(c.offset as usize, seen.bytes.len(), "chunks in order");
                seen.bytes.extend_from_slice(&c.data);
            }
            Down::End(e) => seen.end = Some(e),
            Down::Skipped(s) => panic!("no overwrite policy was set, yet {s:?}"),
            Down::Error(e) => seen.error = e.error,
        }
    }
    seen
}

#[tokio::test]
async fn a_broken_body_is_resumed_from_where_it_stopped() {
    let env = Env::start().await;
    let data = bytes(5 * 1024 * 1024 + 3, 9);
    env.put("/r", "big.bin", &data, None).await;
    let rev = match env.remote("/r/big.bin").await.unwrap() {
        common::Metadata::File(f) => f.rev,
        other => panic!("{other:?}"),
    };
    env.control(
        "/__emulator/faults",
        serde_json::json!({"route": "files/download", "kind": "reset", "phase": "response", "count": 1}),
    )
    .await;
    let seen = download(&env, "/r/big.bin").await;
    assert!(seen.error.is_none(), "{:?}", seen.error);
    assert_eq!(seen.bytes, data, "the bytes arrive whole, once");
    let end = seen.end.expect("DownloadEnd");
    assert_eq!(
        end.content_hash,
        dropbox_client::content_hash::content_hash(&data)
    );
    assert_eq!(end.bytes_sent, data.len() as u64);

    // The second request asked for the rest of the same revision.
    let log = env.control_get("/__emulator/requests").await;
    let downloads: Vec<_> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["route"] == "files/download")
        .collect();
    assert_eq!(downloads.len(), 2, "{downloads:?}");
    assert_eq!(downloads[0]["fault"], "reset");
    assert_eq!(downloads[1]["arg"]["path"], format!("rev:{rev}"));
    let range = downloads[1]["headers"]["range"].as_str().unwrap();
    let from: usize = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split('-').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(from > 0 && from < data.len(), "{range}");
    assert_eq!(range, format!("bytes={from}-{}", data.len() - 1));
    env.stop().await;
}

#[tokio::test]
async fn corrupted_bytes_end_the_file_with_data_loss() {
    let env = Env::start().await;
    let data = bytes(2 * 1024 * 1024 + 11, 4);
    env.put("/c", "x.bin", &data, None).await;
    env.control(
        "/__emulator/faults",
        serde_json::json!({"route": "files/download", "kind": "corrupt", "count": 1}),
    )
    .await;
    let seen = download(&env, "/c/x.bin").await;
    assert!(seen.end.is_none(), "no DownloadEnd for bad bytes");
    let error = seen.error.expect("a DownloadError");
    assert_eq!(error.code, tonic::Code::DataLoss as i32, "{error:?}");
    assert_eq!(error.reason, "CONTENT_HASH_MISMATCH");
    env.stop().await;
}
