//! The agent's network face under attack: floods of unanswered handshakes,
//! idle sessions holding slots, an audit log that cannot be written, and a
//! technician opening more views than the agent can hold.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tether_proto::handshake::Hello;
use tether_proto::{Request, ViewRequest, close};
use tether_tests::xvfb::Xvfb;
use tether_tests::{Agent, AgentSetup, TestPki, proc};
use tether_transport::Client;

use crate::raw;

/// A QUIC Initial packet of a fresh connection attempt to `server`, as a
/// client sends it first: a ClientHello and nothing else. The test sends
/// these from a socket it never reads, like a spoofed source would.
fn quic_initial(server: SocketAddr, ca: &std::path::Path) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in tether_pki::load_certs(ca).unwrap() {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![tether_proto::ALPN.to_vec()];
    let crypto = quinn_proto::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls)).unwrap();
    let config = quinn_proto::ClientConfig::new(Arc::new(crypto));
    let mut endpoint = quinn_proto::Endpoint::new(
        Arc::new(quinn_proto::EndpointConfig::default()),
        None,
        false,
        None,
    );
    let now = Instant::now();
    let (_, mut conn) = endpoint.connect(now, config, server, "agent-01").unwrap();
    let mut buf = Vec::new();
    let transmit = conn.poll_transmit(now, 1, &mut buf).expect("an Initial to send");
    buf.truncate(transmit.size);
    buf
}

/// Sends `n` unanswered connection attempts to the agent.
fn flood(agent: &Agent, pki: &TestPki, n: usize) {
    let addr: SocketAddr = agent.addr.parse().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..n {
        socket.send_to(&quic_initial(addr, &pki.ca()), addr).unwrap();
    }
}

fn status_kib(pid: i32, field: &str) -> u64 {
    proc::status_kib(pid, field).unwrap_or_else(|| panic!("no {field} for pid {pid}"))
}

fn threads(pid: i32) -> usize {
    proc::threads(pid).expect("the agent's /proc/PID/task")
}

#[test]
fn unanswered_initials_neither_lock_technicians_out_nor_grow_the_log() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    let lines_before = agent.audit().len();

    // 64 half-open handshakes: each once took a session slot for 30 s.
    flood(&agent, &pki, 64);
    let out = agent.tether(&alice, &["info", &agent.addr, "--json"]);
    out.ok();

    // Thousands more: the agent answers with stateless Retries, so neither
    // its memory nor its threads nor its audit log follow the flood.
    let rss_before = status_kib(agent.pid(), "VmRSS:");
    flood(&agent, &pki, 3000);
    agent.tether(&alice, &["info", &agent.addr]).ok();
    std::thread::sleep(Duration::from_millis(500));
    let rss_after = status_kib(agent.pid(), "VmRSS:");
    eprintln!(
        "3,000 unanswered Initials: agent RSS {rss_before} -> {rss_after} KiB, {} threads",
        threads(agent.pid())
    );
    assert!(
        rss_after < rss_before + 20 * 1024,
        "agent RSS grew from {rss_before} to {rss_after} KiB under the flood"
    );
    assert!(threads(agent.pid()) < 40, "{} threads", threads(agent.pid()));
    // Wait out the handshake timeout of the few attempts that were let in.
    std::thread::sleep(Duration::from_secs(6));
    let records = agent.audit();
    let rejected: Vec<_> =
        records.iter().skip(lines_before).filter(|r| r.request == "connect").collect();
    // The first few attempts were let in (the agent was not under load
    // yet), timed out, and are on record: proof the flood arrived.
    assert!(
        (1..=8).contains(&rejected.len()),
        "{} connect records for 3064 attempts: {rejected:#?}",
        rejected.len()
    );
    assert!(rejected.iter().all(|r| r.detail.contains("not completed within")), "{rejected:#?}");
}

