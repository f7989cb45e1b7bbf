//! Restore points for Tether: record configured path sets, show what
//! changed since, and roll a machine back, crash-safe and undoable.
//!
//! This crate does no networking; the agent drives it on a blocking thread.
//!
//! # Layout
//! - `config`: which paths ([`StoreConfig`]), exclusions, protected paths,
//!   depth limit, retention.
//! - `dirfd`: directory descriptors (Unix) and handles (Windows), the
//!   only `unsafe` (calls that never follow a symlink nor, below a root,
//!   cross a mount point); `tree`: a path under a root resolved to its
//!   directory and one name, safely.
//! - `scan`: walking the roots into [`Entry`]s (iterative, depth-limited).
//! - `xattrs`: extended attributes and ACLs ([`Xattrs`]), bounded.
//! - `space`: the space a point or a rollback needs, checked first.
//! - `store`: the content-addressed object store (BLAKE3 names, zstd;
//!   files of 1 MiB or more as content-defined chunks).
//! - `points`: point files (a compressed manifest, then a summary).
//! - `plan`: comparing a point with the live tree ([`Diff`]).
//! - `rollback`: the journal and its plan of idempotent operations;
//!   `rollback/run`: preparing and committing them.
//! - [`Engine`]: the operations, the lock, recovery and retention;
//!   `engine/journaled`: running journals and recovering them.
//! - [`watch`]: each running operation's steps, so a caller can tell a
//!   stalled read from a slow one and stop waiting.
//! - [`Backend`]: the operations over any backend: the engine, [`Snapper`]
//!   (btrfs), and Windows System Restore (`cfg(windows)`, unverified).
//!
//! # On disk (under `state_dir`, mode 0700)
//! `lock`, `objects/ab/cdef…`, `points/<id>.manifest.zst` + `<id>.json`,
//! `journal.json` while a rollback runs, `revert.json` while a failed one
//! is being returned from, `last-rollback.json` for undo.
//!
//! # Guarantees
//! - A point is published only after every object it refers to is flushed.
//! - A rollback first records the live tree as a pre-rollback point, so
//!   nothing it replaces or moves aside is lost; `undo` returns to it.
//! - A rollback, its return after a failure, and the recovery of either
//!   at [`Engine::open`] leave the tree wholly old or wholly new, even
//!   with a crash or an error at any step of each (tested exhaustively).
//!   What cannot be finished yet (a full disk, an immutable file) stays
//!   journaled and is reported ([`Recovery::Unfinished`],
//!   [`Engine::pending`]); rollbacks are refused until it is finished,
//!   and the rest of the store keeps working.
//! - A local user who can write inside the paths cannot make the engine
//!   write, remove, chmod, chown or read anything outside them: nothing is
//!   opened through a symlink, metadata is set on open descriptors,
//!   temporaries are created `O_EXCL | O_NOFOLLOW`, and files are read
//!   only if still the regular file the scan saw (`O_NONBLOCK`, so a FIFO
//!   never blocks).
//! - Excluded and protected paths (the state directory, the agent's audit
//!   log), special files, mount points below a root (another filesystem
//!   mounted there: never crossed, so never read or written into) and
//!   what lies beneath them, names that are not
//!   UTF-8 and what lies deeper than `max_depth` are never recorded and
//!   never touched; they are listed in the point's (or rollback's)
//!   `skipped`.
//!
//! - Extended attributes of every namespace root reads (`security.capability`
//!   included) and POSIX ACLs (access and default, which are the
//!   `system.posix_acl_*` attributes) of files and directories are
//!   recorded and restored exactly, on descriptors, after owner and mode
//!   (`xattrs`); sizes are bounded, and what is over a bound is reported
//!   in `skipped` and left as it is.
//!
//! - Hard-link groups within the roots are recorded (`Entry::links_to`)
//!   and come back as links of each other (`linkat` on descriptors);
//!   files that were separate come back separate.
//! - Sparse files (fewer blocks allocated than their length) come back
//!   sparse: aligned zero blocks are skipped with a seek, not written.
//!
//! - Before a point or a rollback writes anything, its (upper-bound)
//!   space need is checked against the filesystem's free space, and
//!   refused ([`RestoreError::NoSpace`]) if it does not fit.
//!
//! Not recorded: symlinks' extended attributes, symlink timestamps.
//!
//! # `unsafe`
//! Only `dirfd` may use it (every block with its `SAFETY:` reason); the
//! crate denies it everywhere else, and the modules that only plan
//! (`config`, `manifest`, `plan`, `rollback`) forbid it outright.
//! Unix's filesystem-wide flush (`syncfs`) and random names come from
//! `tether-os`; Windows' volume flush is in `dirfd`.
//!
//! # Windows
//! The file-set engine and the System Restore backend build there;
//! snapper is `cfg(unix)`. The engine keeps the guarantees above through
//! `dirfd`'s Windows handles (names opened relative to their directory's
//! handle with `FILE_OPEN_REPARSE_POINT`, a different volume serial number
//! being "another filesystem"), with this metadata model and these limits:
//! - `mode` is the read-only, hidden and system attributes; `mtime` the
//!   last write time. Owners, NTFS ACLs (a restored file gets the ACL its
//!   directory gives it), alternate data streams, NTFS extended
//!   attributes and the archive bit are neither recorded nor restored.
//! - Every reparse point (symlinks, junctions, volume mount points) is a
//!   special file: never recorded, followed, read or replaced, and listed
//!   in `skipped`; a root's path must not pass through one.
//! - Sparse files come back dense; hard-link groups come back as links.
//! - Flushing is `FlushFileBuffers` on the volume (administrator rights);
//!   a volume that refuses it is logged once and not flushed.
//! - Paths are named with `/` between components (`C:/ProgramData/app`).

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod backend;
mod config;
#[allow(unsafe_code)]
mod dirfd;
mod engine;
mod error;
#[doc(hidden)]
pub mod failpoint;
mod fsutil;
mod manifest;
mod plan;
mod points;
mod report;
mod rollback;
mod scan;
#[cfg(unix)]
mod snapper;
mod space;
mod store;
mod tree;
pub mod watch;
#[cfg(windows)]
mod windows;
mod xattrs;

