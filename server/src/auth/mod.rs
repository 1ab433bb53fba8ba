//! Who is calling and what they may do: callers from `DBXC_AUTH__CALLERS_FILE`, identified
//! by a bearer token, a JWT or a client certificate; roles and connection groups per RPC;
//! and the audit log of mutating calls. Without a callers file every call is an
//! anonymous admin of all groups (loopback, `--dev`, or an explicit opt-out only).

pub mod audit;
pub mod callers;
pub mod identity;
pub mod policy;
mod reload;

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::Context;

pub use audit::Audit;
pub use policy::{Caller, Groups, Method, Role};

use crate::config::AuthConfig;
use crate::peer::PeerInfo;
use crate::tasks::TaskError;
use callers::CallerDef;
use identity::Jwks;
use reload::Watched;

/// Identifies the caller of each call. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    /// `None`: no callers file, everyone is the anonymous admin.
    state: Option<Arc<State>>,
}

struct State {
    callers: Watched<Vec<CallerDef>>,
    jwks: Option<Watched<Jwks>>,
}

fn parse_callers(text: &str) -> Result<Vec<CallerDef>, String> {
    callers::parse(text)
}

fn parse_jwks(text: &str) -> Result<Jwks, String> {
    Jwks::parse(text)
}

impl Auth {
    /// No callers: every call is the anonymous admin.
    pub fn open() -> Auth {
        Auth { state: None }
    }

    /// Reads the configured files; `Err` says which one is wrong and how.
    pub fn load(config: &AuthConfig) -> anyhow::Result<Auth> {
        let Some(file) = config.callers_file() else {
            if config.jwks_file().is_some() {
                tracing::warn!("auth.jwks_file is set but no callers file: JWTs are not checked");
            }
            return Ok(Auth::open());
        };
        let callers = Watched::load(file, "callers file", parse_callers)
            .map_err(anyhow::Error::msg)
            .context("auth.callers_file (DBXC_AUTH__CALLERS_FILE)")?;
        let jwks = config
            .jwks_file()
            .map(|p: &Path| Watched::load(p, "JWKS file", parse_jwks))
            .transpose()
            .map_err(anyhow::Error::msg)
            .context("auth.jwks_file (DBXC_AUTH__JWKS_FILE)")?;
        let list = callers.get();
        if jwks.is_none() && list.iter().any(|c| c.jwt.is_some()) {
            tracing::warn!(
                "callers with a jwt identity cannot be identified without DBXC_AUTH__JWKS_FILE"
            );
        }
        if list.is_empty() {
            tracing::warn!("the callers file names no caller: every call is refused");
        }
        tracing::info!(callers = list.len(), "callers loaded");
        Ok(Auth {
            state: Some(Arc::new(State { callers, jwks })),
        })
    }

    /// Re-reads the callers and JWKS files every `every` while this `Auth` is in use.
    pub fn spawn_reload(&self, every: Duration) {
        let Some(state) = &self.state else {
            return;
        };
        let weak: Weak<State> = Arc::downgrade(state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(state) = weak.upgrade() else {
                    return;
                };
                let done = tokio::task::spawn_blocking(move || {
                    state.callers.refresh();
                    if let Some(j) = &state.jwks {
                        j.refresh();
                    }
                })
                .await;
                if done.is_err() {
                    tracing::error!("reloading the callers file failed unexpectedly");
                }
            }
        });
    }

    /// The caller of a call, from its metadata (`authorization`) and extensions (the
    /// transport's [`PeerInfo`]).
    pub fn identify(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        extensions: &tonic::Extensions,
    ) -> Result<Caller, TaskError> {
        let Some(state) = &self.state else {
            return Ok(Caller::anonymous());
        };
        let found = state.identify(metadata, extensions.get::<PeerInfo>());
        if let Err(reason) = &found {
            let remote = extensions
                .get::<PeerInfo>()
                .and_then(|p| p.remote_addr)
                .map(|a| a.to_string())
                .unwrap_or_default();
            tracing::warn!(%remote, %reason, "call refused: unknown caller");
        }
        found.map_err(TaskError::CallerUnknown)
    }

    /// Identifies the caller of `req` and checks its role for `method`.
    pub fn authorize<T>(
        &self,
        req: &tonic::Request<T>,
        method: Method,
    ) -> Result<Caller, TaskError> {
        let caller = self.identify(req.metadata(), req.extensions())?;
        caller.require(method)?;
        Ok(caller)
    }
}

