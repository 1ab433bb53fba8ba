//! Dropbox `content_hash`: SHA-256 of each 4 MiB block, then SHA-256 of the concatenated
//! block digests, as 64 lowercase hex characters.

use sha2::{Digest, Sha256};

/// Dropbox's block size for content_hash: 4 MiB.
pub const BLOCK_SIZE: usize = 4 * 1024 * 1024;

/// Incremental content_hash over data fed in any chunking.
#[derive(Clone, Default)]
pub struct ContentHasher {
    overall: Sha256,
    block: Sha256,
    block_len: usize,
}

impl ContentHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (BLOCK_SIZE - self.block_len).min(data.len());
            self.block.update(&data[..take]);
            self.block_len += take;
            data = &data[take..];
            if self.block_len == BLOCK_SIZE {
                let digest = std::mem::take(&mut self.block).finalize();
                self.overall.update(digest);
                self.block_len = 0;
            }
        }
    }

    pub fn finish(mut self) -> String {
        if self.block_len > 0 {
            let digest = self.block.finalize();
            self.overall.update(digest);
        }
        hex::encode(self.overall.finalize())
    }
}

/// content_hash of a whole buffer.
pub fn content_hash(data: &[u8]) -> String {
    let mut h = ContentHasher::new();
    h.update(data);
    h.finish()
}

/// One SHA-256 digest per 4 MiB block of `data` (the last block may be shorter). With
/// [`combine_block_digests`] a content_hash can be carried across processes as digests
/// of the blocks persisted so far.
pub fn block_digests(data: &[u8]) -> Vec<[u8; 32]> {
    data.chunks(BLOCK_SIZE)
        .map(|block| Sha256::digest(block).into())
        .collect()
}

/// The content_hash of a file from the digests of all its blocks, in order.
pub fn combine_block_digests<'a>(digests: impl IntoIterator<Item = &'a [u8; 32]>) -> String {
    let mut overall = Sha256::new();
    for digest in digests {
        overall.update(digest);
    }
    hex::encode(overall.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_digests_combine_to_the_content_hash() {
        let data: Vec<u8> = (0..BLOCK_SIZE * 2 + 17).map(|i| (i % 251) as u8).collect();
        let (head, tail) = data.split_at(BLOCK_SIZE * 2);
        let mut digests = block_digests(head);
        assert_eq!(digests.len(), 2);
        digests.extend(block_digests(tail));
        assert_eq!(combine_block_digests(&digests), content_hash(&data));
        assert_eq!(
            combine_block_digests(&block_digests(b"")),
            content_hash(b"")
        );
    }

    #[test]
    fn reference_vectors() {
        assert_eq!(
            content_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            content_hash(b"hello"),
            "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
        );
        assert_eq!(
            content_hash(b"A"),
            "1cd6ef71e6e0ff46ad2609d403dc3fee244417089aa4461245a4e4fe23a55e42"
        );
    }

    fn reference_multi_block(data: &[u8]) -> String {
        let mut cat = Vec::new();
        for block in data.chunks(BLOCK_SIZE) {
            cat.extend_from_slice(&Sha256::digest(block));
        }
        hex::encode(Sha256::digest(&cat))
    }

    #[test]
    fn multi_block_any_chunking() {
        // 2 full blocks + 3 bytes, with a pattern so blocks differ.
        let data: Vec<u8> = (0..(2 * BLOCK_SIZE + 3)).map(|i| (i % 251) as u8).collect();
        let expected = reference_multi_block(&data);
        // Computed independently with Python's hashlib.
        assert_eq!(
            expected,
            "28a8a0b1a6c89ff110d9f2cfae055e22c59413323b0d3a0667be6fe74d315620"
        );
        assert_eq!(content_hash(&data), expected);
        for chunk in [1usize, 7, 65536, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 5] {
            let mut h = ContentHasher::new();
            for c in data.chunks(chunk.min(data.len())) {
                h.update(c);
            }
            assert_eq!(h.finish(), expected, "chunk {chunk}");
        }
        // Exactly one block: no empty trailing block is hashed.
        let one = vec![b'x'; BLOCK_SIZE];
        assert_eq!(content_hash(&one), reference_multi_block(&one));
        assert_eq!(
            content_hash(&one),
            "7cb1633b75c3caf1295e18a48aeb3f8bd7f74c5bafa25b4211433cfb2de6de12"
        );
    }

    #[test]
    fn lowercase_hex_64() {
        let h = content_hash(b"anything");
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
    }
}
