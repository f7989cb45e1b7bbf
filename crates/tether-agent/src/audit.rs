//! The agent's handle on its audit log, and who a record is about.
//!
//! Every module that writes records takes an [`Auditor`] (a cheap clone),
//! never the whole agent state: this sits at the bottom of the crate.

use std::net::SocketAddr;
use std::sync::Arc;

use tether_audit::{AuditLog, Record};
use tether_pki::PeerIdentity;
use tracing::warn;

use crate::error::AgentError;

/// Appends records durably without blocking the async threads.
#[derive(Debug, Clone)]
pub struct Auditor {
    log: Arc<AuditLog>,
}

impl Auditor {
    pub fn new(log: AuditLog) -> Auditor {
        Auditor { log: Arc::new(log) }
    }

    /// Appends a record on a blocking thread and waits until it is durable.
    pub async fn append(&self, record: Record) -> Result<(), AgentError> {
        let log = Arc::clone(&self.log);
        tokio::task::spawn_blocking(move || log.append(&record))
            .await
            .map_err(|e| AgentError::Internal(format!("audit task failed: {e}")))?
            .map_err(AgentError::Audit)
    }

    /// Appends a record where there is no reply to hold back: a failed
    /// write is logged loudly instead.
    pub async fn append_or_log(&self, record: Record) {
        if let Err(e) = self.append(record).await {
            warn!("audit write failed: {e}");
        }
    }

    /// The hash chain's head: the last record's hash.
    pub fn head(&self) -> String {
        self.log.head()
    }
}

/// Who is on the other end of a session, for its audit records.
#[derive(Debug, Clone)]
pub struct Who {
    pub session: String,
    pub peer: SocketAddr,
    pub identity: Option<PeerIdentity>,
    pub ticket: Option<String>,
}

impl Who {
    /// A peer not yet identified: a new session id, no certificate yet.
    pub fn new(peer: SocketAddr) -> Who {
        // 64 random bits: unique within one agent's audit log.
        Who { session: tether_os::random::unique_hex_id(), peer, identity: None, ticket: None }
    }

    /// A record about this session, stamped now.
    pub fn record(&self, request: &str, outcome: &str, detail: impl Into<String>) -> Record {
        let mut r = Record::now(&self.session, self.peer.to_string(), request);
        if let Some(id) = &self.identity {
            r.technician = Some(id.name.clone());
            r.serial = Some(id.serial.clone());
            r.role = Some(id.role.as_str().to_owned());
        }
        r.ticket.clone_from(&self.ticket);
        r.outcome = outcome.to_owned();
        r.detail = detail.into();
        r
    }
}
