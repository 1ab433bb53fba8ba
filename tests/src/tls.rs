//! Real certificates for the end-to-end tests: a throwaway CA (rcgen), a server
//! certificate for 127.0.0.1 and localhost, and client certificates that carry a SAN URI
//! (a SPIFFE ID, as a mesh would issue) for mTLS.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};

/// A CA and its key, written as PEM files into a directory.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    dir: PathBuf,
    /// The CA certificate, PEM: what clients (`dbxc --ca-file`) and the server's
    /// `DBXC_TLS__CLIENT_CA_FILE` trust.
    pub ca_file: PathBuf,
}

/// A certificate and its key as files.
pub struct Issued {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl TestCa {
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let cert = params.self_signed(&key).unwrap();
        let ca_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_file, cert.pem()).unwrap();
        TestCa {
            cert,
            key,
            dir: dir.to_path_buf(),
            ca_file,
        }
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server_cert(&self, name: &str) -> Issued {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, name.to_owned());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(name, params)
    }

    /// A client certificate whose only identity is the SAN URI `uri`.
    pub fn client_cert(&self, name: &str, uri: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
        params
            .distinguished_name
            .push(DnType::CommonName, name.to_owned());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(name, params)
    }

    fn issue(&self, name: &str, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let cert_file = self.dir.join(format!("{name}.crt"));
        let key_file = self.dir.join(format!("{name}.key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        Issued {
            cert_file,
            key_file,
        }
    }
}

/// The callers file line for a bearer token: its SHA-256, hex.
pub fn token_sha256(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}
