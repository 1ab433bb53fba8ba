//! Issue 14, item 6: the proxy types besides HTTP and SOCKS5, on loopback with real
//! proxies. SOCKS4 goes through danted serving SOCKS v4 (no authentication: SOCKS4 has
//! none); HTTPS goes through tinyproxy behind a TLS front (rustls, in this test), whose
//! CA the server trusts through `DBXC_DROPBOX__CA_FILE`. Each connection uploads a file
//! (read back straight from the emulator) and passes TestConnection, and the proxy's own
//! log shows the traffic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::tls::Ca;
use common::{Env, Options, TOKEN, token_connection, upload_one};
use dropbox_connector_proto::v1 as pb;
use dropbox_connector_test_kit::ProxyProcess;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

fn emulator_port(env: &Env) -> String {
    env.emulator
        .base_url()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned()
}

/// Creates `name` with `proxy`, uploads one file through it, checks the bytes in the
/// emulator (raw HTTP, no proxy) and that TestConnection passes every step.
async fn exercise(env: &Env, name: &str, proxy: pb::ProxySettings) {
    let mut c = token_connection(name, "");
    c.proxy = Some(proxy);
    env.create_connection(c).await;
    let data = format!("through {name}\n").into_bytes();
    upload_one(env, name, &format!("/{name}"), "f.txt", &data).await;
    let stored = reqwest::Client::new()
        .post(format!("{}/2/files/download", env.emulator.base_url()))
        .bearer_auth(TOKEN)
        .header(
            "Dropbox-API-Arg",
            serde_json::json!({ "path": format!("/{name}/f.txt") }).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(stored.status().is_success(), "{name}: {}", stored.status());
    assert_eq!(stored.bytes().await.unwrap().to_vec(), data, "{name}");
    let report = env
        .conns()
        .test_connection(pb::TestConnectionRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner();
    assert!(report.ok, "{name}: {report:?}");
}

#[tokio::test]
async fn socks4_through_danted() {
    let work = tempfile::tempdir().unwrap();
    let env = Env::start().await;
    let proxy = ProxyProcess::danted_socks4(work.path());
    exercise(
        &env,
        "via-socks4",
        pb::ProxySettings {
            r#type: pb::ProxyType::Socks4 as i32,
            address: "127.0.0.1".into(),
            port: u32::from(proxy.port),
            ..Default::default()
        },
    )
    .await;
    // danted writes addresses as `127.0.0.1.PORT`.
    let log = proxy.log();
    assert!(
        log.contains(&format!("127.0.0.1.{}", emulator_port(&env))),
        "danted carried the calls:\n{log}"
    );
}

/// A TLS front on 127.0.0.1:0 for a plain proxy on `upstream`: an HTTPS proxy. Returns
/// its port and how many TLS handshakes it completed.
async fn tls_front(ca: &Ca, upstream: u16) -> (u16, Arc<AtomicUsize>) {
    let issued = ca.server(7);
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes())
            .map(Result::unwrap)
            .collect(),
        PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut plain) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    (port, handshakes)
}

#[tokio::test]
async fn https_proxy_with_basic_auth_behind_tls() {
    let work = tempfile::tempdir().unwrap();
    let ca = Ca::new("https proxy CA");
    let ca_file = work.path().join("proxy-ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let env = Env::start_with(Options {
        env: vec![(
            "DBXC_DROPBOX__CA_FILE".into(),
            ca_file.display().to_string(),
        )],
        ..Default::default()
    })
    .await;
    let tinyproxy = ProxyProcess::tinyproxy(work.path(), "tlsuser", "tls-proxy-pass");
    let (port, handshakes) = tls_front(&ca, tinyproxy.port).await;
    exercise(
        &env,
        "via-https",
        pb::ProxySettings {
            r#type: pb::ProxyType::Https as i32,
            address: "127.0.0.1".into(),
            port: u32::from(port),
            use_credentials: true,
            username: "tlsuser".into(),
            password: "tls-proxy-pass".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(handshakes.load(Ordering::SeqCst) > 0, "TLS to the proxy");
    let log = tinyproxy.log();
    assert!(
        log.contains(&format!("127.0.0.1:{}", emulator_port(&env))),
        "tinyproxy carried the calls:\n{log}"
    );
}
