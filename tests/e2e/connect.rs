//! `tether connect`: the interactive session against a real agent, driven
//! through piped stdin and through a pseudo-terminal.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::Value;
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
        "error: no ticket of the store is attached to this session",
    ] {
        assert!(err.contains(expected), "{expected:?} missing from stderr:\n{err}");
    }
    assert!(err.lines().any(|l| l.starts_with("error: ") && l.contains("999999999")), "{err}");
    assert!(err.contains("session ended after "), "{err}");

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

    // Ctrl-C cancels the running command (the agent waits 3 s for a
    // process that ignores TERM), not the session.
    let mut stubborn = stubborn("tether-tab-stubborn");
    let stubborn_pid = stubborn.pid();
    session.send(&format!("kill {stubborn_pid}\r"));
    let args = format!("pid={stubborn_pid} signal=TERM");
    agent.wait_for_audit(|r| r.request == "kill" && r.args == args && r.outcome == "started");
    session.send("\x03");
    session.expect_out("cancelled; it may have run on the agent", 1);
    session.send("info --json\r");
    session.expect_out("\"clock_offset_ms\"", 1);
    let _ = stubborn.0.kill();
    session.send("exit\r");
    let status = session.wait();
    assert!(status.success(), "{status:?}\n{}", session.stdout());

    let history = home.path().join(".local/share/tether/history");
    let kept = std::fs::read_to_string(&history).unwrap();
    assert!(kept.contains(&format!("kill {pid}")), "{kept}");
    let mode = std::fs::metadata(&history).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "history is the technician's alone");
}

/// Opens a ticket in the store `db` as `id`; returns "T-N".
fn open_ticket(id: &Identity, home: &std::path::Path, db: &std::path::Path) -> String {
    let mut cmd = tether_as(id, home);
    cmd.arg("--db").arg(db);
    cmd.args(["ticket", "open", "VPN drops every hour", "--requester", "carol", "--json"]);
    let opened: serde_json::Value = serde_json::from_str(tether_tests::run(cmd).ok()).unwrap();
    opened["display_id"].as_str().expect("display_id").to_owned()
}

/// The timeline of `ticket` as `ticket show --json` prints it.
fn show(id: &Identity, home: &std::path::Path, db: &std::path::Path, ticket: &str) -> Value {
    let mut cmd = tether_as(id, home);
    cmd.arg("--db").arg(db).args(["ticket", "show", ticket, "--json"]);
    serde_json::from_str(tether_tests::run(cmd).ok()).unwrap()
}

/// The timeline's events of `kind`.
fn events<'a>(shown: &'a Value, kind: &str) -> Vec<&'a Value> {
    let timeline = shown["timeline"].as_array().expect("a timeline");
    timeline.iter().map(|e| &e["event"]).filter(|e| e["kind"] == kind).collect()
}

#[test]
fn with_a_ticket_the_session_and_its_commands_go_into_the_timeline() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki);
    let bob = pki.issue_tech("bob", "tier2");
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("tickets.db");
    let ticket = open_ticket(&bob, home.path(), &db);
    let child = Reaped::sleeper("tether-ticket-probe");
    let pid = child.pid();
    let db_flag = db.to_str().unwrap();

    let extra = ["--db", db_flag, "--ticket", &ticket];
    let mut session = Interactive::start(connect(&agent, &bob, home.path(), &extra));
    for line in [
        "info".to_owned(),
        format!("kill {pid}"),
        "kill 999999999".to_owned(),
        "bogus".to_owned(),
        "note the user's VPN drops since the update".to_owned(),
        "escalate needs a rollback".to_owned(),
        "resolve restarted the VPN client".to_owned(),
    ] {
        session.send(&format!("{line}\n"));
    }
    let status = session.wait();
    assert!(status.success(), "{status:?}\n{}", session.stderr());
    assert!(!session.stderr().contains("warning"), "{}", session.stderr());

    let shown = show(&bob, home.path(), &db, &ticket);
    let commands = events(&shown, "command");
    let lines: Vec<&str> = commands.iter().map(|c| c["command"].as_str().unwrap()).collect();
    // A line that did not parse never ran, so it is not recorded.
    assert_eq!(lines, ["info", &format!("kill {pid}"), "kill 999999999"], "{shown:#}");
    for command in &commands {
        assert_eq!(command["host"], agent.addr.as_str());
    }
    assert_eq!(commands[0]["ok"], true);
    assert!(commands[0]["summary"].as_str().unwrap().starts_with("info: "), "{shown:#}");
    assert_eq!(commands[1]["summary"], format!("kill {pid} (sleep, SIGTERM): exited"));
    assert_eq!(commands[2]["ok"], false);
    assert!(commands[2]["summary"].as_str().unwrap().starts_with("failed: "), "{shown:#}");

    let started = events(&shown, "session_started");
    let audited = sessions_of(&agent, "bob", &["info", "kill"]);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["agent_session"], audited[0].as_str());
    let ended = events(&shown, "session_ended");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["commands"], 3);
    assert_eq!(events(&shown, "note")[0]["text"], "the user's VPN drops since the update");
    let escalated = events(&shown, "escalated");
    assert_eq!(escalated[0]["tier"], 3, "the tier above bob's");
    assert_eq!(escalated[0]["reason"], "needs a rollback");
    assert_eq!(events(&shown, "resolved")[0]["resolution"], "restarted the VPN client");

    // One-shot commands with the same --ticket are recorded too.
    let mut cmd = tether_as(&bob, home.path());
    cmd.args(["--server-name", &agent.name, "--db", db_flag, "--ticket", &ticket]);
    cmd.args(["ps", &agent.addr, "--filter", "tether-ticket-probe", "-n", "5"]);
    tether_tests::run(cmd).ok();
    let shown = show(&bob, home.path(), &db, &ticket);
    let last = events(&shown, "command").pop().unwrap().clone();
    assert_eq!(last["command"], format!("ps {} --filter tether-ticket-probe -n 5", agent.addr));
    assert_eq!(last["ok"], true);
    assert!(last["summary"].as_str().unwrap().starts_with("ps: "), "{last:#}");

    // A ticket the store does not have: the command runs, unrecorded,
    // with one warning line.
    let mut cmd = tether_as(&bob, home.path());
    cmd.args(["--server-name", &agent.name, "--db", db_flag, "--ticket", "T-999"]);
    cmd.args(["ps", &agent.addr, "-n", "1"]);
    let run = tether_tests::run(cmd);
    assert!(run.ok().contains("of "), "{}", run.stdout);
    let warnings: Vec<&str> = run.stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].starts_with("tether: warning: not recorded: ") && warnings[0].contains("T-999")
    );
    let shown = show(&bob, home.path(), &db, &ticket);
    assert_eq!(events(&shown, "command").len(), 4, "nothing else recorded on {ticket}");
}

