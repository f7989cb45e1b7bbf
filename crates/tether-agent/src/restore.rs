//! The agent's side of restore points: the engine opened at start (which
//! finishes or reverts a rollback a crash interrupted), automatic points on
//! a schedule, and requests turned into engine calls on a blocking thread.
//!
//! Operations run at once where the backend allows it (the file-set
//! engine locks what it must itself); each is watched, and one whose
//! current step (a file read, a directory listed) takes longer than the
//! configured stall limit is given up and reported to the technician
//! with what it was doing: a hung filesystem costs one request, not the
//! restore service.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tether_audit::Record;
use tether_proto::restore::{
    MAX_LISTED_BYTES, RestoreDiff, RestoreEntry, RestorePoint, RestorePointDetail, RollbackOutcome,
    VerifyOutcome, cut, cut_lists, cut_skipped,
};
use tether_proto::{ErrorReply, Response, RestoreRequest};
use tether_restore::watch::{self, Watch};
use tether_restore::{
    Backend, Diff, PointKind, PointSummary, Recovery, RestoreError, RollbackReport,
};
use tracing::{error, info, warn};

use crate::audit::Auditor;
use crate::config::RestoreSettings;

/// The backend, and how its operations are run.
#[derive(Debug)]
pub struct Restore {
    engine: Box<dyn Backend>,
    /// Held for each operation of a backend that does not lock for
    /// itself (`Backend::concurrent`).
    one_at_a_time: Mutex<()>,
    /// How long one step of an operation may take.
    stall: Duration,
}

/// How often a waiting request looks at its operation's progress.
const STALL_CHECK: Duration = Duration::from_millis(250);

/// The restore service as the agent has it: working, or why not.
pub type RestoreState = Result<Arc<Restore>, String>;

/// Opens the store, recovering from an interrupted rollback. Returns the
/// service (or why it is unavailable) and a line describing any recovery,
/// for the log and the audit trail.
pub fn open(settings: Option<&RestoreSettings>) -> (RestoreState, Option<(String, bool)>) {
    let Some(settings) = settings else {
        return (
            Err("restore points are not configured on this agent (see [restore] in its config)"
                .into()),
            None,
        );
    };
    match tether_restore::open(settings.backend.clone()) {
        Ok((engine, recovery)) => {
            let recovered = recovery.map(|r| match r {
                Recovery::Completed(report) => (
                    format!(
                        "finished the rollback to {} a crash interrupted ({}); undo point {}",
                        report.point,
                        counts_line(&report),
                        report.pre_rollback_point
                    ),
                    true,
                ),
                Recovery::Reverted { point } => (
                    format!(
                        "reverted the rollback to {point} a crash interrupted; the tree is as before it"
                    ),
                    true,
                ),
                Recovery::Unfinished(pending) => (
                    format!(
                        "could not finish the interrupted rollback: {pending}; rollbacks are refused until a restart finishes it"
                    ),
                    false,
                ),
            });
            let restore = Restore { engine, one_at_a_time: Mutex::new(()), stall: settings.stall };
            (Ok(Arc::new(restore)), recovered)
        }
        Err(e) => {
            let why = format!("restore points are unavailable: {e}");
            error!("{why}");
            (Err(why.clone()), Some((why, false)))
        }
    }
}

fn counts_line(r: &RollbackReport) -> String {
    format!(
        "{} restored, {} moved aside, {} kept, {} unchanged",
        r.counts.restored, r.counts.moved_aside, r.counts.kept, r.counts.unchanged
    )
}

