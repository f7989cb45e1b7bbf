//! Screen streaming figures for a standard workload, with x11vnc (ZRLE) as
//! the baseline: a bench binary printing tables, not a timed test.
//!
//! Run: `cargo build --release -p tether -p tether-agent && cargo bench -p tether-tests --bench screen`
//! (needs Xvfb, xterm and x11vnc; about two minutes). Set
//! `TETHER_BENCH_COPYRECT=1` to add a third run where the VNC client also
//! offers CopyRect, which lets x11vnc send scrolls as copies, and
//! `TETHER_BENCH_SNAPSHOT=FILE.png` to save the screen as the Tether
//! controller decoded it at the end.
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
//! Each phase's window runs from just before the workload to 300 ms after
//! it, so the last frames are counted. Per phase: bytes of the view stream
//! (Tether: length-prefixed frames, before QUIC and TLS; VNC: every RFB
//! byte read from the TCP socket), Tether's bytes received in UDP datagrams
//! (QUIC packets, handshake excluded), frames (Tether: frames decoded,
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
//! has been read, as viewers do. x11vnc runs with its defaults (XDamage,
//! `-wait 20`, `-defer 20`) plus `-ncache 0` so the framebuffer is the screen.
//! The two servers run one after the other, never together.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tether_proto::handshake::Hello;
use tether_proto::screen::InputEvent;
use tether_proto::{Request, ViewRequest};
use tether_tests::xvfb::Xvfb;
use tether_tests::{Agent, AgentSetup, Identity, TestPki};
use tether_transport::Client;
use tether_view::{ViewState, stream};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, ImageFormat, KEY_PRESS_EVENT,
    KEY_RELEASE_EVENT, MOTION_NOTIFY_EVENT, WindowClass,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

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
    let tether = run_tether(&pki, &alice);
    tether.print();
    let zrle = run_vnc("x11vnc, ZRLE", &[ENC_ZRLE]);
    zrle.print();
    if std::env::var_os("TETHER_BENCH_COPYRECT").is_some() {
        run_vnc("x11vnc, CopyRect + ZRLE", &[ENC_COPYRECT, ENC_ZRLE]).print();
    }
    targets(&tether, &zrle);
}

// ---------------------------------------------------------------- results

/// Counters read at a phase's start and end.
#[derive(Clone, Copy, Default)]
struct Counters {
    /// Bytes of the view stream (Tether) or the RFB stream (VNC).
    stream: u64,
    /// Tether: bytes of UDP datagrams received on the QUIC connection.
    wire: Option<u64>,
    frames: u64,
}

struct Phase {
    name: &'static str,
    secs: f64,
    stream: u64,
    wire: Option<u64>,
    frames: u64,
    cpu_percent: f64,
    rss_max_kib: u64,
}

struct Results {
    server: String,
    /// Bytes of the first frame (and of UDP datagrams until it arrived).
    initial: (u64, Option<u64>),
    phases: Vec<Phase>,
    latency: Vec<Duration>,
    latency_misses: usize,
    latency_what: &'static str,
    /// How punctual the workload was.
    note: String,
    hwm_kib: u64,
    /// RssAnon, RssFile and RssShmem at the end.
    rss_parts: String,
}

impl Results {
    fn phase(&self, name: &str) -> &Phase {
        self.phases.iter().find(|p| p.name == name).expect("phase measured")
    }

    fn print(&self) {
        println!();
        println!("{}", self.server);
        let wire = |w: Option<u64>| w.map_or_else(|| "-".to_owned(), |w| w.to_string());
        println!(
            "  {:<10} {:>6} {:>13} {:>13} {:>7} {:>6} {:>9} {:>11}",
            "phase", "secs", "stream bytes", "UDP bytes", "frames", "fps", "CPU %", "RSS max KiB"
        );
        println!(
            "  {:<10} {:>6} {:>13} {:>13} {:>7}",
            "initial",
            "",
            self.initial.0,
            wire(self.initial.1),
            1
        );
        for p in &self.phases {
            println!(
                "  {:<10} {:>6.2} {:>13} {:>13} {:>7} {:>6.1} {:>9.1} {:>11}",
                p.name,
                p.secs,
                p.stream,
                wire(p.wire),
                p.frames,
                p.frames as f64 / p.secs,
                p.cpu_percent,
                p.rss_max_kib
            );
        }
        println!("  {}", self.note);
        println!("  peak RSS (VmHWM) {} KiB; at the end {}", self.hwm_kib, self.rss_parts);
        if let Some((p50, p95)) = self.latency_percentiles() {
            println!(
                "  key to pixels: p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms  (n={}, {} timed out; {})",
                ms(p50),
                ms(p95),
                ms(*self.latency.iter().max().expect("samples")),
                self.latency.len(),
                self.latency_misses,
                self.latency_what
            );
        } else {
            println!("  key to pixels: no sample arrived ({})", self.latency_what);
        }
    }

