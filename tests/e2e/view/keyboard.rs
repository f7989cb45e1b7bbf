//! Keyboard fidelity through the real viewer window: typing at any speed
//! arrives byte for byte, holding a system combination sends it once, and
//! a clipboard-sized `tether input --type` arrives whole.
//!
//! The viewer runs on its own Xvfb; xdotool types into its window there
//! (real XTEST key events, as a person's keyboard makes them) and an xterm
//! running `cat > FILE` on the agent's Xvfb records what arrived.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tether_tests::xvfb::Xvfb;
use tether_tests::{Agent, Identity, Reaped, TestPki, Viewer, eventually, tether_as};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, EventMask, InputFocus};
use x11rb::protocol::xproto::{Keycode, WindowClass};
use x11rb::wrapper::ConnectionExt as _;

use crate::screen::{assert_no_keys_down, keys_down, screen_agent};

/// 200 characters: letters, digits, and the punctuation that garbles a
/// shell line when lost or reordered (`&`, `>`, `?`, quotes, spaces).
const TEXT: &str = "Hi Tom & team: is 3 > 2? Yes! \"Quoted\" and 'single' text, (parens) [brackets] {braces} <angles> a|b ~tilde `tick` ^caret #hash $5.00 100% *star* _under_ +plus -minus =eq; back\\slash/ OK 0123456789 end";

/// A controlling viewer on its own display, its window focused.
struct FocusedViewer {
    /// Declared first, so the viewer goes before its X server.
    _viewer: Viewer,
    x: Xvfb,
    /// The viewer window's id on `x`.
    window: String,
}

impl FocusedViewer {
    fn start(agent: &Agent, tech: &Identity) -> FocusedViewer {
        let x = Xvfb::start(800, 600);
        let viewer = Viewer::start(tech, &x, "agent-01", &agent.addr, &["--scale", "1"]);
        agent.wait_for_audit(|r| r.request == "control" && r.outcome == "ok");
        let window = viewer.window(&x);
        x.xdotool(&["windowfocus", "--sync", &window]);
        FocusedViewer { _viewer: viewer, x, window }
    }

    /// Types `text` into the viewer window, `delay_ms` per key, then Return.
    fn type_line(&self, text: &str, delay_ms: u32) {
        let delay = delay_ms.to_string();
        self.x.xdotool(&["windowfocus", "--sync", &self.window]);
        self.x.xdotool(&["type", "--delay", &delay, "--", text]);
        self.x.xdotool(&["key", "--delay", &delay, "Return"]);
    }
}

