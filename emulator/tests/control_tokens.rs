//! `GET /__emulator/tokens`: every access and refresh token the emulator issued and has
//! not revoked, so tests can forbid each one in the logs of the code under test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

fn listed(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn lists_issued_tokens_including_refreshed_ones() {
    let h = start().await;
    let empty = h.control(Method::GET, "/tokens", None).await;
    assert!(listed(&empty, "access_tokens").is_empty(), "{empty}");
    assert!(listed(&empty, "refresh_tokens").is_empty(), "{empty}");

    let issued = h
        .control(Method::POST, "/tokens", Some(json!({"app_key": "app"})))
        .await;
    let access = issued["access_token"].as_str().unwrap().to_owned();
    let refresh = issued["refresh_token"].as_str().unwrap().to_owned();
    let resp = h
        .http
        .post(h.url("/oauth2/token"))
        .basic_auth("app", Some("secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    let refreshed = v["access_token"].as_str().unwrap().to_owned();

    let all = h.control(Method::GET, "/tokens", None).await;
    let mut want = vec![access, refreshed.clone()];
    want.sort();
    assert_eq!(listed(&all, "access_tokens"), want);
    assert_eq!(listed(&all, "refresh_tokens"), vec![refresh]);
    // The static --token is an account's, listed in /accounts, not here.
    assert!(!listed(&all, "access_tokens").contains(&TOKEN.to_owned()));

    // Revoked tokens are gone: the list is of tokens Dropbox would still take.
    let (status, _) = h.rpc_as(&refreshed, "auth/token/revoke", json!(null)).await;
    assert_eq!(status, 200);
    let after = h.control(Method::GET, "/tokens", None).await;
    assert!(listed(&after, "refresh_tokens").is_empty(), "{after}");
    assert!(!listed(&after, "access_tokens").contains(&refreshed));
}
