//! The viewer window itself: without a display it says so in one line
//! before asking the agent for anything, closing it ends the view, a
//! fitted view scales clicks, and a remote screen larger than the
//! technician's pans at 1:1, with clicks landing where the panned view
//! shows them.

use std::time::Duration;

use tether_tests::xvfb::Xvfb;
use tether_tests::{TestPki, Viewer, tether_as};

use tether_tests::eventually;

use super::{Clicks, technician_screen};
use crate::screen::{fill, screen_agent};

#[test]
fn without_a_display_the_viewer_says_so_in_one_line() {
    let x = Xvfb::start(320, 240);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &x.display, "");
    let tom = pki.issue_tech("tom", "tier2");
    // The harness clears the environment: no DISPLAY at all.
    let home = tempfile::tempdir().unwrap();
    let mut view = tether_as(&tom, home.path());
    view.args(["--server-name", "agent-01", "--timeout", "5", "view", &agent.addr]);
    let line = tether_tests::run(view).fails_with(1);
    assert!(line.contains("no display"), "{line}");
    // A display that is not there: one line too, no panic.
    let mut view = tether_as(&tom, home.path());
    view.env("DISPLAY", ":4077").args(["--server-name", "agent-01", "view", &agent.addr]);
    let line = tether_tests::run(view).fails_with(1);
    assert!(line.contains("cannot open the view window"), "{line}");
    // Checked before the agent was asked: no view, no consent prompt.
    let audit = agent.audit();
    assert!(audit.iter().all(|r| r.request != "control"), "{audit:#?}");
}

#[test]
fn a_larger_remote_screen_pans_at_one_to_one_and_clicks_follow_the_pan() {
    const RED: u32 = 0xff0000;
    const GREEN: u32 = 0x00ff00;
    let agent_x = Xvfb::start(640, 480);
    fill(&agent_x.display, &[(RED, 0, 0, 40, 40), (GREEN, 600, 440, 40, 40)]);
    let viewer_x = Xvfb::start(400, 300);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &agent_x.display, "");
    let tom = pki.issue_tech("tom", "tier2");

    let clicks = Clicks::watch(&agent_x.display);

    let mut viewer = Viewer::start(&tom, &viewer_x, "agent-01", &agent.addr, &["--scale", "1"]);
    agent.wait_for_audit(|r| r.request == "control" && r.outcome == "ok");

    let (mut grabber, monitor) = technician_screen(&viewer_x);
    let mut shown = |x: u32, y: u32| grabber.grab(&monitor).map(|f| f.pixel(x, y)).unwrap_or(0);
    // The window fits the technician's 400x300 screen and shows the
    // remote's top-left corner first.
    eventually(Duration::from_secs(20), "the remote's corner in the window", || {
        shown(10, 10) == RED
    });
    let id = viewer.window(&viewer_x);
    let geometry = viewer_x.xdotool(&["getwindowgeometry", "--shell", &id]);
    let value = |name: &str| -> i32 {
        geometry
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {geometry:?}"))
    };
    let (wx, wy, ww, wh) = (value("X"), value("Y"), value("WIDTH"), value("HEIGHT"));
    assert_eq!((ww, wh), (400, 300), "the window is as large as the technician's screen");
    // The title names the host, the monitor, and the rate (updated each
    // second while the view runs).
    let title = viewer_x.xdotool(&["getwindowname", &id]);
    for part in [agent.addr.as_str(), "monitor 0 640x480", " fps, ", " Mbit/s", "control"] {
        assert!(title.contains(part), "{part:?} not in the title {title:?}");
    }
    viewer_x.xdotool(&["windowfocus", "--sync", &id]);

    // The pointer in the bottom-right corner pans to the remote's.
    let corner = ((wx + ww - 1).to_string(), (wy + wh - 1).to_string());
    viewer_x.xdotool(&["mousemove", &corner.0, &corner.1]);
    eventually(Duration::from_secs(10), "the remote's far corner in the window", || {
        shown((wx + ww - 20) as u32, (wy + wh - 20) as u32) == GREEN
    });
    assert_ne!(shown(10, 10), RED, "the view moved");
    eventually(Duration::from_secs(5), "the agent's pointer at its far corner", || {
        agent_x.pointer() == (639, 479)
    });

    // Back in the middle, the pan stays and a click lands where the view
    // shows it: 240 and 180 remote pixels further.
    let middle = ((wx + 200).to_string(), (wy + 150).to_string());
    viewer_x.xdotool(&["mousemove", &middle.0, &middle.1]);
    eventually(Duration::from_secs(5), "the agent's pointer under the middle", || {
        agent_x.pointer() == (440, 330)
    });
    viewer_x.xdotool(&["click", "1"]);
    let pressed = clicks.next(Duration::from_secs(5));
    assert_eq!(pressed, Some((1, 440, 330)), "the click did not follow the pan");
    // One wheel click is one scroll step on the agent (button 5, once).
    viewer_x.xdotool(&["click", "5"]);
    let mut steps = 0;
    while let Some((button, _, _)) = clicks.next(Duration::from_secs(1)) {
        assert_eq!(button, 5, "only the wheel was used");
        steps += 1;
    }
    assert_eq!(steps, 1, "scroll steps on the agent for one wheel click");
    viewer.kill();
}

