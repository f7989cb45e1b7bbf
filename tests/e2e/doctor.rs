//! `tether doctor` finding conditions the test creates on the agent's
//! machine: a zombie (a parent that never reaps its child), a process
//! pegging a CPU, and an unreachable service.

use std::process::Command;
use std::time::{Duration, Instant};

use tether_tests::{Agent, AgentSetup, Reaped, TestPki};

fn doctor_json(
    agent: &Agent,
    id: &tether_tests::Identity,
    args: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let mut full = vec!["doctor", agent.addr.as_str()];
    full.extend_from_slice(args);
    full.push("--json");
    let out = agent.tether(id, &full);
    let value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", out.stdout, out.stderr));
    (out.code(), value)
}

fn finding<'a>(report: &'a serde_json::Value, check: &str) -> Option<&'a serde_json::Value> {
    report["findings"].as_array().unwrap().iter().find(|f| f["check"] == check)
}

fn worst_code(report: &serde_json::Value) -> i32 {
    let severities: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    ["Crit", "Warn", "Unknown"]
        .iter()
        .zip([2, 1, 3])
        .find(|(s, _)| severities.contains(s))
        .map_or(0, |(_, code)| code)
}

#[test]
fn doctor_finds_zombies_hogs_and_network_trouble() {
    let pki = TestPki::new("Example");
    let extra =
        "[doctor]\nzombie_warn = 1\ncpu_hog_percent = 20\ncpu_hog_secs = 1\nsample_secs = 1\n";
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra });
    let probe = pki.issue_tech("nagios", "fleet");

    // `exec` makes sleep the parent of the short-lived child; sleep never
    // calls wait(), so the child stays a zombie.
    let parent = Reaped(
        Command::new("bash")
            .args(["-c", "sleep 0.1 & sleep 0.1 & sleep 0.1 & exec sleep 600"])
            .spawn()
            .unwrap(),
    );
    let spinner = Reaped(Command::new("bash").args(["-c", "while :; do :; done"]).spawn().unwrap());
    std::thread::sleep(Duration::from_millis(500));

    // Other busy processes on the machine may be hogs too; wait for ours.
    let spinner_pid = format!("(pid {})", spinner.0.id());
    let is_spinner = |f: &serde_json::Value| {
        f["check"] == "cpu" && f["summary"].as_str().unwrap().contains(&spinner_pid)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let (code, report) = loop {
        let (code, report) = doctor_json(&agent, &probe, &["--no-network"]);
        if report["findings"].as_array().unwrap().iter().any(is_spinner)
            || Instant::now() > deadline
        {
            break (code, report);
        }
    };
    let zombies = finding(&report, "zombies").expect("zombie finding");
    assert_eq!(zombies["severity"], "Warn");
    let summary = zombies["summary"].as_str().unwrap();
    // Other tests running alongside may own zombies too; ours has three.
    assert!(summary.contains(&format!("3 belong to sleep (pid {})", parent.0.id())), "{summary}");
    assert!(zombies["next_step"].as_str().unwrap().contains("restart it"));

    let hog = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| is_spinner(f))
        .unwrap_or_else(|| panic!("no CPU hog finding for the spinner in {report:#}"));
    assert_eq!(hog["severity"], "Warn");
    for check in ["memory", "disk", "clock", "crashes"] {
        assert!(finding(&report, check).is_some(), "{check} missing: {report:#}");
    }
    assert!(finding(&report, "network").is_none(), "--no-network leaves it out");
    assert_eq!(code, Some(worst_code(&report)), "exit code is the worst finding's Nagios code");
    assert!(code >= Some(1));

    // The human report ranks worst first and shows next steps.
    let text = agent.tether(&probe, &["doctor", &agent.addr, "--no-network"]).stdout;
    let first = text.lines().nth(1).unwrap();
    assert!(
        first.trim_start().starts_with("WARN") || first.trim_start().starts_with("CRIT"),
        "{text}"
    );
    assert!(text.contains("→ the parent does not reap its children"), "{text}");

    // A service that does not answer makes the network finding critical.
    let closed =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let (code, report) = doctor_json(&agent, &probe, &["--tcp", &closed]);
    let net = finding(&report, "network").expect("network finding");
    assert_eq!(net["severity"], "Crit");
    assert!(net["summary"].as_str().unwrap().starts_with("service: TCP to"), "{net}");
    assert_eq!(code, Some(2));
    agent.wait_for_audit(|r| r.request == "doctor" && r.role.as_deref() == Some("fleet"));
}
