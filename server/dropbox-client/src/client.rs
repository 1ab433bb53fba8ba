//! The client handle and the request loop shared by every route: auth header, act-as
//! headers, pacing, retries, refresh-on-expiry, timeouts and error decoding.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::HeaderValue;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RANGE, RETRY_AFTER};
use tokio::time::Instant;
use url::Url;

use crate::auth::{Auth, Credentials, TokenSink};
use crate::error::{AuthError, Error, decode_error_response, from_reqwest};
use crate::retry::{Limiter, Pacer, RetryPolicy};
use crate::retry_after::RetryAfter;
use crate::transport::{Endpoints, TransportConfig, build_http_client, route_url};
use crate::wire::escape_header_json;

/// Team headers sent on every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActAs {
    /// `Dropbox-API-Select-User: dbmid:...`
    pub select_user: Option<String>,
    /// `Dropbox-API-Select-Admin: dbmid:...`
    pub select_admin: Option<String>,
    /// `Dropbox-API-Path-Root`
    pub path_root: Option<PathRoot>,
}

/// `Dropbox-API-Path-Root` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRoot {
    /// The user's home namespace.
    Home,
    /// The team space root: `{".tag":"root","root":"<nsid>"}`.
    Root(String),
    /// A namespace: `{".tag":"namespace_id","namespace_id":"<nsid>"}`.
    NamespaceId(String),
}

impl PathRoot {
    fn header_json(&self) -> String {
        let v = match self {
            PathRoot::Home => serde_json::json!({".tag": "home"}),
            PathRoot::Root(ns) => serde_json::json!({".tag": "root", "root": ns}),
            PathRoot::NamespaceId(ns) => {
                serde_json::json!({".tag": "namespace_id", "namespace_id": ns})
            }
        };
        escape_header_json(&v.to_string())
    }
}

/// A Dropbox API client for one connection. Cheap to clone: clones share the HTTP client,
/// the token state (one refresh for all) and the rate-limit pacing.
#[derive(Clone)]
pub struct DropboxClient {
    pub(crate) inner: Arc<Inner>,
    /// Per handle (clones inherit it), so it can be changed on any handle.
    retry: Arc<RetryPolicy>,
    /// When the caller stops waiting (a gRPC call's deadline): no retry, wait or attempt
    /// outlasts it. Per handle, like the retry policy.
    deadline: Option<Instant>,
}

impl std::fmt::Debug for DropboxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropboxClient")
            .field("endpoints", &self.inner.endpoints)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoints: Endpoints,
    pub(crate) auth: Auth,
    act_as_headers: Vec<(&'static str, HeaderValue)>,
    pacer: Pacer,
    limiter: Limiter,
    pub(crate) timeout: Duration,
}

/// Which host a route lives on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Host {
    Api,
    Content,
}

