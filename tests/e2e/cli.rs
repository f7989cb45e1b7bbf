//! The command lines themselves: PKI files, errors, demo, config checks.

use std::os::unix::fs::PermissionsExt;

use tether_tests::{Agent, AgentSetup, TestPki, command, run};

#[test]
fn pki_keys_are_private_and_never_silently_overwritten() {
    let pki = TestPki::new("Example");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&pki.root().join("ca.key")), 0o600);
    let alice = pki.issue_tech("alice", "tier2");
    assert_eq!(mode(&alice.key), 0o600);
    let before = std::fs::read(&alice.key).unwrap();

    let line = pki.tether(&["issue-tech", "alice", "--tier", "2"]).fails_with(1);
    assert!(line.contains("--force"), "{line}");
    assert_eq!(std::fs::read(&alice.key).unwrap(), before, "key untouched");
    pki.tether(&["init", "--org", "Again"]).fails_with(1);

    pki.tether(&["issue-tech", "alice", "--tier", "2", "--force"]).ok();
    assert_ne!(std::fs::read(&alice.key).unwrap(), before);
    assert_eq!(mode(&alice.key), 0o600);

    let table = pki.tether(&["list"]);
    let text = table.ok();
    assert!(text.lines().next().unwrap().starts_with("SERIAL"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" alice ")).count(), 2, "{text}");
}

#[test]
fn missing_identity_is_one_clear_line() {
    let home = tempfile::tempdir().unwrap();
    let line = run({
        let mut c = command("tether", home.path());
        c.args(["info", "127.0.0.1:9"]);
        c
    })
    .fails_with(1);
    assert!(line.starts_with("tether: error: technician certificate"), "{line}");
    assert!(line.contains(".config/tether/tech.crt"), "{line}");
}

#[test]
fn unreachable_agent_exits_4() {
    let pki = TestPki::new("Example");
    let alice = pki.issue_tech("alice", "tier1");
    let home = tempfile::tempdir().unwrap();
    // A bound but silent UDP port: nobody answers the handshake.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let mut cmd = tether_tests::tether_as(&alice, home.path());
    cmd.args(["--timeout", "1", "info", &addr]);
    let line = run(cmd).fails_with(4);
    assert!(line.contains("no answer within 1 s"), "{line}");
}

#[test]
fn hosts_file_aliases_work() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "front-desk-pc", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    let config_dir = tempfile::tempdir().unwrap();
    for (src, dst) in [(&alice.cert, "tech.crt"), (&alice.key, "tech.key"), (&alice.ca, "ca.crt")] {
        std::fs::copy(src, config_dir.path().join(dst)).unwrap();
    }
    std::fs::write(
        config_dir.path().join("hosts.toml"),
        format!("[hosts.frontdesk]\naddress = {:?}\nname = \"front-desk-pc\"\n", agent.addr),
    )
    .unwrap();
    let mut cmd = command("tether", config_dir.path());
    cmd.env("TETHER_CONFIG_DIR", config_dir.path()).args(["info", "frontdesk"]);
    let out = run(cmd);
    assert!(out.ok().starts_with("front-desk-pc at "), "{}", out.stdout);
    let mut cmd = command("tether", config_dir.path());
    cmd.env("TETHER_CONFIG_DIR", config_dir.path()).args(["hosts"]);
    assert!(run(cmd).ok().contains("frontdesk"));
}

