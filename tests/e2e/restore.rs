//! Restore points over the real transport: tiers, the dry run, rollback,
//! undo, and an agent killed in the middle of a rollback.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tether_tests::{Agent, AgentSetup, TestPki, agent_with_restore, tether_as};

/// Path → (mode, content) of every file and directory under `root`.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, Option<Vec<u8>>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            out.insert(p, (mode, None));
        } else {
            let content = fs::read(&p).unwrap();
            out.insert(p, (mode, Some(content)));
        }
    }
    out
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

#[test]
fn tiers_dry_run_rollback_and_undo() {
    let pki = TestPki::new("Example");
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    fs::create_dir_all(tree.join("conf.d")).unwrap();
    fs::write(tree.join("app.conf"), "colour = blue\n").unwrap();
    fs::write(tree.join("conf.d/10-net.conf"), "dhcp = yes\n").unwrap();
    fs::write(tree.join("old.conf"), "legacy\n").unwrap();
    let agent = agent_with_restore(&pki, data.path());
    let t1 = pki.issue_tech("tina", "tier1");
    let t2 = pki.issue_tech("tom", "tier2");
    let t3 = pki.issue_tech("tess", "tier3");
    let host = agent.addr.as_str();

    // Tier 1 looks; it may not create.
    assert_eq!(
        json(agent.tether(&t1, &["restore", "list", host, "--json"]).ok()),
        serde_json::json!([])
    );
    let denied = agent.tether(&t1, &["restore", "create", host]).fails_with(6);
    assert!(denied.contains("needs tier 2"), "{denied}");
    agent.wait_for_audit(|r| r.request == "restore-create" && r.outcome == "denied");

    // Tier 2 creates.
    let created =
        json(agent.tether(&t2, &["restore", "create", host, "--label", "baseline", "--json"]).ok());
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["files"], 3);
    assert_eq!(created["label"], "baseline");
    let before = snapshot(&tree);

    // The user's machine changes.
    fs::write(tree.join("app.conf"), "colour = red\n").unwrap();
    fs::remove_file(tree.join("old.conf")).unwrap();
    fs::write(tree.join("conf.d/20-new.conf"), "new = 1\n").unwrap();
    fs::write(tree.join("scratch.cache"), "excluded\n").unwrap();
    let changed = snapshot(&tree);

    // Tier 1 sees exactly what a rollback would change.
    let diff = json(agent.tether(&t1, &["restore", "diff", host, &id, "--json"]).ok());
    let p = |rel: &str| tree.join(rel).to_str().unwrap().to_owned();
    assert_eq!(strings(&diff["modified"]), [p("app.conf")]);
    assert_eq!(strings(&diff["removed_since"]), [p("old.conf")]);
    assert_eq!(strings(&diff["added_since"]), [p("conf.d/20-new.conf")]);
    // ...and says what differs for each modified path.
    assert_eq!(strings(&diff["modified_what"]), ["content"]);
    let text = agent.tether(&t1, &["restore", "diff", host, &id]);
    assert!(text.ok().contains(&format!("  M {} (content)\n", p("app.conf"))), "{}", text.ok());
    // show gives each entry's mode, owner and time.
    let show = agent.tether(&t1, &["restore", "show", host, &id]);
    let line = show.ok().lines().find(|l| l.ends_with(&p("app.conf"))).expect("app.conf listed");
    assert!(line.starts_with("file") && line.contains("0644") && line.contains("0:0"), "{line}");

    // Only tier 3 rolls back; tier 2 is denied and audited.
    agent.tether(&t2, &["restore", "rollback", host, &id, "--yes"]).fails_with(6);
    agent.wait_for_audit(|r| r.request == "restore-rollback" && r.outcome == "denied");
    // Without a terminal and without --yes nothing happens.
    let refused = agent.tether(&t3, &["restore", "rollback", host, &id]).fails_with(1);
    assert!(refused.contains("--yes"), "{refused}");
    assert_eq!(snapshot(&tree), changed);

    let done = json(agent.tether(&t3, &["restore", "rollback", host, &id, "--yes", "--json"]).ok());
    assert_eq!(done["point"], id.as_str());
    assert_eq!(done["restored"], 2);
    assert_eq!(done["moved_aside"], 1);
    let mut expected = before.clone();
    expected.insert(tree.join("scratch.cache"), changed[&tree.join("scratch.cache")].clone());
    // Directory modes are restored too; contents and modes must match.
    assert_eq!(snapshot(&tree), expected, "the point's files, plus the excluded one left alone");
    let record = agent.wait_for_audit(|r| r.request == "restore-rollback" && r.outcome == "ok");
    assert!(
        record.args.contains(&id) && record.detail.contains("2 restored, 1 moved aside"),
        "{record:?}"
    );
    assert_eq!(record.technician.as_deref(), Some("tess"));

    // Undo returns to the changed state, moved-aside file included.
    let undo = agent.tether(&t3, &["restore", "undo", host, "--yes"]);
    assert!(undo.ok().contains("rolled back to"), "{}", undo.ok());
    assert_eq!(snapshot(&tree), changed);

    let verify = json(agent.tether(&t1, &["restore", "verify", host, "--json"]).ok());
    assert_eq!(verify["problems"], serde_json::json!([]));
    let list = json(agent.tether(&t1, &["restore", "list", host, "--json"]).ok());
    let kinds: Vec<&str> =
        list.as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["manual", "pre-rollback", "pre-rollback"]);
    // The point the last rollback (the undo) can be undone to is not
    // deleted by accident.
    let undo_point = list[2]["id"].as_str().unwrap();
    let kept = agent.tether(&t3, &["restore", "delete", host, undo_point, "--yes"]).fails_with(1);
    assert!(kept.contains("cannot be undone") && kept.contains("--force"), "{kept}");
    agent.tether(&t3, &["restore", "delete", host, undo_point, "--yes", "--force"]).ok();
    agent.tether(&t2, &["restore", "delete", host, &id, "--yes"]).fails_with(6);
    agent.tether(&t3, &["restore", "delete", host, &id, "--yes"]).ok();
    let gone = agent.tether(&t1, &["restore", "show", host, &id]).fails_with(1);
    assert!(gone.contains("no restore point"), "{gone}");
}

