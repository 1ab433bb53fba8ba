//! Shared helpers for the emulator's own tests.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use dropbox_emulator::{AppRegistration, Emulator, EmulatorOptions};
use serde_json::{Value, json};

pub const TOKEN: &str = "test-token";
pub const TEAM: &str = "test-team-token";
pub const MIB: usize = 1024 * 1024;

pub struct Harness {
    pub emu: Emulator,
    pub http: reqwest::Client,
}

pub async fn start() -> Harness {
    start_with(EmulatorOptions {
        tokens: vec![TOKEN.into()],
        team_token: Some(TEAM.into()),
        apps: vec![AppRegistration::new("app", "secret")],
        ..Default::default()
    })
    .await
}

pub async fn start_with(options: EmulatorOptions) -> Harness {
    let emu = Emulator::start("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap();
    Harness {
        emu,
        http: reqwest::Client::new(),
    }
}

/// Escapes non-ASCII as the Dropbox-API-Arg header needs.
pub fn header_arg(v: &Value) -> String {
    dropbox_connector_test_kit::ascii_json(&v.to_string())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.to_string()))
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.base_url(), path)
    }

    /// An RPC call's raw response, for tests that read its headers too.
    pub async fn rpc_response(&self, token: &str, route: &str, arg: Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/2/{route}")))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(arg.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn rpc_as(&self, token: &str, route: &str, arg: Value) -> (u16, Value) {
        let resp = self.rpc_response(token, route, arg).await;
        let status = resp.status().as_u16();
        (status, parse(&resp.text().await.unwrap()))
    }

    pub async fn rpc(&self, route: &str, arg: Value) -> (u16, Value) {
        self.rpc_as(TOKEN, route, arg).await
    }

    /// A content-upload call's raw response, for tests that read its headers too.
    pub async fn upload_response(
        &self,
        route: &str,
        arg: Value,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/2/{route}")))
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/octet-stream")
            .header("Dropbox-API-Arg", header_arg(&arg))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn upload(&self, route: &str, arg: Value, body: Vec<u8>) -> (u16, Value) {
        let resp = self.upload_response(route, arg, body).await;
        let status = resp.status().as_u16();
        (status, parse(&resp.text().await.unwrap()))
    }

    pub async fn put(&self, path: &str, body: &[u8]) -> Value {
        let (status, v) = self
            .upload("files/upload", json!({ "path": path }), body.to_vec())
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    pub async fn download(&self, path: &str, range: Option<&str>) -> (u16, Option<Value>, Vec<u8>) {
        let mut req = self
            .http
            .post(self.url("/2/files/download"))
            .bearer_auth(TOKEN)
            .header("Dropbox-API-Arg", header_arg(&json!({ "path": path })));
        if let Some(r) = range {
            req = req.header("Range", r);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let result = resp
            .headers()
            .get("dropbox-api-result")
            .map(|v| serde_json::from_str(v.to_str().unwrap()).unwrap());
        (
            status,
            result,
            resp.bytes().await.unwrap_or_default().to_vec(),
        )
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, self.url(&format!("/__emulator{path}")));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        assert!(resp.status().is_success());
        resp.json().await.unwrap()
    }

    pub async fn start_session(&self, concurrent: bool, body: Vec<u8>, close: bool) -> String {
        let mut arg = json!({ "close": close });
        if concurrent {
            arg["session_type"] = json!({ ".tag": "concurrent" });
        }
        let (status, v) = self.upload("files/upload_session/start", arg, body).await;
        assert_eq!(status, 200, "{v}");
        v["session_id"].as_str().unwrap().to_string()
    }

    pub async fn append(
        &self,
        id: &str,
        offset: usize,
        body: Vec<u8>,
        close: bool,
    ) -> (u16, Value) {
        self.upload(
            "files/upload_session/append_v2",
            json!({ "cursor": { "session_id": id, "offset": offset }, "close": close }),
            body,
        )
        .await
    }

    pub async fn finish(&self, id: &str, offset: usize, path: &str, body: Vec<u8>) -> (u16, Value) {
        self.upload(
            "files/upload_session/finish",
            json!({ "cursor": { "session_id": id, "offset": offset }, "commit": { "path": path } }),
            body,
        )
        .await
    }
}

/// Test bytes that never repeat (the kit's xorshift).
pub use dropbox_connector_test_kit::bytes;
