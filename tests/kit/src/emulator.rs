//! The emulator's state read (and its control API driven) over raw HTTP, so a test
//! checks the code under test against what the emulator holds, never against itself.

use std::time::Duration;

use serde_json::Value;

/// The emulator at `base_url`, reached as any HTTP client would, with the account token
/// `token`. Blocking: from async code call it inside `spawn_blocking` / `block_in_place`.
#[derive(Clone, Debug)]
pub struct EmulatorHttp {
    pub base_url: String,
    pub token: String,
    /// The emulator's self-signed certificate, when it serves HTTPS.
    pub ca_pem: Option<String>,
}

impl EmulatorHttp {
    pub fn new(base_url: &str, token: &str) -> EmulatorHttp {
        EmulatorHttp {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            ca_pem: None,
        }
    }

    /// The same, trusting `ca_pem` (an emulator started with TLS).
    pub fn with_ca(mut self, ca_pem: Option<&str>) -> EmulatorHttp {
        self.ca_pem = ca_pem.map(str::to_owned);
        self
    }

    fn http(&self) -> reqwest::blocking::Client {
        let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120));
        if let Some(pem) = &self.ca_pem {
            let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("emulator CA PEM");
            builder = builder.add_root_certificate(ca);
        }
        builder.build().expect("http client")
    }

    /// GET, POST or DELETE a control-API path (`/__emulator/...`); fails unless it
    /// succeeds, and returns the JSON answer (`Null` when there is none).
    pub fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base_url, path);
        let client = self.http();
        let request = match method {
            "GET" => client.get(&url),
            "POST" => client.post(&url),
            "DELETE" => client.delete(&url),
            other => panic!("unsupported method {other}"),
        };
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status();
        let text = response.text().unwrap_or_default();
        assert!(status.is_success(), "{method} {url}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The emulator's request log (`GET /__emulator/requests`), oldest first.
    pub fn requests(&self) -> Vec<Value> {
        match self.control("GET", "/__emulator/requests", None)["requests"].take() {
            Value::Array(entries) => entries,
            other => panic!("request log: {other}"),
        }
    }

    /// Refresh-token grants the emulator's token endpoint answered 200.
    pub fn refreshes(&self) -> usize {
        self.requests()
            .iter()
            .filter(|e| {
                e["route"] == "oauth2/token"
                    && e["grant_type"] == "refresh_token"
                    && e["status"] == 200
            })
            .count()
    }

    /// Calls a Dropbox RPC route (`files/get_metadata`, ...) with the account's token.
    /// Returns the HTTP status and the parsed JSON body (or the text as a JSON string).
    pub fn rpc(&self, route: &str, arg: Value) -> (u16, Value) {
        self.rpc_as(&self.token, &[], route, arg)
    }

    /// Like [`EmulatorHttp::rpc`], with another bearer token and more headers (e.g.
    /// `Dropbox-API-Select-User`, `Dropbox-API-Path-Root`).
    pub fn rpc_as(
        &self,
        token: &str,
        headers: &[(&str, &str)],
        route: &str,
        arg: Value,
    ) -> (u16, Value) {
        let url = format!("{}/2/{}", self.base_url, route);
        let mut request = self.http().post(&url).bearer_auth(token).json(&arg);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// The HTTP status `users/get_current_account` answers with `token`: 200 when the
    /// emulator accepts it, 401 when it is expired, revoked or unknown.
    pub fn token_status(&self, token: &str) -> u16 {
        self.rpc_as(token, &[], "users/get_current_account", Value::Null)
            .0
    }

    /// Uploads `data` to `path` (`files/upload`, mode overwrite) with the account's token;
    /// returns the HTTP status and the JSON answer.
    pub fn upload(&self, path: &str, data: Vec<u8>) -> (u16, Value) {
        let arg = serde_json::json!({ "path": path, "mode": "overwrite" }).to_string();
        let response = self
            .http()
            .post(format!("{}/2/files/upload", self.base_url))
            .bearer_auth(&self.token)
            .header("Dropbox-API-Arg", ascii_json(&arg))
            .header("Content-Type", "application/octet-stream")
            .body(data)
            .send()
            .expect("upload to emulator");
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A file's bytes as the emulator has them, or `None` when the path does not exist.
    /// `path` may be `rev:...` or `id:...`.
    pub fn download(&self, path: &str) -> Option<Vec<u8>> {
        let arg = serde_json::json!({ "path": path }).to_string();
        let response = self
            .http()
            .post(format!("{}/2/files/download", self.base_url))
            .bearer_auth(&self.token)
            .header("Dropbox-API-Arg", ascii_json(&arg))
            .send()
            .expect("download from emulator");
        if response.status().as_u16() == 409 {
            return None;
        }
        assert!(
            response.status().is_success(),
            "download {path}: {}",
            response.status()
        );
        Some(response.bytes().expect("body").to_vec())
    }

    /// What the emulator has at `path`, or `None` when nothing is there.
    pub fn entry(&self, path: &str) -> Option<Metadata> {
        self.metadata(path).map(|v| Metadata::from_json(&v))
    }

    /// Metadata of a path as the emulator has it (Dropbox's JSON, with `.tag`), or `None`
    /// when it does not exist.
    pub fn metadata(&self, path: &str) -> Option<Value> {
        let (status, body) = self.rpc("files/get_metadata", serde_json::json!({ "path": path }));
        match status {
            200 => Some(body),
            409 => None,
            other => panic!("get_metadata {path}: {other}: {body}"),
        }
    }
}

/// What the emulator holds at a path, read from its own JSON (`files/get_metadata`).
#[derive(Clone, Debug)]
pub enum Metadata {
    File(RemoteFile),
    Folder { path_display: String },
}

/// A file as the emulator describes it.
#[derive(Clone, Debug)]
pub struct RemoteFile {
    pub name: String,
    pub path_display: String,
    pub rev: String,
    pub size: u64,
    pub content_hash: String,
    pub client_modified: String,
    pub server_modified: String,
}

impl Metadata {
    fn from_json(v: &Value) -> Metadata {
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        match v[".tag"].as_str() {
            Some("file") => Metadata::File(RemoteFile {
                name: text("name"),
                path_display: text("path_display"),
                rev: text("rev"),
                size: v["size"].as_u64().expect("a file has a size"),
                content_hash: text("content_hash"),
                client_modified: text("client_modified"),
                server_modified: text("server_modified"),
            }),
            Some("folder") => Metadata::Folder {
                path_display: text("path_display"),
            },
            other => panic!("metadata of an unknown kind {other:?}: {v}"),
        }
    }

    /// The file, or a panic naming what is there instead.
    pub fn file(self) -> RemoteFile {
        match self {
            Metadata::File(f) => f,
            other => panic!("not a file: {other:?}"),
        }
    }
}

/// Escapes every non-ASCII character as `\uXXXX`, as Dropbox-API-Arg requires.
pub fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ascii_json;

    #[test]
    fn non_ascii_is_escaped_as_utf16_units() {
        assert_eq!(
            ascii_json(r#"{"p":"/é😀"}"#),
            r#"{"p":"/\u00e9\ud83d\ude00"}"#
        );
    }
}
