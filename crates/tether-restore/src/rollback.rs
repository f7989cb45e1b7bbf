//! The journaled rollback: a plan of idempotent operations, a prepare
//! phase that touches nothing the user sees, and a commit phase that can
//! always be finished.
//!
//! 1. **Plan** ([`plan`]): from the differences between the target point
//!    and the live tree (just recorded as the pre-rollback point), a list
//!    of operations in a safe order: removals deepest first, new
//!    directories shallowest first, files and symlinks, metadata, and
//!    directory metadata last (deepest first, since placing entries
//!    changes a directory's mtime).
//! 2. **Prepare**: the journal is written (phase `preparing`), then every
//!    replaced file is written to a temporary next to its target (same
//!    directory, so same filesystem) with its final owner, mode and mtime;
//!    everything is flushed. A crash here is *reverted* on the next open:
//!    the temporaries are removed and the tree was never touched.
//! 3. **Commit**: the journal flips to `committing` (one atomic rename),
//!    then the operations run. Each is idempotent (a rename whose
//!    temporary is gone is done; a file already equal to the point's is
//!    left alone), so a crash here is *finished* on the next open by
//!    running them all again, re-materialising from the store whatever a
//!    temporary no longer holds.
//!
//! Either way the tree ends as wholly the old state or wholly the new one.
//! Added files are never deleted before the pre-rollback point holds their
//! content: that point is taken before planning.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{IoContext, RestoreError};
use crate::fsutil;
use crate::manifest::{Entry, EntryKind};
use crate::plan::{Changes, Diff};
use crate::report::{Counts, LastRollback};
use crate::scan::TEMP_PREFIX;
mod run;

pub(crate) use run::{commit, prepare, remove_temporaries};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Phase {
    Preparing,
    Committing,
}

/// One idempotent step of a rollback.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum Op {
    /// Remove what is at `path` if it is still of `kind` (a directory only
    /// if empty).
    Remove {
        path: String,
        kind: EntryKind,
        /// Device and inode the scan saw: a file or symlink that is another
        /// one now (replaced since) is not removed.
        #[serde(default)]
        dev_ino: Option<(u64, u64)>,
    },
    /// Create a directory (metadata comes with the directory pass).
    MakeDir {
        path: String,
    },
    /// Put a file's content and metadata in place; `prepared` says a
    /// temporary was written in the prepare phase.
    PlaceFile {
        entry: Entry,
        prepared: bool,
        /// The live file was a hard link of another one within the roots
        /// and must become its own file: an equal file there still is
        /// replaced while it has other links.
        #[serde(default)]
        separate: bool,
    },
    /// Make `entry.path` a hard link of `entry.links_to` (placed before).
    Link {
        entry: Entry,
    },
    PlaceSymlink {
        entry: Entry,
    },
    SetMetadata {
        entry: Entry,
        /// For a file: device and inode the scan saw. Metadata goes only
        /// to that file, never to another one swapped in (a hard link to
        /// a file outside the roots, where hard links are not protected).
        #[serde(default)]
        dev_ino: Option<(u64, u64)>,
    },
}

/// The journal: everything recovery needs, written before the tree is
/// touched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Journal {
    /// Names this rollback's temporaries.
    pub id: String,
    /// The point being rolled back to.
    pub target: String,
    /// The point taken just before (what `undo` returns to).
    pub pre_point: String,
    pub phase: Phase,
    /// Undoing a failed rollback (back to `pre_point`): no undo record.
    #[serde(default)]
    pub revert: bool,
    /// For a revert: the point the failed rollback went to.
    #[serde(default)]
    pub reverting: Option<String>,
    /// What `last-rollback.json` held before this rollback, put back if
    /// it is reverted.
    #[serde(default)]
    pub previous_undo: Option<LastRollback>,
    /// Device and inode of each prepared temporary, by operation index:
    /// the commit renames a temporary into place only if it is still the
    /// file the prepare phase wrote.
    #[serde(default)]
    pub temps: BTreeMap<usize, (u64, u64)>,
    /// Paths of the point left alone, one line each with the reason.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// The configured roots, flushed after each phase.
    pub roots: Vec<String>,
    pub counts: Counts,
    /// What the rollback changes, for the report.
    pub changes: Diff,
    pub ops: Vec<Op>,
}

fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p).filter(|p| !p.is_empty())
}

/// The name of operation `index`'s temporary, in its target's directory.
pub(crate) fn temp_name(journal_id: &str, index: usize) -> OsString {
    OsString::from(format!("{TEMP_PREFIX}{journal_id}-{index}"))
}

