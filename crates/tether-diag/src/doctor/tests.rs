use std::collections::HashMap;
use std::time::{Duration, Instant};

use tether_proto::doctor::Severity;
use tether_proto::system::{DiskInfo, MemoryInfo};

use super::*;

fn disk(mount: &str, total: u64, available: u64) -> DiskInfo {
    DiskInfo {
        mount_point: mount.into(),
        device: "/dev/x".into(),
        file_system: "ext4".into(),
        total,
        used: total - available,
        available,
        read_only: false,
        removable: false,
    }
}

fn proc(pid: u32, parent: u32, name: &str, state: &str, cpu: f32) -> ProcessFact {
    ProcessFact {
        pid,
        parent: Some(parent),
        name: name.into(),
        state: state.into(),
        cpu_percent: cpu,
    }
}

#[test]
fn disks_by_threshold() {
    let t = Thresholds::default();
    let disks = [disk("/", 100, 3), disk("/home", 100, 8), disk("/data", 100, 50)];
    let f = judge_disks(&disks, &HashMap::new(), &t);
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].severity, f[0].summary.as_str()),
        (Severity::Crit, "/ is 97% full (0.0 GiB free of 0.0 GiB)")
    );
    assert_eq!(f[1].severity, Severity::Warn);
    let mut ro = disk("/snap/x", 100, 0);
    ro.read_only = true;
    let f = judge_disks(&[ro, disk("/", 100, 60)], &HashMap::from([("/".to_owned(), 96.0)]), &t);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].check.as_str(), f[0].severity), ("inodes", Severity::Crit));
    let ok = judge_disks(&[disk("/", 100, 60)], &HashMap::new(), &t);
    assert_eq!(
        (ok[0].severity, ok[0].summary.as_str()),
        (Severity::Ok, "1 filesystem below 90% full")
    );
}

#[test]
fn memory_and_swap() {
    let t = Thresholds::default();
    let m = |available| MemoryInfo {
        total: 100 << 30,
        used: 0,
        available,
        swap_total: 0,
        swap_used: 0,
    };
    assert_eq!(judge_memory(&m(50 << 30), Some(0.0), &t)[0].severity, Severity::Ok);
    assert_eq!(judge_memory(&m(8 << 30), None, &t)[0].severity, Severity::Warn);
    assert_eq!(judge_memory(&m(4 << 30), None, &t)[0].severity, Severity::Crit);
    let storm = judge_memory(&m(50 << 30), Some(5000.0), &t);
    assert_eq!((storm[1].check.as_str(), storm[1].severity), ("swap", Severity::Crit));
    assert_eq!(judge_memory(&m(50 << 30), Some(150.0), &t)[1].severity, Severity::Warn);
}

#[test]
fn stuck_means_both_samples() {
    let t = Thresholds::default();
    let first = [proc(10, 1, "cp", "disk-sleep", 0.0), proc(11, 1, "tar", "running", 0.0)];
    let second = [proc(10, 1, "cp", "disk-sleep", 0.0), proc(11, 1, "tar", "disk-sleep", 0.0)];
    let f = judge_processes(&first, &second, &t);
    assert_eq!(f.len(), 1);
    assert!(f[0].summary.starts_with("cp (pid 10) stuck"), "{}", f[0].summary);
}

#[test]
fn zombies_name_their_parent() {
    let t = Thresholds { zombie_warn: 2, ..Thresholds::default() };
    let procs = [
        proc(50, 1, "buggy-daemon", "sleeping", 0.0),
        proc(51, 50, "worker", "zombie", 0.0),
        proc(52, 50, "worker", "zombie", 0.0),
        proc(60, 1, "other", "zombie", 0.0),
    ];
    let f = judge_processes(&procs, &procs, &t);
    assert_eq!(f[0].check, "zombies");
    assert_eq!(
        f[0].summary,
        "3 zombie processes; 2 belong to buggy-daemon (pid 50), 1 to ? (pid 1)"
    );
    let calm = judge_processes(&procs[..2], &procs[..2], &t);
    assert_eq!(calm[0].severity, Severity::Ok);
}

#[test]
fn hogs_need_to_stay_hot() {
    let start = Instant::now();
    let mut tracker = HogTracker::default();
    let after = Duration::from_secs(60);
    tracker.observe(start, &[proc(7, 1, "spin", "running", 99.0)], 90.0);
    tracker.observe(start + Duration::from_secs(30), &[proc(7, 1, "spin", "running", 98.0)], 90.0);
    assert!(tracker.findings(start + Duration::from_secs(30), after).is_empty());
    tracker.observe(start + Duration::from_secs(61), &[proc(7, 1, "spin", "running", 97.0)], 90.0);
    let f = tracker.findings(start + Duration::from_secs(61), after);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].summary, "spin (pid 7) has used 97% CPU for 61 s");
    // Cooling down resets the clock.
    tracker.observe(start + Duration::from_secs(62), &[proc(7, 1, "spin", "running", 5.0)], 90.0);
    tracker.observe(start + Duration::from_secs(63), &[proc(7, 1, "spin", "running", 99.0)], 90.0);
    assert!(tracker.findings(start + Duration::from_secs(100), after).is_empty());
}

#[test]
fn services_and_crashes() {
    let out = "cups.service loaded failed failed CUPS Scheduler\nbackup.timer loaded failed failed Nightly\n";
    let f = judge_failed_units(out);
    assert_eq!(
        (f.severity, f.summary.as_str()),
        (Severity::Warn, "2 failed system services: cups.service, backup.timer")
    );
    assert_eq!(judge_failed_units("").severity, Severity::Ok);
    let dumps = "Mon 2026-11-23 10:00:01 UTC 4711 1000 1000 SIGSEGV present /usr/bin/evince 1.2M\n\
                 Mon 2026-11-23 11:00:01 UTC 4712 1000 1000 SIGSEGV present /usr/bin/evince 1.1M\n\
                 Mon 2026-11-23 11:30:01 UTC 4713 1000 1000 SIGABRT missing /opt/app/bin/app -\n";
    let names = parse_coredumps(dumps);
    assert_eq!(names, ["evince", "evince", "app"]);
    let f = judge_crashes(&names, "systemd-coredump");
    assert_eq!(f.summary, "3 application crashes in the last 24 h: evince ×2, app");
    assert_eq!(super::gather::crash_program("_usr_bin_gedit.1000"), "gedit");
}
