//! The engine on real temporary trees: create, diff, rollback, undo,
//! retention, dedup, verify, exclusions.

mod common;

use std::fs;

use common::{Fixture, Rng, assert_same, chmod, link};
use tether_restore::{Backend, Engine, PointKind, RestoreError};

/// A tree with every kind of thing a point records on Unix.
#[cfg(unix)]
fn populate(f: &Fixture) {
    f.write("etc/app.conf", b"colour = blue\n");
    f.write("etc/secret", b"password\n");
    chmod(&f.path("etc/secret"), 0o600);
    f.write("etc/run.sh", b"#!/bin/sh\necho hi\n");
    chmod(&f.path("etc/run.sh"), 0o4755);
    f.write("etc/owned", b"someone else's\n");
    std::os::unix::fs::chown(f.path("etc/owned"), Some(1234), Some(2345)).unwrap();
    f.write("data/big.bin", &Rng::new(7).bytes(3 << 20));
    f.write("data/gone.txt", b"will be removed\n");
    f.write("data/becomes-dir", b"a file for now\n");
    f.write("data/becomes-file/inner", b"inside a dir\n");
    f.write("data/touched", b"same bytes\n");
    fs::create_dir_all(f.path("empty/dir")).unwrap();
    link("../etc/app.conf", &f.path("data/conf-link"));
    link("/nonexistent/dangling", &f.path("data/dangling"));
}

/// Every kind of change a user or an update makes.
#[cfg(unix)]
fn mutate(f: &Fixture) {
    f.write("etc/app.conf", b"colour = red\n");
    chmod(&f.path("etc/secret"), 0o644);
    std::os::unix::fs::chown(f.path("etc/owned"), Some(0), Some(0)).unwrap();
    let mut big = fs::read(f.path("data/big.bin")).unwrap();
    big[1_000_000] ^= 0xff;
    fs::write(f.path("data/big.bin"), big).unwrap();
    fs::remove_file(f.path("data/gone.txt")).unwrap();
    fs::remove_file(f.path("data/becomes-dir")).unwrap();
    f.write("data/becomes-dir/child", b"new\n");
    fs::remove_dir_all(f.path("data/becomes-file")).unwrap();
    f.write("data/becomes-file", b"now a file\n");
    let file = fs::File::options().write(true).open(f.path("data/touched")).unwrap();
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
    fs::remove_dir(f.path("empty/dir")).unwrap();
    fs::remove_file(f.path("data/conf-link")).unwrap();
    link("../etc/secret", &f.path("data/conf-link"));
    f.write("new/deep/file.txt", b"added later\n");
    f.write("etc/added.conf", b"added\n");
}

// Unix only: owners, setuid bits and symlinks (see the portable test below).
#[cfg(unix)]
#[test]
fn rollback_restores_the_point_exactly_and_undo_returns() {
    let f = Fixture::new();
    populate(&f);
    let engine = f.open();
    let point = engine.create(Some("baseline"), false, PointKind::Manual).unwrap();
    assert_eq!(point.label.as_deref(), Some("baseline"));
    assert_eq!(point.files, 9);
    let before = f.snapshot();

    mutate(&f);
    let after = f.snapshot();
    let diff = engine.diff(&point.id).unwrap();
    assert_eq!(
        diff.modified,
        [
            "data/becomes-dir",
            "data/becomes-file",
            "data/big.bin",
            "data/conf-link",
            "data/touched",
            "etc/app.conf",
            "etc/owned",
            "etc/secret",
        ]
        .map(|p| f.path(p).to_str().unwrap().to_owned())
    );
    assert_eq!(
        diff.added_since,
        ["data/becomes-dir/child", "etc/added.conf", "new", "new/deep", "new/deep/file.txt"]
            .map(|p| f.path(p).to_str().unwrap().to_owned())
    );
    assert_eq!(
        diff.removed_since,
        ["data/becomes-file/inner", "data/gone.txt", "empty/dir"].map(|p| f
            .path(p)
            .to_str()
            .unwrap()
            .to_owned())
    );

    let report = engine.rollback(&point.id).unwrap();
    assert_same(&f.snapshot(), &before, "after rollback");
    assert_eq!(report.point, point.id);
    assert_eq!(report.counts.restored, 11);
    assert_eq!(report.counts.moved_aside, 5);
    assert!(engine.diff(&point.id).unwrap().is_empty());
    let pre = engine.show(&report.pre_rollback_point).unwrap();
    assert_eq!(pre.summary.kind, PointKind::PreRollback);
    assert!(
        pre.entries.iter().any(|e| e.path.ends_with("new/deep/file.txt")),
        "moved-aside files are kept"
    );

    let undo = engine.undo().unwrap();
    assert_eq!(undo.point, report.pre_rollback_point);
    assert_same(&f.snapshot(), &after, "after undo");
    // Undo of the undo goes forward again.
    engine.undo().unwrap();
    assert_same(&f.snapshot(), &before, "after undoing the undo");
    assert!(engine.verify().unwrap().problems.is_empty());
}

