//! `tether info HOST`: the machine's system information.

use serde::Serialize;
use tether_client::Session;
use tether_proto::system::SystemInfo;

use super::Done;
use crate::render::{self, Align, table};

/// The `--json` document. Field names are a stable interface for scripts
/// (documented in the README).
#[derive(Debug, Serialize)]
pub struct InfoReport {
    /// The HOST argument as given.
    pub host: String,
    /// The agent's name (from its certificate and configuration).
    pub agent: String,
    pub address: String,
    /// The session id under which the agent audited this query.
    pub session: String,
    /// Agent clock minus this machine's clock, in milliseconds (estimated
    /// from the middle of the round trip).
    pub clock_offset_ms: i64,
    pub system: SystemInfo,
}

/// Asks for the system information on `session` and prints it.
pub async fn on(session: &Session, host: &str, json: bool) -> anyhow::Result<Done> {
    let info = session.info().await?;
    let welcome = session.welcome();
    let report = InfoReport {
        host: host.to_owned(),
        agent: welcome.agent_name.clone(),
        address: session.target().addr.to_string(),
        session: welcome.session_id.clone(),
        clock_offset_ms: info.clock_offset_ms,
        system: info.system,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(&report, &format!("{} ({})", welcome.technician, welcome.role)));
    }
    Ok(Done::success(summary(&report)))
}

/// "info: ws-042, Debian GNU/Linux 12, up 3 days, 12% CPU, 2.0 GiB of 8.0 GiB RAM"
fn summary(r: &InfoReport) -> String {
    let h = &r.system.host;
    let m = &r.system.memory;
    let line = format!(
        "info: {}, {} {}, up {}, {:.0}% CPU, {} of {} RAM used",
        h.hostname,
        h.os_name,
        h.os_version,
        render::uptime(h.uptime_secs),
        r.system.cpu.usage_percent,
        render::bytes(m.used),
        render::bytes(m.total)
    );
    render::remote(&line).into_owned()
}

