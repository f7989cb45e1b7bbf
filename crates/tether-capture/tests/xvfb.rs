//! Capture against real X servers: every test starts its own Xvfb on a free
//! display and kills it when done. A missing Xvfb, xrandr or xdotool fails
//! the test with the package to install; nothing is skipped.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use tether_capture::{Backend, CaptureError, Capturer, MonitorInfo, Pointer, X11Capturer, open};
use tether_testkit::xvfb::{Xvfb, fill, rect};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, Rectangle, WindowClass};

/// The colour the pattern below has at (x, y).
fn pattern_at(x: u32, y: u32) -> u32 {
    for (color, r) in pattern().iter().rev() {
        let (rx, ry) = (r.x as u32, r.y as u32);
        if x >= rx && x < rx + u32::from(r.width) && y >= ry && y < ry + u32::from(r.height) {
            return *color;
        }
    }
    unreachable!("the first rectangle covers the screen")
}

/// A background and distinct colours, each byte value different, so a
/// channel swap or an offset by a pixel or a row shows.
fn pattern() -> Vec<(u32, Rectangle)> {
    vec![
        (0x102030, rect(0, 0, 640, 480)),
        (0xFF0000, rect(10, 20, 100, 50)),
        (0x00FF00, rect(200, 0, 1, 480)),
        (0x0000FF, rect(0, 479, 640, 1)),
        (0xFEDCBA, rect(639, 0, 1, 1)),
        (0x123456, rect(300, 300, 17, 33)),
        (0xFFFFFF, rect(305, 310, 3, 3)),
    ]
}

/// Draws the pattern on a 640x480 root and checks every captured pixel.
fn check_pattern(server: &Xvfb, cap: &mut dyn Capturer) {
    let (conn, root) = server.connect();
    fill(&conn, root, &pattern());
    let monitors = cap.monitors().unwrap();
    assert_eq!(monitors.len(), 1, "{monitors:?}");
    let m = &monitors[0];
    assert_eq!((m.x, m.y, m.width, m.height, m.index), (0, 0, 640, 480, 0));
    let frame = cap.grab(m).unwrap();
    assert_eq!((frame.width(), frame.height()), (640, 480));
    let mut wrong = Vec::new();
    for y in 0..480 {
        for x in 0..640 {
            let (got, want) = (frame.pixel(x, y), pattern_at(x, y));
            if got != want {
                wrong.push((x, y, got, want));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong pixels via {}, first (x, y, got, want): {:x?}",
        wrong.len(),
        cap.backend(),
        &wrong[..wrong.len().min(5)]
    );
}

/// A 20x40 monitor at (300, 300), inside the 640x480 root.
fn inner_monitor(index: u32) -> MonitorInfo {
    MonitorInfo {
        index,
        name: "inner".into(),
        x: 300,
        y: 300,
        width: 20,
        height: 40,
        primary: false,
    }
}

#[test]
fn grabs_are_pixel_exact_over_shm() {
    let server = Xvfb::start(640, 480);
    let mut cap = open(Backend::X11, Some(&server.display)).unwrap();
    assert_eq!(cap.backend(), "x11-shm");
    check_pattern(&server, cap.as_mut());
    // A monitor inside the root: a sub-rectangle of the same pattern.
    let frame = cap.grab(&inner_monitor(7)).unwrap();
    for y in 0..40 {
        for x in 0..20 {
            assert_eq!(frame.pixel(x, y), pattern_at(300 + x, 300 + y), "at ({x}, {y})");
        }
    }
}

#[test]
fn grabs_are_pixel_exact_without_shm() {
    let server = Xvfb::start(640, 480);
    let mut cap = X11Capturer::connect_without_shm(Some(&server.display)).unwrap();
    assert_eq!(cap.backend(), "x11-getimage");
    check_pattern(&server, &mut cap);
}

#[cfg(feature = "scrap")]
#[test]
fn grabs_are_pixel_exact_through_scrap() {
    let server = Xvfb::start(640, 480);
    let mut cap = open(Backend::Scrap, Some(&server.display)).unwrap();
    assert_eq!(cap.backend(), "scrap");
    check_pattern(&server, cap.as_mut());
    // Another rectangle re-creates scrap's capturer.
    let frame = cap.grab(&inner_monitor(1)).unwrap();
    assert_eq!(frame.pixel(6, 11), 0xFFFFFF);
    assert_eq!(frame.pixel(0, 0), 0x123456);
    assert!(matches!(cap.wait_for_damage(Duration::from_secs(5)), Ok(true)));
}

#[test]
fn connecting_to_a_missing_display_is_an_error() {
    let err = open(Backend::X11, Some(":4999")).err().expect("no server on :4999");
    assert!(
        matches!(err, CaptureError::Connect { ref display, .. } if display == ":4999"),
        "{err}"
    );
}

/// Asserts `wait_for_damage` reports a change within the timeout.
fn assert_damage_soon(cap: &mut dyn Capturer, what: &str) {
    let timeout = Duration::from_secs(5);
    let start = Instant::now();
    assert!(cap.wait_for_damage(timeout).unwrap(), "no damage reported after {what}");
    assert!(start.elapsed() < timeout, "{what}: took {:?}", start.elapsed());
}

#[test]
fn wait_for_damage_blocks_until_something_is_drawn() {
    let server = Xvfb::start(640, 480);
    let mut x11 = X11Capturer::connect(Some(&server.display)).unwrap();
    assert!(x11.uses_damage(), "Xvfb should offer DAMAGE");
    let cap: &mut dyn Capturer = &mut x11;
    let m = cap.monitors().unwrap().remove(0);
    assert!(cap.wait_for_damage(Duration::from_secs(5)).unwrap(), "the first call says changed");
    cap.grab(&m).unwrap();

    let start = Instant::now();
    assert!(!cap.wait_for_damage(Duration::from_millis(300)).unwrap(), "nothing was drawn");
    assert!(start.elapsed() >= Duration::from_millis(290), "returned early: {:?}", start.elapsed());

    // Drawn on the root from another client while we wait.
    let (conn, root) = server.connect();
    let painter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        fill(&conn, root, &[(0xFF00FF, rect(5, 5, 10, 10))]);
        conn
    });
    assert_damage_soon(cap, "drawing on the root");
    let conn = painter.join().unwrap();
    assert_eq!(cap.grab(&m).unwrap().pixel(6, 6), 0xFF00FF);
    assert!(!cap.wait_for_damage(Duration::from_millis(300)).unwrap(), "re-armed, nothing new");

    // Applications draw into their own windows, not the root.
    let win = conn.generate_id().unwrap();
    let aux = CreateWindowAux::new().background_pixel(0x00FFFF);
    conn.create_window(0, win, root, 50, 60, 70, 80, 0, WindowClass::INPUT_OUTPUT, 0, &aux)
        .unwrap();
    conn.map_window(win).unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
    assert_damage_soon(cap, "mapping a window");
    assert_eq!(cap.grab(&m).unwrap().pixel(60, 70), 0x00FFFF);
    assert!(!cap.wait_for_damage(Duration::from_millis(300)).unwrap());
    fill(&conn, win, &[(0x0A0B0C, rect(0, 0, 5, 5))]);
    assert_damage_soon(cap, "drawing in a child window");
    assert_eq!(cap.grab(&m).unwrap().pixel(52, 62), 0x0A0B0C);
}

