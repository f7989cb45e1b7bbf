//! Large files stored in content-defined chunks: a point after appending
//! to a large file stores little more than what was appended, and every
//! point still restores exactly, also after the points sharing chunks
//! with it are deleted.

mod common;

use std::fs;
use std::io::Write;

use common::{Fixture, Rng};
use tether_restore::{Backend, PointKind};

#[test]
fn appending_to_a_large_file_stores_only_the_new_chunks() {
    let f = Fixture::new();
    let log = f.path("var/app.log");
    f.write("var/app.log", &Rng::new(3).bytes(24 << 20));
    f.write("small.conf", b"small files stay whole objects\n");
    let engine = f.open();
    let first = engine.create(Some("24 MiB log"), false, PointKind::Manual).unwrap();
    let after_first = engine.store_bytes().unwrap();
    let v1 = fs::read(&log).unwrap();

    let mut file = fs::OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(&Rng::new(4).bytes(64 << 10)).unwrap();
    drop(file);
    let v2 = fs::read(&log).unwrap();
    let second = engine.create(Some("64 KiB appended"), false, PointKind::Manual).unwrap();
    let grown = engine.store_bytes().unwrap() - after_first;
    eprintln!("store after the first point: {after_first} bytes; the second added {grown}");
    assert!(grown < 2 << 20, "the second point stored {grown} bytes");
    assert!(after_first > 24 << 20, "random content does not compress: {after_first}");

    // An edit in the middle, then each point restores exactly.
    let mut edited = v2.clone();
    edited[10 << 20] ^= 0xff;
    fs::write(&log, &edited).unwrap();
    engine.rollback(&first.id).unwrap();
    assert!(fs::read(&log).unwrap() == v1, "the first point's content");
    engine.rollback(&second.id).unwrap();
    assert!(fs::read(&log).unwrap() == v2, "the second point's content");
    assert!(engine.verify().unwrap().problems.is_empty());

    // Deleting the first point keeps every chunk the second needs.
    engine.delete(&first.id).unwrap();
    fs::write(&log, b"truncated").unwrap();
    engine.rollback(&second.id).unwrap();
    assert!(fs::read(&log).unwrap() == v2, "restored from the remaining chunks");
    let report = engine.verify().unwrap();
    assert!(report.problems.is_empty(), "{report:?}");
}
