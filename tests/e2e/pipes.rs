//! Every command that prints ends quietly when its reader goes away, as
//! Unix tools do (`tether ps HOST --json | head -1`): no panic, no
//! backtrace, killed by SIGPIPE or exiting cleanly.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use tether_tests::{Agent, AgentSetup, TestPki};

/// Runs `cmd` with its stdout a pipe whose reading end is already closed.
fn into_closed_pipe(mut cmd: Command, what: &str) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let quiet = out.status.success() || out.status.signal() == Some(libc::SIGPIPE);
    assert!(quiet, "{what}: {:?}\n{stderr}", out.status);
}

#[test]
fn printing_commands_end_quietly_on_a_closed_pipe() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let tom = pki.issue_tech("tom", "tier3");
    let home = tempfile::tempdir().unwrap();
    let tether = |args: &[&str]| {
        let mut cmd = tether_tests::tether_as(&tom, home.path());
        cmd.args(["--server-name", "agent-01", "--timeout", "5"]).args(args);
        cmd
    };
    for args in [
        &["completions", "bash"][..],
        &["man"],
        &["hosts"],
        &["info", &agent.addr],
        &["info", &agent.addr, "--json"],
        &["ps", &agent.addr, "-n", "200"],
        &["ps", &agent.addr, "-n", "200", "--json"],
        &["audit", &agent.addr, "-n", "50"],
        &["doctor", &agent.addr, "--json"],
        &["ticket", "open", "Pipe", "--requester", "Ada"],
        &["ticket", "list"],
        &["ticket", "show", "T-1", "--json"],
        &["report", "--by", "requester"],
        &["report", "--format", "csv"],
    ] {
        into_closed_pipe(tether(args), &format!("tether {}", args.join(" ")));
    }
    let mut pki_list = tether_tests::command("tether", home.path());
    pki_list.args(["pki", "list", "--pki-dir"]).arg(pki.root());
    into_closed_pipe(pki_list, "tether pki list");

    let agent_cli = |args: &[&str]| {
        let mut cmd = tether_tests::command("tether-agent", home.path());
        cmd.args(args).arg("--config").arg(&agent.config);
        cmd
    };
    for args in [
        &["audit", "tail", "-n", "50"][..],
        &["audit", "tail", "-n", "50", "--json"],
        &["audit", "verify"],
        &["check-config"],
        &["completions", "bash"],
        &["man"],
    ] {
        into_closed_pipe(agent_cli(args), &format!("tether-agent {}", args.join(" ")));
    }
}
