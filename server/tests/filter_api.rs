//! ListItems: every RemoteFileFilter field has a case where it changes the outcome, and a
//! missing folder is PATH_NOT_FOUND.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use dropbox_connector_proto::v1 as pb;

/// The tree every test lists:
///
/// /f/a.csv            10 B  client_modified 2001
/// /f/B.CSV            20 B  2003
/// /f/report-01.txt     5 B  2002
/// /f/notes.md         30 B  2004
/// /f/sub/c.csv        15 B  2005
/// /f/sub/deeper/d.txt  1 B  2006
/// /other/x.csv         1 B
async fn fixture() -> Env {
    let env = Env::start().await;
    const Y: i64 = 31_557_600; // a year of seconds
    let base = 978_307_200; // 2001-01-01
    for (rel, size, year) in [
        ("a.csv", 10, 0),
        ("B.CSV", 20, 2),
        ("report-01.txt", 5, 1),
        ("notes.md", 30, 3),
        ("sub/c.csv", 15, 4),
        ("sub/deeper/d.txt", 1, 5),
    ] {
        env.put("/f", rel, &bytes(size, year as u8), Some(base + year * Y))
            .await;
    }
    env.put("/other", "x.csv", b"x", None).await;
    env
}

fn f() -> pb::RemoteFileFilter {
    pb::RemoteFileFilter {
        folder: "/f".into(),
        ..Default::default()
    }
}

async fn list(env: &Env, filter: pb::RemoteFileFilter) -> Vec<String> {
    sorted(names(&env.list(filter).await.unwrap()))
}

async fn list_ordered(env: &Env, filter: pb::RemoteFileFilter) -> Vec<String> {
    names(&env.list(filter).await.unwrap())
}

fn year(y: i64) -> Option<prost_types::Timestamp> {
    Some(ts(978_307_200 + (y - 2001) * 31_557_600 + 86_400))
}

#[tokio::test]
async fn filter_folder_kind_and_include_subfolders() {
    let env = fixture().await;
    // folder
    assert_eq!(
        list(
            &env,
            pb::RemoteFileFilter {
                folder: "/other".into(),
                ..Default::default()
            }
        )
        .await,
        ["x.csv"]
    );
    assert_eq!(
        list(&env, f()).await,
        ["B.CSV", "a.csv", "notes.md", "report-01.txt"]
    );
    // kind: files (default) vs folders vs all
    let kind = |k: pb::ItemKind| pb::RemoteFileFilter {
        kind: k as i32,
        ..f()
    };
    assert_eq!(list(&env, kind(pb::ItemKind::Folder)).await, ["sub"]);
    assert_eq!(list(&env, kind(pb::ItemKind::All)).await.len(), 5);
    // include_subfolders keeps relative paths
    let deep = list(
        &env,
        pb::RemoteFileFilter {
            include_subfolders: true,
            ..f()
        },
    )
    .await;
    assert_eq!(
        deep,
        [
            "B.CSV",
            "a.csv",
            "notes.md",
            "report-01.txt",
            "sub/c.csv",
            "sub/deeper/d.txt"
        ]
    );
    let folders = list(
        &env,
        pb::RemoteFileFilter {
            include_subfolders: true,
            ..kind(pb::ItemKind::Folder)
        },
    )
    .await;
    assert_eq!(folders, ["sub", "sub/deeper"]);
    // The root folder works as "" and "/".
    assert_eq!(
        list(
            &env,
            pb::RemoteFileFilter {
                folder: "/".into(),
                kind: pb::ItemKind::Folder as i32,
                ..Default::default()
            }
        )
        .await,
        ["f", "other"]
    );
    env.stop().await;
}

#[tokio::test]
async fn filter_masks_wildcards_several_regex_and_case() {
    let env = fixture().await;
    let m = |mask: &str| pb::RemoteFileFilter {
        mask: mask.into(),
        ..f()
    };
    // wildcard (case-insensitive by default)
    assert_eq!(list(&env, m("*.csv")).await, ["B.CSV", "a.csv"]);
    assert_eq!(list(&env, m("report-??.txt")).await, ["report-01.txt"]);
    assert_eq!(list(&env, m("report-?.txt")).await, Vec::<String>::new());
    // several masks
    assert_eq!(
        list(&env, m("*.csv;*.md")).await,
        ["B.CSV", "a.csv", "notes.md"]
    );
    // case_sensitive
    assert_eq!(
        list(
            &env,
            pb::RemoteFileFilter {
                case_sensitive: true,
                ..m("*.csv")
            }
        )
        .await,
        ["a.csv"]
    );
    // regex
    let re = |r: &str, cs: bool| pb::RemoteFileFilter {
        mask: r.into(),
        mask_is_regex: true,
        case_sensitive: cs,
        ..f()
    };
    assert_eq!(
        list(&env, re(r"^[ab]\.csv$", false)).await,
        ["B.CSV", "a.csv"]
    );
    assert_eq!(list(&env, re(r"^[ab]\.csv$", true)).await, ["a.csv"]);
    // bounds and bad patterns are INVALID_ARGUMENT
    let err = env.list(re("(", false)).await.unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::InvalidArgument, "INVALID_ARGUMENT".into())
    );
    let err = env.list(m(&"*".repeat(5000))).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    env.stop().await;
}

