//! One request stream: read, admit, record the intent, run, record the
//! outcome, reply.

use std::sync::Arc;

use quinn::{Connection, RecvStream, SendStream, VarInt};
use tether_proto::codec::{MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, decode_payload};
use tether_proto::session::{Admitted, AgentSession, Route};
use tether_proto::{Call, ErrorReply, Request, Response, ScreenRequest, Throughput};
use tether_transport::framed::{self, FrameIoError};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::protocol_violation;
use crate::audit::Who;
use crate::consent::{self, Asker, Capability, Grant};
use crate::dispatch;
use crate::state::Shared;
use crate::throughput;
use crate::view_stream::ViewStream;

/// Handles one request stream: read, admit, run, audit, reply.
pub(super) async fn serve(
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
        Err(_) if tether_proto::request::is_unknown_request_kind(&payload) => {
            let path = &payload[..payload.len().min(3)];
            let detail = format!("request kind {path:?} is unknown to {}", shared.software);
            shared.audit.append_or_log(who.record("unsupported", "bad-request", detail)).await;
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
        if let Err(e) = shared.audit.append(record).await {
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
    let (response, outcome, detail) = match admission.as_ref().map(Admitted::route) {
        Err(refusal) => {
            // Nothing more is read from a refused request (an upload's payload).
            let _ = recv.stop(VarInt::from_u32(0));
            let reply = refusal.to_reply();
            (Response::Error(reply.clone()), refusal.outcome(), reply.message)
        }
        // A stream that lives on after its reply, with records of its own.
        Ok(Route::View(view)) => {
            let stream = ViewStream { shared, who, asker: asker(shared, session, who), send, recv };
            return stream.serve(view, stop).await;
        }
        // Throughput needs the stream itself, not just the request.
        Ok(Route::Throughput(measure)) => match *measure.request() {
            Throughput::Upload { bytes } => match throughput::receive(&mut recv, bytes).await {
                Ok(micros) => (
                    Response::Received { bytes, micros },
                    "ok",
                    format!("{bytes} bytes in {micros} µs"),
                ),
                Err(reply) => {
                    let detail = reply.to_string();
                    (Response::Error(reply), "error", detail)
                }
            },
            Throughput::Download { bytes } => (Response::Sending { bytes }, "ok", String::new()),
        },
        Ok(Route::Call(call)) => run_call(shared, session, who, call).await,
    };
    let mut record = who.record(kind, outcome, detail);
    record.args = args;
    // The reply is sent only once its record is durable. For a query whose
    // record fails, the technician gets an error instead of the result. An
    // action has already run with its intent on record: hiding what it did
    // would mislead, so its result is sent and the failure logged.
    let response = match shared.audit.append(record).await {
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

/// Runs a one-shot call after asking for the user's consent where it
/// needs it. Returns the response, the audit outcome and its detail.
async fn run_call(
    shared: &Arc<Shared>,
    session: &AgentSession,
    who: &Who,
    call: Admitted<'_, Call>,
) -> (Response, &'static str, String) {
    let grant = match consent_for(shared, call.request(), &asker(shared, session, who)).await {
        Ok(grant) => grant,
        Err(why) => {
            let why = why.to_string();
            return (Response::Error(ErrorReply::denied(why.clone())), "denied", why);
        }
    };
    match dispatch::dispatch(call, shared, who.peer, &who.session).await {
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
    call: &Call,
    asker: &Asker,
) -> Result<Option<Grant>, consent::Refused> {
    let capability = match call {
        Call::Screen(ScreenRequest::Screenshot { .. }) => Capability::View,
        Call::Screen(ScreenRequest::Input { .. }) => Capability::Control,
        _ => return Ok(None),
    };
    let grant = consent::ask(&shared.config.consent, capability, asker).await?;
    // The user learns of every access to their screen or input, one-shot
    // ones included (a view stream notifies at its start and end).
    consent::notify(&shared.config.consent, capability, asker, "once");
    Ok(Some(grant))
}
