//! Integration tests against the in-process Dropbox emulator.

// Helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dropbox_client::content_hash::{ContentHasher, content_hash};
use dropbox_client::oauth::{Pkce, authorize_url, exchange_code};
use dropbox_client::{
    ActAs, AuthError, ByteRange, CommitInfo, ConflictKind, Credentials, DropboxClient, Endpoints,
    Error, LookupError, Metadata, RetryPolicy, TokenSink, TransportConfig, WriteMode,
};
use dropbox_emulator::{AppRegistration, Emulator, EmulatorOptions};
use futures::StreamExt;
use time::OffsetDateTime;
use url::Url;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const MIB: usize = 1024 * 1024;

async fn emulator(
    apps: Vec<AppRegistration>,
) -> Result<Emulator, Box<dyn std::error::Error + Send + Sync>> {
    let opts = EmulatorOptions {
        tokens: vec!["tok".into()],
        apps,
        ..Default::default()
    };
    Ok(Emulator::start("127.0.0.1:0".parse()?, opts).await?)
}

fn transport(emu: &Emulator) -> TransportConfig {
    let base = Url::parse(emu.base_url()).unwrap();
    TransportConfig {
        endpoints: Endpoints::single(&base),
        timeout: Duration::from_secs(20),
        ..Default::default()
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_elapsed: Duration::from_secs(30),
        ..RetryPolicy::default()
    }
}

fn client(emu: &Emulator, token: &str) -> DropboxClient {
    let creds = Credentials {
        access_token: Some(token.into()),
        ..Default::default()
    };
    DropboxClient::new(&transport(emu), creds, ActAs::default(), None)
        .unwrap()
        .with_retry_policy(fast_retries())
}