#[test]
fn a_screenshot_with_a_ticket_is_kept_with_the_ticket() {
    let x = tether_tests::xvfb::Xvfb::start(320, 240);
    let pki = TestPki::new("Example");
    let agent = crate::screen::screen_agent(&pki, &x.display, "");
    let alice = pki.issue_tech("alice", "tier1");
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("tickets.db");
    let ticket = open_ticket(&alice, home.path(), &db);
    let shot = home.path().join("desk.png");

    let extra = ["--db", db.to_str().unwrap(), "--ticket", &ticket];
    let mut session = Interactive::start(connect(&agent, &alice, home.path(), &extra));
    session.send(&format!("screenshot -o {}\n", shot.display()));
    let status = session.wait();
    assert!(status.success(), "{status:?}\n{}", session.stderr());

    let shown = show(&alice, home.path(), &db, &ticket);
    let kept = shown["screenshots"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{shown:#}");
    assert_eq!(kept[0]["name"], "desk.png");
    let written = std::fs::metadata(&shot).unwrap().len();
    assert_eq!(kept[0]["bytes"].as_u64().unwrap(), written, "the PNG itself is kept");
    let command = events(&shown, "command");
    assert!(command[0]["summary"].as_str().unwrap().contains("320x240"), "{shown:#}");
}

#[test]
fn restore_commands_in_a_session_are_recorded_with_what_they_changed() {
    let pki = TestPki::new("Example");
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("hosts"), "10.0.0.1 intranet\n").unwrap();
    let agent = tether_tests::agent_with_restore(&pki, data.path());
    let dana = pki.issue_tech("dana", "tier3");
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("tickets.db");
    let ticket = open_ticket(&dana, home.path(), &db);

    let extra = ["--db", db.to_str().unwrap(), "--ticket", &ticket];
    let mut session = Interactive::start(connect(&agent, &dana, home.path(), &extra));
    session.send("restore create --label baseline\n");
    session.expect_out("created restore point ", 1);
    let out = session.stdout();
    let id = out.split("created restore point ").nth(1).unwrap().split_whitespace().next().unwrap();
    let id = id.to_owned();
    std::fs::write(tree.join("hosts"), "10.6.6.6 intranet\n").unwrap();
    session.send(&format!("restore diff {id}\nrestore rollback {id} --yes\n"));
    session.expect_out("agent-01 rolled back to ", 1);
    let status = session.wait();
    assert!(status.success(), "{status:?}\n{}", session.stderr());
    assert_eq!(std::fs::read_to_string(tree.join("hosts")).unwrap(), "10.0.0.1 intranet\n");

    let shown = show(&dana, home.path(), &db, &ticket);
    let summaries: Vec<&str> =
        events(&shown, "command").iter().map(|c| c["summary"].as_str().unwrap()).collect();
    assert_eq!(
        summaries,
        [
            format!("restore create: point {id}"),
            format!("restore diff {id}: 1 path would change"),
            format!("rollback to point {id}: 1 file"),
        ],
        "{shown:#}"
    );
}
