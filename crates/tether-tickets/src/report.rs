//! Reports: pure computation over ticket summaries (one row per ticket,
//! no timeline), so the figures are checked against hand-made datasets.
//!
//! Definitions, for every group and the total:
//! - **volume**: tickets opened in the period;
//! - **resolved**: those resolved now; **resolution rate** = resolved / volume;
//! - **time to resolve**: opening to (latest) resolution, resolved tickets
//!   only, so a reopened ticket counts once with the time to its last
//!   resolution (time spent reopened included); the **median** is the middle value (the mean of the two middle
//!   values, rounded down, for an even count), the **90th percentile** the
//!   nearest rank (the ⌈0.9·n⌉-th smallest);
//! - **first-contact resolution rate** = resolved tickets never escalated
//!   and never reopened / resolved tickets;
//! - **reopen rate** = tickets reopened at least once / tickets resolved at
//!   least once;
//! - **escalation rate to tier N** = tickets that reached tier N or higher /
//!   volume;
//! - **breaches**: tickets past their due time at `now` while open, or
//!   resolved after it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Deadline, TicketSummary, UnixTime};

/// What one report row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Category,
    Host,
    /// The assignee, else whoever opened the ticket.
    Technician,
    /// The ISO week the ticket was opened in (`2026-W45`).
    Week,
    Requester,
}

/// The figures of a set of tickets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub volume: u64,
    pub resolved: u64,
    pub resolution_rate: f64,
    pub median_resolve_secs: Option<i64>,
    pub p90_resolve_secs: Option<i64>,
    /// `None` when nothing was resolved.
    pub first_contact_rate: Option<f64>,
    pub escalated_tier2_rate: f64,
    pub escalated_tier3_rate: f64,
    /// `None` when nothing was ever resolved.
    pub reopen_rate: Option<f64>,
    pub breaches: u64,
}

/// How many tickets share a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub tickets: u64,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub key: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// What this group's tickets were about, most frequent first (shows
    /// what a requester keeps calling about).
    pub categories: Vec<Count>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since: UnixTime,
    pub now: UnixTime,
    pub by: GroupBy,
    pub total: Figures,
    pub groups: Vec<Group>,
    /// Hosts with more than one ticket, most tickets first (at most 5).
    pub recurring_hosts: Vec<Count>,
    /// Categories, most tickets first.
    pub top_categories: Vec<Count>,
}

/// How many recurring hosts a report lists.
const TOP: usize = 5;

/// The report over `rows` (tickets opened since `since`), at `now`.
pub fn compute(rows: &[TicketSummary], by: GroupBy, since: UnixTime, now: UnixTime) -> Report {
    let mut grouped: BTreeMap<String, Vec<&TicketSummary>> = BTreeMap::new();
    for row in rows {
        grouped.entry(key(row, by)).or_default().push(row);
    }
    let mut groups: Vec<Group> = grouped
        .into_iter()
        .map(|(key, tickets)| Group {
            key,
            figures: figures(&tickets, now),
            categories: counts(tickets.iter().map(|t| t.category.as_str().to_owned())),
        })
        .collect();
    if by != GroupBy::Week {
        // Weeks read in time order; everything else busiest first.
        groups.sort_by(|a, b| {
            b.figures.volume.cmp(&a.figures.volume).then_with(|| a.key.cmp(&b.key))
        });
    }
    let all: Vec<&TicketSummary> = rows.iter().collect();
    let mut recurring_hosts = counts(rows.iter().filter_map(|t| t.host.clone()));
    recurring_hosts.retain(|c| c.tickets > 1);
    recurring_hosts.truncate(TOP);
    Report {
        since,
        now,
        by,
        total: figures(&all, now),
        groups,
        recurring_hosts,
        top_categories: counts(rows.iter().map(|t| t.category.as_str().to_owned())),
    }
}

fn key(row: &TicketSummary, by: GroupBy) -> String {
    match by {
        GroupBy::Category => row.category.as_str().to_owned(),
        GroupBy::Host => row.host.clone().unwrap_or_else(|| "(none)".into()),
        GroupBy::Technician => row.technician.clone(),
        GroupBy::Week => iso_week(row.opened_at),
        GroupBy::Requester => row.requester.clone(),
    }
}

