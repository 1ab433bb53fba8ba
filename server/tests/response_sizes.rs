//! Every response message stays under 4 MiB, the default receive limit of grpcio,
//! grpc-go and grpc-java: the clients here refuse anything larger, as those runtimes do.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use dropbox_connector_proto::v1 as pb;
use pb::cloud_task_service_client::CloudTaskServiceClient;
use pb::connection_service_client::ConnectionServiceClient;
use pb::upload_files_request::Message as Up;
use tonic::transport::Channel;

/// What grpcio, grpc-go and grpc-java accept in one message unless told otherwise.
const DEFAULT_RECEIVE_LIMIT: usize = 4 * 1024 * 1024;
const FILES: usize = 10_000;

fn cloud(env: &Env) -> CloudTaskServiceClient<Channel> {
    CloudTaskServiceClient::new(env.channel.clone())
        .max_decoding_message_size(DEFAULT_RECEIVE_LIMIT)
}

fn conns(env: &Env) -> ConnectionServiceClient<Channel> {
    ConnectionServiceClient::new(env.channel.clone())
        .max_decoding_message_size(DEFAULT_RECEIVE_LIMIT)
}

/// A folder path of about 1,000 characters (Dropbox allows 255 per component).
fn long_folder() -> String {
    ["a", "b", "c", "d"]
        .iter()
        .map(|c| format!("/{}", c.repeat(250)))
        .collect()
}

/// 10,000 small files with 200-character names: the answer for all of them in one
/// message would be about 30 MB, and so would be a listing page of 2,000 of them.
#[tokio::test]
async fn ten_thousand_files_are_answered_listed_and_deleted_in_messages_under_4_mib() {
    let env = Env::start().await;
    let folder = long_folder();
    let name = |i: usize| format!("{i:0>196}.txt");
    let mut messages = vec![msg(Up::Spec(spec(&folder, None, false)))];
    for i in 0..FILES {
        let data = i.to_string().into_bytes();
        messages.push(msg(Up::FileHeader(pb::FileHeader {
            relative_path: name(i),
            size: Some(data.len() as u64),
            ..Default::default()
        })));
        messages.push(msg(Up::Chunk(pb::DataChunk { offset: 0, data })));
        messages.push(msg(Up::FileEnd(pb::FileEnd::default())));
    }
    let uploaded = upload_results(
        cloud(&env)
            .upload_files(futures::stream::iter(messages))
            .await,
    )
    .await
    .expect("every response message is under 4 MiB");
    assert_eq!(uploaded.results.len(), FILES);
    for (i, r) in uploaded.results.iter().enumerate() {
        assert_eq!(r.relative_path, name(i));
        assert!(
            matches!(r.outcome, Some(pb::file_result::Outcome::Uploaded(_))),
            "{r:?}"
        );
    }

    let filter = pb::RemoteFileFilter {
        folder: folder.clone(),
        ..Default::default()
    };
    let mut pages = cloud(&env)
        .list_items(pb::ListItemsRequest {
            connection: CONN.into(),
            filter: Some(filter.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    let mut listed = 0;
    let mut largest = 0;
    while let Some(page) = pages.message().await.expect("each page is under 4 MiB") {
        listed += page.items.len();
        largest = largest.max(prost::Message::encoded_len(&page));
    }
    assert_eq!(listed, FILES);
    println!("largest ListItems page: {largest} bytes");

    let mut deleted = cloud(&env)
        .delete_items(pb::DeleteItemsRequest {
            connection: CONN.into(),
            selection: Some(pb::delete_items_request::Selection::Filter(filter)),
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner();
    let mut would_delete = 0;
    while let Some(r) = deleted.message().await.expect("each answer is under 4 MiB") {
        assert!(matches!(
            r.outcome,
            Some(pb::delete_items_response::Outcome::Deleted(_))
        ));
        would_delete += 1;
    }
    assert_eq!(would_delete, FILES);
    env.stop().await;
}

/// Connections whose settings are as long as the service allows, each character 4 bytes
/// in UTF-8: a page of 1,000 of them would be over 20 MB. Pages are cut short instead,
/// and following next_page_token still returns every connection once.
#[tokio::test]
async fn connection_pages_stay_under_4_mib() {
    const CONNECTIONS: usize = 250;
    let env = Env::start().await;
    let wide = |n: usize| "\u{1F600}".repeat(n);
    for i in 0..CONNECTIONS {
        let mut c = token_connection(&format!("{i:03}-{}", wide(190)), "");
        c.group = wide(256);
        let app = c.app.get_or_insert_with(Default::default);
        app.app_key = wide(256);
        app.redirect_uri = format!("https://example.com/{}", wide(2000));
        let proxy = c.proxy.get_or_insert_with(Default::default);
        proxy.test_url = format!("https://example.com/{}", wide(2000));
        env.create_connection(c).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = conns(&env)
            .list_connections(pb::ListConnectionsRequest {
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("each page is under 4 MiB")
            .into_inner();
        pages += 1;
        seen.extend(page.connections.into_iter().map(|c| c.display_name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no connection twice");
    assert_eq!(seen.len(), CONNECTIONS + 1, "the fixture's and ours");
    assert!(pages > 1, "the page was cut short");
    env.stop().await;
}
