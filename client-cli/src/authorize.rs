//! `dbxc connection authorize` (OAuth 2 in the browser, via the server's
//! StartAuthorization / CompleteAuthorization) and `dbxc connection test`.

use std::time::{Duration, Instant};

use clap::Args;
use dropbox_connector_proto::v1::{
    CompleteAuthorizationRequest, Connection, StartAuthorizationRequest, TestConnectionRequest,
    TestConnectionResponse,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Ctx;
use crate::exit::CliError;
use crate::output::{
    connection_json, emit, emit_json, emit_text, item_error_json, item_error_text,
};

/// `dbxc connection authorize`.
#[derive(Debug, Args)]
#[command(after_help = "\
With a redirect URI on http://localhost or http://127.0.0.1, dbxc listens on its port
(127.0.0.1), opens the browser ($BROWSER if set, else xdg-open) and completes when Dropbox
redirects back. With --no-redirect (or a redirect URI elsewhere) it reads the code, or the
whole redirected URL, from standard input. The URL is always printed on stderr.")]
pub struct AuthorizeArgs {
    /// Display name or `connections/{id}`.
    pub name: String,
    /// Only print the URL; do not start a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Use this redirect URI instead of the connection's (it must be registered for the app).
    #[arg(long, value_name = "URI", conflicts_with = "no_redirect")]
    pub redirect_uri: Option<String>,
    /// No redirect: Dropbox shows a code, paste it on standard input.
    #[arg(long)]
    pub no_redirect: bool,
    /// Give up after this long (e.g. 300s, 10m).
    #[arg(long, value_name = "DURATION", default_value = "300s",
          value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// `dbxc connection test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Display name or `connections/{id}`.
    pub name: String,
}

/// Runs `dbxc connection authorize`.
pub async fn authorize(ctx: &Ctx, args: AuthorizeArgs) -> Result<(), CliError> {
    let mut client = ctx.connections();
    let started = client
        .start_authorization(StartAuthorizationRequest {
            name: args.name.clone(),
            redirect_uri: args.redirect_uri.clone().unwrap_or_default(),
            no_redirect: args.no_redirect,
        })
        .await?
        .into_inner();
    let loopback = if args.no_redirect || started.redirect_uri.is_empty() {
        None
    } else {
        loopback_target(&started.redirect_uri)
    };
    // Listen before the browser can arrive.
    let listener = match &loopback {
        Some((port, _)) => Some(
            TcpListener::bind(("127.0.0.1", *port))
                .await
                .map_err(|e| {
                    CliError::failure(format!(
                        "cannot listen on 127.0.0.1:{port} for the redirect to {}: {e} \
                         (is another program using the port? pass --redirect-uri with a free port registered for the app)",
                        started.redirect_uri
                    ))
                })?,
        ),
        None => None,
    };
    eprintln!(
        "Open this URL in a browser to authorize {}:\n  {}",
        args.name, started.authorize_url
    );
    if !args.no_browser {
        open_browser(&started.authorize_url);
    }

    let wait = async {
        match (&listener, &loopback) {
            (Some(listener), Some((_, path))) => {
                eprintln!("Waiting for the redirect to {} ...", started.redirect_uri);
                wait_for_redirect(ctx, listener, path, &started.state).await
            }
            _ => {
                eprintln!(
                    "Paste the code Dropbox shows (or the whole redirected URL), then Enter:"
                );
                let (code, state) = read_pasted_code().await?;
                let state = state.unwrap_or_else(|| started.state.clone());
                complete(ctx, &state, &code).await
            }
        }
    };
    let connection = tokio::time::timeout(args.timeout, wait)
        .await
        .map_err(|_| {
            CliError::failure(format!(
                "timed out after {} waiting for the authorization of {} (nobody allowed access in the browser{}); run the command again",
                humantime::format_duration(args.timeout),
                args.name,
                if listener.is_some() {
                    format!(", no redirect reached {}", started.redirect_uri)
                } else {
                    String::new()
                }
            ))
        })??;
    print_authorized(ctx, &connection);
    Ok(())
}

async fn complete(ctx: &Ctx, state: &str, code: &str) -> Result<Connection, CliError> {
    Ok(ctx
        .connections()
        .complete_authorization(CompleteAuthorizationRequest {
            state: state.to_string(),
            code: code.to_string(),
        })
        .await?
        .into_inner()
        .connection
        .unwrap_or_default())
}

fn print_authorized(ctx: &Ctx, c: &Connection) {
    if ctx.json {
        emit_json(&connection_json(c));
        return;
    }
    let account = c.account.clone().unwrap_or_default();
    emit_text(&format!(
        "authorized {} ({}): {} <{}>, account {}",
        c.display_name, c.name, account.display_name, account.email, account.account_id
    ));
}

/// The port and path to listen for when `uri` is http on localhost / 127.0.0.1.
fn loopback_target(uri: &str) -> Option<(u16, String)> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()?),
        None => (authority, 80),
    };
    if !(host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1") {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let path = if path.is_empty() { "/" } else { path };
    Some((port, path.to_string()))
}