fn pattern(len: usize, seed: u8) -> Bytes {
    let mut state = u32::from(seed) + 1;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

async fn download_all(
    c: &DropboxClient,
    path: &str,
    range: Option<ByteRange>,
) -> Result<Vec<u8>, Error> {
    let mut d = c.download(path, range).await?;
    let mut out = Vec::new();
    while let Some(chunk) = d.body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

async fn post_control(
    emu: &Emulator,
    path: &str,
    body: serde_json::Value,
) -> Result<reqwest::Response, reqwest::Error> {
    reqwest::Client::new()
        .post(format!("{}/__emulator/{path}", emu.base_url()))
        .json(&body)
        .send()
        .await
}

/// Adds a fault and checks the emulator accepted it.
async fn fault(emu: &Emulator, spec: serde_json::Value) {
    let r = post_control(emu, "faults", spec.clone()).await.unwrap();
    assert!(r.status().is_success(), "fault {spec}: {}", r.status());
}

/// Every injected fault fired as often as it was told to (so the retry path really ran).
async fn assert_faults_fired(emu: &Emulator) {
    let v: serde_json::Value = reqwest::get(format!("{}/__emulator/faults", emu.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for f in v["faults"].as_array().unwrap() {
        assert_eq!(
            f["remaining"],
            serde_json::json!(0),
            "fault not consumed: {f}"
        );
    }
}

#[tokio::test]
async fn account_and_bad_token() -> TestResult {
    let emu = emulator(vec![]).await?;
    let acc = client(&emu, "tok").get_current_account().await?;
    assert!(acc.account_id.starts_with("dbid:"), "{}", acc.account_id);
    let err = client(&emu, "nope")
        .get_current_account()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unauthorized {
                tag: AuthError::InvalidAccessToken,
                ..
            }
        ),
        "{err:?}"
    );
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn small_upload_metadata_download() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    let body = Bytes::from_static("hello, wörld 日本 😀\n".as_bytes());
    let path = "/dïr/héllo 日本 😀.txt";
    let mut commit = CommitInfo::new(path);
    commit.client_modified = Some(OffsetDateTime::from_unix_timestamp(1_431_705_038)?);
    let meta = c.upload(&commit, body.clone()).await?;
    assert_eq!(meta.name, "héllo 日本 😀.txt");
    assert_eq!(meta.size, body.len() as u64);
    assert_eq!(
        meta.content_hash.as_deref(),
        Some(content_hash(&body).as_str())
    );
    assert_eq!(meta.client_modified.unix_timestamp(), 1_431_705_038);
    assert_eq!(meta.path_display.as_deref(), Some(path));

    let Metadata::File(m2) = c.get_metadata(path).await? else {
        panic!("not a file")
    };
    assert_eq!(m2.rev, meta.rev);
    // Case-insensitive lookup.
    assert!(c.get_metadata(&path.to_uppercase()).await.is_ok());
    assert!(c.get_metadata("/dïr").await?.is_folder());
    assert!(c.get_metadata("/").await?.is_folder());

    let mut d = c.download(path, None).await?;
    assert_eq!(d.metadata.rev, meta.rev);
    assert_eq!(d.total_len(), body.len() as u64);
    let mut h = ContentHasher::new();
    let mut got = Vec::new();
    while let Some(chunk) = d.body.next().await {
        let chunk = chunk?;
        h.update(&chunk);
        got.extend_from_slice(&chunk);
    }
    assert_eq!(got, body);
    assert_eq!(h.finish(), content_hash(&body));

    // Same path, different content, mode add: conflict; overwrite replaces.
    let err = c
        .upload(&commit, Bytes::from_static(b"other"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Path {
                kind: LookupError::Conflict(ConflictKind::File),
                ..
            }
        ),
        "{err:?}"
    );
    commit.mode = WriteMode::Overwrite;
    let m3 = c.upload(&commit, Bytes::from_static(b"other")).await?;
    assert_ne!(m3.rev, meta.rev);
    // Update with a stale rev: conflict.
    commit.mode = WriteMode::Update(meta.rev.clone());
    let err = c
        .upload(&commit, Bytes::from_static(b"third"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Path {
                kind: LookupError::Conflict(_),
                ..
            }
        ),
        "{err:?}"
    );
    // Autorename gives a new name.
    commit.mode = WriteMode::Add;
    commit.autorename = true;
    let m4 = c.upload(&commit, Bytes::from_static(b"fourth")).await?;
    assert_ne!(m4.name, meta.name);

    // Errors decode to structured kinds.
    let err = c.get_metadata("/missing.txt").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(
        err.error_summary()
            .is_some_and(|s| s.starts_with("path/not_found"))
    );
    let err = c.list_folder(path, false, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Path {
                kind: LookupError::NotFolder,
                ..
            }
        ),
        "{err:?}"
    );
    let err = c.download("/dïr", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Path {
                kind: LookupError::NotFile,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        c.download("/a/", None).await.unwrap_err(),
        Error::InvalidPath(_)
    ));
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn session_upload_20mib_and_ranges() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    let data = pattern(20 * MIB + 12345, 7);
    let chunk = 8 * MIB;
    let session = c.upload_session_start(data.slice(0..chunk), false).await?;
    let mut offset = chunk;
    while data.len() - offset > chunk {
        c.upload_session_append(
            &session,
            offset as u64,
            data.slice(offset..offset + chunk),
            false,
        )
        .await?;
        offset += chunk;
    }
    // Wrong offset is reported with the right one.
    let err = c
        .upload_session_append(&session, 1, Bytes::from_static(b"x"), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::IncorrectOffset { correct_offset, .. } if correct_offset == offset as u64),
        "{err:?}"
    );
    let commit = CommitInfo::new("/big/session.bin");
    let meta = c
        .upload_session_finish(&session, offset as u64, &commit, data.slice(offset..))
        .await?;
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(
        meta.content_hash.as_deref(),
        Some(content_hash(&data).as_str())
    );

    // Whole download, streamed.
    let mut d = c.download("/big/session.bin", None).await?;
    let mut h = ContentHasher::new();
    let mut n = 0usize;
    let mut chunks = 0usize;
    while let Some(b) = d.body.next().await {
        let b = b?;
        n += b.len();
        chunks += 1;
        h.update(&b);
    }
    assert_eq!(n, data.len());
    assert!(chunks > 1, "body arrived in one piece");
    assert_eq!(h.finish(), content_hash(&data));

    // Ranges.
    let r = download_all(
        &c,
        "/big/session.bin",
        Some(ByteRange {
            start: 100,
            end: Some(199),
        }),
    )
    .await?;
    assert_eq!(r, data[100..200]);
    let start = 9 * MIB + 3;
    let mut d = c
        .download(
            "/big/session.bin",
            Some(ByteRange {
                start: start as u64,
                end: None,
            }),
        )
        .await?;
    assert_eq!(d.start_offset(), start as u64);
    assert_eq!(d.total_len(), data.len() as u64);
    let mut tail = Vec::new();
    while let Some(b) = d.body.next().await {
        tail.extend_from_slice(&b?);
    }
    assert_eq!(tail, data[start..]);
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn list_pagination_and_recursion() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    c.create_folder("/list", false).await?;
    for i in 0..23 {
        c.upload(
            &CommitInfo::new(format!("/list/f{i:02}.txt")),
            Bytes::from(format!("file {i}")),
        )
        .await?;
    }
    c.upload(
        &CommitInfo::new("/list/sub/deep.txt"),
        Bytes::from_static(b"deep"),
    )
    .await?;

    let mut page = c.list_folder("/list", false, Some(5)).await?;
    let mut names = Vec::new();
    let mut pages = 1;
    loop {
        assert!(
            page.entries.len() <= 5,
            "limit ignored: {}",
            page.entries.len()
        );
        names.extend(page.entries.iter().map(|e| e.name().to_owned()));
        if !page.has_more {
            break;
        }
        page = c.list_folder_continue(&page.cursor).await?;
        pages += 1;
    }
    assert!(pages >= 5, "pages {pages}");
    names.sort();
    assert_eq!(names.len(), 24);
    assert!(names.contains(&"sub".to_owned()));

    let mut all = Vec::new();
    let mut page = c.list_folder("", true, None).await?;
    loop {
        all.extend(
            page.entries
                .iter()
                .filter_map(|e| e.path_lower().map(str::to_owned)),
        );
        if !page.has_more {
            break;
        }
        page = c.list_folder_continue(&page.cursor).await?;
    }
    assert!(all.contains(&"/list/sub/deep.txt".to_owned()), "{all:?}");
    // "/" from a user means the root.
    assert!(
        c.list_folder("/", false, None)
            .await?
            .entries
            .iter()
            .any(|e| e.name() == "list")
    );
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn create_folder_conflict_and_delete() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    let f = c.create_folder("/Reports", false).await?;
    assert_eq!(f.name, "Reports");
    let err = c.create_folder("/reports", false).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Path {
                kind: LookupError::Conflict(ConflictKind::Folder),
                ..
            }
        ),
        "{err:?}"
    );
    let renamed = c.create_folder("/Reports", true).await?;
    assert_ne!(renamed.name, "Reports");

    let file = c
        .upload(&CommitInfo::new("/Reports/a.txt"), Bytes::from_static(b"a"))
        .await?;
    let err = c.create_folder("/Reports/a.txt", false).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Path {
                kind: LookupError::Conflict(ConflictKind::File),
                ..
            }
        ),
        "{err:?}"
    );

    // Delete with a wrong parent_rev refuses, with the right one works.
    let err = c
        .delete("/Reports/a.txt", Some("0123456789abcdef"))
        .await
        .unwrap_err();
    assert!(!matches!(err, Error::Transport { .. }), "{err:?}");
    let gone = c.delete("/Reports/a.txt", Some(&file.rev)).await?;
    assert_eq!(
        gone.as_file().map(|f| f.rev.as_str()),
        Some(file.rev.as_str())
    );
    assert!(
        c.get_metadata("/Reports/a.txt")
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Delete a folder; deleting again is not_found.
    assert!(c.delete("/Reports", None).await?.is_folder());
    assert!(c.delete("/Reports", None).await.unwrap_err().is_not_found());
    assert!(matches!(
        c.delete("/", None).await.unwrap_err(),
        Error::InvalidPath(_)
    ));
    emu.stop().await;
    Ok(())
}

