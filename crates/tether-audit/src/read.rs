//! Reading the log back: the newest records, and following new ones.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::Record;

/// How much of the file's end is read at a time while looking for lines.
const CHUNK: u64 = 64 * 1024;

/// Longest line the reader accepts; longer ones are counted as skipped. Real
/// records are a few hundred bytes; the cap keeps a damaged file from making
/// the reader hold unbounded data.
pub(crate) const MAX_LINE: usize = 1024 * 1024;

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read audit log {path}: {source}")]
pub struct TailError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// The newest records of a log, oldest first.
#[derive(Debug, Default)]
pub struct Tail {
    pub records: Vec<Record>,
    /// Lines among the newest that were not valid records (for example a
    /// line torn by a crash mid-write).
    pub skipped: usize,
}

/// Reads the newest `n` lines of the log at `path`, reading backwards from
/// the end so the cost depends on `n`, not on the size of the file.
pub fn read_tail(path: &Path, n: usize) -> Result<Tail, TailError> {
    let err = |source| TailError { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    // Stop once the buffer holds n complete lines plus the newline that ends
    // the line before them.
    while start > 0 && buf.iter().filter(|&&b| b == b'\n').count() <= n {
        let step = CHUNK.min(start);
        start -= step;
        let mut chunk = vec![0; step as usize];
        file.seek(SeekFrom::Start(start)).map_err(err)?;
        file.read_exact(&mut chunk).map_err(err)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.split('\n').collect();
    // The piece after the last newline is an unfinished line (or empty).
    let unfinished = lines.pop().unwrap_or_default();
    if start > 0 && !lines.is_empty() {
        // The first piece may be the end of a longer line.
        lines.remove(0);
    }
    let newest = &lines[lines.len().saturating_sub(n)..];
    let mut tail = Tail::default();
    for line in newest.iter().filter(|l| !l.trim().is_empty()) {
        match parse_line(line) {
            Some(record) => tail.records.push(record),
            None => tail.skipped += 1,
        }
    }
    tail.skipped += usize::from(!unfinished.trim().is_empty());
    Ok(tail)
}

fn parse_line(line: &str) -> Option<Record> {
    if line.len() > MAX_LINE {
        return None;
    }
    serde_json::from_str(line).ok()
}

/// Follows a log like `tail -F`: returns records appended since the last
/// poll, and carries on into a new file when the log is rotated.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    offset: u64,
    partial: Vec<u8>,
}

impl Follower {
    /// Starts at the current end of the log; only new records are returned.
    pub fn from_end(path: impl Into<PathBuf>) -> Result<Self, TailError> {
        let path = path.into();
        let mut follower = Follower { path, file: None, inode: 0, offset: 0, partial: Vec::new() };
        if let Ok(file) = File::open(&follower.path) {
            let meta = file.metadata().map_err(|e| follower.err(e))?;
            follower.inode = tether_os::files::file_id(&file).map_err(|e| follower.err(e))?;
            follower.offset = meta.len();
            follower.file = Some(file);
        }
        Ok(follower)
    }

    /// Returns the complete records appended since the last call.
    pub fn poll(&mut self) -> Result<Tail, TailError> {
        let mut out = Tail::default();
        self.drain(&mut out)?;
        let now = std::fs::metadata(&self.path)
            .and_then(|meta| Ok((tether_os::files::path_id(&self.path)?, meta.len())));
        match now {
            Ok((id, len)) if self.file.is_none() || id != self.inode || len < self.offset => {
                // Rotated, truncated or newly created: the old file was drained
                // above, so switch to the new one from its start.
                self.file = Some(File::open(&self.path).map_err(|e| self.err(e))?);
                self.inode = id;
                self.offset = 0;
                self.partial.clear();
                self.drain(&mut out)?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.err(e)),
        }
        Ok(out)
    }

    fn drain(&mut self, out: &mut Tail) -> Result<(), TailError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let mut fresh = Vec::new();
        let read =
            file.seek(SeekFrom::Start(self.offset)).and_then(|_| file.read_to_end(&mut fresh));
        let read = read.map_err(|e| TailError { path: self.path.clone(), source: e })?;
        self.offset += read as u64;
        self.partial.extend_from_slice(&fresh);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line[..pos]);
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(&line) {
                Some(record) => out.records.push(record),
                None => out.skipped += 1,
            }
        }
        if self.partial.len() > MAX_LINE {
            self.partial.clear();
            out.skipped += 1;
        }
        Ok(())
    }

    fn err(&self, source: io::Error) -> TailError {
        TailError { path: self.path.clone(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuditLog;
    use std::fs;

    fn write(log: &AuditLog, session: &str) {
        let mut r = Record::now(session, "peer", "info");
        r.outcome = "ok".into();
        log.append(&r).unwrap();
    }

    #[test]
    fn tail_returns_the_newest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path().join("a.jsonl")).unwrap();
        for i in 0..2000 {
            write(&log, &format!("s{i}"));
        }
        let tail = read_tail(log.path(), 3).unwrap();
        let sessions: Vec<_> = tail.records.iter().map(|r| r.session.as_str()).collect();
        assert_eq!(sessions, ["s1997", "s1998", "s1999"]);
        assert_eq!(tail.skipped, 0);
        assert_eq!(read_tail(log.path(), 5000).unwrap().records.len(), 2000);
    }

    #[test]
    fn torn_lines_are_counted_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = AuditLog::open(&path).unwrap();
        write(&log, "good");
        fs::OpenOptions::new().append(true).open(&path).unwrap();
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("{\"time\":\"2026-");
        fs::write(&path, text).unwrap();
        let tail = read_tail(&path, 10).unwrap();
        assert_eq!(tail.records.len(), 1);
        assert_eq!(tail.skipped, 1);
    }

    #[test]
    fn follower_sees_appends_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = AuditLog::open(&path).unwrap();
        write(&log, "before");
        let mut follower = Follower::from_end(&path).unwrap();
        assert!(follower.poll().unwrap().records.is_empty());
        write(&log, "one");
        assert_eq!(follower.poll().unwrap().records[0].session, "one");
        write(&log, "two");
        fs::rename(&path, dir.path().join("a.jsonl.1")).unwrap();
        write(&log, "three");
        let got: Vec<_> = follower.poll().unwrap().records.into_iter().map(|r| r.session).collect();
        assert_eq!(got, ["two", "three"]);
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = read_tail(Path::new("/nonexistent/audit.jsonl"), 1).unwrap_err();
        assert!(err.to_string().starts_with("cannot read audit log /nonexistent/audit.jsonl"));
    }
}
