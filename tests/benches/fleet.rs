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
//! tether info --json` over the same agents (up to 1,000), one process and one
//! handshake per host (and `info`'s 250 ms CPU sample on every agent).
//! With 1,000 agents it also measures the exporter (`tether fleet serve`):
//! probes per second with 32 concurrent scrapers, and its peak RSS.

use std::path::Path;
use std::process::{Command, Stdio};

use tether_tests::{
    Identity, Reaped, TestPki, command, start_exporter, start_simulation, workspace_binary,
};

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
        // The shell loop, as far as it takes reasonable time (one process
        // per host: 1,000 hosts take about ten seconds here).
        if count <= 1000 {
            let runs: Vec<Figures> = (0..3)
                .map(|_| measured(shell_loop(&probe, &inventory, dir.path(), count)))
                .collect();
            println!("  xargs -P 50 tether info, {count:>5}   {}", median(&runs));
        }
        if count == 1000 {
            println!("  {}", exporter_rate(&probe, dir.path(), &inventory, &checks, count));
        }
    }
}

/// Probes per second `tether fleet serve` sustains: 32 scrapers asking
/// for hosts round the fleet for 5 s, three times (median), and the
/// exporter's peak RSS.
fn exporter_rate(
    id: &Identity,
    home: &Path,
    inventory: &Path,
    checks: &Path,
    count: usize,
) -> String {
    let mut cmd = tether(id, home);
    cmd.args(["fleet", "serve", "--listen", "127.0.0.1:0", "--inventory"]).arg(inventory);
    cmd.arg("--module").arg(format!("bench={}", checks.display()));
    let (exporter, addr) = start_exporter(cmd);
    let mut rates: Vec<f64> = (0..3)
        .map(|round| {
            let started = std::time::Instant::now();
            let answered: usize = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..32)
                    .map(|worker| {
                        let addr = &addr;
                        scope.spawn(move || {
                            let mut done = 0;
                            let mut host = worker * 31 + round;
                            while started.elapsed() < std::time::Duration::from_secs(5) {
                                let path =
                                    format!("/probe?target=sim-{:05}&module=bench", host % count);
                                assert!(http_ok(addr, &path), "probe {path} failed");
                                done += 1;
                                host += 32;
                            }
                            done
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).sum()
            });
            answered as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    let status = std::fs::read_to_string(format!("/proc/{}/status", exporter.pid())).unwrap();
    let peak_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let rate = rates[1];
    format!(
        "fleet serve, {count} agents: {rate:.0} probes/s (32 scrapers; ~{:.0} targets at a 15 s interval), peak RSS {:.1} MiB",
        rate * 15.0,
        peak_kib / 1024.0
    )
}

/// `GET path` over HTTP/1.0; whether the answer was 200.
fn http_ok(addr: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return false };
    let _ = write!(stream, "GET {path} HTTP/1.0\r\n\r\n");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200 ")
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
    let mut cmd = command("tether-agent", dir);
    cmd.env("RUST_LOG", "error");
    start_simulation(cmd, pki, &dir.join(format!("sim-{count}")), count)
}

fn tether(id: &Identity, home: &Path) -> Command {
    let mut cmd = tether_tests::tether_as(id, home);
    cmd.env("RUST_LOG", "error").stdout(Stdio::null());
    cmd
}

/// `xargs -P 50 tether info ADDRESS --json` over the first `count` hosts.
fn shell_loop(id: &Identity, inventory: &Path, home: &Path, count: usize) -> Command {
    let text = std::fs::read_to_string(inventory).unwrap();
    let addresses: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("address = \"")?.strip_suffix('"'))
        .take(count)
        .collect();
    let list = home.join("addresses.txt");
    std::fs::write(&list, addresses.join("\n") + "\n").unwrap();
    let mut cmd = Command::new("xargs");
    cmd.env_clear().env("HOME", home).env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.env("RUST_LOG", "error").stdout(Stdio::null());
    cmd.args(["-a"]).arg(&list).args(["-P", "50", "-I", "{}"]).arg(workspace_binary("tether"));
    cmd.arg("--cert").arg(&id.cert).arg("--key").arg(&id.key).arg("--ca").arg(&id.ca);
    cmd.args(["--server-name", "tether-sim", "info", "{}", "--json"]);
    cmd
}

/// Runs `cmd` under GNU time: wall, peak RSS (the largest process of the
/// tree that was waited for) and user + system CPU of the whole tree.
fn measured(cmd: Command) -> Figures {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut timed = tether_tests::proc::under_gnu_time(&cmd, "%e %M %U %S", report.path());
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
