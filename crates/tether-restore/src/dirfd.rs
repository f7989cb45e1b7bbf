//! Directory handles: the only module with `unsafe`. Every operation on a
//! restored tree goes through a [`Dir`] (an open directory) and a single
//! name inside it, so a local user who can write in the tree (a home
//! directory) cannot redirect the agent's writes, removals, metadata
//! changes or reads to anything outside it by swapping a directory for a
//! link at the right instant. Both platforms give the same API:
//!
//! - `unix`: directory file descriptors (`openat2`, `*at` calls,
//!   `O_NOFOLLOW`, metadata set with `fchown`/`fchmod`/`futimens`);
//! - `windows`: directory handles (`NtCreateFile` relative to the
//!   directory's handle with `FILE_OPEN_REPARSE_POINT`, so no symlink,
//!   junction or other reparse point is ever followed; removals, renames
//!   and links set on a handle of the name itself; metadata set with
//!   `FileBasicInformation` on the open handle).
//!
//! [`errno`] names the errors the engine tells apart, with each
//! platform's code for them, so the engine's logic has no `cfg`.

use crate::manifest::Time;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

/// What is at a name, as `lstat` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    /// FIFO, socket or device node (Windows: any reparse point, symlinks
    /// and junctions included): never recorded, followed, read, written or
    /// replaced.
    Special,
}

/// The parts of `struct stat` the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub kind: Kind,
    /// `st_mode & 0o7777`; Windows: the attributes a point records
    /// ([`windows::RECORDED_ATTRIBUTES`]).
    pub mode: u32,
    /// Owner and group; 0 on Windows, where they are not recorded.
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: Time,
    /// Unix: the inode's change time; Windows: NTFS's `ChangeTime`.
    pub ctime: Time,
    /// The filesystem; Windows: the volume serial number.
    pub dev: u64,
    /// Windows: the file index (the NTFS file reference).
    pub ino: u64,
    /// Hard links to the inode.
    pub nlink: u64,
    /// 512-byte blocks allocated (Windows: the length rounded up, so
    /// files are written back dense).
    pub blocks: u64,
}

fn time_of(secs: i64, nanos: i64) -> Time {
    Time { secs, nanos: nanos.clamp(0, 999_999_999) as u32 }
}
