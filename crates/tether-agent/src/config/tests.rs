//! The configuration file's parsing and checks.

use super::*;

const MINIMAL: &str = r#"
    [tls]
    cert = "agent.crt"
    key = "agent.key"
    ca = "/etc/tether/ca.crt"
    [audit]
    path = "audit.jsonl"
"#;

fn parse(text: &str) -> Result<AgentConfig, ConfigError> {
    AgentConfig::parse(text, Path::new("/etc/tether/agent.toml"))
}

#[test]
fn minimal_config_gets_defaults_and_resolved_paths() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.listen, SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)));
    assert_eq!(c.cert, Path::new("/etc/tether/agent.crt"));
    assert_eq!(c.ca, Path::new("/etc/tether/ca.crt"));
    assert_eq!(c.audit_path, Path::new("/etc/tether/audit.jsonl"));
    assert_eq!(c.policy, Policy::default());
    assert_eq!(c.limits, Limits::default());
    assert!(c.crl.is_none());
    assert_eq!(c.net.resolvers, None, "the system's resolvers");
    assert_eq!(c.net.default_names, ["example.com"]);
    assert_eq!(c.thresholds, Thresholds::default());
    assert_eq!(c.sample_interval, DEFAULT_SAMPLE_INTERVAL);
}

#[test]
fn net_settings_are_read() {
    let text = format!(
        "[net]\nresolvers = [\"127.0.0.1:5353\", \"10.0.0.53\"]\ndns_names = [\"intranet.lan\"]\ntcp = [\"files.lan:445\"]\n{MINIMAL}"
    );
    let c = parse(&text).unwrap();
    let resolvers: Vec<String> = c.net.resolvers.unwrap().iter().map(|r| r.to_string()).collect();
    assert_eq!(resolvers, ["127.0.0.1:5353", "10.0.0.53:53"]);
    assert_eq!(c.net.default_names, ["intranet.lan"]);
    assert_eq!(c.net.default_targets.tcp, ["files.lan:445"]);
}

#[test]
fn policy_is_read() {
    let text = format!(
        "name = \"pc-7\"\n[policy]\nmin_tier = 2\nallow_fleet = false\n[policy.require]\ninfo = 3\n{MINIMAL}"
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.name, "pc-7");
    assert_eq!(c.policy.min_tier, Tier::Two);
    assert!(!c.policy.allow_fleet);
    assert_eq!(c.policy.require.get(&RequestKind::Info), Some(&Tier::Three));
}

#[test]
fn restore_settings_are_read_with_defaults() {
    assert!(parse(MINIMAL).unwrap().restore.is_none(), "off unless configured");
    let text = format!(
        "[restore]\npaths = [\"/etc\", \"/opt/app/conf\"]\nexclude = [\"**/*.swp\"]\nmax_store_mib = 512\n{MINIMAL}"
    );
    let r = parse(&text).unwrap().restore.unwrap();
    let BackendConfig::Files(store) = r.backend else { panic!("files is the default") };
    assert_eq!(store.state_dir, Path::new(DEFAULT_RESTORE_DIR));
    assert_eq!(store.paths.len(), 2);
    assert_eq!(store.exclude, ["**/*.swp"]);
    assert_eq!(store.max_store_bytes, 512 << 20);
    assert_eq!(store.keep_count, tether_restore::DEFAULT_KEEP_COUNT);
    assert_eq!(store.protected, [parse(MINIMAL).unwrap().audit_path], "audit log protected");
    assert_eq!(r.schedule, Some(DEFAULT_RESTORE_SCHEDULE));
    assert_eq!(r.stall, DEFAULT_RESTORE_STALL);
    let off = format!(
        "[restore]\npaths = [\"/etc\"]\nstate_dir = \"state\"\nschedule_hours = 0\nstall_secs = 5\n{MINIMAL}"
    );
    let r = parse(&off).unwrap().restore.unwrap();
    assert_eq!(r.schedule, None);
    assert_eq!(r.stall, Duration::from_secs(5));
    let BackendConfig::Files(store) = r.backend else { panic!("files is the default") };
    assert_eq!(store.state_dir, Path::new("/etc/tether/state"), "relative to the config file");
    let snapper = format!("[restore]\nbackend = \"snapper\"\nsnapper_config = \"home\"\n{MINIMAL}");
    let r = parse(&snapper).unwrap().restore.unwrap();
    assert!(matches!(r.backend, BackendConfig::Snapper { ref config, .. } if config == "home"));
}

#[test]
fn the_packaged_example_config_is_valid() {
    let config = parse(include_str!("../../../../packaging/agent.toml")).unwrap();
    assert_eq!(config.name, "ws-042");
    // Restore points are off until the admin names what they cover.
    assert!(config.restore.is_none());
    assert_eq!(config.control_socket, Path::new(DEFAULT_CONTROL_SOCKET));
    assert_eq!(config.screen.display.as_deref(), Some(":0"));
    assert_eq!(config.consent.control, crate::consent::Consent::Prompt);
    assert_eq!(config.consent.prompt_command[0], "/usr/bin/zenity");
}

#[test]
fn mistakes_are_named() {
    let cases = [
        (format!("listen = \"nope\"\n{MINIMAL}"), "listen"),
        (format!("[policy]\nmin_tier = 4\n{MINIMAL}"), "tiers are 1, 2 or 3"),
        (format!("[policy.require]\nreboot = 2\n{MINIMAL}"), "unknown request \"reboot\""),
        (format!("colour = 1\n{MINIMAL}"), "unknown field"),
        (format!("[limits]\nmax_sessions = 0\n{MINIMAL}"), "max_sessions"),
        ("[audit]\npath = \"a\"".to_owned(), "tls"),
        (format!("[net]\nresolvers = [\"dns.lan\"]\n{MINIMAL}"), "net.resolvers"),
        (format!("[net]\nurls = [\"ftp://x\"]\n{MINIMAL}"), "not an http"),
        (format!("[doctor]\ndisk_warn_percent = 99\n{MINIMAL}"), "must not exceed"),
        (format!("[doctor]\nmemory_warn_percent = 120.0\n{MINIMAL}"), "0 to 100"),
        (format!("[doctor]\nsample_secs = 0\n{MINIMAL}"), "sample_secs"),
        (format!("[restore]\npaths = []\n{MINIMAL}"), "restore.paths"),
        (format!("[restore]\npaths = [\"etc\"]\n{MINIMAL}"), "absolute"),
        (
            format!("[restore]\npaths = [\"/etc\"]\nschedule_hours = -1\n{MINIMAL}"),
            "schedule_hours",
        ),
        (format!("[restore]\nbackend = \"zfs\"\n{MINIMAL}"), "restore.backend"),
        (
            format!("[restore]\nbackend = \"snapper\"\npaths = [\"/etc\"]\n{MINIMAL}"),
            "snapper_config",
        ),
    ];
    for (text, needle) in cases {
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        assert!(err.starts_with("invalid config /etc/tether/agent.toml"), "{err}");
    }
}
