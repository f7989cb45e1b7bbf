//! A tree far deeper than PATH_MAX allows to name in one path: 5,000
//! levels. Points, diffs and rollbacks must neither overflow the stack
//! nor fail; what lies past the depth limit is reported, not recorded,
//! and never touched.

// Unix only: names its deep paths through /proc/self/fd.
#![cfg(unix)]

mod common;

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use common::Fixture;
use tether_restore::{Backend, DEFAULT_MAX_DEPTH, PointKind};

const LEVELS: usize = 5_000;

/// The path of `name` in the directory `dir` is open on, short however
/// deep `dir` is.
fn at(dir: &File, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{name}", dir.as_raw_fd()))
}

/// Creates `root/d/d/…` LEVELS deep, with a file at `file_depth`.
fn make_deep(root: &Path, file_depth: usize) {
    let mut dir = File::open(root).unwrap();
    for depth in 1..=LEVELS {
        fs::create_dir(at(&dir, "d")).unwrap();
        dir = File::open(at(&dir, "d")).unwrap();
        if depth == file_depth {
            fs::write(at(&dir, "deep.txt"), b"far down\n").unwrap();
        }
    }
}

fn read_at_depth(root: &Path, depth: usize, name: &str) -> Option<Vec<u8>> {
    let mut dir = File::open(root).unwrap();
    for _ in 0..depth {
        dir = File::open(at(&dir, "d")).ok()?;
    }
    fs::read(at(&dir, name)).ok()
}

/// Removes the chain one level at a time from the top (remove_dir_all
/// would hold a descriptor per level, past the process's limit).
fn remove_deep(root: &Path) {
    let top = root.join("d");
    let spare = root.join("spare");
    while top.exists() {
        if fs::rename(top.join("d"), &spare).is_err() {
            fs::remove_dir_all(&top).unwrap();
            break;
        }
        fs::remove_dir_all(&top).unwrap();
        fs::rename(&spare, &top).unwrap();
    }
}

#[test]
fn a_5000_level_tree_is_recorded_to_the_limit_and_reported_past_it() {
    let f = Fixture::in_memory();
    f.write("top.conf", b"v1\n");
    make_deep(&f.root, 300);
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).expect("no stack overflow");
    let depth_note = format!("deeper than {DEFAULT_MAX_DEPTH} levels");
    assert!(point.skipped.iter().any(|s| s.contains(&depth_note)), "{:?}", point.skipped);
    // The root, top.conf, and the chain down to the limit.
    assert_eq!(point.entries as usize, 2 + DEFAULT_MAX_DEPTH);
    let detail = engine.show(&point.id).unwrap();
    assert!(!detail.entries.iter().any(|e| e.path.ends_with("deep.txt")));

    // Changes above the limit roll back; what is below it is left alone.
    f.write("top.conf", b"v2\n");
    f.write("d/d/d/added", b"new\n");
    assert_eq!(engine.diff(&point.id).unwrap().added_since.len(), 1);
    engine.rollback(&point.id).expect("rollback of a deep tree");
    assert_eq!(fs::read(f.path("top.conf")).unwrap(), b"v1\n");
    assert!(!f.path("d/d/d/added").exists());
    assert_eq!(read_at_depth(&f.root, 300, "deep.txt").as_deref(), Some(&b"far down\n"[..]));
    engine.undo().unwrap();
    assert_eq!(fs::read(f.path("top.conf")).unwrap(), b"v2\n");
    remove_deep(&f.root);
}
