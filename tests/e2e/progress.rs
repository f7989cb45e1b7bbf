//! Long restore operations show a progress line on a terminal, clear it
//! before the result, and print nothing of it into a pipe.

use std::time::Duration;

use tether_proto::restore::{RestoreDiff, RollbackOutcome};
use tether_proto::{Call, ErrorReply, Request, Response, RestoreRequest};
use tether_tests::{TestPki, run_on_terminal, tether_as};

use crate::fake_agent::{FakeAgent, Reply};

/// An agent whose undo takes 2.6 s.
fn slow_agent(pki: &TestPki) -> FakeAgent {
    FakeAgent::start(pki, |request| match request {
        Request::Call(Call::Restore(RestoreRequest::Undo)) => Reply::Later(
            Duration::from_millis(2600),
            Response::RolledBack(RollbackOutcome {
                point: "pre-7".into(),
                pre_rollback_point: "pre-8".into(),
                restored: 3,
                moved_aside: 1,
                kept: 0,
                unchanged: 40,
                changes: RestoreDiff::default(),
            }),
        ),
        _ => Reply::Once(Response::Error(ErrorReply::bad_request("not in this test"))),
    })
}

#[test]
fn a_slow_undo_shows_progress_on_a_terminal_only() {
    let pki = TestPki::new("Example");
    let tina = pki.issue_tech("tina", "tier3");
    let agent = slow_agent(&pki);
    let home = tempfile::tempdir().unwrap();
    let addr = agent.addr.to_string();
    let args = ["--server-name", "agent-01", "restore", "undo", &addr, "--yes"];

    // On a pseudo-terminal.
    let mut tether = tether_as(&tina, home.path());
    tether.args(args);
    let out = run_on_terminal(&tether);
    let shown = out.stdout;
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("undoing the last rollback on agent-01… 1 s"), "{shown:?}");
    assert!(shown.contains("undoing the last rollback on agent-01… 2 s"), "{shown:?}");
    let cleared = shown.rfind("\r\x1b[2K").expect("the progress line is cleared");
    let result = shown.find("rolled back to pre-7").expect("the result");
    assert!(cleared < result, "the line is cleared before the result: {shown:?}");

    // Into a pipe: the result only.
    let run = tether_tests::run({
        let mut plain = tether_as(&tina, home.path());
        plain.args(args);
        plain
    });
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stdout.contains("rolled back to pre-7"), "{}", run.stdout);
    assert!(!run.stderr.contains("undoing"), "{:?}", run.stderr);
}

#[test]
fn a_fleet_check_counts_hosts_on_a_terminal_only() {
    let fleet = crate::fleet::Fleet::start(20);
    let mut check = tether_as(&fleet.probe, fleet.dir.path());
    check.args(["fleet", "check", "--inventory"]).arg(&fleet.inventory);
    let shown = run_on_terminal(&check).stdout;
    assert!(shown.contains("20/20 hosts checked"), "{shown:?}");
    let cleared = shown.rfind("\r\x1b[K").expect("the count is cleared");
    let table = shown.find("20 hosts in").expect("the summary");
    assert!(cleared < table, "cleared before the summary: {shown:?}");
    let piped = tether_tests::run(check);
    assert!(!piped.stderr.contains("hosts checked"), "{:?}", piped.stderr);
    assert!(piped.stdout.contains("20 hosts in"), "{}", piped.stdout);
}
