//! The X server and the workload on it: an xterm fed through a FIFO,
//! XTEST typing, and the motion window.

use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tether_testkit::random::XorShift32;
use tether_tests::xvfb::Xvfb;
use tether_tests::{Reaped, eventually};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, ImageFormat, KEY_PRESS_EVENT,
    KEY_RELEASE_EVENT, MOTION_NOTIFY_EVENT, WindowClass,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

use crate::motion::MotionImage;
use crate::{
    ACTIVE, HEIGHT, KEY_INTERVAL, MOTION, MOTION_FPS, MOTION_FRAMES, POINTER, SCROLL_BATCH,
    SCROLL_TICK, WIDTH, sleep_until,
};

/// The X server and what runs on it.
pub(crate) struct Scene {
    _xterm: Reaped,
    /// The xterm's `cat` reads what is written here.
    pub(crate) fifo: File,
    pub(crate) conn: RustConnection,
    pub(crate) root: u32,
    /// Keysyms by keycode, from the server's keyboard mapping.
    pub(crate) keymap: (u8, u8, Vec<u32>),
    pub(crate) motion_window: Option<(u32, u32)>,
    pub(crate) _dir: TempDir,
    /// Dropped last: the server goes after its clients.
    pub(crate) x: Xvfb,
}

impl Scene {
    pub(crate) fn new() -> Scene {
        let x = Xvfb::start(WIDTH, HEIGHT);
        let dir = tempfile::tempdir().expect("temp dir");
        let banner = dir.path().join("banner.txt");
        std::fs::write(&banner, listing()).expect("banner written");
        let fifo = dir.path().join("fifo");
        let ready = dir.path().join("ready");
        tether_os::fs::make_fifo(&fifo, 0o600).expect("mkfifo");
        let script = format!(
            "cat '{}'; : > '{}'; exec cat '{}'",
            banner.display(),
            ready.display(),
            fifo.display()
        );
        let xterm = x.xterm("120x40+0+0", &script);
        eventually(Duration::from_secs(20), "the xterm's shell", || ready.exists());
        // Blocks until the xterm's cat opens it for reading.
        let fifo = File::options().write(true).open(&fifo).expect("fifo opens");
        let (conn, screen) = x11rb::connect(Some(&x.display)).expect("connect to Xvfb");
        let root = conn.setup().roots[screen].root;
        let (min, max) = (conn.setup().min_keycode, conn.setup().max_keycode);
        let mapping =
            conn.get_keyboard_mapping(min, max - min + 1).unwrap().reply().expect("keymap");
        let keymap = (min, mapping.keysyms_per_keycode, mapping.keysyms);
        let scene =
            Scene { _xterm: xterm, fifo, conn, root, keymap, motion_window: None, _dir: dir, x };
        scene
            .conn
            .xtest_fake_input(MOTION_NOTIFY_EVENT, 0, 0, root, POINTER.0, POINTER.1, 0)
            .expect("pointer moves");
        scene.sync();
        std::thread::sleep(Duration::from_secs(1));
        scene
    }

    pub(crate) fn sync(&self) {
        self.conn.get_input_focus().expect("request").reply().expect("X server alive");
    }

    pub(crate) fn keycode(&self, keysym: u32) -> u8 {
        let (min, per, syms) = &self.keymap;
        let index = syms
            .chunks(usize::from(*per))
            .position(|k| k.first() == Some(&keysym))
            .unwrap_or_else(|| panic!("no keycode for keysym {keysym:#x}"));
        min + u8::try_from(index).expect("keycode fits")
    }

    /// Presses and releases the key for `keysym`.
    pub(crate) fn tap(&self, keysym: u32) {
        let code = self.keycode(keysym);
        let root = self.root;
        self.conn.xtest_fake_input(KEY_PRESS_EVENT, code, 0, root, 0, 0, 0).expect("press");
        self.conn.xtest_fake_input(KEY_RELEASE_EVENT, code, 0, root, 0, 0, 0).expect("release");
        self.conn.flush().expect("flush");
    }

    /// 100 characters, one every `KEY_INTERVAL`, for `ACTIVE`.
    pub(crate) fn type_text(&self) {
        let text = "the quick brown fox jumps over the lazy dog while a technician watches ";
        let start = Instant::now();
        let keys = (ACTIVE.as_millis() / KEY_INTERVAL.as_millis()) as usize;
        for (i, c) in text.chars().cycle().take(keys).enumerate() {
            sleep_until(start + KEY_INTERVAL * i as u32);
            self.tap(u32::from(c));
        }
        sleep_until(start + ACTIVE);
    }

