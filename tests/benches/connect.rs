//! Connection set-up figures for the foundation: a bench binary printing
//! medians, not a timed test.
//!
//! Run: `cargo build --release --workspace && cargo bench -p tether-tests --bench connect`
//!
//! It starts the real release `tether-agent` on loopback with throw-away
//! certificates, then measures
//! - in-process: a fresh QUIC connection (full TLS 1.3 handshake with client
//!   certificate verification; the agent disables resumption), the hello,
//!   and the first `info` reply, N times (`info` samples CPU use for 250 ms,
//!   so the second figure is that plus set-up);
//! - whole command: `tether info` as a process (start-up, key loading,
//!   connection, reply, exit), M times;
//! - the agent's resident memory when idle, before and after the runs.

use std::time::{Duration, Instant};

use tether_proto::handshake::Hello;
use tether_proto::{Call, Request, Response};
use tether_tests::{Agent, AgentSetup, TestPki, endpoint_with, proc, stats};
use tether_transport::Client;

const CONNECTIONS: usize = 50;
const PROCESSES: usize = 20;

fn main() {
    let pki = TestPki::new("Bench");
    let mut agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle = rss_kib(agent.pid());

    let addr = agent.addr.parse().unwrap();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut connect_only = Vec::new();
    let mut total = Vec::new();
    rt.block_on(async {
        let endpoint = endpoint_with(&alice, addr);
        let hello = Hello::new("bench", None);
        for _ in 0..CONNECTIONS + 1 {
            let start = Instant::now();
            let client =
                Client::connect(&endpoint, addr, "agent-01", &hello, Duration::from_secs(5))
                    .await
                    .unwrap();
            let greeted = start.elapsed();
            let response =
                client.request(&Request::Call(Call::Info), Duration::from_secs(5)).await.unwrap();
            let done = start.elapsed();
            assert!(matches!(response, Response::Info(_)));
            client.close();
            connect_only.push(greeted);
            total.push(done);
        }
        endpoint.wait_idle().await;
    });
    // The first connection warms caches on both sides; drop it.
    connect_only.remove(0);
    total.remove(0);

    let mut processes = Vec::new();
    for _ in 0..PROCESSES {
        let start = Instant::now();
        agent.tether(&alice, &["info", &agent.addr, "--json"]).ok();
        processes.push(start.elapsed());
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = rss_kib(agent.pid());

    println!("tether foundation bench (loopback, release build)");
    println!(
        "  connect + TLS 1.3 mutual auth + hello     {} (n={CONNECTIONS})",
        stats(&mut connect_only)
    );
    println!("  ... + first info reply (set-up total)     {} (n={CONNECTIONS})", stats(&mut total));
    println!(
        "  `tether info` process, start to exit      {} (n={PROCESSES})",
        stats(&mut processes)
    );
    println!("  agent idle RSS at start                   {rss_idle} KiB");
    println!(
        "  agent idle RSS after {} sessions          {rss_after} KiB",
        CONNECTIONS + 1 + PROCESSES
    );
    agent.stop();
}

fn rss_kib(pid: i32) -> u64 {
    proc::rss_kib(pid).expect("the agent is running")
}
