//! Dropbox's front end may answer 401, 429 or 503 before it has read an upload's body, then
//! close the connection. The client still heals: it refreshes an expired token, honours
//! Retry-After, retries a 503, and the session upload completes with the right content.
//! Each case runs against the emulator's `"phase": "early"` faults (answer first, then the
//! body is drained), `early_close` (answer first, then the connection is closed under the
//! client's feet) and the default `after_body`, with bodies of several MiB so the answer
//! really comes first. hyper hands the client the early answer even while its body write
//! fails, so no broken-pipe guesswork is needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use dropbox_client::content_hash::content_hash;
use dropbox_client::{
    ActAs, CommitInfo, Credentials, DropboxClient, Endpoints, RetryPolicy, TransportConfig,
};
use dropbox_emulator::{AppRegistration, Emulator, EmulatorOptions};
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;

const MIB: usize = 1024 * 1024;
/// Larger than the socket buffers on both sides: the emulator answers long before the
/// client could have written it all.
const PIECE: usize = 8 * MIB;

struct Setup {
    emu: Emulator,
    client: DropboxClient,
    issued_token: String,
}

async fn setup() -> Setup {
    let app = AppRegistration::new("early-app", "early-secret");
    let emu = Emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorOptions {
            apps: vec![app.clone()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let issued = control(&emu, "POST", "tokens", json!({ "app_key": app.key })).await;
    let base = Url::parse(emu.base_url()).unwrap();
    let transport = TransportConfig {
        endpoints: Endpoints::single(&base),
        timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let creds = Credentials {
        access_token: Some(issued["access_token"].as_str().unwrap().into()),
        refresh_token: Some(issued["refresh_token"].as_str().unwrap().into()),
        app_key: Some(app.key.clone()),
        app_secret: Some(app.secret.clone()),
        expires_at: None,
    };
    let client = DropboxClient::new(&transport, creds, ActAs::default(), None)
        .unwrap()
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            max_elapsed: Duration::from_secs(60),
            ..RetryPolicy::default()
        });
    Setup {
        emu,
        client,
        issued_token: issued["access_token"].as_str().unwrap().into(),
    }
}

async fn control(emu: &Emulator, method: &str, path: &str, body: Value) -> Value {
    let http = reqwest::Client::new();
    let url = format!("{}/__emulator/{path}", emu.base_url());
    let req = match method {
        "GET" => http.get(url),
        _ => http.post(url).json(&body),
    };
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{method} {path}");
    resp.json().await.unwrap()
}

/// Non-repeating bytes (xorshift), so a piece sent twice or at the wrong offset changes
/// the content hash.
fn data(len: usize, seed: u64) -> Bytes {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A three-piece session upload; the fault is set on the append in the middle.
async fn upload_with_fault(s: &Setup, fault: Value, path: &str) -> (String, Duration) {
    control(&s.emu, "POST", "faults", fault).await;
    let file = data(3 * PIECE, path.len() as u64 * 7919);
    let started = Instant::now();
    let session = s
        .client
        .upload_session_start(file.slice(..PIECE), false)
        .await
        .unwrap();
    s.client
        .upload_session_append(&session, PIECE as u64, file.slice(PIECE..2 * PIECE), false)
        .await
        .unwrap();
    let commit = CommitInfo::new(path);
    let meta = s
        .client
        .upload_session_finish(&session, 2 * PIECE as u64, &commit, file.slice(2 * PIECE..))
        .await
        .unwrap();
    let took = started.elapsed();
    let expected = content_hash(&file);
    assert_eq!(meta.content_hash.as_deref(), Some(expected.as_str()));
    assert_eq!(meta.size, file.len() as u64);
    (expected, took)
}

/// The append's statuses in the emulator's log, with the phase of the faulted ones.
async fn appends(emu: &Emulator) -> Vec<(u64, Option<String>)> {
    let log = control(emu, "GET", "requests", Value::Null).await;
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["route"] == "files/upload_session/append_v2")
        .map(|e| {
            (
                e["status"].as_u64().unwrap(),
                e["phase"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// The hash the emulator computed itself for the stored file.
async fn stored_hash(emu: &Emulator, token: &str, path: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}/2/files/get_metadata", emu.base_url()))
        .bearer_auth(token)
        .json(&json!({ "path": path }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let v: Value = resp.json().await.unwrap();
    v["content_hash"].as_str().unwrap().to_string()
}

fn fault(status: u16, phase: &str) -> Value {
    json!({"route": "files/upload_session/append_v2", "kind": "status", "status": status,
           "phase": phase, "retry_after": 1, "count": 1})
}

async fn expired_token_is_refreshed(phase: &str) {
    let s = setup().await;
    let (expected, _) = upload_with_fault(&s, fault(401, phase), "/early/401.bin").await;
    let first = Some(phase.to_string()).filter(|p| p != "after_body");
    assert_eq!(appends(&s.emu).await, vec![(401, first), (200, None)]);
    // The 401 expired the token it was given: the 200 came with a refreshed one.
    let now = s.client.access_token().await.unwrap();
    assert_ne!(now, s.issued_token, "the token was refreshed");
    assert_eq!(stored_hash(&s.emu, &now, "/early/401.bin").await, expected);
    s.emu.stop().await;
}

async fn rate_limit_is_waited_out(phase: &str) {
    let s = setup().await;
    let (expected, took) = upload_with_fault(&s, fault(429, phase), "/early/429.bin").await;
    let first = Some(phase.to_string()).filter(|p| p != "after_body");
    assert_eq!(appends(&s.emu).await, vec![(429, first), (200, None)]);
    // Retry-After: 1 was honoured (a lower bound, not a speed check).
    assert!(took >= Duration::from_secs(1), "{took:?}");
    let token = s.client.access_token().await.unwrap();
    assert_eq!(
        stored_hash(&s.emu, &token, "/early/429.bin").await,
        expected
    );
    s.emu.stop().await;
}

async fn unavailable_is_retried(phase: &str) {
    let s = setup().await;
    let (expected, _) = upload_with_fault(&s, fault(503, phase), "/early/503.bin").await;
    let first = Some(phase.to_string()).filter(|p| p != "after_body");
    assert_eq!(appends(&s.emu).await, vec![(503, first), (200, None)]);
    let token = s.client.access_token().await.unwrap();
    assert_eq!(
        stored_hash(&s.emu, &token, "/early/503.bin").await,
        expected
    );
    s.emu.stop().await;
}

#[tokio::test]
async fn early_close_401_refreshes_the_token_and_the_upload_completes() {
    expired_token_is_refreshed("early_close").await;
}

#[tokio::test]
async fn early_close_429_honours_retry_after_and_the_upload_completes() {
    rate_limit_is_waited_out("early_close").await;
}

#[tokio::test]
async fn early_close_503_is_retried_and_the_upload_completes() {
    unavailable_is_retried("early_close").await;
}

#[tokio::test]
async fn early_401_refreshes_the_token_and_the_upload_completes() {
    expired_token_is_refreshed("early").await;
}

#[tokio::test]
async fn after_body_401_refreshes_the_token_and_the_upload_completes() {
    expired_token_is_refreshed("after_body").await;
}

#[tokio::test]
async fn early_429_honours_retry_after_and_the_upload_completes() {
    rate_limit_is_waited_out("early").await;
}

#[tokio::test]
async fn after_body_429_honours_retry_after_and_the_upload_completes() {
    rate_limit_is_waited_out("after_body").await;
}

#[tokio::test]
async fn early_503_is_retried_and_the_upload_completes() {
    unavailable_is_retried("early").await;
}

#[tokio::test]
async fn after_body_503_is_retried_and_the_upload_completes() {
    unavailable_is_retried("after_body").await;
}