    /// Log-like lines into the xterm, `SCROLL_BATCH` every `SCROLL_TICK`.
    pub(crate) fn scroll(&mut self) {
        let mut rng = XorShift32::new(0x5eed_1234);
        let start = Instant::now();
        let ticks = (ACTIVE.as_millis() / SCROLL_TICK.as_millis()) as u32;
        let mut n = 0u64;
        for i in 0..ticks {
            sleep_until(start + SCROLL_TICK * i);
            let mut batch = String::new();
            for _ in 0..SCROLL_BATCH {
                n += 1;
                batch.push_str(&log_line(&mut rng, n));
            }
            self.fifo.write_all(batch.as_bytes()).expect("xterm reads its fifo");
        }
        sleep_until(start + ACTIVE);
    }

    /// Maps the motion window with its first frame (before the phase).
    pub(crate) fn open_motion_window(&mut self) {
        let (x, y, w, h) = MOTION;
        let window = self.conn.generate_id().expect("id");
        self.conn
            .create_window(
                x11rb::COPY_DEPTH_FROM_PARENT,
                window,
                self.root,
                x,
                y,
                w,
                h,
                0,
                WindowClass::INPUT_OUTPUT,
                x11rb::COPY_FROM_PARENT,
                &CreateWindowAux::new().background_pixel(0).override_redirect(1),
            )
            .expect("window");
        self.conn.map_window(window).expect("map");
        let gc = self.conn.generate_id().expect("id");
        self.conn.create_gc(gc, window, &CreateGCAux::new().graphics_exposures(0)).expect("gc");
        self.motion_window = Some((window, gc));
        let mut image = MotionImage::new();
        image.render(0);
        self.put(&image);
        self.sync();
    }

    /// `MOTION_FRAMES` frames at `MOTION_FPS`.
    /// Returns how many repaints were more than 10 ms late, and the worst.
    pub(crate) fn motion(&mut self) -> (u32, Duration) {
        let mut image = MotionImage::new();
        let period = Duration::from_secs(1) / MOTION_FPS;
        let start = Instant::now();
        let (mut late, mut worst) = (0, Duration::ZERO);
        for i in 1..=MOTION_FRAMES {
            image.render(i);
            let due = start + period * (i - 1);
            sleep_until(due);
            let lateness = due.elapsed();
            late += u32::from(lateness > Duration::from_millis(10));
            worst = worst.max(lateness);
            self.put(&image);
            self.conn.flush().expect("flush");
        }
        self.sync();
        sleep_until(start + ACTIVE);
        (late, worst)
    }

    /// One PutImage (BIG-REQUESTS), so the server applies a frame at once,
    /// as a video player's single (Shm)PutImage does.
    pub(crate) fn put(&self, image: &MotionImage) {
        let (window, gc) = self.motion_window.expect("motion window open");
        let (_, _, w, h) = MOTION;
        self.conn
            .put_image(ImageFormat::Z_PIXMAP, window, gc, w, h, 0, 0, 0, 24, &image.bgrx)
            .expect("put image");
    }
}

/// 36 lines that look like `ls -l` output, for the initial screen.
pub(crate) fn listing() -> String {
    let mut rng = XorShift32::new(0xdead_beef);
    let words = [
        "agent",
        "audit",
        "capture",
        "codec",
        "config",
        "doctor",
        "input",
        "network",
        "restore",
        "screen",
        "session",
        "transport",
        "viewer",
        "window",
    ];
    let exts = ["rs", "toml", "md", "log", "json", "txt", "sh"];
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov"];
    let mut out = String::from("$ ls -l /srv/tether/workspace\ntotal 1184\n");
    for _ in 0..34 {
        let dir = rng.below(5) == 0;
        out.push_str(&format!(
            "{} {:>2} tech  staff {:>8} {} {:>2} {:02}:{:02} {}_{}{}\n",
            if dir { "drwxr-xr-x" } else { "-rw-r--r--" },
            1 + rng.below(12),
            rng.below(400_000),
            rng.pick(&months),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.pick(&words),
            rng.pick(&words),
            if dir { String::new() } else { format!(".{}", rng.pick(&exts)) },
        ));
    }
    out.push_str("$ ");
    out
}

/// One line of a busy service's log (~70 to 105 characters).
pub(crate) fn log_line(rng: &mut XorShift32, n: u64) -> String {
    let levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN"];
    let modules = ["http::server", "db::pool", "cache", "auth::session", "jobs::worker"];
    let verbs = ["GET", "POST", "PUT", "DELETE"];
    let paths = ["/api/v1/items", "/api/v1/users", "/api/v2/orders", "/healthz", "/api/v1/search"];
    let ms_total = n * 5;
    format!(
        "2025-03-14T09:{:02}:{:02}.{:03}Z {:<5} {}: {} {}/{} status={} bytes={} took={}.{}ms\n",
        (ms_total / 60_000) % 60,
        (ms_total / 1000) % 60,
        ms_total % 1000,
        rng.pick(&levels),
        rng.pick(&modules),
        rng.pick(&verbs),
        rng.pick(&paths),
        rng.below(100_000),
        [200, 200, 200, 201, 204, 304, 404, 500][rng.below(8) as usize],
        rng.below(60_000),
        rng.below(250),
        rng.below(10),
    )
}