#[tokio::test]
async fn filter_dates_join_and_field() {
    let env = fixture().await;
    // modified_before / modified_after (client_modified by default)
    let before = pb::RemoteFileFilter {
        modified_before: year(2002),
        ..f()
    };
    assert_eq!(list(&env, before.clone()).await, ["a.csv", "report-01.txt"]);
    let after = pb::RemoteFileFilter {
        modified_after: year(2002),
        ..f()
    };
    assert_eq!(list(&env, after).await, ["B.CSV", "notes.md"]);
    // AND: inside a range; OR: outside it
    let range = pb::RemoteFileFilter {
        modified_after: year(2002),
        modified_before: year(2003),
        ..f()
    };
    assert_eq!(list(&env, range.clone()).await, ["B.CSV"]);
    let outside = pb::RemoteFileFilter {
        modified_after: year(2003),
        modified_before: year(2002),
        date_join: pb::Join::Or as i32,
        ..f()
    };
    assert_eq!(
        list(&env, outside.clone()).await,
        ["a.csv", "notes.md", "report-01.txt"]
    );
    let outside_and = pb::RemoteFileFilter {
        date_join: pb::Join::And as i32,
        ..outside
    };
    assert_eq!(list(&env, outside_and).await, Vec::<String>::new());
    // date_field: server_modified is "now" for every file, so nothing is older than 2002.
    let server = pb::RemoteFileFilter {
        date_field: pb::DateField::ServerModified as i32,
        ..before
    };
    assert_eq!(list(&env, server).await, Vec::<String>::new());
    env.stop().await;
}

#[tokio::test]
async fn filter_sizes_and_join() {
    let env = fixture().await;
    let smaller = pb::RemoteFileFilter {
        size_smaller_than: Some(11),
        ..f()
    };
    assert_eq!(list(&env, smaller).await, ["a.csv", "report-01.txt"]);
    let larger = pb::RemoteFileFilter {
        size_larger_than: Some(19),
        ..f()
    };
    assert_eq!(list(&env, larger).await, ["B.CSV", "notes.md"]);
    let between = pb::RemoteFileFilter {
        size_larger_than: Some(6),
        size_smaller_than: Some(25),
        ..f()
    };
    assert_eq!(list(&env, between).await, ["B.CSV", "a.csv"]);
    let outside = pb::RemoteFileFilter {
        size_larger_than: Some(25),
        size_smaller_than: Some(6),
        size_join: pb::Join::Or as i32,
        ..f()
    };
    assert_eq!(list(&env, outside).await, ["notes.md", "report-01.txt"]);
    env.stop().await;
}

#[tokio::test]
async fn filter_sort_each_key_descending_and_limit() {
    let env = fixture().await;
    let s = |by: pb::SortBy, desc: bool| pb::RemoteFileFilter {
        sort_by: by as i32,
        sort_descending: desc,
        ..f()
    };
    assert_eq!(
        list_ordered(&env, s(pb::SortBy::Name, false)).await,
        ["a.csv", "B.CSV", "notes.md", "report-01.txt"]
    );
    assert_eq!(
        list_ordered(&env, s(pb::SortBy::Name, true)).await,
        ["report-01.txt", "notes.md", "B.CSV", "a.csv"]
    );
    assert_eq!(
        list_ordered(
            &env,
            pb::RemoteFileFilter {
                case_sensitive: true,
                ..s(pb::SortBy::Name, false)
            }
        )
        .await,
        ["B.CSV", "a.csv", "notes.md", "report-01.txt"]
    );
    assert_eq!(
        list_ordered(&env, s(pb::SortBy::Modified, false)).await,
        ["a.csv", "report-01.txt", "B.CSV", "notes.md"]
    );
    assert_eq!(
        list_ordered(&env, s(pb::SortBy::Size, false)).await,
        ["report-01.txt", "a.csv", "B.CSV", "notes.md"]
    );
    assert_eq!(
        list_ordered(&env, s(pb::SortBy::Size, true)).await,
        ["notes.md", "B.CSV", "a.csv", "report-01.txt"]
    );
    // limit after sorting; and without a sort it stops early
    let limited = pb::RemoteFileFilter {
        limit: 2,
        ..s(pb::SortBy::Size, true)
    };
    assert_eq!(list_ordered(&env, limited).await, ["notes.md", "B.CSV"]);
    assert_eq!(
        env.list(pb::RemoteFileFilter { limit: 3, ..f() })
            .await
            .unwrap()
            .len(),
        3
    );
    env.stop().await;
}

#[tokio::test]
async fn filter_fail_if_empty_and_missing_folder() {
    let env = fixture().await;
    let none = pb::RemoteFileFilter {
        mask: "*.nothing".into(),
        ..f()
    };
    assert!(env.list(none.clone()).await.unwrap().is_empty());
    let err = env
        .list(pb::RemoteFileFilter {
            fail_if_empty: true,
            ..none
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::NotFound, "NO_ITEMS_MATCHED".into())
    );

    let err = env
        .list(pb::RemoteFileFilter {
            folder: "/no/such/folder".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::NotFound, "PATH_NOT_FOUND".into())
    );
    let err = env
        .list(pb::RemoteFileFilter {
            folder: "/f/a.csv".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::FailedPrecondition, "PATH_WRONG_KIND".into())
    );
    let err = env
        .list(pb::RemoteFileFilter {
            folder: "relative".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason(&err),
        (tonic::Code::InvalidArgument, "INVALID_PATH".into())
    );
    env.stop().await;
}
