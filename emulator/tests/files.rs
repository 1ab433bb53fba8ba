//! Write modes, autorename, case handling, path rules, listing and downloads.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn write_modes_and_autorename() {
    let h = start().await;
    let first = h.put("/Docs/Report.txt", b"v1").await;
    // add: conflict, identical content is fine, autorename numbers the name.
    let (status, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/report.txt", "mode": "add"}),
            b"v2".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "path");
    assert_eq!(v["error"]["reason"]["conflict"][".tag"], "file");
    let (status, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/report.txt"}),
            b"v1".to_vec(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["rev"], first["rev"]);
    let (status, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/report.txt", "strict_conflict": true}),
            b"v1".to_vec(),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    let (_, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/report.txt", "autorename": true}),
            b"v2".to_vec(),
        )
        .await;
    assert_eq!(v["name"], "report (2).txt");
    assert_eq!(v["path_display"], "/Docs/report (2).txt");
    let (_, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/report.txt", "autorename": true}),
            b"v3".to_vec(),
        )
        .await;
    assert_eq!(v["name"], "report (3).txt");
    // overwrite keeps the id and the stored name, changes the rev.
    let (_, v) = h
        .upload(
            "files/upload",
            json!({"path": "/DOCS/REPORT.TXT", "mode": {".tag": "overwrite"}}),
            b"v4".to_vec(),
        )
        .await;
    assert_eq!(v["id"], first["id"]);
    assert_ne!(v["rev"], first["rev"]);
    assert_eq!(v["path_display"], "/Docs/Report.txt");
    // update: only with the current rev.
    let rev = v["rev"].as_str().unwrap().to_string();
    let (status, _) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/report.txt", "mode": {".tag": "update", "update": first["rev"]}}),
            b"v5".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    let (status, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/report.txt", "mode": {".tag": "update", "update": rev}}),
            b"v5".to_vec(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    // A folder in the way is always a conflict; a file in the way of a folder too.
    let (status, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs", "mode": "overwrite"}),
            b"x".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["reason"]["conflict"][".tag"], "folder");
    let (status, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/report.txt/inner.txt"}),
            b"x".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["reason"]["conflict"][".tag"], "file_ancestor");
    let (status, v) = h
        .upload(
            "files/upload",
            json!({"path": "/docs/desktop.ini"}),
            b"x".to_vec(),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["reason"][".tag"], "disallowed_name");
}

#[tokio::test]
async fn paths_are_case_insensitive_and_case_preserving() {
    let h = start().await;
    h.put("/Photos/Summer/IMG.JPG", b"jpg").await;
    h.put("/photos/WINTER/a.txt", b"a").await;
    let (status, v) = h
        .rpc(
            "files/get_metadata",
            json!({"path": "/PHOTOS/summer/img.jpg"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v[".tag"], "file");
    assert_eq!(v["path_display"], "/Photos/Summer/IMG.JPG");
    assert_eq!(v["path_lower"], "/photos/summer/img.jpg");
    let (_, v) = h.rpc("files/list_folder", json!({"path": "/photos"})).await;
    let mut names: Vec<String> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["Summer", "WINTER"]);
    // Creating the same folder in another case is a conflict.
    let (status, v) = h
        .rpc("files/create_folder_v2", json!({"path": "/PHOTOS/summer"}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"]["path"]["conflict"][".tag"], "folder");
    let (_, _, body) = h.download("/pHoToS/summer/img.jpg", None).await;
    assert_eq!(body, b"jpg");
}

#[tokio::test]
async fn path_rules() {
    let h = start().await;
    for bad in ["/a/", "/a//b", "/a /b", "/x "] {
        let (status, v) = h.rpc("files/get_metadata", json!({"path": bad})).await;
        assert_eq!(status, 409, "{bad}");
        assert_eq!(v["error"]["path"][".tag"], "malformed_path", "{bad}");
    }
    let (status, v) = h.rpc("files/list_folder", json!({"path": "/"})).await;
    assert_eq!(status, 400);
    assert!(
        v.as_str()
            .unwrap()
            .contains("empty string rather than as \"/\"")
    );
    let (status, _) = h
        .rpc("files/get_metadata", json!({"path": "relative"}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = h.rpc("files/get_metadata", json!({"path": ""})).await;
    assert_eq!(status, 400);
    let (status, v) = h
        .rpc("files/list_folder", json!({"path": "", "limit": 0}))
        .await;
    assert_eq!(status, 400, "{v}");
    // Non-ASCII in the header must be escaped.
    let resp = h
        .http
        .post(h.url("/2/files/upload"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/octet-stream")
        .header(
            "Dropbox-API-Arg",
            reqwest::header::HeaderValue::from_bytes("{\"path\":\"/é.txt\"}".as_bytes()).unwrap(),
        )
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("could not decode input as JSON"), "{text}");
    // Escaped (with a surrogate pair) it round-trips, and the result header is escaped too.
    h.put("/é/😀.txt", b"smile").await;
    let (status, result, body) = h.download("/É/😀.txt", None).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"smile");
    assert_eq!(result.unwrap()["path_display"], "/é/😀.txt");
}

#[tokio::test]
async fn wire_formats() {
    let h = start().await;
    let resp = h
        .http
        .post(h.url("/2/users/get_current_account"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["account_id"].as_str().unwrap().len(), 40);
    let resp = h
        .http
        .post(h.url("/2/files/get_metadata"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body(r#"{"path":"/missing"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error_summary"], "path/not_found/...");
    let (status, v) = h
        .rpc_as("wrong", "files/list_folder", json!({"path": ""}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(v["error"][".tag"], "invalid_access_token");
    let meta = h.put("/t.txt", b"t").await;
    let ts = meta["server_modified"].as_str().unwrap();
    assert_eq!(ts.len(), 20, "{ts}");
    assert!(ts.ends_with('Z'));
    assert!(meta["rev"].as_str().unwrap().len() >= 9);
}

#[tokio::test]
async fn list_pagination_and_delete() {
    let h = start().await;
    for i in 0..7 {
        h.put(&format!("/many/f{i}.txt"), b"x").await;
    }
    h.put("/many/sub/deep.txt", b"y").await;
    let (_, mut page) = h
        .rpc("files/list_folder", json!({"path": "/many", "limit": 3}))
        .await;
    let mut names = Vec::new();
    loop {
        for e in page["entries"].as_array().unwrap() {
            names.push(e["name"].as_str().unwrap().to_string());
        }
        if page["has_more"] != true {
            break;
        }
        let (status, next) = h
            .rpc(
                "files/list_folder/continue",
                json!({"cursor": page["cursor"]}),
            )
            .await;
        assert_eq!(status, 200);
        page = next;
    }
    assert_eq!(names.len(), 8, "{names:?}");
    let (status, v) = h.rpc("files/delete_v2", json!({"path": "/many"})).await;
    assert_eq!(status, 200);
    assert_eq!(v["metadata"][".tag"], "folder");
    let (status, _) = h
        .rpc("files/get_metadata", json!({"path": "/many/sub/deep.txt"}))
        .await;
    assert_eq!(status, 409);
    // A reset invalidates cursors.
    h.put("/again.txt", b"x").await;
    let (_, page) = h.rpc("files/list_folder", json!({"path": ""})).await;
    h.control(reqwest::Method::POST, "/reset", None).await;
    let (status, v) = h
        .rpc(
            "files/list_folder/continue",
            json!({"cursor": page["cursor"]}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(v["error"][".tag"], "reset");
}

#[tokio::test]
async fn download_ranges() {
    let h = start().await;
    let data = bytes(10_000, 3);
    h.put("/r.bin", &data).await;
    let (status, _, body) = h.download("/r.bin", Some("bytes=10-19")).await;
    assert_eq!(status, 206);
    assert_eq!(body, &data[10..20]);
    let (status, _, body) = h.download("/r.bin", Some("bytes=9990-")).await;
    assert_eq!(status, 206);
    assert_eq!(body, &data[9990..]);
    let (status, _, _) = h.download("/r.bin", Some("bytes=10000-")).await;
    assert_eq!(status, 416);
}
