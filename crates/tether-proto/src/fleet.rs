//! Fleet facts: the one cheap request a fleet health check sends.
//!
//! [`FleetFactsRequest`] asks for exactly what the controller's check set
//! judges (versions, certificate expiry, load, memory, filesystems, clock
//! and, if named, processes and systemd services), and [`FleetFacts`] carries it back. Nothing
//! here needs a sampling interval: load is the kernel's load average and
//! everything else is read at one instant, so an agent answers in well
//! under a millisecond of its own time. Judging the facts (thresholds,
//! OK/WARN/CRIT) is the controller's business.

use serde::{Deserialize, Serialize};

use crate::system::MemoryInfo;

/// Most process names one request may ask about.
pub const MAX_FLEET_PROCESSES: usize = 32;
/// Longest process name one request may carry (Linux truncates `comm` to
/// 15 bytes; longer names match against the command line's first word).
pub const MAX_PROCESS_NAME_LEN: usize = 64;
/// Longest systemd unit name one request may carry (systemd's own limit).
pub const MAX_SERVICE_NAME_LEN: usize = 256;
/// Most filesystems one answer lists: more than any workstation mounts,
/// and a bound on the answer's size.
pub const MAX_FLEET_MOUNTS: usize = 256;

/// What a fleet check wants to know beyond the fixed facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetFactsRequest {
    /// Process names whose presence is checked (exact name match); empty
    /// skips reading the process table.
    pub processes: Vec<String>,
    /// systemd units whose state is asked (`sshd.service`); empty asks
    /// systemd nothing.
    pub services: Vec<String>,
}

impl FleetFactsRequest {
    /// Checks the bounds a well-behaved controller keeps.
    pub fn validate(&self) -> Result<(), String> {
        if self.processes.len() > MAX_FLEET_PROCESSES {
            return Err(format!("at most {MAX_FLEET_PROCESSES} process names"));
        }
        if let Some(bad) = self.processes.iter().find(|name| {
            name.is_empty()
                || name.len() > MAX_PROCESS_NAME_LEN
                || name.chars().any(|c| c.is_control() || c == '/')
        }) {
            return Err(format!(
                "{bad:?} is not a process name (1 to {MAX_PROCESS_NAME_LEN} characters, no '/' or control characters)"
            ));
        }
        if self.services.len() > MAX_FLEET_PROCESSES {
            return Err(format!("at most {MAX_FLEET_PROCESSES} service names"));
        }
        match self.services.iter().find(|name| !is_unit_name(name)) {
            Some(bad) => Err(format!(
                "{bad:?} is not a systemd unit name (1 to {MAX_SERVICE_NAME_LEN} of \
                 A-Z a-z 0-9 : _ . @ - \\, not starting with '-')"
            )),
            None => Ok(()),
        }
    }

    /// A short summary for the audit log.
    pub fn audit_summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.processes.is_empty() {
            parts.push(format!("processes={}", self.processes.join(",")));
        }
        if !self.services.is_empty() {
            parts.push(format!("services={}", self.services.join(",")));
        }
        parts.join(" ")
    }
}

/// Whether `name` is a unit name systemd accepts: its own character set,
/// and nothing an argument parser could take for an option.
fn is_unit_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SERVICE_NAME_LEN
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || ":_.@-\\".contains(c))
}

/// The facts a fleet check judges, read at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetFacts {
    /// "tether-agent X.Y.Z".
    pub agent_software: String,
    /// The protocol version the agent speaks.
    pub protocol_version: u16,
    /// The agent certificate's end of validity, seconds since the Unix
    /// epoch; `None` when the agent could not read its own certificate.
    pub cert_not_after_unix: Option<i64>,
    /// Logical CPUs, the divisor for load per core.
    pub logical_cpus: u32,
    /// 1, 5 and 15-minute load averages (zero where the OS has none).
    pub load_average: [f64; 3],
    /// Memory and swap, in bytes.
    pub memory: MemoryInfo,
    /// Filesystems that hold data (pseudo filesystems left out).
    pub mounts: Vec<MountFacts>,
    /// The named processes asked for, in the order asked.
    pub processes: Vec<ProcessPresence>,
    /// The services asked for, in the order asked; empty with
    /// `services_error` set when systemd could not be asked.
    pub services: Vec<ServiceState>,
    /// Why the services' states are unknown (no systemd, no answer).
    pub services_error: Option<String>,
    /// The agent's wall clock as the reply left, milliseconds since the
    /// Unix epoch, for the controller's clock-skew estimate.
    pub agent_time_unix_ms: u64,
}

