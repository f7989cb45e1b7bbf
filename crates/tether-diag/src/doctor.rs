//! `doctor`: the machine's health signals turned into findings, each with a
//! severity and a next step. The judging functions are pure (facts in,
//! findings out) and tested on fixtures; [`gather`] collects the facts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tether_proto::doctor::{Finding, Severity};
use tether_proto::system::{DiskInfo, MemoryInfo};

/// Limits above which findings are raised. Configurable per agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    pub disk_warn_percent: f64,
    pub disk_crit_percent: f64,
    /// Memory available below this share of RAM is a warning.
    pub memory_warn_percent: f64,
    pub memory_crit_percent: f64,
    /// Pages swapped in or out per second that make a swap storm.
    pub swap_storm_pages_per_sec: f64,
    /// Zombies at or above this count are a warning.
    pub zombie_warn: usize,
    /// A process above this CPU share…
    pub cpu_hog_percent: f32,
    /// …for at least this long is a hog.
    pub cpu_hog_after: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            disk_warn_percent: 90.0,
            disk_crit_percent: 95.0,
            memory_warn_percent: 10.0,
            memory_crit_percent: 5.0,
            swap_storm_pages_per_sec: 1000.0,
            zombie_warn: 10,
            cpu_hog_percent: 90.0,
            cpu_hog_after: Duration::from_secs(60),
        }
    }
}

fn finding(severity: Severity, check: &str, summary: String, next_step: &str) -> Finding {
    Finding { severity, check: check.to_owned(), summary, next_step: next_step.to_owned() }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Filesystems nearly full (space or inodes). Read-only and removable media
/// are left out: they are full by design or not the machine's own.
pub fn judge_disks(
    disks: &[DiskInfo],
    inodes: &HashMap<String, f64>,
    t: &Thresholds,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let writable: Vec<&DiskInfo> =
        disks.iter().filter(|d| !d.read_only && !d.removable && d.total > 0).collect();
    for d in &writable {
        let used = d.used_percent();
        let severity = if used >= t.disk_crit_percent {
            Severity::Crit
        } else if used >= t.disk_warn_percent {
            Severity::Warn
        } else {
            continue;
        };
        out.push(finding(
            severity,
            "disk",
            format!("{} is {used:.0}% full ({} free of {})", d.mount_point, gib(d.available), gib(d.total)),
            "free space: empty the trash and temp files, clear caches and old logs, or move data off",
        ));
    }
    for (mount, used) in inodes {
        if *used >= t.disk_warn_percent {
            let severity =
                if *used >= t.disk_crit_percent { Severity::Crit } else { Severity::Warn };
            out.push(finding(
                severity,
                "inodes",
                format!("{mount} has used {used:.0}% of its inodes"),
                "find directories with huge numbers of small files (caches, mail spools) and clean them",
            ));
        }
    }
    if out.is_empty() {
        out.push(finding(
            Severity::Ok,
            "disk",
            format!(
                "{} filesystem{} below {:.0}% full",
                writable.len(),
                if writable.len() == 1 { "" } else { "s" },
                t.disk_warn_percent
            ),
            "",
        ));
    }
    out
}

/// Memory pressure and swap activity (`swap_pages_per_sec` from two
/// readings of the kernel's swap counters).
pub fn judge_memory(
    m: &MemoryInfo,
    swap_pages_per_sec: Option<f64>,
    t: &Thresholds,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let available = if m.total == 0 { 100.0 } else { m.available as f64 * 100.0 / m.total as f64 };
    let severity = if available < t.memory_crit_percent {
        Severity::Crit
    } else if available < t.memory_warn_percent {
        Severity::Warn
    } else {
        Severity::Ok
    };
    out.push(finding(
        severity,
        "memory",
        format!("{} of {} available ({available:.0}%)", gib(m.available), gib(m.total)),
        if severity == Severity::Ok {
            ""
        } else {
            "close or restart the largest programs (tether ps --sort mem)"
        },
    ));
    if let Some(rate) = swap_pages_per_sec {
        if rate >= t.swap_storm_pages_per_sec {
            out.push(finding(
                Severity::Crit,
                "swap",
                format!("swap storm: {rate:.0} pages/s swapped in or out; the machine will feel frozen"),
                "find what uses the memory (tether ps --sort mem) and end it; add RAM if this recurs",
            ));
        } else if rate >= t.swap_storm_pages_per_sec / 10.0 {
            out.push(finding(
                Severity::Warn,
                "swap",
                format!("swapping {rate:.0} pages/s"),
                "watch memory use (tether ps --sort mem)",
            ));
        }
    }
    out
}

/// One process as the health checks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessFact {
    pub pid: u32,
    pub parent: Option<u32>,
    pub name: String,
    pub state: String,
    pub cpu_percent: f32,
}

