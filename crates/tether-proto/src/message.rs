//! Requests, responses and the plain data they carry.
//!
//! Only these types cross the wire. The agent converts what it gathers from
//! the OS into them, and the controller renders them; neither side's internal
//! types derive the wire format. Every request travels on its own
//! bidirectional stream: one [`Request`] frame in, one [`Response`] frame out.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::doctor::{DoctorReport, DoctorRequest};
use crate::net::{NetCheckRequest, NetReport};
use crate::restore::{
    MAX_LABEL_LEN, RestoreDiff, RestorePoint, RestorePointDetail, RollbackOutcome, VerifyOutcome,
};
use crate::role::Role;
use crate::screen::{InputEvent, MAX_FPS, MAX_INPUT_EVENTS, Monitor, Screenshot, ViewStart};
use crate::system::{KillOutcome, KillSignal, MAX_PROCESSES, ProcessList, ProcessSort, SystemInfo};

/// Largest number of audit entries one [`Request::AuditTail`] may return.
pub const MAX_AUDIT_TAIL: u32 = 10_000;

/// Something a technician asks an agent to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The machine's full system information.
    Info,
    /// The newest `limit` records of the agent's audit log.
    AuditTail { limit: u32 },
    /// The process list, sorted, optionally filtered by name or command
    /// (case-insensitive substring), at most `limit` entries.
    Processes { sort: ProcessSort, filter: Option<String>, limit: u32 },
    /// Send a signal to a process.
    Kill { pid: u32, signal: KillSignal },
    /// Network checks from the machine's point of view.
    Net(NetCheckRequest),
    /// Health checks with ranked findings.
    Doctor(DoctorRequest),
    /// Throughput, technician to agent: `bytes` raw bytes follow this frame
    /// on the same stream; the agent answers [`Response::Received`].
    Upload { bytes: u64 },
    /// Throughput, agent to technician: the agent answers
    /// [`Response::Sending`] and then `bytes` raw bytes on the same stream.
    Download { bytes: u64 },
    /// The machine's restore points, oldest first.
    RestoreList,
    /// One restore point with its entries.
    RestoreShow { id: String },
    /// What rolling back to `id` would change (a dry run).
    RestoreDiff { id: String },
    /// Check the restore store's integrity.
    RestoreVerify,
    /// Take a restore point now.
    RestoreCreate { label: Option<String>, keep: bool },
    /// Roll the machine back to `id` (after taking a point to undo to).
    RestoreRollback { id: String },
    /// Undo the last rollback.
    RestoreUndo,
    /// Delete a restore point.
    /// `force`: also the point the last rollback can be undone to.
    RestoreDelete { id: String, force: bool },
    /// The monitors of the agent's display.
    Monitors,
    /// One frame of a monitor (`None`: the primary).
    Screenshot { monitor: Option<u32> },
    /// Open the view stream (see [`crate::screen`]); with `control`, input
    /// is accepted on it too.
    View { monitor: Option<u32>, control: bool, max_fps: u32 },
    /// Inject input events in order, then release anything left held.
    Input { monitor: Option<u32>, events: Vec<InputEvent> },
}

/// Largest payload one throughput measurement may move. Enough for a
/// stable figure on a fast LAN (64 MiB at 1 Gbit/s is half a second), and
/// a bound on what one request can make the agent read or write.
pub const MAX_THROUGHPUT_BYTES: u64 = 64 * 1024 * 1024;

/// The kind of a request, without its arguments: what the permission table
/// and the audit log speak about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RequestKind {
    Info,
    AuditTail,
    Processes,
    Kill,
    Net,
    Doctor,
    Throughput,
    RestoreList,
    RestoreShow,
    RestoreDiff,
    RestoreVerify,
    RestoreCreate,
    RestoreRollback,
    RestoreUndo,
    RestoreDelete,
    Monitors,
    Screenshot,
    View,
    /// Mouse and keyboard: `Input`, and `View` with control.
    Control,
}

