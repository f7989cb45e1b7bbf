//! What a ticket is: its id, priority, category, the ticket row with the
//! figures reports need, the timeline's entry kinds, and the time frames
//! that give each priority its due time.
//!
//! Times are whole seconds since the Unix epoch (UTC), always passed in by
//! the caller: nothing here reads a clock.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC.
pub type UnixTime = i64;

/// A ticket's number; shown as `T-42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub i64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T-{}", self.0)
    }
}

/// Why a text is not a ticket id of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a ticket id (expected T-42 or 42)")]
pub struct NotATicketId(pub String);

impl FromStr for TicketId {
    type Err = NotATicketId;

    /// `42`, `T-42` or `t-42`; the number is positive and has no sign,
    /// spaces or leading `+`.
    fn from_str(text: &str) -> Result<TicketId, NotATicketId> {
        let digits = text.strip_prefix("T-").or_else(|| text.strip_prefix("t-")).unwrap_or(text);
        let valid =
            !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit());
        match valid.then(|| digits.parse::<i64>()) {
            Some(Ok(n)) if n > 0 => Ok(TicketId(n)),
            _ => Err(NotATicketId(text.to_owned())),
        }
    }
}

/// How urgent a ticket is; each has its own time frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::P1, Priority::P2, Priority::P3, Priority::P4];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored word that names no known value (a newer build's, or a damaged row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for Priority {
    type Err = UnknownValue;
    fn from_str(text: &str) -> Result<Priority, UnknownValue> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownValue { what: "priority", value: text.to_owned() })
    }
}

/// What kind of problem a ticket is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Network,
    Hardware,
    Software,
    Account,
    Other,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Network,
        Category::Hardware,
        Category::Software,
        Category::Account,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Network => "network",
            Category::Hardware => "hardware",
            Category::Software => "software",
            Category::Account => "account",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = UnknownValue;
    fn from_str(text: &str) -> Result<Category, UnknownValue> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| UnknownValue { what: "category", value: text.to_owned() })
    }
}

/// What a technician gives to open a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    pub title: String,
    /// Who called: the person with the problem.
    pub requester: String,
    pub host: Option<String>,
    pub category: Category,
    pub priority: Priority,
    /// The technician opening it.
    pub opened_by: String,
}

/// A ticket as stored: what it is about and the figures reports read
/// without scanning the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub title: String,
    pub requester: String,
    pub host: Option<String>,
    pub category: Category,
    pub priority: Priority,
    pub opened_by: String,
    pub assignee: Option<String>,
    pub opened_at: UnixTime,
    /// `opened_at` plus the priority's time frame, fixed at opening.
    pub due_at: UnixTime,
    /// When it was last resolved; `None` while open (a reopen clears it).
    pub resolved_at: Option<UnixTime>,
    /// When it was resolved the first time; kept across reopens.
    pub first_resolved_at: Option<UnixTime>,
    pub resolution: Option<String>,
    /// The tier it is at now: 1 until escalated.
    pub tier: u8,
    /// The highest tier it ever reached.
    pub max_tier: u8,
    pub escalations: u32,
    pub reopens: u32,
}

impl Ticket {
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// The technician it belongs to: its assignee, or whoever opened it.
    pub fn owner(&self) -> &str {
        self.assignee.as_deref().unwrap_or(&self.opened_by)
    }

    /// Where it stands against its time frame at `now`.
    pub fn deadline(&self, now: UnixTime) -> Deadline {
        Deadline::of(self.due_at, self.resolved_at, now)
    }
}

/// A ticket's standing against its due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Deadline {
    /// Open, due in `remaining` seconds.
    Due { remaining: i64 },
    /// Open and past due by `overdue` seconds.
    Breached { overdue: i64 },
    /// Resolved by its due time.
    Met,
    /// Resolved `overdue` seconds after its due time.
    ResolvedLate { overdue: i64 },
}

