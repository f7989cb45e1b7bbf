//! Who may hold what, before and after authentication.
//!
//! Three gates, in the order a connection meets them:
//! - [`HandshakeGate`]: TLS handshakes in progress. Anyone on the network
//!   can start one, so nothing else is taken before it completes. Past a
//!   few handshakes in progress, addresses that have not proved they can
//!   receive packets are sent a QUIC Retry (stateless: a spoofed or
//!   silent source costs one packet and no memory); validated addresses
//!   are capped per address and in total.
//! - [`SessionSlots`]: established sessions, taken only after the
//!   certificate and its role are known. Fleet sessions have a share of
//!   their own below the total, so monitoring can never take every slot
//!   technicians need; each certificate has a cap of its own.
//! - [`ViewSlots`]: view streams, per session and per agent.
//!
//! The gates hold plain counters behind a mutex and hand out guards that
//! give the slot back when dropped, however the task holding it ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::limits::Limits;

/// Handshakes in progress from which unvalidated addresses get a Retry.
/// Honest controllers rarely overlap more than a few handshakes on one
/// agent; below this the Retry round trip is not worth it.
pub const RETRY_ABOVE: usize = 4;

/// Handshakes in progress one validated address may hold. Loopback and
/// NAT put several honest clients behind one address, so this is generous.
pub const MAX_HANDSHAKES_PER_ADDRESS: usize = 16;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update below is a few counter changes that cannot be left
    // half-done by a panic elsewhere, so a poisoned lock is still sound.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What to do with a new incoming connection.
#[derive(Debug)]
pub enum Entry {
    /// Go ahead with the handshake; the ticket holds its place.
    Proceed(HandshakeTicket),
    /// Ask the client to prove its address first (QUIC Retry).
    Retry,
    /// Drop it: too many handshakes (the reason is for the audit summary).
    Refuse(&'static str),
}

#[derive(Debug, Default)]
struct HandshakeCounts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// Counts TLS handshakes in progress.
#[derive(Debug)]
pub struct HandshakeGate {
    max: usize,
    counts: Mutex<HandshakeCounts>,
}

/// A handshake's place at the gate; dropping it frees the place.
#[derive(Debug)]
pub struct HandshakeTicket {
    gate: Arc<HandshakeGate>,
    addr: IpAddr,
}

impl HandshakeGate {
    pub fn new(max: usize) -> Arc<HandshakeGate> {
        Arc::new(HandshakeGate { max, counts: Mutex::default() })
    }

    /// Decides on a connection from `addr`; `validated` is whether the
    /// address has proved it receives our packets (a Retry token).
    pub fn enter(self: &Arc<Self>, addr: IpAddr, validated: bool) -> Entry {
        let mut c = lock(&self.counts);
        if !validated && c.total >= RETRY_ABOVE.min(self.max) {
            return Entry::Retry;
        }
        if c.total >= self.max {
            return Entry::Refuse("too many handshakes in progress");
        }
        let from_addr = c.per_address.get(&addr).copied().unwrap_or(0);
        // Unvalidated sources may be spoofed, so they are never held
        // against the real owner of the address: they only get this far
        // while the agent is not under load anyway.
        if validated && from_addr >= MAX_HANDSHAKES_PER_ADDRESS {
            return Entry::Refuse("too many handshakes in progress from this address");
        }
        c.total += 1;
        *c.per_address.entry(addr).or_default() += 1;
        Entry::Proceed(HandshakeTicket { gate: Arc::clone(self), addr })
    }

    /// Handshakes in progress.
    pub fn in_progress(&self) -> usize {
        lock(&self.counts).total
    }
}

impl Drop for HandshakeTicket {
    fn drop(&mut self) {
        let mut c = lock(&self.gate.counts);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_address.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                c.per_address.remove(&self.addr);
            }
        }
    }
}

#[derive(Debug, Default)]
struct SessionCounts {
    total: usize,
    fleet: usize,
    per_identity: HashMap<String, usize>,
}