impl RequestKind {
    /// Every request kind, in a stable order.
    pub const ALL: &'static [RequestKind] = &[
        RequestKind::Info,
        RequestKind::AuditTail,
        RequestKind::Processes,
        RequestKind::Kill,
        RequestKind::Net,
        RequestKind::Doctor,
        RequestKind::Throughput,
        RequestKind::RestoreList,
        RequestKind::RestoreShow,
        RequestKind::RestoreDiff,
        RequestKind::RestoreVerify,
        RequestKind::RestoreCreate,
        RequestKind::RestoreRollback,
        RequestKind::RestoreUndo,
        RequestKind::RestoreDelete,
        RequestKind::Monitors,
        RequestKind::Screenshot,
        RequestKind::View,
        RequestKind::Control,
    ];

    /// The name used in the audit log, policy files and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestKind::Info => "info",
            RequestKind::AuditTail => "audit-tail",
            RequestKind::Processes => "ps",
            RequestKind::Kill => "kill",
            RequestKind::Net => "net",
            RequestKind::Doctor => "doctor",
            RequestKind::Throughput => "throughput",
            RequestKind::RestoreList => "restore-list",
            RequestKind::RestoreShow => "restore-show",
            RequestKind::RestoreDiff => "restore-diff",
            RequestKind::RestoreVerify => "restore-verify",
            RequestKind::RestoreCreate => "restore-create",
            RequestKind::RestoreRollback => "restore-rollback",
            RequestKind::RestoreUndo => "restore-undo",
            RequestKind::RestoreDelete => "restore-delete",
            RequestKind::Monitors => "monitors",
            RequestKind::Screenshot => "screenshot",
            RequestKind::View => "view",
            RequestKind::Control => "control",
        }
    }

    /// Whether the agent must make an *intent* record durable before the
    /// request runs. True for everything that changes the machine (kill,
    /// restore points, input) or reaches the user's screen: if the record
    /// cannot be written, the request is refused instead of running
    /// unrecorded. Queries that only read machine facts are recorded once,
    /// before their reply.
    pub const fn records_intent(self) -> bool {
        match self {
            RequestKind::Kill
            | RequestKind::RestoreCreate
            | RequestKind::RestoreRollback
            | RequestKind::RestoreUndo
            | RequestKind::RestoreDelete
            | RequestKind::Screenshot
            | RequestKind::View
            | RequestKind::Control => true,
            RequestKind::Info
            | RequestKind::AuditTail
            | RequestKind::Processes
            | RequestKind::Net
            | RequestKind::Doctor
            | RequestKind::Throughput
            | RequestKind::RestoreList
            | RequestKind::RestoreShow
            | RequestKind::RestoreDiff
            | RequestKind::RestoreVerify
            | RequestKind::Monitors => false,
        }
    }

    /// Looks a kind up by its [`as_str`](Self::as_str) name.
    pub fn from_name(name: &str) -> Option<RequestKind> {
        RequestKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many variants [`Request`] has: a request payload whose first byte
/// (its variant index, one byte in bincode's varint form below 251) is at
/// or above this comes from a newer controller that knows more kinds.
pub const REQUEST_VARIANTS: u8 = 20;

/// Whether an undecodable request payload names a request kind this build
/// does not know (a newer controller), as opposed to being malformed. The
/// agent answers the first with [`ErrorKind::Unsupported`] and keeps the
/// connection; the second is a protocol violation.
pub fn is_unknown_request_kind(payload: &[u8]) -> bool {
    payload.first().is_some_and(|&index| (REQUEST_VARIANTS..251).contains(&index))
}

impl Request {
    /// The request's kind, for the permission table and the audit log.
    pub const fn kind(&self) -> RequestKind {
        match self {
            Request::Info => RequestKind::Info,
            Request::AuditTail { .. } => RequestKind::AuditTail,
            Request::Processes { .. } => RequestKind::Processes,
            Request::Kill { .. } => RequestKind::Kill,
            Request::Net(_) => RequestKind::Net,
            Request::Doctor(_) => RequestKind::Doctor,
            Request::Upload { .. } | Request::Download { .. } => RequestKind::Throughput,
            Request::RestoreList => RequestKind::RestoreList,
            Request::RestoreShow { .. } => RequestKind::RestoreShow,
            Request::RestoreDiff { .. } => RequestKind::RestoreDiff,
            Request::RestoreVerify => RequestKind::RestoreVerify,
            Request::RestoreCreate { .. } => RequestKind::RestoreCreate,
            Request::RestoreRollback { .. } => RequestKind::RestoreRollback,
            Request::RestoreUndo => RequestKind::RestoreUndo,
            Request::RestoreDelete { .. } => RequestKind::RestoreDelete,
            Request::Monitors => RequestKind::Monitors,
            Request::Screenshot { .. } => RequestKind::Screenshot,
            Request::View { control: false, .. } => RequestKind::View,
            Request::View { control: true, .. } | Request::Input { .. } => RequestKind::Control,
        }
    }

    /// A short, secret-free summary of the arguments for the audit log.
    pub fn audit_summary(&self) -> String {
        match self {
            Request::Info => String::new(),
            Request::AuditTail { limit } => format!("limit={limit}"),
            Request::Processes { sort, filter, limit } => {
                let mut text = format!("sort={sort:?} limit={limit}").to_lowercase();
                if let Some(f) = filter {
                    text.push_str(&format!(" filter={f:?}"));
                }
                text
            }
            Request::Kill { pid, signal } => format!("pid={pid} signal={}", signal.as_str()),
            Request::Net(net) => net.audit_summary(),
            Request::Doctor(d) => {
                d.net.as_ref().map_or_else(|| "network=skip".to_owned(), |n| n.audit_summary())
            }
            Request::Upload { bytes } => format!("upload bytes={bytes}"),
            Request::Download { bytes } => format!("download bytes={bytes}"),
            Request::RestoreList | Request::RestoreVerify | Request::RestoreUndo => String::new(),
            Request::RestoreShow { id }
            | Request::RestoreDiff { id }
            | Request::RestoreRollback { id }
            | Request::RestoreDelete { id, .. } => format!("point={id}"),
            Request::RestoreCreate { label, keep } => {
                format!("label={:?} keep={keep}", label.as_deref().unwrap_or(""))
            }
            Request::Monitors => String::new(),
            Request::Screenshot { monitor } => format!("monitor={}", monitor_name(*monitor)),
            Request::View { monitor, control, max_fps } => {
                format!("monitor={} control={control} max_fps={max_fps}", monitor_name(*monitor))
            }
            // Counts only: typed text never reaches the audit log.
            Request::Input { monitor, events } => {
                let mut tally = crate::screen::InputTally::default();
                events.iter().for_each(|e| tally.count(e));
                format!("monitor={} {}", monitor_name(*monitor), tally.summary())
            }
        }
    }

    /// Checks arguments a well-behaved controller never gets wrong.
    pub fn validate(&self) -> Result<(), ErrorReply> {
        match self {
            Request::Info => Ok(()),
            Request::AuditTail { limit } if *limit == 0 || *limit > MAX_AUDIT_TAIL => Err(
                ErrorReply::bad_request(format!("limit must be between 1 and {MAX_AUDIT_TAIL}")),
            ),
            Request::AuditTail { .. } => Ok(()),
            Request::Processes { limit, .. } if *limit == 0 || *limit > MAX_PROCESSES => {
                Err(ErrorReply::bad_request(format!("limit must be between 1 and {MAX_PROCESSES}")))
            }
            Request::Processes { filter: Some(f), .. } if f.len() > 256 => {
                Err(ErrorReply::bad_request("filter longer than 256 characters"))
            }
            Request::Processes { .. } => Ok(()),
            Request::Kill { pid, .. } if *pid <= 1 => Err(ErrorReply::bad_request(format!(
                "refusing to signal pid {pid}: it is the kernel's or init's"
            ))),
            Request::Kill { .. } => Ok(()),
            Request::Net(net) => net.validate().map_err(ErrorReply::bad_request),
            Request::Doctor(d) => {
                d.net.as_ref().map_or(Ok(()), |n| n.validate().map_err(ErrorReply::bad_request))
            }
            Request::Upload { bytes } | Request::Download { bytes }
                if *bytes == 0 || *bytes > MAX_THROUGHPUT_BYTES =>
            {
                Err(ErrorReply::bad_request(format!(
                    "a throughput test moves 1 byte to {} MiB",
                    MAX_THROUGHPUT_BYTES >> 20
                )))
            }
            Request::Upload { .. } | Request::Download { .. } => Ok(()),
            Request::RestoreShow { id }
            | Request::RestoreDiff { id }
            | Request::RestoreRollback { id }
            | Request::RestoreDelete { id, .. }
                if id.is_empty()
                    || id.len() > 64
                    || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                Err(ErrorReply::bad_request(format!("{id:?} is not a restore point id")))
            }
            Request::RestoreCreate { label: Some(l), .. }
                if l.len() > MAX_LABEL_LEN || l.chars().any(char::is_control) =>
            {
                Err(ErrorReply::bad_request(format!(
                    "a label has at most {MAX_LABEL_LEN} characters and no control characters"
                )))
            }
            Request::RestoreList
            | Request::RestoreShow { .. }
            | Request::RestoreDiff { .. }
            | Request::RestoreVerify
            | Request::RestoreCreate { .. }
            | Request::RestoreRollback { .. }
            | Request::RestoreUndo
            | Request::RestoreDelete { .. } => Ok(()),
            Request::View { max_fps, .. } if *max_fps == 0 || *max_fps > MAX_FPS => {
                Err(ErrorReply::bad_request(format!("max_fps must be between 1 and {MAX_FPS}")))
            }
            Request::Input { events, .. }
                if events.is_empty() || events.len() > MAX_INPUT_EVENTS =>
            {
                Err(ErrorReply::bad_request(format!(
                    "an input request carries 1 to {MAX_INPUT_EVENTS} events"
                )))
            }
            Request::Input { events, .. } => {
                events.iter().try_for_each(InputEvent::validate).map_err(ErrorReply::bad_request)
            }
            Request::Monitors | Request::Screenshot { .. } | Request::View { .. } => Ok(()),
        }
    }
}

