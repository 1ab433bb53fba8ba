//! One accepted connection, plain TCP or TLS, and what tonic puts into each request's
//! extensions about it ([`PeerInfo`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

use super::tls::certificate_identity;
use crate::peer::PeerInfo;

pub struct Conn {
    io: Io,
    peer: PeerInfo,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    pub fn plain(tcp: TcpStream) -> Conn {
        let peer = PeerInfo {
            remote_addr: tcp.peer_addr().ok(),
            certificate: None,
        };
        Conn {
            io: Io::Plain(tcp),
            peer,
        }
    }

    /// A connection whose handshake is done; with mTLS the client certificate rustls
    /// verified names the peer.
    pub fn tls(tls: TlsStream<TcpStream>) -> Conn {
        let (tcp, session) = tls.get_ref();
        let peer = peer_info(
            tcp.peer_addr().ok(),
            session
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref()),
        );
        Conn {
            io: Io::Tls(Box::new(tls)),
            peer,
        }
    }
}

/// What a request learns about a peer with this address and leaf certificate (DER).
pub fn peer_info(remote_addr: Option<std::net::SocketAddr>, leaf: Option<&[u8]>) -> PeerInfo {
    PeerInfo {
        remote_addr,
        certificate: leaf.and_then(certificate_identity),
    }
}

impl Connected for Conn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::CertificateIdentity;

    fn client_certificate(uri: &str, dns: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![dns.to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::URI(uri.try_into().unwrap()));
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("10.0.0.1".parse().unwrap()));
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_peer_info_carries_the_client_certificate_names() {
        let spiffe = "spiffe://cluster.local/ns/reports/sa/exporter";
        let der = client_certificate(spiffe, "exporter.reports.svc");
        let addr = "127.0.0.1:4242".parse().ok();
        let peer = peer_info(addr, Some(&der));
        assert_eq!(peer.remote_addr, addr);
        assert_eq!(
            peer.certificate,
            Some(CertificateIdentity {
                uris: vec![spiffe.to_owned()],
                dns_names: vec!["exporter.reports.svc".to_owned()],
            })
        );
        let plain = peer_info(addr, None);
        assert_eq!((plain.remote_addr, plain.certificate), (addr, None));
    }
}
