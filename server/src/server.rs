//! Assembles and runs the gRPC server: services, health, reflection, message limits, and
//! a graceful shutdown that flips health first and bounds the wait for in-flight calls.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use dropbox_client::Endpoints;
use dropbox_connector_proto::v1::cloud_task_service_server::CloudTaskServiceServer;
use dropbox_connector_proto::v1::connection_service_server::ConnectionServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::api::{CloudTasksApi, ConnectionsApi, Ready};
use crate::config::Config;
use crate::store::{ConnectionStore, SqliteStore};
use crate::tasks::budget::UploadBudget;
use crate::tasks::connections::{Connections, DropboxTarget};
use crate::tasks::resumable::ResumableUploads;
use crate::transport;

/// Largest message accepted or sent: the contract's cap.
pub use dropbox_connector_proto::MAX_MESSAGE_BYTES;

pub const CLOUD_TASK_SERVICE: &str = "dropbox_connector.v1.CloudTaskService";
pub const CONNECTION_SERVICE: &str = "dropbox_connector.v1.ConnectionService";

async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    for service in ["", CLOUD_TASK_SERVICE, CONNECTION_SERVICE] {
        reporter.set_service_status(service, status).await;
    }
}

/// The Dropbox endpoints and trust from the configuration.
pub fn dropbox_target(config: &Config) -> anyhow::Result<DropboxTarget> {
    let parse =
        |key: &str, v: &str| url::Url::parse(v).with_context(|| format!("dropbox.{key} = {v:?}"));
    Ok(DropboxTarget {
        endpoints: Endpoints {
            api_url: parse("api_url", &config.dropbox.api_url)?,
            content_url: parse("content_url", &config.dropbox.content_url)?,
            oauth_url: parse("oauth_url", &config.dropbox.oauth_url)?,
        },
        extra_ca_pem: config.extra_ca_pem()?,
    })
}

/// OAuth settings of the server (registered app, state lifetime).
pub fn oauth_options(config: &Config) -> crate::tasks::connections::OAuthOptions {
    let app = &config.dropbox.registered_app;
    crate::tasks::connections::OAuthOptions {
        registered_app_key: Some(app.key.trim().to_owned()).filter(|k| !k.is_empty()),
        registered_app_secret: Some(app.secret.trim().to_owned()).filter(|k| !k.is_empty()),
        state_ttl: std::time::Duration::from_secs(config.oauth.state_ttl_seconds),
    }
}

/// Serves on `listener` until `shutdown` resolves, then drains for the configured grace
/// period. Health reports NOT_SERVING until the connection store is open, and again
/// from the moment shutdown begins.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_health(config, listener, None, shutdown).await
}

/// [`serve`], plus the standard health service alone, in plain text, on
/// `health_listener` (`DBXC_HEALTH_LISTEN`): the kubelet's native gRPC probes cannot
/// speak TLS, and nothing but SERVING / NOT_SERVING is ever answered there.
pub async fn serve_with_health(
    config: Config,
    listener: TcpListener,
    health_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let target = dropbox_target(&config)?;
    let sealer = config.require_secrets_key()?;
    let tls = transport::listener_tls(&config)?;
    let limits = &config.limits;
    let budget = UploadBudget::new(
        limits.upload_buffer_bytes,
        std::time::Duration::from_millis(limits.upload_buffer_wait_ms),
    );
    let auth = crate::auth::Auth::load(&config.auth)?;
    auth.spawn_reload(std::time::Duration::from_secs(config.auth.reload_seconds));
    let (reporter, health) = tonic_health::server::health_reporter();
    set_all(&reporter, ServingStatus::NotServing).await;
    // Ends with this function, after the grace period: probes see NOT_SERVING meanwhile.
    let _health_only = health_listener.map(|l| spawn_health_only(l, reporter.clone()));

    let (reflection_v1, reflection_v1alpha) = if config.reflection {
        let (v1, v1alpha) = reflection()?;
        (Some(v1), Some(v1alpha))
    } else {
        (None, None)
    };

    let ready = Ready::default();
    let cloud = CloudTasksApi::new(ready.clone(), auth.clone())
        .with_limits(
            std::time::Duration::from_secs(limits.stream_idle_seconds),
            budget.clone(),
        )
        .with_listing(config.listing.limits());
    let cloud = CloudTaskServiceServer::new(cloud)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let conns = ConnectionServiceServer::new(
        ConnectionsApi::new(ready.clone(), auth)
            .allow_private_test_targets(config.test_connection.allow_private_targets),
    )
    .max_decoding_message_size(MAX_MESSAGE_BYTES)
    .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let (began_tx, began_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown_reporter = reporter.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: health is NOT_SERVING, in-flight calls may finish");
        set_all(&shutdown_reporter, ServingStatus::NotServing).await;
        let _ = began_tx.send(());
    };

    let router = tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_streams_per_connection)
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(
            limits.keepalive_interval_seconds,
        )))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(
            limits.keepalive_timeout_seconds,
        )))
        .layer(transport::limit::CallLimitLayer::new(limits.max_calls))
        .add_service(health)
        .add_optional_service(reflection_v1)
        .add_optional_service(reflection_v1alpha)
        .add_service(conns)
        .add_service(cloud);
    let incoming = transport::incoming::incoming(
        listener,
        tls,
        std::time::Duration::from_secs(config.tls.handshake_timeout_seconds),
    );
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(server);

    // Open the store while the listener already answers health checks (NOT_SERVING).
    let db = config.connections_db();
    let open = async {
        let store = SqliteStore::open(&db, sealer)
            .await
            .with_context(|| format!("opening {}", db.display()))?;
        let key_id = store.key_id().to_owned();
        let uploads =
            Arc::new(ResumableUploads::new(Arc::new(store.clone())).with_budget(budget.clone()));
        spawn_upload_sweeper(uploads.clone());
        let store: Arc<dyn ConnectionStore> = Arc::new(store);
        ready.set(
            Arc::new(Connections::new(store, target, oauth_options(&config))),
            uploads,
        );
        set_all(&reporter, ServingStatus::Serving).await;
        tracing::info!(db = %db.display(), secrets_key_id = %key_id, "connection store open; serving");
        anyhow::Ok(())
    };
    tokio::select! {
        r = &mut server => return r.context("gRPC server failed"),
        r = open => r?,
    }

    let grace = config.shutdown.grace();
    let grace_over = async move {
        if began_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = &mut server => r.context("gRPC server failed")?,
        () = grace_over => tracing::warn!(grace_seconds = grace.as_secs(), "grace period over; dropping calls still running"),
    }
    Ok(())
}

/// The reflection services (v1 and v1alpha), for `DBXC_REFLECTION=true`.
fn reflection() -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
)> {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(dropbox_connector_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building the reflection service")?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(dropbox_connector_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("building the reflection service")?;
    Ok((v1, v1alpha))
}

/// Aborts the task it holds when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn spawn_health_only(listener: TcpListener, reporter: HealthReporter) -> AbortOnDrop {
    let health = tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(reporter),
    );
    AbortOnDrop(tokio::spawn(async move {
        let served = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the health listener failed");
        }
    }))
}

/// Drops expired resumable uploads once an hour (lookups also refuse expired ones).
fn spawn_upload_sweeper(uploads: Arc<ResumableUploads>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match uploads.sweep_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(uploads = n, "dropped expired resumable uploads"),
                Err(e) => tracing::warn!(error = %e, "could not drop expired resumable uploads"),
            }
        }
    });
}
