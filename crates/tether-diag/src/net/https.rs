//! HTTPS as the user's machine sees it: the system trust store read afresh
//! for every check (a certificate authority installed or removed since
//! the agent started counts at once), and certificate failures told in
//! words, with the certificate's subject, issuer and dates, instead of a
//! TLS library's error names.

use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tether_proto::net::CertificateStatus;

/// Verifies like the system would, and keeps the server's certificate so
/// a failure can say what was wrong with it.
#[derive(Debug)]
pub struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    leaf: Mutex<Option<CertificateDer<'static>>>,
}

impl Recording {
    /// The end-entity certificate the server presented, if it got that far.
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.leaf.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.leaf.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(end_entity.clone().into_owned());
        self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A client config over the system trust store as it is now, and the
/// verifier that records what the server presented.
pub fn client_config() -> Result<(Arc<rustls::ClientConfig>, Arc<Recording>), String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates leave the store smaller; the check
    // then reports the issuer as untrusted, the truth from this machine.
    let native = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(native.certs);
    if roots.is_empty() {
        return Err("this machine trusts no certificate authority (its trust store is empty or \
                    unreadable), so no HTTPS server can be verified"
            .into());
    }
    config_with_roots(roots)
}

/// A client config trusting `roots` only.
pub fn config_with_roots(
    roots: rustls::RootCertStore,
) -> Result<(Arc<rustls::ClientConfig>, Arc<Recording>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot build a certificate verifier: {e}"))?;
    let recording = Arc::new(Recording { inner, leaf: Mutex::new(None) });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&recording) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    Ok((Arc::new(config), recording))
}

/// Subject, issuer and dates of a certificate.
pub fn certificate_status(der: &CertificateDer<'_>) -> Option<CertificateStatus> {
    let facts = Facts::read(der)?;
    Some(CertificateStatus {
        subject: facts.subject,
        issuer: facts.issuer,
        not_after: facts.not_after,
        days_left: facts.days_left,
    })
}

struct Facts {
    subject: String,
    issuer: String,
    not_before: String,
    not_after: String,
    days_left: i64,
    names: Vec<String>,
}

impl Facts {
    fn read(der: &CertificateDer<'_>) -> Option<Facts> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let rfc3339 = |t: time::OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        };
        let not_after = cert.validity().not_after.to_datetime();
        let names = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| san.value.general_names.iter().filter_map(name_text).collect())
            .unwrap_or_default();
        Some(Facts {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: rfc3339(cert.validity().not_before.to_datetime()),
            not_after: rfc3339(not_after),
            days_left: (not_after - time::OffsetDateTime::now_utc()).whole_days(),
            names,
        })
    }

    fn summary(&self) -> String {
        format!(
            "subject {}, issuer {}, valid {} to {}",
            self.subject, self.issuer, self.not_before, self.not_after
        )
    }
}

/// A subject alternative name as people write it.
fn name_text(name: &x509_parser::extensions::GeneralName<'_>) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    match name {
        GeneralName::DNSName(n) => Some((*n).to_owned()),
        GeneralName::IPAddress(b) => match b.len() {
            4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
            16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).ok()?).to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// A failed TLS handshake with `host`, in words. `leaf` is what the
/// server presented, when it got that far.
pub fn describe_failure(
    err: &std::io::Error,
    host: &str,
    leaf: Option<&CertificateDer<'_>>,
) -> String {
    let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return format!("the TLS handshake with {host} failed: {err}");
    };
    let rustls::Error::InvalidCertificate(cert_error) = tls else {
        return format!("the TLS handshake with {host} failed: {tls}");
    };
    let facts = leaf.and_then(Facts::read);
    let about = facts.as_ref().map_or_else(String::new, |f| format!(" ({})", f.summary()));
    let cert = format!("the certificate of {host}");
    match cert_error {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let when = facts.as_ref().map_or("its end date", |f| f.not_after.as_str());
            format!("{cert} expired on {when}{about}")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            let when = facts.as_ref().map_or("a later date", |f| f.not_before.as_str());
            format!("{cert} is not valid before {when}: is this machine's clock right?{about}")
        }
        CertificateError::UnknownIssuer => {
            let issuer = facts.as_ref().map_or("an authority", |f| f.issuer.as_str());
            format!("{cert} is issued by {issuer}, which this machine does not trust{about}")
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            // The certificate's own names; rustls' context holds them only
            // in debug notation.
            let names = facts.as_ref().map(|f| f.names.join(", ")).unwrap_or_default();
            let names = if names.is_empty() { "other names".to_owned() } else { names };
            format!("{cert} is for {names}, not {host}{about}")
        }
        CertificateError::Revoked => format!("{cert} has been revoked by its issuer{about}"),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!("{cert} is not meant for a web server (its key usage says otherwise){about}")
        }
        CertificateError::BadSignature => {
            format!("{cert} carries a signature that does not verify (forged or damaged){about}")
        }
        CertificateError::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => {
            format!("{host} presents a certificate authority's certificate as its own{about}")
        }
        other => format!("{cert} is not valid ({other}){about}"),
    }
}

#[cfg(test)]
#[path = "https_tests.rs"]
pub(super) mod tests;
