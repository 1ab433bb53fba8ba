//! Issue 14, item 6: names that Dropbox compares differently from a Linux disk, in one
//! UploadFiles call. Dropbox paths are case-insensitive and case-preserving
//! (reference/dropbox-api.md, "Paths"), so `A.txt` and `a.txt` are one file there; NFC and
//! NFD spellings of one name are not folded (Dropbox's desktop client reports such pairs
//! as a "Unicode Encoding Conflict" because the server keeps both). The remote state is
//! read over raw HTTP from the emulator, not through the server's own Dropbox client.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use common::{Env, Src, TOKEN, spec};
use dropbox_connector_proto::v1 as pb;
use pb::file_result::Outcome;

/// (name, content) of every file in `folder`, read straight from the emulator.
async fn remote_files(env: &Env, folder: &str) -> Vec<(String, Vec<u8>)> {
    let http = reqwest::Client::new();
    let base = env.emulator.base_url();
    let listed: serde_json::Value = http
        .post(format!("{base}/2/files/list_folder"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "path": folder }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["has_more"], false, "{listed}");
    let mut out = Vec::new();
    for entry in listed["entries"].as_array().unwrap() {
        let path = entry["path_display"].as_str().unwrap();
        // By id: Dropbox-API-Arg must be ASCII, and ids are.
        let arg = serde_json::json!({ "path": entry["id"] }).to_string();
        let resp = http
            .post(format!("{base}/2/files/download"))
            .bearer_auth(TOKEN)
            .header("Dropbox-API-Arg", arg)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "download {path}");
        out.push((
            entry["name"].as_str().unwrap().to_owned(),
            resp.bytes().await.unwrap().to_vec(),
        ));
    }
    out.sort();
    out
}

fn mode(mode: pb::OverwriteMode) -> Option<pb::OverwritePolicy> {
    Some(pb::OverwritePolicy {
        mode: mode as i32,
        size_comparison: 0,
    })
}

fn uploaded_name(r: &pb::FileResult) -> String {
    match &r.outcome {
        Some(Outcome::Uploaded(m)) => m.name.clone(),
        other => panic!("{} was not uploaded: {other:?}", r.relative_path),
    }
}

fn item_error(r: &pb::FileResult) -> &pb::ItemError {
    match &r.outcome {
        Some(Outcome::Error(e)) => e,
        other => panic!("{} did not fail: {other:?}", r.relative_path),
    }
}

/// Every overwrite policy: the second of `A.txt`/`a.txt` gets a path conflict naming the
/// first, the first is stored with its own bytes, and nothing else is lost.
#[tokio::test]
async fn case_only_collision_in_one_call_fails_the_second_file() {
    let env = Env::start().await;
    for (folder, policy) in [
        ("/always", None),
        ("/never", mode(pb::OverwriteMode::Never)),
        ("/ifnewer", mode(pb::OverwriteMode::IfNewer)),
    ] {
        let r = env
            .upload(
                spec(folder, policy, false),
                vec![
                    Src::new("A.txt", b"upper").modified(Some(1_700_000_000)),
                    Src::new("a.txt", b"lower").modified(Some(1_700_000_100)),
                    Src::new("b.txt", b"other").modified(Some(1_700_000_000)),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r.results.len(), 3, "{folder}: {r:?}");
        assert_eq!(r.results[0].relative_path, "A.txt");
        assert_eq!(uploaded_name(&r.results[0]), "A.txt", "{folder}");
        let e = item_error(&r.results[1]);
        assert_eq!(
            (e.code, e.reason.as_str()),
            (tonic::Code::AlreadyExists as i32, "CASE_CONFLICT_IN_CALL"),
            "{folder}: {e:?}"
        );
        assert_eq!(
            e.metadata.get("first_relative_path").map(String::as_str),
            Some("A.txt"),
            "the error names the earlier file: {e:?}"
        );
        assert!(
            !e.metadata.contains_key("dropbox_error"),
            "found by the service, not said by Dropbox: {e:?}"
        );
        assert_eq!(uploaded_name(&r.results[2]), "b.txt");
        assert_eq!(
            remote_files(&env, folder).await,
            vec![
                ("A.txt".to_owned(), b"upper".to_vec()),
                ("b.txt".to_owned(), b"other".to_vec()),
            ],
            "{folder}: the first file keeps its bytes"
        );
    }
}

/// With autorename the second file is stored beside the first under a new name, as
/// Dropbox does for a conflicting `add`.
#[tokio::test]
async fn case_only_collision_with_autorename_keeps_both() {
    let env = Env::start().await;
    let mut s = spec("/auto", None, false);
    s.autorename = true;
    let r = env
        .upload(
            s,
            vec![Src::new("A.txt", b"upper"), Src::new("a.txt", b"lower")],
        )
        .await
        .unwrap();
    assert_eq!(uploaded_name(&r.results[0]), "A.txt");
    let second = uploaded_name(&r.results[1]);
    assert!(!second.eq_ignore_ascii_case("a.txt"), "renamed: {second}");
    let remote = remote_files(&env, "/auto").await;
    assert_eq!(remote.len(), 2, "{remote:?}");
    assert!(remote.contains(&("A.txt".to_owned(), b"upper".to_vec())));
    assert!(remote.contains(&(second, b"lower".to_vec())));
}

/// A case collision with a file already in Dropbox (from before this call) follows the
/// overwrite policy as any existing file does: NEVER skips it.
#[tokio::test]
async fn case_collision_with_an_earlier_call_follows_the_policy() {
    let env = Env::start().await;
    env.put("/earlier", "A.txt", b"first call", None).await;
    let r = env
        .upload(
            spec("/earlier", mode(pb::OverwriteMode::Never), false),
            vec![Src::new("a.txt", b"second call")],
        )
        .await
        .unwrap();
    assert!(
        matches!(r.results[0].outcome, Some(Outcome::Skipped(_))),
        "{r:?}"
    );
    assert_eq!(
        remote_files(&env, "/earlier").await,
        vec![("A.txt".to_owned(), b"first call".to_vec())]
    );
}

const NFC: &str = "caf\u{e9}.txt";
const NFD: &str = "cafe\u{301}.txt";

/// NFC then NFD spelling of one name: two files in Dropbox, each with its own bytes and
/// its own spelling; listing shows both.
#[tokio::test]
async fn nfc_and_nfd_names_are_two_files() {
    let env = Env::start().await;
    let r = env
        .upload(
            spec("/uni", None, false),
            vec![Src::new(NFC, b"composed"), Src::new(NFD, b"decomposed")],
        )
        .await
        .unwrap();
    assert_eq!(uploaded_name(&r.results[0]), NFC);
    assert_eq!(uploaded_name(&r.results[1]), NFD);
    assert_eq!(
        remote_files(&env, "/uni").await,
        vec![
            (NFD.to_owned(), b"decomposed".to_vec()),
            (NFC.to_owned(), b"composed".to_vec()),
        ]
    );
    let mut listed: Vec<String> = env
        .list(pb::RemoteFileFilter {
            folder: "/uni".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.relative_path)
        .collect();
    listed.sort();
    assert_eq!(listed, vec![NFD.to_owned(), NFC.to_owned()]);
}
