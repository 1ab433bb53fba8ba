//! A process that dies between Dropbox applying an append and the store recording it:
//! the next stream finds Dropbox's session ahead of the store. The pending append the
//! store kept decides whether those bytes are the file's (go on) or not (refuse, rather
//! than commit a file with the wrong bytes in the middle).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use dropbox_client::content_hash::{block_digests, content_hash};
use dropbox_client::{Credentials, DropboxClient, Endpoints, TransportConfig};
use dropbox_connector_server::store::{
    ConnectionRecord, PendingAppend, Sealer, SqliteStore, UploadStore,
};
use dropbox_connector_server::tasks::TaskError;
use dropbox_connector_server::tasks::connection_client::ConnectionClient;
use dropbox_connector_server::tasks::resumable::{
    ResumableUploads, StartRequest, Started, WriteMessage,
};
use dropbox_connector_server::tasks::upload::FileOutcome;
use dropbox_connector_test_kit::EmulatorHttp;
use dropbox_emulator::{Emulator, EmulatorOptions};

const MIB: usize = 1024 * 1024;
const PIECE: usize = 8 * MIB;

fn data(n: usize, seed: u64) -> Vec<u8> {
    dropbox_connector_test_kit::random_chunk(seed, 0, n)
}

struct Setup {
    _emulator: Emulator,
    _dir: tempfile::TempDir,
    client: DropboxClient,
    /// The emulator over raw HTTP: what Dropbox holds, read without the code under test.
    emu: EmulatorHttp,
    /// The same client as the tasks get it, on connection `c1`.
    conn: ConnectionClient,
    store: Arc<SqliteStore>,
    uploads: ResumableUploads,
}

async fn setup() -> Setup {
    let emulator = Emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorOptions {
            tokens: vec!["t".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let transport = TransportConfig {
        endpoints: Endpoints::single(&url::Url::parse(emulator.base_url()).unwrap()),
        ..Default::default()
    };
    let client = DropboxClient::new(
        &transport,
        Credentials {
            access_token: Some("t".into()),
            ..Default::default()
        },
        Default::default(),
        None,
    )
    .unwrap();
    let record = ConnectionRecord {
        id: "c1".into(),
        display_name: "c1".into(),
        group: String::new(),
        settings: Default::default(),
        secrets: Default::default(),
        revision: 0,
        create_time: time::OffsetDateTime::UNIX_EPOCH,
        update_time: time::OffsetDateTime::UNIX_EPOCH,
    };
    let conn = ConnectionClient::new(client.clone(), &record);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("c.db"), Sealer::generate().0)
            .await
            .unwrap(),
    );
    let uploads = ResumableUploads::new(store.clone());
    let emu = EmulatorHttp::new(emulator.base_url(), "t");
    Setup {
        emu,
        _emulator: emulator,
        _dir: dir,
        client,
        conn,
        store,
        uploads,
    }
}

fn chunks(file: &[u8], from: usize, finish: bool) -> (WriteMessage, Vec<WriteMessage>) {
    let mut all: Vec<WriteMessage> = file[from..]
        .chunks(MIB)
        .enumerate()
        .map(|(i, c)| WriteMessage {
            offset: (from + i * MIB) as u64,
            data: Bytes::copy_from_slice(c),
            ..Default::default()
        })
        .collect();
    if finish {
        all.push(WriteMessage {
            offset: file.len() as u64,
            finish: true,
            content_hash: Some(content_hash(file)),
            ..Default::default()
        });
    }
    let first = all.remove(0);
    (first, all)
}

async fn write(
    s: &Setup,
    id: &str,
    file: &[u8],
    from: usize,
    finish: bool,
) -> Result<dropbox_connector_server::tasks::resumable::Progress, TaskError> {
    let lease = s.uploads.lease(id).unwrap();
    let upload = s.uploads.get(id).await.unwrap();
    let (first, rest) = chunks(file, from, finish);
    s.uploads
        .write(
            &lease,
            &s.conn,
            upload,
            first,
            futures::stream::iter(rest.into_iter().map(Ok)),
        )
        .await
}

/// Starts an upload of `file`, persists its first piece, then does what a process that
/// died mid-append leaves behind: the second piece (`second_piece_sent`) is in Dropbox's
/// session and recorded only as pending.
async fn crash_after_second_append(
    s: &Setup,
    path: &str,
    file: &[u8],
    second_piece_sent: &[u8],
) -> String {
    let Started::Upload { id, .. } = s
        .uploads
        .start(
            &s.conn,
            StartRequest {
                path: path.into(),
                size: Some(file.len() as u64),
                ..Default::default()
            },
        )
        .await
        .unwrap()
    else {
        panic!("not started")
    };
    let p = write(s, &id, &file[..PIECE], 0, false).await.unwrap();
    assert_eq!(p.persisted_size, PIECE as u64);
    let upload = s.uploads.get(&id).await.unwrap();
    s.store
        .set_pending_append(
            id.clone(),
            PendingAppend {
                offset: PIECE as u64,
                digests: block_digests(second_piece_sent),
            },
        )
        .await
        .unwrap();
    s.client
        .upload_session_append(
            &upload.session_id,
            PIECE as u64,
            Bytes::copy_from_slice(second_piece_sent),
            false,
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn an_append_applied_before_a_crash_is_recognised_and_the_upload_goes_on() {
    let s = setup().await;
    let file = data(3 * PIECE + 777, 11);
    let id = crash_after_second_append(&s, "/crash/ok.bin", &file, &file[PIECE..2 * PIECE]).await;
    // The store still says one piece; the client resends from there.
    assert_eq!(
        s.uploads.query(&id).await.unwrap().persisted_size,
        PIECE as u64
    );
    let done = write(&s, &id, &file, PIECE, true).await.unwrap();
    let Some(FileOutcome::Uploaded(meta)) = done.outcome else {
        panic!("not uploaded")
    };
    assert_eq!(
        meta.content_hash.as_deref(),
        Some(content_hash(&file).as_str())
    );
    let emu = s.emu.clone();
    let committed = tokio::task::spawn_blocking(move || emu.download("/crash/ok.bin"))
        .await
        .unwrap();
    assert!(committed == Some(file), "the file's bytes, in order");
}

#[tokio::test]
async fn a_session_ahead_with_other_bytes_stops_the_upload() {
    let s = setup().await;
    let file = data(3 * PIECE, 12);
    let other = data(PIECE, 99);
    let id = crash_after_second_append(&s, "/crash/bad.bin", &file, &other).await;
    let err = write(&s, &id, &file, PIECE, true).await.unwrap_err();
    assert!(matches!(err, TaskError::UploadSessionLost(_)), "{err:?}");
    let emu = s.emu.clone();
    let committed = tokio::task::spawn_blocking(move || emu.entry("/crash/bad.bin"))
        .await
        .unwrap();
    assert!(committed.is_none(), "nothing committed");
}
