//! Extended attributes (POSIX ACLs included: `system.posix_acl_access`
//! and `system.posix_acl_default`) read and written on open descriptors
//! only (`flistxattr`, `fgetxattr`, `fsetxattr`, `fremovexattr`), so no
//! name is looked up and no symlink followed.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::AsRawFd;

use super::check;

/// The largest value or name list asked for: the kernel's own limit
/// (`XATTR_SIZE_MAX`, `XATTR_LIST_MAX`).
const KERNEL_MAX: usize = 64 * 1024;

/// True for "this filesystem keeps no extended attributes".
pub(crate) fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTSUP))
}

/// Calls `op(buf, len)` (a get or list returning a length), first with no
/// buffer to learn the size, then with one that size; retries if the
/// attribute grew in between.
fn sized(mut op: impl FnMut(*mut libc::c_void, usize) -> isize) -> io::Result<Vec<u8>> {
    for _ in 0..8 {
        let need = op(std::ptr::null_mut(), 0);
        if need < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; (need as usize).min(KERNEL_MAX)];
        if buf.is_empty() {
            return Ok(buf);
        }
        let got = op(buf.as_mut_ptr().cast(), buf.len());
        if got >= 0 {
            buf.truncate(got as usize);
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) {
            return Err(e);
        }
    }
    Err(io::Error::from_raw_os_error(libc::ERANGE))
}

/// Names of every extended attribute of the open file `fd` that this
/// process may see (all namespaces for root); empty on a filesystem
/// without extended attributes.
pub(crate) fn list(fd: &impl AsRawFd) -> io::Result<Vec<Vec<u8>>> {
    let fd = fd.as_raw_fd();
    // SAFETY: `fd` is an open descriptor and `buf` is writable for `len`
    // bytes (or null with `len` 0, which asks for the size).
    let listed = sized(|buf, len| unsafe { libc::flistxattr(fd, buf.cast(), len) });
    match listed {
        Err(e) if unsupported(&e) => Ok(Vec::new()),
        Err(e) => Err(e),
        Ok(raw) => {
            Ok(raw.split(|b| *b == 0).filter(|n| !n.is_empty()).map(<[u8]>::to_vec).collect())
        }
    }
}

/// The value of attribute `name` of `fd`.
pub(crate) fn get(fd: &impl AsRawFd, name: &CStr) -> io::Result<Vec<u8>> {
    let fd = fd.as_raw_fd();
    // SAFETY: `fd` is open, `name` NUL-terminated, and `buf` writable for
    // `len` bytes (or null with `len` 0, which asks for the size).
    sized(|buf, len| unsafe { libc::fgetxattr(fd, name.as_ptr(), buf, len) })
}

/// Sets attribute `name` of `fd` to `value`, creating or replacing it.
pub(crate) fn set(fd: &impl AsRawFd, name: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: the descriptor is open, `name` NUL-terminated, and `value`
    // readable for the length passed.
    check(unsafe {
        libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), value.as_ptr().cast(), value.len(), 0)
    })
    .map(drop)
}

/// Removes attribute `name` of `fd`; one already gone is not an error.
pub(crate) fn remove(fd: &impl AsRawFd, name: &CStr) -> io::Result<()> {
    // SAFETY: the descriptor is open and `name` NUL-terminated.
    match check(unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) }) {
        Err(e) if e.raw_os_error() == Some(libc::ENODATA) => Ok(()),
        other => other.map(drop),
    }
}

/// An attribute name as the C string the calls take.
pub(crate) fn name(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, "attribute name contains a NUL byte")
    })
}
