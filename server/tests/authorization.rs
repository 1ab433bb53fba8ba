//! The authorization matrix against the real binary: callers from
//! a callers file, identified by bearer token or JWT; unknown callers get UNAUTHENTICATED
//! (CALLER_UNKNOWN); roles, connection groups and upload ownership give PERMISSION_DENIED
//! (CALLER_NOT_ALLOWED), the same for a connection that does not exist as for a foreign
//! one; health stays open; callers-file changes apply without a restart; mutating calls
//! leave one audit line each and no token in the log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use dropbox_connector_proto::v1 as pb;
use pb::cloud_task_service_client::CloudTaskServiceClient;
use pb::connection_service_client::ConnectionServiceClient;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const OPS: &str = "ops-token-0123456789";
const FIN_READER: &str = "fin-reader-token-0123456789";
const FIN_WRITER: &str = "fin-writer-token-0123456789";
const FIN_WRITER2: &str = "fin-writer2-token-0123456789";
const FIN_ADMIN: &str = "fin-admin-token-0123456789";
const HR_WRITER: &str = "hr-writer-token-0123456789";

const ISSUER: &str = "https://kubernetes.default.svc";
const SUBJECT: &str = "system:serviceaccount:reports:exporter";
const AUDIENCE: &str = "dropbox-connector";
const KID: &str = "test-key-1";

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn token_caller(name: &str, token: &str, role: &str, groups: &str) -> String {
    format!(
        "[[caller]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\nrole = \"{role}\"\ngroups = {groups}\n\n",
        sha(token)
    )
}

fn callers_toml() -> String {
    [
        token_caller("ops", OPS, "admin", r#"["*"]"#),
        token_caller("fin-reader", FIN_READER, "reader", r#"["finance"]"#),
        token_caller("fin-writer", FIN_WRITER, "writer", r#"["finance"]"#),
        token_caller("fin-writer2", FIN_WRITER2, "writer", r#"["finance"]"#),
        token_caller("fin-admin", FIN_ADMIN, "admin", r#"["finance"]"#),
        token_caller("hr-writer", HR_WRITER, "writer", r#"["hr"]"#),
        format!(
            "[[caller]]\nname = \"exporter\"\nrole = \"reader\"\ngroups = [\"finance\"]\n\
             jwt = {{ issuer = \"{ISSUER}\", subject = \"{SUBJECT}\", audience = \"{AUDIENCE}\" }}\n"
        ),
    ]
    .concat()
}

/// An EC P-256 key: the JWKS document holding its public half, and the signing key.
fn jwt_key() -> (String, jsonwebtoken::EncodingKey) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = pair.public_key_raw();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": KID, "use": "sig", "alg": "ES256",
        "x": b64(&point[1..33]), "y": b64(&point[33..65]),
    }]});
    let key = jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    (jwks.to_string(), key)
}

fn jwt(key: &jsonwebtoken::EncodingKey, audience: &str, expires_in: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(KID.into());
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": SUBJECT, "aud": [audience], "iat": now, "exp": now + expires_in,
    });
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

