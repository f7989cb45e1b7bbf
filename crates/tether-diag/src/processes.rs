//! The process list and signalling a process.

use std::time::{Duration, Instant};

use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind, Users};
use tether_os::signal::{Signal, SignalError};
use tether_proto::system::{
    KillOutcome, KillSignal, MAX_CMDLINE, ProcessInfo, ProcessList, ProcessSort,
};

use crate::DiagError;

/// How long per-process CPU usage is sampled (sysinfo needs ≥ 200 ms).
pub const PROCESS_SAMPLE: Duration = Duration::from_millis(250);

/// Lists processes sorted by `sort`, keeping those whose name or command
/// contains `filter` (case-insensitive), at most `limit` of them.
pub fn processes(
    sort: ProcessSort,
    filter: Option<&str>,
    limit: usize,
) -> Result<ProcessList, DiagError> {
    let mut sys = System::new().map_err(|e| DiagError::System(e.to_string()))?;
    let kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_cmd(UpdateKind::OnlyIfNotSet)
        .with_user(UpdateKind::OnlyIfNotSet);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    std::thread::sleep(PROCESS_SAMPLE);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let users = Users::new_with_refreshed_list().map_err(|e| DiagError::System(e.to_string()))?;

    let all: Vec<ProcessInfo> = sys
        .processes()
        .values()
        // Threads appear as processes on Linux; a process list shows processes.
        .filter(|p| p.thread_kind().is_none())
        .map(|p| {
            let user = p
                .user_id()
                .map(|uid| {
                    users
                        .get_user_by_id(uid)
                        .map_or_else(|| uid.to_string(), |u| u.name().to_owned())
                })
                .unwrap_or_default();
            let command = p.cmd().iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
            ProcessInfo {
                pid: p.pid().as_u32(),
                parent: p.parent().map(|pp| pp.as_u32()),
                name: p.name().to_string_lossy().into_owned(),
                user,
                cpu_percent: p.cpu_usage(),
                rss: p.memory(),
                state: state_name(p.status()).to_owned(),
                start_time_unix: p.start_time(),
                command: truncate(command, MAX_CMDLINE),
            }
        })
        .collect();
    let total = u32::try_from(all.len()).unwrap_or(u32::MAX);
    let needle = filter.map(str::to_lowercase);
    let mut kept: Vec<ProcessInfo> = all
        .into_iter()
        .filter(|p| {
            needle.as_deref().is_none_or(|n| {
                p.name.to_lowercase().contains(n) || p.command.to_lowercase().contains(n)
            })
        })
        .collect();
    sort_processes(&mut kept, sort);
    kept.truncate(limit);
    Ok(ProcessList { total, sample_ms: PROCESS_SAMPLE.as_millis() as u32, processes: kept })
}

/// Sorts in place: CPU and memory descending, pid ascending; ties by pid.
pub fn sort_processes(list: &mut [ProcessInfo], sort: ProcessSort) {
    match sort {
        ProcessSort::Cpu => {
            list.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent).then(a.pid.cmp(&b.pid)))
        }
        ProcessSort::Memory => list.sort_by(|a, b| b.rss.cmp(&a.rss).then(a.pid.cmp(&b.pid))),
        ProcessSort::Pid => list.sort_by_key(|p| p.pid),
    }
}