impl State {
    fn identify(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        peer: Option<&PeerInfo>,
    ) -> Result<Caller, String> {
        let callers = self.callers.get();
        if let Some(token) = identity::bearer_token(metadata)? {
            if let Some(c) = identity::match_token(&callers, token) {
                return Ok(c.caller.clone());
            }
            if !identity::looks_like_jwt(token) {
                return Err("the bearer token matches no caller".into());
            }
            let Some(jwks) = &self.jwks else {
                return Err("the bearer token is a JWT, but no JWKS file is configured".into());
            };
            let verified = jwks.get().verify(token)?;
            return identity::match_jwt(&callers, &verified)
                .map(|c| c.caller.clone())
                .ok_or_else(|| {
                    "the JWT's issuer, subject and audience match no caller".to_owned()
                });
        }
        match peer.and_then(|p| p.certificate.as_ref()) {
            Some(cert) => identity::match_certificate(&callers, cert)
                .map(|c| c.caller.clone())
                .ok_or_else(|| {
                    "the client certificate's names (SAN URIs, DNS names) match no caller"
                        .to_owned()
                }),
            None => Err(
                "the call carries no identity (no `authorization: Bearer` token, no client certificate)"
                    .into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::CertificateIdentity;

    fn auth_with(callers: &str) -> (Auth, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("callers.toml");
        std::fs::write(&file, callers).unwrap();
        let config = AuthConfig {
            callers_file: Some(file),
            ..Default::default()
        };
        (Auth::load(&config).unwrap(), dir)
    }

    fn call(token: Option<&str>, cert_uri: Option<&str>) -> tonic::Request<()> {
        let mut req = tonic::Request::new(());
        if let Some(t) = token {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        req.extensions_mut().insert(PeerInfo {
            remote_addr: None,
            certificate: cert_uri.map(|u| CertificateIdentity {
                uris: vec![u.to_owned()],
                dns_names: vec![],
            }),
        });
        req
    }

    fn who(auth: &Auth, req: &tonic::Request<()>) -> Result<String, String> {
        auth.identify(req.metadata(), req.extensions())
            .map(|c| c.name)
            .map_err(|e| match e {
                TaskError::CallerUnknown(m) => m,
                other => panic!("{other:?}"),
            })
    }

    #[test]
    fn certificate_token_and_their_absence() {
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(b"tok"));
        let (auth, _dir) = auth_with(&format!(
            "[[caller]]\nname = \"svc\"\nrole = \"writer\"\ngroups = [\"a\"]\n\
             certificate = \"spiffe://c/ns/a/sa/svc\"\n\
             [[caller]]\nname = \"ops\"\nrole = \"admin\"\ngroups = [\"*\"]\ntoken_sha256 = \"{hash}\"\n"
        ));
        assert_eq!(
            who(&auth, &call(None, Some("spiffe://c/ns/a/sa/svc"))).unwrap(),
            "svc"
        );
        // A token, when sent, decides: a wrong one is refused even with a good certificate.
        assert_eq!(
            who(&auth, &call(Some("tok"), Some("spiffe://c/ns/a/sa/svc"))).unwrap(),
            "ops"
        );
        let e = who(&auth, &call(Some("nope"), Some("spiffe://c/ns/a/sa/svc"))).unwrap_err();
        assert!(
            e.contains("matches no caller") && !e.contains("nope"),
            "{e}"
        );
        let e = who(&auth, &call(None, Some("spiffe://c/ns/b/sa/svc"))).unwrap_err();
        assert!(e.contains("certificate"), "{e}");
        let e = who(&auth, &call(None, None)).unwrap_err();
        assert!(e.contains("no identity"), "{e}");
        // Without a callers file: the anonymous admin.
        let open = Auth::open().identify(call(None, None).metadata(), &tonic::Extensions::new());
        assert_eq!(open.unwrap(), Caller::anonymous());
    }
}
