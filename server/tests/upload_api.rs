//! UploadFiles through the real service against the in-process emulator: overwrite
//! options, stream order and cancellation, sessions, hashes, sub-folders.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use dropbox_connector_proto::v1 as pb;
use pb::file_result::Outcome;
use pb::upload_files_request::Message as Up;
use tokio_stream::wrappers::ReceiverStream;

fn policy(mode: pb::OverwriteMode, cmp: pb::SizeComparison) -> Option<pb::OverwritePolicy> {
    Some(pb::OverwritePolicy {
        mode: mode as i32,
        size_comparison: cmp as i32,
    })
}

fn outcome(r: &pb::UploadFilesResponse) -> &Outcome {
    r.results[0].outcome.as_ref().unwrap()
}

fn uploaded(r: &pb::UploadFilesResponse) -> bool {
    match outcome(r) {
        Outcome::Uploaded(_) => true,
        Outcome::Skipped(s) => {
            assert!(!s.reason.is_empty() && s.existing.is_some());
            false
        }
        Outcome::Error(e) => panic!("upload failed: {e:?}"),
    }
}

/// Puts `existing` (10 bytes, modified 2001-09-09) at /d/f.txt, then uploads `new` with
/// `policy` and the given modified time; returns whether it was replaced, and checks the
/// emulator agrees.
async fn replaced(
    env: &Env,
    policy: Option<pb::OverwritePolicy>,
    new: &[u8],
    modified: i64,
) -> bool {
    let existing = bytes(10, 1);
    env.put("/d", "f.txt", &existing, Some(1_000_000_000)).await;
    let r = env
        .upload(
            spec("/d", policy, true),
            vec![Src::new("f.txt", new).modified(Some(modified))],
        )
        .await
        .unwrap();
    let did = uploaded(&r);
    let now = env.remote_bytes("/d/f.txt").await;
    assert_eq!(
        now,
        if did { new.to_vec() } else { existing },
        "emulator content"
    );
    did
}

#[tokio::test]
async fn overwrite_always_replaces_and_is_the_default() {
    let env = Env::start().await;
    assert!(
        replaced(
            &env,
            policy(pb::OverwriteMode::Always, pb::SizeComparison::Unspecified),
            b"new",
            1
        )
        .await
    );
    assert!(
        replaced(&env, None, b"newer", 1).await,
        "unset policy means ALWAYS"
    );
    env.stop().await;
}

#[tokio::test]
async fn overwrite_never_skips_existing_but_creates_new() {
    let env = Env::start().await;
    let never = policy(pb::OverwriteMode::Never, pb::SizeComparison::Unspecified);
    assert!(!replaced(&env, never, b"new", 2_000_000_000).await);
    let r = env
        .upload(spec("/d", never, false), vec![Src::new("fresh.txt", b"x")])
        .await
        .unwrap();
    assert!(uploaded(&r));
    env.stop().await;
}

#[tokio::test]
async fn overwrite_if_newer_compares_modified_times() {
    let env = Env::start().await;
    let if_newer = policy(pb::OverwriteMode::IfNewer, pb::SizeComparison::Unspecified);
    assert!(!replaced(&env, if_newer, b"older", 999_999_999).await);
    assert!(!replaced(&env, if_newer, b"same", 1_000_000_000).await);
    assert!(replaced(&env, if_newer, b"newer", 1_000_000_001).await);
    env.stop().await;
}

#[tokio::test]
async fn overwrite_if_size_each_comparison() {
    use pb::SizeComparison::*;
    let env = Env::start().await;
    let p = |c| policy(pb::OverwriteMode::IfSize, c);
    // The destination holds 10 bytes; the source is 9, 10 or 11 bytes.
    let (smaller_src, same_src, larger_src) = (bytes(9, 7), bytes(10, 7), bytes(11, 7));
    assert!(replaced(&env, p(Same), &same_src, 1).await);
    assert!(!replaced(&env, p(Same), &larger_src, 1).await);
    // SMALLER: the destination is smaller than the source.
    assert!(replaced(&env, p(Smaller), &larger_src, 1).await);
    assert!(!replaced(&env, p(Smaller), &smaller_src, 1).await);
    // LARGER: the destination is larger than the source.
    assert!(replaced(&env, p(Larger), &smaller_src, 1).await);
    assert!(!replaced(&env, p(Larger), &same_src, 1).await);
    assert!(replaced(&env, p(SmallerOrLarger), &larger_src, 1).await);
    assert!(!replaced(&env, p(SmallerOrLarger), &same_src, 1).await);
    // DIFFERENT: same size but other content counts (content_hash).
    assert!(replaced(&env, p(Different), &same_src, 1).await);
    assert!(!replaced(&env, p(Different), &bytes(10, 1), 1).await);
    // Without a size in the header, the decision is made before the commit.
    env.put("/d", "f.txt", &bytes(10, 1), None).await;
    let r = env
        .upload(
            spec("/d", p(Larger), false),
            vec![Src::new("f.txt", &larger_src).no_size()],
        )
        .await
        .unwrap();
    assert!(!uploaded(&r));
    assert_eq!(env.remote_bytes("/d/f.txt").await, bytes(10, 1));
    // IF_SIZE without a comparison is refused.
    let err = env
        .upload(spec("/d", p(Unspecified), false), vec![])
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".into())
    );
    env.stop().await;
}

