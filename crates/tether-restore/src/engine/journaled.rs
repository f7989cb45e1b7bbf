//! Running journals: a rollback, the return from a failed one, and the
//! recovery of either when the store opens.
//!
//! Two journals, never one overwriting the other:
//! - `journal.json`, the rollback (phase `preparing`, then `committing`);
//! - `revert.json`, returning the tree to the pre-rollback point after the
//!   rollback's commit failed. It is written only while `journal.json`
//!   says `committing`, and `journal.json` is removed only once the revert
//!   has committed, then `revert.json`.
//!
//! So at any instant the two files say exactly what to do next:
//!
//! | journal.json | revert.json | the tree is            | recovery            |
//! |--------------|-------------|------------------------|---------------------|
//! | -            | -           | old or new             | nothing             |
//! | preparing    | -           | old (temporaries only) | remove temporaries  |
//! | committing   | -           | anywhere on the way    | finish; else revert |
//! | committing   | preparing   | half-way, untouched by the revert | drop the revert, then as above |
//! | committing   | committing  | anywhere on the way back | finish the revert |
//! | -            | committing  | old (revert done)      | finish the revert (idempotent) |
//!
//! Every step of each path calls [`hit`], so tests inject a crash or an
//! error at every step of the rollback, of its revert and of recovery.

use super::*;

impl Engine {
    /// The rollback left unfinished, if any: it could be neither finished
    /// nor returned from (see [`Recovery::Unfinished`]). Rollbacks and
    /// undo are refused while there is one; the next [`Engine::open`]
    /// (the agent's next start) tries again.
    pub fn pending(&self) -> Option<PendingRollback> {
        self.pending_rollback()
    }

    pub(super) fn pending_rollback(&self) -> Option<PendingRollback> {
        let error = self.last_error.lock().map(|e| e.clone()).unwrap_or(None);
        let (rollback, revert) = match self.journals() {
            Ok(journals) => journals,
            Err(e) => {
                // An unreadable journal is still a pending rollback.
                return Some(PendingRollback {
                    point: "(unknown)".into(),
                    pre_rollback_point: "(unknown)".into(),
                    returning: false,
                    paths: Vec::new(),
                    error: Some(e.to_string()),
                });
            }
        };
        let returning = revert.as_ref().is_some_and(|v| v.phase == Phase::Committing);
        let (point, pre, ops_of) = match (&rollback, &revert) {
            (Some(r), _) => {
                (r.target.clone(), r.pre_point.clone(), if returning { &revert } else { &rollback })
            }
            (None, Some(v)) => (v.reverting.clone().unwrap_or_default(), v.target.clone(), &revert),
            (None, None) => return None,
        };
        let paths = ops_of.as_ref().map(|j| j.ops.iter().map(|op| op.path().to_owned()).collect());
        Some(PendingRollback {
            point,
            pre_rollback_point: pre,
            returning,
            paths: paths.unwrap_or_default(),
            error,
        })
    }

    /// Tries again to finish (or return from) the pending rollback, as the
    /// next open would. `None` if there was nothing to do.
    pub fn resume(&self) -> Option<Recovery> {
        // A thread waiting here was abandoned only if a stalled operation
        // held the lock; the next resume or start tries again.
        let _tree = self.write_tree().ok()?;
        self.recover()
    }

    fn journals(&self) -> Result<(Option<Journal>, Option<Journal>), RestoreError> {
        Ok((
            rollback::read_journal(&self.journal_path)?,
            rollback::read_journal(&self.revert_path)?,
        ))
    }

    pub(super) fn refuse_if_pending(&self) -> Result<(), RestoreError> {
        match self.pending() {
            None => Ok(()),
            Some(pending) => Err(RestoreError::Pending(pending.to_string())),
        }
    }

    /// The points the journals on disk need.
    pub(super) fn pinned(&self) -> HashSet<String> {
        let (rollback, revert) = self.journals().unwrap_or((None, None));
        rollback.into_iter().chain(revert).flat_map(|j| [j.target, j.pre_point]).collect()
    }

