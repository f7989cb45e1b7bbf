//! A hand-driven QUIC client for the cases the real controller never
//! produces: no certificate, malformed frames, another protocol version.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::{Connection, Endpoint};
use rustls_pki_types::CertificateDer;
use tether_proto::handshake::{HandshakeError, Hello, HelloReply};
use tether_tests::Identity;
use tether_transport::framed;

/// A tokio runtime for one test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub use tether_tests::endpoint_with;

/// A client endpoint that trusts `ca` but presents no certificate at all.
pub fn endpoint_without_certificate(ca: &std::path::Path, addr: SocketAddr) -> Endpoint {
    let mut roots = rustls::RootCertStore::empty();
    for cert in tether_pki::load_certs(ca).unwrap() {
        roots.add(CertificateDer::from(cert.to_vec())).unwrap();
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![tether_proto::ALPN.to_vec()];
    tether_transport::client_endpoint(addr, tls).unwrap()
}

/// Connects and exchanges a hello of the given version; returns the
/// connection and the decoded reply.
pub async fn hello(
    endpoint: &Endpoint,
    addr: SocketAddr,
    name: &str,
    version: u16,
) -> (Connection, Result<tether_proto::handshake::Welcome, HandshakeError>) {
    let conn = endpoint.connect(addr, name).unwrap().await.expect("TLS handshake");
    let (mut send, mut recv) = conn.open_bi().await.expect("stream");
    let mut hello = Hello::new("raw-test", None);
    hello.version = version;
    framed::write_payload(&mut send, hello.encode().unwrap()).await.unwrap();
    send.finish().unwrap();
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        framed::read_payload::<{ tether_proto::codec::MAX_HELLO_FRAME }>(&mut recv),
    )
    .await
    .expect("hello reply in time")
    .expect("hello reply");
    (conn, HelloReply::decode(&reply))
}

/// Waits for the agent to close `conn` and returns its application close code.
pub async fn close_code(conn: &Connection) -> u64 {
    match tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.expect("agent closes") {
        quinn::ConnectionError::ApplicationClosed(c) => c.error_code.into_inner(),
        other => panic!("expected an application close, got {other:?}"),
    }
}

/// An established, greeted session as `id`, kept open by the caller.
pub fn session(
    rt: &tokio::runtime::Runtime,
    id: &Identity,
    addr: SocketAddr,
) -> (Endpoint, Connection) {
    let endpoint = rt.block_on(async { endpoint_with(id, addr) });
    let (conn, welcome) =
        rt.block_on(hello(&endpoint, addr, "agent-01", tether_proto::PROTOCOL_VERSION));
    welcome.expect("valid hello is welcomed");
    (endpoint, conn)
}
