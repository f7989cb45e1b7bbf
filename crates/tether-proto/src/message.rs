//! Responses, error replies and the plain data they carry; requests are in
//! [`crate::request`].
//!
//! Only these types cross the wire. The agent converts what it gathers from
//! the OS into them, and the controller renders them; neither side's internal
//! types derive the wire format. Every request travels on its own
//! bidirectional stream: one request frame in, one [`Response`] frame out.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::doctor::DoctorReport;
use crate::fleet::FleetFacts;
use crate::net::NetReport;
use crate::restore::{
    RestoreDiff, RestorePoint, RestorePointDetail, RollbackOutcome, VerifyOutcome,
};
use crate::role::Role;
use crate::screen::{Monitor, Screenshot, ViewStart};
use crate::system::{KillOutcome, ProcessList, SystemInfo};

/// An agent's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Boxed: the report is several times larger than the other variants.
    Info(Box<SystemInfo>),
    AuditTail(Vec<AuditEntry>),
    Processes(ProcessList),
    Killed(KillOutcome),
    Net(Box<NetReport>),
    Doctor(Box<DoctorReport>),
    /// The agent received an upload: how many bytes, over how many
    /// microseconds from the first byte to the last.
    Received {
        bytes: u64,
        micros: u64,
    },
    /// The agent is about to send `bytes` raw bytes on this stream.
    Sending {
        bytes: u64,
    },
    RestorePoints(Vec<RestorePoint>),
    RestorePoint(Box<RestorePointDetail>),
    RestoreDiff(Box<RestoreDiff>),
    RestoreVerified(VerifyOutcome),
    RestoreCreated(RestorePoint),
    RolledBack(RollbackOutcome),
    RestoreDeleted {
        id: String,
    },
    Monitors(Vec<Monitor>),
    Screenshot(Box<Screenshot>),
    /// The view stream starts; screen messages follow on this stream.
    Viewing(Box<ViewStart>),
    /// Every event of an input request was injected.
    InputDone {
        events: u32,
    },
    Error(ErrorReply),
    /// Boxed like the other reports. Appended last: older variants keep
    /// their wire index within protocol 3.
    FleetFacts(Box<FleetFacts>),
}

/// Why a request was not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The caller's role, or the agent's policy, does not allow it.
    Denied,
    /// The request's arguments are invalid.
    BadRequest,
    /// The agent cannot do this here (missing OS feature, resource busy).
    Unavailable,
    /// The agent failed unexpectedly; details are in its log.
    Internal,
    /// The agent does not know this kind of request (it is older than the
    /// controller); the connection stays up.
    Unsupported,
}

/// A typed error reply, rendered by the controller as one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

impl ErrorReply {
    pub fn denied(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Denied, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::BadRequest, message: message.into() }
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Unavailable, message: message.into() }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Internal, message: message.into() }
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Unsupported, message: message.into() }
    }
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Denied => "denied",
            ErrorKind::BadRequest => "bad request",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "agent error",
            ErrorKind::Unsupported => "unsupported",
        };
        write!(f, "{what}: {}", self.message)
    }
}

impl std::error::Error for ErrorReply {}

/// One audit record, as sent to a technician who may read the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// RFC 3339 UTC time.
    pub time: String,
    pub session: String,
    pub peer: String,
    pub technician: Option<String>,
    pub serial: Option<String>,
    pub role: Option<Role>,
    pub ticket: Option<String>,
    pub request: String,
    pub args: String,
    pub outcome: String,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reply_renders_as_one_line() {
        let text = ErrorReply::denied("audit-tail needs tier 3").to_string();
        assert_eq!(text, "denied: audit-tail needs tier 3");
    }
}
