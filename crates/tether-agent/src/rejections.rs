//! Rejected handshakes, recorded without letting a flood grow the log.
//!
//! Anyone on the network can fail a handshake, as often as they like and
//! from spoofed addresses. The first few rejections of each minute are
//! audited one by one, as before; past that they are counted per address
//! and reason and written once a minute as one summary record per
//! address: "N rejected handshakes from ADDR in the last minute: …". The
//! table is bounded: past [`MAX_ADDRESSES`] addresses, the rest are
//! counted together.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Rejections per window audited individually.
pub const IMMEDIATE_PER_WINDOW: u32 = 8;

/// How often counted rejections are summarised.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Addresses summarised individually per window; the rest share a line.
pub const MAX_ADDRESSES: usize = 32;

/// Distinct reasons kept per address; the rest count as "other".
const MAX_REASONS: usize = 8;

/// Longest reason kept, in bytes.
const MAX_REASON_LEN: usize = 160;

/// What the caller should do with one rejection.
#[derive(Debug, PartialEq, Eq)]
pub enum Noted {
    /// Audit it now, in full.
    Record,
    /// Counted for the next summary; nothing to write now.
    Counted,
}

/// One summary line's worth: rejections from one address (or `None` for
/// all addresses past the table's size) in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub addr: Option<IpAddr>,
    pub count: u64,
    /// Reasons with their counts, most frequent first.
    pub reasons: Vec<(String, u64)>,
}

impl Summary {
    /// The audit record's detail line.
    pub fn detail(&self, window: Duration) -> String {
        let from = match self.addr {
            Some(addr) => format!("from {addr}"),
            None => "from other addresses".to_owned(),
        };
        let reasons: Vec<String> =
            self.reasons.iter().map(|(why, n)| format!("{n}x {why}")).collect();
        format!(
            "{} rejected handshake{} {from} in the last {} s: {}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            window.as_secs(),
            reasons.join("; ")
        )
    }
}

#[derive(Debug, Default)]
struct Tally {
    count: u64,
    reasons: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, reason: &str) {
        self.count += 1;
        let mut key: String = reason.to_owned();
        if key.len() > MAX_REASON_LEN {
            let mut end = MAX_REASON_LEN;
            while !key.is_char_boundary(end) {
                end -= 1;
            }
            key.truncate(end);
        }
        if !self.reasons.contains_key(&key) && self.reasons.len() >= MAX_REASONS {
            key = "other reasons".to_owned();
        }
        *self.reasons.entry(key).or_default() += 1;
    }

    fn into_summary(self, addr: Option<IpAddr>) -> Summary {
        let mut reasons: Vec<_> = self.reasons.into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Summary { addr, count: self.count, reasons }
    }
}

#[derive(Debug)]
struct Window {
    started: Instant,
    immediate: u32,
    by_addr: BTreeMap<IpAddr, Tally>,
    others: Tally,
}

/// Rejections of the current window.
#[derive(Debug)]
pub struct Rejections {
    window: Mutex<Window>,
}

impl Rejections {
    pub fn new(now: Instant) -> Rejections {
        Rejections {
            window: Mutex::new(Window {
                started: now,
                immediate: 0,
                by_addr: BTreeMap::new(),
                others: Tally::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        // Counters only; a panic elsewhere cannot leave them inconsistent.
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes one rejected handshake from `addr`.
    pub fn note(&self, now: Instant, addr: IpAddr, reason: &str) -> Noted {
        let mut w = self.lock();
        if now.duration_since(w.started) >= WINDOW && w.by_addr.is_empty() && w.others.count == 0 {
            // Nothing pending: start a fresh window so quiet agents record
            // every occasional rejection in full.
            w.started = now;
            w.immediate = 0;
        }
        if w.immediate < IMMEDIATE_PER_WINDOW {
            w.immediate += 1;
            return Noted::Record;
        }
        if w.by_addr.contains_key(&addr) || w.by_addr.len() < MAX_ADDRESSES {
            w.by_addr.entry(addr).or_default().add(reason);
        } else {
            w.others.add(reason);
        }
        Noted::Counted
    }

    /// Ends the window if it is over (or `force`), returning its
    /// summaries, addresses in order and the rest last.
    pub fn drain(&self, now: Instant, force: bool) -> Vec<Summary> {
        let mut w = self.lock();
        if !force && now.duration_since(w.started) < WINDOW {
            return Vec::new();
        }
        w.started = now;
        w.immediate = 0;
        let by_addr = std::mem::take(&mut w.by_addr);
        let others = std::mem::take(&mut w.others);
        let mut out: Vec<Summary> =
            by_addr.into_iter().map(|(addr, t)| t.into_summary(Some(addr))).collect();
        if others.count > 0 {
            out.push(others.into_summary(None));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn a_flood_becomes_one_line_per_address_per_window() {
        let t0 = Instant::now();
        let r = Rejections::new(t0);
        let mut recorded = 0;
        for i in 0..5000 {
            if r.note(t0, ip(1), if i % 2 == 0 { "no certificate" } else { "timed out" })
                == Noted::Record
            {
                recorded += 1;
            }
        }
        assert_eq!(recorded, IMMEDIATE_PER_WINDOW);
        assert!(r.drain(t0 + Duration::from_secs(1), false).is_empty(), "window not over yet");
        let out = r.drain(t0 + WINDOW, false);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].count, 5000 - u64::from(IMMEDIATE_PER_WINDOW));
        let detail = out[0].detail(WINDOW);
        assert!(detail.starts_with("4992 rejected handshakes from 10.0.0.1 in the last 60 s: "));
        assert!(detail.contains("2496x no certificate") && detail.contains("2496x timed out"));
        // The next window starts with full records again.
        assert_eq!(r.note(t0 + WINDOW, ip(1), "x"), Noted::Record);
    }

    #[test]
    fn spoofed_sources_cannot_grow_the_table() {
        let t0 = Instant::now();
        let r = Rejections::new(t0);
        for n in 0..100_000 {
            r.note(t0, ip(n), &format!("reason {}", n % 100));
        }
        let out = r.drain(t0, true);
        assert_eq!(out.len(), MAX_ADDRESSES + 1);
        let rest = out.last().unwrap();
        assert_eq!(rest.addr, None);
        assert!(rest.reasons.len() <= MAX_REASONS + 1, "{:?}", rest.reasons);
        let total: u64 = out.iter().map(|s| s.count).sum();
        assert_eq!(total, 100_000 - u64::from(IMMEDIATE_PER_WINDOW));
        assert!(rest.detail(WINDOW).contains("from other addresses"));
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let t0 = Instant::now();
        let r = Rejections::new(t0);
        for _ in 0..IMMEDIATE_PER_WINDOW {
            r.note(t0, ip(1), "x");
        }
        r.note(t0, ip(1), &"é".repeat(200));
        let out = r.drain(t0, true);
        assert!(out[0].reasons[0].0.len() <= MAX_REASON_LEN);
    }

    #[test]
    fn a_quiet_agent_records_occasional_rejections_in_full() {
        let t0 = Instant::now();
        let r = Rejections::new(t0);
        for minute in 0..20u64 {
            let now = t0 + Duration::from_secs(61 * minute);
            assert_eq!(r.note(now, ip(1), "no certificate"), Noted::Record);
        }
    }
}
