//! Special files (FIFOs, sockets, device nodes) and mount points in the
//! way of a rollback, of its return and of the recovery at the next start,
//! and of taking a point: never replaced, written into, read or followed;
//! what is left alone is reported, and the tree ends wholly old or wholly
//! new around it. Each is put there before the operation and, by a test
//! hook, at every step of it.
//!
//! The tests mount tmpfs filesystems and make device nodes (root, as the
//! agent runs), one test at a time (see `common::serial`).

// Unix only: FIFOs, sockets, device nodes and tmpfs mounts.
#![cfg(unix)]

mod common;

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use common::{Fixture, Mount, Snapshot, assert_same, chmod, quiet_failpoints, serial, snapshot};
use tether_restore::{Backend, Engine, PointKind, Recovery, RestoreError, failpoint};

/// A point of a user's home, then changes a rollback to it undoes: a
/// modified file, a removed file, a mode change and a modified file in a
/// subdirectory, an added file. Returns the fixture, the point and the
/// tree as the point has it.
fn scenario() -> (Fixture, String, Snapshot) {
    let f = Fixture::in_memory();
    f.write("home/u/a.conf", b"a = 1\n");
    f.write("home/u/b.conf", b"b = 1\n");
    f.write("home/u/sub/c.conf", b"c = 1\n");
    f.write("home/u/sub/d.conf", b"d = 1\n");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    let at_point = snapshot(&f.root);
    drop(engine);
    f.write("home/u/a.conf", b"a = 2\n");
    fs::remove_file(f.path("home/u/b.conf")).unwrap();
    chmod(&f.path("home/u/sub/c.conf"), 0o666);
    f.write("home/u/sub/d.conf", b"d = 2\n");
    f.write("home/u/new", b"added\n");
    (f, point, at_point)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Special {
    Fifo,
    Socket,
    Device,
}

impl Special {
    fn make(self, at: &Path) {
        match self {
            Special::Fifo => tether_os::fs::make_fifo(at, 0o644).unwrap(),
            Special::Socket => drop(std::os::unix::net::UnixListener::bind(at).unwrap()),
            // Like /dev/null: only root makes device nodes.
            Special::Device => {
                let status = Command::new("mknod").arg(at).args(["c", "1", "3"]).status().unwrap();
                assert!(status.success(), "mknod needs root");
            }
        }
    }

    fn is_at(self, at: &Path) -> bool {
        fs::symlink_metadata(at).is_ok_and(|m| {
            let t = m.file_type();
            match self {
                Special::Fifo => t.is_fifo(),
                Special::Socket => t.is_socket(),
                Special::Device => t.is_char_device() && m.rdev() == libc::makedev(1, 3),
            }
        })
    }

    /// Puts a special file where `at` was (a file or a whole directory).
    fn swap_in(self, at: &Path) {
        match fs::symlink_metadata(at) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(at).unwrap(),
            Ok(_) => fs::remove_file(at).unwrap(),
            Err(_) => {}
        }
        self.make(at);
    }
}

/// `tree` without `path` and whatever lies beneath it (keys are relative
/// to the snapshot's root).
fn without(mut tree: Snapshot, path: &str) -> Snapshot {
    tree.retain(|k, _| k != path && !k.starts_with(&format!("{path}/")));
    tree
}

/// Asserts the tree is wholly `old` or wholly `new` apart from `path`,
/// and holds no rollback temporaries.
fn wholly_old_or_new(f: &Fixture, path: &str, old: &Snapshot, new: &Snapshot, what: &str) {
    let now = without(snapshot(&f.root), path);
    let temps: Vec<&String> = now.keys().filter(|k| k.contains(".tether-rb-")).collect();
    assert!(temps.is_empty(), "{what}: temporaries left: {temps:?}");
    if now != without(new.clone(), path) {
        assert_same(&now, &without(old.clone(), path), what);
    }
}

