//! The live view: frames reach the controller and stop when nothing
//! changes; the real viewer window, on a second X server, shows the agent's
//! screen, its clicks land on the agent's display, and a key it holds is
//! released once the controller is killed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tether_capture::Backend;
use tether_proto::handshake::Hello;
use tether_proto::{Request, ViewRequest};
use tether_tests::TestPki;
use tether_tests::xvfb::Xvfb;
use tether_tests::{Viewer, eventually};
use tether_transport::Client;
use tether_view::{ViewState, stream};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, EventMask, WindowClass};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use crate::raw;
use crate::screen::{PATTERN, expected, fill, keys_down, screen_agent};

mod keyboard;
mod window;
mod wire;

/// Records the clicks on a display through an input-only window over its
/// whole screen, which covers nothing that is drawn.
pub(crate) struct Clicks(RustConnection);

impl Clicks {
    pub(crate) fn watch(display: &str) -> Clicks {
        let (conn, screen) = x11rb::connect(Some(display)).unwrap();
        let root = &conn.setup().roots[screen];
        let (root, width, height) = (root.root, root.width_in_pixels, root.height_in_pixels);
        let win = conn.generate_id().unwrap();
        let aux = CreateWindowAux::new().event_mask(EventMask::BUTTON_PRESS);
        conn.create_window(0, win, root, 0, 0, width, height, 0, WindowClass::INPUT_ONLY, 0, &aux)
            .unwrap();
        conn.map_window(win).unwrap();
        conn.sync().unwrap();
        Clicks(conn)
    }

    /// The next button press as (button, x, y), waiting up to `timeout`.
    pub(crate) fn next(&self, timeout: Duration) -> Option<(u8, i16, i16)> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.0.poll_for_event().unwrap() {
                Some(Event::ButtonPress(e)) => return Some((e.detail, e.event_x, e.event_y)),
                Some(_) => {}
                None if Instant::now() >= deadline => return None,
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// A view-only stream from an in-process controller to `agent`'s
/// display as `tech`, decoded into `state`.
pub(crate) struct OpenView {
    pub(crate) client: Client,
    pub(crate) start: tether_proto::screen::ViewStart,
    pub(crate) state: std::sync::Arc<ViewState>,
    /// The stream, until it ends (with why).
    pub(crate) streaming: tokio::task::JoinHandle<Result<String, tether_view::ViewError>>,
    _endpoint: quinn::Endpoint,
    /// Kept open: the stream ends when the input channel closes.
    _input: tokio::sync::mpsc::UnboundedSender<tether_proto::screen::InputEvent>,
}

impl OpenView {
    pub(crate) async fn start(
        agent: &tether_tests::Agent,
        tech: &tether_tests::Identity,
        ticket: Option<&str>,
    ) -> OpenView {
        let addr: SocketAddr = agent.addr.parse().unwrap();
        let endpoint = raw::endpoint_with(tech, addr);
        let hello = Hello::new("view test", ticket.map(str::to_owned));
        let client = Client::connect(&endpoint, addr, "agent-01", &hello, Duration::from_secs(5))
            .await
            .unwrap();
        let request = Request::View(ViewRequest { monitor: None, control: false, max_fps: 30 });
        let (start, send, recv) = client.open_view(&request, Duration::from_secs(5)).await.unwrap();
        let state = ViewState::new(&start);
        let (input, input_rx) = tokio::sync::mpsc::unbounded_channel();
        let streaming = tokio::spawn(stream::run(state.clone(), send, recv, input_rx));
        OpenView { client, start, state, streaming, _endpoint: endpoint, _input: input }
    }
}

#[test]
fn changes_reach_the_controller_and_an_idle_screen_sends_nothing() {
    let x = Xvfb::start(320, 240);
    fill(&x.display, &PATTERN);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &x.display, "");
    let tina = pki.issue_tech("tina", "tier1");
    let rt = raw::runtime();
    rt.block_on(async {
        let view = OpenView::start(&agent, &tina, None).await;
        let (state, mut frames) = (view.state.clone(), view.state.subscribe());
        assert_eq!((view.start.monitor.width, view.start.monitor.height), (320, 240));
        assert!(!view.start.control);

        // The first frame is the screen, exactly.
        frames.changed().await.unwrap();
        {
            let screen = state.screen();
            let frame = screen.frame.as_ref().expect("a first frame");
            for (y, row) in frame.pixels().chunks(320).enumerate() {
                for (x, &p) in row.iter().enumerate() {
                    assert_eq!(p, expected(x as u32, y as u32), "pixel {x},{y}");
                }
            }
        }

        // Nothing changes: nothing is sent.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = state.totals();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(state.totals(), before, "an idle screen sent frames");

        // A change drawn on the agent's display reaches the controller.
        fill(&x.display, &[(0xabcdef, 200, 100, 30, 20)]);
        let arrived = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                frames.changed().await.unwrap();
                let screen = state.screen();
                if screen.frame.as_ref().is_some_and(|f| f.pixel(215, 110) == 0xabcdef) {
                    break;
                }
            }
        })
        .await;
        assert!(arrived.is_ok(), "the change never reached the controller");
        {
            let screen = state.screen();
            let frame = screen.frame.as_ref().unwrap();
            assert_eq!(frame.pixel(199, 110), expected(199, 110), "only the change changed");
            assert_eq!(frame.pixel(0, 0), 0xff0000);
            assert!(screen.cursor.is_some(), "the cursor shape is sent");
        }

