//! Collecting the facts the judges need: memory, filesystems and inodes,
//! swap activity and process states over a one-second window, failed
//! services, crash records, and the network checks.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sysinfo::{MemoryRefreshKind, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};
use tether_proto::doctor::{DoctorReport, DoctorRequest, Finding, Severity, rank};
use tether_proto::system::MemoryInfo;

use super::{HogTracker, ProcessFact, Thresholds};
use crate::net::NetSettings;
use crate::processes::state_name;

/// How long process states and swap counters are watched. A process in
/// uninterruptible sleep at both ends of the window is stuck, not just
/// doing I/O.
pub const WATCH_WINDOW: Duration = Duration::from_secs(1);

/// How long an external tool (systemctl, coredumpctl) may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(5);

/// What the agent's configuration says about doctor.
#[derive(Debug, Clone, Default)]
pub struct DoctorSettings {
    pub thresholds: Thresholds,
    pub net: NetSettings,
}

/// Samples process states and CPU use; the agent keeps one alive between
/// samples so CPU use is measured over the interval between them.
#[derive(Debug)]
pub struct ProcessSampler {
    system: System,
}

impl ProcessSampler {
    pub fn new() -> Result<ProcessSampler, crate::DiagError> {
        let system = System::new().map_err(|e| crate::DiagError::System(e.to_string()))?;
        Ok(ProcessSampler { system })
    }

    /// Refreshes and returns every process (threads left out).
    pub fn sample(&mut self) -> Vec<ProcessFact> {
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().with_cpu(),
        );
        self.system
            .processes()
            .values()
            .filter(|p| p.thread_kind().is_none())
            .map(|p| ProcessFact {
                pid: p.pid().as_u32(),
                parent: p.parent().map(|pp| pp.as_u32()),
                name: p.name().to_string_lossy().into_owned(),
                state: state_name(p.status()).to_owned(),
                cpu_percent: p.cpu_usage(),
            })
            .collect()
    }
}

/// Runs every check and returns the findings, worst first.
pub async fn gather(
    request: &DoctorRequest,
    settings: &DoctorSettings,
    hogs: &Mutex<HogTracker>,
) -> DoctorReport {
    let thresholds = settings.thresholds.clone();
    let local = tokio::task::spawn_blocking(move || local_findings(&thresholds));
    let net = match &request.net {
        Some(net) => Some(crate::net::run(net, &settings.net).await),
        None => None,
    };
    let mut findings = local.await.unwrap_or_else(|e| {
        vec![Finding {
            severity: Severity::Unknown,
            check: "local".into(),
            summary: format!("the local checks failed: {e}"),
            next_step: "see the agent's log".into(),
        }]
    });
    // A poisoned lock only means the sampler panicked; its data is still usable.
    let hog_findings = hogs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .findings(Instant::now(), settings.thresholds.cpu_hog_after);
    if hog_findings.is_empty() {
        findings.push(Finding {
            severity: Severity::Ok,
            check: "cpu".into(),
            summary: format!(
                "no process has used over {:.0}% CPU for {} s",
                settings.thresholds.cpu_hog_percent,
                settings.thresholds.cpu_hog_after.as_secs()
            ),
            next_step: String::new(),
        });
    }
    findings.extend(hog_findings);
    if let Some(net) = &net {
        findings.push(match (&net.verdict.failing_layer, net.verdict.summary.as_str()) {
            (Some(_), why) => Finding {
                severity: Severity::Crit,
                check: "network".into(),
                summary: why.to_owned(),
                next_step: "run tether net for the full report".into(),
            },
            (None, summary) => Finding {
                severity: Severity::Ok,
                check: "network".into(),
                summary: summary.to_owned(),
                next_step: String::new(),
            },
        });
    }
    rank(&mut findings);
    DoctorReport { findings, net, agent_time_unix_ms: crate::system::unix_millis_now() }
}

