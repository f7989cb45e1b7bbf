//! The real controller against a fake, hostile agent (issue 13, findings 6
//! and 7): huge monitors and decompression bombs end in one error line
//! with bounded memory, and ESC sequences and newlines in what the agent
//! says never reach the terminal raw.

use std::time::Duration;

use tether_proto::restore::RestoreDiff;
use tether_proto::screen::{PointerUpdate, ScreenMessage, Screenshot, ViewStart};
use tether_proto::system::{ProcessInfo, ProcessList};
use tether_proto::{Call, ErrorKind, ErrorReply, Request, Response, RestoreRequest, ViewRequest};
use tether_screen_codec::{Op, Rect, Update};
use tether_tests::TestPki;
use tether_transport::Client;
use tether_view::{ViewError, ViewState, stream};

use crate::fake_agent::{FakeAgent, Reply, monitor, zstd_bomb};
use crate::raw;

/// The controller's peak RSS against a hostile agent stays under this.
/// Measured (debug build): 18 MiB refusing the 8192x8192 monitor, 36 MiB
/// refusing the 256 MiB bomb; with the cap removed the 8192x8192 fill
/// reached 274 MiB.
const PEAK_RSS_LIMIT_KIB: u64 = 100 * 1024;

/// A fresh update of `width`x`height` whose shapes stream inflates to
/// `inflated` bytes.
fn bomb_update(width: u32, height: u32, inflated: usize) -> Vec<u8> {
    Update { width, height, fresh: true, shapes: zstd_bomb(inflated), pixels: Vec::new() }
        .to_bytes()
}

/// A valid fresh update filling `width`x`height` with one colour: a few
/// bytes that make a decoder touch every pixel.
fn fill_update(width: u32, height: u32, color: u32) -> Vec<u8> {
    let rect = Rect { x: 0, y: 0, w: width, h: height };
    let ops =
        bincode::serde::encode_to_vec(vec![Op::Fill { rect, color }], bincode::config::standard())
            .unwrap();
    let shapes = zstd::bulk::compress(&ops, 1).unwrap();
    Update { width, height, fresh: true, shapes, pixels: Vec::new() }.to_bytes()
}

fn screenshot(width: u32, height: u32, encoded: Vec<u8>) -> Reply {
    let monitor = monitor(width, height);
    Reply::Once(Response::Screenshot(Box::new(Screenshot { monitor, encoded, pointer: None })))
}

#[test]
fn screenshot_of_a_huge_monitor_is_refused_before_anything_is_allocated() {
    let pki = TestPki::new("Example");
    let alice = pki.issue_tech("alice", "tier1");
    // A well-formed update filling the whole monitor: without the cap the
    // controller would decode it into a 256 MiB frame and write the PNG.
    let update = fill_update(8192, 8192, 0x123456);
    let agent = FakeAgent::start(&pki, move |_| screenshot(8192, 8192, update.clone()));
    let out = tempfile::tempdir().unwrap();
    let png = out.path().join("shot.png");

    let (run, peak_kib) =
        agent.tether(&alice, &["screenshot", &agent.addr.to_string(), "-o", png.to_str().unwrap()]);

    eprintln!("tether screenshot, 8192x8192 monitor: peak RSS {peak_kib} KiB");
    let line = run.fails_with(1);
    assert!(line.contains("8192x8192 monitor") && line.contains("7680x4320"), "{line}");
    assert!(!png.exists(), "nothing is written for a refused screenshot");
    assert!(peak_kib < PEAK_RSS_LIMIT_KIB, "peak RSS {peak_kib} KiB");
}