#[test]
fn monitors_follow_randr_and_grab_their_half() {
    let server = Xvfb::start(1920, 1080);
    let mut cap = open(Backend::X11, Some(&server.display)).unwrap();
    let before = cap.monitors().unwrap();
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!((before[0].width, before[0].height), (1920, 1080));

    // Replace Xvfb's automatic monitor by two halves.
    server.xrandr(&["--setmonitor", "left", "960/254x1080/286+0+0", "screen"]);
    server.xrandr(&["--setmonitor", "right", "960/254x1080/286+960+0", "none"]);
    let monitors = cap.monitors().unwrap();
    let rects: Vec<_> =
        monitors.iter().map(|m| (m.index, m.name.as_str(), m.x, m.y, m.width, m.height)).collect();
    assert_eq!(rects, [(0, "left", 0, 0, 960, 1080), (1, "right", 960, 0, 960, 1080)]);

    let (conn, root) = server.connect();
    fill(
        &conn,
        root,
        &[
            (0x111111, rect(0, 0, 960, 1080)),
            (0x222222, rect(960, 0, 960, 1080)),
            (0xABCDEF, rect(970, 5, 1, 1)),
        ],
    );
    let right = cap.grab(&monitors[1]).unwrap();
    assert_eq!((right.width(), right.height()), (960, 1080));
    assert_eq!(right.pixel(10, 5), 0xABCDEF);
    let others = right.pixels().iter().enumerate().filter(|&(i, _)| i != 5 * 960 + 10);
    assert!(
        others.clone().all(|(_, &p)| p == 0x222222),
        "right half: {:x?}",
        others.map(|(_, p)| p).find(|&&p| p != 0x222222)
    );
    assert!(cap.grab(&monitors[0]).unwrap().pixels().iter().all(|&p| p == 0x111111));
}