/// Orders the changes into operations. `point` and `live` are the two
/// sorted entry lists `changes` came from; `hidden` names live directories
/// holding entries the scan left out, which are never removed; `roots` are
/// the configured roots.
pub(crate) fn plan(
    changes: &Changes<'_>,
    point: &[Entry],
    live: &[Entry],
    hidden: &HashSet<String>,
    roots: &[String],
) -> Result<(Vec<Op>, Counts), RestoreError> {
    let live_kind: HashMap<&str, EntryKind> =
        live.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    let added_dirs: HashSet<&str> = changes
        .added
        .iter()
        .filter(|e| e.kind == EntryKind::Dir)
        .map(|e| e.path.as_str())
        .collect();
    // Live directories that must stay: hidden content, and every added
    // ancestor of such a directory.
    let mut kept: HashSet<&str> = HashSet::new();
    for dir in hidden.iter().map(String::as_str) {
        let mut at = Some(dir);
        while let Some(p) = at {
            if added_dirs.contains(p) {
                kept.insert(p);
            }
            at = parent(p);
        }
    }
    let type_changed: Vec<(&Entry, &Entry)> =
        changes.modified.iter().filter(|(p, l)| p.kind != l.kind).copied().collect();
    for (was, now) in &type_changed {
        let blocked = now.kind == EntryKind::Dir
            && hidden.iter().any(|h| {
                h == &now.path
                    || h.strip_prefix(now.path.as_str()).is_some_and(|r| r.starts_with('/'))
            });
        if blocked {
            return Err(RestoreError::Conflict(format!(
                "{} is a directory now and holds excluded or unreadable entries, but was a {} in the point",
                now.path,
                was.kind.as_str()
            )));
        }
    }
    let replaced_dirs: HashSet<&str> = type_changed
        .iter()
        .filter(|(_, now)| now.kind == EntryKind::Dir)
        .map(|(_, now)| now.path.as_str())
        .collect();

    let mut counts = Counts {
        unchanged: changes.unchanged as u64,
        kept: kept.len() as u64,
        ..Counts::default()
    };
    let mut removes = Vec::new();
    for entry in &changes.added {
        if entry.kind == EntryKind::Dir && kept.contains(entry.path.as_str()) {
            continue;
        }
        removes.push(Op::Remove {
            path: entry.path.clone(),
            kind: entry.kind,
            dev_ino: Some((entry.probe.dev, entry.probe.ino)),
        });
        counts.moved_aside += 1;
    }
    for (_, now) in &type_changed {
        removes.push(Op::Remove {
            path: now.path.clone(),
            kind: now.kind,
            dev_ino: Some((now.probe.dev, now.probe.ino)),
        });
    }
    removes.sort_by(|a, b| op_path(b).cmp(op_path(a)));

    // A file's temporary can be prepared only where its directory exists
    // now and stays a directory (a root's directory is outside the tree).
    let parent_stays =
        |path: &str| match parent(path).and_then(|p| live_kind.get(p).map(|k| (p, k))) {
            Some((p, kind)) => *kind == EntryKind::Dir && !replaced_dirs.contains(p),
            None => roots.iter().any(|r| r == path),
        };
    let mut make_dirs = Vec::new();
    let mut places = Vec::new();
    let mut links = Vec::new();
    let restored = changes.removed.iter().copied().map(|p| (p, None));
    let modified = changes.modified.iter().map(|(p, l)| (*p, Some(*l)));
    for (want, now) in restored.chain(modified) {
        counts.restored += 1;
        let same_kind = now.is_some_and(|n| n.kind == want.kind);
        let same_content = now.is_some_and(|n| want.same_content(n));
        match want.kind {
            EntryKind::Dir if !same_kind => make_dirs.push(Op::MakeDir { path: want.path.clone() }),
            EntryKind::Dir => {}
            EntryKind::File if want.links_to.is_some() => {
                links.push(Op::Link { entry: want.clone() })
            }
            EntryKind::File | EntryKind::Symlink if same_content => places.push(Op::SetMetadata {
                entry: want.clone(),
                dev_ino: now
                    .filter(|n| n.kind == EntryKind::File)
                    .map(|n| (n.probe.dev, n.probe.ino)),
            }),
            EntryKind::File => places.push(Op::PlaceFile {
                entry: want.clone(),
                prepared: parent_stays(&want.path),
                separate: now.is_some_and(|n| n.links_to.is_some()),
            }),
            EntryKind::Symlink => places.push(Op::PlaceSymlink { entry: want.clone() }),
        }
    }
    make_dirs.sort_by(|a, b| op_path(a).cmp(op_path(b)));

    // Every directory of the point that changed, or whose entries change,
    // gets its recorded metadata (mtime included) back at the end.
    let mut dirs: HashSet<&str> = HashSet::new();
    for (want, _) in &changes.modified {
        dirs.insert(&want.path);
    }
    for entry in &changes.removed {
        dirs.insert(&entry.path);
    }
    let touched = changes.added.iter().copied().chain(changes.removed.iter().copied());
    for entry in touched.chain(changes.modified.iter().map(|(p, _)| *p)) {
        if let Some(p) = parent(&entry.path) {
            dirs.insert(p);
        }
    }
    let mut dir_ops: Vec<Op> = dirs
        .into_iter()
        .filter_map(|path| {
            point.binary_search_by(|e| e.path.as_str().cmp(path)).ok().map(|i| &point[i])
        })
        .filter(|e| e.kind == EntryKind::Dir)
        .map(|e| Op::SetMetadata { entry: e.clone(), dev_ino: None })
        .collect();
    dir_ops.sort_by(|a, b| op_path(b).cmp(op_path(a)));

    let mut ops = removes;
    ops.extend(make_dirs);
    ops.extend(places);
    ops.extend(links);
    ops.extend(dir_ops);
    Ok((ops, counts))
}

fn op_path(op: &Op) -> &str {
    op.path()
}

impl Op {
    /// The path the operation acts on.
    pub(crate) fn path(&self) -> &str {
        match self {
            Op::Remove { path, .. } | Op::MakeDir { path } => path,
            Op::PlaceFile { entry, .. }
            | Op::PlaceSymlink { entry }
            | Op::Link { entry }
            | Op::SetMetadata { entry, .. } => &entry.path,
        }
    }
}

/// Writes the journal durably (atomic replace).
pub(crate) fn write_journal(path: &Path, journal: &Journal) -> Result<(), RestoreError> {
    let json = serde_json::to_vec(journal).expect("journals always serialise");
    fsutil::write_atomic(path, &json)
}

pub(crate) fn read_journal(path: &Path) -> Result<Option<Journal>, RestoreError> {
    match fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        other => {
            let bytes = other.ctx("read", path)?;
            serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                RestoreError::Corrupt(format!("rollback journal {}: {e}", path.display()))
            })
        }
    }
}
