//! The engine's one error type.

use std::io;
use std::path::{Path, PathBuf};

/// What went wrong in a restore operation. Messages are written for the
/// technician who will read them on the other end of the connection.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no restore point {0:?} (list them with `restore list`)")]
    NoSuchPoint(String),
    #[error("there is no rollback to undo")]
    NothingToUndo,
    #[error(
        "the point the last rollback took ({0}) is gone, so it cannot be undone; roll back to another point instead"
    )]
    UndoPointGone(String),
    #[error("the restore store {} is in use by another process", .0.display())]
    Locked(PathBuf),
    #[error("restore configuration: {0}")]
    Config(String),
    #[error("restore store is damaged: {0} (run `restore verify`)")]
    Corrupt(String),
    #[error("cannot roll back: {0}")]
    Conflict(String),
    /// A rollback is unfinished (it could be neither finished nor
    /// returned from); nothing else may roll back until it is.
    #[error(
        "{0}. Fix what stopped it (an immutable file: `chattr -i`; a full disk: free space), then restart the agent, which finishes it; rollbacks are refused until then"
    )]
    Pending(String),
    /// The OS mechanism behind the points (snapper, System Restore) failed.
    #[error("{0}")]
    Backend(String),
    /// Windows creates at most one restore point per 24 hours by default.
    #[error("{0}")]
    Throttled(String),
    /// The filesystem cannot hold what the operation would write.
    #[error(
        "not enough space for {what}: it needs about {needed} on the filesystem of {}, which has {available} free; free some space (or exclude large paths from the restore points) and try again",
        path.display()
    )]
    NoSpace { what: &'static str, path: PathBuf, needed: String, available: String },
    /// The request would lose something the user may still need (the
    /// undo point); the message says how to insist.
    #[error("{0}")]
    Refused(String),
    /// Whoever waited for the operation gave up on it (see
    /// [`crate::watch`]) before it changed anything.
    #[error("the operation was abandoned before it changed anything")]
    Abandoned,
}

impl RestoreError {
    /// True when the request named something that does not exist, as
    /// opposed to the store failing.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RestoreError::NoSuchPoint(_) | RestoreError::NothingToUndo | RestoreError::Refused(_)
        )
    }
}

/// Attaches an action and a path to an I/O error.
pub(crate) trait IoContext<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, RestoreError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, RestoreError> {
        self.map_err(|source| RestoreError::Io { action, path: path.to_owned(), source })
    }
}
