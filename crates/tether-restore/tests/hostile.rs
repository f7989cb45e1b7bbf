//! A hostile local user: someone who can write inside a restored path (a
//! home directory) and swaps things at exactly the wrong instant. The
//! swaps are made by a test hook at step N of the operation, for every N,
//! not by inotify luck.

// Unix only: Unix symlinks, FIFOs and ownership; Windows' reparse points
// are tested in `windows_links.rs`.
#![cfg(unix)]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use common::{Fixture, Snapshot, assert_same, chmod, quiet_failpoints, snapshot};
use tether_restore::{Backend, Engine, PointKind, RestoreError, failpoint};

/// Root's files outside the restore paths, named like those inside so a
/// followed symlink would land on them.
fn make_outside(f: &Fixture) -> PathBuf {
    let o = f.dir.path().join("outside");
    fs::create_dir_all(o.join("sub")).unwrap();
    fs::write(o.join("a.conf"), b"root's own a.conf\n").unwrap();
    fs::write(o.join("new"), b"root's own new\n").unwrap();
    fs::write(o.join("sub/c.conf"), b"root's own c.conf\n").unwrap();
    fs::write(o.join("secret"), b"root-only secret\n").unwrap();
    chmod(&o.join("secret"), 0o600);
    chmod(&o.join("a.conf"), 0o600);
    chmod(&o.join("sub/c.conf"), 0o640);
    o
}

/// A user's home with a point of it, then changed: (fixture, outside,
/// point id).
fn scenario() -> (Fixture, PathBuf, String) {
    let f = Fixture::in_memory();
    let outside = make_outside(&f);
    f.write("home/u/a.conf", b"a = 1\n");
    f.write("home/u/b.conf", b"b = 1\n");
    f.write("home/u/sub/c.conf", b"c = 1\n");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    drop(engine);
    f.write("home/u/a.conf", b"a = 2\n");
    fs::remove_file(f.path("home/u/b.conf")).unwrap();
    chmod(&f.path("home/u/sub/c.conf"), 0o666);
    chmod(&f.path("home/u"), 0o700);
    f.write("home/u/new", b"added\n");
    (f, outside, point)
}

#[derive(Clone, Copy, Debug)]
enum Swap {
    /// The user's directory becomes a symlink to root's directory.
    Dir,
    /// A file becomes a symlink to root's secret.
    File,
    /// A file whose mode the rollback restores becomes a hard link to
    /// root's file (possible where fs.protected_hardlinks is 0).
    Hardlink,
}

fn swap(kind: Swap, home: PathBuf, outside: PathBuf) -> impl FnOnce() + 'static {
    move || match kind {
        Swap::Dir => {
            fs::rename(home.join("u"), home.join("u.moved")).unwrap();
            symlink(&outside, home.join("u")).unwrap();
        }
        Swap::File => {
            let _ = fs::rename(home.join("u/a.conf"), home.join("u/a.moved"));
            let _ = fs::remove_file(home.join("u/a.conf"));
            symlink(outside.join("secret"), home.join("u/a.conf")).unwrap();
        }
        Swap::Hardlink => {
            let c = home.join("u/sub/c.conf");
            if fs::remove_file(&c).is_ok() {
                fs::hard_link(outside.join("sub/c.conf"), &c).unwrap();
            }
        }
    }
}

/// Runs `op` on a fresh scenario with the swap at every step; checks the
/// outside is untouched after the operation and after a recovery.
fn at_every_step(kind: Swap, op: impl Fn(&Engine, &str) -> Result<(), RestoreError>) -> u64 {
    quiet_failpoints();
    for n in 0.. {
        let (f, outside, point) = scenario();
        let engine = f.open();
        let untouched: Snapshot = snapshot(&outside);
        failpoint::arm_hook(n, swap(kind, f.path("home"), outside.clone()));
        let result = op(&engine, &point);
        let never_reached = failpoint::disarm();
        let what = format!("{kind:?} swap at step {n}: {result:?}");
        assert_same(&snapshot(&outside), &untouched, &what);
        drop(engine);
        let (_engine, _) = Engine::open(f.config()).expect("opens");
        assert_same(&snapshot(&outside), &untouched, &format!("{what}, after recovery"));
        if never_reached {
            return n;
        }
    }
    unreachable!()
}

