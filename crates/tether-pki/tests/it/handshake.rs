//! End-to-end TLS: an agent (server) and a controller (client) built from
//! `server_config`/`client_config`, talking through memory buffers.

use std::fs;

use rustls::{CertificateError, Error};
use tether_pki::{
    DEFAULT_AGENT_DAYS, DEFAULT_TECH_DAYS, PkiError, client_config, load_crls, peer_identity,
    server_config,
};
use tether_proto::{Role, Tier};
use time::{Duration, OffsetDateTime};

use crate::util::{Failure, ca, credentials, handshake, new_pki, new_pki_for};

const AGENT: &str = "agent-a";

/// The agent's server config from a PKI with an agent certificate, loading
/// the CRL the way an agent does.
fn agent_config(pki: &tether_pki::Pki) -> rustls::ServerConfig {
    let agent = pki.issue_agent(AGENT, &[], &[], DEFAULT_AGENT_DAYS, true).expect("issue agent");
    let (chain, key) = credentials(&agent);
    let crls = load_crls(&pki.crl_path()).expect("load CRL");
    server_config(chain, key, &ca(pki), crls).expect("server config")
}

fn tech_config(tech: &tether_pki::Issued, trust: &tether_pki::Pki) -> rustls::ClientConfig {
    let (chain, key) = credentials(tech);
    client_config(chain, key, &ca(trust), Vec::new()).expect("client config")
}

fn assert_server_refused(
    result: Result<rustls::ServerConnection, Failure>,
    want: CertificateError,
) {
    match result {
        Err(Failure::Server(Error::InvalidCertificate(got))) => assert_eq!(got, want),
        other => panic!("expected the server to refuse with {want:?}, got {other:?}"),
    }
}

#[test]
fn good_technician_is_admitted_and_identified() {
    let (_dir, pki) = new_pki();
    let tech = pki.issue_tech("alice", Role::Tier(Tier::Two), DEFAULT_TECH_DAYS, false).unwrap();

    let server = handshake(tech_config(&tech, &pki), agent_config(&pki), AGENT).expect("handshake");

    assert_eq!(server.alpn_protocol(), Some(tether_proto::ALPN));
    let certs = server.peer_certificates().expect("client certificate");
    let id = peer_identity(&certs[0]).expect("identity");
    assert_eq!(id.name, "alice");
    assert_eq!(id.role, Role::Tier(Tier::Two));
    assert_eq!(id.serial, tech.entry.serial);
}

#[test]
fn agent_is_reachable_by_extra_dns_name_and_ip() {
    let (_dir, pki) = new_pki();
    let ip = "192.0.2.7".parse().unwrap();
    let agent = pki.issue_agent(AGENT, &["pc7.corp.example".into()], &[ip], 30, false).unwrap();
    let tech = pki.issue_tech("alice", Role::Fleet, 1, false).unwrap();
    let (chain, key) = credentials(&agent);
    let crls = load_crls(&pki.crl_path()).unwrap();
    let server = server_config(chain, key, &ca(&pki), crls).unwrap();

    for name in ["pc7.corp.example", "192.0.2.7"] {
        let result = handshake(tech_config(&tech, &pki), server.clone(), name);
        assert!(result.is_ok(), "dialling {name}: {result:?}");
    }
}

#[test]
fn certificate_from_another_ca_is_refused() {
    let (_dir, pki) = new_pki();
    let (_other_dir, other) = new_pki_for("Other Org");
    let stranger = other.issue_tech("mallory", Role::Tier(Tier::Three), 1, false).unwrap();

    // The stranger trusts our CA, so only the agent's check can stop them.
    let result = handshake(tech_config(&stranger, &pki), agent_config(&pki), AGENT);

    assert_server_refused(result, CertificateError::UnknownIssuer);
}

#[test]
fn certificate_from_a_look_alike_ca_is_refused() {
    // Same organisation, so the forged CA has exactly our CA's name; only
    // the signature tells them apart.
    let (_dir, pki) = new_pki();
    let (_other_dir, forger) = new_pki();
    let stranger = forger.issue_tech("mallory", Role::Tier(Tier::Three), 1, false).unwrap();

    let result = handshake(tech_config(&stranger, &pki), agent_config(&pki), AGENT);

    assert_server_refused(result, CertificateError::BadSignature);
}

