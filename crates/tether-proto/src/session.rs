//! One connection as the agent sees it: a small state machine that admits a
//! hello, then admits or refuses each request.
//!
//! [`AgentSession::admit`] is the only way to obtain an [`Admitted`] request,
//! and the agent's handlers take an `Admitted`, so no handler can run a
//! request that did not pass the handshake, argument validation and the
//! permission table. Call order: [`AgentSession::handle_hello`] once with the
//! first frame, then [`AgentSession::admit`] for each request frame.

use crate::handshake::{Hello, HelloReply, PROTOCOL_VERSION, Welcome, validate_ticket};
use crate::message::ErrorReply;
use crate::permission::{Denial, Policy};
use crate::request::{Call, Request, Throughput, ViewRequest};
use crate::role::Role;

/// Facts about the agent and the peer that the session needs to answer a
/// hello.
#[derive(Debug, Clone)]
pub struct SessionContext {
    pub agent_name: String,
    pub agent_software: String,
    pub session_id: String,
    /// The technician's name from the verified client certificate.
    pub technician: String,
    /// The role from the verified client certificate.
    pub role: Role,
    pub policy: Policy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingHello,
    Established,
    Closed,
}

/// The agent's side of one connection.
#[derive(Debug)]
pub struct AgentSession {
    ctx: SessionContext,
    state: State,
    ticket: Option<String>,
    client_software: Option<String>,
    /// The request kinds the controller said it knows.
    client_supported: Vec<String>,
}

/// Why a hello was not accepted. The reply to send is inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloRejected {
    pub reply: HelloReply,
    /// A line for the agent's log and audit record.
    pub reason: String,
}

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A request arrived before a successful hello.
    NotEstablished,
    /// The arguments are invalid.
    BadRequest(ErrorReply),
    /// The permission table or the agent's policy forbids it.
    Denied(Denial),
}

impl Refusal {
    /// The error reply to send for this refusal.
    pub fn to_reply(&self) -> ErrorReply {
        match self {
            Refusal::NotEstablished => ErrorReply::bad_request("no hello on this connection"),
            Refusal::BadRequest(reply) => reply.clone(),
            Refusal::Denied(denial) => ErrorReply::denied(denial.to_string()),
        }
    }

    /// The audit outcome word for this refusal.
    pub const fn outcome(&self) -> &'static str {
        match self {
            Refusal::Denied(_) => "denied",
            Refusal::NotEstablished | Refusal::BadRequest(_) => "bad-request",
        }
    }
}

/// A request that passed [`AgentSession::admit`]. Only `admit` creates
/// one, and only [`Admitted::route`] narrows it, so every handler's
/// argument proves its request was admitted.
#[derive(Debug)]
pub struct Admitted<'r, T = Request> {
    request: &'r T,
}

impl<'r, T> Admitted<'r, T> {
    pub fn request(&self) -> &'r T {
        self.request
    }
}

