//! Resumable uploads through the gRPC API: a client loses its stream, the server
//! crashes and restarts, QueryUpload says where to go on, and the file arrives whole; a
//! cancelled upload leaves the destination as it was; bad ids, offsets and hashes get
//! clear errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::*;
use dropbox_client::content_hash::content_hash;
use dropbox_connector_proto::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const MIB: usize = 1024 * 1024;
const BLOCK: u64 = 4 * MIB as u64;

/// Bytes that do not repeat (the kit's xorshift), so a block landing at the wrong offset
/// shows.
fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    random_chunk(seed, 0, n)
}

fn start_request(path: &str, data: &[u8]) -> pb::StartResumableUploadRequest {
    pb::StartResumableUploadRequest {
        connection: CONN.into(),
        path: path.into(),
        size: Some(data.len() as u64),
        content_hash: content_hash(data),
        ..Default::default()
    }
}

async fn start(env: &Env, req: pb::StartResumableUploadRequest) -> String {
    let r = env
        .cloud()
        .start_resumable_upload(req)
        .await
        .unwrap()
        .into_inner();
    assert!(r.skipped.is_none());
    assert!(r.upload_id.starts_with("ru-"), "{}", r.upload_id);
    r.upload_id
}

/// The messages that send `data[from..]` in chunks of 1 MiB, optionally finishing.
fn messages(
    id: &str,
    data: &[u8],
    from: usize,
    finish_hash: Option<&str>,
) -> Vec<pb::WriteResumableUploadRequest> {
    let mut out: Vec<pb::WriteResumableUploadRequest> = data[from..]
        .chunks(MIB)
        .enumerate()
        .map(|(i, chunk)| pb::WriteResumableUploadRequest {
            upload_id: if i == 0 { id.into() } else { String::new() },
            write_offset: (from + i * MIB) as u64,
            data: chunk.to_vec(),
            ..Default::default()
        })
        .collect();
    if let Some(hash) = finish_hash {
        out.push(pb::WriteResumableUploadRequest {
            upload_id: if out.is_empty() {
                id.into()
            } else {
                String::new()
            },
            write_offset: data.len() as u64,
            finish_write: true,
            content_hash: hash.into(),
            ..Default::default()
        });
    }
    out
}

async fn write(
    env: &Env,
    messages: Vec<pb::WriteResumableUploadRequest>,
) -> Result<pb::WriteResumableUploadResponse, tonic::Status> {
    env.cloud()
        .write_resumable_upload(futures::stream::iter(messages))
        .await
        .map(|r| r.into_inner())
}

