//! Small filesystem primitives with the durability the engine relies on:
//! atomic replacement, directory fsync, and metadata applied exactly.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{IoContext, RestoreError};
use crate::manifest::{Entry, EntryKind, Probe, Time};

/// Flushes a directory so the names created or renamed in it survive a
/// power loss.
pub fn fsync_dir(dir: &Path) -> Result<(), RestoreError> {
    File::open(dir).and_then(|d| d.sync_all()).ctx("flush directory", dir)
}

/// Creates `dir` (and its parents) readable by its owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), RestoreError> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).ctx("create directory", dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).ctx("restrict directory", dir)
}

/// Opens a new private (0600) file for writing, replacing any leftover.
pub fn create_private_file(path: &Path) -> Result<File, RestoreError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .ctx("create", path)
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

fn time_of(secs: i64, nanos: i64) -> Time {
    Time { secs, nanos: nanos.clamp(0, 999_999_999) as u32 }
}

/// Describes `path` as an entry (hash left empty), or `None` for kinds
/// points do not record.
pub fn entry_of(path: &str, meta: &fs::Metadata) -> Result<Option<Entry>, RestoreError> {
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        EntryKind::File
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_symlink() {
        EntryKind::Symlink
    } else {
        return Ok(None);
    };
    let target = if kind == EntryKind::Symlink {
        let target = fs::read_link(path).ctx("read link", Path::new(path))?;
        match target.into_os_string().into_string() {
            Ok(t) => Some(t),
            Err(_) => return Ok(None),
        }
    } else {
        None
    };
    Ok(Some(Entry {
        path: path.to_owned(),
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: time_of(meta.mtime(), meta.mtime_nsec()),
        size: if kind == EntryKind::File { meta.len() } else { 0 },
        hash: None,
        target,
        probe: Probe {
            dev: meta.dev(),
            ino: meta.ino(),
            ctime: time_of(meta.ctime(), meta.ctime_nsec()),
        },
    }))
}

/// Gives `path` the owner, mode and (for files) mtime recorded in `entry`.
/// The owner goes first: chown clears setuid bits, so the mode follows it.
pub fn apply_metadata(path: &Path, entry: &Entry) -> Result<(), RestoreError> {
    let meta = fs::symlink_metadata(path).ctx("inspect", path)?;
    if meta.uid() != entry.uid || meta.gid() != entry.gid {
        std::os::unix::fs::lchown(path, Some(entry.uid), Some(entry.gid))
            .ctx("change owner of", path)?;
    }
    if entry.kind == EntryKind::Symlink {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(entry.mode))
        .ctx("change mode of", path)?;
    set_mtime(path, entry.mtime)
}

/// Sets the modification time (and leaves the access time alone) without
/// opening the file, so write-only or unreadable files work too.
fn set_mtime(path: &Path, mtime: Time) -> Result<(), RestoreError> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| RestoreError::Config(format!("path {} contains NUL", path.display())))?;
    let times = [
        libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        libc::timespec { tv_sec: mtime.secs as libc::time_t, tv_nsec: mtime.nanos as libc::c_long },
    ];
    // SAFETY: `c` is a valid NUL-terminated path and `times` has the two
    // elements utimensat reads.
    let rc = unsafe {
        libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
    };
    if rc != 0 {
        return Err(io::Error::last_os_error()).ctx("set modification time of", path);
    }
    Ok(())
}