fn monitor_name(monitor: Option<u32>) -> String {
    monitor.map_or_else(|| "primary".to_owned(), |m| m.to_string())
}

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

    /// Each variant's wire index. Exhaustive on purpose: a new variant does
    /// not compile here until it is listed, and the test below then checks
    /// REQUEST_VARIANTS.
    fn index(r: &Request) -> u8 {
        match r {
            Request::Info => 0,
            Request::AuditTail { .. } => 1,
            Request::Processes { .. } => 2,
            Request::Kill { .. } => 3,
            Request::Net(_) => 4,
            Request::Doctor(_) => 5,
            Request::Upload { .. } => 6,
            Request::Download { .. } => 7,
            Request::RestoreList => 8,
            Request::RestoreShow { .. } => 9,
            Request::RestoreDiff { .. } => 10,
            Request::RestoreVerify => 11,
            Request::RestoreCreate { .. } => 12,
            Request::RestoreRollback { .. } => 13,
            Request::RestoreUndo => 14,
            Request::RestoreDelete { .. } => 15,
            Request::Monitors => 16,
            Request::Screenshot { .. } => 17,
            Request::View { .. } => 18,
            Request::Input { .. } => 19,
        }
    }

    #[test]
    fn the_variant_count_matches_the_wire() {
        use crate::codec::{MAX_REQUEST_FRAME, encode_payload};
        let last = Request::Input { monitor: None, events: vec![] };
        assert_eq!(index(&last) + 1, REQUEST_VARIANTS);
        for r in [Request::Info, Request::RestoreUndo, Request::Monitors, last] {
            let payload = encode_payload::<_, MAX_REQUEST_FRAME>(&r).unwrap();
            assert_eq!(payload[0], index(&r), "{r:?}");
            assert!(!is_unknown_request_kind(&payload));
        }
        assert!(is_unknown_request_kind(&[REQUEST_VARIANTS, 0, 0]));
        assert!(!is_unknown_request_kind(&[251, 0, 0, 0]), "not a one-byte index: malformed");
        assert!(!is_unknown_request_kind(&[]));
    }

    #[test]
    fn kind_names_are_unique_and_round_trip() {
        for kind in RequestKind::ALL {
            assert_eq!(RequestKind::from_name(kind.as_str()), Some(*kind));
        }
        assert_eq!(RequestKind::from_name("nope"), None);
    }

    #[test]
    fn audit_tail_limit_is_validated() {
        assert!(Request::AuditTail { limit: 0 }.validate().is_err());
        assert!(Request::AuditTail { limit: MAX_AUDIT_TAIL + 1 }.validate().is_err());
        assert!(Request::AuditTail { limit: 1 }.validate().is_ok());
    }

    #[test]
    fn error_reply_renders_as_one_line() {
        let text = ErrorReply::denied("audit-tail needs tier 3").to_string();
        assert_eq!(text, "denied: audit-tail needs tier 3");
    }
}

#[cfg(test)]
mod restore_tests {
    use super::*;

    #[test]
    fn restore_ids_and_labels_are_validated() {
        assert!(Request::RestoreRollback { id: "20261123T120000Z-7f3a".into() }.validate().is_ok());
        for bad in ["", "../etc", "a b", &"x".repeat(65)] {
            assert!(Request::RestoreDiff { id: bad.into() }.validate().is_err(), "{bad:?}");
        }
        assert!(
            Request::RestoreCreate { label: Some("before update".into()), keep: true }
                .validate()
                .is_ok()
        );
        assert!(
            Request::RestoreCreate { label: Some("a\nb".into()), keep: false }.validate().is_err()
        );
        assert_eq!(
            Request::RestoreCreate { label: Some("x".into()), keep: true }.audit_summary(),
            "label=\"x\" keep=true"
        );
    }
}
