//! Hostile input on every RPC: one table of cases run against
//! one server started once. Each case names the call, and the gRPC code and
//! `google.rpc.ErrorInfo` reason it must get (with ErrorInfo metadata where it tells the
//! user which field or path is wrong). Where a failure belongs to one file or item and the
//! call goes on (UploadFiles' FileResult.error, a DownloadError, a DeleteItems error), the
//! case says `ItemError` and the ItemError's code and reason are checked instead. A few
//! absurd but harmless inputs are answered normally (`Ok`). Nothing may get INTERNAL,
//! UNKNOWN, a hang or a panic.
//!
//! Messages over the server's decoding limit never reach the service: tonic refuses them
//! without ErrorInfo, so they have their own test below, outside the table.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Duration;

use common::*;
use dropbox_connector_proto::v1 as pb;
use futures::StreamExt;
use pb::upload_files_request::Message as Up;
use tonic::Code;
use tonic_types::StatusExt;

/// One RPC with its request.
enum Call {
    CreateConnection(pb::CreateConnectionRequest),
    GetConnection(String),
    ListConnections(pb::ListConnectionsRequest),
    UpdateConnection(pb::UpdateConnectionRequest),
    DeleteConnection(String),
    StartAuthorization(pb::StartAuthorizationRequest),
    CompleteAuthorization(pb::CompleteAuthorizationRequest),
    TestConnection(String),
    Upload(Vec<pb::UploadFilesRequest>),
    List(pb::ListItemsRequest),
    Download(pb::DownloadFilesRequest),
    CreateFolder(pb::CreateFolderRequest),
    Delete(pb::DeleteItemsRequest),
}

/// What a case must end with. Metadata pairs must be in the ErrorInfo (or ItemError)
/// metadata; an empty expected value only requires the key.
enum Expect {
    Status(Code, &'static str, &'static [(&'static str, &'static str)]),
    ItemError(Code, &'static str, &'static [(&'static str, &'static str)]),
    Ok,
}

struct Case {
    name: &'static str,
    call: Call,
    expect: Expect,
}

/// How a call ended.
enum Outcome {
    Status(tonic::Status),
    /// Succeeded; the per-item errors it reported, in order.
    Ok(Vec<pb::ItemError>),
}

fn status_of<T>(r: Result<T, tonic::Status>) -> Result<T, Outcome> {
    r.map_err(Outcome::Status)
}

async fn run(env: &Env, call: Call) -> Outcome {
    fn ok<T>(_: T) -> Outcome {
        Outcome::Ok(Vec::new())
    }
    let mut conns = env.conns();
    let mut cloud = env.cloud();
    let result: Result<Outcome, Outcome> = async {
        Ok(match call {
            Call::CreateConnection(r) => status_of(conns.create_connection(r).await).map(ok)?,
            Call::GetConnection(name) => status_of(
                conns
                    .get_connection(pb::GetConnectionRequest { name })
                    .await,
            )
            .map(ok)?,
            Call::ListConnections(r) => status_of(conns.list_connections(r).await).map(ok)?,
            Call::UpdateConnection(r) => status_of(conns.update_connection(r).await).map(ok)?,
            Call::DeleteConnection(name) => status_of(
                conns
                    .delete_connection(pb::DeleteConnectionRequest { name })
                    .await,
            )
            .map(ok)?,
            Call::StartAuthorization(r) => status_of(conns.start_authorization(r).await).map(ok)?,
            Call::CompleteAuthorization(r) => {
                status_of(conns.complete_authorization(r).await).map(ok)?
            }
            Call::TestConnection(name) => status_of(
                conns
                    .test_connection(pb::TestConnectionRequest { name })
                    .await,
            )
            .map(ok)?,
            Call::Upload(messages) => {
                let r = status_of(
                    upload_results(cloud.upload_files(futures::stream::iter(messages)).await).await,
                )?;
                Outcome::Ok(
                    r.results
                        .into_iter()
                        .filter_map(|f| match f.outcome {
                            Some(pb::file_result::Outcome::Error(e)) => Some(e),
                            _ => None,
                        })
                        .collect(),
                )
            }
            Call::List(r) => {
                let mut s = status_of(cloud.list_items(r).await)?.into_inner();
                while let Some(page) = s.next().await {
                    status_of(page)?;
                }
                Outcome::Ok(Vec::new())
            }
            Call::Download(r) => {
                use pb::download_files_response::Message as Down;
                let mut s = status_of(cloud.download_files(r).await)?.into_inner();
                let mut errors = Vec::new();
                while let Some(m) = s.next().await {
                    if let Some(Down::Error(e)) = status_of(m)?.message {
                        errors.extend(e.error);
                    }
                }
                Outcome::Ok(errors)
            }
            Call::CreateFolder(r) => status_of(cloud.create_folder(r).await).map(ok)?,
            Call::Delete(r) => {
                let mut s = status_of(cloud.delete_items(r).await)?.into_inner();
                let mut errors = Vec::new();
                while let Some(m) = s.next().await {
                    if let Some(pb::delete_items_response::Outcome::Error(e)) =
                        status_of(m)?.outcome
                    {
                        errors.push(e);
                    }
                }
                Outcome::Ok(errors)
            }
        })
    }
    .await;
    result.unwrap_or_else(|failed| failed)
}