#[test]
fn an_agent_without_restore_paths_says_so() {
    let pki = TestPki::new("Example");
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: "" });
    let t1 = pki.issue_tech("tina", "tier1");
    let err = agent.tether(&t1, &["restore", "list", &agent.addr]).fails_with(1);
    assert!(err.contains("not configured"), "{err}");
}

/// Starts a rollback of a 45 MB tree, kills the agent with SIGKILL once
/// the rollback's journal shows `phase`, restarts it, and checks the tree
/// is wholly the point's or wholly as before. Returns the recovery record's
/// detail, or `None` if the rollback finished before the kill (retry).
fn kill_mid_rollback(phase: &str) -> Option<String> {
    let pki = TestPki::new("Example");
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    for d in 0..8 {
        fs::create_dir_all(tree.join(format!("d{d}"))).unwrap();
        for f in 0..60 {
            let seed = (d * 60 + f) as u8;
            let content: Vec<u8> =
                (0..96 * 1024).map(|i: u32| (i as u8).wrapping_mul(31) ^ seed).collect();
            fs::write(tree.join(format!("d{d}/f{f}")), content).unwrap();
        }
    }
    let mut agent = agent_with_restore(&pki, data.path());
    let t3 = pki.issue_tech("tess", "tier3");
    let created = json(agent.tether(&t3, &["restore", "create", &agent.addr, "--json"]).ok());
    let id = created["id"].as_str().unwrap().to_owned();
    let before = snapshot(&tree);
    for d in 0..8 {
        for f in 0..60 {
            fs::write(tree.join(format!("d{d}/f{f}")), format!("changed {d} {f}")).unwrap();
        }
        fs::write(tree.join(format!("d{d}/added")), "added since").unwrap();
    }
    let changed = snapshot(&tree);

    let home = tempfile::tempdir().unwrap();
    let mut rollback = tether_as(&t3, home.path())
        .args(["--server-name", "agent-01", "restore", "rollback", &agent.addr, &id, "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The phase field comes early in the journal, which is replaced
    // atomically: a short read sees a whole journal's start.
    let journal = data.path().join("state/journal.json");
    let marker = format!("\"phase\":\"{phase}\"");
    let mut seen_journal = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let start: Vec<u8> =
            fs::read(&journal).map(|b| b.into_iter().take(400).collect()).unwrap_or_default();
        if String::from_utf8_lossy(&start).contains(&marker) {
            break;
        }
        seen_journal |= !start.is_empty();
        if seen_journal && start.is_empty() && rollback.try_wait().unwrap().is_some() {
            return None; // Finished before we caught it.
        }
        assert!(Instant::now() < deadline, "the rollback never reached {phase}:\n{}", agent.log());
        std::thread::sleep(Duration::from_micros(100));
    }
    agent.kill();
    // Its agent died: the controller would wait out the idle timeout.
    let _ = rollback.kill();
    let _ = rollback.wait();
    if !journal.exists() {
        return None; // The rollback ended between the check and the kill.
    }
    agent.restart();

    let record = agent.wait_for_audit(|r| r.request == "restore-recovery");
    assert_eq!(record.outcome, "ok", "{record:?}");
    assert!(!journal.exists());
    let now = snapshot(&tree);
    if record.detail.starts_with("finished") {
        assert!(now == before, "a finished rollback leaves the point's tree");
    } else {
        assert!(record.detail.starts_with("reverted"), "{record:?}");
        assert!(now == changed, "a reverted rollback leaves the tree untouched");
    }
    // The restarted agent serves restore requests again.
    let t1 = pki.issue_tech("tina", "tier1");
    let verify = json(agent.tether(&t1, &["restore", "verify", &agent.addr, "--json"]).ok());
    assert_eq!(verify["problems"], serde_json::json!([]));
    Some(record.detail)
}

#[test]
fn an_agent_killed_while_preparing_a_rollback_reverts_it_on_restart() {
    let detail = kill_mid_rollback("preparing").expect("preparing takes long enough to catch");
    assert!(detail.starts_with("reverted"), "{detail}");
}

#[test]
fn an_agent_killed_while_committing_a_rollback_finishes_it_on_restart() {
    for _ in 0..5 {
        if let Some(detail) = kill_mid_rollback("committing") {
            assert!(detail.starts_with("finished"), "{detail}");
            return;
        }
    }
    panic!("five rollbacks committed before the test could kill the agent");
}

#[test]
fn the_snapper_backend_drives_snapper_behind_the_same_commands() {
    let pki = TestPki::new("Example");
    let data = tempfile::tempdir().unwrap();
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake-snapper");
    // The agent passes its environment to snapper: point the fake at our dir.
    let script = data.path().join("snapper");
    fs::write(
        &script,
        format!("#!/usr/bin/env bash\nFAKE_SNAPPER_DIR={:?} exec {:?} \"$@\"\n", data.path(), fake),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let extra = format!(
        "[restore]\nbackend = \"snapper\"\nsnapper_program = {:?}\nstate_dir = {:?}\nschedule_hours = 0\n",
        script,
        data.path().join("state")
    );
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let (t1, t2, t3) = (
        pki.issue_tech("tina", "tier1"),
        pki.issue_tech("tom", "tier2"),
        pki.issue_tech("tess", "tier3"),
    );
    let host = agent.addr.as_str();

    let created = json(
        agent.tether(&t2, &["restore", "create", host, "--label", "before update", "--json"]).ok(),
    );
    assert_eq!(created["id"], "1");
    assert_eq!(created["kind"], "manual");
    let diff = json(agent.tether(&t1, &["restore", "diff", host, "1", "--json"]).ok());
    assert_eq!(strings(&diff["modified"]), ["/etc/hosts"]);
    assert_eq!(strings(&diff["added_since"]), ["/etc/added.conf"]);
    assert_eq!(strings(&diff["removed_since"]), ["/etc/removed.conf"]);
    agent.tether(&t2, &["restore", "rollback", host, "1", "--yes"]).fails_with(6);
    let done = json(agent.tether(&t3, &["restore", "rollback", host, "1", "--yes", "--json"]).ok());
    assert_eq!(done["pre_rollback_point"], "2");
    assert_eq!(done["restored"], 2);
    assert_eq!(done["moved_aside"], 1);
    let undo = json(agent.tether(&t3, &["restore", "undo", host, "--yes", "--json"]).ok());
    assert_eq!(undo["point"], "2");
    let err = agent.tether(&t1, &["restore", "show", host, "99"]).fails_with(1);
    assert!(err.contains("no restore point"), "{err}");

    let calls = fs::read_to_string(data.path().join("calls")).unwrap();
    let calls: Vec<&str> =
        calls.lines().map(|l| l.trim_start_matches("--no-dbus --utc --iso -c root ")).collect();
    assert!(calls.contains(&"create --print-number --description before update --userdata tether=manual --cleanup-algorithm number"), "{calls:#?}");
    assert!(
        calls.iter().any(|c| c.starts_with("create") && c.contains("tether=pre-rollback")),
        "{calls:#?}"
    );
    assert!(calls.contains(&"undochange 1..0") && calls.contains(&"undochange 2..0"), "{calls:#?}");
    let record = agent.wait_for_audit(|r| r.request == "restore-rollback" && r.outcome == "ok");
    assert!(record.detail.contains("2 restored, 1 moved aside"), "{record:?}");
}

#[test]
fn the_agent_takes_scheduled_points_and_audits_them() {
    let pki = TestPki::new("Example");
    let data = tempfile::tempdir().unwrap();
    fs::create_dir_all(data.path().join("tree")).unwrap();
    fs::write(data.path().join("tree/a.conf"), "a\n").unwrap();
    // 0.01 h = 36 s, the shortest schedule the agent accepts.
    let extra = format!(
        "[restore]\nstate_dir = {:?}\npaths = [{:?}]\nschedule_hours = 0.01\n",
        data.path().join("state"),
        data.path().join("tree"),
    );
    let agent = Agent::start(AgentSetup { pki: &pki, name: "agent-01", extra: &extra });
    let record = agent.wait_for_audit_within(
        |r| r.request == "restore-create" && r.args == "automatic" && r.outcome != "started",
        Duration::from_secs(90),
    );
    assert_eq!(record.outcome, "ok", "{record:?}");
    let t1 = pki.issue_tech("tina", "tier1");
    let list = json(agent.tether(&t1, &["restore", "list", &agent.addr, "--json"]).ok());
    let point = &list.as_array().unwrap()[0];
    assert_eq!(point["kind"], "automatic");
    assert_eq!(point["label"], "scheduled");
    assert!(record.detail.contains(point["id"].as_str().unwrap()), "{record:?}");
}
