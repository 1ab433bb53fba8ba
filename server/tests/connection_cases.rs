//! Issue 14, item 6: CreateConnection under a race on one name, and a SOCKS4 proxy given
//! a password (SOCKS4 has no password field, so the password would be dropped unseen).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::{Env, reason, token_connection};
use dropbox_connector_proto::v1 as pb;

/// Every connection the server lists, all pages.
async fn all_connections(env: &Env) -> Vec<pb::Connection> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = env
            .conns()
            .list_connections(pb::ListConnectionsRequest {
                page_size: 1000,
                page_token: page_token.clone(),
                group: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        out.extend(page.connections);
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn concurrent_creates_with_one_name_give_one_success() {
    const N: usize = 8;
    let env = Env::start().await;
    let calls = (0..N).map(|i| {
        let mut client = env.conns();
        async move {
            let mut c = token_connection("raced", "");
            // Each caller's own settings, to see whose connection was stored.
            c.timeout_seconds = 10 + i as u32;
            client
                .create_connection(pb::CreateConnectionRequest {
                    connection: Some(c),
                })
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let mut created = Vec::new();
    for r in &results {
        match r {
            Ok(resp) => created.push(resp.get_ref().connection.clone().unwrap()),
            Err(status) => assert_eq!(
                reason(status),
                (
                    tonic::Code::AlreadyExists,
                    "CONNECTION_NAME_TAKEN".to_owned()
                ),
                "{status:?}"
            ),
        }
    }
    assert_eq!(created.len(), 1, "exactly one create succeeds: {results:?}");
    let stored: Vec<pb::Connection> = all_connections(&env)
        .await
        .into_iter()
        .filter(|c| c.display_name.eq_ignore_ascii_case("raced"))
        .collect();
    assert_eq!(stored.len(), 1, "the store holds one: {stored:?}");
    assert_eq!(stored[0].name, created[0].name);
    assert_eq!(stored[0].timeout_seconds, created[0].timeout_seconds);
}

fn socks4(password: &str) -> pb::ProxySettings {
    pb::ProxySettings {
        r#type: pb::ProxyType::Socks4 as i32,
        address: "127.0.0.1".into(),
        port: 1080,
        use_credentials: true,
        username: "someone".into(),
        password: password.into(),
        ..Default::default()
    }
}

/// UpdateConnection of `name` with `proxy`, changing the fields in `paths`.
async fn update_proxy(
    env: &Env,
    name: &str,
    proxy: pb::ProxySettings,
    paths: &[&str],
) -> Result<pb::Connection, tonic::Status> {
    env.conns()
        .update_connection(pb::UpdateConnectionRequest {
            connection: Some(pb::Connection {
                name: name.into(),
                proxy: Some(proxy),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        })
        .await
        .map(|r| r.into_inner().connection.unwrap())
}

fn assert_socks4_password_refused(status: &tonic::Status) {
    assert_eq!(
        reason(status),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".to_owned()),
        "{status:?}"
    );
    let message = status.message();
    assert!(
        message.contains("proxy.password") && message.contains("SOCKS5"),
        "the message names the field and says SOCKS5 carries credentials: {message}"
    );
}

#[tokio::test]
async fn a_socks4_proxy_with_a_password_is_refused_at_create_and_update() {
    let env = Env::start().await;
    let mut c = token_connection("socks4-pw", "");
    c.proxy = Some(socks4("s3cret"));
    let err = env
        .conns()
        .create_connection(pb::CreateConnectionRequest {
            connection: Some(c),
        })
        .await
        .unwrap_err();
    assert_socks4_password_refused(&err);

    // Without a password (a user id only) SOCKS4 is accepted...
    let mut c = token_connection("socks4", "");
    c.proxy = Some(socks4(""));
    let stored = env.create_connection(c).await;
    assert_eq!(
        stored.proxy.as_ref().unwrap().r#type,
        pb::ProxyType::Socks4 as i32
    );
    // ...and adding a password later is refused the same way.
    let err = update_proxy(&env, &stored.name, socks4("s3cret"), &["proxy.password"])
        .await
        .unwrap_err();
    assert_socks4_password_refused(&err);

    // A SOCKS5 connection switched to SOCKS4 does not carry its password over: a secret
    // is bound to the proxy it was given for, and SOCKS4 could not send it anyway.
    let mut c = token_connection("socks5", "");
    c.proxy = Some(pb::ProxySettings {
        r#type: pb::ProxyType::Socks5 as i32,
        ..socks4("s3cret")
    });
    let stored = env.create_connection(c).await;
    assert!(stored.credential_state.unwrap().has_proxy_password);
    let switched = update_proxy(&env, &stored.name, socks4(""), &["proxy.type"])
        .await
        .unwrap();
    assert_eq!(switched.proxy.unwrap().r#type, pb::ProxyType::Socks4 as i32);
    assert!(!switched.credential_state.unwrap().has_proxy_password);
    // Giving it again with SOCKS4 is refused.
    let err = update_proxy(&env, &stored.name, socks4("s3cret"), &["proxy"])
        .await
        .unwrap_err();
    assert_socks4_password_refused(&err);
}
