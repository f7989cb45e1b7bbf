//! Creating the organisation's CA, and loading it back from disk to sign.
//!
//! Every signing operation after `init` runs in a new process (the admin's
//! next `tether` command), so the CA is always reloaded from `ca.crt` and
//! `ca.key`. `init` itself takes the same path, which means the reload code is
//! exercised by every PKI that exists.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod,
    KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;

use crate::error::PkiError;
use crate::files::{self, DirLock};
use crate::names::{self, CA_CN_SUFFIX};
use crate::serial;
use crate::store::{CertKind, Index, IndexEntry, Issued, Pki, format_time, whole_seconds};

/// How far `not_before` is set in the past. A certificate issued on the
/// admin's machine is often used at once on a workstation whose clock runs a
/// little behind; without this margin it would be "not yet valid" there.
const CLOCK_SKEW_ALLOWANCE: time::Duration = time::Duration::minutes(5);

/// The CA, loaded and ready to sign.
pub(crate) struct Ca {
    pub(crate) issuer: Issuer<'static, KeyPair>,
    /// The CA's O attribute, copied into every certificate it issues.
    pub(crate) organisation: String,
    /// The CA's subject key identifier, repeated as the authority key
    /// identifier of the CRL so relying parties can match the two.
    pub(crate) key_id: Option<Vec<u8>>,
    pub(crate) not_after: OffsetDateTime,
}

impl Ca {
    /// The key identifier method that reproduces the CA's own identifier.
    pub(crate) fn key_id_method(&self) -> KeyIdMethod {
        match &self.key_id {
            Some(id) => KeyIdMethod::PreSpecified(id.clone()),
            None => KeyIdMethod::Sha256,
        }
    }
}

/// The validity period for a certificate issued now for `days` days.
pub(crate) fn validity_from_now(days: u32) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    if days == 0 {
        return Err(PkiError::InvalidValidity("the number of days must be at least 1".into()));
    }
    let now = whole_seconds(OffsetDateTime::now_utc());
    let not_after = now
        .checked_add(time::Duration::days(i64::from(days)))
        .filter(|t| t.year() <= 9999)
        .ok_or_else(|| {
            PkiError::InvalidValidity(format!("{days} days from now is after the year 9999"))
        })?;
    Ok((now - CLOCK_SKEW_ALLOWANCE, not_after))
}

/// Maps rcgen's error to ours, naming what was being signed.
pub(crate) fn signing_error(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> PkiError {
    let what = what.into();
    move |error| PkiError::Signing { what, error }
}

impl Pki {
    /// Creates the PKI: the directory, the CA certificate and key, the index
    /// and a first, empty CRL.
    ///
    /// The CA gets path length 0: it signs agents and technicians directly
    /// and can never be used to mint an intermediate CA. An existing `ca.key`
    /// or `ca.crt` is never touched, because replacing the CA would silently
    /// invalidate every certificate in the field.
    pub fn init(&self, organisation: &str, days: u32) -> Result<Issued, PkiError> {
        names::check_organisation(organisation)?;
        let (not_before, not_after) = validity_from_now(days)?;
        files::create_private_dir(self.root())?;
        let _lock = DirLock::acquire(self.root())?;

        let key_path = self.ca_key_path();
        let cert_path = self.ca_cert_path();
        for path in [&key_path, &cert_path] {
            if path.symlink_metadata().is_ok() {
                return Err(PkiError::AlreadyExists(path.clone()));
            }
        }

        let name = format!("{organisation}{CA_CN_SUFFIX}");
        let key = KeyPair::generate().map_err(signing_error("CA key"))?;
        let serial = serial::random()?;
        let mut params = CertificateParams::default();
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name.as_str());
        params.distinguished_name.push(DnType::OrganizationName, organisation);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).map_err(signing_error("CA certificate"))?;

        let entry = IndexEntry {
            serial: serial::canonical(&serial),
            kind: CertKind::Ca,
            name,
            role: None,
            not_before: format_time(not_before),
            not_after: format_time(not_after),
            revoked_at: None,
        };

        // If any later step fails, take back what this call created, so the
        // admin can simply run `init` again instead of cleaning up by hand.
        let mut created = Vec::new();
        let result = (|| {
            files::write_new(&key_path, key.serialize_pem().as_bytes(), files::KEY_MODE)?;
            created.push(key_path.clone());
            files::write_new(&cert_path, cert.pem().as_bytes(), files::PUBLIC_MODE)?;
            created.push(cert_path.clone());
            let mut index = Index::new();
            index.entries.push(entry.clone());
            created.push(self.index_path());
            let ca = self.load_ca()?;
            self.publish_crl(&ca, &mut index)
        })();
        if let Err(error) = result {
            for path in created {
                // Best effort: the original error is what the admin must see.
                let _ = std::fs::remove_file(path);
            }
            return Err(error);
        }
        Ok(Issued { entry, cert_path, key_path })
    }

    /// Loads the CA certificate and key, checking that they belong together.
    pub(crate) fn load_ca(&self) -> Result<Ca, PkiError> {
        let cert_path = self.ca_cert_path();
        let key_path = self.ca_key_path();
        if !cert_path.is_file() || !key_path.is_file() {
            return Err(PkiError::NotInitialised(self.root().to_path_buf()));
        }
        let cert_pem = files::read_text(&cert_path)?;
        let key_pem = files::read_text(&key_path)?;
        let unusable =
            |path: &Path, detail: String| PkiError::CaUnusable { path: path.to_path_buf(), detail };

        let key = KeyPair::from_pem(&key_pem).map_err(|e| unusable(&key_path, e.to_string()))?;
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| unusable(&cert_path, e.to_string()))?;
        let (_, x509) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| unusable(&cert_path, e.to_string()))?;

        if x509.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(PkiError::CaKeyMismatch { key: key_path, cert: cert_path });
        }
        let organisation = x509
            .subject()
            .iter_organization()
            .next()
            .and_then(|o| o.as_str().ok())
            .ok_or_else(|| unusable(&cert_path, "the certificate has no organisation (O)".into()))?
            .to_owned();
        let key_id = x509.iter_extensions().find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });
        let not_after = x509.validity().not_after.to_datetime();

        let issuer =
            Issuer::from_ca_cert_der(&der, key).map_err(|e| unusable(&cert_path, e.to_string()))?;
        Ok(Ca { issuer, organisation, key_id, not_after })
    }
}
