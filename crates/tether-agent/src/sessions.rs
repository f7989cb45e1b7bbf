//! The agent's live sessions, so that events outside a connection (a CRL
//! reload, the local admin listing or ending sessions) can reach them.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use quinn::{Connection, VarInt};
use serde::{Deserialize, Serialize};

/// One established session.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id: String,
    pub technician: String,
    /// The technician certificate's serial (canonical lowercase hex).
    pub serial: String,
    pub role: String,
    pub ticket: Option<String>,
    pub peer: std::net::SocketAddr,
    pub started: SystemTime,
    /// What the session is doing beyond requests: `view`, `control`.
    pub activities: Vec<String>,
    conn: Connection,
}

/// A session as the local administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub technician: String,
    pub role: String,
    pub ticket: Option<String>,
    pub peer: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub activities: Vec<String>,
}

/// Who is on the other end of a new session.
#[derive(Debug, Clone)]
pub struct Newcomer<'a> {
    pub id: &'a str,
    pub technician: &'a str,
    pub serial: &'a str,
    pub role: &'a str,
    pub ticket: Option<&'a str>,
}

/// Marks a session as doing something until dropped.
pub struct Activity<'a> {
    registry: &'a Registry,
    id: String,
    what: String,
}

/// Every established session, by id.
#[derive(Debug, Default)]
pub struct Registry {
    live: Mutex<HashMap<String, LiveSession>>,
}

/// Removes its session from the registry when dropped, however the
/// connection task ends.
pub struct Registration<'a> {
    registry: &'a Registry,
    id: String,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, LiveSession>> {
        // A panic while holding this lock cannot leave the map half-updated
        // (every operation is a single insert or remove), so recover.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a session as live until the returned guard is dropped.
    pub fn register(&self, who: Newcomer<'_>, conn: &Connection) -> Registration<'_> {
        let session = LiveSession {
            id: who.id.to_owned(),
            technician: who.technician.to_owned(),
            serial: who.serial.to_owned(),
            role: who.role.to_owned(),
            ticket: who.ticket.map(str::to_owned),
            peer: conn.remote_address(),
            started: SystemTime::now(),
            activities: Vec::new(),
            conn: conn.clone(),
        };
        self.lock().insert(who.id.to_owned(), session);
        Registration { registry: self, id: who.id.to_owned() }
    }

    /// Marks session `id` as doing `what` (`view`, `control`) until the
    /// guard is dropped.
    pub fn activity(&self, id: &str, what: &str) -> Activity<'_> {
        if let Some(s) = self.lock().get_mut(id) {
            s.activities.push(what.to_owned());
        }
        Activity { registry: self, id: id.to_owned(), what: what.to_owned() }
    }

    /// Every live session, oldest first.
    pub fn list(&self) -> Vec<SessionInfo> {
        let mut list: Vec<SessionInfo> = self.lock().values().map(LiveSession::info).collect();
        list.sort_by(|a, b| (a.started, &a.id).cmp(&(b.started, &b.id)));
        list
    }

    /// The session with this id, if live.
    pub fn get(&self, id: &str) -> Option<LiveSession> {
        self.lock().get(id).cloned()
    }

    /// The sessions whose certificate serial is in `serials`.
    pub fn with_serials(&self, serials: &std::collections::BTreeSet<String>) -> Vec<LiveSession> {
        self.lock().values().filter(|s| serials.contains(&s.serial)).cloned().collect()
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LiveSession {
    /// The session as the local administrator sees it.
    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            id: self.id.clone(),
            technician: self.technician.clone(),
            role: self.role.clone(),
            ticket: self.ticket.clone(),
            peer: self.peer.to_string(),
            started: self.started.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            activities: self.activities.clone(),
        }
    }

    /// Closes the session's connection with an application close code.
    pub fn close(&self, code: u32, reason: &str) {
        self.conn.close(VarInt::from_u32(code), reason.as_bytes());
    }
}

impl Drop for Activity<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.registry.lock().get_mut(&self.id)
            && let Some(i) = s.activities.iter().position(|a| *a == self.what)
        {
            s.activities.remove(i);
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}
