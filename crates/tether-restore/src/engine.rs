//! The engine: one store under a state directory, locked by one process.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use crate::backend::Backend;
use crate::config::{Selection, StoreConfig};
use crate::dirfd::Dir;
use crate::error::{IoContext, RestoreError};
use crate::failpoint::hit;
use crate::fsutil;
use crate::manifest::{
    Entry, EntryKind, Manifest, PointDetail, PointKind, PointSummary, Xattrs, comparable,
    group_links,
};
use crate::plan::{Diff, compare};
use crate::points::{PointStore, new_id};
use crate::report::{LastRollback, PendingRollback, Recovery, RollbackReport, VerifyReport};
use crate::rollback::{self, Journal, Phase};
use crate::scan::{Scan, scan};
use crate::space;
use crate::store::{CHUNKED_FROM, ObjectStore, hash_file, random_name};
use crate::tree::Anchors;
use crate::watch;
use crate::xattrs::{self, Budget};

mod journaled;
mod locks;
mod record;

use locks::Holds;
use record::hash_live;

/// A store of restore points. Operations take `&self` and may run at once
/// on several threads (see `engine/locks` for what waits for what); the
/// lock file keeps other processes out.
#[derive(Debug)]
pub struct Engine {
    selection: Selection,
    /// The configured roots as strings, for [`crate::tree::locate`].
    roots: Vec<String>,
    config: StoreConfig,
    objects: ObjectStore,
    points: PointStore,
    /// The running rollback's journal.
    journal_path: PathBuf,
    /// The journal of returning from a failed rollback; exists only while
    /// `journal_path` does (or, briefly, just after it was removed).
    revert_path: PathBuf,
    last_path: PathBuf,
    /// Why the pending rollback could not be finished, if it was tried.
    last_error: Mutex<Option<String>>,
    /// Rollbacks (exclusive) against points and diffs (shared).
    tree: RwLock<()>,
    /// Changes to the store: publishing, retention, deleting, verifying.
    store: Mutex<()>,
    /// Objects running operations hold against garbage collection, with
    /// how many hold each.
    in_flight: Mutex<HashMap<String, usize>>,
    _lock: File,
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Engine {
    /// Opens (creating if needed) the store, takes its lock, and finishes
    /// or reverts a rollback a crash interrupted. A rollback that can be
    /// neither is reported as [`Recovery::Unfinished`], not as an error:
    /// everything but rollbacks keeps working.
    pub fn open(config: StoreConfig) -> Result<(Engine, Option<Recovery>), RestoreError> {
        let selection = Selection::new(&config)?;
        let dir = config.state_dir.clone();
        fsutil::create_private_dir(&dir)?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .ctx("open", &lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(RestoreError::Locked(dir)),
            Err(TryLockError::Error(e)) => return Err(e).ctx("lock", &lock_path),
        }
        for path in config.protected_inside() {
            warn!("{} is inside the restore paths; points always leave it out", path.display());
        }
        let roots = selection.roots.iter().map(|r| crate::tree::root_text(r)).collect();
        let engine = Engine {
            selection,
            roots,
            objects: ObjectStore::open(dir.join("objects"))?,
            points: PointStore::open(dir.join("points"))?,
            journal_path: dir.join("journal.json"),
            revert_path: dir.join("revert.json"),
            last_path: dir.join("last-rollback.json"),
            last_error: Mutex::new(None),
            tree: RwLock::new(()),
            store: Mutex::new(()),
            in_flight: Mutex::new(HashMap::new()),
            config,
            _lock: lock,
        };
        let recovery = engine.recover();
        engine.objects.clean_tmp()?;
        let orphans = engine.points.clean_incomplete()?;
        if orphans > 0 {
            info!("removed {orphans} incomplete restore point files");
        }
        Ok((engine, recovery))
    }

    /// Plans the way from `live` (described by `scan`) to `target` as a
    /// journal. Entries of the point that a special file now stands on or
    /// above, or that lie where the scan could not look, are left alone
    /// and listed.
    fn journal_for(
        &self,
        target_id: &str,
        target: &Manifest,
        pre_point: String,
        live: &[Entry],
        scan: &Scan,
        revert: bool,
    ) -> Result<Journal, RestoreError> {
        let live = comparable(target, live);
        let live = live.as_ref();
        let target = target.entries.as_slice();
        let mut changes = compare(target, live);
        let mut skipped = Vec::new();
        let mut keep = |e: &Entry| {
            // A link is made only to a file the rollback may touch.
            let untouchable = scan.untouchable(&e.path)
                || e.links_to.as_deref().is_some_and(|l| scan.untouchable(l));
            if untouchable {
                skipped.push(format!(
                    "{}: a special file or a mount point is there or above it, or it could not be inspected; left alone",
                    e.path
                ));
            }
            !untouchable
        };
        changes.modified.retain(|(p, _)| keep(p));
        changes.removed.retain(|p| keep(p));
        let (ops, mut counts) =
            rollback::plan(&changes, target, live, &scan.hidden_children, &self.roots)?;
        counts.skipped = skipped.len() as u64;
        Ok(Journal {
            id: random_name(),
            target: target_id.to_owned(),
            pre_point,
            phase: Phase::Preparing,
            revert,
            reverting: None,
            previous_undo: None,
            temps: Default::default(),
            skipped,
            roots: self.roots.clone(),
            counts,
            changes: Diff::of(&changes),
            ops,
        })
    }

    /// Removes objects no point refers to and no running operation holds.
    /// The caller holds the store lock.
    fn collect_garbage(&self) -> Result<(), RestoreError> {
        // Held for the whole pass: an object is either held before the
        // pass (kept) or after it (then stored again if it went).
        let in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let referenced = self.referenced()?;
        for hash in self.objects.list()? {
            if !referenced.contains(&hash) && !in_flight.contains_key(&hash) {
                self.objects.remove(&hash)?;
            }
        }
        Ok(())
    }

    fn referenced(&self) -> Result<HashSet<String>, RestoreError> {
        let mut referenced = HashSet::new();
        for point in self.points.list()? {
            for entry in self.points.manifest(&point.id)?.entries {
                referenced.extend(entry.objects().cloned());
            }
        }
        Ok(referenced)
    }

    /// Bytes the store takes on disk (objects and point files).
    pub fn store_bytes(&self) -> Result<u64, RestoreError> {
        let points_dir = self.config.state_dir.join("points");
        let mut total = self.objects.disk_bytes()?;
        for entry in fs::read_dir(&points_dir).ctx("list", &points_dir)? {
            total += entry.ctx("list", &points_dir)?.metadata().map(|m| m.len()).unwrap_or(0);
        }
        Ok(total)
    }

    /// Applies retention: at most `keep_count` points not marked keep, and
    /// at most `max_store_bytes` on disk. Automatic and pre-rollback points
    /// go before manual ones, oldest first. `protect` (the point just
    /// taken), the point `undo` needs and those an unfinished rollback
    /// needs are never removed.
    fn prune(&self, protect: &str) -> Result<(), RestoreError> {
        let _store = self.lock_store()?;
        let points = self.points.list()?;
        let undo_point = LastRollback::read(&self.last_path).ok().map(|l| l.pre_point);
        let pinned = self.pinned();
        let mut candidates: Vec<&PointSummary> = points
            .iter()
            .filter(|p| !p.keep && p.id != protect && Some(&p.id) != undo_point.as_ref())
            .filter(|p| !pinned.contains(&p.id))
            .collect();
        candidates.sort_by_key(|p| (p.kind == PointKind::Manual, p.seq));
        let mut unkept = points.iter().filter(|p| !p.keep).count();
        let mut pruned = Vec::new();
        let mut next = candidates.into_iter();
        while unkept > self.config.keep_count {
            let Some(p) = next.next() else { break };
            self.points.delete(&p.id)?;
            pruned.push(p.id.clone());
            unkept -= 1;
        }
        // Objects only go when a point does (orphans of a crashed create
        // wait for the next deletion, as `VerifyReport` says).
        if !pruned.is_empty() {
            self.collect_garbage()?;
        }
        while self.store_bytes()? > self.config.max_store_bytes {
            let Some(p) = next.next() else {
                warn!(
                    "restore store exceeds its size limit, but every remaining point is protected"
                );
                break;
            };
            self.points.delete(&p.id)?;
            self.collect_garbage()?;
            pruned.push(p.id.clone());
        }
        if !pruned.is_empty() {
            info!("retention removed restore points {}", pruned.join(", "));
        }
        Ok(())
    }
}

impl Backend for Engine {
    fn name(&self) -> &'static str {
        "files"
    }

