//! Files that hold ticket text (the SQLite store, an export) must be ours
//! alone: another user's file or directory at the path, or one others may
//! read or write, would take or leak what technicians write about people.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

/// This process's effective user id, from `/proc/self/status` (the crate
/// has no unsafe code, so no `geteuid`).
pub fn effective_uid() -> std::io::Result<u32> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
        .ok_or_else(|| std::io::Error::other("/proc/self/status has no effective uid"))
}

/// Why `meta` (from `lstat` or `fstat`) is not ours alone: not owned by
/// `me`, or with any of the mode bits in `forbidden` set (0o077 for a file
/// only we read, 0o022 for a directory only we write).
pub fn not_ours(meta: &Metadata, me: u32, forbidden: u32) -> Option<String> {
    if meta.uid() != me {
        return Some(format!("it belongs to user {}, not to you", meta.uid()));
    }
    let mode = meta.mode() & 0o777;
    if mode & forbidden != 0 {
        let wanted = mode & !forbidden;
        return Some(format!("others may use it (mode {mode:o}); run: chmod {wanted:o} on it"));
    }
    None
}
