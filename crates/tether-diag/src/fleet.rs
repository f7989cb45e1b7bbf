//! The facts a fleet health check judges, read at one instant: no CPU
//! sample, no watch window. Load per core comes from the kernel's load
//! average; memory from one read of the kernel's counters; filesystems
//! from the mount table and `statvfs`; processes and systemd services
//! only when named.

use std::collections::HashMap;

use sysinfo::{MemoryRefreshKind, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};
use tether_proto::fleet::{
    FleetFacts, FleetFactsRequest, MAX_FLEET_MOUNTS, MountFacts, ProcessPresence,
};
use tether_proto::system::MemoryInfo;

use crate::DiagError;
use crate::system::{disk_list, unix_millis_now};

/// The program asked for services' states, found on `PATH`.
const SYSTEMCTL: &str = "systemctl";

/// Gathers the facts `request` asks for. `agent_software` and
/// `cert_not_after_unix` are the agent's own, passed in because only the
/// agent knows them.
pub fn facts(
    request: &FleetFactsRequest,
    agent_software: &str,
    cert_not_after_unix: Option<i64>,
) -> Result<FleetFacts, DiagError> {
    let sys = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::everything()),
    )
    .map_err(|e| DiagError::System(e.to_string()))?;
    let memory = MemoryInfo {
        total: sys.total_memory(),
        used: sys.used_memory(),
        available: sys.available_memory(),
        swap_total: sys.total_swap(),
        swap_used: sys.used_swap(),
    };
    let mut facts = FleetFacts {
        agent_software: agent_software.to_owned(),
        protocol_version: tether_proto::PROTOCOL_VERSION,
        cert_not_after_unix,
        // The CPUs this process may run on: the same count the scheduler's
        // load average is spread over on an unrestricted agent.
        logical_cpus: std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
        load_average: System::load_average()
            .map(|l| [l.one, l.five, l.fifteen])
            .unwrap_or([0.0; 3]),
        memory,
        mounts: mounts(),
        processes: presence(&request.processes)?,
        services: Vec::new(),
        services_error: None,
        agent_time_unix_ms: 0,
    };
    match crate::services::active_states(SYSTEMCTL, &request.services) {
        Ok(services) => facts.services = services,
        Err(why) => facts.services_error = Some(why),
    }
    // Stamped last, as in `info`: the controller compares it with the
    // middle of the round trip.
    facts.agent_time_unix_ms = unix_millis_now();
    Ok(facts)
}

fn mounts() -> Vec<MountFacts> {
    disk_list()
        .into_iter()
        .take(MAX_FLEET_MOUNTS)
        .map(|d| {
            let inodes = tether_os::fs::statvfs(std::path::Path::new(&d.mount_point))
                .map_or((0, 0), |st| (st.inodes, st.inodes_free));
            MountFacts {
                mount_point: d.mount_point,
                file_system: d.file_system,
                used_bytes: d.used,
                available_bytes: d.available,
                inodes: inodes.0,
                inodes_free: inodes.1,
                read_only: d.read_only,
            }
        })
        .collect()
}

/// How many processes carry each of `names`; the process table is read
/// only when a name is asked for.
fn presence(names: &[String]) -> Result<Vec<ProcessPresence>, DiagError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut sys = System::new().map_err(|e| DiagError::System(e.to_string()))?;
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing());
    let mut counts: HashMap<&str, u32> = names.iter().map(|n| (n.as_str(), 0)).collect();
    for process in sys.processes().values().filter(|p| p.thread_kind().is_none()) {
        if let Some(count) = counts.get_mut(process.name().to_string_lossy().as_ref()) {
            *count += 1;
        }
    }
    Ok(names
        .iter()
        .map(|n| ProcessPresence { name: n.clone(), count: counts[n.as_str()] })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_this_machine_are_plausible() {
        let ask =
            FleetFactsRequest { processes: vec!["no-such-process-xyz".into()], services: vec![] };
        let facts = facts(&ask, "test 1.0", Some(42)).unwrap();
        assert_eq!(facts.agent_software, "test 1.0");
        assert_eq!(facts.cert_not_after_unix, Some(42));
        assert!(facts.logical_cpus >= 1);
        assert!(facts.memory.total > 64 << 20 && facts.memory.available <= facts.memory.total);
        let root = facts.mounts.iter().find(|m| m.mount_point == "/").expect("/ is mounted");
        assert!(root.used_bytes > 0);
        assert_eq!(
            facts.processes,
            [ProcessPresence { name: "no-such-process-xyz".into(), count: 0 }]
        );
        assert!(unix_millis_now().abs_diff(facts.agent_time_unix_ms) < 60_000);
    }

    #[test]
    fn a_running_process_is_counted() {
        let me = std::env::current_exe().unwrap();
        // Linux's comm is the executable's name cut to 15 bytes.
        let name: String = me.file_name().unwrap().to_string_lossy().chars().take(15).collect();
        let facts =
            facts(&FleetFactsRequest { processes: vec![name], services: vec![] }, "t", None)
                .unwrap();
        assert!(facts.processes[0].count >= 1, "{:?}", facts.processes);
    }
}
