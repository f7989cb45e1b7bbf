//! Filesystem usage as `df` reports it, from statvfs(3) through
//! `tether_os::fs`.

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

/// The usage of the filesystem mounted at `mount`, or `None` when it
/// cannot be read (gone, or not ours to see).
pub(crate) fn usage(mount: &str) -> Option<FsUsage> {
    let st = tether_os::fs::statvfs(std::path::Path::new(mount)).ok()?;
    let free = st.blocks_free.min(st.blocks);
    let inodes_used_percent = (st.inodes > 0)
        .then(|| (st.inodes - st.inodes_free.min(st.inodes)) as f64 * 100.0 / st.inodes as f64);
    Some(FsUsage {
        used: (st.blocks - free).saturating_mul(st.block_size),
        available: st.blocks_available.saturating_mul(st.block_size),
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
