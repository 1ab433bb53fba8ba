//! A global bound on calls in progress. Past it a call is answered at once with
//! RESOURCE_EXHAUSTED (SERVER_BUSY) and RetryInfo instead of queueing, so a flood of
//! calls can neither hang the others nor grow the server without bound. Health checks
//! are never counted: probes must keep working while the server is busy.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use crate::api::status::to_status;
use crate::tasks::TaskError;

const HEALTH_PATH: &str = "/grpc.health.v1.Health/";

#[derive(Clone)]
pub struct CallLimitLayer {
    permits: Arc<Semaphore>,
    max: usize,
}

impl CallLimitLayer {
    pub fn new(max: usize) -> CallLimitLayer {
        CallLimitLayer {
            permits: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            max,
        }
    }
}

impl<S> Layer<S> for CallLimitLayer {
    type Service = CallLimit<S>;

    fn layer(&self, inner: S) -> CallLimit<S> {
        CallLimit {
            inner,
            permits: self.permits.clone(),
            max: self.max,
        }
    }
}

#[derive(Clone)]
pub struct CallLimit<S> {
    inner: S,
    permits: Arc<Semaphore>,
    max: usize,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for CallLimit<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path().starts_with(HEALTH_PATH) {
            return Box::pin(self.inner.call(req));
        }
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::info!(path = %req.uri().path(), max_calls = self.max, "call refused: too many calls in progress");
            let status = to_status(&TaskError::ServerBusy {
                message: format!("the server has {} calls in progress", self.max),
                retry_after: Duration::from_secs(1),
            });
            return Box::pin(std::future::ready(Ok(status.into_http())));
        };
        let call = self.inner.call(req);
        Box::pin(async move {
            let response = call.await?;
            // A streamed answer is still in progress until its body ends.
            Ok(response.map(|body| {
                tonic::body::Body::new(Holding {
                    body,
                    permit: Some(permit),
                })
            }))
        })
    }
}

/// A response body that keeps its call's slot until its last frame (the trailers) is
/// out, or it is dropped.
struct Holding {
    body: tonic::body::Body,
    permit: Option<OwnedSemaphorePermit>,
}

impl Body for Holding {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || this.body.is_end_stream() {
            this.permit = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