#[test]
fn screenshot_decompression_bomb_is_refused_with_bounded_memory() {
    let pki = TestPki::new("Example");
    let alice = pki.issue_tech("alice", "tier1");
    // 256 MiB of zeros in a few KiB, for the largest monitor allowed.
    let update = bomb_update(7680, 4320, 256 << 20);
    assert!(update.len() < 64 << 10, "{} bytes", update.len());
    let agent = FakeAgent::start(&pki, move |_| screenshot(7680, 4320, update.clone()));
    let out = tempfile::tempdir().unwrap();
    let png = out.path().join("shot.png");

    let (run, peak_kib) =
        agent.tether(&alice, &["screenshot", &agent.addr.to_string(), "-o", png.to_str().unwrap()]);

    eprintln!("tether screenshot, 256 MiB bomb: peak RSS {peak_kib} KiB");
    let line = run.fails_with(1);
    assert!(line.contains("could not be decoded") && line.contains("decompresses"), "{line}");
    assert!(peak_kib < PEAK_RSS_LIMIT_KIB, "peak RSS {peak_kib} KiB");
}

/// The view scenarios, chosen by the monitor the controller asks for.
fn view_script(request: &Request) -> Reply {
    let Request::View(ViewRequest { monitor: Some(which), .. }) = request else {
        return Reply::Once(Response::Error(ErrorReply::bad_request("view only")));
    };
    let start = |width, height| ViewStart {
        monitor: monitor(width, height),
        monitors: vec![monitor(width, height)],
        control: false,
        max_fps: 30,
        backend: "fake".into(),
    };
    match which {
        0 => Reply::View(start(8192, 8192), Vec::new()),
        1 => Reply::View(
            start(640, 480),
            vec![ScreenMessage::Resized { monitor: monitor(8192, 8192) }],
        ),
        _ => {
            let encoded = bomb_update(1920, 1080, 64 << 20);
            let bomb = ScreenMessage::Frame {
                encoded,
                pointer: PointerUpdate::Off,
                cursor: None,
                ack: true,
            };
            Reply::View(start(1920, 1080), vec![bomb])
        }
    }
}

#[test]
fn view_refuses_huge_monitors_and_bombs_without_allocating_for_them() {
    let pki = TestPki::new("Example");
    let alice = pki.issue_tech("alice", "tier1");
    let agent = FakeAgent::start(&pki, view_script);
    let rt = raw::runtime();
    let view = |which: u32| {
        rt.block_on(async {
            let endpoint = raw::endpoint_with(&alice, agent.addr);
            let hello = tether_proto::handshake::Hello::new("test", None);
            let timeout = Duration::from_secs(10);
            let client =
                Client::connect(&endpoint, agent.addr, "agent-01", &hello, timeout).await.unwrap();
            let request =
                Request::View(ViewRequest { monitor: Some(which), control: false, max_fps: 30 });
            let (start, send, recv) = client.open_view(&request, timeout).await.unwrap();
            let state = ViewState::new(&start);
            let (_input_tx, input_rx) = tokio::sync::mpsc::unbounded_channel();
            let end =
                tokio::time::timeout(timeout, stream::run(state.clone(), send, recv, input_rx))
                    .await
                    .expect("the view ends by itself");
            let frame = state.screen().frame.as_ref().map(|f| (f.width(), f.height()));
            client.close();
            (end, frame)
        })
    };

    // A huge monitor in ViewStart: no frame at all, and the view ends.
    let (end, frame) = view(0);
    assert!(
        matches!(end, Err(ViewError::MonitorTooLarge { width: 8192, height: 8192 })),
        "{end:?}"
    );
    assert_eq!(frame, None);

    // A resize to a huge monitor: refused before the old frame is replaced.
    let (end, frame) = view(1);
    assert!(matches!(end, Err(ViewError::MonitorTooLarge { .. })), "{end:?}");
    assert_eq!(frame, Some((640, 480)));

    // A decompression bomb: the decoder stops at what 1920x1080 implies.
    let (end, frame) = view(2);
    match end {
        Err(ViewError::BadUpdate(why)) => assert!(why.contains("decompresses"), "{why}"),
        other => panic!("expected a bad update, got {other:?}"),
    }
    assert_eq!(frame, Some((1920, 1080)), "still the black start frame");
}

/// What a compromised machine might put in its answers.
const ESC_NAME: &str = "evil\x1b[31m\x1b]0;owned\x07";
const FORGED: &str = "x\n  999 root  0.0  1 B  running  2026-01-01 00:00  /bin/forged";

