//! Issue 14, failure 1, with a real immutable file (`chattr +i`, on the
//! disk's filesystem): the commit fails part-way, the tree is returned,
//! and a crash at any step of the rollback or of that return still ends,
//! after the next open, with the tree exactly as before.

// Unix only: `chattr +i`.
#![cfg(unix)]

mod common;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Fixture, assert_same, quiet_failpoints};
use tether_restore::{Backend, Engine, PointKind, Recovery, RestoreError, failpoint};

/// Makes a file immutable; undone when dropped, so the tree can go.
struct Immutable(PathBuf);

impl Immutable {
    fn new(path: &Path) -> Immutable {
        let ok = Command::new("chattr").arg("+i").arg(path).status().unwrap().success();
        assert!(ok, "chattr +i needs root and a filesystem that supports it");
        Immutable(path.to_owned())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

#[test]
fn an_immutable_file_and_a_crash_while_returning_leave_the_old_tree() {
    quiet_failpoints();
    let mut crashed_while_returning = 0;
    for step in 0.. {
        // On the disk, not tmpfs: tmpfs has no immutable flag.
        let f = Fixture::new();
        f.write("a.conf", b"a = 1\n");
        f.write("b.conf", b"b = 1\n");
        f.write("z.conf", b"z = 1\n");
        let engine = f.open();
        let point = engine.create(None, false, PointKind::Manual).unwrap().id;
        f.write("a.conf", b"a = 2\n");
        fs::remove_file(f.path("b.conf")).unwrap();
        f.write("new.conf", b"added\n");
        f.write("z.conf", b"z = 2\n");
        let _guard = Immutable::new(&f.path("z.conf"));
        let before = f.snapshot();

        failpoint::arm(step);
        let outcome = catch_unwind(AssertUnwindSafe(|| engine.rollback(&point)));
        let never_reached = failpoint::disarm();
        drop(engine);
        match outcome {
            Ok(Err(RestoreError::Conflict(message))) => {
                assert!(message.contains("z.conf"), "{message}");
                assert!(message.contains("nothing was changed"), "{message}");
            }
            Ok(other) => panic!("step {step}: the immutable file must stop it: {other:?}"),
            Err(_) => {
                // Crashed; the next open returns the tree (the file is
                // still immutable, so finishing is impossible).
                if f.state.join("revert.json").exists() {
                    crashed_while_returning += 1;
                }
                let (_, recovery) = Engine::open(f.config()).unwrap();
                assert!(
                    !matches!(recovery, Some(Recovery::Unfinished(_))),
                    "step {step}: {recovery:?}"
                );
            }
        }
        assert_same(&f.snapshot(), &before, &format!("step {step}"));
        assert!(!f.state.join("journal.json").exists());
        assert!(!f.state.join("revert.json").exists());
        if never_reached {
            break;
        }
    }
    assert!(crashed_while_returning > 3, "{crashed_while_returning}");
}
