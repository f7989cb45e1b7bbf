//! What a technician asks an agent to do, grouped by how it is served.
//!
//! The top level of [`Request`] is the route, decided here once: a
//! [`Call`] is answered by one response frame; [`Throughput`] moves raw
//! bytes on the same stream after its frame; a [`ViewRequest`] opens a
//! stream that lives on. Calls group their restore and screen requests
//! into families, so each handler matches only its own variants.
//!
//! Every request travels on its own bidirectional stream.

use serde::{Deserialize, Serialize};

use crate::doctor::DoctorRequest;
use crate::fleet::FleetFactsRequest;
use crate::kind::RequestKind;
use crate::message::ErrorReply;
use crate::net::NetCheckRequest;
use crate::restore::MAX_LABEL_LEN;
use crate::screen::{InputEvent, InputTally, MAX_FPS, MAX_INPUT_EVENTS};
use crate::system::{KillSignal, MAX_PROCESSES, ProcessSort};

/// Largest number of audit entries one [`Call::AuditTail`] may return.
pub const MAX_AUDIT_TAIL: u32 = 10_000;

/// Largest payload one throughput measurement may move. Enough for a
/// stable figure on a fast LAN (64 MiB at 1 Gbit/s is half a second), and
/// a bound on what one request can make the agent read or write.
pub const MAX_THROUGHPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Something a technician asks an agent to do, by route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// One request frame in, one response frame out.
    Call(Call),
    /// Raw bytes follow the frame (upload) or the reply (download).
    Throughput(Throughput),
    /// The view stream: screen messages follow the reply.
    View(ViewRequest),
}

/// A request answered by exactly one response frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
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
    /// Restore points.
    Restore(RestoreRequest),
    /// Monitors, screenshots and one-shot input.
    Screen(ScreenRequest),
    /// The facts a fleet health check judges, read at one instant.
    /// Appended last, so protocol 3 agents that predate it answer
    /// `unsupported` rather than failing to decode.
    FleetFacts(FleetFactsRequest),
}

/// Restore point requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreRequest {
    /// The machine's restore points, oldest first.
    List,
    /// One restore point with its entries.
    Show { id: String },
    /// What rolling back to `id` would change (a dry run).
    Diff { id: String },
    /// Check the restore store's integrity.
    Verify,
    /// Take a restore point now.
    Create { label: Option<String>, keep: bool },
    /// Roll the machine back to `id` (after taking a point to undo to).
    Rollback { id: String },
    /// Undo the last rollback.
    Undo,
    /// Delete a restore point. `force`: also the point the last rollback
    /// can be undone to.
    Delete { id: String, force: bool },
}

/// One-shot screen requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScreenRequest {
    /// The monitors of the agent's display.
    Monitors,
    /// One frame of a monitor (`None`: the primary).
    Screenshot { monitor: Option<u32> },
    /// Inject input events in order, then release anything left held.
    Input { monitor: Option<u32>, events: Vec<InputEvent> },
}

/// Throughput measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Throughput {
    /// Technician to agent: `bytes` raw bytes follow this frame on the
    /// same stream; the agent answers `Response::Received`.
    Upload { bytes: u64 },
    /// Agent to technician: the agent answers `Response::Sending` and then
    /// `bytes` raw bytes on the same stream.
    Download { bytes: u64 },
}

/// Open the view stream (see [`crate::screen`]); with `control`, input is
/// accepted on it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewRequest {
    pub monitor: Option<u32>,
    pub control: bool,
    pub max_fps: u32,
}

impl From<Call> for Request {
    fn from(call: Call) -> Request {
        Request::Call(call)
    }
}

impl From<RestoreRequest> for Request {
    fn from(request: RestoreRequest) -> Request {
        Request::Call(Call::Restore(request))
    }
}

impl From<ScreenRequest> for Request {
    fn from(request: ScreenRequest) -> Request {
        Request::Call(Call::Screen(request))
    }
}