/// `2026-W45`: the ISO 8601 week (weeks start on Monday; week 1 holds the
/// year's first Thursday) of a time, in UTC.
pub fn iso_week(at: UnixTime) -> String {
    match time::OffsetDateTime::from_unix_timestamp(at) {
        Ok(t) => {
            let (year, week, _) = t.to_iso_week_date();
            format!("{year}-W{week:02}")
        }
        Err(_) => "(invalid)".into(),
    }
}

/// Values by how often they occur, most frequent first, then by name.
fn counts(values: impl Iterator<Item = String>) -> Vec<Count> {
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for v in values {
        *tally.entry(v).or_default() += 1;
    }
    let mut out: Vec<Count> =
        tally.into_iter().map(|(name, tickets)| Count { name, tickets }).collect();
    out.sort_by(|a, b| b.tickets.cmp(&a.tickets).then_with(|| a.name.cmp(&b.name)));
    out
}

fn figures(tickets: &[&TicketSummary], now: UnixTime) -> Figures {
    let volume = tickets.len() as u64;
    let mut times: Vec<i64> =
        // Saturating: stored values come from other controllers and may be
        // anything an i64 holds.
        tickets
            .iter()
            .filter_map(|t| t.resolved_at.map(|r| r.saturating_sub(t.opened_at).max(0)))
            .collect();
    times.sort_unstable();
    let resolved = times.len() as u64;
    let first_contact = tickets
        .iter()
        .filter(|t| t.resolved_at.is_some() && t.escalations == 0 && t.reopens == 0)
        .count();
    let ever_resolved = tickets.iter().filter(|t| t.first_resolved_at.is_some()).count() as u64;
    let reopened = tickets.iter().filter(|t| t.reopens > 0).count() as u64;
    let reached = |tier: u8| tickets.iter().filter(|t| t.max_tier >= tier).count() as u64;
    Figures {
        volume,
        resolved,
        resolution_rate: ratio(resolved, volume),
        median_resolve_secs: median(&times),
        p90_resolve_secs: nearest_rank(&times, 0.9),
        first_contact_rate: (resolved > 0).then(|| ratio(first_contact as u64, resolved)),
        escalated_tier2_rate: ratio(reached(2), volume),
        escalated_tier3_rate: ratio(reached(3), volume),
        reopen_rate: (ever_resolved > 0).then(|| ratio(reopened, ever_resolved)),
        breaches: tickets
            .iter()
            .filter(|t| Deadline::of(t.due_at, t.resolved_at, now).is_breach())
            .count() as u64,
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// The middle of sorted values; two middles are averaged, rounded down.
pub fn median(sorted: &[i64]) -> Option<i64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        // In i128: two large i64 values do not overflow their sum.
        _ => Some((i128::from(sorted[n / 2 - 1]) + i128::from(sorted[n / 2])).div_euclid(2) as i64),
    }
}

