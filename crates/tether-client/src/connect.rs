//! From options to a greeted [`Session`]: the identity is loaded once into a
//! [`Connector`], which then connects to as many agents as asked.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quinn::Endpoint;

use tether_proto::handshake::{Hello, validate_ticket};
use tether_transport::Client;

use crate::error::ClientError;
use crate::hosts::{Hosts, Target};
use crate::identity::IdentityFiles;
use crate::session::{self, Session};

/// What a [`Connector`] needs: who the technician is, where the hosts file
/// is, and how to greet agents.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The technician's certificate, key, CA and CRL.
    pub identity: IdentityFiles,
    /// The hosts file; `None` for no aliases. A missing file is no aliases.
    pub hosts_file: Option<PathBuf>,
    /// The name the agent's certificate must carry, when it differs from
    /// the HOST argument (or the alias's `name`).
    pub server_name: Option<String>,
    /// The trouble ticket the sessions work on, recorded by agents.
    pub ticket: Option<String>,
    /// How long connecting and each plain request may take; requests that
    /// run long on the agent (checks, rollbacks, transfers) add their own
    /// allowance.
    pub timeout: Duration,
    /// The controller's name and version sent in the hello, e.g.
    /// "tether 0.1.0"; agents record it.
    pub software: String,
}

impl ConnectOptions {
    /// Options for the identity in config directory `dir` (its
    /// `hosts.toml` included), a 10 s timeout and no ticket.
    ///
    /// ```
    /// let options = tether_client::ConnectOptions::from_config_dir("/home/alice/.config/tether");
    /// assert!(options.hosts_file.unwrap().ends_with("hosts.toml"));
    /// ```
    pub fn from_config_dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        ConnectOptions {
            identity: IdentityFiles::in_dir(&dir),
            hosts_file: Some(dir.join("hosts.toml")),
            server_name: None,
            ticket: None,
            timeout: Duration::from_secs(10),
            software: format!("tether-client {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A technician's identity, loaded and checked, ready to connect to agents.
///
/// Loading reads every file once (certificates, key, CRL, hosts file), so a
/// runner that reaches many agents builds one `Connector` and calls
/// [`Connector::connect`] for each; connects may run concurrently.
///
/// ```no_run
/// # async fn demo() -> Result<(), tether_client::ClientError> {
/// use tether_client::{ConnectOptions, Connector};
///
/// let connector = Connector::new(ConnectOptions::from_config_dir("/home/alice/.config/tether"))?;
/// let session = connector.connect("front-desk").await?;
/// println!("{} runs {}", session.welcome().agent_name, session.welcome().agent_software);
/// session.finish().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Connector {
    tls: Arc<rustls::ClientConfig>,
    hosts: Hosts,
    server_name: Option<String>,
    hello: Hello,
    timeout: Duration,
    /// One endpoint per address family for every connection, once
    /// [`Connector::with_shared_endpoint`] asked for it.
    shared: Option<Arc<SharedEndpoints>>,
}

/// The endpoints all of a connector's connections share: one UDP socket
/// per address family, bound on first use.
#[derive(Debug, Default)]
struct SharedEndpoints {
    v4: Mutex<Option<Endpoint>>,
    v6: Mutex<Option<Endpoint>>,
}

impl SharedEndpoints {
    fn slot(&self, remote: SocketAddr) -> &Mutex<Option<Endpoint>> {
        if remote.is_ipv4() { &self.v4 } else { &self.v6 }
    }

    fn get(
        &self,
        remote: SocketAddr,
        tls: &rustls::ClientConfig,
    ) -> Result<Endpoint, tether_transport::TransportError> {
        // Binding under the lock is one system call; a poisoned lock only
        // means another connect panicked, and the slot is still whole.
        let mut slot = self.slot(remote).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(endpoint) = &*slot {
            return Ok(endpoint.clone());
        }
        let endpoint = tether_transport::client_endpoint(remote, tls.clone())?;
        *slot = Some(endpoint.clone());
        Ok(endpoint)
    }

    fn all(&self) -> Vec<Endpoint> {
        [&self.v4, &self.v6]
            .into_iter()
            .filter_map(|slot| slot.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

impl Connector {
    /// Checks the ticket, loads the identity and the hosts file, in that
    /// order.
    pub fn new(options: ConnectOptions) -> Result<Connector, ClientError> {
        if let Some(ticket) = &options.ticket {
            validate_ticket(ticket).map_err(ClientError::InvalidTicket)?;
        }
        let tls = options.identity.client_tls()?;
        let hosts = match &options.hosts_file {
            Some(path) => Hosts::load(path)?,
            None => Hosts::default(),
        };
        Ok(Connector {
            tls: Arc::new(tls),
            hosts,
            server_name: options.server_name,
            hello: Hello::new(options.software, options.ticket),
            timeout: options.timeout,
            shared: None,
        })
    }

    /// Makes every connection of this connector (and of its clones) use
    /// one QUIC endpoint, one UDP socket per address family, instead of
    /// one each: what a runner reaching thousands of agents needs, so it
    /// holds two sockets rather than thousands. Finishing a session then
    /// waits for nothing; call [`Connector::close_shared`] once at the end.
    pub fn with_shared_endpoint(mut self) -> Connector {
        self.shared = Some(Arc::default());
        self
    }

    /// Gives the closes of sessions on the shared endpoint up to `grace`
    /// to reach their agents (see [`Session::finish`]); returns at once
    /// when every connection on it has drained. No-op without one.
    pub async fn close_shared(&self, grace: Duration) {
        let Some(shared) = &self.shared else { return };
        let deadline = tokio::time::Instant::now() + grace;
        for endpoint in shared.all() {
            let _ = tokio::time::timeout_at(deadline, endpoint.wait_idle()).await;
        }
    }

    /// How long connecting and plain requests may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The aliases of the hosts file.
    pub fn hosts(&self) -> &Hosts {
        &self.hosts
    }

    /// Resolves `host` (an alias or `host[:port]`) without connecting.
    pub async fn resolve(&self, host: &str) -> Result<Target, ClientError> {
        self.hosts.resolve(host, self.server_name.as_deref()).await
    }

    /// Connects to `host` (an alias or `host[:port]`), checks that the
    /// agent's certificate carries the expected name, and says hello.
    pub async fn connect(&self, host: &str) -> Result<Session, ClientError> {
        let target = self.resolve(host).await?;
        self.connect_to(target).await
    }

    /// Connects to an already resolved target.
    pub async fn connect_to(&self, target: Target) -> Result<Session, ClientError> {
        let classify = |e| ClientError::from_transport(e, "", None);
        let endpoint = match &self.shared {
            Some(shared) => shared.get(target.addr, &self.tls),
            None => tether_transport::client_endpoint(target.addr, (*self.tls).clone()),
        }
        .map_err(classify)?;
        let client =
            Client::connect(&endpoint, target.addr, &target.server_name, &self.hello, self.timeout)
                .await
                .map_err(classify)?;
        Ok(session::open(client, target, endpoint, self.timeout, self.shared.is_some()))
    }
}
