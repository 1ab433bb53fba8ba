//! Credentials go only where they were entered for, and replaced tokens are revoked at
//! Dropbox: an update that moves a proxy drops its stored password; tokens replaced by an
//! update or a new authorization stop working.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::{Env, Options, approve};
use dropbox_connector_proto::v1 as pb;
use dropbox_emulator::AppRegistration;

const APP_KEY: &str = "app-key-h";
const APP_SECRET: &str = "app-secret-h";
const PROXY_PASSWORD: &str = "proxy-password-SECRET";

fn with_app() -> Options {
    Options {
        apps: vec![AppRegistration::new(APP_KEY, APP_SECRET)],
        ..Default::default()
    }
}

async fn update(env: &Env, c: pb::Connection, mask: &[&str]) -> pb::Connection {
    env.conns()
        .update_connection(pb::UpdateConnectionRequest {
            connection: Some(c),
            update_mask: Some(prost_types::FieldMask {
                paths: mask.iter().map(|p| (*p).to_owned()).collect(),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .connection
        .unwrap()
}

async fn get(env: &Env, name: &str) -> pb::Connection {
    env.conns()
        .get_connection(pb::GetConnectionRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner()
        .connection
        .unwrap()
}

/// A proxy that records the request heads it receives and answers 502.
async fn recording_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                record
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = s
                    .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, seen)
}

/// The credentials a request head presents to the proxy, decoded (`user:password`).
fn proxy_credentials(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("proxy-authorization") {
            return None;
        }
        let b64 = value.trim().strip_prefix("Basic ")?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()?;
        Some(String::from_utf8_lossy(&raw).into_owned())
    })
}

#[tokio::test]
async fn moving_a_proxy_without_its_password_drops_the_password() {
    let env = Env::start().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let proxy = |port: u16, password: &str| pb::ProxySettings {
        r#type: pb::ProxyType::Http as i32,
        address: "127.0.0.1".into(),
        port: u32::from(port),
        use_credentials: true,
        username: "proxy-user".into(),
        password: password.into(),
        ..Default::default()
    };
    let created = env
        .create_connection(pb::Connection {
            display_name: "moved".into(),
            timeout_seconds: 5,
            credentials: Some(pb::Credentials {
                access_token: common::TOKEN.into(),
                refresh_token: String::new(),
            }),
            proxy: Some(proxy(closed, PROXY_PASSWORD)),
            ..Default::default()
        })
        .await;
    assert!(created.credential_state.unwrap().has_proxy_password);

    // Only the port changes: to a proxy the updater controls.
    let (port, seen) = recording_proxy().await;
    let updated = update(
        &env,
        pb::Connection {
            name: "moved".into(),
            proxy: Some(proxy(port, "")),
            ..Default::default()
        },
        &["proxy.port"],
    )
    .await;
    assert_eq!(updated.proxy.as_ref().unwrap().port, u32::from(port));
    assert!(
        !updated.credential_state.unwrap().has_proxy_password,
        "the password entered for the old proxy is no longer set"
    );
    assert!(
        !get(&env, "moved")
            .await
            .credential_state
            .unwrap()
            .has_proxy_password
    );

    // Traffic now goes to the new proxy, without the old password.
    let t = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: "moved".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!t.ok, "the recording proxy answers 502: {t:?}");
    let heads = seen.lock().unwrap().clone();
    assert!(!heads.is_empty(), "the new proxy was used");
    for head in &heads {
        let presented = proxy_credentials(head).unwrap_or_default();
        assert!(
            !presented.contains(PROXY_PASSWORD),
            "the old password reached the new proxy: {presented:?}"
        );
    }

    // Given again with the move, it is kept.
    let again = update(
        &env,
        pb::Connection {
            name: "moved".into(),
            proxy: Some(proxy(closed, PROXY_PASSWORD)),
            ..Default::default()
        },
        &["proxy.port", "proxy.password"],
    )
    .await;
    assert!(again.credential_state.unwrap().has_proxy_password);
    env.stop().await;
}

