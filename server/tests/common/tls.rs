//! TLS test helpers: the test kit's throwaway CA, the files and `DBXC_TLS__*` settings for
//! the server, tonic clients over TLS, and a raw TLS handshake that reports which
//! certificate the server presented.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use dropbox_connector_test_kit::tls::{Ca, Issued, SERVER_NAME};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The server's TLS files, laid out as a Kubernetes Secret volume does it: the
/// configured paths go through a `current` symlink, and a rotation swaps the symlink to
/// a new directory in one rename.
pub struct ServerFiles {
    pub dir: PathBuf,
    version: u32,
}

impl ServerFiles {
    /// Writes `server` (and the client CA, for mTLS) as version 1.
    pub fn new(dir: &Path, server: &Issued, client_ca: Option<&str>) -> ServerFiles {
        let mut files = ServerFiles {
            dir: dir.to_owned(),
            version: 0,
        };
        files.rotate(server, client_ca);
        files
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("current").join("tls.crt")
    }
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("current").join("tls.key")
    }
    pub fn client_ca_path(&self) -> PathBuf {
        self.dir.join("current").join("ca.crt")
    }

    /// Puts new files in place atomically (a new directory, then a symlink swap).
    pub fn rotate(&mut self, server: &Issued, client_ca: Option<&str>) {
        self.version += 1;
        let name = format!("v{}", self.version);
        let version_dir = self.dir.join(&name);
        std::fs::create_dir_all(&version_dir).unwrap();
        std::fs::write(version_dir.join("tls.crt"), &server.cert_pem).unwrap();
        std::fs::write(version_dir.join("tls.key"), &server.key_pem).unwrap();
        if let Some(ca) = client_ca {
            std::fs::write(version_dir.join("ca.crt"), ca).unwrap();
        }
        let tmp = self.dir.join("current.tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&name, &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.join("current")).unwrap();
    }

    /// The server's `DBXC_TLS__*` settings (checked every second, for tests).
    pub fn env(&self, mtls: bool) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "DBXC_TLS__CERT_FILE".to_owned(),
                self.cert_path().display().to_string(),
            ),
            (
                "DBXC_TLS__KEY_FILE".to_owned(),
                self.key_path().display().to_string(),
            ),
            ("DBXC_TLS__RELOAD_SECONDS".to_owned(), "1".to_owned()),
        ];
        if mtls {
            env.push((
                "DBXC_TLS__CLIENT_CA_FILE".to_owned(),
                self.client_ca_path().display().to_string(),
            ));
        }
        env
    }
}

/// tonic client TLS trusting `ca_pem`, presenting `identity` when given.
pub fn client_tls(ca_pem: &str, identity: Option<&Issued>) -> ClientTlsConfig {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name(SERVER_NAME);
    if let Some(id) = identity {
        tls = tls.identity(Identity::from_pem(&id.cert_pem, &id.key_pem));
    }
    tls
}

/// A channel to `address` over TLS (connected eagerly).
pub async fn tls_channel(
    address: std::net::SocketAddr,
    tls: ClientTlsConfig,
) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("https://{address}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
}

/// Handshakes with the server at `address` (trusting `ca_pem`, presenting `identity`
/// when given) and returns the leaf certificate it served.
pub async fn served_certificate(
    address: std::net::SocketAddr,
    ca_pem: &str,
    identity: Option<&Issued>,
) -> std::io::Result<Vec<u8>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await?;
    let stream = connector
        .connect(ServerName::try_from(SERVER_NAME).unwrap(), tcp)
        .await?;
    let (_, session) = stream.get_ref();
    Ok(session.peer_certificates().unwrap()[0].to_vec())
}
