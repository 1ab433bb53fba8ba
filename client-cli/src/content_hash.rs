//! Dropbox's `content_hash`, computed locally: the file is cut into 4 MiB blocks, each block
//! is hashed with SHA-256, and the hash is the SHA-256 of the concatenated block digests, in
//! lowercase hex. Empty input hashes to the SHA-256 of nothing.
//!
//! Computed here rather than borrowed from the server's Dropbox client on purpose: the CLI
//! checks the service end to end, so its hash must not share code with what it checks.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Dropbox's block size for content_hash.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// An incremental content_hash: feed bytes in any slices, then `finish`.
#[derive(Clone, Default)]
pub struct ContentHasher {
    overall: Sha256,
    block: Sha256,
    in_block: usize,
}

impl ContentHasher {
    /// A hasher with no bytes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = BLOCK_SIZE - self.in_block;
            let take = room.min(data.len());
            self.block.update(&data[..take]);
            self.in_block += take;
            data = &data[take..];
            if self.in_block == BLOCK_SIZE {
                let digest = std::mem::take(&mut self.block).finalize();
                self.overall.update(digest);
                self.in_block = 0;
            }
        }
    }

    /// The content_hash of everything added, lowercase hex.
    pub fn finish(mut self) -> String {
        if self.in_block > 0 {
            let digest = self.block.finalize();
            self.overall.update(digest);
        }
        hex::encode(self.overall.finalize())
    }
}

/// The content_hash of a byte slice.
#[cfg(test)]
pub fn of_bytes(data: &[u8]) -> String {
    let mut hasher = ContentHasher::new();
    hasher.update(data);
    hasher.finish()
}

/// The content_hash and length of a local file, read in bounded memory (blocking I/O).
pub fn of_file(path: &Path) -> std::io::Result<(String, u64)> {
    let (hasher, total) = of_reader(std::fs::File::open(path)?)?;
    Ok((hasher.finish(), total))
}

/// The content_hash state and length of everything `reader` yields, in bounded memory.
pub fn of_reader(mut reader: impl Read) -> std::io::Result<(ContentHasher, u64)> {
    let mut hasher = ContentHasher::new();
    let mut buffer = vec![0u8; 1024 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((hasher, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            of_bytes(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            of_bytes(b"hello"),
            "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
        );
    }

    #[test]
    fn multi_block_matches_definition_and_slicing() {
        let data: Vec<u8> = (0..(BLOCK_SIZE * 2 + 12345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut expected = Sha256::new();
        for block in data.chunks(BLOCK_SIZE) {
            expected.update(Sha256::digest(block));
        }
        let expected = hex::encode(expected.finalize());
        assert_eq!(of_bytes(&data), expected);

        // Feeding odd-sized slices gives the same answer.
        let mut hasher = ContentHasher::new();
        for piece in data.chunks(777_777) {
            hasher.update(piece);
        }
        assert_eq!(hasher.finish(), expected);
    }

    #[test]
    fn exact_block_boundary() {
        let data = vec![7u8; BLOCK_SIZE];
        let expected = hex::encode(Sha256::digest(Sha256::digest(&data)));
        assert_eq!(of_bytes(&data), expected);
    }

    #[test]
    fn file_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        let (hash, len) = of_file(&path).unwrap();
        assert_eq!(len, 5);
        assert_eq!(hash, of_bytes(b"hello"));
    }
}
