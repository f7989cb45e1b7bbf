//! Small filesystem primitives for the state directory (root's own, so
//! plain paths are fine there): atomic replacement and directory fsync.
//! The restored trees go through [`crate::tree`] instead.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use crate::error::{IoContext, RestoreError};

/// Flushes a directory so the names created or renamed in it survive a
/// power loss.
pub fn fsync_dir(dir: &Path) -> Result<(), RestoreError> {
    tether_os::files::sync_dir(dir).ctx("flush directory", dir)
}

/// Creates `dir` (and its parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), RestoreError> {
    tether_os::files::create_private_dir_all(dir).ctx("create directory", dir)?;
    tether_os::files::set_mode(dir, 0o700).ctx("restrict directory", dir)
}

/// Opens a new private (0600) file for writing, replacing any leftover.
pub fn create_private_file(path: &Path) -> Result<File, RestoreError> {
    tether_os::files::Create::new(0o600).truncate().open(path).ctx("create", path)
}

/// Replaces `path` with `bytes` atomically and durably: a flushed
/// temporary renamed over it, then the directory flushed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RestoreError> {
    let tmp = path.with_extension("tmp");
    let mut file = create_private_file(&tmp)?;
    file.write_all(bytes).ctx("write", &tmp)?;
    file.sync_all().ctx("flush", &tmp)?;
    drop(file);
    fs::rename(&tmp, path).ctx("rename into place", path)?;
    fsync_dir(path.parent().expect("store files live in a directory"))
}

/// Removes a file, treating "already gone" as success.
pub fn remove_file_if_present(path: &Path) -> Result<(), RestoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).ctx("remove", path),
        _ => Ok(()),
    }
}
