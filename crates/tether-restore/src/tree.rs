//! Paths of the restored trees, resolved safely: an absolute path under a
//! configured root becomes the directory that holds it (opened from the
//! root's parent without following any symlink, see [`crate::dirfd`]) and
//! one name in it.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;

use crate::dirfd::{self, Descriptor, Dir, Kind, SPECIAL_FILE, errno};
use crate::error::{IoContext, RestoreError};
use crate::manifest::{Entry, EntryKind};
use crate::xattrs;

/// The configured roots, each with its parent directory opened once. The
/// administrator chose the roots, so the path to a root's parent is
/// followed as configured, at that one instant; everything below is
/// reached from that descriptor without following any symlink, so a
/// directory swapped for a symlink anywhere on the way afterwards, even
/// above the root (a root inside a user's home), redirects nothing.
/// Opened once per scan and per rollback phase.
#[derive(Debug)]
pub(crate) struct Anchors {
    anchors: Vec<Anchor>,
}

#[derive(Debug)]
struct Anchor {
    root: String,
    name: OsString,
    /// The root's parent, or the errno opening it gave (ENOENT: a root
    /// whose parent is gone holds nothing).
    parent: Result<Dir, i32>,
}

impl Anchors {
    pub fn open(roots: &[String]) -> Anchors {
        let anchors = roots
            .iter()
            .map(|root| {
                let path = Path::new(root);
                let parent = match (path.parent(), path.file_name()) {
                    (Some(top), Some(_)) => {
                        open_anchor(top).map_err(|e| e.raw_os_error().unwrap_or(errno::EACCES))
                    }
                    _ => Err(errno::EINVAL),
                };
                let name = path.file_name().unwrap_or_default().to_owned();
                Anchor { root: root.clone(), name, parent }
            })
            .collect();
        Anchors { anchors }
    }

    /// Each root with its name and its parent (or the errno opening the
    /// parent gave).
    pub fn roots(&self) -> impl Iterator<Item = (&str, &OsStr, Result<&Dir, i32>)> {
        self.anchors
            .iter()
            .map(|a| (a.root.as_str(), a.name.as_os_str(), a.parent.as_ref().map_err(|e| *e)))
    }

    /// The directory holding `path` and its last name. `path` must be a
    /// root or lie under one. A root may be a mount point; below it,
    /// neither a symlink (ELOOP) nor a mount point (EXDEV) is crossed.
    pub fn locate(&self, path: &str) -> io::Result<(Dir, OsString)> {
        let anchor = self
            .anchors
            .iter()
            .find(|a| {
                path == a.root
                    || path.strip_prefix(a.root.as_str()).is_some_and(|t| t.starts_with('/'))
            })
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "outside the configured restore paths")
            })?;
        let parent = anchor.parent.as_ref().map_err(|e| io::Error::from_raw_os_error(*e))?;
        let Some(rest) = path[anchor.root.len()..].strip_prefix('/') else {
            return Ok((parent.try_clone()?, anchor.name.clone()));
        };
        let root = parent.open_dir_or_mount(&anchor.name).map_err(|e| {
            // The root itself is a symlink now: not followed either.
            if e.raw_os_error() == Some(errno::ENOTDIR)
                && parent.stat_at(&anchor.name).is_ok_and(|st| st.kind == Kind::Symlink)
            {
                io::Error::from_raw_os_error(errno::ELOOP)
            } else {
                e
            }
        })?;
        let (rel, name) = rest.rsplit_once('/').unwrap_or(("", rest));
        Ok((root.open_beneath(rel)?, OsString::from(name)))
    }

    /// True if `path` is one of the configured roots (which, unlike what
    /// lies beneath them, may be mount points).
    pub fn is_root(&self, path: &str) -> bool {
        self.anchors.iter().any(|a| a.root == path)
    }

    /// Reads the regular file at `path`, or `None` if it is gone or is no
    /// longer a regular file (a symlink or FIFO swapped in).
    pub fn open_regular(&self, path: &str) -> io::Result<Option<(std::fs::File, dirfd::Stat)>> {
        let (dir, name) = match self.locate(path) {
            Err(e) if is_gone(&e) || e.raw_os_error() == Some(errno::ELOOP) => return Ok(None),
            other => other?,
        };
        match dir.open_file(&name) {
            Err(e) if is_gone(&e) => Ok(None),
            other => other,
        }
    }

    /// Each root (whose parent could be opened) with a directory on the
    /// filesystem that holds what is written there: the root itself,
    /// which may be a mount point, or its parent where the root is gone
    /// or is not a directory now (a symlink or FIFO a user put in place
    /// of a root inside their home is neither followed nor blocks).
    pub fn filesystems(&self) -> impl Iterator<Item = (&str, io::Result<Dir>)> {
        self.roots().filter_map(|(root, name, parent)| {
            let parent = parent.ok()?;
            Some((root, parent.open_dir_or_mount(name).or_else(|_| parent.try_clone())))
        })
    }

    /// True if something (anything) is at `path`; false if it is gone or
    /// cannot be reached without following a symlink.
    pub fn exists(&self, path: &str) -> bool {
        self.locate(path).is_ok_and(|(dir, name)| dir.stat_at(&name).is_ok())
    }
}

