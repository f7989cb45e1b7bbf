//! One `Session` against a real agent: many requests at once on one
//! connection, typed refusals, and a close the agent sees at once.

mod support;

use std::time::Duration;

use support::TestAgent;
use tether_client::exit;
use tether_client::{ClientError, ConnectOptions, Connector};
use tether_proto::system::{KillSignal, ProcessSort};
use tether_proto::{RequestKind, Role, Tier};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

#[test]
fn one_session_serves_many_requests_at_once_and_ends_promptly() {
    let agent = TestAgent::start();
    let options = agent.technician("alice", Role::Tier(Tier::Three));
    let mut sleeper = std::process::Command::new("sleep").arg("300").spawn().expect("sleep runs");
    let pid = sleeper.id();
    let rt = runtime();
    rt.block_on(async {
        let connector = Connector::new(options).expect("identity loads");
        let session = connector.connect(&agent.addr).await.expect("connects");
        let welcome = session.welcome();
        assert_eq!(welcome.agent_name, support::AGENT_NAME);
        assert_eq!(welcome.technician, "alice");
        assert!(welcome.agent_software.starts_with("tether-agent "), "{welcome:?}");
        assert!(session.supports(RequestKind::Info) && session.supports(RequestKind::Throughput));

        let (info, processes, tail, kill, down, up) = tokio::join!(
            session.info(),
            session.processes(ProcessSort::Pid, None, 5000),
            session.audit_tail(10),
            session.kill(pid, KillSignal::Term),
            session.download(256 << 10),
            session.upload(256 << 10),
        );
        let info = info.expect("info");
        assert!(!info.system.host.hostname.is_empty());
        assert!(info.clock_offset_ms.abs() < 5_000, "same machine: {}", info.clock_offset_ms);
        let processes = processes.expect("ps");
        assert!(processes.processes.iter().any(|p| p.pid == std::process::id()), "ps sees us");
        tail.expect("audit tail");
        let kill = kill.expect("kill");
        assert_eq!((kill.pid, kill.exited), (pid, true), "{kill:?}");
        assert!(down.expect("download") > Duration::ZERO);
        assert!(up.expect("upload").total > Duration::ZERO);

        // All of it on one connection: the agent saw one session.
        assert_eq!(agent.count_in_log("session started"), 1);
        session.finish().await;
    });
    let _ = sleeper.wait();
    // The close reached the agent at once, not at its 15 s idle timeout.
    assert!(
        agent.wait_for_log("session ended", 1, Duration::from_secs(3)),
        "the agent did not see the session end"
    );
}

#[test]
fn refusals_are_typed_and_carry_their_exit_codes() {
    let agent = TestAgent::start();
    let tier1 = agent.technician("bob", Role::Tier(Tier::One));
    let rt = runtime();
    rt.block_on(async {
        let session = Connector::new(tier1).unwrap().connect(&agent.addr).await.unwrap();
        let err = session.audit_tail(5).await.expect_err("tier 1 may not read the audit log");
        assert!(matches!(err, ClientError::Denied { .. }), "{err:?}");
        assert_eq!(err.exit_code(), exit::DENIED);
        assert!(err.agent_reply().is_some());
        // A refusal ends nothing: the session still answers.
        session.info().await.expect("info after a refusal");
        session.finish().await;
    });
}

#[test]
fn unreachable_agents_and_foreign_certificates_are_told_apart() {
    let agent = TestAgent::start();
    let rt = runtime();
    // Nothing listens on a port just freed.
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut options = agent.technician("carol", Role::Tier(Tier::One));
    options.timeout = Duration::from_millis(500);
    let err = rt
        .block_on(Connector::new(options).unwrap().connect(&format!("127.0.0.1:{port}")))
        .expect_err("nobody there");
    assert!(matches!(err, ClientError::Unreachable(_)), "{err:?}");
    assert_eq!(err.exit_code(), exit::UNREACHABLE);

    // A technician of another organisation's CA.
    let elsewhere = TestAgent::start();
    let stranger: ConnectOptions = elsewhere.technician("mallory", Role::Tier(Tier::Three));
    let options =
        ConnectOptions { identity: stranger.identity, ..agent.technician("x", Role::Fleet) };
    let err = rt
        .block_on(Connector::new(options).unwrap().connect(&agent.addr))
        .expect_err("a foreign certificate");
    assert!(matches!(err, ClientError::Authentication(_)), "{err:?}");
    assert_eq!(err.exit_code(), exit::AUTHENTICATION);
}
