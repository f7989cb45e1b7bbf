//! The permission table: the one place that says who may do what.
//!
//! [`requirement`] maps every request kind to the lowest tier that may run it
//! and whether the fleet role may. The match is exhaustive, so a new request
//! kind does not compile until it has an entry here. An agent's [`Policy`]
//! may raise these requirements (for example "nothing below tier 2 on this
//! machine") but can never lower them below the table.

use std::collections::BTreeMap;
use std::fmt;

use crate::kind::RequestKind;
use crate::role::{Role, Tier};

/// What a request kind needs from the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// The lowest technician tier allowed.
    pub min_tier: Tier,
    /// Whether the fleet role may run it (read-only health queries only).
    pub fleet: bool,
}

/// The permission table.
pub const fn requirement(kind: RequestKind) -> Requirement {
    match kind {
        RequestKind::Info => Requirement { min_tier: Tier::One, fleet: true },
        RequestKind::Processes => Requirement { min_tier: Tier::One, fleet: true },
        RequestKind::Net => Requirement { min_tier: Tier::One, fleet: true },
        RequestKind::Doctor => Requirement { min_tier: Tier::One, fleet: true },
        // Read-only facts read at one instant: the fleet role's own query.
        RequestKind::FleetFacts => Requirement { min_tier: Tier::One, fleet: true },
        // Moves up to 64 MiB over the user's link: a technician's call, not a probe's.
        RequestKind::Throughput => Requirement { min_tier: Tier::One, fleet: false },
        // Ending a user's process changes the machine: tier 2.
        RequestKind::Kill => Requirement { min_tier: Tier::Two, fleet: false },
        // Looking at restore points is tier 1; they are not health queries.
        RequestKind::RestoreList
        | RequestKind::RestoreShow
        | RequestKind::RestoreDiff
        | RequestKind::RestoreVerify => Requirement { min_tier: Tier::One, fleet: false },
        RequestKind::RestoreCreate => Requirement { min_tier: Tier::Two, fleet: false },
        // Restoring systems is tier 3's job.
        RequestKind::RestoreRollback | RequestKind::RestoreUndo | RequestKind::RestoreDelete => {
            Requirement { min_tier: Tier::Three, fleet: false }
        }
        // Looking at the screen is tier 1's; the user's consent policy
        // applies on top (agent side).
        RequestKind::Monitors | RequestKind::Screenshot | RequestKind::View => {
            Requirement { min_tier: Tier::One, fleet: false }
        }
        // Controlling mouse and keyboard is tier 2's.
        RequestKind::Control => Requirement { min_tier: Tier::Two, fleet: false },
        // The audit log names technicians and tickets: supervisors only.
        RequestKind::AuditTail => Requirement { min_tier: Tier::Three, fleet: false },
    }
}

/// An agent's local restrictions on top of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// No technician below this tier may do anything on this machine.
    pub min_tier: Tier,
    /// Whether fleet automation may connect at all.
    pub allow_fleet: bool,
    /// Per-request minimum tiers; only effective where above the table's.
    pub require: BTreeMap<RequestKind, Tier>,
}

impl Default for Policy {
    /// The table as it is: no extra restriction.
    fn default() -> Self {
        Policy { min_tier: Tier::One, allow_fleet: true, require: BTreeMap::new() }
    }
}

impl Policy {
    /// The effective requirement for `kind`: the table, tightened by policy.
    pub fn effective(&self, kind: RequestKind) -> Requirement {
        let table = requirement(kind);
        let mut min_tier = table.min_tier.max(self.min_tier);
        if let Some(&tier) = self.require.get(&kind) {
            min_tier = min_tier.max(tier);
        }
        Requirement { min_tier, fleet: table.fleet && self.allow_fleet }
    }

    /// Decides whether `role` may run a request of `kind` here.
    pub fn authorize(&self, role: Role, kind: RequestKind) -> Result<(), Denial> {
        let need = self.effective(kind);
        let allowed = match role {
            Role::Tier(tier) => tier >= need.min_tier,
            Role::Fleet => need.fleet,
        };
        if allowed { Ok(()) } else { Err(Denial { kind, role, need }) }
    }
}

