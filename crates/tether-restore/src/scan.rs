//! Walking the configured roots into entries: iteratively (an explicit
//! stack, so no tree is deep enough to overflow the thread's stack), with
//! a depth limit, through directory descriptors (see [`crate::dirfd`]) so
//! a directory swapped for a symlink mid-scan is never followed.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::config::Selection;
use crate::dirfd::{Dir, Kind, SPECIAL_NODE, Stat, errno};
use crate::error::{IoContext, RestoreError};
use crate::manifest::{Entry, EntryKind, Probe};
use crate::tree::{Anchors, is_gone};
use crate::watch;
use crate::xattrs::{self, Budget};

/// Prefix of the temporaries a rollback writes next to their targets.
/// Scans never record them.
pub(crate) const TEMP_PREFIX: &str = ".tether-rb-";

/// The live state of the selection (files not hashed yet).
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Sorted by path.
    pub entries: Vec<Entry>,
    /// Paths left out for a reason worth telling (not UTF-8, special file,
    /// unreadable directory, too deep), one line each with the reason.
    pub skipped: Vec<String>,
    /// Directories holding something the scan left out (excluded, special,
    /// unreadable): a rollback must not try to remove them.
    pub hidden_children: HashSet<String>,
    /// Special files (FIFOs, sockets, devices) and mount points: a
    /// rollback never replaces, writes into or follows them, nor restores
    /// anything beneath them.
    pub special: HashSet<String>,
    /// Directories whose content the scan does not know (unreadable, too
    /// deep, replaced while scanned): a rollback leaves what is beneath.
    pub unknown_below: HashSet<String>,
    /// Extended attribute bytes recorded so far (bounded per point).
    pub xattr_budget: Budget,
}

impl Scan {
    /// True if a rollback must leave `path` alone: it is a special file,
    /// or lies beneath one or beneath a directory the scan could not see
    /// into.
    pub fn untouchable(&self, path: &str) -> bool {
        if self.special.contains(path) {
            return true;
        }
        let mut at = path;
        while let Some((parent, _)) = at.rsplit_once('/') {
            if parent.is_empty() {
                break;
            }
            if self.special.contains(parent) || self.unknown_below.contains(parent) {
                return true;
            }
            at = parent;
        }
        false
    }
}

/// A directory being listed.
struct Frame {
    dir: Dir,
    /// Its filesystem: an entry on another one is a mount point.
    dev: u64,
    path: String,
    names: std::vec::IntoIter<OsString>,
    depth: usize,
}

pub(crate) fn scan(selection: &Selection, anchors: &Anchors) -> Result<Scan, RestoreError> {
    let mut out = Scan::default();
    for (root, name, parent) in anchors.roots() {
        if selection.is_excluded(Path::new(root)) {
            continue;
        }
        let top = match parent {
            Ok(top) => top,
            // A root whose directory is gone holds nothing.
            Err(errno::ENOENT | errno::ENOTDIR) => continue,
            // Anything else (a symlink on the way that is not root's):
            // recording nothing would make a rollback recreate it all.
            Err(code) => {
                return Err(RestoreError::Io {
                    action: "open the directory of",
                    path: root.into(),
                    source: std::io::Error::from_raw_os_error(code),
                });
            }
        };
        let stat = match top.stat_at(name) {
            Err(e) if is_gone(&e) => continue,
            other => other.ctx("inspect", Path::new(root))?,
        };
        walk(selection, top, name, root.to_owned(), stat, &mut out)?;
    }
    out.entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(
    selection: &Selection,
    top: &Dir,
    name: &OsStr,
    path: String,
    stat: Stat,
    out: &mut Scan,
) -> Result<(), RestoreError> {
    let mut stack: Vec<Frame> = Vec::new();
    if let Some(frame) = visit(selection, top, name, path, stat, 0, out)? {
        stack.push(frame);
    }
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.names.next() else {
            stack.pop();
            continue;
        };
        let Some(utf8) = name.to_str() else {
            out.skipped.push(format!(
                "{}/{}: name is not UTF-8, not recorded",
                frame.path,
                name.to_string_lossy()
            ));
            out.hidden_children.insert(frame.path.clone());
            continue;
        };
        let child = format!("{}/{utf8}", frame.path);
        if utf8.starts_with(TEMP_PREFIX) || selection.is_excluded(Path::new(&child)) {
            out.hidden_children.insert(frame.path.clone());
            continue;
        }
        let stat = match frame.dir.stat_at(&name) {
            // Gone between listing and inspecting: it is simply not there.
            Err(e) if is_gone(&e) => continue,
            Err(e) => {
                out.skipped.push(format!("{child}: {e}"));
                out.hidden_children.insert(frame.path.clone());
                out.unknown_below.insert(child);
                continue;
            }
            Ok(stat) if stat.dev != frame.dev => {
                mount_point(child, out);
                out.hidden_children.insert(frame.path.clone());
                continue;
            }
            Ok(stat) => stat,
        };
        let parent = frame.path.clone();
        let depth = frame.depth + 1;
        let recorded = out.entries.len();
        let next = visit(selection, &frame.dir, &name, child, stat, depth, out)?;
        if out.entries.len() == recorded {
            out.hidden_children.insert(parent);
        }
        if let Some(frame) = next {
            stack.push(frame);
        }
    }
    Ok(())
}