/// A configured root as the engine names it: UTF-8 (checked by
/// `Selection`), with `/` between components on every platform
/// (`C:/ProgramData/app` on Windows), so paths below it are the root and
/// `/`-separated names.
pub(crate) fn root_text(root: &Path) -> String {
    let text = root.to_str().expect("roots are UTF-8");
    if !cfg!(windows) {
        return text.to_owned();
    }
    // `\\?\C:\x` is `C:\x`: verbatim paths take no `/`.
    let verbatim = text.strip_prefix(r"\\?\").filter(|t| t.as_bytes().get(1) == Some(&b':'));
    verbatim.unwrap_or(text).replace('\\', "/")
}

#[cfg(unix)]
/// Opens a root's parent directory, `dir` (absolute), one component at a
/// time from `/`. A symlink on the way is followed only if root owns it
/// and the directory holding it is root's and writable by no one else
/// (`/var/run -> ../run`): a user who can write somewhere on the way (a
/// root inside their home) can put a symlink there, but never one that
/// root owns, so none of theirs is ever followed.
pub(crate) fn open_anchor(dir: &Path) -> io::Result<Dir> {
    let mut stack = vec![Dir::open_trusted(Path::new("/"))?];
    let mut pending: std::collections::VecDeque<OsString> =
        dir.iter().filter(|c| *c != OsStr::new("/")).map(OsStr::to_owned).collect();
    let mut followed = 0;
    while let Some(name) = pending.pop_front() {
        if name == "." || name.is_empty() {
            continue;
        }
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let here = stack.last().expect("the stack keeps /");
        // O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR (or
        // ELOOP): look at what is there before following anything.
        let opened = here.open_dir_or_mount(&name);
        let symlink = match &opened {
            Err(e) if matches!(e.raw_os_error(), Some(errno::ELOOP | errno::ENOTDIR)) => {
                here.stat_at(&name).is_ok_and(|st| st.kind == Kind::Symlink)
            }
            _ => false,
        };
        match opened {
            Ok(next) => stack.push(next),
            Err(_) if symlink => {
                let link = here.stat_at(&name)?;
                let holder = here.stat()?;
                if link.uid != 0 || holder.uid != 0 || holder.mode & 0o022 != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!(
                            "{} is a symlink someone other than root could have made there; not followed",
                            Path::new(&name).display()
                        ),
                    ));
                }
                followed += 1;
                if followed > 40 {
                    return Err(io::Error::from_raw_os_error(errno::ELOOP));
                }
                let target = std::path::PathBuf::from(here.read_link(&name)?);
                if target.is_absolute() {
                    stack.truncate(1);
                }
                for part in target.iter().rev().filter(|c| *c != OsStr::new("/")) {
                    pending.push_front(part.to_owned());
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(stack.pop().expect("the stack keeps /"))
}

/// Opens a root's parent directory, `dir` (absolute), one component at a
/// time from its volume's root (`C:\`, `\\server\share\`), opened as
/// configured. No reparse point on the way is followed (ELOOP): Windows
/// has no owner rule like Unix's `/var/run` one that would tell a
/// symlink the system made from one a user planted, so a root must be
/// reached through real directories.
#[cfg(windows)]
pub(crate) fn open_anchor(dir: &Path) -> io::Result<Dir> {
    use std::path::Component;
    let mut volume = std::path::PathBuf::new();
    let mut rest = dir.components();
    for part in rest.by_ref() {
        volume.push(part);
        if part == Component::RootDir {
            break;
        }
    }
    let mut here = Dir::open_trusted(&volume)?;
    for part in rest {
        match part {
            Component::Normal(name) => here = here.open_dir_or_mount(name)?,
            Component::CurDir => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} is not a plain absolute path", dir.display()),
                ));
            }
        }
    }
    Ok(here)
}

