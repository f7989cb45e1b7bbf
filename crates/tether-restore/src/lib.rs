//! Restore points for Tether: record configured path sets, show what
//! changed since, and roll a machine back, crash-safe and undoable.
//!
//! This crate does no networking; the agent drives it on a blocking thread.
//!
//! # Layout
//! - `config`: which paths ([`StoreConfig`]), exclusions, retention.
//! - `scan`: walking the roots into [`Entry`]s.
//! - `store`: the content-addressed object store (BLAKE3 names, zstd).
//! - `points`: point files (a compressed manifest, then a summary).
//! - `plan`: comparing a point with the live tree ([`Diff`]).
//! - `rollback`: the journal and its idempotent operations.
//! - [`Engine`]: the operations, the lock, recovery and retention.
//! - [`Backend`]: the operations over any backend: the engine, [`Snapper`]
//!   (btrfs), and Windows System Restore (`cfg(windows)`, unverified).
//!
//! # On disk (under `state_dir`, mode 0700)
//! `lock`, `objects/ab/cdef…`, `points/<id>.manifest.zst` + `<id>.json`,
//! `journal.json` while a rollback runs, `last-rollback.json` for undo.
//!
//! # Guarantees
//! - A point is published only after every object it refers to is flushed.
//! - A rollback first records the live tree as a pre-rollback point, so
//!   nothing it replaces or moves aside is lost; `undo` returns to it.
//! - An interrupted rollback is reverted (not yet committed) or finished
//!   (committed) by [`Engine::open`]: the tree is never left half-way.
//! - Excluded paths, special files and names that are not UTF-8 are never
//!   recorded and never touched.
//!
//! Not recorded: extended attributes and ACLs, hard-link identity (each
//! link is restored as its own file), sparseness, symlink timestamps.

mod backend;
mod config;
mod dirfd;
mod engine;
mod error;
#[doc(hidden)]
pub mod failpoint;
mod fsutil;
mod manifest;
mod plan;
mod points;
mod rollback;
mod scan;
mod snapper;
mod store;
mod tree;
#[cfg(windows)]
mod windows;

pub use backend::{Backend, BackendConfig, open};
pub use config::{DEFAULT_KEEP_COUNT, DEFAULT_MAX_DEPTH, DEFAULT_MAX_STORE_BYTES, StoreConfig};
pub use engine::{Engine, PendingRollback, Recovery, RollbackReport, VerifyReport};
pub use error::RestoreError;
pub use manifest::{Entry, EntryKind, PointDetail, PointKind, PointSummary, Time};
pub use plan::Diff;
pub use rollback::Counts;
pub use snapper::Snapper;
