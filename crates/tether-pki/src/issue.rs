//! Issuing agent and technician certificates.
//!
//! Both kinds share one path: validate, lock, load the CA, sign, record the
//! certificate in the index, and only then write the files. Recording first
//! means every certificate that ever reaches disk can be found and revoked by
//! serial; the opposite order could leave a usable certificate that the index
//! does not know about if the process died in between.

use std::net::IpAddr;
use std::path::PathBuf;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber, string::Ia5String,
};
use tether_proto::Role;
use time::OffsetDateTime;

use crate::ROLE_OU_PREFIX;
use crate::ca::{signing_error, validity_from_now};
use crate::error::PkiError;
use crate::files::{self, DirLock};
use crate::names;
use crate::serial;
use crate::store::{CertKind, Index, IndexEntry, Issued, Pki, format_time, whole_seconds};

/// How often to draw a new serial when the drawn one is already in the
/// index. With 127 random bits a repeat means the random source is broken,
/// so a few tries are plenty and more would hide the fault.
const SERIAL_ATTEMPTS: usize = 4;

/// Everything that differs between an agent and a technician certificate.
struct LeafRequest<'a> {
    kind: CertKind,
    name: &'a str,
    role: Option<Role>,
    subject_alt_names: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    dir: PathBuf,
    force: bool,
}

impl Pki {
    /// Issues an agent's server certificate.
    ///
    /// The agent name is both the CN and the first DNS SAN, because rustls
    /// checks only the SANs against the name the controller dials. `dns` and
    /// `ips` add further names the agent is reached by. With `force` an
    /// existing certificate for this agent is replaced; the old one stays
    /// valid until it expires unless it is revoked.
    pub fn issue_agent(
        &self,
        name: &str,
        dns: &[String],
        ips: &[IpAddr],
        days: u32,
        force: bool,
    ) -> Result<Issued, PkiError> {
        names::check_agent_name(name)?;
        let mut sans: Vec<SanType> = Vec::with_capacity(1 + dns.len() + ips.len());
        for dns_name in std::iter::once(name).chain(dns.iter().map(String::as_str)) {
            names::check_dns_name("DNS", dns_name)?;
            let san = SanType::DnsName(
                Ia5String::try_from(dns_name)
                    .map_err(signing_error(format!("DNS name {dns_name}")))?,
            );
            if !sans.contains(&san) {
                sans.push(san);
            }
        }
        for ip in ips {
            let san = SanType::IpAddress(*ip);
            if !sans.contains(&san) {
                sans.push(san);
            }
        }
        let (not_before, not_after) = validity_from_now(days)?;
        self.issue_leaf(LeafRequest {
            kind: CertKind::Agent,
            name,
            role: None,
            subject_alt_names: sans,
            usage: ExtendedKeyUsagePurpose::ServerAuth,
            not_before,
            not_after,
            dir: self.agents_dir(),
            force,
        })
    }

    /// Issues a technician's client certificate for `days` days.
    ///
    /// Technician certificates are short-lived on purpose (see
    /// [`crate::DEFAULT_TECH_DAYS`]): a lost laptop then stops mattering
    /// within days even if nobody revokes its certificate.
    pub fn issue_tech(
        &self,
        name: &str,
        role: Role,
        days: u32,
        force: bool,
    ) -> Result<Issued, PkiError> {
        let (not_before, not_after) = validity_from_now(days)?;
        self.issue_tech_with_validity(name, role, not_before, not_after, force)
    }

    /// Issues a technician certificate with an explicit validity period.
    ///
    /// The role is carried as `OU=tether-role:<role>`, a plain subject
    /// attribute rather than a private extension, so that `openssl x509
    /// -subject` shows it to an administrator without extra tooling.
    /// Times are truncated to whole seconds, as X.509 stores them.
    pub fn issue_tech_with_validity(
        &self,
        name: &str,
        role: Role,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        force: bool,
    ) -> Result<Issued, PkiError> {
        names::check_tech_name(name)?;
        self.issue_leaf(LeafRequest {
            kind: CertKind::Tech,
            name,
            role: Some(role),
            subject_alt_names: Vec::new(),
            usage: ExtendedKeyUsagePurpose::ClientAuth,
            not_before: whole_seconds(not_before),
            not_after: whole_seconds(not_after),
            dir: self.techs_dir(),
            force,
        })
    }

    fn issue_leaf(&self, req: LeafRequest<'_>) -> Result<Issued, PkiError> {
        self.require_initialised()?;
        if req.not_after <= req.not_before {
            return Err(PkiError::InvalidValidity(format!(
                "the end ({}) is not after the start ({})",
                format_time(req.not_after),
                format_time(req.not_before)
            )));
        }
        let _lock = DirLock::acquire(self.root())?;
        let ca = self.load_ca()?;
        if req.not_after > ca.not_after {
            return Err(PkiError::InvalidValidity(format!(
                "the certificate would outlive the CA, which expires at {}; choose fewer days",
                format_time(ca.not_after)
            )));
        }

        files::create_private_dir(&req.dir)?;
        let cert_path = req.dir.join(format!("{}.crt", req.name));
        let key_path = req.dir.join(format!("{}.key", req.name));
        if !req.force {
            for path in [&cert_path, &key_path] {
                if path.symlink_metadata().is_ok() {
                    return Err(PkiError::AlreadyExists(path.clone()));
                }
            }
        }

        let mut index = self.load_index()?;
        let serial = fresh_serial(&index)?;
        let what = || format!("certificate for {}", req.name);
        let key = KeyPair::generate().map_err(signing_error(what()))?;
        let mut params = CertificateParams::default();
        params.not_before = req.not_before;
        params.not_after = req.not_after;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, req.name);
        params.distinguished_name.push(DnType::OrganizationName, ca.organisation.as_str());
        if let Some(role) = req.role {
            params
                .distinguished_name
                .push(DnType::OrganizationalUnitName, format!("{ROLE_OU_PREFIX}{}", role.as_str()));
        }
        params.subject_alt_names = req.subject_alt_names;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![req.usage];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &ca.issuer).map_err(signing_error(what()))?;

        let entry = IndexEntry {
            serial: serial::canonical(&serial),
            kind: req.kind,
            name: req.name.to_owned(),
            role: req.role,
            not_before: format_time(req.not_before),
            not_after: format_time(req.not_after),
            revoked_at: None,
        };
        index.entries.push(entry.clone());
        self.save_index(&index)?;

        let write = if req.force { files::write_replace } else { files::write_new };
        write(&key_path, key.serialize_pem().as_bytes(), files::KEY_MODE)?;
        write(&cert_path, cert.pem().as_bytes(), files::PUBLIC_MODE)?;
        Ok(Issued { entry, cert_path, key_path })
    }
}

/// A random serial not yet in the index.
fn fresh_serial(index: &Index) -> Result<[u8; serial::SERIAL_LEN], PkiError> {
    for _ in 0..SERIAL_ATTEMPTS {
        let candidate = serial::random()?;
        let text = serial::canonical(&candidate);
        if !index.entries.iter().any(|e| e.serial == text) {
            return Ok(candidate);
        }
    }
    Err(PkiError::RepeatedSerial)
}
