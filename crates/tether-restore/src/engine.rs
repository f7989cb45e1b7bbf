//! The engine: one store under a state directory, locked by one process.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::backend::Backend;
use crate::config::{Selection, StoreConfig};
use crate::error::{IoContext, RestoreError};
use crate::failpoint::hit;
use crate::fsutil;
use crate::manifest::{Entry, EntryKind, Manifest, PointDetail, PointKind, PointSummary};
use crate::plan::{Diff, compare};
use crate::points::{PointStore, new_id};
use crate::rollback::{self, Counts, Journal, Phase};
use crate::scan::{Scan, scan};
use crate::store::{ObjectStore, hash_file, random_name};

/// What a rollback (or undo) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackReport {
    pub point: String,
    /// Taken just before; `undo` returns to it.
    pub pre_rollback_point: String,
    pub counts: Counts,
    /// The paths it changed.
    pub changes: Diff,
}

/// What opening the store found and did about an interrupted rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The rollback had committed; it was finished.
    Completed(RollbackReport),
    /// It had not; the tree was never touched and the temporaries are gone.
    Reverted { point: String },
}

/// The store's integrity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub points: u64,
    pub blobs: u64,
    /// Objects no point refers to (harmless; removed at the next delete).
    pub unreferenced: u64,
    /// One line per problem; empty when the store is sound.
    pub problems: Vec<String>,
}

/// The last rollback, for `undo`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LastRollback {
    pub point: String,
    pub pre_point: String,
}

impl LastRollback {
    /// Reads the record; `NothingToUndo` if there is none.
    pub(crate) fn read(path: &Path) -> Result<LastRollback, RestoreError> {
        match fs::read(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(RestoreError::NothingToUndo),
            other => serde_json::from_slice(&other.ctx("read", path)?)
                .map_err(|e| RestoreError::Corrupt(format!("{}: {e}", path.display()))),
        }
    }

    pub(crate) fn write(&self, path: &Path) -> Result<(), RestoreError> {
        fsutil::write_atomic(path, &serde_json::to_vec(self).expect("always serialises"))
    }
}

/// A store of restore points. Operations take `&self` but the caller must
/// not run two at once (the agent serialises them); the lock file keeps
/// other processes out.
#[derive(Debug)]
pub struct Engine {
    selection: Selection,
    config: StoreConfig,
    objects: ObjectStore,
    points: PointStore,
    journal_path: PathBuf,
    last_path: PathBuf,
    _lock: File,
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Fills in the content hashes of live files: reused from `reference`
/// where stat data says the file is unchanged, read otherwise. A file that
/// vanished or cannot be read keeps no hash, so it compares as different.
fn hash_live(entries: &mut [Entry], reference: &HashMap<&str, &Entry>) {
    for entry in entries.iter_mut().filter(|e| e.kind == EntryKind::File) {
        if let Some(old) = reference.get(entry.path.as_str())
            && entry.unchanged_since(old)
        {
            entry.hash = old.hash.clone();
        } else if let Ok((hash, len)) = hash_file(entry.path.as_ref()) {
            entry.hash = Some(hash);
            entry.size = len;
        }
    }
}

impl Engine {
    /// Opens (creating if needed) the store, takes its lock, and finishes
    /// or reverts a rollback a crash interrupted.
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
        let engine = Engine {
            selection,
            objects: ObjectStore::open(dir.join("objects"))?,
            points: PointStore::open(dir.join("points"))?,
            journal_path: dir.join("journal.json"),
            last_path: dir.join("last-rollback.json"),
            config,
            _lock: lock,
        };
        let recovery = engine.recover()?;
        engine.objects.clean_tmp()?;
        let orphans = engine.points.clean_incomplete()?;
        if orphans > 0 {
            info!("removed {orphans} incomplete restore point files");
        }
        Ok((engine, recovery))
    }

    fn recover(&self) -> Result<Option<Recovery>, RestoreError> {
        let Some(journal) = rollback::read_journal(&self.journal_path)? else { return Ok(None) };
        match journal.phase {
            Phase::Preparing => {
                warn!(
                    "a rollback to {} was interrupted before it changed anything; reverting",
                    journal.target
                );
                rollback::remove_temporaries(&journal)?;
                fsutil::remove_file_if_present(&self.journal_path)?;
                Ok(Some(Recovery::Reverted { point: journal.target }))
            }
            Phase::Committing if journal.revert => {
                warn!(
                    "returning to {} after a failed rollback was interrupted; finishing it",
                    journal.target
                );
                self.finish(&journal)?;
                Ok(Some(Recovery::Reverted { point: journal.target }))
            }
            Phase::Committing => {
                warn!("a rollback to {} was interrupted; finishing it", journal.target);
                match self.finish(&journal) {
                    Ok(report) => Ok(Some(Recovery::Completed(report))),
                    Err(e) => {
                        warn!("cannot finish it ({e}); returning to {}", journal.pre_point);
                        rollback::remove_temporaries(&journal)?;
                        self.return_to_pre_point(&journal)?;
                        Ok(Some(Recovery::Reverted { point: journal.target }))
                    }
                }
            }
        }
    }