/// Established sessions by role and identity.
#[derive(Debug)]
pub struct SessionSlots {
    max: usize,
    max_fleet: usize,
    max_per_identity: usize,
    counts: Mutex<SessionCounts>,
}

/// A session's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct SessionSlot {
    slots: Arc<SessionSlots>,
    identity: String,
    fleet: bool,
}

/// Why a session was not given a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every slot is taken.
    Agent,
    /// The fleet share is taken (technicians may still connect).
    Fleet,
    /// This certificate holds as many sessions as one may.
    Identity,
}

impl Full {
    /// The reason sent to the controller and written to the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            Full::Agent => "too many sessions",
            Full::Fleet => "too many fleet sessions",
            Full::Identity => "too many sessions for this certificate",
        }
    }
}

impl SessionSlots {
    pub fn new(limits: &Limits) -> Arc<SessionSlots> {
        Arc::new(SessionSlots {
            max: limits.max_sessions,
            max_fleet: limits.max_fleet_sessions,
            max_per_identity: limits.max_sessions_per_identity,
            counts: Mutex::default(),
        })
    }

    /// Takes a slot for the certificate with `serial`.
    pub fn take(self: &Arc<Self>, serial: &str, fleet: bool) -> Result<SessionSlot, Full> {
        let mut c = lock(&self.counts);
        if c.total >= self.max {
            return Err(Full::Agent);
        }
        if fleet && c.fleet >= self.max_fleet {
            return Err(Full::Fleet);
        }
        let mine = c.per_identity.get(serial).copied().unwrap_or(0);
        if mine >= self.max_per_identity {
            return Err(Full::Identity);
        }
        c.total += 1;
        c.fleet += usize::from(fleet);
        *c.per_identity.entry(serial.to_owned()).or_default() += 1;
        Ok(SessionSlot { slots: Arc::clone(self), identity: serial.to_owned(), fleet })
    }

    /// Sessions holding a slot.
    pub fn taken(&self) -> usize {
        lock(&self.counts).total
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut c = lock(&self.slots.counts);
        c.total = c.total.saturating_sub(1);
        c.fleet = c.fleet.saturating_sub(usize::from(self.fleet));
        if let Some(n) = c.per_identity.get_mut(&self.identity) {
            *n -= 1;
            if *n == 0 {
                c.per_identity.remove(&self.identity);
            }
        }
    }
}

#[derive(Debug, Default)]
struct ViewCounts {
    total: usize,
    per_session: HashMap<String, usize>,
}

/// View streams per session and on the whole agent.
#[derive(Debug)]
pub struct ViewSlots {
    max: usize,
    max_per_session: usize,
    counts: Mutex<ViewCounts>,
}

/// A view stream's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct ViewSlot {
    slots: Arc<ViewSlots>,
    session: String,
}

/// Why a view stream was not given a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ViewsFull {
    #[error("this session already has {} open (the limit); close one first", streams(*.0))]
    Session(usize),
    #[error("the agent already serves {0} view streams (its limit); try again when one ends")]
    Agent(usize),
}

fn streams(n: usize) -> String {
    format!("{n} view stream{}", if n == 1 { "" } else { "s" })
}

impl ViewSlots {
    pub fn new(limits: &Limits) -> Arc<ViewSlots> {
        Arc::new(ViewSlots {
            max: limits.max_views,
            max_per_session: limits.max_views_per_session,
            counts: Mutex::default(),
        })
    }

    /// Takes a slot for a view of `session`, or says why not.
    pub fn take(self: &Arc<Self>, session: &str) -> Result<ViewSlot, ViewsFull> {
        let mut c = lock(&self.counts);
        let mine = c.per_session.get(session).copied().unwrap_or(0);
        if mine >= self.max_per_session {
            return Err(ViewsFull::Session(mine));
        }
        if c.total >= self.max {
            return Err(ViewsFull::Agent(c.total));
        }
        c.total += 1;
        *c.per_session.entry(session.to_owned()).or_default() += 1;
        Ok(ViewSlot { slots: Arc::clone(self), session: session.to_owned() })
    }
}

