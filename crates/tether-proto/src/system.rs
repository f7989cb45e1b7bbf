//! What a machine reports about itself: the `info` report and the process
//! list. Plain data; the agent fills it from the OS, the controller renders
//! it. Field names are also the `--json` schema, so they change only with
//! the protocol version.

use serde::{Deserialize, Serialize};

/// The full `tether info` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub host: HostInfo,
    pub cpu: CpuInfo,
    pub memory: MemoryInfo,
    pub disks: Vec<DiskInfo>,
    pub interfaces: Vec<InterfaceInfo>,
    pub temperatures: Vec<Temperature>,
    pub users: Vec<LoginSession>,
    pub batteries: Vec<Battery>,
}

/// Identity, OS and clock of the machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: String,
    /// Distribution or product name, e.g. "Debian GNU/Linux".
    pub os_name: String,
    /// The OS release, e.g. "12" (empty where the OS has none).
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
    pub uptime_secs: u64,
    /// Boot time, seconds since the Unix epoch.
    pub boot_time_unix: u64,
    /// Why the OS wants a reboot, where it says so (e.g. Debian's
    /// `/var/run/reboot-required`); `None` if no reboot is pending or the OS
    /// does not tell.
    pub pending_reboot: Option<String>,
    /// The agent's software version.
    pub agent_version: String,
    /// The agent's wall clock when it answered, milliseconds since the Unix
    /// epoch, so the controller can show clock skew.
    pub agent_time_unix_ms: u64,
}

/// Processor identity and load, sampled over an interval rather than read
/// at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuInfo {
    pub model: String,
    pub logical: u32,
    pub physical: Option<u32>,
    /// Average usage of all cores over the sampling interval, 0–100.
    pub usage_percent: f32,
    /// Usage of each logical core over the same interval, 0–100.
    pub per_core_percent: Vec<f32>,
    /// How long the usage was sampled, in milliseconds.
    pub sample_ms: u32,
    /// 1, 5 and 15-minute load averages (zero where the OS has none).
    pub load_average: [f64; 3],
    /// Current frequency of the first core, MHz (0 if unknown).
    pub frequency_mhz: u64,
}

/// Memory and swap, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryInfo {
    pub total: u64,
    pub used: u64,
    pub available: u64,
    pub swap_total: u64,
    pub swap_used: u64,
}

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskInfo {
    pub mount_point: String,
    /// The device or source, e.g. "/dev/sda1".
    pub device: String,
    pub file_system: String,
    pub total: u64,
    /// Bytes in use (blocks minus free blocks; root's reserve counts as
    /// free, as `df` has it).
    pub used: u64,
    /// Bytes an unprivileged user can still write.
    pub available: u64,
    pub read_only: bool,
    pub removable: bool,
}

impl DiskInfo {
    /// Share of the filesystem in use, 0–100, as `df` computes Use%: used
    /// against what users can have (used + available), so root's reserve
    /// neither counts as used nor dilutes the figure.
    pub fn used_percent(&self) -> f64 {
        df_used_percent(self.used, self.available)
    }
}

/// `df`'s Use%: `used` against what users can have (`used + available`),
/// 0–100; 0 for a filesystem with no usable space.
pub fn df_used_percent(used: u64, available: u64) -> f64 {
    let usable = used.saturating_add(available);
    if usable == 0 {
        return 0.0;
    }
    used as f64 * 100.0 / usable as f64
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceInfo {
    pub name: String,
    pub mac: String,
    /// Addresses with prefix length, e.g. "192.0.2.2/24".
    pub addresses: Vec<String>,
    /// Whether the link is up (operational state "up", or "unknown" for
    /// interfaces such as loopback that do not report one but carry traffic).
    pub up: bool,
    pub mtu: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
}

/// One temperature sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    pub label: String,
    pub celsius: Option<f32>,
    pub max_celsius: Option<f32>,
    pub critical_celsius: Option<f32>,
}

/// One logged-in user session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSession {
    pub user: String,
    /// Terminal or seat, e.g. "tty1", "pts/0", ":0".
    pub line: String,
    /// Remote host for remote logins, empty for local ones.
    pub host: String,
    pub login_time_unix: u64,
}

/// One battery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Battery {
    pub name: String,
    /// Charge, 0–100, where reported.
    pub percent: Option<f32>,
    /// "Charging", "Discharging", "Full", "Not charging" or "Unknown".
    pub status: String,
}

/// How `ps` sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessSort {
    Cpu,
    Memory,
    Pid,
}

/// One process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub parent: Option<u32>,
    pub name: String,
    pub user: String,
    /// Share of one core over the sampling interval (can exceed 100 for
    /// multi-threaded processes).
    pub cpu_percent: f32,
    /// Resident memory, bytes.
    pub rss: u64,
    /// "running", "sleeping", "disk-sleep" (uninterruptible), "stopped",
    /// "zombie", "idle" or "unknown".
    pub state: String,
    /// Start time, seconds since the Unix epoch.
    pub start_time_unix: u64,
    /// The command line, truncated to [`MAX_CMDLINE`] bytes.
    pub command: String,
}

/// Longest command line sent per process.
pub const MAX_CMDLINE: usize = 1024;

/// Largest number of processes one `ps` reply carries.
pub const MAX_PROCESSES: u32 = 5000;

/// The `ps` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessList {
    /// Processes on the machine before filtering and truncation.
    pub total: u32,
    /// How long CPU usage was sampled, in milliseconds.
    pub sample_ms: u32,
    pub processes: Vec<ProcessInfo>,
}

/// Signals a technician may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KillSignal {
    /// Ask the process to end (SIGTERM).
    Term,
    /// End it now (SIGKILL).
    Kill,
}

impl KillSignal {
    pub const fn as_str(self) -> &'static str {
        match self {
            KillSignal::Term => "TERM",
            KillSignal::Kill => "KILL",
        }
    }
}

/// What happened to a process a technician signalled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillOutcome {
    pub pid: u32,
    pub name: String,
    pub signal: KillSignal,
    /// Whether the process was gone when the agent stopped waiting.
    pub exited: bool,
}
