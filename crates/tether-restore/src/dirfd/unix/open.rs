//! Opening what is inside a restored tree: directories beneath a trusted
//! one through no symlink and no mount point (`openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV`, or one
//! `openat(O_NOFOLLOW)` per component with a device check), regular files
//! without blocking, new files that cannot exist already.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Dir, Kind, Stat, check, cstr, fstat_fd, own, single};

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
    /// one, following no symlink and crossing no mount point on the way
    /// (ELOOP, EXDEV); `rel` empty is this one.
    pub fn open_beneath(&self, rel: &str) -> io::Result<Dir> {
        if rel.is_empty() {
            return self.try_clone();
        }
        for part in rel.split('/') {
            single(OsStr::new(part))?;
        }
        if OPENAT2.load(Ordering::Relaxed) {
            match self.openat2(rel, DIR_FLAGS, 0) {
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    // No openat2 here (old kernel, or a seccomp filter that
                    // refuses it): the per-component walk is as safe.
                    OPENAT2.store(false, Ordering::Relaxed);
                }
                // Longer than PATH_MAX (a very deep tree): walk it. And
                // ENOTDIR: a file, or a symlink as the last component;
                // the walk tells which.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENAMETOOLONG | libc::ENOTDIR)) => {}
                other => return other.map(|fd| Dir { fd }),
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

    /// openat2 beneath this directory, through no symlink and no mount
    /// point.
    fn openat2(&self, rel: &str, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
        let c = cstr(OsStr::new(rel))?;
        let how = OpenHow {
            flags: flags as u64,
            mode: mode as u64,
            resolve: libc::RESOLVE_BENEATH
                | libc::RESOLVE_NO_SYMLINKS
                | libc::RESOLVE_NO_MAGICLINKS
                | libc::RESOLVE_NO_XDEV,
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
                return Ok(own(rc as libc::c_int));
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EAGAIN) {
                return Err(e);
            }
        }
        Err(io::Error::from_raw_os_error(libc::EAGAIN))
    }

    /// Opens `name` in this directory, never following a symlink there
    /// (ELOOP) nor a mount on it (EXDEV: a mount point, or a file bind
    /// mounted there). Without openat2, a mount of another filesystem is
    /// told by its device number; a bind mount within this filesystem
    /// then passes, as it would for any hard link.
    fn open_here(&self, name: &OsStr, flags: libc::c_int) -> io::Result<OwnedFd> {
        if OPENAT2.load(Ordering::Relaxed) {
            single(name)?;
            let utf8 = name.to_str();
            match utf8.map(|n| self.openat2(n, flags, 0)) {
                Some(Err(e)) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                    OPENAT2.store(false, Ordering::Relaxed);
                }
                Some(other) => return other,
                // Names that are not UTF-8 are never recorded, so never
                // opened for a rollback; open them the other way.
                None => {}
            }
        }
        let fd = self.openat(name, flags | libc::O_NOFOLLOW, 0)?;
        if fstat_fd(fd.as_raw_fd())?.dev != self.stat()?.dev {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        Ok(fd)
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

    /// Opens the child directory `name` on this directory's filesystem; a
    /// symlink (ELOOP), a mount point (EXDEV) or anything else (ENOTDIR)
    /// there is an error.
    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        Ok(Dir { fd: self.open_here(name, DIR_FLAGS)? })
    }

    /// Opens the child directory `name`, which may be a mount point (a
    /// configured root, or a directory on the way to one): never a
    /// symlink.
    pub fn open_dir_or_mount(&self, name: &OsStr) -> io::Result<Dir> {
        Ok(Dir { fd: self.openat(name, DIR_FLAGS, 0)? })
    }

    /// Opens `name` for reading if it is a regular file: `Ok(None)` for a
    /// symlink, directory, FIFO, socket or device (never followed, never
    /// blocks); EXDEV for a file mounted there.
    pub fn open_file(&self, name: &OsStr) -> io::Result<Option<(File, Stat)>> {
        let fd = match self.open_here(name, READ_FLAGS) {
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

    #[test]
    fn mount_points_are_crossed_only_when_asked_with_either_walk() {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("a/m");
        std::fs::create_dir_all(&mnt).unwrap();
        let mount = |args: &[&str]| std::process::Command::new(args[0]).args(&args[1..]).status();
        let mounted = mount(&["mount", "-t", "tmpfs", "tmpfs", mnt.to_str().unwrap()]).unwrap();
        assert!(mounted.success(), "mounting a tmpfs needs root");
        std::fs::create_dir(mnt.join("d")).unwrap();
        std::fs::write(mnt.join("f"), b"theirs").unwrap();
        let top = Dir::open_trusted(dir.path()).unwrap();
        let a = top.open_beneath("a").unwrap();
        let exdev = |r: io::Result<Dir>| r.unwrap_err().raw_os_error() == Some(libc::EXDEV);
        let checks = |when: &str| {
            assert!(exdev(top.open_beneath("a/m")), "{when}: crossed");
            assert!(exdev(top.open_beneath("a/m/d")), "{when}: crossed");
            assert!(exdev(a.open_dir(OsStr::new("m"))), "{when}: crossed");
            let m = a.open_dir_or_mount(OsStr::new("m")).expect("asked to cross");
            assert!(m.open_file(OsStr::new("f")).unwrap().is_some(), "{when}: same filesystem");
            assert!(m.open_dir(OsStr::new("d")).is_ok(), "{when}: same filesystem");
        };
        checks("openat2");
        force_openat_fallback();
        checks("fallback");
        mount(&["umount", "-l", mnt.to_str().unwrap()]).unwrap();
    }
}
