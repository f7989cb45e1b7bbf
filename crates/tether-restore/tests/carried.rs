//! What a file carries besides its bytes, round-tripped through a point
//! and a rollback: extended attributes, ACLs and capabilities compared
//! with the system's own tools (`getfattr`, `getfacl`: Debian packages
//! `attr` and `acl`; `getcap`/`setcap`: `libcap2-bin`), hard-link groups
//! and allocated blocks compared with `stat`. Runs as root, as the agent
//! does.

// Unix only: extended attributes, POSIX ACLs and capabilities (not kept on
// Windows), checked with Linux tools; link counts and blocks from `stat`.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::Fixture;
use tether_restore::{Backend, PointKind};

/// Runs a tool, failing the test with its stderr if it fails.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} (install attr, acl, libcap2-bin): {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn path(f: &Fixture, rel: &str) -> String {
    f.path(rel).to_str().unwrap().to_owned()
}

/// Every extended attribute (all namespaces), every ACL (access and
/// default) and every capability of the tree, as the tools print them.
fn dump(root: &Path) -> String {
    let root = root.to_str().unwrap();
    let attrs = run("getfattr", &["-R", "-d", "-m", "-", "--absolute-names", root]);
    let acls = run("getfacl", &["-R", "--absolute-names", root]);
    let caps = run("getcap", &["-r", root]);
    format!("{attrs}\n{acls}\n{caps}")
}

/// Attributes, ACLs and a capability of every kind the engine restores.
fn populate(f: &Fixture) {
    f.write("plain", b"plain\n");
    let plain = path(f, "plain");
    run("setfattr", &["-n", "user.comment", "-v", "hello", &plain]);
    run("setfattr", &["-n", "trusted.origin", "-v", "0x00ff10", &plain]);
    run("setfattr", &["-n", "security.tether-test", "-v", "label", &plain]);
    f.write("acl", b"acl\n");
    run("setfacl", &["-m", "u:1234:r,g::r,m::r", &path(f, "acl")]);
    f.write("inherits/old", b"made before the default ACL\n");
    run("setfacl", &["-d", "-m", "u:1234:rwx", &path(f, "inherits")]);
    f.write("shared/file", b"x\n");
    run("setfacl", &["-d", "-m", "g:2345:rx", &path(f, "shared")]);
    run("setfattr", &["-n", "user.dir", "-v", "kept", &path(f, "shared")]);
    fs::copy("/usr/bin/true", f.path("cap")).unwrap();
    run("setcap", &["cap_net_raw+ep", &path(f, "cap")]);
}

/// Changes each of them: attributes removed, added and changed, ACLs
/// stripped, a default ACL removed, a capability lost by a rewrite, and
/// a file removed from a directory whose default ACL it would inherit
/// when recreated.
fn mutate(f: &Fixture) {
    let plain = path(f, "plain");
    run("setfattr", &["-x", "user.comment", &plain]);
    run("setfattr", &["-n", "user.added", "-v", "new", &plain]);
    run("setfattr", &["-n", "trusted.origin", "-v", "changed", &plain]);
    run("setfacl", &["-b", &path(f, "acl")]);
    fs::remove_file(f.path("inherits/old")).unwrap();
    run("setfacl", &["-k", &path(f, "shared")]);
    run("setfattr", &["-x", "user.dir", &path(f, "shared")]);
    let mut binary = fs::read(f.path("cap")).unwrap();
    binary.push(0);
    fs::write(f.path("cap"), binary).unwrap();
}

#[test]
fn extended_attributes_acls_and_capabilities_round_trip_exactly() {
    let _serial = common::serial();
    let f = Fixture::new();
    populate(&f);
    let before = dump(&f.root);
    for expected in ["user.comment", "trusted.origin", "security.tether-test", "user.dir"] {
        assert!(before.contains(expected), "{expected} missing from:\n{before}");
    }
    assert!(before.contains("user:1234:r--") && before.contains("default:group:2345:r-x"));
    assert!(before.contains("cap_net_raw=ep"), "{before}");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    assert!(point.skipped.is_empty(), "{:?}", point.skipped);

    mutate(&f);
    let changed = dump(&f.root);
    assert_ne!(changed, before);
    assert!(!changed.contains("cap_net_raw"), "a rewrite drops the capability");
    let diff = engine.diff(&point.id).unwrap();
    let what: Vec<(&str, &str)> = diff
        .modified
        .iter()
        .zip(&diff.modified_what)
        .map(|(p, w)| (p.rsplit('/').next().unwrap(), w.as_str()))
        .collect();
    assert!(what.contains(&("plain", "extended attributes")), "{what:?}");
    assert!(what.contains(&("acl", "ACL")), "{what:?}");
    assert!(what.contains(&("shared", "ACL, extended attributes")), "{what:?}");

    engine.rollback(&point.id).unwrap();
    let after = dump(&f.root);
    eprintln!("point:\n{before}\nchanged:\n{changed}\nafter the rollback:\n{after}");
    assert_eq!(after, before, "the rollback restores every attribute");
    assert!(engine.diff(&point.id).unwrap().modified.is_empty());
    engine.undo().unwrap();
    assert_eq!(dump(&f.root), changed, "undo returns to the changed attributes");
}

