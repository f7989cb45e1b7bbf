//! One interface over the ways a machine can keep restore points: the
//! built-in file-set [`crate::Engine`] (default, everywhere), snapper on btrfs,
//! and Windows System Restore.

use std::path::PathBuf;

use crate::config::StoreConfig;
use crate::error::RestoreError;
use crate::manifest::{PointDetail, PointKind, PointSummary};
use crate::plan::Diff;
use crate::report::{PendingRollback, RollbackReport, VerifyReport};

/// The operations technicians run, whatever keeps the points.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// "files", "snapper" or "windows".
    fn name(&self) -> &'static str;
    /// True if operations may run at once: the backend locks what it must
    /// itself, and reports its steps to [`crate::watch`]. Otherwise the
    /// caller runs one operation at a time.
    fn concurrent(&self) -> bool {
        false
    }
    fn list(&self) -> Result<Vec<PointSummary>, RestoreError>;
    fn show(&self, id: &str) -> Result<PointDetail, RestoreError>;
    fn diff(&self, id: &str) -> Result<Diff, RestoreError>;
    fn create(
        &self,
        label: Option<&str>,
        keep: bool,
        kind: PointKind,
    ) -> Result<PointSummary, RestoreError>;
    fn rollback(&self, id: &str) -> Result<RollbackReport, RestoreError>;
    fn undo(&self) -> Result<RollbackReport, RestoreError>;
    fn delete(&self, id: &str) -> Result<(), RestoreError>;
    fn verify(&self) -> Result<VerifyReport, RestoreError>;
    /// A rollback that could be neither finished nor returned from, for
    /// `restore list` and `check-config` to show (only the file-set engine
    /// journals its rollbacks).
    fn pending(&self) -> Option<PendingRollback> {
        None
    }
    /// The point that holds what the last rollback replaced, which `undo`
    /// returns to; deleting it makes that rollback final.
    fn undo_point(&self) -> Option<String> {
        None
    }
}

/// Which backend the agent's `[restore]` table asks for.
#[derive(Debug, Clone)]
pub enum BackendConfig {
    /// The built-in content-addressed store.
    Files(StoreConfig),
    /// snapper, with one of its configs (`snapper -c NAME`); `state_dir`
    /// keeps what `undo` needs.
    Snapper { program: PathBuf, config: String, state_dir: PathBuf },
    /// Windows System Restore (unverified: written for Windows, never
    /// built or run on this project's Linux machines).
    #[cfg(windows)]
    Windows { state_dir: PathBuf },
}
