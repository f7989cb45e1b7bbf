//! The interactive session's figure: the round trip of a cheap request on
//! the session's one reused connection, against a fresh one-shot `tether`
//! process doing the same request. A bench binary printing medians, not a
//! timed test.
//!
//! Run: `cargo build --release --workspace && cargo bench -p tether-tests --bench session`
//!
//! It starts the real release `tether-agent` on loopback with throw-away
//! certificates and an empty restore store, then
//! - runs `tether connect` with its stdin and stdout piped and types
//!   `restore list --json` N times, timing each from the line written to
//!   its answer (`[]`) read back;
//! - runs `tether restore list ADDR --json` as a process M times, start to
//!   exit.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tether_tests::{TestPki, agent_with_restore, stats, tether_as};

const IN_SESSION: usize = 100;
const PROCESSES: usize = 20;

fn main() {
    let pki = TestPki::new("Bench");
    let data = tempfile::tempdir().unwrap();
    let agent = agent_with_restore(&pki, data.path());
    let alice = pki.issue_tech("alice", "tier1");
    let home = tempfile::tempdir().unwrap();
    let tether = || {
        let mut cmd = tether_as(&alice, home.path());
        cmd.args(["--server-name", "agent-01"]);
        cmd
    };

    let mut cmd = tether();
    cmd.args(["connect", &agent.addr]).stdin(Stdio::piped()).stdout(Stdio::piped());
    cmd.stderr(Stdio::null());
    let mut session = cmd.spawn().expect("tether connect starts");
    let mut input = session.stdin.take().unwrap();
    let mut output = BufReader::new(session.stdout.take().unwrap());
    let mut ask = || {
        let start = Instant::now();
        input.write_all(b"restore list --json\n").unwrap();
        input.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            assert_ne!(output.read_line(&mut line).unwrap(), 0, "the session ended");
            if line.trim() == "[]" {
                return start.elapsed();
            }
        }
    };
    // The first request warms caches on both sides; drop it.
    ask();
    let mut reused: Vec<Duration> = (0..IN_SESSION).map(|_| ask()).collect();
    drop(input);
    assert!(session.wait().unwrap().success());

    let mut processes = Vec::new();
    for _ in 0..PROCESSES {
        let mut cmd = tether();
        cmd.args(["restore", "list", &agent.addr, "--json"]);
        let start = Instant::now();
        let out = cmd.output().unwrap();
        processes.push(start.elapsed());
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    }

    println!("tether session bench (loopback, release build; `restore list`, empty store)");
    println!(
        "  in `tether connect`, reused connection     {} (n={IN_SESSION})",
        stats(&mut reused)
    );
    println!(
        "  one-shot `tether restore list` process      {} (n={PROCESSES})",
        stats(&mut processes)
    );
}
