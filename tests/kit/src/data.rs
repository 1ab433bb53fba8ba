//! Test data that never repeats (xorshift64), so a piece swapped with another or an
//! offset off by any amount changes the bytes and their hash.

use std::io::Write;
use std::path::Path;

/// Fills `out` from the xorshift64 state `state`, 8 bytes per step.
fn fill(state: &mut u64, out: &mut [u8]) {
    for chunk in out.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
}

/// A non-zero xorshift state from a seed, so seeds 0 and 1 do not give the same stream.
fn state_of(seed: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491_4F6C_DD1D)
        | 1
}

/// `n` bytes for `seed`: the same every run, different for every seed.
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    random_chunk(u64::from(seed), 0, n)
}

/// Chunk `index` of `size` bytes for `seed`, each chunk computable on its own (a stream
/// of them needs no state but the index).
pub fn random_chunk(seed: u64, index: u64, size: usize) -> Vec<u8> {
    let mut state = state_of(seed ^ index.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let mut out = vec![0u8; size];
    fill(&mut state, &mut out);
    out
}

/// Writes `len` bytes for `seed` to `path`, streaming (never whole in memory).
pub fn write_random_file(path: &Path, len: u64, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create file"));
    let mut state = state_of(seed);
    let mut buf = vec![0u8; 1024 * 1024];
    let mut left = len;
    while left > 0 {
        fill(&mut state, &mut buf);
        let n = left.min(buf.len() as u64) as usize;
        file.write_all(&buf[..n]).expect("write file");
        left -= n as u64;
    }
    file.flush().expect("flush");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old pattern repeated every 256 bytes; no window of these repeats.
    #[test]
    fn no_block_repeats_at_any_period() {
        let data = bytes(1 << 20, 3);
        for period in [1usize, 8, 256, 4096, 65_536] {
            assert_ne!(data[..256], data[period..period + 256], "period {period}");
        }
        let blocks: std::collections::HashSet<&[u8]> = data.chunks(16).collect();
        assert_eq!(blocks.len(), data.len() / 16, "every 16-byte block differs");
    }

    #[test]
    fn seeds_and_chunks_differ_and_are_stable() {
        assert_ne!(bytes(64, 0), bytes(64, 1));
        assert_eq!(bytes(64, 7), bytes(64, 7));
        assert_ne!(random_chunk(1, 0, 64), random_chunk(1, 1, 64));
        assert_eq!(bytes(100, 9)[..50], bytes(50, 9)[..]);
    }

    #[test]
    fn a_written_file_is_the_stream_for_its_seed() {
        let dir = std::env::temp_dir().join(format!("kit-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f.bin");
        write_random_file(&file, 3 * 1024 * 1024 + 5, 11);
        let written = std::fs::read(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(written.len(), 3 * 1024 * 1024 + 5);
        let blocks: std::collections::HashSet<&[u8]> = written.chunks(64).collect();
        assert_eq!(blocks.len(), written.len().div_ceil(64));
    }
}