    /// Records a point; returns it with its entries and the scan's hidden
    /// directories.
    fn record(
        &self,
        label: Option<&str>,
        keep: bool,
        kind: PointKind,
    ) -> Result<(PointSummary, Manifest, HashSet<String>), RestoreError> {
        let Scan { mut entries, mut skipped, hidden_children } = scan(&self.selection)?;
        let latest = self.points.list()?.pop();
        let seq = latest.as_ref().map_or(1, |p| p.seq + 1);
        let previous = latest.and_then(|p| self.points.manifest(&p.id).ok());
        let reference: HashMap<&str, &Entry> =
            previous.as_ref().map(|m| m.by_path()).unwrap_or_default();
        let mut vanished = HashSet::new();
        for entry in entries.iter_mut().filter(|e| e.kind == EntryKind::File) {
            if let Some(old) = reference.get(entry.path.as_str())
                && entry.unchanged_since(old)
                && old.hash.as_deref().is_some_and(|h| self.objects.has(h))
            {
                entry.hash = old.hash.clone();
                continue;
            }
            match self.objects.put_file(entry.path.as_ref()) {
                Ok((hash, len)) => {
                    entry.hash = Some(hash);
                    entry.size = len;
                }
                Err(RestoreError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound =>
                {
                    vanished.insert(entry.path.clone());
                }
                Err(RestoreError::Io { source, path, .. })
                    if source.kind() == io::ErrorKind::PermissionDenied =>
                {
                    skipped.push(format!("{}: {source}", path.display()));
                    vanished.insert(entry.path.clone());
                }
                Err(e) => return Err(e),
            }
        }
        entries.retain(|e| !vanished.contains(&e.path));
        hit("create: objects stored")?;
        self.objects.sync()?;
        let files: Vec<&Entry> = entries.iter().filter(|e| e.kind == EntryKind::File).collect();
        let created_unix = now_unix();
        let summary = PointSummary {
            id: new_id(created_unix),
            seq,
            created_unix,
            label: label.map(str::to_owned),
            kind,
            keep,
            files: files.len() as u64,
            entries: entries.len() as u64,
            total_bytes: files.iter().map(|e| e.size).sum(),
            skipped,
        };
        let manifest = Manifest { entries };
        self.points.write(&summary, &manifest)?;
        hit("create: point published")?;
        Ok((summary, manifest, hidden_children))
    }

    /// Plans the way from `live` to `target` as a journal.
    fn journal_for(
        &self,
        target_id: &str,
        target: &[Entry],
        pre_point: String,
        live: &[Entry],
        hidden: &HashSet<String>,
        revert: bool,
    ) -> Result<Journal, RestoreError> {
        let changes = compare(target, live);
        let roots: Vec<String> = self
            .selection
            .roots
            .iter()
            .map(|r| r.to_str().expect("roots are UTF-8").to_owned())
            .collect();
        let (ops, counts) = rollback::plan(&changes, target, live, hidden, &roots)?;
        Ok(Journal {
            id: random_name(),
            target: target_id.to_owned(),
            pre_point,
            phase: Phase::Preparing,
            revert,
            roots,
            counts,
            changes: Diff::of(&changes),
            ops,
        })
    }

    /// Runs a journal. A failure before the commit leaves the tree
    /// untouched; a failure during it (a full disk, a refused write)
    /// returns the tree to the pre-rollback point, so the result is the
    /// whole old state or the whole new one here too.
    fn run(&self, mut journal: Journal) -> Result<RollbackReport, RestoreError> {
        let previous_undo = LastRollback::read(&self.last_path).ok();
        rollback::write_journal(&self.journal_path, &journal)?;
        let prepared = hit("journal written")
            .and_then(|()| rollback::prepare(&self.objects, &journal))
            .and_then(|()| hit("prepared"));
        if let Err(e) = prepared {
            // Nothing the user sees was touched: clean up and report.
            rollback::remove_temporaries(&journal)?;
            fsutil::remove_file_if_present(&self.journal_path)?;
            return Err(e);
        }
        journal.phase = Phase::Committing;
        rollback::write_journal(&self.journal_path, &journal)?;
        let failure = match hit("committing").and_then(|()| self.finish(&journal)) {
            Ok(report) => return Ok(report),
            Err(e) => e,
        };
        if journal.revert {
            return Err(failure); // The caller restores the original journal.
        }
        warn!(
            "rollback to {} failed ({failure}); returning to {}",
            journal.target, journal.pre_point
        );
        let returned = rollback::remove_temporaries(&journal)
            .and_then(|()| self.return_to_pre_point(&journal))
            // Undo goes where it went before this rollback.
            .and_then(|()| match &previous_undo {
                Some(last) => last.write(&self.last_path),
                None => fsutil::remove_file_if_present(&self.last_path),
            });
        match returned {
            Ok(()) => Err(RestoreError::Conflict(format!(
                "{failure}; nothing was changed: the tree was returned to the state before the rollback (point {})",
                journal.pre_point
            ))),
            Err(again) => {
                // Leave the rollback for the next start to finish.
                rollback::write_journal(&self.journal_path, &journal)?;
                Err(RestoreError::Conflict(format!(
                    "{failure}; returning to the state before the rollback failed too ({again}); \
                     the agent completes the rollback at its next start"
                )))
            }
        }
    }

    /// Brings the tree back to the point a failed rollback took first.
    fn return_to_pre_point(&self, failed: &Journal) -> Result<(), RestoreError> {
        let pre = self.points.manifest(&failed.pre_point)?;
        let Scan { mut entries, hidden_children, .. } = scan(&self.selection)?;
        hash_live(&mut entries, &pre.by_path());
        let journal = self.journal_for(
            &failed.pre_point,
            &pre.entries,
            failed.pre_point.clone(),
            &entries,
            &hidden_children,
            true,
        )?;
        self.run(journal).map(drop)
    }

    /// Runs (or re-runs) a committed rollback to its end.
    fn finish(&self, journal: &Journal) -> Result<RollbackReport, RestoreError> {
        rollback::commit(&self.objects, journal)?;
        hit("committed")?;
        if !journal.revert {
            let last = LastRollback {
                point: journal.target.clone(),
                pre_point: journal.pre_point.clone(),
            };
            last.write(&self.last_path)?;
            hit("undo recorded")?;
        }
        fs::remove_file(&self.journal_path).ctx("remove", &self.journal_path)?;
        fsutil::fsync_dir(&self.config.state_dir)?;
        Ok(RollbackReport {
            point: journal.target.clone(),
            pre_rollback_point: journal.pre_point.clone(),
            counts: journal.counts,
            changes: journal.changes.clone(),
        })
    }

    /// Removes objects no point refers to.
    fn collect_garbage(&self) -> Result<(), RestoreError> {
        let referenced = self.referenced()?;
        for hash in self.objects.list()? {
            if !referenced.contains(&hash) {
                self.objects.remove(&hash)?;
            }
        }
        Ok(())
    }

    fn referenced(&self) -> Result<HashSet<String>, RestoreError> {
        let mut referenced = HashSet::new();
        for point in self.points.list()? {
            for entry in self.points.manifest(&point.id)?.entries {
                if let Some(hash) = entry.hash {
                    referenced.insert(hash);
                }
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
    /// taken) and the point `undo` needs are never removed.
    fn prune(&self, protect: &str) -> Result<(), RestoreError> {
        let points = self.points.list()?;
        let undo_point = LastRollback::read(&self.last_path).ok().map(|l| l.pre_point);
        let mut candidates: Vec<&PointSummary> = points
            .iter()
            .filter(|p| !p.keep && p.id != protect && Some(&p.id) != undo_point.as_ref())
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
        let (summary, _, _) = self.record(label, keep, kind)?;
        self.prune(&summary.id)?;
        Ok(summary)
    }

    /// What rolling back to `id` would change now (a dry run).
    fn diff(&self, id: &str) -> Result<Diff, RestoreError> {
        let point = self.points.manifest(id)?;
        let Scan { mut entries, .. } = scan(&self.selection)?;
        hash_live(&mut entries, &point.by_path());
        Ok(Diff::of(&compare(&point.entries, &entries)))
    }

    /// Rolls the configured paths back to point `id`, after taking a
    /// pre-rollback point that [`Engine::undo`] returns to.
    fn rollback(&self, id: &str) -> Result<RollbackReport, RestoreError> {
        let target = self.points.manifest(id)?;
        let label = format!("before rollback to {id}");
        let (pre, live, hidden) = self.record(Some(&label), false, PointKind::PreRollback)?;
        let journal =
            self.journal_for(id, &target.entries, pre.id, &live.entries, &hidden, false)?;
        let report = self.run(journal)?;
        self.prune(&report.pre_rollback_point)?;
        Ok(report)
    }

    /// Rolls back the last rollback: back to the point it took first.
    fn undo(&self) -> Result<RollbackReport, RestoreError> {
        let last = LastRollback::read(&self.last_path)?;
        match self.points.summary(&last.pre_point) {
            Err(RestoreError::NoSuchPoint(id)) => Err(RestoreError::UndoPointGone(id)),
            Err(e) => Err(e),
            Ok(_) => self.rollback(&last.pre_point),
        }
    }

    /// Deletes a point and whatever content only it referred to.
    fn delete(&self, id: &str) -> Result<(), RestoreError> {
        self.points.delete(id)?;
        self.collect_garbage()
    }

    /// Checks every point's manifest and every object's content.
    fn verify(&self) -> Result<VerifyReport, RestoreError> {
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
                if let Some(hash) = entry.hash {
                    // Each content is looked up once, however many points
                    // share it.
                    if !referenced.contains(&hash) && !self.objects.has(&hash) {
                        report.problems.push(format!(
                            "point {}: content of {} is missing",
                            point.id, entry.path
                        ));
                    }
                    referenced.insert(hash);
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
