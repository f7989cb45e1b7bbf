//! Unix: directory file descriptors. Every operation on a restored tree
//! goes through a [`Dir`] and a single name inside it, so a local user who can write in
//! the tree (a home directory) cannot redirect root's writes, removals,
//! ownership or mode changes, or reads, to anything outside it by swapping
//! a directory for a symlink at the right instant:
//!
//! - directories are reached from a trusted parent with `openat2`
//!   (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
//!   RESOLVE_NO_XDEV`), or, on kernels without it, one
//!   `openat(O_NOFOLLOW | O_DIRECTORY)` per component, each on the same
//!   filesystem as the last (`open`): no symlink is followed and no mount
//!   point crossed below a root;
//! - the last component is acted on with `*at` calls that never follow it
//!   (`unlinkat`, `renameat`, `fchownat(AT_SYMLINK_NOFOLLOW)`,
//!   `O_NOFOLLOW` opens), and metadata is set on open descriptors
//!   (`fchown`, `fchmod`, `futimens`);
//! - files are opened `O_NONBLOCK` and `fstat`ed before use, so a FIFO
//!   swapped in neither blocks nor gets read or written;
//! - new files are created `O_CREAT | O_EXCL | O_NOFOLLOW`.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::{Kind, Stat, time_of};
use crate::manifest::Time;

mod open;
pub(crate) mod xattr;

/// The errors the engine tells apart (see [`super`]).
pub(crate) mod errno {
    pub(crate) use libc::{EACCES, EINVAL, ELOOP, ENODATA, ENOENT, ENOTDIR, ENOTEMPTY, EXDEV};
}

/// What metadata is read and set through: an open file or directory.
pub(crate) use std::os::fd::AsRawFd as Descriptor;

/// What a [`Kind::Special`] is here, for messages: as a node, and as a
/// file in the way.
pub(crate) const SPECIAL_NODE: &str = "a FIFO, socket or device node";
pub(crate) const SPECIAL_FILE: &str = "a special file (FIFO, socket or device)";

impl Stat {
    fn of(st: &libc::stat) -> Stat {
        let kind = match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Special,
        };
        // nlink_t is u64 here but u32 on other targets (aarch64).
        #[allow(clippy::unnecessary_cast)]
        let nlink = st.st_nlink as u64;
        Stat {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size.max(0) as u64,
            mtime: time_of(st.st_mtime, st.st_mtime_nsec),
            ctime: time_of(st.st_ctime, st.st_ctime_nsec),
            dev: st.st_dev,
            ino: st.st_ino,
            nlink,
            blocks: st.st_blocks.max(0) as u64,
        }
    }
}

fn cstr(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

/// A name valid inside one directory: no `/`, not `.` or `..`, not empty.
fn single(name: &OsStr) -> io::Result<CString> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{:?} is not a single path component", name),
        ));
    }
    cstr(name)
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc) }
}