    fn concurrent(&self) -> bool {
        true
    }

    fn pending(&self) -> Option<PendingRollback> {
        self.pending_rollback()
    }

    fn undo_point(&self) -> Option<String> {
        LastRollback::read(&self.last_path).ok().map(|l| l.pre_point)
    }

    /// Every point, oldest first.
    fn list(&self) -> Result<Vec<PointSummary>, RestoreError> {
        self.points.list()
    }

    fn show(&self, id: &str) -> Result<PointDetail, RestoreError> {
        Ok(PointDetail {
            summary: self.points.summary(id)?,
            entries: self.points.manifest(id)?.entries,
        })
    }

    /// Takes a point of the configured paths now.
    fn create(
        &self,
        label: Option<&str>,
        keep: bool,
        kind: PointKind,
    ) -> Result<PointSummary, RestoreError> {
        let (summary, _, _) = {
            let _tree = self.read_tree()?;
            self.record(label, keep, kind)?
        };
        self.prune(&summary.id)?;
        Ok(summary)
    }

    /// What rolling back to `id` would change now (a dry run).
    fn diff(&self, id: &str) -> Result<Diff, RestoreError> {
        let point = self.points.manifest(id)?;
        let _tree = self.read_tree()?;
        let anchors = Anchors::open(&self.roots);
        let mut live = scan(&self.selection, &anchors)?;
        hash_live(&mut live, &point.by_path(), &anchors)?;
        Ok(Diff::of(&compare(&point.entries, &comparable(&point, &live.entries))))
    }

