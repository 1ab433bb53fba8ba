//! An idle timeout for client streams: a caller that opens an upload and stops sending
//! would otherwise hold its buffers, its call slot and any upload lease forever.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::time::Sleep;

use crate::tasks::TaskError;

/// Yields the inner stream's items as `Ok`; once the inner stream has had nothing for
/// `idle`, yields one `Err(StreamIdle)` and ends. The clock only runs while the server
/// is waiting for the client, not while it works on the last message.
pub struct IdleLimited<S> {
    inner: S,
    idle: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    done: bool,
}

pub fn idle_limited<S: Stream + Unpin>(inner: S, idle: Duration) -> IdleLimited<S> {
    IdleLimited {
        inner,
        idle,
        timer: None,
        done: false,
    }
}

impl<S: Stream + Unpin> Stream for IdleLimited<S> {
    type Item = Result<S::Item, TaskError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(item)) => {
                self.timer = None;
                Poll::Ready(Some(Ok(item)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                let idle = self.idle;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.done = true;
                tracing::info!(
                    idle_seconds = idle.as_secs(),
                    "client stream idle; closing it"
                );
                Poll::Ready(Some(Err(TaskError::StreamIdle {
                    idle_seconds: idle.as_secs(),
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_silent_stream_ends_with_stream_idle_and_a_busy_one_does_not() {
        let (tx, rx) = tokio::sync::mpsc::channel::<u32>(4);
        let idle = Duration::from_millis(400);
        let mut s = idle_limited(tokio_stream::wrappers::ReceiverStream::new(rx), idle);
        // Gaps shorter than the limit, adding up to more than it.
        for i in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            tx.send(i).await.unwrap();
            assert_eq!(s.next().await.unwrap().unwrap(), i);
        }
        let started = tokio::time::Instant::now();
        assert!(matches!(
            s.next().await,
            Some(Err(TaskError::StreamIdle { .. }))
        ));
        assert!(started.elapsed() >= idle);
        assert!(s.next().await.is_none());
    }
}