/// The state names the protocol uses.
pub fn state_name(status: ProcessStatus) -> &'static str {
    match status {
        ProcessStatus::Run => "running",
        ProcessStatus::Sleep => "sleeping",
        ProcessStatus::UninterruptibleDiskSleep => "disk-sleep",
        ProcessStatus::Stop | ProcessStatus::Tracing => "stopped",
        ProcessStatus::Zombie | ProcessStatus::Dead => "zombie",
        ProcessStatus::Idle => "idle",
        _ => "unknown",
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// How long the agent waits for a signalled process to go away before
/// reporting that it is still running. Long enough for a well-behaved
/// program to handle SIGTERM, short enough to keep the technician waiting
/// only briefly.
pub const KILL_WAIT: Duration = Duration::from_secs(3);

/// Why a process could not be signalled.
#[derive(Debug, thiserror::Error)]
pub enum KillError {
    #[error("no process with pid {0}")]
    NoSuchProcess(u32),
    #[error("refusing to signal the agent itself (pid {0})")]
    Agent(u32),
    #[error("cannot signal pid {pid}: {source}")]
    Os {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
}

/// Sends `signal` to `pid` and waits up to [`KILL_WAIT`] for it to exit.
pub fn kill(pid: u32, signal: KillSignal) -> Result<KillOutcome, KillError> {
    if pid == std::process::id() {
        return Err(KillError::Agent(pid));
    }
    let name = one_process(pid)
        .map_err(|e| KillError::Os { pid, source: std::io::Error::other(e.to_string()) })?
        .ok_or(KillError::NoSuchProcess(pid))?
        .0;
    let sig = match signal {
        KillSignal::Term => Signal::Term,
        KillSignal::Kill => Signal::Kill,
    };
    tether_os::signal::send(pid, sig).map_err(|e| match e {
        SignalError::NoSuchProcess(_) | SignalError::InvalidPid(_) => KillError::NoSuchProcess(pid),
        SignalError::Os { source, .. } => KillError::Os { pid, source },
    })?;
    let deadline = Instant::now() + KILL_WAIT;
    let mut exited = has_exited(pid);
    while !exited && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        exited = has_exited(pid);
    }
    Ok(KillOutcome { pid, name, signal, exited })
}

/// One process as sysinfo sees it now (on every system; no `/proc`
/// reading here, so Windows answers too).
fn one_process(pid: u32) -> Result<Option<(String, ProcessStatus)>, sysinfo::Error> {
    let mut sys = System::new()?;
    let pid = sysinfo::Pid::from_u32(pid);
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing(),
    );
    Ok(sys.process(pid).map(|p| (p.name().to_string_lossy().into_owned(), p.status())))
}

/// Gone, or a zombie waiting for its parent to reap it: either way it no
/// longer runs. When the process table cannot be read, it may still run.
fn has_exited(pid: u32) -> bool {
    matches!(one_process(pid), Ok(None | Some((_, ProcessStatus::Zombie | ProcessStatus::Dead))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_a_child_and_kills_it() {
        let mut child = std::process::Command::new("sleep").arg("300").spawn().unwrap();
        let pid = child.id();
        let list = processes(ProcessSort::Pid, Some("sleep"), 100).unwrap();
        let found = list.processes.iter().find(|p| p.pid == pid).expect("child listed");
        assert_eq!(found.name, "sleep");
        assert_eq!(found.command, "sleep 300");
        assert_eq!(found.parent, Some(std::process::id()));
        assert!(list.total as usize >= list.processes.len());
        assert!(
            list.processes.iter().all(|p| p.name.contains("sleep") || p.command.contains("sleep"))
        );

        // The child is ours, so it turns zombie until we reap it: that counts as exited.
        let outcome = kill(pid, KillSignal::Term).unwrap();
        assert!(outcome.exited && outcome.name == "sleep");
        assert!(child.wait().unwrap().code().is_none(), "ended by a signal");
        assert!(matches!(kill(pid, KillSignal::Kill), Err(KillError::NoSuchProcess(_))));
    }

    #[test]
    fn refuses_to_kill_itself() {
        assert!(matches!(kill(std::process::id(), KillSignal::Kill), Err(KillError::Agent(_))));
    }

    #[test]
    fn sorting() {
        let p = |pid, cpu, rss| ProcessInfo {
            pid,
            parent: None,
            name: String::new(),
            user: String::new(),
            cpu_percent: cpu,
            rss,
            state: "running".into(),
            start_time_unix: 0,
            command: String::new(),
        };
        let mut list = vec![p(3, 1.0, 10), p(1, 50.0, 5), p(2, 50.0, 30)];
        sort_processes(&mut list, ProcessSort::Cpu);
        assert_eq!(list.iter().map(|p| p.pid).collect::<Vec<_>>(), [1, 2, 3]);
        sort_processes(&mut list, ProcessSort::Memory);
        assert_eq!(list.iter().map(|p| p.pid).collect::<Vec<_>>(), [2, 3, 1]);
        assert_eq!(truncate("héllo".into(), 2), "h");
    }
}