fn local_findings(t: &Thresholds) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut sampler = ProcessSampler::new().ok();
    let first = sampler.as_mut().map(ProcessSampler::sample).unwrap_or_default();
    let swap_before = swap_pages();
    let start = Instant::now();
    std::thread::sleep(WATCH_WINDOW);
    let second = sampler.as_mut().map(ProcessSampler::sample).unwrap_or_default();
    let swap_rate = match (swap_before, swap_pages()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / start.elapsed().as_secs_f64()),
        _ => None,
    };

    let memory = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::everything()),
    )
    .map(|s| MemoryInfo {
        total: s.total_memory(),
        used: s.used_memory(),
        available: s.available_memory(),
        swap_total: s.total_swap(),
        swap_used: s.used_swap(),
    });
    match memory {
        Ok(m) => findings.extend(super::judge_memory(&m, swap_rate, t)),
        Err(e) => findings.push(unknown("memory", &e.to_string())),
    }
    let disks = crate::system::disk_list();
    let inodes: HashMap<String, f64> = disks
        .iter()
        .filter(|d| !d.read_only)
        .filter_map(|d| inode_use(&d.mount_point).map(|u| (d.mount_point.clone(), u)))
        .collect();
    findings.extend(super::judge_disks(&disks, &inodes, t));
    if second.is_empty() {
        findings.push(unknown("processes", "the process table could not be read"));
    } else {
        findings.extend(super::judge_processes(&first, &second, t));
    }
    findings.extend(super::judge_reboot(crate::host::pending_reboot().as_deref()));
    if let Some(f) = load_finding() {
        findings.push(f);
    }
    findings.extend(failed_units());
    findings.push(crashes());
    findings
}

fn unknown(check: &str, why: &str) -> Finding {
    Finding {
        severity: Severity::Unknown,
        check: check.into(),
        summary: why.into(),
        next_step: "see the agent's log".into(),
    }
}

/// Pages swapped in plus out since boot (`/proc/vmstat`).
fn swap_pages() -> Option<u64> {
    let vmstat = std::fs::read_to_string("/proc/vmstat").ok()?;
    let get =
        |key: &str| vmstat.lines().find_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok());
    Some(get("pswpin ")? + get("pswpout ")?)
}

/// Share of inodes in use on the filesystem at `mount`, if it has inodes.
fn inode_use(mount: &str) -> Option<f64> {
    crate::statfs::usage(mount)?.inodes_used_percent
}

/// Load well above the core count means work is queueing.
fn load_finding() -> Option<Finding> {
    let load = System::load_average().ok()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (load.five > 2.0 * cores).then(|| Finding {
        severity: Severity::Warn,
        check: "load".into(),
        summary: format!(
            "load average {:.1} over 5 min on {cores} cores: work is queueing",
            load.five
        ),
        next_step: "see what is busy (tether ps --sort cpu)".into(),
    })
}

/// Runs a tool with a timeout; `None` if it is missing or fails.
fn tool_output(program: &str, args: &[&str]) -> Option<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + TOOL_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) => return None,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    Some(out)
}

/// Failed systemd units, where systemd runs the machine.
fn failed_units() -> Option<Finding> {
    if !Path::new("/run/systemd/system").is_dir() {
        return None;
    }
    Some(
        match tool_output(
            "systemctl",
            &["list-units", "--state=failed", "--no-legend", "--plain", "--no-pager"],
        ) {
            Some(out) => super::judge_failed_units(&out),
            None => unknown("services", "systemctl did not answer"),
        },
    )
}

/// Crashes recorded by systemd-coredump, else by apport (/var/crash).
fn crashes() -> Finding {
    if let Some(out) =
        tool_output("coredumpctl", &["list", "--since=-24h", "--no-legend", "--no-pager", "-q"])
    {
        return super::judge_crashes(&super::parse_coredumps(&out), "systemd-coredump");
    }
    let day_ago = std::time::SystemTime::now() - Duration::from_secs(24 * 3600);
    match std::fs::read_dir("/var/crash") {
        Ok(entries) => {
            let names: Vec<String> = entries
                .flatten()
                .filter(|e| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t > day_ago))
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".crash").map(crash_program))
                .collect();
            super::judge_crashes(&names, "/var/crash")
        }
        Err(_) => Finding {
            severity: Severity::Ok,
            check: "crashes".into(),
            summary: "no crash collector on this machine (systemd-coredump or apport); crashes are not recorded".into(),
            next_step: String::new(),
        },
    }
}

/// `_usr_bin_foo.1000` → `foo`.
pub(super) fn crash_program(stem: &str) -> String {
    let path = stem.rsplit_once('.').map_or(stem, |(p, _)| p);
    path.rsplit('_').next().unwrap_or(path).to_owned()
}