fn ends_with_path(lines: &[String], path: &Path) -> bool {
    let path = path.to_str().unwrap();
    lines.iter().any(|s| s.starts_with(&format!("{path}:")))
}

#[test]
fn special_files_in_place_of_recorded_entries_are_left_and_reported() {
    let _serial = serial();
    for kind in [Special::Fifo, Special::Socket, Special::Device] {
        let (f, point, _) = scenario();
        let engine = f.open();
        // A modified file, a removed file and a directory are special now.
        for p in ["home/u/a.conf", "home/u/b.conf", "home/u/sub"] {
            kind.swap_in(&f.path(p));
        }
        let taken = engine.create(None, false, PointKind::Manual).unwrap();
        for p in ["home/u/a.conf", "home/u/b.conf", "home/u/sub"] {
            assert!(
                ends_with_path(&taken.skipped, &f.path(p)),
                "{kind:?} {p}: {:?}",
                taken.skipped
            );
        }
        engine.diff(&point).unwrap();
        let report = engine.rollback(&point).expect("the rest is rolled back");
        for p in ["home/u/a.conf", "home/u/b.conf", "home/u/sub"] {
            assert!(kind.is_at(&f.path(p)), "{kind:?}: {p} replaced");
        }
        for p in ["home/u/a.conf", "home/u/b.conf", "home/u/sub", "home/u/sub/c.conf"] {
            assert!(
                ends_with_path(&report.skipped, &f.path(p)),
                "{kind:?} {p}: {:?}",
                report.skipped
            );
        }
        assert!(!f.path("home/u/new").exists(), "{kind:?}: the rest was rolled back");
        engine.undo().expect("undo");
        assert!(kind.is_at(&f.path("home/u/a.conf")), "{kind:?}: undo replaced it");
        assert_eq!(fs::read(f.path("home/u/new")).unwrap(), b"added\n");
    }
}

/// Runs a rollback with `kind` swapped in at `target` at step n, for
/// every n; checks after it and after the next open that the special
/// file is still there, the tree is wholly old or wholly new around it,
/// and nothing is left pending. Returns the number of steps.
fn swap_at_every_step_of_a_rollback(kind: Special, target: &str) -> u64 {
    for n in 0.. {
        let (f, point, at_point) = scenario();
        let engine = f.open();
        let old = snapshot(&f.root);
        let at = f.path(target);
        let swap_at = at.clone();
        failpoint::arm_hook(n, move || kind.swap_in(&swap_at));
        let result = engine.rollback(&point);
        let never_reached = failpoint::disarm();
        let what = format!("{kind:?} at {target}, step {n}: {result:?}");
        if never_reached {
            return n;
        }
        assert!(kind.is_at(&at), "{what}: replaced");
        // Swapped in before the rollback reached it: reported by name (as
        // skipped, or as why the rollback was returned from); after: the
        // user's own change to the rolled-back tree.
        if let Err(e) = &result {
            assert!(e.to_string().contains(at.to_str().unwrap()), "{what}: unclear");
        }
        drop(engine);
        let (engine, recovery) = Engine::open(f.config()).expect("opens");
        assert!(!matches!(recovery, Some(Recovery::Unfinished(_))), "{what}: {recovery:?}");
        assert!(engine.pending().is_none(), "{what}: pending");
        assert!(kind.is_at(&at), "{what}: replaced by the recovery");
        wholly_old_or_new(&f, target, &old, &at_point, &what);
    }
    unreachable!()
}

#[test]
fn a_special_file_swapped_in_at_any_step_of_a_rollback_is_never_replaced() {
    let _serial = serial();
    quiet_failpoints();
    for kind in [Special::Fifo, Special::Socket, Special::Device] {
        // A modified file, a removed one (recreated), one the rollback
        // removes (added since), one in a subdirectory, the subdirectory.
        for target in
            ["home/u/a.conf", "home/u/b.conf", "home/u/new", "home/u/sub/d.conf", "home/u/sub"]
        {
            let steps = swap_at_every_step_of_a_rollback(kind, target);
            assert!(steps > 10, "{kind:?} {target}: {steps} steps");
        }
    }
}