    fn latency_percentiles(&self) -> Option<(Duration, Duration)> {
        if self.latency.is_empty() {
            return None;
        }
        let mut sorted = self.latency.clone();
        sorted.sort();
        let pct = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p).round() as usize];
        Some((pct(0.5), pct(0.95)))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn targets(t: &Results, vnc: &Results) {
    const KIB: u64 = 1024;
    let mut rows: Vec<(bool, String)> = Vec::new();
    let idle = t.phase("idle");
    rows.push((idle.stream == 0, format!("idle: 0 bytes (got {} B)", idle.stream)));
    rows.push((
        t.initial.0 <= 300 * KIB,
        format!("initial frame <= 300 KiB (got {:.1} KiB)", t.initial.0 as f64 / 1024.0),
    ));
    let typing = t.phase("typing");
    rows.push((
        typing.stream <= 18 * KIB,
        format!("typing <= 18 KiB per 10 s (got {:.1} KiB)", typing.stream as f64 / 1024.0),
    ));
    let scrolling = t.phase("scrolling");
    let zrle = vnc.phase("scrolling").stream;
    rows.push((
        scrolling.stream <= 500 * KIB,
        format!("scrolling <= 500 KiB per 10 s (got {:.1} KiB)", scrolling.stream as f64 / 1024.0),
    ));
    rows.push((
        scrolling.stream * 4 <= zrle,
        format!(
            "scrolling <= 1/4 of ZRLE (got {:.1}% of {:.1} KiB)",
            scrolling.stream as f64 * 100.0 / zrle.max(1) as f64,
            zrle as f64 / 1024.0
        ),
    ));
    let motion = t.phase("motion");
    let fps = motion.frames as f64 / ACTIVE.as_secs_f64();
    rows.push((
        motion.stream <= 70_000_000,
        format!("motion <= 70 MB per 10 s (got {:.1} MB)", motion.stream as f64 / 1e6),
    ));
    rows.push((
        motion.frames >= u64::from(MOTION_FRAMES) * 96 / 100,
        format!(
            "motion at the full 25 fps (got {} frames, {fps:.1} per s of workload)",
            motion.frames
        ),
    ));
    match t.latency_percentiles() {
        Some((p50, p95)) => {
            rows.push((
                p50 <= Duration::from_millis(15) && t.latency_misses == 0,
                format!("key to pixels p50 <= 15 ms (got {:.1} ms)", ms(p50)),
            ));
            rows.push((
                p95 <= Duration::from_millis(30) && t.latency_misses == 0,
                format!(
                    "key to pixels p95 <= 30 ms (got {:.1} ms, {} timed out)",
                    ms(p95),
                    t.latency_misses
                ),
            ));
        }
        None => rows.push((false, "key to pixels: no sample".to_owned())),
    }
    rows.push((
        motion.cpu_percent <= 40.0,
        format!("agent CPU in motion <= 40% (got {:.1}%)", motion.cpu_percent),
    ));
    rows.push((
        typing.cpu_percent <= 5.0,
        format!("agent CPU while typing <= 5% (got {:.1}%)", typing.cpu_percent),
    ));
    rows.push((
        t.hwm_kib <= 40 * KIB,
        format!("agent peak RSS <= 40 MiB (got {:.1} MiB)", t.hwm_kib as f64 / 1024.0),
    ));
    println!();
    println!("Targets (Tether, lossless)");
    for (pass, line) in rows {
        println!("  [{}] {line}", if pass { "PASS" } else { "FAIL" });
    }
}

// ---------------------------------------------------------- measurement

/// The server process and how to read the stream's counters.
struct Probe<'a> {
    pid: i32,
    rss: RssSampler,
    counters: Box<dyn Fn() -> Counters + 'a>,
}

