//! The PKI directory: what `init`, `issue_*`, `revoke` and `refresh_crl`
//! leave on disk and in the index.

use std::fs;
use std::path::Path;

use tether_pki::{CertKind, Pki, PkiError, load_certs, peer_identity};
use tether_proto::{Role, Tier};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::util::{ORG, new_pki};

/// A key file is readable by its owner only: mode 0600, or on Windows an
/// ACL no one else may use it by.
fn assert_private(path: &Path) {
    let meta = fs::metadata(path).unwrap();
    match tether_os::files::mode(&meta) {
        Some(mode) => assert_eq!(mode & 0o777, 0o600, "{}", path.display()),
        None => {
            let others = tether_os::files::Others::MayNotUse;
            let why = tether_os::files::not_private(path, &meta, others).unwrap();
            assert_eq!(why, None, "{}", path.display());
        }
    }
}

/// The CRL number and the revoked serials (canonical hex) of `crl.pem`.
fn read_crl(pki: &Pki) -> (u64, Vec<String>) {
    let crls = tether_pki::load_crls(&pki.crl_path()).unwrap();
    let (_, crl) = CertificateRevocationList::from_der(&crls[0]).unwrap();
    let number = crl.crl_number().expect("CRL number").to_u64_digits();
    let number = number.first().copied().unwrap_or(0);
    let serials = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().iter().map(|b| format!("{b:02x}")).collect::<String>())
        .map(|s| s.trim_start_matches("00").to_owned())
        .collect();
    (number, serials)
}

fn with_cert<T>(path: &Path, f: impl FnOnce(&X509Certificate<'_>) -> T) -> T {
    let der = load_certs(path).unwrap().remove(0);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    f(&cert)
}

#[test]
fn init_creates_the_ca_and_refuses_to_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::open(dir.path().join("pki"));
    assert!(!pki.is_initialised());

    let ca = pki.init(ORG, 365).unwrap();

    assert!(pki.is_initialised());
    for file in ["ca.crt", "ca.key", "crl.pem", "index.json"] {
        assert!(pki.root().join(file).is_file(), "{file} missing");
    }
    assert_eq!(ca.cert_path, pki.ca_cert_path());
    assert_private(&ca.key_path);
    assert_eq!(ca.entry.kind, CertKind::Ca);
    assert_eq!(ca.entry.name, "Example Corp Tether CA");
    assert_eq!(pki.list().unwrap(), vec![ca.entry.clone()]);
    assert_eq!(read_crl(&pki), (1, vec![]));

    let key_before = fs::read(&ca.key_path).unwrap();
    match pki.init("Other Org", 365) {
        Err(err @ PkiError::AlreadyExists(_)) => {
            assert!(err.to_string().contains("ca.key"), "{err}")
        }
        other => panic!("second init: {other:?}"),
    }
    assert_eq!(fs::read(&ca.key_path).unwrap(), key_before);
}

#[test]
fn init_refuses_an_existing_ca_certificate_alone() {
    let (_dir, pki) = new_pki();
    fs::remove_file(pki.root().join("ca.key")).unwrap();
    assert!(
        matches!(pki.init(ORG, 365), Err(PkiError::AlreadyExists(p)) if p == pki.ca_cert_path())
    );
}

#[test]
fn ca_certificate_can_only_sign_leaves() {
    let (_dir, pki) = new_pki();
    with_cert(&pki.ca_cert_path(), |cert| {
        let constraints = cert.basic_constraints().unwrap().expect("basic constraints").value;
        assert!(constraints.ca);
        assert_eq!(constraints.path_len_constraint, Some(0));
        let usage = cert.key_usage().unwrap().expect("key usage").value;
        assert!(usage.key_cert_sign() && usage.crl_sign());
        let org = cert.subject().iter_organization().next().unwrap().as_str().unwrap();
        assert_eq!(org, ORG);
    });
}

#[test]
fn bad_organisation_and_zero_days_are_rejected_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::open(dir.path().join("pki"));
    assert!(matches!(pki.init("", 365), Err(PkiError::InvalidOrganisation { .. })));
    assert!(matches!(pki.init(ORG, 0), Err(PkiError::InvalidValidity(_))));
    assert!(!pki.root().exists());
}

#[test]
fn issuing_before_init_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::open(dir.path());
    let err = pki.issue_tech("alice", Role::Fleet, 1, false).unwrap_err();
    assert!(matches!(err, PkiError::NotInitialised(_)), "{err:?}");
    assert!(matches!(pki.list(), Err(PkiError::NotInitialised(_))));
}

