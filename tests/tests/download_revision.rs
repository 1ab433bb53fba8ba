//! A download resumed after the remote file was overwritten never splices two revisions:
//! a client that resumes with the revision it started (DownloadFiles with the item's rev and
//! a range) gets the rest of that revision, since the service downloads `rev:<rev>` and the
//! emulator keeps old revisions as Dropbox does; a revision Dropbox no longer holds is a
//! clear per-file error; `dbxc`, which lists the file again, does not continue its partial of
//! the old revision with bytes of the new one but downloads the new revision whole.
//!
//! The remote file is overwritten over raw HTTP (the emulator's files/upload), never
//! through the code under test, and the bytes that arrive are judged by Dropbox's
//! content_hash of each revision.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::PathBuf;
use std::time::Duration;

use dropbox_connector_proto::v1 as pb;
use dropbox_connector_tests::{
    ContentHasher, EmulatorProcess, ServerProcess, content_hash, dbxc, dbxc_spawn,
    file_content_hash, grpc, ok, random_chunk, server_with_connection, wait_until,
};
use pb::download_files_response::Message as Down;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

const CONNECTION: &str = "revisions";
const REMOTE: &str = "/dl/big.bin";
const MIB: usize = 1024 * 1024;
const SIZE: usize = 6 * MIB + 321;

struct Setup {
    _work: tempfile::TempDir,
    emulator: EmulatorProcess,
    server: ServerProcess,
    old: Vec<u8>,
    new: Vec<u8>,
    old_rev: String,
}

impl Setup {
    /// The old revision uploaded; the new one (same size, other bytes) kept for later.
    fn new(seed: u64) -> Setup {
        let work = tempfile::tempdir().unwrap();
        let emulator = EmulatorProcess::start(work.path(), &[]);
        let server = server_with_connection(work.path(), &emulator, CONNECTION);
        let old = random_chunk(seed, 0, SIZE);
        let new = random_chunk(seed, 1, SIZE);
        assert_ne!(content_hash(&old), content_hash(&new));
        let (status, meta) = emulator.http().upload(REMOTE, old.clone());
        assert_eq!(status, 200, "{meta}");
        Setup {
            old_rev: meta["rev"].as_str().unwrap().to_string(),
            _work: work,
            emulator,
            server,
            old,
            new,
        }
    }

    fn overwrite(&self) -> String {
        let (status, meta) = self.emulator.http().upload(REMOTE, self.new.clone());
        assert_eq!(status, 200, "{meta}");
        let rev = meta["rev"].as_str().unwrap().to_string();
        assert_ne!(rev, self.old_rev, "the overwrite made a new revision");
        rev
    }

    fn download_requests(&self) -> Vec<Value> {
        self.emulator
            .http()
            .requests()
            .into_iter()
            .filter(|r| r["route"] == "files/download")
            .collect()
    }
}

/// What one DownloadFiles call streamed for its one file.
#[derive(Debug, Default)]
struct Streamed {
    header: Option<pb::DownloadHeader>,
    data: Vec<u8>,
    end: Option<pb::DownloadEnd>,
    error: Option<pb::ItemError>,
}