/// Wraps a descriptor a successful syscall just returned.
fn own(fd: libc::c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open/openat/openat2/
    // fcntl(F_DUPFD) call, so it is a valid descriptor owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn fstat_fd(fd: RawFd) -> io::Result<Stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out-pointer of the right type; fstat
    // initialises it when it returns 0.
    check(unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: fstat returned 0, so `st` is initialised.
    let st = unsafe { st.assume_init() };
    Ok(Stat::of(&st))
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
}

impl Dir {
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir { fd: self.fd.try_clone()? })
    }

    pub fn stat(&self) -> io::Result<Stat> {
        fstat_fd(self.fd.as_raw_fd())
    }

    /// `lstat` of `name` in this directory.
    pub fn stat_at(&self, name: &OsStr) -> io::Result<Stat> {
        let c = single(name)?;
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: the descriptor is open, `c` is NUL-terminated and `st` a
        // valid out-pointer, initialised when fstatat returns 0.
        check(unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        // SAFETY: fstatat returned 0.
        let st = unsafe { st.assume_init() };
        Ok(Stat::of(&st))
    }

    /// Every name in the directory but `.` and `..`, unsorted.
    pub fn list(&self) -> io::Result<Vec<OsString>> {
        // SAFETY: duplicating an open descriptor; the copy is owned below.
        let dup =
            own(check(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?);
        let raw = std::os::fd::IntoRawFd::into_raw_fd(dup);
        // SAFETY: `raw` is an open directory descriptor we own; on success
        // the DIR stream owns it and closedir closes it.
        let stream = unsafe { libc::fdopendir(raw) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            drop(own(raw));
            return Err(e);
        }
        // The copy shares the file offset with `self.fd`: start over.
        // SAFETY: `stream` is a valid DIR stream.
        unsafe { libc::rewinddir(stream) };
        let mut names = Vec::new();
        let result = loop {
            // SAFETY: errno is thread-local; zeroing it tells the end of
            // the stream (NULL, errno 0) from an error (NULL, errno set).
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `stream` is a valid DIR stream.
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                let e = io::Error::last_os_error();
                break if e.raw_os_error() == Some(0) { Ok(()) } else { Err(e) };
            }
            // SAFETY: readdir returned a valid dirent whose d_name is
            // NUL-terminated; it stays valid until the next readdir.
            let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) }.to_bytes();
            if name != b"." && name != b".." {
                names.push(OsString::from_vec(name.to_vec()));
            }
        };
        // SAFETY: `stream` is valid and not used after this.
        unsafe { libc::closedir(stream) };
        result.map(|()| names)
    }

    /// The target of the symlink `name`.
    pub fn read_link(&self, name: &OsStr) -> io::Result<OsString> {
        let c = single(name)?;
        let mut buf = vec![0u8; 4096];
        loop {
            // SAFETY: the descriptor is open, `c` NUL-terminated, and `buf`
            // writable for the length passed.
            let n = unsafe {
                libc::readlinkat(
                    self.fd.as_raw_fd(),
                    c.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let n = n as usize;
            if n < buf.len() {
                buf.truncate(n);
                return Ok(OsString::from_vec(buf));
            }
            // Possibly truncated: try again with more room.
            buf.resize(buf.len() * 2, 0);
        }
    }

    /// Removes the file or symlink `name` (never a directory).
    pub fn unlink(&self, name: &OsStr) -> io::Result<()> {
        self.unlinkat(name, 0)
    }

    /// Removes the empty directory `name`.
    pub fn rmdir(&self, name: &OsStr) -> io::Result<()> {
        self.unlinkat(name, libc::AT_REMOVEDIR)
    }

    fn unlinkat(&self, name: &OsStr, flags: libc::c_int) -> io::Result<()> {
        let c = single(name)?;
        // SAFETY: the descriptor is open and `c` is NUL-terminated.
        check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), flags) }).map(drop)
    }

    pub fn mkdir(&self, name: &OsStr, mode: u32) -> io::Result<()> {
        let c = single(name)?;
        // SAFETY: the descriptor is open and `c` is NUL-terminated.
        check(unsafe { libc::mkdirat(self.fd.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) })
            .map(drop)
    }

    /// Creates the symlink `name` pointing at `target` (never followed).
    pub fn symlink(&self, target: &OsStr, name: &OsStr) -> io::Result<()> {
        let t = cstr(target)?;
        let c = single(name)?;
        // SAFETY: the descriptor is open and both strings NUL-terminated.
        check(unsafe { libc::symlinkat(t.as_ptr(), self.fd.as_raw_fd(), c.as_ptr()) }).map(drop)
    }

    /// Renames `from` to `to`, both in this directory; whatever `to` was
    /// (file or symlink) is replaced, not followed.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let (f, t) = (single(from)?, single(to)?);
        let fd = self.fd.as_raw_fd();
        // SAFETY: the descriptor is open and both names NUL-terminated.
        check(unsafe { libc::renameat(fd, f.as_ptr(), fd, t.as_ptr()) }).map(drop)
    }

    /// Makes `to` in `to_dir` a new hard link to `name` in this directory.
    /// `name` is never followed: a symlink there gets linked itself.
    pub fn hard_link(&self, name: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        let (from, to) = (single(name)?, single(to)?);
        // SAFETY: both descriptors are open and both names NUL-terminated;
        // flags 0 (no AT_SYMLINK_FOLLOW) never follows `from`.
        check(unsafe {
            libc::linkat(self.fd.as_raw_fd(), from.as_ptr(), to_dir.fd.as_raw_fd(), to.as_ptr(), 0)
        })
        .map(drop)
    }

    /// Changes the owner of `name` itself, never what it points to.
    pub fn lchown(&self, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
        let c = single(name)?;
        // SAFETY: the descriptor is open and `c` is NUL-terminated.
        check(unsafe {
            libc::fchownat(self.fd.as_raw_fd(), c.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW)
        })
        .map(drop)
    }

    /// Bytes an unprivileged user could still write on the directory's
    /// filesystem (`fstatvfs`: available blocks times fragment size).
    pub fn available_bytes(&self) -> io::Result<u64> {
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: the descriptor is open and `st` a valid out-pointer,
        // initialised when fstatvfs returns 0.
        check(unsafe { libc::fstatvfs(self.fd.as_raw_fd(), st.as_mut_ptr()) })?;
        // SAFETY: fstatvfs returned 0.
        let st = unsafe { st.assume_init() };
        // The field types differ between targets (u32 or u64).
        #[allow(clippy::useless_conversion)]
        Ok(u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
    }

    /// Flushes the whole filesystem the directory is on.
    pub fn syncfs(&self) -> io::Result<()> {
        tether_os::fs::syncfs(&self.fd)
    }
}

impl AsRawFd for Dir {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// `fstat` of an open file or directory.
pub(crate) fn fstat(fd: &impl AsRawFd) -> io::Result<Stat> {
    fstat_fd(fd.as_raw_fd())
}

/// Owner, then mode (chown clears setuid bits), then mtime, all on the
/// open descriptor: nothing is looked up by name.
pub(crate) fn set_metadata(
    fd: &impl AsRawFd,
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: Option<Time>,
) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    let now = fstat_fd(fd)?;
    if now.uid != uid || now.gid != gid {
        // SAFETY: `fd` is an open descriptor.
        check(unsafe { libc::fchown(fd, uid, gid) })?;
    }
    // SAFETY: `fd` is an open descriptor.
    check(unsafe { libc::fchmod(fd, mode as libc::mode_t) })?;
    if let Some(mtime) = mtime {
        let times = [
            libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
            libc::timespec {
                tv_sec: mtime.secs as libc::time_t,
                tv_nsec: mtime.nanos as libc::c_long,
            },
        ];
        // SAFETY: `fd` is open and `times` holds the two timespecs futimens
        // reads.
        check(unsafe { libc::futimens(fd, times.as_ptr()) })?;
    }
    Ok(())
}
