//! What the operations report: rollback and verify results, recovery at
//! open, and the record `undo` reads. Plain data at the bottom of the
//! crate, shared by every backend.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, RestoreError};
use crate::fsutil;
use crate::plan::Diff;

/// What a rollback (or undo) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackReport {
    pub point: String,
    /// Taken just before; `undo` returns to it.
    pub pre_rollback_point: String,
    pub counts: Counts,
    /// The paths it changed.
    pub changes: Diff,
    /// Paths of the point it left alone (a special file is there now, or
    /// the scan could not look there), one line each with the reason.
    pub skipped: Vec<String>,
}

/// What opening the store found and did about an interrupted rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The rollback had committed; it was finished.
    Completed(RollbackReport),
    /// The tree is as before the rollback to `point`: it was interrupted
    /// before it changed anything, or what it changed was returned.
    Reverted { point: String },
    /// It could be neither finished nor returned (an immutable file, a
    /// full disk): the tree may be half-way. The store works otherwise;
    /// rollbacks are refused until a later start finishes it.
    Unfinished(PendingRollback),
}

/// A rollback the engine could not finish: see [`Engine::pending`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRollback {
    /// The point the rollback went to.
    pub point: String,
    /// The point taken before it, which the tree is being returned to.
    pub pre_rollback_point: String,
    /// True once returning to `pre_rollback_point` has begun.
    pub returning: bool,
    /// The paths the unfinished operations act on.
    pub paths: Vec<String>,
    /// Why the last attempt stopped, if one was made in this process.
    pub error: Option<String>,
}

impl std::fmt::Display for PendingRollback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.returning { "returning from the rollback" } else { "the rollback" };
        write!(f, "{what} to {} is unfinished", self.point)?;
        if let Some(error) = &self.error {
            write!(f, " ({error})")?;
        }
        let shown: Vec<&str> = self.paths.iter().take(8).map(String::as_str).collect();
        write!(f, "; paths in question: {}", shown.join(", "))?;
        if self.paths.len() > shown.len() {
            write!(f, " and {} more", self.paths.len() - shown.len())?;
        }
        Ok(())
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// How many entries a rollback changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Entries put back as in the point (content, kind or metadata).
    pub restored: u64,
    /// Entries added since the point, removed from the tree (their content
    /// stays in the pre-rollback point).
    pub moved_aside: u64,
    /// Directories added since the point that stay because they hold
    /// excluded or unreadable entries.
    pub kept: u64,
    pub unchanged: u64,
    /// Entries of the point left alone because a special file (FIFO,
    /// socket, device) is there now or above them, or the scan could not
    /// see there (see the report's `skipped`).
    #[serde(default)]
    pub skipped: u64,
}
