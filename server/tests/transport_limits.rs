//! Bounded resources under hostile callers: the idle timeout for silent client streams
//! (and the resumable-upload lease it frees), the global call limit, the upload buffer
//! budget, HTTP/2 keepalive, reflection off by default, and the stalled-stream storm.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use common::*;
use dropbox_connector_proto::v1 as pb;
use futures::StreamExt;
use pb::upload_files_request::Message as Up;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

const MIB: usize = 1024 * 1024;

fn env_of(pairs: &[(&str, &str)]) -> Options {
    Options {
        env: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

fn chunk(offset: usize, data: &[u8]) -> pb::UploadFilesRequest {
    msg(Up::Chunk(pb::DataChunk {
        offset: offset as u64,
        data: data.to_vec(),
    }))
}

/// An UploadFiles call fed from a channel: the test decides when (and whether) each
/// message goes, and keeps the stream open by holding the sender.
struct OpenUpload {
    tx: mpsc::Sender<pb::UploadFilesRequest>,
    call: tokio::task::JoinHandle<Result<pb::UploadFilesResponse, tonic::Status>>,
}

impl OpenUpload {
    fn start(channel: tonic::transport::Channel) -> OpenUpload {
        let (tx, rx) = mpsc::channel(1);
        let call = tokio::spawn(async move {
            let mut client = pb::cloud_task_service_client::CloudTaskServiceClient::new(channel)
                .max_encoding_message_size(16 * MIB);
            upload_results(client.upload_files(ReceiverStream::new(rx)).await).await
        });
        OpenUpload { tx, call }
    }

    async fn send_file_start(&self, folder: &str, rel: &str, size: usize, data: &[u8]) -> bool {
        send_file_start(&self.tx, folder, rel, size, data).await
    }
}

/// Sends the spec, a header for `rel` announcing `size` bytes, and `data` from 0 in
/// 1 MiB chunks. Stops early (false) when the call ended meanwhile.
async fn send_file_start(
    tx: &mpsc::Sender<pb::UploadFilesRequest>,
    folder: &str,
    rel: &str,
    size: usize,
    data: &[u8],
) -> bool {
    {
        let mut messages = vec![msg(Up::Spec(spec(folder, None, false)))];
        let mut src = Src::new(rel, &[]);
        src.size_in_header = false;
        let mut h = header(&src);
        if let Some(Up::FileHeader(fh)) = h.message.as_mut() {
            fh.size = Some(size as u64);
        }
        messages.push(h);
        for (i, piece) in data.chunks(MIB).enumerate() {
            messages.push(chunk(i * MIB, piece));
        }
        for m in messages {
            if tx.send(m).await.is_err() {
                return false;
            }
        }
        true
    }
}

async fn health_status(channel: tonic::transport::Channel) -> Result<i32, tonic::Status> {
    HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status)
}

async fn new_channel(env: &Env) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", env.address))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_silent_upload_stream_ends_with_stream_idle_and_nothing_is_stored() {
    let env = Env::start_with(env_of(&[("DBXC_LIMITS__STREAM_IDLE_SECONDS", "2")])).await;

    // Slow but never silent for 2 s: served, although it takes longer than 2 s in all.
    let data = bytes(4 * MIB, 3);
    let slow = OpenUpload::start(env.channel.clone());
    assert!(
        slow.send_file_start("/idle", "slow.bin", data.len(), &[])
            .await
    );
    for (i, piece) in data.chunks(MIB).enumerate() {
        tokio::time::sleep(Duration::from_millis(900)).await;
        slow.tx.send(chunk(i * MIB, piece)).await.unwrap();
    }
    slow.tx
        .send(msg(Up::FileEnd(pb::FileEnd {
            content_hash: dropbox_client::content_hash::content_hash(&data),
        })))
        .await
        .unwrap();
    drop(slow.tx);
    let r = slow.call.await.unwrap().unwrap();
    assert!(matches!(
        r.results[0].outcome,
        Some(pb::file_result::Outcome::Uploaded(_))
    ));

    // Silent after 3 MiB of 8: closed with STREAM_IDLE, and nothing reaches Dropbox.
    let stalled = OpenUpload::start(env.channel.clone());
    let part = bytes(3 * MIB, 4);
    assert!(
        stalled
            .send_file_start("/idle", "stalled.bin", 8 * MIB, &part)
            .await
    );
    let since = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(30), stalled.call)
        .await
        .expect("the stalled stream is closed by the server")
        .unwrap()
        .expect_err("a stalled stream fails");
    assert_eq!(
        reason(&status),
        (tonic::Code::DeadlineExceeded, "STREAM_IDLE".into())
    );
    assert!(since.elapsed() >= Duration::from_secs(2));
    println!(
        "stalled UploadFiles closed {:?} after its last message",
        since.elapsed()
    );
    assert!(env.remote("/idle/stalled.bin").await.is_none());

    // A stream that never sends even its spec is closed the same way.
    let (tx, rx) = mpsc::channel::<pb::UploadFilesRequest>(1);
    let status = tokio::time::timeout(
        Duration::from_secs(30),
        upload_results(env.cloud().upload_files(ReceiverStream::new(rx)).await),
    )
    .await
    .expect("closed by the server")
    .expect_err("a silent stream fails");
    assert_eq!(
        reason(&status),
        (tonic::Code::DeadlineExceeded, "STREAM_IDLE".into())
    );
    drop(tx);
    env.stop().await;
}

