//! Restore point figures for the workload: a tree of 10,000 files
//! / 200 MB, a first point, 1% of the files changed, a second point, a
//! dry run, a rollback to the first point and its undo. Prints medians of
//! several runs (warm page cache: the tree is written, then flushed with
//! `sync`, just before).
//!
//! Run: `cargo bench -p tether-restore --bench points` (`RUNS=N` to change
//! the number of runs, default 3).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use tether_restore::{Backend, Engine, PointKind, StoreConfig};

const FILES: usize = 10_000;
const DIRS: usize = 100;
/// 20,000 bytes on average: 200 MB in all.
const MEAN_SIZE: usize = 20_000;

/// Content like a workstation's: half the files text-like (repetitive,
/// compressible), half binary-like (incompressible).
fn content(i: usize, generation: u64) -> Vec<u8> {
    let len = MEAN_SIZE / 2 + (i * 7919) % MEAN_SIZE;
    let mut state = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ generation;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    if i.is_multiple_of(2) {
        let words = [
            "option",
            "= yes",
            "path",
            "/usr/lib",
            "enabled",
            "# comment",
            "timeout",
            "3600",
            "\n",
        ];
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            out.extend_from_slice(words[(next() % words.len() as u64) as usize].as_bytes());
            out.push(b' ');
        }
        out.truncate(len);
        out
    } else {
        (0..len).map(|_| next() as u8).collect()
    }
}

fn write_tree(root: &Path) -> u64 {
    let mut total = 0;
    for d in 0..DIRS {
        fs::create_dir_all(root.join(format!("d{d:03}"))).unwrap();
    }
    for i in 0..FILES {
        let c = content(i, 0);
        total += c.len() as u64;
        fs::write(root.join(format!("d{:03}/f{i:05}", i % DIRS)), c).unwrap();
    }
    total
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

#[derive(Default)]
struct Figures {
    create_first: Vec<f64>,
    create_second: Vec<f64>,
    diff: Vec<f64>,
    rollback: Vec<f64>,
    undo: Vec<f64>,
    store_first: Vec<f64>,
    store_second: Vec<f64>,
    tree_mb: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut fig = Figures::default();
    for run in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        let total = write_tree(&root);
        fig.tree_mb = total as f64 / 1e6;
        let config = StoreConfig::new(dir.path().join("state"), vec![root.clone()]);
        let (engine, _) = Engine::open(config).unwrap();
        // The store flushes its filesystem before publishing a point; do not
        // charge it for flushing the 200 MB this bench just wrote.
        std::process::Command::new("sync").status().unwrap();

        let (first, t) = timed(|| engine.create(None, false, PointKind::Manual).unwrap());
        fig.create_first.push(t.as_secs_f64());
        let size_first = engine.store_bytes().unwrap();
        fig.store_first.push(size_first as f64 / 1e6);

        // Change 1% of the files.
        for i in (0..FILES).step_by(100) {
            fs::write(root.join(format!("d{:03}/f{i:05}", i % DIRS)), content(i, run as u64 + 1))
                .unwrap();
        }
        let (_, t) = timed(|| engine.create(None, false, PointKind::Manual).unwrap());
        fig.create_second.push(t.as_secs_f64());
        fig.store_second.push((engine.store_bytes().unwrap() - size_first) as f64 / 1e6);

        let (diff, t) = timed(|| engine.diff(&first.id).unwrap());
        assert_eq!(diff.modified.len(), FILES / 100);
        fig.diff.push(t.as_secs_f64());
        let (report, t) = timed(|| engine.rollback(&first.id).unwrap());
        assert_eq!(report.counts.restored, (FILES / 100) as u64);
        fig.rollback.push(t.as_secs_f64());
        let (_, t) = timed(|| engine.undo().unwrap());
        fig.undo.push(t.as_secs_f64());
        eprintln!("run {}/{runs} done", run + 1);
    }
    println!(
        "tree: {FILES} files in {DIRS} directories, {:.0} MB (half text-like, half incompressible)",
        fig.tree_mb
    );
    println!("medians of {runs} runs:");
    println!(
        "  first point (empty store)    {:>8.2} s   store {:>6.1} MB",
        median(&mut fig.create_first),
        median(&mut fig.store_first)
    );
    println!(
        "  second point (1% changed)    {:>8.2} s   store +{:>5.1} MB",
        median(&mut fig.create_second),
        median(&mut fig.store_second)
    );
    println!("  diff against the first       {:>8.2} s", median(&mut fig.diff));
    println!(
        "  rollback to the first (100 files, incl. pre-rollback point) {:>6.2} s",
        median(&mut fig.rollback)
    );
    println!("  undo                         {:>8.2} s", median(&mut fig.undo));
}
