//! What a restore point records: one [`Entry`] per path, and a summary.
//!
//! These types are the store's on-disk format (JSON), not the wire format:
//! the agent converts them into `tether_proto::restore` types.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The kinds of filesystem objects a point records. Sockets, FIFOs and
/// device nodes are neither recorded nor ever touched by a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
        }
    }
}

/// A modification time, as stored by the filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Time {
    pub secs: i64,
    pub nanos: u32,
}

/// What identifies an unchanged file without reading it, as git's index
/// does: if device, inode, size, mtime and ctime all match, the content
/// hash recorded last time still holds. ctime cannot be set by user space,
/// so a rewrite that restores the mtime is still noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub dev: u64,
    pub ino: u64,
    pub ctime: Time,
}

/// One recorded path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Absolute path, UTF-8 (paths that are not UTF-8 are skipped, and so
    /// never touched by a rollback either).
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: Time,
    /// Content length for files, 0 otherwise.
    pub size: u64,
    /// BLAKE3 of the content (hex) for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Link target for symlinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub probe: Probe,
    /// Extended attributes and POSIX ACLs (files and directories). `None`
    /// in points taken before they were recorded, or where they could not
    /// be listed: a rollback then leaves the live ones as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xattrs: Option<Xattrs>,
    /// For a file that is a hard link of an earlier one (by path) within
    /// the roots: that one's path. A rollback links it there again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links_to: Option<String>,
    /// For a file with holes (fewer bytes allocated than its length):
    /// the bytes allocated. A rollback writes its zero blocks as holes
    /// again, and estimates the space it needs from this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated: Option<u64>,
    /// For a file stored in content-defined chunks: the chunks' object
    /// names, in order (`hash` is still the whole content's). `None`: the
    /// content is the one object named `hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<String>>,
}

impl Entry {
    /// The stored objects holding this entry's content.
    pub(crate) fn objects(&self) -> impl Iterator<Item = &String> {
        let whole = if self.chunks.is_none() { self.hash.as_ref() } else { None };
        self.chunks.iter().flatten().chain(whole)
    }

    /// Same content: same kind and same bytes (files) or target (symlinks).
    pub fn same_content(&self, other: &Entry) -> bool {
        self.kind == other.kind
            && match self.kind {
                EntryKind::File => {
                    self.size == other.size
                        && self.hash == other.hash
                        && self.links_to == other.links_to
                }
                EntryKind::Symlink => self.target == other.target,
                EntryKind::Dir => true,
            }
    }

    /// Same metadata a rollback restores. Directory and symlink mtimes are
    /// left out: a directory's changes whenever an entry in it does, and
    /// symlink times are not restored. Extended attributes count only if
    /// both sides recorded them.
    pub fn same_metadata(&self, other: &Entry) -> bool {
        let mode = self.kind == EntryKind::Symlink || self.mode == other.mode;
        let mtime = self.kind != EntryKind::File || self.mtime == other.mtime;
        let attrs = xattr_differences(self.xattrs.as_ref(), other.xattrs.as_ref()).is_empty();
        mode && mtime && attrs && self.uid == other.uid && self.gid == other.gid
    }

    /// What differs between this entry (as in a point) and `now` (as it
    /// is), in words a technician reads: "type", "content", "hard links", "link target",
    /// "mode", "owner", "ACL", "extended attributes", "modification time".
    pub fn differences(&self, now: &Entry) -> Vec<&'static str> {
        if self.kind != now.kind {
            return vec!["type"];
        }
        let mut what = Vec::new();
        if !self.same_content(now) {
            what.push(match self.kind {
                EntryKind::Symlink => "link target",
                EntryKind::File if self.hash == now.hash && self.size == now.size => "hard links",
                _ => "content",
            });
        }
        if self.kind != EntryKind::Symlink && self.mode != now.mode {
            what.push("mode");
        }
        if self.uid != now.uid || self.gid != now.gid {
            what.push("owner");
        }
        what.extend(xattr_differences(self.xattrs.as_ref(), now.xattrs.as_ref()));
        if self.kind == EntryKind::File && self.mtime != now.mtime && what.is_empty() {
            what.push("modification time");
        }
        what
    }

    /// True if a file's stat data says its content is as recorded in
    /// `earlier` (same inode, size, mtime and ctime).
    pub fn unchanged_since(&self, earlier: &Entry) -> bool {
        self.kind == EntryKind::File
            && earlier.kind == EntryKind::File
            && self.size == earlier.size
            && self.mtime == earlier.mtime
            && self.probe == earlier.probe
    }
}

