//! What a file carries besides its bytes, round-tripped through a point
//! and a rollback and compared with the system's own tools: `getfattr`
//! and `getfacl` (Debian packages `attr` and `acl`), `getcap`/`setcap`
//! (`libcap2-bin`). Runs as root, as the agent does.

mod common;

use std::fs;
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
    assert_eq!(dump(&f.root), before, "the rollback restores every attribute");
    assert!(engine.diff(&point.id).unwrap().modified.is_empty());
    engine.undo().unwrap();
    assert_eq!(dump(&f.root), changed, "undo returns to the changed attributes");
}
