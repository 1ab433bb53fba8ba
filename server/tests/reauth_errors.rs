//! A refused refresh token is reported as REAUTHORIZATION_REQUIRED naming the connection,
//! wherever the refusal surfaces: an UploadFiles per-file result, a DownloadFiles per-file
//! error, a DeleteItems per-item error, and the status that ends a ListItems stream. In-process server + emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::{Env, Options, Src, reason, upload_messages, upload_results};
use dropbox_connector_proto::v1 as pb;
use dropbox_emulator::AppRegistration;
use futures::StreamExt;

const APP_KEY: &str = "app-key-1";
const APP_SECRET: &str = "app-secret-1";

/// A server whose connection `name` holds only a refresh token Dropbox refuses, so its
/// first call to Dropbox finds the refusal.
async fn stale(name: &str) -> Env {
    let env = Env::start_with(Options {
        apps: vec![AppRegistration::new(APP_KEY, APP_SECRET)],
        ..Default::default()
    })
    .await;
    env.create_connection(pb::Connection {
        display_name: name.into(),
        app: Some(pb::AppSettings {
            app_key: APP_KEY.into(),
            app_secret: APP_SECRET.into(),
            redirect_uri: String::new(),
        }),
        credentials: Some(pb::Credentials {
            access_token: String::new(),
            refresh_token: "revoked-or-bogus".into(),
        }),
        ..Default::default()
    })
    .await;
    env
}

fn one_item(path: &str) -> pb::ItemRefs {
    pb::ItemRefs {
        items: vec![pb::ItemRef {
            path: path.into(),
            rev: String::new(),
            ..Default::default()
        }],
    }
}

fn assert_reauthorization(e: &pb::ItemError, connection: &str) {
    assert_eq!(e.reason, "REAUTHORIZATION_REQUIRED", "{e:?}");
    assert_eq!(
        e.metadata.get("connection").map(String::as_str),
        Some(connection)
    );
    assert!(
        e.message.contains(&format!("{connection:?}")) && e.message.contains("StartAuthorization"),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_upload_per_file_result_names_the_connection() {
    let env = stale("stale-up").await;
    let spec = pb::UploadSpec {
        connection: "stale-up".into(),
        destination_folder: "/in".into(),
        overwrite: None,
        keep_modified_date: false,
        autorename: false,
    };
    let messages = upload_messages(spec, vec![Src::new("a.txt", b"hello")], 1024);
    let r = upload_results(
        env.cloud()
            .upload_files(futures::stream::iter(messages))
            .await,
    )
    .await
    .unwrap();
    let [result] = r.results.as_slice() else {
        panic!("{r:?}")
    };
    let Some(pb::file_result::Outcome::Error(e)) = &result.outcome else {
        panic!("{result:?}")
    };
    assert_reauthorization(e, "stale-up");
    env.stop().await;
}

#[tokio::test]
async fn a_download_per_file_error_names_the_connection() {
    let env = stale("stale-dl").await;
    let mut stream = env
        .cloud()
        .download_files(pb::DownloadFilesRequest {
            connection: "stale-dl".into(),
            selection: Some(pb::download_files_request::Selection::Items(one_item(
                "/a.txt",
            ))),
            range: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    let Some(pb::download_files_response::Message::Error(e)) = first.message else {
        panic!("{first:?}")
    };
    assert_eq!(e.path, "/a.txt");
    assert_reauthorization(e.error.as_ref().unwrap(), "stale-dl");
    assert!(stream.next().await.is_none());
    env.stop().await;
}

#[tokio::test]
async fn a_delete_per_item_error_names_the_connection() {
    let env = stale("stale-rm").await;
    let mut stream = env
        .cloud()
        .delete_items(pb::DeleteItemsRequest {
            connection: "stale-rm".into(),
            selection: Some(pb::delete_items_request::Selection::Items(one_item(
                "/a.txt",
            ))),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    let Some(pb::delete_items_response::Outcome::Error(e)) = &first.outcome else {
        panic!("{first:?}")
    };
    assert_reauthorization(e, "stale-rm");
    assert!(stream.next().await.is_none());
    env.stop().await;
}

#[tokio::test]
async fn a_list_stream_ends_with_the_connection_named() {
    let env = stale("stale-ls").await;
    let mut stream = env
        .cloud()
        .list_items(pb::ListItemsRequest {
            connection: "stale-ls".into(),
            filter: None,
        })
        .await
        .unwrap()
        .into_inner();
    let e = loop {
        match stream.next().await.unwrap() {
            Ok(page) => assert!(page.items.is_empty(), "{page:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        reason(&e),
        (
            tonic::Code::FailedPrecondition,
            "REAUTHORIZATION_REQUIRED".into()
        )
    );
    assert!(
        e.message().contains("\"stale-ls\"") && e.message().contains("StartAuthorization"),
        "{}",
        e.message()
    );
    env.stop().await;
}
