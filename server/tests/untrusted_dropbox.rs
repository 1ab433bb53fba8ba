//! Values from Dropbox are untrusted input: an answer of any size or form must end a call
//! with a clear error, never a panic (a panicking listing task would end the stream as a
//! clean, empty OK).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::*;
use dropbox_connector_proto::v1 as pb;
use tonic_types::StatusExt;

#[tokio::test]
async fn a_huge_retry_after_is_clamped_and_said_never_a_panic() {
    let env = Env::start().await;
    env.put("/ra", "a.txt", b"a", None).await;
    // u64::MAX seconds, in the Retry-After header and in the body's retry_after.
    env.control(
        "/__emulator/faults",
        serde_json::json!({
            "route": "files/list_folder", "kind": "status", "status": 429,
            "retry_after": u64::MAX, "count": 1
        }),
    )
    .await;
    let status = env
        .list(pb::RemoteFileFilter {
            folder: "/ra".into(),
            ..Default::default()
        })
        .await
        .expect_err("a 429 longer than the call's budget fails the call");
    assert_eq!(
        reason(&status),
        (tonic::Code::ResourceExhausted, "RATE_LIMITED".to_owned()),
        "{status:?}"
    );
    assert!(
        status
            .message()
            .contains("Dropbox asked to wait 18446744073709551615 s; clamped to 900 s"),
        "{}",
        status.message()
    );
    let retry = status
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo");
    assert_eq!(retry, Duration::from_secs(900));
    // The server is still there.
    env.conns()
        .list_connections(pb::ListConnectionsRequest::default())
        .await
        .unwrap();
    assert!(
        !env.server_log().contains("panicked"),
        "{}",
        env.server_log()
    );
    env.stop().await;
}