#[test]
fn idle_fleet_sessions_cannot_starve_technicians() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let addr: SocketAddr = agent.addr.parse().unwrap();
    let rt = raw::runtime();
    // 32 sessions (the default cap) from four monitoring certificates.
    let monitors: Vec<_> = (0..4).map(|i| pki.issue_tech(&format!("nagios{i}"), "fleet")).collect();
    let mut held = Vec::new();
    let mut refused = 0;
    for i in 0..32 {
        let id = &monitors[i % 4];
        let endpoint = rt.block_on(async { raw::endpoint_with(id, addr) });
        let conn = rt.block_on(async {
            // A refused session may already be closed when the handshake
            // completes on this side.
            let conn = endpoint.connect(addr, "agent-01").unwrap().await.ok()?;
            let (mut send, mut recv) = conn.open_bi().await.ok()?;
            let hello = Hello::new("idle monitor", None);
            let sent = tether_transport::framed::write_payload(&mut send, hello.encode().unwrap())
                .await
                .and_then(|()| send.finish().map_err(Into::into));
            let welcomed =
                sent.is_ok()
                    && tether_transport::framed::read_payload::<
                        { tether_proto::codec::MAX_HELLO_FRAME },
                    >(&mut recv)
                    .await
                    .is_ok();
            welcomed.then_some(conn)
        });
        match conn {
            Some(conn) => held.push((endpoint, conn)),
            None => refused += 1,
        }
    }
    assert_eq!(held.len(), 16, "fleet sessions get half the slots");
    assert_eq!(refused, 16);
    agent.wait_for_audit(|r| r.request == "connect" && r.detail == "too many fleet sessions");

    let alice = pki.issue_tech("alice", "tier1");
    agent.tether(&alice, &["info", &agent.addr]).ok();
    drop(held);
}

#[test]
fn idle_sessions_are_closed_and_recorded() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup {
        pki: &pki,
        name: "agent-01",
        extra: "[limits]\nidle_timeout_secs = 1.0\n",
    });
    let alice = pki.issue_tech("alice", "tier1");
    let addr: SocketAddr = agent.addr.parse().unwrap();
    let rt = raw::runtime();
    let (_endpoint, conn) = raw::session(&rt, &alice, addr);
    let started = Instant::now();
    let code = rt.block_on(raw::close_code(&conn));
    assert_eq!(code, u64::from(close::IDLE));
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    let end = agent.wait_for_audit(|r| r.request == "session-end");
    assert!(end.detail.contains("idle limit"), "{}", end.detail);
}

#[test]
fn actions_are_refused_when_their_intent_cannot_be_recorded() {
    let pki = TestPki::new("Example");
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("tree")).unwrap();
    std::fs::write(data.path().join("tree/app.conf"), "x\n").unwrap();
    let extra = format!(
        "[restore]\nstate_dir = {:?}\npaths = [{:?}]\nschedule_hours = 0\n",
        data.path().join("state"),
        data.path().join("tree"),
    );
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let tom = pki.issue_tech("tom", "tier2");
    let mut child = tether_tests::Reaped::sleeper("tether-audit-probe");
    let pid = child.0.id().to_string();

    // Root ignores permissions, so the log is made unwritable by putting a
    // directory where the agent opens it for every record.
    let aside = agent.audit_path.with_extension("aside");
    std::fs::rename(&agent.audit_path, &aside).unwrap();
    std::fs::create_dir(&agent.audit_path).unwrap();

    let line = agent.tether(&tom, &["kill", &agent.addr, &pid]).fails_with(1);
    assert!(line.contains("cannot write its audit log, so it did not run kill"), "{line}");
    assert!(matches!(child.0.try_wait(), Ok(None)), "the process was killed unrecorded");
    let line = agent.tether(&tom, &["restore", "create", &agent.addr]).fails_with(1);
    assert!(line.contains("did not run restore-create"), "{line}");
    // Queries go on refusing rather than answering unrecorded.
    agent.tether(&tom, &["info", &agent.addr]).fails_with(1);

    // With the log back, the kill runs: intent first, then the outcome.
    std::fs::remove_dir(&agent.audit_path).unwrap();
    std::fs::rename(&aside, &agent.audit_path).unwrap();
    agent.tether(&tom, &["kill", &agent.addr, &pid]).ok();
    child.0.wait().unwrap();
    let records = agent.audit();
    let kills: Vec<_> = records.iter().filter(|r| r.request == "kill").collect();
    assert_eq!(kills.len(), 2, "{kills:#?}");
    assert_eq!((kills[0].outcome.as_str(), kills[1].outcome.as_str()), ("started", "ok"));
    assert_eq!(kills[0].args, kills[1].args);
    let points = agent.tether(&tom, &["restore", "list", &agent.addr, "--json"]);
    let points: serde_json::Value = serde_json::from_str(points.ok()).unwrap();
    assert_eq!(points.as_array().map(Vec::len), Some(0), "a point was created unrecorded");
}

