//! Real certificates for the end-to-end tests, as files the binaries read: a throwaway CA
//! (the test kit's), a server certificate for 127.0.0.1 and localhost, and client
//! certificates that carry a SAN URI (a SPIFFE ID, as a mesh would issue) for mTLS.

use std::path::{Path, PathBuf};

use dropbox_connector_test_kit::tls::Ca;
pub use dropbox_connector_test_kit::tls::IssuedFiles as Issued;
pub use dropbox_connector_test_kit::token_sha256;

/// A CA whose certificate and issued certificates are written into a directory.
pub struct TestCa {
    ca: Ca,
    dir: PathBuf,
    /// The CA certificate, PEM: what clients (`dbxc --ca-file`) and the server's
    /// `DBXC_TLS__CLIENT_CA_FILE` trust.
    pub ca_file: PathBuf,
}

impl TestCa {
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let ca = Ca::new(&format!("{name} test CA"));
        let ca_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_file, ca.pem()).unwrap();
        TestCa {
            ca,
            dir: dir.to_path_buf(),
            ca_file,
        }
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server_cert(&self, name: &str) -> Issued {
        self.ca.server_named(name).write(&self.dir, name)
    }

    /// A client certificate whose only identity is the SAN URI `uri`.
    pub fn client_cert(&self, name: &str, uri: &str) -> Issued {
        self.ca.client(uri, None).write(&self.dir, name)
    }
}
