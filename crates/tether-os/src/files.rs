//! Per-file durability and permissions, the same calls on every system:
//! flushing a directory after a rename, creating files and directories
//! readable by their owner only, and telling whether a path still names
//! the same file. Unix does this with modes and `fsync`; Windows with what
//! it has (see each function).

use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// What [`create_mode`] does for a private file (`0o600`), in words for a
/// command's output: Unix restricts it; Windows leaves the inherited ACL.
pub const PRIVATE_FILE: &str = imp::PRIVATE_FILE;

/// Flushes a directory so the names created or renamed in it survive a
/// power loss.
///
/// Windows has no directory flush (opening a directory to flush it is
/// "Access denied" without backup privileges); NTFS journals its metadata,
/// so this is a no-op there.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    imp::sync_dir(dir)
}

/// Flushes the directory holding `path` (the current directory for a bare
/// file name).
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => sync_dir(dir),
        None => sync_dir(Path::new(".")),
    }
}

/// Makes `options` create the file with `mode` (e.g. `0o600`), applied at
/// creation so it is never readable by others, not even for an instant.
///
/// Windows: the file gets its directory's inherited ACL (no change yet).
pub fn create_mode(options: &mut OpenOptions, mode: u32) -> &mut OpenOptions {
    imp::create_mode(options, mode)
}

/// Makes `builder` create directories with `mode` (e.g. `0o700`).
///
/// Windows: the directory gets its parent's inherited ACL (no change yet).
pub fn dir_create_mode(builder: &mut DirBuilder, mode: u32) -> &mut DirBuilder {
    imp::dir_create_mode(builder, mode)
}

/// Sets the permission bits of an existing file or directory.
///
/// Windows: only the write bit has a meaning (the read-only attribute), so
/// this only clears or sets read-only from the owner's write bit.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    imp::set_mode(path, mode)
}

/// The permission bits of a file, where the system has them (Unix).
pub fn mode(meta: &Metadata) -> Option<u32> {
    imp::mode(meta)
}

/// Whether a file can be run: a regular file with an execute bit on Unix,
/// any regular file on Windows (where the extension decides).
pub fn is_executable(meta: &Metadata) -> bool {
    meta.is_file() && imp::mode(meta).is_none_or(|mode| mode & 0o111 != 0)
}

/// A number that stays the same while `path` names the same file and
/// changes when it is replaced (a rotated log): the inode on Unix, the
/// NTFS file index on Windows (which opens the file to ask).
pub fn path_id(path: &Path) -> io::Result<u64> {
    imp::path_id(path)
}

/// [`path_id`] of a file already open.
pub fn file_id(file: &File) -> io::Result<u64> {
    imp::file_id(file)
}

/// Opens `path` with `options` unless its last component is a link
/// (a symlink, or on Windows any name-surrogate reparse point such as a
/// junction), so a privileged writer is not steered to another file by
/// whoever could plant a link there. Unix opens with `O_NOFOLLOW`;
/// Windows opens the link itself (`FILE_FLAG_OPEN_REPARSE_POINT`) and
/// refuses it. Links in the directories above are followed.
pub fn open_no_follow(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    let refused =
        || io::Error::new(io::ErrorKind::InvalidInput, format!("{} is a link", path.display()));
    let file = match imp::no_follow(options).open(path) {
        Ok(file) => file,
        Err(e) if imp::is_link_refusal(&e) => return Err(refused()),
        Err(e) => return Err(e),
    };
    if file.metadata()?.file_type().is_symlink() {
        return Err(refused());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_gets_a_new_id_and_a_private_mode_sticks() {
        let dir = std::env::temp_dir().join(format!("tether-os-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir_create_mode(DirBuilder::new().recursive(true), 0o700).create(&dir).unwrap();
        let path = dir.join("log");
        create_mode(OpenOptions::new().write(true).create_new(true), 0o600).open(&path).unwrap();
        let first = path_id(&path).unwrap();
        let open = file_id(&File::open(&path).unwrap()).unwrap();
        let mode_seen = mode(&std::fs::metadata(&path).unwrap());
        let same = path_id(&path).unwrap();
        let moved = dir.join("log.1");
        std::fs::rename(&path, &moved).unwrap();
        create_mode(OpenOptions::new().write(true).create_new(true), 0o600).open(&path).unwrap();
        sync_parent(&path).unwrap();
        let replaced = path_id(&path).unwrap();
        let moved_id = path_id(&moved).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((first, first), (same, open));
        assert_eq!(first, moved_id, "a rename keeps the file's id");
        assert_ne!(first, replaced, "a new file under the same name has a new id");
        if cfg!(unix) {
            assert_eq!(mode_seen.map(|m| m & 0o777), Some(0o600));
        } else {
            assert_eq!(mode_seen, None);
        }
    }

    #[test]
    fn open_no_follow_opens_files_and_refuses_a_link() {
        let dir = std::env::temp_dir().join(format!("tether-os-nofollow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("target");
        std::fs::write(&target, b"kept").unwrap();
        let mut append = OpenOptions::new();
        append.append(true).create(true);
        let plain = open_no_follow(&mut append, &dir.join("log")).map(drop);
        #[cfg(unix)]
        let linked = std::os::unix::fs::symlink(&target, dir.join("link"));
        // Creating a symlink may need a privilege on Windows; Wine allows it.
        #[cfg(windows)]
        let linked = std::os::windows::fs::symlink_file(&target, dir.join("link"));
        let through_link = open_no_follow(&mut append, &dir.join("link")).map(drop);
        // Wine 8 makes the link a host symlink that its own file calls
        // follow and report as a plain file, so there is no link to refuse.
        let seen_as_link = std::fs::symlink_metadata(dir.join("link"))
            .is_ok_and(|meta| meta.file_type().is_symlink());
        let kept = std::fs::read(&target).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(plain.is_ok(), "{plain:?}");
        linked.unwrap();
        assert!(seen_as_link || cfg!(windows), "a Unix symlink is always seen as one");
        if seen_as_link {
            let e = through_link.unwrap_err();
            assert!(e.to_string().ends_with("is a link"), "{e}");
        }
        assert_eq!(kept, b"kept");
    }
}