/// Why `outcome` does not meet `expect`, if it does not.
fn mismatch(expect: &Expect, outcome: &Outcome) -> Option<String> {
    let check_meta = |meta: &std::collections::HashMap<String, String>,
                      want: &[(&str, &str)]|
     -> Option<String> {
        want.iter().find_map(|(k, v)| match meta.get(*k) {
            Some(got) if v.is_empty() || got == v => None,
            got => Some(format!(
                "metadata {k}: want {v:?}, got {got:?} (all: {meta:?})"
            )),
        })
    };
    match (expect, outcome) {
        (Expect::Status(code, reason, meta), Outcome::Status(status)) => {
            let info = status.get_error_details().error_info().cloned();
            let Some(info) = info else {
                return Some(format!("no ErrorInfo in {status:?}"));
            };
            if (status.code(), info.reason.as_str()) != (*code, *reason) {
                return Some(format!(
                    "want {code:?}/{reason}, got {:?}/{} ({})",
                    status.code(),
                    info.reason,
                    status.message()
                ));
            }
            if info.domain != dropbox_connector_proto::ERROR_DOMAIN {
                return Some(format!("ErrorInfo domain {:?}", info.domain));
            }
            if status.message().len() < 20 {
                return Some(format!(
                    "message too thin to act on: {:?}",
                    status.message()
                ));
            }
            check_meta(&info.metadata, meta)
        }
        (Expect::ItemError(code, reason, meta), Outcome::Ok(errors)) => {
            let Some(e) = errors.first() else {
                return Some("the call succeeded without an item error".into());
            };
            if (e.code, e.reason.as_str()) != (*code as i32, *reason) {
                return Some(format!(
                    "want item {code:?}/{reason}, got {:?}/{} ({})",
                    Code::from_i32(e.code),
                    e.reason,
                    e.message
                ));
            }
            if e.message.len() < 20 {
                return Some(format!("message too thin to act on: {:?}", e.message));
            }
            check_meta(&e.metadata, meta)
        }
        (Expect::Ok, Outcome::Ok(errors)) if errors.is_empty() => None,
        (_, Outcome::Status(status)) => Some(format!(
            "got status {:?}: {} (ErrorInfo {:?})",
            status.code(),
            status.message(),
            status.get_error_details().error_info()
        )),
        (_, Outcome::Ok(errors)) => Some(format!("got success, item errors {errors:?}")),
    }
}

// ---- request builders ----

/// A CreateConnection of a fresh name (so one case never depends on another), changed by `f`.
fn connection(f: impl FnOnce(&mut pb::Connection)) -> Call {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut c = pb::Connection {
        display_name: format!("hostile-{n}"),
        ..Default::default()
    };
    f(&mut c);
    Call::CreateConnection(pb::CreateConnectionRequest {
        connection: Some(c),
    })
}

fn proxy(f: impl FnOnce(&mut pb::ProxySettings)) -> Call {
    connection(|c| {
        let mut p = pb::ProxySettings {
            r#type: pb::ProxyType::Http as i32,
            address: "proxy.example.com".into(),
            port: 3128,
            ..Default::default()
        };
        f(&mut p);
        c.proxy = Some(p);
    })
}

fn update(mask: Vec<String>, f: impl FnOnce(&mut pb::Connection)) -> Call {
    let mut c = pb::Connection {
        name: CONN.into(),
        ..Default::default()
    };
    f(&mut c);
    Call::UpdateConnection(pb::UpdateConnectionRequest {
        connection: Some(c),
        update_mask: Some(prost_types::FieldMask { paths: mask }),
    })
}

fn list_page(page_size: i32, page_token: &str) -> Call {
    Call::ListConnections(pb::ListConnectionsRequest {
        page_size,
        page_token: page_token.into(),
        group: String::new(),
    })
}

fn up_spec(folder: &str) -> pb::UploadFilesRequest {
    msg(Up::Spec(spec(folder, None, false)))
}

fn up_header(rel: &str, size: Option<u64>) -> pb::UploadFilesRequest {
    msg(Up::FileHeader(pb::FileHeader {
        relative_path: rel.into(),
        size,
        ..Default::default()
    }))
}

fn up_chunk(offset: u64, data: Vec<u8>) -> pb::UploadFilesRequest {
    msg(Up::Chunk(pb::DataChunk { offset, data }))
}

fn up_end(hash: &str) -> pb::UploadFilesRequest {
    msg(Up::FileEnd(pb::FileEnd {
        content_hash: hash.into(),
    }))
}

/// A spec into `/hostile`, then one file `rel` holding "data".
fn upload_one(rel: &str) -> Call {
    Call::Upload(vec![
        up_spec("/hostile"),
        up_header(rel, None),
        up_chunk(0, b"data".to_vec()),
        up_end(""),
    ])
}

fn upload(messages: Vec<pb::UploadFilesRequest>) -> Call {
    Call::Upload(messages)
}

fn upload_with_spec(f: impl FnOnce(&mut pb::UploadSpec)) -> Call {
    let mut s = spec("/hostile", None, false);
    f(&mut s);
    Call::Upload(vec![msg(Up::Spec(s))])
}

fn list(f: impl FnOnce(&mut pb::RemoteFileFilter)) -> Call {
    let mut filter = pb::RemoteFileFilter {
        folder: "/hostile".into(),
        ..Default::default()
    };
    f(&mut filter);
    Call::List(pb::ListItemsRequest {
        connection: CONN.into(),
        filter: Some(filter),
    })
}

fn items(paths: &[(&str, &str)]) -> pb::ItemRefs {
    pb::ItemRefs {
        items: paths
            .iter()
            .map(|(path, rev)| pb::ItemRef {
                path: (*path).into(),
                rev: (*rev).into(),
                ..Default::default()
            })
            .collect(),
    }
}

fn download(refs: pb::ItemRefs, range: Option<pb::ByteRange>) -> Call {
    Call::Download(pb::DownloadFilesRequest {
        connection: CONN.into(),
        selection: Some(pb::download_files_request::Selection::Items(refs)),
        range,
        ..Default::default()
    })
}

fn delete(refs: pb::ItemRefs) -> Call {
    Call::Delete(pb::DeleteItemsRequest {
        connection: CONN.into(),
        selection: Some(pb::delete_items_request::Selection::Items(refs)),
        dry_run: false,
    })
}

