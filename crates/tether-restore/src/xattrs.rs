//! Extended attributes as a point records them: every namespace root can
//! read (`user.`, `trusted.`, `security.` with `security.capability`, and
//! `system.posix_acl_access` / `system.posix_acl_default`, which *are* the
//! file's access and default ACLs, so restoring them as raw attributes
//! restores both ACLs exactly).
//!
//! Read and written only on open descriptors (see `dirfd::xattr`). Sizes
//! are bounded: a value over [`MAX_VALUE`], more than [`MAX_COUNT`]
//! attributes on one entry, or more than [`MAX_POINT_BYTES`] in a whole
//! point are not recorded; each such attribute is named in the point's
//! `skipped` list and in the entry's `left`, and a rollback leaves it as
//! it is rather than removing it. Symlinks' attributes are not recorded
//! (Linux allows only `trusted.` and `security.` ones on them, and there
//! is no call that reads them through a descriptor).

#![forbid(unsafe_code)]

use std::io;

use crate::dirfd::{Descriptor, errno, xattr};
use crate::manifest::{Xattr, Xattrs};

/// The largest value recorded. POSIX ACLs of ~2,000 entries, capabilities
/// (20 bytes) and SELinux labels fit many times over.
pub const MAX_VALUE: usize = 16 * 1024;
/// The most attributes recorded for one entry.
pub const MAX_COUNT: usize = 64;
/// The most attribute bytes recorded in one point: a user can give each
/// of their files up to 64 KiB of `user.` attributes, which must not make
/// a manifest grow without bound.
pub const MAX_POINT_BYTES: u64 = 64 * 1024 * 1024;

/// What one scan has recorded so far, against [`MAX_POINT_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct Budget {
    used: u64,
}

impl Budget {
    /// Counts attributes reused from an earlier point.
    pub(crate) fn charge(&mut self, reused: &Xattrs) {
        self.used += reused.attrs.iter().map(|a| a.value.len() as u64).sum::<u64>();
    }
}

/// Reads the attributes of the open file or directory `fd` (at `path`,
/// for messages). What is left out is told in `skipped`; `None` if the
/// attributes cannot be listed at all (a rollback then leaves them).
pub(crate) fn read(
    fd: &impl Descriptor,
    path: &str,
    budget: &mut Budget,
    skipped: &mut Vec<String>,
) -> Option<Xattrs> {
    let names = match xattr::list(fd) {
        Ok(names) => names,
        Err(e) => {
            skipped.push(format!("{path}: extended attributes not recorded: {e}"));
            return None;
        }
    };
    let (mut attrs, mut left) = (Vec::new(), Vec::new());
    for raw in names {
        let Ok(name) = String::from_utf8(raw) else {
            // Never removed by a rollback either (only UTF-8 names are).
            skipped.push(format!(
                "{path}: an extended attribute whose name is not UTF-8, not recorded"
            ));
            continue;
        };
        let mut leave = |why: String| {
            skipped.push(format!("{path}: extended attribute {name} {why}; left as it is"));
            left.push(name.clone());
        };
        if attrs.len() >= MAX_COUNT {
            leave(format!("not recorded: more than {MAX_COUNT} on one entry"));
            continue;
        }
        let value = match xattr::name(name.as_bytes()).and_then(|c| xattr::get(fd, &c)) {
            // Removed since it was listed.
            Err(e) if e.raw_os_error() == Some(errno::ENODATA) => continue,
            Err(e) => {
                leave(format!("not recorded: {e}"));
                continue;
            }
            Ok(value) => value,
        };
        if value.len() > MAX_VALUE {
            leave(format!("not recorded: {} bytes, over the limit of {MAX_VALUE}", value.len()));
            continue;
        }
        if budget.used + value.len() as u64 > MAX_POINT_BYTES {
            leave(format!("not recorded: the point holds {MAX_POINT_BYTES} bytes of attributes"));
            continue;
        }
        budget.used += value.len() as u64;
        attrs.push(Xattr { name, value });
    }
    attrs.sort_by(|a: &Xattr, b| a.name.cmp(&b.name));
    left.sort();
    Some(Xattrs { attrs, left })
}

/// Gives the open file or directory `fd` exactly the attributes `want`
/// records: those not recorded are removed (except the ones `want.left`
/// names), the others set where they differ. Must run after `fchown`
/// (which clears `security.capability`) and `fchmod` (which rewrites the
/// ACL mask). `None` (a point taken before attributes were recorded)
/// changes nothing.
pub(crate) fn restore(fd: &impl Descriptor, want: Option<&Xattrs>) -> io::Result<()> {
    let Some(want) = want else { return Ok(()) };
    let live = xattr::list(fd)?;
    for raw in &live {
        let Ok(name) = std::str::from_utf8(raw) else { continue };
        let kept = want.attrs.iter().any(|a| a.name == name) || want.left.iter().any(|l| l == name);
        if !kept {
            xattr::remove(fd, &xattr::name(raw)?)?;
        }
    }
    for attr in &want.attrs {
        let c = xattr::name(attr.name.as_bytes())?;
        let present = live.iter().any(|n| n == attr.name.as_bytes());
        if !(present && xattr::get(fd, &c).is_ok_and(|v| v == attr.value)) {
            xattr::set(fd, &c, &attr.value)?;
        }
    }
    Ok(())
}

// Unix only: Windows keeps no extended attributes.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn oversized_values_are_left_and_reported() {
        // tmpfs takes values up to the kernel's 64 KiB; ext4 only up to
        // a block.
        let file = tempfile::NamedTempFile::new_in("/dev/shm").unwrap();
        let big = vec![7u8; MAX_VALUE + 1];
        let small = b"ok".to_vec();
        for (name, value) in [("user.big", &big), ("user.small", &small)] {
            xattr::set(file.as_file(), &xattr::name(name.as_bytes()).unwrap(), value).unwrap();
        }
        let mut skipped = Vec::new();
        let got = read(file.as_file(), "/f", &mut Budget::default(), &mut skipped).unwrap();
        assert_eq!(got.attrs, [Xattr { name: "user.small".into(), value: small }]);
        assert_eq!(got.left, ["user.big"]);
        assert!(skipped[0].contains("user.big") && skipped[0].contains("over the limit"));
        // A rollback to it keeps the big one and removes one added since.
        let added = xattr::name(b"user.added").unwrap();
        xattr::set(file.as_file(), &added, b"x").unwrap();
        restore(file.as_file(), Some(&got)).unwrap();
        let mut names = xattr::list(file.as_file()).unwrap();
        names.sort();
        assert_eq!(names, [b"user.big".to_vec(), b"user.small".to_vec()]);
    }

    #[test]
    fn attributes_beyond_the_count_limit_are_left_and_reported() {
        let file = tempfile::NamedTempFile::new().unwrap();
        for i in 0..=MAX_COUNT {
            let name = xattr::name(format!("user.a{i:03}").as_bytes()).unwrap();
            xattr::set(file.as_file(), &name, b"v").unwrap();
        }
        let mut skipped = Vec::new();
        let got = read(file.as_file(), "/f", &mut Budget::default(), &mut skipped).unwrap();
        assert_eq!(got.attrs.len(), MAX_COUNT);
        assert_eq!(got.left.len(), 1);
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].contains(&format!("more than {MAX_COUNT}")), "{skipped:?}");
    }
}
