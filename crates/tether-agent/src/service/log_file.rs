//! The service's log file: appended to, rotated by size, never followed
//! through a link.
//!
//! The service runs as LocalSystem and writes under a directory that
//! ordinary users may be able to create files in (`C:\ProgramData`
//! inherits "Users: create folders / append data" unless an installer
//! narrows it), so the log is opened without following a link at its
//! name and its directory is refused when it is one.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tether_os::files::{Create, Others};

/// An append-only log file that moves itself to `NAME.1` (replacing the
/// older one) once a write would take it past its size limit.
#[derive(Debug)]
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    size: u64,
    limit: u64,
}

impl RotatingLog {
    /// Creates the file's directory if needed (refusing a directory that
    /// is a link) and opens the file for appending.
    pub fn open(path: &Path, limit: u64) -> io::Result<RotatingLog> {
        if let Some(dir) = parent(path) {
            tether_os::files::create_private_dir_all(dir)?;
            check_dir(dir)?;
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog { path: path.to_owned(), file, size, limit })
    }

    /// The rotated file's name: `agent.log` → `agent.log.1`.
    pub fn rotated_path(&self) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(".1");
        PathBuf::from(name)
    }

    /// Renames the file to [`Self::rotated_path`] and starts a new one. On
    /// failure (a reader holding the old file open on Windows) the current
    /// file goes on growing and the next try waits for another `limit`.
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(dir) = parent(&self.path) {
            check_dir(dir)?;
        }
        std::fs::rename(&self.path, self.rotated_path())?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

/// The log's directory: not a link, and no one else may write in it.
fn check_dir(dir: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a link", dir.display()),
        ));
    }
    match tether_os::files::not_private(dir, &meta, Others::MayNotWrite)? {
        None => Ok(()),
        Some(why) => Err(refused(dir, &why)),
    }
}

/// The log opened for appending, never through a link, and only when it
/// has one name and no one else may use it.
fn open_append(path: &Path) -> io::Result<File> {
    let file = tether_os::files::open_no_follow(&Create::new(0o600).append(), path)?;
    if tether_os::files::link_count(&file)? > 1 {
        return Err(refused(path, "it has more than one name (a hard link)"));
    }
    match tether_os::files::not_private_file(&file, Others::MayNotUse)? {
        None => Ok(file),
        Some(why) => Err(refused(path, &why)),
    }
}

fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("refusing the service log {}: {why}", path.display()),
    )
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let full = self.size > 0 && self.size.saturating_add(buf.len() as u64) > self.limit;
        if full && let Err(e) = self.rotate() {
            // Into the current file: the log is where the admin looks.
            let _ = writeln!(self.file, "WARN log rotation failed, writing on here: {e}");
            self.size = 0;
        }
        let written = self.file.write(buf)?;
        self.size = self.size.saturating_add(written as u64);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_the_limit_and_keeps_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("agent.log");
        let mut log = RotatingLog::open(&path, 100).unwrap();
        for i in 0..25 {
            log.write_all(format!("line {i:02} of the log\n").as_bytes()).unwrap();
        }
        log.flush().unwrap();
        let current = std::fs::read_to_string(&path).unwrap();
        let old = std::fs::read_to_string(log.rotated_path()).unwrap();
        // 19-byte lines, 100-byte limit: five lines a file, 0-19 rotated away.
        assert_eq!(old.lines().next(), Some("line 15 of the log"));
        assert_eq!(current.lines().next(), Some("line 20 of the log"));
        assert_eq!(current.lines().last(), Some("line 24 of the log"));
        assert!(current.len() <= 100 && old.len() <= 100, "{} {}", current.len(), old.len());
        let names = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(names, 2, "agent.log and agent.log.1 only");

        // Reopening appends and counts what is already there.
        drop(log);
        let mut log = RotatingLog::open(&path, 100).unwrap();
        log.write_all(b"line 25 of the log\n").unwrap();
        let current = std::fs::read_to_string(&path).unwrap();
        assert_eq!(current.lines().next(), Some("line 25 of the log"), "{current}");
    }

    /// A log file planted before the service starts (another user's, or
    /// readable by others) or hard-linked to another file is refused; one
    /// planted between rotations makes the rotation keep the current file
    /// and say why in it.
    #[cfg(unix)]
    #[test]
    fn a_planted_or_linked_log_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = logs.join("agent.log");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = RotatingLog::open(&path, 100).unwrap_err();
        assert!(e.to_string().contains("others may use it"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::hard_link(&path, dir.path().join("other")).unwrap();
        let e = RotatingLog::open(&path, 100).unwrap_err();
        assert!(e.to_string().contains("more than one name"), "{e}");
        std::fs::remove_file(dir.path().join("other")).unwrap();

        let mut log = RotatingLog::open(&path, 40).unwrap();
        log.write_all(b"first line of the log, 30 b\n").unwrap();
        // The directory opened to others before the rotation.
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).unwrap();
        log.write_all(b"second line, after the rotation\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("WARN log rotation failed") && text.contains("second line"),
            "{text}"
        );
        assert!(!log.rotated_path().exists(), "no rotation happened");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_log_or_its_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"precious\n").unwrap();
        let log = dir.path().join("agent.log");
        std::os::unix::fs::symlink(&target, &log).unwrap();
        let e = RotatingLog::open(&log, 100).unwrap_err();
        assert!(e.to_string().ends_with("is a link"), "{e}");

        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).unwrap();
        let linked_dir = dir.path().join("logs");
        std::os::unix::fs::symlink(&real_dir, &linked_dir).unwrap();
        let e = RotatingLog::open(&linked_dir.join("agent.log"), 100).unwrap_err();
        assert!(e.to_string().ends_with("is a link"), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious\n");
        assert_eq!(std::fs::read_dir(&real_dir).unwrap().count(), 0);
    }
}
