//! The short machine summary behind `tether info`.

use std::time::{SystemTime, UNIX_EPOCH};

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};
use tether_proto::message::SystemSummary;

use crate::DiagError;

/// Gathers the machine summary. `agent_version` is reported as given.
///
/// Only CPU identity and memory are refreshed: a full process scan costs
/// milliseconds and the summary does not need it.
pub fn system_summary(agent_version: &str) -> Result<SystemSummary, DiagError> {
    let sys = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::everything()),
    )
    .map_err(|e| DiagError::System(e.to_string()))?;
    let cpus = sys.cpus();
    let cpu_model = cpus
        .first()
        .map(|c| c.brand().trim().to_owned())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let load = System::load_average()
        .map(|l| [l.one, l.five, l.fifteen])
        .unwrap_or([0.0; 3]);
    Ok(SystemSummary {
        hostname: System::host_name().unwrap_or_else(|_| "unknown".to_owned()),
        os_name: System::name().unwrap_or_else(|_| std::env::consts::OS.to_owned()),
        os_version: System::os_version().unwrap_or_default(),
        kernel: System::kernel_version().unwrap_or_default(),
        arch: System::cpu_arch(),
        uptime_secs: System::uptime().unwrap_or(0),
        boot_time_unix: System::boot_time().unwrap_or(0),
        cpu_model,
        cpu_logical: u32::try_from(cpus.len()).unwrap_or(u32::MAX),
        cpu_physical: System::physical_core_count()
            .ok()
            .and_then(|n| u32::try_from(n).ok()),
        load_average: load,
        memory_total: sys.total_memory(),
        memory_used: sys.used_memory(),
        memory_available: sys.available_memory(),
        swap_total: sys.total_swap(),
        swap_used: sys.used_swap(),
        agent_version: agent_version.to_owned(),
        agent_time_unix_ms: unix_millis_now(),
    })
}

fn unix_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_this_machine_is_plausible() {
        let s = system_summary("test 1.0").unwrap();
        assert!(!s.hostname.is_empty() && s.hostname != "unknown");
        assert!(s.cpu_logical >= 1);
        assert!(
            s.memory_total > 64 * 1024 * 1024,
            "{} bytes of RAM",
            s.memory_total
        );
        assert!(s.memory_available <= s.memory_total);
        assert!(s.uptime_secs > 0 && s.boot_time_unix > 1_500_000_000);
        assert!(
            s.kernel.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{}",
            s.kernel
        );
        let now_ms = unix_millis_now();
        assert!(now_ms.abs_diff(s.agent_time_unix_ms) < 60_000);
        assert_eq!(s.agent_version, "test 1.0");
    }
}
