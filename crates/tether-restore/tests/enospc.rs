//! A full disk during the commit and again while returning from it, on a
//! real 4 MiB tmpfs (this test mounts it: it needs root, as the agent
//! runs). Another process fills the disk at step N of the rollback, for
//! every N; whatever fails, once space is freed the next open leaves the
//! tree wholly as before or wholly as the point had it.

// Unix only: mounts a small tmpfs to fill.
#![cfg(unix)]

mod common;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{Fixture, Mount, Snapshot, assert_same, quiet_failpoints, serial};
use tether_restore::{Backend, Engine, PointKind, Recovery, RestoreError, failpoint};

/// Writes until the filesystem is full.
fn fill(path: &Path) {
    let mut file = File::options().create(true).append(true).open(path).unwrap();
    let chunk = vec![7u8; 16 << 10];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.write_all(&[7]);
}

fn mib(seed: u8) -> Vec<u8> {
    (0..1u32 << 20).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

#[test]
fn a_full_disk_in_the_commit_and_in_the_return_is_finished_later() {
    let _serial = serial();
    quiet_failpoints();
    let base = tempfile::tempdir().unwrap();
    let (mut both_full, mut cases) = (0, 0);
    for n in 0.. {
        let mnt = base.path().join(format!("mnt{n}"));
        let _mount = Mount::new(&mnt, "4m");
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
            root: mnt.join("root"),
            state: base.path().join(format!("state{n}")),
        };
        fs::create_dir(&f.root).unwrap();
        f.write("keep", b"small\n");
        f.write("dir/f", &mib(1));
        let engine = f.open();
        let point = engine.create(None, false, PointKind::Manual).unwrap().id;
        let point_state: Snapshot = f.snapshot();
        fs::remove_dir_all(f.path("dir")).unwrap();
        f.write("y", &mib(2));
        let before = f.snapshot();

        // Another process fills the disk at step n.
        let filler = mnt.join("filler");
        let fill_at = filler.clone();
        failpoint::arm_hook(n, move || fill(&fill_at));
        let result = engine.rollback(&point);
        let never_reached = failpoint::disarm();
        if let Err(RestoreError::Pending(message)) = &result {
            assert!(engine.pending().is_some());
            // Seen through the trait too, as the agent holds it.
            let backend: &dyn Backend = &engine;
            assert!(backend.pending().is_some_and(|p| !p.paths.is_empty()));
            assert!(
                matches!(engine.rollback(&point), Err(RestoreError::Pending(_))),
                "refused while pending"
            );
            if message.contains("returning failed too")
                && message.matches("No space left").count() >= 2
            {
                both_full += 1;
            }
        }
        drop(engine);
        // A full disk at the next start: still unfinished, never an error.
        if f.state.join("journal.json").exists() {
            let (engine, recovery) = Engine::open(f.config()).expect("opens on a full disk");
            assert!(matches!(recovery, Some(Recovery::Unfinished(_))), "step {n}: {recovery:?}");
            assert!(engine.list().is_ok(), "the rest works");
            // Space is freed; trying again finishes the job in place.
            fs::remove_file(&filler).unwrap();
            let resumed = engine.resume();
            assert!(
                matches!(resumed, Some(Recovery::Completed(_) | Recovery::Reverted { .. })),
                "step {n}: {resumed:?}"
            );
        }
        let _ = fs::remove_file(&filler);
        let (engine, recovery) = Engine::open(f.config()).unwrap();
        assert!(!matches!(recovery, Some(Recovery::Unfinished(_))), "step {n}: {recovery:?}");
        let now = f.snapshot();
        if now != point_state {
            assert_same(&now, &before, &format!("disk full at step {n}: {result:?}"));
        }
        assert!(engine.pending().is_none());
        cases += 1;
        drop(engine);
        if never_reached {
            break;
        }
    }
    eprintln!("{cases} cases, {both_full} with the commit and the return both out of space");
    assert!(both_full >= 1, "no case ran out of space twice ({cases} cases)");
}

/// Which of the tree and the store is on the small disk.
enum Small {
    Root,
    Store,
}

/// A fixture with the tree or the store on a fresh 4 MiB tmpfs, the
/// other on the ordinary disk; the mount point; the mount.
fn on_small_disk(small: Small) -> (Fixture, PathBuf, Mount) {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let mount = Mount::new(&mnt, "4m");
    let (root, state) = match small {
        Small::Root => (mnt.join("root"), dir.path().join("state")),
        Small::Store => (dir.path().join("root"), mnt.join("state")),
    };
    fs::create_dir(&root).unwrap();
    (Fixture { dir, root, state }, mnt, mount)
}

#[test]
fn a_rollback_the_disk_cannot_hold_is_refused_before_it_starts() {
    let _serial = serial();
    let (f, mnt, _mount) = on_small_disk(Small::Root);
    f.write("a", &mib(1));
    f.write("b", &mib(2));
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap().id;
    fs::remove_file(f.path("a")).unwrap();
    fs::remove_file(f.path("b")).unwrap();
    // 2.5 MiB taken by something else: the 2 MiB the rollback writes (and
    // its margin) no longer fit.
    fs::write(mnt.join("other"), vec![1u8; 5 << 19]).unwrap();
    let before = f.snapshot();

    let refused = engine.rollback(&point).expect_err("refused");
    let message = refused.to_string();
    assert!(matches!(refused, RestoreError::NoSpace { .. }), "{message}");
    assert!(
        message.starts_with("not enough space for the rollback: it needs about 2.2 MiB"),
        "{message}"
    );
    assert_same(&f.snapshot(), &before, "nothing was touched");
    assert!(engine.pending().is_none() && !f.state.join("journal.json").exists());

    fs::remove_file(mnt.join("other")).unwrap();
    engine.rollback(&point).expect("fits once space is freed");
    assert_eq!(fs::read(f.path("b")).unwrap(), mib(2));
}

#[test]
fn a_point_the_store_cannot_hold_is_refused_before_it_stores_anything() {
    let _serial = serial();
    let (f, _, _mount) = on_small_disk(Small::Store);
    for i in 0..5 {
        f.write(&format!("f{i}"), &mib(i));
    }
    let engine = f.open();
    let refused = engine.create(None, false, PointKind::Manual).expect_err("refused");
    let message = refused.to_string();
    assert!(
        message.starts_with("not enough space for the restore point: it needs about 5.2 MiB"),
        "{message}"
    );
    assert!(engine.list().unwrap().is_empty());
    let stored = fs::read_dir(f.state.join("objects"))
        .unwrap()
        .flatten()
        .flat_map(|fan| fs::read_dir(fan.path()).unwrap().flatten())
        .count();
    assert_eq!(stored, 0, "no object stored");
    // Smaller, it fits.
    for i in 2..5 {
        fs::remove_file(f.path(&format!("f{i}"))).unwrap();
    }
    assert_eq!(engine.create(None, false, PointKind::Manual).unwrap().files, 2);
}
