//! Secrets never reach the log, at any level: everything the server process writes at
//! TRACE (the server, dropbox-client, tonic, hyper, reqwest, sqlx) while a connection with
//! every secret is created, used, refreshed, authorised (refused, then accepted), tested
//! and deleted. The server is served over TLS, the emulator (Dropbox's side) over HTTPS,
//! and the connection goes through a real tinyproxy that demands Basic auth (a CONNECT
//! tunnel), so the proxy password really goes on the wire.
//! Forbidden: the app secret, the proxy password, the secrets key, every token the
//! emulator issued (read from its control API, the refreshed and re-authorised ones
//! included), and their encoded forms (Basic auth base64, URL encoding).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeSet;

use base64::Engine;
use common::tls::{Ca, ServerFiles, client_tls};
use common::{Env, Options, approve, reason, upload_one};
use dropbox_connector_proto::v1 as pb;
use dropbox_connector_test_kit::ProxyProcess;
use dropbox_emulator::AppRegistration;

const APP_KEY: &str = "log-app";
/// `+`, `/` and `=` so that the URL-encoded form differs from the raw one. Every secret
/// here holds `S3CR3T`, so a fragment of one in the log is caught too.
const APP_SECRET: &str = "log-app+secret/S3CR3T=";
const PROXY_USER: &str = "log-proxy-user";
/// tinyproxy's BasicAuth takes letters, digits, `-` and `_` only.
const PROXY_PASSWORD: &str = "proxy-pass_S3CR3T";

/// Every access and refresh token the emulator has issued and not revoked.
async fn issued_tokens(env: &Env) -> BTreeSet<String> {
    let v = env.control_get("/__emulator/tokens").await;
    ["access_tokens", "refresh_tokens"]
        .iter()
        .flat_map(|k| v[k].as_array().unwrap().clone())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

/// A secret and the forms it takes on the wire.
fn forms(secret: &str) -> Vec<String> {
    let url: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        secret.to_owned(),
        url,
        b64.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    ]
}

#[tokio::test]
async fn no_secret_reaches_the_log_at_trace_level() {
    let work = tempfile::tempdir().unwrap();
    let ca = Ca::new("secrets test CA");
    let files = ServerFiles::new(work.path(), &ca.server(1), None);
    let mut env_vars = files.env(false);
    env_vars.push(("DBXC_LOG__LEVEL".into(), "trace".into()));
    let mut env = Env::start_with(Options {
        apps: vec![AppRegistration::new(APP_KEY, APP_SECRET)],
        env: env_vars,
        client_tls: Some(client_tls(&ca.pem(), None)),
        emulator_tls: true,
        ..Default::default()
    })
    .await;
    let proxy = ProxyProcess::tinyproxy(work.path(), PROXY_USER, PROXY_PASSWORD);
    let minted = env
        .control(
            "/__emulator/tokens",
            serde_json::json!({"app_key": APP_KEY}),
        )
        .await;
    let conn = pb::Connection {
        display_name: "logged".into(),
        app: Some(pb::AppSettings {
            app_key: APP_KEY.into(),
            app_secret: APP_SECRET.into(),
            redirect_uri: String::new(),
        }),
        credentials: Some(pb::Credentials {
            access_token: minted["access_token"].as_str().unwrap().into(),
            refresh_token: minted["refresh_token"].as_str().unwrap().into(),
        }),
        proxy: Some(pb::ProxySettings {
            r#type: pb::ProxyType::Http as i32,
            address: "127.0.0.1".into(),
            port: u32::from(proxy.port),
            use_credentials: true,
            username: PROXY_USER.into(),
            password: PROXY_PASSWORD.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    env.create_connection(conn).await;
    upload_one(&env, "logged", "/logs", "a.txt", b"data").await;
    // Refresh on expiry (through the proxy, with the app secret).
    env.control("/__emulator/tokens/expire", serde_json::json!({}))
        .await;
    upload_one(&env, "logged", "/logs", "b.txt", b"data").await;
    let mut tokens = issued_tokens(&env).await;
    assert!(
        tokens.len() >= 3,
        "minted access + refresh, and the refreshed access token: {tokens:?}"
    );

    // OAuth: a refused completion (a code Dropbox never issued), then an accepted one.
    let start = || async {
        env.conns()
            .start_authorization(pb::StartAuthorizationRequest {
                name: "logged".into(),
                redirect_uri: String::new(),
                no_redirect: false,
            })
            .await
            .unwrap()
            .into_inner()
    };
    let started = start().await;
    let refused = env
        .conns()
        .complete_authorization(pb::CompleteAuthorizationRequest {
            state: started.state,
            code: "wrong-code".into(),
        })
        .await
        .expect_err("a code Dropbox never issued is refused");
    assert_eq!(
        reason(&refused),
        (
            tonic::Code::FailedPrecondition,
            "AUTHORIZATION_STATE_INVALID".to_owned()
        ),
        "{refused:?}"
    );
    let started = start().await;
    let (code, state) = approve(&env, &started.authorize_url).await;
    env.conns()
        .complete_authorization(pb::CompleteAuthorizationRequest { state, code })
        .await
        .unwrap();
    upload_one(&env, "logged", "/logs", "c.txt", b"data").await;
    tokens.extend(issued_tokens(&env).await);

    let report = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: "logged".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(report.ok, "{report:?}");
    tokens.extend(issued_tokens(&env).await);
    env.conns()
        .delete_connection(pb::DeleteConnectionRequest {
            name: "logged".into(),
        })
        .await
        .unwrap();
    let key = env.config_env["DBXC_SECRETS__KEY"].clone();
    env.stop_server().await;

    // The traffic really went through the proxy, which demands the password.
    let proxy_log = proxy.log();
    let emulator_port = env.emulator.base_url().rsplit(':').next().unwrap();
    let emulator_port = emulator_port.trim_end_matches('/');
    assert!(
        proxy_log.contains(&format!("CONNECT 127.0.0.1:{emulator_port}")),
        "tinyproxy tunnelled the Dropbox calls (HTTPS through CONNECT):\n{proxy_log}"
    );
    assert!(env.emulator.base_url().starts_with("https://"));

    let log = env.server_log();
    assert!(
        log.contains("dropbox_connector_server")
            && log.contains("refreshing access token")
            && log.contains("TRACE"),
        "the capture works at trace level: {} bytes",
        log.len()
    );
    let mut forbidden: Vec<String> = Vec::new();
    for secret in [APP_SECRET, PROXY_PASSWORD, key.as_str(), "S3CR3T"] {
        forbidden.extend(forms(secret));
    }
    // What HTTP Basic auth sends: to the proxy, and the app's client authentication.
    forbidden.extend(forms(&format!("{PROXY_USER}:{PROXY_PASSWORD}")));
    forbidden.extend(forms(&format!("{APP_KEY}:{APP_SECRET}")));
    for token in &tokens {
        forbidden.extend(forms(token));
    }
    for secret in &forbidden {
        assert!(
            !log.contains(secret.as_str()),
            "a secret is in the log: {secret}"
        );
    }
}