#[tokio::test]
async fn keep_modified_date_subfolders_and_large_files_through_sessions() {
    let env = Env::start().await;
    // 20 MiB + 3 bytes: start, append, finish with a short last piece.
    let big = bytes(20 * 1024 * 1024 + 3, 9);
    let r = env
        .upload(
            spec("/up", None, true),
            vec![
                Src::new("a/b/big.bin", &big)
                    .modified(Some(1_500_000_000))
                    .no_size(),
                Src::new("small.txt", b"hello"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.results.len(), 2);
    let Some(Outcome::Uploaded(meta)) = &r.results[0].outcome else {
        panic!("{:?}", r.results[0])
    };
    assert_eq!(meta.path_display, "/up/a/b/big.bin");
    assert_eq!(meta.relative_path, "a/b/big.bin");
    assert_eq!(
        meta.content_hash,
        dropbox_client::content_hash::content_hash(&big)
    );
    assert_eq!(
        meta.client_modified.as_ref().unwrap().seconds,
        1_500_000_000
    );
    assert_eq!(env.remote_bytes("/up/a/b/big.bin").await, big);
    let Some(Outcome::Uploaded(small)) = &r.results[1].outcome else {
        panic!()
    };
    assert_eq!(
        small.content_hash,
        "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
    );
    env.stop().await;
}

/// Each file's result arrives as soon as the file is finished, while the request stream
/// is still open: the client sends the next file only after reading the previous one's
/// result (a client that waited for the end of its stream would hang here).
#[tokio::test]
async fn results_arrive_as_files_finish() {
    let env = Env::start().await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(msg(Up::Spec(spec("/live", None, false))))
        .await
        .unwrap();
    let mut responses = env
        .cloud()
        .upload_files(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    for name in ["one.txt", "two.txt", "three.txt"] {
        for m in upload_messages(
            spec("/live", None, false),
            vec![Src::new(name, name.as_bytes())],
            1024,
        )
        .into_iter()
        .skip(1)
        {
            tx.send(m).await.unwrap();
        }
        let response =
            tokio::time::timeout(std::time::Duration::from_secs(30), responses.message())
                .await
                .expect("the result comes before the request stream ends")
                .unwrap()
                .expect("a response");
        let [result] = response.results.as_slice() else {
            panic!("one result per finished file: {response:?}")
        };
        assert_eq!(result.relative_path, name);
        assert!(
            matches!(result.outcome, Some(Outcome::Uploaded(_))),
            "{result:?}"
        );
        assert_eq!(
            env.remote_bytes(&format!("/live/{name}")).await,
            name.as_bytes()
        );
    }
    drop(tx);
    assert!(
        responses.message().await.unwrap().is_none(),
        "the call ends OK"
    );
    env.stop().await;
}

#[tokio::test]
async fn per_file_failures_do_not_stop_the_stream() {
    let env = Env::start().await;
    let files = vec![
        Src::new("../escape.txt", b"x"),
        Src::new("bad-hash.txt", b"abc").end_hash(&"0".repeat(64)),
        Src::new("ok.txt", b"fine"),
    ];
    let r = env.upload(spec("/p", None, false), files).await.unwrap();
    let reasons: Vec<String> = r
        .results
        .iter()
        .map(|f| match f.outcome.as_ref().unwrap() {
            Outcome::Error(e) => e.reason.clone(),
            Outcome::Uploaded(_) => "UPLOADED".into(),
            Outcome::Skipped(_) => "SKIPPED".into(),
        })
        .collect();
    assert_eq!(
        reasons,
        ["INVALID_ARGUMENT", "CONTENT_HASH_MISMATCH", "UPLOADED"]
    );
    assert!(
        env.remote("/p/bad-hash.txt").await.is_none(),
        "a hash mismatch commits nothing"
    );

    // A chunk at the wrong offset fails that file only.
    let mut m = upload_messages(
        spec("/p", None, false),
        vec![Src::new("gap.txt", b"0123456789")],
        4,
    );
    if let Some(Up::Chunk(c)) = &mut m[3].message {
        c.offset += 1;
    }
    m.extend(
        upload_messages(
            spec("/p", None, false),
            vec![Src::new("after.txt", b"y")],
            4,
        )
        .into_iter()
        .skip(1),
    );
    let r = upload_results(env.cloud().upload_files(futures::stream::iter(m)).await)
        .await
        .unwrap();
    let Some(Outcome::Error(e)) = &r.results[0].outcome else {
        panic!("{:?}", r.results[0])
    };
    assert_eq!(e.reason, "CHUNK_OFFSET_MISMATCH");
    assert!(matches!(r.results[1].outcome, Some(Outcome::Uploaded(_))));
    assert!(env.remote("/p/gap.txt").await.is_none());
    env.stop().await;
}

#[tokio::test]
async fn chunk_before_spec_is_stream_out_of_order() {
    let env = Env::start().await;
    let chunk = msg(Up::Chunk(pb::DataChunk {
        offset: 0,
        data: b"x".to_vec(),
    }));
    let err = upload_results(
        env.cloud()
            .upload_files(futures::stream::iter(vec![chunk]))
            .await,
    )
    .await
    .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::InvalidArgument, "STREAM_OUT_OF_ORDER".into())
    );
    // A chunk outside a file, after the spec, too.
    let m = vec![
        msg(Up::Spec(spec("/", None, false))),
        msg(Up::Chunk(pb::DataChunk {
            offset: 0,
            data: vec![1],
        })),
    ];
    let err = upload_results(env.cloud().upload_files(futures::stream::iter(m)).await)
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::InvalidArgument, "STREAM_OUT_OF_ORDER".into())
    );
    env.stop().await;
}

