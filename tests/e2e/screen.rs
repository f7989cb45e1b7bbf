//! Screen and input over the real transport, against real X servers:
//! screenshots are pixel-exact, changes reach the controller, input lands
//! where it was sent, typed text arrives byte for byte, and tiers and
//! consent are enforced and audited.

use std::path::Path;
use std::time::{Duration, Instant};

use tether_tests::xvfb::{self, Xvfb};
use tether_tests::{Agent, AgentSetup, TestPki, eventually};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::ConnectionExt as _;

/// The test pattern: (colour, x, y, width, height) on a black screen.
pub const PATTERN: [(u32, i16, i16, u16, u16); 5] = [
    (0xff0000, 0, 0, 40, 30),
    (0x00ff00, 40, 0, 40, 30),
    (0x0000ff, 0, 30, 80, 10),
    (0x102030, 100, 50, 7, 3),
    (0xfefefe, 319, 239, 1, 1),
];

/// The pattern's colour at (x, y).
pub fn expected(x: u32, y: u32) -> u32 {
    PATTERN
        .iter()
        .rev()
        .find(|(_, rx, ry, w, h)| {
            let (rx, ry) = (*rx as u32, *ry as u32);
            x >= rx && x < rx + u32::from(*w) && y >= ry && y < ry + u32::from(*h)
        })
        .map_or(0, |p| p.0)
}

/// Fills rectangles `(colour, x, y, width, height)` of the root window of
/// `display` and waits until they are drawn.
pub fn fill(display: &str, rects: &[(u32, i16, i16, u16, u16)]) {
    let (conn, screen) = x11rb::connect(Some(display)).expect("connect");
    let root = conn.setup().roots[screen].root;
    let rects: Vec<_> = rects.iter().map(|&(c, x, y, w, h)| (c, xvfb::rect(x, y, w, h))).collect();
    xvfb::fill(&conn, root, &rects);
}

/// An agent serving `display`, with extra config.
pub fn screen_agent(pki: &TestPki, display: &str, extra: &str) -> Agent {
    let extra = format!("{extra}\n[screen]\ndisplay = {display:?}\n");
    Agent::start(AgentSetup { pki, name: "agent-01", extra: &extra })
}

fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn screenshot_is_pixel_exact_and_tiers_apply() {
    let x = Xvfb::start(320, 240);
    fill(&x.display, &PATTERN);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &x.display, "");
    let t1 = pki.issue_tech("tina", "tier1");
    let out = tempfile::tempdir().unwrap();
    let shot = out.path().join("shot.png");
    let run =
        agent.tether(&t1, &["screenshot", &agent.addr, "-o", shot.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_str(run.ok()).unwrap();
    assert_eq!((report["width"].as_u64(), report["height"].as_u64()), (Some(320), Some(240)));
    let (w, h, rgb) = read_png(&shot);
    assert_eq!((w, h), (320, 240));
    let mut wrong = 0;
    for y in 0..h {
        for x in 0..w {
            let i = ((y * w + x) * 3) as usize;
            let got = u32::from_be_bytes([0, rgb[i], rgb[i + 1], rgb[i + 2]]);
            if got != expected(x, y) {
                wrong += 1;
            }
        }
    }
    assert_eq!(wrong, 0, "pixels differing from the pattern");
    agent.wait_for_audit(|r| r.request == "screenshot" && r.outcome == "ok");

    // The monitor list.
    let monitors = agent.tether(&t1, &["monitors", &agent.addr, "--json"]);
    let list: serde_json::Value = serde_json::from_str(monitors.ok()).unwrap();
    assert_eq!(list[0]["width"], 320);

    // Tier 1 may look but not touch: input is denied and audited.
    let denied = agent.tether(&t1, &["input", &agent.addr, "--type", "secret"]);
    let err = denied.fails_with(6);
    assert!(err.contains("control needs tier 2"), "{err}");
    let record = agent.wait_for_audit(|r| r.request == "control" && r.outcome == "denied");
    assert!(!record.args.contains("secret"), "typed text must not be audited: {}", record.args);
    assert!(record.args.contains("6 characters"), "{}", record.args);
    // A monitor that does not exist is named.
    let none = agent.tether(&t1, &["screenshot", &agent.addr, "-o", "/dev/null", "--monitor", "3"]);
    assert!(none.fails_with(1).contains("no monitor 3"));
}

#[test]
fn input_lands_where_sent_and_text_arrives_byte_for_byte() {
    let x = Xvfb::start(640, 480);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &x.display, "");
    let t2 = pki.issue_tech("tom", "tier2");

    agent.tether(&t2, &["input", &agent.addr, "--move", "123,45"]).ok();
    assert_eq!(x.pointer(), (123, 45));

    // An xterm running `cat > file`; a click gives it the focus.
    let dir = tempfile::tempdir().unwrap();
    let typed = dir.path().join("typed.txt");
    let script = format!("cat > '{}'", typed.display());
    let mut xterm = x.xterm("80x10+0+0", &script);
    eventually(Duration::from_secs(20), "cat in the xterm", || typed.exists());
    std::thread::sleep(Duration::from_millis(300));
    let text = "Hello World! 123 (a+b=c) <>_~ \"quotes\" äöü €";
    agent
        .tether(
            &t2,
            &["input", &agent.addr, "--click", "100,50", "--type", text, "--keys", "enter"],
        )
        .ok();
    agent.tether(&t2, &["input", &agent.addr, "--keys", "ctrl+d"]).ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(_)) = xterm.0.try_wait() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cat did not end on Ctrl+D; typed so far: {:?}",
            std::fs::read_to_string(&typed)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&typed).unwrap(), format!("{text}\n"));
    let record = agent.wait_for_audit(|r| r.request == "control" && r.args.contains("characters"));
    assert!(!record.args.contains("Hello"), "typed text must not be audited");
    // Nothing is left held on the display.
    assert_no_keys_down(&x.display);
}

