//! Taking a point: the scan, then each file read (or its content reused
//! from the last point) and stored, then the point published. Nothing is
//! locked while the user's files are read (see `locks`): only publishing
//! takes the store lock, and the objects the point will refer to are
//! held against garbage collection until then.

use super::*;

/// Fills in the content hashes and extended attributes of the files of
/// `live` (a scan): reused from `reference` where stat data says the file
/// is unchanged, read otherwise (opened safely, and only if it is still
/// the file the scan saw). A file that vanished or cannot be read keeps
/// no hash, so it compares as different.
pub(super) fn hash_live(
    live: &mut Scan,
    reference: &HashMap<&str, &Entry>,
    anchors: &Anchors,
) -> Result<(), RestoreError> {
    let (entries, budget, skipped) = (&mut live.entries, &mut live.xattr_budget, &mut live.skipped);
    for entry in entries.iter_mut().filter(|e| e.kind == EntryKind::File) {
        let earlier = reference.get(entry.path.as_str()).copied();
        watch::reading(&entry.path)?;
        if let Some(old) = earlier.filter(|old| entry.unchanged_since(old)) {
            entry.hash = old.hash.clone();
            entry.xattrs = xattrs_of_file(entry, Some(old), anchors, budget, skipped);
        } else if let Ok(Some((mut file, st))) = anchors.open_regular(&entry.path)
            && (st.dev, st.ino) == (entry.probe.dev, entry.probe.ino)
        {
            entry.xattrs = xattrs::read(&file, &entry.path, budget, skipped);
            if let Ok((hash, len)) = hash_file(&mut file, Path::new(&entry.path)) {
                entry.hash = Some(hash);
                entry.size = len;
            }
        }
    }
    group_links(entries);
    Ok(())
}

/// The attributes of the live file `entry`: those `earlier` recorded if
/// the file is unchanged since (same inode, and same ctime, which every
/// attribute change moves), read on a descriptor of the very inode the
/// scan saw otherwise. `None` if it is not that file any more (gone,
/// replaced): a rollback then leaves its attributes, and reading its
/// content checks the same and reports it.
fn xattrs_of_file(
    entry: &Entry,
    earlier: Option<&Entry>,
    anchors: &Anchors,
    budget: &mut Budget,
    skipped: &mut Vec<String>,
) -> Option<Xattrs> {
    let unchanged = earlier.filter(|e| entry.unchanged_since(e));
    if let Some(recorded) = unchanged.and_then(|e| e.xattrs.as_ref()) {
        budget.charge(recorded);
        return Some(recorded.clone());
    }
    match anchors.open_regular(&entry.path) {
        Ok(Some((file, st))) if (st.dev, st.ino) == (entry.probe.dev, entry.probe.ino) => {
            xattrs::read(&file, &entry.path, budget, skipped)
        }
        _ => None,
    }
}

