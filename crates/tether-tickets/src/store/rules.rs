//! What a change must satisfy before it is stored: the state rules of
//! [`apply`] and the limits on what technicians type and attach.

use crate::model::{Event, NewTicket, Ticket, UnixTime};

/// The largest screenshot kept with a ticket: a 4K screen's PNG is a few
/// MiB, and `ticket show`/`export` load every attachment of a ticket.
pub const MAX_PNG_BYTES: usize = 32 << 20;

/// The longest title, requester, note or resolution, in characters: a
/// page of text; more is a paste gone wrong.
pub const MAX_TEXT_CHARS: usize = 16 << 10;

/// The eight bytes every PNG file starts with.
const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Whether `bytes` starts like a PNG file.
pub fn is_png(bytes: &[u8]) -> bool {
    bytes.starts_with(PNG_SIGNATURE)
}

/// Why the store does not take a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a ticket is opened only once")]
    OpenedTwice,
    #[error("an unreadable entry is never written")]
    Unreadable,
    #[error("it is resolved; reopen it first")]
    ResolvedAlready,
    #[error("tier {0} does not exist (escalate to tier 2 or 3)")]
    NoSuchTier(u8),
    #[error("it is already at tier {0}")]
    AtTierAlready(u8),
    #[error("it is already resolved")]
    ResolvedTwice,
    #[error("it is open")]
    StillOpen,
    #[error("the change is dated before the ticket was opened (check this machine's clock)")]
    BeforeOpening,
    #[error("the {0} is blank")]
    Blank(&'static str),
    #[error("the {what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("the screenshot is not a PNG")]
    NotPng,
    #[error("the screenshot is larger than {} MiB", MAX_PNG_BYTES >> 20)]
    TooLarge,
}

/// Title and requester present, every text within [`MAX_TEXT_CHARS`].
pub(super) fn check_new(new: &NewTicket) -> Result<(), Refusal> {
    for (what, text) in [("title", &new.title), ("requester", &new.requester)] {
        if text.trim().is_empty() {
            return Err(Refusal::Blank(what));
        }
        check_length(what, text)?;
    }
    if let Some(host) = &new.host {
        check_length("host", host)?;
    }
    Ok(())
}

fn check_length(what: &'static str, text: &str) -> Result<(), Refusal> {
    match text.chars().count() > MAX_TEXT_CHARS {
        true => Err(Refusal::TooLong { what, max: MAX_TEXT_CHARS }),
        false => Ok(()),
    }
}

/// A PNG within [`MAX_PNG_BYTES`].
pub(super) fn check_png(png: &[u8]) -> Result<(), Refusal> {
    if png.len() > MAX_PNG_BYTES {
        return Err(Refusal::TooLarge);
    }
    if !is_png(png) {
        return Err(Refusal::NotPng);
    }
    Ok(())
}

/// Applies `event` at `at` to `ticket`, or says why it does not fit.
///
/// Escalation goes up only (tiers 2 and 3) and only while open; resolving
/// needs an open ticket and reopening a resolved one. Nothing is dated
/// before the ticket's opening (a controller with a clock running behind
/// would otherwise store a negative time to resolve). Notes, commands,
/// sessions and screenshots are recorded in any state.
pub fn apply(ticket: &mut Ticket, event: &Event, at: UnixTime) -> Result<(), Refusal> {
    if at < ticket.opened_at {
        return Err(Refusal::BeforeOpening);
    }
    match event {
        Event::Opened { .. } => return Err(Refusal::OpenedTwice),
        Event::Unreadable { .. } => return Err(Refusal::Unreadable),
        Event::Escalated { tier, .. } => {
            if !ticket.is_open() {
                return Err(Refusal::ResolvedAlready);
            }
            if !(2..=3).contains(tier) {
                return Err(Refusal::NoSuchTier(*tier));
            }
            if *tier <= ticket.tier {
                return Err(Refusal::AtTierAlready(ticket.tier));
            }
            ticket.tier = *tier;
            ticket.max_tier = ticket.max_tier.max(*tier);
            ticket.escalations += 1;
        }
        Event::Assigned { to } => {
            check_length("technician", to)?;
            ticket.assignee = Some(to.clone())
        }
        Event::Resolved { resolution } => {
            check_length("resolution", resolution)?;
            if !ticket.is_open() {
                return Err(Refusal::ResolvedTwice);
            }
            ticket.resolved_at = Some(at);
            ticket.first_resolved_at.get_or_insert(at);
            ticket.resolution = Some(resolution.clone());
        }
        Event::Reopened => {
            if ticket.is_open() {
                return Err(Refusal::StillOpen);
            }
            ticket.resolved_at = None;
            ticket.resolution = None;
            ticket.reopens += 1;
        }
        Event::Note { text } => check_length("note", text)?,
        Event::Command { .. }
        | Event::SessionStarted { .. }
        | Event::SessionEnded { .. }
        | Event::Screenshot { .. } => {}
    }
    Ok(())
}
