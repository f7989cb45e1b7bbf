//! The X server and the workload on it: an xterm fed through a FIFO,
//! XTEST typing, and the motion window; in the photo scene also a
//! wallpaper and three windows whose pictures move (`photo`).

use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tether_testkit::pictures::{crop, listing, page, photo};
use tether_testkit::random::XorShift32;
use tether_tests::xvfb::Xvfb;
use tether_tests::{Reaped, eventually};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConfigureWindowAux, ConnectionExt as _, CreateGCAux,
    CreateWindowAux, ImageFormat, KEY_PRESS_EVENT, KEY_RELEASE_EVENT, MOTION_NOTIFY_EVENT,
    WindowClass,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

use crate::motion::MotionImage;
use crate::{
    ACTIVE, DRAG_WINDOW, HEIGHT, KEY_INTERVAL, MOTION, MOTION_FPS, MOTION_FRAMES, PAGE_HEIGHT,
    PAGE_STEP, PAGE_WINDOW, PAN_PICTURE, PAN_STEP, PAN_WINDOW, POINTER, SCROLL_BATCH, SCROLL_TICK,
    WIDTH, sleep_until,
};

/// Which desktop a run shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SceneKind {
    /// Black root, the xterm; the classic phases (typing, scrolling, the
    /// motion window).
    Classic,
    /// A photographic wallpaper, the xterm, and three windows with
    /// pictures (panned, dragged, scrolled): the first frame and the
    /// translated-content phases.
    Photo,
}

/// A window the bench draws into: its id and graphics context.
#[derive(Clone, Copy)]
pub(crate) struct Drawable {
    window: u32,
    gc: u32,
}

/// The photo scene's moving pictures and where each is.
pub(crate) struct Photos {
    pan: Drawable,
    pan_picture: Vec<u8>,
    /// The viewport's top-left corner in the picture.
    pan_at: (i32, i32),
    drag: u32,
    drag_at: (i16, i16),
    page: Drawable,
    page_picture: Vec<u8>,
    page_at: usize,
    /// Scratch for one window's image.
    image: Vec<u8>,
}

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
    pub(crate) photos: Option<Photos>,
    pub(crate) _dir: TempDir,
    /// Dropped last: the server goes after its clients.
    pub(crate) x: Xvfb,
}

impl Scene {
    pub(crate) fn new(kind: SceneKind) -> Scene {
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
        let mut scene = Scene {
            _xterm: xterm,
            fifo,
            conn,
            root,
            keymap,
            motion_window: None,
            photos: None,
            _dir: dir,
            x,
        };
        if kind == SceneKind::Photo {
            scene.photos = Some(scene.open_photos());
        }
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
        let aux = CreateWindowAux::new().background_pixel(0).override_redirect(1);
        let Drawable { window, gc } = self.window(MOTION, &aux);
        self.motion_window = Some((window, gc));
        let mut image = MotionImage::new();
        image.render(0);
        self.put(&image);
        self.sync();
    }

    /// `MOTION_FRAMES` frames at `MOTION_FPS`, each rendered before its
    /// time comes. Returns how many repaints were more than 10 ms late,
    /// and the worst.
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