    /// Finishes or reverts whatever a crash (or a failure) left. Never an
    /// error: what cannot be done is reported as `Unfinished`.
    pub(super) fn recover(&self) -> Option<Recovery> {
        watch::must_finish();
        let outcome = self.try_recover();
        let error = outcome.as_ref().err().map(|e| e.to_string());
        if let Ok(mut last) = self.last_error.lock() {
            last.clone_from(&error);
        }
        match outcome {
            Ok(recovery) => recovery,
            Err(e) => {
                warn!("cannot finish the interrupted rollback: {e}");
                self.pending().map(Recovery::Unfinished)
            }
        }
    }

    fn try_recover(&self) -> Result<Option<Recovery>, RestoreError> {
        let (rollback, revert) = self.journals()?;
        if let Some(revert) = revert {
            if revert.phase == Phase::Committing {
                let point = rollback
                    .as_ref()
                    .map(|r| r.target.clone())
                    .or_else(|| revert.reverting.clone())
                    .unwrap_or_else(|| revert.target.clone());
                warn!("returning from the rollback to {point} was interrupted; finishing it");
                self.finish_revert(&revert, rollback.as_ref())?;
                return Ok(Some(Recovery::Reverted { point }));
            }
            // Still preparing: the revert touched nothing yet.
            self.abandon(&revert, &self.revert_path)?;
        }
        let Some(rollback) = rollback else { return Ok(None) };
        match rollback.phase {
            Phase::Preparing => {
                warn!(
                    "a rollback to {} was interrupted before it changed anything; reverting",
                    rollback.target
                );
                self.abandon(&rollback, &self.journal_path)?;
                Ok(Some(Recovery::Reverted { point: rollback.target }))
            }
            Phase::Committing => {
                warn!("a rollback to {} was interrupted; finishing it", rollback.target);
                match self.finish_forward(&rollback) {
                    Ok(report) => Ok(Some(Recovery::Completed(report))),
                    Err(e) => {
                        warn!("cannot finish it ({e}); returning to {}", rollback.pre_point);
                        self.return_to_pre_point(&rollback)?;
                        Ok(Some(Recovery::Reverted { point: rollback.target }))
                    }
                }
            }
        }
    }