impl Engine {
    /// Records a point; returns it with its entries and the scan (whose
    /// entries moved into the manifest). The caller holds the tree lock
    /// (shared for a point, exclusive for a rollback's).
    pub(super) fn record(
        &self,
        label: Option<&str>,
        keep: bool,
        kind: PointKind,
    ) -> Result<(PointSummary, Manifest, Scan), RestoreError> {
        let anchors = Anchors::open(&self.roots);
        let mut live = scan(&self.selection, &anchors)?;
        let mut entries = std::mem::take(&mut live.entries);
        let latest = self.points.list()?.pop();
        let previous = latest.and_then(|p| self.points.manifest(&p.id).ok());
        let reference: HashMap<&str, &Entry> =
            previous.as_ref().map(|m| m.by_path()).unwrap_or_default();
        // Every object the point will refer to is held from before the
        // store is asked for it until the point is published.
        let holds = Holds::new(self);
        let hold = |hash: &str| holds.hold(hash);
        // The content each file can reuse from the last point: same stat
        // data, and its objects still stored.
        let reuse: Vec<Option<&Entry>> = entries
            .iter()
            .map(|entry| {
                let old = reference.get(entry.path.as_str())?;
                (entry.kind == EntryKind::File
                    && entry.unchanged_since(old)
                    && old.hash.is_some()
                    && old.objects().all(|h| {
                        hold(h);
                        self.objects.has(h)
                    }))
                .then_some(*old)
            })
            .collect();
        let needed = entries
            .iter()
            .zip(&reuse)
            .filter(|(e, reused)| e.kind == EntryKind::File && reused.is_none())
            .map(|(e, _)| space::footprint(e))
            .sum();
        let state = &self.config.state_dir;
        let store = Dir::open_trusted(state).ctx("open", state)?;
        space::ensure("the restore point", needed, &store, state)?;
        let mut vanished = HashSet::new();
        for (entry, reused) in entries.iter_mut().zip(reuse) {
            if entry.kind != EntryKind::File {
                continue;
            }
            hit("create: file")?;
            watch::reading(&entry.path)?;
            let (budget, skipped) = (&mut live.xattr_budget, &mut live.skipped);
            if let Some(old) = reused {
                entry.hash.clone_from(&old.hash);
                entry.chunks.clone_from(&old.chunks);
                entry.xattrs = xattrs_of_file(entry, Some(old), &anchors, budget, skipped);
                continue;
            }
            let path = Path::new(&entry.path);
            match anchors.open_regular(&entry.path) {
                Ok(Some((mut file, st)))
                    if (st.dev, st.ino) == (entry.probe.dev, entry.probe.ino) =>
                {
                    // On the descriptor the content is read from.
                    entry.xattrs = xattrs::read(&file, &entry.path, budget, skipped);
                    let (hash, len) = if entry.size >= CHUNKED_FROM {
                        let (hash, len, chunks) =
                            self.objects.put_chunked(&mut file, path, &hold)?;
                        entry.chunks = Some(chunks);
                        (hash, len)
                    } else {
                        self.objects.put_file(&mut file, path, &hold)?
                    };
                    entry.hash = Some(hash);
                    entry.size = len;
                }
                Ok(found) => {
                    // Gone, or not the file the scan saw: a symlink, a FIFO
                    // or another file swapped in. Never followed or read;
                    // a rollback leaves whatever is there alone.
                    if found.is_some() || anchors.exists(&entry.path) {
                        live.skipped.push(format!(
                            "{}: replaced while the point was taken, not recorded",
                            entry.path
                        ));
                        live.special.insert(entry.path.clone());
                    }
                    vanished.insert(entry.path.clone());
                }
                Err(e) if e.raw_os_error() == Some(crate::dirfd::errno::EXDEV) => {
                    live.skipped.push(format!(
                        "{}: a mount point was made on the way while the point was taken, not recorded",
                        entry.path
                    ));
                    live.special.insert(entry.path.clone());
                    vanished.insert(entry.path.clone());
                }
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    live.skipped.push(format!("{}: {e}", entry.path));
                    live.special.insert(entry.path.clone());
                    vanished.insert(entry.path.clone());
                }
                Err(e) => return Err(e).ctx("read", path),
            }
        }
        entries.retain(|e| !vanished.contains(&e.path));
        group_links(&mut entries);
        hit("create: objects stored")?;
        self.objects.sync()?;
        let files: Vec<&Entry> = entries.iter().filter(|e| e.kind == EntryKind::File).collect();
        let created_unix = now_unix();
        let mut summary = PointSummary {
            id: new_id(created_unix),
            seq: 0,
            created_unix,
            label: label.map(str::to_owned),
            kind,
            keep,
            files: files.len() as u64,
            entries: entries.len() as u64,
            total_bytes: files.iter().map(|e| e.size).sum(),
            skipped: live.skipped.clone(),
        };
        let manifest = Manifest { entries, links_recorded: true };
        // The last chance to give up: a read that stalled has returned.
        watch::step(|| "publishing the point".into())?;
        {
            let _store = self.lock_store()?;
            // Numbered as published: another point may have been taken
            // meanwhile.
            summary.seq = self.points.list()?.last().map_or(1, |p| p.seq + 1);
            self.points.write(&summary, &manifest)?;
        }
        drop(holds);
        hit("create: point published")?;
        Ok((summary, manifest, live))
    }
}