impl Restore {
    /// Runs `f` (restore operation `what`) on the engine on a blocking
    /// thread, and waits for it unless one of its steps stalls.
    async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        what: &'static str,
        f: impl FnOnce(&dyn Backend) -> Result<T, RestoreError> + Send + 'static,
    ) -> Result<T, ErrorReply> {
        let me = Arc::clone(self);
        let progress = Watch::new();
        let watched = Arc::clone(&progress);
        let mut task = tokio::task::spawn_blocking(move || {
            // A panic inside an operation poisons the lock; the engine's
            // journal, not the lock, keeps the tree consistent, so carry on.
            let _one = (!me.engine.concurrent())
                .then(|| me.one_at_a_time.lock().unwrap_or_else(|p| p.into_inner()));
            watch::run(&watched, || f(me.engine.as_ref()))
        });
        loop {
            match tokio::time::timeout(STALL_CHECK, &mut task).await {
                Ok(done) => {
                    return done
                        .map_err(|e| ErrorReply::internal(format!("restore task failed: {e}")))?
                        .map_err(to_reply);
                }
                // Only a backend that reports its steps can be seen stall.
                Err(_) if self.engine.concurrent() && progress.idle_for() >= self.stall => {
                    progress.abandon();
                    let message = stalled(what, self.stall, &progress);
                    warn!("{message}");
                    return Err(ErrorReply::unavailable(message));
                }
                Err(_) => {}
            }
        }
    }

    /// Serves one restore request; returns the response and an audit detail.
    pub async fn handle(
        self: &Arc<Self>,
        request: RestoreRequest,
    ) -> Result<(Response, String), ErrorReply> {
        match request {
            RestoreRequest::List => {
                let points = self.with("list", |e| e.list()).await?;
                let detail = format!("{} points", points.len());
                Ok((Response::RestorePoints(points.into_iter().map(point).collect()), detail))
            }
            RestoreRequest::Show { id } => {
                let detail = self.with("show", move |e| e.show(&id)).await?;
                let total = detail.entries.len();
                let to_wire = |e: tether_restore::Entry| RestoreEntry {
                    path: e.path,
                    kind: e.kind.as_str().to_owned(),
                    size: e.size,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    mtime_unix: e.mtime.secs,
                    target: e.target,
                };
                let mut budget = MAX_LISTED_BYTES;
                let entries =
                    cut(detail.entries.into_iter().map(to_wire), &mut budget, |e| e.path.as_str());
                let more = (total - entries.len()) as u64;
                let reply = RestorePointDetail {
                    point: point_with_skipped(detail.summary),
                    entries,
                    more_entries: more,
                };
                Ok((Response::RestorePoint(Box::new(reply)), String::new()))
            }
            RestoreRequest::Diff { id } => {
                let point_id = id.clone();
                let diff = self.with("diff", move |e| e.diff(&id)).await?;
                let detail = format!(
                    "{} modified, {} added since, {} removed since",
                    diff.modified.len(),
                    diff.added_since.len(),
                    diff.removed_since.len()
                );
                Ok((Response::RestoreDiff(Box::new(wire_diff(point_id, diff))), detail))
            }
            RestoreRequest::Verify => {
                let report = self.with("verify", |e| e.verify()).await?;
                let detail = format!("{} problems", report.problems.len());
                let mut problems = report.problems;
                problems.truncate(1000);
                let reply = VerifyOutcome {
                    points: report.points,
                    blobs: report.blobs,
                    unreferenced: report.unreferenced,
                    problems,
                };
                Ok((Response::RestoreVerified(reply), detail))
            }
            RestoreRequest::Create { label, keep } => {
                let summary = self
                    .with("create", move |e| e.create(label.as_deref(), keep, PointKind::Manual))
                    .await?;
                let detail = format!(
                    "point {} ({} files, {} left out)",
                    summary.id,
                    summary.files,
                    summary.skipped.len()
                );
                Ok((Response::RestoreCreated(point_with_skipped(summary)), detail))
            }
            RestoreRequest::Rollback { id } => {
                let report = self.with("rollback", move |e| e.rollback(&id)).await?;
                Ok(rolled_back(report))
            }
            RestoreRequest::Undo => {
                let report = self.with("undo", |e| e.undo()).await?;
                Ok(rolled_back(report))
            }
            RestoreRequest::Delete { id, force } => {
                let deleted = id.clone();
                self.with("delete", move |e| {
                    if !force && e.undo_point().as_deref() == Some(id.as_str()) {
                        return Err(RestoreError::Refused(format!(
                            "point {id} holds what the last rollback replaced and moved aside; \
                             without it that rollback cannot be undone. Delete it anyway with \
                             --force"
                        )));
                    }
                    e.delete(&id)
                })
                .await?;
                Ok((Response::RestoreDeleted { id: deleted.clone() }, format!("point {deleted}")))
            }
        }
    }
}