pub use backend::{Backend, BackendConfig};
pub use config::{DEFAULT_KEEP_COUNT, DEFAULT_MAX_DEPTH, DEFAULT_MAX_STORE_BYTES, StoreConfig};
pub use engine::Engine;
pub use error::RestoreError;
pub use manifest::{Entry, EntryKind, PointDetail, PointKind, PointSummary, Time, Xattr, Xattrs};
pub use plan::Diff;
pub use report::{Counts, PendingRollback, Recovery, RollbackReport, VerifyReport};
#[cfg(unix)]
pub use snapper::Snapper;

/// Opens the configured backend. Only the file-set engine has a journal to
/// recover from. Snapper (btrfs) is Unix-only; System Restore is
/// Windows-only.
pub fn open(config: BackendConfig) -> Result<(Box<dyn Backend>, Option<Recovery>), RestoreError> {
    match config {
        #[cfg(not(unix))]
        BackendConfig::Snapper { .. } => Err(RestoreError::Config(
            "snapper is not supported on Windows; use backend = \"files\" or \"windows\" \
             (System Restore)"
                .into(),
        )),
        BackendConfig::Files(store) => {
            let (engine, recovery) = Engine::open(store)?;
            Ok((Box::new(engine), recovery))
        }
        #[cfg(unix)]
        BackendConfig::Snapper { program, config, state_dir } => {
            Ok((Box::new(Snapper::open(program, config, state_dir)?), None))
        }
        #[cfg(windows)]
        BackendConfig::Windows { state_dir } => {
            Ok((Box::new(crate::windows::SystemRestore::open(state_dir)?), None))
        }
    }
}
