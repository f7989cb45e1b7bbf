//! The accept loop: the handshake gate before anything else, one task per
//! connection, a graceful shutdown that lets sessions record their end,
//! CRL reloading, and the once-a-minute summary of rejected handshakes.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use quinn::{Endpoint, VarInt};
use tether_audit::{AuditLog, Record};
use tether_diag::doctor::{HogTracker, ProcessSampler};
use tether_proto::close;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::admission::{Entry, HandshakeGate, SessionSlots, ViewSlots};
use crate::config::AgentConfig;
use crate::connection;
use crate::error::AgentError;
use crate::rejections::{self, Noted, Rejections};
use crate::restore::{self, RestoreState};
use crate::screen::ControlSlot;
use crate::sessions::Registry;
use crate::tls;

/// How long shutdown waits for sessions to close and record their end.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How often the agent looks at the CRL file for changes. A revocation
/// takes effect for new connections within this time (or at once on
/// SIGHUP).
pub const CRL_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// What every connection task shares.
#[derive(Debug)]
pub struct Shared {
    pub config: AgentConfig,
    pub audit: AuditLog,
    /// "tether-agent X.Y.Z", as told to controllers.
    pub software: String,
    /// Established sessions, so a CRL reload can end revoked ones.
    pub sessions: Registry,
    /// Which processes have pegged a CPU and since when, fed by the
    /// background sampler, read by `doctor`.
    pub hogs: Mutex<HogTracker>,
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
    pub fn new(config: AgentConfig, audit: AuditLog, restore: RestoreState) -> Shared {
        let limits = &config.limits;
        Shared {
            handshakes: HandshakeGate::new(limits.max_handshakes),
            slots: SessionSlots::new(limits),
            views: ViewSlots::new(limits),
            rejections: Rejections::new(std::time::Instant::now()),
            software: format!("tether-agent {}", env!("CARGO_PKG_VERSION")),
            sessions: Registry::default(),
            hogs: Mutex::default(),
            control: ControlSlot::default(),
            config,
            audit,
            restore,
        }
    }

    /// Records a rejected handshake: in full while rejections are rare,
    /// otherwise counted for the minute's summary.
    pub async fn handshake_rejected(self: &Arc<Self>, peer: std::net::SocketAddr, why: &str) {
        let now = std::time::Instant::now();
        if self.rejections.note(now, peer.ip(), why) == Noted::Record {
            let mut record = Record::now("-", peer.to_string(), "connect");
            record.outcome = "rejected".into();
            record.detail = why.to_owned();
            if let Err(e) = self.audit(record).await {
                warn!("audit write failed: {e}");
            }
        }
    }

    /// Writes the summaries of counted rejections once their window is
    /// over (or at once with `force`).
    async fn summarise_rejections(self: &Arc<Self>, force: bool) {
        for summary in self.rejections.drain(std::time::Instant::now(), force) {
            let peer = summary.addr.map_or_else(|| "-".to_owned(), |a| a.to_string());
            let mut record = Record::now("-", peer, "connect");
            record.outcome = "rejected".into();
            record.detail = summary.detail(rejections::WINDOW);
            warn!("{}", record.detail);
            if let Err(e) = self.audit(record).await {
                warn!("audit write failed: {e}");
            }
        }
    }

    /// Appends a record on a blocking thread and waits until it is durable.
    pub async fn audit(self: &Arc<Self>, record: Record) -> Result<(), AgentError> {
        let shared = Arc::clone(self);
        tokio::task::spawn_blocking(move || shared.audit.append(&record))
            .await
            .map_err(|e| AgentError::Internal(format!("audit task failed: {e}")))?
            .map_err(AgentError::Audit)
    }
}