impl Drop for ViewSlot {
    fn drop(&mut self) {
        let mut c = lock(&self.slots.counts);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_session.get_mut(&self.session) {
            *n -= 1;
            if *n == 0 {
                c.per_session.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn unvalidated_floods_get_retries_not_places() {
        let gate = HandshakeGate::new(64);
        let held: Vec<_> = (0..RETRY_ABOVE)
            .map(|_| match gate.enter(A, false) {
                Entry::Proceed(t) => t,
                other => panic!("{other:?}"),
            })
            .collect();
        for _ in 0..1000 {
            assert!(matches!(gate.enter(A, false), Entry::Retry));
        }
        assert_eq!(gate.in_progress(), RETRY_ABOVE);
        // A validated client (the technician after the Retry) still gets in,
        // even from the very address the flood claims to come from.
        assert!(matches!(gate.enter(A, true), Entry::Proceed(_)));
        drop(held);
        assert_eq!(gate.in_progress(), 0);
    }

    #[test]
    fn validated_addresses_are_capped_each_and_in_total() {
        let gate = HandshakeGate::new(20);
        let mut held = Vec::new();
        for _ in 0..MAX_HANDSHAKES_PER_ADDRESS {
            match gate.enter(A, true) {
                Entry::Proceed(t) => held.push(t),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(gate.enter(A, true), Entry::Refuse(_)));
        for _ in 0..(20 - MAX_HANDSHAKES_PER_ADDRESS) {
            match gate.enter(B, true) {
                Entry::Proceed(t) => held.push(t),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(gate.enter(B, true), Entry::Refuse("too many handshakes in progress")));
        held.pop();
        assert!(matches!(gate.enter(B, true), Entry::Proceed(_)));
    }

    fn limits(max: usize, fleet: usize, per_identity: usize) -> Limits {
        Limits {
            max_sessions: max,
            max_fleet_sessions: fleet,
            max_sessions_per_identity: per_identity,
            ..Limits::default()
        }
    }

    #[test]
    fn fleet_sessions_leave_the_technicians_share_free() {
        let slots = SessionSlots::new(&limits(4, 2, 10));
        let fleet: Vec<_> = (0..2).map(|i| slots.take(&format!("f{i}"), true).unwrap()).collect();
        assert_eq!(slots.take("f9", true).unwrap_err(), Full::Fleet);
        let techs: Vec<_> = (0..2).map(|i| slots.take(&format!("t{i}"), false).unwrap()).collect();
        assert_eq!(slots.take("t9", false).unwrap_err(), Full::Agent);
        drop(fleet);
        assert_eq!(slots.taken(), 2);
        assert!(slots.take("f0", true).is_ok());
        drop(techs);
    }

    #[test]
    fn one_certificate_cannot_take_every_slot() {
        let slots = SessionSlots::new(&limits(10, 5, 3));
        let mine: Vec<_> = (0..3).map(|_| slots.take("alice", false).unwrap()).collect();
        assert_eq!(slots.take("alice", false).unwrap_err(), Full::Identity);
        assert!(slots.take("bob", false).is_ok());
        drop(mine);
        assert!(slots.take("alice", false).is_ok());
    }

    #[test]
    fn views_are_capped_per_session_and_per_agent() {
        let slots =
            ViewSlots::new(&Limits { max_views: 3, max_views_per_session: 2, ..Limits::default() });
        let a1 = slots.take("a").unwrap();
        let _a2 = slots.take("a").unwrap();
        let err = slots.take("a").unwrap_err();
        assert_eq!(err, ViewsFull::Session(2));
        assert!(err.to_string().contains("already has 2 view streams open"), "{err}");
        let _b1 = slots.take("b").unwrap();
        let err = slots.take("c").unwrap_err();
        assert_eq!(err, ViewsFull::Agent(3));
        drop(a1);
        assert!(slots.take("c").is_ok());
    }
}
