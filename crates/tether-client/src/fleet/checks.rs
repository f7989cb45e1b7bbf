//! The check set: which facts are judged, against which thresholds, and
//! how one host's facts become check results.
//!
//! Every section is optional; what a file leaves out keeps its default
//! (`CheckSet::default()`, documented on each field). A section with
//! `enabled = false` is not judged.
//!
//! ```toml
//! deadline_secs = 5.0        # per host and attempt
//! retries = 1                # once more after a timeout or no answer
//! [load]
//! warn = 2.0                 # 1-minute load per core
//! [disk]
//! warn_percent = 90.0
//! ignore = ["/boot/efi"]
//! [processes]
//! required = ["sshd"]
//! [services]                 # systemd units that must be active
//! required = ["ssh.service"]
//! [net]                      # from the agent's side; none by default
//! tcp = ["files.lan:445"]
//! urls = ["https://intranet.lan/"]
//! [doctor]
//! enabled = true             # doctor's findings; a 1 s watch window
//! ```

use serde::{Deserialize, Serialize};
use tether_proto::fleet::FleetFacts;

use crate::exit::CheckStatus;
use crate::fleet::deep::{DoctorCheck, NetTargets};

/// A warn/crit pair where higher is worse.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Whether this check runs.
    pub enabled: bool,
    /// WARNING at or above.
    pub warn: f64,
    /// CRITICAL at or above.
    pub crit: f64,
}

impl Limits {
    const fn new(warn: f64, crit: f64) -> Limits {
        Limits { enabled: true, warn, crit }
    }

    /// The status of `value` against these limits.
    pub fn judge(&self, value: f64) -> CheckStatus {
        if value >= self.crit {
            CheckStatus::Critical
        } else if value >= self.warn {
            CheckStatus::Warning
        } else {
            CheckStatus::Ok
        }
    }
}

/// Filesystem space and inode limits, in percent used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskLimits {
    /// Whether space and inodes are checked.
    pub enabled: bool,
    /// Space used: WARNING at or above (default 85).
    pub warn_percent: f64,
    /// Space used: CRITICAL at or above (default 95).
    pub crit_percent: f64,
    /// Inodes used: WARNING at or above (default 85).
    pub inodes_warn_percent: f64,
    /// Inodes used: CRITICAL at or above (default 95).
    pub inodes_crit_percent: f64,
    /// Mount points not judged (read-only mounts never are: they are full
    /// by design).
    pub ignore: Vec<String>,
}

/// Required processes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessCheck {
    /// Names that must run (exact process name); CRITICAL when one does
    /// not. Default: none.
    pub required: Vec<String>,
}

/// Required systemd services.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceCheck {
    /// Units that must be active (`ssh.service`): CRITICAL when one is
    /// inactive or failed, WARNING while it is starting, stopping or
    /// reloading, UNKNOWN when the agent cannot ask systemd. Default: none.
    pub required: Vec<String>,
}

/// The agent's software version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionCheck {
    /// Oldest acceptable agent version ("0.1.0"); older is WARNING. An
    /// agent too old to answer the fleet request is CRITICAL whatever
    /// this says. Default: no minimum.
    pub min_agent: Option<String>,
}

/// What a fleet run checks and how it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSet {
    /// Seconds one attempt at one host may take, connecting included
    /// (default 5).
    pub deadline_secs: f64,
    /// Further attempts after a host did not answer or timed out
    /// (default 1).
    pub retries: u32,
    /// Handshake time in milliseconds (default warn 500, crit 2000).
    pub handshake_ms: Limits,
    /// Agent version.
    pub version: VersionCheck,
    /// Days until the agent certificate expires; fewer is worse (default
    /// warn below 30, crit below 7).
    pub cert_days: Limits,
    /// 1-minute load average per logical CPU (default warn 1.5, crit 3).
    pub load: Limits,
    /// Memory in use, percent of total, counting reclaimable cache as
    /// free (default warn 90, crit 97).
    pub memory_percent: Limits,
    /// Filesystems.
    pub disk: DiskLimits,
    /// Clock offset from this machine, milliseconds either way (default
    /// warn 5000, crit 60000: where TLS and Kerberos start to fail).
    pub clock_skew_ms: Limits,
    /// Processes that must run.
    pub processes: ProcessCheck,
    /// systemd services that must be active.
    pub services: ServiceCheck,
    /// Network targets checked from the agent (`net`); none by default.
    pub net: NetTargets,
    /// `doctor`'s findings; off by default.
    pub doctor: DoctorCheck,
}

