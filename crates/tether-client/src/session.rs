//! [`Session`]: one greeted QUIC connection to one agent, on which any
//! number of requests run at once, each on its own stream.
//!
//! The typed requests live beside this file (`diagnostics`, `restore`,
//! `screen`); this one holds the connection, the checks every request
//! passes, and closing.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use quinn::{Connection, Endpoint};
use tether_proto::handshake::Welcome;
use tether_proto::{Request, RequestKind, Response};
use tether_transport::{Client, TransportError};

use crate::error::ClientError;
use crate::hosts::Target;

/// A session with one agent.
///
/// Methods take `&self`: share a session (by reference, or in an `Arc`)
/// and run requests concurrently; each opens its own QUIC stream, and the
/// agent serves up to
/// [`MAX_CONCURRENT_REQUESTS`](tether_transport::endpoint::MAX_CONCURRENT_REQUESTS)
/// at once (more wait for a stream). Before a request is sent, the kind is
/// checked against the agent's [`Welcome::supported`]; an older agent is
/// asked nothing it does not serve ([`ClientError::Unsupported`]).
///
/// End a session with [`Session::finish`], or, when a program ends however
/// it ends, with [`close_all`]: either makes the agent end the session at
/// once rather than at its idle timeout. A session dropped without either
/// is closed at once, and [`close_all`] still gives its close time to reach
/// the agent.
///
/// ```no_run
/// # async fn demo(connector: tether_client::Connector) -> Result<(), tether_client::ClientError> {
/// let session = connector.connect("front-desk").await?;
/// // Three requests in flight at once on one connection.
/// let (info, processes, monitors) = tokio::join!(
///     session.info(),
///     session.processes(tether_proto::system::ProcessSort::Cpu, None, 10),
///     session.monitors(),
/// );
/// println!("{} processes", processes?.total);
/// println!("clock offset {} ms", info?.clock_offset_ms);
/// println!("{} monitors", monitors?.len());
/// session.finish().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Session {
    client: Client,
    target: Target,
    endpoint: Endpoint,
    timeout: Duration,
    finished: bool,
    /// Whether `endpoint` carries other sessions too (a fleet run's one
    /// endpoint): then finishing waits for nothing, since the endpoint
    /// lives on and sends the close; its owner waits once at the end.
    shared_endpoint: bool,
}

/// Makes a session of a greeted client and registers it for [`close_all`].
pub(crate) fn open(
    client: Client,
    target: Target,
    endpoint: Endpoint,
    timeout: Duration,
    shared_endpoint: bool,
) -> Session {
    lock_open().push((endpoint.clone(), client.connection().clone()));
    Session { client, target, endpoint, timeout, finished: false, shared_endpoint }
}

impl Session {
    /// What the agent said when it accepted the session: its name,
    /// software, the session id it audits under, the technician and role
    /// it saw, and the request kinds it serves.
    pub fn welcome(&self) -> &Welcome {
        self.client.welcome()
    }

    /// Whether the agent serves requests of `kind`.
    pub fn supports(&self, kind: RequestKind) -> bool {
        self.client.welcome().supports(kind)
    }

    /// Whether the default permission table lets the technician's role
    /// make requests of `kind` (an agent's policy may still refuse). Lets a
    /// caller choose what to ask, e.g. a view without control for tier 1.
    pub fn role_allows(&self, kind: RequestKind) -> bool {
        tether_proto::Policy::default().authorize(self.welcome().role, kind).is_ok()
    }

    /// The HOST argument as resolved: label, address, certificate name.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// "name (address)", as messages name the agent.
    pub fn describe(&self) -> &str {
        self.client.target()
    }

    /// The timeout requests start from (see [`crate::ConnectOptions`]).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// QUIC's current round-trip estimate.
    pub fn rtt(&self) -> Duration {
        self.client.connection().rtt()
    }

    /// The underlying transport client, for measurements and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends any request and returns the agent's response. An error reply
    /// becomes a [`ClientError`] ([`ClientError::Denied`],
    /// [`ClientError::Agent`], [`ClientError::Unsupported`]). The typed
    /// methods (`info`, `processes`, …) are built on this; `allowance` is
    /// added to the session's timeout.
    pub async fn request(
        &self,
        request: &Request,
        allowance: Duration,
    ) -> Result<Response, ClientError> {
        let kind = request.kind();
        self.check_supported(kind)?;
        self.client
            .request(request, self.timeout + allowance)
            .await
            .map_err(|e| self.classify(e, Some(kind)))
    }

