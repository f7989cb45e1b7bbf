//! Who is on the other end: the technician identity an agent reads from a
//! client certificate that rustls has already verified.
//!
//! This module does no verification of its own (no signature, validity or
//! revocation checks); that is rustls' job during the handshake. What it adds
//! is strictness about the subject: exactly one CN and exactly one role OU,
//! because an ambiguous certificate must not be read as whichever role
//! happens to come first.

use std::collections::BTreeSet;

use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use tether_proto::Role;

use crate::ROLE_OU_PREFIX;
use crate::serial;

/// The identity carried by a technician certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerIdentity {
    /// The subject common name: the technician's name.
    pub name: String,
    /// The certificate serial, in the same form as [`crate::IndexEntry::serial`],
    /// so audit records can be matched against the index and the CRL.
    pub serial: String,
    /// What the technician may do.
    pub role: Role,
    /// End of validity, seconds since the Unix epoch, so a session can be
    /// cut off when the certificate expires.
    pub not_after_unix: i64,
}

/// Why a certificate does not describe a technician.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The DER could not be parsed as an X.509 certificate.
    #[error("the peer certificate cannot be parsed: {0}")]
    Unparseable(String),
    /// The subject has no common name.
    #[error("the peer certificate has no common name (CN)")]
    NoCommonName,
    /// The subject has more than one common name.
    #[error("the peer certificate has {0} common names (CN); exactly one is required")]
    MultipleCommonNames(usize),
    /// The common name is not a UTF-8 or ASCII string.
    #[error("the peer certificate's common name (CN) is not a text string")]
    CommonNameNotText,
    /// The subject has no `OU=tether-role:...` attribute.
    #[error(
        "the peer certificate carries no role (no OU starting with {ROLE_OU_PREFIX:?}); it is not a technician certificate"
    )]
    NoRole,
    /// The subject has more than one role attribute.
    #[error("the peer certificate carries {0} roles; exactly one is required")]
    MultipleRoles(usize),
    /// The role attribute names no known role.
    #[error(
        "the peer certificate carries the unknown role {0:?} (expected tier1, tier2, tier3 or fleet)"
    )]
    UnknownRole(String),
}

/// Reads the technician identity from a verified end-entity certificate.
///
/// OU values without the [`ROLE_OU_PREFIX`] are ignored, so an organisation
/// may use other OUs for its own purposes.
pub fn peer_identity(end_entity: &CertificateDer<'_>) -> Result<PeerIdentity, IdentityError> {
    let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref())
        .map_err(|e| IdentityError::Unparseable(e.to_string()))?;
    let subject = cert.subject();

    let names: Vec<_> = subject.iter_common_name().collect();
    let name = match names.as_slice() {
        [] => return Err(IdentityError::NoCommonName),
        [one] => one.as_str().map_err(|_| IdentityError::CommonNameNotText)?.to_owned(),
        more => return Err(IdentityError::MultipleCommonNames(more.len())),
    };

    let mut roles = Vec::new();
    for ou in subject.iter_organizational_unit() {
        // An OU that is not text cannot be a role we wrote; like any other
        // foreign OU it is not our business.
        if let Some(role) = ou.as_str().ok().and_then(|text| text.strip_prefix(ROLE_OU_PREFIX)) {
            roles.push(role.to_owned());
        }
    }
    let role = match roles.as_slice() {
        [] => return Err(IdentityError::NoRole),
        [one] => one.parse::<Role>().map_err(|_| IdentityError::UnknownRole(one.clone()))?,
        more => return Err(IdentityError::MultipleRoles(more.len())),
    };

    Ok(PeerIdentity {
        name,
        serial: serial::canonical(cert.raw_serial()),
        role,
        not_after_unix: cert.validity().not_after.timestamp(),
    })
}

