//! A fake network peer for transport tests: a loopback listener that reads one request
//! from each connection and answers fixed bytes (or nothing) before closing, so a test can
//! stand in for a proxy or server that refuses, hangs up or answers wrongly.

use std::io::{Read, Write};
use std::net::TcpListener;

/// Listens on a free loopback port until the test process ends; each connection gets
/// `reply` after its first read, then is closed. Returns the port.
pub fn answering(reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(reply);
            });
        }
    });
    port
}
