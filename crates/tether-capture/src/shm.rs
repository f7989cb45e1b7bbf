//! The memory the X server writes captured pixels into.
//!
//! MIT-SHM's classic `Attach` takes a SysV segment id, and SysV segments are
//! global objects: anyone who guesses the id and passes the permission check
//! can map the screen (scrap creates them 0777), and a killed process leaks
//! them until reboot or `ipcrm`. MIT-SHM 1.2's `AttachFd` takes a file
//! descriptor instead, so we use an anonymous `memfd`: it has no name in any
//! namespace, only we and the X server hold it, and the kernel frees it when
//! both close it, however the agent dies.
//!
//! The memfd is sealed against shrinking so nobody holding it can make our
//! mapping fault (SIGBUS). We map it read-only; the server maps it writable.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr::NonNull;

/// A shared, read-only mapping of a memfd.
pub(crate) struct Segment {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this value and only read through `&self`;
// moving it to another thread moves that ownership.
unsafe impl Send for Segment {}

impl Segment {
    /// Creates a `len`-byte memfd, maps it, and returns the mapping and the
    /// descriptor to hand to the X server.
    pub fn new(len: usize) -> io::Result<(Segment, OwnedFd)> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty shared-memory segment"));
        }
        let size = libc::off_t::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "segment too large"))?;
        // SAFETY: the name is a valid NUL-terminated string; the returned
        // descriptor is checked before being wrapped (and thus owned) once.
        let fd = unsafe {
            let raw = libc::memfd_create(
                c"tether-capture".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            );
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            OwnedFd::from_raw_fd(raw)
        };
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        // SAFETY: plain syscalls on a descriptor we own.
        unsafe {
            if libc::ftruncate(raw, size) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::fcntl(raw, libc::F_ADD_SEALS, libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: mapping `len` bytes of a file that is `len` bytes long and
        // cannot shrink; the result is checked before use.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, raw, 0)
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null mapping"))?;
        Ok((Segment { ptr, len }, fd))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The first `len` bytes. Call only after the X server has answered the
    /// request that filled them (it does not write at other times).
    pub fn bytes(&self, len: usize) -> &[u8] {
        // SAFETY: the mapping is `self.len` bytes, readable, and lives as
        // long as `self`; `len` is clamped to it.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), len.min(self.len)) }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping created in `new`; no borrow
        // of it can outlive `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_is_zeroed_and_sized() {
        let (seg, _fd) = Segment::new(4096 * 3).expect("memfd");
        assert_eq!(seg.len(), 4096 * 3);
        assert!(seg.bytes(usize::MAX).iter().all(|&b| b == 0));
        assert_eq!(seg.bytes(10).len(), 10);
        assert!(Segment::new(0).is_err());
    }

    #[test]
    fn segment_cannot_be_shrunk() {
        let (_seg, fd) = Segment::new(4096).expect("memfd");
        // SAFETY: plain syscall on a descriptor we own.
        let rc = unsafe { libc::ftruncate(std::os::fd::AsRawFd::as_raw_fd(&fd), 0) };
        assert_ne!(rc, 0, "the shrink seal must refuse truncation");
    }
}
