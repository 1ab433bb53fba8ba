//! Old revisions: an overwritten file keeps its earlier revisions, reachable through
//! `rev:` paths (files/download, files/get_metadata) and files/list_revisions, as on
//! Dropbox; an unknown rev is path/not_found.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use serde_json::{Value, json};

async fn overwrite(h: &Harness, path: &str, body: &[u8]) -> Value {
    let (status, v) = h
        .upload(
            "files/upload",
            json!({"path": path, "mode": "overwrite"}),
            body.to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

/// The revs of a ListRevisionsResult's entries, in order.
fn revs_of(result: &Value) -> Vec<Value> {
    result["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rev"].clone())
        .collect()
}

#[tokio::test]
async fn an_overwritten_revision_is_still_downloadable_by_rev() {
    let h = start().await;
    let v1 = h.put("/r/a.txt", b"first revision").await;
    let v2 = overwrite(&h, "/r/a.txt", b"second, longer revision").await;
    assert_ne!(v1["rev"], v2["rev"]);
    assert_eq!(v1["id"], v2["id"], "an overwrite keeps the id");

    let (status, meta, body) = h
        .download(&format!("rev:{}", v1["rev"].as_str().unwrap()), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, b"first revision");
    let meta = meta.unwrap();
    assert_eq!(meta["rev"], v1["rev"]);
    assert_eq!(meta["size"], 14);
    assert_eq!(meta["content_hash"], v1["content_hash"]);

    // A range of the old revision is the old revision's bytes.
    let (status, _, body) = h
        .download(
            &format!("rev:{}", v1["rev"].as_str().unwrap()),
            Some("bytes=6-"),
        )
        .await;
    assert_eq!(status, 206);
    assert_eq!(body, b"revision");

    // The path itself is the current revision.
    let (_, meta, body) = h.download("/r/a.txt", None).await;
    assert_eq!(body, b"second, longer revision");
    assert_eq!(meta.unwrap()["rev"], v2["rev"]);

    let (status, v) = h
        .rpc(
            "files/get_metadata",
            json!({"path": format!("rev:{}", v1["rev"].as_str().unwrap())}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v[".tag"], "file");
    assert_eq!(v["rev"], v1["rev"]);
    assert_eq!(v["size"], 14);
}

#[tokio::test]
async fn an_unknown_rev_is_path_not_found() {
    let h = start().await;
    h.put("/r/a.txt", b"x").await;
    let (status, _, body) = h.download("rev:0123456789abcdef", None).await;
    assert_eq!(status, 409);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"][".tag"], "path", "{v}");
    assert_eq!(v["error"]["path"][".tag"], "not_found", "{v}");
    let (status, v) = h
        .rpc(
            "files/get_metadata",
            json!({"path": "rev:0123456789abcdef"}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["path"][".tag"], "not_found", "{v}");
}

#[tokio::test]
async fn list_revisions_lists_newest_first_within_the_limit() {
    let h = start().await;
    let mut revs = vec![h.put("/r/b.bin", b"v0").await["rev"].clone()];
    for i in 1..12 {
        let body = format!("v{i}");
        revs.push(overwrite(&h, "/R/B.bin", body.as_bytes()).await["rev"].clone());
    }
    revs.reverse();

    // Default limit: 10.
    let (status, v) = h
        .rpc("files/list_revisions", json!({"path": "/r/b.bin"}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["is_deleted"], false);
    let entries = v["entries"].as_array().unwrap();
    let listed = revs_of(&v);
    assert_eq!(listed, revs[..10]);
    assert_eq!(entries[0]["size"], 3, "v11");
    assert_eq!(entries[9]["size"], 2, "v2");
    assert!(entries.iter().all(|e| e["path_lower"] == "/r/b.bin"));
    assert_eq!(v["has_more"], true);

    let (_, v) = h
        .rpc(
            "files/list_revisions",
            json!({"path": "/r/b.bin", "before_rev": revs[9]}),
        )
        .await;
    let listed = revs_of(&v);
    assert_eq!(listed, revs[10..], "the rest, older than before_rev");
    assert_eq!(v["has_more"], false);

    let (_, v) = h
        .rpc(
            "files/list_revisions",
            json!({"path": "/r/b.bin", "mode": "path", "limit": 100}),
        )
        .await;
    let listed = revs_of(&v);
    assert_eq!(listed, revs, "every revision with a larger limit");
    assert_eq!(v["has_more"], false);

    let (status, v) = h
        .rpc(
            "files/list_revisions",
            json!({"path": "/r/b.bin", "limit": 101}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = h
        .rpc("files/list_revisions", json!({"path": "/r/missing"}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["path"][".tag"], "not_found", "{v}");
    let (status, v) = h.rpc("files/list_revisions", json!({"path": "/r"})).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["path"][".tag"], "not_file", "{v}");
}

#[tokio::test]
async fn history_is_bounded_and_dropped_with_the_file() {
    let h = start().await;
    let first = h.put("/r/c.txt", b"0").await;
    for i in 1..=100 {
        overwrite(&h, "/r/c.txt", format!("{i}").as_bytes()).await;
    }
    // 101 revisions written; the oldest is no longer kept.
    let (status, _, _) = h
        .download(&format!("rev:{}", first["rev"].as_str().unwrap()), None)
        .await;
    assert_eq!(status, 409, "the oldest revision was dropped");
    let (_, v) = h
        .rpc(
            "files/list_revisions",
            json!({"path": "/r/c.txt", "limit": 100}),
        )
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 100);
    assert_eq!(
        v["entries"][99]["size"], 1,
        "revision \"1\" is the oldest kept"
    );

    let second = v["entries"][99]["rev"].as_str().unwrap().to_string();
    let (status, _) = h.rpc("files/delete_v2", json!({"path": "/r/c.txt"})).await;
    assert_eq!(status, 200);
    let (status, _, _) = h.download(&format!("rev:{second}"), None).await;
    assert_eq!(status, 409);
}
