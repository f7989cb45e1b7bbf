//! Who gets in: certificates, tiers, roles and policy.

use tether_tests::{Agent, AgentSetup, TestPki};
use time::{Duration as TimeDuration, OffsetDateTime};

use crate::raw;

fn agent<'a>(pki: &'a TestPki, extra: &'a str) -> Agent {
    Agent::start(AgentSetup { pki, name: "agent-01", extra })
}

#[test]
fn tier1_info_works_and_is_audited() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki, "");
    let alice = pki.issue_tech("alice", "tier1");

    let run = agent.tether(&alice, &["--ticket", "INC-42", "info", &agent.addr, "--json"]);
    let report: serde_json::Value = serde_json::from_str(run.ok()).expect("info --json is JSON");
    assert_eq!(report["agent"], "agent-01");
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(report["system"]["host"]["hostname"], hostname.trim());

    let human = agent.tether(&alice, &["info", &agent.addr]);
    let text = human.ok();
    assert!(text.contains("you are alice (tier1)"), "{text}");
    assert!(text.contains(&format!("  host     {} · ", hostname.trim())), "{text}");

    let record =
        agent.wait_for_audit(|r| r.request == "info" && r.ticket.as_deref() == Some("INC-42"));
    assert_eq!(record.outcome, "ok");
    assert_eq!(record.technician.as_deref(), Some("alice"));
    assert_eq!(record.role.as_deref(), Some("tier1"));
    assert_eq!(record.serial.as_deref(), Some(alice.serial.as_str()));
    assert_eq!(record.session, report["session"].as_str().unwrap());
}

#[test]
fn no_client_certificate_is_rejected() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki, "");
    let addr = agent.addr.parse().unwrap();
    raw::runtime().block_on(async {
        let endpoint = raw::endpoint_without_certificate(&pki.ca(), addr);
        let outcome = async {
            let conn = endpoint.connect(addr, "agent-01").unwrap().await?;
            let (mut send, _recv) = conn.open_bi().await?;
            send.write_all(b"hello?").await.map_err(|e| match e {
                quinn::WriteError::ConnectionLost(e) => e,
                other => panic!("unexpected {other:?}"),
            })?;
            Ok::<_, quinn::ConnectionError>(conn.closed().await)
        }
        .await;
        let err = match outcome {
            Err(e) | Ok(e) => e.to_string(),
        };
        assert!(err.contains("116") || err.contains("certificate"), "{err}");
    });
    let record = agent.wait_for_audit(|r| r.request == "connect");
    assert_eq!(record.outcome, "rejected");
    assert!(
        record.detail.contains("NoCertificatesPresented") || record.detail.contains("certificate"),
        "{}",
        record.detail
    );
}

#[test]
fn certificate_from_another_ca_is_rejected() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki, "");
    let rogue_pki = TestPki::new("Rogue");
    let mut mallory = rogue_pki.issue_tech("mallory", "tier3");
    // Mallory trusts the real CA, so only her own certificate is at fault.
    mallory.ca = pki.ca();
    let run = agent.tether(&mallory, &["info", &agent.addr]);
    let line = run.fails_with(5);
    assert!(line.contains("rejected this technician certificate"), "{line}");
    assert!(line.contains("unknown CA"), "{line}");
    agent.wait_for_audit(|r| r.request == "connect" && r.outcome == "rejected");
    assert!(!agent.audit().iter().any(|r| r.request == "info"));
}

#[test]
fn expired_technician_certificate_is_rejected() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki, "");
    let now = OffsetDateTime::now_utc();
    pki.library()
        .issue_tech_with_validity(
            "old-bob",
            tether_proto::Role::Tier(tether_proto::Tier::One),
            now - TimeDuration::days(10),
            now - TimeDuration::days(3),
            false,
        )
        .unwrap();
    let bob = pki.identity("techs", "old-bob");
    let line = agent.tether(&bob, &["info", &agent.addr]).fails_with(5);
    assert!(line.contains("certificate expired"), "{line}");
}

