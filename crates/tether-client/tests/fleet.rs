//! The fleet runner against a real agent, a port where nothing listens and
//! a socket that swallows everything: one shared endpoint, deadlines that
//! hold, and every host reported.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::TestAgent;
use tether_client::Connector;
use tether_client::exit::CheckStatus;
use tether_client::fleet::{self, CheckSet, FailureCause, FleetHost, RunOptions, Summary};
use tether_proto::Role;

#[test]
fn one_endpoint_reaches_the_live_and_bounds_the_silent() {
    let agent = TestAgent::start();
    let mut options = agent.technician("fleet-probe", Role::Fleet);
    options.server_name = None;
    // Bound but never read: a host that accepts UDP and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let closed_addr = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().to_string()
    };
    let host = |alias: &str, address: &str| FleetHost {
        alias: alias.into(),
        address: address.into(),
        server_name: support::AGENT_NAME.into(),
    };
    let mut hosts: Vec<FleetHost> =
        (0..6).map(|i| host(&format!("live-{i}"), &agent.addr)).collect();
    hosts.push(host("silent", &silent_addr));
    hosts.push(host("closed", &closed_addr));
    // The test agent's certificate lives one day; this machine's load is
    // whatever the other builds make it.
    let set = CheckSet::parse(
        "deadline_secs = 1.0\nretries = 1\n[cert_days]\nwarn = 0.5\ncrit = 0.1\n\
         [load]\nenabled = false\n[disk]\nwarn_percent = 99.0\ncrit_percent = 99.5\n",
    )
    .unwrap();
    let run_options = RunOptions::new(&set, 4);
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let started = Instant::now();
    let reports = rt.block_on(async {
        let connector = Connector::new(options).expect("identity loads").with_shared_endpoint();
        let mut reports = BTreeMap::new();
        fleet::runner::run(&connector, hosts, Arc::new(set), run_options, |r| {
            reports.insert(r.host.clone(), r);
        })
        .await;
        connector.close_shared(Duration::from_millis(200)).await;
        reports
    });
    let took = started.elapsed();
    assert_eq!(reports.len(), 8);
    for i in 0..6 {
        let r = &reports[&format!("live-{i}")];
        assert_eq!(r.attempts, 1, "{r:?}");
        assert!(r.agent.as_deref().unwrap().starts_with("tether-agent "), "{r:?}");
        assert!(r.checks.iter().any(|c| c.check == "disk:/"), "{r:?}");
        assert!(r.checks.iter().all(|c| c.status != CheckStatus::Unknown), "{r:?}");
    }
    let silent_report = &reports["silent"];
    assert_eq!(silent_report.cause, Some(FailureCause::Timeout), "{silent_report:?}");
    assert_eq!(silent_report.status, CheckStatus::Critical);
    assert_eq!(silent_report.attempts, 2, "one retry");
    let closed = &reports["closed"];
    assert!(
        matches!(closed.cause, Some(FailureCause::Unreachable | FailureCause::Timeout)),
        "{closed:?}"
    );
    // Two attempts of 1 s for the silent host, in parallel with the rest.
    assert!(took < Duration::from_secs(6), "run took {took:?}");
    let mut summary = Summary::default();
    reports.values().for_each(|r| summary.add(r));
    assert_eq!(summary.hosts, 8);
    let live_bad: Vec<_> =
        reports["live-0"].checks.iter().filter(|c| c.status != CheckStatus::Ok).collect();
    assert_eq!((summary.ok, summary.critical), (6, 2), "{live_bad:?}");
    // Every live session ended at the agent (the close reached it).
    assert!(
        agent.wait_for_log("session ended", 6, Duration::from_secs(3)),
        "sessions did not end promptly"
    );
    drop(silent);
}
