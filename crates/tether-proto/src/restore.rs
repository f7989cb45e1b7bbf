//! Restore points on the wire: what technicians see of the agent's restore
//! engine. The agent converts the engine's own types into these.

use serde::{Deserialize, Serialize};

/// Longest label a restore point may carry.
pub const MAX_LABEL_LEN: usize = 200;
/// Most paths one reply lists; the counts stay exact beyond it.
pub const MAX_LISTED_PATHS: usize = 20_000;
/// Most bytes of path text one reply carries, well inside the response
/// frame limit whatever the paths' lengths.
pub const MAX_LISTED_BYTES: usize = 4 << 20;
/// Most lines of a point's `skipped` list one reply carries (its count
/// stays exact beyond it).
pub const MAX_SKIPPED_LISTED: usize = 100;
/// Longest `skipped` line carried; longer ones are cut, ending in "…".
/// With [`MAX_SKIPPED_LISTED`], at most 100 KiB per point.
pub const MAX_SKIPPED_LINE: usize = 1024;

/// One restore point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePoint {
    pub id: String,
    pub created_unix: u64,
    pub label: Option<String>,
    /// "manual", "automatic" or "pre-rollback".
    pub kind: String,
    /// Never pruned by retention.
    pub keep: bool,
    pub files: u64,
    pub total_bytes: u64,
    /// Paths under the restore roots the point left out (names that are
    /// not UTF-8, special files, deeper than the depth limit, unreadable,
    /// extended attributes over a limit), one line each with the reason:
    /// the first [`MAX_SKIPPED_LISTED`], each at most [`MAX_SKIPPED_LINE`]
    /// bytes. Empty in lists of points, which carry only the count.
    pub skipped: Vec<String>,
    /// How many lines the point's whole `skipped` list has.
    pub skipped_count: u64,
}

/// One entry of a restore point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreEntry {
    pub path: String,
    /// "file", "dir" or "symlink".
    pub kind: String,
    pub size: u64,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime_unix: i64,
    /// Where a symlink points.
    pub target: Option<String>,
}

/// A restore point with its entries (at most [`MAX_LISTED_PATHS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePointDetail {
    pub point: RestorePoint,
    pub entries: Vec<RestoreEntry>,
    /// Entries left out beyond the listing limit.
    pub more_entries: u64,
}

/// What rolling back to a point would change in the live tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreDiff {
    pub point: String,
    /// Paths whose content or metadata differ.
    pub modified: Vec<String>,
    /// What differs for each of `modified`, same order and length ("content,
    /// mode"; "type", "link target", "owner", "modification time").
    pub modified_what: Vec<String>,
    /// Paths that exist now but not in the point (moved aside by a rollback,
    /// never deleted).
    pub added_since: Vec<String>,
    /// Paths in the point that are gone now (recreated by a rollback).
    pub removed_since: Vec<String>,
    /// Exact counts, even where the lists were cut at [`MAX_LISTED_PATHS`].
    pub modified_count: u64,
    pub added_count: u64,
    pub removed_count: u64,
}

/// What a rollback (or undo) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackOutcome {
    pub point: String,
    /// The point taken just before, which `undo` returns to.
    pub pre_rollback_point: String,
    /// Entries put back as the point had them.
    pub restored: u64,
    /// Entries added since the point, removed from the tree; their content
    /// is kept in the pre-rollback point.
    pub moved_aside: u64,
    /// Added directories left in place because they hold excluded entries.
    pub kept: u64,
    pub unchanged: u64,
    /// The paths changed (`point` is the rollback's target).
    pub changes: RestoreDiff,
}

/// Keeps the leading items of `items` that fit in [`MAX_LISTED_PATHS`]
/// items and what is left of `budget` bytes of path text (`path` gives an
/// item's path), and spends the budget on them. Stops at the first item
/// that does not fit, so what is kept is always a prefix.
pub fn cut<T>(
    items: impl IntoIterator<Item = T>,
    budget: &mut usize,
    path: impl Fn(&T) -> &str,
) -> Vec<T> {
    let mut kept = Vec::new();
    for item in items {
        let len = path(&item).len();
        if kept.len() >= MAX_LISTED_PATHS || len > *budget {
            break;
        }
        *budget -= len;
        kept.push(item);
    }
    kept
}

/// Cuts path lists to [`MAX_LISTED_PATHS`] entries each and
/// [`MAX_LISTED_BYTES`] bytes between them, in order; returns the lists
/// kept.
pub fn cut_lists(lists: [Vec<String>; 3]) -> [Vec<String>; 3] {
    let mut budget = MAX_LISTED_BYTES;
    lists.map(|list| cut(list, &mut budget, |p| p.as_str()))
}

/// The first [`MAX_SKIPPED_LISTED`] of `lines`, each cut to
/// [`MAX_SKIPPED_LINE`] bytes (at a character boundary, ending in "…"),
/// and how many there were in all.
pub fn cut_skipped(lines: Vec<String>) -> (Vec<String>, u64) {
    let count = lines.len() as u64;
    let kept = lines
        .into_iter()
        .take(MAX_SKIPPED_LISTED)
        .map(|mut line| {
            if line.len() > MAX_SKIPPED_LINE {
                let mut end = MAX_SKIPPED_LINE - '…'.len_utf8();
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                line.truncate(end);
                line.push('…');
            }
            line
        })
        .collect();
    (kept, count)
}

/// The store's integrity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyOutcome {
    pub points: u64,
    pub blobs: u64,
    /// Stored contents no point refers to any more (harmless).
    pub unreferenced: u64,
    /// One line per problem; empty when the store is sound.
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_cut_by_count_and_bytes() {
        let many: Vec<String> = (0..MAX_LISTED_PATHS + 5).map(|i| format!("/p{i}")).collect();
        let [a, b, c] = cut_lists([many, vec!["/x".into()], vec![]]);
        assert_eq!(a.len(), MAX_LISTED_PATHS);
        assert_eq!(b, ["/x"]);
        assert!(c.is_empty());
        let long = "/".to_owned() + &"x".repeat(4000);
        let [a, b, _] = cut_lists([vec![long.clone(); 2000], vec![long; 10], vec![]]);
        let bytes: usize = a.iter().chain(&b).map(String::len).sum();
        assert!(
            bytes <= MAX_LISTED_BYTES && a.len() == MAX_LISTED_BYTES / 4001,
            "{} {}",
            a.len(),
            b.len()
        );
        assert!(b.is_empty());
    }

    #[test]
    fn skipped_lines_are_cut_by_count_and_length_and_counted() {
        let mut lines: Vec<String> =
            (0..MAX_SKIPPED_LISTED + 7).map(|i| format!("/p{i}")).collect();
        lines[0] = "é".repeat(MAX_SKIPPED_LINE);
        let (kept, count) = cut_skipped(lines);
        assert_eq!(count, (MAX_SKIPPED_LISTED + 7) as u64);
        assert_eq!(kept.len(), MAX_SKIPPED_LISTED);
        assert!(kept[0].len() <= MAX_SKIPPED_LINE && kept[0].ends_with('…'), "{}", kept[0].len());
        assert_eq!(kept[1], "/p1");
    }
}