/// Asserts that X's keymap shows no key down.
pub fn assert_no_keys_down(display: &str) {
    let down = keys_down(display);
    assert!(down.is_empty(), "keys still down: {down:?}");
}

/// Keycodes X reports as down.
pub fn keys_down(display: &str) -> Vec<u32> {
    let (conn, _) = x11rb::connect(Some(display)).expect("connect");
    let keys = conn.query_keymap().unwrap().reply().unwrap().keys;
    (0..256u32).filter(|k| keys[(k / 8) as usize] & (1 << (k % 8)) != 0).collect()
}

#[test]
fn consent_prompt_allows_denies_and_times_out() {
    let x = Xvfb::start(320, 240);
    let pki = TestPki::new("Example");
    let dir = tempfile::tempdir().unwrap();
    let answer = dir.path().join("answer");
    // The prompt answers what the file says; "wait" never answers.
    let script = format!(
        "a=$(cat '{0}'); test \"$a\" = wait && sleep 30; test \"$a\" = yes && test \"$TETHER_TECHNICIAN\" = tina && test \"$TETHER_CAPABILITY\" = view",
        answer.display()
    );
    let extra = format!(
        "[consent]\nview = \"prompt\"\nprompt_command = [\"/bin/sh\", \"-c\", {script:?}]\nprompt_timeout_secs = 1\n"
    );
    let agent = screen_agent(&pki, &x.display, &extra);
    let t1 = pki.issue_tech("tina", "tier1");
    let shoot = || agent.tether(&t1, &["screenshot", &agent.addr, "-o", "/dev/null"]);

    std::fs::write(&answer, "yes").unwrap();
    shoot().ok();
    agent.wait_for_audit(|r| r.request == "screenshot" && r.detail.contains("allowed by the user"));

    std::fs::write(&answer, "no").unwrap();
    assert!(shoot().fails_with(6).contains("the user declined view"));

    std::fs::write(&answer, "wait").unwrap();
    assert!(shoot().fails_with(6).contains("did not answer"));
    let denials = agent
        .audit()
        .into_iter()
        .filter(|r| r.request == "screenshot" && r.outcome == "denied")
        .count();
    assert_eq!(denials, 2);
}

#[test]
fn the_scrap_backend_serves_the_same_pixels() {
    let x = Xvfb::start(320, 240);
    fill(&x.display, &PATTERN);
    let pki = TestPki::new("Example");
    let extra = format!("[screen]\ndisplay = {:?}\nbackend = \"scrap\"\n", x.display);
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let t1 = pki.issue_tech("tina", "tier1");
    let out = tempfile::tempdir().unwrap();
    let shot = out.path().join("shot.png");
    agent.tether(&t1, &["screenshot", &agent.addr, "-o", shot.to_str().unwrap()]).ok();
    let (w, h, rgb) = read_png(&shot);
    assert_eq!((w, h), (320, 240));
    let differing = (0..w * h)
        .filter(|i| {
            let p = (*i * 3) as usize;
            u32::from_be_bytes([0, rgb[p], rgb[p + 1], rgb[p + 2]]) != expected(i % w, i / w)
        })
        .count();
    assert_eq!(differing, 0, "pixels differing from the pattern through scrap");
    // The intent record comes first; the outcome follows it.
    let record = agent.wait_for_audit(|r| r.request == "screenshot" && r.outcome != "started");
    assert_eq!(record.outcome, "ok");
}

#[test]
fn the_user_is_notified_of_one_shot_screenshots_and_input() {
    let x = Xvfb::start(320, 240);
    let pki = TestPki::new("Example");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("notify.log");
    let script = format!("echo \"$TETHER_EVENT $TETHER_CAPABILITY\" >> '{}'", log.display());
    let extra = format!("[consent]\nnotify_command = [\"/bin/sh\", \"-c\", {script:?}]\n");
    let agent = screen_agent(&pki, &x.display, &extra);
    let tom = pki.issue_tech("tom", "tier2");
    agent.tether(&tom, &["screenshot", &agent.addr, "-o", "/dev/null"]).ok();
    agent.tether(&tom, &["input", &agent.addr, "--move", "5,5"]).ok();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    // Notify commands run in the background, so their lines may swap.
    let lines = || {
        let mut l: Vec<String> =
            std::fs::read_to_string(&log).unwrap_or_default().lines().map(String::from).collect();
        l.sort();
        l
    };
    while lines() != ["once control", "once view"] {
        assert!(
            std::time::Instant::now() < deadline,
            "notify log: {:?}",
            std::fs::read_to_string(&log)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
