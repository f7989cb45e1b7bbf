//! Crash safety: a crash injected at every step of a rollback (including
//! the pre-rollback point it takes first) leaves, after the next open, the
//! tree wholly as it was before or wholly as the point had it.

mod common;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{Fixture, Snapshot, assert_same, chmod, link, quiet_failpoints};
use tether_restore::{Backend, Engine, PointKind, Recovery, failpoint};

/// A tree, a point of it, and a changed tree: (fixture, point id, the
/// point's state, the changed state).
fn scenario() -> (Fixture, String, Snapshot, Snapshot) {
    let f = Fixture::in_memory();
    f.write("etc/a.conf", b"a = 1\n");
    f.write("etc/b.conf", b"b = 1\n");
    f.write("etc/sub/c.conf", b"c = 1\n");
    f.write("lib/big", &vec![42; 300_000]);
    f.write("lib/type-change", b"file\n");
    // Windows: a symlink is a reparse point, never recorded or replaced.
    if cfg!(unix) {
        link("a.conf", &f.path("etc/link"));
    }
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    drop(engine);
    let before = f.snapshot();
    f.write("etc/a.conf", b"a = 2\n");
    fs::remove_file(f.path("etc/b.conf")).unwrap();
    chmod(&f.path("etc/sub/c.conf"), 0o600);
    fs::remove_dir_all(f.path("etc/sub")).unwrap();
    f.write("etc/new.conf", b"new\n");
    f.write("added/dir/file", b"added\n");
    f.write("lib/big", &vec![43; 300_000]);
    fs::remove_file(f.path("lib/type-change")).unwrap();
    f.write("lib/type-change/inside", b"dir now\n");
    if cfg!(unix) {
        fs::remove_file(f.path("etc/link")).unwrap();
        link("new.conf", &f.path("etc/link"));
    }
    let after = f.snapshot();
    (f, point, before, after)
}

fn reopen(f: &Fixture) -> (Engine, Option<Recovery>) {
    Engine::open(f.config()).expect("the store opens after a crash")
}

#[test]
fn a_crash_at_any_step_leaves_the_old_or_the_new_tree() {
    quiet_failpoints();
    let mut steps = 0;
    let (mut reverted, mut completed, mut untouched) = (0, 0, 0);
    loop {
        let (f, point, old_state, changed) = scenario();
        let engine = f.open();
        failpoint::arm(steps);
        let outcome = catch_unwind(AssertUnwindSafe(|| engine.rollback(&point)));
        let never_reached = failpoint::disarm();
        drop(engine);
        if never_reached {
            outcome.expect("no crash").expect("the rollback succeeds");
            assert_same(&f.snapshot(), &old_state, "uninterrupted rollback");
            break;
        }
        assert!(outcome.is_err(), "step {steps} crashed");
        let (engine, recovery) = reopen(&f);
        let now = f.snapshot();
        match &recovery {
            Some(Recovery::Completed(report)) => {
                completed += 1;
                assert_eq!(report.point, point);
                assert_same(&now, &old_state, &format!("crash at step {steps}, finished"));
                // The finished rollback can be undone like any other.
                engine.undo().unwrap();
                assert_same(&f.snapshot(), &changed, &format!("crash at step {steps}, undone"));
            }
            Some(Recovery::Reverted { point: p }) => {
                reverted += 1;
                assert_eq!(p, &point);
                assert_same(&now, &changed, &format!("crash at step {steps}, reverted"));
            }
            Some(Recovery::Unfinished(p)) => panic!("step {steps}: unfinished: {p}"),
            None => {
                untouched += 1;
                assert_same(&now, &changed, &format!("crash at step {steps}, before the journal"));
            }
        }
        assert!(!f.state.join("journal.json").exists());
        let verify = engine.verify().unwrap();
        assert!(verify.problems.is_empty(), "step {steps}: {:?}", verify.problems);
        // The store still works: the rollback can be done (again).
        engine.rollback(&point).unwrap();
        assert_same(
            &f.snapshot(),
            &old_state,
            &format!("crash at step {steps}, rollback after recovery"),
        );
        steps += 1;
    }
    // Every phase was hit: the pre-rollback point, prepare and commit.
    assert!(untouched >= 3, "{untouched} crashes before the journal");
    assert!(reverted >= 3, "{reverted} crashes in the prepare phase");
    assert!(completed >= 10, "{completed} crashes in the commit phase");
    eprintln!(
        "{steps} crash points: {untouched} before the journal, {reverted} reverted, {completed} finished"
    );
}

