//! Restore points through the in-process agent: create, diff, rollback,
//! undo, verify and delete, each with its audit records; and the schedule
//! and lock are the agent's, not the test's.

use std::fs;

use tether_proto::{ErrorKind, Request, Response, RestoreRequest, Role, Tier};

use crate::harness::{TIMEOUT, TestAgent, error_kind, exists, message};

async fn call(client: &tether_transport::Client, request: RestoreRequest) -> Response {
    let request: Request = request.into();
    client.request(&request, TIMEOUT).await.unwrap_or_else(|e| panic!("{request:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_restores_the_point_and_undo_brings_the_changes_back() {
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    fs::create_dir_all(tree.join("docs")).unwrap();
    fs::write(tree.join("docs/report.txt"), "draft 1\n").unwrap();
    fs::write(tree.join("settings.ini"), "volume=3\n").unwrap();
    let extra = format!(
        "[restore]\nstate_dir = {:?}\npaths = [{tree:?}]\nschedule_hours = 0\n",
        data.path().join("state")
    );
    let agent = TestAgent::start(&extra).await;
    let client = agent.connect(Role::Tier(Tier::Three)).await;

    let Response::RestoreCreated(point) =
        call(&client, RestoreRequest::Create { label: Some("before".into()), keep: true }).await
    else {
        panic!("not a created point");
    };
    assert_eq!(point.files, 2);
    fs::write(tree.join("docs/report.txt"), "draft 2, broken\n").unwrap();
    fs::remove_file(tree.join("settings.ini")).unwrap();
    fs::write(tree.join("new.tmp"), "added\n").unwrap();

    let Response::RestoreDiff(diff) =
        call(&client, RestoreRequest::Diff { id: point.id.clone() }).await
    else {
        panic!("not a diff");
    };
    assert_eq!(diff.modified.len(), 1, "{diff:?}");
    assert!(diff.modified[0].ends_with("docs/report.txt"), "{diff:?}");
    assert_eq!(diff.removed_since.len(), 1, "{diff:?}");
    assert_eq!(diff.added_since.len(), 1, "{diff:?}");

    let Response::RolledBack(rolled) =
        call(&client, RestoreRequest::Rollback { id: point.id.clone() }).await
    else {
        panic!("not a rollback");
    };
    assert_eq!(fs::read_to_string(tree.join("docs/report.txt")).unwrap(), "draft 1\n");
    assert_eq!(fs::read_to_string(tree.join("settings.ini")).unwrap(), "volume=3\n");
    assert!(!exists(&tree.join("new.tmp")), "added files are moved aside");
    assert_eq!((rolled.restored, rolled.moved_aside), (2, 1), "{rolled:?}");

    let Response::RolledBack(undone) = call(&client, RestoreRequest::Undo).await else {
        panic!("not an undo");
    };
    assert_eq!(undone.point, rolled.pre_rollback_point);
    assert_eq!(fs::read_to_string(tree.join("docs/report.txt")).unwrap(), "draft 2, broken\n");
    assert!(!exists(&tree.join("settings.ini")));
    assert_eq!(fs::read_to_string(tree.join("new.tmp")).unwrap(), "added\n");

    let Response::RestoreVerified(verified) = call(&client, RestoreRequest::Verify).await else {
        panic!("not a verification");
    };
    assert!(verified.problems.is_empty(), "{verified:?}");
    let Response::RestoreDeleted { id } =
        call(&client, RestoreRequest::Delete { id: point.id.clone(), force: false }).await
    else {
        panic!("not a deletion");
    };
    assert_eq!(id, point.id);

    // Each action has its intent and its outcome on record, in order.
    for kind in ["restore-create", "restore-rollback", "restore-undo", "restore-delete"] {
        let outcomes: Vec<_> = agent.records_of(kind).into_iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, ["started", "ok"], "{kind}");
    }
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_restore_table_restore_requests_are_unavailable_not_fatal() {
    let agent = TestAgent::start("").await;
    let client = agent.connect(Role::Tier(Tier::Three)).await;
    let result = client.request(&RestoreRequest::List.into(), TIMEOUT).await;
    assert_eq!(error_kind(&result), Some(ErrorKind::Unavailable), "{result:?}");
    let message = message(result);
    assert!(message.contains("not configured"), "{message}");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_point_left_out_reaches_the_technician() {
    use std::os::unix::ffi::OsStrExt;
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("kept.txt"), "kept\n").unwrap();
    fs::write(tree.join(std::ffi::OsStr::from_bytes(b"latin1-\xe9t\xe9")), "x\n").unwrap();
    let fifo = tree.join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let extra = format!(
        "[restore]\nstate_dir = {:?}\npaths = [{tree:?}]\nschedule_hours = 0\n",
        data.path().join("state")
    );
    let agent = TestAgent::start(&extra).await;
    let client = agent.connect(Role::Tier(Tier::One)).await;
    let admin = agent.connect(Role::Tier(Tier::Three)).await;

    let Response::RestoreCreated(point) =
        call(&admin, RestoreRequest::Create { label: None, keep: false }).await
    else {
        panic!("not a created point");
    };
    assert_eq!(point.files, 1);
    assert_eq!(point.skipped_count, 2, "{:?}", point.skipped);
    let has = |lines: &[String], what: &str| lines.iter().any(|l| l.contains(what));
    assert!(
        has(&point.skipped, "latin1-\u{fffd}t\u{fffd}: name is not UTF-8"),
        "{:?}",
        point.skipped
    );
    assert!(has(&point.skipped, "/pipe: a FIFO"), "{:?}", point.skipped);

    let Response::RestorePoint(detail) =
        call(&client, RestoreRequest::Show { id: point.id.clone() }).await
    else {
        panic!("not a point");
    };
    assert_eq!(detail.point.skipped, point.skipped, "show carries the same lines");
    let Response::RestorePoints(list) = call(&client, RestoreRequest::List).await else {
        panic!("not a list");
    };
    assert_eq!((list[0].skipped.len(), list[0].skipped_count), (0, 2), "lists carry the count");
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_read_costs_one_request_not_the_restore_service() {
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("a.conf"), "a\n").unwrap();
    fs::write(tree.join("hung.conf"), "on a filesystem that stops answering\n").unwrap();
    let extra = format!(
        "[restore]\nstate_dir = {:?}\npaths = [{tree:?}]\nschedule_hours = 0\nstall_secs = 1\n",
        data.path().join("state")
    );
    let agent = TestAgent::start(&extra).await;
    let admin = agent.connect(Role::Tier(Tier::Three)).await;
    let other = agent.connect(Role::Tier(Tier::One)).await;
    let Response::RestoreCreated(first) =
        call(&admin, RestoreRequest::Create { label: None, keep: false }).await
    else {
        panic!("not a created point");
    };

    // The next read of hung.conf blocks until released, as on a hung mount.
    let release = tether_restore::watch::stall_reads_of(tree.join("hung.conf"));
    let create: Request = RestoreRequest::Create { label: None, keep: false }.into();
    let stalled = tokio::spawn(async move { admin.request(&create, TIMEOUT).await });
    // Meanwhile another technician's requests are answered.
    let Response::RestorePoints(list) = call(&other, RestoreRequest::List).await else {
        panic!("not a list");
    };
    assert_eq!(list.len(), 1);
    let Response::RestorePoint(_) = call(&other, RestoreRequest::Show { id: first.id }).await
    else {
        panic!("not a point");
    };
    // The stalled one is given up with what it was stuck on.
    let result = stalled.await.unwrap();
    assert_eq!(error_kind(&result), Some(ErrorKind::Unavailable), "{result:?}");
    let message = message(result);
    assert!(message.contains("restore create made no progress for 1 s"), "{message}");
    assert!(message.contains("hung.conf"), "{message}");
    assert!(message.contains("changed nothing"), "{message}");

    // Once the filesystem answers, the abandoned point stops unpublished
    // and the next one is taken.
    drop(release);
    let admin = agent.connect(Role::Tier(Tier::Three)).await;
    let Response::RestoreCreated(_) =
        call(&admin, RestoreRequest::Create { label: None, keep: false }).await
    else {
        panic!("not a created point");
    };
    let Response::RestorePoints(list) = call(&other, RestoreRequest::List).await else {
        panic!("not a list");
    };
    assert_eq!(list.len(), 2, "the abandoned point was not published");
    agent.stop().await;
}
