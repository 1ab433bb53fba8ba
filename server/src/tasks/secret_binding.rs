//! Credentials go only where they were entered for. A stored secret belongs to an endpoint:
//! the proxy password to the proxy (type, host, port), the app secret to its app key, the
//! tokens to the app that issued them. An update that moves the endpoint without giving the
//! secret again drops the secret, so that whoever may update a connection cannot send its
//! stored password to a host of their choosing.

use crate::store::{ConnectionRecord, Settings};

/// Which secrets the update itself wrote (a value, or an explicit clear).
#[derive(Debug, Clone, Copy, Default)]
pub struct Given {
    pub proxy_password: bool,
    pub app_secret: bool,
    /// Either token.
    pub tokens: bool,
}

/// Drops the secrets of `record` whose endpoint differs from `before` and that the update
/// did not give again. Returns the names of the dropped ones (for the log; never values).
pub fn unbind_moved_secrets(
    before: &Settings,
    record: &mut ConnectionRecord,
    given: Given,
) -> Vec<&'static str> {
    let mut dropped = Vec::new();
    let after = &record.settings;
    let secrets = &mut record.secrets;
    if proxy_moved(before, after) && !given.proxy_password && secrets.proxy_password.is_some() {
        secrets.proxy_password = None;
        dropped.push("proxy.password");
    }
    let key_changed = before.app_key.trim() != after.app_key.trim();
    if key_changed && !given.app_secret && secrets.app_secret.is_some() {
        secrets.app_secret = None;
        dropped.push("app.app_secret");
    }
    // Tokens of a known own app cannot be refreshed by another app; keeping them would only
    // present them with another app's credentials. (Adding an app key to tokens that had
    // none is how hand-given tokens become refreshable, so that keeps them.)
    if key_changed
        && !before.app_key.trim().is_empty()
        && !given.tokens
        && (secrets.access_token.is_some() || secrets.refresh_token.is_some())
    {
        secrets.access_token = None;
        secrets.refresh_token = None;
        secrets.access_token_expires_at = None;
        dropped.push("credentials");
    }
    dropped
}

fn proxy_moved(before: &Settings, after: &Settings) -> bool {
    let (b, a) = (&before.proxy, &after.proxy);
    b.kind != a.kind || b.port != a.port || !b.address.trim().eq_ignore_ascii_case(a.address.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Proxy, ProxyKind, Secrets};

    fn record() -> ConnectionRecord {
        let settings = Settings {
            app_key: "app-a".into(),
            proxy: Proxy {
                kind: ProxyKind::Http,
                address: "proxy.example".into(),
                port: 3128,
                ..Proxy::default()
            },
            ..Settings::default()
        };
        ConnectionRecord {
            id: "1".into(),
            display_name: "c".into(),
            group: "g".into(),
            settings,
            secrets: Secrets {
                access_token: Some("at".into()),
                refresh_token: Some("rt".into()),
                app_secret: Some("as".into()),
                proxy_password: Some("pw".into()),
                access_token_expires_at: Some(1),
            },
            revision: 1,
            create_time: time::OffsetDateTime::UNIX_EPOCH,
            update_time: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_moved_proxy_loses_its_password_unless_given_again() {
        let changes: [fn(&mut ConnectionRecord); 3] = [
            |r| r.settings.proxy.address = "evil.example".into(),
            |r| r.settings.proxy.port = 8080,
            |r| r.settings.proxy.kind = ProxyKind::Socks5,
        ];
        for change in changes {
            let before = record();
            let mut r = record();
            change(&mut r);
            assert_eq!(
                unbind_moved_secrets(&before.settings, &mut r, Given::default()),
                ["proxy.password"]
            );
            assert_eq!(r.secrets.proxy_password, None);
            assert_eq!(r.secrets.access_token.as_deref(), Some("at"));

            let mut r = record();
            change(&mut r);
            let given = Given {
                proxy_password: true,
                ..Given::default()
            };
            assert!(unbind_moved_secrets(&before.settings, &mut r, given).is_empty());
            assert_eq!(r.secrets.proxy_password.as_deref(), Some("pw"));
        }
        // Same endpoint (case of the host aside): kept.
        let before = record();
        let mut r = record();
        r.settings.proxy.address = "PROXY.example".into();
        r.settings.proxy.username = "someone-else".into();
        assert!(unbind_moved_secrets(&before.settings, &mut r, Given::default()).is_empty());
    }

    #[test]
    fn a_new_app_key_drops_the_old_apps_secret_and_tokens() {
        let before = record();
        let mut r = record();
        r.settings.app_key = "app-b".into();
        assert_eq!(
            unbind_moved_secrets(&before.settings, &mut r, Given::default()),
            ["app.app_secret", "credentials"]
        );
        assert_eq!(r.secrets.app_secret, None);
        assert_eq!(r.secrets.refresh_token, None);
        assert_eq!(r.secrets.access_token, None);
        // Given with the key: kept.
        let mut r = record();
        r.settings.app_key = "app-b".into();
        let given = Given {
            app_secret: true,
            tokens: true,
            ..Given::default()
        };
        assert!(unbind_moved_secrets(&before.settings, &mut r, given).is_empty());
        // Hand-given tokens without an app key get one: the tokens stay.
        let mut before = record();
        before.settings.app_key.clear();
        before.secrets.app_secret = None;
        let mut r = before.clone();
        r.settings.app_key = "app-a".into();
        assert!(unbind_moved_secrets(&before.settings, &mut r, Given::default()).is_empty());
        assert_eq!(r.secrets.refresh_token.as_deref(), Some("rt"));
    }
}