/// A refused request, with enough detail to tell the technician why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub kind: RequestKind,
    pub role: Role,
    pub need: Requirement,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Denial { kind, role, need } = self;
        let table = requirement(*kind);
        match role {
            Role::Fleet if !table.fleet => {
                write!(
                    f,
                    "{kind} is not a read-only health query, so the fleet role may not run it"
                )
            }
            Role::Fleet => write!(f, "this agent's policy does not admit the fleet role"),
            Role::Tier(_) if need.min_tier > table.min_tier => write!(
                f,
                "{kind} needs {} on this machine (agent policy); your certificate is {role}",
                need.min_tier
            ),
            Role::Tier(_) => {
                write!(f, "{kind} needs {} or above; your certificate is {role}", need.min_tier)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: Role = Role::Tier(Tier::One);
    const T2: Role = Role::Tier(Tier::Two);
    const T3: Role = Role::Tier(Tier::Three);

    /// The whole table, role by role, under the default policy.
    #[test]
    fn table_under_default_policy() {
        let p = Policy::default();
        let cases = [
            (RequestKind::Info, [true, true, true, true]),
            (RequestKind::AuditTail, [false, false, true, false]),
            (RequestKind::Processes, [true, true, true, true]),
            (RequestKind::Kill, [false, true, true, false]),
            (RequestKind::Net, [true, true, true, true]),
            (RequestKind::Doctor, [true, true, true, true]),
            (RequestKind::Throughput, [true, true, true, false]),
            (RequestKind::RestoreList, [true, true, true, false]),
            (RequestKind::RestoreShow, [true, true, true, false]),
            (RequestKind::RestoreDiff, [true, true, true, false]),
            (RequestKind::RestoreVerify, [true, true, true, false]),
            (RequestKind::RestoreCreate, [false, true, true, false]),
            (RequestKind::RestoreRollback, [false, false, true, false]),
            (RequestKind::RestoreUndo, [false, false, true, false]),
            (RequestKind::RestoreDelete, [false, false, true, false]),
            (RequestKind::Monitors, [true, true, true, false]),
            (RequestKind::Screenshot, [true, true, true, false]),
            (RequestKind::View, [true, true, true, false]),
            (RequestKind::Control, [false, true, true, false]),
            (RequestKind::FleetFacts, [true, true, true, true]),
        ];
        assert_eq!(cases.len(), RequestKind::ALL.len(), "every kind has a case");
        for (kind, expect) in cases {
            for (role, ok) in [T1, T2, T3, Role::Fleet].into_iter().zip(expect) {
                assert_eq!(p.authorize(role, kind).is_ok(), ok, "{role} {kind}");
            }
        }
    }

    #[test]
    fn policy_raises_but_never_lowers() {
        let mut p = Policy { min_tier: Tier::Two, ..Policy::default() };
        assert!(p.authorize(T1, RequestKind::Info).is_err());
        assert!(p.authorize(T2, RequestKind::Info).is_ok());
        // A per-request override below the table has no effect.
        p.require.insert(RequestKind::AuditTail, Tier::One);
        assert!(p.authorize(T2, RequestKind::AuditTail).is_err());
        p.require.insert(RequestKind::Info, Tier::Three);
        assert!(p.authorize(T2, RequestKind::Info).is_err());
    }

    #[test]
    fn fleet_can_be_shut_out() {
        let p = Policy { allow_fleet: false, ..Policy::default() };
        assert!(p.authorize(Role::Fleet, RequestKind::Info).is_err());
    }

    #[test]
    fn denials_explain_themselves() {
        let p = Policy::default();
        let d = p.authorize(T1, RequestKind::AuditTail).unwrap_err();
        assert_eq!(d.to_string(), "audit-tail needs tier 3 or above; your certificate is tier1");
        let d = p.authorize(Role::Fleet, RequestKind::AuditTail).unwrap_err();
        assert!(d.to_string().contains("not a read-only health query"), "{d}");
        let strict = Policy { min_tier: Tier::Two, ..Policy::default() };
        let d = strict.authorize(T1, RequestKind::Info).unwrap_err();
        assert!(d.to_string().contains("agent policy"), "{d}");
    }
}