    /// Sends `request` and takes the one response `pick` accepts; any
    /// other is [`ClientError::UnexpectedReply`] naming `what`.
    pub(crate) async fn ask<T>(
        &self,
        request: &Request,
        allowance: Duration,
        what: &'static str,
        pick: impl FnOnce(Response) -> Option<T>,
    ) -> Result<T, ClientError> {
        let response = self.request(request, allowance).await?;
        pick(response).ok_or_else(|| self.unexpected(what))
    }

    /// Refuses, before anything is sent, a kind the agent did not list.
    pub(crate) fn check_supported(&self, kind: RequestKind) -> Result<(), ClientError> {
        if self.supports(kind) {
            return Ok(());
        }
        Err(ClientError::Unsupported {
            target: self.describe().to_owned(),
            agent: self.welcome().agent_software.clone(),
            kind,
        })
    }

    /// Classifies a transport failure of a request of `kind`.
    pub(crate) fn classify(&self, err: TransportError, kind: Option<RequestKind>) -> ClientError {
        ClientError::from_transport(err, &self.welcome().agent_software, kind)
    }

    pub(crate) fn unexpected(&self, what: &'static str) -> ClientError {
        ClientError::UnexpectedReply { target: self.describe().to_owned(), what }
    }

    /// Closes the session and gives the close time to reach the agent.
    ///
    /// Waiting out QUIC's whole draining period (three probe timeouts,
    /// ~85 ms even on loopback) would make every command that much slower;
    /// the close frame leaves at once, and two round trips are ample for it
    /// and the agent's answering close. If it is lost anyway, the agent
    /// frees the session at its idle timeout.
    ///
    /// On a shared endpoint ([`crate::Connector::with_shared_endpoint`])
    /// nothing is awaited: waiting for the endpoint to go idle would wait
    /// for every other session on it. The endpoint outlives the session
    /// and sends the close; [`crate::Connector::close_shared`] gives the
    /// last closes their time once.
    pub async fn finish(mut self) {
        self.finished = true;
        let id = self.client.connection().stable_id();
        lock_open().retain(|(_, conn)| conn.stable_id() != id);
        let grace = close_grace(self.client.connection());
        self.client.close();
        if !self.shared_endpoint {
            let _ = tokio::time::timeout(grace, self.endpoint.wait_idle()).await;
        }
    }
}

impl Drop for Session {
    /// A session dropped unfinished (an error on the way) is closed at
    /// once; [`close_all`] waits for its close to leave.
    fn drop(&mut self) {
        if !self.finished {
            self.client.close();
        }
    }
}

/// Every connection this process opened and did not finish, so that
/// [`close_all`] can close them whichever way a program ends.
static OPEN: Mutex<Vec<(Endpoint, Connection)>> = Mutex::new(Vec::new());

fn lock_open() -> MutexGuard<'static, Vec<(Endpoint, Connection)>> {
    // Pushing, retaining and taking a Vec cannot be left half-done by a
    // panic.
    OPEN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Two round trips, at least 5 ms, at most a second.
pub(crate) fn close_grace(conn: &Connection) -> Duration {
    (conn.rtt() * 2 + Duration::from_millis(5)).min(Duration::from_secs(1))
}

/// Closes every session this process opened and did not
/// [`finish`](Session::finish), giving each close the time to reach its
/// agent. Call it once before a program exits, however its work ended.
pub async fn close_all() {
    let open = std::mem::take(&mut *lock_open());
    // Every close leaves first, then all wait together: a runner that
    // reached a thousand agents waits one grace, not a thousand.
    let grace = open.iter().map(|(_, conn)| close_grace(conn)).max().unwrap_or_default();
    for (_, conn) in &open {
        conn.close(quinn::VarInt::from_u32(tether_proto::close::NORMAL), b"done");
    }
    let deadline = tokio::time::Instant::now() + grace;
    for (endpoint, _) in &open {
        let _ = tokio::time::timeout_at(deadline, endpoint.wait_idle()).await;
    }
}