impl Default for CheckSet {
    fn default() -> Self {
        CheckSet {
            deadline_secs: 5.0,
            retries: 1,
            handshake_ms: Limits::new(500.0, 2000.0),
            version: VersionCheck::default(),
            cert_days: Limits::new(30.0, 7.0),
            load: Limits::new(1.5, 3.0),
            memory_percent: Limits::new(90.0, 97.0),
            disk: DiskLimits {
                enabled: true,
                warn_percent: 85.0,
                crit_percent: 95.0,
                inodes_warn_percent: 85.0,
                inodes_crit_percent: 95.0,
                ignore: Vec::new(),
            },
            clock_skew_ms: Limits::new(
                crate::clock::SKEW_WARN_MS as f64,
                crate::clock::SKEW_CRIT_MS as f64,
            ),
            processes: ProcessCheck::default(),
            services: ServiceCheck::default(),
            net: NetTargets::default(),
            doctor: DoctorCheck::default(),
        }
    }
}

impl CheckSet {
    /// Parses a checks file over the defaults: what the file leaves out,
    /// section by section and key by key, keeps its default. The error is
    /// TOML's or the validation's message.
    pub fn parse(text: &str) -> Result<CheckSet, String> {
        let user: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        let mut merged = toml::Table::try_from(CheckSet::default()).map_err(|e| e.to_string())?;
        merge(&mut merged, user);
        let set: CheckSet =
            merged.try_into().map_err(|e: toml::de::Error| e.message().to_owned())?;
        set.validate()?;
        Ok(set)
    }

    fn validate(&self) -> Result<(), String> {
        if !(self.deadline_secs > 0.0 && self.deadline_secs <= 300.0) {
            return Err("deadline_secs must be above 0 and at most 300".into());
        }
        if self.retries > 5 {
            return Err("retries must be at most 5".into());
        }
        if self.cert_days.warn < self.cert_days.crit {
            return Err("cert_days: warn must be at least crit (fewer days is worse)".into());
        }
        for (name, l) in [
            ("handshake_ms", self.handshake_ms),
            ("load", self.load),
            ("memory_percent", self.memory_percent),
            ("clock_skew_ms", self.clock_skew_ms),
        ] {
            if l.warn > l.crit {
                return Err(format!("{name}: warn must not be above crit"));
            }
        }
        if let Some(net) = self.net.request() {
            net.validate().map_err(|e| format!("net: {e}"))?;
        }
        self.request().validate().map_err(|e| format!("processes or services: {e}"))
    }

    /// The fleet request this check set needs.
    pub fn request(&self) -> tether_proto::fleet::FleetFactsRequest {
        tether_proto::fleet::FleetFactsRequest {
            processes: self.processes.required.clone(),
            services: self.services.required.clone(),
        }
    }
}