impl Probe<'_> {
    /// Runs `workload` and measures it (plus `DRAIN`) as one phase.
    fn phase(&self, name: &'static str, workload: impl FnOnce()) -> Phase {
        let before = (self.counters)();
        let cpu_before = cpu_ticks(self.pid);
        self.rss.reset();
        let start = Instant::now();
        workload();
        std::thread::sleep(DRAIN);
        let secs = start.elapsed().as_secs_f64();
        let after = (self.counters)();
        let cpu = (cpu_ticks(self.pid) - cpu_before) as f64 / ticks_per_sec();
        Phase {
            name,
            secs,
            stream: after.stream - before.stream,
            wire: after.wire.zip(before.wire).map(|(a, b)| a - b),
            frames: after.frames - before.frames,
            cpu_percent: cpu * 100.0 / secs,
            rss_max_kib: self.rss.max(),
        }
    }

    /// The standard phases, in order, on `scene`.
    /// Also returns a note on how punctual the motion repaints were.
    fn standard_phases(&self, scene: &mut Scene) -> (Vec<Phase>, String) {
        let mut phases = Vec::new();
        std::thread::sleep(SETTLE);
        phases.push(self.phase("idle", || std::thread::sleep(IDLE)));
        std::thread::sleep(SETTLE);
        phases.push(self.phase("typing", || scene.type_text()));
        std::thread::sleep(SETTLE);
        phases.push(self.phase("scrolling", || scene.scroll()));
        scene.open_motion_window();
        std::thread::sleep(SETTLE);
        let mut late = (0, Duration::ZERO);
        phases.push(self.phase("motion", || late = scene.motion()));
        std::thread::sleep(SETTLE);
        let note = format!(
            "motion repaints: {MOTION_FRAMES} at {MOTION_FPS}/s, {} more than 10 ms late (max {:.1} ms)",
            late.0,
            ms(late.1)
        );
        (phases, note)
    }
}

