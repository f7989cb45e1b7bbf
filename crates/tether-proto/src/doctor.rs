//! `tether doctor`: health findings ranked by severity, with next steps.

use serde::{Deserialize, Serialize};

use crate::net::{NetCheckRequest, NetReport};

/// How bad a finding is. The numbers are Nagios plugin exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Severity {
    Ok,
    Warn,
    Crit,
    /// The check could not run.
    Unknown,
}

impl Severity {
    /// Order for ranking findings and for the overall status: CRIT first,
    /// then WARN, then UNKNOWN, then OK (as Nagios aggregates).
    pub const fn rank(self) -> u8 {
        match self {
            Severity::Crit => 3,
            Severity::Warn => 2,
            Severity::Unknown => 1,
            Severity::Ok => 0,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "OK",
            Severity::Warn => "WARN",
            Severity::Crit => "CRIT",
            Severity::Unknown => "UNKNOWN",
        }
    }
}

/// One health finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Which check, e.g. "disk", "memory", "zombies", "dns".
    pub check: String,
    /// What was found, in one line.
    pub summary: String,
    /// What a technician should do next (empty when all is well).
    pub next_step: String,
}

/// What `doctor` runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorRequest {
    /// The network checks to include; `None` skips the network.
    pub net: Option<NetCheckRequest>,
}

/// The `doctor` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoctorReport {
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// The network report the network findings came from.
    pub net: Option<NetReport>,
    /// The agent's clock, milliseconds since the Unix epoch, for skew.
    pub agent_time_unix_ms: u64,
}

/// The overall status of a set of findings (OK when there are none).
pub fn overall(findings: &[Finding]) -> Severity {
    findings.iter().map(|f| f.severity).max_by_key(|s| s.rank()).unwrap_or(Severity::Ok)
}

/// Sorts findings worst first, keeping the order of equals.
pub fn rank(findings: &mut [Finding]) {
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity.rank()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity, check: &str) -> Finding {
        Finding { severity, check: check.into(), summary: String::new(), next_step: String::new() }
    }

    #[test]
    fn overall_follows_nagios_precedence() {
        assert_eq!(overall(&[]), Severity::Ok);
        let mixed = [
            finding(Severity::Unknown, "a"),
            finding(Severity::Warn, "b"),
            finding(Severity::Ok, "c"),
        ];
        assert_eq!(overall(&mixed), Severity::Warn);
        assert_eq!(
            overall(&[finding(Severity::Crit, "x"), finding(Severity::Unknown, "y")]),
            Severity::Crit
        );
        assert_eq!(
            overall(&[finding(Severity::Ok, "x"), finding(Severity::Unknown, "y")]),
            Severity::Unknown
        );
    }

    #[test]
    fn ranking_puts_the_worst_first_and_is_stable() {
        let mut f = vec![
            finding(Severity::Ok, "1"),
            finding(Severity::Crit, "2"),
            finding(Severity::Warn, "3"),
            finding(Severity::Crit, "4"),
        ];
        rank(&mut f);
        let order: Vec<_> = f.iter().map(|f| f.check.as_str()).collect();
        assert_eq!(order, ["2", "4", "3", "1"]);
    }
}
