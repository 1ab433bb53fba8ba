//! Throwaway certificates (rcgen): a CA that lives for one test and issues server
//! certificates for 127.0.0.1 and `localhost`, and client certificates that name their
//! caller by a SAN URI (a SPIFFE ID, as a mesh would issue).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The name server certificates are issued for, and clients expect.
pub const SERVER_NAME: &str = "localhost";

/// A certificate authority that lives for one test.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate with its key, as PEM, and the certificate's DER.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

/// A certificate and its key as files.
pub struct IssuedFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// The CA certificate, PEM: what clients and a server's client-CA setting trust.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for [`SERVER_NAME`] and 127.0.0.1 with this serial number (to
    /// tell rotated certificates apart).
    pub fn server(&self, serial: u64) -> Issued {
        let mut params = server_params(&format!("dropbox-connector #{serial}"));
        params.serial_number = Some(serial.into());
        self.issue(params)
    }

    /// A server certificate for [`SERVER_NAME`] and 127.0.0.1 named `common_name`.
    pub fn server_named(&self, common_name: &str) -> Issued {
        self.issue(server_params(common_name))
    }

    /// A client certificate naming the caller by a SAN URI (e.g. a SPIFFE ID) and, when
    /// given, a DNS name.
    pub fn client(&self, uri: &str, dns: Option<&str>) -> Issued {
        let mut params =
            CertificateParams::new(dns.map(str::to_owned).into_iter().collect::<Vec<_>>()).unwrap();
        params
            .subject_alt_names
            .push(SanType::URI(uri.try_into().unwrap()));
        params.distinguished_name.push(DnType::CommonName, uri);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

fn server_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(vec![SERVER_NAME.to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    params
        .distinguished_name
        .push(DnType::CommonName, common_name.to_owned());
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

impl Issued {
    /// Writes the certificate and key as `<dir>/<name>.crt` and `<dir>/<name>.key`.
    pub fn write(&self, dir: &Path, name: &str) -> IssuedFiles {
        let cert_file = dir.join(format!("{name}.crt"));
        let key_file = dir.join(format!("{name}.key"));
        std::fs::write(&cert_file, &self.cert_pem).unwrap();
        std::fs::write(&key_file, &self.key_pem).unwrap();
        IssuedFiles {
            cert_file,
            key_file,
        }
    }
}