/// True for errors meaning "nothing there": the name or a directory on
/// the way is gone, or an ancestor is a file now (a rollback interrupted
/// after replacing a directory by a file).
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(errno::ENOENT | errno::ENOTDIR))
}

/// What is at `name` now, `None` if nothing.
pub(crate) fn kind_at(dir: &Dir, name: &OsStr) -> io::Result<Option<Kind>> {
    match dir.stat_at(name) {
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(st) => Ok(Some(st.kind)),
    }
}

pub(crate) fn kind_of(kind: EntryKind) -> Kind {
    match kind {
        EntryKind::File => Kind::File,
        EntryKind::Dir => Kind::Dir,
        EntryKind::Symlink => Kind::Symlink,
    }
}

/// The error for a special file (FIFO, socket, device) found where a
/// rollback would act: such files are never written, replaced or followed.
pub(crate) fn special(path: &str) -> RestoreError {
    RestoreError::Conflict(format!("{path} is {SPECIAL_FILE} now; it is never replaced"))
}

/// The error for a mount point found where a rollback would act, or on
/// the way to it: nothing is written into another filesystem.
pub(crate) fn mount_point(path: &str) -> RestoreError {
    RestoreError::Conflict(format!(
        "{path} is a mount point now, or one is on the way to it; nothing is written into \
         another filesystem"
    ))
}

/// Gives `name` the owner, mode and mtime `entry` records, through an
/// open descriptor (symlinks: owner only, without following). Anything
/// else than the recorded kind there, a file that is not the inode
/// `expect`ed, or a mount point (unless `name` is a configured root), is
/// a conflict.
pub(crate) fn apply_metadata(
    dir: &Dir,
    name: &OsStr,
    entry: &Entry,
    expect: Option<(u64, u64)>,
    root: bool,
) -> Result<(), RestoreError> {
    let path = Path::new(&entry.path);
    match entry.kind {
        EntryKind::Symlink => {
            if kind_at(dir, name).ctx("inspect", path)? != Some(Kind::Symlink) {
                return Err(changed(&entry.path, "a symlink"));
            }
            dir.lchown(name, entry.uid, entry.gid).ctx("change owner of", path)
        }
        EntryKind::Dir => {
            let sub = if root { dir.open_dir_or_mount(name) } else { dir.open_dir(name) };
            let sub = sub.map_err(|e| match e.raw_os_error() {
                Some(errno::ENOTDIR | errno::ELOOP) => changed(&entry.path, "a directory"),
                Some(errno::EXDEV) => mount_point(&entry.path),
                _ => RestoreError::Io { action: "open", path: path.to_owned(), source: e },
            })?;
            set_all_metadata(&sub, entry)
        }
        EntryKind::File => {
            let opened = match dir.open_file(name) {
                Err(e) if e.raw_os_error() == Some(errno::EXDEV) => {
                    return Err(mount_point(&entry.path));
                }
                other => other.ctx("open", path)?,
            };
            let Some((file, st)) = opened else {
                return Err(match kind_at(dir, name).ctx("inspect", path)? {
                    Some(Kind::Special) => special(&entry.path),
                    _ => changed(&entry.path, "a file"),
                });
            };
            if expect.is_some_and(|id| id != (st.dev, st.ino)) {
                return Err(changed(&entry.path, "the same file"));
            }
            set_all_metadata(&file, entry)
        }
    }
}

/// Owner, mode and mtime, then extended attributes and ACLs (after the
/// chown, which clears `security.capability`, and the chmod, which
/// rewrites the ACL mask), all on the open descriptor `fd` of `entry`.
pub(crate) fn set_all_metadata(fd: &impl Descriptor, entry: &Entry) -> Result<(), RestoreError> {
    let path = Path::new(&entry.path);
    dirfd::set_metadata(fd, entry.uid, entry.gid, entry.mode, Some(entry.mtime))
        .ctx("set owner, mode and time of", path)?;
    xattrs::restore(fd, entry.xattrs.as_ref()).ctx("set extended attributes and ACLs of", path)
}

