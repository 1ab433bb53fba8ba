//! `/2/<namespace>/<route>`: argument extraction per endpoint style, authentication,
//! fault injection and the request log, then the route handlers.

mod download;
mod files;
mod resolve;
mod revisions;
mod upload;
mod users;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::auth::{self, Actor, Caller};
use crate::faults::{FaultKind, FaultSpec, Phase};
use crate::server::ConnKill;
use crate::state::AppState;
use crate::wire::{self, ApiError};

pub use resolve::{parse_path, resolve, resolve_node};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    Rpc,
    Upload,
    Download,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Access {
    /// Acts as a user (team tokens need Select-User/Select-Admin).
    User,
    /// Any valid token.
    Token,
}

fn spec(route: &str) -> Option<(Style, Access)> {
    use Access::*;
    use Style::*;
    Some(match route {
        "files/upload"
        | "files/upload_session/start"
        | "files/upload_session/append_v2"
        | "files/upload_session/append"
        | "files/upload_session/finish" => (Upload, User),
        "files/download" | "files/download_zip" => (Download, User),
        "files/upload_session/finish_batch_v2"
        | "files/upload_session/finish_batch"
        | "files/upload_session/finish_batch/check"
        | "files/list_folder"
        | "files/list_folder/continue"
        | "files/list_folder/get_latest_cursor"
        | "files/get_metadata"
        | "files/list_revisions"
        | "files/create_folder_v2"
        | "files/delete_v2"
        | "files/delete_batch"
        | "files/delete_batch/check"
        | "users/get_current_account"
        | "users/get_space_usage" => (Rpc, User),
        "auth/token/revoke" | "team/get_info" | "team/members/list_v2" | "check/user" => {
            (Rpc, Token)
        }
        _ => return None,
    })
}

/// What a handler gets.
pub struct Ctx {
    pub st: AppState,
    pub arg: Value,
    pub body: std::sync::Mutex<Option<Body>>,
    pub headers: HeaderMap,
    pub caller: Option<Caller>,
    pub token: String,
    pub content_length: Option<u64>,
}

impl Ctx {
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller
            .as_ref()
            .ok_or_else(|| ApiError::bad("this route needs a user"))
    }

    pub fn take_body(&self) -> Body {
        crate::state::lock(&self.body)
            .take()
            .unwrap_or_else(Body::empty)
    }
}

async fn run(route: &str, ctx: Ctx) -> Result<Response, ApiError> {
    match route {
        "files/upload" => upload::upload(ctx).await,
        "files/upload_session/start" => upload::start(ctx).await,
        "files/upload_session/append_v2" => upload::append(ctx, true).await,
        "files/upload_session/append" => upload::append(ctx, false).await,
        "files/upload_session/finish" => upload::finish(ctx).await,
        "files/upload_session/finish_batch_v2" => upload::finish_batch(ctx, false).await,
        "files/upload_session/finish_batch" => upload::finish_batch(ctx, true).await,
        "files/upload_session/finish_batch/check" => files::job_check(ctx, true),
        "files/download" => download::download(ctx).await,
        "files/download_zip" => download::download_zip(ctx).await,
        "files/list_folder" => files::list_folder(ctx),
        "files/list_folder/continue" => files::list_folder_continue(ctx),
        "files/list_folder/get_latest_cursor" => files::latest_cursor(ctx),
        "files/get_metadata" => files::get_metadata(ctx),
        "files/list_revisions" => revisions::list_revisions(ctx),
        "files/create_folder_v2" => files::create_folder(ctx).await,
        "files/delete_v2" => files::delete(ctx).await,
        "files/delete_batch" => files::delete_batch(ctx).await,
        "files/delete_batch/check" => files::job_check(ctx, false),
        "users/get_current_account" => users::current_account(ctx),
        "users/get_space_usage" => users::space_usage(ctx),
        "auth/token/revoke" => users::revoke(ctx).await,
        "team/get_info" => users::team_info(ctx),
        "team/members/list_v2" => users::team_members(ctx),
        "check/user" => Ok(wire::json_ok(
            &json!({"result": ctx.arg.get("query").cloned().unwrap_or(json!(""))}),
        )),
        _ => Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("Unknown API function: \"{route}\""),
        )),
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/2/{*route}", post(api))
        .route(
            "/oauth2/authorize",
            get(crate::oauth::authorize_page).post(crate::oauth::authorize_submit),
        )
        .route("/oauth2/token", post(crate::oauth::token))
        .nest("/__emulator", crate::control::router())
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

const LOGGED_HEADERS: [&str; 7] = [
    "dropbox-api-select-user",
    "dropbox-api-select-admin",
    "dropbox-api-path-root",
    "content-type",
    "content-length",
    "range",
    "user-agent",
];

