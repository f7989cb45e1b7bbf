//! Text a machine's users or a peer control, through the real agent: ESC
//! sequences and newlines in process command lines, file names and network
//! targets are shown escaped by `tether` and `tether-agent audit tail`
//! (issue 13, finding 6), never raw and never as a forged line.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use tether_tests::{Agent, AgentSetup, Reaped, TestPki, command, run};

/// No terminal control byte at all: ESC, BEL or CR.
fn raw_free(text: &str) -> bool {
    !text.contains(['\x1b', '\x07', '\r'])
}

#[test]
fn process_command_lines_are_shown_escaped() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    // argv[0] is what ps shows as the command line: anyone on the machine
    // chooses it.
    let sleeper = Reaped(
        Command::new("sleep")
            .arg0("tether-e2e-\x1b[31mred\x1b]0;owned\x07\n  666 root  forged")
            .arg("300")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let ps = agent.tether(&alice, &["ps", &agent.addr, "--filter", "tether-e2e-"]);
    let text = ps.ok();
    assert!(raw_free(text), "{text:?}");
    // The filter also matches this very `tether ps`: count from the summary.
    let shown: usize = text.lines().last().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(text.lines().count(), shown + 2, "header, processes, summary:\n{text}");
    let row = text.lines().find(|l| l.trim_start().starts_with(&sleeper.0.id().to_string()));
    let row = row.unwrap_or_else(|| panic!("the sleeper is listed:\n{text}"));
    assert!(row.contains("tether-e2e-\\x1b[31mred\\x1b]0;owned\\x07\\n  666 root"), "{row}");
    assert!(!text.lines().any(|l| l.starts_with("  666")), "a forged line:\n{text}");
    // --json keeps the exact text, escaped the JSON way.
    let json = agent.tether(&alice, &["ps", &agent.addr, "--filter", "tether-e2e-", "--json"]);
    let list: serde_json::Value = serde_json::from_str(json.ok()).unwrap();
    let command = list["processes"][0]["command"].as_str().unwrap();
    assert!(command.starts_with("tether-e2e-\x1b[31mred"), "{command:?}");
}

#[test]
fn file_names_in_restore_points_are_shown_escaped() {
    let pki = TestPki::new("Example");
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("evil\x1b[2J.conf"), "x\n").unwrap();
    let extra = format!(
        "[restore]\nstate_dir = {:?}\npaths = [{:?}]\nschedule_hours = 0\n",
        data.path().join("state"),
        tree,
    );
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let tom = pki.issue_tech("tom", "tier2");
    let host = agent.addr.as_str();
    let created = agent.tether(&tom, &["restore", "create", host, "--json"]);
    let point: serde_json::Value = serde_json::from_str(created.ok()).unwrap();
    let id = point["id"].as_str().unwrap().to_owned();

    let show = agent.tether(&tom, &["restore", "show", host, &id]);
    let text = show.ok();
    assert!(raw_free(text) && text.contains("evil\\x1b[2J.conf"), "{text:?}");

    // A file added since, whose name would forge a "recreated" line.
    fs::write(tree.join("new\x1b]0;owned\x07\n  R shadow"), "y\n").unwrap();
    let diff = agent.tether(&tom, &["restore", "diff", host, &id]);
    let text = diff.ok();
    assert!(raw_free(text), "{text:?}");
    assert_eq!(text.lines().count(), 2, "the summary and one added path:\n{text}");
    assert!(text.contains("\\x1b]0;owned\\x07\\n  R shadow\n"), "{text}");
}

#[test]
fn network_targets_are_shown_escaped_in_net_and_in_the_audit_tail() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    // Not host:port, so the agent probes nothing and reports the target.
    let target = "127.0.0.1:\x1b[31m\n2026-01-01T00:00:00.000Z  ok  root (tier3)";

    let net = agent.tether(&alice, &["net", &agent.addr, "--tcp", target]);
    assert_eq!(net.code(), Some(2), "CRITICAL:\n{}{}", net.stdout, net.stderr);
    assert!(raw_free(&net.stdout), "{:?}", net.stdout);
    assert!(!net.stdout.lines().any(|l| l.starts_with("2026-01-01")), "{}", net.stdout);
    assert!(net.stdout.contains("127.0.0.1:\\x1b[31m\\n2026-01-01"), "{}", net.stdout);

    agent.wait_for_audit(|r| r.request == "net" && r.args.contains('\x1b'));
    let records = agent.audit().len();
    let mut tail = command("tether-agent", agent.dir.path());
    tail.args(["audit", "tail", "-n", "1000", "--file"]).arg(&agent.audit_path);
    let tail = run(tail);
    let text = tail.ok();
    assert!(raw_free(text), "{text:?}");
    assert_eq!(text.lines().count(), records, "one line per record:\n{text}");
    assert!(!text.lines().any(|l| l.starts_with("2026-01-01")), "a forged line:\n{text}");
}