#[test]
fn revoked_technician_is_refused_after_crl_reload() {
    let (_dir, pki) = new_pki();
    let tech = pki.issue_tech("bob", Role::Tier(Tier::One), DEFAULT_TECH_DAYS, false).unwrap();
    assert!(handshake(tech_config(&tech, &pki), agent_config(&pki), AGENT).is_ok());

    pki.revoke(&tech.entry.serial).unwrap();
    let result = handshake(tech_config(&tech, &pki), agent_config(&pki), AGENT);

    assert_server_refused(result, CertificateError::Revoked);
}

#[test]
fn revoked_agent_is_refused_by_a_controller_with_the_crl() {
    let (_dir, pki) = new_pki();
    let tech = pki.issue_tech("carol", Role::Tier(Tier::One), DEFAULT_TECH_DAYS, false).unwrap();
    let server = agent_config(&pki);
    let with_crl = |pki: &tether_pki::Pki| {
        let (chain, key) = credentials(&tech);
        let crls = load_crls(&pki.crl_path()).unwrap();
        client_config(chain, key, &ca(pki), crls).unwrap()
    };
    assert!(handshake(with_crl(&pki), server.clone(), AGENT).is_ok());

    let agent_serial = pki.list().unwrap().into_iter().find(|e| e.name == AGENT).unwrap().serial;
    pki.revoke(&agent_serial).unwrap();
    let result = handshake(with_crl(&pki), server.clone(), AGENT);

    match result {
        Err(Failure::Client(Error::InvalidCertificate(CertificateError::Revoked))) => {}
        other => panic!("expected the controller to refuse a revoked agent, got {other:?}"),
    }
    // Without the CRL the controller cannot know: why technicians install it.
    assert!(handshake(tech_config(&tech, &pki), server, AGENT).is_ok());
}

#[test]
fn revoked_serials_match_peer_identity_serials() {
    let (_dir, pki) = new_pki();
    let bob = pki.issue_tech("bob", Role::Tier(Tier::One), 1, false).unwrap();
    let eve = pki.issue_tech("eve", Role::Tier(Tier::Two), 1, false).unwrap();
    let empty = tether_pki::revoked_serials(&load_crls(&pki.crl_path()).unwrap()).unwrap();
    assert!(empty.is_empty());

    pki.revoke(&eve.entry.serial).unwrap();
    let revoked = tether_pki::revoked_serials(&load_crls(&pki.crl_path()).unwrap()).unwrap();
    let eve_cert = &tether_pki::load_certs(&eve.cert_path).unwrap()[0];
    let bob_cert = &tether_pki::load_certs(&bob.cert_path).unwrap()[0];
    assert!(revoked.contains(&tether_pki::peer_identity(eve_cert).unwrap().serial));
    assert!(!revoked.contains(&tether_pki::peer_identity(bob_cert).unwrap().serial));
    assert_eq!(revoked.len(), 1);
}

#[test]
fn crl_of_another_ca_fails_closed() {
    let (_dir, pki) = new_pki();
    let (_other_dir, other) = new_pki_for("Other Org");
    let tech = pki.issue_tech("carol", Role::Tier(Tier::One), 1, false).unwrap();
    let agent = pki.issue_agent(AGENT, &[], &[], 30, false).unwrap();
    let (chain, key) = credentials(&agent);
    let wrong_crls = load_crls(&other.crl_path()).unwrap();
    let server = server_config(chain, key, &ca(&pki), wrong_crls).unwrap();

    let result = handshake(tech_config(&tech, &pki), server, AGENT);

    assert_server_refused(result, CertificateError::UnknownRevocationStatus);
}

#[test]
fn crl_of_a_look_alike_ca_is_refused() {
    let (_dir, pki) = new_pki();
    let (_other_dir, forger) = new_pki();
    let tech = pki.issue_tech("carol", Role::Tier(Tier::One), 1, false).unwrap();
    let agent = pki.issue_agent(AGENT, &[], &[], 30, false).unwrap();
    let (chain, key) = credentials(&agent);
    let forged_crls = load_crls(&forger.crl_path()).unwrap();
    let server = server_config(chain, key, &ca(&pki), forged_crls).unwrap();

    let result = handshake(tech_config(&tech, &pki), server, AGENT);

    assert!(
        matches!(result, Err(Failure::Server(Error::InvalidCertRevocationList(_)))),
        "{result:?}"
    );
}