    /// A mapped override-redirect window with a graphics context.
    fn window(&self, (x, y, w, h): (i16, i16, u16, u16), aux: &CreateWindowAux) -> Drawable {
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
                aux,
            )
            .expect("window");
        self.conn.map_window(window).expect("map");
        let gc = self.conn.generate_id().expect("id");
        self.conn.create_gc(gc, window, &CreateGCAux::new().graphics_exposures(0)).expect("gc");
        Drawable { window, gc }
    }

    /// A `w`×`h` pixmap holding `bgrx`, put in strips (each request stays
    /// well under the server's limit).
    fn pixmap(&self, w: u16, h: u16, bgrx: &[u8]) -> u32 {
        let pixmap = self.conn.generate_id().expect("id");
        let depth = self.conn.setup().roots[0].root_depth;
        self.conn.create_pixmap(depth, pixmap, self.root, w, h).expect("pixmap");
        let gc = self.conn.generate_id().expect("id");
        self.conn.create_gc(gc, pixmap, &CreateGCAux::new()).expect("gc");
        let row = usize::from(w) * 4;
        for top in (0..h).step_by(64) {
            let rows = 64.min(h - top);
            let data = &bgrx[usize::from(top) * row..usize::from(top + rows) * row];
            self.conn
                .put_image(ImageFormat::Z_PIXMAP, pixmap, gc, w, rows, 0, top as i16, 0, 24, data)
                .expect("put image");
        }
        pixmap
    }

    /// The photo scene: the wallpaper (the root's background, which the
    /// server repaints wherever a window uncovers it), the panned viewer,
    /// the photo to drag (its background, so the server draws it) and the
    /// page.
    fn open_photos(&self) -> Photos {
        let (w, h) = (WIDTH as u16, HEIGHT as u16);
        let wallpaper = self.pixmap(w, h, &photo(WIDTH as usize, HEIGHT as usize, 11));
        let aux = ChangeWindowAttributesAux::new().background_pixmap(wallpaper);
        self.conn.change_window_attributes(self.root, &aux).expect("wallpaper");
        self.conn.clear_area(false, self.root, 0, 0, 0, 0).expect("repaint the root");
        let plain = CreateWindowAux::new().background_pixel(0).override_redirect(1);
        let pan = self.window(PAN_WINDOW, &plain);
        let (_, _, dw, dh) = DRAG_WINDOW;
        let picture = self.pixmap(dw, dh, &photo(usize::from(dw), usize::from(dh), 23));
        let drawn = CreateWindowAux::new().background_pixmap(picture).override_redirect(1);
        let drag = self.window(DRAG_WINDOW, &drawn);
        let page_window = self.window(PAGE_WINDOW, &plain);
        let mut photos = Photos {
            pan,
            pan_picture: photo(PAN_PICTURE.0, PAN_PICTURE.1, 37),
            pan_at: (0, 0),
            drag: drag.window,
            drag_at: (DRAG_WINDOW.0, DRAG_WINDOW.1),
            page: page_window,
            page_picture: page(usize::from(PAGE_WINDOW.2), PAGE_HEIGHT, 41),
            page_at: 0,
            image: Vec::new(),
        };
        self.draw_pan(&mut photos);
        self.draw_page(&mut photos);
        self.sync();
        photos
    }

    fn draw_pan(&self, p: &mut Photos) {
        let (_, _, w, h) = PAN_WINDOW;
        let at = (p.pan_at.0 as usize, p.pan_at.1 as usize);
        crop(&p.pan_picture, PAN_PICTURE.0, at, (usize::from(w), usize::from(h)), &mut p.image);
        let Drawable { window, gc } = p.pan;
        self.conn
            .put_image(ImageFormat::Z_PIXMAP, window, gc, w, h, 0, 0, 0, 24, &p.image)
            .expect("put image");
    }

    fn draw_page(&self, p: &mut Photos) {
        let (_, _, w, h) = PAGE_WINDOW;
        let size = (usize::from(w), usize::from(h));
        crop(&p.page_picture, usize::from(w), (0, p.page_at), size, &mut p.image);
        let Drawable { window, gc } = p.page;
        self.conn
            .put_image(ImageFormat::Z_PIXMAP, window, gc, w, h, 0, 0, 0, 24, &p.image)
            .expect("put image");
    }

    /// Runs `step(step number)` `MOTION_FRAMES` times at `MOTION_FPS`,
    /// each followed by a flush. Returns how many steps were more than
    /// 10 ms late, and the worst.
    fn animate(&mut self, mut step: impl FnMut(&mut Scene, u32)) -> (u32, Duration) {
        let period = Duration::from_secs(1) / MOTION_FPS;
        let start = Instant::now();
        let (mut late, mut worst) = (0, Duration::ZERO);
        for i in 1..=MOTION_FRAMES {
            let due = start + period * (i - 1);
            sleep_until(due);
            let lateness = due.elapsed();
            late += u32::from(lateness > Duration::from_millis(10));
            worst = worst.max(lateness);
            step(self, i);
            self.conn.flush().expect("flush");
        }
        self.sync();
        sleep_until(start + ACTIVE);
        (late, worst)
    }

    /// Moves the viewer's picture by `by` and repaints the window, as a
    /// map or image viewer being panned does.
    fn pan_by(&mut self, by: (i32, i32)) {
        let mut p = self.photos.take().expect("photo scene");
        p.pan_at = (p.pan_at.0 + by.0, p.pan_at.1 + by.1);
        self.draw_pan(&mut p);
        self.photos = Some(p);
    }

    /// Moves the photo window (the server copies its pixels and repaints
    /// the wallpaper it uncovers).
    fn drag_by(&mut self, by: (i16, i16)) {
        let p = self.photos.as_mut().expect("photo scene");
        p.drag_at = (p.drag_at.0 + by.0, p.drag_at.1 + by.1);
        let aux = ConfigureWindowAux::new().x(i32::from(p.drag_at.0)).y(i32::from(p.drag_at.1));
        self.conn.configure_window(p.drag, &aux).expect("move window");
    }

    /// Scrolls the page down by `PAGE_STEP` rows and repaints its window.
    fn scroll_page(&mut self) {
        let mut p = self.photos.take().expect("photo scene");
        p.page_at += PAGE_STEP;
        self.draw_page(&mut p);
        self.photos = Some(p);
    }

    /// The pan phase: the viewer's picture moves diagonally.
    pub(crate) fn pan(&mut self) -> (u32, Duration) {
        self.animate(|s, _| s.pan_by(PAN_STEP))
    }

    /// The drag phase: the photo window moves right and a little down.
    pub(crate) fn drag(&mut self) -> (u32, Duration) {
        self.animate(|s, i| s.drag_by((3, (i % 2) as i16)))
    }

    /// Several areas at once: the picture panned back, the photo window
    /// dragged back and the page scrolled, every frame.
    pub(crate) fn several(&mut self) -> (u32, Duration) {
        self.animate(|s, i| {
            s.pan_by((-PAN_STEP.0 + 1, -PAN_STEP.1 + 1));
            s.drag_by((-3, -((i % 2) as i16)));
            s.scroll_page();
        })
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
