//! Secrets never reach the log, at any level: everything the server process writes at
//! TRACE (the server, dropbox-client, tonic, hyper, reqwest, sqlx) while connections with
//! every secret are created, used, refreshed, authorised, tested and deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::{Env, Options, Src, upload_messages};
use dropbox_connector_proto::v1 as pb;
use dropbox_emulator::AppRegistration;

const APP_KEY: &str = "log-app";
const APP_SECRET: &str = "log-app-secret-S3CR3T";
const PROXY_PASSWORD: &str = "proxy-password-S3CR3T";

async fn upload(env: &Env, connection: &str, name: &str) {
    let spec = pb::UploadSpec {
        connection: connection.into(),
        destination_folder: "/logs".into(),
        overwrite: None,
        keep_modified_date: false,
        autorename: false,
    };
    let messages = upload_messages(spec, vec![Src::new(name, b"data")], 1024);
    let r = env
        .cloud()
        .upload_files(futures::stream::iter(messages))
        .await
        .unwrap()
        .into_inner();
    assert!(
        matches!(
            r.results[0].outcome,
            Some(pb::file_result::Outcome::Uploaded(_))
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn no_secret_reaches_the_log_at_trace_level() {
    let mut env = Env::start_with(Options {
        apps: vec![AppRegistration::new(APP_KEY, APP_SECRET)],
        env: vec![("DBXC_LOG__LEVEL".into(), "trace".into())],
        ..Default::default()
    })
    .await;
    let minted = env
        .control(
            "/__emulator/tokens",
            serde_json::json!({"app_key": APP_KEY}),
        )
        .await;
    let access = minted["access_token"].as_str().unwrap().to_owned();
    let refresh = minted["refresh_token"].as_str().unwrap().to_owned();
    let conn = pb::Connection {
        display_name: "logged".into(),
        app: Some(pb::AppSettings {
            app_key: APP_KEY.into(),
            app_secret: APP_SECRET.into(),
            redirect_uri: String::new(),
        }),
        credentials: Some(pb::Credentials {
            access_token: access.clone(),
            refresh_token: refresh.clone(),
        }),
        proxy: Some(pb::ProxySettings {
            r#type: pb::ProxyType::None as i32,
            use_credentials: true,
            username: "someone".into(),
            password: PROXY_PASSWORD.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    env.conns()
        .create_connection(pb::CreateConnectionRequest {
            connection: Some(conn),
        })
        .await
        .unwrap();
    upload(&env, "logged", "a.txt").await;
    // Refresh on expiry.
    env.control("/__emulator/tokens/expire", serde_json::json!({}))
        .await;
    upload(&env, "logged", "b.txt").await;
    // OAuth start (the verifier stays on the server) and a refused completion.
    let started = env
        .conns()
        .start_authorization(pb::StartAuthorizationRequest {
            name: "logged".into(),
            redirect_uri: String::new(),
            no_redirect: false,
        })
        .await
        .unwrap()
        .into_inner();
    let _ = env
        .conns()
        .complete_authorization(pb::CompleteAuthorizationRequest {
            state: started.state,
            code: "wrong-code".into(),
        })
        .await;
    env.conns()
        .test_connection(pb::TestConnectionRequest {
            name: "logged".into(),
        })
        .await
        .unwrap();
    env.conns()
        .delete_connection(pb::DeleteConnectionRequest {
            name: "logged".into(),
        })
        .await
        .unwrap();
    let key = env.config_env["DBXC_SECRETS__KEY"].clone();
    env.stop_server().await;

    let log = env.server_log();
    assert!(
        log.contains("dropbox_connector_server") && log.contains("refreshing access token"),
        "the capture works: {} bytes",
        log.len()
    );
    for secret in [
        APP_SECRET,
        PROXY_PASSWORD,
        access.as_str(),
        refresh.as_str(),
        key.as_str(),
    ] {
        assert!(!log.contains(secret), "a secret is in the log: {secret}");
    }
}