#[test]
fn revoked_serial_is_rejected_after_crl_reload() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki, "");
    let carol = pki.issue_tech("carol", "tier2");
    agent.tether(&carol, &["info", &agent.addr]).ok();
    // Carol also holds a session open across the revocation.
    let rt = raw::runtime();
    let addr = agent.addr.parse().unwrap();
    let (_endpoint, live) = raw::session(&rt, &carol, addr);

    let listed = pki.tether(&["list", "--json"]);
    assert!(listed.ok().contains(&carol.serial));
    // Revoke using the colon-separated form an admin might paste.
    let with_colons: Vec<String> =
        carol.serial.as_bytes().chunks(2).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    pki.tether(&["revoke", &with_colons.join(":")]).ok();
    agent.signal(tether_os::signal::Signal::Hangup);
    assert!(
        agent.wait_for_log("reloaded TLS material", std::time::Duration::from_secs(10)),
        "{}",
        agent.log()
    );

    let line = agent.tether(&carol, &["info", &agent.addr]).fails_with(5);
    assert!(line.contains("certificate revoked"), "{line}");
    // The live session was ended too, and that is on record.
    let code = rt.block_on(raw::close_code(&live));
    assert_eq!(code, u64::from(tether_proto::close::UNAUTHORIZED));
    let record = agent.wait_for_audit(|r| r.request == "session-revoked");
    assert_eq!(record.technician.as_deref(), Some("carol"));
    // Everyone else still gets in.
    let dave = pki.issue_tech("dave", "tier1");
    agent.tether(&dave, &["info", &agent.addr]).ok();
}

#[test]
fn agent_certificate_for_another_name_is_refused_by_the_controller() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki, "");
    let alice = pki.issue_tech("alice", "tier1");
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tether_tests::tether_as(&alice, home.path());
    cmd.args(["--server-name", "agent-99", "info", &agent.addr]);
    let line = tether_tests::run(cmd).fails_with(5);
    assert!(line.contains("agent's certificate was not accepted"), "{line}");
    assert!(line.contains("not valid for name \"agent-99\""), "{line}");
}

#[test]
fn requests_above_the_tier_are_denied_and_audited() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki, "");
    let alice = pki.issue_tech("alice", "tier1");
    let boss = pki.issue_tech("boss", "tier3");
    let probe = pki.issue_tech("nagios", "fleet");

    let line = agent.tether(&alice, &["audit", &agent.addr]).fails_with(6);
    assert!(
        line.contains("denied: audit-tail needs tier 3 or above; your certificate is tier1"),
        "{line}"
    );
    let denied = agent.wait_for_audit(|r| r.request == "audit-tail" && r.outcome == "denied");
    assert_eq!(denied.technician.as_deref(), Some("alice"));
    assert_eq!(denied.args, "limit=20");

    let line = agent.tether(&probe, &["audit", &agent.addr]).fails_with(6);
    assert!(line.contains("fleet role may not run it"), "{line}");
    agent.tether(&probe, &["info", &agent.addr, "--json"]).ok();

    let out = agent.tether(&boss, &["audit", &agent.addr, "-n", "100", "--json"]);
    let records: Vec<serde_json::Value> = serde_json::from_str(out.ok()).unwrap();
    assert!(records.iter().any(|r| r["outcome"] == "denied" && r["technician"] == "alice"));
    assert!(records.iter().any(|r| r["request"] == "info" && r["role"] == "fleet"));
}

#[test]
fn agent_policy_can_raise_the_floor() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki, "[policy]\nmin_tier = 2\nallow_fleet = false\n");
    let alice = pki.issue_tech("alice", "tier1");
    let line = agent.tether(&alice, &["info", &agent.addr]).fails_with(6);
    assert!(line.contains("needs tier 2 on this machine (agent policy)"), "{line}");
    let probe = pki.issue_tech("nagios", "fleet");
    agent.tether(&probe, &["info", &agent.addr]).fails_with(6);
    let bob = pki.issue_tech("bob", "tier2");
    agent.tether(&bob, &["info", &agent.addr]).ok();
}
