//! The end of a run in a few lines: counts per status, the slowest hosts
//! and the failures grouped by cause. Folded host by host, so it needs no
//! more memory for a hundred thousand hosts than for ten.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::exit::CheckStatus;
use crate::fleet::runner::{FailureCause, HostReport};

/// How many slowest hosts, and how many example hosts per cause, a
/// summary keeps.
pub const KEEP: usize = 5;

impl Serialize for CheckStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Hosts that failed for one cause.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CauseGroup {
    /// How many hosts.
    pub hosts: usize,
    /// The first few, by alias, with their first failing check's words.
    pub examples: Vec<(String, String)>,
}

/// The run's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Hosts checked.
    pub hosts: usize,
    /// Hosts per status: OK, WARNING, CRITICAL, UNKNOWN.
    pub ok: usize,
    #[allow(missing_docs)]
    pub warning: usize,
    #[allow(missing_docs)]
    pub critical: usize,
    #[allow(missing_docs)]
    pub unknown: usize,
    /// The worst status of any host (OK for no hosts).
    pub worst: CheckStatus,
    /// The slowest hosts and their durations in seconds, slowest first.
    pub slowest: Vec<(String, f64)>,
    /// Hosts that are not OK, by cause.
    pub failures: BTreeMap<FailureCause, CauseGroup>,
    /// The run's wall time in seconds, once set by the caller.
    pub wall_seconds: f64,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            hosts: 0,
            ok: 0,
            warning: 0,
            critical: 0,
            unknown: 0,
            worst: CheckStatus::Ok,
            slowest: Vec::new(),
            failures: BTreeMap::new(),
            wall_seconds: 0.0,
        }
    }
}

impl Summary {
    /// Adds one host's report.
    pub fn add(&mut self, report: &HostReport) {
        self.hosts += 1;
        *match report.status {
            CheckStatus::Ok => &mut self.ok,
            CheckStatus::Warning => &mut self.warning,
            CheckStatus::Critical => &mut self.critical,
            CheckStatus::Unknown => &mut self.unknown,
        } += 1;
        self.worst = self.worst.max(report.status);
        self.slowest.push((report.host.clone(), report.duration_seconds));
        self.slowest.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.slowest.truncate(KEEP);
        if let Some(cause) = report.cause {
            let group = self.failures.entry(cause).or_default();
            group.hosts += 1;
            if group.examples.len() < KEEP {
                let why = report
                    .checks
                    .iter()
                    .find(|c| c.status != CheckStatus::Ok)
                    .map_or_else(String::new, |c| format!("{}: {}", c.check, c.message));
                group.examples.push((report.host.clone(), why));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::checks::CheckResult;

    fn report(
        host: &str,
        status: CheckStatus,
        cause: Option<FailureCause>,
        secs: f64,
    ) -> HostReport {
        HostReport {
            host: host.into(),
            address: "127.0.0.1".into(),
            agent: None,
            status,
            cause,
            handshake_seconds: None,
            duration_seconds: secs,
            attempts: 1,
            checks: vec![CheckResult::unknown("reachability", "gone")],
        }
    }

    #[test]
    fn counts_slowest_and_causes() {
        let mut s = Summary::default();
        s.add(&report("a", CheckStatus::Ok, None, 0.1));
        for i in 0..7 {
            let r = report(
                &format!("dead-{i}"),
                CheckStatus::Critical,
                Some(FailureCause::Timeout),
                5.0 + f64::from(i),
            );
            s.add(&r);
        }
        s.add(&report("w", CheckStatus::Warning, Some(FailureCause::Checks), 0.2));
        assert_eq!((s.hosts, s.ok, s.warning, s.critical, s.unknown), (9, 1, 1, 7, 0));
        assert_eq!(s.worst, CheckStatus::Critical);
        assert_eq!(s.slowest.len(), KEEP);
        assert_eq!(s.slowest[0], ("dead-6".to_owned(), 11.0));
        let timeouts = &s.failures[&FailureCause::Timeout];
        assert_eq!((timeouts.hosts, timeouts.examples.len()), (7, KEEP));
        assert_eq!(timeouts.examples[0].1, "reachability: gone");
        assert_eq!(s.failures[&FailureCause::Checks].hosts, 1);
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"worst\":\"CRITICAL\""), "{json}");
        assert!(json.contains("\"timeout\":{\"hosts\":7"), "{json}");
    }
}