/// Starts `$BROWSER` (or xdg-open) on `url`, without waiting for it.
fn open_browser(url: &str) {
    let spec = std::env::var("BROWSER").ok().and_then(|b| {
        b.split(':')
            .map(str::trim)
            .find(|s| !s.is_empty())
            .map(String::from)
    });
    let (program, mut argv) = match &spec {
        Some(spec) => {
            let mut words = spec.split_whitespace().map(String::from);
            let program = words.next().unwrap_or_default();
            (program, words.collect::<Vec<_>>())
        }
        None => ("xdg-open".to_string(), Vec::new()),
    };
    if argv.iter().any(|a| a.contains("%s")) {
        for a in &mut argv {
            *a = a.replace("%s", url);
        }
    } else {
        argv.push(url.to_string());
    }
    match tokio::process::Command::new(&program)
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            // Reap it if it exits while we wait; never kill the user's browser.
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => eprintln!("could not start the browser ({program}): {e}; open the URL yourself"),
    }
}

/// What the redirect for our authorization brought.
enum Redirect {
    /// Dropbox's code; the browser waits on `stream` for the outcome.
    Code { code: String, stream: TcpStream },
    /// Dropbox answered with an error (the user said no, or the request was bad).
    Refused { error: String, description: String },
}

/// Answers requests on `listener` until one to `path` carries the expected `state`, and
/// completes the authorization with its code.
async fn wait_for_redirect(
    ctx: &Ctx,
    listener: &TcpListener,
    path: &str,
    expected_state: &str,
) -> Result<Connection, CliError> {
    match next_redirect(listener, path, expected_state).await {
        Redirect::Refused { error, description } => Err(CliError::failure(format!(
            "Dropbox refused the authorization: {error} {description}"
        ))),
        Redirect::Code { code, mut stream } => match complete(ctx, expected_state, &code).await {
            Ok(connection) => {
                respond(
                    &mut stream,
                    "200 OK",
                    "Authorized",
                    "dbxc has the authorization. You can close this tab.",
                )
                .await;
                Ok(connection)
            }
            Err(e) => {
                respond(
                    &mut stream,
                    "200 OK",
                    "Authorization failed",
                    &format!("dbxc could not complete the authorization: {}", e.message),
                )
                .await;
                Err(e)
            }
        },
    }
}

