//! Operations at once on one engine, with one of them stalled in a read
//! of the user's files (a test hook blocks it, as a hung filesystem
//! would): everything else completes, nothing the stalled operation
//! stored is collected meanwhile, and whoever waits for it can give up.

mod common;

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use common::{Fixture, snapshot};
use tether_restore::watch::{self, Watch};
use tether_restore::{Backend, Engine, PointKind, PointSummary, RestoreError};

/// A tree with a point of it, then changed: (fixture, engine, point).
fn scenario() -> (Fixture, Arc<Engine>, String) {
    let f = Fixture::in_memory();
    for name in ["a.conf", "b.conf", "stall.conf", "z.conf"] {
        f.write(name, format!("{name} v1\n").as_bytes());
    }
    let engine = Arc::new(f.open());
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    // Read again by the next point: a.conf before the stall, z.conf after.
    for name in ["a.conf", "stall.conf", "z.conf"] {
        f.write(name, format!("{name} v2\n").as_bytes());
    }
    (f, engine, point)
}

/// Starts `op` on its own thread under a watch, and returns once it is
/// stalled reading `stall.conf`: (watch, thread, release).
fn stalled<T: Send + 'static>(
    f: &Fixture,
    engine: &Arc<Engine>,
    op: impl FnOnce(&Engine) -> Result<T, RestoreError> + Send + 'static,
) -> (Arc<Watch>, JoinHandle<Result<T, RestoreError>>, Sender<()>) {
    let stall = common::engine_path(&f.path("stall.conf"));
    let release = watch::stall_reads_of(&stall);
    let (w, e) = (Watch::new(), Arc::clone(engine));
    let thread = {
        let w = Arc::clone(&w);
        std::thread::spawn(move || watch::run(&w, || op(&e)))
    };
    let reading = format!("reading {stall}");
    wait_until(|| w.doing() == reading, &format!("the operation never read {reading}"));
    (w, thread, release)
}

/// Polls `done` (an operation on another thread reaching a state), failing
/// only if it never gets there.
fn wait_until(done: impl Fn() -> bool, never: &str) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{never}");
}

#[test]
fn a_stalled_read_blocks_no_other_operation() {
    let (f, engine, point) = scenario();
    let (_, taking, release) =
        stalled(&f, &engine, |e| e.create(Some("stalled"), false, PointKind::Manual));

    // Everything else runs to its end meanwhile.
    assert_eq!(engine.list().unwrap().len(), 1);
    engine.show(&point).unwrap();
    let diff = engine.diff(&point).unwrap();
    assert_eq!(diff.modified.len(), 3, "{diff:?}");
    // This point stores a.conf v2, as the stalled one did; deleting it
    // collects garbage, which must keep what the stalled one holds.
    let other = engine.create(Some("meanwhile"), false, PointKind::Manual).unwrap();
    engine.delete(&other.id).unwrap();
    assert!(engine.verify().unwrap().problems.is_empty());

    release.send(()).unwrap();
    let taken: PointSummary = taking.join().unwrap().expect("the stalled point completes");
    assert_eq!(taken.files, 4);
    let report = engine.verify().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // And its content comes back.
    std::fs::write(f.path("a.conf"), b"a.conf v3\n").unwrap();
    engine.rollback(&taken.id).unwrap();
    assert_eq!(std::fs::read(f.path("a.conf")).unwrap(), b"a.conf v2\n");
}

#[test]
fn a_stalled_point_is_given_up_and_publishes_nothing() {
    let (f, engine, _) = scenario();
    let (w, taking, release) =
        stalled(&f, &engine, |e| e.create(Some("stalled"), false, PointKind::Manual));
    assert!(!w.must_finish());
    w.abandon();
    release.send(()).unwrap();
    let result = taking.join().unwrap();
    assert!(matches!(result, Err(RestoreError::Abandoned)), "{result:?}");
    assert_eq!(engine.list().unwrap().len(), 1, "nothing published");
    assert!(engine.verify().unwrap().problems.is_empty());
}

#[test]
fn a_rollback_waiting_behind_a_stalled_point_can_be_given_up_and_changes_nothing() {
    let (f, engine, point) = scenario();
    let before = snapshot(&f.root);
    let (_, taking, release) =
        stalled(&f, &engine, |e| e.create(Some("stalled"), false, PointKind::Manual));

    let (w, e) = (Watch::new(), Arc::clone(&engine));
    let rolling = {
        let w = Arc::clone(&w);
        std::thread::spawn(move || watch::run(&w, || e.rollback(&point)))
    };
    wait_until(|| w.doing().starts_with("waiting for"), "the rollback did not wait");
    w.abandon();
    let result = rolling.join().unwrap();
    assert!(matches!(result, Err(RestoreError::Abandoned)), "{result:?}");
    common::assert_same(&snapshot(&f.root), &before, "the abandoned rollback changed the tree");

    release.send(()).unwrap();
    taking.join().unwrap().expect("the stalled point completes");
    assert!(engine.pending().is_none());
}

#[test]
fn giving_up_at_any_step_of_a_rollback_leaves_it_wholly_undone_or_wholly_done() {
    for n in 0.. {
        let (f, engine, point) = scenario();
        let before = snapshot(&f.root);
        let w = Watch::new();
        let gives_up = Arc::clone(&w);
        tether_restore::failpoint::arm_hook(n, move || gives_up.abandon());
        let result = watch::run(&w, || engine.rollback(&point));
        let never_reached = tether_restore::failpoint::disarm();
        let what = format!("given up at step {n}: {result:?}");
        assert!(engine.pending().is_none(), "{what}");
        match result {
            Err(RestoreError::Abandoned) => {
                assert!(!w.must_finish(), "{what}");
                common::assert_same(&snapshot(&f.root), &before, &what);
            }
            Ok(_) => assert_eq!(std::fs::read(f.path("a.conf")).unwrap(), b"a.conf v1\n", "{what}"),
            Err(e) => panic!("{what}: {e}"),
        }
        if never_reached {
            assert!(n > 10, "{n} steps");
            break;
        }
    }
}
