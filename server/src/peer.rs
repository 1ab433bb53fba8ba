//! What the transport knows about the other end of a call. The TLS listener puts a
//! [`PeerInfo`] into every request's extensions; `auth` reads the certificate identity
//! from it. A plain-TCP listener puts one with `certificate: None`.

use std::net::SocketAddr;

/// The names a verified client certificate carries (mTLS only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// SAN URIs, e.g. a SPIFFE ID `spiffe://cluster.local/ns/reports/sa/exporter`.
    pub uris: Vec<String>,
    /// SAN DNS names.
    pub dns_names: Vec<String>,
}

/// The connection a request came in on.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    pub remote_addr: Option<SocketAddr>,
    /// Present when the client presented a certificate that verified against the
    /// configured client CA.
    pub certificate: Option<CertificateIdentity>,
}