fn create_folder(path: &str) -> Call {
    Call::CreateFolder(pb::CreateFolderRequest {
        connection: CONN.into(),
        path: path.into(),
        exist_ok: false,
    })
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

fn page_token(json: &str) -> String {
    json.bytes().map(|b| format!("{b:02x}")).collect()
}

/// `n` files whose relative paths are refused locally (no Dropbox call each).
fn many_files(n: usize) -> Vec<pb::UploadFilesRequest> {
    let mut m = vec![up_spec("/hostile")];
    for i in 0..n {
        m.push(up_header(&format!("../{i}"), None));
        m.push(up_end(""));
    }
    m
}

const HASH_OF_SOMETHING_ELSE: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

fn cases() -> Vec<Case> {
    use Code::*;
    use Expect::{ItemError as Item, Ok, Status};
    const INVALID: &str = "INVALID_ARGUMENT";
    // Paths the service refuses itself (never Dropbox's MALFORMED_PATH).
    const INVALID_PATH: &str = "INVALID_PATH";
    const ORDER: &str = "STREAM_OUT_OF_ORDER";
    let c = |name, call, expect| Case { name, call, expect };
    let ts = |seconds, nanos| Some(prost_types::Timestamp { seconds, nanos });
    vec![
        // ---- ConnectionService: CreateConnection fields ----
        c(
            "create without a connection",
            Call::CreateConnection(pb::CreateConnectionRequest { connection: None }),
            Status(InvalidArgument, INVALID, &[("field", "connection")]),
        ),
        c(
            "display_name empty",
            connection(|c| c.display_name = " ".into()),
            Status(InvalidArgument, INVALID, &[("field", "display_name")]),
        ),
        c(
            "display_name with a line break",
            connection(|c| c.display_name = "a\nb".into()),
            Status(InvalidArgument, INVALID, &[("field", "display_name")]),
        ),
        c(
            "display_name of 100,000 characters",
            connection(|c| c.display_name = long(100_000)),
            Status(InvalidArgument, INVALID, &[("field", "display_name")]),
        ),
        c(
            "display_name shaped like a resource name",
            connection(|c| c.display_name = "connections/x".into()),
            Status(InvalidArgument, INVALID, &[("field", "display_name")]),
        ),
        c(
            "display_name already taken",
            connection(|c| c.display_name = CONN.into()),
            Status(
                AlreadyExists,
                "CONNECTION_NAME_TAKEN",
                &[("display_name", CONN)],
            ),
        ),
        c(
            "group of 100,000 characters",
            connection(|c| c.group = long(100_000)),
            Status(InvalidArgument, INVALID, &[("field", "group")]),
        ),
        c(
            "group with a NUL",
            connection(|c| c.group = "a\0b".into()),
            Status(InvalidArgument, INVALID, &[("field", "group")]),
        ),
        c(
            "timeout_seconds u32::MAX",
            connection(|c| c.timeout_seconds = u32::MAX),
            Status(InvalidArgument, INVALID, &[("field", "timeout_seconds")]),
        ),
        c(
            "code_page unknown",
            connection(|c| c.code_page = "klingon".into()),
            Status(InvalidArgument, INVALID, &[("field", "code_page")]),
        ),
        c(
            "code_page of 1 MiB",
            connection(|c| c.code_page = long(1 << 20)),
            Status(InvalidArgument, INVALID, &[("field", "code_page")]),
        ),
        c(
            "account_type out of the enum",
            connection(|c| c.account_type = 99),
            Status(InvalidArgument, INVALID, &[("field", "account_type")]),
        ),
        c(
            "proxy type out of the enum",
            proxy(|p| p.r#type = 99),
            Status(InvalidArgument, INVALID, &[("field", "proxy.type")]),
        ),
        c(
            "proxy without an address",
            proxy(|p| p.address = String::new()),
            Status(InvalidArgument, INVALID, &[("field", "proxy.address")]),
        ),
        c(
            "proxy address given as a URL",
            proxy(|p| p.address = "http://proxy.example.com:3128".into()),
            Status(InvalidArgument, INVALID, &[("field", "proxy.address")]),
        ),
        c(
            "proxy address with a space",
            proxy(|p| p.address = "proxy example".into()),
            Status(InvalidArgument, INVALID, &[("field", "proxy.address")]),
        ),
        c(
            "proxy port over 65535",
            proxy(|p| p.port = 70_000),
            Status(InvalidArgument, INVALID, &[("field", "proxy.port")]),
        ),
        c(
            "proxy test_url not http",
            proxy(|p| p.test_url = "ftp://example.com/".into()),
            Status(InvalidArgument, INVALID, &[("field", "proxy.test_url")]),
        ),
        c(
            "proxy test_url not a URL",
            proxy(|p| p.test_url = "not a url".into()),
            Status(InvalidArgument, INVALID, &[("field", "proxy.test_url")]),
        ),
        c(
            "proxy username with a line break",
            proxy(|p| p.username = "user\r\nX-Injected: 1".into()),
            Status(InvalidArgument, INVALID, &[("field", "proxy.username")]),
        ),
        c(
            "redirect_uri http on a public host",
            connection(|c| {
                c.app = Some(pb::AppSettings {
                    redirect_uri: "http://example.com/cb".into(),
                    ..Default::default()
                })
            }),
            Status(InvalidArgument, INVALID, &[("field", "app.redirect_uri")]),
        ),
        c(
            "redirect_uri javascript:",
            connection(|c| {
                c.app = Some(pb::AppSettings {
                    redirect_uri: "javascript:alert(1)".into(),
                    ..Default::default()
                })
            }),
            Status(InvalidArgument, INVALID, &[("field", "app.redirect_uri")]),
        ),
        c(
            "namespace id that is not a number",
            connection(|c| {
                c.business = Some(pb::BusinessSettings {
                    path_root: Some(pb::PathRoot {
                        root: Some(pb::path_root::Root::NamespaceId("../1".into())),
                    }),
                    ..Default::default()
                })
            }),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "business.path_root.namespace_id")],
            ),
        ),
        c(
            "access token with a line break (header injection)",
            connection(|c| {
                c.credentials = Some(pb::Credentials {
                    access_token: "sl.abc\r\nX-Injected: 1".into(),
                    refresh_token: String::new(),
                })
            }),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "credentials.access_token")],
            ),
        ),
        c(
            "refresh token of 1 MiB",
            connection(|c| {
                c.credentials = Some(pb::Credentials {
                    access_token: String::new(),
                    refresh_token: long(1 << 20),
                })
            }),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "credentials.refresh_token")],
            ),
        ),
        // ---- Get / List / Update / Delete / authorization / test ----
        c(
            "get with an empty name",
            Call::GetConnection(String::new()),
            Status(InvalidArgument, INVALID, &[("field", "name")]),
        ),
        c(
            "get with a 1 MiB name",
            Call::GetConnection(long(1 << 20)),
            Status(InvalidArgument, INVALID, &[("field", "name")]),
        ),
        c(
            "get an unknown resource name",
            Call::GetConnection("connections/../../etc".into()),
            Status(NotFound, "CONNECTION_NOT_FOUND", &[("connection", "")]),
        ),
        c(
            "list with page_size -1",
            list_page(-1, ""),
            Status(InvalidArgument, INVALID, &[("field", "page_size")]),
        ),
        c(
            "list with page_size i32::MIN",
            list_page(i32::MIN, ""),
            Status(InvalidArgument, INVALID, &[("field", "page_size")]),
        ),
        c(
            "list with page_size i32::MAX (clamped)",
            list_page(i32::MAX, ""),
            Ok,
        ),
        c(
            "list with a page_token that is not hex",
            list_page(10, "zz"),
            Status(InvalidArgument, INVALID, &[("field", "page_token")]),
        ),
        c(
            "list with a page_token that is hex but not a token",
            list_page(10, &page_token("[1,2,3]")),
            Status(InvalidArgument, INVALID, &[("field", "page_token")]),
        ),
        c(
            "list with a page_token of another group",
            list_page(10, &page_token(r#"{"a":"x","g":"other group"}"#)),
            Status(InvalidArgument, INVALID, &[("field", "page_token")]),
        ),
        c(
            "list with a 4 MiB page_token",
            list_page(10, &"ab".repeat(2 << 20)),
            Status(InvalidArgument, INVALID, &[("field", "page_token")]),
        ),
        c(
            "update without a name",
            update(vec![], |c| c.name = String::new()),
            Status(InvalidArgument, INVALID, &[("field", "connection.name")]),
        ),
        c(
            "update with an unknown mask path",
            update(vec!["nope".into()], |_| {}),
            Status(InvalidArgument, INVALID, &[("field", "update_mask")]),
        ),
        c(
            "update with 10,000 mask paths",
            update(vec!["group".into(); 10_000], |_| {}),
            Status(InvalidArgument, INVALID, &[("field", "update_mask")]),
        ),
        c(
            "update with a 1 MiB mask path",
            update(vec![long(1 << 20)], |_| {}),
            Status(InvalidArgument, INVALID, &[("field", "update_mask")]),
        ),
        c(
            "update display_name to empty",
            update(vec!["display_name".into()], |c| {
                c.display_name = String::new()
            }),
            Status(InvalidArgument, INVALID, &[("field", "display_name")]),
        ),
        c(
            "update group with a control character",
            update(vec!["group".into()], |c| c.group = "a\u{7}".into()),
            Status(InvalidArgument, INVALID, &[("field", "group")]),
        ),
        c(
            "delete an unknown connection",
            Call::DeleteConnection("nobody".into()),
            Status(
                NotFound,
                "CONNECTION_NOT_FOUND",
                &[("connection", "nobody")],
            ),
        ),
        c(
            "delete with a 1 MiB name",
            Call::DeleteConnection(long(1 << 20)),
            Status(InvalidArgument, INVALID, &[("field", "name")]),
        ),
        c(
            "start authorization with a non-loopback http redirect",
            Call::StartAuthorization(pb::StartAuthorizationRequest {
                name: CONN.into(),
                redirect_uri: "http://evil.example.com/cb".into(),
                no_redirect: false,
            }),
            Status(InvalidArgument, INVALID, &[("field", "redirect_uri")]),
        ),
        c(
            "complete authorization without a state",
            Call::CompleteAuthorization(pb::CompleteAuthorizationRequest {
                state: String::new(),
                code: "c".into(),
            }),
            Status(InvalidArgument, INVALID, &[("field", "state")]),
        ),
        c(
            "complete authorization with a made-up 1 MiB state",
            Call::CompleteAuthorization(pb::CompleteAuthorizationRequest {
                state: long(1 << 20),
                code: "c".into(),
            }),
            Status(FailedPrecondition, "AUTHORIZATION_STATE_INVALID", &[]),
        ),
        c(
            "test connection with an empty name",
            Call::TestConnection(" ".into()),
            Status(InvalidArgument, INVALID, &[("field", "name")]),
        ),
        // ---- UploadFiles: stream order (call fails) ----
        c(
            "upload: empty stream",
            upload(vec![]),
            Status(InvalidArgument, ORDER, &[]),
        ),
        c(
            "upload: chunk before the spec",
            upload(vec![up_chunk(0, b"x".to_vec())]),
            Status(InvalidArgument, ORDER, &[]),
        ),
        c(
            "upload: header before the spec",
            upload(vec![up_header("a.txt", None), up_spec("/hostile")]),
            Status(InvalidArgument, ORDER, &[]),
        ),
        c(
            "upload: two specs",
            upload(vec![up_spec("/hostile"), up_spec("/hostile")]),
            Status(InvalidArgument, ORDER, &[]),
        ),
        c(
            "upload: chunk before any header",
            upload(vec![up_spec("/hostile"), up_chunk(0, b"x".to_vec())]),
            Status(InvalidArgument, ORDER, &[]),
        ),
        c(
            "upload: FileEnd without a header",
            upload(vec![up_spec("/hostile"), up_end("")]),
            Status(InvalidArgument, ORDER, &[]),
        ),
        c(
            "upload: header inside a file",
            upload(vec![
                up_spec("/hostile"),
                up_header("a.txt", None),
                up_header("b.txt", None),
            ]),
            Status(InvalidArgument, ORDER, &[]),
        ),
        c(
            "upload: stream ends inside a file",
            upload(vec![
                up_spec("/hostile"),
                up_header("a.txt", None),
                up_chunk(0, b"x".to_vec()),
            ]),
            Status(InvalidArgument, ORDER, &[]),
        ),
        c(
            "upload: a message with nothing set",
            upload(vec![
                up_spec("/hostile"),
                pb::UploadFilesRequest { message: None },
            ]),
            Status(InvalidArgument, INVALID, &[("field", "message")]),
        ),
        c(
            "upload: 10,001 files in one call",
            upload(many_files(10_001)),
            Status(InvalidArgument, INVALID, &[("field", "file_header")]),
        ),
        c(
            "upload: a relative path over 4,096 bytes (results repeat it)",
            upload(vec![up_spec("/hostile"), up_header(&long(4097), None)]),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.relative_path")],
            ),
        ),
        c(
            "upload: a destination folder over 4,096 bytes",
            upload(vec![up_spec(&format!(
                "/{}",
                vec![long(200); 21].join("/")
            ))]),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "spec.destination_folder")],
            ),
        ),
        // ---- UploadFiles: spec and header fields (call fails) ----
        c(
            "upload: destination without a leading slash",
            upload(vec![up_spec("dest")]),
            Status(InvalidArgument, INVALID_PATH, &[("path", "dest")]),
        ),
        c(
            "upload: destination with a trailing slash",
            upload(vec![up_spec("/dest/")]),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/dest/")]),
        ),
        c(
            "upload: destination with a NUL",
            upload(vec![up_spec("/de\0st")]),
            Status(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "upload: destination with a .. component",
            upload(vec![up_spec("/a/../..")]),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/a/../..")]),
        ),
        c(
            "upload: destination component of 256 characters",
            upload(vec![up_spec(&format!("/{}", long(256)))]),
            Status(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "upload: destination is a rev:",
            upload(vec![up_spec("rev:0123456789abcdef")]),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "spec.destination_folder")],
            ),
        ),
        c(
            "upload: destination is an id:",
            upload(vec![up_spec("id:abc")]),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "spec.destination_folder")],
            ),
        ),
        c(
            "upload: no connection named",
            upload_with_spec(|s| s.connection = String::new()),
            Status(InvalidArgument, INVALID, &[("field", "connection")]),
        ),
        c(
            "upload: 1 MiB connection name",
            upload_with_spec(|s| s.connection = long(1 << 20)),
            Status(InvalidArgument, INVALID, &[("field", "connection")]),
        ),
        c(
            "upload: unknown connection",
            upload_with_spec(|s| s.connection = "nobody".into()),
            Status(
                NotFound,
                "CONNECTION_NOT_FOUND",
                &[("connection", "nobody")],
            ),
        ),
        c(
            "upload: overwrite mode out of the enum",
            upload_with_spec(|s| {
                s.overwrite = Some(pb::OverwritePolicy {
                    mode: 99,
                    size_comparison: 0,
                })
            }),
            Status(InvalidArgument, INVALID, &[("field", "overwrite.mode")]),
        ),
        c(
            "upload: IF_SIZE without a comparison",
            upload_with_spec(|s| {
                s.overwrite = Some(pb::OverwritePolicy {
                    mode: pb::OverwriteMode::IfSize as i32,
                    size_comparison: 0,
                })
            }),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "overwrite.size_comparison")],
            ),
        ),
        c(
            "upload: modified_time out of range",
            upload(vec![
                up_spec("/hostile"),
                msg(Up::FileHeader(pb::FileHeader {
                    relative_path: "a.txt".into(),
                    modified_time: ts(i64::MAX, 0),
                    ..Default::default()
                })),
            ]),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.modified_time")],
            ),
        ),
        c(
            "upload: modified_time with negative nanos",
            upload(vec![
                up_spec("/hostile"),
                msg(Up::FileHeader(pb::FileHeader {
                    relative_path: "a.txt".into(),
                    modified_time: ts(1_700_000_000, -1),
                    ..Default::default()
                })),
            ]),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.modified_time")],
            ),
        ),
        c(
            "upload: header content_hash that is not a hash",
            upload(vec![
                up_spec("/hostile"),
                msg(Up::FileHeader(pb::FileHeader {
                    relative_path: "a.txt".into(),
                    content_hash: "abc".into(),
                    ..Default::default()
                })),
            ]),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.content_hash")],
            ),
        ),
        c(
            "upload: FileEnd content_hash that is not a hash",
            upload(vec![
                up_spec("/hostile"),
                up_header("a.txt", None),
                up_end(&"z".repeat(64)),
            ]),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "file_end.content_hash")],
            ),
        ),
        // ---- UploadFiles: per-file failures (FileResult.error; the call succeeds) ----
        c(
            "upload file: relative path escaping with ..",
            upload_one("../escape.txt"),
            Item(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.relative_path")],
            ),
        ),
        c(
            "upload file: absolute relative path",
            upload_one("/etc/passwd"),
            Item(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.relative_path")],
            ),
        ),
        c(
            "upload file: backslash in the relative path",
            upload_one("sub\\a.txt"),
            Item(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.relative_path")],
            ),
        ),
        c(
            "upload file: empty relative path",
            upload_one(""),
            Item(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.relative_path")],
            ),
        ),
        c(
            "upload file: empty component",
            upload_one("a//b.txt"),
            Item(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.relative_path")],
            ),
        ),
        c(
            "upload file: trailing slash",
            upload_one("sub/"),
            Item(
                InvalidArgument,
                INVALID,
                &[("field", "file_header.relative_path")],
            ),
        ),
        c(
            "upload file: NUL in the name",
            upload_one("a\0b.txt"),
            Item(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "upload file: trailing space (Dropbox refuses it)",
            upload_one("name.txt "),
            Item(
                InvalidArgument,
                INVALID_PATH,
                &[("path", "/hostile/name.txt ")],
            ),
        ),
        c(
            "upload file: component of 256 characters",
            upload_one(&long(256)),
            Item(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "upload file: chunk over 2 MiB",
            upload(vec![
                up_spec("/hostile"),
                up_header("big.bin", None),
                up_chunk(0, vec![0; 2 * 1024 * 1024 + 1]),
                up_end(""),
            ]),
            Item(InvalidArgument, INVALID, &[("field", "chunk.data")]),
        ),
        c(
            "upload file: first chunk not at offset 0",
            upload(vec![
                up_spec("/hostile"),
                up_header("gap.txt", None),
                up_chunk(5, b"x".to_vec()),
                up_end(""),
            ]),
            Item(
                InvalidArgument,
                "CHUNK_OFFSET_MISMATCH",
                &[("expected_offset", "0")],
            ),
        ),
        c(
            "upload file: chunk at u64::MAX",
            upload(vec![
                up_spec("/hostile"),
                up_header("far.txt", None),
                up_chunk(0, b"x".to_vec()),
                up_chunk(u64::MAX, b"x".to_vec()),
                up_end(""),
            ]),
            Item(
                InvalidArgument,
                "CHUNK_OFFSET_MISMATCH",
                &[("expected_offset", "1")],
            ),
        ),
        c(
            "upload file: announced size u64::MAX, 4 bytes sent",
            Call::Upload(vec![
                up_spec("/hostile"),
                up_header("size.txt", Some(u64::MAX)),
                up_chunk(0, b"data".to_vec()),
                up_end(""),
            ]),
            Item(InvalidArgument, INVALID, &[("field", "file_header.size")]),
        ),
        c(
            "upload file: content_hash of other bytes",
            Call::Upload(vec![
                up_spec("/hostile"),
                up_header("hash.txt", None),
                up_chunk(0, b"data".to_vec()),
                up_end(HASH_OF_SOMETHING_ELSE),
            ]),
            Item(DataLoss, "CONTENT_HASH_MISMATCH", &[("path", "hash.txt")]),
        ),
        // ---- ListItems: folder, mask, regex, enums, times, sizes, limits ----
        c(
            "list: folder without a leading slash",
            list(|f| f.folder = "hostile".into()),
            Status(InvalidArgument, INVALID_PATH, &[("path", "hostile")]),
        ),
        c(
            "list: folder with a trailing slash",
            list(|f| f.folder = "/hostile/".into()),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/hostile/")]),
        ),
        c(
            "list: folder with a NUL",
            list(|f| f.folder = "/a\0".into()),
            Status(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "list: folder with a .. component",
            list(|f| f.folder = "/hostile/../..".into()),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/hostile/../..")]),
        ),
        c(
            "list: folder with trailing whitespace",
            list(|f| f.folder = "/hostile\t".into()),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/hostile\t")]),
        ),
        c(
            "list: folder component of 256 characters",
            list(|f| f.folder = format!("/{}", long(256))),
            Status(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "list: empty id:",
            list(|f| f.folder = "id:".into()),
            Status(InvalidArgument, INVALID_PATH, &[("path", "id:")]),
        ),
        c(
            "list: rev: that is not a revision",
            list(|f| f.folder = "rev:../../x".into()),
            Status(InvalidArgument, INVALID_PATH, &[("path", "rev:../../x")]),
        ),
        c(
            "list: valid but 5 KiB deep folder that does not exist",
            list(|f| f.folder = format!("/{}", vec![long(255); 20].join("/"))),
            Status(NotFound, "PATH_NOT_FOUND", &[("path", "")]),
        ),
        c(
            "list: folder that does not exist",
            list(|f| f.folder = "/no/such/folder".into()),
            Status(NotFound, "PATH_NOT_FOUND", &[("path", "/no/such/folder")]),
        ),
        c(
            "list: mask of 1,025 characters",
            list(|f| f.mask = "*".repeat(1025)),
            Status(InvalidArgument, INVALID, &[("field", "filter.mask")]),
        ),
        c(
            "list: mask of 65 parts",
            list(|f| f.mask = "*.a;".repeat(65)),
            Status(InvalidArgument, INVALID, &[("field", "filter.mask")]),
        ),
        c(
            "list: invalid regex",
            list(|f| {
                f.mask = "(".into();
                f.mask_is_regex = true;
            }),
            Status(InvalidArgument, INVALID, &[("field", "filter.mask")]),
        ),
        c(
            "list: regex whose program is too large",
            list(|f| {
                f.mask = r"(\w{100}){100}".into();
                f.mask_is_regex = true;
            }),
            Status(InvalidArgument, INVALID, &[("field", "filter.mask")]),
        ),
        c(
            "list: regex of 1,025 characters",
            list(|f| {
                f.mask = "a".repeat(1025);
                f.mask_is_regex = true;
            }),
            Status(InvalidArgument, INVALID, &[("field", "filter.mask")]),
        ),
        c(
            "list: catastrophic-backtracking regex answers (linear-time engine)",
            list(|f| {
                f.mask = "^(a+)+$".into();
                f.mask_is_regex = true;
            }),
            Ok,
        ),
        c(
            "list: kind out of the enum",
            list(|f| f.kind = 42),
            Status(InvalidArgument, INVALID, &[("field", "filter.kind")]),
        ),
        c(
            "list: sort_by out of the enum",
            list(|f| f.sort_by = -1),
            Status(InvalidArgument, INVALID, &[("field", "filter.sort_by")]),
        ),
        c(
            "list: date_field out of the enum",
            list(|f| f.date_field = 99),
            Status(InvalidArgument, INVALID, &[("field", "filter.date_field")]),
        ),
        c(
            "list: date_join out of the enum",
            list(|f| f.date_join = 7),
            Status(InvalidArgument, INVALID, &[("field", "filter.date_join")]),
        ),
        c(
            "list: modified_before out of range",
            list(|f| f.modified_before = ts(i64::MAX, 0)),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "filter.modified_before")],
            ),
        ),
        c(
            "list: modified_after with nanos over a second",
            list(|f| f.modified_after = ts(0, 2_000_000_000)),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "filter.modified_after")],
            ),
        ),
        c(
            // VisualCron's semantics (filter_api checks it): an empty range is no error.
            "list: newer than 2020 AND older than 2010 matches nothing",
            list(|f| {
                f.modified_after = ts(1_577_836_800, 0);
                f.modified_before = ts(1_262_304_000, 0);
            }),
            Ok,
        ),
        c(
            "list: modified_before at the smallest Timestamp",
            list(|f| f.modified_before = ts(i64::MIN, 0)),
            Status(
                InvalidArgument,
                INVALID,
                &[("field", "filter.modified_before")],
            ),
        ),
        c(
            "list: size_smaller_than 0 OR size_larger_than u64::MAX",
            list(|f| {
                f.size_smaller_than = Some(0);
                f.size_larger_than = Some(u64::MAX);
                f.size_join = pb::Join::Or as i32;
            }),
            Ok,
        ),
        c("list: limit u32::MAX", list(|f| f.limit = u32::MAX), Ok),
        c(
            "list: no connection named",
            Call::List(pb::ListItemsRequest {
                connection: String::new(),
                filter: None,
            }),
            Status(InvalidArgument, INVALID, &[("field", "connection")]),
        ),
        // ---- DownloadFiles ----
        c(
            "download: no selection",
            Call::Download(pb::DownloadFilesRequest {
                connection: CONN.into(),
                selection: None,
                range: None,
                ..Default::default()
            }),
            Status(InvalidArgument, INVALID, &[("field", "selection")]),
        ),
        c(
            "download: empty item list",
            download(items(&[]), None),
            Status(InvalidArgument, INVALID, &[("field", "items")]),
        ),
        c(
            "download: 10,001 items",
            download(
                pb::ItemRefs {
                    items: vec![
                        pb::ItemRef {
                            path: "/hostile/a.txt".into(),
                            rev: String::new(),
                            ..Default::default()
                        };
                        10_001
                    ],
                },
                None,
            ),
            Status(InvalidArgument, INVALID, &[("field", "items")]),
        ),
        c(
            "download: item without a path",
            download(items(&[("", "")]), None),
            Status(InvalidArgument, INVALID, &[("field", "items.path")]),
        ),
        c(
            "download: the root",
            download(items(&[("/", "")]), None),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/")]),
        ),
        c(
            "download: a namespace root",
            download(items(&[("ns:123", "")]), None),
            Status(InvalidArgument, INVALID_PATH, &[("path", "ns:123")]),
        ),
        c(
            "download: path with a NUL",
            download(items(&[("/hostile/a\0", "")]), None),
            Status(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "download: rev with path characters",
            download(items(&[("/hostile/a.txt", "../../x")]), None),
            Status(InvalidArgument, INVALID, &[("field", "items.rev")]),
        ),
        c(
            "download: rev too short to be a revision",
            download(items(&[("/hostile/a.txt", "abc")]), None),
            Status(InvalidArgument, INVALID, &[("field", "items.rev")]),
        ),
        c(
            "download: byte range over two items",
            download(
                items(&[("/hostile/a.txt", ""), ("/hostile/b.txt", "")]),
                Some(pb::ByteRange {
                    offset: 1,
                    length: 1,
                }),
            ),
            Status(InvalidArgument, INVALID, &[("field", "range")]),
        ),
        c(
            "download: byte range ending past u64::MAX",
            download(
                items(&[("/hostile/a.txt", "")]),
                Some(pb::ByteRange {
                    offset: u64::MAX,
                    length: 2,
                }),
            ),
            Status(InvalidArgument, INVALID, &[("field", "range")]),
        ),
        c(
            "download: byte range starting past the end of the file",
            download(
                items(&[("/hostile/existing.txt", "")]),
                Some(pb::ByteRange {
                    offset: 1_000,
                    length: 0,
                }),
            ),
            Item(OutOfRange, "INVALID_ARGUMENT", &[("field", "range")]),
        ),
        c(
            "download: unknown id:",
            download(items(&[("id:doesnotexist", "")]), None),
            Item(NotFound, "PATH_NOT_FOUND", &[("path", "id:doesnotexist")]),
        ),
        c(
            "download: missing file is that item's error",
            download(items(&[("/hostile/none.txt", "")]), None),
            Item(NotFound, "PATH_NOT_FOUND", &[("path", "/hostile/none.txt")]),
        ),
        c(
            "download: filter with a bad regex",
            Call::Download(pb::DownloadFilesRequest {
                connection: CONN.into(),
                selection: Some(pb::download_files_request::Selection::Filter(
                    pb::RemoteFileFilter {
                        mask: "[".into(),
                        mask_is_regex: true,
                        ..Default::default()
                    },
                )),
                range: None,
                ..Default::default()
            }),
            Status(InvalidArgument, INVALID, &[("field", "filter.mask")]),
        ),
        // ---- CreateFolder ----
        c(
            "create folder: empty path",
            create_folder(""),
            Status(InvalidArgument, INVALID, &[("field", "path")]),
        ),
        c(
            "create folder: the root",
            create_folder("/"),
            Status(InvalidArgument, INVALID, &[("field", "path")]),
        ),
        c(
            "create folder: a namespace root",
            create_folder("ns:123"),
            Status(InvalidArgument, INVALID_PATH, &[("path", "ns:123")]),
        ),
        c(
            "create folder: NUL",
            create_folder("/new\0folder"),
            Status(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "create folder: trailing slash",
            create_folder("/new/"),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/new/")]),
        ),
        c(
            "create folder: no leading slash",
            create_folder("new/folder"),
            Status(InvalidArgument, INVALID_PATH, &[("path", "new/folder")]),
        ),
        c(
            "create folder: .. component",
            create_folder("/a/../b"),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/a/../b")]),
        ),
        c(
            "create folder: trailing space",
            create_folder("/new "),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/new ")]),
        ),
        c(
            "create folder: component of 256 characters",
            create_folder(&format!("/{}", long(256))),
            Status(InvalidArgument, INVALID_PATH, &[("path", "")]),
        ),
        c(
            "create folder: a rev: reference",
            create_folder("rev:0123456789abcdef"),
            Status(InvalidArgument, INVALID, &[("field", "path")]),
        ),
        c(
            "create folder: unknown connection",
            Call::CreateFolder(pb::CreateFolderRequest {
                connection: "connections/none".into(),
                path: "/new".into(),
                exist_ok: false,
            }),
            Status(NotFound, "CONNECTION_NOT_FOUND", &[]),
        ),
        // ---- DeleteItems ----
        c(
            "delete: no selection",
            Call::Delete(pb::DeleteItemsRequest {
                connection: CONN.into(),
                selection: None,
                dry_run: true,
            }),
            Status(InvalidArgument, INVALID, &[("field", "selection")]),
        ),
        c(
            "delete: the root",
            delete(items(&[("/", "")])),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/")]),
        ),
        c(
            "delete: a rev: path",
            delete(items(&[("rev:0123456789abcdef", "")])),
            Status(InvalidArgument, INVALID, &[("field", "items.path")]),
        ),
        c(
            "delete: parent_rev that is not a revision",
            delete(items(&[("/hostile/a.txt", "HEAD")])),
            Status(InvalidArgument, INVALID, &[("field", "items.rev")]),
        ),
        c(
            "delete: filter folder with ..",
            Call::Delete(pb::DeleteItemsRequest {
                connection: CONN.into(),
                selection: Some(pb::delete_items_request::Selection::Filter(
                    pb::RemoteFileFilter {
                        folder: "/..".into(),
                        ..Default::default()
                    },
                )),
                dry_run: false,
            }),
            Status(InvalidArgument, INVALID_PATH, &[("path", "/..")]),
        ),
        c(
            "delete: missing item is that item's error",
            delete(items(&[("/hostile/none.txt", "")])),
            Item(NotFound, "PATH_NOT_FOUND", &[("path", "/hostile/none.txt")]),
        ),
    ]
}