#[test]
fn a_smaller_screen_makes_the_old_monitor_gone() {
    let server = Xvfb::start(1920, 1080);
    let mut cap = open(Backend::X11, Some(&server.display)).unwrap();
    let old = cap.monitors().unwrap().remove(0);
    assert!(cap.wait_for_damage(Duration::from_secs(1)).unwrap());
    cap.grab(&old).unwrap();
    assert!(!cap.wait_for_damage(Duration::from_millis(100)).unwrap());

    // Xvfb cannot switch modes, but RandR can shrink the framebuffer once
    // the output is off (which also removes its automatic monitor).
    server.xrandr(&["--output", "screen", "--off", "--fb", "800x600"]);
    match cap.grab(&old) {
        Err(CaptureError::MonitorGone { index: 0 }) => {}
        other => panic!("expected MonitorGone, got {:?}", other.map(|f| (f.width(), f.height()))),
    }
    assert_damage_soon(cap.as_mut(), "the resolution change");
    let now = cap.monitors().unwrap();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!((now[0].x, now[0].y, now[0].width, now[0].height), (0, 0, 800, 600));
    let frame = cap.grab(&now[0]).unwrap();
    assert_eq!((frame.width(), frame.height()), (800, 600));
}

#[test]
fn pointer_and_cursor() {
    let server = Xvfb::start(640, 480);
    let mut cap = open(Backend::X11, Some(&server.display)).unwrap();
    server.run("xdotool", "xdotool", &["mousemove", "123", "45"]);
    assert_eq!(cap.pointer().unwrap(), Some(Pointer { x: 123, y: 45 }));
    server.run("xdotool", "xdotool", &["mousemove", "600", "7"]);
    assert_eq!(cap.pointer().unwrap(), Some(Pointer { x: 600, y: 7 }));

    let cursor = cap.cursor_image().unwrap().expect("Xvfb has a cursor image");
    assert!(cursor.width > 0 && cursor.height > 0, "{}x{}", cursor.width, cursor.height);
    assert_eq!(cursor.argb.len(), (cursor.width * cursor.height) as usize);
    assert!(cursor.hot_x < cursor.width && cursor.hot_y < cursor.height);
    assert!(cursor.argb.iter().any(|&p| p >> 24 != 0), "the cursor has opaque pixels");
    assert_eq!(
        cap.cursor_image().unwrap().map(|c| c.serial),
        Some(cursor.serial),
        "same shape, same serial"
    );
}

/// Encodes two grabs of `m` (the screen, then with `change` drawn) both
/// ways: strips from `grab_rows` straight into the encoder, and whole
/// frames from `grab`; the updates must be the same bytes.
fn strips_encode_as_frames(server: &Xvfb, cap: &mut dyn Capturer, m: &MonitorInfo) {
    let (conn, root) = server.connect();
    fill(&conn, root, &pattern());
    let mut by_strips = tether_screen_codec::Encoder::new();
    let mut by_frames = tether_screen_codec::Encoder::new();
    for change in [None, Some((0xABCDEF, rect(600, 100, 90, 70)))] {
        if let Some(change) = change {
            fill(&conn, root, &[change]);
        }
        let mut incoming = by_strips.begin(m.width, m.height).unwrap();
        cap.grab_rows(m, &mut incoming).unwrap();
        let strips = incoming.encode().unwrap();
        let whole = by_frames.encode(cap.grab(m).unwrap());
        assert!(!strips.is_empty(), "{change:?}: something to send");
        assert!(strips == whole, "{change:?}: strips and frames encode differently");
    }
    // One frame plus the one changed tile column pair, not two frames.
    let frame = m.width as usize * m.height as usize * 4;
    assert!(by_strips.held_bytes() <= frame + 6 * 64 * 64 * 4, "{}", by_strips.held_bytes());
}

#[test]
fn strips_from_the_capture_encode_as_whole_frames_do() {
    // 1080 rows make strips that end off the tile grid and a short last one.
    let server = Xvfb::start(1920, 1080);
    let mut cap = open(Backend::X11, Some(&server.display)).unwrap();
    assert_eq!(cap.backend(), "x11-shm");
    let m = cap.monitors().unwrap().remove(0);
    strips_encode_as_frames(&server, cap.as_mut(), &m);
    let mut plain = X11Capturer::connect_without_shm(Some(&server.display)).unwrap();
    strips_encode_as_frames(&server, &mut plain, &m);
}

/// An encoder's incoming frame that counts the rows a grab gives and the
/// rows it skips as unchanged.
struct Counted<'a> {
    incoming: tether_screen_codec::Incoming<'a>,
    given: u32,
    skipped: u32,
}

impl tether_capture::PutRows for Counted<'_> {
    fn put_bgrx_rows(
        &mut self,
        y: u32,
        rows: u32,
        stride: usize,
        bytes: &[u8],
    ) -> Result<(), tether_screen_codec::FrameError> {
        self.given += rows;
        self.incoming.put_bgrx_rows(y, rows, stride, bytes)
    }

    fn needs_every_row(&self) -> bool {
        self.incoming.needs_every_row()
    }

    fn same_rows(&mut self, y: u32, rows: u32) -> Result<(), tether_screen_codec::FrameError> {
        self.skipped += rows;
        self.incoming.same_rows(y, rows)
    }
}

