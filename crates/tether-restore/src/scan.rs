//! Walking the configured roots into entries.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;

use crate::config::Selection;
use crate::error::{IoContext, RestoreError};
use crate::fsutil;
use crate::manifest::{Entry, EntryKind};

/// Prefix of the temporaries a rollback writes next to their targets.
/// Scans never record them.
pub(crate) const TEMP_PREFIX: &str = ".tether-rb-";

/// The live state of the selection (files not hashed yet).
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Sorted by path.
    pub entries: Vec<Entry>,
    /// Paths left out for a reason worth telling (not UTF-8, special file,
    /// unreadable directory).
    pub skipped: Vec<String>,
    /// Directories holding something the scan left out (excluded, special,
    /// unreadable): a rollback must not try to remove them.
    pub hidden_children: HashSet<String>,
}

pub(crate) fn scan(selection: &Selection) -> Result<Scan, RestoreError> {
    let mut out = Scan::default();
    for root in &selection.roots {
        if selection.is_excluded(root) {
            continue;
        }
        let root = root.to_str().expect("roots are checked to be UTF-8");
        match fs::symlink_metadata(root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => {
                let meta = other.ctx("inspect", Path::new(root))?;
                visit(selection, root, &meta, &mut out)?;
            }
        }
    }
    out.entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn visit(
    selection: &Selection,
    path: &str,
    meta: &fs::Metadata,
    out: &mut Scan,
) -> Result<(), RestoreError> {
    let Some(entry) = fsutil::entry_of(path, meta)? else {
        out.skipped.push(format!("{path}: not a file, directory or symlink"));
        return Ok(());
    };
    let is_dir = entry.kind == EntryKind::Dir;
    out.entries.push(entry);
    if !is_dir {
        return Ok(());
    }
    let children = match fs::read_dir(path) {
        Ok(children) => children,
        Err(e) => {
            out.skipped.push(format!("{path}/*: {e}"));
            out.hidden_children.insert(path.to_owned());
            return Ok(());
        }
    };
    let mut names = Vec::new();
    for child in children {
        names.push(child.ctx("list", Path::new(path))?.file_name());
    }
    names.sort();
    for name in names {
        let Some(name) = name.to_str() else {
            out.skipped.push(format!("{path}/{}: name is not UTF-8", name.to_string_lossy()));
            out.hidden_children.insert(path.to_owned());
            continue;
        };
        let child = format!("{path}/{name}");
        if name.starts_with(TEMP_PREFIX) || selection.is_excluded(Path::new(&child)) {
            out.hidden_children.insert(path.to_owned());
            continue;
        }
        let meta = match fs::symlink_metadata(&child) {
            // Gone between listing and inspecting: it is simply not there.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => other.ctx("inspect", Path::new(&child))?,
        };
        let recorded = out.entries.len();
        visit(selection, &child, &meta, out)?;
        if out.entries.len() == recorded {
            out.hidden_children.insert(path.to_owned());
        }
    }
    Ok(())
}