/// Runs DownloadFiles for REMOTE (at `rev` when not empty, from `offset`), stopping once
/// `stop_after` bytes arrived (the interrupted client drops its stream there).
async fn download(server_url: &str, rev: &str, offset: u64, stop_after: Option<usize>) -> Streamed {
    let channel = grpc::channel(server_url).await;
    let mut stream = grpc::cloud(&channel)
        .download_files(pb::DownloadFilesRequest {
            connection: CONNECTION.into(),
            selection: Some(pb::download_files_request::Selection::Items(pb::ItemRefs {
                items: vec![pb::ItemRef {
                    path: REMOTE.into(),
                    rev: rev.into(),
                    ..Default::default()
                }],
            })),
            range: (offset > 0).then_some(pb::ByteRange { offset, length: 0 }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Streamed::default();
    while let Some(message) = stream.next().await {
        match message.unwrap().message.unwrap() {
            Down::Header(h) => out.header = Some(h),
            Down::Chunk(c) => {
                assert_eq!(c.offset, offset + out.data.len() as u64, "chunks in order");
                out.data.extend_from_slice(&c.data);
                if stop_after.is_some_and(|n| out.data.len() >= n) {
                    return out;
                }
            }
            Down::End(e) => out.end = Some(e),
            Down::Skipped(s) => panic!("no overwrite policy was set, yet {s:?}"),
            Down::Error(e) => out.error = e.error,
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn hash_of(parts: &[&[u8]]) -> String {
    let mut hasher = ContentHasher::default();
    for part in parts {
        hasher.update(part);
    }
    hasher.finish()
}

#[test]
fn a_resume_pinned_to_its_revision_finishes_the_old_revision_after_an_overwrite() {
    let setup = Setup::new(0x5eed_0001);
    let rt = runtime();

    // The first attempt: whatever Dropbox has now, dropped after 2 MiB and a bit.
    let first = rt.block_on(download(&setup.server.url, "", 0, Some(2 * MIB + 7)));
    let started = first.header.expect("a header").metadata.expect("metadata");
    assert_eq!(started.rev, setup.old_rev);
    assert_eq!(started.content_hash, content_hash(&setup.old));
    let kept = first.data;
    assert!(kept.len() >= 2 * MIB && kept.len() < SIZE);
    assert_eq!(
        kept,
        setup.old[..kept.len()],
        "the first attempt got old bytes"
    );

    let new_rev = setup.overwrite();

    // The resume names the revision it started with and asks for the rest.
    setup
        .emulator
        .control("DELETE", "/__emulator/requests", None);
    let rest = rt.block_on(download(
        &setup.server.url,
        &started.rev,
        kept.len() as u64,
        None,
    ));
    assert!(rest.error.is_none(), "{:?}", rest.error);
    let header = rest.header.expect("a header");
    let metadata = header.metadata.expect("metadata");
    assert_eq!(metadata.rev, setup.old_rev, "the resume kept its revision");
    assert_ne!(metadata.rev, new_rev);
    assert_eq!(header.offset, kept.len() as u64);
    assert_eq!(
        hash_of(&[&kept, &rest.data]),
        content_hash(&setup.old),
        "the partial and the rest are exactly the old revision"
    );
    assert_eq!(
        rest.end.expect("an end").content_hash,
        content_hash(&setup.old)
    );
    // The service asked Dropbox for that revision, not for the path.
    let requests = setup.download_requests();
    assert!(
        !requests.is_empty()
            && requests
                .iter()
                .all(|r| r["arg"]["path"] == format!("rev:{}", setup.old_rev)),
        "{requests:?}"
    );
    assert_eq!(requests.last().unwrap()["status"], 206);

    // The file at its path is the new revision, whole.
    let now = rt.block_on(download(&setup.server.url, "", 0, None));
    assert_eq!(now.header.unwrap().metadata.unwrap().rev, new_rev);
    assert_eq!(content_hash(&now.data), content_hash(&setup.new));
}

#[test]
fn a_resume_of_a_revision_dropbox_no_longer_holds_fails_clearly() {
    let setup = Setup::new(0x5eed_0002);
    let rt = runtime();
    let first = rt.block_on(download(&setup.server.url, "", 0, Some(MIB)));
    let kept = first.data.len() as u64;

    // Deleting the file drops its revisions; the new file at the path has other ones.
    let (status, v) = setup
        .emulator
        .rpc("files/delete_v2", json!({ "path": REMOTE }));
    assert_eq!(status, 200, "{v}");
    setup.overwrite();

    let rest = rt.block_on(download(&setup.server.url, &setup.old_rev, kept, None));
    assert!(rest.data.is_empty(), "no byte of another revision arrived");
    assert!(rest.end.is_none());
    let error = rest.error.expect("a per-file error");
    assert_eq!(error.reason, "PATH_NOT_FOUND", "{error:?}");
    assert_eq!(error.code, tonic::Code::NotFound as i32, "{error:?}");
}

#[test]
fn dbxc_rerun_after_an_overwrite_downloads_the_new_revision_whole_never_a_splice() {
    const BIG: u64 = 16 * MIB as u64;
    let work = tempfile::tempdir().unwrap();
    let emulator = EmulatorProcess::start(work.path(), &[]);
    let server = server_with_connection(work.path(), &emulator, CONNECTION);
    let old = random_chunk(0x5eed_0003, 0, BIG as usize);
    let new = random_chunk(0x5eed_0003, 1, BIG as usize);
    let (status, meta) = emulator.http().upload(REMOTE, old.clone());
    assert_eq!(status, 200, "{meta}");
    let old_rev = meta["rev"].as_str().unwrap().to_string();
    let local_dir: PathBuf = work.path().join("local");
    let dest = local_dir.join("big.bin");
    let partial = local_dir.join(format!(".big.bin.{old_rev}.dbxc-partial"));
    let args = [
        "--connection",
        CONNECTION,
        "--json",
        "download",
        REMOTE,
        local_dir.to_str().unwrap(),
    ];

    // Slow enough to be killed with part of the old revision on disk.
    emulator.control(
        "POST",
        "/__emulator/network",
        Some(json!({ "bandwidth_bytes_per_sec": 4 * MIB })),
    );
    let mut first = dbxc_spawn(&server.url, &args);
    wait_until(
        Duration::from_secs(120),
        "the partial file to hold a quarter of the file",
        || {
            if let Ok(Some(status)) = first.try_wait() {
                panic!("the first dbxc run ended ({status}) before it could be interrupted");
            }
            std::fs::metadata(&partial).is_ok_and(|m| m.len() >= BIG / 4)
        },
    );
    first.kill().expect("SIGKILL dbxc");
    first.wait().unwrap();
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(kept > 0 && kept < BIG);

    let (status, meta) = emulator.http().upload(REMOTE, new.clone());
    assert_eq!(status, 200, "{meta}");
    let new_rev = meta["rev"].as_str().unwrap().to_string();
    emulator.control(
        "POST",
        "/__emulator/network",
        Some(json!({ "bandwidth_bytes_per_sec": 0 })),
    );
    emulator.control("DELETE", "/__emulator/requests", None);

    let stdout = ok(dbxc(&server.url, &args));
    let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(report["outcome"], "downloaded", "{report}");
    assert_eq!(
        file_content_hash(&dest),
        content_hash(&new),
        "the local file is exactly the new revision"
    );
    assert_eq!(report["content_hash"], content_hash(&new).as_str());
    assert!(
        report["resumed_from"].as_u64().unwrap_or(0) == 0,
        "nothing of the old partial was kept: {report}"
    );
    let requests: Vec<Value> = emulator
        .http()
        .requests()
        .into_iter()
        .filter(|r| r["route"] == "files/download")
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0]["headers"]["range"].is_null(),
        "the new revision was fetched whole: {requests:?}"
    );
    assert_eq!(requests[0]["arg"]["path"], format!("rev:{new_rev}"));
    assert!(!partial.exists(), "the old revision's partial is gone");
}
