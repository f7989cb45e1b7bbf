//! Space estimates: before a point and before a rollback, what the
//! operation will write, compared with what the filesystem has free, so
//! that a full disk is refused up front instead of met half-way.
//!
//! Estimates are upper bounds: a point counts every file whose content it
//! may have to store at its full (allocated) size, as if nothing
//! compressed or deduplicated; a rollback counts every file it writes,
//! all of whose temporaries exist at once before the commit.

#![forbid(unsafe_code)]

use std::path::Path;

use crate::dirfd::Dir;
use crate::error::{IoContext, RestoreError};
use crate::manifest::Entry;
use crate::rollback::Op;
use crate::tree::Anchors;

/// Room kept beyond the estimate: journals, manifests, directory and
/// metadata blocks. Small, so that small filesystems stay usable.
pub(crate) const MARGIN: u64 = 256 * 1024;
/// Files take whole blocks.
const BLOCK: u64 = 4096;

/// The bytes `entry`'s content takes written out: what was allocated for
/// a sparse file, its length otherwise, in whole blocks.
pub(crate) fn footprint(entry: &Entry) -> u64 {
    entry.allocated.unwrap_or(entry.size).div_ceil(BLOCK).saturating_mul(BLOCK)
}

/// Refuses `what` if `needed` bytes (and [`MARGIN`]) do not fit in what
/// the filesystem of `dir` (at `path`, for the message) has available.
/// An operation that writes nothing is never refused.
pub(crate) fn ensure(
    what: &'static str,
    needed: u64,
    dir: &Dir,
    path: &Path,
) -> Result<(), RestoreError> {
    if needed == 0 {
        return Ok(());
    }
    let available = dir.available_bytes().ctx("inspect the filesystem of", path)?;
    if needed.saturating_add(MARGIN) <= available {
        return Ok(());
    }
    Err(RestoreError::NoSpace {
        what,
        path: path.to_owned(),
        needed: human(needed.saturating_add(MARGIN)),
        available: human(available),
    })
}

/// Refuses a rollback whose files (`Op::PlaceFile`) do not fit on the
/// filesystem of the root they are under, each root checked on its own.
pub(crate) fn ensure_rollback(ops: &[Op], anchors: &Anchors) -> Result<(), RestoreError> {
    for (root, dir) in anchors.filesystems() {
        let dir = dir.ctx("open", Path::new(root))?;
        let under = |path: &str| {
            path == root || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/'))
        };
        let needed = ops
            .iter()
            .filter_map(|op| match op {
                Op::PlaceFile { entry, .. } if under(&entry.path) => Some(footprint(entry)),
                _ => None,
            })
            .sum();
        ensure("the rollback", needed, &dir, Path::new(root))?;
    }
    Ok(())
}

/// Bytes as MiB, one decimal: the scale of what a point or rollback
/// writes and of what a disk has free.
fn human(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(3 << 20), "3.0 MiB");
        assert_eq!(human(5 << 19), "2.5 MiB");
    }
}
