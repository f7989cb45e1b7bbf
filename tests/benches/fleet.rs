//! Fleet-check figures: a bench binary printing medians of 3, not a timed
//! test.
//!
//! Run: `cargo build --release -p tether -p tether-agent && cargo bench -p
//! tether-tests --bench fleet` (sizes: `TETHER_FLEET_BENCH_SIZES=100,1000,5000`;
//! default 100 and 1000).
//!
//! For each size it starts `tether-agent simulate` (that many real agents
//! in one process, sharing this machine with the controller), then runs
//! `tether fleet check` three times under GNU time with the check set
//! "reachability + load + memory + disk + skew", JSON lines to /dev/null,
//! and reports the controller's wall time, peak RSS and CPU (user + sys).
//! The baseline is the shell loop the fleet runner replaces: `xargs -P 50
//! tether info --json` over 100 of the same agents, one process and one
//! handshake per host (and `info`'s 250 ms CPU sample on every agent).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use tether_tests::{Identity, Reaped, TestPki, binary, command};

/// Reachability (always), load, memory, disk and skew; nothing else.
const CHECKS: &str = "[handshake_ms]\nenabled = false\n[cert_days]\nenabled = false\n";

/// One measured run: wall seconds, peak RSS in KiB, CPU seconds.
#[derive(Debug, Clone, Copy)]
struct Figures {
    wall: f64,
    rss_kib: u64,
    cpu: f64,
}

fn main() {
    let sizes: Vec<usize> = std::env::var("TETHER_FLEET_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("sizes are numbers"))
        .collect();
    let pki = TestPki::new("Fleet Bench");
    let probe = pki.issue_tech("probe", "fleet");
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("checks.toml");
    std::fs::write(&checks, CHECKS).unwrap();
    println!("tether fleet bench (loopback, agents and controller on this machine)");
    println!("  check set: reachability + load + memory + disk + skew; median of 3");
    for &count in &sizes {
        let (_simulation, inventory) = simulate(&pki, dir.path(), count);
        let output = dir.path().join("out.jsonl");
        let runs: Vec<Figures> = (0..3)
            .map(|_| {
                let mut cmd = tether(&probe, dir.path());
                cmd.args(["fleet", "check", "--format", "jsonl", "--exit-zero", "--inventory"]);
                cmd.arg(&inventory).arg("--checks").arg(&checks).arg("-o").arg(&output);
                let figures = measured(cmd);
                answered_all(&output, count);
                figures
            })
            .collect();
        println!("  fleet check, {count:>5} agents   {}", median(&runs));
        if count == 100 {
            let runs: Vec<Figures> =
                (0..3).map(|_| measured(shell_loop(&probe, &inventory, dir.path()))).collect();
            println!("  xargs -P 50 tether info, 100   {}", median(&runs));
        }
    }
}

/// Fails unless every host of the run was reached and answered (a load
/// warning from this busy machine is fine; a timeout is not).
fn answered_all(output: &Path, count: usize) {
    let text = std::fs::read_to_string(output).unwrap();
    let last = text.lines().last().expect("a summary line");
    let summary: serde_json::Value = serde_json::from_str(last).unwrap();
    let summary = &summary["summary"];
    assert_eq!(summary["hosts"], count, "{summary}");
    for cause in ["unreachable", "timeout", "authentication", "version", "agent-error"] {
        assert!(summary["failures"].get(cause).is_none(), "{cause} in {summary}");
    }
}

/// Starts `count` simulated agents; returns the process and its inventory.
fn simulate(pki: &TestPki, dir: &Path, count: usize) -> (Reaped, std::path::PathBuf) {
    let state = dir.join(format!("sim-{count}"));
    let mut child = command("tether-agent", dir)
        .args(["simulate", "--count", &count.to_string(), "--pki-dir"])
        .arg(pki.root())
        .arg("--state-dir")
        .arg(&state)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("simulate starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("simulated agents listening"), "{line:?}");
    (Reaped(child), state.join("inventory.toml"))
}

fn tether(id: &Identity, home: &Path) -> Command {
    let mut cmd = tether_tests::tether_as(id, home);
    cmd.env("RUST_LOG", "error").stdout(Stdio::null());
    cmd
}

/// `xargs -P 50 tether info ADDRESS --json` over the first 100 hosts.
fn shell_loop(id: &Identity, inventory: &Path, home: &Path) -> Command {
    let text = std::fs::read_to_string(inventory).unwrap();
    let addresses: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("address = \"")?.strip_suffix('"'))
        .take(100)
        .collect();
    let list = home.join("addresses.txt");
    std::fs::write(&list, addresses.join("\n") + "\n").unwrap();
    let mut cmd = Command::new("xargs");
    cmd.env_clear().env("HOME", home).env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.env("RUST_LOG", "error").stdout(Stdio::null());
    cmd.args(["-a"]).arg(&list).args(["-P", "50", "-I", "{}"]).arg(binary("tether"));
    cmd.arg("--cert").arg(&id.cert).arg("--key").arg(&id.key).arg("--ca").arg(&id.ca);
    cmd.args(["--server-name", "tether-sim", "info", "{}", "--json"]);
    cmd
}

/// Runs `cmd` under GNU time: wall, peak RSS (the largest process of the
/// tree that was waited for) and user + system CPU of the whole tree.
fn measured(cmd: Command) -> Figures {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut timed = Command::new("/usr/bin/time");
    timed.env_clear();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            timed.env(key, value);
        }
    }
    timed.args(["-f", "%e %M %U %S", "-o"]).arg(report.path());
    timed.arg(cmd.get_program()).args(cmd.get_args());
    timed.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = timed.output().expect("GNU time runs (packaging/deps.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(report.path()).unwrap();
    let fields: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .map(|f| f.parse().expect("GNU time figures"))
        .collect();
    Figures { wall: fields[0], rss_kib: fields[1] as u64, cpu: fields[2] + fields[3] }
}

fn median(runs: &[Figures]) -> String {
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let wall = mid(runs.iter().map(|r| r.wall).collect());
    let rss = mid(runs.iter().map(|r| r.rss_kib as f64).collect());
    let cpu = mid(runs.iter().map(|r| r.cpu).collect());
    format!("wall {wall:>6.2} s   peak RSS {:>6.1} MiB   CPU {cpu:>6.2} s", rss / 1024.0)
}