/// The nearest-rank percentile `p` (0 < p ≤ 1) of sorted values.
pub fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Priority, TicketId};

    const T0: i64 = 1_793_610_000; // Monday 2026-11-02 09:00 UTC, ISO week 45.
    const H: i64 = 3_600;
    const D: i64 = 86_400;

    fn row(
        id: i64,
        category: Category,
        host: &str,
        requester: &str,
        tech: &str,
        opened: i64,
    ) -> TicketSummary {
        TicketSummary {
            id: TicketId(id),
            category,
            priority: Priority::P2,
            host: Some(host.into()),
            requester: requester.into(),
            technician: tech.into(),
            opened_at: opened,
            due_at: opened + D,
            resolved_at: None,
            first_resolved_at: None,
            max_tier: 1,
            escalations: 0,
            reopens: 0,
        }
    }

    fn resolved(mut r: TicketSummary, after: i64) -> TicketSummary {
        r.resolved_at = Some(r.opened_at + after);
        r.first_resolved_at = r.resolved_at;
        r
    }

    fn escalated(mut r: TicketSummary, tier: u8) -> TicketSummary {
        r.max_tier = tier;
        r.escalations = u32::from(tier) - 1;
        r
    }

    /// Ten tickets with known answers:
    /// network: 6 tickets, 5 resolved after 1,2,3,4,30 h (one escalated to
    ///   tier 2 and resolved late at 30 h); one open since T0 (now T0+3d:
    ///   breached).
    /// hardware: 4 tickets, 2 resolved after 10 h and 20 h (the 20 h one
    ///   escalated to tier 3), 2 open but opened at T0+2.5d: not yet due.
    fn dataset() -> Vec<TicketSummary> {
        use Category::{Hardware, Network};
        vec![
            resolved(row(1, Network, "ws-1", "ada", "alice", T0), H),
            resolved(row(2, Network, "ws-1", "ada", "alice", T0), 2 * H),
            resolved(row(3, Network, "ws-2", "bob", "alice", T0), 3 * H),
            resolved(row(4, Network, "ws-1", "ada", "carol", T0), 4 * H),
            resolved(escalated(row(5, Network, "ws-3", "cy", "carol", T0 + 7 * D), 2), 30 * H),
            row(6, Network, "ws-2", "ada", "carol", T0),
            resolved(row(7, Hardware, "ws-4", "bob", "alice", T0), 10 * H),
            resolved(escalated(row(8, Hardware, "ws-4", "bob", "alice", T0), 3), 20 * H),
            row(9, Hardware, "ws-5", "dee", "alice", T0 + 60 * H),
            row(10, Hardware, "ws-5", "dee", "alice", T0 + 60 * H),
        ]
    }

    #[test]
    fn totals_match_the_hand_computed_figures() {
        let now = T0 + 8 * D;
        let report = compute(&dataset(), GroupBy::Category, T0 - D, now);
        let t = &report.total;
        assert_eq!((t.volume, t.resolved), (10, 7));
        assert_eq!(t.resolution_rate, 0.7);
        // Sorted times: 1,2,3,4,10,20,30 h: median the 4th, p90 rank ⌈6.3⌉ = 7.
        assert_eq!(t.median_resolve_secs, Some(4 * H));
        assert_eq!(t.p90_resolve_secs, Some(30 * H));
        // Resolved without escalation: 1,2,3,4,7 of 7.
        assert_eq!(t.first_contact_rate, Some(5.0 / 7.0));
        assert_eq!((t.escalated_tier2_rate, t.escalated_tier3_rate), (0.2, 0.1));
        // 5 resolved 6 h late; 6 open since T0; 9 and 10 due at T0+3.5d, open at T0+8d.
        assert_eq!(t.breaches, 4);
    }

    #[test]
    fn groups_are_busiest_first_with_their_own_figures() {
        let report = compute(&dataset(), GroupBy::Category, T0 - D, T0 + 3 * D);
        let keys: Vec<&str> = report.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["network", "hardware"]);
        let network = &report.groups[0].figures;
        assert_eq!((network.volume, network.resolved), (6, 5));
        // 1,2,3,4,30 h.
        assert_eq!(
            (network.median_resolve_secs, network.p90_resolve_secs),
            (Some(3 * H), Some(30 * H))
        );
        // 6 is open past due; 5 was resolved 6 h late.
        assert_eq!(network.breaches, 2);
        let hardware = &report.groups[1].figures;
        // 10 h and 20 h: the median averages the two middles.
        assert_eq!(hardware.median_resolve_secs, Some(15 * H));
        assert_eq!(hardware.first_contact_rate, Some(0.5));
        assert_eq!(hardware.escalated_tier3_rate, 0.25);
        assert_eq!(
            report.recurring_hosts,
            [
                Count { name: "ws-1".into(), tickets: 3 },
                Count { name: "ws-2".into(), tickets: 2 },
                Count { name: "ws-4".into(), tickets: 2 },
                Count { name: "ws-5".into(), tickets: 2 },
            ]
        );
        assert_eq!(report.top_categories[0], Count { name: "network".into(), tickets: 6 });
    }

    #[test]
    fn requesters_show_how_often_and_about_what() {
        let report = compute(&dataset(), GroupBy::Requester, T0 - D, T0 + 9 * D);
        let ada = &report.groups[0];
        assert_eq!((ada.key.as_str(), ada.figures.volume), ("ada", 4));
        assert_eq!(ada.categories, [Count { name: "network".into(), tickets: 4 }]);
        let bob = report.groups.iter().find(|g| g.key == "bob").unwrap();
        assert_eq!(
            bob.categories,
            [
                Count { name: "hardware".into(), tickets: 2 },
                Count { name: "network".into(), tickets: 1 },
            ]
        );
    }

    #[test]
    fn weeks_are_iso_weeks_in_time_order() {
        assert_eq!(iso_week(T0), "2026-W45");
        assert_eq!(iso_week(T0 + 7 * D), "2026-W46");
        // 2027-01-01 is a Friday: it belongs to the last week of 2026.
        assert_eq!(iso_week(1_798_761_600), "2026-W53");
        let report = compute(&dataset(), GroupBy::Week, T0 - D, T0 + 9 * D);
        let keys: Vec<(&str, u64)> =
            report.groups.iter().map(|g| (g.key.as_str(), g.figures.volume)).collect();
        assert_eq!(keys, [("2026-W45", 9), ("2026-W46", 1)]);
    }

    #[test]
    fn technicians_and_empty_sets() {
        let report = compute(&dataset(), GroupBy::Technician, T0 - D, T0 + 9 * D);
        let alice = &report.groups[0];
        assert_eq!(
            (alice.key.as_str(), alice.figures.volume, alice.figures.resolved),
            ("alice", 7, 5)
        );
        let empty = compute(&[], GroupBy::Host, 0, 1);
        assert_eq!(empty.total.volume, 0);
        assert_eq!(empty.total.resolution_rate, 0.0);
        assert_eq!(empty.total.median_resolve_secs, None);
        assert_eq!(empty.total.first_contact_rate, None);
        assert!(empty.groups.is_empty());
    }

    #[test]
    fn percentiles_use_the_documented_ranks() {
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[1, 4]), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), Some(9));
        assert_eq!(nearest_rank(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9), Some(10));
        assert_eq!(nearest_rank(&[7], 0.9), Some(7));
        assert_eq!(nearest_rank(&[], 0.9), None);
    }

    #[test]
    fn reopened_tickets_are_not_first_contact_and_count_in_the_reopen_rate() {
        use Category::Network;
        let mut reopened = resolved(row(2, Network, "ws-1", "ada", "alice", T0), 2 * H);
        reopened.reopens = 1;
        let mut open_again = resolved(row(3, Network, "ws-1", "ada", "alice", T0), H);
        open_again.resolved_at = None;
        open_again.reopens = 1;
        let rows = [resolved(row(1, Network, "ws-1", "ada", "alice", T0), H), reopened, open_again];
        let f = compute(&rows, GroupBy::Category, T0 - D, T0 + D).total;
        assert_eq!(f.first_contact_rate, Some(0.5), "one of two resolved was reopened");
        assert_eq!(f.reopen_rate, Some(2.0 / 3.0), "two of three ever resolved");
    }

    #[test]
    fn extreme_stored_times_do_not_overflow() {
        use Category::Network;
        let mut far = row(1, Network, "ws-1", "ada", "alice", i64::MIN);
        far.resolved_at = Some(i64::MAX);
        far.due_at = i64::MIN;
        let mut late = row(2, Network, "ws-1", "ada", "alice", i64::MIN);
        late.resolved_at = Some(i64::MAX);
        let f = compute(&[far, late], GroupBy::Category, i64::MIN, i64::MAX).total;
        assert_eq!(f.median_resolve_secs, Some(i64::MAX));
        assert_eq!(
            Deadline::of(i64::MIN, None, i64::MAX),
            Deadline::Breached { overdue: i64::MAX }
        );
    }
}
