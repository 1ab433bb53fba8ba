//! TestConnection's test URL is chosen by whoever may edit a connection: it is read with a
//! bound, and outside `--dev` it may not point at loopback, link-local or private addresses
//! unless the operator allows them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{Env, Options, reason};
use dropbox_connector_proto::v1 as pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the test "proxy" saw and sent.
#[derive(Default)]
struct Served {
    requests: AtomicU64,
    body_bytes: AtomicU64,
    /// Set when the huge body has ended (written whole, or the reader left).
    body_done: AtomicBool,
}

const HUGE: u64 = 1 << 30;

/// An HTTP proxy stand-in that answers requests for `/huge` with a 1 GiB body, written
/// until the reader goes away.
async fn huge_body_proxy() -> (u16, Arc<Served>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(Served::default());
    let s = served.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return, // the bare TCP check
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let request_line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                if !request_line.contains("/huge") {
                    // Not the test URL (the Dropbox step also goes through this proxy).
                    let _ = sock
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                s.requests.fetch_add(1, Ordering::SeqCst);
                let header = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {HUGE}\r\n\r\n"
                );
                if sock.write_all(header.as_bytes()).await.is_ok() {
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut sent = 0u64;
                    while sent < HUGE {
                        if sock.write_all(&chunk).await.is_err() {
                            break;
                        }
                        sent += chunk.len() as u64;
                        s.body_bytes.store(sent, Ordering::SeqCst);
                    }
                }
                s.body_done.store(true, Ordering::SeqCst);
            });
        }
    });
    (port, served)
}

fn proxied(name: &str, port: u16, test_url: &str) -> pb::Connection {
    pb::Connection {
        display_name: name.into(),
        timeout_seconds: 20,
        credentials: Some(pb::Credentials {
            access_token: common::TOKEN.into(),
            refresh_token: String::new(),
        }),
        proxy: Some(pb::ProxySettings {
            r#type: pb::ProxyType::Http as i32,
            address: "127.0.0.1".into(),
            port: u32::from(port),
            test_url: test_url.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn test(env: &Env, name: &str) -> Result<pb::TestConnectionResponse, tonic::Status> {
    env.conns()
        .test_connection(pb::TestConnectionRequest { name: name.into() })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn a_loopback_test_url_is_refused_by_default() {
    let env = Env::start().await;
    let (port, served) = huge_body_proxy().await;
    for (i, url) in [
        "http://127.0.0.1:9/huge",
        "http://localhost/huge",
        "http://169.254.169.254/huge/latest/meta-data/",
        "http://[::1]:8080/huge",
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("private-{i}");
        env.create_connection(proxied(&name, port, url)).await;
        let status = test(&env, &name).await.unwrap_err();
        assert_eq!(
            reason(&status),
            (
                tonic::Code::PermissionDenied,
                "TARGET_NOT_ALLOWED".to_owned()
            ),
            "{url}: {status:?}"
        );
        assert!(
            status
                .message()
                .contains("DBXC_TEST_CONNECTION__ALLOW_PRIVATE_TARGETS"),
            "{}",
            status.message()
        );
    }
    assert_eq!(
        served.requests.load(Ordering::SeqCst),
        0,
        "nothing was fetched"
    );
    env.stop().await;
}

#[tokio::test]
async fn an_allowed_test_url_with_a_huge_body_is_read_only_up_to_the_bound() {
    let env = Env::start_with(Options {
        env: vec![(
            "DBXC_TEST_CONNECTION__ALLOW_PRIVATE_TARGETS".into(),
            "true".into(),
        )],
        ..Default::default()
    })
    .await;
    let (port, served) = huge_body_proxy().await;
    env.create_connection(proxied("huge", port, "http://127.0.0.1:9/huge"))
        .await;
    let t = test(&env, "huge").await.unwrap();
    assert!(t.steps[0].ok, "{t:?}");
    assert_eq!(t.steps[0].step, "proxy");
    assert!(
        t.steps[0]
            .detail
            .contains("the test reads at most 65536 bytes"),
        "{}",
        t.steps[0].detail
    );
    assert_eq!(served.requests.load(Ordering::SeqCst), 1);
    // The server hung up long before the body's end.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !served.body_done.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the body is still being read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = served.body_bytes.load(Ordering::SeqCst);
    assert!(
        sent < 64 << 20,
        "{sent} bytes of the 1 GiB body were taken (the bound is 64 KiB plus socket buffers)"
    );
    env.stop().await;
}