#[test]
fn a_swap_at_any_step_of_a_rollback_never_touches_outside() {
    for kind in [Swap::Dir, Swap::File, Swap::Hardlink] {
        let steps = at_every_step(kind, |e, p| e.rollback(p).map(drop));
        assert!(steps > 10, "{steps} steps");
    }
}

#[test]
fn a_swap_at_any_step_of_undo_never_touches_outside() {
    for kind in [Swap::Dir, Swap::File, Swap::Hardlink] {
        let steps = at_every_step(kind, |e, p| {
            // The rollback runs before the hook's step count matters
            // little: the hook fires wherever step n falls.
            e.rollback(p)?;
            e.undo().map(drop)
        });
        assert!(steps > 20, "{steps} steps");
    }
}

#[test]
fn a_swap_at_any_step_of_a_point_never_reads_outside() {
    let secret = blake3::hash(b"root-only secret\n").to_hex().to_string();
    let theirs = blake3::hash(b"root's own a.conf\n").to_hex().to_string();
    for kind in [Swap::Dir, Swap::File, Swap::Hardlink] {
        at_every_step(kind, |e, _| {
            let point = e.create(None, false, PointKind::Manual)?;
            let detail = e.show(&point.id)?;
            for entry in &detail.entries {
                let hash = entry.hash.as_deref().unwrap_or_default();
                assert!(hash != secret && hash != theirs, "{kind:?}: read outside: {}", entry.path);
            }
            Ok(())
        });
    }
}

#[test]
fn a_fifo_swapped_in_while_a_point_is_taken_never_blocks() {
    quiet_failpoints();
    for n in 0.. {
        let (f, _, _) = scenario();
        let engine = f.open();
        let target = f.path("home/u/a.conf");
        let (tx, rx) = mpsc::channel();
        let fifo = target.clone();
        std::thread::spawn(move || {
            failpoint::arm_hook(n, move || {
                fs::remove_file(&fifo).unwrap();
                mkfifo(&fifo);
            });
            let result = engine.create(None, false, PointKind::Manual);
            let never_reached = failpoint::disarm();
            drop(engine); // Unlocks the store before the test reopens it.
            let _ = tx.send((result.map(|p| (p.id, p.skipped)), never_reached));
        });
        let (result, never_reached) =
            rx.recv_timeout(Duration::from_secs(30)).expect("taking a point blocked on a FIFO");
        let (_, skipped) = result.expect("the point is taken");
        if never_reached {
            break;
        }
        let is_fifo = fs::symlink_metadata(&target).unwrap().file_type().is_fifo();
        assert!(is_fifo, "step {n}");
        // Either it was read before the swap, or it is reported.
        let reported = skipped.iter().any(|s| s.contains("a.conf"));
        let (engine, _) = Engine::open(f.config()).unwrap();
        let latest = engine.list().unwrap().pop().unwrap();
        let recorded =
            engine.show(&latest.id).unwrap().entries.iter().any(|e| e.path.ends_with("a.conf"));
        assert!(reported != recorded, "step {n}: reported {reported}, recorded {recorded}");
    }
}

