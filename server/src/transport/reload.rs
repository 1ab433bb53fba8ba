//! Certificate rotation without a restart. cert-manager and Kubernetes Secrets replace
//! the files in place (often by swapping a symlink); the files are read again every few
//! seconds and, when their content changed and still makes a valid setup, new
//! connections get the new settings. Connections already open keep theirs, so streams
//! in flight are not broken. A bad new file keeps the old settings and is logged.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;

use super::tls::{TlsFiles, TlsMaterial};

/// The TLS settings new connections are accepted with.
pub struct ReloadingTls {
    current: RwLock<Arc<ServerConfig>>,
}

impl ReloadingTls {
    /// Loads the files (an error refuses to start) and checks them every `every` from
    /// then on, until the returned value is dropped.
    pub fn start(files: TlsFiles, every: Duration) -> anyhow::Result<Arc<ReloadingTls>> {
        let material = files.read()?;
        let tls = Arc::new(ReloadingTls {
            current: RwLock::new(Arc::new(material.server_config()?)),
        });
        tokio::spawn(watch(Arc::downgrade(&tls), files, material, every));
        Ok(tls)
    }

    /// The settings for a connection accepted now.
    pub fn current(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(c) => c.clone(),
            // A panic while swapping cannot leave a half-written Arc; keep serving.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, config: ServerConfig) {
        let config = Arc::new(config);
        match self.current.write() {
            Ok(mut c) => *c = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }
}

async fn watch(
    tls: std::sync::Weak<ReloadingTls>,
    files: TlsFiles,
    mut seen: TlsMaterial,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(tls) = tls.upgrade() else { return };
        let read = files.clone();
        // Blocking file reads stay off the async workers.
        let material = match tokio::task::spawn_blocking(move || read.read()).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "TLS files unreadable; keeping the current certificate");
                continue;
            }
            Err(_) => continue,
        };
        if material == seen {
            continue;
        }
        match material.server_config() {
            Ok(config) => {
                tls.replace(config);
                tracing::info!(cert = %files.cert.display(), "TLS files changed; new connections use the new certificate");
            }
            // Often one file of a pair was replaced before the other: the next check
            // sees both and succeeds.
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "new TLS files are not usable; keeping the current certificate")
            }
        }
        seen = material;
    }
}