/// Keeps the last token the client reports; how many refreshes happened is read from
/// the emulator's request log ([`refreshes_received`]), not from the client itself.
#[derive(Default)]
struct LastTokenSink {
    last: std::sync::Mutex<Option<String>>,
    refused: std::sync::Mutex<Vec<String>>,
}

impl TokenSink for LastTokenSink {
    fn tokens_refreshed(&self, access_token: &str, expires_at: Option<OffsetDateTime>) {
        assert!(expires_at.is_some());
        *self.last.lock().unwrap() = Some(access_token.to_owned());
    }

    fn refresh_refused(&self, description: &str) {
        self.refused.lock().unwrap().push(description.to_owned());
    }
}

/// Refresh-token grants the emulator's token endpoint answered 200.
async fn refreshes_received(emu: &Emulator) -> usize {
    request_log(emu)
        .await
        .iter()
        .filter(|e| {
            e["route"] == "oauth2/token" && e["grant_type"] == "refresh_token" && e["status"] == 200
        })
        .count()
}

/// Runs the emulator's authorize form (as a browser would) and exchanges the code.
async fn obtain_tokens(
    emu: &Emulator,
    app: &AppRegistration,
) -> Result<dropbox_client::oauth::TokenResponse, Box<dyn std::error::Error + Send + Sync>> {
    let t = transport(emu);
    let pkce = Pkce::generate();
    let redirect = "http://localhost:9999";
    let url = authorize_url(&t.endpoints, &app.key, Some(redirect), "st4te", Some(&pkce))?;
    let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    form.push(("allow".into(), "Allow".into()));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = browser
        .post(format!("{}/oauth2/authorize", emu.base_url()))
        .form(&form)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 302, "{:?}", resp.text().await);
    let location = Url::parse(resp.headers()["location"].to_str()?)?;
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or("no code")?;
    assert!(
        location
            .query_pairs()
            .any(|(k, v)| k == "state" && v == "st4te")
    );
    Ok(exchange_code(
        &t,
        &app.key,
        None,
        &code,
        Some(&pkce.verifier),
        Some(redirect),
    )
    .await?)
}