impl Deadline {
    pub fn of(due_at: UnixTime, resolved_at: Option<UnixTime>, now: UnixTime) -> Deadline {
        match resolved_at {
            Some(at) if at <= due_at => Deadline::Met,
            Some(at) => Deadline::ResolvedLate { overdue: at.saturating_sub(due_at) },
            None if now <= due_at => Deadline::Due { remaining: due_at.saturating_sub(now) },
            None => Deadline::Breached { overdue: now.saturating_sub(due_at) },
        }
    }

    pub fn is_breach(self) -> bool {
        matches!(self, Deadline::Breached { .. } | Deadline::ResolvedLate { .. })
    }
}

impl fmt::Display for Deadline {
    /// "due in 3h 12m", "breached 2h ago", "met", "resolved 1d 2h late".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Deadline::Due { remaining } => write!(f, "due in {}", span(remaining)),
            Deadline::Breached { overdue } => write!(f, "breached {} ago", span(overdue)),
            Deadline::Met => f.write_str("met"),
            Deadline::ResolvedLate { overdue } => write!(f, "resolved {} late", span(overdue)),
        }
    }
}

/// A duration in seconds for people: the two largest units, e.g. `3h 12m`,
/// `2d 4h`, `45s`.
pub fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// Why a duration such as `4h` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a duration (expected a number and a unit: 90s, 30m, 4h, 5d or 2w)")]
pub struct BadDuration(pub String);

/// Reads `90s`, `30m`, `4h`, `5d`, `2w` into seconds (positive, one unit).
pub fn parse_span(text: &str) -> Result<i64, BadDuration> {
    let bad = || BadDuration(text.to_owned());
    let t = text.trim();
    let unit_at = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = t.split_at(unit_at);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).filter(|&s| s > 0).ok_or_else(bad)
}

/// How long each priority may stay open, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeFrames {
    pub p1: i64,
    pub p2: i64,
    pub p3: i64,
    pub p4: i64,
}

impl Default for TimeFrames {
    /// P1 4 hours, P2 1 day, P3 3 days, P4 5 days.
    fn default() -> TimeFrames {
        TimeFrames { p1: 4 * 3_600, p2: 86_400, p3: 3 * 86_400, p4: 5 * 86_400 }
    }
}

impl TimeFrames {
    pub fn of(&self, priority: Priority) -> i64 {
        match priority {
            Priority::P1 => self.p1,
            Priority::P2 => self.p2,
            Priority::P3 => self.p3,
            Priority::P4 => self.p4,
        }
    }

    /// When a ticket of `priority` opened at `opened_at` is due.
    pub fn due_at(&self, priority: Priority, opened_at: UnixTime) -> UnixTime {
        opened_at.saturating_add(self.of(priority))
    }
}

/// One line of a ticket's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Unique in the store; orders entries written at the same second.
    pub id: i64,
    pub ticket: TicketId,
    pub at: UnixTime,
    /// The technician who did it.
    pub actor: String,
    pub event: Event,
}

/// What happened, as the timeline records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Opened {
        title: String,
        priority: Priority,
        category: Category,
        due_at: UnixTime,
    },
    Note {
        text: String,
    },
    Escalated {
        tier: u8,
        reason: Option<String>,
    },
    Assigned {
        to: String,
    },
    Resolved {
        resolution: String,
    },
    Reopened,
    /// A command run against a host with this ticket attached.
    Command {
        host: String,
        command: String,
        summary: String,
        ok: bool,
    },
    SessionStarted {
        host: String,
        agent_session: String,
    },
    SessionEnded {
        host: String,
        seconds: u64,
        commands: u32,
    },
    /// A screenshot kept with the ticket (its bytes in the attachments).
    Screenshot {
        host: String,
        name: String,
        bytes: u64,
    },
    /// An entry this build cannot read: written by a newer tether sharing
    /// the store (a kind added since) or changed by hand. Read, shown and
    /// counted as what it is, never written.
    Unreadable {
        /// The stored `kind`.
        stored_kind: String,
    },
}