/// How a point came to be. Retention prunes automatic kinds first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointKind {
    /// Asked for by a technician.
    Manual,
    /// Taken on the agent's schedule.
    Automatic,
    /// Taken just before a rollback: what `undo` returns to.
    PreRollback,
}

impl PointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PointKind::Manual => "manual",
            PointKind::Automatic => "automatic",
            PointKind::PreRollback => "pre-rollback",
        }
    }
}

/// A point without its entries: what `list` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointSummary {
    /// `YYYYMMDDTHHMMSSZ-xxxxxxxx`: sorts by creation time.
    pub id: String,
    /// Order of creation in this store (ids within one second do not
    /// sort by time).
    #[serde(default)]
    pub seq: u64,
    pub created_unix: u64,
    pub label: Option<String>,
    pub kind: PointKind,
    /// Never pruned by retention.
    pub keep: bool,
    /// Regular files recorded.
    pub files: u64,
    /// Entries of every kind recorded.
    pub entries: u64,
    /// Sum of the recorded files' sizes (before compression and dedup).
    pub total_bytes: u64,
    /// Paths under the configured roots that were left out (not UTF-8,
    /// special files, unreadable), one line each with the reason.
    #[serde(default)]
    pub skipped: Vec<String>,
}

/// A point with every entry, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub entries: Vec<Entry>,
    /// Hard-link groups are recorded (`Entry::links_to`). False in points
    /// taken before they were: comparing with one of those ignores them,
    /// so that rolling back to it splits no link.
    #[serde(default)]
    pub links_recorded: bool,
}

/// Marks the files of `entries` (sorted by path, hashed) that are hard
/// links of an earlier one: same device and inode, and the same content
/// (an inode number reused by another file during the scan is no link).
pub(crate) fn group_links(entries: &mut [Entry]) {
    let mut first: HashMap<(u64, u64), (String, Option<String>)> = HashMap::new();
    for entry in entries.iter_mut().filter(|e| e.kind == EntryKind::File) {
        entry.links_to = None;
        let Some(hash) = entry.hash.clone() else { continue };
        let id = (entry.probe.dev, entry.probe.ino);
        match first.get(&id) {
            Some((leader, h)) if h.as_deref() == Some(hash.as_str()) => {
                entry.links_to = Some(leader.clone());
            }
            Some(_) => {}
            None => {
                first.insert(id, (entry.path.clone(), Some(hash)));
            }
        }
    }
}

/// `live` as comparable with `point`: without hard-link groups if the
/// point did not record them.
pub(crate) fn comparable<'a>(point: &Manifest, live: &'a [Entry]) -> Cow<'a, [Entry]> {
    if point.links_recorded {
        return Cow::Borrowed(live);
    }
    let mut entries = live.to_vec();
    for entry in &mut entries {
        entry.links_to = None;
    }
    Cow::Owned(entries)
}

impl Manifest {
    pub fn by_path(&self) -> HashMap<&str, &Entry> {
        self.entries.iter().map(|e| (e.path.as_str(), e)).collect()
    }
}

/// A point: its summary and its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointDetail {
    pub summary: PointSummary,
    pub entries: Vec<Entry>,
}