/// Waits for the redirect of this authorization. Any web page the browser has open can send
/// requests to a loopback port, so a request counts only when it carries the `state` that
/// only Dropbox's redirect knows: everything else, `?error=...` included, is answered and
/// ignored, so that it can neither end nor hijack the flow.
async fn next_redirect(listener: &TcpListener, path: &str, expected_state: &str) -> Redirect {
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => continue,
        };
        let Some(target) = read_request_target(&mut stream).await else {
            continue;
        };
        let (req_path, query) = target.split_once('?').unwrap_or((&target, ""));
        if req_path != path {
            respond(&mut stream, "404 Not Found", "Not found", "Nothing here.").await;
            continue;
        }
        let params = parse_query(query);
        let get = |k: &str| {
            params
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        };
        if get("state").as_deref() != Some(expected_state) {
            respond(
                &mut stream,
                "400 Bad Request",
                "Unexpected request",
                "This request does not belong to the authorization dbxc is waiting for; still waiting.",
            )
            .await;
            continue;
        }
        if let Some(error) = get("error") {
            let description = get("error_description").unwrap_or_default();
            respond(
                &mut stream,
                "200 OK",
                "Authorization refused",
                &format!("Dropbox answered {error}: {description}. You can close this tab."),
            )
            .await;
            return Redirect::Refused { error, description };
        }
        let Some(code) = get("code").filter(|c| !c.is_empty()) else {
            respond(
                &mut stream,
                "400 Bad Request",
                "Missing code",
                "This request has no code; waiting for the Dropbox redirect.",
            )
            .await;
            continue;
        };
        return Redirect::Code { code, stream };
    }
}

/// Reads the request head and returns the request target of a GET, if any.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next()?.split_whitespace();
    let method = parts.next()?;
    let target = parts.next()?.to_string();
    (method == "GET").then_some(target)
}

async fn respond(stream: &mut TcpStream, status: &str, title: &str, message: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{}</p></body></html>",
        html_escape(message)
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Reads one line from stdin: a code, or a redirected URL carrying `code` (and `state`).
async fn read_pasted_code() -> Result<(String, Option<String>), CliError> {
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| CliError::failure(format!("reading standard input: {e}")))?
    .map_err(|e| CliError::failure(format!("reading standard input: {e}")))?;
    let line = line.trim();
    if line.is_empty() {
        return Err(CliError::usage("no code given on standard input"));
    }
    if let Some((_, query)) = line.split_once('?') {
        let params = parse_query(query.split('#').next().unwrap_or(""));
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let Some(code) = get("code") {
            return Ok((code, get("state")));
        }
    }
    Ok((line.to_string(), None))
}

/// Runs `dbxc connection test`.
pub async fn test(ctx: &Ctx, args: TestArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let response = ctx
        .connections()
        .test_connection(TestConnectionRequest {
            name: args.name.clone(),
        })
        .await?
        .into_inner();
    if ctx.json {
        emit_json(&test_json(&response));
    } else {
        for step in &response.steps {
            let mut line = format!(
                "{:<8} {:<6} {:>7}  {}",
                step.step,
                if step.ok { "ok" } else { "failed" },
                duration_text(step.duration.as_ref()),
                step.detail
            );
            if let Some(error) = &step.error {
                line.push_str(&format!(" ({})", item_error_text(error)));
            }
            emit_text(&line);
        }
        if let Some(account) = &response.account {
            emit_text(&format!(
                "account  {} <{}> ({}, {})",
                account.display_name, account.email, account.account_type, account.account_id
            ));
        }
        if !ctx.quiet {
            emit(&format!(
                "{} in {} ms",
                if response.ok { "ok" } else { "failed" },
                started.elapsed().as_millis()
            ));
        }
    }
    if response.ok {
        Ok(())
    } else {
        let failed = response
            .steps
            .iter()
            .find(|s| !s.ok)
            .map(|s| {
                let why = s
                    .error
                    .as_ref()
                    .map(item_error_text)
                    .unwrap_or_else(|| s.detail.clone());
                format!("step {:?} failed: {why}", s.step)
            })
            .unwrap_or_else(|| "the test failed".to_string());
        Err(CliError::failure(format!(
            "connection test of {} failed: {failed}",
            args.name
        )))
    }
}

