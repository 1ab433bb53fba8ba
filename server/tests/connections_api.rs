//! The ConnectionService against the real binary and the in-process emulator: OAuth (PKCE,
//! state, refresh, re-authorization), sealed secrets and key rotation, TestConnection,
//! timeouts, Business teams.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use common::{Env, Options, Src, approve, reason, upload_messages, upload_results};
use dropbox_connector_proto::v1 as pb;
use dropbox_emulator::AppRegistration;
use pb::file_result::Outcome;

const APP_KEY: &str = "app-key-1";
const APP_SECRET: &str = "app-secret-1";

fn with_app() -> Options {
    Options {
        apps: vec![AppRegistration::new(APP_KEY, APP_SECRET)],
        ..Default::default()
    }
}

fn app_connection(name: &str) -> pb::Connection {
    pb::Connection {
        display_name: name.into(),
        app: Some(pb::AppSettings {
            app_key: APP_KEY.into(),
            app_secret: APP_SECRET.into(),
            redirect_uri: String::new(),
        }),
        ..Default::default()
    }
}

/// Uploads one small file through `connection` into `folder`.
async fn upload(env: &Env, connection: &str, folder: &str, name: &str) -> pb::FileResult {
    let spec = pb::UploadSpec {
        connection: connection.into(),
        destination_folder: folder.into(),
        overwrite: None,
        keep_modified_date: false,
        autorename: false,
    };
    let messages = upload_messages(spec, vec![Src::new(name, b"hello")], 1024);
    let mut r = upload_results(
        env.cloud()
            .upload_files(futures::stream::iter(messages))
            .await,
    )
    .await
    .unwrap();
    r.results.remove(0)
}

fn uploaded(r: &pb::FileResult) -> bool {
    matches!(r.outcome, Some(Outcome::Uploaded(_)))
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

async fn start_auth(
    env: &Env,
    name: &str,
) -> Result<pb::StartAuthorizationResponse, tonic::Status> {
    env.conns()
        .start_authorization(pb::StartAuthorizationRequest {
            name: name.into(),
            redirect_uri: String::new(),
            no_redirect: false,
        })
        .await
        .map(|r| r.into_inner())
}

async fn complete(env: &Env, state: &str, code: &str) -> Result<pb::Connection, tonic::Status> {
    env.conns()
        .complete_authorization(pb::CompleteAuthorizationRequest {
            state: state.into(),
            code: code.into(),
        })
        .await
        .map(|r| r.into_inner().connection.unwrap())
}

#[tokio::test]
async fn oauth_pkce_flow_then_uploads_survive_token_expiry_and_state_is_single_use() {
    let env = Env::start_with(with_app()).await;
    env.create_connection(app_connection("oauth")).await;
    let started = start_auth(&env, "oauth").await.unwrap();
    assert_eq!(started.redirect_uri, "http://localhost:9999");
    let url = url::Url::parse(&started.authorize_url).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["token_access_type"], "offline");
    assert_eq!(q["state"], started.state);
    assert_eq!(q["client_id"], APP_KEY);
    assert!(started.expire_time.is_some());

    let (code, state) = approve(&env, &started.authorize_url).await;
    assert_eq!(state, started.state);
    let c = complete(&env, &state, &code).await.unwrap();
    let account = c.account.clone().unwrap();
    assert!(account.account_id.starts_with("dbid:"), "{account:?}");
    assert!(!account.email.is_empty() && !account.display_name.is_empty());
    assert_eq!(account.account_type, "basic");
    let st = c.credential_state.unwrap();
    assert!(st.has_refresh_token && st.has_access_token && st.access_token_expire_time.is_some());

    assert!(uploaded(&upload(&env, "oauth", "/o", "a.txt").await));
    // Every issued token expires at Dropbox: the next upload refreshes and still works.
    env.control("/__emulator/tokens/expire", serde_json::json!({}))
        .await;
    assert!(uploaded(&upload(&env, "oauth", "/o", "b.txt").await));
    assert!(env.remote("/o/b.txt").await.is_some());

    // The state works once.
    let again = complete(&env, &state, &code).await.unwrap_err();
    assert_eq!(
        reason(&again),
        (
            tonic::Code::FailedPrecondition,
            "AUTHORIZATION_STATE_INVALID".into()
        )
    );
    let unknown = complete(&env, "no-such-state", "x").await.unwrap_err();
    assert_eq!(reason(&unknown).1, "AUTHORIZATION_STATE_INVALID");
    env.stop().await;
}

