//! rustls configurations for both ends of a Tether connection, and the PEM
//! loaders that feed them.
//!
//! Both configs use the ring provider explicitly. With rustls built without
//! its default provider, `ServerConfig::builder()` would panic at run time
//! (see the workspace notes on crypto providers), and an explicit provider
//! also keeps another crate's `install_default` from changing our ciphers.
//! Only TLS 1.3 is offered: QUIC requires it, and it encrypts the client
//! certificate, so a technician's name is not visible on the network.

use std::path::Path;
use std::sync::Arc;

use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::error::PkiError;

/// Builds the agent's TLS config: it proves the agent's identity with
/// `chain`/`key` and admits only clients whose certificate chains to `ca`,
/// carries the clientAuth purpose, is within its validity period and is not
/// on any of `crls`.
///
/// Session resumption is off on purpose. A resumed TLS 1.3 session skips
/// certificate verification, so a technician revoked after their last full
/// handshake could keep reconnecting on an old ticket. A full handshake
/// costs about a millisecond, which is nothing for an interactive tool.
///
/// With `crls` non-empty, a client certificate that none of them covers is
/// refused (rustls' default), so a CRL from the wrong CA fails closed. The
/// CRL's `next_update` is not enforced: an agent that has not received a
/// fresh CRL keeps the revocations it knows rather than locking out the help
/// desk; [`crate::Pki::refresh_crl`] is what keeps CRLs current.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<ServerConfig, PkiError> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(trust_anchors(ca)?), provider.clone())
            .with_crls(crls)
            .build()
            .map_err(PkiError::Verifier)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(PkiError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(PkiError::Tls)?;
    config.alpn_protocols = vec![tether_proto::ALPN.to_vec()];
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// Builds the controller's TLS config: it trusts only the Tether CA (never
/// the system roots, which would let any public CA vouch for an "agent"),
/// refuses agent certificates on any of `crls`, and presents the
/// technician's `chain`/`key`.
///
/// rustls checks the agent's certificate against the server name passed to
/// `connect`, so the caller must pass the name or address it dialled.
/// Resumption is disabled to match the agent, which never issues tickets.
///
/// The CRL rules mirror [`server_config`]: with `crls` non-empty, an agent
/// certificate none of them covers is refused (a CRL from another CA fails
/// closed), and `next_update` is not enforced, so a technician whose copy
/// is stale keeps the revocations it has. With `crls` empty no revocation
/// is checked: a stolen agent key then impersonates its machine until the
/// certificate expires, so the controller installs the CRL when it has one.
pub fn client_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<ClientConfig, PkiError> {
    let provider = provider();
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(trust_anchors(ca)?), provider.clone())
            .with_crls(crls)
            .build()
            .map_err(PkiError::AgentVerifier)?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(PkiError::Tls)?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(chain, key)
        .map_err(PkiError::Tls)?;
    config.alpn_protocols = vec![tether_proto::ALPN.to_vec()];
    config.resumption = Resumption::disabled();
    Ok(config)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn trust_anchors(ca: &[CertificateDer<'static>]) -> Result<RootCertStore, PkiError> {
    if ca.is_empty() {
        return Err(PkiError::NoTrustAnchors);
    }
    let mut roots = RootCertStore::empty();
    for cert in ca {
        roots.add(cert.clone()).map_err(PkiError::InvalidTrustAnchor)?;
    }
    Ok(roots)
}

/// Reads every certificate in a PEM file, in order (leaf first for a chain).
/// A file with none is an error: an empty chain or trust list is always a
/// configuration mistake.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    load_all(path, "certificate")
}

/// Reads the first private key (PKCS#8, SEC1 or PKCS#1) in a PEM file.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, "private key", e))
}

/// Reads every CRL in a PEM file. A file with none is an error, because
/// silently running without revocation is the dangerous outcome; an agent
/// that really wants no CRL passes an empty list to [`server_config`].
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, PkiError> {
    load_all(path, "CRL")
}

fn load_all<T: PemObject>(path: &Path, what: &'static str) -> Result<Vec<T>, PkiError> {
    let items = T::pem_file_iter(path)
        .map_err(|e| pem_error(path, what, e))?
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| pem_error(path, what, e))?;
    if items.is_empty() {
        return Err(PkiError::NoPemItems { path: path.to_path_buf(), what });
    }
    Ok(items)
}

fn pem_error(path: &Path, what: &'static str, error: pem::Error) -> PkiError {
    match error {
        pem::Error::Io(e) => PkiError::io("read", path, e),
        pem::Error::NoItemsFound => PkiError::NoPemItems { path: path.to_path_buf(), what },
        other => PkiError::Pem { path: path.to_path_buf(), detail: other.to_string() },
    }
}