fn escape_script(request: &Request) -> Reply {
    Reply::Once(match request {
        Request::Call(Call::Processes { .. }) => Response::Processes(ProcessList {
            total: 1,
            sample_ms: 250,
            processes: vec![ProcessInfo {
                pid: 42,
                parent: None,
                name: ESC_NAME.into(),
                user: "ro\x1b[8mot".into(),
                cpu_percent: 0.0,
                rss: 1,
                state: "running\r".into(),
                start_time_unix: 0,
                command: format!("{ESC_NAME} {FORGED}"),
            }],
        }),
        Request::Call(Call::Restore(RestoreRequest::Diff { .. })) => {
            Response::RestoreDiff(Box::new(RestoreDiff {
                point: "P1\x1b[2J".into(),
                modified: vec![format!("/etc/{ESC_NAME}")],
                modified_what: vec![format!("content{ESC_NAME}")],
                added_since: vec!["/tmp/a\n  R /etc/shadow".into()],
                removed_since: vec![],
                modified_count: 1,
                added_count: 1,
                removed_count: 0,
            }))
        }
        _ => Response::Error(ErrorReply {
            kind: ErrorKind::Unavailable,
            message: format!("\x1b]0;owned\x07no display\n{FORGED}"),
        }),
    })
}

#[test]
fn escape_sequences_from_the_agent_never_reach_the_terminal_raw() {
    let pki = TestPki::new("Example");
    let alice = pki.issue_tech("alice", "tier3");
    let agent = FakeAgent::start(&pki, escape_script);
    let addr = agent.addr.to_string();
    let raw_free = |text: &str| !text.contains(['\x1b', '\x07', '\r']);

    let (ps, _) = agent.tether(&alice, &["ps", &addr]);
    let text = ps.ok();
    assert!(raw_free(text) && raw_free(&ps.stderr), "{text:?}");
    assert_eq!(text.lines().count(), 3, "header, one process, summary:\n{text}");
    assert!(text.contains("evil\\x1b[31m"), "{text}");

    let (diff, _) = agent.tether(&alice, &["restore", "diff", &addr, "P1"]);
    let text = diff.ok();
    assert!(raw_free(text), "{text:?}");
    assert_eq!(text.lines().count(), 3, "summary and two paths:\n{text}");
    assert!(text.contains("  A /tmp/a\\n  R /etc/shadow\n"), "{text}");

    let out = tempfile::tempdir().unwrap();
    let png = out.path().join("x.png");
    let (shot, _) = agent.tether(&alice, &["screenshot", &addr, "-o", png.to_str().unwrap()]);
    let line = shot.fails_with(1);
    assert!(raw_free(&line) && line.contains("\\x1b]0;owned\\x07no display\\n"), "{line}");
}

#[test]
fn an_older_agent_is_asked_nothing_it_does_not_serve() {
    use tether_proto::RequestKind;
    let pki = TestPki::new("Example");
    let alice = pki.issue_tech("alice", "tier1");
    let lacking = [RequestKind::Net, RequestKind::Monitors];
    let agent = FakeAgent::start_lacking(&pki, &lacking, |request| match request {
        Request::Call(Call::Info) => Reply::Once(Response::Error(
            tether_proto::ErrorReply::unavailable("served by the old agent"),
        )),
        other => panic!("an older agent was sent {other:?}"),
    });
    let addr = agent.addr.to_string();
    let (run, _) = agent.tether(&alice, &["monitors", &addr]);
    let line = run.fails_with(7);
    assert!(
        line.contains("this agent (tether-agent 0.1.0) does not support monitors; upgrade it"),
        "{line}"
    );
    // A check: anything that stops it from running is UNKNOWN.
    let (run, _) = agent.tether(&alice, &["net", &addr, "--tcp", "127.0.0.1:9"]);
    assert!(run.fails_with(3).contains("does not support net"), "{}", run.stderr);
    // What it does serve still reaches it.
    let (run, _) = agent.tether(&alice, &["info", &addr]);
    assert!(run.fails_with(1).contains("served by the old agent"), "{}", run.stderr);
}