/// Samples a process's VmRSS every 50 ms and keeps the largest.
struct RssSampler {
    pid: i32,
    max: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: i32) -> RssSampler {
        let max = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (max, stop) = (Arc::clone(&max), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_kib(pid, "VmRSS:") {
                        max.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        RssSampler { pid, max, stop, thread: Some(thread) }
    }

    fn reset(&self) {
        self.max.store(status_kib(self.pid, "VmRSS:").unwrap_or(0), Ordering::Relaxed);
    }

    fn max(&self) -> u64 {
        let now = status_kib(self.pid, "VmRSS:").unwrap_or(0);
        self.max.fetch_max(now, Ordering::Relaxed).max(now)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("process alive");
    let after = stat.rsplit_once(") ").expect("stat has a command name").1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat, counted after the command name (field 2).
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf takes an integer name and touches no memory of ours.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// A `kB` field of /proc/PID/status.
fn status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident memory by kind: anonymous, file-backed, shared memory.
fn rss_parts(pid: i32) -> String {
    let kib = |field| status_kib(pid, field).map_or_else(|| "?".to_owned(), |v| v.to_string());
    format!(
        "RssAnon {} KiB, RssFile {} KiB, RssShmem {} KiB",
        kib("RssAnon:"),
        kib("RssFile:"),
        kib("RssShmem:")
    )
}

/// What one motion frame costs uncompressed and as a PNG (prediction
/// filters + deflate), to put the motion phase's bytes in context.
fn motion_reference() {
    let mut image = MotionImage::new();
    image.render(1);
    let rgb: Vec<u8> = image.bgrx.chunks(4).flat_map(|px| [px[2], px[1], px[0]]).collect();
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, u32::from(MOTION.2), u32::from(MOTION.3));
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().expect("png header");
    writer.write_image_data(&rgb).expect("png data");
    writer.finish().expect("png end");
    let frames = f64::from(MOTION_FRAMES);
    println!(
        "motion content: one {}x{} frame is {:.1} KiB as RGB ({:.1} MB for {MOTION_FRAMES} frames), \
         {:.1} KiB as PNG (High) ({:.1} MB)",
        MOTION.2,
        MOTION.3,
        rgb.len() as f64 / 1024.0,
        rgb.len() as f64 * frames / 1e6,
        png_bytes.len() as f64 / 1024.0,
        png_bytes.len() as f64 * frames / 1e6
    );
}

/// Writes a decoded frame as an RGB PNG (`TETHER_BENCH_SNAPSHOT`).
fn write_png(path: &std::ffi::OsStr, frame: &tether_screen_codec::Frame) {
    let file = std::io::BufWriter::new(File::create(path).expect("snapshot file"));
    let mut encoder = png::Encoder::new(file, frame.width(), frame.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let rgb: Vec<u8> =
        frame.pixels().iter().flat_map(|&p| [(p >> 16) as u8, (p >> 8) as u8, p as u8]).collect();
    let mut writer = encoder.write_header().expect("png header");
    writer.write_image_data(&rgb).expect("png data");
    writer.finish().expect("png end");
}

// ---------------------------------------------------------------- Tether

fn run_tether(pki: &TestPki, alice: &Identity) -> Results {
    let mut scene = Scene::new();
    let extra = format!("[screen]\ndisplay = {:?}\nmax_fps = 30\n", scene.x.display);
    let mut agent = Agent::start(AgentSetup { pki, name: "agent-01", extra: &extra });
    let addr = agent.addr.parse().expect("agent address");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (endpoint, client) = rt.block_on(async {
        let chain = tether_pki::load_certs(&alice.cert).expect("cert");
        let key = tether_pki::load_private_key(&alice.key).expect("key");
        let ca = tether_pki::load_certs(&alice.ca).expect("ca");
        let tls = tether_pki::client_config(chain, key, &ca, Vec::new()).expect("tls config");
        let endpoint = tether_transport::client_endpoint(addr, tls).expect("endpoint");
        let hello = Hello::new("bench", None);
        let client = Client::connect(&endpoint, addr, "agent-01", &hello, Duration::from_secs(5))
            .await
            .expect("connect");
        (endpoint, client)
    });
    let udp_rx = || client.connection().stats().udp_rx.bytes;

    // The initial frame.
    let udp_before = udp_rx();
    let request = Request::View(ViewRequest { monitor: None, control: false, max_fps: 30 });
    let (start, send, recv) =
        rt.block_on(client.open_view(&request, Duration::from_secs(10))).expect("view opens");
    assert_eq!((start.monitor.width, start.monitor.height), (WIDTH, HEIGHT));
    let state = ViewState::new(&start);
    let mut changed = state.subscribe();
    // Kept alive: the stream ends when the input channel closes.
    let (_input, input_rx) = tokio::sync::mpsc::unbounded_channel::<InputEvent>();
    let view = rt.spawn(stream::run(Arc::clone(&state), send, recv, input_rx));
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), changed.changed()).await })
        .expect("first frame within 10 s")
        .expect("view stream alive");
    let (frames, bytes) = state.totals();
    let initial = (bytes, Some(udp_rx() - udp_before));
    if frames != 1 {
        println!("note: {frames} frames had arrived when the first was counted");
    }

    let probe = Probe {
        pid: agent.pid(),
        rss: RssSampler::start(agent.pid()),
        counters: Box::new(|| {
            let (frames, stream) = state.totals();
            Counters { stream, wire: Some(udp_rx()), frames }
        }),
    };
    let (phases, note) = probe.standard_phases(&mut scene);

    let mut latency = Vec::new();
    let mut misses = 0;
    for i in 0..LATENCY_SAMPLES {
        match tether_key_to_pixels(&rt, &state, &scene, latency_key(i)) {
            Some(d) => latency.push(d),
            None => misses += 1,
        }
        std::thread::sleep(LATENCY_GAP);
    }
    let hwm_kib = status_kib(agent.pid(), "VmHWM:").unwrap_or(0);
    let rss_parts = rss_parts(agent.pid());
    if let Some(path) = std::env::var_os("TETHER_BENCH_SNAPSHOT") {
        let screen = state.screen();
        write_png(&path, screen.frame.as_ref().expect("a frame was decoded"));
    }
    drop(probe);
    assert!(!view.is_finished(), "the view ended early: {:?}", rt.block_on(view));
    client.close();
    rt.block_on(endpoint.wait_idle());
    agent.stop();
    Results {
        server: "Tether (lossless, max_fps 30; in-process controller decoding every frame)"
            .to_owned(),
        initial,
        phases,
        latency,
        latency_misses: misses,
        latency_what: "until a frame with changed pixels in the xterm is decoded",
        note,
        hwm_kib,
        rss_parts,
    }
}

