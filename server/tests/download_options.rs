//! VisualCron's Download options in the contract: the overwrite policy decided by the
//! service against the caller's `local_files`, keep_modified_date, the bounds on
//! `local_files`, and delete-after-download pinned to the downloaded revision.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeMap;

use common::*;
use dropbox_connector_proto::v1 as pb;
use futures::StreamExt;
use pb::download_files_response::Message as Down;
use tonic_types::StatusExt;

/// When the remote fixtures were modified (client_modified, whole seconds).
const T: i64 = 1_700_000_000;

/// What a download gave per relative path.
#[derive(Debug, Default)]
struct Outcome {
    /// relative_path -> (bytes, header.modified_time)
    downloaded: BTreeMap<String, (Vec<u8>, Option<prost_types::Timestamp>)>,
    /// relative_path -> (DownloadSkipped.path, reason, remote rev)
    skipped: BTreeMap<String, (String, String, String)>,
    /// path -> reason
    errors: BTreeMap<String, String>,
    /// The revision of each downloaded file, from its header.
    revs: BTreeMap<String, (String, String)>,
}

async fn download(env: &Env, req: pb::DownloadFilesRequest) -> Result<Outcome, tonic::Status> {
    let mut s = env.cloud().download_files(req).await?.into_inner();
    let mut out = Outcome::default();
    let mut current = String::new();
    while let Some(m) = s.next().await {
        match m?.message.unwrap() {
            Down::Header(h) => {
                let meta = h.metadata.unwrap();
                current = meta.relative_path.clone();
                out.revs.insert(current.clone(), (meta.id, meta.rev));
                out.downloaded
                    .insert(current.clone(), (Vec::new(), h.modified_time));
            }
            Down::Chunk(c) => out
                .downloaded
                .get_mut(&current)
                .unwrap()
                .0
                .extend_from_slice(&c.data),
            Down::End(_) => {}
            Down::Error(e) => {
                out.errors.insert(e.path, e.error.unwrap().reason);
            }
            Down::Skipped(s) => {
                let skipped = s.skipped.unwrap();
                let existing = skipped.existing.unwrap();
                assert!(!skipped.reason.is_empty(), "a skip says why");
                out.skipped.insert(
                    existing.relative_path,
                    (s.path, skipped.reason, existing.rev),
                );
            }
        }
    }
    Ok(out)
}

fn filter(folder: &str) -> Option<pb::download_files_request::Selection> {
    Some(pb::download_files_request::Selection::Filter(
        pb::RemoteFileFilter {
            folder: folder.into(),
            include_subfolders: true,
            ..Default::default()
        },
    ))
}

fn policy(mode: pb::OverwriteMode, cmp: pb::SizeComparison) -> Option<pb::OverwritePolicy> {
    Some(pb::OverwritePolicy {
        mode: mode as i32,
        size_comparison: cmp as i32,
    })
}

fn local(rel: &str, size: u64, modified: Option<i64>, hash: &str) -> pb::LocalFile {
    pb::LocalFile {
        relative_path: rel.into(),
        size,
        modified_time: modified.map(ts),
        content_hash: hash.into(),
    }
}

fn request(
    selection: Option<pb::download_files_request::Selection>,
    overwrite: Option<pb::OverwritePolicy>,
    local_files: Vec<pb::LocalFile>,
) -> pb::DownloadFilesRequest {
    pb::DownloadFilesRequest {
        connection: CONN.into(),
        selection,
        overwrite,
        local_files,
        ..Default::default()
    }
}

fn keys<V>(m: &BTreeMap<String, V>) -> Vec<&str> {
    m.keys().map(String::as_str).collect()
}

fn hash(data: &[u8]) -> String {
    dropbox_content_hash::content_hash(data)
}

async fn fixtures(env: &Env) {
    env.put("/opt", "a.txt", b"remote-a", Some(T)).await;
    env.put("/opt", "b.txt", b"remote-bb", Some(T)).await;
    env.put("/opt", "sub/c.txt", b"c", Some(T)).await;
    env.put("/opt", "d.txt", b"no local copy", Some(T)).await;
}