/// An admitted request by how its stream is served: the one place the
/// agent looks at a request's shape before its handler does.
#[derive(Debug)]
pub enum Route<'r> {
    /// One response frame answers it.
    Call(Admitted<'r, Call>),
    /// Raw bytes follow on the stream.
    Throughput(Admitted<'r, Throughput>),
    /// The stream lives on with screen messages.
    View(Admitted<'r, ViewRequest>),
}

impl<'r> Admitted<'r> {
    /// The request's route, with the admission carried over.
    pub fn route(&self) -> Route<'r> {
        match self.request {
            Request::Call(request) => Route::Call(Admitted { request }),
            Request::Throughput(request) => Route::Throughput(Admitted { request }),
            Request::View(request) => Route::View(Admitted { request }),
        }
    }
}

impl AgentSession {
    pub fn new(ctx: SessionContext) -> Self {
        AgentSession {
            ctx,
            state: State::AwaitingHello,
            ticket: None,
            client_software: None,
            client_supported: Vec::new(),
        }
    }

    /// Handles the first frame on the connection.
    ///
    /// Returns the welcome to send, or the refusal to send before closing.
    /// Either way the session leaves the hello state; a second hello is a
    /// protocol violation the caller reports as such.
    pub fn handle_hello(&mut self, payload: &[u8]) -> Result<HelloReply, Box<HelloRejected>> {
        if self.state != State::AwaitingHello {
            self.state = State::Closed;
            return Err(refused("a second hello on the same connection".into()));
        }
        self.state = State::Closed;
        let hello = match Hello::decode(payload) {
            Ok(hello) => hello,
            Err(e) => return Err(refused(e.to_string())),
        };
        if hello.version != PROTOCOL_VERSION {
            return Err(Box::new(HelloRejected {
                reply: HelloReply::VersionMismatch { agent_version: PROTOCOL_VERSION },
                reason: format!(
                    "controller speaks protocol version {}, this agent speaks {PROTOCOL_VERSION}",
                    hello.version
                ),
            }));
        }
        if let Some(ticket) = &hello.ticket {
            validate_ticket(ticket).map_err(refused)?;
        }
        self.state = State::Established;
        self.ticket = hello.ticket;
        self.client_software = Some(hello.software);
        self.client_supported = hello.supported;
        Ok(HelloReply::Welcome(Welcome {
            agent_name: self.ctx.agent_name.clone(),
            agent_software: self.ctx.agent_software.clone(),
            session_id: self.ctx.session_id.clone(),
            technician: self.ctx.technician.clone(),
            role: self.ctx.role,
            supported: crate::RequestKind::ALL.iter().map(|k| k.as_str().to_owned()).collect(),
        }))
    }

    /// Checks one request against the session state, its own argument rules
    /// and the permission table under this agent's policy.
    pub fn admit<'r>(&self, request: &'r Request) -> Result<Admitted<'r>, Refusal> {
        if self.state != State::Established {
            return Err(Refusal::NotEstablished);
        }
        request.validate().map_err(Refusal::BadRequest)?;
        self.ctx.policy.authorize(self.ctx.role, request.kind()).map_err(Refusal::Denied)?;
        Ok(Admitted { request })
    }

    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// The ticket the controller named in its hello.
    pub fn ticket(&self) -> Option<&str> {
        self.ticket.as_deref()
    }

    /// The controller software named in the hello.
    pub fn client_software(&self) -> Option<&str> {
        self.client_software.as_deref()
    }

    /// Whether the controller said it knows requests of `kind` (so an
    /// agent can tell an older controller from a newer one).
    pub fn client_supports(&self, kind: crate::RequestKind) -> bool {
        self.client_supported.iter().any(|k| k == kind.as_str())
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

fn refused(reason: String) -> Box<HelloRejected> {
    Box::new(HelloRejected { reply: HelloReply::Refused(reason.clone()), reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::RequestKind;
    use crate::request::MAX_AUDIT_TAIL;
    use crate::role::Tier;

    fn session(role: Role, policy: Policy) -> AgentSession {
        AgentSession::new(SessionContext {
            agent_name: "agent-01".into(),
            agent_software: "tether-agent test".into(),
            session_id: "abc".into(),
            technician: "alice".into(),
            role,
            policy,
        })
    }

    fn hello(ticket: Option<&str>) -> Vec<u8> {
        Hello::new("tether test", ticket.map(str::to_owned)).encode().unwrap()
    }

    #[test]
    fn requests_before_hello_are_refused() {
        let s = session(Role::Tier(Tier::Three), Policy::default());
        assert_eq!(s.admit(&Request::Call(Call::Info)).unwrap_err(), Refusal::NotEstablished);
    }

    #[test]
    fn welcome_echoes_identity_and_records_ticket() {
        let mut s = session(Role::Tier(Tier::One), Policy::default());
        let HelloReply::Welcome(w) = s.handle_hello(&hello(Some("INC-7"))).unwrap() else {
            panic!("expected a welcome");
        };
        assert_eq!((w.technician.as_str(), w.role), ("alice", Role::Tier(Tier::One)));
        assert_eq!(s.ticket(), Some("INC-7"));
        assert!(s.admit(&Request::Call(Call::Info)).is_ok());
    }

    #[test]
    fn second_hello_closes_the_session() {
        let mut s = session(Role::Tier(Tier::One), Policy::default());
        s.handle_hello(&hello(None)).unwrap();
        assert!(s.handle_hello(&hello(None)).is_err());
        assert_eq!(s.admit(&Request::Call(Call::Info)).unwrap_err(), Refusal::NotEstablished);
    }

    #[test]
    fn version_mismatch_gets_a_mismatch_reply() {
        let mut s = session(Role::Tier(Tier::One), Policy::default());
        let mut payload = hello(None);
        payload[4..6].copy_from_slice(&(PROTOCOL_VERSION + 1).to_le_bytes());
        let rejected = s.handle_hello(&payload).unwrap_err();
        assert_eq!(rejected.reply, HelloReply::VersionMismatch { agent_version: PROTOCOL_VERSION });
        assert!(!s.is_established());
    }

    #[test]
    fn bad_ticket_is_refused() {
        let mut s = session(Role::Tier(Tier::One), Policy::default());
        let rejected = s.handle_hello(&hello(Some("rm -rf /"))).unwrap_err();
        assert!(matches!(rejected.reply, HelloReply::Refused(_)));
    }

    #[test]
    fn denied_and_invalid_requests_are_told_apart() {
        let mut s = session(Role::Tier(Tier::One), Policy::default());
        s.handle_hello(&hello(None)).unwrap();
        let denied = s.admit(&Request::Call(Call::AuditTail { limit: 5 })).unwrap_err();
        assert_eq!(denied.outcome(), "denied");
        assert_eq!(denied.to_reply().kind, crate::message::ErrorKind::Denied);
        let invalid =
            s.admit(&Request::Call(Call::AuditTail { limit: MAX_AUDIT_TAIL + 1 })).unwrap_err();
        assert_eq!(invalid.outcome(), "bad-request");
    }

    #[test]
    fn policy_applies_to_admission() {
        let policy = Policy { min_tier: Tier::Two, ..Policy::default() };
        let mut s = session(Role::Tier(Tier::One), policy);
        s.handle_hello(&hello(None)).unwrap();
        let refusal = s.admit(&Request::Call(Call::Info)).unwrap_err();
        assert!(matches!(refusal, Refusal::Denied(d) if d.kind == RequestKind::Info));
    }
}