/// One filesystem's space and inodes, as `df` and `df -i` count them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountFacts {
    pub mount_point: String,
    pub file_system: String,
    /// Bytes in use (root's reserve counts as free, as `df` has it).
    pub used_bytes: u64,
    /// Bytes an unprivileged user can still write.
    pub available_bytes: u64,
    /// Inodes in the filesystem; 0 where it has no fixed inode table.
    pub inodes: u64,
    /// Free inodes.
    pub inodes_free: u64,
    pub read_only: bool,
}

impl MountFacts {
    /// Share of the space users can have that is in use, 0–100 (`df`'s
    /// Use%).
    pub fn used_percent(&self) -> f64 {
        crate::system::df_used_percent(self.used_bytes, self.available_bytes)
    }

    /// Share of inodes in use, 0–100; `None` without an inode table.
    pub fn inodes_used_percent(&self) -> Option<f64> {
        (self.inodes > 0).then(|| {
            (self.inodes - self.inodes_free.min(self.inodes)) as f64 * 100.0 / self.inodes as f64
        })
    }
}

/// Whether a named process runs, and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessPresence {
    pub name: String,
    pub count: u32,
}

/// A systemd unit's `ActiveState` (`active`, `inactive`, `failed`,
/// `activating`, `deactivating`, `reloading`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: String,
    pub active_state: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_names_are_bounded() {
        let ask = |names: &[&str]| FleetFactsRequest {
            processes: names.iter().map(|n| (*n).to_owned()).collect(),
            services: Vec::new(),
        };
        assert!(ask(&[]).validate().is_ok());
        assert!(ask(&["sshd", "cron"]).validate().is_ok());
        for bad in ["", "a/b", "x\ny", &"p".repeat(MAX_PROCESS_NAME_LEN + 1)] {
            assert!(ask(&[bad]).validate().is_err(), "{bad:?}");
        }
        let many = vec!["p"; MAX_FLEET_PROCESSES + 1];
        assert!(ask(&many).validate().is_err());
        assert_eq!(ask(&["sshd", "cron"]).audit_summary(), "processes=sshd,cron");
    }

    #[test]
    fn service_names_are_unit_names() {
        let ask = |names: &[&str]| FleetFactsRequest {
            processes: Vec::new(),
            services: names.iter().map(|n| (*n).to_owned()).collect(),
        };
        assert!(ask(&["sshd.service", "getty@tty1.service", "a\\x2db.mount"]).validate().is_ok());
        for bad in ["", "-H", "a b", "a/b", "x;y", &"s".repeat(MAX_SERVICE_NAME_LEN + 1)] {
            assert!(ask(&[bad]).validate().is_err(), "{bad:?}");
        }
        assert!(ask(&vec!["s"; MAX_FLEET_PROCESSES + 1]).validate().is_err());
        assert_eq!(ask(&["cups.service"]).audit_summary(), "services=cups.service");
    }

    #[test]
    fn percentages_follow_df() {
        let mount = MountFacts {
            mount_point: "/".into(),
            file_system: "ext4".into(),
            used_bytes: 75,
            available_bytes: 25,
            inodes: 200,
            inodes_free: 50,
            read_only: false,
        };
        assert_eq!(mount.used_percent(), 75.0);
        assert_eq!(mount.inodes_used_percent(), Some(75.0));
        let empty = MountFacts { used_bytes: 0, available_bytes: 0, inodes: 0, ..mount };
        assert_eq!(empty.used_percent(), 0.0);
        assert_eq!(empty.inodes_used_percent(), None);
    }
}