#[test]
fn tech_certificate_identity_matches_its_index_entry() {
    let (_dir, pki) = new_pki();

    let issued = pki.issue_tech("alice@corp", Role::Tier(Tier::Three), 7, false).unwrap();

    assert_eq!(issued.cert_path, pki.root().join("techs/alice@corp.crt"));
    assert_private(&issued.key_path);
    let der = load_certs(&issued.cert_path).unwrap().remove(0);
    let id = peer_identity(&der).unwrap();
    assert_eq!(id.name, "alice@corp");
    assert_eq!(id.role, Role::Tier(Tier::Three));
    assert_eq!(id.serial, issued.entry.serial);
    let not_after = OffsetDateTime::parse(&issued.entry.not_after, &Rfc3339).unwrap();
    assert_eq!(id.not_after_unix, not_after.unix_timestamp());
    assert_eq!(issued.entry.role, Some(Role::Tier(Tier::Three)));
    assert!(pki.list().unwrap().contains(&issued.entry));

    with_cert(&issued.cert_path, |cert| {
        let ou = cert.subject().iter_organizational_unit().next().unwrap().as_str().unwrap();
        assert_eq!(ou, "tether-role:tier3");
        let eku = cert.extended_key_usage().unwrap().expect("EKU").value;
        assert!(eku.client_auth && !eku.server_auth);
    });
}

