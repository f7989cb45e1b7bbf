use tether_proto::fleet::{MountFacts, ProcessPresence, ServiceState};
use tether_proto::system::MemoryInfo;

use super::*;

const NOW: i64 = 1_800_000_000;

fn healthy() -> FleetFacts {
    FleetFacts {
        agent_software: "tether-agent 0.1.0".into(),
        protocol_version: 3,
        cert_not_after_unix: Some(NOW + 90 * 86_400),
        logical_cpus: 4,
        load_average: [1.0, 1.0, 1.0],
        memory: MemoryInfo {
            total: 8 << 30,
            used: 2 << 30,
            available: 6 << 30,
            swap_total: 0,
            swap_used: 0,
        },
        mounts: vec![
            MountFacts {
                mount_point: "/".into(),
                file_system: "ext4".into(),
                used_bytes: 50,
                available_bytes: 50,
                inodes: 100,
                inodes_free: 90,
                read_only: false,
            },
            MountFacts {
                mount_point: "/snap/core".into(),
                file_system: "squashfs".into(),
                used_bytes: 100,
                available_bytes: 0,
                inodes: 10,
                inodes_free: 0,
                read_only: true,
            },
        ],
        processes: vec![ProcessPresence { name: "sshd".into(), count: 2 }],
        services: Vec::new(),
        services_error: None,
        agent_time_unix_ms: 0,
    }
}

fn statuses(results: &[CheckResult]) -> Vec<(&str, CheckStatus)> {
    results.iter().map(|r| (r.check.as_str(), r.status)).collect()
}

#[test]
fn a_healthy_host_is_ok_on_every_check() {
    let mut set = CheckSet::default();
    set.processes.required = vec!["sshd".into()];
    let results = judge_facts(&set, &healthy(), 120, NOW);
    use CheckStatus::Ok;
    assert_eq!(
        statuses(&results),
        [
            ("version", Ok),
            ("cert_expiry", Ok),
            ("load", Ok),
            ("memory", Ok),
            ("disk:/", Ok),
            ("inodes:/", Ok),
            ("clock_skew", Ok),
            ("process:sshd", Ok),
        ]
    );
    assert_eq!(results[2].value, Some(0.25));
}

#[test]
fn thresholds_give_warning_and_critical() {
    let mut facts = healthy();
    facts.load_average[0] = 8.0; // 2 per core: WARNING
    facts.cert_not_after_unix = Some(NOW + 3 * 86_400); // CRITICAL
    facts.mounts[0].used_bytes = 96; // 96 %: CRITICAL
    facts.mounts[0].available_bytes = 4;
    facts.processes[0].count = 0;
    let mut set = CheckSet::default();
    set.processes.required = vec!["sshd".into()];
    set.version.min_agent = Some("0.2.0".into());
    let results = judge_facts(&set, &facts, -70_000, NOW);
    let get = |name: &str| results.iter().find(|r| r.check == name).unwrap().status;
    assert_eq!(get("version"), CheckStatus::Warning);
    assert_eq!(get("cert_expiry"), CheckStatus::Critical);
    assert_eq!(get("load"), CheckStatus::Warning);
    assert_eq!(get("disk:/"), CheckStatus::Critical);
    assert_eq!(get("clock_skew"), CheckStatus::Critical);
    assert_eq!(get("process:sshd"), CheckStatus::Critical);
    // Read-only mounts are full by design and never judged.
    assert!(!results.iter().any(|r| r.check.contains("/snap")));
}

#[test]
fn facts_the_agent_could_not_give_are_unknown_never_ok() {
    let mut facts = healthy();
    facts.cert_not_after_unix = None;
    facts.memory.total = 0;
    facts.processes.clear();
    let mut set = CheckSet::default();
    set.processes.required = vec!["sshd".into()];
    let results = judge_facts(&set, &facts, 0, NOW);
    for name in ["cert_expiry", "memory", "process:sshd"] {
        let r = results.iter().find(|r| r.check == name).unwrap();
        assert_eq!(r.status, CheckStatus::Unknown, "{name}");
    }
}

