//! Filesystem usage as `df` reports it, from statvfs(3).

/// One filesystem's space and inodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FsUsage {
    /// Bytes in use: all blocks minus the free ones (root's reserve is
    /// free, not used, as `df` counts it).
    pub used: u64,
    /// Bytes an unprivileged user can still write.
    pub available: u64,
    /// Share of inodes in use, when the filesystem has inodes.
    pub inodes_used_percent: Option<f64>,
}

/// The usage of the filesystem mounted at `mount`.
pub(crate) fn usage(mount: &str) -> Option<FsUsage> {
    let path = std::ffi::CString::new(mount).ok()?;
    // SAFETY: statvfs is plain old data; all-zero is a valid value for it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `st` a properly sized out-parameter.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let unit = st.f_frsize as u64;
    let blocks = st.f_blocks as u64;
    let free = (st.f_bfree as u64).min(blocks);
    let inodes_used_percent = (st.f_files > 0)
        .then(|| (st.f_files - st.f_ffree.min(st.f_files)) as f64 * 100.0 / st.f_files as f64);
    Some(FsUsage {
        used: (blocks - free).saturating_mul(unit),
        available: (st.f_bavail as u64).saturating_mul(unit),
        inodes_used_percent,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_root_filesystem_adds_up() {
        let u = super::usage("/").expect("/ is mounted");
        assert!(u.used > 0);
        assert!(super::usage("/no/such/mount").is_none());
    }
}
