//! Who a technician is allowed to be: a support tier or the fleet role.
//!
//! Tiers follow help-desk practice: tier 1 looks and checks, tier 2 controls
//! the screen and processes, tier 3 restores systems. Each tier includes the
//! rights of the tiers below it. `fleet` is the identity of monitoring
//! automation: it may run read-only health queries and nothing else.
//!
//! The textual forms (`tier1`, `tier2`, `tier3`, `fleet`) are what
//! `tether-pki` writes into certificates; they are part of the protocol.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A support tier. Ordered: `One < Two < Three`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tier {
    One,
    Two,
    Three,
}

impl Tier {
    /// The tier's number, 1 to 3.
    pub const fn number(self) -> u8 {
        match self {
            Tier::One => 1,
            Tier::Two => 2,
            Tier::Three => 3,
        }
    }

    /// The tier with this number, if there is one.
    pub const fn from_number(n: u8) -> Option<Tier> {
        match n {
            1 => Some(Tier::One),
            2 => Some(Tier::Two),
            3 => Some(Tier::Three),
            _ => None,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tier {}", self.number())
    }
}

/// What a technician certificate entitles its holder to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// A human technician of the given tier.
    Tier(Tier),
    /// Fleet monitoring automation: read-only health queries only.
    Fleet,
}

impl Role {
    /// The canonical text form, as written into certificates.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Tier(Tier::One) => "tier1",
            Role::Tier(Tier::Two) => "tier2",
            Role::Tier(Tier::Three) => "tier3",
            Role::Fleet => "fleet",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role string that is not one of `tier1`, `tier2`, `tier3`, `fleet`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected tier1, tier2, tier3 or fleet)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tier1" => Ok(Role::Tier(Tier::One)),
            "tier2" => Ok(Role::Tier(Tier::Two)),
            "tier3" => Ok(Role::Tier(Tier::Three)),
            "fleet" => Ok(Role::Fleet),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        for role in
            [Role::Tier(Tier::One), Role::Tier(Tier::Two), Role::Tier(Tier::Three), Role::Fleet]
        {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
    }

    #[test]
    fn near_misses_are_rejected() {
        for bad in ["", "tier0", "tier4", "Tier1", "tier 1", "fleet ", "admin"] {
            assert!(bad.parse::<Role>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn tiers_are_ordered() {
        assert!(Tier::One < Tier::Two && Tier::Two < Tier::Three);
        assert_eq!(Tier::from_number(0), None);
        assert_eq!(Tier::from_number(3), Some(Tier::Three));
    }
}
