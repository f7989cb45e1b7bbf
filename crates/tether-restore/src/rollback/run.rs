//! Running a journal: the prepare phase (temporaries next to their
//! targets), the commit phase (each operation, idempotent), and removing
//! what a dropped journal left. Every operation acts through directory
//! descriptors (see [`crate::tree`]) and refuses special files and mount
//! points in its way.

#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;

use super::{Journal, Op, temp_name};
use crate::dirfd::{self, Dir, Kind, errno};
use crate::error::{IoContext, RestoreError};
use crate::failpoint::hit;
use crate::manifest::{Entry, EntryKind};
use crate::store::{self, ObjectStore};
use crate::tree::{self, Anchors, is_gone, kind_at, kind_of};
use crate::watch;

/// Flushes the filesystems of the configured roots (see
/// [`Anchors::filesystems`]).
fn sync_roots(anchors: &Anchors) -> Result<(), RestoreError> {
    for (root, dir) in anchors.filesystems() {
        let dir = dir.ctx("open", Path::new(root))?;
        dir.syncfs().ctx("flush the filesystem of", Path::new(root))?;
    }
    Ok(())
}

/// Prepare phase: every prepared file written next to its target, and the
/// identity of each temporary noted in `journal.temps`; all flushed.
pub(crate) fn prepare(objects: &ObjectStore, journal: &mut Journal) -> Result<(), RestoreError> {
    let anchors = Anchors::open(&journal.roots);
    for index in 0..journal.ops.len() {
        if let Op::PlaceFile { entry, prepared: true, .. } = &journal.ops[index] {
            watch::step(|| format!("writing a temporary for {}", entry.path))?;
            let (dir, _) = parent_dir(&anchors, &entry.path)?;
            let id = materialise(objects, &dir, &temp_name(&journal.id, index), entry)?;
            journal.temps.insert(index, id);
            hit("prepare: temporary written")?;
        }
    }
    sync_roots(&anchors)
}

/// Writes `entry`'s content into a new temporary `temp` in `dir` with the
/// entry's owner, mode and mtime; returns the temporary's device and
/// inode. The temporary is created `O_EXCL | O_NOFOLLOW`, so nothing
/// already there (a symlink planted by a user) is ever written through.
fn materialise(
    objects: &ObjectStore,
    dir: &Dir,
    temp: &OsStr,
    entry: &Entry,
) -> Result<(u64, u64), RestoreError> {
    let path = Path::new(&entry.path);
    let mut file = dir.create_new(temp, 0o600).ctx("create a temporary for", path)?;
    let written = objects
        .restore_to(
            hash_of(entry)?,
            entry.size,
            entry.chunks.as_deref(),
            entry.allocated.is_some(),
            &mut file,
            path,
        )
        .and_then(|()| tree::set_all_metadata(&file, entry))
        .and_then(|()| dirfd::fstat(&file).ctx("inspect", path));
    match written {
        Ok(st) => Ok((st.dev, st.ino)),
        Err(e) => {
            let _ = dir.unlink(temp);
            Err(e)
        }
    }
}

/// Removes every temporary the journal's operations may have left: the
/// prepare phase's, and any a failed commit left half-written. Never
/// fails: what cannot be removed (a directory a user put at a temporary's
/// name, a parent that is a file now) is returned, for the log, and is
/// harmless where it is (scans never record temporaries).
pub(crate) fn remove_temporaries(journal: &Journal) -> Vec<String> {
    let anchors = Anchors::open(&journal.roots);
    let mut left = Vec::new();
    for (index, op) in journal.ops.iter().enumerate() {
        let (Op::PlaceFile { entry, .. } | Op::PlaceSymlink { entry } | Op::Link { entry }) = op
        else {
            continue;
        };
        let name = temp_name(&journal.id, index);
        let removed = anchors.locate(&entry.path).and_then(|(dir, _)| dir.unlink(&name));
        match removed {
            Ok(()) => {}
            Err(e) if is_gone(&e) => {}
            Err(e) => left.push(format!(
                "temporary {} next to {}: {e}",
                name.to_string_lossy(),
                entry.path
            )),
        }
    }
    left
}

/// Commit phase: runs every operation (again, after a crash).
pub(crate) fn commit(objects: &ObjectStore, journal: &Journal) -> Result<(), RestoreError> {
    let anchors = Anchors::open(&journal.roots);
    for (index, op) in journal.ops.iter().enumerate() {
        watch::step(|| format!("rolling back {}", op.path()))?;
        apply(objects, journal, &anchors, index, op)?;
        hit("commit: operation done")?;
    }
    sync_roots(&anchors)
}

fn hash_of(entry: &Entry) -> Result<&str, RestoreError> {
    entry
        .hash
        .as_deref()
        .ok_or_else(|| RestoreError::Corrupt(format!("{} has no recorded content", entry.path)))
}

/// The directory of `path`, or the error a rollback reports.
fn parent_dir(anchors: &Anchors, path: &str) -> Result<(Dir, OsString), RestoreError> {
    anchors.locate(path).map_err(|e| locate_error(path, e))
}

/// A symlink (ELOOP) or a mount point (EXDEV) on the way is a conflict:
/// neither is ever followed.
fn locate_error(path: &str, e: io::Error) -> RestoreError {
    match e.raw_os_error() {
        Some(errno::ELOOP) => RestoreError::Conflict(format!(
            "a directory on the way to {path} was replaced by a symlink; it is never followed"
        )),
        Some(errno::EXDEV) => tree::mount_point(path),
        _ => RestoreError::Io { action: "open the directory of", path: path.into(), source: e },
    }
}

