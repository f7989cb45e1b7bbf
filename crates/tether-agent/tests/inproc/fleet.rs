//! The fleet role's one cheap request: facts read at one instant, answered
//! quickly, recorded once.

use std::time::Instant;

use tether_proto::fleet::FleetFactsRequest;
use tether_proto::{Call, ErrorKind, Request, Response, Role};

use crate::harness::{TestAgent, error_kind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_facts_are_cheap_complete_and_audited() {
    let agent = TestAgent::start("").await;
    let client = agent.connect(Role::Fleet).await;
    let ask = Request::from(Call::FleetFacts(FleetFactsRequest {
        processes: vec!["init".into()],
        services: vec![],
    }));
    let started = Instant::now();
    let response = client.request(&ask, crate::harness::TIMEOUT).await.expect("answered");
    // No 250 ms CPU sample: far below it even on a loaded test machine.
    assert!(started.elapsed().as_millis() < 200, "took {:?}", started.elapsed());
    let Response::FleetFacts(facts) = response else { panic!("{response:?}") };
    assert!(facts.agent_software.starts_with("tether-agent "), "{}", facts.agent_software);
    assert_eq!(facts.protocol_version, tether_proto::PROTOCOL_VERSION);
    // The harness issues the agent a one-day certificate.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let left = facts.cert_not_after_unix.expect("own certificate read") - now.as_secs() as i64;
    assert!((0..=2 * 86_400).contains(&left), "{left} s left");
    assert!(facts.logical_cpus >= 1 && facts.memory.total > 0);
    assert!(facts.mounts.iter().any(|m| m.mount_point == "/"));
    assert_eq!(facts.processes.len(), 1);
    assert!(now.as_millis().abs_diff(u128::from(facts.agent_time_unix_ms)) < 60_000);

    let bad = FleetFactsRequest { processes: vec!["a/b".into()], services: vec![] };
    let refused = client.request(&Call::FleetFacts(bad).into(), crate::harness::TIMEOUT).await;
    assert_eq!(error_kind(&refused), Some(ErrorKind::BadRequest));
    let records = agent.records_of("fleet-facts");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].outcome, "ok");
    assert_eq!(records[0].args, "processes=init");
    client.close();
    agent.stop().await;
}