impl From<Throughput> for Request {
    fn from(request: Throughput) -> Request {
        Request::Throughput(request)
    }
}

impl From<ViewRequest> for Request {
    fn from(request: ViewRequest) -> Request {
        Request::View(request)
    }
}

impl Request {
    /// The request's kind, for the permission table and the audit log.
    pub const fn kind(&self) -> RequestKind {
        match self {
            Request::Call(call) => call.kind(),
            Request::Throughput(_) => RequestKind::Throughput,
            Request::View(ViewRequest { control: false, .. }) => RequestKind::View,
            Request::View(ViewRequest { control: true, .. }) => RequestKind::Control,
        }
    }

    /// A short, secret-free summary of the arguments for the audit log.
    pub fn audit_summary(&self) -> String {
        match self {
            Request::Call(call) => call.audit_summary(),
            Request::Throughput(Throughput::Upload { bytes }) => format!("upload bytes={bytes}"),
            Request::Throughput(Throughput::Download { bytes }) => {
                format!("download bytes={bytes}")
            }
            Request::View(ViewRequest { monitor, control, max_fps }) => {
                format!("monitor={} control={control} max_fps={max_fps}", monitor_name(*monitor))
            }
        }
    }

    /// Checks arguments a well-behaved controller never gets wrong.
    pub fn validate(&self) -> Result<(), ErrorReply> {
        match self {
            Request::Call(call) => call.validate(),
            Request::Throughput(Throughput::Upload { bytes } | Throughput::Download { bytes })
                if *bytes == 0 || *bytes > MAX_THROUGHPUT_BYTES =>
            {
                Err(ErrorReply::bad_request(format!(
                    "a throughput test moves 1 byte to {} MiB",
                    MAX_THROUGHPUT_BYTES >> 20
                )))
            }
            Request::Throughput(_) => Ok(()),
            Request::View(ViewRequest { max_fps, .. }) if *max_fps == 0 || *max_fps > MAX_FPS => {
                Err(ErrorReply::bad_request(format!("max_fps must be between 1 and {MAX_FPS}")))
            }
            Request::View(_) => Ok(()),
        }
    }
}

impl Call {
    /// The call's kind, for the permission table and the audit log.
    pub const fn kind(&self) -> RequestKind {
        match self {
            Call::Info => RequestKind::Info,
            Call::AuditTail { .. } => RequestKind::AuditTail,
            Call::Processes { .. } => RequestKind::Processes,
            Call::Kill { .. } => RequestKind::Kill,
            Call::Net(_) => RequestKind::Net,
            Call::Doctor(_) => RequestKind::Doctor,
            Call::Restore(r) => r.kind(),
            Call::Screen(ScreenRequest::Monitors) => RequestKind::Monitors,
            Call::Screen(ScreenRequest::Screenshot { .. }) => RequestKind::Screenshot,
            Call::Screen(ScreenRequest::Input { .. }) => RequestKind::Control,
            Call::FleetFacts(_) => RequestKind::FleetFacts,
        }
    }

    fn audit_summary(&self) -> String {
        match self {
            Call::Info | Call::Screen(ScreenRequest::Monitors) => String::new(),
            Call::AuditTail { limit } => format!("limit={limit}"),
            Call::Processes { sort, filter, limit } => {
                let mut text = format!("sort={sort:?} limit={limit}").to_lowercase();
                if let Some(f) = filter {
                    text.push_str(&format!(" filter={f:?}"));
                }
                text
            }
            Call::Kill { pid, signal } => format!("pid={pid} signal={}", signal.as_str()),
            Call::Net(net) => net.audit_summary(),
            Call::Doctor(d) => {
                d.net.as_ref().map_or_else(|| "network=skip".to_owned(), |n| n.audit_summary())
            }
            Call::Restore(r) => r.audit_summary(),
            Call::FleetFacts(f) => f.audit_summary(),
            Call::Screen(ScreenRequest::Screenshot { monitor }) => {
                format!("monitor={}", monitor_name(*monitor))
            }
            // Counts only: typed text never reaches the audit log.
            Call::Screen(ScreenRequest::Input { monitor, events }) => {
                let mut tally = InputTally::default();
                events.iter().for_each(|e| tally.count(e));
                format!("monitor={} {}", monitor_name(*monitor), tally.summary())
            }
        }
    }