/// mkfifo(3) itself: spawning mkfifo(1) would fork while other tests
/// hold store locks, and the child's copy of their descriptors would keep
/// those locks until it execs.
fn mkfifo(path: &Path) {
    tether_os::fs::make_fifo(path, 0o644).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn special_files_are_never_replaced_or_followed_by_a_rollback() {
    let f = Fixture::in_memory();
    f.write("home/u/a.conf", b"a = 1\n");
    f.write("home/u/b.conf", b"b = 1\n");
    f.write("home/u/sub/c.conf", b"c = 1\n");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    // A recorded file and a recorded directory are FIFOs now.
    fs::remove_file(f.path("home/u/a.conf")).unwrap();
    mkfifo(&f.path("home/u/a.conf"));
    fs::remove_dir_all(f.path("home/u/sub")).unwrap();
    mkfifo(&f.path("home/u/sub"));
    f.write("home/u/b.conf", b"b = 2\n");
    let report = engine.rollback(&point).expect("the rest is rolled back");
    for p in ["home/u/a.conf", "home/u/sub"] {
        assert!(fs::symlink_metadata(f.path(p)).unwrap().file_type().is_fifo(), "{p} replaced");
    }
    assert_eq!(fs::read(f.path("home/u/b.conf")).unwrap(), b"b = 1\n");
    for p in ["home/u/a.conf", "home/u/sub", "home/u/sub/c.conf"] {
        let p = f.path(p).to_str().unwrap().to_owned();
        assert!(
            report.skipped.iter().any(|s| s.starts_with(&format!("{p}:"))),
            "{p}: {:?}",
            report.skipped
        );
    }
    assert_eq!(report.counts.skipped, 3);
    assert!(engine.pending().is_none());
    engine.undo().expect("undo works");
    assert_eq!(fs::read(f.path("home/u/b.conf")).unwrap(), b"b = 2\n");
}

#[test]
fn the_audit_log_is_never_recorded_or_rolled_back() {
    let f = Fixture::in_memory();
    let audit = f.path("log/tether/audit.jsonl");
    let mut config = f.config();
    config.protected = vec![audit.clone()];
    assert_eq!(config.protected_inside(), std::slice::from_ref(&audit));
    f.write("etc/app.conf", b"v1\n");
    let (engine, _) = Engine::open(config.clone()).unwrap();
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    // The log appears after the point, in a directory the point lacks.
    f.write("log/tether/audit.jsonl", b"record 1\n");
    let before = engine.create(None, false, PointKind::Manual).unwrap().id;
    let recorded = engine.show(&before).unwrap().entries;
    assert!(!recorded.iter().any(|e| Path::new(&e.path) == audit), "audit log recorded");
    f.write("log/tether/audit.jsonl", b"record 1\nrecord 2\n");
    f.write("etc/app.conf", b"v2\n");
    engine.rollback(&point).unwrap();
    assert_eq!(fs::read(f.path("etc/app.conf")).unwrap(), b"v1\n");
    assert_eq!(fs::read(&audit).unwrap(), b"record 1\nrecord 2\n", "audit records survive");
    engine.rollback(&before).unwrap();
    engine.undo().unwrap();
    assert_eq!(fs::read(&audit).unwrap(), b"record 1\nrecord 2\n", "audit records survive undo");
}

#[test]
fn a_root_swapped_for_a_fifo_blocks_nothing() {
    // A root inside a user's home (here home/u) can be swapped by them.
    let f = Fixture::in_memory();
    f.write("home/u/a.conf", b"a = 1\n");
    let config = tether_restore::StoreConfig::new(&f.state, vec![f.path("home/u")]);
    let (engine, _) = Engine::open(config).unwrap();
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    fs::rename(f.path("home/u"), f.path("home/u.moved")).unwrap();
    mkfifo(&f.path("home/u"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let created = engine.create(None, false, PointKind::Manual).map(|p| p.skipped);
        let diff = engine.diff(&point).map(drop);
        let rolled = engine.rollback(&point).map(|r| r.skipped);
        drop(engine);
        let _ = tx.send((created, diff, rolled));
    });
    let (created, diff, rolled) =
        rx.recv_timeout(Duration::from_secs(30)).expect("a FIFO root blocked the engine");
    let root = f.path("home/u").to_str().unwrap().to_owned();
    assert!(created.unwrap().iter().any(|s| s.starts_with(&format!("{root}:"))));
    diff.unwrap();
    let skipped = rolled.expect("nothing to do but report");
    assert!(skipped.iter().any(|s| s.starts_with(&format!("{root}:"))), "{skipped:?}");
    assert!(fs::symlink_metadata(f.path("home/u")).unwrap().file_type().is_fifo());
}

#[test]
fn a_point_lists_everything_it_left_out() {
    use std::os::unix::ffi::OsStrExt;
    let f = Fixture::in_memory();
    f.write("ok.conf", b"fine\n");
    f.write("a/b/c/too-deep.conf", b"below the limit\n");
    let odd = f.root.join(std::ffi::OsStr::from_bytes(b"latin1-\xe9t\xe9"));
    fs::write(&odd, b"not UTF-8 name\n").unwrap();
    mkfifo(&f.path("pipe"));
    let mut config = f.config();
    config.max_depth = 2;
    let (engine, _) = Engine::open(config).unwrap();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    let has = |needle: &str, why: &str| {
        point.skipped.iter().any(|s| s.contains(needle) && s.contains(why))
    };
    assert!(has("latin1-", "not UTF-8"), "{:?}", point.skipped);
    assert!(has("/pipe", "FIFO"), "{:?}", point.skipped);
    assert!(has("/a/b/*", "deeper than 2 levels"), "{:?}", point.skipped);
    assert_eq!(point.skipped.len(), 3, "{:?}", point.skipped);
    let paths: Vec<String> =
        engine.show(&point.id).unwrap().entries.into_iter().map(|e| e.path).collect();
    assert!(paths.iter().any(|p| p.ends_with("/ok.conf")));
    assert!(paths.iter().any(|p| p.ends_with("/a/b")));
    assert!(!paths.iter().any(|p| p.contains("/a/b/")), "{paths:?}");
}

#[test]
fn a_swap_above_a_root_inside_a_home_never_touches_outside() {
    // The root is home/u/cfg/app, in a home that user 1000 owns: they can
    // swap home/u/cfg for a symlink to root's directory holding an `app`.
    quiet_failpoints();
    for n in 0.. {
        let f = Fixture::in_memory();
        let outside = f.dir.path().join("outside");
        fs::create_dir_all(outside.join("app/sub")).unwrap();
        fs::write(outside.join("app/a.conf"), b"root's own\n").unwrap();
        fs::write(outside.join("app/new"), b"root's own\n").unwrap();
        fs::write(outside.join("app/sub/c.conf"), b"root's own\n").unwrap();
        chmod(&outside.join("app/sub/c.conf"), 0o640);
        f.write("home/u/cfg/app/a.conf", b"a = 1\n");
        f.write("home/u/cfg/app/sub/c.conf", b"c = 1\n");
        for p in ["home/u", "home/u/cfg"] {
            std::os::unix::fs::chown(f.path(p), Some(1000), Some(1000)).unwrap();
        }
        let config = tether_restore::StoreConfig::new(&f.state, vec![f.path("home/u/cfg/app")]);
        let (engine, _) = Engine::open(config.clone()).unwrap();
        let point = engine.create(None, false, PointKind::Manual).unwrap().id;
        f.write("home/u/cfg/app/a.conf", b"a = 2\n");
        chmod(&f.path("home/u/cfg/app/sub/c.conf"), 0o666);
        f.write("home/u/cfg/app/new", b"added\n");
        let untouched = snapshot(&outside);
        let (cfg, target) = (f.path("home/u/cfg"), outside.clone());
        failpoint::arm_hook(n, move || {
            fs::rename(&cfg, cfg.with_extension("moved")).unwrap();
            symlink(&target, &cfg).unwrap();
            std::os::unix::fs::lchown(&cfg, Some(1000), Some(1000)).unwrap();
        });
        let result = engine.rollback(&point);
        let never_reached = failpoint::disarm();
        let what = format!("swap above the root at step {n}: {result:?}");
        assert_same(&snapshot(&outside), &untouched, &what);
        drop(engine);
        let (engine, _) = Engine::open(config).expect("opens");
        assert_same(&snapshot(&outside), &untouched, &format!("{what}, after recovery"));
        if !never_reached {
            // Points refuse the redirected root rather than record it.
            assert!(engine.create(None, false, PointKind::Manual).is_err(), "{what}");
        }
        if never_reached {
            break;
        }
    }
}
