//! The listener's stream of ready connections for tonic. TLS handshakes run in their own
//! tasks with a deadline, so a slow or silent client never holds up accepting others.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::conn::Conn;
use super::reload::ReloadingTls;

/// Connections waiting for tonic to take them.
const QUEUE: usize = 64;
/// Handshakes in progress at once; past it new connections are closed at once, so a
/// flood of silent clients costs a bounded number of tasks.
const MAX_HANDSHAKES: usize = 1024;

/// Accepts on `listener` until the returned stream is dropped (then the listening socket
/// closes). With `tls`, only connections whose handshake finished within
/// `handshake_timeout` come out.
pub fn incoming(
    listener: TcpListener,
    tls: Option<Arc<ReloadingTls>>,
    handshake_timeout: Duration,
) -> impl Stream<Item = Result<Conn, std::io::Error>> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(accept_loop(listener, tls, handshake_timeout, tx));
    ReceiverStream::new(rx)
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<ReloadingTls>>,
    handshake_timeout: Duration,
    tx: mpsc::Sender<Result<Conn, std::io::Error>>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let accepted = tokio::select! {
            () = tx.closed() => return,
            a = listener.accept() => a,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // gRPC messages are small frames; Nagle would only add latency.
        let _ = tcp.set_nodelay(true);
        match &tls {
            None => {
                if tx.send(Ok(Conn::plain(tcp))).await.is_err() {
                    return;
                }
            }
            Some(tls) => match handshakes.clone().try_acquire_owned() {
                Ok(slot) => {
                    tokio::spawn(handshake(
                        tcp,
                        tls.clone(),
                        handshake_timeout,
                        tx.clone(),
                        slot,
                    ));
                }
                Err(_) => {
                    tracing::warn!(
                        max = MAX_HANDSHAKES,
                        "too many TLS handshakes in progress; closing a new connection"
                    );
                }
            },
        }
    }
}

async fn handshake(
    tcp: TcpStream,
    tls: Arc<ReloadingTls>,
    timeout: Duration,
    tx: mpsc::Sender<Result<Conn, std::io::Error>>,
    _slot: OwnedSemaphorePermit,
) {
    let remote = tcp.peer_addr().ok();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => {
            let _ = tx.send(Ok(Conn::tls(stream))).await;
        }
        Ok(Err(e)) => tracing::info!(?remote, error = %e, "TLS handshake failed"),
        Err(_) => tracing::info!(?remote, "TLS handshake timed out"),
    }
}
