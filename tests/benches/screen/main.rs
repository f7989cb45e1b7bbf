//! Screen streaming figures for a standard workload, with x11vnc (ZRLE) as
//! the baseline: a bench binary printing tables, not a timed test.
//!
//! Run: `cargo build --release -p tether -p tether-agent && cargo bench -p tether-tests --bench screen`
//! (needs Xvfb, xterm and x11vnc; about five minutes). Set
//! `TETHER_BENCH_SCENES=classic` or `=photo` to run one scene only. Set
//! `TETHER_BENCH_COPYRECT=1` to add a third run where the VNC client also
//! offers CopyRect, which lets x11vnc send scrolls as copies, and
//! `TETHER_BENCH_SNAPSHOT=FILE.png` to save the screen as the Tether
//! controller decoded it at the end. To measure the agent the packages
//! ship (the `dist` profile: fat LTO, about 1 MiB less code resident),
//! build it with `cargo build --profile dist -p tether-agent` and set
//! `TETHER_TEST_BIN_DIR=target/dist` (absolute path).
//!
//! Each server gets a fresh 1920×1080×24 Xvfb with the same scene: the
//! default root (black: current X servers draw the old weave only with
//! `-retro`), an xterm (`120x40+0+0`, default font, 724×524 pixels)
//! showing 36 lines of `ls -l`-like text and a prompt, and the pointer
//! resting over the xterm. The xterm's shell then runs `cat FIFO`, so the
//! bench controls what scrolls; what is typed is echoed by the terminal's
//! line discipline. Then, one phase after the other:
//!
//! - **initial**: the first frame after the view opens (Tether) or the
//!   answer to the first, non-incremental FramebufferUpdateRequest (VNC);
//! - **idle** (5 s): nothing changes;
//! - **typing** (10 s): 100 characters of lowercase text and spaces, one
//!   key every 100 ms, injected with XTEST from this process;
//! - **scrolling** (10 s): 200 log-like lines per second (10 lines every
//!   50 ms, ~70–105 characters each, deterministic) written to the FIFO;
//!   xterm scrolls its full 40-line window;
//! - **motion** (10 s): a 640×360 window at (1200, 640) repainted 25 times a
//!   second (250 frames) with photo-like content: smooth moving sinusoidal
//!   gradients with a little texture and ±2 levels of per-frame sensor-like
//!   noise (deterministic seed);
//! - **latency**: 40 key presses in the quiet xterm (`a` and BackSpace in
//!   turn, 250 ms apart), timed from just before the XTEST request until
//!   the controller has decoded a frame whose pixels in the xterm's area
//!   differ from before (Tether), or until the next FramebufferUpdate has
//!   been read (VNC, which this client does not decode).
//!
//! That is the **classic** scene, kept so figures compare with earlier
//! runs. The **photo** scene is what users show more often: the root has
//! a photographic wallpaper (seven octaves of value noise for light shared
//! by the channels, a slow colour tint, ±2 levels of grain on the light;
//! deterministic),
//! the same xterm, a viewer window (960×540 at (800, 40)) showing part of
//! a 2560×1600 picture, a 400×300 photo window at (60, 650) (its
//! background, so the server draws it) and a page window (560×400 at
//! (1300, 620)) with text lines and picture bands. Its phases, each
//! 250 steps at 25 a second:
//!
//! - **initial**: the first frame, as above, now with photos on screen;
//! - **pan**: the viewer's picture moves 5 px right and 3 down per frame,
//!   the window repainted with one PutImage, as a map being panned;
//! - **drag**: the photo window moves 3 px right (and every other frame
//!   one down) per frame; the server copies it and repaints the wallpaper
//!   it uncovers;
//! - **several**: all at once: the picture panned back up-left (4 and 2 px
//!   per frame), the window dragged back, the page scrolled down 6 rows
//!   per frame (repainted with PutImage, as a browser does).
//!
//! Each phase's window runs from just before the workload to 300 ms after
//! it, so the last frames are counted. Per phase: bytes of the view stream
//! (Tether: length-prefixed frames, before QUIC and TLS; VNC: every RFB
//! byte read from the TCP socket); bytes on the wire in each direction,
//! headers included (Tether: quinn's UDP datagram counters plus 28 bytes
//! of IPv4 and UDP header per datagram; VNC: the kernel's `TCP_INFO`
//! payload and segment counts plus 52 bytes of IPv4 and TCP header with
//! timestamps per segment; acknowledgements both ways included) and the
//! packets (datagrams, segments) each way; frames
//! (Tether: frames decoded,
//! pointer-only frames included; VNC: FramebufferUpdate messages), the
//! server process's CPU (utime + stime over the window, % of one core) and
//! its largest VmRSS sampled every 50 ms; VmHWM at the end. The output
//! also gives what one motion frame costs as raw RGB and as a PNG (a
//! predictive lossless coder), and how punctual the motion repaints were.
//!
//! The Tether controller is in-process (`tether_view::stream`, decoding
//! every frame) with a tier 1 technician certificate; the agent is the real
//! release `tether-agent` with `max_fps = 30`. The VNC client is a minimal
//! RFB 3.8 client here: security None, shared, 32 bpp true colour,
//! SetEncodings [ZRLE] only (no compression-level or cursor
//! pseudo-encodings), and a new incremental request as soon as an update
//! has been read, as viewers do; a second VNC run offers [Tight, JPEG
//! quality 8] instead, the lossy baseline. x11vnc runs with its defaults (XDamage,
//! `-wait 20`, `-defer 20`) plus `-ncache 0` so the framebuffer is the screen.
//! The two servers run one after the other, never together.
//!
//! # Layout
//!
//! `main.rs` (this text, the workload's constants, the order of runs),
//! `scene` (the Xvfb, the xterm and the workload on it), `motion` (the
//! motion window's frames), `measure` (one phase measured: counters, CPU,
//! RSS), `tether` and `vnc` (one run each), `results` (the tables and the
//! targets). The photo scene's pictures and the xterm's listing come from
//! `tether_testkit::pictures`, which the codec's `first_frame` example
//! shares.

