//! Careful file writing: private keys never exist with loose permissions, and
//! files other processes read (the index, the CRL, replaced certificates) are
//! swapped in whole by `rename`, so a reader sees the old or the new file and
//! never half of one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tether_os::files::Create;

use crate::error::PkiError;

/// Mode of private key files: readable by the owner only.
pub(crate) const KEY_MODE: u32 = 0o600;
/// Mode of certificates, the CRL and the index: public material.
pub(crate) const PUBLIC_MODE: u32 = 0o644;
/// Creates `dir` and its parents, owner-only (0700; on Windows an ACL for
/// the owner, SYSTEM and Administrators), if missing: they hold private keys.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    tether_os::files::create_private_dir_all(dir)
        .map_err(|e| PkiError::io("create directory", dir, e))
}

/// Reads a whole file as UTF-8 text.
pub(crate) fn read_text(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|e| PkiError::io("read", path, e))
}

/// Writes a file that must not exist yet.
///
/// `create_new` makes the existence check and the creation one atomic step,
/// and the mode is applied at creation, so a key is never readable by others,
/// not even for an instant. A partly written file is removed again so that it
/// does not block the next attempt.
pub(crate) fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut file = Create::new(mode).must_be_new().open(path).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => PkiError::AlreadyExists(path.to_path_buf()),
        _ => PkiError::io("create", path, e),
    })?;
    if let Err(e) = write_and_sync(&mut file, contents) {
        drop(file);
        // The write error is the one worth reporting; a failed cleanup adds nothing.
        let _ = fs::remove_file(path);
        return Err(PkiError::io("write", path, e));
    }
    sync_parent(path)
}

/// Writes a file, replacing any existing one atomically.
///
/// The data goes to a temporary file in the same directory (same file system,
/// so `rename` is atomic), created with `mode`, flushed to disk, and then
/// renamed over `path`.
pub(crate) fn write_replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = temp_path(path)?;
    let result = write_new(&tmp, contents, mode)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| PkiError::io("replace", path, e)));
    if result.is_err() {
        // Best effort: the temporary file may not even exist at this point.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_parent(path)
}

fn write_and_sync(file: &mut File, contents: &[u8]) -> io::Result<()> {
    file.write_all(contents)?;
    file.sync_all()
}

/// Flushes the directory entry, so that a created or renamed file survives a
/// crash along with its contents.
fn sync_parent(path: &Path) -> Result<(), PkiError> {
    let dir = parent(path);
    tether_os::files::sync_dir(dir).map_err(|e| PkiError::io("sync directory", dir, e))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A hidden, randomly named sibling of `path`.
fn temp_path(path: &Path) -> Result<PathBuf, PkiError> {
    let mut suffix = [0u8; 8];
    tether_os::random::fill(&mut suffix)?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    Ok(parent(path).join(format!(".{name}.tmp-{}", crate::serial::to_hex(&suffix))))
}

/// An exclusive lock on the PKI directory, held while the index is read,
/// changed and written back.
///
/// Without it two concurrent `issue`/`revoke` runs could both read the same
/// index and one would silently drop the other's entry. The lock is an
/// advisory `flock` on a dedicated file; the kernel releases it when the
/// process exits, so a crash leaves no stale lock behind.
pub(crate) struct DirLock {
    _file: File,
}

impl DirLock {
    pub(crate) fn acquire(root: &Path) -> Result<DirLock, PkiError> {
        let path = root.join(".lock");
        let file = Create::new(KEY_MODE)
            .open(&path)
            .map_err(|e| PkiError::io("open lock file", &path, e))?;
        file.lock().map_err(|e| PkiError::io("lock", &path, e))?;
        Ok(DirLock { _file: file })
    }
}

/// Test helper: `path` has permission bits `mode`, where the system has
/// them; on Windows a private `mode` means an ACL no one else may use the
/// file by (a public one inherits its directory's, so nothing is checked).
#[cfg(test)]
pub(crate) fn assert_mode(path: &Path, mode: u32) {
    let meta = fs::metadata(path).unwrap();
    match tether_os::files::mode(&meta) {
        Some(got) => assert_eq!(got & 0o777, mode, "mode of {}", path.display()),
        None if mode & 0o077 == 0 => {
            let others = tether_os::files::Others::MayNotUse;
            let why = tether_os::files::not_private(path, &meta, others).unwrap();
            assert_eq!(why, None, "{}", path.display());
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_refuses_existing_file_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        write_new(&path, b"first", KEY_MODE).unwrap();
        let err = write_new(&path, b"second", KEY_MODE).unwrap_err();
        assert!(matches!(err, PkiError::AlreadyExists(p) if p == path));
        assert_eq!(fs::read(&path).unwrap(), b"first");
    }

    #[test]
    fn write_replace_swaps_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        write_new(&path, b"first", PUBLIC_MODE).unwrap();
        write_replace(&path, b"second", KEY_MODE).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_mode(&path, KEY_MODE);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
