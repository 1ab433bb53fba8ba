//! Listing-based work under hostile callers: a sorted List, a filtered Download or Delete
//! holds a bounded number of entries (top-k with a limit, LISTING_TOO_LARGE past the cap),
//! and stops reading Dropbox as soon as the caller goes away.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::*;
use dropbox_connector_proto::v1 as pb;
use futures::StreamExt;

/// Eight files of distinct sizes in `/many`, on a server that holds at most 5 entries.
async fn eight_files_cap_five() -> Env {
    let env = Env::start_with(Options {
        env: vec![("DBXC_LISTING__MAX_ENTRIES".into(), "5".into())],
        ..Default::default()
    })
    .await;
    let files = (0..8usize)
        .map(|i| {
            Src::new(
                &format!("f{i}.bin"),
                &bytes(10 + (i * 37) % 8 * 10, i as u8),
            )
        })
        .collect();
    let r = env.upload(spec("/many", None, false), files).await.unwrap();
    assert_eq!(r.results.len(), 8);
    env
}

fn sorted_by_size(limit: u32) -> pb::RemoteFileFilter {
    pb::RemoteFileFilter {
        folder: "/many".into(),
        sort_by: pb::SortBy::Size as i32,
        sort_descending: true,
        limit,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_sorted_list_with_a_limit_keeps_only_the_top_k_even_past_the_cap() {
    let env = eight_files_cap_five().await;
    let top = env.list(sorted_by_size(3)).await.unwrap();
    let sizes: Vec<u64> = top.iter().map(|i| i.size).collect();
    assert_eq!(sizes, [80, 70, 60], "{:?}", names(&top));
    // Unsorted, nothing is held: the whole folder streams past the cap.
    let all = env
        .list(pb::RemoteFileFilter {
            folder: "/many".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 8);
    env.stop().await;
}

#[tokio::test]
async fn a_sorted_list_without_a_limit_past_the_cap_is_listing_too_large() {
    let env = eight_files_cap_five().await;
    let status = env.list(sorted_by_size(0)).await.unwrap_err();
    assert_eq!(
        reason(&status),
        (
            tonic::Code::ResourceExhausted,
            "LISTING_TOO_LARGE".to_owned()
        ),
        "{status:?}"
    );
    assert!(
        status.message().contains("5 entries"),
        "{}",
        status.message()
    );
    // A filtered delete holds its whole selection: refused too, and nothing is deleted.
    let mut stream = env
        .cloud()
        .delete_items(pb::DeleteItemsRequest {
            connection: CONN.into(),
            selection: Some(pb::delete_items_request::Selection::Filter(
                pb::RemoteFileFilter {
                    folder: "/many".into(),
                    ..Default::default()
                },
            )),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(m) = stream.next().await {
        match m {
            Ok(r) => panic!("nothing is deleted past the cap: {r:?}"),
            Err(s) => last = Some(s),
        }
    }
    let status = last.expect("the delete ends with an error");
    assert_eq!(reason(&status).1, "LISTING_TOO_LARGE");
    assert_eq!(
        env.list(sorted_by_size(100)).await.unwrap_err().code(),
        tonic::Code::ResourceExhausted
    );
    env.stop().await;
}

/// files/list_folder(/continue) requests the emulator has answered for `/huge`'s listing.
async fn listing_requests(env: &Env) -> (usize, usize) {
    let log = env.control_get("/__emulator/requests").await;
    let entries = log["requests"].as_array().unwrap();
    let starts = entries
        .iter()
        .filter(|e| e["route"] == "files/list_folder" && e["arg"]["path"] == "/huge")
        .count();
    let continues = entries
        .iter()
        .filter(|e| e["route"] == "files/list_folder/continue")
        .count();
    (starts, continues)
}

#[tokio::test]
async fn a_sorted_list_stops_reading_dropbox_when_the_caller_goes_away() {
    let env = Env::start().await;
    // 3,500 folders: four pages of at most 1,000 entries.
    futures::stream::iter(0..3500)
        .map(|i| {
            env.on_emulator(move |e| {
                e.rpc(
                    "files/create_folder_v2",
                    serde_json::json!({ "path": format!("/huge/d{i:04}") }),
                )
            })
        })
        .buffer_unordered(16)
        .for_each(|(status, body)| {
            assert_eq!(status, 200, "{body}");
            futures::future::ready(())
        })
        .await;
    // Each Dropbox answer now takes 400 ms: reading all four pages takes 1.6 s.
    env.control(
        "/__emulator/network",
        serde_json::json!({"latency_ms": 400}),
    )
    .await;
    let stream = env
        .cloud()
        .list_items(pb::ListItemsRequest {
            connection: CONN.into(),
            filter: Some(pb::RemoteFileFilter {
                folder: "/huge".into(),
                kind: pb::ItemKind::Folder as i32,
                sort_by: pb::SortBy::Name as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    // Once the first page was answered, the caller goes away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while listing_requests(&env).await.0 == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no listing started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stream);
    let (_, at_cancel) = listing_requests(&env).await;
    // Longer than the rest of the listing would take: without the cancellation, three
    // more pages would be read in this time.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (starts, continues) = listing_requests(&env).await;
    assert_eq!(starts, 1);
    assert!(
        continues <= at_cancel + 1,
        "Dropbox was read on after the caller left: {continues} continue requests ({at_cancel} when it left)"
    );
    env.control("/__emulator/network", serde_json::json!({"latency_ms": 0}))
        .await;
    env.stop().await;
}
