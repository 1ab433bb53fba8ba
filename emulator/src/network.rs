//! WAN simulation: latency per request and a bandwidth cap per connection (both ways).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Default, Debug)]
pub struct Network {
    latency_ms: AtomicU64,
    bandwidth: AtomicU64,
}

impl Network {
    pub fn set(&self, latency_ms: Option<u64>, bandwidth: Option<u64>) {
        if let Some(l) = latency_ms {
            self.latency_ms.store(l, Ordering::Relaxed);
        }
        if let Some(b) = bandwidth {
            self.bandwidth.store(b, Ordering::Relaxed);
        }
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    pub fn bandwidth(&self) -> u64 {
        self.bandwidth.load(Ordering::Relaxed)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "latency_ms": self.latency_ms.load(Ordering::Relaxed),
            "bandwidth_bytes_per_sec": self.bandwidth(),
        })
    }
}

/// A pacing budget for one direction of one connection.
struct Pace {
    next: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Pace {
    fn new() -> Pace {
        Pace {
            next: Instant::now(),
            sleep: None,
        }
    }

    /// Waits until the direction may send, then returns how many bytes it may move now.
    fn poll_budget(&mut self, cx: &mut Context<'_>, bandwidth: u64, want: usize) -> Poll<usize> {
        if bandwidth == 0 {
            self.sleep = None;
            return Poll::Ready(want);
        }
        loop {
            if let Some(sleep) = self.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                self.sleep = None;
            }
            let now = Instant::now();
            if self.next > now {
                self.sleep = Some(Box::pin(tokio::time::sleep_until(self.next)));
                continue;
            }
            let chunk = (bandwidth / 20).clamp(1024, 1 << 20) as usize;
            return Poll::Ready(want.min(chunk));
        }
    }

    fn consumed(&mut self, bandwidth: u64, n: usize) {
        if bandwidth == 0 || n == 0 {
            return;
        }
        let now = Instant::now();
        let base = if self.next > now { self.next } else { now };
        self.next = base + Duration::from_secs_f64(n as f64 / bandwidth as f64);
    }
}

/// An IO stream paced by the emulator's bandwidth setting.
pub struct Throttled<T> {
    inner: T,
    net: Arc<Network>,
    read: Pace,
    write: Pace,
    scratch: Vec<u8>,
}

impl<T> Throttled<T> {
    pub fn new(inner: T, net: Arc<Network>) -> Throttled<T> {
        Throttled {
            inner,
            net,
            read: Pace::new(),
            write: Pace::new(),
            scratch: Vec::new(),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Throttled<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let bw = this.net.bandwidth();
        if bw == 0 {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let budget = ready!(this.read.poll_budget(cx, bw, buf.remaining()));
        this.scratch.resize(budget, 0);
        let mut sub = ReadBuf::new(&mut this.scratch);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut sub))?;
        let n = sub.filled().len();
        buf.put_slice(sub.filled());
        this.read.consumed(bw, n);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Throttled<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let bw = this.net.bandwidth();
        let budget = ready!(this.write.poll_budget(cx, bw, data.len()));
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &data[..budget]))?;
        this.write.consumed(bw, n);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
