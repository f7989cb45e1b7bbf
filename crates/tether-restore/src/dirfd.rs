//! Directory file descriptors: the only module with `unsafe` (besides the
//! store's `syncfs`). Every operation on a restored tree goes through a
//! [`Dir`] and a single name inside it, so a local user who can write in
//! the tree (a home directory) cannot redirect root's writes, removals,
//! ownership or mode changes, or reads, to anything outside it by swapping
//! a directory for a symlink at the right instant:
//!
//! - directories are reached from a trusted parent with `openat2`
//!   (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`), or,
//!   on kernels without it, one `openat(O_NOFOLLOW | O_DIRECTORY)` per
//!   component;
//! - the last component is acted on with `*at` calls that never follow it
//!   (`unlinkat`, `renameat`, `fchownat(AT_SYMLINK_NOFOLLOW)`,
//!   `O_NOFOLLOW` opens), and metadata is set on open descriptors
//!   (`fchown`, `fchmod`, `futimens`);
//! - files are opened `O_NONBLOCK` and `fstat`ed before use, so a FIFO
//!   swapped in neither blocks nor gets read or written;
//! - new files are created `O_CREAT | O_EXCL | O_NOFOLLOW`.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::manifest::Time;

pub(crate) mod xattr;

/// What is at a name, as `lstat` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    /// FIFO, socket or device node: never recorded, read, written or
    /// replaced.
    Special,
}

/// The parts of `struct stat` the engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub kind: Kind,
    /// `st_mode & 0o7777`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: Time,
    pub ctime: Time,
    pub dev: u64,
    pub ino: u64,
    /// Hard links to the inode.
    pub nlink: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
}

fn time_of(secs: i64, nanos: i64) -> Time {
    Time { secs, nanos: nanos.clamp(0, 999_999_999) as u32 }
}

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

/// Flags of every directory open: never follow the last component, never
/// block, never leak into child processes.
const DIR_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
/// Flags of every read open: a FIFO opens at once and is then refused by
/// the `fstat` check; a symlink fails with ELOOP.
const READ_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;

/// `struct open_how` of linux/openat2.h (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Cleared the first time the kernel (or a seccomp filter) refuses openat2.
static OPENAT2: AtomicBool = AtomicBool::new(true);

/// For tests: use the per-component fallback even where openat2 exists.
#[cfg(test)]
fn force_openat_fallback() {
    OPENAT2.store(false, Ordering::Relaxed);
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
}

impl Dir {
    /// Opens a directory by path, following symlinks: only for `/` and in
    /// tests (the roots' parents go through [`crate::tree::open_anchor`]).
    pub fn open_trusted(path: &Path) -> io::Result<Dir> {
        let c = cstr(path.as_os_str())?;
        // SAFETY: `c` is a NUL-terminated string that outlives the call.
        let fd = check(unsafe {
            libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
        })?;
        Ok(Dir { fd: own(fd) })
    }

    /// Opens the directory at `rel` (names separated by `/`) beneath this
    /// one, following no symlink on the way; `rel` empty is this one.
    pub fn open_beneath(&self, rel: &str) -> io::Result<Dir> {
        if rel.is_empty() {
            return self.try_clone();
        }
        for part in rel.split('/') {
            single(OsStr::new(part))?;
        }
        if OPENAT2.load(Ordering::Relaxed) {
            match self.openat2(rel) {
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    // No openat2 here (old kernel, or a seccomp filter that
                    // refuses it): the per-component walk is as safe.
                    OPENAT2.store(false, Ordering::Relaxed);
                }
                // Longer than PATH_MAX (a very deep tree): walk it. And
                // ENOTDIR: a file, or a symlink as the last component;
                // the walk tells which.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENAMETOOLONG | libc::ENOTDIR)) => {}
                other => return other,
            }
        }
        let mut dir = self.try_clone()?;
        for part in rel.split('/') {
            let part = OsStr::new(part);
            dir = match dir.open_dir(part) {
                // O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR:
                // answer ELOOP, as openat2 does, so that callers tell a
                // symlink in the way from a path that is gone.
                Err(e)
                    if e.raw_os_error() == Some(libc::ENOTDIR)
                        && dir.stat_at(part).is_ok_and(|st| st.kind == Kind::Symlink) =>
                {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                other => other?,
            };
        }
        Ok(dir)
    }

