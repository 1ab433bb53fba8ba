//! The accept loop: optional TLS, bandwidth pacing, HTTP/1.1 and HTTP/2, and a kill switch
//! per connection for injected resets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::network::Throttled;
use crate::state::AppState;
use crate::tls::SelfSigned;

/// Put into every request's extensions: notify it to drop the connection at once.
#[derive(Clone)]
pub struct ConnKill(pub Arc<Notify>);

impl ConnKill {
    pub fn kill(&self) {
        self.0.notify_one();
    }
}

pub struct Running {
    pub local_addr: SocketAddr,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    state: AppState,
}

impl Running {
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.state.persist().await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub async fn serve(
    listen: SocketAddr,
    state: AppState,
    tls: Option<SelfSigned>,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let router = crate::routes::router(state.clone());
    let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
    let network = state.0.network.clone();
    let loop_cancel = cancel.clone();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                _ = loop_cancel.cancelled() => break,
                a = listener.accept() => a,
                Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            };
            let (tcp, _) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let router = router.clone();
            let acceptor = acceptor.clone();
            let network = network.clone();
            let cancel = loop_cancel.clone();
            conns.spawn(async move {
                let kill = ConnKill(Arc::new(Notify::new()));
                let service = {
                    let kill = kill.clone();
                    hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let mut req = req.map(axum::body::Body::new);
                        req.extensions_mut().insert(kill.clone());
                        router.clone().oneshot(req)
                    })
                };
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let io = Throttled::new(tcp, network);
                match acceptor {
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(io))
                                .await;
                        let Ok(Ok(tls)) = handshake else { return };
                        let conn = builder.serve_connection(TokioIo::new(tls), service);
                        tokio::select! {
                            _ = conn => {}
                            _ = kill.0.notified() => {}
                            _ = cancel.cancelled() => {}
                        }
                    }
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(io), service);
                        tokio::select! {
                            _ = conn => {}
                            _ = kill.0.notified() => {}
                            _ = cancel.cancelled() => {}
                        }
                    }
                }
            });
        }
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    });
    Ok(Running {
        local_addr,
        cancel,
        task: Some(task),
        state,
    })
}
