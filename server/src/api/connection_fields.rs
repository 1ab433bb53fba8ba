//! Protobuf `Connection` <-> stored record, and `update_mask` handling. Secrets go in,
//! never out: the output only says which are set.

use dropbox_connector_proto::v1 as pb;
use pb::path_root::Root;

use super::convert::timestamp;
use crate::tasks::TaskError;
use crate::tasks::connections::resource_name;
use crate::tasks::model::{
    AccountKind, ConnectionRecord, NewConnection, PathRootSetting, ProxyKind, Secrets, Settings,
};
use crate::tasks::secret_binding::{Given, unbind_moved_secrets};

/// Record -> protobuf, without secrets.
pub fn to_proto(r: &ConnectionRecord) -> pb::Connection {
    let s = &r.settings;
    pb::Connection {
        name: resource_name(r),
        display_name: r.display_name.clone(),
        group: r.group.clone(),
        timeout_seconds: s.timeout_seconds,
        code_page: s.code_page.clone(),
        app: Some(pb::AppSettings {
            app_key: s.app_key.clone(),
            app_secret: String::new(),
            redirect_uri: s.redirect_uri.clone(),
        }),
        account_type: match s.account_type {
            AccountKind::Personal => pb::AccountType::Personal,
            AccountKind::Business => pb::AccountType::Business,
        } as i32,
        business: Some(pb::BusinessSettings {
            team_member_id: s.business.team_member_id.clone(),
            as_admin: s.business.as_admin,
            path_root: s.business.path_root.as_ref().map(|p| pb::PathRoot {
                root: Some(match p {
                    PathRootSetting::Home => Root::Home(true),
                    PathRootSetting::TeamRoot(ns) => Root::TeamRootNamespaceId(ns.clone()),
                    PathRootSetting::Namespace(ns) => Root::NamespaceId(ns.clone()),
                }),
            }),
        }),
        proxy: Some(pb::ProxySettings {
            r#type: match s.proxy.kind {
                ProxyKind::None => pb::ProxyType::None,
                ProxyKind::Http => pb::ProxyType::Http,
                ProxyKind::Https => pb::ProxyType::Https,
                ProxyKind::Socks5 => pb::ProxyType::Socks5,
                ProxyKind::Socks4 => pb::ProxyType::Socks4,
            } as i32,
            address: s.proxy.address.clone(),
            port: s.proxy.port,
            use_credentials: s.proxy.use_credentials,
            username: s.proxy.username.clone(),
            password: String::new(),
            domain: s.proxy.domain.clone(),
            test_url: s.proxy.test_url.clone(),
        }),
        credentials: None,
        credential_state: Some(pb::CredentialState {
            has_access_token: r.secrets.access_token.is_some(),
            has_refresh_token: r.secrets.refresh_token.is_some(),
            has_app_secret: r.secrets.app_secret.is_some(),
            has_proxy_password: r.secrets.proxy_password.is_some(),
            access_token_expire_time: r
                .secrets
                .access_token_expires_at
                .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                .map(timestamp),
            needs_reauthorization: r.settings.needs_reauthorization,
        }),
        account: s.account.as_ref().map(|a| pb::AccountInfo {
            account_id: a.account_id.clone(),
            email: a.email.clone(),
            display_name: a.display_name.clone(),
            account_type: a.account_type.clone(),
        }),
        create_time: Some(timestamp(r.create_time)),
        update_time: Some(timestamp(r.update_time)),
    }
}

fn secret(v: &str) -> Option<String> {
    Some(v.to_owned()).filter(|s| !s.is_empty())
}

/// Protobuf -> a new connection (defaults are applied by the task layer).
pub fn new_connection(c: &pb::Connection) -> Result<NewConnection, TaskError> {
    let mut record = empty_record();
    apply(&mut record, c, &[], true)?;
    Ok(NewConnection {
        display_name: record.display_name,
        group: record.group,
        settings: record.settings,
        secrets: record.secrets,
    })
}

