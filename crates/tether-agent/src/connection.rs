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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::{Connection, Incoming, RecvStream, SendStream, VarInt};
use rustls_pki_types::CertificateDer;
use tether_audit::Record;
use tether_pki::PeerIdentity;
use tether_proto::codec::{MAX_HELLO_FRAME, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, decode_payload};
use tether_proto::handshake::HelloReply;
use tether_proto::session::{AgentSession, SessionContext};
use tether_proto::{ErrorReply, Request, Response, Role, close};
use tether_transport::framed::{self, FrameIoError};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::admission::HandshakeTicket;
use crate::consent::{self, Asker, Capability, Grant};
use crate::dispatch;
use crate::server::Shared;
use crate::sessions::Newcomer;
use crate::throughput;
use crate::view_stream::ViewStream;

/// How long a new connection may take to send its hello. Honest controllers
/// send it immediately; the timeout frees the slot of one that never does.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a TLS handshake may take. An honest one takes a few round
/// trips; a peer that stops answering half-way gives its place back
/// after this instead of QUIC's 30 s idle timeout.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the agent waits for a refusal to be delivered before closing.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// Who is on the other end, for audit records.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub(crate) session: String,
    pub(crate) peer: SocketAddr,
    identity: Option<PeerIdentity>,
    pub(crate) ticket: Option<String>,
}

