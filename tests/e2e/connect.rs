//! `tether connect`: the interactive session against a real agent, driven
//! through piped stdin and through a pseudo-terminal.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use tether_tests::{Agent, AgentSetup, Identity, Interactive, Reaped, TestPki, tether_as};

fn agent(pki: &TestPki) -> Agent {
    Agent::start(AgentSetup { pki, name: "agent-01", extra: "" })
}

/// `tether connect` to `agent` as `id`, HOME in `home`.
fn connect(agent: &Agent, id: &Identity, home: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = tether_as(id, home);
    cmd.args(["--server-name", &agent.name, "--timeout", "5"]);
    cmd.args(extra);
    cmd.args(["connect", &agent.addr]);
    cmd
}

/// Sessions of `technician`'s requests of these kinds in the audit log.
fn sessions_of(agent: &Agent, technician: &str, kinds: &[&str]) -> Vec<String> {
    let mut sessions: Vec<String> = agent
        .audit()
        .into_iter()
        .filter(|r| r.technician.as_deref() == Some(technician))
        .filter(|r| kinds.contains(&r.request.as_str()))
        .map(|r| r.session)
        .collect();
    sessions.dedup();
    sessions
}

/// A process that ignores SIGTERM, so the agent's kill waits its 3 s.
fn stubborn(tag: &str) -> Reaped {
    let script = format!("trap '' TERM; exec -a {tag} sleep 600");
    Reaped(Command::new("bash").args(["-c", &script]).spawn().expect("bash runs"))
}

#[test]
fn a_session_runs_many_commands_on_one_connection_and_survives_errors() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki);
    let bob = pki.issue_tech("bob", "tier2");
    let mut child = Reaped::sleeper("tether-connect-probe");
    let pid = child.pid();
    let home = tempfile::tempdir().unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = tcp.local_addr().unwrap().to_string();

    let mut session = Interactive::start(connect(&agent, &bob, home.path(), &[]));
    let script = [
        "info".to_owned(),
        "ps --filter tether-connect-probe".to_owned(),
        "bogus".to_owned(),
        "kill notapid".to_owned(),
        "kill 999999999".to_owned(),
        "audit".to_owned(),
        format!("net --tcp {tcp}"),
        format!("kill {pid}"),
        "note no ticket here".to_owned(),
        "help kill".to_owned(),
    ];
    for line in &script {
        session.send(&format!("{line}\n"));
    }
    let status = session.wait();
    let (out, err) = (session.stdout(), session.stderr());
    assert!(status.success(), "{status:?}\n{out}\n{err}");

    assert!(out.contains("agent-01 at 127.0.0.1:"), "{out}");
    assert!(out.contains("tether-connect-probe"), "ps output:\n{out}");
    assert!(out.contains("Network as seen from agent-01"), "{out}");
    assert!(out.contains(&format!("sent SIGTERM to sleep (pid {pid}): it exited")), "{out}");
    assert!(child.0.wait().unwrap().code().is_none(), "killed by the signal");
    assert!(out.contains("Usage: kill [OPTIONS] <PID>"), "help kill:\n{out}");
    // Each error is one line and the session went on to the next command.
    for expected in [
        "error: unrecognized subcommand 'bogus' (see `help`)",
        "(see `help kill`)",
        "audit-tail needs tier 3",
        "error: no ticket is attached to this session",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from stderr:\n{err}");
    }
    assert!(err.lines().any(|l| l.starts_with("error: ") && l.contains("999999999")), "{err}");
    assert!(err.contains("session ended after"), "{err}");

    // Everything went over one connection: one session id in the audit log.
    let sessions = sessions_of(&agent, "bob", &["info", "ps", "kill", "net", "audit-tail"]);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let kinds: Vec<String> = agent.audit().into_iter().map(|r| r.request).collect();
    for kind in ["info", "ps", "kill", "net", "audit-tail"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} not audited: {kinds:?}");
    }
}

#[test]
fn a_lost_link_is_made_again_and_only_queries_are_repeated() {
    let pki = TestPki::new("Example");
    let mut agent = agent(&pki);
    let bob = pki.issue_tech("bob", "tier2");
    let home = tempfile::tempdir().unwrap();
    let mut session = Interactive::start(connect(&agent, &bob, home.path(), &[]));

    session.send("info --json\n");
    session.expect_out("\"clock_offset_ms\"", 1);
    let first = sessions_of(&agent, "bob", &["info"]);

    // The agent goes away and comes back on its port while the session
    // is idle: the next query reconnects first and answers.
    agent.restart_in_place();
    session.send("info --json\n");
    session.expect_err("reconnected", 1);
    session.expect_out("\"clock_offset_ms\"", 2);
    let second = sessions_of(&agent, "bob", &["info"]);
    assert_eq!(second.len(), 2, "a new session after the restart: {second:?}");
    assert_eq!(second[0], first[0]);

    // The link goes while a kill is under way (the process ignores TERM,
    // so the agent waits): the kill is not sent again.
    let mut child = stubborn("tether-connect-stubborn");
    let pid = child.pid();
    session.send(&format!("kill {pid}\n"));
    let args = format!("pid={pid} signal=TERM");
    agent.wait_for_audit(|r| r.request == "kill" && r.args == args && r.outcome == "started");
    agent.restart_in_place();
    session.expect_err("not sent again because it may have run", 1);
    session.expect_err("reconnected", 2);
    // The session goes on, on the new connection.
    session.send("info --json\n");
    session.expect_out("\"clock_offset_ms\"", 3);
    let status = session.wait();
    assert!(status.success(), "{status:?}\n{}", session.stderr());
    let kills = agent.audit().into_iter().filter(|r| r.request == "kill" && r.args == args);
    assert_eq!(kills.filter(|r| r.outcome == "started").count(), 1, "the kill ran once");
    let _ = child.0.kill();
}

#[test]
fn tab_completes_a_pid_on_a_terminal_and_history_is_private() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki);
    let bob = pki.issue_tech("bob", "tier2");
    let mut child = Reaped::sleeper("tether-tab-probe");
    let pid = child.pid();
    let home = tempfile::tempdir().unwrap();
    let mut session = Interactive::on_terminal(&connect(&agent, &bob, home.path(), &[]));

    // The status line, then the prompt.
    session.expect_out("bob · tier2 · no ticket · rtt", 1);
    session.expect_out(&format!("{}> ", agent.addr), 1);
    session.send("kill tether-tab-pr\t");
    session.expect_out(&format!("kill {pid} "), 1);
    session.send("\r");
    session.expect_out(&format!("sent SIGTERM to sleep (pid {pid}): it exited"), 1);
    assert!(child.0.wait().unwrap().code().is_none(), "killed by the signal");
    session.send("exit\r");
    let status = session.wait();
    assert!(status.success(), "{status:?}\n{}", session.stdout());

    let history = home.path().join(".local/share/tether/history");
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(kept.contains(&format!("kill {pid}")), "{kept}");
    let mode = std::fs::metadata(&history).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "history is the technician's alone");
}