#[test]
fn a_checks_file_overrides_key_by_key() {
    let set = CheckSet::parse(
        "retries = 0\n[load]\nwarn = 0.5\n[disk]\nignore = [\"/boot\"]\n[clock_skew_ms]\nenabled = false\n",
    )
    .unwrap();
    assert_eq!(set.retries, 0);
    assert_eq!(set.load, Limits { enabled: true, warn: 0.5, crit: 3.0 });
    assert_eq!(set.disk.ignore, ["/boot"]);
    assert_eq!(set.disk.crit_percent, 95.0);
    assert!(!set.clock_skew_ms.enabled);
    assert_eq!(CheckSet::parse("").unwrap(), CheckSet::default());
    let results = judge_facts(&set, &healthy(), 0, NOW);
    assert!(!results.iter().any(|r| r.check == "clock_skew"));
}

#[test]
fn bad_checks_files_are_refused_with_a_reason() {
    for (text, words) in [
        ("[lod]\nwarn = 1.0\n", "lod"),
        ("[load]\nwarn = 5.0\n", "load: warn"),
        ("[cert_days]\nwarn = 1.0\n", "cert_days"),
        ("deadline_secs = 0.0\n", "deadline_secs"),
        ("[processes]\nrequired = [\"a/b\"]\n", "processes or services"),
        ("[services]\nrequired = [\"-H evil\"]\n", "not a systemd unit name"),
    ] {
        let err = CheckSet::parse(text).unwrap_err();
        assert!(err.contains(words), "{text:?}: {err}");
    }
}

#[test]
fn versions_compare_numerically() {
    assert!(version_less("0.9.1", "0.10.0"));
    assert!(!version_less("0.10.0", "0.9.1"));
    assert!(!version_less("1.2.3", "1.2.3"));
    assert!(version_less("1.2.3-rc1", "1.2.4"));
}

#[test]
fn net_and_doctor_are_off_unless_asked_for() {
    let set = CheckSet::default();
    assert_eq!((set.net.request(), set.doctor.enabled), (None, false));
    let set =
        CheckSet::parse("[net]\ntcp = [\"files.lan:445\"]\n[doctor]\nenabled = true\n").unwrap();
    assert_eq!(set.net.request().unwrap().tcp, ["files.lan:445"]);
    assert!(set.doctor.enabled);
    let err = CheckSet::parse("[net]\nurls = [\"ftp://files.lan/\"]\n").unwrap_err();
    assert!(err.starts_with("net: "), "{err}");
}

#[test]
fn services_are_judged_by_their_active_state() {
    let mut set = CheckSet::default();
    set.services.required =
        ["ssh.service", "cups.service", "cron.service", "gone.service"].map(String::from).to_vec();
    let mut facts = healthy();
    facts.services =
        [("ssh.service", "active"), ("cups.service", "reloading"), ("cron.service", "failed")]
            .map(|(name, state)| ServiceState { name: name.into(), active_state: state.into() })
            .to_vec();
    let results = judge_facts(&set, &facts, 120, NOW);
    let services: Vec<_> =
        statuses(&results).into_iter().filter(|(c, _)| c.starts_with("service:")).collect();
    assert_eq!(
        services,
        [
            ("service:ssh.service", CheckStatus::Ok),
            ("service:cups.service", CheckStatus::Warning),
            ("service:cron.service", CheckStatus::Critical),
            ("service:gone.service", CheckStatus::Unknown),
        ]
    );
    // Without systemd every service is UNKNOWN, never OK.
    facts.services_error = Some("systemctl: System has not been booted with systemd".into());
    let results = judge_facts(&set, &facts, 120, NOW);
    let unknown = results.iter().filter(|r| r.check.starts_with("service:"));
    assert!(
        unknown.clone().count() == 4 && unknown.clone().all(|r| r.status == CheckStatus::Unknown)
    );
    assert!(results.iter().any(|r| r.message.contains("cannot ask systemd")), "{results:?}");
}
