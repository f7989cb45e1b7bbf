//! The agent's live sessions, so that events outside a connection (a CRL
//! reload today; a local admin ending a session later) can reach it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use quinn::{Connection, VarInt};

/// One established session.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub id: String,
    pub technician: String,
    /// The technician certificate's serial (canonical lowercase hex).
    pub serial: String,
    pub peer: std::net::SocketAddr,
    conn: Connection,
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
    pub fn register(
        &self,
        id: &str,
        technician: &str,
        serial: &str,
        conn: &Connection,
    ) -> Registration<'_> {
        let session = LiveSession {
            id: id.to_owned(),
            technician: technician.to_owned(),
            serial: serial.to_owned(),
            peer: conn.remote_address(),
            conn: conn.clone(),
        };
        self.lock().insert(id.to_owned(), session);
        Registration { registry: self, id: id.to_owned() }
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
    /// Closes the session's connection with an application close code.
    pub fn close(&self, code: u32, reason: &str) {
        self.conn.close(VarInt::from_u32(code), reason.as_bytes());
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}