#[tokio::test]
async fn unknown_connection_is_not_found() {
    let env = Env::start().await;
    let mut s = spec("/", None, false);
    s.connection = "nobody".into();
    let err = env
        .upload(s, vec![Src::new("a.txt", b"a")])
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::NotFound, "CONNECTION_NOT_FOUND".into())
    );
    let err = env
        .cloud()
        .list_items(pb::ListItemsRequest {
            connection: "connections/0000".into(),
            filter: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::NotFound, "CONNECTION_NOT_FOUND".into())
    );
    env.stop().await;
}

/// Streams `size` bytes of one file in 1 MiB chunks into `tx` without a FileEnd, and
/// waits until the server has taken every message (the channel is empty again).
async fn send_half_a_file(
    tx: &tokio::sync::mpsc::Sender<pb::UploadFilesRequest>,
    rel: &str,
    data: &[u8],
) {
    let src = Src::new(rel, data).no_size();
    for m in upload_messages(spec("/c", None, false), vec![src], 1024 * 1024) {
        if matches!(m.message, Some(Up::FileEnd(_))) {
            break;
        }
        tx.send(m).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while tx.capacity() < tx.max_capacity() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not consume the stream"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn cancelled_upload_leaves_new_file_absent_and_existing_file_unchanged() {
    // The audit log says when the server is done with each call, aborted ones included.
    let env = Env::start_with(Options {
        env: vec![
            ("DBXC_LOG__FORMAT".into(), "json".into()),
            ("DBXC_LOG__LEVEL".into(), "warn,audit=info".into()),
        ],
        ..Default::default()
    })
    .await;
    let original = b"original content".to_vec();
    env.put("/c", "existing.bin", &original, None).await;
    // 12 MiB: more than one 8 MiB piece, so an upload session is already open.
    let data = bytes(12 * 1024 * 1024, 3);

    for rel in ["new.bin", "existing.bin"] {
        // 1. The client aborts the call half-way.
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let mut client = env.cloud();
        let call = tokio::spawn(async move {
            upload_results(client.upload_files(ReceiverStream::new(rx)).await).await
        });
        send_half_a_file(&tx, rel, &data).await;
        call.abort();
        let _ = call.await;
        drop(tx);

        // 2. The client's request stream ends (sender dropped) without a FileEnd.
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let mut client = env.cloud();
        let call = tokio::spawn(async move {
            upload_results(client.upload_files(ReceiverStream::new(rx)).await).await
        });
        send_half_a_file(&tx, rel, &data).await;
        drop(tx);
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(
            reason(&err),
            (tonic::Code::InvalidArgument, "STREAM_OUT_OF_ORDER".into())
        );
    }
    // Only once the server has ended every call (the fixture, and per file the aborted
    // and the unfinished one) is the destination final.
    let ended = || {
        env.audit_lines()
            .into_iter()
            .filter(|l| l.0 == "UploadFiles")
            .map(|l| l.4)
            .collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while ended().len() < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not end the calls: {:?}",
            ended()
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    // Only the fixture succeeded; an aborted call may end as Cancelled or, when its
    // request stream was closed first, as the unfinished file it left.
    let outcomes = ended();
    assert_eq!(
        outcomes.iter().filter(|o| *o == "Ok").count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| ["Ok", "Cancelled", "InvalidArgument"].contains(&o.as_str())),
        "{outcomes:?}"
    );
    assert!(
        env.remote("/c/new.bin").await.is_none(),
        "no new file appears"
    );
    let Some(Metadata::File(f)) = env.remote("/c/existing.bin").await else {
        panic!("existing file gone")
    };
    assert_eq!(f.size, original.len() as u64);
    assert_eq!(env.remote_bytes("/c/existing.bin").await, original);
    env.stop().await;
}