/// How the argument and body travel.
pub(crate) enum Payload<'a> {
    /// JSON body (`null` for no argument).
    Rpc { json: &'a str },
    /// `Dropbox-API-Arg` header + octet-stream body.
    Upload { arg: &'a str, body: Bytes },
    /// `Dropbox-API-Arg` header, optional `Range`.
    Download {
        arg: &'a str,
        range: Option<&'a str>,
    },
}

/// What a successful exchange produced.
pub(crate) enum Received {
    Body(Bytes),
    Stream(reqwest::Response),
}

/// Per-call facts the routes use to resolve ambiguous outcomes.
#[derive(Debug, Default)]
pub(crate) struct CallState {
    /// A retry was sent after an attempt whose outcome is unknown (5xx, timeout, reset):
    /// the first attempt may have been applied.
    pub(crate) after_unknown: bool,
    pub(crate) attempts: u32,
}

/// Upload bodies are fed to the connection in slices this large, which is how the idle
/// timeout notices progress.
const UPLOAD_SLICE: usize = 256 * 1024;

impl DropboxClient {
    /// Build a client. Fails on bad transport config (proxy, CA PEM) or when the credentials
    /// hold neither an access token nor a refresh token with an app key.
    pub fn new(
        transport: &TransportConfig,
        credentials: Credentials,
        act_as: ActAs,
        sink: Option<Arc<dyn TokenSink>>,
    ) -> Result<Self, Error> {
        let http = build_http_client(transport)?;
        let token_url = route_url(&transport.endpoints.api_url, "oauth2/token")?;
        let auth = Auth::new(credentials, token_url, transport.timeout, sink)?;
        let mut act_as_headers = Vec::new();
        let header = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| Error::Config(format!("bad header value {v:?}")))
        };
        if let Some(u) = act_as.select_user.as_deref().filter(|s| !s.is_empty()) {
            act_as_headers.push(("Dropbox-API-Select-User", header(u)?));
        }
        if let Some(a) = act_as.select_admin.as_deref().filter(|s| !s.is_empty()) {
            act_as_headers.push(("Dropbox-API-Select-Admin", header(a)?));
        }
        if let Some(root) = &act_as.path_root {
            act_as_headers.push(("Dropbox-API-Path-Root", header(&root.header_json())?));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoints: transport.endpoints.clone(),
                auth,
                act_as_headers,
                pacer: Pacer::default(),
                limiter: Limiter::default(),
                timeout: transport.timeout,
            }),
            retry: Arc::new(RetryPolicy::default()),
            deadline: None,
        })
    }

    /// This handle (and its future clones) with another retry policy. Token state and
    /// rate-limit pacing stay shared with the other handles.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Arc::new(policy);
        self
    }

    /// The retry policy of this handle.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// This handle (and its future clones) bounded by `deadline`: the budget of every call
    /// (retries, rate-limit waits, backoff, the attempts themselves) ends there at the
    /// latest. Token state and pacing stay shared with the other handles.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The deadline of this handle, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// When a call started at `started` must have given up.
    fn budget_end(&self, started: Instant) -> Instant {
        let by_policy = started + self.retry.max_elapsed;
        match self.deadline {
            Some(d) => d.min(by_policy),
            None => by_policy,
        }
    }

    /// The endpoints this client talks to.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// The current access token (for persisting after a refresh, or for tests). Never log it.
    pub async fn access_token(&self) -> Result<String, Error> {
        self.inner
            .auth
            .token(&self.inner.http)
            .await
            .map(|(t, _)| t)
    }

    fn base(&self, host: Host) -> &Url {
        match host {
            Host::Api => &self.inner.endpoints.api_url,
            Host::Content => &self.inner.endpoints.content_url,
        }
    }

    /// One logical call with retries. See the crate docs for the policy.
    pub(crate) async fn send(
        &self,
        route: &'static str,
        host: Host,
        payload: &Payload<'_>,
        st: &mut CallState,
    ) -> Result<Received, Error> {
        let inner = &self.inner;
        let policy = &*self.retry;
        let url = route_url(self.base(host), &format!("2/{route}"))?;
        let started = Instant::now();
        let budget_end = self.budget_end(started);
        let fits = |wait: Duration| {
            Instant::now()
                .checked_add(wait)
                .is_some_and(|t| t <= budget_end)
        };
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        let mut refreshed = false;
        loop {
            st.attempts += 1;
            let attempt = st.attempts;
            if Instant::now() >= budget_end {
                return Err(Error::Timeout);
            }
            if tokio::time::timeout_at(budget_end, inner.pacer.wait())
                .await
                .is_err()
            {
                tracing::warn!(route, attempt, "paced past the call's deadline; giving up");
                return Err(Error::Timeout);
            }
            let (outcome, generation, not_sent) = match inner.auth.token(&inner.http).await {
                Ok((token, generation)) => {
                    let Ok(permit) =
                        tokio::time::timeout_at(budget_end, inner.limiter.acquire()).await
                    else {
                        tracing::warn!(route, attempt, "no request slot before the deadline");
                        return Err(Error::Timeout);
                    };
                    let (r, not_sent) = match self.deadline {
                        // Only an explicit deadline cuts an attempt short: without one, a
                        // long upload may take longer than the retry budget.
                        Some(_) => {
                            tokio::time::timeout_at(budget_end, self.attempt(&url, &token, payload))
                                .await
                                .unwrap_or((Err(Error::Timeout), false))
                        }
                        None => self.attempt(&url, &token, payload).await,
                    };
                    drop(permit);
                    match &r {
                        Ok(_) => inner.limiter.on_success(),
                        Err(Error::RateLimited { .. }) => inner.limiter.on_rate_limited(),
                        Err(_) => {}
                    }
                    (r, generation, not_sent)
                }
                Err(e) => (Err(e), 0, true),
            };
            let err = match outcome {
                Ok(r) => {
                    tracing::debug!(route, attempt, status = 200, "dropbox call ok");
                    return Ok(r);
                }
                Err(e) => e,
            };
            match &err {
                Error::Unauthorized {
                    tag: AuthError::ExpiredAccessToken,
                    ..
                } if !refreshed && inner.auth.can_refresh() => {
                    tracing::info!(route, attempt, "access token expired; refreshing once");
                    refreshed = true;
                    // The refresh itself may hit a 5xx or a reset: retry it within the budget.
                    let mut refresh_failures = 0u32;
                    loop {
                        match inner.auth.refresh(&inner.http, generation).await {
                            Ok(_) => break,
                            Err(e) if e.is_transient() => {
                                refresh_failures += 1;
                                let delay = policy.backoff(refresh_failures);
                                if refresh_failures >= policy.max_attempts || !fits(delay) {
                                    return Err(e);
                                }
                                tracing::warn!(route, error = %e, "token refresh failed; retrying");
                                tokio::time::sleep(delay).await;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    continue;
                }
                Error::RateLimited { retry_after, .. } => {
                    rate_limited += 1;
                    let wait = *retry_after;
                    inner.pacer.pause(wait);
                    if rate_limited > policy.max_rate_limited_retries || !fits(wait) {
                        tracing::warn!(
                            route,
                            attempt,
                            wait_ms = wait.as_millis() as u64,
                            "rate limited; giving up"
                        );
                        return Err(err);
                    }
                    tracing::warn!(
                        route,
                        attempt,
                        status = 429,
                        wait_ms = wait.as_millis() as u64,
                        "rate limited; waiting"
                    );
                    continue; // the pacer makes this (and every other request) wait
                }
                e if e.is_transient() => {
                    failures += 1;
                    let delay = policy.backoff(failures);
                    if failures >= policy.max_attempts || !fits(delay) {
                        tracing::warn!(route, attempt, error = %e, "giving up after retries");
                        return Err(err);
                    }
                    if !not_sent && e.outcome_unknown() {
                        st.after_unknown = true;
                    }
                    tracing::warn!(route, attempt, error = %e, backoff_ms = delay.as_millis() as u64, "retrying");
                    tokio::time::sleep(delay).await;
                }
                _ => {
                    tracing::debug!(route, attempt, error = %err, "dropbox call failed");
                    return Err(err);
                }
            }
        }
    }

    /// One HTTP exchange. The bool is true when the request surely never reached the server.
    async fn attempt(
        &self,
        url: &Url,
        token: &str,
        payload: &Payload<'_>,
    ) -> (Result<Received, Error>, bool) {
        let inner = &self.inner;
        let timeout = inner.timeout;
        let mut req = inner.http.post(url.clone());
        let mut auth = match HeaderValue::from_str(&format!("Bearer {token}")) {
            Ok(v) => v,
            Err(_) => {
                return (
                    Err(Error::Config(
                        "access token is not a valid header value".into(),
                    )),
                    true,
                );
            }
        };
        auth.set_sensitive(true);
        req = req.header(AUTHORIZATION, auth);
        for (name, value) in &inner.act_as_headers {
            req = req.header(*name, value.clone());
        }
        let result = match payload {
            Payload::Rpc { json } => {
                let req = req
                    .header(CONTENT_TYPE, "application/json")
                    .body(json.to_string());
                let fut = async {
                    let resp = req.send().await?;
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    let body = resp.bytes().await?;
                    Ok::<_, reqwest::Error>((status, retry_after, body))
                };
                match tokio::time::timeout(timeout, fut).await {
                    Err(_) => Err(Error::Timeout),
                    Ok(Err(e)) => return classify(e),
                    Ok(Ok((status, ra, body))) => finish_buffered(status.as_u16(), ra, body),
                }
            }
            Payload::Upload { arg, body } => {
                let progress = Arc::new(AtomicU64::new(0));
                let start = Instant::now();
                let req = req
                    .header("Dropbox-API-Arg", *arg)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, body.len())
                    .body(reqwest::Body::wrap_stream(sliced(
                        body.clone(),
                        progress.clone(),
                        start,
                    )));
                let fut = async {
                    let resp = req.send().await?;
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    let body = resp.bytes().await?;
                    Ok::<_, reqwest::Error>((status, retry_after, body))
                };
                tokio::pin!(fut);
                let outcome = tokio::select! {
                    r = &mut fut => Some(r),
                    () = idle_watch(progress, start, timeout) => None,
                };
                match outcome {
                    None => Err(Error::Timeout),
                    Some(Err(e)) => return classify(e),
                    Some(Ok((status, ra, body))) => finish_buffered(status.as_u16(), ra, body),
                }
            }
            Payload::Download { arg, range } => {
                let mut req = req.header("Dropbox-API-Arg", *arg);
                if let Some(r) = range {
                    req = req.header(RANGE, *r);
                }
                match tokio::time::timeout(timeout, req.send()).await {
                    Err(_) => Err(Error::Timeout),
                    Ok(Err(e)) => return classify(e),
                    Ok(Ok(resp)) if resp.status().is_success() => Ok(Received::Stream(resp)),
                    Ok(Ok(resp)) => {
                        let status = resp.status().as_u16();
                        let ra = retry_after(&resp);
                        match tokio::time::timeout(timeout, resp.bytes()).await {
                            Ok(Ok(body)) => Err(decode_error_response(status, ra, &body)),
                            _ => Err(decode_error_response(status, ra, b"")),
                        }
                    }
                }
            }
        };
        (result, false)
    }
}

fn classify(e: reqwest::Error) -> (Result<Received, Error>, bool) {
    let not_sent = e.is_connect();
    (Err(from_reqwest(e)), not_sent)
}

fn finish_buffered(
    status: u16,
    retry_after: Option<RetryAfter>,
    body: Bytes,
) -> Result<Received, Error> {
    if (200..300).contains(&status) {
        Ok(Received::Body(body))
    } else {
        Err(decode_error_response(status, retry_after, &body))
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<RetryAfter> {
    let v = resp.headers().get(RETRY_AFTER)?.to_str().ok()?;
    crate::retry_after::parse_header(v, time::OffsetDateTime::now_utc())
}

/// The body as a stream of slices; records (ms since `start`) whenever hyper pulls a slice.
fn sliced(
    body: Bytes,
    progress: Arc<AtomicU64>,
    start: Instant,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let n = body.len().div_ceil(UPLOAD_SLICE);
    futures::stream::iter(0..n).map(move |i| {
        progress.store(start.elapsed().as_millis() as u64, Ordering::Relaxed);
        let from = i * UPLOAD_SLICE;
        let to = (from + UPLOAD_SLICE).min(body.len());
        Ok(body.slice(from..to))
    })
}

/// Resolves once no progress was recorded for `timeout`.
async fn idle_watch(progress: Arc<AtomicU64>, start: Instant, timeout: Duration) {
    loop {
        let last = start + Duration::from_millis(progress.load(Ordering::Relaxed));
        let deadline = last + timeout;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// Wrap a download response as a stream with a per-read idle timeout.
pub(crate) fn body_stream(
    resp: reqwest::Response,
    idle: Duration,
) -> futures::stream::BoxStream<'static, Result<Bytes, Error>> {
    let stream = resp.bytes_stream();
    futures::stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => Some((Err(Error::Timeout), None)),
            Ok(None) => None,
            Ok(Some(Ok(b))) => Some((Ok(b), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(from_reqwest(e)), None)),
        }
    })
    .boxed()
}
