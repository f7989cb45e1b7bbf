//! The TLS handshake, the client certificate's identity and the hello.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::{Connection, Incoming, SendStream, VarInt};
use rustls_pki_types::CertificateDer;
use tether_pki::PeerIdentity;
use tether_proto::close;
use tether_proto::codec::MAX_HELLO_FRAME;
use tether_proto::handshake::HelloReply;
use tether_proto::session::AgentSession;
use tether_transport::framed::{self, FrameIoError};
use tracing::{debug, info};

use super::protocol_violation;
use crate::admission::HandshakeTicket;
use crate::audit::Who;
use crate::state::Shared;

/// How long a new connection may take to send its hello. Honest controllers
/// send it immediately; the timeout frees the slot of one that never does.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a TLS handshake may take. An honest one takes a few round
/// trips; a peer that stops answering half-way gives its place back
/// after this instead of QUIC's 30 s idle timeout.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the agent waits for a refusal to be delivered before closing.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);

/// Completes the TLS handshake within [`HANDSHAKE_TIMEOUT`]; a failure is
/// reported to the rejection log, which keeps floods out of the audit log.
pub(super) async fn handshake(
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

/// Runs the hello exchange. Returns whether the session was established.
pub(super) async fn greet(
    conn: &Connection,
    session: &mut AgentSession,
    shared: &Arc<Shared>,
    who: &mut Who,
) -> bool {
    let (mut send, mut recv) = match tokio::time::timeout(HELLO_TIMEOUT, conn.accept_bi()).await {
        Ok(Ok(streams)) => streams,
        Ok(Err(e)) => {
            debug!(session = %who.session, "closed before hello: {e}");
            shared
                .audit
                .append_or_log(who.record("hello", "closed", format!("closed before hello: {e}")))
                .await;
            return false;
        }
        Err(_) => {
            shared
                .audit
                .append_or_log(who.record("hello", "rejected", "no hello within the timeout"))
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
            shared
                .audit
                .append_or_log(who.record(
                    "hello",
                    "rejected",
                    "hello not completed within the timeout",
                ))
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
            shared
                .audit
                .append_or_log(who.record("hello", "rejected", rejected.reason.clone()))
                .await;
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

/// Why a verified connection still has no usable technician identity.
#[derive(Debug, thiserror::Error)]
pub(super) enum NoIdentity {
    #[error("no client certificate")]
    NoCertificate,
    #[error("empty client certificate chain")]
    EmptyChain,
    #[error("unusable client certificate: {0}")]
    Unusable(#[from] tether_pki::IdentityError),
}

/// Reads the technician's identity from the certificate rustls verified.
pub(super) fn peer_identity(conn: &Connection) -> Result<PeerIdentity, NoIdentity> {
    let certs = conn
        .peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or(NoIdentity::NoCertificate)?;
    let leaf = certs.first().ok_or(NoIdentity::EmptyChain)?;
    Ok(tether_pki::peer_identity(leaf)?)
}
