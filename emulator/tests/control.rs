//! The control API: fault injection, token expiry, the request log, the team, data dirs.

mod common;

use common::*;
use dropbox_emulator::{EmulatorOptions, content_hash};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn status_faults_count_down() {
    let h = start().await;
    h.control(
        Method::POST,
        "/faults",
        Some(json!({"route": "files/list_folder", "kind": "status", "status": 429, "retry_after": 3, "count": 2})),
    )
    .await;
    let resp = h
        .http
        .post(h.url("/2/files/list_folder"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body(r#"{"path":""}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["reason"][".tag"], "too_many_requests");
    assert_eq!(v["error"]["retry_after"], 3);
    let (status, _) = h.rpc("files/list_folder", json!({"path": ""})).await;
    assert_eq!(status, 429);
    let (status, _) = h.rpc("files/list_folder", json!({"path": ""})).await;
    assert_eq!(status, 200);
    h.control(
        Method::POST,
        "/faults",
        Some(json!({"route": "*", "kind": "status", "status": 500, "percent": 100})),
    )
    .await;
    let (status, _) = h.rpc("users/get_current_account", json!(null)).await;
    assert_eq!(status, 500);
    h.control(Method::DELETE, "/faults", None).await;
    let (status, _) = h.rpc("users/get_current_account", json!(null)).await;
    assert_eq!(status, 200);
    let log = h.control(Method::GET, "/requests", None).await;
    let statuses: Vec<u64> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![429, 429, 200, 500, 200]);
}

#[tokio::test]
async fn reset_faults_cut_bodies() {
    let h = start().await;
    let data = bytes(200_000, 1);
    h.put("/d.bin", &data).await;
    // Response reset: the download breaks off.
    h.control(
        Method::POST,
        "/faults",
        Some(json!({"route": "files/download", "kind": "reset"})),
    )
    .await;
    let resp = h
        .http
        .post(h.url("/2/files/download"))
        .bearer_auth(TOKEN)
        .header("Dropbox-API-Arg", r#"{"path":"/d.bin"}"#)
        .send()
        .await
        .unwrap();
    assert!(resp.bytes().await.is_err());
    // Request reset: the upload is not applied and the connection drops.
    let id = h.start_session(false, b"abc".to_vec(), false).await;
    h.control(
        Method::POST,
        "/faults",
        Some(json!({"route": "files/upload_session/append_v2", "kind": "reset"})),
    )
    .await;
    let result = h
        .http
        .post(h.url("/2/files/upload_session/append_v2"))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/octet-stream")
        .header(
            "Dropbox-API-Arg",
            json!({"cursor": {"session_id": id, "offset": 3}}).to_string(),
        )
        .body(bytes(1_000_000, 2))
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    let (status, v) = h.append(&id, 3, b"def".to_vec(), false).await;
    assert_eq!(status, 200, "{v}");
    // Corrupt: one byte differs, the header's hash does not match the body.
    h.control(
        Method::POST,
        "/faults",
        Some(json!({"route": "files/download", "kind": "corrupt", "count": 1})),
    )
    .await;
    let (status, meta, body) = h.download("/d.bin", None).await;
    assert_eq!(status, 200);
    assert_eq!(body.len(), data.len());
    assert_eq!(body.iter().zip(&data).filter(|(a, b)| a != b).count(), 1);
    assert_ne!(
        content_hash(&body),
        meta.unwrap()["content_hash"].as_str().unwrap()
    );
}

#[tokio::test]
async fn tokens_expire_and_refresh() {
    let h = start().await;
    let issued = h
        .control(Method::POST, "/tokens", Some(json!({"app_key": "app"})))
        .await;
    let access = issued["access_token"].as_str().unwrap();
    let (status, _) = h
        .rpc_as(access, "users/get_current_account", json!(null))
        .await;
    assert_eq!(status, 200);
    h.control(Method::POST, "/tokens/expire", None).await;
    let (status, v) = h
        .rpc_as(access, "users/get_current_account", json!(null))
        .await;
    assert_eq!(status, 401);
    assert_eq!(v["error"][".tag"], "expired_access_token");
    // --token accounts never expire unless asked.
    let (status, _) = h.rpc("users/get_current_account", json!(null)).await;
    assert_eq!(status, 200);
    let resp = h
        .http
        .post(h.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", issued["refresh_token"].as_str().unwrap()),
            ("client_id", "app"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 14400);
    let fresh = v["access_token"].as_str().unwrap();
    let (status, _) = h
        .rpc_as(fresh, "users/get_current_account", json!(null))
        .await;
    assert_eq!(status, 200);
    // Revoking kills the refresh token too.
    let (status, _) = h.rpc_as(fresh, "auth/token/revoke", json!(null)).await;
    assert_eq!(status, 200);
    let resp = h
        .http
        .post(h.url("/oauth2/token"))
        .basic_auth("app", Some("secret"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", issued["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
}

/// Refreshes are counted from what the token endpoint received: each request is in the
/// request log with its grant type and status, and without the secrets it carried.
#[tokio::test]
async fn the_request_log_holds_token_requests_without_their_secrets() {
    let h = start().await;
    let issued = h
        .control(Method::POST, "/tokens", Some(json!({"app_key": "app"})))
        .await;
    let refresh = issued["refresh_token"].as_str().unwrap().to_owned();
    h.control(Method::DELETE, "/requests", None).await;
    let token = |refresh_token: String| {
        h.http
            .post(h.url("/oauth2/token"))
            .basic_auth("app", Some("secret"))
            .form(&[
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh_token),
            ])
            .send()
    };
    let ok = token(refresh.clone()).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let fresh: serde_json::Value = ok.json().await.unwrap();
    let refused = token("not-a-refresh-token".into()).await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);

    let log = h.control(Method::GET, "/requests", None).await;
    let entries: Vec<(String, String, u64)> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["route"].as_str().unwrap().to_owned(),
                e["grant_type"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let refresh_grant = |status| {
        (
            "oauth2/token".to_owned(),
            "refresh_token".to_owned(),
            status,
        )
    };
    assert_eq!(entries, vec![refresh_grant(200), refresh_grant(400)]);
    let text = log.to_string();
    for secret in [
        refresh.as_str(),
        "secret",
        "not-a-refresh-token",
        fresh["access_token"].as_str().unwrap(),
    ] {
        assert!(
            !text.contains(secret),
            "{secret} in the request log: {text}"
        );
    }
}

#[tokio::test]
async fn team_select_user_and_path_root() {
    let h = start().await;
    let accounts = h.control(Method::GET, "/accounts", None).await;
    let team = &accounts["team"];
    let space = team["team_space_namespace_id"].as_str().unwrap();
    let member = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "member" && a["is_admin"] == false)
        .unwrap()
        .clone();
    let mid = member["team_member_id"].as_str().unwrap();
    let call =
        |headers: Vec<(&'static str, String)>, route: &'static str, arg: serde_json::Value| {
            let mut req = h
                .http
                .post(h.url(&format!("/2/{route}")))
                .bearer_auth(TEAM)
                .header("Content-Type", "application/json")
                .body(arg.to_string());
            for (k, v) in headers {
                req = req.header(k, v);
            }
            async move {
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap();
                (
                    status,
                    serde_json::from_str::<serde_json::Value>(&text).unwrap_or(json!(text)),
                )
            }
        };
    let (status, _) = call(vec![], "files/list_folder", json!({"path": ""})).await;
    assert_eq!(status, 400);
    let (status, v) = call(
        vec![("Dropbox-API-Select-User", mid.to_string())],
        "users/get_current_account",
        json!(null),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["team_member_id"], mid);
    assert_eq!(v["root_info"][".tag"], "team");
    let (status, v) = call(
        vec![("Dropbox-API-Select-User", "dbmid:nope".to_string())],
        "files/list_folder",
        json!({"path": ""}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(v["error"][".tag"], "invalid_select_user");
    let (status, v) = call(
        vec![("Dropbox-API-Select-Admin", mid.to_string())],
        "files/list_folder",
        json!({"path": ""}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(v["error"][".tag"], "invalid_select_admin");
    let root = json!({".tag": "root", "root": space}).to_string();
    let (status, v) = call(
        vec![
            ("Dropbox-API-Select-User", mid.to_string()),
            ("Dropbox-API-Path-Root", root),
        ],
        "files/create_folder_v2",
        json!({"path": "/Shared"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = call(
        vec![("Dropbox-API-Select-User", mid.to_string())],
        "files/get_metadata",
        json!({"path": "/Shared"}),
    )
    .await;
    assert_eq!(status, 409, "{v}");
    let bad = json!({".tag": "root", "root": "1"}).to_string();
    let (status, v) = call(
        vec![
            ("Dropbox-API-Select-User", mid.to_string()),
            ("Dropbox-API-Path-Root", bad),
        ],
        "files/list_folder",
        json!({"path": ""}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(v["error"][".tag"], "invalid_root");
}

#[tokio::test]
async fn data_dir_survives_a_restart_and_holds_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmulatorOptions {
        data_dir: Some(dir.path().to_path_buf()),
        tokens: vec![TOKEN.into()],
        ..Default::default()
    };
    let data = bytes(5 * MIB + 17, 9);
    {
        let h = start_with(options.clone()).await;
        h.put("/Keep/Me.bin", &data).await;
        let id = h.start_session(false, data[..MIB].to_vec(), false).await;
        let (status, _) = h.append(&id, MIB, data[MIB..].to_vec(), false).await;
        assert_eq!(status, 200);
        let (status, v) = h.finish(&id, data.len(), "/Keep/session.bin", vec![]).await;
        assert_eq!(status, 200, "{v}");
        h.emu.stop().await;
    }
    // The bytes live in files, not in state.json.
    let state = std::fs::metadata(dir.path().join("state.json")).unwrap();
    assert!(state.len() < 100_000);
    let blobs: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
        .unwrap()
        .collect();
    assert_eq!(
        blobs.len(),
        2,
        "only the two files' blobs remain: {blobs:?}"
    );
    let h = start_with(options).await;
    for path in ["/keep/me.bin", "/keep/session.bin"] {
        let (status, meta, body) = h.download(path, None).await;
        assert_eq!(status, 200);
        assert!(body == data);
        assert_eq!(meta.unwrap()["content_hash"], content_hash(&data));
    }
    let (_, v) = h.rpc("files/get_metadata", json!({"path": "/keep"})).await;
    assert_eq!(v["path_display"], "/Keep");
}

#[tokio::test]
async fn tls_serves_with_the_reported_ca() {
    let h = start_with(EmulatorOptions {
        tls: true,
        tokens: vec![TOKEN.into()],
        ..Default::default()
    })
    .await;
    assert!(h.emu.base_url().starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(h.emu.ca_pem().unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let resp = client
        .post(format!("{}/2/users/get_current_account", h.emu.base_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn network_latency_and_bandwidth() {
    let h = start().await;
    let data = bytes(600_000, 5);
    h.put("/slow.bin", &data).await;
    h.control(
        Method::POST,
        "/network",
        Some(json!({"latency_ms": 200, "bandwidth_bytes_per_sec": 1_000_000})),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, _, body) = h.download("/slow.bin", None).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    assert!(body == data);
    // 200 ms of latency plus at least ~0.5 s for 600 kB at 1 MB/s.
    assert!(
        elapsed >= std::time::Duration::from_millis(650),
        "{elapsed:?}"
    );
    let v = h
        .control(
            Method::POST,
            "/network",
            Some(json!({"latency_ms": 0, "bandwidth_bytes_per_sec": 0})),
        )
        .await;
    assert_eq!(v["latency_ms"], 0);
    assert_eq!(v["bandwidth_bytes_per_sec"], 0);
    // Shaping off changes the pace only, never the bytes.
    let (status, _, body) = h.download("/slow.bin", None).await;
    assert_eq!(status, 200);
    assert!(body == data);
}
