//! One connection from TLS handshake to close.
//!
//! Order of events: the TLS handshake (rustls has verified the client
//! certificate against the CA and CRL by the time it completes), the role
//! read from that certificate, a session slot for that role and
//! certificate, the hello, then one task per request stream. Nothing but
//! the handshake gate's place is held before the certificate is verified.
//! Every request is admitted by the sans-IO [`AgentSession`] before the
//! dispatcher sees it. A request that changes the machine or reaches the
//! user's screen runs only once its intent record is durable; every reply
//! waits for its record. A malformed or oversized frame closes this
//! connection only; a session without requests for the idle limit is
//! closed.

use std::sync::Arc;
use std::time::Instant;

use quinn::{Connection, Incoming, VarInt};
use tether_proto::session::{AgentSession, SessionContext};
use tether_proto::{Role, close};
use tether_transport::framed::FrameIoError;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::admission::HandshakeTicket;
use crate::audit::Who;
use crate::sessions::Newcomer;
use crate::state::Shared;

mod hello;
mod request;

/// Serves one incoming connection to its end.
pub async fn serve(
    incoming: Incoming,
    ticket: HandshakeTicket,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let mut who = Who::new(incoming.remote_address());
    let Some(conn) = hello::handshake(incoming, ticket, &shared, who.peer).await else { return };
    let identity = match hello::peer_identity(&conn) {
        Ok(id) => id,
        Err(why) => {
            let why = why.to_string();
            warn!(peer = %who.peer, "refusing connection: {why}");
            shared.audit.append_or_log(who.record("connect", "rejected", why.clone())).await;
            conn.close(VarInt::from_u32(close::UNAUTHORIZED), why.as_bytes());
            return;
        }
    };
    who.identity = Some(identity.clone());
    // The slot is taken only now that the certificate and its role are
    // known: unauthenticated peers can never hold one.
    let slot = match shared.slots.take(&identity.serial, identity.role == Role::Fleet) {
        Ok(slot) => slot,
        Err(full) => {
            shared.audit.append_or_log(who.record("connect", "rejected", full.reason())).await;
            conn.close(VarInt::from_u32(close::BUSY), full.reason().as_bytes());
            return;
        }
    };

    let ctx = SessionContext {
        agent_name: shared.config.name.clone(),
        agent_software: shared.software.clone(),
        session_id: who.session.clone(),
        technician: identity.name.clone(),
        role: identity.role,
        policy: shared.config.policy.clone(),
    };
    let mut session = AgentSession::new(ctx);
    if !hello::greet(&conn, &mut session, &shared, &mut who).await {
        return;
    }
    let started = Instant::now();
    info!(session = %who.session, technician = %identity.name, role = %identity.role, "session started");
    let software = session.client_software().unwrap_or_default().to_owned();
    shared
        .audit
        .append_or_log(who.record("session-start", "ok", format!("client {software}")))
        .await;

    let newcomer = Newcomer {
        id: &who.session,
        technician: &identity.name,
        serial: &identity.serial,
        role: identity.role.as_str(),
        ticket: who.ticket.as_deref(),
    };
    let _live = shared.sessions.register(newcomer, &conn);
    let session = Arc::new(session);
    let (requests, end) = serve_requests(&conn, &session, &shared, &who, stop).await;
    let plural = if requests == 1 { "" } else { "s" };
    let secs = started.elapsed().as_secs_f64();
    let detail = format!("{requests} request{plural} in {secs:.1} s; {end}");
    info!(session = %who.session, "session ended: {detail}");
    shared.audit.append_or_log(who.record("session-end", "closed", detail)).await;
    drop(slot);
}

/// Accepts request streams until the connection ends or the agent stops.
/// Returns the number of requests handled and how the session ended.
async fn serve_requests(
    conn: &Connection,
    session: &Arc<AgentSession>,
    shared: &Arc<Shared>,
    who: &Who,
    mut stop: watch::Receiver<bool>,
) -> (u64, String) {
    let mut tasks = JoinSet::new();
    let mut handled = 0u64;
    let idle_limit = shared.config.limits.idle_timeout;
    // Idle means no request running and none started for the limit; a
    // long view stream is a request running.
    let mut idle_since = Instant::now();
    let end = loop {
        let idle_deadline = tokio::time::Instant::from_std(idle_since + idle_limit);
        tokio::select! {
            stream = conn.accept_bi() => match stream {
                Ok((send, recv)) => {
                    handled += 1;
                    let (conn, session, shared, who, stop) = (conn.clone(), Arc::clone(session), Arc::clone(shared), who.clone(), stop.clone());
                    tasks.spawn(async move { request::serve(&conn, &session, &shared, &who, send, recv, stop).await });
                }
                Err(e) => break session_end(&e),
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {
                if tasks.is_empty() {
                    idle_since = Instant::now();
                }
            }
            _ = tokio::time::sleep_until(idle_deadline), if tasks.is_empty() => {
                let secs = idle_limit.as_secs_f64();
                let why = format!("no request for {secs:.0} s (the agent's idle limit)");
                conn.close(VarInt::from_u32(close::IDLE), why.as_bytes());
                break why;
            }
            _ = stop.changed() => {
                conn.close(VarInt::from_u32(close::SHUTTING_DOWN), b"agent shutting down");
                break "the agent shut down".to_owned();
            }
        }
    };
    // Requests already running finish their audit records; their replies
    // may no longer reach a closed connection.
    while tasks.join_next().await.is_some() {}
    (handled, end)
}

/// How a session's connection ended, in the agent's words (the transport's
/// descriptions speak to the technician about the agent).
fn session_end(err: &quinn::ConnectionError) -> String {
    use quinn::ConnectionError as E;
    match err {
        E::ApplicationClosed(c) if c.error_code.into_inner() == u64::from(close::NORMAL) => {
            "the controller closed the session".to_owned()
        }
        E::ApplicationClosed(c) => {
            let code = c.error_code.into_inner();
            let reason =
                tether_proto::text::escape(&String::from_utf8_lossy(&c.reason)).into_owned();
            format!("the controller closed the session with code {code} ({reason})")
        }
        E::ConnectionClosed(c) => format!("the controller aborted the connection: {c}"),
        E::TimedOut => format!(
            "the controller went silent for {} s (link lost, or the controller was killed)",
            tether_transport::endpoint::IDLE_TIMEOUT.as_secs()
        ),
        E::Reset => "the controller reset the connection".to_owned(),
        E::LocallyClosed => "the agent closed the connection (see the records before)".to_owned(),
        E::TransportError(e) => format!("transport error: {e}"),
        E::VersionMismatch => "QUIC version mismatch".to_owned(),
        E::CidsExhausted => "connection ids exhausted".to_owned(),
    }
}

/// Closes a connection whose peer broke the framing rules, and records it.
async fn protocol_violation(
    conn: &Connection,
    shared: &Arc<Shared>,
    who: &Who,
    during: &str,
    err: &FrameIoError,
) {
    warn!(session = %who.session, peer = %who.peer, "protocol violation during {during}: {err}");
    shared
        .audit
        .append_or_log(who.record("invalid", "bad-request", format!("{during}: {err}")))
        .await;
    let reason = err.to_string();
    conn.close(VarInt::from_u32(close::PROTOCOL_VIOLATION), reason.as_bytes());
}
