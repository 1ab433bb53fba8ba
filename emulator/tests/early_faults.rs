//! Status faults with `"phase": "early"` (then the body is drained) or `"early_close"` (then
//! the connection closes): the answer leaves before the request body is read, as a front end
//! may send it; the default `after_body` reads the whole body first. Also the fault rules'
//! `times`/`after` selection, per-rule counters and seeded replays.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends an upload's headers announcing `announced` body bytes but none of the body, and
/// returns the answer that arrives within `wait` (empty when none does): its head and body,
/// read up to its Content-Length.
async fn headers_only(h: &Harness, token: &str, announced: usize, wait: Duration) -> String {
    let addr = h.emu.base_url().trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /2/files/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\nDropbox-API-Arg: {{\"path\":\"/e.bin\"}}\r\n\
         Content-Length: {announced}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(wait, async {
        while !complete(&got) {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

/// A whole HTTP/1.1 answer: the head and Content-Length bytes of body.
fn complete(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-length:")
            .map(|v| v.trim().parse::<usize>().unwrap())
    });
    body.len() >= length.unwrap_or(0)
}

async fn fault(h: &Harness, spec: Value) {
    h.control(Method::POST, "/faults", Some(spec)).await;
}

async fn early_answers(phase: &str) {
    let h = start().await;
    for (status, head) in [
        (429, "HTTP/1.1 429"),
        (503, "HTTP/1.1 503"),
        (401, "HTTP/1.1 401"),
    ] {
        fault(
            &h,
            json!({"route": "files/upload", "kind": "status", "status": status,
                   "phase": phase, "retry_after": 2}),
        )
        .await;
        // Not one body byte is sent: only an early answer can arrive.
        let answer = headers_only(&h, TOKEN, 8 * MIB, Duration::from_secs(20)).await;
        assert!(answer.starts_with(head), "{status}: {answer:?}");
        let closes = answer.to_ascii_lowercase().contains("connection: close");
        assert_eq!(closes, phase == "early_close", "{answer:?}");
        match status {
            429 => {
                assert!(answer.contains("retry-after: 2"), "{answer:?}");
                assert!(answer.contains("too_many_requests"), "{answer:?}");
            }
            401 => assert!(answer.contains("expired_access_token"), "{answer:?}"),
            _ => assert!(answer.contains("retry-after: 2"), "{answer:?}"),
        }
    }
    let faults = h.control(Method::GET, "/faults", None).await;
    let fired: Vec<u64> = faults["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fired"].as_u64().unwrap())
        .collect();
    assert_eq!(fired, vec![1, 1, 1], "{faults}");
    let log = h.control(Method::GET, "/requests", None).await;
    let phases: Vec<&Value> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["phase"])
        .collect();
    assert_eq!(phases, vec![phase, phase, phase], "{log}");
}

#[tokio::test]
async fn early_status_faults_answer_before_the_body_arrives() {
    early_answers("early").await;
}

#[tokio::test]
async fn early_close_status_faults_answer_before_the_body_arrives_and_close() {
    early_answers("early_close").await;
}

#[tokio::test]
async fn after_body_status_faults_wait_for_the_whole_body() {
    let h = start().await;
    fault(
        &h,
        json!({"route": "files/upload", "kind": "status", "status": 429, "phase": "after_body"}),
    )
    .await;
    // No body byte arrives, so no answer may either.
    let answer = headers_only(&h, TOKEN, 8 * MIB, Duration::from_millis(500)).await;
    assert_eq!(answer, "", "answered before reading the body");
    let faults = h.control(Method::GET, "/faults", None).await;
    assert_eq!(faults["faults"][0]["fired"], 1, "{faults}");
}

#[tokio::test]
async fn an_injected_401_expires_the_token_it_was_given() {
    let h = start().await;
    let issued = h.control(Method::POST, "/tokens", Some(json!({}))).await;
    let token = issued["access_token"].as_str().unwrap();
    let (status, _) = h
        .rpc_as(token, "users/get_current_account", json!(null))
        .await;
    assert_eq!(status, 200);
    fault(
        &h,
        json!({"route": "files/upload", "kind": "status", "status": 401, "phase": "early"}),
    )
    .await;
    let answer = headers_only(&h, token, MIB, Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer:?}");
    // The fault is spent, but the token stays expired: only a refresh helps.
    let (status, body) = h
        .rpc_as(token, "users/get_current_account", json!(null))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"][".tag"], "expired_access_token", "{body}");
}

#[tokio::test]
async fn phases_that_do_not_fit_the_kind_are_refused() {
    let h = start().await;
    for spec in [
        json!({"route": "*", "kind": "reset", "phase": "early"}),
        json!({"route": "*", "kind": "status", "status": 429, "phase": "request"}),
    ] {
        let resp = h
            .http
            .post(h.url("/__emulator/faults"))
            .json(&spec)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{spec}");
    }
}

/// `times` + `after` select exactly which matching requests fail, and the control API
/// counts how often each rule fired.
#[tokio::test]
async fn times_and_after_pick_the_requests_and_are_counted() {
    let h = start().await;
    fault(
        &h,
        json!({"route": "users/get_current_account", "kind": "status", "status": 503,
               "times": 2, "after": 1}),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(h.rpc("users/get_current_account", json!(null)).await.0);
    }
    assert_eq!(statuses, vec![200, 503, 503, 200, 200]);
    let faults = h.control(Method::GET, "/faults", None).await;
    assert_eq!(faults["faults"][0]["fired"], 2, "{faults}");
    assert_eq!(faults["faults"][0]["passed"], 1, "{faults}");
}

/// The same seed gives the same requests the same faults.
#[tokio::test]
async fn a_seeded_percent_fault_replays() {
    async fn run(seed: u64) -> Vec<u16> {
        let h = start().await;
        fault(
            &h,
            json!({"route": "users/*", "kind": "status", "status": 503, "percent": 40.0,
                   "seed": seed}),
        )
        .await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(h.rpc("users/get_current_account", json!(null)).await.0);
        }
        statuses
    }
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
    assert_ne!(a, run(8).await);
}
