//! Paths of the restored trees, resolved safely: an absolute path under a
//! configured root becomes the directory that holds it (opened from the
//! root's parent without following any symlink, see [`crate::dirfd`]) and
//! one name in it.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;

use crate::dirfd::{self, Dir, Kind};
use crate::error::{IoContext, RestoreError};
use crate::manifest::{Entry, EntryKind};

/// The directory holding `path` and its last name. `path` must be a root
/// or lie under one; the root's own parent is trusted (the administrator
/// chose the root), everything from the root down is walked without
/// following symlinks.
pub(crate) fn locate(roots: &[String], path: &str) -> io::Result<(Dir, OsString)> {
    let root = roots
        .iter()
        .find(|r| {
            path == r.as_str() || path.strip_prefix(r.as_str()).is_some_and(|t| t.starts_with('/'))
        })
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "outside the configured restore paths")
        })?;
    let root_path = Path::new(root);
    let (Some(top), Some(root_name)) = (root_path.parent(), root_path.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a root needs a parent"));
    };
    let root_name = root_name.to_str().unwrap_or_default();
    let rest = format!("{root_name}{}", &path[root.len()..]);
    let (rel, name) = match rest.rsplit_once('/') {
        Some((rel, name)) => (rel, name),
        None => ("", rest.as_str()),
    };
    let dir = Dir::open_trusted(top)?.open_beneath(rel)?;
    Ok((dir, OsString::from(name)))
}

/// True for errors meaning "nothing there": the name or a directory on
/// the way is gone, or an ancestor is a file now (a rollback interrupted
/// after replacing a directory by a file).
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR))
}

/// What is at `name` now, `None` if nothing.
pub(crate) fn kind_at(dir: &Dir, name: &OsStr) -> io::Result<Option<Kind>> {
    match dir.stat_at(name) {
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(st) => Ok(Some(st.kind)),
    }
}

pub(crate) fn kind_of(kind: EntryKind) -> Kind {
    match kind {
        EntryKind::File => Kind::File,
        EntryKind::Dir => Kind::Dir,
        EntryKind::Symlink => Kind::Symlink,
    }
}

/// The error for a special file (FIFO, socket, device) found where a
/// rollback would act: such files are never written, replaced or followed.
pub(crate) fn special(path: &str) -> RestoreError {
    RestoreError::Conflict(format!(
        "{path} is a special file (FIFO, socket or device) now; it is never replaced"
    ))
}

/// Gives `name` the owner, mode and mtime `entry` records, through an
/// open descriptor (symlinks: owner only, without following). Anything
/// else than the recorded kind there, or a file that is not the inode
/// `expect`ed, is a conflict.
pub(crate) fn apply_metadata(
    dir: &Dir,
    name: &OsStr,
    entry: &Entry,
    expect: Option<(u64, u64)>,
) -> Result<(), RestoreError> {
    let path = Path::new(&entry.path);
    match entry.kind {
        EntryKind::Symlink => {
            if kind_at(dir, name).ctx("inspect", path)? != Some(Kind::Symlink) {
                return Err(changed(&entry.path, "a symlink"));
            }
            dir.lchown(name, entry.uid, entry.gid).ctx("change owner of", path)
        }
        EntryKind::Dir => {
            let sub = dir.open_dir(name).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOTDIR | libc::ELOOP) => changed(&entry.path, "a directory"),
                _ => RestoreError::Io { action: "open", path: path.to_owned(), source: e },
            })?;
            dirfd::set_metadata(&sub, entry.uid, entry.gid, entry.mode, Some(entry.mtime))
                .ctx("set owner, mode and time of", path)
        }
        EntryKind::File => {
            let Some((file, st)) = dir.open_file(name).ctx("open", path)? else {
                return Err(match kind_at(dir, name).ctx("inspect", path)? {
                    Some(Kind::Special) => special(&entry.path),
                    _ => changed(&entry.path, "a file"),
                });
            };
            if expect.is_some_and(|id| id != (st.dev, st.ino)) {
                return Err(changed(&entry.path, "the same file"));
            }
            dirfd::set_metadata(&file, entry.uid, entry.gid, entry.mode, Some(entry.mtime))
                .ctx("set owner, mode and time of", path)
        }
    }
}

fn changed(path: &str, was: &str) -> RestoreError {
    RestoreError::Conflict(format!("{path} is no longer {was}: it changed during the rollback"))
}

/// Reads the regular file at `path` (resolved safely), or `None` if it is
/// gone or is no longer a regular file (a symlink or FIFO swapped in).
pub(crate) fn open_regular(
    roots: &[String],
    path: &str,
) -> io::Result<Option<(std::fs::File, dirfd::Stat)>> {
    let (dir, name) = match locate(roots, path) {
        Err(e) if is_gone(&e) || e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        other => other?,
    };
    match dir.open_file(&name) {
        Err(e) if is_gone(&e) => Ok(None),
        other => other,
    }
}

/// True if something (anything) is at `path`; false if it is gone or
/// cannot be reached without following a symlink.
pub(crate) fn exists(roots: &[String], path: &str) -> bool {
    locate(roots, path).is_ok_and(|(dir, name)| dir.stat_at(&name).is_ok())
}