fn merge(base: &mut toml::Table, user: toml::Table) {
    for (key, value) in user {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => merge(b, u),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// One check's result on one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The check's name, with its subject where it has one:
    /// `reachability`, `handshake`, `version`, `cert_expiry`, `load`,
    /// `memory`, `disk:/home`, `inodes:/home`, `clock_skew`,
    /// `process:sshd`, `service:ssh.service`.
    pub check: String,
    /// Its status.
    pub status: CheckStatus,
    /// The measured value, in `unit`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The value's unit: `seconds`, `days`, `ratio`, `percent`, `count`.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub unit: &'static str,
    /// One line for people.
    pub message: String,
}

impl CheckResult {
    fn new(
        check: impl Into<String>,
        status: CheckStatus,
        value: Option<f64>,
        unit: &'static str,
        message: String,
    ) -> CheckResult {
        CheckResult { check: check.into(), status, value, unit, message }
    }

    /// A check that could not run: UNKNOWN, never OK.
    pub fn unknown(check: impl Into<String>, why: impl Into<String>) -> CheckResult {
        CheckResult::new(check, CheckStatus::Unknown, None, "", why.into())
    }
}

/// Judges the handshake time.
pub fn judge_handshake(set: &CheckSet, seconds: f64) -> Option<CheckResult> {
    let l = set.handshake_ms;
    l.enabled.then(|| {
        let ms = seconds * 1000.0;
        CheckResult::new("handshake", l.judge(ms), Some(seconds), "seconds", format!("{ms:.0} ms"))
    })
}

/// Judges one host's facts. `clock_offset_ms` is the agent's clock minus
/// ours; `now_unix` is this machine's clock, in seconds.
pub fn judge_facts(
    set: &CheckSet,
    facts: &FleetFacts,
    clock_offset_ms: i64,
    now_unix: i64,
) -> Vec<CheckResult> {
    let mut out = vec![judge_version(set, &facts.agent_software)];
    let l = set.cert_days;
    if l.enabled {
        out.push(match facts.cert_not_after_unix {
            Some(not_after) => {
                let days = (not_after - now_unix) as f64 / 86_400.0;
                // Fewer days is worse.
                let status = match days {
                    d if d < l.crit => CheckStatus::Critical,
                    d if d < l.warn => CheckStatus::Warning,
                    _ => CheckStatus::Ok,
                };
                CheckResult::new(
                    "cert_expiry",
                    status,
                    Some(days),
                    "days",
                    format!("{days:.1} days left"),
                )
            }
            None => CheckResult::unknown("cert_expiry", "the agent cannot read its certificate"),
        });
    }
    if set.load.enabled {
        let per_core = facts.load_average[0] / f64::from(facts.logical_cpus.max(1));
        let message = format!("{per_core:.2} per core ({} CPUs)", facts.logical_cpus);
        out.push(CheckResult::new(
            "load",
            set.load.judge(per_core),
            Some(per_core),
            "ratio",
            message,
        ));
    }
    if set.memory_percent.enabled {
        let m = &facts.memory;
        out.push(if m.total == 0 {
            CheckResult::unknown("memory", "the agent reports no memory total")
        } else {
            let used = m.total.saturating_sub(m.available) as f64 * 100.0 / m.total as f64;
            let status = set.memory_percent.judge(used);
            CheckResult::new("memory", status, Some(used), "percent", format!("{used:.1}% in use"))
        });
    }
    if set.disk.enabled {
        judge_disks(&set.disk, facts, &mut out);
    }
    if set.clock_skew_ms.enabled {
        let skew = clock_offset_ms.unsigned_abs() as f64;
        out.push(CheckResult::new(
            "clock_skew",
            set.clock_skew_ms.judge(skew),
            Some(clock_offset_ms as f64 / 1000.0),
            "seconds",
            crate::clock::describe_offset(clock_offset_ms),
        ));
    }
    for name in &set.processes.required {
        let count = facts.processes.iter().find(|p| &p.name == name).map(|p| p.count);
        out.push(match count {
            None => CheckResult::unknown(format!("process:{name}"), "the agent did not say"),
            Some(0) => CheckResult::new(
                format!("process:{name}"),
                CheckStatus::Critical,
                Some(0.0),
                "count",
                "not running".into(),
            ),
            Some(n) => CheckResult::new(
                format!("process:{name}"),
                CheckStatus::Ok,
                Some(f64::from(n)),
                "count",
                format!("{n} running"),
            ),
        });
    }
    judge_services(&set.services, facts, &mut out);
    out
}

/// One result per required service: `active` is OK, a unit on its way
/// (`activating`, `deactivating`, `reloading`) WARNING, anything else
/// (`inactive`, `failed`, a unit that does not exist) CRITICAL; UNKNOWN
/// when the agent could not ask systemd.
fn judge_services(check: &ServiceCheck, facts: &FleetFacts, out: &mut Vec<CheckResult>) {
    for name in &check.required {
        let label = format!("service:{name}");
        let state = facts.services.iter().find(|s| &s.name == name).map(|s| &s.active_state);
        out.push(match (state, &facts.services_error) {
            (_, Some(why)) => CheckResult::unknown(label, format!("cannot ask systemd: {why}")),
            (None, None) => CheckResult::unknown(label, "the agent did not say"),
            (Some(state), None) => {
                let status = match state.as_str() {
                    "active" => CheckStatus::Ok,
                    "activating" | "deactivating" | "reloading" => CheckStatus::Warning,
                    _ => CheckStatus::Critical,
                };
                CheckResult::new(label, status, None, "", state.clone())
            }
        });
    }
}

fn judge_disks(limits: &DiskLimits, facts: &FleetFacts, out: &mut Vec<CheckResult>) {
    let space = Limits::new(limits.warn_percent, limits.crit_percent);
    let inodes = Limits::new(limits.inodes_warn_percent, limits.inodes_crit_percent);
    let judged =
        facts.mounts.iter().filter(|m| !m.read_only && !limits.ignore.contains(&m.mount_point));
    for mount in judged {
        let used = mount.used_percent();
        out.push(CheckResult::new(
            format!("disk:{}", mount.mount_point),
            space.judge(used),
            Some(used),
            "percent",
            format!("{used:.1}% used, {} MiB free", mount.available_bytes >> 20),
        ));
        if let Some(used) = mount.inodes_used_percent() {
            out.push(CheckResult::new(
                format!("inodes:{}", mount.mount_point),
                inodes.judge(used),
                Some(used),
                "percent",
                format!("{used:.1}% of inodes used"),
            ));
        }
    }
}

/// The version check: WARNING below `min_agent`; OK otherwise.
pub fn judge_version(set: &CheckSet, software: &str) -> CheckResult {
    let version = software.rsplit(' ').next().unwrap_or(software);
    let status = match &set.version.min_agent {
        Some(min) if version_less(version, min) => CheckStatus::Warning,
        _ => CheckStatus::Ok,
    };
    let message = match (&set.version.min_agent, status) {
        (Some(min), CheckStatus::Warning) => format!("{software} is older than {min}"),
        _ => software.to_owned(),
    };
    CheckResult::new("version", status, None, "", message)
}

/// Dotted numeric versions compared part by part ("0.10.0" > "0.9.1");
/// a part that is not a number compares as 0.
fn version_less(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+']).take(3).map(|p| p.parse().unwrap_or(0)).collect()
    };
    parts(a) < parts(b)
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