#[tokio::test]
async fn a_new_app_key_drops_the_old_apps_secret() {
    let env = Env::start_with(with_app()).await;
    let created = env
        .create_connection(pb::Connection {
            display_name: "app".into(),
            app: Some(pb::AppSettings {
                app_key: APP_KEY.into(),
                app_secret: APP_SECRET.into(),
                redirect_uri: String::new(),
            }),
            ..Default::default()
        })
        .await;
    assert!(created.credential_state.unwrap().has_app_secret);
    let updated = update(
        &env,
        pb::Connection {
            name: "app".into(),
            app: Some(pb::AppSettings {
                app_key: "another-app".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        &["app.app_key"],
    )
    .await;
    assert!(!updated.credential_state.unwrap().has_app_secret);
    env.stop().await;
}

/// Whether the emulator accepts `access_token` (asked over raw HTTP).
async fn works(env: &Env, access_token: &str) -> bool {
    let token = access_token.to_owned();
    match env.on_emulator(move |e| e.token_status(&token)).await {
        200 => true,
        401 => false,
        other => panic!("unexpected status {other}"),
    }
}

/// Revocations the emulator answered with 200.
async fn revocations(env: &Env) -> usize {
    let log = env.control_get("/__emulator/requests").await;
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["route"] == "auth/token/revoke" && e["status"] == 200)
        .count()
}

/// Waits (with a deadline) until the emulator has answered `n` revocations.
async fn wait_for_revocations(env: &Env, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while revocations(env).await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no revocation within 20 s:\n{}",
            env.server_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn mint(env: &Env) -> (String, String) {
    let minted = env
        .control(
            "/__emulator/tokens",
            serde_json::json!({"app_key": APP_KEY}),
        )
        .await;
    (
        minted["access_token"].as_str().unwrap().to_owned(),
        minted["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn app_connection(name: &str, access: &str, refresh: &str) -> pb::Connection {
    pb::Connection {
        display_name: name.into(),
        app: Some(pb::AppSettings {
            app_key: APP_KEY.into(),
            app_secret: APP_SECRET.into(),
            redirect_uri: String::new(),
        }),
        credentials: Some(pb::Credentials {
            access_token: access.into(),
            refresh_token: refresh.into(),
        }),
        ..Default::default()
    }
}

async fn create_folder(env: &Env, connection: &str, path: &str) -> Result<(), tonic::Status> {
    env.cloud()
        .create_folder(pb::CreateFolderRequest {
            connection: connection.into(),
            path: path.into(),
            exist_ok: true,
        })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn tokens_replaced_by_an_update_are_revoked_at_dropbox() {
    let env = Env::start_with(with_app()).await;
    let (old_access, old_refresh) = mint(&env).await;
    env.create_connection(app_connection("rotated", &old_access, &old_refresh))
        .await;
    create_folder(&env, "rotated", "/before").await.unwrap();
    assert_eq!(revocations(&env).await, 0);

    let (new_access, new_refresh) = mint(&env).await;
    update(
        &env,
        pb::Connection {
            name: "rotated".into(),
            credentials: Some(pb::Credentials {
                access_token: new_access.clone(),
                refresh_token: new_refresh,
            }),
            ..Default::default()
        },
        &["credentials"],
    )
    .await;
    wait_for_revocations(&env, 1).await;
    assert!(!works(&env, &old_access).await, "the old token is revoked");
    assert!(works(&env, &new_access).await, "the new token works");
    create_folder(&env, "rotated", "/after").await.unwrap();
    env.stop().await;
}

#[tokio::test]
async fn tokens_replaced_by_a_new_authorization_are_revoked_at_dropbox() {
    let env = Env::start_with(with_app()).await;
    let (old_access, old_refresh) = mint(&env).await;
    env.create_connection(app_connection("reauthorised", &old_access, &old_refresh))
        .await;

    let started = env
        .conns()
        .start_authorization(pb::StartAuthorizationRequest {
            name: "reauthorised".into(),
            redirect_uri: String::new(),
            no_redirect: false,
        })
        .await
        .unwrap()
        .into_inner();
    let (code, state) = approve(&env, &started.authorize_url).await;
    env.conns()
        .complete_authorization(pb::CompleteAuthorizationRequest { state, code })
        .await
        .unwrap();
    wait_for_revocations(&env, 1).await;
    assert!(!works(&env, &old_access).await, "the old token is revoked");
    create_folder(&env, "reauthorised", "/after")
        .await
        .expect("the new authorization's tokens work");
    env.stop().await;
}
