//! Certificate failures against real TLS servers on loopback, each told in
//! words with the certificate's facts.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::AsyncWriteExt;

use super::*;

/// Serves `chain` (leaf first) with `key` on loopback, answering 200.
pub(in crate::net) async fn server(
    chain: Vec<CertificateDer<'static>>,
    key: &KeyPair,
) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            chain,
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
                }
            });
        }
    });
    addr
}

/// A CA and its key.
fn ca() -> (rcgen::Certificate, KeyPair) {
    ca_named("Test Root CA")
}

fn ca_named(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    (params.self_signed(&key).unwrap(), key)
}

/// A leaf for `names` signed by the CA, with validity tweaked by `edit`.
fn leaf(
    ca: &(rcgen::Certificate, KeyPair),
    names: &[&str],
    edit: impl FnOnce(&mut CertificateParams),
) -> (CertificateDer<'static>, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, names[0]);
    edit(&mut params);
    let issuer = rcgen::Issuer::from_ca_cert_der(ca.0.der(), &ca.1).unwrap();
    (params.signed_by(&key, &issuer).unwrap().der().clone(), key)
}

/// Connects to `addr` as `host`, trusting only `root`; the failure in words.
async fn failure(addr: SocketAddr, host: &str, root: &CertificateDer<'static>) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let (config, recording) = config_with_roots(roots).unwrap();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(host.to_owned()).unwrap();
    match tokio_rustls::TlsConnector::from(config).connect(name, stream).await {
        Ok(_) => panic!("the handshake with {host} succeeded"),
        Err(e) => describe_failure(&e, host, recording.leaf().as_ref()),
    }
}

#[tokio::test]
async fn an_untrusted_issuer_is_named() {
    let ca = ca();
    let (cert, key) = leaf(&ca, &["localhost"], |_| {});
    let addr = server(vec![cert], &key).await;
    let other = ca_named("Another Root CA");
    let why = failure(addr, "localhost", other.0.der()).await;
    assert!(why.starts_with("the certificate of localhost is issued by CN=Test Root CA, which this machine does not trust"), "{why}");
    assert!(why.contains("subject CN=localhost") && why.contains("valid "), "{why}");
    assert!(!why.contains("UnknownIssuer"), "{why}");
}

#[tokio::test]
async fn a_certificate_for_another_name_says_which() {
    let ca = ca();
    let (cert, key) = leaf(&ca, &["intranet.example"], |_| {});
    let addr = server(vec![cert], &key).await;
    let why = failure(addr, "localhost", ca.0.der()).await;
    assert!(why.contains("is for intranet.example, not localhost"), "{why}");
}

#[tokio::test]
async fn an_expired_certificate_gives_its_date() {
    let ca = ca();
    let (cert, key) = leaf(&ca, &["localhost"], |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let addr = server(vec![cert], &key).await;
    let why = failure(addr, "localhost", ca.0.der()).await;
    assert!(why.starts_with("the certificate of localhost expired on 2021-01-01"), "{why}");
}

#[tokio::test]
async fn a_ca_certificate_served_as_a_leaf_is_called_that() {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let addr = server(vec![cert.der().clone()], &key).await;
    let why = failure(addr, "localhost", cert.der()).await;
    assert!(why.contains("presents a certificate authority's certificate as its own"), "{why}");
    assert!(!why.contains("CaUsedAsEndEntity"), "{why}");
}

#[test]
fn certificate_status_counts_days_left() {
    let ca = ca();
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(5);
    let (cert, _) = leaf(&ca, &["localhost"], |p| {
        p.not_after = rcgen::date_time_ymd(soon.year(), soon.month() as u8, soon.day());
    });
    let status = certificate_status(&cert).unwrap();
    assert!((4..=5).contains(&status.days_left), "{status:?}");
}