/// Longest any single case may take before it counts as a hang.
const CASE_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn hostile_inputs_get_clear_errors() {
    let env = Env::start().await;
    env.put("/hostile", "existing.txt", b"x", None).await;
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let outcome = tokio::time::timeout(CASE_DEADLINE, run(&env, case.call)).await;
        let problem = match outcome {
            Err(_) => Some(format!("no answer within {CASE_DEADLINE:?} (hang)")),
            Ok(outcome) => mismatch(&case.expect, &outcome),
        };
        if let Some(p) = problem {
            failures.push(format!("{}: {p}", case.name));
        }
    }
    // The server is still up and serving after all of it.
    env.conns()
        .get_connection(pb::GetConnectionRequest { name: CONN.into() })
        .await
        .expect("the server still answers");
    let log = env.server_log();
    if let Some(at) = log.find("panicked") {
        failures.push(format!(
            "the server panicked: {}",
            &log[at..(at + 300).min(log.len())]
        ));
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.chars().take(600).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    );
    env.stop().await;
}

/// The largest stream the file cap allows gets a result for every file, here per-file
/// errors that quote their path (response_sizes.rs bounds each message).
#[tokio::test]
async fn ten_thousand_refused_files_each_get_their_result() {
    let env = Env::start().await;
    let response = upload_results(
        env.cloud()
            .upload_files(futures::stream::iter(many_files(10_000)))
            .await,
    )
    .await
    .unwrap();
    assert_eq!(response.results.len(), 10_000);
    assert!(response.results.iter().all(|r| matches!(
        &r.outcome,
        Some(pb::file_result::Outcome::Error(e)) if e.reason == "INVALID_ARGUMENT"
    )));
    env.stop().await;
}

