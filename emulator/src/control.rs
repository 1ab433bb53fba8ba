//! `/__emulator/...`: the control API for tests (accounts, reset, faults, token expiry,
//! network shaping, the request log).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppRegistration;
use crate::accounts::Kind;
use crate::auth::Subject;
use crate::faults::FaultSpec;
use crate::state::{AppState, lock};
use crate::wire;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/health",
            get(|| async { wire::json_ok(&json!({"ok": true})) }),
        )
        .route("/accounts", get(accounts).post(add_account))
        .route("/apps", post(add_app))
        .route("/reset", post(reset))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/tokens", get(list_tokens).post(issue_tokens))
        .route("/tokens/expire", post(expire_tokens))
        .route("/network", get(get_network).post(set_network))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/downloads", get(downloads))
        .route("/hostile_name", post(hostile_name))
}

#[derive(Deserialize)]
struct HostileName {
    /// The account's access token.
    token: String,
    /// The existing item, e.g. "/dl/escape.txt".
    path: String,
    /// The name reported from now on, bypassing Dropbox's name rules (e.g. "../../x").
    name: String,
}

/// Makes an existing item report a name Dropbox would never give (`..`, `/`, `\`,
/// drive letters), so clients can be tested against a hostile or broken remote side.
async fn hostile_name(State(st): State<AppState>, raw: String) -> Response {
    let req: HostileName = match serde_json::from_str(&raw) {
        Ok(r) => r,
        Err(e) => return bad(&format!("invalid hostile_name request: {e}")),
    };
    let mut data = st.data();
    let Some(ns) = data
        .dir
        .accounts
        .iter()
        .find(|a| a.access_token.as_deref() == Some(req.token.as_str()))
        .map(|a| a.root_namespace_id.clone())
    else {
        return bad("no account has that token");
    };
    let components: Vec<String> = req
        .path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let key = crate::paths::key_of(&components);
    match data.tree.ns_mut(&ns).entries.get_mut(&key) {
        Some(node) => {
            node.name = req.name;
            wire::json_ok(&json!({ "ok": true }))
        }
        None => bad("no item at that path"),
    }
}