async fn api(
    State(st): State<AppState>,
    Path(route): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    kill: Option<axum::Extension<ConnKill>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let latency = st.0.network.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let kill = kill.map(|k| k.0);
    let mut log = json!({ "route": route, "method": "POST" });
    let mut selected = serde_json::Map::new();
    for name in LOGGED_HEADERS {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            selected.insert(name.into(), json!(v));
        }
    }
    log["headers"] = Value::Object(selected);

    let fault = st.0.faults.take(&route);
    let response = match handle(
        &st,
        &route,
        &query,
        &headers,
        body,
        fault.as_ref(),
        kill.as_ref(),
        &mut log,
    )
    .await
    {
        Ok(resp) => resp,
        Err(err) => wire::error_response(&route, &err),
    };
    let response = match (&fault, &kill) {
        (Some(f), Some(k)) => {
            if response.status().is_success() && is_response_fault(f) {
                log["fault"] = json!(if f.kind == FaultKind::Reset {
                    "reset"
                } else {
                    "corrupt"
                });
            }
            apply_response_fault(f, k.clone(), response)
        }
        _ => response,
    };
    log["status"] = json!(response.status().as_u16());
    st.record(log);
    response
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    st: &AppState,
    route: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
    fault: Option<&FaultSpec>,
    kill: Option<&ConnKill>,
    log: &mut Value,
) -> Result<Response, ApiError> {
    let Some((style, access)) = spec(route) else {
        return Err(ApiError::Status(
            StatusCode::NOT_FOUND,
            format!("Unknown API function: \"{route}\""),
        ));
    };
    let content_length = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = Some(body);
    if let Some(f) = fault {
        match f.kind {
            FaultKind::Status => {
                log["fault"] = json!("status");
                if f.status == Some(401) {
                    expire_presented_token(st, headers, query);
                }
                match f.phase {
                    Some(Phase::Early) => {
                        log["phase"] = json!("early");
                        let unread = body.take().unwrap_or_else(Body::empty);
                        tokio::spawn(read_some(unread, u64::MAX));
                        return Ok(status_fault(f));
                    }
                    Some(Phase::EarlyClose) => {
                        log["phase"] = json!("early_close");
                        return Ok(early_close(status_fault(f)));
                    }
                    _ => {}
                }
                read_some(body.take().unwrap_or_else(Body::empty), u64::MAX).await;
                return Ok(status_fault(f));
            }
            FaultKind::Reset => {
                let phase = f.phase.unwrap_or(if style == Style::Upload {
                    Phase::Request
                } else {
                    Phase::Response
                });
                if phase == Phase::Request {
                    log["fault"] = json!("reset");
                    if let Some(kill) = kill {
                        // The handler never returns from here: log the request now.
                        st.record(log.clone());
                        let half = content_length.unwrap_or(0) / 2;
                        read_some(body.take().unwrap_or_else(Body::empty), half).await;
                        kill.kill();
                        std::future::pending::<()>().await;
                    }
                }
            }
            FaultKind::Corrupt => {}
        }
    }
    // The argument.
    let arg = match style {
        Style::Rpc => {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let raw = read_small(body.take().unwrap_or_else(Body::empty)).await?;
            let ct_main = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let cors = ct
                .replace(' ', "")
                .eq_ignore_ascii_case("text/plain;charset=dropbox-cors-hack");
            if !(ct_main == "application/json" || cors || (ct.is_empty() && raw.is_empty())) {
                return Err(ApiError::bad(format!(
                    "Bad HTTP \"Content-Type\" header: \"{ct}\".  Expecting one of \"application/json\", \"application/json; charset=utf-8\", \"text/plain; charset=dropbox-cors-hack\"."
                )));
            }
            wire::parse_json(&raw, "request body")?
        }
        Style::Upload | Style::Download => {
            if style == Style::Upload {
                let ct = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let cors = ct
                    .replace(' ', "")
                    .eq_ignore_ascii_case("text/plain;charset=dropbox-cors-hack");
                let main = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if !(main == "application/octet-stream" || cors) {
                    return Err(ApiError::bad(format!(
                        "Bad HTTP \"Content-Type\" header: \"{ct}\".  Expecting one of \"application/octet-stream\", \"text/plain; charset=dropbox-cors-hack\"."
                    )));
                }
            }
            match headers.get("dropbox-api-arg") {
                Some(v) => {
                    let s = v.to_str().map_err(|_| {
                        ApiError::bad(
                            "HTTP header \"Dropbox-API-Arg\": could not decode input as JSON",
                        )
                    })?;
                    wire::parse_json(s.as_bytes(), "HTTP header \"Dropbox-API-Arg\"")?
                }
                None => match query.get("arg") {
                    Some(a) => wire::parse_json(a.as_bytes(), "URL parameter \"arg\"")?,
                    None => Value::Null,
                },
            }
        }
    };
    log["arg"] = arg.clone();

    // Who is calling. A refusal is sent after the body was read, as Dropbox does: an
    // answer sent while the client is still writing reaches it as a broken pipe.
    let who = (|| {
        let token = auth::bearer(headers, query)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::bad(
                    "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".",
                )
            })?;
        let data = st.data();
        let subject = data.tokens.check(&data.dir, &token)?;
        let team_route = access == Access::Token;
        let caller = match auth::actor(&data.dir, &subject, headers, team_route)? {
            Actor::User(c) => Some(*c),
            Actor::Team => None,
        };
        Ok::<_, ApiError>((token, caller))
    })();
    let (token, caller) = match who {
        Ok(v) => v,
        Err(e) => {
            if let Some(unread) = body.take() {
                read_some(unread, u64::MAX).await;
            }
            return Err(e);
        }
    };
    if let Some(c) = &caller {
        log["account_id"] = json!(c.account.account_id);
        log["namespace_id"] = json!(c.ns);
    }
    let ctx = Ctx {
        st: st.clone(),
        arg,
        body: std::sync::Mutex::new(body),
        headers: headers.clone(),
        caller,
        token,
        content_length,
    };
    run(route, ctx).await
}