pub fn human(r: &InfoReport, you: &str) -> String {
    let s = &r.system;
    let h = &s.host;
    let mut out = format!(
        "{} at {}  (session {}, you are {})\n",
        render::remote(&r.agent),
        r.address,
        render::remote(&r.session),
        render::remote(you)
    );
    let os = format!("{} {}", h.os_name, h.os_version).trim_end().to_owned();
    let rows = [
        ("host", format!("{} · {os} · kernel {} {}", h.hostname, h.kernel, h.arch)),
        (
            "uptime",
            format!(
                "{} (booted {})",
                render::uptime(h.uptime_secs),
                render::unix_time(h.boot_time_unix)
            ),
        ),
        (
            "reboot",
            h.pending_reboot
                .clone()
                .map_or_else(|| "not pending".to_owned(), |why| format!("PENDING: {why}")),
        ),
        ("clock", render::clock_offset(r.clock_offset_ms)),
        ("agent", h.agent_version.clone()),
    ];
    push_rows(&mut out, &rows);

    let c = &s.cpu;
    let cores = match c.physical {
        Some(p) => format!("{} logical / {p} physical", c.logical),
        None => format!("{} logical", c.logical),
    };
    let per_core: Vec<String> = c.per_core_percent.iter().map(|u| format!("{u:.0}%")).collect();
    let [l1, l5, l15] = c.load_average;
    out.push_str("CPU\n");
    let freq = if c.frequency_mhz > 0 {
        format!(", {:.1} GHz", c.frequency_mhz as f64 / 1000.0)
    } else {
        String::new()
    };
    push_rows(
        &mut out,
        &[
            ("model", format!("{}, {cores}{freq}", c.model)),
            (
                "usage",
                format!(
                    "{:.0}% over {} ms (per core: {})",
                    c.usage_percent,
                    c.sample_ms,
                    per_core.join(" ")
                ),
            ),
            ("load", format!("{l1:.2} {l5:.2} {l15:.2}")),
        ],
    );

    let m = &s.memory;
    out.push_str("Memory\n");
    let swap = match m.swap_total {
        0 => "none".to_owned(),
        total => format!("{} used of {}", render::bytes(m.swap_used), render::bytes(total)),
    };
    push_rows(
        &mut out,
        &[
            (
                "ram",
                format!(
                    "{} used of {} ({} available)",
                    render::bytes(m.used),
                    render::bytes(m.total),
                    render::bytes(m.available)
                ),
            ),
            ("swap", swap),
        ],
    );

    out.push_str("Disks\n");
    let disks: Vec<Vec<String>> = s
        .disks
        .iter()
        .map(|d| {
            vec![
                d.mount_point.clone(),
                d.file_system.clone(),
                render::bytes(d.total),
                render::bytes(d.used),
                render::bytes(d.available),
                // Rounded up, as df does: 99.2% full is not "99%".
                format!("{:.0}%", d.used_percent().ceil()),
                [d.read_only.then_some("read-only"), d.removable.then_some("removable")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    let headers = [
        ("MOUNT", Align::Left),
        ("FS", Align::Left),
        ("SIZE", Align::Right),
        ("USED", Align::Right),
        ("AVAIL", Align::Right),
        ("USE%", Align::Right),
        ("FLAGS", Align::Left),
    ];
    render::indent(&mut out, &table(&headers, &disks));

    out.push_str("Network\n");
    let nics: Vec<Vec<String>> = s
        .interfaces
        .iter()
        .map(|i| {
            vec![
                i.name.clone(),
                if i.up { "up" } else { "DOWN" }.to_owned(),
                if i.addresses.is_empty() { "-".to_owned() } else { i.addresses.join(" ") },
                render::bytes(i.rx_bytes),
                render::bytes(i.tx_bytes),
                format!("{}/{}", i.rx_errors, i.tx_errors),
            ]
        })
        .collect();
    let headers = [
        ("IFACE", Align::Left),
        ("LINK", Align::Left),
        ("ADDRESSES", Align::Left),
        ("RX", Align::Right),
        ("TX", Align::Right),
        ("ERRORS", Align::Right),
    ];
    render::indent(&mut out, &table(&headers, &nics));

    let temps: Vec<String> = s
        .temperatures
        .iter()
        .map(|t| match t.celsius {
            Some(c) => format!("{} {c:.0} °C", t.label),
            None => format!("{} ?", t.label),
        })
        .collect();
    let users: Vec<String> = s
        .users
        .iter()
        .map(|u| {
            let from = if u.host.is_empty() { String::new() } else { format!(" from {}", u.host) };
            format!("{} on {}{from} since {}", u.user, u.line, render::unix_time(u.login_time_unix))
        })
        .collect();
    let batteries: Vec<String> = s
        .batteries
        .iter()
        .map(|b| match b.percent {
            Some(p) => format!("{} {p:.0}% {}", b.name, b.status.to_lowercase()),
            None => format!("{} {}", b.name, b.status.to_lowercase()),
        })
        .collect();
    out.push_str("Other\n");
    let or_none =
        |v: Vec<String>, none: &str| if v.is_empty() { none.to_owned() } else { v.join("; ") };
    push_rows(
        &mut out,
        &[
            ("sensors", or_none(temps, "no temperature sensors reported")),
            ("users", or_none(users, "nobody logged in")),
            ("battery", or_none(batteries, "none")),
        ],
    );
    out
}

/// Labelled lines; each value is escaped here, since nearly all of it
/// (host name, OS, CPU model, sensors, users, batteries) is the agent's.
fn push_rows(out: &mut String, rows: &[(&str, String)]) {
    for (label, value) in rows {
        out.push_str(&format!("  {label:<8} {}\n", render::remote(value)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_proto::system::{
        CpuInfo, DiskInfo, HostInfo, InterfaceInfo, LoginSession, MemoryInfo,
    };

    fn report() -> InfoReport {
        InfoReport {
            host: "h".into(),
            agent: "agent-01".into(),
            address: "127.0.0.1:7433".into(),
            session: "ab".into(),
            clock_offset_ms: -3000,
            system: SystemInfo {
                host: HostInfo {
                    hostname: "ws-042".into(),
                    os_name: "Debian GNU/Linux".into(),
                    os_version: "12".into(),
                    kernel: "6.1.0".into(),
                    arch: "x86_64".into(),
                    uptime_secs: 3700,
                    boot_time_unix: 1_795_000_000,
                    pending_reboot: Some("updated packages need a reboot: libc6".into()),
                    agent_version: "tether-agent 0.1.0".into(),
                    agent_time_unix_ms: 0,
                },
                cpu: CpuInfo {
                    model: "Example CPU".into(),
                    logical: 2,
                    physical: Some(1),
                    usage_percent: 12.4,
                    per_core_percent: vec![10.0, 14.8],
                    sample_ms: 250,
                    load_average: [0.5, 0.25, 0.125],
                    frequency_mhz: 2400,
                },
                memory: MemoryInfo {
                    total: 8 << 30,
                    used: 2 << 30,
                    available: 6 << 30,
                    swap_total: 0,
                    swap_used: 0,
                },
                disks: vec![DiskInfo {
                    mount_point: "/".into(),
                    device: "/dev/vda1".into(),
                    file_system: "ext4".into(),
                    total: 100 << 30,
                    used: 75 << 30,
                    available: 25 << 30,
                    read_only: false,
                    removable: false,
                }],
                interfaces: vec![InterfaceInfo {
                    name: "eth0".into(),
                    mac: "02:00:00:00:00:01".into(),
                    addresses: vec!["192.0.2.2/24".into()],
                    up: false,
                    mtu: 1500,
                    rx_bytes: 1 << 20,
                    tx_bytes: 2 << 20,
                    rx_errors: 3,
                    tx_errors: 0,
                }],
                temperatures: vec![],
                users: vec![LoginSession {
                    user: "alice".into(),
                    line: "tty1".into(),
                    host: String::new(),
                    login_time_unix: 1_795_000_000,
                }],
                batteries: vec![],
            },
        }
    }

    #[test]
    fn human_report_has_every_section() {
        let text = human(&report(), "alice (tier1)");
        for needle in [
            "agent-01 at 127.0.0.1:7433  (session ab, you are alice (tier1))",
            "  host     ws-042 · Debian GNU/Linux 12 · kernel 6.1.0 x86_64",
            "  reboot   PENDING: updated packages need a reboot: libc6",
            "  clock    3.0 s behind this machine",
            "  usage    12% over 250 ms (per core: 10% 15%)",
            "  model    Example CPU, 2 logical / 1 physical, 2.4 GHz",
            "  ram      2.0 GiB used of 8.0 GiB (6.0 GiB available)",
            "  swap     none",
            "  /      ext4  100.0 GiB  75.0 GiB  25.0 GiB   75%\n",
            "  eth0   DOWN  192.0.2.2/24  1.0 MiB  2.0 MiB     3/0",
            "  users    alice on tty1 since 2026-11-18 11:06 UTC",
            "  sensors  no temperature sensors reported",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn agent_strings_cannot_reach_the_terminal_raw() {
        let mut r = report();
        r.agent = "pc\x1b]0;owned\x07".into();
        r.system.host.hostname = "ws\nforged  line".into();
        r.system.disks[0].mount_point = "/mnt/\x1b[2J".into();
        r.system.users[0].user = "\u{202e}nimda".into();
        let text = human(&r, "alice\r (tier1)");
        assert!(!text.contains(['\x1b', '\r', '\u{202e}']), "{text}");
        assert!(text.contains("ws\\nforged  line"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("forged")), "{text}");
    }
}