fn duration_ms(d: Option<&prost_types::Duration>) -> Option<f64> {
    d.map(|d| d.seconds as f64 * 1000.0 + f64::from(d.nanos) / 1e6)
}

fn duration_text(d: Option<&prost_types::Duration>) -> String {
    match duration_ms(d) {
        Some(ms) => format!("{ms:.0} ms"),
        None => "-".to_string(),
    }
}

fn test_json(r: &TestConnectionResponse) -> Value {
    let steps: Vec<Value> = r
        .steps
        .iter()
        .map(|s| {
            json!({
                "step": s.step,
                "ok": s.ok,
                "detail": s.detail,
                "duration_ms": duration_ms(s.duration.as_ref()),
                "error": s.error.as_ref().map(item_error_json),
            })
        })
        .collect();
    let account = r.account.as_ref().map(|a| {
        json!({
            "account_id": a.account_id,
            "email": a.email,
            "display_name": a.display_name,
            "account_type": a.account_type,
        })
    });
    json!({ "ok": r.ok, "steps": steps, "account": account })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets() {
        assert_eq!(
            loopback_target("http://localhost:9999"),
            Some((9999, "/".to_string()))
        );
        assert_eq!(
            loopback_target("http://127.0.0.1:8080/cb?x=1"),
            Some((8080, "/cb".to_string()))
        );
        assert_eq!(loopback_target("http://localhost"), Some((80, "/".into())));
        assert_eq!(loopback_target("https://localhost:9999"), None);
        assert_eq!(loopback_target("http://example.com:9999/"), None);
    }

    /// Sends one GET to the listener and returns the response's status line.
    async fn get(port: u16, target: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response.lines().next().unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn only_the_redirect_with_our_state_ends_the_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiting = tokio::spawn(async move { next_redirect(&listener, "/cb", "st4te").await });
        // A page in the browser trying to abort or hijack the flow: each is answered and
        // ignored (the answer comes before the next request, so the wait saw each one).
        for target in [
            "/cb?error=access_denied",
            "/cb?error=access_denied&state=wrong",
            "/cb?code=attacker-code",
            "/cb?code=attacker-code&state=wrong",
            "/cb?code=attacker-code&state=st4te-and-more",
        ] {
            let status = get(port, target).await;
            assert!(status.contains("400"), "{target}: {status}");
            assert!(!waiting.is_finished(), "{target} ended the wait");
        }
        assert!(get(port, "/other?state=st4te&code=x").await.contains("404"));
        assert!(!waiting.is_finished());

        let responder = tokio::spawn(get(port, "/cb?code=the-code&state=st4te"));
        match tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .unwrap()
            .unwrap()
        {
            Redirect::Code { code, mut stream } => {
                assert_eq!(code, "the-code");
                respond(&mut stream, "200 OK", "Authorized", "ok").await;
            }
            Redirect::Refused { error, .. } => panic!("refused: {error}"),
        }
        assert!(responder.await.unwrap().contains("200"));
    }

    #[tokio::test]
    async fn an_error_with_our_state_ends_the_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiting = tokio::spawn(async move { next_redirect(&listener, "/", "st4te").await });
        let status = get(
            port,
            "/?error=access_denied&error_description=no&state=st4te",
        )
        .await;
        assert!(status.contains("200"), "{status}");
        match waiting.await.unwrap() {
            Redirect::Refused { error, description } => {
                assert_eq!(
                    (error.as_str(), description.as_str()),
                    ("access_denied", "no")
                );
            }
            Redirect::Code { .. } => panic!("no code was sent"),
        }
    }

    #[test]
    fn query_decoding() {
        let q = parse_query("code=a%2Fb+c&state=xyz&bad=%zz&end=%4");
        assert_eq!(q[0], ("code".into(), "a/b c".into()));
        assert_eq!(q[1], ("state".into(), "xyz".into()));
        assert_eq!(q[2], ("bad".into(), "%zz".into()));
        assert_eq!(q[3], ("end".into(), "%4".into()));
    }
}
