//! Panics in tasks become INTERNAL errors instead of silently ending a call.
//!
//! A streaming task runs in its own tokio task; if it panicked, its sender was simply dropped
//! and the client saw a clean end of stream: OK with a truncated listing or download. A panic
//! inside a unary handler took the whole HTTP/2 connection (and every other call on it) down.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::tasks::{Events, TaskError};

/// What the client is told: the panic text stays in the server's log (it may name internals).
const PANIC_MESSAGE: &str = "the task stopped unexpectedly (a server bug; its log has the details); the result is incomplete";

/// Runs `task` in the background on a channel of `depth`; if it panics, an
/// [`TaskError::Internal`] is the last thing the receiver gets.
pub fn spawn_guarded<E, F, Fut>(
    span: tracing::Span,
    depth: usize,
    task: F,
) -> mpsc::Receiver<Result<E, TaskError>>
where
    E: Send + 'static,
    F: FnOnce(Events<E>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(depth);
    let fut = task(tx.clone());
    tokio::spawn(
        async move {
            if let Err(panic) = AssertUnwindSafe(fut).catch_unwind().await {
                log_panic(panic.as_ref());
                // The receiver may be gone already; then nobody is left to tell.
                let _ = tx
                    .send(Err(TaskError::Internal(PANIC_MESSAGE.to_owned())))
                    .await;
            }
        }
        .instrument(span),
    );
    rx
}

/// Awaits a unary handler's work; a panic becomes [`TaskError::Internal`].
pub async fn guarded<T, Fut>(fut: Fut) -> Result<T, tonic::Status>
where
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            log_panic(panic.as_ref());
            Err(TaskError::Internal(PANIC_MESSAGE.to_owned()).into())
        }
    }
}

fn log_panic(panic: &(dyn Any + Send)) {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = text, "task panicked; the call ends with INTERNAL");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::status::{classify, reason_name};
    use dropbox_connector_proto::v1::ErrorReason;

    #[tokio::test]
    async fn a_panicking_stream_task_ends_with_internal_not_a_clean_end() {
        let mut rx = spawn_guarded(tracing::Span::none(), 4, |tx: Events<u32>| async move {
            let _ = crate::tasks::emit(&tx, 1).await;
            let _ = crate::tasks::emit(&tx, 2).await;
            if std::hint::black_box(true) {
                panic!("boom in the middle of a listing");
            }
        });
        let mut items = Vec::new();
        while let Some(item) = rx.recv().await {
            items.push(item);
        }
        assert_eq!(items.len(), 3, "two events, then the error: {items:?}");
        assert!(matches!(items[0], Ok(1)) && matches!(items[1], Ok(2)));
        let Some(Err(last)) = items.last() else {
            panic!("the stream ended cleanly after a panic: {items:?}");
        };
        let classified = classify(last);
        assert_eq!(classified.code, tonic::Code::Internal);
        assert_eq!(reason_name(classified.reason), "INTERNAL");
        assert_eq!(classified.reason, ErrorReason::Internal);
    }

    #[tokio::test]
    async fn a_task_that_finishes_ends_cleanly() {
        let mut rx = spawn_guarded(tracing::Span::none(), 4, |tx: Events<u32>| async move {
            let _ = crate::tasks::emit(&tx, 7).await;
        });
        assert!(matches!(rx.recv().await, Some(Ok(7))));
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_panicking_unary_handler_returns_internal() {
        let status = guarded(async {
            if std::hint::black_box(true) {
                panic!("boom in a unary handler");
            }
            Ok::<(), tonic::Status>(())
        })
        .await
        .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(status.message().contains("unexpectedly"), "{status:?}");
    }
}
