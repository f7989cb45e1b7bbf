//! Nested faults: a fault at every step of a rollback, then at every step
//! of the return from it (when the first fault hit the commit), then at
//! every step of the recovery at the next open, each a crash (panic) or
//! an injected error (every combination that can happen: after a crash
//! nothing runs until the next open). After a clean open at the end, the tree must be
//! wholly as before the rollback or wholly as the point had it, no journal
//! may be left, and a finished rollback must be undoable.

mod common;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{Fixture, Snapshot, assert_same, chmod, quiet_failpoints};
use tether_restore::failpoint::{self, Fault};
use tether_restore::{Backend, Engine, PointKind, Recovery, RestoreError};

/// A small tree, a point of it, and a changed tree: (fixture, point id,
/// the point's state, the state before the rollback).
fn scenario() -> (Fixture, String, Snapshot, Snapshot) {
    let f = Fixture::in_memory();
    f.write("a", b"a = 1\n");
    f.write("b", b"b = 1\n");
    // A hard-link group, split below: restored by a link operation.
    fs::hard_link(f.path("b"), f.path("b-link")).unwrap();
    f.write("d/c", b"c = 1\n");
    f.write("kind", b"file\n");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    drop(engine);
    let point_state = f.snapshot();
    f.write("a", b"a = 2\n");
    fs::remove_file(f.path("b")).unwrap();
    chmod(&f.path("d/c"), 0o600);
    f.write("new/n", b"added\n");
    fs::remove_file(f.path("kind")).unwrap();
    f.write("kind/inside", b"a directory now\n");
    let before = f.snapshot();
    (f, point, point_state, before)
}

fn fault(crash: bool) -> Fault {
    if crash { Fault::Crash } else { Fault::Error }
}

/// Runs `op` with `faults` armed; returns how many fired.
fn with_faults<T>(faults: Vec<(u64, Fault)>, op: impl FnOnce() -> T) -> usize {
    let n = faults.len();
    failpoint::arm_faults(faults);
    let _ = catch_unwind(AssertUnwindSafe(op));
    let fired = n - failpoint::remaining();
    failpoint::disarm();
    fired
}

/// Opens cleanly and checks the tree is wholly one state or the other.
/// Returns true if the rollback ended finished.
fn settle(f: &Fixture, point_state: &Snapshot, before: &Snapshot, what: &str) -> bool {
    let (engine, recovery) = Engine::open(f.config()).expect("the store opens");
    if let Some(Recovery::Unfinished(p)) = &recovery {
        panic!("{what}: still unfinished without faults: {p}");
    }
    assert!(engine.pending().is_none(), "{what}");
    assert!(!f.state.join("journal.json").exists(), "{what}: journal left");
    assert!(!f.state.join("revert.json").exists(), "{what}: revert journal left");
    let now = f.snapshot();
    if now == *point_state {
        // Finished: undo returns to the tree before the rollback.
        let undone = engine.undo();
        assert!(undone.is_ok(), "{what}: undo after a finished rollback: {undone:?}");
        assert_same(&f.snapshot(), before, &format!("{what}, undone"));
        true
    } else {
        assert_same(&now, before, &format!("{what}: neither the point nor the old tree"));
        // Returned: undo goes nowhere new (no earlier rollback here).
        assert!(matches!(engine.undo(), Err(RestoreError::NothingToUndo)), "{what}");
        false
    }
}

/// Every step of the rollback gets a `first` fault; where that leaves a
/// revert running, every step of it gets a `second`; then, if a journal
/// is left, every step of the recovery at the next open gets a `third`.
/// Returns (cases, finished, returned).
fn exhaust(first: bool, second: bool, third: bool) -> (u64, u64, u64) {
    quiet_failpoints();
    let (mut cases, mut finished, mut returned) = (0, 0, 0);
    for s in 0.. {
        for t in 0.. {
            let mut second_fired = false;
            for u in 0.. {
                let (f, point, point_state, before) = scenario();
                let engine = f.open();
                let mut faults = vec![(s, fault(first))];
                // After a crash nothing runs: only an error has a sequel.
                if !first {
                    faults.push((t, fault(second)));
                }
                let fired = with_faults(faults, || engine.rollback(&point));
                drop(engine);
                if fired == 0 {
                    return (cases, finished, returned);
                }
                second_fired = fired == 2;
                let pending =
                    f.state.join("journal.json").exists() || f.state.join("revert.json").exists();
                let third_fired = pending
                    && with_faults(vec![(u, fault(third))], || Engine::open(f.config())) == 1;
                cases += 1;
                let what = format!("faults {first}/{second}/{third} at steps {s}/{t}/{u}");
                if settle(&f, &point_state, &before, &what) {
                    finished += 1;
                } else {
                    returned += 1;
                }
                if !third_fired {
                    break;
                }
            }
            if first || !second_fired {
                break;
            }
        }
    }
    unreachable!("the loop over s returns")
}

#[test]
fn crash_in_rollback_then_crash_in_recovery() {
    let (cases, finished, returned) = exhaust(true, true, true);
    eprintln!("{cases} cases: {finished} finished, {returned} returned");
    assert!(
        finished > 5 && returned > 5,
        "{cases} cases: {finished} finished, {returned} returned"
    );
}

#[test]
fn crash_in_rollback_then_error_in_recovery() {
    let (cases, finished, returned) = exhaust(true, true, false);
    eprintln!("{cases} cases: {finished} finished, {returned} returned");
    assert!(finished > 5 && returned > 5);
}

#[test]
fn error_in_rollback_then_crash_in_revert_then_crash_in_recovery() {
    let (cases, finished, returned) = exhaust(false, true, true);
    eprintln!("{cases} cases: {finished} finished, {returned} returned");
    assert!(finished > 5 && returned > 5);
}

#[test]
fn error_in_rollback_then_error_in_revert_then_error_in_recovery() {
    let (cases, finished, returned) = exhaust(false, false, false);
    eprintln!("{cases} cases: {finished} finished, {returned} returned");
    assert!(finished > 5 && returned > 5);
}

#[test]
fn error_in_rollback_then_crash_in_revert_then_error_in_recovery() {
    let (cases, finished, returned) = exhaust(false, true, false);
    eprintln!("{cases} cases: {finished} finished, {returned} returned");
    assert!(finished > 5 && returned > 5);
}

#[test]
fn error_in_rollback_then_error_in_revert_then_crash_in_recovery() {
    let (cases, finished, returned) = exhaust(false, false, true);
    eprintln!("{cases} cases: {finished} finished, {returned} returned");
    assert!(finished > 5 && returned > 5);
}