#[tokio::test]
async fn if_newer_and_never_skip_per_the_callers_files() {
    use pb::{OverwriteMode as M, SizeComparison as S};
    let env = Env::start().await;
    fixtures(&env).await;

    // IF_NEWER: only a.txt is older here than in Dropbox; d.txt is not held at all.
    let got = download(
        &env,
        request(
            filter("/opt"),
            policy(M::IfNewer, S::Unspecified),
            vec![
                local("a.txt", 1, Some(T - 10), ""),
                local("b.txt", 1, Some(T), ""),
                local("sub/c.txt", 1, Some(T + 5), ""),
            ],
        ),
    )
    .await
    .unwrap();
    assert_eq!(keys(&got.downloaded), ["a.txt", "d.txt"]);
    assert_eq!(got.downloaded["a.txt"].0, b"remote-a");
    assert_eq!(got.downloaded["d.txt"].0, b"no local copy");
    assert_eq!(keys(&got.skipped), ["b.txt", "sub/c.txt"]);
    let (path, reason, rev) = &got.skipped["sub/c.txt"];
    assert_eq!(path, "/opt/sub/c.txt");
    assert!(reason.contains("not older"), "{reason}");
    assert_eq!(*rev, env.remote("/opt/sub/c.txt").await.unwrap().file().rev);
    assert!(got.errors.is_empty(), "{:?}", got.errors);

    // NEVER: every held file is kept, whatever its size or time.
    let got = download(
        &env,
        request(
            filter("/opt"),
            policy(M::Never, S::Unspecified),
            vec![
                local("a.txt", 0, None, ""),
                local("sub/c.txt", 99, Some(0), ""),
            ],
        ),
    )
    .await
    .unwrap();
    assert_eq!(keys(&got.downloaded), ["b.txt", "d.txt"]);
    assert_eq!(keys(&got.skipped), ["a.txt", "sub/c.txt"]);

    // Unset (ALWAYS): the caller's files change nothing.
    let got = download(
        &env,
        request(
            filter("/opt"),
            None,
            vec![local("a.txt", 8, Some(T + 100), &hash(b"remote-a"))],
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        keys(&got.downloaded),
        ["a.txt", "b.txt", "d.txt", "sub/c.txt"]
    );
    assert!(got.skipped.is_empty());
}

#[tokio::test]
async fn if_size_compares_the_callers_size_and_hash() {
    use pb::{OverwriteMode as M, SizeComparison as S};
    let env = Env::start().await;
    fixtures(&env).await;

    // SMALLER: replace when the caller's copy is smaller than Dropbox's.
    let got = download(
        &env,
        request(
            filter("/opt"),
            policy(M::IfSize, S::Smaller),
            vec![local("a.txt", 3, None, ""), local("b.txt", 100, None, "")],
        ),
    )
    .await
    .unwrap();
    assert_eq!(got.downloaded["a.txt"].0, b"remote-a");
    assert_eq!(keys(&got.skipped), ["b.txt"]);

    // DIFFERENT: same size and same hash is the same file; a different hash is replaced.
    let got = download(
        &env,
        request(
            filter("/opt"),
            policy(M::IfSize, S::Different),
            vec![
                local("a.txt", 8, None, &hash(b"remote-a")),
                local("b.txt", 9, None, &hash(b"local-bbb")),
                local("sub/c.txt", 1, None, ""),
            ],
        ),
    )
    .await
    .unwrap();
    assert_eq!(keys(&got.skipped), ["a.txt", "sub/c.txt"]);
    assert_eq!(got.downloaded["b.txt"].0, b"remote-bb");
}

#[tokio::test]
async fn named_items_are_keyed_by_their_relative_path_or_name() {
    use pb::{OverwriteMode as M, SizeComparison as S};
    let env = Env::start().await;
    fixtures(&env).await;
    let items = Some(pb::download_files_request::Selection::Items(pb::ItemRefs {
        items: vec![
            pb::ItemRef {
                path: "/opt/sub/c.txt".into(),
                relative_path: "2026/c.txt".into(),
                ..Default::default()
            },
            pb::ItemRef {
                path: "/opt/a.txt".into(),
                ..Default::default()
            },
            pb::ItemRef {
                path: "/opt/b.txt".into(),
                relative_path: "2026/b.txt".into(),
                ..Default::default()
            },
        ],
    }));
    let got = download(
        &env,
        request(
            items,
            policy(M::Never, S::Unspecified),
            vec![
                local("2026/c.txt", 1, None, ""),
                local("a.txt", 1, None, ""),
            ],
        ),
    )
    .await
    .unwrap();
    assert_eq!(keys(&got.skipped), ["2026/c.txt", "a.txt"]);
    assert_eq!(got.skipped["2026/c.txt"].0, "/opt/sub/c.txt");
    assert_eq!(keys(&got.downloaded), ["2026/b.txt"]);
    assert_eq!(got.downloaded["2026/b.txt"].0, b"remote-bb");
}

#[tokio::test]
async fn keep_modified_date_fills_the_headers_modified_time() {
    let env = Env::start().await;
    env.put("/kd", "a.txt", b"dated", Some(T)).await;
    let mut req = request(filter("/kd"), None, Vec::new());
    let plain = download(&env, req.clone()).await.unwrap();
    assert_eq!(
        plain.downloaded["a.txt"].1, None,
        "unset without the option"
    );
    req.keep_modified_date = true;
    let kept = download(&env, req).await.unwrap();
    assert_eq!(kept.downloaded["a.txt"], (b"dated".to_vec(), Some(ts(T))));
}

/// (code, reason, metadata `field`) of a refused call.
async fn refused(env: &Env, req: pb::DownloadFilesRequest) -> (tonic::Code, String, String) {
    let status = match env.cloud().download_files(req).await {
        Err(status) => status,
        Ok(stream) => {
            let first = stream.into_inner().next().await;
            match first {
                Some(Err(status)) => status,
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    };
    let (code, reason) = reason(&status);
    let field = status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get("field").cloned())
        .unwrap_or_default();
    (code, reason, field)
}

#[tokio::test]
async fn local_files_are_bounded_unique_and_relative() {
    use pb::{OverwriteMode as M, SizeComparison as S};
    let env = Env::start().await;
    let invalid = |field: &str| {
        (
            tonic::Code::InvalidArgument,
            "INVALID_ARGUMENT".to_string(),
            field.to_string(),
        )
    };
    let never = || policy(M::Never, S::Unspecified);

    let too_many: Vec<pb::LocalFile> = (0..100_001)
        .map(|i| local(&format!("f{i}"), 1, None, ""))
        .collect();
    assert_eq!(
        refused(&env, request(filter("/x"), never(), too_many)).await,
        invalid("local_files")
    );
    let twice = vec![local("a.txt", 1, None, ""), local("a.txt", 2, None, "")];
    assert_eq!(
        refused(&env, request(filter("/x"), never(), twice)).await,
        invalid("local_files.relative_path")
    );
    for bad in ["", "/abs.txt", "a//b", "../up.txt", "a/./b"] {
        assert_eq!(
            refused(
                &env,
                request(filter("/x"), never(), vec![local(bad, 1, None, "")])
            )
            .await,
            invalid("local_files.relative_path"),
            "{bad:?}"
        );
    }
    let no_time = vec![local("a.txt", 1, None, "")];
    assert_eq!(
        refused(
            &env,
            request(filter("/x"), policy(M::IfNewer, S::Unspecified), no_time)
        )
        .await,
        invalid("local_files.modified_time")
    );
    let absolute_ref = Some(pb::download_files_request::Selection::Items(pb::ItemRefs {
        items: vec![pb::ItemRef {
            path: "/x/a.txt".into(),
            relative_path: "/a.txt".into(),
            ..Default::default()
        }],
    }));
    assert_eq!(
        refused(&env, request(absolute_ref, never(), Vec::new())).await,
        invalid("items.relative_path")
    );
    let bad_hash = vec![local("a.txt", 1, None, "not-a-hash")];
    assert_eq!(
        refused(&env, request(filter("/x"), never(), bad_hash)).await,
        invalid("local_files.content_hash")
    );
}

#[tokio::test]
async fn a_source_changed_after_download_is_kept_by_the_pinned_delete() {
    let env = Env::start().await;
    env.put("/pin", "a.txt", b"as downloaded", None).await;
    env.put("/pin", "b.txt", b"unchanged", None).await;
    let got = download(&env, request(filter("/pin"), None, Vec::new()))
        .await
        .unwrap();
    assert_eq!(got.downloaded["a.txt"].0, b"as downloaded");

    // Someone else replaces a.txt in Dropbox (straight at the emulator) before the delete.
    let (status, _) = env
        .on_emulator(|e| e.upload("/pin/a.txt", b"changed meanwhile".to_vec()))
        .await;
    assert_eq!(status, 200);
    let current_rev = env.remote("/pin/a.txt").await.unwrap().file().rev;

    let pinned = |rel: &str| {
        let (id, rev) = got.revs[rel].clone();
        pb::ItemRef {
            path: id,
            rev,
            ..Default::default()
        }
    };
    let mut stream = env
        .cloud()
        .delete_items(pb::DeleteItemsRequest {
            connection: CONN.into(),
            selection: Some(pb::delete_items_request::Selection::Items(pb::ItemRefs {
                items: vec![pinned("a.txt"), pinned("b.txt")],
            })),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut results = Vec::new();
    while let Some(r) = stream.next().await {
        results.push(r.unwrap().outcome.unwrap());
    }
    let pb::delete_items_response::Outcome::Error(e) = &results[0] else {
        panic!("the changed file must not be deleted: {:?}", results[0]);
    };
    assert_eq!(
        (e.code, e.reason.as_str()),
        (tonic::Code::Aborted as i32, "REVISION_CHANGED")
    );
    assert_eq!(e.metadata["expected_rev"], got.revs["a.txt"].1);
    assert_eq!(e.metadata["current_rev"], current_rev);
    assert_eq!(env.remote_bytes("/pin/a.txt").await, b"changed meanwhile");
    assert!(
        matches!(results[1], pb::delete_items_response::Outcome::Deleted(_)),
        "{:?}",
        results[1]
    );
    assert!(env.remote("/pin/b.txt").await.is_none());
}