/// Records one name of `parent`; returns the frame to list if it is a
/// directory within the depth limit.
fn visit(
    selection: &Selection,
    parent: &Dir,
    name: &OsStr,
    path: String,
    stat: Stat,
    depth: usize,
    out: &mut Scan,
) -> Result<Option<Frame>, RestoreError> {
    match stat.kind {
        Kind::Special => {
            out.skipped.push(format!("{path}: {SPECIAL_NODE}, never recorded or touched"));
            out.special.insert(path);
            Ok(None)
        }
        Kind::File => {
            // A file's attributes are read when its content is (reused
            // when it is unchanged, see `engine`): opening every
            // file here would slow every scan.
            out.entries.push(entry(path, EntryKind::File, &stat, None));
            Ok(None)
        }
        Kind::Symlink => {
            let target = match parent.read_link(name) {
                Err(e) if is_gone(&e) => return Ok(None),
                // Replaced by something else since it was inspected.
                Err(e) if e.raw_os_error() == Some(errno::EINVAL) => return Ok(None),
                other => other.ctx("read link", Path::new(&path))?,
            };
            match target.into_string() {
                Ok(t) => out.entries.push(entry(path, EntryKind::Symlink, &stat, Some(t))),
                Err(_) => out.skipped.push(format!("{path}: link target is not UTF-8")),
            }
            Ok(None)
        }
        Kind::Dir => {
            // A root may be a mount point; nothing below it may.
            let opened =
                if depth == 0 { parent.open_dir_or_mount(name) } else { parent.open_dir(name) };
            let dir = match opened {
                Err(e) if is_gone(&e) && e.raw_os_error() == Some(errno::ENOENT) => {
                    return Ok(None);
                }
                // A bind mount within the same filesystem (openat2 tells).
                Err(e) if e.raw_os_error() == Some(errno::EXDEV) => {
                    mount_point(path, out);
                    return Ok(None);
                }
                Err(e) => {
                    // ELOOP/ENOTDIR: swapped for a symlink or a file since
                    // it was inspected. Never followed; left for next time.
                    out.skipped.push(format!("{path}: {e}"));
                    out.unknown_below.insert(path);
                    return Ok(None);
                }
                Ok(dir) => dir,
            };
            let now = dir.stat().ctx("inspect", Path::new(&path))?;
            if (now.dev, now.ino) != (stat.dev, stat.ino) {
                out.skipped.push(format!("{path}: replaced while it was scanned"));
                out.unknown_below.insert(path);
                return Ok(None);
            }
            let mut recorded = entry(path.clone(), EntryKind::Dir, &now, None);
            recorded.xattrs = xattrs::read(&dir, &path, &mut out.xattr_budget, &mut out.skipped);
            out.entries.push(recorded);
            if depth >= selection.max_depth {
                out.skipped.push(format!(
                    "{path}/*: deeper than {} levels, not recorded",
                    selection.max_depth
                ));
                out.hidden_children.insert(path.clone());
                out.unknown_below.insert(path);
                return Ok(None);
            }
            watch::reading(&path)?;
            let mut names = match dir.list() {
                Ok(names) => names,
                Err(e) => {
                    out.skipped.push(format!("{path}/*: {e}"));
                    out.hidden_children.insert(path.clone());
                    out.unknown_below.insert(path);
                    return Ok(None);
                }
            };
            names.sort();
            Ok(Some(Frame { dir, dev: now.dev, path, names: names.into_iter(), depth }))
        }
    }
}

/// Leaves out a mount point (and all beneath it), for good: points never
/// record another filesystem mounted inside the roots, and rollbacks never
/// write into it.
fn mount_point(path: String, out: &mut Scan) {
    out.skipped
        .push(format!("{path}: a mount point (another filesystem), never recorded or touched"));
    out.special.insert(path);
}

pub(crate) fn entry(path: String, kind: EntryKind, st: &Stat, target: Option<String>) -> Entry {
    Entry {
        path,
        kind,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        mtime: st.mtime,
        size: if kind == EntryKind::File { st.size } else { 0 },
        hash: None,
        target,
        probe: Probe { dev: st.dev, ino: st.ino, ctime: st.ctime },
        xattrs: None,
        links_to: None,
        allocated: {
            let allocated = st.blocks.saturating_mul(512);
            (kind == EntryKind::File && allocated < st.size).then_some(allocated)
        },
        chunks: None,
    }
}
