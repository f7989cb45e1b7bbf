//! The controller treats the agent as hostile: a revoked agent certificate
//! is refused (issue 13, finding 5).

use tether_tests::{Agent, AgentSetup, TestPki, run, tether_as};

#[test]
fn revoked_agent_is_refused_by_a_controller_with_the_crl() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    let crl = pki.crl().display().to_string();

    // Before the revocation the CRL changes nothing.
    agent.tether(&alice, &["--crl", &crl, "info", &agent.addr]).ok();

    let serial = pki.identity("agents", "agent-01").serial;
    pki.tether(&["revoke", &serial]).ok();

    // The agent still runs with its (stolen, say) key; the controller that
    // holds the new CRL refuses it: one line, exit 5 (authentication).
    let refused = agent.tether(&alice, &["--crl", &crl, "info", &agent.addr]);
    let line = refused.fails_with(5);
    assert!(line.contains("revoked") && line.contains("do not trust this machine"), "{line}");
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);

    // The config directory's crl.pem is used without --crl.
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("tether");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::copy(pki.crl(), config.join("crl.pem")).unwrap();
    let mut cmd = tether_as(&alice, home.path());
    cmd.arg("--config-dir").arg(&config);
    cmd.args(["--server-name", "agent-01", "--timeout", "5", "ps", &agent.addr]);
    let line = run(cmd).fails_with(5);
    assert!(line.contains("revoked"), "{line}");

    // Without any CRL the controller cannot know, and still talks to it.
    agent.tether(&alice, &["info", &agent.addr]).ok();
}

#[test]
fn a_named_crl_must_exist() {
    let pki = TestPki::new("Example");
    let alice = pki.issue_tech("alice", "tier1");
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tether_as(&alice, home.path());
    cmd.args(["--crl", "/nonexistent/crl.pem", "info", "127.0.0.1:9"]);
    let line = run(cmd).fails_with(1);
    assert!(line.contains("/nonexistent/crl.pem") && line.contains("not found"), "{line}");
}