#[test]
fn a_crash_during_recovery_is_recovered_too() {
    quiet_failpoints();
    // Crash in the commit phase, then crash again at each step of the
    // recovery; the third open must still finish the rollback.
    let (f, point, old_state, _) = scenario();
    let engine = f.open();
    // Steps: 3 for the pre-rollback point, 1 journal, prepared files, then
    // "prepared", "committing": crash at the first commit operation.
    let mut first_commit_step = 0;
    for step in 0.. {
        let (g, p, _, _) = scenario();
        let e = g.open();
        failpoint::arm(step);
        let _ = catch_unwind(AssertUnwindSafe(|| e.rollback(&p)));
        failpoint::disarm();
        drop(e);
        if let (_, Some(Recovery::Completed(_))) = reopen(&g) {
            first_commit_step = step;
            break;
        }
    }
    failpoint::arm(first_commit_step + 1);
    let _ = catch_unwind(AssertUnwindSafe(|| engine.rollback(&point)));
    failpoint::disarm();
    drop(engine);
    for step in 0..4 {
        failpoint::arm(step);
        let crashed = catch_unwind(AssertUnwindSafe(|| reopen(&f))).is_err();
        failpoint::disarm();
        if !crashed {
            break;
        }
    }
    let (_engine, recovery) = reopen(&f);
    assert!(matches!(recovery, None | Some(Recovery::Completed(_))));
    assert_same(&f.snapshot(), &old_state, "after crashes during recovery");
}

#[test]
fn a_failure_at_any_step_leaves_the_tree_as_it_was() {
    // A full disk or a refused write at any step, the commit included:
    // the rollback reports the error and the tree is wholly as before.
    let mut steps = 0;
    let mut during_commit = 0;
    loop {
        let (f, point, old_state, changed) = scenario();
        let engine = f.open();
        failpoint::arm_error(steps);
        let outcome = engine.rollback(&point);
        let never_reached = failpoint::disarm();
        if never_reached {
            outcome.expect("the rollback succeeds");
            assert_same(&f.snapshot(), &old_state, "uninterrupted rollback");
            break;
        }
        let err = outcome.expect_err("an injected failure is reported").to_string();
        assert!(err.contains("injected failure"), "step {steps}: {err}");
        if err.contains("returned to the state before the rollback") {
            during_commit += 1;
        }
        assert_same(&f.snapshot(), &changed, &format!("failure at step {steps}"));
        assert!(!f.state.join("journal.json").exists(), "step {steps}");
        assert!(
            matches!(engine.undo(), Err(tether_restore::RestoreError::NothingToUndo)),
            "step {steps}"
        );
        engine.rollback(&point).unwrap();
        assert_same(
            &f.snapshot(),
            &old_state,
            &format!("failure at step {steps}, then a rollback"),
        );
        steps += 1;
    }
    assert!(during_commit >= 10, "{during_commit} failures during the commit");
    eprintln!("{steps} failure points, {during_commit} during the commit");
}

/// The snapshot without rollback temporaries (left where they cannot be
/// removed; scans never record them).
fn without_temporaries(snapshot: Snapshot) -> Snapshot {
    snapshot.into_iter().filter(|(path, _)| !path.contains(".tether-rb-")).collect()
}

#[test]
fn temporaries_a_user_turned_into_directories_do_not_brick_the_start() {
    // Issue 14, failure 3: a temporary that is a directory by the next
    // start made every start fail with "Not a directory".
    quiet_failpoints();
    for step in 0.. {
        let (f, point, old_state, changed) = scenario();
        let engine = f.open();
        failpoint::arm(step);
        let crashed = catch_unwind(AssertUnwindSafe(|| engine.rollback(&point))).is_err();
        failpoint::disarm();
        drop(engine);
        assert!(crashed, "no crash in the prepare phase before the rollback finished");
        let journal = fs::read_to_string(f.state.join("journal.json")).unwrap_or_default();
        let temps: Vec<String> =
            f.snapshot().into_keys().filter(|p| p.contains(".tether-rb-")).collect();
        if !journal.contains("\"preparing\"") || temps.is_empty() {
            continue;
        }
        for temp in &temps {
            fs::remove_file(f.path(temp)).unwrap();
            f.write(&format!("{temp}/inside"), b"a user's\n");
        }
        let (engine, recovery) = reopen(&f);
        assert_eq!(recovery, Some(Recovery::Reverted { point: point.clone() }), "step {step}");
        assert_same(&without_temporaries(f.snapshot()), &changed, "reverted");
        assert!(engine.pending().is_none());
        engine.rollback(&point).expect("rollbacks work again");
        assert_same(&without_temporaries(f.snapshot()), &old_state, "then rolled back");
        return;
    }
}

#[test]
fn a_damaged_journal_is_reported_and_the_rest_works() {
    let (f, point, _, changed) = scenario();
    drop(f.open());
    fs::write(f.state.join("journal.json"), b"{ not json").unwrap();
    let (engine, recovery) = reopen(&f);
    let Some(Recovery::Unfinished(pending)) = recovery else {
        panic!("a damaged journal must be reported: {recovery:?}")
    };
    assert!(pending.error.as_deref().is_some_and(|e| e.contains("journal")), "{pending:?}");
    assert!(engine.pending().is_some());
    let refused = engine.rollback(&point).expect_err("no rollback over an unknown journal");
    assert!(matches!(refused, tether_restore::RestoreError::Pending(_)), "{refused}");
    assert!(refused.to_string().contains("restart the agent"), "{refused}");
    // Points, lists and verify still work, and the tree was not touched.
    engine.create(None, false, PointKind::Manual).unwrap();
    assert!(engine.verify().unwrap().problems.is_empty());
    assert_same(&f.snapshot(), &changed, "untouched");
}