/// What every platform records: content, directories, the read-only bit
/// (Unix: the mode), modification times; type changes both ways.
#[test]
fn rollback_restores_files_dirs_and_attributes_and_undo_returns() {
    let f = Fixture::new();
    f.write("etc/app.conf", b"colour = blue\n");
    f.write("etc/locked.conf", b"read-only\n");
    chmod(&f.path("etc/locked.conf"), 0o444);
    f.write("data/big.bin", &Rng::new(7).bytes(3 << 20));
    f.write("data/gone.txt", b"will be removed\n");
    f.write("data/becomes-dir", b"a file for now\n");
    f.write("data/becomes-file/inner", b"inside a dir\n");
    f.write("data/touched", b"same bytes\n");
    fs::create_dir_all(f.path("empty/dir")).unwrap();
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    assert_eq!(point.files, 7);
    let before = f.snapshot();

    f.write("etc/app.conf", b"colour = red\n");
    chmod(&f.path("etc/locked.conf"), 0o644);
    f.write("etc/locked.conf", b"writable now\n");
    let mut big = fs::read(f.path("data/big.bin")).unwrap();
    big[1_000_000] ^= 0xff;
    fs::write(f.path("data/big.bin"), big).unwrap();
    fs::remove_file(f.path("data/gone.txt")).unwrap();
    fs::remove_file(f.path("data/becomes-dir")).unwrap();
    f.write("data/becomes-dir/child", b"new\n");
    fs::remove_dir_all(f.path("data/becomes-file")).unwrap();
    f.write("data/becomes-file", b"now a file\n");
    let file = fs::File::options().write(true).open(f.path("data/touched")).unwrap();
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000)).unwrap();
    drop(file);
    fs::remove_dir(f.path("empty/dir")).unwrap();
    f.write("new/deep/file.txt", b"added later\n");
    let after = f.snapshot();

    let diff = engine.diff(&point.id).unwrap();
    let paths = |rel: &[&str]| -> Vec<String> {
        rel.iter().map(|p| format!("{}/{p}", common::engine_path(&f.root))).collect()
    };
    assert_eq!(
        diff.modified,
        paths(&[
            "data/becomes-dir",
            "data/becomes-file",
            "data/big.bin",
            "data/touched",
            "etc/app.conf",
            "etc/locked.conf",
        ])
    );
    assert_eq!(
        diff.added_since,
        paths(&["data/becomes-dir/child", "new", "new/deep", "new/deep/file.txt"])
    );
    assert_eq!(
        diff.removed_since,
        paths(&["data/becomes-file/inner", "data/gone.txt", "empty/dir"])
    );

    let report = engine.rollback(&point.id).unwrap();
    assert_same(&f.snapshot(), &before, "after rollback");
    assert!(engine.diff(&point.id).unwrap().is_empty());
    let undo = engine.undo().unwrap();
    assert_eq!(undo.point, report.pre_rollback_point);
    assert_same(&f.snapshot(), &after, "after undo");
    engine.undo().unwrap();
    assert_same(&f.snapshot(), &before, "after undoing the undo");
    assert!(engine.verify().unwrap().problems.is_empty());
}

// Windows only: the hidden and system attributes (Unix has none).
#[cfg(windows)]
#[test]
fn hidden_and_system_attributes_round_trip() {
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::fs::MetadataExt;
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_ATTRIBUTE_HIDDEN, FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_SYSTEM, SetFileAttributesW,
    };
    let set = |path: &std::path::Path, attrs: u32| {
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        // SAFETY: `wide` is a NUL-terminated path.
        assert_ne!(unsafe { SetFileAttributesW(wide.as_ptr(), attrs) }, 0);
    };
    let f = Fixture::new();
    let attrs = |rel: &str| fs::metadata(f.path(rel)).unwrap().file_attributes() & 0x7;
    f.write("secret/h.ini", b"hidden\n");
    f.write("plain.ini", b"plain\n");
    set(&f.path("secret/h.ini"), FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM);
    set(&f.path("secret"), FILE_ATTRIBUTE_HIDDEN);
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    let before = f.snapshot();
    assert_eq!(attrs("secret/h.ini"), FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM);

    set(&f.path("secret/h.ini"), FILE_ATTRIBUTE_NORMAL);
    set(&f.path("secret"), FILE_ATTRIBUTE_NORMAL);
    set(&f.path("plain.ini"), FILE_ATTRIBUTE_HIDDEN);
    let diff = engine.diff(&point.id).unwrap();
    let root = common::engine_path(&f.root);
    assert_eq!(
        diff.modified,
        [format!("{root}/plain.ini"), format!("{root}/secret"), format!("{root}/secret/h.ini")]
    );
    engine.rollback(&point.id).unwrap();
    assert_same(&f.snapshot(), &before, "after rollback");
    assert_eq!(attrs("secret/h.ini"), FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM);
    assert_eq!(attrs("secret"), FILE_ATTRIBUTE_HIDDEN);
    assert_eq!(attrs("plain.ini"), 0);
}

