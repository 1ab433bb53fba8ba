//! TLS on the gRPC listener: calls over TLS, mTLS that requires a client certificate,
//! certificate rotation during a 64 MiB upload, and the start-up refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::tls::{Ca, ServerFiles, client_tls, served_certificate, tls_channel};
use common::*;
use dropbox_connector_proto::v1 as pb;
use pb::upload_files_request::Message as Up;
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

async fn health(channel: tonic::transport::Channel) -> Result<i32, tonic::Status> {
    HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status)
}

/// A call that failed in the connection (no gRPC answer from the server): tonic reports
/// those as UNAVAILABLE, UNKNOWN, CANCELLED or (when h2 reads a TLS alert as a frame)
/// INTERNAL, always with the transport error as the source.
fn assert_transport_failure(status: &tonic::Status) {
    use std::error::Error;
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unavailable
                | tonic::Code::Unknown
                | tonic::Code::Cancelled
                | tonic::Code::Internal
        ) && status
            .source()
            .is_some_and(|s| s.is::<tonic::transport::Error>()),
        "not a transport failure: {status:?}"
    );
}

/// Starts the server with TLS (and mTLS when `client` is given: the Env's own channel
/// then presents that client certificate).
async fn tls_env(ca: &Ca, files: &ServerFiles, client: Option<&common::tls::Issued>) -> Env {
    Env::start_with(Options {
        env: files.env(client.is_some()),
        client_tls: Some(client_tls(&ca.pem(), client)),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn calls_work_over_tls_and_plain_http_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let files = ServerFiles::new(dir.path(), &ca.server(1), None);
    let env = tls_env(&ca, &files, None).await;
    // The Env's setup (CreateConnection) already went over TLS; an upload and a listing too.
    env.put("/tls", "a.txt", b"over tls", None).await;
    assert_eq!(env.remote_bytes("/tls/a.txt").await, b"over tls");
    assert_eq!(
        health(env.channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );

    // A client speaking plain HTTP/2 to the TLS port gets nowhere.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{}", env.address))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5));
    let refused = match plain.connect().await {
        Err(e) => format!("connect: {e}"),
        Ok(channel) => {
            let status = health(channel)
                .await
                .expect_err("plain HTTP must not be served");
            assert_transport_failure(&status);
            format!("{status:?}")
        }
    };
    println!("plain HTTP against the TLS port: {refused}");

    // A client that does not trust the CA is refused in the handshake.
    let other = Ca::new("another CA");
    assert!(
        tls_channel(env.address, client_tls(&other.pem(), None))
            .await
            .is_err()
    );
    env.stop().await;
}

#[tokio::test]
async fn mtls_requires_a_client_certificate_signed_by_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let files = ServerFiles::new(dir.path(), &server_ca.server(1), Some(&client_ca.pem()));
    let exporter = client_ca.client("spiffe://cluster.local/ns/reports/sa/exporter", None);
    // The Env's own calls (CreateConnection, the upload below) present `exporter`.
    let env = tls_env(&server_ca, &files, Some(&exporter)).await;
    env.put("/mtls", "a.txt", b"with a client certificate", None)
        .await;
    assert_eq!(
        health(env.channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );

    // No client certificate: the handshake fails, so does the call.
    let failure = match tls_channel(env.address, client_tls(&server_ca.pem(), None)).await {
        Err(e) => format!("connect: {e}"),
        Ok(channel) => {
            let status = health(channel)
                .await
                .expect_err("a client without a certificate must be refused");
            assert_transport_failure(&status);
            format!("{status:?}")
        }
    };
    println!("mTLS without a client certificate: {failure}");

    // A certificate from a CA the server does not trust: refused too.
    let stranger = Ca::new("stranger").client("spiffe://elsewhere/x", None);
    let refused =
        match tls_channel(env.address, client_tls(&server_ca.pem(), Some(&stranger))).await {
            Err(_) => true,
            Ok(channel) => health(channel).await.is_err(),
        };
    assert!(
        refused,
        "a client certificate from another CA must be refused"
    );

    // A certificate from the client CA: served.
    let other_caller = client_ca.client("spiffe://cluster.local/ns/x/sa/y", Some("y.x.svc"));
    let channel = tls_channel(
        env.address,
        client_tls(&server_ca.pem(), Some(&other_caller)),
    )
    .await
    .unwrap();
    assert_eq!(
        health(channel).await.unwrap(),
        ServingStatus::Serving as i32
    );
    env.stop().await;
}

#[tokio::test]
async fn a_silent_client_neither_blocks_others_nor_outstays_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let files = ServerFiles::new(dir.path(), &ca.server(1), None);
    let mut env_vars = files.env(false);
    env_vars.push(("DBXC_TLS__HANDSHAKE_TIMEOUT_SECONDS".into(), "5".into()));
    let env = Env::start_with(Options {
        env: env_vars,
        client_tls: Some(client_tls(&ca.pem(), None)),
        ..Default::default()
    })
    .await;
    // Connects and never says ClientHello.
    let mut silent = tokio::net::TcpStream::connect(env.address).await.unwrap();
    let opened = tokio::time::Instant::now();
    // Meanwhile others connect and are served.
    for _ in 0..3 {
        let channel = tls_channel(env.address, client_tls(&ca.pem(), None))
            .await
            .unwrap();
        assert_eq!(
            health(channel).await.unwrap(),
            ServingStatus::Serving as i32
        );
    }
    let served_after = opened.elapsed();
    // The silent one is dropped once its handshake time is up.
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(60), silent.read(&mut buf))
        .await
        .expect("the server closes a connection that never handshakes");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let dropped_after = opened.elapsed();
    println!(
        "others served {served_after:?} after a silent client connected; it was dropped after {dropped_after:?}"
    );
    assert!(dropped_after >= Duration::from_secs(5));
    assert!(
        served_after < dropped_after,
        "the other clients waited for the silent one"
    );
    env.stop().await;
}

/// Waits until a new connection is served the certificate `want` (DER).
async fn wait_for_served(env: &Env, ca_pem: &str, want: &[u8]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let served = served_certificate(env.address, ca_pem, None).await.unwrap();
        if served == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not pick up the new certificate within 30 s:\n{}",
            env.server_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn certificate_rotation_during_a_64_mib_upload() {
    const SIZE: usize = 64 * 1024 * 1024;
    const CHUNK: usize = 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let first = ca.server(1);
    let mut files = ServerFiles::new(dir.path(), &first, None);
    let env = tls_env(&ca, &files, None).await;
    assert_eq!(
        served_certificate(env.address, &ca.pem(), None)
            .await
            .unwrap(),
        first.der
    );

    let data = bytes(SIZE, 7);
    let expected_hash = dropbox_client::content_hash::content_hash(&data);
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let call = {
        let mut cloud = env.cloud();
        tokio::spawn(async move {
            upload_results(cloud.upload_files(ReceiverStream::new(rx)).await).await
        })
    };
    tx.send(msg(Up::Spec(spec("/rot", None, false))))
        .await
        .unwrap();
    tx.send(header(&Src::new("big.bin", &data))).await.unwrap();
    let send_chunks = |range: std::ops::Range<usize>| {
        let tx = tx.clone();
        let data = &data;
        async move {
            for i in range {
                tx.send(msg(Up::Chunk(pb::DataChunk {
                    offset: (i * CHUNK) as u64,
                    data: data[i * CHUNK..(i + 1) * CHUNK].to_vec(),
                })))
                .await
                .unwrap();
            }
        }
    };
    let chunks = SIZE / CHUNK;
    send_chunks(0..chunks / 4).await;

    // Rotate in the middle of the upload: new key, new serial, new subject; then wait
    // until a new connection gets it before sending the rest.
    let second = ca.server(2);
    files.rotate(&second, None);
    wait_for_served(&env, &ca.pem(), &second.der).await;
    println!("rotated after {} MiB of 64", chunks / 4);
    send_chunks(chunks / 4..chunks).await;
    tx.send(msg(Up::FileEnd(pb::FileEnd {
        content_hash: expected_hash.clone(),
    })))
    .await
    .unwrap();
    drop(tx);

    let response = call.await.unwrap().expect("the upload in flight completes");
    match response.results[0].outcome.as_ref().unwrap() {
        pb::file_result::Outcome::Uploaded(m) => assert_eq!(m.content_hash, expected_hash),
        other => panic!("not uploaded: {other:?}"),
    }
    assert!(
        env.remote_bytes("/rot/big.bin").await == data,
        "emulator bytes differ"
    );

    // New connections, including a new tonic channel, are served the new certificate.
    assert_eq!(
        served_certificate(env.address, &ca.pem(), None)
            .await
            .unwrap(),
        second.der
    );
    let channel = tls_channel(env.address, client_tls(&ca.pem(), None))
        .await
        .unwrap();
    assert_eq!(
        health(channel).await.unwrap(),
        ServingStatus::Serving as i32
    );

    // A broken file is not taken: the current certificate stays.
    std::fs::write(dir.path().join("v2").join("tls.crt"), "not a certificate").unwrap();
    let log_has_warning = || env.server_log().contains("new TLS files are not usable");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !log_has_warning() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no warning logged:\n{}",
            env.server_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        served_certificate(env.address, &ca.pem(), None)
            .await
            .unwrap(),
        second.der
    );
    env.stop().await;
}

/// Runs the binary with `env` and returns (success, stdout, stderr).
async fn run_binary(env: &[(&str, String)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dropbox-connector"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("DBXC_")) {
        command.env_remove(key);
    }
    command
        .env("DBXC_LISTEN", "127.0.0.1:0")
        .env("DBXC_DATA_DIR", dir.path())
        .env("DBXC_SECRETS__KEY", new_key())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("a refused start ends promptly")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn refuses_to_start_with_half_a_tls_setup_or_unusable_files() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let files = ServerFiles::new(dir.path(), &ca.server(1), None);
    let cert = files.cert_path().display().to_string();
    let key = files.key_path().display().to_string();

    let (ok, out, err) = run_binary(&[("DBXC_TLS__CERT_FILE", cert.clone())]).await;
    assert!(!ok && !out.contains("listening on"), "{out}{err}");
    assert!(err.contains("DBXC_TLS__KEY_FILE"), "{err}");

    let (ok, out, err) = run_binary(&[("DBXC_TLS__KEY_FILE", key.clone())]).await;
    assert!(!ok && !out.contains("listening on"), "{out}{err}");
    assert!(err.contains("DBXC_TLS__CERT_FILE"), "{err}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not PEM at all").unwrap();
    let garbage = garbage.display().to_string();
    let (ok, out, err) = run_binary(&[
        ("DBXC_TLS__CERT_FILE", garbage.clone()),
        ("DBXC_TLS__KEY_FILE", key.clone()),
    ])
    .await;
    assert!(!ok && !out.contains("listening on"), "{out}{err}");
    assert!(err.contains("tls.cert_file"), "{err}");

    let (ok, out, err) = run_binary(&[
        ("DBXC_TLS__CERT_FILE", cert.clone()),
        ("DBXC_TLS__KEY_FILE", garbage.clone()),
    ])
    .await;
    assert!(!ok && !out.contains("listening on"), "{out}{err}");
    assert!(err.contains("tls.key_file"), "{err}");

    // A key that belongs to another certificate.
    let other = ca.server(2);
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let (ok, out, err) = run_binary(&[
        ("DBXC_TLS__CERT_FILE", cert.clone()),
        ("DBXC_TLS__KEY_FILE", other_key.display().to_string()),
    ])
    .await;
    assert!(!ok && !out.contains("listening on"), "{out}{err}");
    assert!(err.contains("does not fit"), "{err}");

    let (ok, out, err) = run_binary(&[
        ("DBXC_TLS__CERT_FILE", cert),
        ("DBXC_TLS__KEY_FILE", key),
        ("DBXC_TLS__CLIENT_CA_FILE", garbage),
    ])
    .await;
    assert!(!ok && !out.contains("listening on"), "{out}{err}");
    assert!(err.contains("tls.client_ca_file"), "{err}");
}