    fn validate(&self) -> Result<(), ErrorReply> {
        match self {
            Call::Info
            | Call::Screen(ScreenRequest::Monitors | ScreenRequest::Screenshot { .. }) => Ok(()),
            Call::AuditTail { limit } if *limit == 0 || *limit > MAX_AUDIT_TAIL => Err(
                ErrorReply::bad_request(format!("limit must be between 1 and {MAX_AUDIT_TAIL}")),
            ),
            Call::AuditTail { .. } => Ok(()),
            Call::Processes { limit, .. } if *limit == 0 || *limit > MAX_PROCESSES => {
                Err(ErrorReply::bad_request(format!("limit must be between 1 and {MAX_PROCESSES}")))
            }
            Call::Processes { filter: Some(f), .. } if f.len() > 256 => {
                Err(ErrorReply::bad_request("filter longer than 256 characters"))
            }
            Call::Processes { .. } => Ok(()),
            Call::Kill { pid, .. } if *pid <= 1 => Err(ErrorReply::bad_request(format!(
                "refusing to signal pid {pid}: it is the kernel's or init's"
            ))),
            Call::Kill { .. } => Ok(()),
            Call::Net(net) => net.validate().map_err(ErrorReply::bad_request),
            Call::Doctor(d) => {
                d.net.as_ref().map_or(Ok(()), |n| n.validate().map_err(ErrorReply::bad_request))
            }
            Call::Restore(r) => r.validate(),
            Call::FleetFacts(f) => f.validate().map_err(ErrorReply::bad_request),
            Call::Screen(ScreenRequest::Input { events, .. })
                if events.is_empty() || events.len() > MAX_INPUT_EVENTS =>
            {
                Err(ErrorReply::bad_request(format!(
                    "an input request carries 1 to {MAX_INPUT_EVENTS} events"
                )))
            }
            Call::Screen(ScreenRequest::Input { events, .. }) => {
                events.iter().try_for_each(InputEvent::validate).map_err(ErrorReply::bad_request)
            }
        }
    }
}

impl RestoreRequest {
    /// The request's kind.
    pub const fn kind(&self) -> RequestKind {
        match self {
            RestoreRequest::List => RequestKind::RestoreList,
            RestoreRequest::Show { .. } => RequestKind::RestoreShow,
            RestoreRequest::Diff { .. } => RequestKind::RestoreDiff,
            RestoreRequest::Verify => RequestKind::RestoreVerify,
            RestoreRequest::Create { .. } => RequestKind::RestoreCreate,
            RestoreRequest::Rollback { .. } => RequestKind::RestoreRollback,
            RestoreRequest::Undo => RequestKind::RestoreUndo,
            RestoreRequest::Delete { .. } => RequestKind::RestoreDelete,
        }
    }

    fn audit_summary(&self) -> String {
        match self {
            RestoreRequest::List | RestoreRequest::Verify | RestoreRequest::Undo => String::new(),
            RestoreRequest::Show { id }
            | RestoreRequest::Diff { id }
            | RestoreRequest::Rollback { id }
            | RestoreRequest::Delete { id, .. } => format!("point={id}"),
            RestoreRequest::Create { label, keep } => {
                format!("label={:?} keep={keep}", label.as_deref().unwrap_or(""))
            }
        }
    }