/// Takes an automatic point every `every`, recording each in the audit
/// log, until the task is aborted.
pub async fn schedule(audit: Auditor, restore: Arc<Restore>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await; // The first tick is immediate; start one period in.
    loop {
        tick.tick().await;
        let mut record = Record::now("-", "-", "restore-create");
        record.args = "automatic".into();
        // As for requests: no point is taken without its intent on record.
        let mut intent = record.clone();
        intent.outcome = "started".into();
        if let Err(e) = audit.append(intent).await {
            error!("skipping the automatic restore point: cannot write the audit log: {e}");
            continue;
        }
        match restore
            .with("create", |e| e.create(Some("scheduled"), false, PointKind::Automatic))
            .await
        {
            Ok(p) => {
                info!("automatic restore point {} ({} files)", p.id, p.files);
                record.outcome = "ok".into();
                record.detail = format!("point {} ({} files)", p.id, p.files);
            }
            Err(e) => {
                warn!("automatic restore point failed: {}", e.message);
                record.outcome = "error".into();
                record.detail = e.message;
            }
        }
        if let Err(e) = audit.append(record).await {
            error!("cannot record the automatic restore point: {e}");
        }
    }
}

fn rolled_back(r: RollbackReport) -> (Response, String) {
    let detail =
        format!("to {}: {}; undo point {}", r.point, counts_line(&r), r.pre_rollback_point);
    let reply = RollbackOutcome {
        point: r.point.clone(),
        pre_rollback_point: r.pre_rollback_point,
        restored: r.counts.restored,
        moved_aside: r.counts.moved_aside,
        kept: r.counts.kept,
        unchanged: r.counts.unchanged,
        changes: wire_diff(r.point, r.changes),
    };
    (Response::RolledBack(reply), detail)
}

/// A point as lists show it: the count of what it left out, not the
/// lines (a list of many points must stay far inside the frame limit).
fn point(p: PointSummary) -> RestorePoint {
    let skipped_count = p.skipped.len() as u64;
    RestorePoint { skipped: Vec::new(), skipped_count, ..point_with_skipped(p) }
}

/// A point with the first lines of what it left out (`restore show` and
/// `create`), bounded by `cut_skipped`.
fn point_with_skipped(p: PointSummary) -> RestorePoint {
    let (skipped, skipped_count) = cut_skipped(p.skipped);
    RestorePoint {
        id: p.id,
        created_unix: p.created_unix,
        label: p.label,
        kind: p.kind.as_str().to_owned(),
        keep: p.keep,
        files: p.files,
        total_bytes: p.total_bytes,
        skipped,
        skipped_count,
    }
}

fn wire_diff(point: String, d: Diff) -> RestoreDiff {
    let counts =
        [d.modified.len() as u64, d.added_since.len() as u64, d.removed_since.len() as u64];
    let [modified, added_since, removed_since] =
        cut_lists([d.modified, d.added_since, d.removed_since]);
    let mut modified_what = d.modified_what;
    modified_what.resize(modified.len(), String::new());
    RestoreDiff {
        point,
        modified,
        modified_what,
        added_since,
        removed_since,
        modified_count: counts[0],
        added_count: counts[1],
        removed_count: counts[2],
    }
}

/// The technician's line for an operation given up: what it was doing
/// (the path of a read that never returned) and whether it still changes
/// anything.
fn stalled(what: &str, limit: Duration, progress: &Watch) -> String {
    let doing = progress.doing();
    let after = if progress.must_finish() {
        "it had begun changing files, so it carries on and finishes (or returns the tree) \
         when the filesystem answers; `restore list` shows whether it is pending"
    } else {
        "it had changed nothing and stops there"
    };
    format!(
        "restore {what} made no progress for {} s (stuck {doing}); the agent stopped waiting: \
         {after}. Check that filesystem (a hung network mount?)",
        limit.as_secs()
    )
}

fn to_reply(e: RestoreError) -> ErrorReply {
    if e.is_not_found() {
        ErrorReply::bad_request(e.to_string())
    } else {
        ErrorReply::unavailable(e.to_string())
    }
}
