//! The agent's TOML configuration, parsed and validated before any socket
//! is opened.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use std::time::Duration;

use tether_diag::doctor::Thresholds;
use tether_diag::net::NetSettings;
use tether_proto::net::NetCheckRequest;
use tether_proto::{Policy, RequestKind, Tier};
use tether_restore::{BackendConfig, StoreConfig};

use crate::consent::{ConsentSettings, RawConsent};
use crate::limits::{Limits, RawLimits};
use crate::screen::{RawScreen, ScreenSettings};
use crate::setting::SettingError;

/// Where the agent looks for its configuration by default.
#[cfg(not(windows))]
pub const DEFAULT_CONFIG_PATH: &str = "/etc/tether/agent.toml";
/// On Windows the agent's files live under `%ProgramData%\Tether`.
#[cfg(windows)]
pub const DEFAULT_CONFIG_PATH: &str = r"C:\ProgramData\Tether\agent.toml";

/// The port agents listen on unless configured otherwise (UDP).
pub const DEFAULT_PORT: u16 = 7433;

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("invalid config {path}: {setting}")]
    Setting {
        path: PathBuf,
        #[source]
        setting: SettingError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Option<String>,
    listen: Option<String>,
    tls: RawTls,
    #[serde(default)]
    policy: RawPolicy,
    audit: RawAudit,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    net: RawNet,
    #[serde(default)]
    doctor: RawDoctor,
    restore: Option<RawRestore>,
    #[serde(default)]
    screen: RawScreen,
    #[serde(default)]
    consent: RawConsent,
    control_socket: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestore {
    backend: Option<String>,
    snapper_config: Option<String>,
    snapper_program: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    #[serde(default)]
    paths: Vec<PathBuf>,
    #[serde(default)]
    exclude: Vec<String>,
    keep_count: Option<usize>,
    max_store_mib: Option<u64>,
    schedule_hours: Option<f64>,
    stall_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDoctor {
    disk_warn_percent: Option<f64>,
    disk_crit_percent: Option<f64>,
    memory_warn_percent: Option<f64>,
    memory_crit_percent: Option<f64>,
    swap_storm_pages_per_sec: Option<f64>,
    zombie_warn: Option<usize>,
    cpu_hog_percent: Option<f32>,
    cpu_hog_secs: Option<u64>,
    sample_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNet {
    resolvers: Option<Vec<String>>,
    dns_names: Option<Vec<String>>,
    #[serde(default)]
    tcp: Vec<String>,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    ping: Vec<String>,
    cert_warn_days: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    crl: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    min_tier: Option<u8>,
    allow_fleet: Option<bool>,
    #[serde(default)]
    require: BTreeMap<String, u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    path: PathBuf,
}

/// A validated agent configuration. Relative paths in the file are resolved
/// against the file's directory.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub source: PathBuf,
    pub name: String,
    pub listen: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    pub crl: Option<PathBuf>,
    pub policy: Policy,
    pub audit_path: PathBuf,
    /// What peers may hold: sessions, handshakes, views, idle time.
    pub limits: Limits,
    /// Network check settings (resolvers to check, the default set).
    pub net: NetSettings,
    /// Where `doctor` draws the line.
    pub thresholds: Thresholds,
    /// How often the agent samples CPU use per process, so `doctor` can
    /// tell a process that has pegged a CPU for minutes from a brief burst.
    pub sample_interval: Duration,
    /// `None` when restore points are not configured.
    pub restore: Option<RestoreSettings>,
    /// The display the screen is captured from and input goes to.
    pub screen: ScreenSettings,
    /// The user's say over view and control.
    pub consent: ConsentSettings,
    /// The Unix socket (Windows: named pipe) `tether-agent sessions` talks
    /// to (root or Administrators only).
    pub control_socket: PathBuf,
}

/// Where the local administration socket lives unless configured otherwise.
#[cfg(not(windows))]
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/tether/agent.sock";
/// On Windows the administration channel is a local named pipe.
#[cfg(windows)]
pub const DEFAULT_CONTROL_SOCKET: &str = r"\\.\pipe\tether-agent";

/// Default spacing of the background CPU samples: often enough to measure
/// a one-minute hog with six samples, rare enough to cost nothing (one
/// process-table read, a few milliseconds).
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(10);

/// Where the packaged configuration keeps the audit log.
#[cfg(not(windows))]
pub const DEFAULT_AUDIT_PATH: &str = "/var/log/tether/audit.jsonl";
/// On Windows under `%ProgramData%\Tether` (private), never `C:\var\…`,
/// which any user may create first.
#[cfg(windows)]
pub const DEFAULT_AUDIT_PATH: &str = r"C:\ProgramData\Tether\audit\audit.jsonl";

/// Where restore points live unless configured otherwise.
#[cfg(not(windows))]
pub const DEFAULT_RESTORE_DIR: &str = "/var/lib/tether/restore";
#[cfg(windows)]
pub const DEFAULT_RESTORE_DIR: &str = r"C:\ProgramData\Tether\restore";

/// Automatic restore points are taken this often unless configured
/// otherwise (`schedule_hours = 0` turns them off).
pub const DEFAULT_RESTORE_SCHEDULE: Duration = Duration::from_secs(24 * 3600);

/// A restore operation whose current step (one file read, one directory
/// listed) takes longer than this is reported as stalled and given up
/// unless configured otherwise: far beyond any local read, well within a
/// technician's patience.
pub const DEFAULT_RESTORE_STALL: Duration = Duration::from_secs(60);

/// Restore points, when the config has a `[restore]` table.
#[derive(Debug, Clone)]
pub struct RestoreSettings {
    pub backend: BackendConfig,
    /// How often to take an automatic point; `None`: never.
    pub schedule: Option<Duration>,
    /// How long one step may take before the operation is given up.
    pub stall: Duration,
}

/// Names the default network check resolves unless configured otherwise.
pub const DEFAULT_DNS_NAMES: &[&str] = &["example.com"];

impl AgentConfig {
    /// Reads and validates the configuration at `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Validates configuration text as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<AgentConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_owned(), message };
        let setting = |setting| ConfigError::Setting { path: path.to_owned(), setting };
        let raw: RawConfig = toml::from_str(text).map_err(|e| invalid(e.message().to_owned()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };

        let listen = match raw.listen {
            None => SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            Some(text) => text.parse().map_err(|_| {
                invalid(format!("listen = {text:?} is not an address like 0.0.0.0:{DEFAULT_PORT}"))
            })?,
        };
        let tier = |field: &str, n: u8| {
            Tier::from_number(n)
                .ok_or_else(|| invalid(format!("{field} = {n}: tiers are 1, 2 or 3")))
        };
        let mut policy = Policy::default();
        if let Some(n) = raw.policy.min_tier {
            policy.min_tier = tier("policy.min_tier", n)?;
        }
        if let Some(allow) = raw.policy.allow_fleet {
            policy.allow_fleet = allow;
        }
        for (name, n) in raw.policy.require {
            let kind = RequestKind::from_name(&name).ok_or_else(|| {
                let known: Vec<_> = RequestKind::ALL.iter().map(|k| k.as_str()).collect();
                invalid(format!(
                    "policy.require: unknown request {name:?} (known: {})",
                    known.join(", ")
                ))
            })?;
            policy.require.insert(kind, tier(&format!("policy.require.{name}"), n)?);
        }
        let limits = Limits::from_raw(raw.limits).map_err(setting)?;
        let net = net_settings(raw.net).map_err(setting)?;
        let (thresholds, sample_interval) = doctor_settings(raw.doctor).map_err(setting)?;
        let audit_path = resolve(raw.audit.path);
        let mut restore = match raw.restore {
            None => None,
            Some(raw) => Some(restore_settings(raw, &resolve).map_err(setting)?),
        };
        // A rollback must never rewrite or remove audit records: the audit
        // log is always left out of restore points (check-config says so).
        if let Some(RestoreSettings { backend: BackendConfig::Files(store), .. }) = &mut restore {
            store.protected.push(audit_path.clone());
        }
        let screen = ScreenSettings::from_raw(raw.screen).map_err(setting)?;
        let consent = ConsentSettings::from_raw(raw.consent).map_err(setting)?;
        let control_socket =
            resolve(raw.control_socket.unwrap_or_else(|| PathBuf::from(DEFAULT_CONTROL_SOCKET)));
        let name = match raw.name {
            Some(name) if name.trim().is_empty() => {
                return Err(invalid("name must not be empty".into()));
            }
            Some(name) => name,
            None => tether_diag_hostname(),
        };
        Ok(AgentConfig {
            source: path.to_owned(),
            name,
            listen,
            cert: resolve(raw.tls.cert),
            key: resolve(raw.tls.key),
            ca: resolve(raw.tls.ca),
            crl: raw.tls.crl.map(resolve),
            policy,
            audit_path,
            limits,
            net,
            thresholds,
            sample_interval,
            restore,
            screen,
            consent,
            control_socket,
        })
    }
}

fn restore_settings(
    raw: RawRestore,
    resolve: &dyn Fn(PathBuf) -> PathBuf,
) -> Result<RestoreSettings, SettingError> {
    let state_dir = resolve(raw.state_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_RESTORE_DIR)));
    let schedule = match raw.schedule_hours {
        None => Some(DEFAULT_RESTORE_SCHEDULE),
        Some(0.0) => None,
        Some(h) if h.is_finite() && h >= 0.01 => Some(Duration::from_secs_f64(h * 3600.0)),
        Some(h) => {
            return Err(SettingError::value(
                "restore.schedule_hours",
                h,
                "use 0 (off) or at least 0.01",
            ));
        }
    };
    let backend = match raw.backend.as_deref().unwrap_or("files") {
        "files" => {
            if raw.paths.is_empty() {
                return Err(SettingError::needs(
                    "restore.paths",
                    "must name at least one directory (or remove [restore])",
                ));
            }
            if let Some(p) = raw.paths.iter().find(|p| p.is_relative()) {
                return Err(SettingError::value(
                    "restore.paths",
                    p.display(),
                    "every path must be absolute",
                ));
            }
            let mut store = StoreConfig::new(state_dir, raw.paths);
            store.exclude = raw.exclude;
            if let Some(n) = raw.keep_count {
                store.keep_count = n;
            }
            if let Some(mib) = raw.max_store_mib {
                store.max_store_bytes = mib.saturating_mul(1 << 20);
            }
            BackendConfig::Files(store)
        }
        "snapper" => {
            if !raw.paths.is_empty() || !raw.exclude.is_empty() {
                return Err(SettingError::conflict(
                    "restore.paths",
                    "and exclude belong to the files backend; snapper uses its own config \
                     (snapper_config)",
                ));
            }
            BackendConfig::Snapper {
                program: raw.snapper_program.unwrap_or_else(|| PathBuf::from("snapper")),
                config: raw.snapper_config.unwrap_or_else(|| "root".into()),
                state_dir,
            }
        }
        #[cfg(windows)]
        "windows" => BackendConfig::Windows { state_dir },
        other => {
            return Err(SettingError::value(
                "restore.backend",
                format!("{other:?}"),
                "use \"files\" or \"snapper\"",
            ));
        }
    };
    let stall = match raw.stall_secs {
        None => DEFAULT_RESTORE_STALL,
        Some(0) => return Err(SettingError::value("restore.stall_secs", 0, "use 1 or more")),
        Some(secs) => Duration::from_secs(secs),
    };
    Ok(RestoreSettings { backend, schedule, stall })
}