/// A message over the server's 8 MiB decoding limit is refused by tonic before the
/// service runs, so it carries no ErrorInfo (not part of the table). A unary request gets
/// tonic's OUT_OF_RANGE; inside an upload stream the service turns the broken stream into
/// INVALID_ARGUMENT with ErrorInfo naming `message`.
#[tokio::test]
async fn oversize_messages_are_refused() {
    let env = Env::start().await;
    let nine_mib = 9 * 1024 * 1024;
    let err = env
        .conns()
        .max_encoding_message_size(16 * 1024 * 1024)
        .create_connection(pb::CreateConnectionRequest {
            connection: Some(pb::Connection {
                display_name: long(nine_mib),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{err:?}"
    );
    assert!(err.message().contains("too large"), "{err:?}");

    let err = upload_results(
        env.cloud()
            .upload_files(futures::stream::iter(vec![
                up_spec("/hostile"),
                up_header("huge.bin", None),
                up_chunk(0, vec![0; nine_mib]),
                up_end(""),
            ]))
            .await,
    )
    .await
    .unwrap_err();
    assert_eq!(
        reason(&err),
        (Code::InvalidArgument, "INVALID_ARGUMENT".into()),
        "{err:?}"
    );
    assert!(err.message().contains("2 MiB"), "{err:?}");
    assert!(env.remote("/hostile/huge.bin").await.is_none());
    env.stop().await;
}