/// Processes stuck in uninterruptible sleep in both samples, and zombies.
pub fn judge_processes(
    first: &[ProcessFact],
    second: &[ProcessFact],
    t: &Thresholds,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let stuck: Vec<&ProcessFact> = second
        .iter()
        .filter(|p| p.state == "disk-sleep")
        .filter(|p| first.iter().any(|q| q.pid == p.pid && q.state == "disk-sleep"))
        .collect();
    if !stuck.is_empty() {
        out.push(finding(
            Severity::Warn,
            "stuck",
            format!("{} stuck in uninterruptible sleep (usually waiting on a disk or network mount)", names(&stuck)),
            "check for a hung network share or failing disk (dmesg); these processes cannot be killed until it recovers",
        ));
    }
    let zombies: Vec<&ProcessFact> = second.iter().filter(|p| p.state == "zombie").collect();
    if zombies.len() >= t.zombie_warn.max(1) {
        let mut parents: HashMap<u32, usize> = HashMap::new();
        for z in &zombies {
            *parents.entry(z.parent.unwrap_or(0)).or_default() += 1;
        }
        let mut ranked: Vec<(u32, usize)> = parents.into_iter().collect();
        ranked.sort_by_key(|(pid, n)| (std::cmp::Reverse(*n), *pid));
        let owners: Vec<String> = ranked
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, (pid, n))| {
                let name = second.iter().find(|p| p.pid == *pid).map_or("?", |p| p.name.as_str());
                let verb =
                    if i == 0 { if *n == 1 { "belongs to" } else { "belong to" } } else { "to" };
                format!("{n} {verb} {name} (pid {pid})")
            })
            .collect();
        out.push(finding(
            Severity::Warn,
            "zombies",
            format!("{} zombie processes; {}", zombies.len(), owners.join(", ")),
            "the parent does not reap its children: restart it",
        ));
    }
    if out.is_empty() {
        out.push(finding(
            Severity::Ok,
            "processes",
            format!("{} processes, none stuck, {} zombies", second.len(), zombies.len()),
            "",
        ));
    }
    out
}

fn names(list: &[&ProcessFact]) -> String {
    let shown: Vec<String> =
        list.iter().take(5).map(|p| format!("{} (pid {})", p.name, p.pid)).collect();
    match list.len() {
        n if n > 5 => format!("{} and {} more", shown.join(", "), n - 5),
        _ => shown.join(", "),
    }
}

/// Remembers since when each process has been above the CPU threshold.
/// Fed by the agent's background sampler; time is passed in, so tests run
/// on a virtual clock.
#[derive(Debug, Default)]
pub struct HogTracker {
    since: HashMap<u32, (Instant, String, f32)>,
}

impl HogTracker {
    /// Records one sample taken at `now`.
    pub fn observe(&mut self, now: Instant, processes: &[ProcessFact], threshold_percent: f32) {
        let hot: HashMap<u32, &ProcessFact> = processes
            .iter()
            .filter(|p| p.cpu_percent >= threshold_percent)
            .map(|p| (p.pid, p))
            .collect();
        self.since.retain(|pid, _| hot.contains_key(pid));
        for (pid, p) in hot {
            let entry = self.since.entry(pid).or_insert((now, p.name.clone(), p.cpu_percent));
            entry.2 = p.cpu_percent;
        }
    }

    /// Findings for processes hot for at least `after` as of `now`.
    pub fn findings(&self, now: Instant, after: Duration) -> Vec<Finding> {
        let mut hogs: Vec<(&u32, &(Instant, String, f32))> = self
            .since
            .iter()
            .filter(|(_, (since, _, _))| now.duration_since(*since) >= after)
            .collect();
        hogs.sort_by_key(|(pid, _)| **pid);
        hogs.into_iter()
            .map(|(pid, (since, name, cpu))| {
                finding(
                    Severity::Warn,
                    "cpu",
                    format!("{name} (pid {pid}) has used {cpu:.0}% CPU for {} s", now.duration_since(*since).as_secs()),
                    "if it is not expected to be busy, it may be stuck in a loop: tether kill it (tier 2)",
                )
            })
            .collect()
    }
}

/// A pending reboot, as a finding.
pub fn judge_reboot(pending: Option<&str>) -> Option<Finding> {
    pending.map(|why| {
        finding(
            Severity::Warn,
            "reboot",
            format!("reboot pending: {why}"),
            "schedule a reboot with the user",
        )
    })
}

/// Failed systemd units, from `systemctl list-units --failed --plain`.
pub fn judge_failed_units(output: &str) -> Finding {
    let units: Vec<&str> = output
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|u| u.contains('.'))
        .collect();
    if units.is_empty() {
        return finding(Severity::Ok, "services", "no failed system services".into(), "");
    }
    finding(
        Severity::Warn,
        "services",
        format!(
            "{} failed system service{}: {}",
            units.len(),
            if units.len() == 1 { "" } else { "s" },
            units.join(", ")
        ),
        "look at why with journalctl -u UNIT, then restart it",
    )
}

/// Crash records of the last day (coredumpctl list output, or crash files).
pub fn judge_crashes(crashed: &[String], source: &str) -> Finding {
    if crashed.is_empty() {
        return finding(
            Severity::Ok,
            "crashes",
            format!("no application crashes in the last 24 h ({source})"),
            "",
        );
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for name in crashed {
        match counts.iter_mut().find(|(n, _)| n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name.clone(), 1)),
        }
    }
    let list: Vec<String> =
        counts.iter().map(|(n, c)| if *c > 1 { format!("{n} ×{c}") } else { n.clone() }).collect();
    finding(
        Severity::Warn,
        "crashes",
        format!(
            "{} application crash{} in the last 24 h: {}",
            crashed.len(),
            if crashed.len() == 1 { "" } else { "es" },
            list.join(", ")
        ),
        "a program that keeps crashing needs an update or a reset of its settings",
    )
}

/// Parses `coredumpctl list --no-legend` lines into executable names.
pub fn parse_coredumps(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // TIME (4 columns: day date time zone) PID UID GID SIG COREFILE EXE …
            cols.iter()
                .find(|c| c.starts_with('/'))
                .map(|exe| exe.rsplit('/').next().unwrap_or(exe).to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests;

pub use gather::{DoctorSettings, ProcessSampler, gather};

mod gather;