fn apply(
    objects: &ObjectStore,
    journal: &Journal,
    roots: &Anchors,
    index: usize,
    op: &Op,
) -> Result<(), RestoreError> {
    match op {
        Op::Remove { path, kind, dev_ino } => {
            let (dir, name) = match roots.locate(path) {
                Err(e) if is_gone(&e) => return Ok(()),
                other => other.map_err(|e| locate_error(path, e))?,
            };
            let now = match dir.stat_at(&name) {
                Err(e) if is_gone(&e) => return Ok(()),
                other => other.ctx("inspect", Path::new(path))?,
            };
            if now.kind == Kind::Special {
                return Err(tree::special(path));
            }
            if now.kind != kind_of(*kind) {
                return Ok(()); // Gone already, or replaced by the point's entry.
            }
            if now.dev != dir.stat().ctx("inspect", Path::new(path))?.dev {
                return Err(tree::mount_point(path));
            }
            if *kind != EntryKind::Dir && dev_ino.is_some_and(|id| id != (now.dev, now.ino)) {
                return Err(RestoreError::Conflict(format!(
                    "{path} was replaced during the rollback"
                )));
            }
            let removed =
                if *kind == EntryKind::Dir { dir.rmdir(&name) } else { dir.unlink(&name) };
            match removed {
                Err(e) if e.raw_os_error() == Some(errno::ENOTEMPTY) => Err(
                    RestoreError::Conflict(format!("{path} gained entries during the rollback")),
                ),
                Err(e) if is_gone(&e) => Ok(()),
                other => other.ctx("remove", Path::new(path)),
            }
        }
        Op::MakeDir { path } => {
            let (dir, name) = parent_dir(roots, path)?;
            match kind_at(&dir, &name).ctx("inspect", Path::new(path))? {
                Some(Kind::Dir) => Ok(()),
                Some(Kind::Special) => Err(tree::special(path)),
                Some(_) => {
                    Err(RestoreError::Conflict(format!("{path} is in the way of a directory")))
                }
                // Private until the directory pass gives it its metadata.
                None => dir.mkdir(&name, 0o700).ctx("create directory", Path::new(path)),
            }
        }
        Op::PlaceFile { entry, prepared, separate } => {
            let path = Path::new(&entry.path);
            let (dir, name) = parent_dir(roots, &entry.path)?;
            let temp = temp_name(&journal.id, index);
            let in_the_way = kind_at(&dir, &name).ctx("inspect", path)?;
            if in_the_way == Some(Kind::Special) {
                return Err(tree::special(&entry.path));
            }
            if *prepared {
                match dir.stat_at(&temp) {
                    Ok(st) if journal.temps.get(&index) == Some(&(st.dev, st.ino)) => {
                        return dir.rename(&temp, &name).ctx("rename into place", path);
                    }
                    Err(e) if is_gone(&e) => {}
                    // Not the temporary the prepare phase wrote: a user put
                    // something else there. Written again below.
                    _ => {}
                }
            }
            // Already the point's content (a commit finished after a
            // crash): only the metadata, on the open file.
            if in_the_way == Some(Kind::File) {
                let opened = match dir.open_file(&name) {
                    Err(e) if e.raw_os_error() == Some(errno::EXDEV) => {
                        return Err(tree::mount_point(&entry.path));
                    }
                    other => other.ctx("open", path)?,
                };
                if let Some((mut file, st)) = opened
                    && !(*separate && st.nlink > 1)
                {
                    let (hash, len) = store::hash_file(&mut file, path)?;
                    if len == entry.size && Some(hash.as_str()) == entry.hash.as_deref() {
                        return tree::set_all_metadata(&file, entry);
                    }
                }
            }
            match dir.unlink(&temp) {
                Err(e) if !is_gone(&e) => return Err(e).ctx("remove a stale temporary for", path),
                _ => {}
            }
            materialise(objects, &dir, &temp, entry)?;
            dir.rename(&temp, &name).ctx("rename into place", path)
        }
        Op::PlaceSymlink { entry } => {
            let path = Path::new(&entry.path);
            let (dir, name) = parent_dir(roots, &entry.path)?;
            let link = entry.target.as_deref().unwrap_or_default();
            match kind_at(&dir, &name).ctx("inspect", path)? {
                Some(Kind::Special) => return Err(tree::special(&entry.path)),
                Some(Kind::Symlink)
                    if dir.read_link(&name).ctx("read link", path)? == OsStr::new(link) =>
                {
                    return dir.lchown(&name, entry.uid, entry.gid).ctx("change owner of", path);
                }
                _ => {}
            }
            let temp = temp_name(&journal.id, index);
            match dir.unlink(&temp) {
                Err(e) if !is_gone(&e) => return Err(e).ctx("remove a stale temporary for", path),
                _ => {}
            }
            dir.symlink(OsStr::new(link), &temp).ctx("create symlink", path)?;
            dir.lchown(&temp, entry.uid, entry.gid).ctx("change owner of", path)?;
            dir.rename(&temp, &name).ctx("rename into place", path)
        }
        Op::Link { entry } => link(roots, &temp_name(&journal.id, index), entry),
        Op::SetMetadata { entry, dev_ino } => {
            let (dir, name) = parent_dir(roots, &entry.path)?;
            tree::apply_metadata(&dir, &name, entry, *dev_ino, roots.is_root(&entry.path))
        }
    }
}

/// Makes `entry.path` a hard link of the file at `entry.links_to` (see
/// [`tree::link`]).
fn link(roots: &Anchors, temp: &OsStr, entry: &Entry) -> Result<(), RestoreError> {
    let leader = entry.links_to.as_deref().unwrap_or_default();
    let (dir, name) = parent_dir(roots, &entry.path)?;
    let (leader_dir, leader_name) = parent_dir(roots, leader)?;
    tree::link(&leader_dir, &leader_name, &dir, &name, temp, entry)
}
