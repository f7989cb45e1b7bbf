//! Turning the global flags and a HOST argument into a greeted session.

use std::time::Duration;

use anyhow::Context;
use quinn::Endpoint;
use tether_proto::handshake::{Hello, validate_ticket};
use tether_transport::Client;

use crate::cli::GlobalArgs;
use crate::identity::{self, Hosts, IdentityFiles, Target};

/// A session with one agent and the endpoint that carries it.
pub struct Session {
    pub client: Client,
    pub target: Target,
    endpoint: Endpoint,
}

impl GlobalArgs {
    pub fn config_dir(&self) -> std::path::PathBuf {
        self.config_dir.clone().unwrap_or_else(identity::default_config_dir)
    }

    pub fn timeout(&self) -> anyhow::Result<Duration> {
        Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--timeout must be a positive number of seconds")
    }

    pub fn load_hosts(&self) -> anyhow::Result<Hosts> {
        let path = self.hosts.clone().unwrap_or_else(|| self.config_dir().join("hosts.toml"));
        Hosts::load(&path)
    }
}

/// Connects to `host` as the technician named by the global flags.
pub async fn connect(global: &GlobalArgs, host: &str) -> anyhow::Result<Session> {
    let timeout = global.timeout()?;
    if let Some(ticket) = &global.ticket {
        validate_ticket(ticket).map_err(|e| anyhow::anyhow!("--ticket: {e}"))?;
    }
    let dir = global.config_dir();
    let identity = IdentityFiles::resolve(
        &dir,
        global.cert.clone(),
        global.key.clone(),
        global.ca.clone(),
        global.crl.clone(),
    );
    let tls = identity.client_tls()?;
    let hosts = global.load_hosts()?;
    let target = identity::resolve(host, &hosts, global.server_name.as_deref()).await?;
    let endpoint = tether_transport::client_endpoint(target.addr, tls)?;
    let hello = Hello::new(format!("tether {}", env!("CARGO_PKG_VERSION")), global.ticket.clone());
    let client =
        Client::connect(&endpoint, target.addr, &target.server_name, &hello, timeout).await?;
    lock_open().push((endpoint.clone(), client.connection().clone()));
    Ok(Session { client, target, endpoint })
}

/// Every connection this process opened, so that [`close_all`] can close
/// them whichever way a command ends.
static OPEN: std::sync::Mutex<Vec<(Endpoint, quinn::Connection)>> =
    std::sync::Mutex::new(Vec::new());

fn lock_open() -> std::sync::MutexGuard<'static, Vec<(Endpoint, quinn::Connection)>> {
    // Pushing and taking a Vec cannot be left half-done by a panic.
    OPEN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Closes every connection still open and gives each close the time to
/// reach its agent (see [`Session::finish`]). Called once a command has
/// ended, successfully or not.
pub async fn close_all() {
    let open = std::mem::take(&mut *lock_open());
    for (endpoint, conn) in open {
        let grace = (conn.rtt() * 2 + Duration::from_millis(5)).min(Duration::from_secs(1));
        conn.close(quinn::VarInt::from_u32(tether_proto::close::NORMAL), b"done");
        let _ = tokio::time::timeout(grace, endpoint.wait_idle()).await;
    }
}

impl Session {
    /// Closes the session and gives the close time to reach the agent.
    ///
    /// Waiting out QUIC's whole draining period (three probe timeouts,
    /// ~85 ms even on loopback) would make every command that much slower;
    /// the close frame leaves at once, and two round trips are ample for it
    /// and the agent's answering close. If it is lost anyway, the agent
    /// frees the session at its idle timeout.
    pub async fn finish(self) {
        let grace = (self.client.connection().rtt() * 2 + Duration::from_millis(5))
            .min(Duration::from_secs(1));
        self.client.close();
        let _ = tokio::time::timeout(grace, self.endpoint.wait_idle()).await;
    }
}