impl Event {
    /// The word stored in the timeline's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Opened { .. } => "opened",
            Event::Note { .. } => "note",
            Event::Escalated { .. } => "escalated",
            Event::Assigned { .. } => "assigned",
            Event::Resolved { .. } => "resolved",
            Event::Reopened => "reopened",
            Event::Command { .. } => "command",
            Event::SessionStarted { .. } => "session_started",
            Event::SessionEnded { .. } => "session_ended",
            Event::Screenshot { .. } => "screenshot",
            Event::Unreadable { .. } => "unreadable",
        }
    }
}

/// A screenshot kept with a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The timeline entry that records it.
    pub entry: i64,
    pub name: String,
    #[serde(skip)]
    pub png: Vec<u8>,
}

/// The fields of a ticket a report reads: one per ticket, no timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSummary {
    pub id: TicketId,
    pub category: Category,
    pub priority: Priority,
    pub host: Option<String>,
    pub requester: String,
    /// The assignee, or the technician who opened it.
    pub technician: String,
    pub opened_at: UnixTime,
    pub due_at: UnixTime,
    pub resolved_at: Option<UnixTime>,
    pub first_resolved_at: Option<UnixTime>,
    pub max_tier: u8,
    pub escalations: u32,
    pub reopens: u32,
}

impl From<&Ticket> for TicketSummary {
    fn from(t: &Ticket) -> TicketSummary {
        TicketSummary {
            id: t.id,
            category: t.category,
            priority: t.priority,
            host: t.host.clone(),
            requester: t.requester.clone(),
            technician: t.owner().to_owned(),
            opened_at: t.opened_at,
            due_at: t.due_at,
            resolved_at: t.resolved_at,
            first_resolved_at: t.first_resolved_at,
            max_tier: t.max_tier,
            escalations: t.escalations,
            reopens: t.reopens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_ids_read_with_or_without_the_prefix_and_nothing_else() {
        assert_eq!("42".parse(), Ok(TicketId(42)));
        assert_eq!("T-42".parse(), Ok(TicketId(42)));
        assert_eq!("t-7".parse(), Ok(TicketId(7)));
        assert_eq!(TicketId(42).to_string(), "T-42");
        for bad in
            ["", "T-", "0", "-3", "+3", "INC-2026/0042", "T-4 2", "42x", "99999999999999999999"]
        {
            assert!(bad.parse::<TicketId>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn deadlines_count_from_the_due_time() {
        assert_eq!(Deadline::of(100, None, 40), Deadline::Due { remaining: 60 });
        assert_eq!(Deadline::of(100, None, 100), Deadline::Due { remaining: 0 });
        assert_eq!(Deadline::of(100, None, 130), Deadline::Breached { overdue: 30 });
        assert_eq!(Deadline::of(100, Some(90), 500), Deadline::Met);
        assert_eq!(Deadline::of(100, Some(150), 500), Deadline::ResolvedLate { overdue: 50 });
        assert_eq!(
            Deadline::Due { remaining: 3 * 3600 + 12 * 60 + 5 }.to_string(),
            "due in 3h 12m"
        );
        assert_eq!(Deadline::Breached { overdue: 2 * 3600 }.to_string(), "breached 2h ago");
        assert_eq!(span(2 * 86_400 + 5 * 3600 + 7), "2d 5h");
        assert_eq!(span(59), "59s");
    }

    #[test]
    fn spans_parse_with_one_unit() {
        assert_eq!(parse_span("4h"), Ok(4 * 3600));
        assert_eq!(parse_span("30d"), Ok(30 * 86_400));
        assert_eq!(parse_span("90s"), Ok(90));
        assert_eq!(parse_span("2w"), Ok(14 * 86_400));
        for bad in ["", "h", "4", "4x", "0h", "-1h", "4h30m", "99999999999999999999d"] {
            assert!(parse_span(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_default_time_frames_are_the_documented_ones() {
        let frames = TimeFrames::default();
        assert_eq!(frames.due_at(Priority::P1, 1000), 1000 + 4 * 3600);
        assert_eq!(frames.of(Priority::P4), 5 * 86_400);
    }
}
