//! Diagnostics over the real transport: info, ps, kill.

use tether_tests::{Agent, AgentSetup, Reaped, TestPki};

fn agent(pki: &TestPki) -> Agent {
    Agent::start(AgentSetup { pki, name: "agent-01", extra: "" })
}

#[test]
fn info_json_has_every_section_with_plausible_values() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki);
    let alice = pki.issue_tech("alice", "tier1");
    let out = agent.tether(&alice, &["info", &agent.addr, "--json"]);
    let r: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
    let s = &r["system"];
    for section in
        ["host", "cpu", "memory", "disks", "interfaces", "temperatures", "users", "batteries"]
    {
        assert!(!s[section].is_null(), "section {section} missing");
    }
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap();
    let uptime: f64 = uptime.split_whitespace().next().unwrap().parse().unwrap();
    assert!((s["host"]["uptime_secs"].as_f64().unwrap() - uptime).abs() < 30.0);
    assert!(r["clock_offset_ms"].as_i64().unwrap().abs() < 5_000, "same machine, same clock");

    let cpu = &s["cpu"];
    let logical = cpu["logical"].as_u64().unwrap();
    assert_eq!(logical as usize, std::thread::available_parallelism().unwrap().get());
    assert_eq!(cpu["per_core_percent"].as_array().unwrap().len() as u64, logical);
    assert!((0.0..=100.0).contains(&cpu["usage_percent"].as_f64().unwrap()));
    assert_eq!(cpu["sample_ms"], 250);

    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kib: u64 =
        meminfo.lines().next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(s["memory"]["total"].as_u64().unwrap(), total_kib * 1024);

    let disks = s["disks"].as_array().unwrap();
    let root = disks.iter().find(|d| d["mount_point"] == "/").expect("/ listed");
    assert!(root["available"].as_u64().unwrap() <= root["total"].as_u64().unwrap());
    let nics = s["interfaces"].as_array().unwrap();
    let lo = nics.iter().find(|i| i["name"] == "lo").expect("lo listed");
    assert_eq!(lo["up"], true);
    assert!(lo["addresses"].as_array().unwrap().iter().any(|a| a == "127.0.0.1/8"));
}

#[test]
fn ps_lists_a_child_and_filters() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki);
    let alice = pki.issue_tech("alice", "tier1");
    let child = Reaped::sleeper("tether-ps-probe");

    let out = agent.tether(&alice, &["ps", &agent.addr, "--filter", "TETHER-PS-PROBE", "--json"]);
    let list: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
    let procs = list["processes"].as_array().unwrap();
    // Every process kept mentions the filter (in any case); the controller's
    // own command line does too, like `ps | grep`.
    for p in procs {
        let text = format!("{} {}", p["name"], p["command"]).to_lowercase();
        assert!(text.contains("tether-ps-probe"), "{p:#}");
    }
    let probe = procs
        .iter()
        .find(|p| p["pid"].as_u64() == Some(u64::from(child.pid())))
        .expect("the child is listed");
    assert_eq!(probe["command"], "tether-ps-probe 600");
    assert_eq!(probe["name"], "sleep");
    assert_eq!(probe["state"], "sleeping");
    assert!(list["total"].as_u64().unwrap() > 3);

    let table = agent.tether(&alice, &["ps", &agent.addr, "--sort", "pid", "-n", "500"]);
    let text = table.ok();
    let header = text.lines().next().unwrap();
    assert!(header.contains("PID  NAME") && header.contains("USER"), "{text}");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{} ", child.pid())))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains(" sleep "), "the NAME column: {row}");
}

#[test]
fn kill_needs_tier_2_and_is_audited() {
    let pki = TestPki::new("Example");
    let agent = agent(&pki);
    let alice = pki.issue_tech("alice", "tier1");
    let bob = pki.issue_tech("bob", "tier2");
    let mut child = Reaped::sleeper("tether-kill-probe");
    let pid = child.pid().to_string();

    let line = agent.tether(&alice, &["kill", &agent.addr, &pid]).fails_with(6);
    assert!(line.contains("kill needs tier 2 or above; your certificate is tier1"), "{line}");
    assert!(matches!(child.0.try_wait(), Ok(None)), "still running after the denial");
    let denied = agent.wait_for_audit(|r| r.request == "kill" && r.outcome == "denied");
    assert_eq!(denied.args, format!("pid={pid} signal=TERM"));

    let out = agent.tether(&bob, &["kill", &agent.addr, &pid]);
    assert_eq!(out.ok().trim(), format!("sent SIGTERM to sleep (pid {pid}): it exited"));
    let status = child.0.wait().unwrap();
    assert!(status.code().is_none(), "ended by a signal: {status:?}");
    let done = agent.wait_for_audit(|r| r.request == "kill" && r.outcome == "ok");
    assert_eq!(done.technician.as_deref(), Some("bob"));
    assert_eq!(done.detail, format!("sleep (pid {pid}) exited"));

    let line = agent.tether(&bob, &["kill", &agent.addr, &pid]).fails_with(1);
    assert!(line.contains(&format!("no process with pid {pid}")), "{line}");
    let line = agent.tether(&bob, &["kill", &agent.addr, "1"]).fails_with(1);
    assert!(line.contains("refusing to signal pid 1"), "{line}");
}
