//! Filesystem calls std lacks: space and inode counts (`statvfs`),
//! flushing a whole filesystem at once (`syncfs`), and named pipes
//! (`make_fifo`). Only `statvfs` exists on Windows (space only, from
//! `GetDiskFreeSpaceExW`; no inodes).

#[cfg(unix)]
use std::ffi::CString;
#[cfg(target_os = "linux")]
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

/// Why a filesystem call failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The path holds a NUL byte, which no system call can take.
    #[error("{0:?} contains a NUL byte")]
    NulInPath(std::path::PathBuf),
    /// The system call failed.
    #[error("{call} {path:?}: {source}")]
    Os {
        call: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A filesystem's size and what is free, as `statvfs(3)` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    /// The unit the block counts are in (`f_frsize`), in bytes.
    pub block_size: u64,
    /// Blocks in the filesystem.
    pub blocks: u64,
    /// Free blocks, root's reserve included.
    pub blocks_free: u64,
    /// Free blocks an unprivileged user may use.
    pub blocks_available: u64,
    /// Inodes in the filesystem; 0 where it has no fixed inode table.
    pub inodes: u64,
    /// Free inodes.
    pub inodes_free: u64,
}

/// The statistics of the filesystem holding `path`.
#[cfg(unix)]
pub fn statvfs(path: &Path) -> Result<FsStats, FsError> {
    let c_path = c_path(path)?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call,
    // and `st` is a properly sized and aligned out-parameter.
    if unsafe { libc::statvfs(c_path.as_ptr(), st.as_mut_ptr()) } != 0 {
        let source = std::io::Error::last_os_error();
        return Err(FsError::Os { call: "statvfs", path: path.to_owned(), source });
    }
    // SAFETY: statvfs returned 0, so it filled in the whole struct.
    let st = unsafe { st.assume_init() };
    // The field types differ between systems (u32 or u64); widening is exact.
    #[allow(clippy::useless_conversion)]
    Ok(FsStats {
        block_size: u64::from(st.f_frsize),
        blocks: u64::from(st.f_blocks),
        blocks_free: u64::from(st.f_bfree),
        blocks_available: u64::from(st.f_bavail),
        inodes: u64::from(st.f_files),
        inodes_free: u64::from(st.f_ffree),
    })
}

/// The space of the volume holding `path`, in bytes (`block_size` 1).
/// NTFS has no inode limit: `inodes` and `inodes_free` are 0.
#[cfg(windows)]
pub fn statvfs(path: &Path) -> Result<FsStats, FsError> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    if wide[..wide.len() - 1].contains(&0) {
        return Err(FsError::NulInPath(path.to_owned()));
    }
    let (mut available, mut total, mut free) = (0u64, 0u64, 0u64);
    // SAFETY: `wide` is NUL-terminated and outlives the call; the three
    // out-pointers are valid, writable u64s.
    let ok = unsafe { GetDiskFreeSpaceExW(wide.as_ptr(), &mut available, &mut total, &mut free) };
    if ok == 0 {
        let source = std::io::Error::last_os_error();
        return Err(FsError::Os { call: "GetDiskFreeSpaceExW", path: path.to_owned(), source });
    }
    Ok(FsStats {
        block_size: 1,
        blocks: total,
        blocks_free: free,
        blocks_available: available,
        inodes: 0,
        inodes_free: 0,
    })
}

/// Creates a named pipe (FIFO) at `path` with permission bits `mode`
/// (less the umask), without forking a `mkfifo` process.
#[cfg(unix)]
pub fn make_fifo(path: &Path, mode: u32) -> Result<(), FsError> {
    let c_path = c_path(path)?;
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call;
    // mkfifo reads nothing else of ours.
    if unsafe { libc::mkfifo(c_path.as_ptr(), mode as libc::mode_t) } != 0 {
        let source = std::io::Error::last_os_error();
        return Err(FsError::Os { call: "mkfifo", path: path.to_owned(), source });
    }
    Ok(())
}

#[cfg(unix)]
fn c_path(path: &Path) -> Result<CString, FsError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| FsError::NulInPath(path.to_owned()))
}

/// Flushes everything written to the filesystem holding `file` to stable
/// storage: one call instead of an `fsync` per file written.
#[cfg(target_os = "linux")]
pub fn syncfs(file: impl AsFd) -> std::io::Result<()> {
    let fd = file.as_fd();
    // SAFETY: `fd` is borrowed, so it stays open for the call; syncfs
    // touches no memory of ours.
    if unsafe { libc::syncfs(fd.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    #[test]
    fn the_system_volume_adds_up() {
        let st = statvfs(Path::new("C:\\")).unwrap();
        assert!(st.block_size == 1 && st.blocks > 0);
        assert!(st.blocks_free <= st.blocks && st.blocks_available <= st.blocks_free);
        assert!(matches!(statvfs(Path::new("C:\\no\0such")), Err(FsError::NulInPath(_))));
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_root_filesystem_adds_up() {
        let st = statvfs(Path::new("/")).unwrap();
        assert!(st.block_size > 0 && st.blocks > 0);
        assert!(st.blocks_free <= st.blocks && st.blocks_available <= st.blocks_free);
    }

    #[test]
    fn a_missing_path_and_a_nul_are_told_apart() {
        match statvfs(Path::new("/no/such/mount")) {
            Err(FsError::Os { call: "statvfs", source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
            }
            other => panic!("expected ENOENT, got {other:?}"),
        }
        use std::os::unix::ffi::OsStrExt;
        let nul = std::ffi::OsStr::from_bytes(b"/tmp/a\0b");
        assert!(matches!(statvfs(Path::new(nul)), Err(FsError::NulInPath(_))));
    }

    #[test]
    fn a_fifo_is_made_once() {
        use std::os::unix::fs::FileTypeExt;
        let path = std::env::temp_dir().join(format!("tether-os-fifo-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        make_fifo(&path, 0o600).unwrap();
        let made = std::fs::symlink_metadata(&path).unwrap().file_type().is_fifo();
        let again = make_fifo(&path, 0o600);
        std::fs::remove_file(&path).unwrap();
        assert!(made, "{} is not a FIFO", path.display());
        match again {
            Err(FsError::Os { call: "mkfifo", source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists)
            }
            other => panic!("expected EEXIST, got {other:?}"),
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn syncfs_takes_a_directory_or_a_file() {
        let dir = std::env::temp_dir();
        syncfs(std::fs::File::open(&dir).unwrap()).unwrap();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        syncfs(&file).unwrap();
    }
}
