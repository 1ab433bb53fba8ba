//! DownloadFiles, CreateFolder, DeleteItems, the ConnectionService, health and
//! reflection, through the real service against the in-process emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use dropbox_connector_proto::v1 as pb;
use futures::StreamExt;
use pb::download_files_response::Message as Down;

/// Collects a download: per file (path, bytes, end hash) or the error reason.
async fn download(
    env: &Env,
    req: pb::DownloadFilesRequest,
) -> Result<Vec<(String, Vec<u8>, String)>, tonic::Status> {
    let mut s = env.cloud().download_files(req).await?.into_inner();
    let mut out: Vec<(String, Vec<u8>, String)> = Vec::new();
    while let Some(m) = s.next().await {
        match m?.message.unwrap() {
            Down::Header(h) => {
                out.push((h.metadata.unwrap().relative_path, Vec::new(), String::new()))
            }
            Down::Chunk(c) => {
                let cur = out.last_mut().unwrap();
                assert_eq!(c.offset as usize, cur.1.len(), "chunks in order");
                assert!(c.data.len() <= 1024 * 1024);
                cur.1.extend_from_slice(&c.data);
            }
            Down::End(e) => out.last_mut().unwrap().2 = e.content_hash,
            Down::Skipped(s) => panic!("no overwrite policy was set, yet {s:?}"),
            Down::Error(e) => out.push((
                e.path,
                Vec::new(),
                format!("ERROR:{}", e.error.unwrap().reason),
            )),
        }
    }
    Ok(out)
}

fn refs(items: &[(&str, &str)]) -> Option<pb::download_files_request::Selection> {
    Some(pb::download_files_request::Selection::Items(pb::ItemRefs {
        items: items
            .iter()
            .map(|(p, r)| pb::ItemRef {
                path: p.to_string(),
                rev: r.to_string(),
                ..Default::default()
            })
            .collect(),
    }))
}