/// Reads up to `n` bytes of a body, then stops.
async fn read_some(body: Body, n: u64) {
    let mut seen = 0u64;
    let mut stream = body.into_data_stream();
    while seen < n.max(1) {
        match stream.next().await {
            Some(Ok(chunk)) => seen += chunk.len() as u64,
            _ => break,
        }
    }
}

/// An RPC body (at most 8 MiB).
async fn read_small(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, 8 * 1024 * 1024)
        .await
        .map_err(|_| ApiError::bad("request body: could not read the body"))
}

/// An injected 401 stands for a token that expired: the token really stops working, so
/// only a client that refreshes gets through afterwards.
fn expire_presented_token(st: &AppState, headers: &HeaderMap, query: &HashMap<String, String>) {
    if let Some(token) = auth::bearer(headers, query) {
        st.data().tokens.expire(&token);
    }
}

/// An answer sent while the request body is still unread: the connection is closed after it,
/// since the rest of the body will never be read.
fn early_close(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

fn status_fault(f: &FaultSpec) -> Response {
    let status = f.status.unwrap_or(429);
    match status {
        401 => wire::error_response("", &ApiError::auth("expired_access_token")),
        429 => wire::rate_limited(
            f.retry_after.unwrap_or(1),
            match f.reason.as_deref() {
                Some("too_many_write_operations") => "too_many_write_operations",
                _ => "too_many_requests",
            },
        ),
        500 => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
        s => {
            let code = StatusCode::from_u16(s).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut r = wire::text(code, format!("injected fault: {s}"));
            if s == 503
                && let Ok(v) =
                    axum::http::HeaderValue::from_str(&f.retry_after.unwrap_or(1).to_string())
            {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
    }
}

/// A fault applied to the response body (rather than to the request).
fn is_response_fault(f: &FaultSpec) -> bool {
    (f.kind == FaultKind::Reset && f.phase != Some(Phase::Request)) || f.kind == FaultKind::Corrupt
}

/// Cuts the response body halfway (reset) or flips one byte in its middle (corrupt).
fn apply_response_fault(f: &FaultSpec, kill: ConnKill, response: Response) -> Response {
    let reset = f.kind == FaultKind::Reset && f.phase != Some(Phase::Request);
    if !is_response_fault(f) {
        return response;
    }
    let len = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = response.into_parts();
    let target = len.map(|l| l / 2).unwrap_or(0);
    let stream = async_stream_body(body, target, reset, kill);
    Response::from_parts(parts, Body::from_stream(stream))
}

fn async_stream_body(
    body: Body,
    target: u64,
    reset: bool,
    _kill: ConnKill,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    #[derive(Clone, Copy, PartialEq)]
    enum Next {
        Pass,
        Fail,
        Stop,
    }
    let stream = body.into_data_stream();
    futures::stream::unfold(
        (stream, 0u64, false, Next::Pass),
        move |(mut stream, pos, flipped, next)| async move {
            match next {
                Next::Stop => return None,
                Next::Fail => {
                    // Let the part before the cut reach the client first.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    let err = std::io::Error::other(format!("injected reset after {pos} bytes"));
                    return Some((Err(err), (stream, pos, flipped, Next::Stop)));
                }
                Next::Pass => {}
            }
            match stream.next().await {
                Some(Ok(chunk)) => {
                    let start = pos;
                    let end = pos + chunk.len() as u64;
                    if reset && end >= target {
                        // The part before the cut, then an error that aborts the connection.
                        let keep = (target.saturating_sub(start) as usize).min(chunk.len());
                        let part = chunk.slice(..keep);
                        return Some((Ok(part), (stream, target, flipped, Next::Fail)));
                    }
                    if !reset && !flipped && !chunk.is_empty() && end > target {
                        let mut v = chunk.to_vec();
                        let i = target.saturating_sub(start) as usize;
                        if let Some(b) = v.get_mut(i) {
                            *b ^= 0xFF;
                        }
                        return Some((Ok(Bytes::from(v)), (stream, end, true, Next::Pass)));
                    }
                    Some((Ok(chunk), (stream, end, flipped, Next::Pass)))
                }
                Some(Err(e)) => Some((
                    Err(std::io::Error::other(e.to_string())),
                    (stream, pos, flipped, Next::Stop),
                )),
                None if reset => {
                    let err = std::io::Error::other("injected reset");
                    Some((Err(err), (stream, pos, flipped, Next::Stop)))
                }
                None => None,
            }
        },
    )
}