fn empty_record() -> ConnectionRecord {
    ConnectionRecord {
        id: String::new(),
        display_name: String::new(),
        group: String::new(),
        settings: Settings::default(),
        secrets: Secrets::default(),
        revision: 0,
        create_time: time::OffsetDateTime::UNIX_EPOCH,
        update_time: time::OffsetDateTime::UNIX_EPOCH,
    }
}

/// Every path `update_mask` accepts. Output-only fields (`name`, `credential_state`,
/// `account`, times) are ignored when named.
const WRITABLE: &[&str] = &[
    "display_name",
    "group",
    "timeout_seconds",
    "code_page",
    "app.app_key",
    "app.app_secret",
    "app.redirect_uri",
    "account_type",
    "business.team_member_id",
    "business.as_admin",
    "business.path_root",
    "proxy.type",
    "proxy.address",
    "proxy.port",
    "proxy.use_credentials",
    "proxy.username",
    "proxy.password",
    "proxy.domain",
    "proxy.test_url",
    "credentials.access_token",
    "credentials.refresh_token",
];
const OUTPUT_ONLY: &[&str] = &[
    "name",
    "credential_state",
    "account",
    "create_time",
    "update_time",
];

/// Longest update_mask path worth looking up (the longest field path is far shorter).
const MAX_MASK_PATH_CHARS: usize = 100;
/// Most paths an update_mask may name (each writable field once, with room for parents).
const MAX_MASK_PATHS: usize = 64;

/// Expands a mask into leaf paths: `proxy` means every `proxy.*`. Empty: every writable
/// field.
pub fn expand_mask(mask: &[String]) -> Result<Vec<&'static str>, TaskError> {
    if mask.is_empty() {
        return Ok(WRITABLE.to_vec());
    }
    if mask.len() > MAX_MASK_PATHS {
        return Err(TaskError::invalid(
            "update_mask",
            format!(
                "{} paths; name at most {MAX_MASK_PATHS} (there are {} writable fields), or leave the mask empty to write them all",
                mask.len(),
                WRITABLE.len()
            ),
        ));
    }
    let mut out = Vec::new();
    for path in mask {
        let p = path.trim();
        if p.chars().count() > MAX_MASK_PATH_CHARS {
            return Err(TaskError::invalid(
                "update_mask",
                "a path is longer than any field name; use paths such as \"group\", \"proxy.address\"",
            ));
        }
        if OUTPUT_ONLY
            .iter()
            .any(|o| p == *o || p.starts_with(&format!("{o}.")))
        {
            continue;
        }
        let matched: Vec<&'static str> = WRITABLE
            .iter()
            .copied()
            .filter(|w| *w == p || w.starts_with(&format!("{p}.")))
            .collect();
        if matched.is_empty() {
            return Err(TaskError::invalid(
                "update_mask",
                format!(
                    "{p:?} is not a writable field; use paths such as \"group\", \"proxy.address\", \"credentials.refresh_token\""
                ),
            ));
        }
        out.extend(matched);
    }
    Ok(out)
}