impl Who {
    pub(crate) fn record(&self, request: &str, outcome: &str, detail: impl Into<String>) -> Record {
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

/// Completes the TLS handshake within [`HANDSHAKE_TIMEOUT`]; a failure is
/// reported to the rejection log, which keeps floods out of the audit log.
async fn handshake(
    incoming: Incoming,
    ticket: HandshakeTicket,
    shared: &Arc<Shared>,
    peer: SocketAddr,
) -> Option<Connection> {
    let outcome = match incoming.accept() {
        Ok(connecting) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await {
            Ok(Ok(conn)) => Ok(conn),
            // Most often a client certificate that is missing, from another
            // CA, expired or revoked: rustls refused it during the handshake.
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Err(_) => {
                Err(format!("TLS handshake not completed within {} s", HANDSHAKE_TIMEOUT.as_secs()))
            }
        },
        Err(e) => Err(format!("TLS handshake failed: {e}")),
    };
    // The handshake is over either way: give its place back first.
    drop(ticket);
    match outcome {
        Ok(conn) => Some(conn),
        Err(why) => {
            debug!(%peer, "connection rejected: {why}");
            shared.handshake_rejected(peer, &why).await;
            None
        }
    }
}

/// Serves one incoming connection to its end.
pub async fn serve(
    incoming: Incoming,
    ticket: HandshakeTicket,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let mut who = Who {
        session: new_session_id(),
        peer: incoming.remote_address(),
        identity: None,
        ticket: None,
    };
    let Some(conn) = handshake(incoming, ticket, &shared, who.peer).await else { return };
    let identity = match peer_identity(&conn) {
        Ok(id) => id,
        Err(why) => {
            warn!(peer = %who.peer, "refusing connection: {why}");
            audit_or_log(&shared, who.record("connect", "rejected", why.clone())).await;
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
            audit_or_log(&shared, who.record("connect", "rejected", full.reason())).await;
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
    if !greet(&conn, &mut session, &shared, &mut who).await {
        return;
    }
    let started = Instant::now();
    info!(session = %who.session, technician = %identity.name, role = %identity.role, "session started");
    let software = session.client_software().unwrap_or_default().to_owned();
    audit_or_log(&shared, who.record("session-start", "ok", format!("client {software}"))).await;

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
    audit_or_log(&shared, who.record("session-end", "closed", detail)).await;
    drop(slot);
}

/// Runs the hello exchange. Returns whether the session was established.
async fn greet(
    conn: &Connection,
    session: &mut AgentSession,
    shared: &Arc<Shared>,
    who: &mut Who,
) -> bool {
    let (mut send, mut recv) = match tokio::time::timeout(HELLO_TIMEOUT, conn.accept_bi()).await {
        Ok(Ok(streams)) => streams,
        Ok(Err(e)) => {
            debug!(session = %who.session, "closed before hello: {e}");
            audit_or_log(
                shared,
                who.record("hello", "closed", format!("closed before hello: {e}")),
            )
            .await;
            return false;
        }
        Err(_) => {
            audit_or_log(shared, who.record("hello", "rejected", "no hello within the timeout"))
                .await;
            conn.close(VarInt::from_u32(close::HELLO_TIMEOUT), b"no hello");
            return false;
        }
    };
    let payload = match tokio::time::timeout(
        HELLO_TIMEOUT,
        framed::read_payload::<MAX_HELLO_FRAME>(&mut recv),
    )
    .await
    {
        Ok(Ok(payload)) => payload,
        Ok(Err(e)) => {
            protocol_violation(conn, shared, who, "hello", &e).await;
            return false;
        }
        Err(_) => {
            audit_or_log(
                shared,
                who.record("hello", "rejected", "hello not completed within the timeout"),
            )
            .await;
            conn.close(VarInt::from_u32(close::HELLO_TIMEOUT), b"no hello");
            return false;
        }
    };
    match session.handle_hello(&payload) {
        Ok(reply) => {
            who.ticket = session.ticket().map(str::to_owned);
            let sent = send_reply(&mut send, &reply).await;
            if let Err(e) = &sent {
                debug!(session = %who.session, "could not send welcome: {e}");
            }
            sent.is_ok()
        }
        Err(rejected) => {
            let code = match rejected.reply {
                HelloReply::VersionMismatch { .. } => close::VERSION_MISMATCH,
                _ => close::HELLO_REFUSED,
            };
            info!(session = %who.session, "hello refused: {}", rejected.reason);
            audit_or_log(shared, who.record("hello", "rejected", rejected.reason.clone())).await;
            if send_reply(&mut send, &rejected.reply).await.is_ok() {
                // Let the refusal reach the controller before the close does.
                let _ = tokio::time::timeout(REFUSAL_LINGER, send.stopped()).await;
            }
            conn.close(VarInt::from_u32(code), rejected.reason.as_bytes());
            false
        }
    }
}

async fn send_reply(send: &mut SendStream, reply: &HelloReply) -> Result<(), FrameIoError> {
    let payload = reply.encode()?;
    framed::write_payload(send, payload).await?;
    send.finish()?;
    Ok(())
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
                    tasks.spawn(async move { serve_request(&conn, &session, &shared, &who, send, recv, stop).await });
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

/// Handles one request stream: read, admit, run, audit, reply.
async fn serve_request(
    conn: &Connection,
    session: &AgentSession,
    shared: &Arc<Shared>,
    who: &Who,
    mut send: SendStream,
    mut recv: RecvStream,
    stop: watch::Receiver<bool>,
) {
    let payload = match framed::read_payload::<MAX_REQUEST_FRAME>(&mut recv).await {
        Ok(payload) => payload,
        Err(FrameIoError::Read(e)) => {
            debug!(session = %who.session, "request stream lost: {e}");
            return;
        }
        Err(e) => {
            protocol_violation(conn, shared, who, "request", &e).await;
            return;
        }
    };
    let request: Request = match decode_payload::<Request, MAX_REQUEST_FRAME>(&payload) {
        Ok(request) => request,
        // A newer controller asking for something this agent does not
        // know: say so and keep the session, as the versioning policy
        // promises (ARCHITECTURE.md, "Protocol versions").
        Err(_) if tether_proto::message::is_unknown_request_kind(&payload) => {
            let detail = format!("request kind #{} is unknown to {}", payload[0], shared.software);
            audit_or_log(shared, who.record("unsupported", "bad-request", detail)).await;
            let reply = Response::Error(ErrorReply::unsupported(format!(
                "this agent ({}) does not support that request; upgrade it",
                shared.software
            )));
            if framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut send, &reply).await.is_ok() {
                let _ = send.finish();
            }
            return;
        }
        Err(e) => {
            protocol_violation(conn, shared, who, "request", &FrameIoError::Frame(e)).await;
            return;
        }
    };
    let kind = request.kind().as_str();
    let args = request.audit_summary();
    let admission = session.admit(&request);
    // Actions run only once their intent is on record: if the log cannot
    // take it, the request is refused instead of running unrecorded.
    let intent = admission.is_ok() && request.kind().records_intent();
    if intent {
        let mut record = who.record(kind, "started", String::new());
        record.args.clone_from(&args);
        if let Err(e) = shared.audit(record).await {
            warn!(session = %who.session, "refusing {kind}: audit write failed: {e}");
            let _ = recv.stop(VarInt::from_u32(0));
            let reply = Response::Error(ErrorReply::unavailable(format!(
                "the agent cannot write its audit log, so it did not run {kind}; \
                 the machine's administrator should check the agent's log"
            )));
            if framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut send, &reply).await.is_ok() {
                let _ = send.finish();
            }
            return;
        }
    }
    if let Ok(admitted) = &admission
        && let Request::View { .. } = admitted.request()
    {
        // A stream that lives on after its reply.
        let stream = ViewStream { shared, who, asker: asker(shared, session, who), send, recv };
        return stream.serve(admitted, stop).await;
    }
    let (response, outcome, detail) = match admission {
        Err(refusal) => {
            // Nothing more is read from a refused request (an upload's payload).
            let _ = recv.stop(VarInt::from_u32(0));
            let reply = refusal.to_reply();
            (Response::Error(reply.clone()), refusal.outcome(), reply.message)
        }
        Ok(admitted) => match admitted.request() {
            // Throughput needs the stream itself, not just the request.
            Request::Upload { bytes } => match throughput::receive(&mut recv, *bytes).await {
                Ok(micros) => (
                    Response::Received { bytes: *bytes, micros },
                    "ok",
                    format!("{bytes} bytes in {micros} µs"),
                ),
                Err(reply) => {
                    let detail = reply.to_string();
                    (Response::Error(reply), "error", detail)
                }
            },
            Request::Download { bytes } => {
                (Response::Sending { bytes: *bytes }, "ok", String::new())
            }
            request => match consent_for(shared, request, &asker(shared, session, who)).await {
                Err(why) => (Response::Error(ErrorReply::denied(why.clone())), "denied", why),
                Ok(grant) => match dispatch::dispatch(admitted, shared, who.peer, &who.session)
                    .await
                {
                    Ok(handled) => {
                        let detail = match grant {
                            Some(grant) if handled.detail.is_empty() => grant.as_str().to_owned(),
                            Some(grant) => format!("{}; {}", grant.as_str(), handled.detail),
                            None => handled.detail,
                        };
                        (handled.response, "ok", detail)
                    }
                    Err(reply) => {
                        let detail = reply.to_string();
                        (Response::Error(reply), "error", detail)
                    }
                },
            },
        },
    };
    let mut record = who.record(kind, outcome, detail);
    record.args = args;
    // The reply is sent only once its record is durable. For a query whose
    // record fails, the technician gets an error instead of the result. An
    // action has already run with its intent on record: hiding what it did
    // would mislead, so its result is sent and the failure logged.
    let response = match shared.audit(record).await {
        Ok(()) => response,
        Err(e) if intent => {
            warn!(session = %who.session, "{kind} ran, but its outcome record failed: {e}");
            response
        }
        Err(e) => {
            warn!(session = %who.session, "audit write failed: {e}");
            Response::Error(ErrorReply::internal(
                "the agent could not write its audit log; see its log",
            ))
        }
    };
    let sent = match framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut send, &response).await {
        Ok(()) => match response {
            Response::Sending { bytes } => match throughput::send(&mut send, bytes).await {
                Ok(()) => send.finish().map_err(FrameIoError::from),
                Err(e) => {
                    debug!(session = %who.session, "download interrupted: {e}");
                    Ok(())
                }
            },
            _ => send.finish().map_err(FrameIoError::from),
        },
        Err(FrameIoError::Frame(e)) => {
            // Our own response broke the size limit: report it rather than
            // leaving the controller waiting.
            warn!(session = %who.session, "response too large: {e}");
            let reply = Response::Error(ErrorReply::internal(format!("response too large: {e}")));
            match framed::write_message::<_, MAX_RESPONSE_FRAME>(&mut send, &reply).await {
                Ok(()) => send.finish().map_err(FrameIoError::from),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        debug!(session = %who.session, "reply not delivered: {e}");
    }
}

/// The facts the consent and notify commands are told.
fn asker(shared: &Shared, session: &AgentSession, who: &Who) -> Asker {
    Asker {
        technician: session.context().technician.clone(),
        role: session.context().role.as_str().to_owned(),
        ticket: who.ticket.clone(),
        session: who.session.clone(),
        agent: shared.config.name.clone(),
    }
}

/// Asks for the user's consent where `request` needs it: `Ok(None)` for
/// requests that do not touch the screen or input.
async fn consent_for(
    shared: &Shared,
    request: &Request,
    asker: &Asker,
) -> Result<Option<Grant>, String> {
    let capability = match request {
        Request::Screenshot { .. } => Capability::View,
        Request::Input { .. } => Capability::Control,
        _ => return Ok(None),
    };
    let grant = consent::ask(&shared.config.consent, capability, asker).await?;
    // The user learns of every access to their screen or input, one-shot
    // ones included (a view stream notifies at its start and end).
    consent::notify(&shared.config.consent, capability, asker, "once");
    Ok(Some(grant))
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
    audit_or_log(shared, who.record("invalid", "bad-request", format!("{during}: {err}"))).await;
    let reason = err.to_string();
    conn.close(VarInt::from_u32(close::PROTOCOL_VIOLATION), reason.as_bytes());
}

/// Records a connection-level event. There is no reply to hold back here,
/// so a failed write is logged loudly instead.
pub(crate) async fn audit_or_log(shared: &Arc<Shared>, record: Record) {
    if let Err(e) = shared.audit(record).await {
        warn!("audit write failed: {e}");
    }
}

/// Reads the technician's identity from the certificate rustls verified.
fn peer_identity(conn: &Connection) -> Result<PeerIdentity, String> {
    let certs = conn
        .peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or_else(|| "no client certificate".to_owned())?;
    let leaf = certs.first().ok_or_else(|| "empty client certificate chain".to_owned())?;
    tether_pki::peer_identity(leaf).map_err(|e| format!("unusable client certificate: {e}"))
}

/// A random 64-bit session id in hex. Ids only need to be unique within one
/// agent's audit log; 64 random bits make collisions negligible.
fn new_session_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Falls back to the clock; still unique enough for log correlation.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
