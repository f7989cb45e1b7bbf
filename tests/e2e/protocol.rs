//! Hostile or broken peers: the agent closes their connection, keeps
//! serving everyone else, and never panics.

use std::time::Duration;

use tether_proto::close;
use tether_proto::handshake::HandshakeError;
use tether_proto::handshake::Hello;
use tether_proto::{Call, Request, Response};
use tether_tests::{Agent, AgentSetup, TestPki};
use tether_transport::Client;

use crate::raw;

#[test]
fn malformed_and_oversized_messages_close_only_that_connection() {
    let pki = TestPki::new("Example");
    let mut agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let eve = pki.issue_tech("eve", "tier3");
    let addr = agent.addr.parse().unwrap();

    // Each case: bytes sent on a request stream after a valid hello.
    let cases: [(&str, Vec<u8>); 4] = [
        ("4 GiB length prefix", u32::MAX.to_le_bytes().to_vec()),
        ("1 MiB request (limit 64 KiB)", (1u32 << 20).to_le_bytes().to_vec()),
        ("garbage payload", [5u32.to_le_bytes().to_vec(), vec![0xFF; 5]].concat()),
        ("truncated frame", [100u32.to_le_bytes().to_vec(), vec![0; 10]].concat()),
    ];
    let rt = raw::runtime();
    // A well-behaved technician keeps one session open throughout.
    let alice = pki.issue_tech("alice", "tier1");
    let bystander = rt.block_on(async {
        let endpoint = raw::endpoint_with(&alice, addr);
        let hello = Hello::new("bystander", None);
        Client::connect(&endpoint, addr, "agent-01", &hello, Duration::from_secs(5))
            .await
            .expect("bystander connects")
    });
    for (what, bytes) in cases {
        rt.block_on(async {
            let endpoint = raw::endpoint_with(&eve, addr);
            let (conn, welcome) =
                raw::hello(&endpoint, addr, "agent-01", tether_proto::PROTOCOL_VERSION).await;
            welcome.expect("valid hello is welcomed");
            let (mut send, _recv) = conn.open_bi().await.unwrap();
            send.write_all(&bytes).await.unwrap();
            send.finish().unwrap();
            assert_eq!(
                raw::close_code(&conn).await,
                u64::from(close::PROTOCOL_VIOLATION),
                "{what}"
            );
        });
        // The agent is alive, the open session still works, and new ones too.
        assert!(agent.is_alive(), "agent died on {what}");
        let reply =
            rt.block_on(bystander.request(&Request::Call(Call::Info), Duration::from_secs(5)));
        assert!(matches!(reply, Ok(Response::Info(_))), "{what}: {reply:?}");
        agent.tether(&eve, &["info", &agent.addr]).ok();
    }
    let violations = agent.audit().into_iter().filter(|r| r.request == "invalid").count();
    assert_eq!(violations, 4, "every violation is audited");
    assert!(!agent.log().contains("panicked"), "{}", agent.log());
}

#[test]
fn a_huge_claimed_vector_inside_a_small_frame_is_rejected() {
    let pki = TestPki::new("Example");
    let mut agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let eve = pki.issue_tech("eve", "tier3");
    let addr = agent.addr.parse().unwrap();
    raw::runtime().block_on(async {
        let endpoint = raw::endpoint_with(&eve, addr);
        let (conn, welcome) =
            raw::hello(&endpoint, addr, "agent-01", tether_proto::PROTOCOL_VERSION).await;
        welcome.unwrap();
        // Request::Call(Call::AuditTail) is variant 1 with a u32; a varint claiming a u64
        // far beyond any limit instead must fail without allocating.
        let mut payload = vec![1u8, 0xFD];
        payload.extend_from_slice(&u64::MAX.to_le_bytes());
        let (mut send, _recv) = conn.open_bi().await.unwrap();
        send.write_all(&tether_proto::codec::frame_payload(payload)).await.unwrap();
        send.finish().unwrap();
        assert_eq!(raw::close_code(&conn).await, u64::from(close::PROTOCOL_VIOLATION));
    });
    assert!(agent.is_alive());
}

