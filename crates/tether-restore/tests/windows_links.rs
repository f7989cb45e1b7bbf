//! Windows: symlinks (and every other reparse point: junctions, mount
//! points) planted in a restored tree are never followed. A point lists
//! them as left out and records nothing through them; a rollback neither
//! replaces one nor writes anything through it.

// Windows only: Unix symlinks are recorded and restored (see `hostile.rs`).
#![cfg(windows)]

mod common;

use std::fs;
use std::os::windows::fs::{symlink_dir, symlink_file};
use std::path::Path;

use common::Fixture;
use tether_restore::{Backend, PointKind};

/// Root's files outside the restore paths, named like those inside so a
/// followed link would land on them.
fn outside(f: &Fixture) -> std::path::PathBuf {
    let o = f.dir.path().join("outside");
    fs::create_dir_all(o.join("conf")).unwrap();
    fs::write(o.join("a"), b"outside a").unwrap();
    fs::write(o.join("conf/a"), b"outside conf/a").unwrap();
    o
}

fn outside_is_untouched(o: &Path) {
    assert_eq!(fs::read(o.join("a")).unwrap(), b"outside a");
    assert_eq!(fs::read(o.join("conf/a")).unwrap(), b"outside conf/a");
    let mut names: Vec<_> = fs::read_dir(o).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["a", "conf"], "nothing was written outside");
}

#[test]
fn symlinks_in_the_tree_are_listed_and_never_followed_by_a_point() {
    let f = Fixture::new();
    let o = outside(&f);
    f.write("keep", b"k");
    symlink_dir(&o, f.path("dir-link")).expect("make a directory symlink");
    symlink_file(o.join("a"), f.path("file-link")).expect("make a file symlink");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    assert_eq!(point.files, 1, "only `keep`: nothing read through a link");
    let detail = engine.show(&point.id).unwrap();
    assert!(detail.entries.iter().all(|e| !e.path.contains("link")), "{:?}", detail.entries);
    for name in ["dir-link", "file-link"] {
        assert!(
            detail.summary.skipped.iter().any(|s| s.contains(name) && s.contains("reparse point")),
            "{name} not listed: {:?}",
            detail.summary.skipped
        );
    }
    outside_is_untouched(&o);
}

#[test]
fn a_rollback_never_writes_through_a_symlink_planted_in_place_of_a_directory() {
    let f = Fixture::new();
    let o = outside(&f);
    f.write("conf/a", b"inside conf/a");
    f.write("a", b"inside a");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    // A user swaps the recorded directory for a link to root's files, and
    // the recorded file for a link to another of them.
    fs::remove_dir_all(f.path("conf")).unwrap();
    symlink_dir(o.join("conf"), f.path("conf")).unwrap();
    fs::remove_file(f.path("a")).unwrap();
    symlink_file(o.join("a"), f.path("a")).unwrap();
    let result = engine.rollback(&point.id);
    outside_is_untouched(&o);
    for name in ["conf", "a"] {
        let meta = fs::symlink_metadata(f.path(name)).unwrap();
        assert!(meta.is_symlink(), "{name}: the planted link is left in place");
    }
    match result {
        Ok(report) => assert!(
            report.skipped.iter().any(|s| s.contains("conf")),
            "what was left is reported: {:?}",
            report.skipped
        ),
        Err(e) => assert!(e.to_string().contains("reparse point"), "{e}"),
    }
}
