//! The agent's lifecycle as a library: [`Agent::open`] checks and binds
//! everything, [`Agent::run`] serves until its shutdown future completes.
//!
//! The binary adds only signals and logging around these two calls, and
//! in-process tests run the very same code on `127.0.0.1:0`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tether_agent::AgentError> {
//! let config = tether_agent::AgentConfig::load("/etc/tether/agent.toml".as_ref())?;
//! let agent = tether_agent::Agent::open(config)?;
//! println!("listening on {}", agent.local_addr());
//! agent.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use quinn::Endpoint;
use tether_audit::{AuditLog, Record};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::admin;
use crate::audit::Auditor;
use crate::config::AgentConfig;
use crate::error::AgentError;
use crate::restore;
use crate::server;
use crate::state::Shared;
use crate::tls;

/// An agent with its socket bound and its state open, not yet serving.
#[derive(Debug)]
pub struct Agent {
    endpoint: Endpoint,
    shared: Arc<Shared>,
    /// A rollback a crash interrupted, finished or reverted while opening:
    /// the line for the log and whether it went well.
    recovery: Option<(String, bool)>,
    reload_tx: mpsc::Sender<()>,
    reload_rx: mpsc::Receiver<()>,
    admin_socket: bool,
    cpu_sampler: bool,
}

impl Agent {
    /// Loads the TLS material, opens the audit log and the restore store
    /// (finishing or reverting a rollback a crash interrupted, before
    /// anyone is served), and binds the QUIC endpoint. Must be called
    /// inside a tokio runtime.
    pub fn open(config: AgentConfig) -> Result<Agent, AgentError> {
        let tls = tls::server_config(&config)?;
        let audit = Auditor::new(AuditLog::open(&config.audit_path)?);
        let (restore, recovery) = restore::open(config.restore.as_ref());
        let endpoint = tether_transport::server_endpoint(config.listen, tls)?;
        let shared = Arc::new(Shared::new(config, audit, restore));
        let (reload_tx, reload_rx) = mpsc::channel(1);
        Ok(Agent {
            endpoint,
            shared,
            recovery,
            reload_tx,
            reload_rx,
            admin_socket: true,
            cpu_sampler: true,
        })
    }

    /// Leaves out the local admin socket (`tether-agent sessions`): for
    /// several agents in one process, as in tests.
    pub fn without_admin_socket(mut self) -> Agent {
        self.admin_socket = false;
        self
    }

    /// Leaves out the background CPU sampler `doctor` reads its CPU-hog
    /// findings from: for many agents in one process, which would all
    /// sample the same process table.
    pub fn without_cpu_sampler(mut self) -> Agent {
        self.cpu_sampler = false;
        self
    }

    /// The address the agent listens on (the port is known even when the
    /// configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        // A bound UDP socket always has a local address.
        self.endpoint.local_addr().unwrap_or(self.shared.config.listen)
    }

    /// A sender that makes the agent re-read its TLS material (the CRL),
    /// as SIGHUP does.
    pub fn reloader(&self) -> mpsc::Sender<()> {
        self.reload_tx.clone()
    }

    /// Records the start, serves until `shutdown` completes, lets sessions
    /// record their end, records the stop and logs the audit chain's head.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), AgentError> {
        let Agent { endpoint, shared, recovery, reload_tx, reload_rx, admin_socket, cpu_sampler } =
            self;
        drop(reload_tx);
        let bound = endpoint.local_addr().map_err(|e| AgentError::Internal(e.to_string()))?;
        info!("tether-agent {} listening on {bound}", shared.config.name);
        tracing::debug!("protocol {} (ALPN tether/1)", tether_proto::PROTOCOL_VERSION);
        lifecycle_record(&shared, bound, "agent-start").await?;
        if let Some((line, ok)) = recovery {
            warn!("{line}");
            let mut record = Record::now("-", bound.to_string(), "restore-recovery");
            record.outcome = if ok { "ok" } else { "error" }.into();
            record.detail = line;
            shared.audit.append(record).await.map_err(|e| e.context("the restore recovery"))?;
        }
        let (admin_stop, admin_stopped) = watch::channel(false);
        let admin_task = if admin_socket { start_admin(&shared, admin_stopped) } else { None };
        server::run(endpoint, Arc::clone(&shared), shutdown, reload_rx, cpu_sampler).await?;
        let _ = admin_stop.send(true);
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        lifecycle_record(&shared, bound, "agent-stop").await?;
        // Anchors the audit chain outside the log: records cut from its
        // end show as a head that differs from this line.
        info!(head = %shared.audit.head(), "stopped");
        Ok(())
    }
}

/// The local admin socket's task, or `None` (with a warning) when the
/// socket cannot be bound: serving technicians does not depend on it.
fn start_admin(
    shared: &Arc<Shared>,
    stopped: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let socket = shared.config.control_socket.clone();
    match admin::bind(&socket) {
        Ok(listener) => {
            Some(tokio::spawn(admin::serve(listener, socket, Arc::clone(shared), stopped)))
        }
        Err(e) => {
            warn!(
                "admin socket {} unavailable ({e}); `tether-agent sessions` will not reach this agent",
                socket.display()
            );
            None
        }
    }
}

async fn lifecycle_record(
    shared: &Shared,
    bound: SocketAddr,
    event: &'static str,
) -> Result<(), AgentError> {
    let mut record = Record::now("-", bound.to_string(), event);
    record.outcome = "ok".into();
    record.detail = shared.software.clone();
    shared.audit.append(record).await.map_err(|e| e.context(event))
}