#[test]
fn a_special_file_swapped_in_at_any_step_of_undo_is_never_replaced() {
    let _serial = serial();
    quiet_failpoints();
    for target in ["home/u/a.conf", "home/u/new"] {
        for n in 0.. {
            let (f, point, _) = scenario();
            let engine = f.open();
            let before = snapshot(&f.root);
            engine.rollback(&point).unwrap();
            let old = snapshot(&f.root);
            let at = f.path(target);
            let swap_at = at.clone();
            failpoint::arm_hook(n, move || Special::Fifo.swap_in(&swap_at));
            let result = engine.undo();
            let never_reached = failpoint::disarm();
            if never_reached {
                assert!(n > 10, "{n} steps");
                break;
            }
            let what = format!("FIFO at {target}, step {n} of undo: {result:?}");
            assert!(Special::Fifo.is_at(&at), "{what}: replaced");
            drop(engine);
            let (engine, recovery) = Engine::open(f.config()).expect("opens");
            assert!(!matches!(recovery, Some(Recovery::Unfinished(_))), "{what}: {recovery:?}");
            assert!(engine.pending().is_none(), "{what}: pending");
            assert!(Special::Fifo.is_at(&at), "{what}: replaced by the recovery");
            wholly_old_or_new(&f, target, &old, &before, &what);
        }
    }
}

/// A tmpfs mounted on `at` with `files` in it, until dropped.
fn mount_with(at: &Path, files: &[(&str, &[u8])]) -> Mount {
    let mount = Mount::new(at, "1m");
    for (name, content) in files {
        fs::write(at.join(name), content).unwrap();
    }
    mount
}

const THEIRS: &[u8] = b"on another filesystem\n";

#[test]
fn a_mount_point_in_the_tree_is_never_recorded_or_written_into() {
    let _serial = serial();
    let (f, point, _) = scenario();
    let engine = f.open();
    let sub = f.path("home/u/sub");
    let _mount = mount_with(&sub, &[("c.conf", THEIRS), ("mine", THEIRS)]);
    let theirs = snapshot(&sub);
    let taken = engine.create(None, false, PointKind::Manual).unwrap();
    assert!(
        taken
            .skipped
            .iter()
            .any(|s| s.starts_with(sub.to_str().unwrap()) && s.contains("mount point")),
        "{:?}",
        taken.skipped
    );
    let recorded = engine.show(&taken.id).unwrap().entries;
    assert!(!recorded.iter().any(|e| e.path.starts_with(sub.to_str().unwrap())), "{recorded:?}");
    engine.diff(&point).unwrap();
    let report = engine.rollback(&point).expect("the rest is rolled back");
    assert_same(&snapshot(&sub), &theirs, "rollback wrote into the mount");
    assert!(ends_with_path(&report.skipped, &sub.join("c.conf")), "{:?}", report.skipped);
    assert_eq!(fs::read(f.path("home/u/a.conf")).unwrap(), b"a = 1\n");
    assert!(!f.path("home/u/new").exists());
    engine.undo().expect("undo");
    assert_same(&snapshot(&sub), &theirs, "undo wrote into the mount");
    assert_eq!(fs::read(f.path("home/u/a.conf")).unwrap(), b"a = 2\n");
}

#[test]
fn a_root_that_is_a_mount_point_is_recorded_and_rolled_back() {
    let _serial = serial();
    let f = Fixture::in_memory();
    let _mount = Mount::new(&f.root, "1m");
    f.write("etc/app.conf", b"v1\n");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    assert!(point.skipped.is_empty(), "{:?}", point.skipped);
    assert_eq!(point.files, 1);
    f.write("etc/app.conf", b"v2\n");
    engine.rollback(&point.id).unwrap();
    assert_eq!(fs::read(f.path("etc/app.conf")).unwrap(), b"v1\n");
}