#[test]
fn random_trees_round_trip() {
    for seed in 0..25 {
        let mut rng = Rng::new(seed);
        let f = Fixture::new();
        let dirs = ["", "a", "a/b", "c", "c/d/e"];
        let mut paths = Vec::new();
        for i in 0..(5 + rng.below(30)) {
            let dir = dirs[rng.below(dirs.len() as u64) as usize];
            let rel = if dir.is_empty() { format!("f{i}") } else { format!("{dir}/f{i}") };
            let len = [0, 1, 100, 5000, 70_000][rng.below(5) as usize];
            f.write(&rel, &rng.bytes(len));
            chmod(&f.path(&rel), [0o600, 0o644, 0o755, 0o640][rng.below(4) as usize]);
            paths.push(rel);
        }
        let engine = f.open();
        let point = engine.create(None, false, PointKind::Automatic).unwrap();
        let before = f.snapshot();
        for _ in 0..(1 + rng.below(12)) {
            let rel = &paths[rng.below(paths.len() as u64) as usize];
            let p = f.path(rel);
            if !p.exists() {
                continue;
            }
            match rng.below(5) {
                0 => fs::remove_file(&p).unwrap(),
                1 => {
                    let len = rng.below(9000) as usize;
                    fs::write(&p, rng.bytes(len)).unwrap()
                }
                2 => chmod(&p, 0o700),
                3 => f.write(&format!("{rel}.new/x"), b"added"),
                // Windows: a symlink is a reparse point, which a rollback
                // never replaces (see `windows_links.rs`).
                _ if cfg!(unix) => {
                    fs::remove_file(&p).unwrap();
                    link("elsewhere", &p);
                }
                _ => fs::write(&p, b"rewritten").unwrap(),
            }
        }
        let after = f.snapshot();
        engine.rollback(&point.id).unwrap();
        assert_same(&f.snapshot(), &before, &format!("seed {seed}: rollback"));
        engine.undo().unwrap();
        assert_same(&f.snapshot(), &after, &format!("seed {seed}: undo"));
    }
}

#[test]
fn an_unchanged_tree_costs_almost_nothing_more() {
    let f = Fixture::new();
    let mut rng = Rng::new(3);
    for i in 0..300 {
        f.write(&format!("d{}/f{i}", i % 10), &rng.bytes(4096));
    }
    f.write("copy-a", &[7; 100_000]);
    f.write("copy-b", &[7; 100_000]);
    let engine = f.open();
    engine.create(None, false, PointKind::Manual).unwrap();
    let one = engine.store_bytes().unwrap();
    engine.create(None, false, PointKind::Manual).unwrap();
    let two = engine.store_bytes().unwrap();
    assert!(one > 300 * 4096, "the first point stores the content ({one} bytes)");
    assert!(two - one < 20_000, "a second point of the same tree added {} bytes", two - one);
    assert_eq!(engine.verify().unwrap().blobs, 301, "equal files are stored once");
}

#[test]
fn retention_prunes_automatic_points_first_and_never_kept_ones() {
    let f = Fixture::new();
    f.write("x", b"1");
    let mut config = f.config();
    config.keep_count = 2;
    let (engine, _) = Engine::open(config).unwrap();
    let kept = engine.create(Some("golden"), true, PointKind::Manual).unwrap();
    let manual = engine.create(None, false, PointKind::Manual).unwrap();
    let auto1 = engine.create(None, false, PointKind::Automatic).unwrap();
    let auto2 = engine.create(None, false, PointKind::Automatic).unwrap();
    let ids: Vec<String> = engine.list().unwrap().into_iter().map(|p| p.id).collect();
    assert!(
        ids.contains(&kept.id) && ids.contains(&manual.id) && ids.contains(&auto2.id),
        "{ids:?}"
    );
    assert!(!ids.contains(&auto1.id), "the oldest automatic point went first: {ids:?}");
    let auto3 = engine.create(None, false, PointKind::Automatic).unwrap();
    let ids: Vec<String> = engine.list().unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.contains(&kept.id) && ids.contains(&manual.id) && ids.contains(&auto3.id),
        "{ids:?}"
    );
}