/// Grabs `m` through `grab_rows` into `by_rows` and as a whole frame into
/// `by_frames`: the updates must be the same bytes. Returns the rows the
/// grab gave (the others it skipped as unchanged).
fn grab_counted(
    cap: &mut X11Capturer,
    m: &MonitorInfo,
    by_rows: &mut tether_screen_codec::Encoder,
    by_frames: &mut tether_screen_codec::Encoder,
) -> u32 {
    let incoming = by_rows.begin(m.width, m.height).unwrap();
    let mut counted = Counted { incoming, given: 0, skipped: 0 };
    cap.grab_rows(m, &mut counted).unwrap();
    let (given, skipped) = (counted.given, counted.skipped);
    assert_eq!(given + skipped, m.height, "every row given or skipped");
    let update = counted.incoming.encode().unwrap();
    assert!(update == by_frames.encode(cap.grab(m).unwrap()), "the updates differ");
    given
}

#[test]
fn only_rows_drawn_on_are_grabbed_and_encode_as_whole_frames_do() {
    let server = Xvfb::start(1920, 1080);
    let (conn, root) = server.connect();
    fill(&conn, root, &pattern());
    for mut cap in [
        X11Capturer::connect(Some(&server.display)).unwrap(),
        X11Capturer::connect_without_shm(Some(&server.display)).unwrap(),
    ] {
        // The safety net out of the way until it is tested below.
        cap.set_whole_grab_every(Duration::from_secs(3600));
        let m = cap.monitors().unwrap().remove(0);
        let mut by_rows = tether_screen_codec::Encoder::new();
        let mut by_frames = tether_screen_codec::Encoder::new();
        let mut grab = |cap: &mut X11Capturer, reset: bool| {
            if reset {
                by_rows.reset();
                by_frames.reset();
            }
            grab_counted(cap, &m, &mut by_rows, &mut by_frames)
        };
        assert!(cap.wait_for_damage(Duration::from_secs(5)).unwrap());
        assert_eq!(grab(&mut cap, false), 1080, "a fresh frame needs every row");

        fill(&conn, root, &[(0xABCDEF, rect(100, 500, 90, 30))]);
        assert_damage_soon(&mut cap, "a rectangle");
        assert_eq!(grab(&mut cap, false), 30, "only the rectangle's rows");

        // A panel clock at the top and a line at the bottom: two bands.
        fill(&conn, root, &[(0x111111, rect(0, 100, 5, 10)), (0x222222, rect(1900, 900, 5, 10))]);
        assert_damage_soon(&mut cap, "two rectangles");
        assert_eq!(grab(&mut cap, false), 20, "the two rectangles' rows");

        // Nothing drawn since: nothing to grab, and the same frame again.
        assert!(!cap.wait_for_damage(Duration::from_millis(50)).unwrap());
        assert_eq!(grab(&mut cap, false), 0);

        // Without a wait since the last grab, nothing says what changed.
        fill(&conn, root, &[(0x333333, rect(100, 200, 10, 10))]);
        assert_eq!(grab(&mut cap, false), 1080, "no wait: whole");
        // Drained: the drawing above was grabbed already.
        assert_damage_soon(&mut cap, "the last drawing, already grabbed");
        assert_eq!(grab(&mut cap, false), 10);

        // The safety net: a whole grab comes a period after a grab of
        // some rows, with nothing more drawn.
        cap.set_whole_grab_every(Duration::from_millis(300));
        fill(&conn, root, &[(0x444444, rect(100, 300, 10, 10))]);
        assert_damage_soon(&mut cap, "drawing");
        let partial = grab(&mut cap, false);
        assert!(partial == 10 || partial == 1080, "{partial}");
        let waited = Instant::now();
        assert!(cap.wait_for_damage(Duration::from_secs(10)).unwrap(), "the whole grab is due");
        assert!(waited.elapsed() < Duration::from_secs(5), "{:?}", waited.elapsed());
        assert_eq!(grab(&mut cap, false), 1080, "the safety net");
        assert!(!cap.wait_for_damage(Duration::from_millis(400)).unwrap(), "once, then idle");
        cap.set_whole_grab_every(Duration::from_secs(3600));

        // A new viewer: the encoder starts fresh and needs every row.
        fill(&conn, root, &[(0x555555, rect(100, 400, 10, 10))]);
        assert_damage_soon(&mut cap, "drawing for a new viewer");
        assert_eq!(grab(&mut cap, true), 1080);
    }
}
