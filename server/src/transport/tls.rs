//! The TLS settings of the listener, built from PEM files: the server's certificate
//! chain and key, and for mTLS the CAs client certificates must chain to. Also reads the
//! names (SAN URIs, DNS names) out of a verified client certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use x509_parser::extensions::GeneralName;

use crate::config::TlsConfig;
use crate::peer::CertificateIdentity;

/// Where the listener's TLS material lives.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The files from the configuration; `None` for a plain-TCP listener.
    pub fn from_config(config: &TlsConfig) -> Option<TlsFiles> {
        let set = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        Some(TlsFiles {
            cert: set(&config.cert_file)?,
            key: set(&config.key_file)?,
            client_ca: set(&config.client_ca_file),
        })
    }

    /// The files' current bytes, to notice a change (a rewrite or a symlink swap).
    pub fn read(&self) -> anyhow::Result<TlsMaterial> {
        let read = |what: &str, p: &Path| {
            std::fs::read(p).with_context(|| format!("reading {what} {}", p.display()))
        };
        Ok(TlsMaterial {
            cert: read("tls.cert_file (DBXC_TLS__CERT_FILE)", &self.cert)?,
            key: read("tls.key_file (DBXC_TLS__KEY_FILE)", &self.key)?,
            client_ca: self
                .client_ca
                .as_deref()
                .map(|p| read("tls.client_ca_file (DBXC_TLS__CLIENT_CA_FILE)", p))
                .transpose()?,
        })
    }
}

/// The contents of the TLS files at one moment. `Debug` is not derived: it holds a key.
#[derive(PartialEq, Eq)]
pub struct TlsMaterial {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl TlsMaterial {
    /// The rustls server settings for this material: HTTP/2 only, and a required client
    /// certificate when a client CA is given.
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = certificates(&self.cert).context("tls.cert_file (DBXC_TLS__CERT_FILE)")?;
        let key = PrivateKeyDer::from_pem_slice(&self.key)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("tls.key_file (DBXC_TLS__KEY_FILE) holds no usable PEM private key")?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(pem) => builder.with_client_cert_verifier(
                client_verifier(pem, provider)
                    .context("tls.client_ca_file (DBXC_TLS__CLIENT_CA_FILE)")?,
            ),
        };
        let mut config = builder.with_single_cert(chain, key).context(
            "tls.cert_file and tls.key_file: the key does not fit the certificate, or is not usable",
        )?;
        // gRPC is HTTP/2; clients (tonic, grpc-go) insist on it being negotiated.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }
}

fn certificates(pem: &[u8]) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("not PEM certificates: {e:?}"))?;
    if certs.is_empty() {
        anyhow::bail!("no PEM certificate in the file");
    }
    Ok(certs)
}

fn client_verifier(
    pem: &[u8],
    provider: Arc<CryptoProvider>,
) -> anyhow::Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem)? {
        roots
            .add(cert)
            .context("a client CA certificate is not usable")?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .context("building the client certificate verifier")
}

/// Loads the configured TLS files once, to refuse a bad setup before the server listens.
pub fn check(config: &TlsConfig) -> anyhow::Result<()> {
    if let Some(files) = TlsFiles::from_config(config) {
        files.read()?.server_config()?;
    }
    Ok(())
}

/// The SAN URIs and DNS names of a client certificate (DER). `None` when it does not
/// parse, which cannot happen for one rustls verified.
pub fn certificate_identity(der: &[u8]) -> Option<CertificateIdentity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut identity = CertificateIdentity::default();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::URI(uri) => identity.uris.push((*uri).to_owned()),
                GeneralName::DNSName(dns) => identity.dns_names.push((*dns).to_owned()),
                _ => {}
            }
        }
    }
    Some(identity)
}
