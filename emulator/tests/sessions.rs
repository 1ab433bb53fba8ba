//! Upload session rules: sequential offsets, the concurrent 4 MiB rule, content hashes.

mod common;

use common::*;
use dropbox_emulator::content_hash;
use serde_json::json;

#[tokio::test]
async fn sequential_offsets_are_enforced() {
    let h = start().await;
    let id = h.start_session(false, b"12345".to_vec(), false).await;
    let (status, v) = h.append(&id, 3, b"678".to_vec(), false).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "incorrect_offset");
    assert_eq!(v["error"]["correct_offset"], 5);
    assert!(
        v["error_summary"]
            .as_str()
            .unwrap()
            .starts_with("incorrect_offset/")
    );
    let (status, v) = h.append(&id, 5, b"678".to_vec(), false).await;
    assert_eq!((status, v), (200, serde_json::Value::Null));
    // A retried append (already applied) tells the client where the session is.
    let (status, v) = h.append(&id, 5, b"678".to_vec(), false).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["correct_offset"], 8);
    let (status, v) = h.finish(&id, 7, "/seq.txt", vec![]).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "lookup_failed");
    assert_eq!(v["error"]["lookup_failed"]["correct_offset"], 8);
    let (status, v) = h.finish(&id, 8, "/seq.txt", b"9".to_vec()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["size"], 9);
    assert_eq!(v["content_hash"], content_hash(b"123456789"));
    let (_, _, body) = h.download("/seq.txt", None).await;
    assert_eq!(body, b"123456789");
    // The session is gone once finished.
    let (status, v) = h.append(&id, 9, b"x".to_vec(), false).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "not_found");
}

#[tokio::test]
async fn closed_sessions_refuse_appends() {
    let h = start().await;
    let id = h.start_session(false, b"abc".to_vec(), true).await;
    let (status, v) = h.append(&id, 3, b"d".to_vec(), false).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "closed");
    let (status, v) = h.finish(&id, 3, "/closed.txt", vec![]).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["size"], 3);
}

#[tokio::test]
async fn concurrent_sessions_follow_the_4_mib_rule() {
    let h = start().await;
    let block = 4 * MIB;
    let data = bytes(2 * block + 1000, 7);
    let (status, v) = h
        .upload(
            "files/upload_session/start",
            json!({ "session_type": "concurrent" }),
            b"data".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "concurrent_session_data_not_allowed");
    let (status, v) = h
        .upload(
            "files/upload_session/start",
            json!({ "session_type": {".tag": "concurrent"}, "close": true }),
            vec![],
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "concurrent_session_close_not_allowed");

    let id = h.start_session(true, vec![], false).await;
    // Not a multiple of 4 MiB and not closing.
    let (status, v) = h.append(&id, 0, data[..1000].to_vec(), false).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "concurrent_session_invalid_data_size");
    // Offsets must be 4 MiB aligned.
    let (status, v) = h.append(&id, 1000, data[..block].to_vec(), false).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "concurrent_session_invalid_offset");
    // Finishing before the close is refused.
    let (status, v) = h.finish(&id, 0, "/c.bin", vec![]).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "concurrent_session_not_closed");
    // Out of order and in parallel: the last piece (closing) first.
    let last = h.append(&id, 2 * block, data[2 * block..].to_vec(), true);
    let second = h.append(&id, block, data[block..2 * block].to_vec(), false);
    let (a, b) = tokio::join!(last, second);
    assert_eq!(a.0, 200, "{}", a.1);
    assert_eq!(b.0, 200, "{}", b.1);
    let (status, v) = h.finish(&id, data.len(), "/c.bin", vec![]).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "concurrent_session_missing_data");
    let (status, v) = h.append(&id, 0, data[..block].to_vec(), false).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = h.finish(&id, data.len(), "/c.bin", b"x".to_vec()).await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "concurrent_session_data_not_allowed");
    let (status, v) = h.finish(&id, data.len(), "/c.bin", vec![]).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["content_hash"], content_hash(&data));
    let (_, _, body) = h.download("/c.bin", None).await;
    assert!(body == data);
}

#[tokio::test]
async fn content_hash_is_checked_on_every_upload_route() {
    let h = start().await;
    let wrong = content_hash(b"other");
    let (status, v) = h
        .upload(
            "files/upload",
            json!({ "path": "/h.txt", "content_hash": wrong }),
            b"bytes".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "content_hash_mismatch");
    let (status, v) = h
        .upload(
            "files/upload_session/start",
            json!({ "content_hash": wrong }),
            b"bytes".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "content_hash_mismatch");
    let id = h.start_session(false, b"ab".to_vec(), false).await;
    let (status, v) = h
        .upload(
            "files/upload_session/append_v2",
            json!({ "cursor": { "session_id": id, "offset": 2 }, "content_hash": wrong }),
            b"cd".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "content_hash_mismatch");
    let (status, v) = h
        .upload(
            "files/upload_session/finish",
            json!({ "cursor": { "session_id": id, "offset": 2 }, "commit": { "path": "/h.txt" }, "content_hash": wrong }),
            b"cd".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "content_hash_mismatch");
    let (status, v) = h
        .upload(
            "files/upload",
            json!({ "path": "/h.txt", "content_hash": content_hash(b"bytes") }),
            b"bytes".to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn bodies_over_150_mib_are_refused() {
    let h = start().await;
    let body = vec![0u8; 150 * MIB + 1];
    let (status, v) = h
        .upload("files/upload", json!({ "path": "/big.bin" }), body)
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "payload_too_large");
}