fn bad(msg: &str) -> Response {
    wire::json_status(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}

/// Parses an optional JSON body (empty = `{}`).
fn body_json(raw: &str) -> Result<Value, Box<Response>> {
    if raw.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(raw).map_err(|e| Box::new(bad(&format!("invalid JSON: {e}"))))
}

async fn accounts(State(st): State<AppState>) -> Response {
    let data = st.data();
    let mut list: Vec<Value> = data
        .dir
        .accounts
        .iter()
        .map(|a| {
            json!({
                "account_id": a.account_id,
                "email": a.email,
                "display_name": a.display_name(),
                "access_token": a.access_token,
                "kind": a.kind,
                "team_member_id": a.team_member_id,
                "is_admin": a.is_admin,
                "home_namespace_id": a.home_namespace_id,
                "root_namespace_id": a.root_namespace_id,
                "home_path": a.home_path,
            })
        })
        .collect();
    let team = data.dir.team.as_ref().map(|t| {
        list.push(json!({
            "account_id": t.team_id,
            "email": null,
            "display_name": t.name,
            "access_token": t.team_token,
            "kind": "team",
            "team_member_id": null,
            "is_admin": false,
            "home_namespace_id": null,
            "root_namespace_id": t.team_space_namespace_id,
        }));
        json!({
            "team_id": t.team_id,
            "name": t.name,
            "team_token": t.team_token,
            "admin_member_id": t.admin_member_id,
            "team_space_namespace_id": t.team_space_namespace_id,
            "members": data.dir.members().map(|m| m.team_member_id.clone()).collect::<Vec<_>>(),
        })
    });
    let apps: Vec<Value> = data
        .apps
        .iter()
        .map(|a| json!({ "key": a.key, "redirect_uris": a.redirect_uris }))
        .collect();
    wire::json_ok(&json!({ "accounts": list, "team": team, "apps": apps }))
}

#[derive(Deserialize)]
struct NewAccount {
    token: Option<String>,
}

async fn add_account(State(st): State<AppState>, raw: String) -> Response {
    let v = match body_json(&raw) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Ok(req) = serde_json::from_value::<NewAccount>(v) else {
        return bad("expected {\"token\": \"...\"}");
    };
    let token = req
        .token
        .unwrap_or_else(|| crate::auth::random_token("emu-", 24));
    let mut data = st.data();
    if data.dir.by_static_token(&token).is_some() {
        return bad("an account with this token exists");
    }
    let n = data
        .dir
        .accounts
        .iter()
        .filter(|a| a.kind == Kind::Personal)
        .count()
        + 1;
    let account = data.dir.add_personal(&token, n);
    let namespaces = data.dir.namespaces();
    data.tree.ensure_namespaces(&namespaces);
    wire::json_ok(&json!({
        "account_id": account.account_id,
        "email": account.email,
        "access_token": token,
        "home_namespace_id": account.home_namespace_id,
    }))
}

#[derive(Deserialize)]
struct NewApp {
    key: String,
    secret: String,
    redirect_uris: Option<Vec<String>>,
}

async fn add_app(State(st): State<AppState>, raw: String) -> Response {
    let Ok(req) = serde_json::from_str::<NewApp>(&raw) else {
        return bad("expected {\"key\", \"secret\", \"redirect_uris\"?}");
    };
    let mut app = AppRegistration::new(req.key, req.secret);
    if let Some(uris) = req.redirect_uris {
        app.redirect_uris.extend(uris);
    }
    let mut data = st.data();
    data.apps.retain(|a| a.key != app.key);
    data.apps.push(app);
    wire::json_ok(&json!({ "ok": true }))
}

async fn reset(State(st): State<AppState>) -> Response {
    let garbage = {
        let mut data = st.data();
        let g = data.tree.clear();
        let namespaces = data.dir.namespaces();
        data.tree.ensure_namespaces(&namespaces);
        g
    };
    let sessions = st.sessions().drain_blobs();
    lock(&st.0.jobs).clear();
    st.drop_blobs(garbage);
    st.drop_blobs(sessions);
    st.persist().await;
    wire::json_ok(&json!({ "ok": true }))
}

async fn list_faults(State(st): State<AppState>) -> Response {
    wire::json_ok(&json!({ "faults": st.0.faults.list() }))
}

async fn add_fault(State(st): State<AppState>, raw: String) -> Response {
    let spec: FaultSpec = match serde_json::from_str(&raw) {
        Ok(s) => s,
        Err(e) => return bad(&format!("invalid fault: {e}")),
    };
    match st.0.faults.add(spec) {
        Ok(id) => wire::json_ok(&json!({ "id": id })),
        Err(e) => bad(&e),
    }
}

async fn clear_faults(State(st): State<AppState>) -> Response {
    st.0.faults.clear();
    wire::json_ok(&json!({ "ok": true }))
}

async fn expire_tokens(State(st): State<AppState>, raw: String) -> Response {
    let v = match body_json(&raw) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let include_static = v
        .get("include_static")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let n = {
        let mut data = st.data();
        let data = &mut *data;
        data.tokens.expire_all(&data.dir, include_static)
    };
    st.persist().await;
    wire::json_ok(&json!({ "expired": n }))
}

/// Every access and refresh token issued (by the OAuth routes or `POST /tokens`) and not
/// revoked, sorted: tests forbid each of them in the logs of the code under test. The
/// accounts' static `--token`s are in `GET /accounts`.
async fn list_tokens(State(st): State<AppState>) -> Response {
    let data = st.data();
    let mut access: Vec<&String> = data.tokens.access.keys().collect();
    let mut refresh: Vec<&String> = data.tokens.refresh.keys().collect();
    access.sort();
    refresh.sort();
    wire::json_ok(&json!({ "access_tokens": access, "refresh_tokens": refresh }))
}

/// Issues an access + refresh token pair for an account and app without the browser step.
async fn issue_tokens(State(st): State<AppState>, raw: String) -> Response {
    let v = match body_json(&raw) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let lifetime = match v.get("expires_in").and_then(Value::as_u64) {
        Some(s) => std::time::Duration::from_secs(s),
        None => st.0.token_lifetime,
    };
    let body = {
        let mut data = st.data();
        let app_key = match v.get("app_key").and_then(Value::as_str) {
            Some(k) => k.to_string(),
            None => match data.apps.first() {
                Some(a) => a.key.clone(),
                None => return bad("no app registered (use --app KEY:SECRET)"),
            },
        };
        if !data.apps.iter().any(|a| a.key == app_key) {
            return bad("unknown app_key");
        }
        let account = match v.get("account_id").and_then(Value::as_str) {
            Some(id) => data.dir.by_id(id).cloned(),
            None => data
                .dir
                .accounts
                .iter()
                .find(|a| a.kind == Kind::Personal)
                .cloned(),
        };
        let Some(account) = account else {
            return bad("unknown account_id");
        };
        let (access, refresh) = data.tokens.issue(
            Subject::Account(account.account_id.clone()),
            &app_key,
            lifetime,
            None,
        );
        json!({
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": lifetime.as_secs(),
            "account_id": account.account_id,
            "app_key": app_key,
        })
    };
    st.persist().await;
    wire::json_ok(&body)
}

async fn get_network(State(st): State<AppState>) -> Response {
    wire::json_ok(&st.0.network.json())
}

async fn set_network(State(st): State<AppState>, raw: String) -> Response {
    let v = match body_json(&raw) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let latency = v.get("latency_ms").and_then(Value::as_u64);
    let bandwidth = v.get("bandwidth_bytes_per_sec").and_then(Value::as_u64);
    st.0.network.set(latency, bandwidth);
    wire::json_ok(&st.0.network.json())
}

async fn requests(State(st): State<AppState>) -> Response {
    let log: Vec<Value> = lock(&st.0.log).iter().cloned().collect();
    wire::json_ok(&json!({ "requests": log }))
}

/// files/download bodies: bytes handed to connections so far, bodies still open.
async fn downloads(State(st): State<AppState>) -> Response {
    wire::json_ok(&st.0.downloads.json())
}

async fn clear_requests(State(st): State<AppState>) -> Response {
    lock(&st.0.log).clear();
    wire::json_ok(&json!({ "ok": true }))
}