/// Copies the fields named by `mask` from `c` into `record`. With an empty mask (`all`),
/// secret fields are only taken when non-empty: a client cannot read secrets back, so a
/// read-modify-write of the resource must not erase them. Naming a secret in the mask
/// with an empty value clears it.
pub fn apply(
    record: &mut ConnectionRecord,
    c: &pb::Connection,
    mask: &[String],
    all_defaults: bool,
) -> Result<(), TaskError> {
    let explicit = !mask.is_empty();
    let paths = expand_mask(mask)?;
    let default_app = pb::AppSettings::default();
    let app = c.app.as_ref().unwrap_or(&default_app);
    let default_business = pb::BusinessSettings::default();
    let business = c.business.as_ref().unwrap_or(&default_business);
    let default_proxy = pb::ProxySettings::default();
    let proxy = c.proxy.as_ref().unwrap_or(&default_proxy);
    let default_creds = pb::Credentials::default();
    let creds = c.credentials.as_ref().unwrap_or(&default_creds);
    let before = record.settings.clone();
    let mut given = Given::default();
    let s = &mut record.settings;
    let secrets = &mut record.secrets;
    for path in paths {
        let secret_value = match path {
            "app.app_secret" => Some(&app.app_secret),
            "proxy.password" => Some(&proxy.password),
            "credentials.access_token" => Some(&creds.access_token),
            "credentials.refresh_token" => Some(&creds.refresh_token),
            _ => None,
        };
        if let Some(v) = secret_value
            && v.is_empty()
            && !explicit
            && !all_defaults
        {
            continue;
        }
        check_value(path, c, app, business, proxy, creds)?;
        match path {
            "proxy.password" => given.proxy_password = true,
            "app.app_secret" => given.app_secret = true,
            "credentials.access_token" | "credentials.refresh_token" => given.tokens = true,
            _ => {}
        }
        match path {
            "display_name" => record.display_name = c.display_name.trim().to_owned(),
            "group" => record.group = c.group.trim().to_owned(),
            "timeout_seconds" => s.timeout_seconds = c.timeout_seconds,
            "code_page" => s.code_page = c.code_page.clone(),
            "app.app_key" => s.app_key = app.app_key.trim().to_owned(),
            "app.app_secret" => secrets.app_secret = secret(&app.app_secret),
            "app.redirect_uri" => s.redirect_uri = app.redirect_uri.clone(),
            "account_type" => {
                s.account_type = match pb::AccountType::try_from(c.account_type) {
                    Ok(pb::AccountType::Business) => AccountKind::Business,
                    Ok(_) => AccountKind::Personal,
                    Err(_) => {
                        return Err(TaskError::invalid(
                            "account_type",
                            format!("{} is not a known value", c.account_type),
                        ));
                    }
                }
            }
            "business.team_member_id" => {
                s.business.team_member_id = business.team_member_id.trim().to_owned()
            }
            "business.as_admin" => s.business.as_admin = business.as_admin,
            "business.path_root" => s.business.path_root = path_root(business)?,
            "proxy.type" => {
                s.proxy.kind = match pb::ProxyType::try_from(proxy.r#type) {
                    Ok(pb::ProxyType::Unspecified | pb::ProxyType::None) => ProxyKind::None,
                    Ok(pb::ProxyType::Http) => ProxyKind::Http,
                    Ok(pb::ProxyType::Https) => ProxyKind::Https,
                    Ok(pb::ProxyType::Socks5) => ProxyKind::Socks5,
                    Ok(pb::ProxyType::Socks4) => ProxyKind::Socks4,
                    Err(_) => {
                        return Err(TaskError::invalid(
                            "proxy.type",
                            format!("{} is not a known value", proxy.r#type),
                        ));
                    }
                }
            }
            "proxy.address" => s.proxy.address = proxy.address.trim().to_owned(),
            "proxy.port" => s.proxy.port = proxy.port,
            "proxy.use_credentials" => s.proxy.use_credentials = proxy.use_credentials,
            "proxy.username" => s.proxy.username = proxy.username.clone(),
            "proxy.password" => secrets.proxy_password = secret(&proxy.password),
            "proxy.domain" => s.proxy.domain = proxy.domain.clone(),
            "proxy.test_url" => s.proxy.test_url = proxy.test_url.clone(),
            "credentials.access_token" => {
                secrets.access_token = secret(creds.access_token.trim());
                // A token given by hand has no known expiry.
                secrets.access_token_expires_at = None;
            }
            "credentials.refresh_token" => {
                secrets.refresh_token = secret(creds.refresh_token.trim())
            }
            _ => {}
        }
    }
    let dropped = unbind_moved_secrets(&before, record, given);
    if !dropped.is_empty() {
        tracing::info!(
            dropped = ?dropped,
            "secrets dropped: their endpoint changed and they were not given again"
        );
    }
    Ok(())
}

/// Longest free-text setting (group, user names, app key, member id).
const MAX_TEXT_CHARS: usize = 256;
/// Longest URL setting.
const MAX_URL_CHARS: usize = 2048;
/// Longest secret (Dropbox tokens are about 1,300 characters today).
const MAX_SECRET_CHARS: usize = 8192;

/// Checks the value `path` names before it is stored: bounded, printable, and the right
/// shape for how it will be used (a host name, a URL, an HTTP header value).
fn check_value(
    path: &str,
    c: &pb::Connection,
    app: &pb::AppSettings,
    business: &pb::BusinessSettings,
    proxy: &pb::ProxySettings,
    creds: &pb::Credentials,
) -> Result<(), TaskError> {
    match path {
        "group" => text(path, &c.group, MAX_TEXT_CHARS),
        "code_page" => text(path, &c.code_page, MAX_TEXT_CHARS),
        "app.app_key" => text(path, &app.app_key, MAX_TEXT_CHARS),
        "app.redirect_uri" => text(path, &app.redirect_uri, MAX_URL_CHARS),
        "business.team_member_id" => text(path, &business.team_member_id, MAX_TEXT_CHARS),
        "proxy.address" => proxy_host(&proxy.address),
        "proxy.username" => text(path, &proxy.username, MAX_TEXT_CHARS),
        "proxy.domain" => text(path, &proxy.domain, MAX_TEXT_CHARS),
        "proxy.test_url" => test_url(&proxy.test_url),
        "app.app_secret" => secret_text(path, &app.app_secret),
        "proxy.password" => secret_text(path, &proxy.password),
        // Sent as `Authorization: Bearer ...` (or in a form): visible ASCII only.
        "credentials.access_token" | "credentials.refresh_token" => {
            let token = if path == "credentials.access_token" {
                creds.access_token.trim()
            } else {
                creds.refresh_token.trim()
            };
            secret_text(path, token)?;
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(TaskError::invalid(
                    path,
                    "a Dropbox token has only visible ASCII characters (no spaces, line breaks or accents); paste it again exactly as Dropbox gave it",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Free text: at most `max` characters and no control characters (the value is not echoed).
fn text(field: &str, value: &str, max: usize) -> Result<(), TaskError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(TaskError::invalid(
            field,
            format!("{chars} characters; at most {max} are allowed"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(TaskError::invalid(
            field,
            "contains a control character (line break, tab, NUL...); remove it",
        ));
    }
    Ok(())
}

/// A secret: bounded, no control characters; never quoted in the error.
fn secret_text(field: &str, value: &str) -> Result<(), TaskError> {
    text(field, value, MAX_SECRET_CHARS)
}

/// A proxy host: a host name or an IP address, nothing else (the port has its own field).
fn proxy_host(address: &str) -> Result<(), TaskError> {
    let field = "proxy.address";
    let address = address.trim();
    text(field, address, MAX_TEXT_CHARS)?;
    if address.is_empty() || address.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    if url::Host::parse(address).is_err() || address.contains(':') {
        return Err(TaskError::invalid(
            field,
            format!(
                "{address:?} is not a host name or IP address; give only the host (e.g. \"proxy.example.com\" or \"10.0.0.5\"), without scheme, port or path: the port goes in proxy.port"
            ),
        ));
    }
    Ok(())
}

/// The URL fetched through the proxy by TestConnection: http or https.
fn test_url(value: &str) -> Result<(), TaskError> {
    let field = "proxy.test_url";
    let value = value.trim();
    text(field, value, MAX_URL_CHARS)?;
    if value.is_empty() {
        return Ok(());
    }
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(TaskError::invalid(
            field,
            format!(
                "{value:?} is not an http:// or https:// URL; give a page the proxy should reach, e.g. \"https://www.dropbox.com\", or leave it empty to use the Dropbox API"
            ),
        )),
    }
}

fn path_root(b: &pb::BusinessSettings) -> Result<Option<PathRootSetting>, TaskError> {
    let nonempty = |field: &str, v: &str| {
        let v = v.trim();
        if v.is_empty() {
            Err(TaskError::invalid(field, "a namespace id is needed"))
        } else if v.len() > 32 || !v.bytes().all(|b| b.is_ascii_digit()) {
            Err(TaskError::invalid(
                field,
                "a Dropbox namespace id is a number (root_namespace_id or home_namespace_id of users/get_current_account)",
            ))
        } else {
            Ok(v.to_owned())
        }
    };
    Ok(match b.path_root.as_ref().and_then(|p| p.root.as_ref()) {
        None => None,
        Some(Root::Home(true)) => Some(PathRootSetting::Home),
        Some(Root::Home(false)) => None,
        Some(Root::TeamRootNamespaceId(ns)) => Some(PathRootSetting::TeamRoot(nonempty(
            "business.path_root.team_root_namespace_id",
            ns,
        )?)),
        Some(Root::NamespaceId(ns)) => Some(PathRootSetting::Namespace(nonempty(
            "business.path_root.namespace_id",
            ns,
        )?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> pb::Connection {
        pb::Connection {
            display_name: "c".into(),
            group: "g".into(),
            credentials: Some(pb::Credentials {
                access_token: "tok".into(),
                refresh_token: "ref".into(),
            }),
            proxy: Some(pb::ProxySettings {
                address: "p".into(),
                password: "pw".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn secrets_never_leave() {
        let mut r = empty_record();
        apply(&mut r, &full(), &[], true).unwrap();
        let out = to_proto(&r);
        assert!(out.credentials.is_none());
        assert_eq!(out.proxy.unwrap().password, "");
        let st = out.credential_state.unwrap();
        assert!(
            st.has_access_token
                && st.has_refresh_token
                && st.has_proxy_password
                && !st.has_app_secret
        );
    }

    #[test]
    fn masks() {
        let mut r = empty_record();
        apply(&mut r, &full(), &[], true).unwrap();
        // Empty mask, empty secrets in the request: secrets are kept.
        let mut update = full();
        update.credentials = None;
        update.group = "g2".into();
        apply(&mut r, &update, &[], false).unwrap();
        assert_eq!(r.group, "g2");
        assert_eq!(r.secrets.access_token.as_deref(), Some("tok"));
        // Named with an empty value: cleared. Only named fields change.
        update.group = "g3".into();
        apply(&mut r, &update, &["credentials.access_token".into()], false).unwrap();
        assert_eq!(r.secrets.access_token, None);
        assert_eq!(r.group, "g2");
        // A parent path covers its children.
        update.proxy = Some(pb::ProxySettings {
            address: "q".into(),
            port: 8080,
            ..Default::default()
        });
        apply(&mut r, &update, &["proxy".into()], false).unwrap();
        assert_eq!(
            (r.settings.proxy.address.as_str(), r.settings.proxy.port),
            ("q", 8080)
        );
        assert_eq!(r.secrets.proxy_password, None);
        assert!(apply(&mut r, &update, &["nope".into()], false).is_err());
        assert!(apply(&mut r, &update, &["create_time".into()], false).is_ok());
    }

    #[test]
    fn moving_the_proxy_without_the_password_clears_it() {
        let mut r = empty_record();
        apply(&mut r, &full(), &[], true).unwrap();
        assert!(r.secrets.proxy_password.is_some());
        // A read-modify-write (empty mask, secrets not readable) that moves the proxy.
        let mut update = to_proto(&r);
        update.proxy.as_mut().unwrap().address = "elsewhere.example".into();
        apply(&mut r, &update, &[], false).unwrap();
        assert_eq!(r.settings.proxy.address, "elsewhere.example");
        assert_eq!(r.secrets.proxy_password, None);
        // Given again together with the move: kept.
        let mut update = full();
        update.proxy.as_mut().unwrap().address = "third.example".into();
        apply(
            &mut r,
            &update,
            &["proxy.address".into(), "proxy.password".into()],
            false,
        )
        .unwrap();
        assert_eq!(r.secrets.proxy_password.as_deref(), Some("pw"));
        // Only the port, by mask: cleared again.
        let mut update = full();
        update.proxy.as_mut().unwrap().port = 3129;
        apply(&mut r, &update, &["proxy.port".into()], false).unwrap();
        assert_eq!(r.secrets.proxy_password, None);
    }
}