#[test]
fn a_view_only_window_pans_with_the_wheel_and_draws_the_remote_cursor() {
    const BLUE: u32 = 0x0000ff;
    const GREEN: u32 = 0x00ff00;
    let agent_x = Xvfb::start(640, 480);
    fill(&agent_x.display, &[(BLUE, 0, 0, 640, 480), (GREEN, 0, 300, 40, 100)]);
    agent_x.xdotool(&["mousemove", "600", "20"]);
    let viewer_x = Xvfb::start(400, 300);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &agent_x.display, "");
    let tina = pki.issue_tech("tina", "tier1");
    let mut viewer =
        Viewer::start(&tina, &viewer_x, "agent-01", &agent.addr, &["--view-only", "--scale", "1"]);
    let (mut grabber, monitor) = technician_screen(&viewer_x);
    let mut grab = || grabber.grab(&monitor).ok();
    eventually(Duration::from_secs(20), "the remote screen in the window", || {
        grab().is_some_and(|f| f.pixel(100, 100) == BLUE)
    });
    assert_ne!(grab().unwrap().pixel(10, 290), GREEN, "not in view before panning");

    // A wheel step down over the middle pans 48 pixels: the block below
    // the view (remote y 300 to 399) comes into it. A synthetic click (as
    // here) is one step, not two (see WheelEcho).
    let id = viewer.window(&viewer_x);
    viewer_x.xdotool(&["mousemove", "--window", &id, "200", "150"]);
    viewer_x.xdotool(&["click", "5"]);
    eventually(Duration::from_secs(10), "the panned view", || {
        grab().is_some_and(|f| f.pixel(10, 290) == GREEN && f.pixel(10, 150) == BLUE)
    });
    std::thread::sleep(Duration::from_millis(300));
    let panned = (0..300).rev().take_while(|&y| grab().unwrap().pixel(10, y) == GREEN).count();
    assert_eq!(panned, 48, "pixels panned by one wheel click");

    // The remote pointer moves under the panned view: its cursor is drawn
    // there (remote 300,200 is window 300,200 less the pan), and nothing of
    // it is left where it was.
    agent_x.xdotool(&["mousemove", "300", "200"]);
    let at = (294, 194 - panned as u32);
    let cursor_at = |f: &tether_capture::Frame, (x, y): (u32, u32)| {
        (x.saturating_sub(2)..x + 12)
            .any(|cx| (y.saturating_sub(2)..y + 12).any(|cy| f.pixel(cx, cy) != BLUE))
    };
    eventually(Duration::from_secs(10), "the remote cursor in the window", || {
        grab().is_some_and(|f| cursor_at(&f, at))
    });
    let frame = grab().unwrap();
    assert!(!cursor_at(&frame, (150, 60)), "a stray cursor in the window");
    // View only: the viewer's pointer and wheel never reached the agent.
    assert_eq!(agent_x.pointer(), (300, 200));

    // Closing the window (as a window manager asks) ends the view and the
    // viewer, successfully.
    close_window(&viewer_x.display, id.parse().expect("a window id"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while viewer.is_running() {
        if std::time::Instant::now() > deadline {
            let said = viewer.said();
            viewer.kill();
            panic!("the viewer did not end when its window was closed: {said}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(viewer.said().contains("the window was closed"), "{}", viewer.said());
    agent.wait_for_audit(|r| r.request == "view-end");
}

#[test]
fn a_fitted_view_scales_clicks_to_remote_pixels() {
    const RED: u32 = 0xff0000;
    let agent_x = Xvfb::start(640, 480);
    fill(&agent_x.display, &[(RED, 0, 0, 64, 48)]);
    let viewer_x = Xvfb::start(400, 300);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &agent_x.display, "");
    let tom = pki.issue_tech("tom", "tier2");
    let clicks = Clicks::watch(&agent_x.display);

    let mut viewer = Viewer::start(&tom, &viewer_x, "agent-01", &agent.addr, &[]);
    // 640x480 fitted into the 400x300 screen: scaled by 5/8, the red
    // 64x48 corner shows 40x30.
    let (mut grabber, monitor) = technician_screen(&viewer_x);
    eventually(Duration::from_secs(20), "the scaled corner", || {
        grabber.grab(&monitor).is_ok_and(|f| f.pixel(38, 28) == RED && f.pixel(41, 31) != RED)
    });
    let id = viewer.window(&viewer_x);
    viewer_x.xdotool(&["windowfocus", "--sync", &id]);
    viewer_x.xdotool(&["mousemove", "--window", &id, "250", "100"]);
    viewer_x.xdotool(&["click", "1"]);
    let pressed = clicks.next(Duration::from_secs(5));
    assert_eq!(pressed, Some((1, 400, 160)), "window 250,100 is remote 400,160");
    viewer.kill();
}

#[test]
fn a_tier1_technician_gets_a_view_only_window_and_is_told_why() {
    let agent_x = Xvfb::start(320, 240);
    let viewer_x = Xvfb::start(400, 300);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &agent_x.display, "");
    let tina = pki.issue_tech("tina", "tier1");
    let mut viewer = Viewer::start(&tina, &viewer_x, "agent-01", &agent.addr, &[]);
    // Granted as a view, not denied as control.
    let granted = agent.wait_for_audit(|r| r.request == "view" && r.outcome == "ok");
    assert_eq!(granted.role.as_deref(), Some("tier1"));
    assert!(!agent.audit().iter().any(|r| r.request == "control"), "control was asked for");
    let said = viewer.said();
    assert!(
        said.contains(
            "your certificate is tier1; control needs tier 2, so the view opens view-only"
        ),
        "{said}"
    );
    viewer.kill();
}

/// Sends `window` the WM_DELETE_WINDOW message a window manager sends for
/// its close button.
fn close_window(display: &str, window: u32) {
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt as _, EventMask};
    let (conn, _) = x11rb::connect(Some(display)).unwrap();
    let atom = |name: &str| conn.intern_atom(false, name.as_bytes()).unwrap().reply().unwrap().atom;
    let (protocols, delete) = (atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW"));
    let message = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
    conn.send_event(false, window, EventMask::NO_EVENT, message).unwrap();
    // A round trip before this connection closes: a client that sends and
    // disconnects at once may have its last request dropped by the X
    // server (without it, this close was lost in 9 of 12 runs under load;
    // that was the "lost close request" of issue 15, not the viewer).
    conn.get_input_focus().unwrap().reply().unwrap();
}