mod measure;
mod motion;
mod results;
mod scene;
mod tether;
mod vnc;

use std::time::{Duration, Instant};

use tether_tests::TestPki;

use crate::measure::motion_reference;
use crate::results::{Runs, targets};
use crate::scene::SceneKind;
use crate::tether::run_tether;
use crate::vnc::{ENC_COPYRECT, ENC_TIGHT, ENC_ZRLE, enc_jpeg_quality, run_vnc};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
/// Where the pointer rests: over the xterm, so it has the keyboard focus
/// (no window manager: focus follows the pointer).
const POINTER: (i16, i16) = (400, 300);
/// The area compared for the latency test; holds the whole xterm.
const XTERM_AREA: (u32, u32) = (800, 600);
/// The motion window.
const MOTION: (i16, i16, u16, u16) = (1200, 640, 640, 360);
const MOTION_FPS: u32 = 25;
const MOTION_FRAMES: u32 = 250;
/// Per-channel noise added to each motion frame: uniform in ±this.
const NOISE: i32 = 2;
/// The photo scene's viewer window, the picture it pans over and how far
/// the view moves per frame (right and down; back up-left, one pixel
/// slower each way, when several areas move).
const PAN_WINDOW: (i16, i16, u16, u16) = (800, 40, 960, 540);
const PAN_PICTURE: (usize, usize) = (2560, 1600);
const PAN_STEP: (i32, i32) = (5, 3);
/// The photo window that is dragged: 3 pixels right and every other frame
/// one down per frame (back when several areas move).
const DRAG_WINDOW: (i16, i16, u16, u16) = (60, 650, 400, 300);
/// The page window, its page's height and the rows it scrolls per frame.
const PAGE_WINDOW: (i16, i16, u16, u16) = (1300, 620, 560, 400);
const PAGE_HEIGHT: usize = 2400;
const PAGE_STEP: usize = 6;
const IDLE: Duration = Duration::from_secs(5);
const ACTIVE: Duration = Duration::from_secs(10);
/// One key every this long while typing (10 characters a second).
const KEY_INTERVAL: Duration = Duration::from_millis(100);
/// Scrolling: this many lines every `SCROLL_TICK` (200 lines a second).
const SCROLL_BATCH: usize = 10;
const SCROLL_TICK: Duration = Duration::from_millis(50);
/// Added to each phase's window so its last frames are counted.
const DRAIN: Duration = Duration::from_millis(300);
/// Quiet time before each phase.
const SETTLE: Duration = Duration::from_millis(1500);
const LATENCY_SAMPLES: usize = 40;
const LATENCY_GAP: Duration = Duration::from_millis(250);
const LATENCY_TIMEOUT: Duration = Duration::from_secs(2);

const KEYSYM_BACKSPACE: u32 = 0xff08;

fn main() {
    motion_reference();
    let pki = TestPki::new("Bench");
    let alice = pki.issue_tech("alice", "tier1");
    let wanted = std::env::var("TETHER_BENCH_SCENES").unwrap_or_else(|_| "classic,photo".into());
    let run = |kind: SceneKind| {
        let tether = run_tether(&pki, &alice, kind);
        tether.print();
        let zrle = run_vnc("x11vnc, ZRLE", &[ENC_ZRLE], kind);
        zrle.print();
        let jpeg = run_vnc(
            "x11vnc, Tight + JPEG quality 8 (lossy)",
            &[ENC_TIGHT, enc_jpeg_quality(8)],
            kind,
        );
        jpeg.print();
        if std::env::var_os("TETHER_BENCH_COPYRECT").is_some() {
            run_vnc("x11vnc, CopyRect + ZRLE", &[ENC_COPYRECT, ENC_ZRLE], kind).print();
        }
        Runs { tether, zrle, jpeg }
    };
    let classic = wanted.contains("classic").then(|| run(SceneKind::Classic));
    let photo = wanted.contains("photo").then(|| run(SceneKind::Photo));
    targets(classic.as_ref(), photo.as_ref());
}

/// A duration in milliseconds, for printing.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sleeps until `t` (not at all if it has passed), so a workload's ticks
/// do not drift.
fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}