#[tokio::test]
async fn expired_state_is_refused() {
    let mut options = with_app();
    options
        .env
        .push(("DBXC_OAUTH__STATE_TTL_SECONDS".into(), "0".into()));
    let env = Env::start_with(options).await;
    env.create_connection(app_connection("oauth")).await;
    let started = start_auth(&env, "oauth").await.unwrap();
    let (code, state) = approve(&env, &started.authorize_url).await;
    let e = complete(&env, &state, &code).await.unwrap_err();
    assert_eq!(
        reason(&e),
        (
            tonic::Code::FailedPrecondition,
            "AUTHORIZATION_STATE_INVALID".into()
        )
    );
    assert!(e.message().contains("expired"), "{}", e.message());
    env.stop().await;
}

#[tokio::test]
async fn redirect_uris_are_validated_and_a_mismatch_is_explained() {
    let env = Env::start_with(with_app()).await;
    // Plain http only on loopback.
    let mut bad = app_connection("bad");
    bad.app.as_mut().unwrap().redirect_uri = "http://example.com/cb".into();
    let e = env
        .conns()
        .create_connection(pb::CreateConnectionRequest {
            connection: Some(bad),
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&e),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".into())
    );
    assert!(e.message().contains("app.redirect_uri"), "{}", e.message());

    // Valid, but not registered for the app at Dropbox.
    let mut c = app_connection("mismatch");
    c.app.as_mut().unwrap().redirect_uri = "http://localhost:8123/callback".into();
    env.create_connection(c).await;
    let e = start_auth(&env, "mismatch").await.unwrap_err();
    assert_eq!(
        reason(&e),
        (
            tonic::Code::FailedPrecondition,
            "INVALID_REDIRECT_URI".into()
        )
    );
    assert!(
        e.message().contains("http://localhost:8123/callback")
            && e.message().contains("app console"),
        "{}",
        e.message()
    );
    // A registered one given in the request works.
    let ok = env
        .conns()
        .start_authorization(pb::StartAuthorizationRequest {
            name: "mismatch".into(),
            redirect_uri: "http://127.0.0.1:9999".into(),
            no_redirect: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.redirect_uri, "http://127.0.0.1:9999");

    // No app at all: neither the connection's nor a registered one.
    env.create_connection(pb::Connection {
        display_name: "noapp".into(),
        ..Default::default()
    })
    .await;
    let e = start_auth(&env, "noapp").await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(e.message().contains("DBXC_DROPBOX__REGISTERED_APP__KEY"));
    env.stop().await;
}

#[tokio::test]
async fn registered_app_and_no_redirect_flow() {
    let mut options = with_app();
    options.env.extend([
        ("DBXC_DROPBOX__REGISTERED_APP__KEY".into(), APP_KEY.into()),
        (
            "DBXC_DROPBOX__REGISTERED_APP__SECRET".into(),
            APP_SECRET.into(),
        ),
    ]);
    let env = Env::start_with(options).await;
    env.create_connection(pb::Connection {
        display_name: "reg".into(),
        ..Default::default()
    })
    .await;
    let started = env
        .conns()
        .start_authorization(pb::StartAuthorizationRequest {
            name: "reg".into(),
            redirect_uri: String::new(),
            no_redirect: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.redirect_uri, "");
    assert!(!started.authorize_url.contains("redirect_uri"));
    // Without a redirect the page shows the code; the user pastes it.
    let http = reqwest::Client::new();
    let url = url::Url::parse(&started.authorize_url).unwrap();
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("allow".into(), "Allow".into()));
    let page = http
        .post(format!("{}/oauth2/authorize", env.emulator.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let code = page
        .split("<code id=\"auth-code\">")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap()
        .to_owned();
    let c = complete(&env, &started.state, &code).await.unwrap();
    assert!(c.account.is_some());
    env.control("/__emulator/tokens/expire", serde_json::json!({}))
        .await;
    assert!(uploaded(&upload(&env, "reg", "/r", "a.txt").await));
    env.stop().await;
}

#[tokio::test]
async fn refused_refresh_marks_the_connection_until_authorised_again() {
    let env = Env::start_with(with_app()).await;
    let mut c = app_connection("stale");
    c.credentials = Some(pb::Credentials {
        access_token: String::new(),
        refresh_token: "revoked-or-bogus".into(),
    });
    env.create_connection(c).await;
    // The first call finds the refresh token refused.
    let r = upload(&env, "stale", "/s", "a.txt").await;
    let Some(Outcome::Error(e)) = &r.outcome else {
        panic!("{r:?}")
    };
    assert_eq!(e.reason, "REAUTHORIZATION_REQUIRED", "{e:?}");
    // Every later call fails fast, saying what to do.
    let e = create_folder(&env, "stale", "/x").await.unwrap_err();
    assert_eq!(
        reason(&e),
        (
            tonic::Code::FailedPrecondition,
            "REAUTHORIZATION_REQUIRED".into()
        )
    );
    assert!(
        e.message().contains("dbxc connection authorize stale"),
        "{}",
        e.message()
    );
    // TestConnection reports it on the dropbox step.
    let t = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: "stale".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!t.ok);
    assert_eq!(
        t.steps[0].error.as_ref().unwrap().reason,
        "REAUTHORIZATION_REQUIRED"
    );
    // The flag is stored (so it survives a restart).
    let flag = || async {
        use dropbox_connector_server::store::{ConnectionStore, Sealer, SqliteStore};
        let sealer = Sealer::from_base64(&env.config_env["DBXC_SECRETS__KEY"]).unwrap();
        let store = SqliteStore::open(&env.data_dir().join("connections.db"), sealer)
            .await
            .unwrap();
        let r = store.get_by_name("stale".into()).await.unwrap().unwrap();
        store.close().await;
        r.settings.needs_reauthorization
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !flag().await {
        assert!(Instant::now() < deadline, "the flag was never stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Get says so, without anyone having to provoke an error.
    let got = env
        .conns()
        .get_connection(pb::GetConnectionRequest {
            name: "stale".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .connection
        .unwrap();
    assert!(got.credential_state.unwrap().needs_reauthorization);
    // Authorising again clears it.
    let started = start_auth(&env, "stale").await.unwrap();
    let (code, state) = approve(&env, &started.authorize_url).await;
    complete(&env, &state, &code).await.unwrap();
    assert!(!flag().await);
    create_folder(&env, "stale", "/x").await.unwrap();
    assert!(uploaded(&upload(&env, "stale", "/s", "a.txt").await));
    env.stop().await;
}

fn all_secrets(name: &str, tag: &str) -> (pb::Connection, Vec<String>) {
    let secrets = vec![
        format!("app-secret-{tag}-SECRET"),
        format!("access-token-{tag}-SECRET"),
        format!("refresh-token-{tag}-SECRET"),
        format!("proxy-password-{tag}-SECRET"),
    ];
    let c = pb::Connection {
        display_name: name.into(),
        app: Some(pb::AppSettings {
            app_key: APP_KEY.into(),
            app_secret: secrets[0].clone(),
            redirect_uri: String::new(),
        }),
        credentials: Some(pb::Credentials {
            access_token: secrets[1].clone(),
            refresh_token: secrets[2].clone(),
        }),
        proxy: Some(pb::ProxySettings {
            r#type: pb::ProxyType::None as i32,
            use_credentials: true,
            username: "proxy-user".into(),
            password: secrets[3].clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    (c, secrets)
}

fn db_bytes(env: &Env) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["connections.db", "connections.db-wal", "connections.db-shm"] {
        if let Ok(b) = std::fs::read(env.data_dir().join(f)) {
            all.extend(b);
        }
    }
    assert!(!all.is_empty());
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_never_returned() {
    let env = Env::start_with(with_app()).await;
    let (c, secrets) = all_secrets("sealed", "a");
    let made = env.create_connection(c).await;
    // And once more through an update.
    let (mut c2, secrets2) = all_secrets("sealed", "b");
    c2.name = made.name.clone();
    let updated = env
        .conns()
        .update_connection(pb::UpdateConnectionRequest {
            connection: Some(c2),
            update_mask: None,
        })
        .await
        .unwrap()
        .into_inner()
        .connection
        .unwrap();
    let got = env
        .conns()
        .get_connection(pb::GetConnectionRequest {
            name: "sealed".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let listed = env
        .conns()
        .list_connections(pb::ListConnectionsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let shown = format!("{made:?}{updated:?}{got:?}{listed:?}");
    let st = got.connection.unwrap().credential_state.unwrap();
    assert!(
        st.has_app_secret && st.has_access_token && st.has_refresh_token && st.has_proxy_password
    );
    let bytes = db_bytes(&env);
    for s in secrets.iter().chain(&secrets2) {
        assert!(!shown.contains(s.as_str()), "{s} returned by the API");
        assert!(!contains(&bytes, s), "{s} found in the SQLite files");
    }
    // Non-secret settings are still there in clear (the check above is meaningful).
    assert!(contains(&bytes, "proxy-user"));
    env.stop().await;
}

#[tokio::test]
async fn rotate_key_reseals_everything_and_connections_keep_working() {
    let mut env = Env::start_with(with_app()).await;
    // A second connection with OAuth tokens (refresh token, app secret).
    env.create_connection(app_connection("oauth")).await;
    let started = start_auth(&env, "oauth").await.unwrap();
    let (code, state) = approve(&env, &started.authorize_url).await;
    complete(&env, &state, &code).await.unwrap();
    let before = db_bytes(&env);

    let old_key = env.config_env["DBXC_SECRETS__KEY"].clone();
    let new_key = common::new_key();
    let db = env.data_dir().join("connections.db");
    let key_file = env.data_dir().join("new.key");
    std::fs::write(&key_file, format!("{new_key}\n")).unwrap();
    // As an operator would: stop the server, run `dropbox-connector rotate-key`, start it
    // with the new key file.
    env.stop_server().await;
    let rotated = std::process::Command::new(env!("CARGO_BIN_EXE_dropbox-connector"))
        .args(["rotate-key", "--new-key-file", key_file.to_str().unwrap()])
        .env("DBXC_SECRETS__KEY", &old_key)
        .env("DBXC_DATA_DIR", env.data_dir())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&rotated.stdout),
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(rotated.status.success(), "rotate-key failed: {said}");
    // Two connections (`test` and `oauth`): the count is the first thing on its one line.
    let stdout = String::from_utf8_lossy(&rotated.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stdout: {said}");
    assert!(
        lines[0].starts_with("re-sealed the secrets of 2 connection(s) under the key in "),
        "rotate-key says how many connections it re-sealed: {said}"
    );
    assert!(
        !said.contains(&new_key) && !said.contains(&old_key),
        "no key in its output"
    );
    env.restart_server(&[
        ("DBXC_SECRETS__KEY", ""),
        ("DBXC_SECRETS__KEY_FILE", key_file.to_str().unwrap()),
    ])
    .await;
    assert_ne!(before, db_bytes(&env));
    for name in [common::CONN, "oauth"] {
        create_folder(&env, name, "/rotated").await.unwrap();
        assert!(uploaded(
            &upload(&env, name, "/rotated", &format!("{name}.txt")).await
        ));
    }
    // The old key no longer opens the secrets.
    let old_again = dropbox_connector_server::store::Sealer::from_base64(&old_key).unwrap();
    let store = dropbox_connector_server::store::SqliteStore::open(&db, old_again).await;
    match store {
        Err(e) => assert!(e.to_string().contains("key id"), "{e}"),
        Ok(s) => {
            use dropbox_connector_server::store::ConnectionStore;
            let e = s.list(None, None, 10).await.unwrap_err();
            assert!(e.to_string().contains("key id"), "{e}");
        }
    }
    env.stop().await;
}

#[tokio::test]
async fn test_connection_reports_account_and_names_the_failed_step() {
    let env = Env::start().await;
    let t = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: common::CONN.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(t.ok, "{t:?}");
    assert_eq!(t.steps.len(), 1);
    assert_eq!(t.steps[0].step, "dropbox");
    assert!(t.steps[0].duration.is_some());
    let a = t.account.unwrap();
    assert!(!a.display_name.is_empty() && a.email.contains('@'));
    assert!(t.steps[0].detail.contains(&a.email));

    // An unreachable proxy: the proxy step fails and ends the test.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let proxied = |name: &str, port: u32| pb::Connection {
        display_name: name.into(),
        timeout_seconds: 5,
        credentials: Some(pb::Credentials {
            access_token: common::TOKEN.into(),
            refresh_token: String::new(),
        }),
        proxy: Some(pb::ProxySettings {
            r#type: pb::ProxyType::Http as i32,
            address: "127.0.0.1".into(),
            port,
            use_credentials: true,
            username: "u".into(),
            password: "wrong".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    env.create_connection(proxied("unreachable", u32::from(closed)))
        .await;
    let t = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: "unreachable".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!t.ok);
    assert_eq!(t.steps.len(), 1, "{t:?}");
    assert_eq!(t.steps[0].step, "proxy");
    assert!(!t.steps[0].ok);
    assert_eq!(t.steps[0].error.as_ref().unwrap().reason, "PROXY_FAILED");
    assert!(t.steps[0].detail.contains(&closed.to_string()));

    // A proxy that refuses the credentials (407).
    let port = dropbox_connector_test_kit::peer::answering(
        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    env.create_connection(proxied("denied", u32::from(port)))
        .await;
    let t = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: "denied".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!t.ok);
    assert_eq!(t.steps[0].step, "proxy");
    assert!(t.steps[0].detail.contains("407"), "{}", t.steps[0].detail);
    assert!(t.steps[0].detail.contains("proxy.password"));
    // The same through CONNECT (an https test URL): the tunnel is refused with 407.
    let mut tunneled = proxied("denied-tunnel", u32::from(port));
    tunneled.proxy.as_mut().unwrap().test_url = "https://api.dropboxapi.com/".into();
    env.create_connection(tunneled).await;
    let t = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: "denied-tunnel".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((t.steps[0].step.as_str(), t.steps[0].ok), ("proxy", false));
    assert!(t.steps[0].detail.contains("407"), "{}", t.steps[0].detail);
    assert_eq!(t.steps[0].error.as_ref().unwrap().reason, "PROXY_FAILED");
    env.stop().await;
}

#[tokio::test]
async fn timeout_seconds_bounds_each_dropbox_request() {
    let env = Env::start().await;
    env.create_connection(pb::Connection {
        display_name: "slow".into(),
        timeout_seconds: 1,
        credentials: Some(pb::Credentials {
            access_token: common::TOKEN.into(),
            refresh_token: String::new(),
        }),
        ..Default::default()
    })
    .await;
    env.control(
        "/__emulator/network",
        serde_json::json!({"latency_ms": 3000}),
    )
    .await;
    // Each answer comes after 3 s, the connection waits 1 s: without the timeout the
    // call would succeed late instead of failing with DROPBOX_TIMEOUT.
    let e = create_folder(&env, "slow", "/late").await.unwrap_err();
    assert_eq!(
        reason(&e),
        (tonic::Code::DeadlineExceeded, "DROPBOX_TIMEOUT".into())
    );
    // TestConnection (no retries) reports the timeout on the dropbox step.
    let t = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: "slow".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.steps[0].error.as_ref().unwrap().reason, "DROPBOX_TIMEOUT");
    env.control("/__emulator/network", serde_json::json!({"latency_ms": 0}))
        .await;
    env.stop().await;
}

const TEAM_TOKEN: &str = "team-token-1";

fn team_connection(name: &str, member: &str, root: Option<pb::path_root::Root>) -> pb::Connection {
    pb::Connection {
        display_name: name.into(),
        account_type: pb::AccountType::Business as i32,
        business: Some(pb::BusinessSettings {
            team_member_id: member.into(),
            as_admin: false,
            path_root: root.map(|r| pb::PathRoot { root: Some(r) }),
        }),
        credentials: Some(pb::Credentials {
            access_token: TEAM_TOKEN.into(),
            refresh_token: String::new(),
        }),
        ..Default::default()
    }
}

/// Whether `member` (through the team token, in `root` when given: a
/// Dropbox-API-Path-Root value) finds `path` at the emulator, asked over raw HTTP.
async fn member_finds(env: &Env, member: &str, root: Option<String>, path: &str) -> bool {
    let (member, path) = (member.to_owned(), path.to_owned());
    let (status, body) = env
        .on_emulator(move |e| {
            let mut headers = vec![("Dropbox-API-Select-User", member.as_str())];
            if let Some(root) = &root {
                headers.push(("Dropbox-API-Path-Root", root.as_str()));
            }
            e.rpc_as(
                TEAM_TOKEN,
                &headers,
                "files/get_metadata",
                serde_json::json!({ "path": path }),
            )
        })
        .await;
    match status {
        200 => true,
        409 => false,
        other => panic!("get_metadata: {other} {body}"),
    }
}

#[tokio::test]
async fn business_member_home_team_space_and_unknown_member() {
    let env = Env::start_with(Options {
        team_token: Some(TEAM_TOKEN.into()),
        ..Default::default()
    })
    .await;
    let accounts = env.control_get("/__emulator/accounts").await;
    let team = &accounts["team"];
    let admin = team["admin_member_id"].as_str().unwrap();
    let members: Vec<String> = team["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .filter(|m| m != admin)
        .collect();
    let (a, b) = (&members[0], &members[1]);
    let space = team["team_space_namespace_id"].as_str().unwrap();

    // Member A's home.
    env.create_connection(team_connection("member-a", a, None))
        .await;
    assert!(uploaded(&upload(&env, "member-a", "/mine", "a.txt").await));
    assert!(member_finds(&env, a, None, "/mine/a.txt").await);
    assert!(!member_finds(&env, b, None, "/mine/a.txt").await);

    // The team space root.
    env.create_connection(team_connection(
        "team-space",
        a,
        Some(pb::path_root::Root::TeamRootNamespaceId(space.into())),
    ))
    .await;
    assert!(uploaded(
        &upload(&env, "team-space", "/shared", "s.txt").await
    ));
    let in_space = serde_json::json!({".tag": "root", "root": space}).to_string();
    assert!(member_finds(&env, b, Some(in_space), "/shared/s.txt").await);

    // TestConnection through the team token acting as A.
    let t = env
        .conns()
        .test_connection(pb::TestConnectionRequest {
            name: "member-a".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(t.ok, "{t:?}");
    assert_eq!(t.account.unwrap().account_type, "business");

    // The admin, acting with Select-Admin.
    let mut admin_conn = team_connection("admin", admin, None);
    admin_conn.business.as_mut().unwrap().as_admin = true;
    env.create_connection(admin_conn).await;
    create_folder(&env, "admin", "/admin-folder").await.unwrap();

    // An unknown member id is named.
    env.create_connection(team_connection("ghost", "dbmid:no-such-member", None))
        .await;
    let e = create_folder(&env, "ghost", "/x").await.unwrap_err();
    assert!(
        matches!(
            e.code(),
            tonic::Code::Unauthenticated | tonic::Code::FailedPrecondition
        ),
        "{e:?}"
    );
    assert!(
        e.message().contains("dbmid:no-such-member"),
        "{}",
        e.message()
    );
    env.stop().await;
}

#[tokio::test]
async fn delete_revokes_the_token_and_survives_unreachable_dropbox() {
    let env = Env::start_with(with_app()).await;
    let minted = env
        .control(
            "/__emulator/tokens",
            serde_json::json!({"app_key": APP_KEY}),
        )
        .await;
    let access = minted["access_token"].as_str().unwrap().to_owned();
    let mut c = app_connection("revoked");
    c.credentials = Some(pb::Credentials {
        access_token: access.clone(),
        refresh_token: minted["refresh_token"].as_str().unwrap().into(),
    });
    env.create_connection(c).await;
    create_folder(&env, "revoked", "/r").await.unwrap();
    env.conns()
        .delete_connection(pb::DeleteConnectionRequest {
            name: "revoked".into(),
        })
        .await
        .unwrap();
    // The token no longer works at Dropbox.
    let status = env.on_emulator(move |e| e.token_status(&access)).await;
    assert_eq!(status, 401);

    // Dropbox unreachable (a proxy nobody listens on): the delete still happens.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    env.create_connection(pb::Connection {
        display_name: "offline".into(),
        timeout_seconds: 2,
        credentials: Some(pb::Credentials {
            access_token: common::TOKEN.into(),
            refresh_token: String::new(),
        }),
        proxy: Some(pb::ProxySettings {
            r#type: pb::ProxyType::Http as i32,
            address: "127.0.0.1".into(),
            port: u32::from(closed),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await;
    env.conns()
        .delete_connection(pb::DeleteConnectionRequest {
            name: "offline".into(),
        })
        .await
        .unwrap();
    let gone = env
        .conns()
        .get_connection(pb::GetConnectionRequest {
            name: "offline".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    env.stop().await;
}
