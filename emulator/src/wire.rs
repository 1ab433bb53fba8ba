//! Wire formats: argument parsing, header-safe JSON, timestamps and error bodies.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

/// An error answer of the Dropbox API.
#[derive(Debug, Clone)]
pub enum ApiError {
    /// 400, plain text; the route prefix is added by [`error_response`].
    BadInput(String),
    /// 400, plain text, sent as is (no route prefix).
    BadRequestRaw(String),
    /// 401 with an AuthError union.
    Auth(Value),
    /// 409 with the route's error union.
    Endpoint(Value),
    /// 422 with a PathRootError union.
    PathRoot(Value),
    /// Any other status with a plain-text body.
    Status(StatusCode, String),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> ApiError {
        ApiError::BadInput(msg.into())
    }

    pub fn endpoint(error: Value) -> ApiError {
        ApiError::Endpoint(error)
    }

    pub fn auth(tag: &str) -> ApiError {
        ApiError::Auth(json!({ ".tag": tag }))
    }
}

/// A void union member / a tagged value: `{".tag": tag}`.
pub fn tag(tag: &str) -> Value {
    json!({ ".tag": tag })
}

/// `{".tag": outer, outer: inner}`.
pub fn nest(outer: &str, inner: Value) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(".tag".into(), Value::String(outer.into()));
    map.insert(outer.into(), inner);
    Value::Object(map)
}

/// Adds `.tag` to a struct (a union member whose type is a struct).
pub fn with_tag(tag: &str, value: Value) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(".tag".into(), Value::String(tag.into()));
    if let Value::Object(fields) = value {
        for (k, v) in fields {
            if k != ".tag" {
                map.insert(k, v);
            }
        }
    }
    Value::Object(map)
}

/// `error_summary` for an error union: the tags joined by `/`, plus trailing dots.
pub fn error_summary(error: &Value) -> String {
    let mut tags = Vec::new();
    let mut current = error;
    loop {
        let Some(t) = current.get(".tag").and_then(Value::as_str) else {
            match current.get("reason") {
                Some(reason) => {
                    current = reason;
                    continue;
                }
                None => break,
            }
        };
        tags.push(t.to_string());
        match current.get(t) {
            Some(next) if next.is_object() => current = next,
            _ => break,
        }
    }
    if tags.is_empty() {
        "other/...".to_string()
    } else {
        format!("{}/...", tags.join("/"))
    }
}

/// The HTTP response for an error on `route`.
pub fn error_response(route: &str, err: &ApiError) -> Response {
    match err {
        ApiError::BadInput(msg) => text(
            StatusCode::BAD_REQUEST,
            format!("Error in call to API function \"{route}\": {msg}"),
        ),
        ApiError::BadRequestRaw(msg) => text(StatusCode::BAD_REQUEST, msg.clone()),
        ApiError::Auth(e) => json_status(StatusCode::UNAUTHORIZED, &error_body(e)),
        ApiError::Endpoint(e) => json_status(StatusCode::CONFLICT, &error_body(e)),
        ApiError::PathRoot(e) => json_status(StatusCode::UNPROCESSABLE_ENTITY, &error_body(e)),
        ApiError::Status(status, msg) => text(*status, msg.clone()),
    }
}

fn error_body(error: &Value) -> Value {
    json!({ "error_summary": error_summary(error), "error": error })
}