/// A server with the callers above, connections in the groups finance (a-fin, c-fin,
/// e-fin) and hr (b-hr, d-hr), and a file `/fin/report.csv` in Dropbox.
struct Matrix {
    env: Env,
    channel: Channel,
    jwt_key: jsonwebtoken::EncodingKey,
    callers_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// A selection of the one item at `path`.
fn one_item(path: &str) -> pb::ItemRefs {
    pb::ItemRefs {
        items: vec![pb::ItemRef {
            path: path.into(),
            rev: String::new(),
            ..Default::default()
        }],
    }
}

/// How many messages a server stream sends before it ends; its error if it fails.
async fn messages<T>(mut stream: tonic::Streaming<T>) -> Result<usize, tonic::Status> {
    let mut n = 0;
    while stream.message().await?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// The channel the matrix calls over: TLS, trusting the test CA.
async fn matrix_channel(env: &Env, client_tls: &tonic::transport::ClientTlsConfig) -> Channel {
    connect(env.address, Some(client_tls)).await
}

async fn matrix(extra_env: &[(&str, &str)]) -> Matrix {
    matrix_with(extra_env, Vec::new()).await
}

async fn matrix_with(
    extra_env: &[(&str, &str)],
    apps: Vec<dropbox_emulator::AppRegistration>,
) -> Matrix {
    let dir = tempfile::tempdir().unwrap();
    let callers_file = dir.path().join("callers.toml");
    std::fs::write(&callers_file, callers_toml()).unwrap();
    let (jwks, jwt_key) = jwt_key();
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks).unwrap();
    let mut env_vars = vec![
        (
            "DBXC_AUTH__CALLERS_FILE".to_owned(),
            callers_file.to_str().unwrap().to_owned(),
        ),
        (
            "DBXC_AUTH__JWKS_FILE".to_owned(),
            jwks_file.to_str().unwrap().to_owned(),
        ),
    ];
    env_vars.extend(
        extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    // The whole matrix runs over TLS, as the service is deployed.
    let ca = tls::Ca::new("matrix");
    let tls_files = tls::ServerFiles::new(&dir.path().join("tls"), &ca.server(1), None);
    env_vars.extend(tls_files.env(false));
    let client_tls = tls::client_tls(&ca.pem(), None);
    let env = Env::start_with(Options {
        env: env_vars,
        admin_token: Some(OPS.into()),
        client_tls: Some(client_tls.clone()),
        apps,
        ..Default::default()
    })
    .await;
    let channel = matrix_channel(&env, &client_tls).await;
    let m = Matrix {
        env,
        channel,
        jwt_key,
        callers_file,
        _dir: dir,
    };
    for (name, group) in [
        ("a-fin", "finance"),
        ("b-hr", "hr"),
        ("c-fin", "finance"),
        ("d-hr", "hr"),
        ("e-fin", "finance"),
    ] {
        m.conns()
            .create_connection(authed(
                Some(OPS),
                pb::CreateConnectionRequest {
                    connection: Some(token_connection(name, group)),
                },
            ))
            .await
            .unwrap();
    }
    m.upload(
        Some(FIN_WRITER),
        "a-fin",
        "/fin",
        "report.csv",
        b"a,b\n1,2\n",
    )
    .await
    .unwrap();
    m
}

impl Matrix {
    fn cloud(&self) -> CloudTaskServiceClient<Channel> {
        CloudTaskServiceClient::new(self.channel.clone())
    }

    fn conns(&self) -> ConnectionServiceClient<Channel> {
        ConnectionServiceClient::new(self.channel.clone())
    }

    async fn upload(
        &self,
        token: Option<&str>,
        connection: &str,
        folder: &str,
        name: &str,
        data: &[u8],
    ) -> Result<pb::UploadFilesResponse, tonic::Status> {
        let mut s = spec(folder, None, false);
        s.connection = connection.into();
        let messages = upload_messages(s, vec![Src::new(name, data)], 1024);
        upload_results(
            self.cloud()
                .upload_files(authed(token, futures::stream::iter(messages)))
                .await,
        )
        .await
    }

    async fn list_items(
        &self,
        token: Option<&str>,
        connection: &str,
    ) -> Result<usize, tonic::Status> {
        use futures::StreamExt;
        let mut stream = self
            .cloud()
            .list_items(authed(
                token,
                pb::ListItemsRequest {
                    connection: connection.into(),
                    filter: Some(pb::RemoteFileFilter {
                        folder: "/fin".into(),
                        ..Default::default()
                    }),
                },
            ))
            .await?
            .into_inner();
        let mut n = 0;
        while let Some(page) = stream.next().await {
            n += page?.items.len();
        }
        Ok(n)
    }

    async fn download(
        &self,
        token: Option<&str>,
        connection: &str,
    ) -> Result<usize, tonic::Status> {
        let stream = self
            .cloud()
            .download_files(authed(
                token,
                pb::DownloadFilesRequest {
                    connection: connection.into(),
                    selection: Some(pb::download_files_request::Selection::Items(one_item(
                        "/fin/report.csv",
                    ))),
                    range: None,
                    ..Default::default()
                },
            ))
            .await?
            .into_inner();
        messages(stream).await
    }

    async fn delete(
        &self,
        token: Option<&str>,
        connection: &str,
        path: &str,
    ) -> Result<usize, tonic::Status> {
        let stream = self
            .cloud()
            .delete_items(authed(
                token,
                pb::DeleteItemsRequest {
                    connection: connection.into(),
                    selection: Some(pb::delete_items_request::Selection::Items(one_item(path))),
                    dry_run: false,
                },
            ))
            .await?
            .into_inner();
        messages(stream).await
    }

    async fn list_connections(
        &self,
        token: Option<&str>,
        page_size: i32,
    ) -> Result<Vec<String>, tonic::Status> {
        let mut names = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .conns()
                .list_connections(authed(
                    token,
                    pb::ListConnectionsRequest {
                        page_size,
                        page_token: page_token.clone(),
                        ..Default::default()
                    },
                ))
                .await?
                .into_inner();
            names.extend(page.connections.into_iter().map(|c| c.display_name));
            if page.next_page_token.is_empty() {
                return Ok(names);
            }
            page_token = page.next_page_token;
        }
    }

    async fn get(&self, token: Option<&str>, name: &str) -> Result<pb::Connection, tonic::Status> {
        self.conns()
            .get_connection(authed(
                token,
                pb::GetConnectionRequest { name: name.into() },
            ))
            .await
            .map(|r| r.into_inner().connection.unwrap())
    }
}

fn assert_unknown(r: Result<impl std::fmt::Debug, tonic::Status>, what: &str) {
    let status = r.expect_err(what);
    assert_eq!(
        reason(&status),
        (Code::Unauthenticated, "CALLER_UNKNOWN".to_owned()),
        "{what}: {status:?}"
    );
}

/// PERMISSION_DENIED / CALLER_NOT_ALLOWED naming the caller and the role the call needs.
fn assert_denied(
    r: Result<impl std::fmt::Debug, tonic::Status>,
    caller: &str,
    needed_role: &str,
    what: &str,
) -> tonic::Status {
    let status = r.expect_err(what);
    assert_eq!(
        reason(&status),
        (Code::PermissionDenied, "CALLER_NOT_ALLOWED".to_owned()),
        "{what}: {status:?}"
    );
    let details = status.get_error_details();
    let info = details.error_info().unwrap();
    assert_eq!(
        info.metadata.get("caller").map(String::as_str),
        Some(caller),
        "{what}"
    );
    assert_eq!(
        info.metadata.get("needed_role").map(String::as_str),
        Some(needed_role),
        "{what}"
    );
    status
}

#[tokio::test]
async fn unknown_callers_are_unauthenticated_and_a_valid_jwt_works() {
    let m = matrix(&[]).await;
    assert_unknown(m.list_connections(None, 0).await, "no identity");
    assert_unknown(m.list_items(None, "a-fin").await, "no identity, ListItems");
    assert_unknown(
        m.upload(None, "a-fin", "/fin", "x.txt", b"x").await,
        "no identity, UploadFiles",
    );
    let wrong = m.list_connections(Some("not-a-caller-token"), 0).await;
    assert!(!format!("{wrong:?}").contains("not-a-caller-token"));
    assert_unknown(wrong, "a wrong token");
    let expired = jwt(&m.jwt_key, AUDIENCE, -3600);
    let r = m.list_connections(Some(&expired), 0).await;
    assert!(format!("{r:?}").contains("expired"), "{r:?}");
    assert_unknown(r, "an expired JWT");
    let elsewhere = jwt(&m.jwt_key, "another-service", 600);
    assert_unknown(
        m.list_items(Some(&elsewhere), "a-fin").await,
        "a JWT for another audience",
    );
    // A JWT signed by a key the JWKS does not hold.
    let (_, stranger) = jwt_key();
    assert_unknown(
        m.list_connections(Some(&jwt(&stranger, AUDIENCE, 600)), 0)
            .await,
        "a JWT signed by another key",
    );

    let good = jwt(&m.jwt_key, AUDIENCE, 600);
    assert_eq!(
        m.list_connections(Some(&good), 0).await.unwrap(),
        ["a-fin", "c-fin", "e-fin"]
    );
    assert_eq!(m.list_items(Some(&good), "a-fin").await.unwrap(), 1);
    // The JWT's caller is a reader.
    assert_denied(
        m.delete(Some(&good), "a-fin", "/fin/report.csv").await,
        "exporter",
        "writer",
        "a reader's JWT deleting",
    );
    m.env.stop().await;
}

#[tokio::test]
async fn a_reader_cannot_delete_upload_or_update() {
    let m = matrix(&[]).await;
    assert_denied(
        m.delete(Some(FIN_READER), "a-fin", "/fin/report.csv").await,
        "fin-reader",
        "writer",
        "reader DeleteItems",
    );
    assert!(m.env.remote("/fin/report.csv").await.is_some());
    assert_denied(
        m.upload(Some(FIN_READER), "a-fin", "/fin", "new.txt", b"new")
            .await,
        "fin-reader",
        "writer",
        "reader UploadFiles",
    );
    assert!(m.env.remote("/fin/new.txt").await.is_none());
    let update = m
        .conns()
        .update_connection(authed(
            Some(FIN_READER),
            pb::UpdateConnectionRequest {
                connection: Some(pb::Connection {
                    name: "a-fin".into(),
                    timeout_seconds: 5,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["timeout_seconds".into()],
                }),
            },
        ))
        .await;
    assert_denied(update, "fin-reader", "admin", "reader UpdateConnection");
    // What a reader may do, it can.
    assert_eq!(m.list_items(Some(FIN_READER), "a-fin").await.unwrap(), 1);
    assert!(m.download(Some(FIN_READER), "a-fin").await.unwrap() > 0);
    assert_eq!(
        m.get(Some(FIN_READER), "a-fin").await.unwrap().group,
        "finance"
    );
    // A writer may delete in its group.
    assert_eq!(
        m.delete(Some(FIN_WRITER), "a-fin", "/fin/report.csv")
            .await
            .unwrap(),
        1
    );
    m.env.stop().await;
}

#[tokio::test]
async fn a_caller_sees_and_uses_only_its_groups_connections() {
    let m = matrix(&[]).await;
    // Paged one and two at a time: the hr connections in between are skipped and the
    // page tokens carry on.
    for size in [1, 2, 0] {
        assert_eq!(
            m.list_connections(Some(FIN_READER), size).await.unwrap(),
            ["a-fin", "c-fin", "e-fin"],
            "page_size {size}"
        );
    }
    assert_eq!(
        m.list_connections(Some(HR_WRITER), 1).await.unwrap(),
        ["b-hr", "d-hr"]
    );
    assert_eq!(m.list_connections(Some(OPS), 2).await.unwrap().len(), 6);

    // B's connection and a connection that does not exist: the same denial.
    let mut messages = Vec::new();
    for target in ["b-hr", "no-such-connection"] {
        let s = assert_denied(
            m.get(Some(FIN_READER), target).await,
            "fin-reader",
            "reader",
            "GetConnection",
        );
        messages.push(s.message().replace(target, "<name>"));
        assert_denied(
            m.list_items(Some(FIN_READER), target).await,
            "fin-reader",
            "reader",
            "ListItems",
        );
        assert_denied(
            m.download(Some(FIN_READER), target).await,
            "fin-reader",
            "reader",
            "DownloadFiles",
        );
        assert_denied(
            m.delete(Some(FIN_WRITER), target, "/fin/report.csv").await,
            "fin-writer",
            "writer",
            "DeleteItems",
        );
        assert_denied(
            m.upload(Some(FIN_WRITER), target, "/fin", "x.txt", b"x")
                .await,
            "fin-writer",
            "writer",
            "UploadFiles",
        );
        let test = m
            .conns()
            .test_connection(authed(
                Some(FIN_READER),
                pb::TestConnectionRequest {
                    name: target.into(),
                },
            ))
            .await;
        assert_denied(test, "fin-reader", "reader", "TestConnection");
        let delete = m
            .conns()
            .delete_connection(authed(
                Some(FIN_ADMIN),
                pb::DeleteConnectionRequest {
                    name: target.into(),
                },
            ))
            .await;
        assert_denied(delete, "fin-admin", "admin", "DeleteConnection");
        let authorize = m
            .conns()
            .start_authorization(authed(
                Some(FIN_ADMIN),
                pb::StartAuthorizationRequest {
                    name: target.into(),
                    no_redirect: true,
                    ..Default::default()
                },
            ))
            .await;
        assert_denied(authorize, "fin-admin", "admin", "StartAuthorization");
    }
    assert_eq!(messages[0], messages[1], "existence must not leak");
    // hr's connection is still there; a caller of all groups gets NOT_FOUND for a
    // connection that does not exist.
    assert_eq!(m.get(Some(OPS), "b-hr").await.unwrap().group, "hr");
    let missing = m.get(Some(OPS), "no-such-connection").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // An admin of finance creates only in finance and cannot move a connection out.
    let create = |group: &str, name: &str| pb::CreateConnectionRequest {
        connection: Some(pb::Connection {
            display_name: name.into(),
            group: group.into(),
            ..Default::default()
        }),
    };
    let r = m
        .conns()
        .create_connection(authed(Some(FIN_ADMIN), create("hr", "f-hr")))
        .await;
    assert_denied(r, "fin-admin", "admin", "CreateConnection in hr");
    let r = m
        .conns()
        .create_connection(authed(Some(FIN_ADMIN), create("", "f-default")))
        .await;
    assert_denied(
        r,
        "fin-admin",
        "admin",
        "CreateConnection in the default group",
    );
    m.conns()
        .create_connection(authed(Some(FIN_ADMIN), create("finance", "f-fin")))
        .await
        .unwrap();
    let r = m
        .conns()
        .update_connection(authed(
            Some(FIN_ADMIN),
            pb::UpdateConnectionRequest {
                connection: Some(pb::Connection {
                    name: "f-fin".into(),
                    group: "hr".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["group".into()],
                }),
            },
        ))
        .await;
    assert_denied(r, "fin-admin", "admin", "UpdateConnection into hr");
    assert_eq!(m.get(Some(OPS), "f-fin").await.unwrap().group, "finance");
    m.env.stop().await;
}

fn write_messages(id: &str, data: &[u8]) -> Vec<pb::WriteResumableUploadRequest> {
    vec![pb::WriteResumableUploadRequest {
        upload_id: id.into(),
        write_offset: 0,
        data: data.to_vec(),
        finish_write: true,
        content_hash: dropbox_client::content_hash::content_hash(data),
    }]
}

#[tokio::test]
async fn a_resumable_upload_belongs_to_the_caller_that_started_it() {
    let m = matrix(&[]).await;
    let data = bytes(10_000, 3);
    let start = |token: &str| {
        authed(
            Some(token),
            pb::StartResumableUploadRequest {
                connection: "a-fin".into(),
                path: "/fin/big.bin".into(),
                size: Some(data.len() as u64),
                ..Default::default()
            },
        )
    };
    let id = m
        .cloud()
        .start_resumable_upload(start(FIN_WRITER))
        .await
        .unwrap()
        .into_inner()
        .upload_id;
    assert!(!id.is_empty());
    // Another writer of the same group, holding the id.
    let write = m
        .cloud()
        .write_resumable_upload(authed(
            Some(FIN_WRITER2),
            futures::stream::iter(write_messages(&id, &data)),
        ))
        .await;
    assert_denied(
        write,
        "fin-writer2",
        "writer",
        "WriteResumableUpload by another caller",
    );
    let query = m
        .cloud()
        .query_upload(authed(
            Some(FIN_WRITER2),
            pb::QueryUploadRequest {
                upload_id: id.clone(),
            },
        ))
        .await;
    assert_denied(
        query,
        "fin-writer2",
        "writer",
        "QueryUpload by another caller",
    );
    let cancel = m
        .cloud()
        .cancel_upload(authed(
            Some(FIN_WRITER2),
            pb::CancelUploadRequest {
                upload_id: id.clone(),
            },
        ))
        .await;
    assert_denied(
        cancel,
        "fin-writer2",
        "writer",
        "CancelUpload by another caller",
    );
    // A writer of hr cannot even start one on a finance connection.
    assert_denied(
        m.cloud().start_resumable_upload(start(HR_WRITER)).await,
        "hr-writer",
        "writer",
        "StartResumableUpload on a foreign connection",
    );
    // The owner goes on undisturbed.
    let r = m
        .cloud()
        .write_resumable_upload(authed(
            Some(FIN_WRITER),
            futures::stream::iter(write_messages(&id, &data)),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.persisted_size, data.len() as u64);
    assert_eq!(m.env.remote_bytes("/fin/big.bin").await, data);
    let q = m
        .cloud()
        .query_upload(authed(
            Some(FIN_WRITER),
            pb::QueryUploadRequest { upload_id: id },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(q.result.is_some());
    m.env.stop().await;
}

#[tokio::test]
async fn health_answers_without_identity() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let m = matrix(&[]).await;
    for service in ["", "dropbox_connector.v1.CloudTaskService"] {
        let r = HealthClient::new(m.channel.clone())
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status(), ServingStatus::Serving, "{service:?}");
    }
    m.env.stop().await;
}

/// Polls `condition` until it holds or `deadline` passes.
async fn wait_until<F, Fut>(deadline: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {deadline:?} waiting for {what}");
}

#[tokio::test]
async fn callers_file_changes_apply_without_a_restart() {
    let m = matrix(&[("DBXC_AUTH__RELOAD_SECONDS", "1")]).await;
    let newcomer = "newcomer-token-0123456789";
    assert_unknown(
        m.list_connections(Some(newcomer), 0).await,
        "not yet a caller",
    );
    // A caller added, and fin-reader's token removed.
    let edited = callers_toml().replace(&sha(FIN_READER), &sha("fin-reader-rotated-token"))
        + &token_caller("newcomer", newcomer, "reader", r#"["hr"]"#);
    std::fs::write(&m.callers_file, &edited).unwrap();
    wait_until(
        Duration::from_secs(30),
        "the new caller to be let in",
        || async { m.list_connections(Some(newcomer), 0).await.is_ok() },
    )
    .await;
    assert_eq!(
        m.list_connections(Some(newcomer), 0).await.unwrap(),
        ["b-hr", "d-hr"]
    );
    assert_unknown(
        m.list_connections(Some(FIN_READER), 0).await,
        "a removed token",
    );
    assert!(
        m.list_connections(Some("fin-reader-rotated-token"), 0)
            .await
            .is_ok()
    );

    // A broken edit is refused and the callers in force stay.
    std::fs::write(
        &m.callers_file,
        "[[caller]]\nname = \"x\"\nrole = \"root\"\n",
    )
    .unwrap();
    wait_until(
        Duration::from_secs(30),
        "the refusal in the log",
        || async {
            m.env
                .server_log()
                .contains("is refused; keeping the previous one")
        },
    )
    .await;
    assert!(m.list_connections(Some(newcomer), 0).await.is_ok());
    assert!(
        m.env.server_log().contains("line 1"),
        "{}",
        m.env.server_log()
    );
    m.env.stop().await;
}

#[tokio::test]
async fn mutating_calls_are_audited_without_tokens() {
    let m = matrix(&[("DBXC_LOG__FORMAT", "json"), ("DBXC_LOG__LEVEL", "info")]).await;
    m.upload(Some(FIN_WRITER), "c-fin", "/fin", "two.txt", b"two")
        .await
        .unwrap();
    assert_eq!(
        m.delete(Some(FIN_WRITER), "c-fin", "/fin/two.txt")
            .await
            .unwrap(),
        1
    );
    assert!(
        m.delete(Some(FIN_READER), "c-fin", "/fin/report.csv")
            .await
            .is_err()
    );
    assert!(
        m.delete(Some("wrong-token-0123456789"), "c-fin", "/x")
            .await
            .is_err()
    );
    // Reads are not audited.
    m.list_items(Some(FIN_READER), "c-fin").await.unwrap();
    let entry = |method: &str, caller: &str, connection: &str, items: u64, outcome: &str| {
        (
            method.to_owned(),
            caller.to_owned(),
            connection.to_owned(),
            items,
            outcome.to_owned(),
        )
    };
    let want = [
        entry("UploadFiles", "fin-writer", "c-fin", 1, "Ok"),
        entry("DeleteItems", "fin-writer", "c-fin", 1, "Ok"),
        entry("DeleteItems", "fin-reader", "c-fin", 0, "PermissionDenied"),
        entry("DeleteItems", "-", "c-fin", 0, "Unauthenticated"),
    ];
    wait_until(Duration::from_secs(10), "four audit lines", || {
        let enough = audit_lines(&m.env.server_log()).len() >= 4;
        async move { enough }
    })
    .await;
    let lines = audit_lines(&m.env.server_log());
    for w in &want {
        assert!(lines.contains(w), "{w:?} in {lines:#?}");
    }
    assert!(
        !lines.iter().any(|l| l.0 == "ListItems"),
        "reads are not audited: {lines:?}"
    );
    let log = m.env.server_log();
    for token in [FIN_WRITER, FIN_READER, OPS, "wrong-token-0123456789"] {
        assert!(!log.contains(token), "a token in the log");
    }
    m.env.stop().await;
}

#[tokio::test]
async fn completing_an_authorization_needs_the_connections_group() {
    let (key, secret) = ("app-key-auth", "app-secret-auth");
    let m = matrix_with(
        &[],
        vec![dropbox_emulator::AppRegistration::new(key, secret)],
    )
    .await;
    m.conns()
        .create_connection(authed(
            Some(OPS),
            pb::CreateConnectionRequest {
                connection: Some(pb::Connection {
                    display_name: "oauth-hr".into(),
                    group: "hr".into(),
                    app: Some(pb::AppSettings {
                        app_key: key.into(),
                        app_secret: secret.into(),
                        redirect_uri: String::new(),
                    }),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap();
    let started = m
        .conns()
        .start_authorization(authed(
            Some(OPS),
            pb::StartAuthorizationRequest {
                name: "oauth-hr".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let (code, state) = approve(&m.env, &started.authorize_url).await;
    // An admin of finance holding hr's state and code.
    let r = m
        .conns()
        .complete_authorization(authed(
            Some(FIN_ADMIN),
            pb::CompleteAuthorizationRequest {
                state: state.clone(),
                code: code.clone(),
            },
        ))
        .await;
    let status = assert_denied(
        r,
        "fin-admin",
        "admin",
        "CompleteAuthorization of hr's connection",
    );
    assert!(!status.message().contains("oauth-hr"), "{status:?}");
    assert!(
        m.get(Some(OPS), "oauth-hr")
            .await
            .unwrap()
            .account
            .is_none()
    );
    m.env.stop().await;
}
