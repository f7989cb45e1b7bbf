//! `tether net` over the real transport against servers the test starts on
//! loopback. Only loopback is ever probed: the agent is pointed at a fake
//! resolver and never runs the default set here.

use std::net::Ipv4Addr;

use tether_tests::{Agent, AgentSetup, FakeResolver, TestPki, http_server};

fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[test]
fn net_reports_each_check_and_names_the_failing_layer() {
    let resolver =
        FakeResolver::start(&[("intranet.test", Ipv4Addr::new(127, 0, 0, 1))], &["typo.test"]);
    let pki = TestPki::new("Example");
    let extra = format!("[net]\nresolvers = [\"{}\"]\n", resolver.addr);
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let alice = pki.issue_tech("alice", "tier1");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().to_string();
    let web = http_server(200);
    let closed = closed_port();

    // Everything works: exit 0 and a clean verdict.
    let url = format!("http://{web}/status");
    let good = agent.tether(
        &alice,
        &[
            "net",
            &agent.addr,
            "--dns",
            "intranet.test",
            "--tcp",
            &open,
            "--url",
            &url,
            "--ping",
            "127.0.0.1",
            "--json",
        ],
    );
    let r: serde_json::Value = serde_json::from_str(good.ok()).unwrap();
    assert_eq!(r["dns"][0]["resolver"], resolver.addr.to_string());
    assert_eq!(r["dns"][0]["outcome"]["Resolved"][0], "127.0.0.1");
    assert!(r["tcp"][0]["outcome"]["Connected"].is_object(), "{}", r["tcp"]);
    assert_eq!(r["http"][0]["status"], 200);
    assert!(
        r["http"][0]["first_byte_ms"].as_f64().unwrap()
            >= r["http"][0]["connect_ms"].as_f64().unwrap()
    );
    assert_eq!(r["ping"][0]["received"], r["ping"][0]["sent"]);
    assert!(r["verdict"]["failing_layer"].is_null(), "{}", r["verdict"]);

    // A name that does not exist and a closed port: DNS is the first failing layer.
    let bad = agent.tether(&alice, &["net", &agent.addr, "--dns", "typo.test", "--tcp", &closed]);
    assert_eq!(bad.code(), Some(2), "CRITICAL: {}{}", bad.stdout, bad.stderr);
    let text = &bad.stdout;
    assert!(text.contains("NXDOMAIN (no such name)"), "{text}");
    assert!(text.contains("REFUSED by"), "{text}");
    let verdict = text.lines().find(|l| l.starts_with("Verdict")).expect("verdict line");
    assert!(verdict.contains("CRITICAL — DNS: typo.test does not exist (NXDOMAIN)"), "{verdict}");

    // DNS fine, the service down: the service layer is named.
    let down = agent.tether(
        &alice,
        &["net", &agent.addr, "--dns", "intranet.test", "--tcp", &closed, "--json"],
    );
    assert_eq!(down.code(), Some(2));
    let r: serde_json::Value = serde_json::from_str(&down.stdout).unwrap();
    assert_eq!(r["verdict"]["failing_layer"], "Service");
    assert!(r["verdict"]["summary"].as_str().unwrap().contains("refused"), "{}", r["verdict"]);

    // A resolver that never answers: timeouts, told apart from NXDOMAIN.
    let silent = agent
        .tether(&alice, &["net", &agent.addr, "--dns", "unknown.test", "--tcp", &open, "--json"]);
    let r: serde_json::Value = serde_json::from_str(&silent.stdout).unwrap();
    assert_eq!(r["dns"][0]["outcome"], "Timeout");
    assert!(
        r["verdict"]["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("but TCP to {open} works → resolver problem"))
    );

    let record = agent.wait_for_audit(|r| r.request == "net" && r.args.contains("typo.test"));
    assert_eq!(record.outcome, "ok");
    assert!(record.detail.contains("NXDOMAIN"), "{}", record.detail);
    drop(listener);
}

#[test]
fn one_resolver_timing_out_is_a_warning() {
    let resolver =
        FakeResolver::start(&[("intranet.test", Ipv4Addr::new(127, 0, 0, 1))], &["typo.test"]);
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let pki = TestPki::new("Example");
    let extra = format!(
        "[net]\nresolvers = [\"{}\", \"{}\"]\n",
        resolver.addr,
        silent.local_addr().unwrap()
    );
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let alice = pki.issue_tech("alice", "tier1");
    let out = agent.tether(&alice, &["net", &agent.addr, "--dns", "intranet.test"]);
    assert_eq!(out.code(), Some(1), "WARNING: {}{}", out.stdout, out.stderr);
    let verdict = out.stdout.lines().find(|l| l.starts_with("Verdict")).expect("verdict line");
    assert!(verdict.starts_with("Verdict    WARNING — all "), "{verdict}");
    let warning = format!("intranet.test: {} timed out", silent.local_addr().unwrap());
    assert!(
        out.stdout.contains(&format!("  warning  {warning} (other resolvers answered)")),
        "{}",
        out.stdout
    );
}

#[test]
fn net_failures_to_run_are_unknown() {
    let pki = TestPki::new("Example");
    let alice = pki.issue_tech("alice", "tier1");
    let home = tempfile::tempdir().unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut cmd = tether_tests::tether_as(&alice, home.path());
    cmd.args([
        "--timeout",
        "1",
        "net",
        &silent.local_addr().unwrap().to_string(),
        "--tcp",
        "127.0.0.1:1",
    ]);
    let line = tether_tests::run(cmd).fails_with(3);
    assert!(line.contains("no answer"), "{line}");
}

#[test]
fn throughput_is_measured_both_ways_over_the_session() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().to_string();

    let out = agent.tether(
        &alice,
        &["net", &agent.addr, "--tcp", &open, "--throughput", "--throughput-mib", "4", "--json"],
    );
    let r: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
    let link = &r["link"];
    assert_eq!(link["bytes"], 4 << 20);
    for key in ["download_mbit_per_sec", "upload_mbit_per_sec", "download_secs", "upload_secs"] {
        assert!(link[key].as_f64().unwrap() > 0.0, "{key}: {link}");
    }
    assert!(link["rtt_ms"].as_f64().unwrap() < 1000.0, "{link}");
    assert!(r["tcp"][0]["outcome"]["Connected"].is_object(), "the checks ran too");
    let up = agent.wait_for_audit(|r| {
        r.request == "throughput" && r.args == format!("upload bytes={}", 4 << 20)
    });
    assert!(up.detail.starts_with(&format!("{} bytes in ", 4 << 20)), "{}", up.detail);
    agent.wait_for_audit(|r| r.request == "throughput" && r.args.starts_with("download"));

    // Probes may check the network but not load the user's link.
    let probe = pki.issue_tech("nagios", "fleet");
    let line =
        agent.tether(&probe, &["net", &agent.addr, "--tcp", &open, "--throughput"]).fails_with(3);
    assert!(line.contains("throughput is not a read-only health query"), "{line}");
    agent.wait_for_audit(|r| r.request == "throughput" && r.outcome == "denied");
    drop(listener);
}
