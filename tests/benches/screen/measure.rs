//! Measuring a phase: the server process's CPU and memory from /proc, and
//! the stream's counters; what one motion frame costs for comparison.

use std::fs::File;
use std::time::{Duration, Instant};

use tether_tests::proc::{self, RssSampler, status_kib, ticks_per_sec};

use crate::motion::MotionImage;
use crate::results::{Counters, Phase};
use crate::scene::{Scene, SceneKind};
use crate::{DRAIN, IDLE, MOTION, MOTION_FPS, MOTION_FRAMES, SETTLE, ms};

/// The server process and how to read the stream's counters.
pub(crate) struct Probe<'a> {
    pub(crate) pid: i32,
    pub(crate) rss: RssSampler,
    pub(crate) counters: Box<dyn Fn() -> Counters + 'a>,
}

impl Probe<'_> {
    /// Runs `workload` and measures it (plus `DRAIN`) as one phase.
    pub(crate) fn phase(&self, name: &'static str, workload: impl FnOnce()) -> Phase {
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
            wire: after.wire.since(before.wire),
            frames: after.frames - before.frames,
            cpu_percent: cpu * 100.0 / secs,
            rss_max_kib: self.rss.max(),
        }
    }

    /// The phases of `scene`'s kind, in order; also returns a note on how
    /// punctual the animations were.
    pub(crate) fn phases(&self, scene: &mut Scene, kind: SceneKind) -> (Vec<Phase>, String) {
        match kind {
            SceneKind::Classic => self.standard_phases(scene),
            SceneKind::Photo => self.photo_phases(scene),
        }
    }

    /// The translated-content phases of the photo scene: pan, drag, and
    /// several areas at once.
    fn photo_phases(&self, scene: &mut Scene) -> (Vec<Phase>, String) {
        let mut phases = Vec::new();
        let mut notes = Vec::new();
        let runs: [(&'static str, Animation); 3] =
            [("pan", Scene::pan), ("drag", Scene::drag), ("several", Scene::several)];
        for (name, workload) in runs {
            std::thread::sleep(SETTLE);
            let mut late = (0, Duration::ZERO);
            phases.push(self.phase(name, || late = workload(scene)));
            notes.push(format!("{name} {} late (max {:.1} ms)", late.0, ms(late.1)));
        }
        std::thread::sleep(SETTLE);
        let note = format!(
            "animations: {MOTION_FRAMES} steps each at {MOTION_FPS}/s, more than 10 ms late: {}",
            notes.join(", ")
        );
        (phases, note)
    }

    /// The classic phases, in order, on `scene`.
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

/// A workload that animates the scene; returns how many steps were late
/// and the worst lateness.
type Animation = fn(&mut Scene) -> (u32, Duration);

/// Resident memory by kind: anonymous, file-backed, shared memory.
pub(crate) fn rss_parts(pid: i32) -> String {
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
pub(crate) fn motion_reference() {
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
pub(crate) fn write_png(path: &std::ffi::OsStr, frame: &tether_screen_codec::Frame) {
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

/// utime + stime of the server process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    proc::cpu_ticks(pid).expect("process alive")
}