#[tokio::test]
async fn download_by_filter_items_rev_and_range() {
    let env = Env::start().await;
    let big = bytes(3 * 1024 * 1024 + 17, 5);
    env.put("/dl", "big.bin", &big, None).await;
    env.put("/dl", "sub/s.txt", b"sub", None).await;
    let filter = pb::RemoteFileFilter {
        folder: "/dl".into(),
        include_subfolders: true,
        kind: pb::ItemKind::All as i32,
        ..Default::default()
    };
    let got = download(
        &env,
        pb::DownloadFilesRequest {
            connection: CONN.into(),
            selection: Some(pb::download_files_request::Selection::Filter(filter)),
            range: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut paths: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["big.bin", "sub/s.txt"],
        "folders are never downloaded"
    );
    let b = got.iter().find(|g| g.0 == "big.bin").unwrap();
    assert_eq!(b.1, big);
    assert_eq!(b.2, dropbox_client::content_hash::content_hash(&big));

    // ItemRef.rev downloads through the `rev:` form (the emulator keeps only current
    // revisions, so the current one is used); a missing file is a per-file error.
    env.put("/dl", "sub/s.txt", b"changed", None).await;
    let Some(common::Metadata::File(cur)) = env.remote("/dl/sub/s.txt").await else {
        panic!()
    };
    let got = download(
        &env,
        pb::DownloadFilesRequest {
            connection: CONN.into(),
            selection: refs(&[
                ("/dl/sub/s.txt", &cur.rev),
                ("/dl/none", ""),
                ("/dl/sub/s.txt", ""),
            ]),
            range: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(got[0].1, b"changed", "{got:?}");
    assert_eq!(got[1].2, "ERROR:PATH_NOT_FOUND");
    assert_eq!(got[2].1, b"changed");
    let got = download(
        &env,
        pb::DownloadFilesRequest {
            connection: CONN.into(),
            selection: refs(&[("/dl/sub/s.txt", "0123456789abc")]),
            range: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(got[0].2, "ERROR:PATH_NOT_FOUND", "an unknown revision");

    // A byte range of one file; several items with a range are refused.
    let mut s = env
        .cloud()
        .download_files(pb::DownloadFilesRequest {
            connection: CONN.into(),
            selection: refs(&[("/dl/big.bin", "")]),
            range: Some(pb::ByteRange {
                offset: 100,
                length: 50,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let Some(Down::Header(h)) = s.next().await.unwrap().unwrap().message else {
        panic!()
    };
    assert_eq!((h.offset, h.length), (100, 50));
    let Some(Down::Chunk(c)) = s.next().await.unwrap().unwrap().message else {
        panic!()
    };
    assert_eq!((c.offset, c.data.as_slice()), (100, &big[100..150]));
    let err = env
        .cloud()
        .download_files(pb::DownloadFilesRequest {
            connection: CONN.into(),
            selection: refs(&[("/a", ""), ("/b", "")]),
            range: Some(pb::ByteRange {
                offset: 1,
                length: 1,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".into())
    );
    env.stop().await;
}

#[tokio::test]
async fn create_folder_and_exist_ok() {
    let env = Env::start().await;
    let req = |exist_ok| pb::CreateFolderRequest {
        connection: CONN.into(),
        path: "/new/deep".into(),
        exist_ok,
    };
    let r = env
        .cloud()
        .create_folder(req(false))
        .await
        .unwrap()
        .into_inner();
    assert!(r.created);
    assert_eq!(r.folder.unwrap().path_display, "/new/deep");
    let err = env.cloud().create_folder(req(false)).await.unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::AlreadyExists, "PATH_CONFLICT".into())
    );
    let r = env
        .cloud()
        .create_folder(req(true))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.created);
    env.put("/new", "file", b"x", None).await;
    // A file in the way is still a conflict, exist_ok or not.
    let err = env
        .cloud()
        .create_folder(pb::CreateFolderRequest {
            connection: CONN.into(),
            path: "/new/file".into(),
            exist_ok: true,
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::AlreadyExists, "PATH_CONFLICT".into())
    );
    env.stop().await;
}

async fn delete(env: &Env, req: pb::DeleteItemsRequest) -> Vec<pb::DeleteItemsResponse> {
    let mut s = env.cloud().delete_items(req).await.unwrap().into_inner();
    let mut out = Vec::new();
    while let Some(m) = s.next().await {
        out.push(m.unwrap());
    }
    out
}

#[tokio::test]
async fn delete_by_filter_dry_run_items_and_parent_rev() {
    use pb::delete_items_request::Selection;
    let env = Env::start().await;
    for n in ["a.csv", "b.csv", "c.txt"] {
        env.put("/del", n, n.as_bytes(), None).await;
    }
    let filter = pb::RemoteFileFilter {
        folder: "/del".into(),
        mask: "*.csv".into(),
        ..Default::default()
    };
    let dry = delete(
        &env,
        pb::DeleteItemsRequest {
            connection: CONN.into(),
            selection: Some(Selection::Filter(filter.clone())),
            dry_run: true,
        },
    )
    .await;
    assert_eq!(dry.len(), 2);
    assert!(dry.iter().all(|d| d.dry_run));
    assert!(
        env.remote("/del/a.csv").await.is_some(),
        "dry run deletes nothing"
    );
    let done = delete(
        &env,
        pb::DeleteItemsRequest {
            connection: CONN.into(),
            selection: Some(Selection::Filter(filter)),
            dry_run: false,
        },
    )
    .await;
    assert!(done.iter().all(|d| matches!(
        d.outcome,
        Some(pb::delete_items_response::Outcome::Deleted(_))
    )));
    assert!(env.remote("/del/a.csv").await.is_none() && env.remote("/del/b.csv").await.is_none());
    assert!(env.remote("/del/c.txt").await.is_some());

    // ItemRefs: a stale rev is refused (parent_rev), a missing path is a per-item error.
    let Some(common::Metadata::File(old)) = env.remote("/del/c.txt").await else {
        panic!()
    };
    env.put("/del", "c.txt", b"changed", None).await;
    let items = |rev: &str| {
        Selection::Items(pb::ItemRefs {
            items: vec![
                pb::ItemRef {
                    path: "/del/c.txt".into(),
                    rev: rev.into(),
                    ..Default::default()
                },
                pb::ItemRef {
                    path: "/del/none".into(),
                    rev: String::new(),
                    ..Default::default()
                },
            ],
        })
    };
    let r = delete(
        &env,
        pb::DeleteItemsRequest {
            connection: CONN.into(),
            selection: Some(items(&old.rev)),
            dry_run: false,
        },
    )
    .await;
    assert!(
        matches!(
            r[0].outcome,
            Some(pb::delete_items_response::Outcome::Error(_))
        ),
        "{:?}",
        r[0]
    );
    assert!(env.remote("/del/c.txt").await.is_some());
    let Some(pb::delete_items_response::Outcome::Error(e)) = &r[1].outcome else {
        panic!()
    };
    assert_eq!(e.reason, "PATH_NOT_FOUND");
    let r = delete(
        &env,
        pb::DeleteItemsRequest {
            connection: CONN.into(),
            selection: Some(items("")),
            dry_run: false,
        },
    )
    .await;
    assert!(matches!(
        r[0].outcome,
        Some(pb::delete_items_response::Outcome::Deleted(_))
    ));
    assert!(env.remote("/del/c.txt").await.is_none());
    env.stop().await;
}

#[tokio::test]
async fn connections_crud_paging_masks_and_secrets() {
    let env = Env::start().await;
    let mut c = env.conns();
    let create = |name: &str, group: &str| pb::CreateConnectionRequest {
        connection: Some(pb::Connection {
            display_name: name.into(),
            group: group.into(),
            credentials: Some(pb::Credentials {
                access_token: "secret-token".into(),
                refresh_token: String::new(),
            }),
            ..Default::default()
        }),
    };
    let made = c
        .create_connection(create("alpha", ""))
        .await
        .unwrap()
        .into_inner()
        .connection
        .unwrap();
    assert!(made.name.starts_with("connections/"));
    assert_eq!(
        (
            made.group.as_str(),
            made.timeout_seconds,
            made.code_page.as_str()
        ),
        ("Default group", 60, "windows-1252")
    );
    assert_eq!(
        made.app.as_ref().unwrap().redirect_uri,
        "http://localhost:9999"
    );
    assert!(made.credentials.is_none() && made.credential_state.as_ref().unwrap().has_access_token);
    let err = c.create_connection(create("alpha", "")).await.unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::AlreadyExists, "CONNECTION_NAME_TAKEN".into())
    );
    let mut bad = create("bad", "");
    bad.connection.as_mut().unwrap().code_page = "klingon".into();
    assert_eq!(
        c.create_connection(bad).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    c.create_connection(create("beta", "ops")).await.unwrap();

    // Get by resource name and by display_name.
    let by_id = c
        .get_connection(pb::GetConnectionRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let by_name = c
        .get_connection(pb::GetConnectionRequest {
            name: "alpha".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id, by_name);
    let err = c
        .get_connection(pb::GetConnectionRequest {
            name: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::NotFound, "CONNECTION_NOT_FOUND".into())
    );

    // Paging (alpha, beta, test) and the group filter.
    let p1 = c
        .list_connections(pb::ListConnectionsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        p1.connections
            .iter()
            .map(|c| c.display_name.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    let p2 = c
        .list_connections(pb::ListConnectionsRequest {
            page_size: 2,
            page_token: p1.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p2.connections.len(), 1);
    assert!(p2.next_page_token.is_empty());
    let ops = c
        .list_connections(pb::ListConnectionsRequest {
            group: "ops".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ops.connections.len(), 1);

    // Update with a mask changes only the named field; secrets survive.
    let update = pb::UpdateConnectionRequest {
        connection: Some(pb::Connection {
            name: "alpha".into(),
            group: "reports".into(),
            timeout_seconds: 5,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["group".into()],
        }),
    };
    let u = c
        .update_connection(update)
        .await
        .unwrap()
        .into_inner()
        .connection
        .unwrap();
    assert_eq!((u.group.as_str(), u.timeout_seconds), ("reports", 60));
    assert!(u.credential_state.unwrap().has_access_token);
    let clash = pb::UpdateConnectionRequest {
        connection: Some(pb::Connection {
            name: made.name.clone(),
            display_name: "beta".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["display_name".into()],
        }),
    };
    assert_eq!(
        reason(&c.update_connection(clash).await.unwrap_err()).1,
        "CONNECTION_NAME_TAKEN"
    );

    c.delete_connection(pb::DeleteConnectionRequest {
        name: "alpha".into(),
    })
    .await
    .unwrap();
    let err = c
        .delete_connection(pb::DeleteConnectionRequest { name: made.name })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    // A connection without credentials cannot run tasks.
    c.create_connection(pb::CreateConnectionRequest {
        connection: Some(pb::Connection {
            display_name: "empty".into(),
            ..Default::default()
        }),
    })
    .await
    .unwrap();
    let err = env
        .cloud()
        .create_folder(pb::CreateFolderRequest {
            connection: "empty".into(),
            path: "/x".into(),
            exist_ok: true,
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (
            tonic::Code::FailedPrecondition,
            "CONNECTION_NOT_AUTHORIZED".into()
        )
    );
    env.stop().await;
}

#[tokio::test]
async fn health_serving_and_reflection_lists_services() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    // Reflection is off by default (see transport_limits::reflection_is_off_unless_turned_on).
    let env = Env::start_with(Options {
        env: vec![("DBXC_REFLECTION".into(), "true".into())],
        ..Default::default()
    })
    .await;
    let mut h = HealthClient::new(env.channel.clone());
    for service in [
        "",
        "dropbox_connector.v1.CloudTaskService",
        "dropbox_connector.v1.ConnectionService",
    ] {
        let r = h
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{service:?}");
    }

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut r = ServerReflectionClient::new(env.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut s = r
        .server_reflection_info(futures::stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        s.next().await.unwrap().unwrap().message_response
    else {
        panic!()
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"dropbox_connector.v1.CloudTaskService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    env.stop().await;
}
