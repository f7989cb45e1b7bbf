//! What every connection task shares, as narrow handles: each lower
//! module (audit, admission, sessions, restore, screen, diagnostics) owns
//! its part, and this struct only holds them together for the modules
//! above (connection, dispatch, view stream, admin, the accept loop).
//! Nothing here imports upward.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tether_audit::Record;
use tracing::warn;

use crate::admission::{HandshakeGate, SessionSlots, ViewSlots};
use crate::audit::Auditor;
use crate::config::AgentConfig;
use crate::diagnostics::Diagnostics;
use crate::rejections::{self, Noted, Rejections};
use crate::restore::RestoreState;
use crate::screen::ControlSlot;
use crate::sessions::Registry;

/// The agent's state shared by every task.
#[derive(Debug)]
pub struct Shared {
    pub config: AgentConfig,
    pub audit: Auditor,
    /// "tether-agent X.Y.Z", as told to controllers.
    pub software: String,
    /// Established sessions, so a CRL reload can end revoked ones.
    pub sessions: Registry,
    /// The CPU-hog record for `doctor`.
    pub diagnostics: Arc<Diagnostics>,
    /// Restore points, or why they are unavailable.
    pub restore: RestoreState,
    /// Which session controls mouse and keyboard, if any.
    pub control: ControlSlot,
    /// TLS handshakes in progress.
    pub handshakes: Arc<HandshakeGate>,
    /// Established sessions by role and certificate.
    pub slots: Arc<SessionSlots>,
    /// View streams per session and agent.
    pub views: Arc<ViewSlots>,
    /// Rejected handshakes not yet summarised in the audit log.
    pub rejections: Rejections,
}

impl Shared {
    /// The state every connection shares, with its limits from `config`.
    pub fn new(config: AgentConfig, audit: Auditor, restore: RestoreState) -> Shared {
        let limits = &config.limits;
        Shared {
            handshakes: HandshakeGate::new(limits.max_handshakes),
            slots: SessionSlots::new(limits),
            views: ViewSlots::new(limits),
            rejections: Rejections::new(Instant::now()),
            software: format!("tether-agent {}", env!("CARGO_PKG_VERSION")),
            sessions: Registry::default(),
            diagnostics: Arc::default(),
            control: ControlSlot::default(),
            config,
            audit,
            restore,
        }
    }

    /// Records a rejected handshake: in full while rejections are rare,
    /// otherwise counted for the minute's summary.
    pub async fn handshake_rejected(&self, peer: SocketAddr, why: &str) {
        if self.rejections.note(Instant::now(), peer.ip(), why) == Noted::Record {
            let mut record = Record::now("-", peer.to_string(), "connect");
            record.outcome = "rejected".into();
            record.detail = why.to_owned();
            self.audit.append_or_log(record).await;
        }
    }

    /// Writes the summaries of counted rejections once their window is
    /// over (or at once with `force`).
    pub async fn summarise_rejections(&self, force: bool) {
        for summary in self.rejections.drain(Instant::now(), force) {
            let peer = summary.addr.map_or_else(|| "-".to_owned(), |a| a.to_string());
            let mut record = Record::now("-", peer, "connect");
            record.outcome = "rejected".into();
            record.detail = summary.detail(rejections::WINDOW);
            warn!("{}", record.detail);
            self.audit.append_or_log(record).await;
        }
    }
}
