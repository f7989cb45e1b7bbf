//! The crate map stays true: every dependency between workspace crates is
//! one that `ARCHITECTURE.md`'s "Allowed dependencies" section allows, every
//! workspace crate has a line there, every line names a crate that exists,
//! and the allowed edges form no loop.
//!
//! The facts come from `cargo metadata --no-deps`, so the test reads the
//! manifests as cargo does (renamed and target-specific dependencies
//! included) and needs no network.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Crates the map lists that are being written on other branches and land
/// when those branches merge. Only these may be missing from the workspace.
/// Once both exist this list should be emptied, so a misspelt line fails.
const LANDING_AT_MERGE: &[&str] = &[];

/// The binaries: no production crate may depend on them, even for tests.
const BINARIES: &[&str] = &["tether-agent", "tether"];

/// The one crate that is not production code: its dev-dependencies may
/// reach the binaries (in-process agent tests).
const TEST_PACKAGE: &str = "tether-tests";

/// The section's heading, and its title as messages name it.
const SECTION: &str = "## Allowed dependencies";
const TITLE: &str = "ARCHITECTURE.md's \"Allowed dependencies\"";

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The allowed edges, crate → crates it may depend on, read from the
/// section's `- crate: dep, dep` lines (`(none)` for no dependency).
fn allowed_dependencies(architecture: &str) -> BTreeMap<String, BTreeSet<String>> {
    let start = architecture
        .find(SECTION)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no {SECTION:?} heading"));
    let body = &architecture[start + SECTION.len()..];
    let body = body.find("\n## ").map_or(body, |end| &body[..end]);
    let mut map = BTreeMap::new();
    for line in body.lines().filter_map(|l| l.strip_prefix("- ")) {
        let (name, deps) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("map line without ':' in {TITLE}: {line:?}"));
        let deps: BTreeSet<String> = match deps.trim() {
            "(none)" => BTreeSet::new(),
            list => list.split(',').map(|d| d.trim().to_owned()).collect(),
        };
        assert!(
            deps.iter().all(|d| !d.is_empty() && !d.contains(' ')),
            "malformed dependency list for {name} in {TITLE}: {line:?}"
        );
        let previous = map.insert(name.trim().to_owned(), deps);
        assert!(previous.is_none(), "{name} has two lines in {TITLE}");
    }
    assert!(!map.is_empty(), "{TITLE} lists no crates");
    map
}

/// One dependency of one workspace crate on another.
struct Edge {
    from: String,
    to: String,
    /// `dev`, `build` or `normal`, as cargo says.
    kind: String,
}

