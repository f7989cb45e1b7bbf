//! Diagnostics figures: a bench binary printing medians, not a timed test.
//!
//! Run: `cargo build --release --workspace && cargo bench -p tether-tests --bench diagnostics`
//!
//! Starts the real release agent on loopback and measures, over one
//! established session (so connection set-up is not counted):
//! - a full `info` (CPU sampled over 250 ms, so ~250 ms is the floor);
//! - the agent's CPU time per `info` (utime + stime from /proc);
//! - `net` with a loopback equivalent of the default set: the real default
//!   set pings the gateway and queries the machine's resolvers, which are
//!   not on this machine and must not be probed from here, so the bench
//!   points the agent at a resolver on 127.0.0.1 and asks for one name, a
//!   TCP target, a URL and a ping (the controller's address);
//! - `doctor` without and with those network checks (1 s watch window).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use tether_proto::doctor::DoctorRequest;
use tether_proto::handshake::Hello;
use tether_proto::net::NetCheckRequest;
use tether_proto::{Call, Request, Response};
use tether_tests::proc::ticks_per_sec;
use tether_tests::{
    Agent, AgentSetup, FakeResolver, TestPki, endpoint_with, http_server, proc, stats,
};
use tether_transport::Client;

const RUNS: usize = 20;

fn main() {
    let resolver = FakeResolver::start(&[("intranet.test", Ipv4Addr::LOCALHOST)], &[]);
    let pki = TestPki::new("Bench");
    let extra = format!("[net]\nresolvers = [\"{}\"]\n", resolver.addr);
    let mut agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let alice = pki.issue_tech("alice", "tier1");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let web = http_server(200);
    let net = NetCheckRequest {
        dns: vec!["intranet.test".into()],
        tcp: vec![listener.local_addr().unwrap().to_string()],
        urls: vec![format!("http://{web}/")],
        ping: vec!["127.0.0.1".into()],
        defaults: false,
    };

    let addr = agent.addr.parse().unwrap();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (mut info, cpu_ms, mut net_times, mut doctor_local, mut doctor_net) = rt.block_on(async {
        let endpoint = endpoint_with(&alice, addr);
        let client = Client::connect(
            &endpoint,
            addr,
            "agent-01",
            &Hello::new("bench", None),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let timeout = Duration::from_secs(30);
        let time = |request: Request| {
            let client = &client;
            async move {
                let start = Instant::now();
                let response = client.request(&request, timeout).await.unwrap();
                assert!(!matches!(response, Response::Error(_)), "{response:?}");
                start.elapsed()
            }
        };
        time(Request::Call(Call::Info)).await; // warm-up
        let cpu_before = cpu_ticks(agent.pid());
        let mut info = Vec::new();
        for _ in 0..RUNS {
            info.push(time(Request::Call(Call::Info)).await);
        }
        let cpu_ms =
            (cpu_ticks(agent.pid()) - cpu_before) as f64 * 1000.0 / ticks_per_sec() / RUNS as f64;
        let mut net_times = Vec::new();
        for _ in 0..RUNS {
            net_times.push(time(Request::Call(Call::Net(net.clone()))).await);
        }
        let mut doctor_local = Vec::new();
        let mut doctor_net = Vec::new();
        for _ in 0..5 {
            doctor_local.push(time(Request::Call(Call::Doctor(DoctorRequest { net: None }))).await);
            doctor_net.push(
                time(Request::Call(Call::Doctor(DoctorRequest { net: Some(net.clone()) }))).await,
            );
        }
        client.close();
        (info, cpu_ms, net_times, doctor_local, doctor_net)
    });

    println!("tether diagnostics bench (loopback, release build, one session)");
    println!("  info (full report)                  {} (n={RUNS})", stats(&mut info));
    println!(
        "  agent CPU time per info             {cpu_ms:.1} ms (utime+stime / {RUNS}, {} Hz ticks)",
        ticks_per_sec()
    );
    println!("  net, loopback default-equivalent    {} (n={RUNS})", stats(&mut net_times));
    println!("  doctor --no-network                 {} (n=5)", stats(&mut doctor_local));
    println!("  doctor with the net checks          {} (n=5)", stats(&mut doctor_net));
    agent.stop();
    drop(listener);
}

fn cpu_ticks(pid: i32) -> u64 {
    proc::cpu_ticks(pid).expect("the agent is running")
}