    fn validate(&self) -> Result<(), ErrorReply> {
        match self {
            RestoreRequest::Show { id }
            | RestoreRequest::Diff { id }
            | RestoreRequest::Rollback { id }
            | RestoreRequest::Delete { id, .. }
                if id.is_empty()
                    || id.len() > 64
                    || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                Err(ErrorReply::bad_request(format!("{id:?} is not a restore point id")))
            }
            RestoreRequest::Create { label: Some(l), .. }
                if l.len() > MAX_LABEL_LEN || l.chars().any(char::is_control) =>
            {
                Err(ErrorReply::bad_request(format!(
                    "a label has at most {MAX_LABEL_LEN} characters and no control characters"
                )))
            }
            _ => Ok(()),
        }
    }
}

impl RequestKind {
    /// A small valid request of this kind: for tests that must cover every
    /// kind (the permission table, admission, version checks) and for
    /// documentation. Restore requests name the point `"example"`;
    /// `Kill` signals pid 2.
    pub fn example(self) -> Request {
        let id = || "example".to_owned();
        match self {
            RequestKind::Info => Call::Info.into(),
            RequestKind::AuditTail => Call::AuditTail { limit: 1 }.into(),
            RequestKind::Processes => {
                Call::Processes { sort: ProcessSort::Cpu, filter: None, limit: 1 }.into()
            }
            RequestKind::Kill => Call::Kill { pid: 2, signal: KillSignal::Term }.into(),
            RequestKind::Net => Call::Net(NetCheckRequest::default()).into(),
            RequestKind::Doctor => Call::Doctor(DoctorRequest::default()).into(),
            RequestKind::Throughput => Throughput::Upload { bytes: 1 }.into(),
            RequestKind::RestoreList => RestoreRequest::List.into(),
            RequestKind::RestoreShow => RestoreRequest::Show { id: id() }.into(),
            RequestKind::RestoreDiff => RestoreRequest::Diff { id: id() }.into(),
            RequestKind::RestoreVerify => RestoreRequest::Verify.into(),
            RequestKind::RestoreCreate => {
                RestoreRequest::Create { label: None, keep: false }.into()
            }
            RequestKind::RestoreRollback => RestoreRequest::Rollback { id: id() }.into(),
            RequestKind::RestoreUndo => RestoreRequest::Undo.into(),
            RequestKind::RestoreDelete => RestoreRequest::Delete { id: id(), force: false }.into(),
            RequestKind::Monitors => ScreenRequest::Monitors.into(),
            RequestKind::Screenshot => ScreenRequest::Screenshot { monitor: None }.into(),
            RequestKind::View => ViewRequest { monitor: None, control: false, max_fps: 1 }.into(),
            RequestKind::Control => ViewRequest { monitor: None, control: true, max_fps: 1 }.into(),
            RequestKind::FleetFacts => Call::FleetFacts(FleetFactsRequest::default()).into(),
        }
    }
}

fn monitor_name(monitor: Option<u32>) -> String {
    monitor.map_or_else(|| "primary".to_owned(), |m| m.to_string())
}

/// How many variants each enum on a request's path has, keyed by the
/// variant indices that lead to it: bincode writes an enum's variant index
/// as one byte below 251, so a request payload starts with its path.
const VARIANTS: &[(&[u8], u8)] = &[
    (&[], 3),     // Request
    (&[0], 9),    // Call
    (&[0, 6], 8), // Call::Restore
    (&[0, 7], 3), // Call::Screen
    (&[1], 2),    // Throughput
];

/// Whether an undecodable request payload names a request kind this build
/// does not know (a newer controller), as opposed to being malformed: one
/// of the variant indices on its path is past that enum's last variant.
/// The agent answers the first with `ErrorKind::Unsupported` and keeps
/// the connection; the second is a protocol violation.
pub fn is_unknown_request_kind(payload: &[u8]) -> bool {
    VARIANTS.iter().any(|(path, count)| {
        payload.starts_with(path)
            && payload.get(path.len()).is_some_and(|&index| (*count..251).contains(&index))
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