/// The extended attributes of one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xattrs {
    /// Sorted by name. (Most files have none: `{}` in the manifest.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attrs: Vec<Xattr>,
    /// Attributes the entry had but the point does not hold (over a
    /// limit, unreadable): a rollback neither removes nor changes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<String>,
}

/// One attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Xattr {
    /// Full name with its namespace (`user.mime_type`).
    pub name: String,
    /// Raw value, hex in the manifest.
    #[serde(with = "hex")]
    pub value: Vec<u8>,
}

/// What differs between two recorded attribute sets, in words: "ACL"
/// and/or "extended attributes". Nothing if either was not recorded.
pub(crate) fn xattr_differences(a: Option<&Xattrs>, b: Option<&Xattrs>) -> Vec<&'static str> {
    let (Some(a), Some(b)) = (a, b) else { return Vec::new() };
    let mut acl = false;
    let mut other = false;
    let changed = a
        .attrs
        .iter()
        .filter(|x| !b.attrs.contains(x))
        .chain(b.attrs.iter().filter(|x| !a.attrs.contains(x)));
    for x in changed {
        if x.name.starts_with("system.posix_acl_") {
            acl = true;
        } else {
            other = true;
        }
    }
    let mut what = Vec::new();
    if acl {
        what.push("ACL");
    }
    if other {
        what.push("extended attributes");
    }
    what
}

/// Values as lowercase hex strings in the JSON manifest.
mod hex {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(D::Error::custom("odd length hex value"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| D::Error::custom("invalid hex value"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Entry {
        Entry {
            path: "/etc/app.conf".into(),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: Time { secs: 100, nanos: 0 },
            size: 5,
            hash: Some("aa".into()),
            target: None,
            probe: Probe { dev: 1, ino: 2, ctime: Time { secs: 100, nanos: 0 } },
            xattrs: None,
            links_to: None,
            allocated: None,
            chunks: None,
        }
    }

    #[test]
    fn differences_name_what_a_technician_would_check() {
        let point = file();
        let mut now = point.clone();
        assert!(point.differences(&now).is_empty());
        now.mtime.secs = 200;
        assert_eq!(point.differences(&now), ["modification time"]);
        now.hash = Some("bb".into());
        now.mode = 0o600;
        now.uid = 1000;
        assert_eq!(point.differences(&now), ["content", "mode", "owner"]);
        let link = Entry { kind: EntryKind::Symlink, target: Some("/a".into()), ..file() };
        let moved = Entry { target: Some("/b".into()), mode: 0o777, ..link.clone() };
        assert_eq!(link.differences(&moved), ["link target"]);
        let dir = Entry { kind: EntryKind::Dir, ..file() };
        assert_eq!(point.differences(&dir), ["type"]);
    }

    #[test]
    fn entries_written_before_attributes_were_recorded_still_read() {
        let mut json = serde_json::to_value(file()).unwrap();
        assert!(json.get("xattrs").is_none(), "None is not written");
        json.as_object_mut().unwrap().remove("xattrs");
        let old: Entry = serde_json::from_value(json).unwrap();
        assert_eq!(old.xattrs, None);
        // Not recorded on one side: attributes are not compared.
        let now = Entry { xattrs: Some(Xattrs::default()), ..file() };
        assert!(old.same_metadata(&now));
    }

    #[test]
    fn values_round_trip_through_the_manifest_as_hex() {
        let x = Xattrs {
            attrs: vec![Xattr { name: "security.capability".into(), value: vec![0, 1, 0xff] }],
            left: vec![],
        };
        let json = serde_json::to_string(&x).unwrap();
        assert!(json.contains("\"0001ff\""), "{json}");
        assert_eq!(serde_json::from_str::<Xattrs>(&json).unwrap(), x);
        assert!(
            serde_json::from_str::<Xattrs>(r#"{"attrs":[{"name":"a","value":"0g"}]}"#).is_err()
        );
    }
}
