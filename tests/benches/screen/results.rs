//! What a run measured, printed as a table, and the targets Tether is held to.

use std::time::Duration;

use crate::{ACTIVE, MOTION_FRAMES, ms};

/// Counters read at a phase's start and end.
#[derive(Clone, Copy, Default)]
pub(crate) struct Counters {
    /// Bytes of the view stream (Tether) or the RFB stream (VNC).
    pub(crate) stream: u64,
    /// Tether: bytes of UDP datagrams received on the QUIC connection.
    pub(crate) wire: Option<u64>,
    pub(crate) frames: u64,
}

pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) secs: f64,
    pub(crate) stream: u64,
    pub(crate) wire: Option<u64>,
    pub(crate) frames: u64,
    pub(crate) cpu_percent: f64,
    pub(crate) rss_max_kib: u64,
}

pub(crate) struct Results {
    pub(crate) server: String,
    /// Bytes of the first frame (and of UDP datagrams until it arrived).
    pub(crate) initial: (u64, Option<u64>),
    pub(crate) phases: Vec<Phase>,
    pub(crate) latency: Vec<Duration>,
    pub(crate) latency_misses: usize,
    pub(crate) latency_what: &'static str,
    /// How punctual the workload was.
    pub(crate) note: String,
    pub(crate) hwm_kib: u64,
    /// RssAnon, RssFile and RssShmem at the end.
    pub(crate) rss_parts: String,
}

impl Results {
    pub(crate) fn phase(&self, name: &str) -> &Phase {
        self.phases.iter().find(|p| p.name == name).expect("phase measured")
    }

    pub(crate) fn print(&self) {
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

    pub(crate) fn latency_percentiles(&self) -> Option<(Duration, Duration)> {
        if self.latency.is_empty() {
            return None;
        }
        let mut sorted = self.latency.clone();
        sorted.sort();
        let pct = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p).round() as usize];
        Some((pct(0.5), pct(0.95)))
    }
}

pub(crate) fn targets(t: &Results, vnc: &Results) {
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
