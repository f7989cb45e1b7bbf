//! The accept loop: the handshake gate before anything else, one task per
//! connection, a graceful shutdown that lets sessions record their end,
//! CRL reloading, and the once-a-minute summary of rejected handshakes.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use quinn::{Endpoint, VarInt};
use tether_audit::Record;
use tether_proto::close;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use crate::admission::Entry;
use crate::config::AgentConfig;
use crate::connection;
use crate::error::AgentError;
use crate::rejections;
use crate::restore;
use crate::state::Shared;
use crate::tls;

/// How long shutdown waits for sessions to close and record their end.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How often the agent looks at the CRL file for changes. A revocation
/// takes effect for new connections within this time (or at once on
/// SIGHUP).
pub const CRL_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// Serves connections on `endpoint` until `shutdown` completes, then closes
/// every session, waits up to [`SHUTDOWN_GRACE`] for them to finish, and
/// returns. `reload` fires when the TLS material (the CRL) should be
/// re-read. With `cpu_sampler`, the background CPU-hog sampler runs for
/// `doctor` (agents simulated by the hundred in one process leave it out).
pub async fn run(
    endpoint: Endpoint,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
    mut reload: mpsc::Receiver<()>,
    cpu_sampler: bool,
) -> Result<(), AgentError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; when all are dropped, all tasks
    // have finished (mini-redis's completion-channel pattern).
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut crl_stamp = crl_modified(&shared.config);
    let sampler = cpu_sampler.then(|| {
        tokio::spawn(
            Arc::clone(&shared.diagnostics)
                .sample(shared.config.sample_interval, shared.config.thresholds.cpu_hog_percent),
        )
    });
    let schedule = match (&shared.restore, shared.config.restore.as_ref().and_then(|r| r.schedule))
    {
        (Ok(service), Some(every)) => {
            Some(tokio::spawn(restore::schedule(shared.audit.clone(), Arc::clone(service), every)))
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

    if let Some(sampler) = sampler {
        sampler.abort();
    }
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
        shared.audit.append_or_log(record).await;
    }
    info!("reloaded TLS material ({why})");
}