/// The serials, in [`PeerIdentity::serial`]'s form, that `crls` revoke.
///
/// The agent uses this after reloading its CRL to end live sessions of
/// technicians who were revoked since they connected: rustls only checks
/// the CRL during the handshake. The CRLs are the ones just handed to
/// [`crate::server_config`], which verifies their signatures on use; this
/// only reads their entries.
pub fn revoked_serials(
    crls: &[CertificateRevocationListDer<'_>],
) -> Result<BTreeSet<String>, IdentityError> {
    let mut serials = BTreeSet::new();
    for der in crls {
        let (_, crl) = x509_parser::parse_x509_crl(der.as_ref())
            .map_err(|e| IdentityError::Unparseable(format!("CRL: {e}")))?;
        serials.extend(crl.iter_revoked_certificates().map(|r| serial::canonical(r.raw_serial())));
    }
    Ok(serials)
}

/// A certificate's end of validity, seconds since the Unix epoch: what an
/// agent reports about its own certificate so fleet checks can warn
/// before it expires. `None` if the certificate cannot be parsed.
pub fn not_after_unix(cert: &CertificateDer<'_>) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// The names a server certificate answers to: its DNS and IP subject
/// alternative names, as text. Empty if the certificate cannot be parsed.
pub fn server_names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else { return Vec::new() };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(n) => Some((*n).to_owned()),
            GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b).ok().map(|a| std::net::Ipv4Addr::from(a).to_string()),
                16 => {
                    <[u8; 16]>::try_from(*b).ok().map(|a| std::net::Ipv6Addr::from(a).to_string())
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
    use tether_proto::Tier;

    use super::*;

    /// The OIDs of CN and OU, to add a second attribute of the same type
    /// (rcgen keys its own DnType variants uniquely).
    const CN_OID: &[u64] = &[2, 5, 4, 3];
    const OU_OID: &[u64] = &[2, 5, 4, 11];

    fn cert_with(subject: &[(DnType, &str)]) -> CertificateDer<'static> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        for (ty, value) in subject {
            params.distinguished_name.push(ty.clone(), *value);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn role_ou(role: &str) -> String {
        format!("{ROLE_OU_PREFIX}{role}")
    }

    #[test]
    fn reads_name_role_and_ignores_foreign_ous() {
        let ou = role_ou("fleet");
        let der = cert_with(&[
            (DnType::CommonName, "monitor"),
            (DnType::OrganizationalUnitName, "IT Support"),
            (DnType::CustomDnType(OU_OID.to_vec()), &ou),
        ]);
        let id = peer_identity(&der).unwrap();
        assert_eq!(id.name, "monitor");
        assert_eq!(id.role, Role::Fleet);
        assert!(!id.serial.is_empty() && id.serial.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn subject_must_be_unambiguous() {
        let tier1 = role_ou("tier1");
        let tier3 = role_ou("tier3");
        let cases: Vec<(Vec<(DnType, &str)>, IdentityError)> = vec![
            (vec![(DnType::OrganizationalUnitName, &tier1)], IdentityError::NoCommonName),
            (
                vec![
                    (DnType::CommonName, "a"),
                    (DnType::CustomDnType(CN_OID.to_vec()), "b"),
                    (DnType::OrganizationalUnitName, &tier1),
                ],
                IdentityError::MultipleCommonNames(2),
            ),
            (vec![(DnType::CommonName, "a")], IdentityError::NoRole),
            (
                vec![(DnType::CommonName, "a"), (DnType::OrganizationalUnitName, "tier1")],
                IdentityError::NoRole,
            ),
            (
                vec![
                    (DnType::CommonName, "a"),
                    (DnType::OrganizationalUnitName, &tier1),
                    (DnType::CustomDnType(OU_OID.to_vec()), &tier3),
                ],
                IdentityError::MultipleRoles(2),
            ),
            (
                vec![
                    (DnType::CommonName, "a"),
                    (DnType::OrganizationalUnitName, "tether-role:admin"),
                ],
                IdentityError::UnknownRole("admin".into()),
            ),
        ];
        for (subject, want) in cases {
            assert_eq!(peer_identity(&cert_with(&subject)), Err(want.clone()), "{want}");
        }
    }

    #[test]
    fn tier_roles_parse() {
        let ou = role_ou("tier2");
        let der = cert_with(&[(DnType::CommonName, "a"), (DnType::OrganizationalUnitName, &ou)]);
        assert_eq!(peer_identity(&der).unwrap().role, Role::Tier(Tier::Two));
    }

    #[test]
    fn garbage_is_unparseable() {
        let der = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(matches!(peer_identity(&der), Err(IdentityError::Unparseable(_))));
    }
}