async fn query(env: &Env, id: &str) -> Result<pb::QueryUploadResponse, tonic::Status> {
    env.cloud()
        .query_upload(pb::QueryUploadRequest {
            upload_id: id.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Waits until QueryUpload reports at least `at_least` persisted bytes.
async fn wait_persisted(env: &Env, id: &str, at_least: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let persisted = query(env, id).await.unwrap().persisted_size;
        if persisted >= at_least {
            return persisted;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {persisted} bytes persisted after 60 s, waiting for {at_least}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens a write stream on `id` and sends `data[..until]` into it; the caller drops it.
async fn send_part(
    env: &Env,
    id: &str,
    data: &[u8],
    until: usize,
) -> (
    mpsc::Sender<pb::WriteResumableUploadRequest>,
    tokio::task::JoinHandle<
        Result<tonic::Response<pb::WriteResumableUploadResponse>, tonic::Status>,
    >,
    u64,
) {
    let (tx, rx) = mpsc::channel(1);
    let mut client = env.cloud();
    let call =
        tokio::spawn(async move { client.write_resumable_upload(ReceiverStream::new(rx)).await });
    let mut sent = 0u64;
    for m in messages(id, &data[..until], 0, None) {
        sent += m.data.len() as u64;
        tx.send(m).await.unwrap();
    }
    (tx, call, sent)
}

fn emulator_routes(log: &serde_json::Value) -> Vec<String> {
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["route"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn clear_emulator_log(env: &Env) {
    let url = format!("{}/__emulator/requests", env.emulator.base_url());
    let r = reqwest::Client::new().delete(&url).send().await.unwrap();
    assert!(r.status().is_success());
}

#[tokio::test]
async fn resumes_after_a_lost_stream_and_a_server_crash() {
    let mut env = Env::start().await;
    let size = 64 * MIB;
    let data = random_bytes(size, 0x5eed);
    let hash = content_hash(&data);
    let id = start(&env, start_request("/resume/big.bin", &data)).await;

    // The client streams about 60% of the file and loses its stream.
    let sixty_percent = size * 6 / 10;
    let (tx, call, mut sent) = send_part(&env, &id, &data, sixty_percent).await;
    // What the server has persisted by then: whole 8 MiB pieces of what arrived.
    wait_persisted(&env, &id, 32 * MIB as u64).await;
    call.abort();
    drop(tx);

    // The server crashes and comes back.
    env.kill_server().await;
    env.restart_server(&[]).await;

    let status = query(&env, &id).await.unwrap();
    let persisted = status.persisted_size;
    assert_eq!(status.path, "/resume/big.bin");
    assert!(status.result.is_none(), "not finished yet");
    assert_eq!(persisted % BLOCK, 0, "whole blocks only: {persisted}");
    assert!(
        persisted >= 32 * MIB as u64 && persisted <= sixty_percent as u64,
        "persisted {persisted}"
    );
    assert!(
        env.remote("/resume/big.bin").await.is_none(),
        "nothing is committed before the end"
    );

    // The client goes on from there and finishes.
    let rest = messages(&id, &data, persisted as usize, Some(&hash));
    sent += rest.iter().map(|m| m.data.len() as u64).sum::<u64>();
    let done = write(&env, rest).await.unwrap();
    assert_eq!(done.persisted_size, size as u64);
    let Some(pb::file_result::Outcome::Uploaded(meta)) = done.result.unwrap().outcome else {
        panic!("not uploaded")
    };
    assert_eq!(
        (meta.size, meta.content_hash.as_str()),
        (size as u64, hash.as_str())
    );
    println!(
        "file {size} bytes; persisted before the crash {persisted}; sent in all {sent} ({:.2} x the file)",
        sent as f64 / size as f64
    );
    assert!(
        (sent as f64) < 1.5 * size as f64,
        "sent {sent} bytes for a {size}-byte file"
    );
    assert!(
        env.remote_bytes("/resume/big.bin").await == data,
        "byte-identical"
    );

    // A client that lost the answer asks again and learns the outcome.
    let again = query(&env, &id).await.unwrap();
    let Some(pb::file_result::Outcome::Uploaded(meta)) = again.result.unwrap().outcome else {
        panic!("outcome not kept")
    };
    assert_eq!(meta.content_hash, hash);
    env.stop().await;
}

#[tokio::test]
async fn a_cancelled_upload_leaves_the_destination_as_it_was() {
    let env = Env::start().await;
    let original = b"the original content".to_vec();
    env.put("/c", "existing.bin", &original, None).await;
    let data = random_bytes(24 * MIB, 9);

    for path in ["/c/new.bin", "/c/existing.bin"] {
        clear_emulator_log(&env).await;
        let id = start(&env, start_request(path, &data)).await;
        // Cancelled at 50%, after part of it reached Dropbox's session.
        let (tx, call, _) = send_part(&env, &id, &data, data.len() / 2).await;
        wait_persisted(&env, &id, 8 * MIB as u64).await;
        call.abort();
        drop(tx);
        // CancelUpload waits for the lost stream to let go of the upload.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match env
                .cloud()
                .cancel_upload(pb::CancelUploadRequest {
                    upload_id: id.clone(),
                })
                .await
            {
                Ok(_) => break,
                Err(s) => {
                    assert_eq!(reason(&s), (tonic::Code::Aborted, "UPLOAD_BUSY".into()));
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "stream never let go"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        let gone = query(&env, &id).await.unwrap_err();
        assert_eq!(
            reason(&gone),
            (tonic::Code::NotFound, "UPLOAD_NOT_FOUND".into())
        );
        let routes = emulator_routes(&env.control_get("/__emulator/requests").await);
        assert!(routes.iter().any(|r| r == "files/upload_session/append_v2"));
        assert!(
            !routes
                .iter()
                .any(|r| r == "files/upload" || r.starts_with("files/upload_session/finish")),
            "nothing was committed: {routes:?}"
        );
    }
    assert!(env.remote("/c/new.bin").await.is_none(), "no new file");
    let Some(Metadata::File(f)) = env.remote("/c/existing.bin").await else {
        panic!("existing file gone")
    };
    assert_eq!(f.size, original.len() as u64);
    assert_eq!(env.remote_bytes("/c/existing.bin").await, original);
    env.stop().await;
}

#[tokio::test]
async fn small_and_empty_files_finish_and_finishing_twice_reports_the_outcome() {
    let env = Env::start().await;
    for (path, data) in [
        ("/s/small.txt", b"hello resumable".to_vec()),
        ("/s/empty.txt", Vec::new()),
        ("/s/odd.bin", random_bytes(9 * MIB + 123, 3)),
    ] {
        let hash = content_hash(&data);
        let id = start(&env, start_request(path, &data)).await;
        let first = write(&env, messages(&id, &data, 0, Some(&hash)))
            .await
            .unwrap();
        let Some(pb::file_result::Outcome::Uploaded(meta)) = first.result.unwrap().outcome else {
            panic!("{path} not uploaded")
        };
        assert_eq!(meta.content_hash, hash);
        assert!(env.remote_bytes(path).await == data, "{path}");
        // Finishing again (a client that lost the answer) reports the same outcome.
        let again = write(&env, messages(&id, &data, data.len(), Some(&hash)))
            .await
            .unwrap();
        let Some(pb::file_result::Outcome::Uploaded(meta2)) = again.result.unwrap().outcome else {
            panic!("{path}: second finish")
        };
        assert_eq!(meta2.rev, meta.rev, "{path} committed once");
    }
    env.stop().await;
}

#[tokio::test]
async fn a_wrong_content_hash_commits_nothing_and_says_so() {
    let env = Env::start().await;
    let data = random_bytes(10 * MIB, 4);
    let mut req = start_request("/h/file.bin", &data);
    req.content_hash = String::new();
    let id = start(&env, req).await;
    let wrong = content_hash(b"something else");
    let err = write(&env, messages(&id, &data, 0, Some(&wrong)))
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::DataLoss, "CONTENT_HASH_MISMATCH".into())
    );
    assert!(err.message().contains("nothing was committed"), "{err:?}");
    assert!(env.remote("/h/file.bin").await.is_none());
    // The upload cannot succeed any more: it is gone.
    let gone = query(&env, &id).await.unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    env.stop().await;
}

#[tokio::test]
async fn bad_ids_offsets_sizes_and_concurrent_writers_get_clear_errors() {
    let env = Env::start().await;
    let data = random_bytes(10 * MIB, 5);
    let hash = content_hash(&data);

    let unknown = query(&env, "ru-0000").await.unwrap_err();
    assert_eq!(
        reason(&unknown),
        (tonic::Code::NotFound, "UPLOAD_NOT_FOUND".into())
    );
    let empty_id = query(&env, "").await.unwrap_err();
    assert_eq!(
        reason(&empty_id),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".into())
    );
    let no_id = write(
        &env,
        vec![pb::WriteResumableUploadRequest {
            data: b"x".to_vec(),
            ..Default::default()
        }],
    )
    .await
    .unwrap_err();
    assert_eq!(
        reason(&no_id),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".into())
    );
    let mut root = start_request("/", &data);
    root.path = "/".into();
    let err = env.cloud().start_resumable_upload(root).await.unwrap_err();
    assert_eq!(reason(&err).0, tonic::Code::InvalidArgument);
    let mut bad_hash = start_request("/e/a.bin", &data);
    bad_hash.content_hash = "not-a-hash".into();
    let err = env
        .cloud()
        .start_resumable_upload(bad_hash)
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".into())
    );

    let id = start(&env, start_request("/e/a.bin", &data)).await;
    // A gap: nothing is persisted yet, so offset 5 cannot be written.
    let gap = write(
        &env,
        vec![pb::WriteResumableUploadRequest {
            upload_id: id.clone(),
            write_offset: 5,
            data: b"x".to_vec(),
            ..Default::default()
        }],
    )
    .await
    .unwrap_err();
    assert_eq!(
        reason(&gap),
        (tonic::Code::InvalidArgument, "CHUNK_OFFSET_MISMATCH".into())
    );
    // Finishing short of the announced size commits nothing; the rest can follow.
    let short = write(&env, messages(&id, &data[..MIB], 0, Some(&hash)))
        .await
        .unwrap_err();
    assert_eq!(
        reason(&short),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".into())
    );
    assert!(env.remote("/e/a.bin").await.is_none());

    // Two streams on one upload: the second is refused while the first is open (and has
    // shown it holds the upload by persisting a piece).
    let (tx, call, _) = send_part(&env, &id, &data, 9 * MIB).await;
    wait_persisted(&env, &id, 8 * MIB as u64).await;
    let second = write(
        &env,
        vec![pb::WriteResumableUploadRequest {
            upload_id: id.clone(),
            ..Default::default()
        }],
    )
    .await
    .unwrap_err();
    assert_eq!(
        reason(&second),
        (tonic::Code::Aborted, "UPLOAD_BUSY".into())
    );
    // The first stream goes on and finishes.
    for m in messages(&id, &data, 9 * MIB, Some(&hash)) {
        tx.send(m).await.unwrap();
    }
    drop(tx);
    let done = call.await.unwrap().unwrap().into_inner();
    assert!(matches!(
        done.result.unwrap().outcome,
        Some(pb::file_result::Outcome::Uploaded(_))
    ));
    assert!(env.remote_bytes("/e/a.bin").await == data);
    env.stop().await;
}

#[tokio::test]
async fn the_overwrite_policy_is_decided_before_any_byte_is_sent() {
    let env = Env::start().await;
    env.put("/o", "keep.txt", b"keep me", None).await;
    let data = b"new content".to_vec();
    let mut req = start_request("/o/keep.txt", &data);
    req.overwrite = Some(pb::OverwritePolicy {
        mode: pb::OverwriteMode::Never as i32,
        ..Default::default()
    });
    let r = env
        .cloud()
        .start_resumable_upload(req)
        .await
        .unwrap()
        .into_inner();
    assert!(r.upload_id.is_empty(), "no upload to do");
    let skipped = r.skipped.expect("skipped");
    assert_eq!(skipped.existing.unwrap().size, 7);
    assert_eq!(env.remote_bytes("/o/keep.txt").await, b"keep me");
    env.stop().await;
}
