//! Per-file durability and permissions, the same calls on every system:
//! flushing a directory after a rename, creating files and directories
//! usable by their owner only, telling whether an existing one is, and
//! telling whether a path still names the same file. Unix does this with
//! modes and `fsync`; Windows with ACLs and what else it has (see each
//! function).

use std::fs::{File, Metadata, OpenOptions};
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

/// What [`Create`] does for a private file (`0o600`), in words for a
/// command's output.
pub const PRIVATE_FILE: &str = imp::PRIVATE_FILE;

/// Opens a file for writing, creating it private when `mode` says nobody
/// else may use it, with the protection applied at creation so the file
/// never exists readable by others, not even for an instant:
/// - Unix: `mode` is the file's mode (less the umask), as `open(2)` takes it;
/// - Windows: a `mode` with no bits for others (`0o600`, `0o640`) gives the
///   new file a protected DACL granting only the current user, SYSTEM and
///   Administrators full control (nothing inherited from the directory);
///   any other mode leaves the directory's inherited ACL.
///
/// An existing file keeps its permissions on both.
#[derive(Clone, Debug)]
pub struct Create {
    mode: u32,
    append: bool,
    new: bool,
    truncate: bool,
    no_follow: bool,
}

impl Create {
    /// Write access; the file is created if missing.
    pub fn new(mode: u32) -> Create {
        Create { mode, append: false, new: false, truncate: false, no_follow: false }
    }

    /// Writes go to the end of the file.
    pub fn append(mut self) -> Create {
        self.append = true;
        self
    }

    /// Fails with `AlreadyExists` when the path exists (whatever it is),
    /// so the check and the creation are one step.
    pub fn must_be_new(mut self) -> Create {
        self.new = true;
        self
    }

    /// An existing file is truncated.
    pub fn truncate(mut self) -> Create {
        self.truncate = true;
        self
    }

    /// A symlink at the path is not followed (Unix: the open fails, see
    /// [`is_symlink_refusal`]; Windows: the link itself is opened, so its
    /// metadata is not a regular file's), and a FIFO does not block the open.
    pub fn no_follow(mut self) -> Create {
        self.no_follow = true;
        self
    }

    pub fn open(&self, path: &Path) -> io::Result<File> {
        imp::create(self, path)
    }
}

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

/// Makes `options` open a path without following a symlink at its end
/// and without blocking on a FIFO (Unix: `O_NOFOLLOW | O_NONBLOCK`;
/// Windows: `FILE_FLAG_OPEN_REPARSE_POINT`, which opens the link itself).
pub fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    imp::no_follow(options)
}

/// Whether `error` is a no-follow open refusing a symlink (`ELOOP` on
/// Unix; never on Windows, where the link is opened instead).
pub fn is_symlink_refusal(error: &io::Error) -> bool {
    imp::is_symlink_refusal(error)
}

/// Creates the directory `dir` (its parent must exist) usable by its owner
/// only: mode `0o700` on Unix; on Windows the protected DACL of [`Create`],
/// inherited by what is created inside. Fails with `AlreadyExists` if
/// anything is at `dir`.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    imp::create_private_dir(dir)
}

/// [`create_private_dir`] for `dir` and each missing parent.
///
/// An existing `dir` (or a parent another process makes meanwhile):
/// - Windows: kept only when it is a directory, not a reparse point (a
///   junction or symlink), owned by the current user, SYSTEM or
///   Administrators, and no one else may write in it; otherwise refused
///   with an error naming the path (any user may create directories in
///   `C:\ProgramData` and `C:\` before the agent does);
/// - Unix: accepted as it is, as `mkdir -p` (the directories Tether uses
///   are under root-only parents such as `/etc` and `/var/lib`).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    imp::create_private_dir_all(dir)
}

/// What others must not be able to do for a file or directory to count as
/// private.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Others {
    /// Use it at all (a file only we read: Unix mode bits `0o077`).
    MayNotUse,
    /// Change it or what is in it (a directory only we write: `0o022`).
    MayNotWrite,
}

/// Why the file or directory at `path` is not ours alone, in words for an
/// error message, or `None` when it is: owned by another user, or usable
/// by others as `others` forbids. `meta` is its metadata as the caller read
/// it (`lstat` to judge a symlink itself); Unix judges that, Windows opens
/// `path` itself without following a link, refuses a reparse point (an
/// error), and reads the owner and DACL of what it opened (where SYSTEM
/// and Administrators count as ours: they can take any file anyway).
pub fn not_private(path: &Path, meta: &Metadata, others: Others) -> io::Result<Option<String>> {
    imp::not_private(path, meta, others)
}

/// [`not_private`] of a file already open (for reading on Windows).
pub fn not_private_file(file: &File, others: Others) -> io::Result<Option<String>> {
    imp::not_private_file(file, others)
}

/// Sets the permission bits of an existing file or directory.
///
/// Windows: only the write bit has a meaning (the read-only attribute), so
/// this only clears or sets read-only from the owner's write bit.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    imp::set_mode(path, mode)
}

/// [`set_mode`] of a file already open (`fchmod`: no path to swap).
pub fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    imp::set_file_mode(file, mode)
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

/// How many names (hard links) the open file has: more than one means
/// someone may have linked a file of theirs, or ours, under another name.
pub fn link_count(file: &File) -> io::Result<u64> {
    imp::link_count(file)
}

/// Opens `path` as `how` says unless its last component is a link
/// (a symlink, or on Windows any name-surrogate reparse point such as a
/// junction), so a privileged writer is not steered to another file by
/// whoever could plant a link there. Unix opens with `O_NOFOLLOW`;
/// Windows opens the link itself (`FILE_FLAG_OPEN_REPARSE_POINT`) and
/// refuses it. Links in the directories above are followed.
pub fn open_no_follow(how: &Create, path: &Path) -> io::Result<File> {
    let refused =
        || io::Error::new(io::ErrorKind::InvalidInput, format!("{} is a link", path.display()));
    let file = match how.clone().no_follow().open(path) {
        Ok(file) => file,
        Err(e) if imp::is_symlink_refusal(&e) => return Err(refused()),
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
        create_private_dir_all(&dir).unwrap();
        let path = dir.join("log");
        Create::new(0o600).must_be_new().open(&path).unwrap();
        let first = path_id(&path).unwrap();
        let open = file_id(&File::open(&path).unwrap()).unwrap();
        let links = link_count(&File::open(&path).unwrap()).unwrap();
        std::fs::hard_link(&path, dir.join("second")).unwrap();
        let linked = link_count(&File::open(&path).unwrap()).unwrap();
        std::fs::remove_file(dir.join("second")).unwrap();
        let mode_seen = mode(&std::fs::metadata(&path).unwrap());
        let same = path_id(&path).unwrap();
        let moved = dir.join("log.1");
        std::fs::rename(&path, &moved).unwrap();
        Create::new(0o600).must_be_new().open(&path).unwrap();
        sync_parent(&path).unwrap();
        let replaced = path_id(&path).unwrap();
        let moved_id = path_id(&moved).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((first, first), (same, open));
        assert_eq!((links, linked), (1, 2), "a second name counts");
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
        let append = Create::new(0o640).append();
        let plain = open_no_follow(&append, &dir.join("log")).map(drop);
        #[cfg(unix)]
        let linked = std::os::unix::fs::symlink(&target, dir.join("link"));
        // Creating a symlink may need a privilege on Windows; Wine allows it.
        #[cfg(windows)]
        let linked = std::os::windows::fs::symlink_file(&target, dir.join("link"));
        let through_link = open_no_follow(&append, &dir.join("link")).map(drop);
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