/// Makes `entry.path` a hard link of the file at `entry.links_to`, through
/// a temporary renamed into place. Only the link is made: the inode's
/// owner, mode and attributes are the ones its first name was given, so
/// nothing is set on a file a user may have linked there from outside.
pub(crate) fn link(
    leader_dir: &Dir,
    leader_name: &OsStr,
    dir: &Dir,
    name: &OsStr,
    temp: &OsStr,
    entry: &Entry,
) -> Result<(), RestoreError> {
    let path = Path::new(&entry.path);
    let leader = entry.links_to.as_deref().unwrap_or_default();
    let target = leader_dir.stat_at(leader_name).ctx("inspect", Path::new(leader))?;
    if target.kind != Kind::File {
        return Err(RestoreError::Conflict(format!(
            "{leader} is no longer a file, so {} cannot be linked to it",
            entry.path
        )));
    }
    match dir.stat_at(name) {
        Ok(now) if now.kind == Kind::Special => return Err(special(&entry.path)),
        Ok(now) if (now.dev, now.ino) == (target.dev, target.ino) => return Ok(()),
        Ok(now) if now.kind == Kind::Dir => {
            return Err(RestoreError::Conflict(format!("{} is a directory now", entry.path)));
        }
        Err(e) if !is_gone(&e) => return Err(e).ctx("inspect", path),
        _ => {}
    }
    match dir.unlink(temp) {
        Err(e) if !is_gone(&e) => return Err(e).ctx("remove a stale temporary for", path),
        _ => {}
    }
    leader_dir.hard_link(leader_name, dir, temp).ctx("link", path)?;
    let made = dir.stat_at(temp).ctx("inspect", path)?;
    if (made.dev, made.ino) != (target.dev, target.ino) {
        let _ = dir.unlink(temp);
        return Err(RestoreError::Conflict(format!("{leader} was replaced during the rollback")));
    }
    dir.rename(temp, name).ctx("rename into place", path)
}

fn changed(path: &str, was: &str) -> RestoreError {
    RestoreError::Conflict(format!("{path} is no longer {was}: it changed during the rollback"))
}

// Unix symlink ownership rules (lchown, modes).
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{lchown, symlink};

    #[test]
    fn anchors_follow_only_symlinks_root_made_where_only_root_writes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("real/sub")).unwrap();
        symlink("real", dir.path().join("rel")).unwrap();
        symlink(dir.path().join("real"), dir.path().join("abs")).unwrap();
        for via in ["rel/sub", "abs/sub", "real/../real/sub"] {
            let opened = open_anchor(&dir.path().join(via)).unwrap().stat().unwrap();
            let real = Dir::open_trusted(&dir.path().join("real/sub")).unwrap().stat().unwrap();
            assert_eq!((opened.dev, opened.ino), (real.dev, real.ino), "{via}");
        }
        // A user's symlink is never followed.
        lchown(dir.path().join("rel"), Some(1000), Some(1000)).unwrap();
        assert!(open_anchor(&dir.path().join("rel/sub")).is_err());
        // Nor root's, in a directory others may write.
        std::fs::create_dir(dir.path().join("open")).unwrap();
        std::fs::set_permissions(
            dir.path().join("open"),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        symlink(dir.path().join("real"), dir.path().join("open/l")).unwrap();
        assert!(open_anchor(&dir.path().join("open/l/sub")).is_err());
    }
}

// Windows only: roots named with `/`, reached through handles.
#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    #[test]
    fn roots_are_named_with_slashes_and_located_through_handles() {
        assert_eq!(root_text(Path::new(r"C:\ProgramData\app")), "C:/ProgramData/app");
        assert_eq!(root_text(Path::new(r"\\?\D:\data")), "D:/data");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("root/sub")).unwrap();
        std::fs::write(dir.path().join("root/sub/f"), b"x").unwrap();
        let root = root_text(&dir.path().join("root"));
        let anchors = Anchors::open(std::slice::from_ref(&root));
        let (sub, name) = anchors.locate(&format!("{root}/sub/f")).unwrap();
        assert_eq!(name, "f");
        assert_eq!(sub.stat_at(&name).unwrap().kind, Kind::File);
        assert!(anchors.open_regular(&format!("{root}/sub/f")).unwrap().is_some());
        assert!(anchors.locate(&format!("{root}/../root/sub/f")).is_err(), "no `..`");
        assert!(anchors.locate("C:/elsewhere/f").is_err(), "outside the roots");
        assert!(!anchors.exists(&format!("{root}/sub/gone")));
    }
}
