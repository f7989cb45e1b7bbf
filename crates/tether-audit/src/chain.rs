//! The hash chain: every record carries the BLAKE3 hash of the line before
//! it (`prev`), so a record edited or removed from the middle of the log,
//! or a log cut at the front and passed off as whole, is detected by
//! [`verify`]. The chain runs across rotation: the first record of a new
//! file links to the last record of the file rotated away.
//!
//! What the chain cannot show on its own: records removed from the very
//! end of the newest file (nothing after them links to them). The agent
//! logs the chain's head at every stop, so an operator can compare.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::Record;
use crate::read::MAX_LINE;

/// The link to a line: the BLAKE3 hash of its bytes (without the newline),
/// in hex.
pub fn link(line: &[u8]) -> String {
    blake3::hash(line).to_hex().to_string()
}

/// The last complete line of the file at `path`, if any.
pub(crate) fn last_line(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let start = len.saturating_sub(MAX_LINE as u64 + 1);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.take(len - start).read_to_end(&mut tail)?;
    // A torn last line (a crash mid-write) has no newline; the chain links
    // to the last complete one, as a reader would see it.
    let Some(end) = tail.iter().rposition(|&b| b == b'\n') else { return Ok(None) };
    let body = &tail[..end];
    let begin = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if begin == 0 && start > 0 {
        // Longer than any record the agent writes: nothing to link to.
        return Ok(None);
    }
    Ok(Some(body[begin..].to_vec()))
}

/// Where the chain broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: usize,
    pub why: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    /// Lines read.
    pub records: usize,
    /// Leading records written before the chain existed (no `prev`).
    pub unchained: usize,
    /// The first record links to a line not in the files given (they
    /// begin after a rotation, or the front of the log is missing).
    pub starts_mid_chain: bool,
    /// Files that start a new chain (the log was rotated away while the
    /// agent was stopped, so the new file had nothing to link to).
    pub restarts: usize,
    /// The link to the last line: the chain's head.
    pub head: Option<String>,
    /// The first break, if any; reading stops there.
    pub broken: Option<Break>,
}

/// Checks the chain through `files`, oldest first (e.g. `audit.jsonl.1`
/// then `audit.jsonl`).
pub fn verify(files: &[PathBuf]) -> io::Result<Verification> {
    let mut v = Verification::default();
    let mut previous: Option<String> = None;
    let mut chained = false;
    for path in files {
        let reader = BufReader::new(File::open(path)?);
        for (i, line) in split_lines(reader).enumerate() {
            let line = line?;
            v.records += 1;
            let broken = |why: &str| Break { file: path.clone(), line: i + 1, why: why.to_owned() };
            let record: Record = match serde_json::from_slice(&line) {
                Ok(r) => r,
                Err(e) => {
                    v.broken = Some(broken(&format!("not a valid record ({e})")));
                    return Ok(v);
                }
            };
            let fault = match record.prev.as_deref() {
                None if chained => Some("a record without its link inside the chain"),
                None => {
                    v.unchained += 1;
                    None
                }
                // A chain starts where nothing came before in its file
                // (after legacy records at most).
                Some("") if i == v.unchained || (i == 0 && chained) => {
                    if chained {
                        v.restarts += 1;
                    }
                    None
                }
                Some("") => Some("the chain starts over in the middle of a file"),
                Some(p) => match &previous {
                    None => {
                        v.starts_mid_chain = true;
                        None
                    }
                    Some(want) if p == want => None,
                    Some(_) if i == 0 => Some(
                        "it does not link to the end of the file before it (files missing or \
                         out of order?)",
                    ),
                    Some(_) => Some(
                        "its link does not match the line before it: a record was changed, \
                         removed or inserted here",
                    ),
                },
            };
            if let Some(why) = fault {
                v.broken = Some(broken(why));
                return Ok(v);
            }
            chained |= record.prev.is_some();
            previous = Some(link(&line));
        }
    }
    v.head = previous;
    Ok(v)
}

