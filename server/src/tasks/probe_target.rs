//! Which test URLs TestConnection may fetch. The connection's `proxy.test_url` is chosen by
//! whoever may edit the connection, and the server fetches it (through the proxy) and
//! reports the answer: pointed at loopback, link-local or private addresses it would probe
//! the service's own network (cloud metadata endpoints, admin ports). Outside `--dev` such
//! targets are refused unless the operator allows them. The Dropbox endpoints are the
//! operator's own configuration and are not checked.

use std::net::IpAddr;
use std::time::Duration;

use super::TaskError;

/// Refuses `test_url` when its host is, or resolves to, a non-public address and
/// `allow_private` is off. A name this host cannot resolve is let through: through a proxy,
/// the proxy resolves it (corporate networks often resolve outside names only there).
pub async fn check_test_url(
    test_url: &str,
    allow_private: bool,
    timeout: Duration,
) -> Result<(), TaskError> {
    if allow_private {
        return Ok(());
    }
    let refuse = |target: String, message: String| TaskError::TargetNotAllowed { target, message };
    let url = url::Url::parse(test_url)
        .map_err(|_| refuse(test_url.to_owned(), "the test URL is not a URL".into()))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let (host, addresses): (String, Vec<IpAddr>) = match url.host() {
        Some(url::Host::Ipv4(ip)) => (ip.to_string(), vec![IpAddr::V4(ip)]),
        Some(url::Host::Ipv6(ip)) => (ip.to_string(), vec![IpAddr::V6(ip)]),
        Some(url::Host::Domain(name)) => {
            let lookup = tokio::net::lookup_host((name, port));
            let found = match tokio::time::timeout(timeout, lookup).await {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                _ => Vec::new(),
            };
            (name.to_owned(), found)
        }
        None => {
            return Err(refuse(
                test_url.to_owned(),
                "the test URL has no host".into(),
            ));
        }
    };
    for ip in addresses {
        if let Some(kind) = non_public(ip) {
            return Err(refuse(
                host.clone(),
                format!(
                    "{host} is {ip}, a {kind} address; outside --dev TestConnection only fetches public addresses. Leave proxy.test_url empty to test against Dropbox, or let the operator set DBXC_TEST_CONNECTION__ALLOW_PRIVATE_TARGETS=true"
                ),
            ));
        }
    }
    Ok(())
}

/// What kind of non-public address `ip` is, if it is one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                // 100.64.0.0/10: carrier-grade NAT, private in practice.
                Some("private")
            } else if v4.is_unspecified() || a == 0 {
                Some("unspecified")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("broadcast or multicast")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if v6.is_multicast() {
                Some("broadcast or multicast")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_kinds() {
        for (a, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("::1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("fd00::1", "private (unique local)"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
        ] {
            assert_eq!(non_public(ip(a)), Some(kind), "{a}");
        }
        for a in ["162.125.1.1", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert_eq!(non_public(ip(a)), None, "{a}");
        }
    }

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        let t = Duration::from_secs(5);
        for url in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/",
            "http://10.0.0.5/admin",
        ] {
            match check_test_url(url, false, t).await {
                Err(TaskError::TargetNotAllowed { message, .. }) => {
                    assert!(message.contains("ALLOW_PRIVATE_TARGETS"), "{message}")
                }
                other => panic!("{url}: {other:?}"),
            }
            assert!(check_test_url(url, true, t).await.is_ok(), "{url}");
        }
        assert!(
            check_test_url("https://162.125.1.1/", false, t)
                .await
                .is_ok()
        );
    }
}
