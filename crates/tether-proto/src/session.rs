//! One connection as the agent sees it: a small state machine that admits a
//! hello, then admits or refuses each request.
//!
//! [`AgentSession::admit`] is the only way to obtain an [`Admitted`] request,
//! and the agent's handlers take an `Admitted`, so no handler can run a
//! request that did not pass the handshake, argument validation and the
//! permission table. Call order: [`AgentSession::handle_hello`] once with the
//! first frame, then [`AgentSession::admit`] for each request frame.

use crate::handshake::{Hello, HelloReply, PROTOCOL_VERSION, Welcome, validate_ticket};
use crate::message::{ErrorReply, Request};
use crate::permission::{Denial, Policy};
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

/// A request that passed [`AgentSession::admit`]. Only `admit` creates one.
#[derive(Debug)]
pub struct Admitted<'r> {
    request: &'r Request,
}

impl<'r> Admitted<'r> {
    pub fn request(&self) -> &'r Request {
        self.request
    }
}

impl AgentSession {
    pub fn new(ctx: SessionContext) -> Self {
        AgentSession { ctx, state: State::AwaitingHello, ticket: None, client_software: None }
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
    use crate::message::{MAX_AUDIT_TAIL, RequestKind};
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
        assert_eq!(s.admit(&Request::Info).unwrap_err(), Refusal::NotEstablished);
    }

    #[test]
    fn welcome_echoes_identity_and_records_ticket() {
        let mut s = session(Role::Tier(Tier::One), Policy::default());
        let HelloReply::Welcome(w) = s.handle_hello(&hello(Some("INC-7"))).unwrap() else {
            panic!("expected a welcome");
        };
        assert_eq!((w.technician.as_str(), w.role), ("alice", Role::Tier(Tier::One)));
        assert_eq!(s.ticket(), Some("INC-7"));
        assert!(s.admit(&Request::Info).is_ok());
    }

    #[test]
    fn second_hello_closes_the_session() {
        let mut s = session(Role::Tier(Tier::One), Policy::default());
        s.handle_hello(&hello(None)).unwrap();
        assert!(s.handle_hello(&hello(None)).is_err());
        assert_eq!(s.admit(&Request::Info).unwrap_err(), Refusal::NotEstablished);
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
        let denied = s.admit(&Request::AuditTail { limit: 5 }).unwrap_err();
        assert_eq!(denied.outcome(), "denied");
        assert_eq!(denied.to_reply().kind, crate::message::ErrorKind::Denied);
        let invalid = s.admit(&Request::AuditTail { limit: MAX_AUDIT_TAIL + 1 }).unwrap_err();
        assert_eq!(invalid.outcome(), "bad-request");
    }

    #[test]
    fn policy_applies_to_admission() {
        let policy = Policy { min_tier: Tier::Two, ..Policy::default() };
        let mut s = session(Role::Tier(Tier::One), policy);
        s.handle_hello(&hello(None)).unwrap();
        let refusal = s.admit(&Request::Info).unwrap_err();
        assert!(matches!(refusal, Refusal::Denied(d) if d.kind == RequestKind::Info));
    }
}