/// The workspace's crates and the edges between them, from cargo itself.
fn workspace_graph() -> (BTreeSet<String>, Vec<Edge>) {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .expect("cargo runs (it built this test)");
    assert!(
        output.status.success(),
        "cargo metadata failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("metadata has packages");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("a package has a name").to_owned())
        .collect();
    let mut edges = Vec::new();
    for package in packages {
        let from = package["name"].as_str().expect("a package has a name");
        for dep in package["dependencies"].as_array().expect("a package has dependencies") {
            let to = dep["name"].as_str().expect("a dependency has a name");
            if names.contains(to) {
                edges.push(Edge {
                    from: from.to_owned(),
                    to: to.to_owned(),
                    kind: dep["kind"].as_str().unwrap_or("normal").to_owned(),
                });
            }
        }
    }
    (names, edges)
}

/// Edges the map forbids, in words; empty when the workspace keeps the map.
fn violations(
    map: &BTreeMap<String, BTreeSet<String>>,
    crates: &BTreeSet<String>,
    edges: &[Edge],
) -> Vec<String> {
    let mut found = Vec::new();
    for name in crates.iter().filter(|c| !map.contains_key(*c)) {
        found.push(format!("crate {name} has no line in {TITLE}"));
    }
    for name in map.keys().filter(|c| !crates.contains(*c)) {
        if !LANDING_AT_MERGE.contains(&name.as_str()) {
            found.push(format!("{TITLE} lists {name}, which is not a workspace crate"));
        }
    }
    for (name, deps) in map {
        for dep in deps.iter().filter(|d| !map.contains_key(*d)) {
            found.push(format!("{TITLE} lets {name} depend on {dep}, which has no line"));
        }
    }
    for edge in edges {
        if edge.kind == "dev" {
            if edge.from != TEST_PACKAGE && BINARIES.contains(&edge.to.as_str()) {
                found.push(format!(
                    "{} dev-depends on the binary crate {}; production crates never do",
                    edge.from, edge.to
                ));
            }
            continue;
        }
        let allowed = map.get(&edge.from).is_some_and(|deps| deps.contains(&edge.to));
        if map.contains_key(&edge.from) && !allowed {
            found.push(format!(
                "{} depends on {} ({}), which {TITLE} does not allow",
                edge.from, edge.to, edge.kind
            ));
        }
    }
    found
}

/// A loop among the allowed edges, as the crates along it, if there is one.
fn find_loop(map: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    fn visit(
        name: &str,
        map: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(name).copied().unwrap_or(Mark::Unvisited) {
            Mark::Done => return None,
            Mark::OnPath => {
                let start = path.iter().position(|p| p == name).expect("on the path");
                let mut cycle = path[start..].to_vec();
                cycle.push(name.to_owned());
                return Some(cycle);
            }
            Mark::Unvisited => {}
        }
        marks.insert(name.to_owned(), Mark::OnPath);
        path.push(name.to_owned());
        for dep in map.get(name).into_iter().flatten() {
            if let Some(cycle) = visit(dep, map, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(name.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    map.keys().find_map(|name| visit(name, map, &mut marks, &mut Vec::new()))
}

fn architecture() -> String {
    let path = workspace_root().join("ARCHITECTURE.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn workspace_dependencies_follow_the_map() {
    let map = allowed_dependencies(&architecture());
    let (crates, edges) = workspace_graph();
    assert!(crates.contains("tether-proto"), "cargo metadata listed the workspace: {crates:?}");
    let found = violations(&map, &crates, &edges);
    assert!(
        found.is_empty(),
        "the workspace and {TITLE} disagree; change the Cargo.toml or, \
         if the layering really changes, the map:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_map_has_no_loop() {
    let map = allowed_dependencies(&architecture());
    if let Some(cycle) = find_loop(&map) {
        panic!("{TITLE} allows a loop: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_map_tells_forbidden_edges_and_loops() {
    let map = allowed_dependencies(
        "# A\n## Allowed dependencies\ntext\n\n- low: (none)\n- mid: low\n- top: mid, low\n## Next\n- not: a line",
    );
    assert_eq!(map.len(), 3, "lines after the next heading are not read: {map:?}");
    assert_eq!(find_loop(&map), None);
    let crates: BTreeSet<String> = ["low", "mid", "top", "extra"].map(String::from).into();
    let edge = |from: &str, to: &str, kind: &str| Edge {
        from: from.into(),
        to: to.into(),
        kind: kind.into(),
    };
    let edges = [edge("top", "low", "normal"), edge("low", "mid", "normal")];
    let found = violations(&map, &crates, &edges);
    assert_eq!(
        found,
        [
            format!("crate extra has no line in {TITLE}"),
            format!("low depends on mid (normal), which {TITLE} does not allow"),
        ]
    );
    let binary_in_dev = [edge("mid", "tether-agent", "dev"), edge(TEST_PACKAGE, "tether", "dev")];
    let found = violations(&map, &["low", "mid", "top"].map(String::from).into(), &binary_in_dev);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("mid dev-depends on the binary crate tether-agent"));

    let looped = allowed_dependencies("## Allowed dependencies\n- a: b\n- b: c\n- c: a\n");
    assert_eq!(find_loop(&looped), Some(["a", "b", "c", "a"].map(String::from).to_vec()));
}