#[test]
fn reissue_needs_force_and_keeps_the_key_private() {
    let (_dir, pki) = new_pki();
    let first = pki.issue_tech("alice", Role::Tier(Tier::One), 7, false).unwrap();
    let key_before = fs::read(&first.key_path).unwrap();

    let err = pki.issue_tech("alice", Role::Tier(Tier::Two), 7, false).unwrap_err();
    assert!(matches!(&err, PkiError::AlreadyExists(_)), "{err:?}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(fs::read(&first.key_path).unwrap(), key_before);
    assert_eq!(pki.list().unwrap().len(), 2);

    let second = pki.issue_tech("alice", Role::Tier(Tier::Two), 7, true).unwrap();
    assert_eq!(second.key_path, first.key_path);
    assert_private(&second.key_path);
    assert_ne!(fs::read(&second.key_path).unwrap(), key_before);
    assert_ne!(second.entry.serial, first.entry.serial);
    let id = peer_identity(&load_certs(&second.cert_path).unwrap()[0]).unwrap();
    assert_eq!((id.serial, id.role), (second.entry.serial.clone(), Role::Tier(Tier::Two)));
    assert_eq!(pki.list().unwrap().len(), 3);
    let leftovers: Vec<_> = fs::read_dir(pki.root().join("techs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn agent_certificate_carries_all_names_and_server_purpose() {
    let (_dir, pki) = new_pki();
    let ip = "2001:db8::1".parse().unwrap();
    let extra = vec!["pc7.corp.example".to_owned(), "agent-a".to_owned()];

    let issued = pki.issue_agent("agent-a", &extra, &[ip], 30, false).unwrap();

    assert_eq!(issued.entry.kind, CertKind::Agent);
    assert_eq!(issued.entry.role, None);
    assert_private(&issued.key_path);
    with_cert(&issued.cert_path, |cert| {
        let cn = cert.subject().iter_common_name().next().unwrap().as_str().unwrap();
        assert_eq!(cn, "agent-a");
        let org = cert.subject().iter_organization().next().unwrap().as_str().unwrap();
        assert_eq!(org, ORG);
        let san = cert.subject_alternative_name().unwrap().expect("SAN").value;
        let names: Vec<String> = san
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => (*d).to_owned(),
                GeneralName::IPAddress(b) => format!("ip:{}", b.len()),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["agent-a", "pc7.corp.example", "ip:16"]);
        let eku = cert.extended_key_usage().unwrap().expect("EKU").value;
        assert!(eku.server_auth && !eku.client_auth);
        let has_ca_false = cert.iter_extensions().any(
            |e| matches!(e.parsed_extension(), ParsedExtension::BasicConstraints(bc) if !bc.ca),
        );
        assert!(has_ca_false, "leaf certificates say CA:FALSE");
    });
}

#[test]
fn bad_names_are_rejected_and_nothing_is_written() {
    let (_dir, pki) = new_pki();

    for name in ["Agent_A", "", "../x", "a..b", "10.0.0.1"] {
        let err = pki.issue_agent(name, &[], &[], 30, false).unwrap_err();
        assert!(matches!(err, PkiError::InvalidName { .. }), "{name:?}: {err:?}");
    }
    let err = pki.issue_agent("agent-a", &["bad name".into()], &[], 30, false).unwrap_err();
    assert!(matches!(err, PkiError::InvalidName { .. }), "{err:?}");
    for name in ["", "a b", "x/y", "-rf", &"t".repeat(65)] {
        let err = pki.issue_tech(name, Role::Fleet, 1, false).unwrap_err();
        assert!(matches!(err, PkiError::InvalidName { .. }), "{name:?}: {err:?}");
    }

    assert_eq!(pki.list().unwrap().len(), 1);
    assert!(!pki.root().join("agents").exists() && !pki.root().join("techs").exists());
}

#[test]
fn validity_must_be_ordered_and_within_the_ca() {
    let (_dir, pki) = new_pki();
    let now = OffsetDateTime::now_utc();
    let backwards =
        pki.issue_tech_with_validity("a", Role::Fleet, now, now - time::Duration::hours(1), false);
    assert!(matches!(backwards, Err(PkiError::InvalidValidity(_))), "{backwards:?}");
    let too_long = pki.issue_agent("agent-a", &[], &[], tether_pki::DEFAULT_CA_DAYS + 1, false);
    assert!(matches!(too_long, Err(PkiError::InvalidValidity(_))), "{too_long:?}");
}

#[test]
fn revoke_accepts_human_serials_and_updates_index_and_crl() {
    let (_dir, pki) = new_pki();
    let keep = pki.issue_tech("keep", Role::Tier(Tier::One), 7, false).unwrap();
    let drop = pki.issue_tech("drop", Role::Tier(Tier::One), 7, false).unwrap();
    let spelled: Vec<String> = drop
        .entry
        .serial
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let spelled = spelled.join(":");

    let revoked = pki.revoke(&spelled).unwrap();

    assert_eq!(revoked.serial, drop.entry.serial);
    assert!(revoked.revoked_at.is_some());
    let index = pki.list().unwrap();
    let by_serial = |s: &str| index.iter().find(|e| e.serial == s).unwrap().clone();
    assert_eq!(by_serial(&drop.entry.serial), revoked);
    assert_eq!(by_serial(&keep.entry.serial).revoked_at, None);
    assert_eq!(read_crl(&pki), (2, vec![drop.entry.serial.clone()]));

    assert!(matches!(pki.revoke(&drop.entry.serial), Err(PkiError::AlreadyRevoked { .. })));
    assert_eq!(read_crl(&pki).0, 2, "a refused revoke publishes nothing");
}

#[test]
fn revoke_refuses_unknown_malformed_and_ca_serials() {
    let (_dir, pki) = new_pki();
    let ca_serial = pki.list().unwrap()[0].serial.clone();

    assert!(matches!(pki.revoke("0123456789abcdef"), Err(PkiError::UnknownSerial(_))));
    assert!(matches!(pki.revoke("not-a-serial"), Err(PkiError::InvalidSerial(_))));
    assert!(matches!(pki.revoke(&ca_serial), Err(PkiError::CannotRevokeCa(_))));
    assert_eq!(read_crl(&pki), (1, vec![]));
}

#[test]
fn refresh_crl_renumbers_and_keeps_revocations() {
    let (_dir, pki) = new_pki();
    let tech = pki.issue_tech("t", Role::Fleet, 1, false).unwrap();
    pki.revoke(&tech.entry.serial).unwrap();

    pki.refresh_crl().unwrap();

    assert_eq!(read_crl(&pki), (3, vec![tech.entry.serial.clone()]));
    let index: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(pki.root().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["crl_number"], 3);
    assert_eq!(index["entries"].as_array().unwrap().len(), 2);
}

#[test]
fn a_ca_key_that_does_not_match_is_detected() {
    let (_dir, pki) = new_pki();
    let (_other_dir, other) = new_pki();
    fs::copy(other.root().join("ca.key"), pki.root().join("ca.key")).unwrap();

    let err = pki.issue_tech("t", Role::Fleet, 1, false).unwrap_err();

    assert!(matches!(err, PkiError::CaKeyMismatch { .. }), "{err:?}");
}

#[test]
fn a_damaged_index_is_reported_with_its_path() {
    let (_dir, pki) = new_pki();
    fs::write(pki.root().join("index.json"), "{ not json").unwrap();

    let err = pki.list().unwrap_err();

    assert!(matches!(err, PkiError::IndexCorrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("index.json"), "{err}");
}