#[test]
fn retention_by_size_keeps_the_newest_point() {
    let f = Fixture::new();
    let mut config = f.config();
    config.max_store_bytes = 150_000;
    let (engine, _) = Engine::open(config).unwrap();
    let mut rng = Rng::new(9);
    let mut last = String::new();
    for _ in 0..4 {
        f.write("blob", &rng.bytes(100_000));
        last = engine.create(None, false, PointKind::Automatic).unwrap().id;
    }
    let points = engine.list().unwrap();
    assert_eq!(points.len(), 1, "only the newest fits");
    assert_eq!(points[0].id, last);
    assert!(engine.store_bytes().unwrap() <= 150_000);
}

#[test]
fn excluded_paths_are_neither_recorded_nor_touched() {
    let f = Fixture::new();
    f.write("keep.conf", b"v1");
    f.write("cache/blob", b"c1");
    let mut config = f.config();
    config.exclude = vec!["**/cache".into(), "**/*.swp".into()];
    let (engine, _) = Engine::open(config).unwrap();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    assert_eq!(point.files, 1);
    f.write("keep.conf", b"v2");
    f.write("cache/blob", b"c2");
    f.write("newdir/.edit.swp", b"swap");
    f.write("newdir/plain", b"p");
    let report = engine.rollback(&point.id).unwrap();
    assert_eq!(fs::read(f.path("keep.conf")).unwrap(), b"v1");
    assert_eq!(fs::read(f.path("cache/blob")).unwrap(), b"c2", "excluded content is left alone");
    assert!(f.path("newdir/.edit.swp").exists(), "an added dir holding excluded files stays");
    assert!(!f.path("newdir/plain").exists());
    assert_eq!(report.counts.kept, 1);
}

#[test]
fn damage_lock_and_missing_points_are_reported() {
    let f = Fixture::new();
    f.write("a", b"some content worth compressing");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    assert!(matches!(Engine::open(f.config()), Err(RestoreError::Locked(_))));
    assert!(matches!(
        engine.rollback("20000101T000000Z-00000000"),
        Err(RestoreError::NoSuchPoint(_))
    ));
    assert!(matches!(engine.diff("../../etc"), Err(RestoreError::NoSuchPoint(_))));
    assert!(matches!(engine.undo(), Err(RestoreError::NothingToUndo)));

    let objects = f.state.join("objects");
    let object = fs::read_dir(&objects)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("tmp"))
        .flat_map(|shard| fs::read_dir(shard).unwrap().map(|e| e.unwrap().path()))
        .next()
        .expect("one object stored");
    fs::write(&object, b"garbage").unwrap();
    let report = engine.verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    fs::write(f.path("a"), b"changed").unwrap();
    let err = engine.rollback(&point.id).unwrap_err();
    assert!(matches!(err, RestoreError::Corrupt(_)), "{err}");
    assert_eq!(fs::read(f.path("a")).unwrap(), b"changed", "a failed rollback changes nothing");
    assert!(!f.state.join("journal.json").exists());
}

#[test]
fn delete_frees_content_only_that_point_held() {
    let f = Fixture::new();
    f.write("a", &Rng::new(1).bytes(200_000));
    let engine = f.open();
    let first = engine.create(None, false, PointKind::Manual).unwrap();
    f.write("a", &Rng::new(2).bytes(200_000));
    let second = engine.create(None, false, PointKind::Manual).unwrap();
    let both = engine.store_bytes().unwrap();
    engine.delete(&first.id).unwrap();
    assert!(engine.store_bytes().unwrap() < both - 150_000);
    assert_eq!(engine.list().unwrap().len(), 1);
    assert!(engine.show(&second.id).is_ok());
    assert!(engine.verify().unwrap().problems.is_empty());
}

// Unix only: Windows gives the store the ACL of where it is made.
#[cfg(unix)]
#[test]
fn store_is_private() {
    use std::os::unix::fs::MetadataExt;
    let f = Fixture::new();
    f.write("a", b"x");
    let engine = f.open();
    engine.create(None, false, PointKind::Manual).unwrap();
    for dir in [f.state.clone(), f.state.join("objects"), f.state.join("points")] {
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700, "{}", dir.display());
    }
}
