//! What the store tests share: a fixed clock and a ticket to open.

#![allow(dead_code)] // each test file uses its own part

use tether_tickets::{Category, NewTicket, Priority};

/// 2026-11-02 09:00:00 UTC, a Monday.
pub const T0: i64 = 1_793_610_000;
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

pub fn new_ticket(title: &str, priority: Priority, by: &str) -> NewTicket {
    NewTicket {
        title: title.into(),
        requester: "Ada Lovelace".into(),
        host: Some("ws-042".into()),
        category: Category::Network,
        priority,
        opened_by: by.into(),
    }
}

pub fn kinds(entries: &[tether_tickets::Entry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.event.kind()).collect()
}
