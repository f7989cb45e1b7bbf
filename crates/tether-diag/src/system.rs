//! The full `info` report.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sysinfo::{
    Components, CpuRefreshKind, Disks, InterfaceOperationalState, MemoryRefreshKind, Networks,
    RefreshKind, System,
};
use tether_proto::system::{
    CpuInfo, DiskInfo, HostInfo, InterfaceInfo, MemoryInfo, SystemInfo, Temperature,
};

use crate::DiagError;
use crate::host;

/// How long CPU usage is sampled. sysinfo needs at least 200 ms between two
/// readings; 250 ms keeps `info` quick while averaging over more than one
/// scheduler tick burst.
pub const CPU_SAMPLE: Duration = Duration::from_millis(250);

/// Gathers the full report. Blocks for [`CPU_SAMPLE`] to measure CPU usage
/// over an interval rather than at one instant.
pub fn system_info(agent_version: &str) -> Result<SystemInfo, DiagError> {
    let mut sys = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::everything())
            .with_memory(MemoryRefreshKind::everything()),
    )
    .map_err(|e| DiagError::System(e.to_string()))?;
    std::thread::sleep(CPU_SAMPLE);
    sys.refresh_cpu_usage();

    let mut info = SystemInfo {
        host: host_info(agent_version),
        cpu: cpu_info(&sys),
        memory: MemoryInfo {
            total: sys.total_memory(),
            used: sys.used_memory(),
            available: sys.available_memory(),
            swap_total: sys.total_swap(),
            swap_used: sys.used_swap(),
        },
        disks: disk_list(),
        interfaces: interface_list(),
        temperatures: temperatures(),
        users: host::login_sessions(),
        batteries: host::batteries(),
    };
    // Stamped last, just before the reply leaves: the controller compares
    // it with the moment half a round trip before the reply arrived.
    info.host.agent_time_unix_ms = unix_millis_now();
    Ok(info)
}

fn host_info(agent_version: &str) -> HostInfo {
    HostInfo {
        hostname: System::host_name().unwrap_or_else(|_| "unknown".to_owned()),
        os_name: System::name().unwrap_or_else(|_| std::env::consts::OS.to_owned()),
        os_version: System::os_version().unwrap_or_default(),
        kernel: System::kernel_version().unwrap_or_default(),
        arch: System::cpu_arch(),
        uptime_secs: System::uptime().unwrap_or(0),
        boot_time_unix: System::boot_time().unwrap_or(0),
        pending_reboot: host::pending_reboot(),
        agent_version: agent_version.to_owned(),
        agent_time_unix_ms: unix_millis_now(),
    }
}

fn cpu_info(sys: &System) -> CpuInfo {
    let cpus = sys.cpus();
    let model = cpus
        .first()
        .map(|c| c.brand().trim().to_owned())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    CpuInfo {
        model,
        logical: u32::try_from(cpus.len()).unwrap_or(u32::MAX),
        physical: System::physical_core_count().ok().and_then(|n| u32::try_from(n).ok()),
        usage_percent: sys.global_cpu_usage(),
        per_core_percent: cpus.iter().map(|c| c.usage()).collect(),
        sample_ms: CPU_SAMPLE.as_millis() as u32,
        load_average: System::load_average()
            .map(|l| [l.one, l.five, l.fifteen])
            .unwrap_or([0.0; 3]),
        frequency_mhz: cpus.first().map_or(0, |c| c.frequency()),
    }
}

/// Pseudo filesystems that say nothing about storage.
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "tracefs",
    "mqueue",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
];

/// Mounted filesystems, pseudo filesystems left out.
pub(crate) fn disk_list() -> Vec<DiskInfo> {
    let Ok(disks) = Disks::new_with_refreshed_list() else { return Vec::new() };
    disks
        .iter()
        .map(|d| {
            let mount_point = d.mount_point().to_string_lossy().into_owned();
            // As `df` counts: root's reserved blocks are not "used".
            let usage = crate::statfs::usage(&mount_point);
            let total = d.total_space();
            DiskInfo {
                device: d.name().to_string_lossy().into_owned(),
                file_system: d.file_system().to_string_lossy().into_owned(),
                total,
                used: usage.map_or(total.saturating_sub(d.available_space()), |u| u.used),
                available: usage.map_or(d.available_space(), |u| u.available),
                read_only: d.is_read_only(),
                removable: d.is_removable(),
                mount_point,
            }
        })
        .filter(|d| !PSEUDO_FS.contains(&d.file_system.as_str()))
        .collect()
}

/// Every network interface, sorted by name (empty if the OS will not say).
pub(crate) fn interface_list() -> Vec<InterfaceInfo> {
    let Ok(networks) = Networks::new_with_refreshed_list() else { return Vec::new() };
    let mut list: Vec<InterfaceInfo> = networks
        .iter()
        .map(|(name, data)| InterfaceInfo {
            name: name.to_string_lossy().into_owned(),
            mac: data.mac_address().to_string(),
            addresses: data
                .ip_networks()
                .iter()
                .map(|n| format!("{}/{}", n.addr, n.prefix))
                .collect(),
            // Loopback and some virtual links report "unknown" yet carry traffic.
            up: !matches!(data.operational_state(), InterfaceOperationalState::Down)
                && host::link_is_up(&name.to_string_lossy()),
            mtu: data.mtu(),
            rx_bytes: data.total_received(),
            tx_bytes: data.total_transmitted(),
            rx_errors: data.total_errors_on_received(),
            tx_errors: data.total_errors_on_transmitted(),
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}

fn temperatures() -> Vec<Temperature> {
    let Ok(components) = Components::new_with_refreshed_list() else { return Vec::new() };
    components
        .iter()
        .map(|c| Temperature {
            label: c.label().to_owned(),
            celsius: c.temperature(),
            max_celsius: c.max(),
            critical_celsius: c.critical(),
        })
        .collect()
}

/// Milliseconds since the Unix epoch, by the agent's clock.
pub fn unix_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_of_this_machine_is_plausible() {
        let info = system_info("test 1.0").unwrap();
        let h = &info.host;
        assert!(!h.hostname.is_empty() && h.hostname != "unknown");
        assert!(h.uptime_secs > 0 && h.boot_time_unix > 1_500_000_000);
        assert!(h.kernel.chars().next().is_some_and(|c| c.is_ascii_digit()), "{}", h.kernel);
        assert!(unix_millis_now().abs_diff(h.agent_time_unix_ms) < 60_000);
        assert_eq!(h.agent_version, "test 1.0");

        assert!(info.cpu.logical >= 1);
        assert_eq!(info.cpu.per_core_percent.len(), info.cpu.logical as usize);
        assert!((0.0..=100.0).contains(&info.cpu.usage_percent), "{}", info.cpu.usage_percent);

        assert!(info.memory.total > 64 << 20);
        assert!(info.memory.available <= info.memory.total);

        let root = info.disks.iter().find(|d| d.mount_point == "/").expect("/ is mounted");
        assert!(root.total > 0 && root.available <= root.total);
        assert!(!info.disks.iter().any(|d| d.file_system == "proc"));

        let lo = info.interfaces.iter().find(|i| i.name == "lo").expect("loopback exists");
        assert!(lo.up, "loopback is up");
        assert!(lo.addresses.iter().any(|a| a == "127.0.0.1/8"), "{:?}", lo.addresses);
    }
}
