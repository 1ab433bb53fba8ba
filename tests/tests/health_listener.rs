//! The kubelet's native gRPC probes speak plain HTTP/2 only. With TLS and callers on the
//! API port, `DBXC_HEALTH_LISTEN` serves the standard health service alone, in plain
//! text and without identity; nothing else is reachable there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dropbox_connector_proto::v1::ListConnectionsRequest;
use dropbox_connector_proto::v1::connection_service_client::ConnectionServiceClient;
use dropbox_connector_tests::tls::{TestCa, token_sha256};
use dropbox_connector_tests::{EmulatorProcess, ServerProcess, wait_until};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn probes_reach_health_in_plain_text_and_nothing_else() {
    let work = tempfile::tempdir().unwrap();
    let ca = TestCa::new(work.path(), "server");
    let cert = ca.server_cert("server");
    let callers = work.path().join("callers.toml");
    std::fs::write(
        &callers,
        format!(
            "[[caller]]\nname = \"ops\"\ntoken_sha256 = \"{}\"\nrole = \"admin\"\ngroups = [\"*\"]\n",
            token_sha256("a-token-nobody-sends-here")
        ),
    )
    .unwrap();
    let emulator = EmulatorProcess::start(work.path(), &[]);
    let server = ServerProcess::start_with_env(
        work.path(),
        &work.path().join("data"),
        &emulator.base_url,
        &[
            ("DBXC_TLS__CERT_FILE", cert.cert_file.to_str().unwrap()),
            ("DBXC_TLS__KEY_FILE", cert.key_file.to_str().unwrap()),
            ("DBXC_AUTH__CALLERS_FILE", callers.to_str().unwrap()),
            ("DBXC_HEALTH_LISTEN", "127.0.0.1:0"),
        ],
    );
    let mut health_address = None;
    wait_until(
        Duration::from_secs(30),
        "the health listener's address",
        || {
            for line in server.process.stdout_so_far() {
                if let Some(a) = line.trim().strip_prefix("health listening on ") {
                    health_address = Some(a.to_owned());
                }
            }
            health_address.is_some()
        },
    );
    let url = format!("http://{}", health_address.unwrap());
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();

    let mut health = HealthClient::new(channel.clone());
    for service in [
        "",
        "dropbox_connector.v1.CloudTaskService",
        "dropbox_connector.v1.ConnectionService",
    ] {
        let mut status = None;
        for _ in 0..300 {
            let answer = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .status;
            status = Some(answer);
            if answer == ServingStatus::Serving as i32 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, Some(ServingStatus::Serving as i32), "{service:?}");
    }

    // The API is not served on the health port, with or without TLS in front.
    let refused = ConnectionServiceClient::new(channel)
        .list_connections(ListConnectionsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unimplemented, "{refused:?}");
}
