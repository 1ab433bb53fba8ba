//! File bytes: in memory, or one file per blob under `<data_dir>/blobs`, written while the
//! request body streams in and hashed on the way.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use crate::hash::ContentHasher;

/// Stored bytes of one file version.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Blob {
    #[serde(skip)]
    Memory(Bytes),
    /// A file name under the blob directory.
    Disk(String),
}

impl Default for Blob {
    fn default() -> Self {
        Blob::Memory(Bytes::new())
    }
}

/// Where blobs live.
#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: Option<PathBuf>,
}

/// Why a body could not be stored.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Io(std::io::Error),
    Client(String),
}

pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

impl BlobStore {
    pub fn new(data_dir: Option<&Path>) -> std::io::Result<BlobStore> {
        let dir = match data_dir {
            Some(d) => {
                let dir = d.join("blobs");
                std::fs::create_dir_all(&dir)?;
                Some(dir)
            }
            None => None,
        };
        Ok(BlobStore { dir })
    }

    pub fn is_disk(&self) -> bool {
        self.dir.is_some()
    }

    /// A new sink for bytes.
    pub async fn sink(&self) -> std::io::Result<Sink> {
        let inner = match &self.dir {
            None => SinkInner::Memory(Vec::new()),
            Some(dir) => {
                let name = format!("{}", uuid::Uuid::new_v4().simple());
                let path = dir.join(&name);
                let file = tokio::fs::File::create(&path).await?;
                SinkInner::File {
                    writer: BufWriter::with_capacity(256 * 1024, file),
                    guard: RemoveGuard(Some(path)),
                    name,
                }
            }
        };
        Ok(Sink {
            inner,
            hasher: ContentHasher::new(),
            len: 0,
        })
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(name))
    }

    /// Deletes a blob's bytes (disk blobs only; memory blobs just drop).
    pub fn remove(&self, blob: &Blob) {
        if let Blob::Disk(name) = blob
            && let Some(path) = self.path(name)
        {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Deletes every blob file whose name is not in `keep`.
    pub fn remove_unreferenced(&self, keep: &std::collections::HashSet<String>) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if !keep.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Streams `len` bytes of a blob from `start`.
    pub async fn read(&self, blob: &Blob, start: u64, len: u64) -> std::io::Result<ByteStream> {
        match blob {
            Blob::Memory(bytes) => {
                let s = (start as usize).min(bytes.len());
                let e = (start.saturating_add(len) as usize).min(bytes.len());
                let slice = bytes.slice(s..e);
                let chunks: Vec<std::io::Result<Bytes>> = (0..slice.len())
                    .step_by(64 * 1024)
                    .map(|i| Ok(slice.slice(i..(i + 64 * 1024).min(slice.len()))))
                    .collect();
                Ok(futures::stream::iter(chunks).boxed())
            }
            Blob::Disk(name) => {
                let path = self
                    .path(name)
                    .ok_or_else(|| std::io::Error::other("no blob directory"))?;
                let mut file = tokio::fs::File::open(path).await?;
                file.seek(std::io::SeekFrom::Start(start)).await?;
                let reader = file.take(len);
                Ok(tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024).boxed())
            }
        }
    }

    /// A blocking reader over a blob (for building zips on a blocking thread).
    pub fn open_sync(&self, blob: &Blob) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        match blob {
            Blob::Memory(bytes) => Ok(Box::new(std::io::Cursor::new(bytes.clone()))),
            Blob::Disk(name) => {
                let path = self
                    .path(name)
                    .ok_or_else(|| std::io::Error::other("no blob directory"))?;
                Ok(Box::new(std::fs::File::open(path)?))
            }
        }
    }

    /// A scratch file path next to the blobs (None in memory).
    pub fn scratch_path(&self) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("tmp-{}", uuid::Uuid::new_v4().simple())))
    }

    /// Copies a blob into a sink.
    pub async fn copy_into(&self, blob: &Blob, len: u64, sink: &mut Sink) -> std::io::Result<()> {
        let mut stream = self.read(blob, 0, len).await?;
        while let Some(chunk) = stream.next().await {
            sink.write(&chunk?).await?;
        }
        Ok(())
    }
}

struct RemoveGuard(Option<PathBuf>);

impl Drop for RemoveGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

enum SinkInner {
    Memory(Vec<u8>),
    File {
        writer: BufWriter<tokio::fs::File>,
        guard: RemoveGuard,
        name: String,
    },
}

/// Bytes being written; dropped without [`Sink::finish`], it leaves nothing behind.
pub struct Sink {
    inner: SinkInner,
    hasher: ContentHasher,
    len: u64,
}

/// A finished write.
pub struct Stored {
    pub blob: Blob,
    pub content_hash: String,
    pub len: u64,
}

impl Sink {
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.hasher.update(data);
        self.len += data.len() as u64;
        match &mut self.inner {
            SinkInner::Memory(v) => v.extend_from_slice(data),
            SinkInner::File { writer, .. } => writer.write_all(data).await?,
        }
        Ok(())
    }

    pub async fn finish(self) -> std::io::Result<Stored> {
        let content_hash = self.hasher.finish();
        let blob = match self.inner {
            SinkInner::Memory(v) => Blob::Memory(Bytes::from(v)),
            SinkInner::File {
                mut writer,
                mut guard,
                name,
            } => {
                writer.flush().await?;
                writer.get_mut().sync_data().await.ok();
                guard.0 = None;
                Blob::Disk(name)
            }
        };
        Ok(Stored {
            blob,
            content_hash,
            len: self.len,
        })
    }

    /// Streams an HTTP body into the sink, refusing more than `limit` bytes.
    pub async fn read_body(&mut self, body: axum::body::Body, limit: u64) -> Result<(), BodyError> {
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BodyError::Client(e.to_string()))?;
            if self.len + chunk.len() as u64 > limit {
                return Err(BodyError::TooLarge);
            }
            self.write(&chunk).await.map_err(BodyError::Io)?;
        }
        Ok(())
    }
}
