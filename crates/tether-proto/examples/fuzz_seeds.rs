//! Writes the fuzz seed corpus: one valid encoding of every message, and
//! the edge cases the tests care about. Run from the crate directory:
//! `cargo run -p tether-proto --example fuzz_seeds`.

use tether_proto::codec::{MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, encode_frame, frame_payload};
use tether_proto::handshake::{Hello, HelloReply, Welcome};
use tether_proto::message::{AuditEntry, SystemSummary};
use tether_proto::{ErrorReply, Request, Response, Role, Tier};

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/decode");
    std::fs::create_dir_all(&dir)?;
    let summary = SystemSummary {
        hostname: "ws-042".into(),
        os_name: "Debian GNU/Linux".into(),
        os_version: "Linux 12".into(),
        kernel: "6.1.0".into(),
        arch: "x86_64".into(),
        uptime_secs: 3600,
        boot_time_unix: 1_795_000_000,
        cpu_model: "cpu".into(),
        cpu_logical: 2,
        cpu_physical: Some(1),
        load_average: [0.1, 0.2, 0.3],
        memory_total: 1 << 33,
        memory_used: 1 << 30,
        memory_available: 1 << 32,
        swap_total: 0,
        swap_used: 0,
        agent_version: "tether-agent 0.1.0".into(),
        agent_time_unix_ms: 1_795_000_000_000,
    };
    let entry = AuditEntry {
        time: "2026-11-23T12:00:00.000Z".into(),
        session: "00ff".into(),
        peer: "127.0.0.1:1".into(),
        technician: Some("alice".into()),
        serial: Some("01ab".into()),
        role: Some(Role::Tier(Tier::Three)),
        ticket: Some("INC-1".into()),
        request: "info".into(),
        args: String::new(),
        outcome: "ok".into(),
        detail: String::new(),
    };
    let welcome = Welcome {
        agent_name: "agent-01".into(),
        agent_software: "tether-agent 0.1.0".into(),
        session_id: "00ff".into(),
        technician: "alice".into(),
        role: Role::Tier(Tier::Two),
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "request-info",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Info).unwrap(),
        ),
        (
            "request-audit-tail",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::AuditTail { limit: 20 }).unwrap(),
        ),
        (
            "response-info",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Info(Box::new(summary))).unwrap(),
        ),
        (
            "response-audit",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::AuditTail(vec![entry])).unwrap(),
        ),
        (
            "response-error",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Error(ErrorReply::denied("no")))
                .unwrap(),
        ),
        (
            "hello",
            Hello::new("tether 0.1.0", Some("INC-1".into()))
                .encode()
                .unwrap(),
        ),
        (
            "hello-reply-welcome",
            HelloReply::Welcome(welcome).encode().unwrap(),
        ),
        (
            "hello-reply-mismatch",
            HelloReply::VersionMismatch { agent_version: 1 }
                .encode()
                .unwrap(),
        ),
        (
            "hello-reply-refused",
            HelloReply::Refused("why".into()).encode().unwrap(),
        ),
        ("oversized-header", u32::MAX.to_le_bytes().to_vec()),
        (
            "huge-claimed-string",
            frame_payload([vec![2u8, 0, 0xFD], 4_000_000_000u64.to_le_bytes().to_vec()].concat()),
        ),
        ("empty", Vec::new()),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