/// Lines without their newline; a line longer than [`MAX_LINE`] is an
/// error rather than a reason to hold unbounded data.
fn split_lines<R: BufRead>(mut reader: R) -> impl Iterator<Item = io::Result<Vec<u8>>> {
    std::iter::from_fn(move || {
        let mut line = Vec::new();
        match (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line) {
            Ok(0) => None,
            Ok(_) if line.len() > MAX_LINE => {
                Some(Err(io::Error::new(io::ErrorKind::InvalidData, "line too long")))
            }
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                Some(Ok(line))
            }
            Err(e) => Some(Err(e)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuditLog;

    fn record(i: usize) -> Record {
        let mut r = Record::now(format!("s{i}"), "127.0.0.1:1", "kill");
        r.outcome = "ok".into();
        r
    }

    fn write(n: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        for i in 0..n {
            log.append(&record(i)).unwrap();
        }
        (dir, path)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn an_untouched_log_verifies() {
        let (_dir, path) = write(5);
        let v = verify(std::slice::from_ref(&path)).unwrap();
        assert_eq!((v.records, v.unchained, v.broken, v.starts_mid_chain), (5, 0, None, false));
        assert_eq!(v.head, Some(link(lines(&path)[4].as_bytes())));
    }

    #[test]
    fn an_edited_or_removed_record_is_found() {
        let (_dir, path) = write(5);
        let original = lines(&path);
        let mut edited = original.clone();
        edited[2] = edited[2].replace("\"ok\"", "\"denied\"");
        std::fs::write(&path, edited.join("\n") + "\n").unwrap();
        let v = verify(std::slice::from_ref(&path)).unwrap();
        assert_eq!(v.broken.unwrap().line, 4, "the record after the edited one breaks");

        let mut removed = original.clone();
        removed.remove(1);
        std::fs::write(&path, removed.join("\n") + "\n").unwrap();
        assert_eq!(verify(std::slice::from_ref(&path)).unwrap().broken.unwrap().line, 2);

        // Cutting the front off is not a break, but it is reported.
        std::fs::write(&path, original[2..].join("\n") + "\n").unwrap();
        let v = verify(&[path]).unwrap();
        assert!(v.starts_mid_chain && v.broken.is_none());
    }

    #[test]
    fn a_log_rotated_while_the_agent_was_down_starts_a_new_chain() {
        let (dir, path) = write(3);
        let rotated = dir.path().join("audit.jsonl.1");
        std::fs::rename(&path, &rotated).unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.append(&record(10)).unwrap();
        log.append(&record(11)).unwrap();
        let v = verify(&[rotated, path.clone()]).unwrap();
        assert_eq!((v.records, v.restarts, v.broken), (5, 1, None));
        // A restart anywhere but a file's first line is a break.
        let mut l = lines(&path);
        let restart = l[0].clone();
        l.push(restart);
        std::fs::write(&path, l.join("\n") + "\n").unwrap();
        let v = verify(&[path]).unwrap();
        assert_eq!(v.broken.unwrap().line, 3);
    }

    #[test]
    fn one_process_links_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let rotated = dir.path().join("audit.jsonl.1");
        let log = AuditLog::open(&path).unwrap();
        log.append(&record(1)).unwrap();
        std::fs::rename(&path, &rotated).unwrap();
        log.append(&record(2)).unwrap();
        let v = verify(&[rotated, path]).unwrap();
        assert_eq!((v.records, v.broken, v.starts_mid_chain), (2, None, false));
    }

    #[test]
    fn legacy_records_before_the_chain_are_counted_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let legacy: Vec<String> =
            (0..2).map(|i| serde_json::to_string(&record(i)).unwrap()).collect();
        std::fs::write(&path, legacy.join("\n") + "\n").unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.append(&record(3)).unwrap();
        let v = verify(&[path]).unwrap();
        assert_eq!((v.records, v.unchained, v.broken, v.starts_mid_chain), (3, 2, None, false));
    }

    #[test]
    fn a_torn_last_line_is_not_linked_to() {
        let (_dir, path) = write(2);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, b"{\"time\":\"torn").unwrap();
        let expected = link(lines(&path)[1].as_bytes());
        assert_eq!(last_line(&path).unwrap().map(|l| link(&l)), Some(expected));
    }
}