/// A 429 answer with `Retry-After` and a RateLimitError body.
pub fn rate_limited(retry_after: u64, reason: &str) -> Response {
    let error = json!({ "reason": { ".tag": reason }, "retry_after": retry_after });
    let body = json!({ "error_summary": format!("{reason}/..."), "error": error });
    let mut resp = json_status(StatusCode::TOO_MANY_REQUESTS, &body);
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Plain text with `text/plain; charset=utf-8`.
pub fn text(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// 200 JSON with content type exactly `application/json`.
pub fn json_ok(value: &Value) -> Response {
    json_status(StatusCode::OK, value)
}

pub fn json_status(status: StatusCode, value: &Value) -> Response {
    let mut resp = Response::new(Body::from(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// JSON that is safe in an HTTP header: every char >= 0x7F as `\uXXXX` (UTF-16 units).
pub fn header_json(value: &Value) -> String {
    let raw = value.to_string();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if (c as u32) < 0x7F {
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

/// Parses an argument (JSON bytes). `what` names the source for error messages.
pub fn parse_json(raw: &[u8], what: &str) -> Result<Value, ApiError> {
    let trimmed = raw.iter().all(u8::is_ascii_whitespace);
    if trimmed {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw)
        .map_err(|_| ApiError::bad(format!("{what}: could not decode input as JSON")))
}

/// Typed access to an argument object with Dropbox-like error messages.
pub struct Arg<'a> {
    value: &'a Value,
    prefix: String,
}

impl<'a> Arg<'a> {
    pub fn new(value: &'a Value) -> Arg<'a> {
        Arg {
            value,
            prefix: "request body".into(),
        }
    }

    pub fn nested(&self, key: &str, value: &'a Value) -> Arg<'a> {
        Arg {
            value,
            prefix: format!("{}: {key}", self.prefix),
        }
    }

    pub fn object(&self) -> Result<(), ApiError> {
        if self.value.is_object() {
            Ok(())
        } else {
            Err(self.err(format!("expected object, got {}", kind(self.value))))
        }
    }

    pub fn err(&self, msg: String) -> ApiError {
        ApiError::bad(format!("{}: {msg}", self.prefix))
    }

    pub fn field_err(&self, key: &str, msg: &str) -> ApiError {
        ApiError::bad(format!("{}: {key}: {msg}", self.prefix))
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        match self.value.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn req(&self, key: &str) -> Result<&'a Value, ApiError> {
        self.object()?;
        self.get(key)
            .ok_or_else(|| self.err(format!("missing required field '{key}'")))
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.field_err(key, &format!("expected string, got {}", kind(v)))),
        }
    }

    pub fn req_str(&self, key: &str) -> Result<&'a str, ApiError> {
        self.object()?;
        self.str(key)?
            .ok_or_else(|| self.err(format!("missing required field '{key}'")))
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.field_err(key, &format!("expected boolean, got {}", kind(v)))),
        }
    }

    pub fn u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.field_err(key, &format!("expected integer, got {}", kind(v)))),
        }
    }

    /// A page size: `default` when absent, else within 1..=`max` (400 otherwise).
    pub fn limit(&self, key: &str, default: usize, max: u64) -> Result<usize, ApiError> {
        match self.u64(key)? {
            None => Ok(default),
            Some(l) if (1..=max).contains(&l) => Ok(l as usize),
            Some(l) => Err(self.field_err(key, &format!("{l} is not within range [1, {max}]"))),
        }
    }

    /// A union member: `"tag"` or `{".tag": "tag", ...}`; returns the tag.
    pub fn union_tag(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => union_tag_of(v)
                .map(Some)
                .ok_or_else(|| self.field_err(key, "expected union")),
        }
    }

    pub fn array(&self, key: &str) -> Result<&'a Vec<Value>, ApiError> {
        self.object()?;
        match self.get(key) {
            Some(Value::Array(a)) => Ok(a),
            Some(v) => Err(self.field_err(key, &format!("expected list, got {}", kind(v)))),
            None => Err(self.err(format!("missing required field '{key}'"))),
        }
    }
}

/// The tag of a union value: `"tag"` or `{".tag": "tag"}`.
pub fn union_tag_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(m) => m.get(".tag").and_then(Value::as_str),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

const TS_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// A Dropbox timestamp, UTC, no fractional seconds.
pub fn format_ts(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(TS_FORMAT)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

pub fn now_ts() -> String {
    format_ts(time::OffsetDateTime::now_utc())
}

/// Validates and normalizes a client-supplied timestamp.
pub fn parse_ts(s: &str) -> Option<String> {
    let dt = time::PrimitiveDateTime::parse(s, TS_FORMAT).ok()?;
    Some(format_ts(dt.assume_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_json_escapes_non_ascii_and_surrogates() {
        let v = json!({"path": "/é/日本/😀"});
        assert_eq!(
            header_json(&v),
            r#"{"path":"/\u00e9/\u65e5\u672c/\ud83d\ude00"}"#
        );
    }

    #[test]
    fn summaries() {
        let e = nest("path", tag("not_found"));
        assert_eq!(error_summary(&e), "path/not_found/...");
        let e = json!({".tag": "incorrect_offset", "correct_offset": 5});
        assert_eq!(error_summary(&e), "incorrect_offset/...");
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_ts("2015-05-15T15:50:38Z").as_deref(),
            Some("2015-05-15T15:50:38Z")
        );
        assert_eq!(parse_ts("2015-05-15T15:50:38.5Z"), None);
    }
}