        // The pointer moves without damaging the screen; it is sent anyway.
        x.xdotool(&["mousemove", "77", "66"]);
        let moved = tokio::time::timeout(Duration::from_secs(5), async {
            while state.screen().pointer != Some((77, 66)) {
                frames.changed().await.unwrap();
            }
        })
        .await;
        assert!(moved.is_ok(), "the pointer position never arrived");

        // The screen shrinks mid-session: the controller follows the new
        // size, and changes on it arrive.
        x.run("xrandr", "x11-xserver-utils", &["--output", "screen", "--off", "--fb", "200x150"]);
        let resized = tokio::time::timeout(Duration::from_secs(10), async {
            while state.screen().monitor.width != 200 {
                frames.changed().await.unwrap();
            }
        })
        .await;
        assert!(resized.is_ok(), "the resolution change never reached the controller");
        fill(&x.display, &[(0x123456, 150, 100, 10, 10)]);
        let drawn = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                frames.changed().await.unwrap();
                let screen = state.screen();
                if screen.frame.as_ref().is_some_and(|f| {
                    (f.width(), f.height()) == (200, 150) && f.pixel(155, 105) == 0x123456
                }) {
                    break;
                }
            }
        })
        .await;
        assert!(drawn.is_ok(), "a change after the resize never arrived");
    });
    agent.wait_for_audit(|r| r.request == "view" && r.outcome == "ok");
}

/// Finds the pattern's red block (top-left at the pattern's 0,0) on a grab.
/// A grabber of the technician's screen `x` and its only monitor: what
/// the viewer window shows, as a person would see it.
pub(crate) fn technician_screen(
    x: &Xvfb,
) -> (Box<dyn tether_capture::Capturer>, tether_capture::MonitorInfo) {
    let mut grabber = tether_capture::open(Backend::X11, Some(&x.display)).unwrap();
    let monitor = grabber.monitors().unwrap().remove(0);
    (grabber, monitor)
}

fn find_pattern(frame: &tether_capture::Frame) -> Option<(u32, u32)> {
    let (w, h) = (frame.width(), frame.height());
    for y in 0..h.saturating_sub(240) {
        for x in 0..w.saturating_sub(320) {
            let left_ok = x == 0 || frame.pixel(x - 1, y) != 0xff0000;
            let up_ok = y == 0 || frame.pixel(x, y - 1) != 0xff0000;
            if frame.pixel(x, y) == 0xff0000 && left_ok && up_ok {
                let all = (0..240)
                    .all(|dy| (0..320).all(|dx| frame.pixel(x + dx, y + dy) == expected(dx, dy)));
                if all {
                    return Some((x, y));
                }
            }
        }
    }
    None
}

