//! `tether fleet check` against a simulated fleet (`tether-agent
//! simulate`: real agents, real QUIC and certificates, one process) plus
//! real `tether-agent` processes: healthy runs, every failure class told
//! apart, thresholds, deadlines that hold, and every output format parsed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tether_proto::RequestKind;
use tether_proto::Response;
use tether_tests::{
    Agent, AgentSetup, Identity, Reaped, Run, TestPki, command, run, start_simulation, tether_as,
};

use crate::fake_agent::{FakeAgent, Reply};

/// A check set that passes on any test machine: its load belongs to the
/// other builds and its disk may be fairly full.
pub(crate) const CALM: &str = "[load]\nenabled = false\n[disk]\nwarn_percent = 99.0\ncrit_percent = 99.9\n\
                    inodes_warn_percent = 99.0\ninodes_crit_percent = 99.9\n";

/// A simulated fleet and the files to check it.
pub(crate) struct Fleet {
    pki: TestPki,
    pub(crate) probe: Identity,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) inventory: PathBuf,
    _simulation: Reaped,
}

impl Fleet {
    /// `count` simulated agents; their inventory in `self.inventory`.
    pub(crate) fn start(count: usize) -> Fleet {
        Fleet::start_with_path(count, None)
    }

    /// Like [`Fleet::start`], with `first` ahead of the agents' `PATH` (for
    /// a stand-in `systemctl`).
    fn start_with_path(count: usize, first: Option<&Path>) -> Fleet {
        let pki = TestPki::new("Fleet Test");
        let probe = pki.issue_tech("probe", "fleet");
        let dir = tempfile::tempdir().unwrap();
        let mut simulate = command("tether-agent", dir.path());
        simulate.env("RUST_LOG", "warn");
        if let Some(first) = first {
            let path = std::env::var("PATH").unwrap_or_default();
            simulate.env("PATH", format!("{}:{path}", first.display()));
        }
        let (simulation, inventory) =
            start_simulation(simulate, &pki, &dir.path().join("sim"), count);
        Fleet { pki, probe, dir, inventory, _simulation: simulation }
    }

    /// Appends hosts to the inventory.
    fn add(&self, alias: &str, address: &str, name: &str) {
        let entry = format!("\n[hosts.{alias}]\naddress = \"{address}\"\nname = \"{name}\"\n");
        let mut text = std::fs::read_to_string(&self.inventory).unwrap();
        text.push_str(&entry);
        std::fs::write(&self.inventory, text).unwrap();
    }

    /// `tether fleet check --inventory … --checks CHECKS ARGS` as the probe.
    fn check(&self, checks: &str, args: &[&str]) -> (Run, Duration) {
        let path = self.dir.path().join("checks.toml");
        std::fs::write(&path, checks).unwrap();
        let mut cmd = tether_as(&self.probe, self.dir.path());
        cmd.args(["fleet", "check", "--inventory"]).arg(&self.inventory);
        cmd.arg("--checks").arg(&path).args(args);
        let started = Instant::now();
        let result = run(cmd);
        assert!(!result.stderr.contains("panicked"), "{}", result.stderr);
        (result, started.elapsed())
    }
}

pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn a_healthy_fleet_is_ok_in_every_format() {
    let fleet = Fleet::start(20);
    let real = Agent::start(AgentSetup { pki: &fleet.pki, name: "real-01", extra: "" });
    fleet.add("real-01", &real.addr, "real-01");

    let (table, _) = fleet.check(CALM, &[]);
    assert_eq!(table.code(), Some(0), "{}\n{}", table.stdout, table.stderr);
    assert!(table.stdout.contains("21 hosts in"), "{}", table.stdout);
    assert!(table.stdout.contains("21 OK, 0 WARNING, 0 CRITICAL, 0 UNKNOWN"), "{}", table.stdout);

    let (doc, _) = fleet.check(CALM, &["--format", "json"]);
    assert_eq!(doc.code(), Some(0), "{}", doc.stderr);
    let doc = json(&doc.stdout);
    let hosts = doc["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 21);
    assert!(hosts.iter().all(|h| h["status"] == "OK"), "{doc:#}");
    let real_host = hosts.iter().find(|h| h["host"] == "real-01").unwrap();
    let checks: BTreeSet<&str> = real_host["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for want in
        ["reachability", "handshake", "version", "cert_expiry", "memory", "disk:/", "clock_skew"]
    {
        assert!(checks.contains(want), "{want} missing from {checks:?}");
    }
    assert_eq!(doc["summary"]["ok"], 21);
    assert_eq!(doc["summary"]["worst"], "OK");

    let (lines, _) = fleet.check(CALM, &["--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = lines.stdout.lines().map(json).collect();
    assert_eq!(lines.len(), 22, "one line per host, then the summary");
    assert!(lines[..21].iter().all(|l| l["status"] == "OK"));
    assert_eq!(lines[21]["summary"]["hosts"], 21);

    let prom = fleet.dir.path().join("out/fleet.prom");
    std::fs::create_dir_all(prom.parent().unwrap()).unwrap();
    let (written, _) = fleet.check(CALM, &["--format", "prometheus", "-o", prom.to_str().unwrap()]);
    assert_eq!(written.code(), Some(0), "{}", written.stderr);
    assert!(written.stdout.is_empty(), "--output leaves stdout alone");
    let text = std::fs::read_to_string(&prom).unwrap();
    let samples = parse_prometheus(&text);
    assert_eq!(samples["tether_fleet_host_up"].len(), 21);
    assert!(samples["tether_fleet_host_up"].iter().all(|(_, v)| *v == 1.0));
    assert_eq!(samples["tether_fleet_hosts"].len(), 4);
    promtool_accepts(&prom);
    // The directory holds the file and nothing half-written beside it.
    assert_eq!(std::fs::read_dir(prom.parent().unwrap()).unwrap().count(), 1);

    let (nagios, _) = fleet.check(CALM, &["--format", "nagios"]);
    assert_eq!(nagios.code(), Some(0));
    let first = nagios.stdout.lines().next().unwrap();
    assert!(first.starts_with("TETHER FLEET OK - 21 hosts: 21 OK"), "{first}");
    assert!(first.contains("| hosts=21 ok=21 "), "{first}");
}

#[test]
fn failures_are_told_apart_and_silent_hosts_cannot_stall_the_run() {
    let fleet = Fleet::start(20);
    // Stopped: a real agent that ran here and is gone.
    let mut stopped = Agent::start(AgentSetup { pki: &fleet.pki, name: "stopped-01", extra: "" });
    let stopped_addr = stopped.addr.clone();
    stopped.stop();
    fleet.add("stopped-01", &stopped_addr, "stopped-01");
    // Another organisation's agent: its certificate is not from our CA.
    let other_pki = TestPki::new("Other Org");
    let foreign = Agent::start(AgentSetup { pki: &other_pki, name: "foreign-01", extra: "" });
    fleet.add("foreign-01", &foreign.addr, "foreign-01");
    // A host that takes UDP and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    fleet.add("silent-01", &silent.local_addr().unwrap().to_string(), "silent-01");
    // An agent from before the fleet request.
    let old = FakeAgent::start_lacking(&fleet.pki, &[RequestKind::FleetFacts], |_| {
        Reply::Once(Response::Error(tether_proto::ErrorReply::internal("not asked")))
    });
    fleet.add("old-01", &old.addr.to_string(), "agent-01");

    let checks = format!("deadline_secs = 1.0\nretries = 1\n{CALM}");
    let (result, took) = fleet.check(&checks, &["--format", "json"]);
    // Two attempts of at most 1 s each for the silent host, in parallel
    // with everything else, and room for a loaded machine.
    assert!(took < Duration::from_secs(8), "run took {took:?}");
    let doc = json(&result.stdout);
    let by_host: BTreeMap<&str, &serde_json::Value> =
        doc["hosts"].as_array().unwrap().iter().map(|h| (h["host"].as_str().unwrap(), h)).collect();
    assert_eq!(by_host.len(), 24);
    let cause = |h: &str| by_host[h]["cause"].as_str().unwrap_or("none").to_owned();
    assert!(["unreachable", "timeout"].contains(&cause("stopped-01").as_str()), "{doc:#}");
    assert_eq!(by_host["stopped-01"]["status"], "CRITICAL");
    assert_eq!(cause("foreign-01"), "authentication", "{:#}", by_host["foreign-01"]);
    assert_eq!(cause("silent-01"), "timeout");
    assert_eq!(by_host["silent-01"]["attempts"], 2, "one retry");
    assert_eq!(cause("old-01"), "version");
    let old_checks = by_host["old-01"]["checks"].as_array().unwrap();
    let version = old_checks.iter().find(|c| c["check"] == "version").unwrap();
    assert!(version["message"].as_str().unwrap().contains("too old"), "{version}");
    assert_eq!(by_host["old-01"]["status"], "UNKNOWN", "its facts could not be read");
    for i in 0..20 {
        assert_eq!(by_host[format!("sim-{i:05}").as_str()]["status"], "OK");
    }
    // The worst host is UNKNOWN (the old agent): Nagios code 3.
    assert_eq!(result.code(), Some(3), "{}", result.stderr);
    let failures = &doc["summary"]["failures"];
    assert_eq!(failures["authentication"]["hosts"], 1, "{failures:#}");
    assert_eq!(failures["version"]["hosts"], 1, "{failures:#}");

    let (table, _) = fleet.check(&checks, &[]);
    assert!(table.stdout.contains("Not OK, by cause:"), "{}", table.stdout);
    assert!(table.stdout.contains("authentication"), "{}", table.stdout);
    let (zero, _) = fleet.check(&checks, &["--exit-zero", "--format", "nagios"]);
    assert_eq!(zero.code(), Some(0));
    assert!(zero.stdout.starts_with("TETHER FLEET UNKNOWN - 24 hosts"), "{}", zero.stdout);
    drop(silent);
}

#[test]
fn thresholds_crossed_on_purpose_warn_and_crit() {
    let fleet = Fleet::start(3);
    let warn = format!("{CALM}[memory_percent]\nwarn = 0.0\n");
    let (result, _) = fleet.check(&warn, &["--host", "sim-00001", "--format", "jsonl"]);
    assert_eq!(result.code(), Some(1), "{}", result.stdout);
    let host = json(result.stdout.lines().next().unwrap());
    assert_eq!(
        (host["host"].as_str(), host["status"].as_str()),
        (Some("sim-00001"), Some("WARNING"))
    );
    assert_eq!(host["cause"], "checks");

    let crit = format!("{CALM}[memory_percent]\nwarn = 0.0\ncrit = 0.0\n");
    let (result, _) = fleet.check(&crit, &["--group", "simulated", "--format", "nagios"]);
    assert_eq!(result.code(), Some(2), "{}", result.stdout);
    assert!(result.stdout.starts_with("TETHER FLEET CRITICAL - 3 hosts"), "{}", result.stdout);
    assert_eq!(result.stdout.lines().filter(|l| l.contains("memory:")).count(), 3);

    // Deep checks on request: a TCP target nobody listens on, and doctor.
    let deep = format!("{CALM}[net]\ntcp = [\"127.0.0.1:1\"]\n[doctor]\nenabled = true\n");
    let (result, _) = fleet.check(&deep, &["--host", "sim-00002", "--format", "jsonl"]);
    let host = json(result.stdout.lines().next().unwrap());
    let checks = host["checks"].as_array().unwrap();
    let net = checks.iter().find(|c| c["check"] == "net").expect("a net check");
    assert_eq!(net["status"], "CRITICAL", "{net}");
    assert!(checks.iter().any(|c| c["check"].as_str().unwrap().starts_with("doctor:")), "{host}");
    assert_eq!(result.code(), Some(2), "{}", result.stdout);

    let (none, _) = fleet.check(CALM, &["--group", "no-such-group"]);
    let line = none.fails_with(3);
    assert!(line.contains("no host"), "{line}");
    let (bad, _) = fleet.check("[load]\nwarn = 9.0\ncrit = 1.0\n", &[]);
    assert!(bad.fails_with(3).contains("warn must not be above crit"));
}

#[test]
fn required_services_are_judged_by_systemd_state() {
    // A stand-in systemctl on the agents' PATH: units named ok-* are
    // active, wait-* reloading, anything else failed, as systemd would say
    // in `show --property=ActiveState --value`.
    let bin = tempfile::tempdir().unwrap();
    let systemctl = bin.path().join("systemctl");
    std::fs::write(
        &systemctl,
        "#!/bin/sh\nwhile [ \"$1\" != -- ]; do shift; done; shift\nfirst=1\n\
         for unit; do\n  [ $first = 1 ] || echo\n  first=0\n  case $unit in\n    \
         ok-*) echo active ;;\n    wait-*) echo reloading ;;\n    *) echo failed ;;\n  \
         esac\ndone\n",
    )
    .unwrap();
    std::fs::set_permissions(&systemctl, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let fleet = Fleet::start_with_path(2, Some(bin.path()));
    let checks = |units: &str| format!("{CALM}[services]\nrequired = [{units}]\n");

    let (ok, _) = fleet.check(&checks("\"ok-ssh.service\""), &["--format", "jsonl"]);
    assert_eq!(ok.code(), Some(0), "{}", ok.stdout);
    let host = json(ok.stdout.lines().next().unwrap());
    let service =
        host["checks"].as_array().unwrap().iter().find(|c| c["check"] == "service:ok-ssh.service");
    assert_eq!(service.expect("a service check")["status"], "OK", "{host}");

    let units = "\"ok-ssh.service\", \"wait-cups.service\", \"cron.service\"";
    let (bad, _) = fleet.check(&checks(units), &["--host", "sim-00001", "--format", "jsonl"]);
    assert_eq!(bad.code(), Some(2), "{}", bad.stdout);
    let host = json(bad.stdout.lines().next().unwrap());
    let status = |name: &str| {
        let checks = host["checks"].as_array().unwrap();
        let check = checks.iter().find(|c| c["check"] == format!("service:{name}"));
        check.map(|c| {
            (c["status"].as_str().unwrap().to_owned(), c["message"].as_str().unwrap().to_owned())
        })
    };
    assert_eq!(status("ok-ssh.service"), Some(("OK".into(), "active".into())));
    assert_eq!(status("wait-cups.service"), Some(("WARNING".into(), "reloading".into())));
    assert_eq!(status("cron.service"), Some(("CRITICAL".into(), "failed".into())));
}

#[test]
fn a_plain_list_and_a_hosts_file_serve_as_inventories() {
    let pki = TestPki::new("Fleet Lists");
    let probe = pki.issue_tech("probe", "fleet");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "desk-01", extra: "" });
    let home = tempfile::tempdir().unwrap();
    let list = home.path().join("hosts.txt");
    std::fs::write(&list, format!("# front desk\ndesk-01 {}\n", agent.addr)).unwrap();
    let out = home.path().join("fleet.toml");
    let mut cmd = command("tether", home.path());
    cmd.args(["fleet", "inventory", "--from-list"]).arg(&list).args(["--group", "front", "-o"]);
    cmd.arg(&out);
    run(cmd).ok();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("[hosts.desk-01]") && text.contains("groups = [\"front\"]"), "{text}");

    let hosts_toml = home.path().join("hosts.toml");
    std::fs::write(
        &hosts_toml,
        format!("[hosts.reception]\naddress = \"{}\"\nname = \"desk-01\"\n", agent.addr),
    )
    .unwrap();
    let checks = home.path().join("checks.toml");
    std::fs::write(&checks, CALM).unwrap();
    for (inventory, alias) in [(&out, "desk-01"), (&hosts_toml, "reception")] {
        let mut cmd = tether_as(&probe, home.path());
        cmd.args(["fleet", "check", "--format", "jsonl", "--inventory"]).arg(inventory);
        cmd.arg("--checks").arg(&checks);
        let result = run(cmd);
        assert_eq!(result.code(), Some(0), "{}\n{}", result.stdout, result.stderr);
        let host = json(result.stdout.lines().next().unwrap());
        assert_eq!((host["host"].as_str(), host["status"].as_str()), (Some(alias), Some("OK")));
    }
    // The fleet request is audited on the agent, under the fleet role.
    let record = agent.wait_for_audit(|r| r.request == "fleet-facts");
    assert_eq!(record.outcome, "ok");
}

/// Parses Prometheus text exposition: every sample's family has one HELP
/// and one TYPE line before its samples, families are not split, names
/// and label sets are well formed, values are numbers. Returns the samples
/// by family.
pub(crate) fn parse_prometheus(text: &str) -> BTreeMap<String, Vec<(String, f64)>> {
    let mut families: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    let (mut helped, mut typed, mut closed) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut current: Option<String> = None;
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap();
            assert!(helped.insert(name.to_owned()), "second HELP for {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge", "{line}");
            assert!(typed.insert(name.to_owned()), "second TYPE for {name}");
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(valid_name(name), "bad name in {line:?}");
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}')).expect("braces");
            for pair in inner.split("\",").filter(|p| !p.is_empty()) {
                let (key, val) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line:?}"));
                assert!(valid_name(key), "bad label name in {line:?}");
                assert!(!val.trim_end_matches('"').contains('\n'));
            }
        }
        assert!(helped.contains(name) && typed.contains(name), "{name} has no HELP/TYPE");
        if current.as_deref() != Some(name) {
            if let Some(previous) = current.replace(name.to_owned()) {
                closed.insert(previous);
            }
            assert!(!closed.contains(name), "{name}'s samples are split");
        }
        families.entry(name.to_owned()).or_default().push((series.to_owned(), value));
    }
    families
}

/// `promtool check metrics` (Debian package `prometheus`, installed by
/// packaging/deps.sh): the format and Prometheus' naming lints.
fn promtool_accepts(file: &Path) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs: install the Debian package prometheus (packaging/deps.sh)");
    let text = std::fs::read(file).unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool check metrics failed:\n{said}");
    // Lint findings (naming conventions) are printed even on success.
    assert!(said.trim().is_empty(), "promtool lint findings:\n{said}");
}
