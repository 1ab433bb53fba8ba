//! Output: JSON shapes (stable field names) and human-readable lines.
//!
//! JSON conventions: timestamps are RFC 3339 strings in UTC; empty strings and unset values
//! are `null`; every documented key is always present.

use std::io::Write;

use dropbox_connector_proto::v1::{Connection, ItemError, ItemKind, ItemMetadata};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::reason::LocalReason;

/// The `--json` shapes, shown in `dbxc --help`.
pub const JSON_HELP: &str = "\
JSON output (--json): stdout carries JSON only. Single-result commands (connection create/
get/update/delete, create-folder) print one JSON object. Multi-item commands (connection
list, list, upload, download, delete) print JSON Lines: one object per item, as items are
done, and nothing else. Timestamps are RFC 3339 UTC strings; absent values are null.

  item  = {kind: \"file\"|\"folder\", name, path_display, path_lower, id, rev, size,
           client_modified, server_modified, content_hash, relative_path}
  error = {code: <google.rpc.Code number>, code_name: \"NOT_FOUND\"..., reason: <ErrorReason>,
           message, metadata: {..}}
  list:          one item per line
  upload:        {local_path, relative_path, outcome: \"uploaded\"|\"skipped\"|\"error\",
                  path_display, size, content_hash, rev, local_content_hash, item,
                  skipped_reason, existing, error}
  download:      {path_display, relative_path, local_path, outcome: \"downloaded\"|\"skipped\"|
                  \"error\", size, content_hash, rev, item, skipped_reason, error,
                  source_deleted: true|false|null, source_delete_error,
                  resumed_from: <bytes taken from an earlier run's partial>|null}
  delete:        {path, outcome: \"deleted\"|\"would_delete\"|\"error\", dry_run, item, error}
  create-folder: {created: bool, item}
  connection:    {name, display_name, group, timeout_seconds, code_page,
                  app: {app_key, redirect_uri}, account_type: \"personal\"|\"business\",
                  business: {team_member_id, as_admin, path_root}, proxy: {type, address, port,
                  use_credentials, username, domain, test_url}, credential_state:
                  {has_access_token, has_refresh_token, has_app_secret, has_proxy_password,
                  access_token_expire_time}, account: {account_id, email, display_name,
                  account_type}|null, create_time, update_time}
  connection delete: {deleted: <name>}

A failed call prints nothing on stdout; the error goes to stderr and the exit code says why.";

/// A protobuf timestamp from a time.
pub fn to_timestamp(when: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: when.unix_timestamp(),
        nanos: when.nanosecond() as i32,
    }
}

/// A protobuf timestamp from a system time.
pub fn system_time_to_timestamp(when: std::time::SystemTime) -> prost_types::Timestamp {
    to_timestamp(OffsetDateTime::from(when))
}

/// A time from a protobuf timestamp.
pub fn from_timestamp(ts: &prost_types::Timestamp) -> Option<OffsetDateTime> {
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// RFC 3339 text of a protobuf timestamp.
pub fn timestamp_text(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    ts.and_then(from_timestamp)
        .and_then(|t| t.format(&Rfc3339).ok())
}

fn ts_json(ts: Option<&prost_types::Timestamp>) -> Value {
    timestamp_text(ts).map(Value::String).unwrap_or(Value::Null)
}

/// A string, or null when empty.
pub fn str_or_null(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

/// Whether the metadata is a folder.
pub fn is_folder(item: &ItemMetadata) -> bool {
    item.kind == ItemKind::Folder as i32
}

/// The JSON `item` shape.
pub fn item_json(item: &ItemMetadata) -> Value {
    let folder = is_folder(item);
    json!({
        "kind": if folder { "folder" } else { "file" },
        "name": item.name,
        "path_display": item.path_display,
        "path_lower": str_or_null(&item.path_lower),
        "id": str_or_null(&item.id),
        "rev": str_or_null(&item.rev),
        "size": if folder { Value::Null } else { json!(item.size) },
        "client_modified": ts_json(item.client_modified.as_ref()),
        "server_modified": ts_json(item.server_modified.as_ref()),
        "content_hash": str_or_null(&item.content_hash),
        "relative_path": str_or_null(&item.relative_path),
    })
}

/// The JSON `item` shape, or null.
pub fn opt_item_json(item: Option<&ItemMetadata>) -> Value {
    item.map(item_json).unwrap_or(Value::Null)
}

/// The JSON `error` shape.
pub fn item_error_json(error: &ItemError) -> Value {
    json!({
        "code": error.code,
        "code_name": crate::exit::code_name(tonic::Code::from_i32(error.code)),
        "reason": str_or_null(&error.reason),
        "message": error.message,
        "metadata": error.metadata,
    })
}

/// A client-side error in the JSON `error` shape: `code` and `code_name` are null and
/// `reason` names the local condition (LOCAL_IO, UNSAFE_PATH, NAME_COLLISION,
/// CONTENT_HASH_MISMATCH, ...).
pub fn local_error_json(reason: LocalReason, message: &str) -> Value {
    json!({
        "code": null,
        "code_name": null,
        "reason": reason.as_str(),
        "message": message,
        "metadata": {},
    })
}

/// `REASON: message` for people.
pub fn item_error_text(error: &ItemError) -> String {
    if error.reason.is_empty() {
        format!(
            "{}: {}",
            crate::exit::code_name(tonic::Code::from_i32(error.code)),
            error.message
        )
    } else {
        crate::reason::with_remedy(
            format!("{}: {}", error.reason, error.message),
            crate::reason::server_reason(&error.reason),
            &error.metadata,
        )
    }
}

/// The JSON `connection` shape.
pub fn connection_json(c: &Connection) -> Value {
    use dropbox_connector_proto::v1::{AccountType, ProxyType};
    let app = c.app.clone().unwrap_or_default();
    let business = c.business.clone().unwrap_or_default();
    let proxy = c.proxy.clone().unwrap_or_default();
    let state = c.credential_state.unwrap_or_default();
    let account_type = match AccountType::try_from(c.account_type) {
        Ok(AccountType::Business) => "business",
        _ => "personal",
    };
    let proxy_type = match ProxyType::try_from(proxy.r#type) {
        Ok(ProxyType::Http) => "http",
        Ok(ProxyType::Https) => "https",
        Ok(ProxyType::Socks5) => "socks5",
        Ok(ProxyType::Socks4) => "socks4",
        _ => "none",
    };
    json!({
        "name": c.name,
        "display_name": c.display_name,
        "group": c.group,
        "timeout_seconds": c.timeout_seconds,
        "code_page": c.code_page,
        "app": {
            "app_key": str_or_null(&app.app_key),
            "redirect_uri": str_or_null(&app.redirect_uri),
        },
        "account_type": account_type,
        "business": {
            "team_member_id": str_or_null(&business.team_member_id),
            "as_admin": business.as_admin,
            "path_root": path_root_text(business.path_root.as_ref()),
        },
        "proxy": {
            "type": proxy_type,
            "address": str_or_null(&proxy.address),
            "port": if proxy.port == 0 { Value::Null } else { json!(proxy.port) },
            "use_credentials": proxy.use_credentials,
            "username": str_or_null(&proxy.username),
            "domain": str_or_null(&proxy.domain),
            "test_url": str_or_null(&proxy.test_url),
        },
        "credential_state": {
            "has_access_token": state.has_access_token,
            "has_refresh_token": state.has_refresh_token,
            "has_app_secret": state.has_app_secret,
            "has_proxy_password": state.has_proxy_password,
            "access_token_expire_time": ts_json(state.access_token_expire_time.as_ref()),
        },
        "account": c.account.as_ref().map(|a| json!({
            "account_id": str_or_null(&a.account_id),
            "email": str_or_null(&a.email),
            "display_name": str_or_null(&a.display_name),
            "account_type": str_or_null(&a.account_type),
        })).unwrap_or(Value::Null),
        "create_time": ts_json(c.create_time.as_ref()),
        "update_time": ts_json(c.update_time.as_ref()),
    })
}

/// A human description of a connection, several lines, escaped for a terminal.
pub fn connection_text(c: &Connection) -> String {
    let v = connection_json(c);
    let mut lines = vec![
        format!("name:            {}", c.name),
        format!("display_name:    {}", c.display_name),
        format!("group:           {}", c.group),
        format!("timeout_seconds: {}", c.timeout_seconds),
        format!("code_page:       {}", c.code_page),
        format!(
            "account_type:    {}",
            v["account_type"].as_str().unwrap_or("personal")
        ),
    ];
    if let Some(app) = &c.app {
        if !app.app_key.is_empty() {
            lines.push(format!("app_key:         {}", app.app_key));
        }
        if !app.redirect_uri.is_empty() {
            lines.push(format!("redirect_uri:    {}", app.redirect_uri));
        }
    }
    if let Some(b) = &c.business
        && (!b.team_member_id.is_empty() || b.as_admin)
    {
        lines.push(format!(
            "team_member_id:  {} (as_admin: {})",
            b.team_member_id, b.as_admin
        ));
    }
    if let Some(p) = &c.proxy
        && v["proxy"]["type"] != "none"
    {
        let user = Some(p.username.as_str()).filter(|u| !u.is_empty());
        lines.push(format!(
            "proxy:           {} {}:{} (user: {})",
            v["proxy"]["type"].as_str().unwrap_or(""),
            p.address,
            p.port,
            user.unwrap_or("-")
        ));
    }
    let s = &v["credential_state"];
    lines.push(format!(
        "credentials:     access_token={} refresh_token={} app_secret={} proxy_password={}",
        yes_no(&s["has_access_token"]),
        yes_no(&s["has_refresh_token"]),
        yes_no(&s["has_app_secret"]),
        yes_no(&s["has_proxy_password"]),
    ));
    if let Some(a) = &c.account {
        lines.push(format!("account:         {} <{}>", a.display_name, a.email));
    }
    if let Some(t) = timestamp_text(c.create_time.as_ref()) {
        lines.push(format!("created:         {t}"));
    }
    if let Some(t) = timestamp_text(c.update_time.as_ref()) {
        lines.push(format!("updated:         {t}"));
    }
    // Escaped line by line: a newline inside a value must not start a line of its own.
    lines
        .iter()
        .map(|l| terminal_safe(l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn yes_no(v: &Value) -> &'static str {
    if v.as_bool().unwrap_or(false) {
        "set"
    } else {
        "-"
    }
}

/// Bytes for people: 1023 B, 1.5 KiB, 20.0 MiB.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// One listing line for people: kind, size, modified time, path.
pub fn item_line(item: &ItemMetadata) -> String {
    if is_folder(item) {
        format!(
            "{:<6} {:>10}  {:<20}  {}/",
            "folder", "-", "-", item.path_display
        )
    } else {
        let modified = timestamp_text(item.client_modified.as_ref()).unwrap_or_else(|| "-".into());
        format!(
            "{:<6} {:>10}  {:<20}  {}",
            "file",
            human_size(item.size),
            modified,
            item.path_display
        )
    }
}

/// `text` made safe to print on a terminal: C0 and C1 control characters (ESC, CR, BEL, ...),
/// DEL and the bidirectional overrides and isolates are shown as `\x1b` / `\u{202e}`, so a
/// remote name cannot move the cursor, rewrite earlier lines or reorder what is shown.
/// Only for text output: JSON output carries names exactly.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Writes one line of text output to stdout, its control characters escaped.
pub fn emit_text(line: &str) {
    emit(&terminal_safe(line));
}

/// Writes one line of text output to stderr, its control characters escaped.
pub fn eprint_text(line: &str) {
    eprintln!("{}", terminal_safe(line));
}

/// Writes one line to stdout; a closed pipe (e.g. `| head`) is not an error worth a panic.
pub fn emit(line: &str) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = writeln!(lock, "{line}");
    let _ = lock.flush();
}

/// Writes one compact JSON value as a line to stdout.
pub fn emit_json(value: &Value) {
    emit(&value.to_string());
}

/// `--path-root`'s own syntax (`home`, `team-root:NSID`, `namespace:NSID`), or null.
fn path_root_text(root: Option<&dropbox_connector_proto::v1::PathRoot>) -> Value {
    use dropbox_connector_proto::v1::path_root::Root;
    match root.and_then(|r| r.root.as_ref()) {
        Some(Root::Home(_)) => json!("home"),
        Some(Root::TeamRootNamespaceId(ns)) => json!(format!("team-root:{ns}")),
        Some(Root::NamespaceId(ns)) => json!(format!("namespace:{ns}")),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_json_has_stable_keys() {
        let item = ItemMetadata {
            kind: ItemKind::File as i32,
            name: "a.txt".into(),
            path_display: "/A/a.txt".into(),
            path_lower: "/a/a.txt".into(),
            rev: "015abc".into(),
            size: 5,
            content_hash: "9595".into(),
            client_modified: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
            ..Default::default()
        };
        let v = item_json(&item);
        for key in [
            "kind",
            "name",
            "path_display",
            "path_lower",
            "id",
            "rev",
            "size",
            "client_modified",
            "server_modified",
            "content_hash",
            "relative_path",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["kind"], "file");
        assert_eq!(v["size"], 5);
        assert_eq!(v["client_modified"], "1970-01-01T00:00:00Z");
        assert_eq!(v["id"], Value::Null);
    }

    #[test]
    fn control_characters_in_names_are_escaped_for_terminals() {
        assert_eq!(
            terminal_safe("plain/name ünïcode.txt"),
            "plain/name ünïcode.txt"
        );
        assert_eq!(
            terminal_safe("evil\u{1b}[2J\rgone\u{7}\t.txt"),
            "evil\\x1b[2J\\x0dgone\\x07\\x09.txt"
        );
        assert_eq!(terminal_safe("a\nb\u{7f}\u{9b}c"), "a\\x0ab\\x7f\\x9bc");
        assert_eq!(
            terminal_safe("invoice\u{202e}fdp.exe\u{2066}"),
            "invoice\\u{202e}fdp.exe\\u{2066}"
        );
        let item = ItemMetadata {
            kind: ItemKind::File as i32,
            path_display: "/x\u{1b}]0;pwned\u{7}".into(),
            ..Default::default()
        };
        let line = terminal_safe(&item_line(&item)).into_owned();
        assert!(line.ends_with("/x\\x1b]0;pwned\\x07"), "{line}");
        // JSON output keeps the exact name.
        assert_eq!(item_json(&item)["path_display"], "/x\u{1b}]0;pwned\u{7}");
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(300 * 1024 * 1024), "300.0 MiB");
    }
}
