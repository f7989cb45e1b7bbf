//! Writes the fuzz seed corpus: one valid encoding of every message, and
//! the edge cases the tests care about. Run from the crate directory:
//! `cargo run -p tether-proto --example fuzz_seeds`.

use tether_proto::codec::{MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, encode_frame, frame_payload};
use tether_proto::doctor::{DoctorReport, DoctorRequest, Finding, Severity};
use tether_proto::handshake::{Hello, HelloReply, Welcome};
use tether_proto::message::AuditEntry;
use tether_proto::net::NetCheckRequest;
use tether_proto::restore::{RestoreDiff, RestorePoint, RollbackOutcome};
use tether_proto::screen::{
    CursorShape, InputEvent, Key, MAX_SCREEN_FRAME, MAX_VIEWER_FRAME, Monitor, MouseButton,
    PointerUpdate, ScreenMessage, ViewStart, ViewerMessage,
};
use tether_proto::system::{
    Battery, CpuInfo, DiskInfo, HostInfo, InterfaceInfo, KillOutcome, KillSignal, LoginSession,
    MemoryInfo, ProcessInfo, ProcessList, ProcessSort, SystemInfo, Temperature,
};
use tether_proto::{
    Call, ErrorReply, Request, Response, RestoreRequest, Role, ScreenRequest, Throughput, Tier,
    ViewRequest,
};

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/decode");
    std::fs::create_dir_all(&dir)?;
    let info = SystemInfo {
        host: HostInfo {
            hostname: "ws-042".into(),
            os_name: "Debian GNU/Linux".into(),
            os_version: "12".into(),
            kernel: "6.1.0".into(),
            arch: "x86_64".into(),
            uptime_secs: 3600,
            boot_time_unix: 1_795_000_000,
            pending_reboot: Some("libc6".into()),
            agent_version: "tether-agent 0.1.0".into(),
            agent_time_unix_ms: 1_795_000_000_000,
        },
        cpu: CpuInfo {
            model: "cpu".into(),
            logical: 2,
            physical: Some(1),
            usage_percent: 12.5,
            per_core_percent: vec![10.0, 15.0],
            sample_ms: 250,
            load_average: [0.1, 0.2, 0.3],
            frequency_mhz: 2400,
        },
        memory: MemoryInfo {
            total: 1 << 33,
            used: 1 << 30,
            available: 1 << 32,
            swap_total: 0,
            swap_used: 0,
        },
        disks: vec![DiskInfo {
            mount_point: "/".into(),
            device: "/dev/vda1".into(),
            file_system: "ext4".into(),
            total: 1 << 36,
            used: 1 << 35,
            available: 1 << 35,
            read_only: false,
            removable: false,
        }],
        interfaces: vec![InterfaceInfo {
            name: "eth0".into(),
            mac: "02:00:00:00:00:01".into(),
            addresses: vec!["192.0.2.2/24".into()],
            up: true,
            mtu: 1500,
            rx_bytes: 1,
            tx_bytes: 2,
            rx_errors: 0,
            tx_errors: 0,
        }],
        temperatures: vec![Temperature {
            label: "cpu".into(),
            celsius: Some(50.0),
            max_celsius: None,
            critical_celsius: Some(95.0),
        }],
        users: vec![LoginSession {
            user: "alice".into(),
            line: "tty1".into(),
            host: String::new(),
            login_time_unix: 1,
        }],
        batteries: vec![Battery {
            name: "BAT0".into(),
            percent: Some(80.0),
            status: "Charging".into(),
        }],
    };
    let processes = ProcessList {
        total: 1,
        sample_ms: 250,
        processes: vec![ProcessInfo {
            pid: 7,
            parent: Some(1),
            name: "sleep".into(),
            user: "root".into(),
            cpu_percent: 0.5,
            rss: 4096,
            state: "sleeping".into(),
            start_time_unix: 1_795_000_000,
            command: "sleep 300".into(),
        }],
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
        supported: vec!["info".into(), "ps".into(), "view".into()],
    };
    let monitor = Monitor {
        index: 0,
        name: "screen".into(),
        x: 0,
        y: 0,
        width: 1920,
        height: 1080,
        primary: true,
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("request-info", encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Info)).unwrap()),
        (
            "request-audit-tail",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::AuditTail { limit: 20 }))
                .unwrap(),
        ),
        (
            "response-info",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Info(Box::new(info))).unwrap(),
        ),
        (
            "response-audit",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::AuditTail(vec![entry])).unwrap(),
        ),
        (
            "request-ps",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Processes {
                sort: ProcessSort::Cpu,
                filter: Some("fox".into()),
                limit: 40,
            }))
            .unwrap(),
        ),
        (
            "request-kill",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Kill {
                pid: 4711,
                signal: KillSignal::Term,
            }))
            .unwrap(),
        ),
        (
            "response-ps",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Processes(processes)).unwrap(),
        ),
        (
            "response-killed",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Killed(KillOutcome {
                pid: 4711,
                name: "firefox".into(),
                signal: KillSignal::Kill,
                exited: true,
            }))
            .unwrap(),
        ),
        (
            "request-net",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Net(NetCheckRequest {
                dns: vec!["intranet.lan".into()],
                tcp: vec!["files.lan:445".into()],
                urls: vec!["https://intranet.lan/".into()],
                ping: vec!["10.0.0.1".into()],
                defaults: true,
            })))
            .unwrap(),
        ),
        (
            "request-doctor",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Doctor(DoctorRequest {
                net: None,
            })))
            .unwrap(),
        ),
        (
            "request-upload",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Throughput(Throughput::Upload {
                bytes: 1 << 20,
            }))
            .unwrap(),
        ),
        (
            "response-sending",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Sending { bytes: 1 << 20 }).unwrap(),
        ),
        (
            "response-doctor",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Doctor(Box::new(DoctorReport {
                findings: vec![Finding {
                    severity: Severity::Warn,
                    check: "zombies".into(),
                    summary: "3 zombie processes".into(),
                    next_step: "restart it".into(),
                }],
                net: None,
                agent_time_unix_ms: 1,
            })))
            .unwrap(),
        ),
        (
            "response-error",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Error(ErrorReply::denied("no")))
                .unwrap(),
        ),
        (
            "request-restore-rollback",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Restore(
                RestoreRequest::Rollback { id: "20261123T101500Z-3fa29c01".into() },
            )))
            .unwrap(),
        ),
        (
            "response-restore-points",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::RestorePoints(vec![RestorePoint {
                id: "20261123T101500Z-3fa29c01".into(),
                created_unix: 1_795_000_000,
                label: Some("baseline".into()),
                kind: "manual".into(),
                keep: true,
                files: 3,
                total_bytes: 4096,
                skipped: vec![
                    "/etc/fifo: a FIFO, socket or device node, never recorded or touched".into(),
                ],
                skipped_count: 1,
            }]))
            .unwrap(),
        ),
        (
            "response-rolled-back",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::RolledBack(RollbackOutcome {
                point: "P".into(),
                pre_rollback_point: "Q".into(),
                restored: 2,
                moved_aside: 1,
                kept: 0,
                unchanged: 9,
                changes: RestoreDiff {
                    point: "P".into(),
                    modified: vec!["/etc/hosts".into()],
                    added_count: 0,
                    modified_count: 1,
                    ..RestoreDiff::default()
                },
            }))
            .unwrap(),
        ),
        (
            "request-input",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::Call(Call::Screen(
                ScreenRequest::Input {
                    monitor: Some(0),
                    events: vec![
                        InputEvent::MouseMove { x: 10, y: 20 },
                        InputEvent::Button { button: MouseButton::Left, pressed: true },
                        InputEvent::Key { key: Key::Char('a'), pressed: true },
                        InputEvent::Key { key: Key::F(5), pressed: false },
                        InputEvent::Scroll { dx: 0, dy: -3 },
                        InputEvent::Text("hé".into()),
                        InputEvent::ReleaseAll,
                    ],
                },
            )))
            .unwrap(),
        ),
        (
            "request-view",
            encode_frame::<_, MAX_REQUEST_FRAME>(&Request::View(ViewRequest {
                monitor: None,
                control: true,
                max_fps: 30,
            }))
            .unwrap(),
        ),
        (
            "response-viewing",
            encode_frame::<_, MAX_RESPONSE_FRAME>(&Response::Viewing(Box::new(ViewStart {
                monitor: monitor.clone(),
                monitors: vec![monitor.clone()],
                control: true,
                max_fps: 30,
                backend: "x11-shm".into(),
            })))
            .unwrap(),
        ),
        (
            "screen-frame",
            encode_frame::<_, MAX_SCREEN_FRAME>(&ScreenMessage::Frame {
                encoded: vec![1, 2, 3],
                pointer: PointerUpdate::At(5, 6),
                ack: true,
                cursor: Some(CursorShape {
                    width: 1,
                    height: 1,
                    hot_x: 0,
                    hot_y: 0,
                    argb: vec![!0],
                }),
            })
            .unwrap(),
        ),
        (
            "screen-resized",
            encode_frame::<_, MAX_SCREEN_FRAME>(&ScreenMessage::Resized { monitor }).unwrap(),
        ),
        (
            "viewer-input",
            encode_frame::<_, MAX_VIEWER_FRAME>(&ViewerMessage::Input(InputEvent::Key {
                key: Key::Control,
                pressed: true,
            }))
            .unwrap(),
        ),
        (
            "viewer-ack",
            encode_frame::<_, MAX_VIEWER_FRAME>(&ViewerMessage::Ack { seq: 7 }).unwrap(),
        ),
        ("hello", Hello::new("tether 0.1.0", Some("INC-1".into())).encode().unwrap()),
        ("hello-reply-welcome", HelloReply::Welcome(welcome).encode().unwrap()),
        (
            "hello-reply-mismatch",
            HelloReply::VersionMismatch { agent_version: 1 }.encode().unwrap(),
        ),
        ("hello-reply-refused", HelloReply::Refused("why".into()).encode().unwrap()),
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
