//! The agent's audit log: what was asked, by whom, and what came of it.
//!
//! The log is a plain file of JSON objects, one per line ("JSON Lines"), so
//! that `grep`, `jq` and log shippers read it without help. Durability comes
//! first: [`AuditLog::append`] returns only after the line is written and
//! `fdatasync`ed, and the agent sends its reply only after that, so a reply a
//! technician saw always has its record on disk.
//!
//! The file is opened afresh for every record (`O_APPEND`), which makes the
//! log rotation-friendly: logrotate may move it away at any time and the next
//! record starts a new file; no signal or `copytruncate` is needed. Each
//! open refuses a link at the log's path (`O_NOFOLLOW`; on Windows any
//! reparse point), so the agent is never steered into another file.
//! On Windows the log's directory is created private, and an existing one
//! that others own or may write is refused (on Unix it is `mkdir -p`).
//!
//! This crate knows nothing of the network or the protocol: the agent fills
//! in [`Record`]s from its own types.

#![forbid(unsafe_code)]

pub mod chain;
mod read;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use read::{Follower, Tail, TailError, read_tail};

/// One audited event. Field names are the stable JSON schema of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339 UTC time with milliseconds.
    pub time: String,
    /// The connection's session id ("-" for events outside a session).
    pub session: String,
    /// The peer's socket address.
    pub peer: String,
    /// The technician's certificate common name, once known.
    pub technician: Option<String>,
    /// The technician certificate's serial (lowercase hex), once known.
    pub serial: Option<String>,
    /// The role from the certificate (`tier1` … `tier3`, `fleet`).
    pub role: Option<String>,
    /// The trouble ticket the session works on.
    pub ticket: Option<String>,
    /// What was asked: a request kind, or `connect` / `hello` / `invalid`.
    pub request: String,
    /// A short, secret-free summary of the arguments.
    pub args: String,
    /// `ok`, `denied`, `error`, `bad-request`, `rejected` or `closed`.
    pub outcome: String,
    /// Why, for anything but `ok`; free text.
    pub detail: String,
    /// The BLAKE3 hash of the log line before this one ([`chain`]): empty
    /// for the first record of a chain, absent in records written before
    /// the chain existed. Set by [`AuditLog::append`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

impl Record {
    /// A record stamped with the current time; fill in the rest.
    pub fn now(
        session: impl Into<String>,
        peer: impl Into<String>,
        request: impl Into<String>,
    ) -> Self {
        Record {
            time: timestamp(OffsetDateTime::now_utc()),
            session: session.into(),
            peer: peer.into(),
            technician: None,
            serial: None,
            role: None,
            ticket: None,
            request: request.into(),
            args: String::new(),
            outcome: String::new(),
            detail: String::new(),
            prev: None,
        }
    }
}

impl Record {
    /// The record as sent to a technician over the wire.
    pub fn into_wire(self) -> tether_proto::message::AuditEntry {
        tether_proto::message::AuditEntry {
            role: self.role.as_deref().and_then(|s| s.parse().ok()),
            time: self.time,
            session: self.session,
            peer: self.peer,
            technician: self.technician,
            serial: self.serial,
            ticket: self.ticket,
            request: self.request,
            args: self.args,
            outcome: self.outcome,
            detail: self.detail,
        }
    }

    /// A record received over the wire, for display.
    pub fn from_wire(e: tether_proto::message::AuditEntry) -> Record {
        Record {
            role: e.role.map(|r| r.as_str().to_owned()),
            time: e.time,
            session: e.session,
            peer: e.peer,
            technician: e.technician,
            serial: e.serial,
            ticket: e.ticket,
            request: e.request,
            args: e.args,
            outcome: e.outcome,
            detail: e.detail,
            prev: None,
        }
    }

