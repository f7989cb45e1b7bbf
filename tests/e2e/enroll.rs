//! Enrolment as an admin does it: `tether pki issue-agent --bundle`, then
//! `tether-agent enroll` on the workstation, then the agent serves.

use std::os::unix::fs::PermissionsExt;

use tether_tests::{Agent, TestPki, command, run};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_bundle_enrols_an_agent_that_then_serves() {
    let pki = TestPki::new("Example Corp");
    let alice = pki.issue_tech("alice", "tier1");
    let work = tempfile::tempdir().unwrap();
    let etc = work.path().join("etc/tether");
    // The admin's own config for the machine, carried in the bundle.
    let snippet = work.path().join("agent.toml");
    std::fs::write(
        &snippet,
        format!(
            "name = \"anything\"\nlisten = \"127.0.0.1:0\"\ncontrol_socket = {:?}\n\
             [tls]\ncert = \"agent.crt\"\nkey = \"agent.key\"\nca = \"ca.crt\"\ncrl = \"crl.pem\"\n\
             [audit]\npath = {:?}\n",
            work.path().join("agent.sock"),
            work.path().join("log/audit.jsonl")
        ),
    )
    .unwrap();
    let bundle = work.path().join("ws-042.bundle");
    let issued = pki.tether(&[
        "issue-agent",
        "ws-042",
        "--ip",
        "127.0.0.1",
        "--bundle",
        bundle.to_str().unwrap(),
        "--bundle-config",
        snippet.to_str().unwrap(),
    ]);
    let out = issued.ok();
    assert!(out.contains("tether-agent enroll"), "{out}");
    assert_eq!(mode(&bundle), 0o600);
    assert!(!out.contains("PRIVATE KEY") && !issued.stderr.contains("PRIVATE KEY"));

    let mut enroll = command("tether-agent", work.path());
    enroll.arg("enroll").arg(&bundle).arg("--config-dir").arg(&etc);
    let enrolled = run(enroll);
    let out = enrolled.ok();
    assert!(out.contains("enrolled ws-042") && out.contains("agent.toml: ok"), "{out}");
    assert!(!out.contains("PRIVATE KEY") && !enrolled.stderr.contains("PRIVATE KEY"), "{out}");
    assert_eq!(mode(&etc.join("agent.key")), 0o600);
    assert_eq!(mode(&etc.join("agent.crt")), 0o644);
    let config = etc.join("agent.toml");
    assert!(std::fs::read_to_string(&config).unwrap().contains("name = \"ws-042\""));

    let mut check = command("tether-agent", work.path());
    check.arg("check-config").arg("--config").arg(&config);
    let checked = run(check);
    assert!(checked.ok().contains("agent.toml: ok"), "{}", checked.stdout);
    assert!(!checked.stdout.contains("warning: name"), "{}", checked.stdout);

    let audit = work.path().join("log/audit.jsonl");
    let agent = Agent::run_config("ws-042", work, config, audit);
    let info = agent.tether(&alice, &["info", &agent.addr]);
    assert!(info.ok().contains("you are alice (tier1)"), "{}", info.stdout);
    agent.wait_for_audit(|r| r.request == "info");
}

#[test]
fn a_bundle_for_another_ca_is_refused_and_installs_nothing() {
    let ours = TestPki::new("Ours");
    let theirs = TestPki::new("Theirs");
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("b.bundle");
    ours.tether(&["issue-agent", "ws-1", "--bundle", bundle.to_str().unwrap()]).ok();
    // Swap in the other organisation's CA: the certificate no longer chains.
    let text = std::fs::read_to_string(&bundle).unwrap();
    let ca = std::fs::read_to_string(ours.ca()).unwrap();
    let foreign = std::fs::read_to_string(theirs.ca()).unwrap();
    std::fs::write(&bundle, text.replace(ca.trim_end(), foreign.trim_end())).unwrap();
    let etc = work.path().join("etc");
    let mut enroll = command("tether-agent", work.path());
    enroll.arg("enroll").arg(&bundle).arg("--config-dir").arg(&etc);
    let line = run(enroll).fails_with(1);
    assert!(line.contains("b.bundle") && line.contains("not usable"), "{line}");
    assert!(!etc.exists());
    // Writing over an existing bundle needs --force.
    let again = ours.tether(&["issue-agent", "ws-2", "--bundle", bundle.to_str().unwrap()]);
    assert!(again.fails_with(1).contains("already exists"));
}