#[test]
fn the_viewer_window_shows_the_screen_forwards_clicks_and_keys_are_released_when_it_dies() {
    let agent_x = Xvfb::start(320, 240);
    fill(&agent_x.display, &PATTERN);
    let viewer_x = Xvfb::start(800, 600);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &agent_x.display, "");
    let tom = pki.issue_tech("tom", "tier2");

    let clicks = Clicks::watch(&agent_x.display);

    let mut viewer = Viewer::start(&tom, &viewer_x, "agent-01", &agent.addr, &["--scale", "1"]);
    agent.wait_for_audit(|r| r.request == "control" && r.outcome == "ok");

    // The window shows the agent's screen pixel for pixel.
    let (mut grabber, monitor) = technician_screen(&viewer_x);
    let mut origin = None;
    eventually(Duration::from_secs(20), "the pattern in the viewer window", || {
        origin = grabber.grab(&monitor).ok().and_then(|f| find_pattern(&f));
        origin.is_some()
    });
    let (ox, oy) = origin.unwrap();

    // Focus the window and click into it: the click lands on the agent's
    // display at the same place.
    let id = viewer.window(&viewer_x);
    viewer_x.xdotool(&["windowfocus", "--sync", &id]);
    let (cx, cy) = (150, 100);
    viewer_x.xdotool(&["mousemove", &(ox + cx).to_string(), &(oy + cy).to_string()]);
    eventually(Duration::from_secs(5), "the pointer on the agent", || {
        agent_x.pointer() == (150, 100)
    });
    // A zero-length click, faster than any window frame: the viewer
    // forwards button events, not sampled button state, so it still lands.
    viewer_x.xdotool(&["click", "1"]);
    let pressed = clicks.next(Duration::from_secs(5));
    assert_eq!(pressed, Some((1, 150, 100)), "the click did not land on the agent");

    // Hold Shift in the viewer: it is held on the agent. Kill the viewer:
    // the agent releases it within the heartbeat timeout.
    viewer_x.xdotool(&["keydown", "shift"]);
    eventually(Duration::from_secs(5), "Shift down on the agent", || {
        !keys_down(&agent_x.display).is_empty()
    });
    viewer.kill();
    let killed = Instant::now();
    eventually(Duration::from_secs(10), "held keys released", || {
        keys_down(&agent_x.display).is_empty()
    });
    let released_after = killed.elapsed();
    assert!(released_after < Duration::from_secs(8), "released only after {released_after:?}");
    // The view ends once the viewer has been silent for two heartbeat
    // timeouts, which frees the control slot for the technician's next try.
    let end = agent.wait_for_audit_within(|r| r.request == "control-end", Duration::from_secs(12));
    assert!(end.detail.contains("the viewer went silent"), "{}", end.detail);
    assert!(end.detail.contains("released"), "{}", end.detail);
    assert!(end.detail.contains("1 clicks"), "{}", end.detail);
    assert!(killed.elapsed() < Duration::from_secs(10), "view ended after {:?}", killed.elapsed());
    agent.tether(&tom, &["input", &agent.addr, "--move", "10,10"]).ok();
    // The session itself ends at the QUIC idle timeout, in the agent's words.
    let session = end.session.clone();
    let gone = agent.wait_for_audit_within(
        |r| r.request == "session-end" && r.session == session,
        Duration::from_secs(25),
    );
    assert!(gone.detail.contains("the controller went silent"), "{}", gone.detail);
    assert!(
        killed.elapsed() < Duration::from_secs(22),
        "session ended after {:?}",
        killed.elapsed()
    );
}

#[test]
fn the_local_admin_lists_and_ends_a_viewing_session() {
    let x = Xvfb::start(320, 240);
    let pki = TestPki::new("Example");
    let notes = tempfile::tempdir().unwrap();
    let log = notes.path().join("notify.log");
    let script = format!(
        "echo \"$TETHER_EVENT $TETHER_CAPABILITY $TETHER_TECHNICIAN $TETHER_TICKET\" >> '{}'",
        log.display()
    );
    let extra = format!("[consent]\nnotify_command = [\"/bin/sh\", \"-c\", {script:?}]\n");
    let agent = screen_agent(&pki, &x.display, &extra);
    let tina = pki.issue_tech("tina", "tier1");
    let config = agent.config.clone();
    let admin = move |args: &[&str]| {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = tether_tests::command("tether-agent", home.path());
        cmd.arg("sessions").args(args).arg("--config").arg(&config);
        tether_tests::run(cmd)
    };
    let rt = raw::runtime();
    rt.block_on(async {
        // Held whole: its input channel and endpoint keep the view open.
        let view = OpenView::start(&agent, &tina, Some("INC-42")).await;

        let lister = admin.clone();
        let listed =
            tokio::task::spawn_blocking(move || lister(&["list", "--json"]).ok().to_owned());
        let list: serde_json::Value = serde_json::from_str(&listed.await.unwrap()).unwrap();
        let session = &list[0];
        assert_eq!(session["technician"], "tina");
        assert_eq!(session["ticket"], "INC-42");
        assert_eq!(session["activities"], serde_json::json!(["view"]));
        let id = session["id"].as_str().unwrap().to_owned();

        let ender = admin.clone();
        let ended = tokio::task::spawn_blocking(move || {
            ender(&["end", &id, "--reason", "user asked"]).ok().to_owned()
        });
        assert!(ended.await.unwrap().contains("ended session"));
        // The controller learns why.
        let end = tokio::time::timeout(Duration::from_secs(5), view.streaming).await;
        assert!(end.is_ok(), "the view did not end");
        let reason = view.client.connection().close_reason().expect("closed");
        assert!(format!("{reason}").contains("user asked"), "{reason}");
    });
    let record = agent.wait_for_audit(|r| r.request == "admin-end");
    assert_eq!(record.detail, "user asked");
    assert_eq!(record.technician.as_deref(), Some("tina"));
    agent.wait_for_audit(|r| r.request == "view-end");
    assert!(admin(&["end", "nope"]).fails_with(1).contains("no live session"));
    // The user was told when the view started and ended.
    eventually(Duration::from_secs(5), "the end notification", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 2)
    });
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start view tina INC-42\nend view tina INC-42\n"
    );
}