fn net_settings(raw: RawNet) -> Result<NetSettings, SettingError> {
    let resolvers = match raw.resolvers {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|r| {
                    r.parse::<SocketAddr>()
                        .or_else(|_| {
                            r.parse::<std::net::IpAddr>().map(|ip| SocketAddr::new(ip, 53))
                        })
                        .map_err(|_| {
                            SettingError::value(
                                "net.resolvers",
                                format!("{r:?}"),
                                "not an address (like 10.0.0.53 or 10.0.0.53:53)",
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let default_targets = NetCheckRequest {
        dns: Vec::new(),
        tcp: raw.tcp,
        urls: raw.urls,
        ping: raw.ping,
        defaults: false,
    };
    let default_names = raw
        .dns_names
        .unwrap_or_else(|| DEFAULT_DNS_NAMES.iter().map(|s| (*s).to_owned()).collect());
    let check = NetCheckRequest { dns: default_names.clone(), ..default_targets.clone() };
    check.validate().map_err(|e| SettingError::needs("net", format!("targets: {e}")))?;
    let cert_warn_days = match raw.cert_warn_days {
        None => tether_diag::net::DEFAULT_CERT_WARN_DAYS,
        Some(d) if (0..=365).contains(&d) => d,
        Some(d) => return Err(SettingError::value("net.cert_warn_days", d, "use 0 to 365")),
    };
    Ok(NetSettings { resolvers, default_names, default_targets, controller: None, cert_warn_days })
}

fn doctor_settings(raw: RawDoctor) -> Result<(Thresholds, Duration), SettingError> {
    let d = Thresholds::default();
    let t = Thresholds {
        disk_warn_percent: raw.disk_warn_percent.unwrap_or(d.disk_warn_percent),
        disk_crit_percent: raw.disk_crit_percent.unwrap_or(d.disk_crit_percent),
        memory_warn_percent: raw.memory_warn_percent.unwrap_or(d.memory_warn_percent),
        memory_crit_percent: raw.memory_crit_percent.unwrap_or(d.memory_crit_percent),
        swap_storm_pages_per_sec: raw
            .swap_storm_pages_per_sec
            .unwrap_or(d.swap_storm_pages_per_sec),
        zombie_warn: raw.zombie_warn.unwrap_or(d.zombie_warn),
        cpu_hog_percent: raw.cpu_hog_percent.unwrap_or(d.cpu_hog_percent),
        cpu_hog_after: raw.cpu_hog_secs.map_or(d.cpu_hog_after, Duration::from_secs),
    };
    let percent = |name: &str, v: f64| {
        if (0.0..=100.0).contains(&v) {
            Ok(())
        } else {
            Err(SettingError::value(format!("doctor.{name}"), v, "a percentage is 0 to 100"))
        }
    };
    percent("disk_warn_percent", t.disk_warn_percent)?;
    percent("disk_crit_percent", t.disk_crit_percent)?;
    percent("memory_warn_percent", t.memory_warn_percent)?;
    percent("memory_crit_percent", t.memory_crit_percent)?;
    if t.disk_warn_percent > t.disk_crit_percent {
        return Err(SettingError::conflict(
            "doctor.disk_warn_percent",
            "must not exceed disk_crit_percent",
        ));
    }
    if t.memory_crit_percent > t.memory_warn_percent {
        return Err(SettingError::conflict(
            "doctor.memory_crit_percent",
            "must not exceed memory_warn_percent (both are minimum free shares)",
        ));
    }
    let interval = raw.sample_secs.map_or(DEFAULT_SAMPLE_INTERVAL, Duration::from_secs);
    if interval.is_zero() {
        return Err(SettingError::value("doctor.sample_secs", 0, "use at least 1"));
    }
    Ok((t, interval))
}

fn tether_diag_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "tether-agent".to_owned())
}

#[cfg(test)]
mod tests;