fn write_msg(
    id: &str,
    offset: usize,
    data: &[u8],
    finish: Option<String>,
) -> pb::WriteResumableUploadRequest {
    pb::WriteResumableUploadRequest {
        upload_id: id.to_owned(),
        write_offset: offset as u64,
        data: data.to_vec(),
        finish_write: finish.is_some(),
        content_hash: finish.unwrap_or_default(),
    }
}

#[tokio::test]
async fn a_stalled_resumable_stream_gives_up_its_lease_after_the_idle_timeout() {
    let env = Env::start_with(env_of(&[("DBXC_LIMITS__STREAM_IDLE_SECONDS", "2")])).await;
    let data = bytes(6 * MIB, 9);
    let hash = dropbox_client::content_hash::content_hash(&data);
    let id = env
        .cloud()
        .start_resumable_upload(pb::StartResumableUploadRequest {
            connection: CONN.into(),
            path: "/resume/a.bin".into(),
            size: Some(data.len() as u64),
            content_hash: hash.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .upload_id;

    // Stream 1 writes 1 MiB, then goes silent while holding the upload.
    let start_stalled = || async {
        let (tx, rx) = mpsc::channel(1);
        let mut cloud = env.cloud();
        let handle =
            tokio::spawn(
                async move { cloud.write_resumable_upload(ReceiverStream::new(rx)).await },
            );
        tx.send(write_msg(&id, 0, &data[..MIB], None))
            .await
            .unwrap();
        (tx, handle)
    };
    let (mut tx1, mut stalled) = start_stalled().await;
    // While it holds the lease, another stream is refused (UPLOAD_BUSY): wait until the
    // first stream has it. A probe can take the lease first, and stream 1 then ends at
    // once (UPLOAD_BUSY itself): start it again when that happened.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if stalled.is_finished() {
            (tx1, stalled) = start_stalled().await;
        }
        let r = env
            .cloud()
            .write_resumable_upload(futures::stream::iter(vec![write_msg(&id, 0, &[], None)]))
            .await;
        match r {
            Err(s) if reason(&s).1 == "UPLOAD_BUSY" => break,
            other => assert!(Instant::now() < deadline, "never busy: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = tokio::time::timeout(Duration::from_secs(30), stalled)
        .await
        .expect("the stalled stream is closed")
        .unwrap()
        .expect_err("a stalled stream fails");
    assert_eq!(
        reason(&status),
        (tonic::Code::DeadlineExceeded, "STREAM_IDLE".into())
    );
    assert!(
        env.remote("/resume/a.bin").await.is_none(),
        "nothing committed"
    );

    // A new stream on the same upload is accepted and finishes it.
    let persisted = env
        .cloud()
        .query_upload(pb::QueryUploadRequest {
            upload_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .persisted_size as usize;
    let mut resume = vec![];
    for (i, piece) in data[persisted..].chunks(MIB).enumerate() {
        let first = i == 0;
        resume.push(write_msg(
            if first { &id } else { "" },
            persisted + i * MIB,
            piece,
            None,
        ));
    }
    let last = resume.len() - 1;
    resume[last].finish_write = true;
    resume[last].content_hash = hash.clone();
    let done = env
        .cloud()
        .write_resumable_upload(futures::stream::iter(resume))
        .await
        .expect("a new stream takes over the upload")
        .into_inner();
    assert_eq!(done.persisted_size as usize, data.len());
    assert!(env.remote_bytes("/resume/a.bin").await == data);
    drop(tx1);
    env.stop().await;
}

#[tokio::test]
async fn calls_past_the_global_limit_get_server_busy_and_health_still_answers() {
    let env = Env::start_with(env_of(&[("DBXC_LIMITS__MAX_CALLS", "2")])).await;
    let list = || async {
        env.conns()
            .list_connections(pb::ListConnectionsRequest::default())
            .await
    };
    // Two calls in progress (uploads that have only sent their spec); the third is
    // refused. (A holder that raced the end of an earlier call and was refused itself is
    // replaced.)
    let mut held: Vec<OpenUpload> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let busy = loop {
        held.retain(|h| !h.call.is_finished());
        while held.len() < 2 {
            let h = OpenUpload::start(env.channel.clone());
            h.tx.send(msg(Up::Spec(spec("/held", None, false))))
                .await
                .unwrap();
            held.push(h);
        }
        match list().await {
            Err(s) => break s,
            Ok(_) => assert!(
                Instant::now() < deadline,
                "the third call was never refused:\n{}",
                env.server_log()
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        reason(&busy),
        (tonic::Code::ResourceExhausted, "SERVER_BUSY".into())
    );
    assert!(busy.get_error_details().retry_info().is_some(), "{busy:?}");
    assert_eq!(
        health_status(env.channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );

    // One held call ends: calls are served again.
    let mut held = held.into_iter();
    let first = held.next().unwrap();
    drop(first.tx);
    assert!(first.call.await.unwrap().unwrap().results.is_empty());
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(s) = list().await {
        assert!(
            Instant::now() < deadline,
            "not served once a call finished: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    env.stop().await;
}

#[tokio::test]
async fn the_upload_buffer_budget_turns_an_upload_away_with_server_busy() {
    // The smallest budget: one upload piece (8 MiB) plus one chunk (2 MiB).
    let env = Env::start_with(env_of(&[
        ("DBXC_LIMITS__UPLOAD_BUFFER_BYTES", &(10 * MIB).to_string()),
        ("DBXC_LIMITS__UPLOAD_BUFFER_WAIT_MS", "3000"),
    ]))
    .await;
    // A holds 7 MiB in the server's buffer (short of the 8 MiB piece that would go out).
    let a_data = bytes(16 * MIB, 1);
    let b_data = bytes(4 * MIB, 2);
    // B wants 4 MiB more: once A's bytes are in, B is turned away. On a slow machine B may
    // get the room first, or A may wait too long and be turned away itself; either way
    // the round proves nothing and starts again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "B was never turned away while A went on"
        );
        let a = OpenUpload::start(env.channel.clone());
        if !a
            .send_file_start("/budget", "a.bin", a_data.len(), &a_data[..7 * MIB])
            .await
        {
            continue;
        }
        let b = env
            .upload(
                spec("/budget", None, false),
                vec![Src::new("b.bin", &b_data)],
            )
            .await;
        let Err(busy) = b else { continue };
        let Some(result) = finish_upload(a, &a_data).await else {
            continue;
        };
        assert_eq!(
            reason(&busy),
            (tonic::Code::ResourceExhausted, "SERVER_BUSY".into())
        );
        assert!(busy.get_error_details().retry_info().is_some(), "{busy:?}");
        // A is not hurt: it finishes, and its bytes arrive whole.
        assert!(
            matches!(
                result.results[0].outcome,
                Some(pb::file_result::Outcome::Uploaded(_))
            ),
            "{result:?}"
        );
        assert!(env.remote_bytes("/budget/a.bin").await == a_data);
        break;
    }
    env.stop().await;
}

/// Sends the rest of `data` (from 7 MiB) and its end, and waits for the outcome. `None`
/// when the server had already ended the call (A was turned away before it could go on).
async fn finish_upload(a: OpenUpload, data: &[u8]) -> Option<pb::UploadFilesResponse> {
    for (i, piece) in data.chunks(MIB).enumerate().skip(7) {
        a.tx.send(chunk(i * MIB, piece)).await.ok()?;
    }
    a.tx.send(msg(Up::FileEnd(pb::FileEnd {
        content_hash: dropbox_client::content_hash::content_hash(data),
    })))
    .await
    .ok()?;
    drop(a.tx);
    a.call.await.ok()?.ok()
}

/// Opens a raw HTTP/2 connection: the preface and an empty SETTINGS frame; nothing else
/// is ever sent (no ACKs, no PING answers).
async fn raw_h2(address: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    tcp
}

/// Reads until the server closes the connection, or `limit` passes; returns what was
/// read and whether it was closed.
async fn read_until_closed(tcp: &mut tokio::net::TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (bytes, closed)
}

/// The (type, flags, payload) of each whole HTTP/2 frame in `bytes`.
fn frames(bytes: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 9 <= bytes.len() {
        let len = usize::from(bytes[at]) << 16
            | usize::from(bytes[at + 1]) << 8
            | usize::from(bytes[at + 2]);
        let end = at + 9 + len;
        if end > bytes.len() {
            break;
        }
        out.push((bytes[at + 3], bytes[at + 4], bytes[at + 9..end].to_vec()));
        at += 9 + len;
    }
    out
}

#[tokio::test]
async fn a_connection_that_stops_answering_keepalive_pings_is_closed() {
    let env = Env::start_with(env_of(&[
        ("DBXC_LIMITS__KEEPALIVE_INTERVAL_SECONDS", "1"),
        ("DBXC_LIMITS__KEEPALIVE_TIMEOUT_SECONDS", "1"),
    ]))
    .await;
    let mut tcp = raw_h2(env.address).await;
    let (bytes, closed) = read_until_closed(&mut tcp, Duration::from_secs(30)).await;
    let types: Vec<u8> = frames(&bytes).iter().map(|f| f.0).collect();
    const PING: u8 = 6;
    assert!(types.contains(&PING), "the server pings: frames {types:?}");
    assert!(
        closed,
        "the server closes a connection whose pings go unanswered"
    );
    // Live clients are not affected.
    assert_eq!(
        health_status(env.channel.clone()).await.unwrap(),
        ServingStatus::Serving as i32
    );
    env.stop().await;
}

#[tokio::test]
async fn each_connection_is_offered_a_bounded_number_of_streams() {
    let env = Env::start_with(env_of(&[("DBXC_LIMITS__MAX_STREAMS_PER_CONNECTION", "7")])).await;
    use tokio::io::AsyncReadExt;
    const SETTINGS: u8 = 4;
    const MAX_CONCURRENT_STREAMS: u16 = 3;
    let mut tcp = raw_h2(env.address).await;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let payload = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Some((_, _, p)) = frames(&bytes)
                .into_iter()
                .find(|(t, flags, _)| *t == SETTINGS && flags & 1 == 0)
            {
                return p;
            }
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before SETTINGS");
            bytes.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the server sends its SETTINGS");
    let limit = payload.chunks(6).find_map(|s| {
        (u16::from_be_bytes([s[0], s[1]]) == MAX_CONCURRENT_STREAMS)
            .then(|| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
    });
    assert_eq!(limit, Some(7));
    drop(tcp);
    env.stop().await;
}

async fn reflection_list(env: &Env) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(env.channel.clone())
        .server_reflection_info(futures::stream::iter(vec![request]))
        .await?
        .into_inner();
    let mut names = Vec::new();
    while let Some(answer) = answers.next().await {
        if let Some(MessageResponse::ListServicesResponse(l)) = answer?.message_response {
            names.extend(l.service.into_iter().map(|s| s.name));
        }
    }
    Ok(names)
}

#[tokio::test]
async fn reflection_is_off_unless_turned_on() {
    let env = Env::start().await;
    let off = reflection_list(&env)
        .await
        .expect_err("reflection is off by default");
    assert_eq!(off.code(), tonic::Code::Unimplemented, "{off:?}");
    env.stop().await;

    let env = Env::start_with(env_of(&[("DBXC_REFLECTION", "true")])).await;
    let names = reflection_list(&env).await.unwrap();
    assert!(
        names
            .iter()
            .any(|n| n == "dropbox_connector.v1.CloudTaskService"),
        "{names:?}"
    );
    env.stop().await;
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test]
async fn a_stalled_stream_storm_stays_bounded_and_is_cleared() {
    const STREAMS: usize = 64;
    const CONNECTIONS: usize = 8;
    const IDLE_SECONDS: u64 = 3;
    // About 8 MiB each, short of a full piece, so that the server would have to hold it.
    const SENT: usize = 8 * MIB - 512 * 1024;
    let env = Env::start_with(env_of(&[(
        "DBXC_LIMITS__STREAM_IDLE_SECONDS",
        &IDLE_SECONDS.to_string(),
    )]))
    .await;
    let pid = env.server_pid().unwrap();
    let base_rss = rss_kib(pid, "VmRSS:").unwrap();

    // Health is polled on its own connection for the whole storm, as a kubelet would.
    let probe_channel = new_channel(&env).await;
    let (stop_probe, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let probe = tokio::spawn(async move {
        let (mut ok, mut failed) = (0u32, Vec::new());
        loop {
            let answer =
                tokio::time::timeout(Duration::from_secs(5), health_status(probe_channel.clone()))
                    .await;
            match answer {
                Ok(Ok(s)) if s == ServingStatus::Serving as i32 => ok += 1,
                other => failed.push(format!("{other:?}")),
            }
            tokio::select! {
                _ = &mut stopped => return (ok, failed),
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    });

    let mut channels = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(new_channel(&env).await);
    }
    let data = std::sync::Arc::new(bytes(SENT, 5));
    let storm_start = Instant::now();
    let mut streams = Vec::new();
    for i in 0..STREAMS {
        let upload = OpenUpload::start(channels[i % CONNECTIONS].clone());
        let data = data.clone();
        streams.push(tokio::spawn(async move {
            // Sends its ~8 MiB (unless turned away first), then holds the stream open.
            let OpenUpload { tx, mut call } = upload;
            let name = format!("f{i}.bin");
            let sending = send_file_start(&tx, "/storm", &name, 16 * MIB, &data);
            let sent_all = tokio::select! {
                sent = sending => sent,
                r = &mut call => return (false, Duration::ZERO, r.unwrap()),
            };
            let stalled_at = Instant::now();
            let result = call.await.unwrap();
            drop(tx);
            (sent_all, stalled_at.elapsed(), result)
        }));
    }

    // Watch the server's memory while the storm is on.
    let mut peak_rss = base_rss;
    let mut done = Vec::new();
    let mut pending = streams;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} streams still open after 120 s",
            pending.len()
        );
        peak_rss = peak_rss.max(rss_kib(pid, "VmRSS:").unwrap_or(0));
        let (finished, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|h| h.is_finished());
        for h in finished {
            done.push(h.await.unwrap());
        }
        pending = rest;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cleared_after = storm_start.elapsed();
    let hwm = rss_kib(pid, "VmHWM:").unwrap();
    stop_probe.send(()).unwrap();
    let (probes_ok, probes_failed) = probe.await.unwrap();

    let (mut idle, mut busy, mut other) = (0, 0, Vec::new());
    let mut slowest_close = Duration::ZERO;
    for (sent_all, waited, result) in &done {
        match result {
            Err(s) if reason(s) == (tonic::Code::DeadlineExceeded, "STREAM_IDLE".into()) => {
                idle += 1;
                if *sent_all {
                    slowest_close = slowest_close.max(*waited);
                }
            }
            Err(s) if reason(s) == (tonic::Code::ResourceExhausted, "SERVER_BUSY".into()) => {
                busy += 1
            }
            r => other.push(format!("{r:?}")),
        }
    }
    println!(
        "storm: {STREAMS} UploadFiles streams over {CONNECTIONS} connections, {} KiB sent each then silent",
        SENT / 1024
    );
    println!(
        "storm: server RSS before {} MiB, peak sampled {} MiB, VmHWM {} MiB (limit 256 MiB)",
        base_rss / 1024,
        peak_rss / 1024,
        hwm / 1024
    );
    println!(
        "storm: {idle} closed DEADLINE_EXCEEDED/STREAM_IDLE, {busy} RESOURCE_EXHAUSTED/SERVER_BUSY, {} other",
        other.len()
    );
    println!(
        "storm: idle timeout {IDLE_SECONDS} s; slowest idle close {:?} after the stream went silent; all cleared {:?} after the start",
        slowest_close, cleared_after
    );
    println!(
        "storm: health answered SERVING {probes_ok} times, failed {} times",
        probes_failed.len()
    );
    assert!(other.is_empty(), "unexpected outcomes: {other:?}");
    assert_eq!(idle + busy, STREAMS);
    assert!(hwm < 256 * 1024, "server peak RSS {} MiB", hwm / 1024);
    assert!(probes_failed.is_empty(), "health failed: {probes_failed:?}");
    assert!(probes_ok > 0);
    assert!(slowest_close >= Duration::from_secs(IDLE_SECONDS) || idle == 0);
    // Nothing of the stalled files was committed.
    for i in 0..STREAMS {
        assert!(env.remote(&format!("/storm/f{i}.bin")).await.is_none());
    }
    // Afterwards the server serves as usual, with its budget back.
    env.put("/after", "x.bin", &bytes(9 * MIB, 1), None).await;
    env.stop().await;
}