    /// Rolls the configured paths back to point `id`, after taking a
    /// pre-rollback point that [`Engine::undo`] returns to. Refused while
    /// an earlier rollback is unfinished ([`Engine::pending`]).
    fn rollback(&self, id: &str) -> Result<RollbackReport, RestoreError> {
        let _tree = self.write_tree()?;
        self.rollback_locked(id)
    }

    /// Rolls back the last rollback: back to the point it took first.
    fn undo(&self) -> Result<RollbackReport, RestoreError> {
        let _tree = self.write_tree()?;
        self.refuse_if_pending()?;
        let last = LastRollback::read(&self.last_path)?;
        match self.points.summary(&last.pre_point) {
            Err(RestoreError::NoSuchPoint(id)) => Err(RestoreError::UndoPointGone(id)),
            Err(e) => Err(e),
            Ok(_) => self.rollback_locked(&last.pre_point),
        }
    }

    /// Deletes a point and whatever content only it referred to. The
    /// points an unfinished rollback needs cannot be deleted.
    fn delete(&self, id: &str) -> Result<(), RestoreError> {
        let _store = self.lock_store()?;
        if self.pinned().contains(id)
            && let Some(pending) = self.pending()
        {
            return Err(RestoreError::Pending(format!(
                "point {id} is needed to finish it: {pending}"
            )));
        }
        self.points.delete(id)?;
        self.collect_garbage()
    }

    /// Checks every point's manifest and every object's content.
    fn verify(&self) -> Result<VerifyReport, RestoreError> {
        let _store = self.lock_store()?;
        self.verify_locked()
    }
}

impl Engine {
    /// A rollback, the tree lock held.
    fn rollback_locked(&self, id: &str) -> Result<RollbackReport, RestoreError> {
        self.refuse_if_pending()?;
        let target = self.points.manifest(id)?;
        // Its content stays stored even if the point is deleted meanwhile.
        let holds = Holds::new(self);
        target.entries.iter().flat_map(Entry::objects).for_each(|h| holds.hold(h));
        let label = format!("before rollback to {id}");
        let (pre, live, scan) = self.record(Some(&label), false, PointKind::PreRollback)?;
        let journal = self.journal_for(id, &target, pre.id, &live.entries, &scan, false)?;
        space::ensure_rollback(&journal.ops, &Anchors::open(&self.roots))?;
        let report = self.run(journal)?;
        drop(holds);
        self.prune(&report.pre_rollback_point)?;
        Ok(report)
    }

    fn verify_locked(&self) -> Result<VerifyReport, RestoreError> {
        let mut report = VerifyReport::default();
        let mut referenced = HashSet::new();
        for point in self.points.list()? {
            report.points += 1;
            let manifest = match self.points.manifest(&point.id) {
                Ok(m) => m,
                Err(e) => {
                    report.problems.push(format!("point {}: {e}", point.id));
                    continue;
                }
            };
            for entry in manifest.entries {
                if entry.hash.is_some() {
                    // Each object is looked up once, however many points
                    // share it.
                    let mut missing = false;
                    for object in entry.objects() {
                        if !referenced.contains(object) {
                            missing |= !self.objects.has(object);
                            referenced.insert(object.clone());
                        }
                    }
                    if missing {
                        report.problems.push(format!(
                            "point {}: content of {} is missing",
                            point.id, entry.path
                        ));
                    }
                } else if entry.kind == EntryKind::File {
                    report.problems.push(format!(
                        "point {}: {} has no recorded content",
                        point.id, entry.path
                    ));
                }
            }
        }
        for hash in self.objects.list()? {
            report.blobs += 1;
            if !referenced.contains(&hash) {
                report.unreferenced += 1;
            }
            if let Err(problem) = self.objects.check(&hash) {
                report.problems.push(problem);
            }
        }
        Ok(report)
    }
}
