//! The test kit shared by `server/tests`, the end-to-end tests in `tests/` and the
//! emulator's tests: the real binaries started as a user would (on 127.0.0.1:0, ready once
//! they print `listening on`, stopped with SIGTERM and a clean exit asserted), data that
//! never repeats, waiting on conditions with a deadline, reads of the emulator's state over
//! raw HTTP (never through the code under test) and throwaway certificates.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test kit: failing loudly is its job

pub mod bins;
pub mod data;
pub mod emulator;
pub mod outcome;
pub mod peer;
pub mod process;
pub mod proxy;
pub mod tls;
pub mod wait;

pub use bins::{bin, bin_dir};
pub use data::{bytes, random_chunk, write_random_file};
pub use emulator::{EmulatorHttp, ascii_json};
pub use process::Process;
pub use proxy::{ProxyProcess, SOCKS_USER};
pub use wait::{free_port, wait_until};

/// A fresh secrets key for a server (`DBXC_SECRETS__KEY`): 32 random bytes, standard
/// base64.
pub fn secrets_key() -> String {
    use base64::Engine;
    let key: [u8; 32] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// The SHA-256 of a bearer token, hex: how a callers file names it.
pub fn token_sha256(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}