    /// One aligned line for people: time, outcome, who, what, ticket, peer, why.
    ///
    /// Every field is escaped ([`tether_proto::text`]): names, tickets,
    /// arguments and details come from peers, and a newline or ESC sequence
    /// in one must not forge a record or reach a terminal raw. The JSON log
    /// keeps the exact text.
    pub fn human_line(&self) -> String {
        use tether_proto::text::Escaped;
        let who = match (&self.technician, &self.role) {
            (Some(t), Some(r)) => format!("{t} ({r})"),
            (Some(t), None) => t.clone(),
            _ => "-".to_owned(),
        };
        let what = if self.args.is_empty() {
            self.request.clone()
        } else {
            format!("{} {}", self.request, self.args)
        };
        let mut line = format!(
            "{:<24}  {:<11}  {:<20}  {:<22}  {:<12}  {}",
            Escaped(&self.time),
            Escaped(&self.outcome),
            Escaped(&who),
            Escaped(&what),
            Escaped(self.ticket.as_deref().unwrap_or("-")),
            Escaped(&self.peer)
        );
        if !self.detail.is_empty() {
            line.push_str("  ");
            line.push_str(&tether_proto::text::escape(&self.detail));
        }
        line
    }
}

/// RFC 3339 in UTC with exactly three fractional digits, e.g.
/// `2026-11-23T12:00:00.120Z`: fixed width, so records sort and align as text.
pub fn timestamp(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let utc = t.to_offset(time::UtcOffset::UTC);
    // Formatting a valid date with a static description only fails for
    // years outside 0..=9999, which a clock reading never is.
    utc.format(&format).unwrap_or_else(|_| utc.unix_timestamp().to_string())
}

/// Why a record could not be made durable.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot write audit log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode audit record: {0}")]
    Encode(#[from] serde_json::Error),
}

/// An append-only, durable audit log file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    /// The link to the last line written (the chain's head). The lock also
    /// serialises appends so concurrent sessions never interleave inside a
    /// line and fsyncs do not pile up on the same file.
    head: Mutex<String>,
}

/// Mode for a newly created log: the agent writes, its group (admins) reads.
const LOG_MODE: u32 = 0o640;

impl AuditLog {
    /// Opens (creating if needed) the log at `path` and checks that it can be
    /// appended to, so a misconfigured path fails at start-up rather than on
    /// the first request.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, AuditError> {
        let path = path.into();
        let io = |source| AuditError::Io { path: path.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_dir(dir).map_err(io)?;
        }
        let file = open_append(&path).map_err(io)?;
        file.sync_all().map_err(io)?;
        sync_parent(&path).map_err(io)?;
        let head =
            chain::last_line(&path).map_err(io)?.map_or_else(String::new, |l| chain::link(&l));
        Ok(AuditLog { path, head: Mutex::new(head) })
    }

    /// The link to the last record written: logged by the agent when it
    /// stops, so records cut from the end of the log can be noticed.
    pub fn head(&self) -> String {
        self.head.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and makes it durable before returning.
    ///
    /// This blocks on disk I/O; async callers run it on a blocking thread.
    pub fn append(&self, record: &Record) -> Result<(), AuditError> {
        // A poisoned lock only means another append panicked; the file is
        // still consistent line by line, and the head is only updated after
        // a complete write, so carry on.
        let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
        let mut linked = record.clone();
        linked.prev = Some(head.clone());
        let mut line = serde_json::to_vec(&linked)?;
        let next = chain::link(&line);
        line.push(b'\n');
        let io = |source| AuditError::Io { path: self.path.clone(), source };
        let created = !self.path.exists();
        let mut file = open_append(&self.path).map_err(io)?;
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        if created {
            // The file was rotated away: make its new directory entry durable too.
            sync_parent(&self.path).map_err(io)?;
        }
        *head = next;
        Ok(())
    }
}

/// The log opened for appending, created if missing, never through a link.
fn open_append(path: &Path) -> std::io::Result<File> {
    tether_os::files::open_no_follow(&tether_os::files::Create::new(LOG_MODE).append(), path)
}

