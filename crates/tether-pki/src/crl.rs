//! Revocation: marking certificates revoked in the index and publishing the
//! signed CRL that agents check on every handshake.
//!
//! The CRL is always rebuilt from the index, never edited, so the two cannot
//! drift apart beyond one failed write, which [`Pki::refresh_crl`] repairs.

use rcgen::{CertificateRevocationListParams, RevokedCertParams, SerialNumber};
use time::OffsetDateTime;

use crate::DEFAULT_CRL_DAYS;
use crate::ca::{Ca, signing_error};
use crate::error::PkiError;
use crate::files::{self, DirLock};
use crate::serial;
use crate::store::{CertKind, Index, IndexEntry, Pki, format_time, parse_time, whole_seconds};

impl Pki {
    /// Revokes the certificate with this serial and publishes a new CRL.
    ///
    /// The serial may be typed the way tools print it: any case, with or
    /// without ':' separators. Agents only notice once they reload
    /// `crl.pem`; until then the revoked technician can still connect.
    pub fn revoke(&self, serial: &str) -> Result<IndexEntry, PkiError> {
        let wanted = serial::match_key(serial)?;
        self.require_initialised()?;
        let _lock = DirLock::acquire(self.root())?;
        let ca = self.load_ca()?;
        let mut index = self.load_index()?;

        let entry = index
            .entries
            .iter_mut()
            .find(|e| serial::match_key(&e.serial).is_ok_and(|k| k == wanted))
            .ok_or_else(|| PkiError::UnknownSerial(serial.trim().to_owned()))?;
        if entry.kind == CertKind::Ca {
            return Err(PkiError::CannotRevokeCa(entry.serial.clone()));
        }
        if let Some(revoked_at) = &entry.revoked_at {
            return Err(PkiError::AlreadyRevoked {
                serial: entry.serial.clone(),
                revoked_at: revoked_at.clone(),
            });
        }
        entry.revoked_at = Some(format_time(OffsetDateTime::now_utc()));
        let revoked = entry.clone();

        self.publish_crl(&ca, &mut index)?;
        Ok(revoked)
    }

    /// Re-signs `crl.pem` with the current revocations and a new
    /// `next_update`.
    ///
    /// Run it regularly (from cron) so the CRL never goes stale, and after a
    /// failed revoke whose CRL could not be written.
    pub fn refresh_crl(&self) -> Result<(), PkiError> {
        self.require_initialised()?;
        let _lock = DirLock::acquire(self.root())?;
        let ca = self.load_ca()?;
        let mut index = self.load_index()?;
        self.publish_crl(&ca, &mut index)
    }

    /// Signs a CRL with the next number, saves the index (which records that
    /// number) and replaces `crl.pem`. The caller holds the directory lock.
    ///
    /// The CRL is signed before anything is written, so a signing failure
    /// changes nothing on disk.
    pub(crate) fn publish_crl(&self, ca: &Ca, index: &mut Index) -> Result<(), PkiError> {
        let number = index.crl_number.checked_add(1).ok_or_else(|| PkiError::IndexCorrupt {
            path: self.index_path(),
            detail: "the CRL number has reached its maximum".into(),
        })?;
        let pem = sign_crl(ca, index, number, &self.index_path())?;
        index.crl_number = number;
        self.save_index(index)?;
        let crl_path = self.crl_path();
        files::write_replace(&crl_path, pem.as_bytes(), files::PUBLIC_MODE)
            .map_err(|e| PkiError::CrlNotWritten { path: crl_path, detail: e.to_string() })
    }
}

/// Builds and signs the CRL listing every revoked entry of the index.
fn sign_crl(
    ca: &Ca,
    index: &Index,
    number: u64,
    index_path: &std::path::Path,
) -> Result<String, PkiError> {
    let corrupt =
        |detail: String| PkiError::IndexCorrupt { path: index_path.to_path_buf(), detail };
    let mut revoked_certs = Vec::new();
    for entry in &index.entries {
        let Some(revoked_at) = &entry.revoked_at else {
            continue;
        };
        let bytes = serial::from_hex(&entry.serial)
            .ok_or_else(|| corrupt(format!("serial {:?} is not hex", entry.serial)))?;
        let revocation_time = parse_time(revoked_at).ok_or_else(|| {
            corrupt(format!("revoked_at {revoked_at:?} of {} is not RFC 3339", entry.serial))
        })?;
        revoked_certs.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&bytes),
            revocation_time,
            reason_code: None,
            invalidity_date: None,
        });
    }

    let this_update = whole_seconds(OffsetDateTime::now_utc());
    let params = CertificateRevocationListParams {
        this_update,
        next_update: this_update + time::Duration::days(i64::from(DEFAULT_CRL_DAYS)),
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: ca.key_id_method(),
    };
    let crl = params.signed_by(&ca.issuer).map_err(signing_error("CRL"))?;
    crl.pem().map_err(signing_error("CRL"))
}