/// An xterm on `x` running `cat > FILE`, with the keyboard focus.
struct Cat {
    _xterm: Reaped,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cat {
    fn start(x: &Xvfb) -> Cat {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("typed.txt");
        // Not canonical: cat gets (and writes) every character as it
        // arrives, so a lost Return cannot hide what did arrive.
        let script = format!("stty -icanon; cat > '{}'", file.display());
        let xterm = x.xterm("100x20+0+0", &script);
        eventually(Duration::from_secs(20), "cat in the xterm", || file.exists());
        // This xterm's window, not another test step's.
        let pid = xterm.pid().to_string();
        let id = x.xdotool(&["search", "--sync", "--pid", &pid, "--class", "xterm"]);
        let id = id.lines().next().expect("the xterm window").trim().to_owned();
        x.xdotool(&["windowfocus", "--sync", &id]);
        std::thread::sleep(Duration::from_millis(300));
        Cat { _xterm: xterm, file, _dir: dir }
    }

    /// What cat has written once `lines` lines have arrived, or once
    /// nothing more has arrived for 2 s (for the failure message).
    fn lines(&self, lines: usize) -> String {
        let mut last = (String::new(), Instant::now());
        loop {
            let text = std::fs::read_to_string(&self.file).unwrap_or_default();
            if text.matches('\n').count() >= lines || last.1.elapsed() > Duration::from_secs(2) {
                return text;
            }
            if text != last.0 {
                last = (text, Instant::now());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How many characters of `sent` are missing from `got`: the length of
/// `sent` less their longest common subsequence.
fn lost(sent: &str, got: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (sent.chars().collect(), got.chars().collect());
    let mut row = vec![0usize; b.len() + 1];
    for ca in &a {
        let mut diagonal = 0;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb { diagonal + 1 } else { above.max(row[j]) };
            diagonal = above;
        }
    }
    a.len() - row[b.len()]
}

#[test]
fn typing_through_the_viewer_loses_nothing_repeats_remotely_and_keeps_non_ascii() {
    assert_eq!(TEXT.chars().count(), 200);
    let agent_x = Xvfb::start(800, 400);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &agent_x.display, "");
    let tom = pki.issue_tech("tom", "tier2");
    let viewer = FocusedViewer::start(&agent, &tom);

    let mut report = Vec::new();
    // 0: as fast as xdotool can send them, far faster than anyone types.
    for delay in [0, 5, 30] {
        // A fresh xterm each time, so one round's losses cannot shift the
        // next one's text.
        let cat = Cat::start(&agent_x);
        viewer.type_line(TEXT, delay);
        let got = cat.lines(1);
        let missing = lost(&format!("{TEXT}\n"), &got);
        eprintln!("typed at {delay} ms per key: {missing} of 201 keys lost, got {got:?}");
        report.push((delay, missing, got));
    }
    for (delay, missing, got) in &report {
        assert_eq!(
            (missing, got.as_str()),
            (&0, format!("{TEXT}\n").as_str()),
            "typed at {delay} ms per key through the viewer: {missing} of 201 lost"
        );
    }
    // A key held in the viewer is held on the agent, whose own system
    // repeats it (the viewer's local repeats are dropped): holding x for
    // 1.5 s types a row of x, as at a local keyboard.
    let cat = Cat::start(&agent_x);
    viewer.x.xdotool(&["keydown", "x"]);
    std::thread::sleep(Duration::from_millis(1500));
    viewer.x.xdotool(&["keyup", "x"]);
    viewer.x.xdotool(&["key", "Return"]);
    let held = cat.lines(1);
    let repeats = held.trim_end_matches('\n');
    assert!(repeats.chars().all(|c| c == 'x'), "{held:?}");
    assert!(repeats.len() >= 5, "the agent's system did not repeat the held key: {held:?}");
    drop(cat);

    // Characters that are not ASCII, from a technician's keyboard that has
    // them (a German/Nordic/Spanish layout), arrive as the text typed, on
    // an agent whose US keymap lacks them (the agent binds spare keycodes).
    // The technician's keymap gets the keys first: were they missing,
    // xdotool would bind a scratch keycode per character and unbind it
    // right after the key event, and a loaded viewer that reads the new
    // keymap only after the unbinding sees a key with no symbol; a real
    // keyboard never changes its keymap between press and release.
    // (No capitals outside the keymap: xdotool itself types Ø as ø.)
    bind_spare_keycodes(&viewer.x, &["udiaeresis", "ssharp", "oslash", "EuroSign", "ntilde"]);
    let cat = Cat::start(&agent_x);
    let foreign = "Grüße, øre: €5 ñ";
    viewer.type_line(foreign, 30);
    assert_eq!(cat.lines(1), format!("{foreign}\n"), "non-ASCII text through the viewer");
    drop(viewer);
    eventually(Duration::from_secs(10), "keys released after the viewer", || {
        keys_down(&agent_x.display).is_empty()
    });
}

/// Binds each keysym to a keycode `x`'s keymap leaves empty, highest
/// first, as a layout with those keys would.
fn bind_spare_keycodes(x: &Xvfb, keysyms: &[&str]) {
    let table = x.run("xmodmap", "x11-xserver-utils", &["-pke"]);
    let table = String::from_utf8_lossy(&table.stdout);
    let mut spare = table.lines().rev().filter_map(|line| {
        let (code, syms) = line.strip_prefix("keycode")?.split_once('=')?;
        syms.trim().is_empty().then(|| code.trim().to_owned())
    });
    for keysym in keysyms {
        let code = spare.next().expect("a spare keycode");
        x.run("xmodmap", "x11-xserver-utils", &["-e", &format!("keycode {code} = {keysym}")]);
    }
}

/// Keycodes of `display` whose keysyms include `keysym`.
fn keycodes_of(conn: &impl Connection, keysym: u32) -> Vec<Keycode> {
    let setup = conn.setup();
    let (min, max) = (setup.min_keycode, setup.max_keycode);
    let map = conn.get_keyboard_mapping(min, max - min + 1).unwrap().reply().unwrap();
    let per = usize::from(map.keysyms_per_keycode);
    map.keysyms
        .chunks(per)
        .enumerate()
        .filter(|(_, syms)| syms.contains(&keysym))
        .map(|(i, _)| min + i as u8)
        .collect()
}

#[test]
fn holding_ctrl_alt_end_in_the_viewer_sends_ctrl_alt_delete_once_and_focus_loss_releases() {
    const XK_DELETE: u32 = 0xffff;
    const XK_END: u32 = 0xff57;
    let agent_x = Xvfb::start(320, 240);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &agent_x.display, "");
    let tom = pki.issue_tech("tom", "tier2");

    // A window with the agent display's focus counts the key presses that
    // reach it: what the remote desktop would see.
    let (observer, screen) = x11rb::connect(Some(&agent_x.display)).unwrap();
    let root = observer.setup().roots[screen].root;
    let win = observer.generate_id().unwrap();
    let aux = CreateWindowAux::new().event_mask(EventMask::KEY_PRESS | EventMask::KEY_RELEASE);
    observer
        .create_window(0, win, root, 0, 0, 320, 240, 0, WindowClass::INPUT_OUTPUT, 0, &aux)
        .unwrap();
    observer.map_window(win).unwrap();
    observer.sync().unwrap();
    observer.set_input_focus(InputFocus::PARENT, win, x11rb::CURRENT_TIME).unwrap();
    observer.sync().unwrap();
    let deletes = keycodes_of(&observer, XK_DELETE);
    let ends = keycodes_of(&observer, XK_END);
    assert!(!deletes.is_empty(), "no Delete key in the agent's keymap");

    let viewer = FocusedViewer::start(&agent, &tom);
    // Auto-repeat on the viewer's display, fast: a held End repeats there
    // about 50 times in 2 s, as a technician's desktop would.
    viewer.x.run("xset", "x11-xserver-utils", &["r", "on", "r", "rate", "200", "30"]);
    viewer.x.xdotool(&["windowfocus", "--sync", &viewer.window]);
    viewer.x.xdotool(&["keydown", "ctrl+alt+End"]);
    std::thread::sleep(Duration::from_secs(2));
    viewer.x.xdotool(&["keyup", "End+alt+ctrl"]);
    std::thread::sleep(Duration::from_secs(1));

    let (mut delete_presses, mut end_presses, mut other_presses) = (0, 0, 0);
    while let Some(event) = observer.poll_for_event().unwrap() {
        if let Event::KeyPress(e) = event {
            if deletes.contains(&e.detail) {
                delete_presses += 1;
            } else if ends.contains(&e.detail) {
                end_presses += 1;
            } else {
                other_presses += 1;
            }
        }
    }
    assert_eq!(delete_presses, 1, "Ctrl+Alt+Delete presses on the agent's display");
    assert_eq!(end_presses, 0, "End itself reached the agent");
    assert!(other_presses >= 2, "Ctrl and Alt did not reach the agent ({other_presses} presses)");
    eventually(Duration::from_secs(5), "Ctrl and Alt released", || {
        keys_down(&agent_x.display).is_empty()
    });

    // Shift held in the viewer is held on the agent until the viewer
    // loses the focus, though it is still down on the technician's side.
    viewer.x.xdotool(&["keydown", "shift"]);
    eventually(Duration::from_secs(5), "Shift down on the agent", || {
        !keys_down(&agent_x.display).is_empty()
    });
    let (conn, _) = x11rb::connect(Some(&viewer.x.display)).unwrap();
    conn.set_input_focus(InputFocus::NONE, x11rb::NONE, x11rb::CURRENT_TIME).unwrap();
    conn.sync().unwrap();
    eventually(Duration::from_secs(5), "everything released on focus loss", || {
        keys_down(&agent_x.display).is_empty()
    });
    assert!(!keys_down(&viewer.x.display).is_empty(), "Shift is still down locally");
    viewer.x.xdotool(&["keyup", "shift"]);
    drop(viewer);
}

#[test]
fn a_clipboard_sized_paste_through_tether_input_arrives_whole() {
    let agent_x = Xvfb::start(800, 400);
    let pki = TestPki::new("Example");
    let agent = screen_agent(&pki, &agent_x.display, "");
    let tom = pki.issue_tech("tom", "tier2");
    let cat = Cat::start(&agent_x);
    // 2 KB in 32 lines of 63 characters and a newline, every printable
    // ASCII character on each line in a shifting order.
    let printable: Vec<char> = (' '..='~').collect();
    let text: String = (0..32)
        .map(|line| {
            let row: String =
                (0..63).map(|i| printable[(i * 7 + line) % printable.len()]).collect();
            format!("{row}\n")
        })
        .collect();
    assert_eq!(text.len(), 2048);
    let home = tempfile::tempdir().unwrap();
    let mut paste = tether_as(&tom, home.path());
    paste.args(["--server-name", "agent-01", "--timeout", "60"]);
    paste.args(["input", &agent.addr, "--type", &text]);
    tether_tests::run(paste).ok();
    let got = cat.lines(32);
    assert_eq!(lost(&text, &got), 0, "characters lost from the paste: {got:?}");
    assert_eq!(got, text);
    assert_no_keys_down(&agent_x.display);
}

#[test]
fn lost_counts_missing_characters() {
    assert_eq!(lost("abcdef", "abcdef"), 0);
    assert_eq!(lost("abcdef", "acf"), 3);
    assert_eq!(lost("a&b>c", "ab>c&"), 1);
}