#[tokio::test]
async fn refresh_on_expired_token_shared_by_concurrent_requests() -> TestResult {
    let app = AppRegistration::new("appkey", "appsecret");
    let emu = emulator(vec![app.clone()]).await?;
    let tokens = obtain_tokens(&emu, &app).await?;
    let refresh = tokens.refresh_token.clone().ok_or("no refresh token")?;
    assert!(tokens.expires_at().is_some());

    let sink = Arc::new(LastTokenSink::default());
    let creds = Credentials {
        access_token: Some(tokens.access_token.clone()),
        refresh_token: Some(refresh.clone()),
        app_key: Some(app.key.clone()),
        app_secret: None, // PKCE app: no secret needed for refresh
        expires_at: tokens.expires_at(),
    };
    let c = DropboxClient::new(
        &transport(&emu),
        creds.clone(),
        ActAs::default(),
        Some(sink.clone()),
    )?
    .with_retry_policy(fast_retries());
    c.get_current_account().await?;
    assert_eq!(refreshes_received(&emu).await, 0);

    // The emulator expires every access token; 8 concurrent requests share one refresh.
    let resp = post_control(&emu, "tokens/expire", serde_json::json!({})).await?;
    assert!(
        resp.status().is_success(),
        "tokens/expire: {}",
        resp.status()
    );
    let calls = (0..8).map(|_| {
        let c = c.clone();
        async move { c.get_current_account().await }
    });
    for r in futures::future::join_all(calls).await {
        r?;
    }
    assert_eq!(refreshes_received(&emu).await, 1, "one refresh for all");
    let new_token = sink.last.lock().unwrap().clone().ok_or("no token")?;
    assert_ne!(new_token, tokens.access_token);
    assert_eq!(c.access_token().await?, new_token);

    // Proactive refresh: a token "expiring" within 5 minutes is refreshed before use.
    let sink2 = Arc::new(LastTokenSink::default());
    let soon = Credentials {
        expires_at: Some(OffsetDateTime::now_utc() + time::Duration::minutes(1)),
        ..creds.clone()
    };
    let c2 = DropboxClient::new(
        &transport(&emu),
        soon,
        ActAs::default(),
        Some(sink2.clone()),
    )?;
    c2.get_current_account().await?;
    assert_eq!(refreshes_received(&emu).await, 2);
    assert!(sink2.last.lock().unwrap().is_some());

    // Only a refresh token: refreshed on first use.
    let only_refresh = Credentials {
        access_token: None,
        expires_at: None,
        ..creds.clone()
    };
    DropboxClient::new(&transport(&emu), only_refresh, ActAs::default(), None)?
        .get_current_account()
        .await?;

    // A refused refresh token means re-authorisation, and the sink is told once.
    let bad = Credentials {
        access_token: None,
        refresh_token: Some("not-a-refresh-token".into()),
        ..creds.clone()
    };
    let refused_sink = Arc::new(LastTokenSink::default());
    let refused = DropboxClient::new(
        &transport(&emu),
        bad,
        ActAs::default(),
        Some(refused_sink.clone()),
    )?;
    for _ in 0..2 {
        let err = refused.get_current_account().await.unwrap_err();
        assert!(matches!(err, Error::NeedsReauthorization { .. }), "{err:?}");
    }
    assert_eq!(refused_sink.refused.lock().unwrap().len(), 1);
    assert!(
        refused_sink.last.lock().unwrap().is_none(),
        "no token was refreshed"
    );

    // Revoke: the tokens stop working.
    c.revoke_token().await?;
    let err = c.get_current_account().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unauthorized { .. } | Error::NeedsReauthorization { .. }
        ),
        "{err:?}"
    );
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn retries_rate_limits_and_server_errors() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    c.create_folder("/r", false).await?;

    // Two 429s with Retry-After 1 on list_folder: the call waits and succeeds.
    fault(&emu, serde_json::json!({"route": "files/list_folder", "kind": "status", "status": 429, "retry_after": 1, "count": 2})).await;
    let t0 = Instant::now();
    c.list_folder("/r", false, None).await?;
    assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());

    // 503 then 500 on upload: retried with backoff, the body resent.
    fault(
        &emu,
        serde_json::json!({"route": "files/upload", "kind": "status", "status": 503, "count": 2}),
    )
    .await;
    let m = c
        .upload(&CommitInfo::new("/r/a.txt"), Bytes::from_static(b"abc"))
        .await?;
    assert_eq!(m.size, 3);

    // With no retries the 5xx surfaces as Error::Server.
    fault(&emu, serde_json::json!({"route": "files/get_metadata", "kind": "status", "status": 500, "count": 1})).await;
    let once = DropboxClient::new(
        &transport(&emu),
        Credentials {
            access_token: Some("tok".into()),
            ..Default::default()
        },
        ActAs::default(),
        None,
    )?
    .with_retry_policy(RetryPolicy::none());
    let err = once.get_metadata("/r/a.txt").await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 500, .. }), "{err:?}");

    // A 429 longer than the budget is returned at once, with its wait.
    fault(&emu, serde_json::json!({"route": "files/get_metadata", "kind": "status", "status": 429, "retry_after": 300, "count": 1})).await;
    let before = emu_requests(&emu).await;
    let err = c.get_metadata("/r/a.txt").await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(300)),
        "{err:?}"
    );
    assert_eq!(emu_requests(&emu).await, before + 1, "not retried");
    assert_faults_fired(&emu).await;
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_huge_retry_after_is_clamped_not_a_panic() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    c.create_folder("/h", false).await?;
    // u64::MAX seconds in the header and in the body: any server can send that.
    fault(&emu, serde_json::json!({"route": "files/get_metadata", "kind": "status", "status": 429, "retry_after": u64::MAX, "count": 1})).await;
    let err = c.get_metadata("/h").await.unwrap_err();
    match &err {
        Error::RateLimited {
            retry_after,
            clamped_from,
            ..
        } => {
            assert_eq!(*retry_after, dropbox_client::MAX_RETRY_AFTER);
            assert_eq!(clamped_from.as_deref(), Some("18446744073709551615 s"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("clamped to 900 s"), "{err}");
    assert_faults_fired(&emu).await;
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn append_and_finish_survive_lost_responses() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    let data = pattern(3 * MIB, 3);
    let part = MIB;
    let session = c.upload_session_start(data.slice(0..part), false).await?;
    // The server stores the append but the response is cut: the retry hits
    // incorrect_offset == offset + len, which counts as success.
    fault(&emu, serde_json::json!({"route": "files/upload_session/append_v2", "kind": "reset", "phase": "response", "count": 1})).await;
    c.upload_session_append(&session, part as u64, data.slice(part..2 * part), false)
        .await?;
    // The request body is cut: nothing stored, the retry resends.
    fault(&emu, serde_json::json!({"route": "files/upload_session/append_v2", "kind": "reset", "phase": "request", "count": 1})).await;
    c.upload_session_append(
        &session,
        2 * part as u64,
        data.slice(2 * part..3 * part),
        false,
    )
    .await?;
    // The finish is applied but its response is lost: verified by hash.
    fault(&emu, serde_json::json!({"route": "files/upload_session/finish", "kind": "reset", "phase": "response", "count": 1})).await;
    let hash = content_hash(&data);
    let meta = c
        .upload_session_finish_verified(
            &session,
            data.len() as u64,
            &CommitInfo::new("/lost/resp.bin"),
            Bytes::new(),
            &hash,
        )
        .await?;
    assert_eq!(meta.content_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(download_all(&c, "/lost/resp.bin", None).await?, data);

    // files/upload whose response is lost, mode update: the retry conflicts on the new rev
    // and is resolved by hash.
    let first = c
        .upload(&CommitInfo::new("/lost/u.txt"), Bytes::from_static(b"v1"))
        .await?;
    fault(&emu, serde_json::json!({"route": "files/upload", "kind": "reset", "phase": "response", "count": 1})).await;
    let mut commit = CommitInfo::new("/lost/u.txt");
    commit.mode = WriteMode::Update(first.rev.clone());
    let second = c.upload(&commit, Bytes::from_static(b"v2")).await?;
    assert_eq!(
        second.content_hash.as_deref(),
        Some(content_hash(b"v2").as_str())
    );

    // create_folder whose response is lost: the retry's conflict resolves to the folder.
    fault(&emu, serde_json::json!({"route": "files/create_folder_v2", "kind": "reset", "phase": "response", "count": 1})).await;
    assert_eq!(c.create_folder("/lost/dir", false).await?.name, "dir");
    assert_faults_fired(&emu).await;
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn tls_with_extra_ca() -> TestResult {
    let opts = EmulatorOptions {
        tokens: vec!["tok".into()],
        tls: true,
        ..Default::default()
    };
    let emu = Emulator::start("127.0.0.1:0".parse()?, opts).await?;
    assert!(emu.base_url().starts_with("https://"));
    let creds = Credentials {
        access_token: Some("tok".into()),
        ..Default::default()
    };
    // Without the CA: refused (no accept-any-certificate switch exists).
    let plain = DropboxClient::new(&transport(&emu), creds.clone(), ActAs::default(), None)?
        .with_retry_policy(RetryPolicy::none());
    let err = plain.get_current_account().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: dropbox_client::TransportKind::Tls,
                ..
            }
        ),
        "{err:?}"
    );
    // With the emulator's certificate as an extra CA: works.
    let t = TransportConfig {
        extra_ca_pem: Some(emu.ca_pem().ok_or("no pem")?.as_bytes().to_vec()),
        ..transport(&emu)
    };
    let c = DropboxClient::new(&t, creds, ActAs::default(), None)?;
    c.get_current_account().await?;
    c.upload(&CommitInfo::new("/tls.txt"), Bytes::from_static(b"secure"))
        .await?;
    assert_eq!(download_all(&c, "/tls.txt", None).await?, b"secure");
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn one_rate_limit_pauses_the_whole_connection() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    c.create_folder("/pace", false).await?;
    fault(&emu, serde_json::json!({"route": "files/upload", "kind": "status", "status": 429, "retry_after": 1, "count": 1})).await;
    // A handle that does not retry takes the 429 and returns it ...
    let t0 = Instant::now();
    let before = emu_requests(&emu).await;
    let once = c.clone().with_retry_policy(RetryPolicy::none());
    let err = once
        .upload(
            &CommitInfo::new("/pace/first.txt"),
            Bytes::from_static(b"1"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert_eq!(emu_requests(&emu).await, before + 1, "not retried");
    // ... and the pause it saw holds every other request on the connection.
    let others = (0..6).map(|i| {
        let c = c.clone();
        async move {
            c.upload(
                &CommitInfo::new(format!("/pace/{i}.txt")),
                Bytes::from(format!("{i}")),
            )
            .await?;
            Ok::<_, Error>(t0.elapsed())
        }
    });
    for r in futures::future::join_all(others).await {
        let done_at = r?;
        assert!(
            done_at >= Duration::from_millis(950),
            "finished during the pause: {done_at:?}"
        );
    }
    assert_faults_fired(&emu).await;
    emu.stop().await;
    Ok(())
}

#[tokio::test]
async fn retries_and_waits_end_at_the_call_deadline() -> TestResult {
    let emu = emulator(vec![]).await?;
    let c = client(&emu, "tok");
    c.create_folder("/d", false).await?;

    // Every list_folder is rate limited for 2 s. With 3 s left, the call takes one wait
    // and returns the second 429 instead of starting a wait that ends past the deadline.
    fault(&emu, serde_json::json!({"route": "files/list_folder", "kind": "status", "status": 429, "retry_after": 2, "count": 2})).await;
    let t0 = Instant::now();
    let bounded = c
        .clone()
        .with_deadline(Some(tokio::time::Instant::now() + Duration::from_secs(3)));
    let err = bounded.list_folder("/d", false, None).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());

    // 5xx backoff (1 s, doubling) stops at the deadline too. (A new client: the first
    // one's connection is still paused by the last 429.)
    let c = client(&emu, "tok");
    let slow_backoff = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    fault(&emu, serde_json::json!({"route": "files/get_metadata", "kind": "status", "status": 503, "count": 10})).await;
    let t0 = Instant::now();
    let err = c
        .clone()
        .with_retry_policy(slow_backoff)
        .with_deadline(Some(tokio::time::Instant::now() + Duration::from_secs(2)))
        .get_metadata("/d")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());

    // A deadline already past fails before anything is sent.
    let before = emu_requests(&emu).await;
    let err = c
        .clone()
        .with_deadline(Some(tokio::time::Instant::now()))
        .get_metadata("/d")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert_eq!(emu_requests(&emu).await, before);
    emu.stop().await;
    Ok(())
}

async fn emu_requests(emu: &Emulator) -> usize {
    request_log(emu).await.len()
}

/// The emulator's request log (requests and token-endpoint calls), oldest first.
async fn request_log(emu: &Emulator) -> Vec<serde_json::Value> {
    let mut v: serde_json::Value = reqwest::get(format!("{}/__emulator/requests", emu.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    match v["requests"].take() {
        serde_json::Value::Array(entries) => entries,
        other => panic!("request log: {other}"),
    }
}
