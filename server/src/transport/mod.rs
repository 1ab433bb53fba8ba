//! The listener side of the server: TLS and mTLS with certificate rotation
//! ([`tls`], [`reload`]), the accepted connections and what a request learns about its
//! peer ([`conn`], [`incoming`]), and the bounds that keep hostile callers from holding
//! the server ([`limit`] for calls in progress, [`idle`] for silent client streams).

pub mod conn;
pub mod idle;
pub mod incoming;
pub mod limit;
pub mod reload;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;

/// The TLS settings of the listener (watched for rotation), or `None` for plain TCP.
pub fn listener_tls(config: &Config) -> anyhow::Result<Option<Arc<reload::ReloadingTls>>> {
    tls::TlsFiles::from_config(&config.tls)
        .map(|files| {
            reload::ReloadingTls::start(
                files,
                Duration::from_secs(config.tls.reload_seconds.max(1)),
            )
        })
        .transpose()
}
