//! The audit log: one line (tracing target `audit`) per mutating call, with the caller,
//! the method, the connection, the item count and the outcome. It never holds a token.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tonic::Status;

use super::policy::{Caller, Method};
use crate::tasks::TaskError;

/// Logs its line once: at [`Audit::finish`], at the end of an audited stream, or when
/// dropped before either (the client went away: `Cancelled`).
pub struct Audit {
    method: Method,
    caller: String,
    connection: String,
    items: u64,
    dry_run: bool,
    done: bool,
}

/// The caller of a call refused before it was identified.
const UNIDENTIFIED: &str = "-";

impl Audit {
    /// `caller` is the outcome of identifying the caller and checking its role: a caller
    /// refused for its role is still named.
    pub fn new(method: Method, caller: &Result<Caller, TaskError>, connection: &str) -> Audit {
        let name = match caller {
            Ok(c) => c.name.as_str(),
            Err(TaskError::CallerNotAllowed { caller, .. }) => caller.as_str(),
            Err(_) => UNIDENTIFIED,
        };
        Audit {
            method,
            caller: name.to_owned(),
            connection: connection.to_owned(),
            items: 0,
            dry_run: false,
            done: false,
        }
    }

    /// For calls whose connection is known only later (the first message of a stream).
    pub fn set_connection(&mut self, connection: &str) {
        connection.clone_into(&mut self.connection);
    }

    pub fn dry_run(mut self, dry_run: bool) -> Audit {
        self.dry_run = dry_run;
        self
    }

    /// Logs the outcome of a unary call; `items` counts what the answer did.
    pub fn finish<T>(
        mut self,
        result: Result<T, Status>,
        items: impl FnOnce(&T) -> u64,
    ) -> Result<T, Status> {
        match &result {
            Ok(v) => {
                self.items = items(v);
                self.log(tonic::Code::Ok);
            }
            Err(s) => self.log(s.code()),
        }
        result
    }

    /// Logs a call refused before it ran; returns its status.
    pub fn fail(mut self, status: Status) -> Status {
        self.log(status.code());
        status
    }

    /// Audits a server stream: counts its messages with `count` and logs when it ends.
    pub fn stream<S, T>(self, inner: S, count: fn(&T) -> u64) -> AuditedStream<S, T>
    where
        S: Stream<Item = Result<T, Status>> + Unpin,
    {
        AuditedStream {
            inner,
            audit: self,
            count,
        }
    }

    fn log(&mut self, outcome: tonic::Code) {
        if self.done {
            return;
        }
        self.done = true;
        tracing::info!(
            target: "audit",
            caller = %self.caller,
            method = self.method.name(),
            connection = %self.connection,
            items = self.items,
            dry_run = self.dry_run,
            outcome = ?outcome,
            "audit"
        );
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        self.log(tonic::Code::Cancelled);
    }
}

/// A server stream whose end (or error, or abandonment) is audited.
pub struct AuditedStream<S, T> {
    inner: S,
    audit: Audit,
    count: fn(&T) -> u64,
}

impl<S, T> Stream for AuditedStream<S, T>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
{
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let next = Pin::new(&mut this.inner).poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(item))) => this.audit.items += (this.count)(item),
            Poll::Ready(Some(Err(s))) => this.audit.log(s.code()),
            Poll::Ready(None) => this.audit.log(tonic::Code::Ok),
            Poll::Pending => {}
        }
        next
    }
}