/// Each file's link count and the first file (by path) sharing its inode.
fn link_groups(f: &Fixture, names: &[&str]) -> BTreeMap<String, (u64, String)> {
    let mut first: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for name in names {
        let Ok(meta) = fs::symlink_metadata(f.path(name)) else { continue };
        let leader = first.entry((meta.dev(), meta.ino())).or_insert_with(|| name.to_string());
        out.insert(name.to_string(), (meta.nlink(), leader.clone()));
    }
    out
}

#[test]
fn hard_link_groups_come_back_as_links() {
    let _serial = common::serial();
    let f = Fixture::new();
    f.write("a", b"one inode, three names\n");
    fs::create_dir(f.path("sub")).unwrap();
    fs::hard_link(f.path("a"), f.path("b")).unwrap();
    fs::hard_link(f.path("a"), f.path("sub/c")).unwrap();
    f.write("x", b"equal but separate\n");
    f.write("y", b"equal but separate\n");
    let names = ["a", "b", "sub/c", "x", "y", "z"];
    let before = link_groups(&f, &names);
    assert_eq!(before["b"], (3, "a".to_string()));
    assert_eq!(before["y"], (1, "y".to_string()));
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();

    // The group is broken up (b a copy, sub/c gone, a rewritten), and two
    // separate files become one inode, plus a new link to it.
    fs::remove_file(f.path("b")).unwrap();
    fs::copy(f.path("a"), f.path("b")).unwrap();
    fs::remove_file(f.path("sub/c")).unwrap();
    fs::write(f.path("a"), b"changed\n").unwrap();
    fs::remove_file(f.path("y")).unwrap();
    fs::hard_link(f.path("x"), f.path("y")).unwrap();
    fs::hard_link(f.path("x"), f.path("z")).unwrap();
    let changed = link_groups(&f, &names);
    assert_ne!(changed, before);
    let diff = engine.diff(&point.id).unwrap();
    let y = diff.modified.iter().position(|p| p.ends_with("/y")).expect("y is modified");
    assert_eq!(diff.modified_what[y], "hard links");

    engine.rollback(&point.id).unwrap();
    eprintln!("(links, first name of the inode) point: {before:?}");
    eprintln!("changed: {changed:?}");
    eprintln!("after the rollback: {:?}", link_groups(&f, &names));
    assert_eq!(link_groups(&f, &names), before, "links and separate files as in the point");
    assert_eq!(fs::read(f.path("sub/c")).unwrap(), b"one inode, three names\n");
    assert!(engine.diff(&point.id).unwrap().is_empty());
    engine.undo().unwrap();
    assert_eq!(link_groups(&f, &names), changed, "undo returns to the changed links");
}

/// Allocated 512-byte blocks.
fn blocks(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks()
}

#[test]
fn sparse_files_come_back_sparse_and_full_ones_full() {
    let _serial = common::serial();
    let f = Fixture::new();
    // 256 MiB long, 8 KiB allocated: a block at the start and one in the
    // middle.
    let sparse = f.path("sparse.img");
    let mut file = fs::File::create(&sparse).unwrap();
    file.write_all(&[1; 4096]).unwrap();
    file.seek(SeekFrom::Start(128 << 20)).unwrap();
    file.write_all(&[2; 4096]).unwrap();
    file.set_len(256 << 20).unwrap();
    drop(file);
    // Zeros that were written, not holes: they stay allocated.
    f.write("zeros", &[0; 64 * 1024]);
    let (sparse_blocks, zero_blocks) = (blocks(&sparse), blocks(&f.path("zeros")));
    assert!(sparse_blocks <= 64, "{sparse_blocks} blocks: this filesystem made no holes");
    assert_eq!(zero_blocks, 128);
    let content = fs::read(&sparse).unwrap();
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();

    fs::write(&sparse, b"overwritten").unwrap();
    fs::write(f.path("zeros"), b"overwritten").unwrap();
    engine.rollback(&point.id).unwrap();
    assert!(fs::read(&sparse).unwrap() == content, "same bytes");
    eprintln!(
        "st_blocks: sparse.img {sparse_blocks} -> {} (length {}), zeros {zero_blocks} -> {}",
        blocks(&sparse),
        fs::metadata(&sparse).unwrap().len(),
        blocks(&f.path("zeros"))
    );
    assert_eq!(blocks(&sparse), sparse_blocks, "as few blocks as before");
    assert_eq!(fs::read(f.path("zeros")).unwrap(), [0; 64 * 1024]);
    assert_eq!(blocks(&f.path("zeros")), zero_blocks, "written zeros stay written");
}