    /// Writes `journal` at `path`, prepares its temporaries next to their
    /// targets and marks it committing, with a failpoint after the first
    /// two steps (`steps` names them). On failure nothing the user sees was
    /// touched: the journal and its temporaries are dropped and the error
    /// returned.
    fn prepare_journal(
        &self,
        journal: &mut Journal,
        path: &Path,
        steps: [&str; 2],
        what: &str,
    ) -> Result<(), RestoreError> {
        let prepared = rollback::write_journal(path, journal)
            .and_then(|()| hit(steps[0]))
            .and_then(|()| rollback::prepare(&self.objects, journal))
            .and_then(|()| hit(steps[1]))
            .and_then(|()| {
                journal.phase = Phase::Committing;
                rollback::write_journal(path, journal)
            });
        if let Err(e) = prepared {
            if let Err(again) = self.abandon(journal, path) {
                warn!("cannot remove the {what} journal: {again}");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Drops a journal that never committed: its temporaries, then the
    /// journal itself. Temporaries that cannot be removed are logged and
    /// left (scans ignore them); only failing to remove the journal is an
    /// error.
    fn abandon(&self, journal: &Journal, path: &Path) -> Result<(), RestoreError> {
        for left in rollback::remove_temporaries(journal) {
            warn!("left behind: {left}");
        }
        fsutil::remove_file_if_present(path)?;
        fsutil::fsync_dir(&self.config.state_dir)
    }

    /// Runs a new rollback's journal. A failure before the commit leaves
    /// the tree untouched; a failure during it returns the tree to the
    /// pre-rollback point, so the result is the whole old state or the
    /// whole new one here too. If even that fails, the rollback stays
    /// pending (both journals kept) for the next start.
    pub(super) fn run(&self, mut journal: Journal) -> Result<RollbackReport, RestoreError> {
        journal.previous_undo = LastRollback::read(&self.last_path).ok();
        // (If the journal cannot be removed after a failure here, the next
        // open reverts it.)
        let steps = ["journal written", "prepared"];
        self.prepare_journal(&mut journal, &self.journal_path, steps, "rollback")?;
        watch::must_finish();
        let failure = match hit("committing").and_then(|()| self.finish_forward(&journal)) {
            Ok(report) => return Ok(report),
            Err(e) => e,
        };
        warn!(
            "rollback to {} failed ({failure}); returning to {}",
            journal.target, journal.pre_point
        );
        match self.return_to_pre_point(&journal) {
            Ok(()) => Err(RestoreError::Conflict(format!(
                "{failure}; nothing was changed: the tree was returned to the state before the rollback (point {})",
                journal.pre_point
            ))),
            Err(again) => {
                let error = format!("{failure}; returning failed too: {again}");
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(error.clone());
                }
                let pending = self.pending().map(|p| p.to_string()).unwrap_or(error);
                Err(RestoreError::Pending(pending))
            }
        }
    }

    /// Runs (or re-runs) a committed rollback to its end.
    fn finish_forward(&self, journal: &Journal) -> Result<RollbackReport, RestoreError> {
        rollback::commit(&self.objects, journal)?;
        hit("committed")?;
        let last =
            LastRollback { point: journal.target.clone(), pre_point: journal.pre_point.clone() };
        last.write(&self.last_path)?;
        hit("undo recorded")?;
        fsutil::remove_file_if_present(&self.journal_path)?;
        fsutil::fsync_dir(&self.config.state_dir)?;
        Ok(RollbackReport {
            point: journal.target.clone(),
            pre_rollback_point: journal.pre_point.clone(),
            counts: journal.counts,
            changes: journal.changes.clone(),
            skipped: journal.skipped.clone(),
        })
    }

    /// Brings the tree back to the point the failed rollback `failed` took
    /// first, with its own journal (`revert.json`): planned afresh from
    /// the live tree, or, if one already committed, finished.
    fn return_to_pre_point(&self, failed: &Journal) -> Result<(), RestoreError> {
        for left in rollback::remove_temporaries(failed) {
            warn!("left behind: {left}");
        }
        let revert = match rollback::read_journal(&self.revert_path)? {
            Some(revert) if revert.phase == Phase::Committing => revert,
            stale => {
                if let Some(stale) = stale {
                    self.abandon(&stale, &self.revert_path)?;
                }
                self.prepare_revert(failed)?
            }
        };
        hit("revert: committing")?;
        self.finish_revert(&revert, Some(failed))
    }

    /// Plans, journals and prepares the return to `failed.pre_point`.
    fn prepare_revert(&self, failed: &Journal) -> Result<Journal, RestoreError> {
        let pre = self.points.manifest(&failed.pre_point)?;
        let anchors = Anchors::open(&self.roots);
        let mut live = scan(&self.selection, &anchors)?;
        hash_live(&mut live, &pre.by_path(), &anchors)?;
        let entries = std::mem::take(&mut live.entries);
        let mut revert = self.journal_for(
            &failed.pre_point,
            &pre,
            failed.pre_point.clone(),
            &entries,
            &live,
            true,
        )?;
        revert.reverting = Some(failed.target.clone());
        revert.previous_undo = failed.previous_undo.clone();
        // On failure the revert touched nothing; the rollback stays
        // committing.
        let steps = ["revert: journal written", "revert: prepared"];
        self.prepare_journal(&mut revert, &self.revert_path, steps, "revert")?;
        Ok(revert)
    }

    /// Runs (or re-runs) a committed revert to its end, then removes both
    /// journals: the rollback's first, so that a crash in between leaves
    /// only the revert's, which is finished again (a no-op) next time.
    fn finish_revert(
        &self,
        revert: &Journal,
        failed: Option<&Journal>,
    ) -> Result<(), RestoreError> {
        rollback::commit(&self.objects, revert)?;
        hit("revert: committed")?;
        // Undo goes where it went before the failed rollback.
        match &revert.previous_undo {
            Some(last) => last.write(&self.last_path)?,
            None => fsutil::remove_file_if_present(&self.last_path)?,
        }
        hit("revert: undo restored")?;
        if let Some(failed) = failed {
            for left in rollback::remove_temporaries(failed) {
                warn!("left behind: {left}");
            }
        }
        fsutil::remove_file_if_present(&self.journal_path)?;
        fsutil::fsync_dir(&self.config.state_dir)?;
        hit("revert: rollback journal removed")?;
        fsutil::remove_file_if_present(&self.revert_path)?;
        fsutil::fsync_dir(&self.config.state_dir)
    }
}