#[test]
fn a_mount_at_any_step_of_a_rollback_is_never_written_into() {
    let _serial = serial();
    quiet_failpoints();
    for n in 0.. {
        let (f, point, at_point) = scenario();
        let engine = f.open();
        let old = snapshot(&f.root);
        let sub = f.path("home/u/sub");
        let mounted: Rc<RefCell<Option<Mount>>> = Rc::default();
        let (slot, at) = (Rc::clone(&mounted), sub.clone());
        failpoint::arm_hook(n, move || {
            *slot.borrow_mut() = Some(mount_with(&at, &[("d.conf", THEIRS)]));
        });
        let result = engine.rollback(&point);
        let never_reached = failpoint::disarm();
        if never_reached {
            assert!(n > 10, "{n} steps");
            break;
        }
        let what = format!("mount at step {n}: {result:?}");
        let theirs = |when: &str| {
            let inside: Vec<PathBuf> =
                fs::read_dir(&sub).unwrap().map(|e| e.unwrap().path()).collect();
            assert_eq!(inside, vec![sub.join("d.conf")], "{what} {when}");
            assert_eq!(fs::read(sub.join("d.conf")).unwrap(), THEIRS, "{what} {when}");
            let root = fs::metadata(&sub).unwrap();
            assert_eq!(root.mode() & 0o7777, 0o1777, "{what} {when}: mode of the mount");
        };
        theirs("after the rollback");
        drop(engine);
        let (engine, recovery) = Engine::open(f.config()).expect("opens");
        assert!(!matches!(recovery, Some(Recovery::Unfinished(_))), "{what}: {recovery:?}");
        assert!(engine.pending().is_none(), "{what}: pending");
        theirs("after the recovery");
        wholly_old_or_new(&f, "home/u/sub", &old, &at_point, &what);
        drop(engine);
        drop(mounted.borrow_mut().take());
    }
}

#[test]
fn a_mount_at_any_step_of_a_point_is_never_read() {
    let _serial = serial();
    quiet_failpoints();
    let theirs = blake3::hash(THEIRS).to_hex().to_string();
    for n in 0.. {
        let (f, _, _) = scenario();
        let engine = f.open();
        let mounted: Rc<RefCell<Option<Mount>>> = Rc::default();
        let (slot, at) = (Rc::clone(&mounted), f.path("home/u/sub"));
        failpoint::arm_hook(n, move || {
            *slot.borrow_mut() = Some(mount_with(&at, &[("c.conf", THEIRS), ("d.conf", THEIRS)]));
        });
        let result = engine.create(None, false, PointKind::Manual);
        let never_reached = failpoint::disarm();
        let taken = result.unwrap_or_else(|e| panic!("mount at step {n}: {e}"));
        for entry in engine.show(&taken.id).unwrap().entries {
            assert_ne!(
                entry.hash.as_deref(),
                Some(theirs.as_str()),
                "step {n}: read {}",
                entry.path
            );
        }
        drop(engine);
        drop(mounted.borrow_mut().take());
        if never_reached {
            break;
        }
    }
}

#[test]
fn a_rollback_refused_for_a_mount_point_says_which_path() {
    let _serial = serial();
    let (f, point, _) = scenario();
    let engine = f.open();
    // The point has sub as a directory; now it is the mount, which a
    // rollback must neither remove nor fill.
    let sub = f.path("home/u/sub");
    let _mount = mount_with(&sub, &[]);
    match engine.rollback(&point) {
        Ok(report) => assert!(ends_with_path(&report.skipped, &sub), "{:?}", report.skipped),
        Err(RestoreError::Conflict(m)) => assert!(m.contains(sub.to_str().unwrap()), "{m}"),
        Err(e) => panic!("{e}"),
    }
    assert_eq!(fs::read_dir(&sub).unwrap().count(), 0, "written into the mount");
}
