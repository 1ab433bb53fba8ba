//! Download bodies as they leave the emulator: bytes handed to the connection and bodies
//! still open. Lets a test see that a client which went away stopped the read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};

#[derive(Default, Debug)]
pub struct DownloadMeter {
    bytes_served: AtomicU64,
    open_bodies: AtomicU64,
    opened: AtomicU64,
}

impl DownloadMeter {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "bytes_served": self.bytes_served.load(Ordering::Relaxed),
            "open_bodies": self.open_bodies.load(Ordering::Relaxed),
            "opened": self.opened.load(Ordering::Relaxed),
        })
    }
}

/// Closes its body in the meter when hyper drops the body (done, or connection gone).
struct Open(Arc<DownloadMeter>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open_bodies.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `body`, counted: every chunk hyper pulls adds to `bytes_served`.
pub fn metered<S>(
    body: S,
    meter: Arc<DownloadMeter>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    meter.open_bodies.fetch_add(1, Ordering::Relaxed);
    meter.opened.fetch_add(1, Ordering::Relaxed);
    let open = Open(meter.clone());
    body.map(move |chunk| {
        let _still_open = &open;
        if let Ok(c) = &chunk {
            meter
                .bytes_served
                .fetch_add(c.len() as u64, Ordering::Relaxed);
        }
        chunk
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_bytes_and_closes_on_drop() {
        let meter = Arc::new(DownloadMeter::default());
        let chunks = vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"de")),
        ];
        let mut body = Box::pin(metered(futures::stream::iter(chunks), meter.clone()));
        assert_eq!(meter.json()["open_bodies"], 1);
        body.next().await.unwrap().unwrap();
        assert_eq!(meter.json()["bytes_served"], 3);
        drop(body);
        assert_eq!(meter.json()["open_bodies"], 0);
        assert_eq!(meter.json()["opened"], 1);
    }
}