#[test]
fn a_tier1_session_cannot_open_views_without_bound() {
    let x = Xvfb::start(1920, 1080);
    let pki = TestPki::new("Example");
    let extra = format!("[screen]\ndisplay = {:?}\n", x.display);
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let tina = pki.issue_tech("tina", "tier1");
    let addr: SocketAddr = agent.addr.parse().unwrap();
    let rt = raw::runtime();
    let (opened, refused) = rt.block_on(async {
        let endpoint = raw::endpoint_with(&tina, addr);
        let hello = Hello::new("view flood", None);
        let client = Arc::new(
            Client::connect(&endpoint, addr, "agent-01", &hello, Duration::from_secs(5))
                .await
                .unwrap(),
        );
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let client = Arc::clone(&client);
            tasks.spawn(async move {
                let request =
                    Request::View(ViewRequest { monitor: None, control: false, max_fps: 30 });
                client.open_view(&request, Duration::from_secs(20)).await
            });
        }
        let (mut opened, mut refused) = (Vec::new(), Vec::new());
        while let Some(result) = tasks.join_next().await {
            match result.unwrap() {
                Ok(view) => opened.push(view),
                Err(e) => refused.push(e.to_string()),
            }
        }
        // Let the open views stream for a moment before measuring.
        tokio::time::sleep(Duration::from_millis(500)).await;
        (opened.len(), refused)
    });
    assert_eq!(
        opened,
        2,
        "per-session view limit; refused: {:?}",
        &refused[..3.min(refused.len())]
    );
    assert_eq!(refused.len(), 98);
    assert!(refused.iter().all(|e| e.contains("view stream")), "{:?}", refused.first());
    let peak_mib = status_kib(agent.pid(), "VmHWM:") / 1024;
    eprintln!("100 view requests from one tier-1 session: agent peak RSS {peak_mib} MiB");
    assert!(peak_mib < 150, "agent peak RSS {peak_mib} MiB for 100 view requests");
}

#[test]
fn audit_verify_finds_an_erased_record() {
    let pki = TestPki::new("Example");
    let mut agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let alice = pki.issue_tech("alice", "tier1");
    agent.tether(&alice, &["info", &agent.addr]).ok();
    agent.tether(&alice, &["ps", &agent.addr]).ok();
    agent.stop();
    let verify = |path: &std::path::Path| {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = tether_tests::command("tether-agent", home.path());
        cmd.args(["audit", "verify", "--file"]).arg(path);
        tether_tests::run(cmd)
    };
    let out = verify(&agent.audit_path);
    assert!(out.ok().contains("chain intact"), "{}", out.stdout);
    // Erase the record of the `info` request, as a rollback once could.
    let text = std::fs::read_to_string(&agent.audit_path).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("\"request\":\"info\"")).collect();
    assert_eq!(kept.len() + 1, text.lines().count());
    std::fs::write(&agent.audit_path, kept.join("\n") + "\n").unwrap();
    let line = verify(&agent.audit_path).fails_with(1);
    assert!(line.contains("audit chain broken at") && line.contains("removed"), "{line}");
}