#[test]
fn version_mismatch_fails_clearly_on_both_sides() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    let addr = agent.addr.parse().unwrap();
    raw::runtime().block_on(async {
        let endpoint = raw::endpoint_with(&alice, addr);
        let (conn, reply) = raw::hello(&endpoint, addr, "agent-01", 99).await;
        let err = reply.unwrap_err();
        assert_eq!(
            err,
            HandshakeError::VersionMismatch {
                ours: tether_proto::PROTOCOL_VERSION,
                theirs: tether_proto::PROTOCOL_VERSION
            }
        );
        assert!(err.to_string().contains("protocol version mismatch"), "{err}");
        assert_eq!(raw::close_code(&conn).await, u64::from(close::VERSION_MISMATCH));
    });
    let record = agent.wait_for_audit(|r| r.request == "hello");
    assert_eq!(record.outcome, "rejected");
    assert!(record.detail.contains("controller speaks protocol version 99"), "{}", record.detail);
}

#[test]
fn sigterm_closes_sessions_and_records_their_end() {
    let pki = TestPki::new("Example");
    let mut agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    let addr = agent.addr.parse().unwrap();
    let rt = raw::runtime();
    // Hold a session open while the agent stops.
    let (_endpoint, conn) = raw::session(&rt, &alice, addr);
    let audit_path = agent.audit_path.clone();
    let status = agent.stop();
    assert!(status.success(), "{status:?}");
    let code = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), conn.closed()).await.expect("closed")
    });
    assert!(
        matches!(code, quinn::ConnectionError::ApplicationClosed(ref c) if c.error_code.into_inner() == u64::from(close::SHUTTING_DOWN)),
        "{code:?}"
    );
    let records = tether_audit::read_tail(&audit_path, 100).unwrap().records;
    let kinds: Vec<_> = records.iter().map(|r| r.request.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"agent-start"));
    assert_eq!(kinds.last(), Some(&"agent-stop"), "{kinds:?}");
    let end = records.iter().find(|r| r.request == "session-end").expect("session end recorded");
    assert!(end.detail.contains("the agent shut down"), "{}", end.detail);
}

#[test]
fn sessions_beyond_the_cap_are_told_the_agent_is_busy() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup {
        pki: &pki,
        name: "agent-01",
        extra: "[limits]\nmax_sessions = 1\n",
    });
    let alice = pki.issue_tech("alice", "tier1");
    let addr = agent.addr.parse().unwrap();
    let rt = raw::runtime();
    let (endpoint, first) = raw::session(&rt, &alice, addr);
    let line = agent.tether(&alice, &["info", &agent.addr]).fails_with(1);
    assert!(line.contains("the agent is busy"), "{line}");
    agent.wait_for_audit(|r| r.request == "connect" && r.detail == "too many sessions");
    // Ending the first session frees the slot.
    first.close(0u32.into(), b"done");
    // Drive the runtime so the close frame actually leaves.
    rt.block_on(endpoint.wait_idle());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !agent.tether(&alice, &["info", &agent.addr]).status.success() {
        assert!(std::time::Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_refused_command_ends_its_session_at_once() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let tina = pki.issue_tech("tina", "tier1");
    // Denied: the controller exits with an error, not through its happy path.
    agent.tether(&tina, &["input", &agent.addr, "--move", "1,1"]).fails_with(6);
    let exited = std::time::Instant::now();
    let denied = agent.wait_for_audit(|r| r.request == "control" && r.outcome == "denied");
    let end = agent.wait_for_audit_within(
        |r| r.request == "session-end" && r.session == denied.session,
        Duration::from_secs(5),
    );
    assert!(end.detail.contains("the controller closed the session"), "{}", end.detail);
    assert!(exited.elapsed() < Duration::from_secs(3), "ended after {:?}", exited.elapsed());
}