#[test]
fn expired_technician_is_refused() {
    let (_dir, pki) = new_pki();
    let now = OffsetDateTime::now_utc();
    let tech = pki
        .issue_tech_with_validity(
            "dave",
            Role::Tier(Tier::Two),
            now - Duration::days(10),
            now - Duration::days(1),
            false,
        )
        .unwrap();

    let result = handshake(tech_config(&tech, &pki), agent_config(&pki), AGENT);

    match result {
        Err(Failure::Server(Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ))) => {}
        other => panic!("expected the server to refuse an expired certificate, got {other:?}"),
    }
}

#[test]
fn agent_dialled_by_another_name_is_refused_by_the_client() {
    let (_dir, pki) = new_pki();
    let tech = pki.issue_tech("erin", Role::Tier(Tier::Two), 1, false).unwrap();

    let result = handshake(tech_config(&tech, &pki), agent_config(&pki), "agent-b");

    match result {
        Err(Failure::Client(Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ))) => {}
        other => panic!("expected the client to refuse the name, got {other:?}"),
    }
}

#[test]
fn technician_certificate_cannot_serve_as_agent() {
    let (_dir, pki) = new_pki();
    let tech = pki.issue_tech("frank", Role::Tier(Tier::Three), 1, false).unwrap();
    let impostor = pki.issue_tech("impostor", Role::Tier(Tier::One), 1, false).unwrap();
    let (chain, key) = credentials(&impostor);
    let crls = load_crls(&pki.crl_path()).unwrap();
    let server = server_config(chain, key, &ca(&pki), crls).unwrap();

    let result = handshake(tech_config(&tech, &pki), server, "impostor");

    match result {
        Err(Failure::Client(Error::InvalidCertificate(
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. },
        ))) => {}
        other => {
            panic!("expected the client to refuse a clientAuth-only certificate, got {other:?}")
        }
    }
}

#[test]
fn agent_certificate_cannot_serve_as_technician() {
    let (_dir, pki) = new_pki();
    let server = agent_config(&pki);
    let other_agent = pki.issue_agent("agent-z", &[], &[], 30, false).unwrap();
    let (chain, key) = credentials(&other_agent);
    let client = client_config(chain, key, &ca(&pki), Vec::new()).unwrap();

    let result = handshake(client, server, AGENT);

    match result {
        Err(Failure::Server(Error::InvalidCertificate(
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. },
        ))) => {}
        other => {
            panic!("expected the server to refuse a serverAuth-only certificate, got {other:?}")
        }
    }
}

#[test]
fn configs_are_tls13_only_without_resumption() {
    let (_dir, pki) = new_pki();
    let server = agent_config(&pki);
    assert_eq!(server.send_tls13_tickets, 0);
    assert!(!server.session_storage.can_cache());
    assert_eq!(server.alpn_protocols, vec![tether_proto::ALPN.to_vec()]);

    let tech = pki.issue_tech("gina", Role::Fleet, 1, false).unwrap();
    let client = tech_config(&tech, &pki);
    let connection = handshake(client, server, AGENT).unwrap();
    assert_eq!(connection.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
}

#[test]
fn configs_need_a_ca() {
    let (_dir, pki) = new_pki();
    let tech = pki.issue_tech("hank", Role::Fleet, 1, false).unwrap();
    let (chain, key) = credentials(&tech);
    assert!(matches!(
        client_config(chain.clone(), key.clone_key(), &[], Vec::new()),
        Err(PkiError::NoTrustAnchors)
    ));
    assert!(matches!(server_config(chain, key, &[], Vec::new()), Err(PkiError::NoTrustAnchors)));
}

#[test]
fn loaders_reject_files_without_the_expected_items() {
    let (dir, pki) = new_pki();
    let empty = dir.path().join("empty.pem");
    fs::write(&empty, "").unwrap();

    assert!(matches!(tether_pki::load_certs(&empty), Err(PkiError::NoPemItems { .. })));
    assert!(matches!(
        load_crls(&pki.ca_cert_path()),
        Err(PkiError::NoPemItems { what: "CRL", .. })
    ));
    assert!(matches!(
        tether_pki::load_private_key(&pki.ca_cert_path()),
        Err(PkiError::NoPemItems { what: "private key", .. })
    ));
    let missing = dir.path().join("missing.pem");
    match tether_pki::load_certs(&missing) {
        Err(err @ PkiError::Io { .. }) => assert!(err.to_string().contains("missing.pem"), "{err}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