#[test]
fn check_config_accepts_good_and_names_bad() {
    let pki = TestPki::new("Example");
    let agent =
        Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "[policy]\nmin_tier = 2\n" });
    let mut cmd = command("tether-agent", agent.dir.path());
    cmd.args(["check-config", "--config"]).arg(&agent.config);
    let out = run(cmd);
    let text = out.ok();
    assert!(text.contains("info             tier 2+ (raised by policy), fleet"), "{text}");
    assert!(text.contains("audit-tail       tier 3+"), "{text}");
    assert!(text.contains("restore-rollback tier 3+\n"), "{text}");
    assert!(text.contains("restore      off (no [restore] table)"), "{text}");
    assert!(!text.contains("warning:"), "a sound config has no warnings: {text}");

    // What would fail once running is named: a name the certificate does
    // not carry, a prompt program that is not there.
    let doubtful = agent.dir.path().join("doubtful.toml");
    let config = std::fs::read_to_string(&agent.config).unwrap().replacen(
        "name = \"agent-01\"",
        "name = \"front-desk\"",
        1,
    ) + "\n[consent]\ncontrol = \"prompt\"\nprompt_command = [\"/usr/bin/no-such-dialog\"]\n";
    std::fs::write(&doubtful, config).unwrap();
    let mut cmd = command("tether-agent", agent.dir.path());
    cmd.args(["check-config", "--config"]).arg(&doubtful);
    let text = run(cmd).ok().to_owned();
    assert!(
        text.contains("warning: name \"front-desk\" is not in the agent's certificate (it carries agent-01, 127.0.0.1)"),
        "{text}"
    );
    assert!(
        text.contains(
            "warning: the consent prompt \"/usr/bin/no-such-dialog\" is not an executable"
        ),
        "{text}"
    );

    let bad = agent.dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"nowhere\"\n").unwrap();
    let mut cmd = command("tether-agent", agent.dir.path());
    cmd.args(["check-config", "--config"]).arg(&bad);
    let line = run(cmd).fails_with(1);
    assert!(line.starts_with("tether-agent: error: invalid config"), "{line}");
}

#[test]
fn agent_audit_tail_reads_the_log() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    agent.tether(&alice, &["--ticket", "T-9", "info", &agent.addr]).ok();
    agent.wait_for_audit(|r| r.request == "info");
    let mut cmd = command("tether-agent", agent.dir.path());
    cmd.args(["audit", "tail", "-n", "3", "--config"]).arg(&agent.config);
    let out = run(cmd);
    let text = out.ok();
    let info = text.lines().find(|l| l.contains(" info ")).expect("info line");
    assert!(info.contains("alice (tier1)") && info.contains("T-9"), "{text}");
    let mut cmd = command("tether-agent", agent.dir.path());
    cmd.args(["audit", "tail", "--json", "--file"]).arg(&agent.audit_path);
    let json = run(cmd);
    for line in json.ok().lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
    }
}

#[test]
fn demo_runs_end_to_end() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command("tether", home.path());
    cmd.arg("demo");
    let out = run(cmd);
    let text = out.ok();
    assert!(text.contains("you are demo-tech (tier1)"), "{text}");
    assert!(text.contains("denied: audit-tail needs tier 3"), "{text}");
    assert!(text.contains("agent-stop"), "{text}");
}

#[test]
fn completions_and_man_pages_are_generated() {
    let home = tempfile::tempdir().unwrap();
    for (bin, args, needle) in [
        ("tether", &["completions", "bash"][..], "_tether()"),
        ("tether", &["man"][..], ".TH tether"),
        ("tether-agent", &["completions", "zsh"][..], "#compdef tether-agent"),
        ("tether-agent", &["man"][..], ".TH tether-agent"),
    ] {
        let mut cmd = command(bin, home.path());
        cmd.args(args);
        let out = run(cmd);
        assert!(out.ok().contains(needle), "{bin} {args:?}");
    }
}

#[test]
fn usage_errors_exit_2_but_3_for_nagios_checks() {
    let home = tempfile::tempdir().unwrap();
    let usage = |args: &[&str]| {
        let mut cmd = tether_tests::command("tether", home.path());
        cmd.args(args);
        tether_tests::run(cmd).code()
    };
    assert_eq!(usage(&["info"]), Some(2), "missing HOST");
    assert_eq!(usage(&["net"]), Some(3), "a check's usage error is UNKNOWN, not CRITICAL");
    assert_eq!(usage(&["doctor", "h", "--bogus"]), Some(3));
    assert_eq!(usage(&["--help"]), Some(0));
}

#[test]
fn an_error_says_each_cause_once() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tether_tests::command("tether-agent", home.path());
    cmd.args(["check-config", "--config", "/nonexistent/agent.toml"]);
    let line = tether_tests::run(cmd).fails_with(1);
    assert_eq!(line.matches("No such file or directory").count(), 1, "{line}");
    let pki = TestPki::new("Example");
    let tina = pki.issue_tech("tina", "tier1");
    let mut cmd = tether_tests::tether_as(&tina, home.path());
    cmd.args(["--hosts", "/nonexistent/hosts.toml", "info", "somewhere"]);
    let run = tether_tests::run(cmd);
    let text = run.stderr.trim();
    for cause in ["No such file", "os error"] {
        assert!(text.matches(cause).count() <= 1, "{text}");
    }
}