/// Presses `keysym` and waits until the controller has decoded a frame
/// whose pixels in the xterm's area differ from before.
fn tether_key_to_pixels(
    rt: &tokio::runtime::Runtime,
    state: &ViewState,
    scene: &Scene,
    keysym: u32,
) -> Option<Duration> {
    let mut changed = state.subscribe();
    let before = xterm_pixels(state);
    let pressed = Instant::now();
    scene.tap(keysym);
    let wait = async {
        loop {
            changed.changed().await.ok()?;
            let screen = state.screen();
            let (Some(frame), Some(at)) = (&screen.frame, screen.decoded_at) else { continue };
            if at > pressed && region(frame) != before {
                return Some(at - pressed);
            }
        }
    };
    // The timer needs the runtime: create it inside.
    rt.block_on(async { tokio::time::timeout(LATENCY_TIMEOUT, wait).await }).ok().flatten()
}

fn xterm_pixels(state: &ViewState) -> Vec<u32> {
    region(state.screen().frame.as_ref().expect("a frame was decoded"))
}

fn region(frame: &tether_screen_codec::Frame) -> Vec<u32> {
    let (w, h) = XTERM_AREA;
    let stride = frame.width() as usize;
    let pixels = frame.pixels();
    (0..h as usize).flat_map(|y| &pixels[y * stride..y * stride + w as usize]).copied().collect()
}

/// `a` and BackSpace in turn, so the line does not grow.
fn latency_key(i: usize) -> u32 {
    if i.is_multiple_of(2) { u32::from(b'a') } else { KEYSYM_BACKSPACE }
}

// ------------------------------------------------------------------- VNC

const ENC_COPYRECT: i32 = 1;
const ENC_ZRLE: i32 = 16;