/// Serves connections on `endpoint` until `shutdown` completes, then closes
/// every session, waits up to [`SHUTDOWN_GRACE`] for them to finish, and
/// returns. `reload` fires when the TLS material (the CRL) should be
/// re-read.
pub async fn run(
    endpoint: Endpoint,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
    mut reload: mpsc::Receiver<()>,
) -> Result<(), AgentError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; when all are dropped, all tasks
    // have finished (mini-redis's completion-channel pattern).
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut crl_stamp = crl_modified(&shared.config);
    let sampler = tokio::spawn(sample_processes(Arc::clone(&shared)));
    let schedule = match (&shared.restore, shared.config.restore.as_ref().and_then(|r| r.schedule))
    {
        (Ok(service), Some(every)) => {
            Some(tokio::spawn(restore::schedule(Arc::clone(&shared), Arc::clone(service), every)))
        }
        _ => None,
    };
    let mut crl_poll = tokio::time::interval(CRL_POLL_INTERVAL);
    crl_poll.tick().await;
    let mut summary_tick = tokio::time::interval(rejections::WINDOW / 4);
    summary_tick.tick().await;
    tokio::pin!(shutdown);

    loop {
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let peer = incoming.remote_address();
                let ticket = match shared.handshakes.enter(peer.ip(), incoming.remote_address_validated()) {
                    Entry::Proceed(ticket) => ticket,
                    Entry::Retry => {
                        // Stateless: the client must echo the token from
                        // the address it claims before anything is held.
                        if let Err(e) = incoming.retry() {
                            debug!(%peer, "retry not possible: {e}");
                            e.into_incoming().ignore();
                        }
                        continue;
                    }
                    Entry::Refuse(why) => {
                        incoming.refuse();
                        let shared = Arc::clone(&shared);
                        tokio::spawn(async move { shared.handshake_rejected(peer, why).await });
                        continue;
                    }
                };
                let task_shared = Arc::clone(&shared);
                let stop = stop_rx.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    connection::serve(incoming, ticket, task_shared, stop).await;
                    drop(done);
                });
            }
            _ = summary_tick.tick() => shared.summarise_rejections(false).await,
            _ = &mut shutdown => {
                info!("shutting down: closing sessions");
                break;
            }
            Some(()) = reload.recv() => reload_tls(&endpoint, &shared, &mut crl_stamp, true).await,
            _ = crl_poll.tick() => {
                if crl_modified(&shared.config) != crl_stamp {
                    reload_tls(&endpoint, &shared, &mut crl_stamp, false).await;
                }
            }
        }
    }

    sampler.abort();
    if let Some(schedule) = schedule {
        schedule.abort();
    }
    // Refuse new connections, tell sessions to close, and wait for them.
    endpoint.set_server_config(None);
    let _ = stop_tx.send(true);
    drop(done_tx);
    if tokio::time::timeout(SHUTDOWN_GRACE, done_rx.recv()).await.is_err() {
        warn!("some sessions did not finish within {SHUTDOWN_GRACE:?}");
    }
    shared.summarise_rejections(true).await;
    endpoint.close(VarInt::from_u32(close::SHUTTING_DOWN), b"agent shutting down");
    // Give the close frames a moment to leave; never block shutdown on it.
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    Ok(())
}

/// Samples per-process CPU use every `sample_interval` for the hog check.
async fn sample_processes(shared: Arc<Shared>) {
    let sampler = match ProcessSampler::new() {
        Ok(s) => Arc::new(Mutex::new(s)),
        Err(e) => {
            warn!("CPU sampling disabled: {e}");
            return;
        }
    };
    let mut tick = tokio::time::interval(shared.config.sample_interval);
    loop {
        tick.tick().await;
        let (sampler, shared) = (Arc::clone(&sampler), Arc::clone(&shared));
        let sampled = tokio::task::spawn_blocking(move || {
            // A poisoned lock only means an earlier sample panicked; sampling again is safe.
            let facts = sampler.lock().unwrap_or_else(|p| p.into_inner()).sample();
            let threshold = shared.config.thresholds.cpu_hog_percent;
            shared.hogs.lock().unwrap_or_else(|p| p.into_inner()).observe(
                std::time::Instant::now(),
                &facts,
                threshold,
            );
        })
        .await;
        if let Err(e) = sampled {
            warn!("CPU sample failed: {e}");
        }
    }
}

fn crl_modified(config: &AgentConfig) -> Option<SystemTime> {
    let path = config.crl.as_ref()?;
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Re-reads certificates, key, CA and CRL, swaps them into the endpoint,
/// and ends live sessions whose certificate is now revoked (rustls checks
/// the CRL only during the handshake). On failure the agent keeps its
/// current, still-valid configuration.
async fn reload_tls(
    endpoint: &Endpoint,
    shared: &Arc<Shared>,
    stamp: &mut Option<SystemTime>,
    asked: bool,
) {
    *stamp = crl_modified(&shared.config);
    let built = tls::server_config(&shared.config)
        .and_then(|tls| tether_transport::server_config(tls).map_err(AgentError::Transport));
    match built {
        Ok(config) => endpoint.set_server_config(Some(config)),
        Err(e) => {
            error!("keeping the previous TLS configuration: {e}");
            return;
        }
    }
    let why = if asked { "SIGHUP" } else { "CRL changed" };
    let revoked = match tls::revoked_serials(&shared.config) {
        Ok(revoked) => revoked,
        Err(e) => {
            error!("reloaded TLS material ({why}) but cannot read the CRL's entries: {e}");
            return;
        }
    };
    for session in shared.sessions.with_serials(&revoked) {
        warn!(session = %session.id, technician = %session.technician, "certificate revoked: ending session");
        session.close(close::UNAUTHORIZED, "technician certificate revoked");
        let mut record = Record::now(&session.id, session.peer.to_string(), "session-revoked");
        record.technician = Some(session.technician.clone());
        record.serial = Some(session.serial.clone());
        record.outcome = "closed".into();
        record.detail = "certificate revoked (CRL reloaded); session ended".into();
        if let Err(e) = shared.audit(record).await {
            warn!("audit write failed: {e}");
        }
    }
    info!("reloaded TLS material ({why})");
}

/// Logs the bound address in the one line tests and operators look for.
pub fn announce(endpoint: &Endpoint, name: &str) -> Result<(), AgentError> {
    let addr = endpoint.local_addr().map_err(|e| AgentError::Internal(e.to_string()))?;
    info!("tether-agent {name} listening on {addr}");
    debug!("protocol {} (ALPN tether/1)", tether_proto::PROTOCOL_VERSION);
    Ok(())
}