/// The log's directory: private on Windows (where a default under `C:\`
/// or `C:\ProgramData` could have been made first by any user, and is
/// then refused); as `mkdir -p` on Unix, where admins read the log
/// through its group.
fn create_dir(dir: &Path) -> std::io::Result<()> {
    if cfg!(windows) {
        tether_os::files::create_private_dir_all(dir)
    } else {
        fs::create_dir_all(dir)
    }
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    tether_os::files::sync_parent(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> Record {
        let mut r = Record::now(format!("s{i}"), "127.0.0.1:1", "info");
        r.technician = Some("alice".into());
        r.outcome = "ok".into();
        r
    }

    #[test]
    fn appends_one_json_object_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path().join("sub/audit.jsonl")).unwrap();
        for i in 0..3 {
            log.append(&record(i)).unwrap();
        }
        let text = fs::read_to_string(log.path()).unwrap();
        let got: Vec<Record> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(got.len(), 3);
        for (i, got) in got.into_iter().enumerate() {
            let mut want = record(i);
            want.time.clone_from(&got.time);
            assert_eq!(got.prev.as_deref().map(str::is_empty), Some(i == 0), "chain start");
            want.prev.clone_from(&got.prev);
            assert_eq!(got, want);
        }
        let meta = fs::metadata(log.path()).unwrap();
        match tether_os::files::mode(&meta) {
            Some(mode) => assert_eq!(mode & 0o777, LOG_MODE),
            // Windows: an ACL no one else may use the log (or write in
            // its directory) by.
            None => {
                let others = tether_os::files::Others::MayNotUse;
                let why = tether_os::files::not_private(log.path(), &meta, others).unwrap();
                assert_eq!(why, None);
                let sub = dir.path().join("sub");
                let meta = fs::metadata(&sub).unwrap();
                let why = tether_os::files::not_private(&sub, &meta, others).unwrap();
                assert_eq!(why, None, "the directory the log made");
            }
        }
    }

    #[test]
    fn survives_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        log.append(&record(1)).unwrap();
        fs::rename(&path, dir.path().join("audit.jsonl.1")).unwrap();
        log.append(&record(2)).unwrap();
        let fresh = fs::read_to_string(&path).unwrap();
        assert_eq!(fresh.lines().count(), 1);
        assert!(fresh.contains("\"s2\""));
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let log = std::sync::Arc::new(AuditLog::open(dir.path().join("a.jsonl")).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        log.append(&record(t * 100 + i)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let text = fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 100);
        assert!(text.lines().all(|l| serde_json::from_str::<Record>(l).is_ok()));
    }

    /// A symlink planted at the log's path (to make the agent append to,
    /// or create, a file of the planter's choosing) is refused, at open
    /// and when a record would follow it after a rotation.
    #[cfg(unix)]
    #[test]
    fn a_link_at_the_log_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let path = dir.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = AuditLog::open(&path).unwrap_err();
        assert!(err.to_string().contains("is a link"), "{err}");
        fs::remove_file(&path).unwrap();
        let log = AuditLog::open(&path).unwrap();
        fs::rename(&path, dir.path().join("audit.jsonl.1")).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = log.append(&record(1)).unwrap_err();
        assert!(err.to_string().contains("is a link"), "{err}");
        assert!(!target.exists(), "nothing written through the link");
    }

    #[test]
    fn unwritable_path_fails_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"").unwrap();
        let err = AuditLog::open(blocker.join("audit.jsonl")).unwrap_err();
        assert!(err.to_string().contains("cannot write audit log"), "{err}");
    }

    #[test]
    fn timestamps_have_milliseconds_and_utc() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_795_000_000_123_456_789).unwrap();
        assert_eq!(timestamp(t), "2026-11-18T11:06:40.123Z");
        let round = OffsetDateTime::from_unix_timestamp_nanos(1_795_000_000_360_000_000).unwrap();
        assert_eq!(timestamp(round), "2026-11-18T11:06:40.360Z");
        let whole = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        assert_eq!(timestamp(whole), "2026-11-18T11:06:40.000Z");
    }

    #[test]
    fn human_lines_escape_every_peer_field() {
        let mut r = record(0);
        r.technician = Some("eve\x1b[2J".into());
        r.ticket = Some("T-1\n2026-11-23T12:00:00.000Z  ok".into());
        r.request = "net".into();
        r.args = "tcp=evil\n.example:443".into();
        r.detail = "\x1b]0;title\x07\u{202e}".into();
        let line = r.human_line();
        assert!(!line.contains(['\n', '\x1b', '\x07', '\u{202e}']), "{line:?}");
        assert!(line.contains("tcp=evil\\n.example:443"), "{line}");
        assert!(line.contains("eve\\x1b[2J"), "{line}");
    }
}