    fn openat2(&self, rel: &str) -> io::Result<Dir> {
        let c = cstr(OsStr::new(rel))?;
        let how = OpenHow {
            flags: DIR_FLAGS as u64,
            mode: 0,
            resolve: libc::RESOLVE_BENEATH
                | libc::RESOLVE_NO_SYMLINKS
                | libc::RESOLVE_NO_MAGICLINKS,
        };
        // The kernel answers EAGAIN when a concurrent rename made it unsure
        // the walk stayed beneath; retrying is what the man page advises.
        for _ in 0..16 {
            // SAFETY: the descriptor is open, `c` is NUL-terminated, `how`
            // is a repr(C) open_how whose size is passed alongside.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    self.fd.as_raw_fd(),
                    c.as_ptr(),
                    &how as *const OpenHow,
                    std::mem::size_of::<OpenHow>(),
                )
            };
            if rc >= 0 {
                return Ok(Dir { fd: own(rc as libc::c_int) });
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EAGAIN) {
                return Err(e);
            }
        }
        Err(io::Error::from_raw_os_error(libc::EAGAIN))
    }

    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir { fd: self.fd.try_clone()? })
    }

    fn openat(&self, name: &OsStr, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
        let c = single(name)?;
        // SAFETY: the descriptor is open and `c` is NUL-terminated; the
        // mode argument is read only with O_CREAT.
        let fd = check(unsafe {
            libc::openat(self.fd.as_raw_fd(), c.as_ptr(), flags, mode as libc::c_uint)
        })?;
        Ok(own(fd))
    }

    /// Opens the child directory `name`; a symlink or anything else there
    /// is an error (ELOOP, ENOTDIR).
    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        Ok(Dir { fd: self.openat(name, DIR_FLAGS, 0)? })
    }

    /// Opens `name` for reading if it is a regular file: `Ok(None)` for a
    /// symlink, directory, FIFO, socket or device (never followed, never
    /// blocks).
    pub fn open_file(&self, name: &OsStr) -> io::Result<Option<(File, Stat)>> {
        let fd = match self.openat(name, READ_FLAGS, 0) {
            // ELOOP: a symlink (O_NOFOLLOW); ENXIO: a socket or a device
            // without a driver.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) => {
                return Ok(None);
            }
            other => other?,
        };
        let stat = fstat_fd(fd.as_raw_fd())?;
        Ok((stat.kind == Kind::File).then(|| (File::from(fd), stat)))
    }

    /// Creates a new file (mode `mode`) for writing; fails if anything at
    /// all is at `name`.
    pub fn create_new(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        let flags =
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        Ok(File::from(self.openat(name, flags, mode as libc::mode_t)?))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn beneath_refuses_symlinks_and_dotdot_with_either_walk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        symlink("/etc", dir.path().join("a/l")).unwrap();
        let top = Dir::open_trusted(dir.path()).unwrap();
        assert!(top.open_beneath("a/b").is_ok());
        assert!(top.open_beneath("a/l").is_err(), "symlink followed");
        assert!(top.open_beneath("a/../a").is_err());
        assert!(top.open_beneath("/etc").is_err());
        let names = top.open_beneath("a").unwrap().list().unwrap();
        assert_eq!(names.len(), 2);
        assert_eq!(
            top.open_beneath("a").unwrap().stat_at(OsStr::new("l")).unwrap().kind,
            Kind::Symlink
        );
        assert_eq!(top.open_beneath("a/l").unwrap_err().raw_os_error(), Some(libc::ELOOP));
        force_openat_fallback();
        assert!(top.open_beneath("a/b").is_ok());
        let e = top.open_beneath("a/l").expect_err("symlink followed by the fallback");
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "the fallback answers as openat2");
        assert!(top.open_beneath("a/l/x").is_err());
        assert!(top.open_file(OsStr::new("a")).unwrap().is_none(), "a directory is no file");
    }
}