fn run_vnc(label: &str, encodings: &[i32]) -> Results {
    let mut scene = Scene::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut server = scene
        .x
        .command("x11vnc")
        .args(["-display", &scene.x.display, "-rfbport", &port.to_string()])
        .args(["-localhost", "-nopw", "-shared", "-forever", "-quiet", "-ncache", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("x11vnc runs (apt-get install x11vnc)");
    let pid = i32::try_from(server.id()).expect("pid fits in i32");
    let deadline = Instant::now() + Duration::from_secs(20);
    let socket = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "x11vnc does not listen: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let vnc = VncClient::connect(socket, encodings);
    let probe = Probe {
        pid,
        rss: RssSampler::start(pid),
        counters: Box::new(|| Counters {
            stream: vnc.bytes.load(Ordering::Relaxed),
            wire: None,
            frames: vnc.updates.lock().expect("updates lock").len() as u64,
        }),
    };
    let (phases, note) = probe.standard_phases(&mut scene);
    let mut latency = Vec::new();
    let mut misses = 0;
    for i in 0..LATENCY_SAMPLES {
        let pressed = Instant::now();
        scene.tap(latency_key(i));
        match vnc.update_after(pressed, LATENCY_TIMEOUT) {
            Some(at) => latency.push(at - pressed),
            None => misses += 1,
        }
        std::thread::sleep(LATENCY_GAP);
    }
    let hwm_kib = status_kib(pid, "VmHWM:").unwrap_or(0);
    let rss_parts = rss_parts(pid);
    drop(probe);
    let initial = (vnc.initial, None);
    vnc.close();
    let _ = server.kill();
    let _ = server.wait();
    let names: Vec<&str> =
        encodings.iter().map(|&e| if e == ENC_ZRLE { "ZRLE" } else { "CopyRect" }).collect();
    Results {
        server: format!(
            "{label} (x11vnc defaults + -ncache 0; client encodings [{}], no decoding)",
            names.join(", ")
        ),
        initial,
        phases,
        latency,
        latency_misses: misses,
        latency_what: "until the next FramebufferUpdate has been read",
        note,
        hwm_kib,
        rss_parts,
    }
}

/// Counts what a `Read` returns.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type RfbReader = BufReader<Counting<TcpStream>>;

/// A minimal RFB 3.8 viewer that reads updates without decoding them.
struct VncClient {
    socket: TcpStream,
    bytes: Arc<AtomicU64>,
    /// When each FramebufferUpdate after the first had been read.
    updates: Arc<Mutex<Vec<Instant>>>,
    /// Bytes of the answer to the first, full request.
    initial: u64,
    reader: JoinHandle<()>,
}

impl VncClient {
    fn connect(socket: TcpStream, encodings: &[i32]) -> VncClient {
        socket.set_nodelay(true).expect("nodelay");
        let bytes = Arc::new(AtomicU64::new(0));
        let mut w = socket.try_clone().expect("socket clone");
        let mut r = BufReader::with_capacity(
            1 << 16,
            Counting {
                inner: socket.try_clone().expect("socket clone"),
                count: Arc::clone(&bytes),
            },
        );
        let mut version = [0u8; 12];
        r.read_exact(&mut version).expect("server version");
        assert_eq!(&version[..4], b"RFB ", "not an RFB server");
        w.write_all(b"RFB 003.008\n").expect("client version");
        let count = usize::from(read_u8(&mut r).expect("security types"));
        assert!(count > 0, "x11vnc refused the connection");
        let mut types = vec![0u8; count];
        r.read_exact(&mut types).expect("security types");
        assert!(types.contains(&1), "security None not offered: {types:?}");
        w.write_all(&[1]).expect("security choice");
        assert_eq!(read_u32(&mut r).expect("security result"), 0, "security failed");
        w.write_all(&[1]).expect("ClientInit (shared)");
        let width = read_u16(&mut r).expect("ServerInit");
        let height = read_u16(&mut r).expect("ServerInit");
        assert_eq!((u32::from(width), u32::from(height)), (WIDTH, HEIGHT), "framebuffer size");
        skip(&mut r, 16).expect("pixel format");
        let name_len = u64::from(read_u32(&mut r).expect("name length"));
        skip(&mut r, name_len).expect("name");

        // 32 bpp, depth 24, little-endian true colour, 0x00RRGGBB.
        let mut set_format = vec![0u8, 0, 0, 0, 32, 24, 0, 1];
        for max in [255u16, 255, 255] {
            set_format.extend_from_slice(&max.to_be_bytes());
        }
        set_format.extend_from_slice(&[16, 8, 0, 0, 0, 0]);
        let mut set_encodings = vec![2u8, 0];
        set_encodings.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
        for e in encodings {
            set_encodings.extend_from_slice(&e.to_be_bytes());
        }
        w.write_all(&set_format).expect("SetPixelFormat");
        w.write_all(&set_encodings).expect("SetEncodings");

        let before = bytes.load(Ordering::Relaxed);
        w.write_all(&update_request(false)).expect("FramebufferUpdateRequest");
        while !read_message(&mut r).expect("first update") {}
        let initial = bytes.load(Ordering::Relaxed) - before;

        let updates = Arc::new(Mutex::new(Vec::new()));
        w.write_all(&update_request(true)).expect("FramebufferUpdateRequest");
        let reader = {
            let updates = Arc::clone(&updates);
            std::thread::spawn(move || {
                // Ends when the socket is shut down.
                while let Ok(update) = read_message(&mut r) {
                    if update {
                        updates.lock().expect("updates lock").push(Instant::now());
                        if w.write_all(&update_request(true)).is_err() {
                            return;
                        }
                    }
                }
            })
        };
        VncClient { socket, bytes, updates, initial, reader }
    }

    /// When the first update read after `t` arrived.
    fn update_after(&self, t: Instant, timeout: Duration) -> Option<Instant> {
        let deadline = t + timeout;
        while Instant::now() < deadline {
            if let Some(&at) = self.updates.lock().expect("updates lock").last()
                && at > t
            {
                return Some(at);
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        None
    }

    fn close(self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        let _ = self.reader.join();
    }
}

/// FramebufferUpdateRequest for the whole screen.
fn update_request(incremental: bool) -> Vec<u8> {
    let mut m = vec![3u8, u8::from(incremental), 0, 0, 0, 0];
    m.extend_from_slice(&(WIDTH as u16).to_be_bytes());
    m.extend_from_slice(&(HEIGHT as u16).to_be_bytes());
    m
}

/// Reads one server message, skipping its payload; true for a
/// FramebufferUpdate.
fn read_message(r: &mut RfbReader) -> std::io::Result<bool> {
    match read_u8(r)? {
        0 => {
            skip(r, 1)?;
            let rects = read_u16(r)?;
            let mut i = 0u32;
            // 0xffff: as many as the server likes, ended by LastRect.
            while rects == 0xffff || i < u32::from(rects) {
                i += 1;
                skip(r, 4)?;
                let w = u64::from(read_u16(r)?);
                let h = u64::from(read_u16(r)?);
                let mask = w.div_ceil(8) * h;
                match read_u32(r)? as i32 {
                    0 => skip(r, w * h * 4)?,
                    1 => skip(r, 4)?,
                    16 => {
                        let len = u64::from(read_u32(r)?);
                        skip(r, len)?;
                    }
                    -239 => skip(r, w * h * 4 + mask)?,
                    -240 if w * h > 0 => skip(r, 6 + 2 * mask)?,
                    -240 | -223 | -232 => {}
                    -224 => break,
                    other => panic!("x11vnc sent encoding {other}, which was not offered"),
                }
            }
            Ok(true)
        }
        1 => {
            skip(r, 3)?;
            let n = u64::from(read_u16(r)?);
            skip(r, n * 6)?;
            Ok(false)
        }
        2 => Ok(false),
        3 => {
            skip(r, 3)?;
            let n = u64::from(read_u32(r)?);
            skip(r, n)?;
            Ok(false)
        }
        other => panic!("unknown RFB server message {other}"),
    }
}

fn read_u8(r: &mut impl Read) -> std::io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_u16(r: &mut impl Read) -> std::io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn skip(r: &mut impl Read, n: u64) -> std::io::Result<()> {
    let copied = std::io::copy(&mut r.take(n), &mut std::io::sink())?;
    if copied < n {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

// ----------------------------------------------------------------- scene

/// The X server and what runs on it.
struct Scene {
    xterm: Child,
    /// The xterm's `cat` reads what is written here.
    fifo: File,
    conn: RustConnection,
    root: u32,
    /// Keysyms by keycode, from the server's keyboard mapping.
    keymap: (u8, u8, Vec<u32>),
    motion_window: Option<(u32, u32)>,
    _dir: TempDir,
    /// Dropped last: the server goes after its clients.
    x: Xvfb,
}

impl Scene {
    fn new() -> Scene {
        let x = Xvfb::start(WIDTH, HEIGHT);
        let dir = tempfile::tempdir().expect("temp dir");
        let banner = dir.path().join("banner.txt");
        std::fs::write(&banner, listing()).expect("banner written");
        let fifo = dir.path().join("fifo");
        let ready = dir.path().join("ready");
        let c_fifo = std::ffi::CString::new(fifo.to_str().expect("utf-8 path")).expect("no NUL");
        // SAFETY: mkfifo reads the NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0, "mkfifo failed");
        let script = format!(
            "cat '{}'; : > '{}'; exec cat '{}'",
            banner.display(),
            ready.display(),
            fifo.display()
        );
        let xterm = x
            .command("xterm")
            .args(["-geometry", "120x40+0+0", "-e", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xterm runs (apt-get install xterm)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "xterm did not start its shell");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Blocks until the xterm's cat opens it for reading.
        let fifo = File::options().write(true).open(&fifo).expect("fifo opens");
        let (conn, screen) = x11rb::connect(Some(&x.display)).expect("connect to Xvfb");
        let root = conn.setup().roots[screen].root;
        let (min, max) = (conn.setup().min_keycode, conn.setup().max_keycode);
        let mapping =
            conn.get_keyboard_mapping(min, max - min + 1).unwrap().reply().expect("keymap");
        let keymap = (min, mapping.keysyms_per_keycode, mapping.keysyms);
        let scene = Scene { xterm, fifo, conn, root, keymap, motion_window: None, _dir: dir, x };
        scene
            .conn
            .xtest_fake_input(MOTION_NOTIFY_EVENT, 0, 0, root, POINTER.0, POINTER.1, 0)
            .expect("pointer moves");
        scene.sync();
        std::thread::sleep(Duration::from_secs(1));
        scene
    }

    fn sync(&self) {
        self.conn.get_input_focus().expect("request").reply().expect("X server alive");
    }

    fn keycode(&self, keysym: u32) -> u8 {
        let (min, per, syms) = &self.keymap;
        let index = syms
            .chunks(usize::from(*per))
            .position(|k| k.first() == Some(&keysym))
            .unwrap_or_else(|| panic!("no keycode for keysym {keysym:#x}"));
        min + u8::try_from(index).expect("keycode fits")
    }

    /// Presses and releases the key for `keysym`.
    fn tap(&self, keysym: u32) {
        let code = self.keycode(keysym);
        let root = self.root;
        self.conn.xtest_fake_input(KEY_PRESS_EVENT, code, 0, root, 0, 0, 0).expect("press");
        self.conn.xtest_fake_input(KEY_RELEASE_EVENT, code, 0, root, 0, 0, 0).expect("release");
        self.conn.flush().expect("flush");
    }

    /// 100 characters, one every `KEY_INTERVAL`, for `ACTIVE`.
    fn type_text(&self) {
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
    fn scroll(&mut self) {
        let mut rng = XorShift(0x5eed_1234);
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
    fn open_motion_window(&mut self) {
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
    fn motion(&mut self) -> (u32, Duration) {
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
    fn put(&self, image: &MotionImage) {
        let (window, gc) = self.motion_window.expect("motion window open");
        let (_, _, w, h) = MOTION;
        self.conn
            .put_image(ImageFormat::Z_PIXMAP, window, gc, w, h, 0, 0, 0, 24, &image.bgrx)
            .expect("put image");
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = self.xterm.kill();
        let _ = self.xterm.wait();
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// A small deterministic generator (xorshift32).
struct XorShift(u32);

impl XorShift {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u32) as usize]
    }
}

/// 36 lines that look like `ls -l` output, for the initial screen.
fn listing() -> String {
    let mut rng = XorShift(0xdead_beef);
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
fn log_line(rng: &mut XorShift, n: u64) -> String {
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

/// Photo-like frames for the motion window: smooth moving gradients per
/// channel, a finer texture, and per-frame noise.
struct MotionImage {
    bgrx: Vec<u8>,
    /// Per wave: sin and cos of its x term, per column (constant).
    columns: Vec<(Vec<f32>, Vec<f32>)>,
}

/// (channel, amplitude, x frequency, y frequency, temporal frequency,
/// phase); frequencies in radians per pixel and per frame.
const WAVES: [(usize, f32, f32, f32, f32, f32); 10] = [
    (0, 50.0, 0.011, 0.004, 0.05, 0.0),
    (0, 30.0, -0.006, 0.017, -0.08, 1.0),
    (0, 8.0, 0.09, 0.13, 0.31, 2.0),
    (1, 45.0, 0.008, -0.012, 0.06, 0.5),
    (1, 35.0, 0.019, 0.007, -0.04, 2.5),
    (1, 7.0, -0.11, 0.08, 0.27, 1.5),
    (2, 55.0, -0.009, 0.010, 0.07, 3.0),
    (2, 25.0, 0.014, 0.021, 0.05, 0.7),
    (2, 9.0, 0.07, -0.15, -0.35, 0.2),
    (1, 12.0, 0.03, 0.03, 0.12, 4.0),
];

impl MotionImage {
    fn new() -> MotionImage {
        let w = usize::from(MOTION.2);
        let columns = WAVES
            .iter()
            .map(|&(_, _, kx, _, _, _)| {
                let sin = (0..w).map(|x| (kx * x as f32).sin()).collect();
                let cos = (0..w).map(|x| (kx * x as f32).cos()).collect();
                (sin, cos)
            })
            .collect();
        MotionImage { bgrx: vec![0; w * usize::from(MOTION.3) * 4], columns }
    }

    /// Frame `t`: sin(kx·x + ky·y + ω·t + φ) summed per channel, split as
    /// sin(a)cos(b) + cos(a)sin(b) so each pixel costs a few multiplies.
    fn render(&mut self, t: u32) {
        let (w, h) = (usize::from(MOTION.2), usize::from(MOTION.3));
        let mut rng = XorShift(0x9e37_79b9u32.wrapping_mul(t + 1));
        for y in 0..h {
            let rows: Vec<(f32, f32)> = WAVES
                .iter()
                .map(|&(_, amp, _, ky, omega, phase)| {
                    let b = ky * y as f32 + omega * t as f32 + phase;
                    (amp * b.cos(), amp * b.sin())
                })
                .collect();
            let line = &mut self.bgrx[y * w * 4..(y + 1) * w * 4];
            for x in 0..w {
                let mut rgb = [128.0f32; 3];
                for (i, &(channel, ..)) in WAVES.iter().enumerate() {
                    let (sin, cos) = &self.columns[i];
                    rgb[channel] += sin[x] * rows[i].0 + cos[x] * rows[i].1;
                }
                let noise = rng.next();
                let px = &mut line[x * 4..x * 4 + 4];
                for (c, value) in rgb.iter().enumerate() {
                    let n = ((noise >> (c * 8)) & 0xff) as i32 % (2 * NOISE + 1) - NOISE;
                    // BGRX: blue first.
                    px[2 - c] = (*value as i32 + n).clamp(0, 255) as u8;
                }
                px[3] = 0;
            }
        }
    }
}
