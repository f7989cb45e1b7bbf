//! Comparing a point with the live tree: pure functions over sorted entry
//! lists, shared by `diff` (reporting) and `rollback` (planning).

#![forbid(unsafe_code)]

use std::cmp::Ordering;

use crate::manifest::Entry;

/// What differs between a point and the live tree.
#[derive(Debug, Default)]
pub(crate) struct Changes<'a> {
    /// (as in the point, as now): content, kind or metadata differ.
    pub modified: Vec<(&'a Entry, &'a Entry)>,
    /// Present now, not in the point.
    pub added: Vec<&'a Entry>,
    /// In the point, gone now.
    pub removed: Vec<&'a Entry>,
    pub unchanged: usize,
}

/// Compares two lists sorted by path.
pub(crate) fn compare<'a>(point: &'a [Entry], live: &'a [Entry]) -> Changes<'a> {
    let mut changes = Changes::default();
    let (mut i, mut j) = (0, 0);
    while i < point.len() || j < live.len() {
        let order = match (point.get(i), live.get(j)) {
            (Some(p), Some(l)) => p.path.cmp(&l.path),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                changes.removed.push(&point[i]);
                i += 1;
            }
            Ordering::Greater => {
                changes.added.push(&live[j]);
                j += 1;
            }
            Ordering::Equal => {
                let (p, l) = (&point[i], &live[j]);
                if p.same_content(l) && p.same_metadata(l) {
                    changes.unchanged += 1;
                } else {
                    changes.modified.push((p, l));
                }
                i += 1;
                j += 1;
            }
        }
    }
    changes
}

/// A dry run of a rollback: what it would change, by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diff {
    /// Content, kind or metadata differ.
    pub modified: Vec<String>,
    /// For each of `modified`, in the same order, what differs ("content,
    /// mode"; see `Entry::differences`). Empty in reports written before
    /// it existed.
    #[serde(default)]
    pub modified_what: Vec<String>,
    /// Exist now but not in the point: a rollback moves them aside.
    pub added_since: Vec<String>,
    /// In the point but gone now: a rollback recreates them.
    pub removed_since: Vec<String>,
    pub unchanged: u64,
}

impl Diff {
    pub(crate) fn of(changes: &Changes<'_>) -> Diff {
        Diff {
            modified: changes.modified.iter().map(|(p, _)| p.path.clone()).collect(),
            modified_what: changes
                .modified
                .iter()
                .map(|(p, l)| p.differences(l).join(", "))
                .collect(),
            added_since: changes.added.iter().map(|e| e.path.clone()).collect(),
            removed_since: changes.removed.iter().map(|e| e.path.clone()).collect(),
            unchanged: changes.unchanged as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.modified.is_empty() && self.added_since.is_empty() && self.removed_since.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{EntryKind, Probe, Time};

    fn file(path: &str, hash: &str, mode: u32) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File,
            mode,
            uid: 0,
            gid: 0,
            mtime: Time { secs: 1, nanos: 0 },
            size: 1,
            hash: Some(hash.into()),
            target: None,
            probe: Probe { dev: 1, ino: 1, ctime: Time { secs: 1, nanos: 0 } },
            xattrs: None,
            links_to: None,
            allocated: None,
            chunks: None,
        }
    }

    fn dir(path: &str, mtime: i64) -> Entry {
        Entry {
            kind: EntryKind::Dir,
            hash: None,
            size: 0,
            mtime: Time { secs: mtime, nanos: 0 },
            ..file(path, "", 0o755)
        }
    }

    #[test]
    fn compare_sorts_paths_into_changes() {
        let point = vec![
            dir("/r", 1),
            file("/r/a", "1", 0o644),
            file("/r/b", "2", 0o644),
            file("/r/c", "3", 0o644),
        ];
        let live = vec![
            dir("/r", 9),
            file("/r/a", "1", 0o600),
            file("/r/c", "3", 0o644),
            file("/r/d", "4", 0o644),
        ];
        let changes = compare(&point, &live);
        let diff = Diff::of(&changes);
        assert_eq!(diff.modified, ["/r/a"], "mode change; a directory's mtime alone is no change");
        assert_eq!(diff.removed_since, ["/r/b"]);
        assert_eq!(diff.added_since, ["/r/d"]);
        assert_eq!(diff.unchanged, 2);
    }

    #[test]
    fn kind_and_content_changes_are_modifications() {
        let point = vec![file("/r", "1", 0o644), file("/s", "1", 0o644)];
        let live = vec![dir("/r", 1), file("/s", "2", 0o644)];
        assert_eq!(Diff::of(&compare(&point, &live)).modified, ["/r", "/s"]);
        assert!(Diff::of(&compare(&point, &point)).is_empty());
    }
}
