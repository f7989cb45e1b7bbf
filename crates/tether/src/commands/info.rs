//! `tether info HOST`: a short machine summary.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tether_proto::message::SystemSummary;
use tether_proto::{Request, Response};

use crate::cli::GlobalArgs;
use crate::connect;
use crate::render;

/// The `--json` document. Field names are a stable interface for scripts.
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
    pub system: SystemSummary,
}

pub async fn run(global: &GlobalArgs, host: &str, json: bool) -> anyhow::Result<ExitCode> {
    let session = connect::connect(global, host).await?;
    let sent = unix_ms();
    let response = session
        .client
        .request(&Request::Info, global.timeout()?)
        .await?;
    let received = unix_ms();
    let Response::Info(system) = response else {
        anyhow::bail!("{}: unexpected reply to info", session.client.target());
    };
    let midpoint = (sent + received) / 2;
    let report = InfoReport {
        host: host.to_owned(),
        agent: session.client.welcome().agent_name.clone(),
        address: session.target.addr.to_string(),
        session: session.client.welcome().session_id.clone(),
        clock_offset_ms: system.agent_time_unix_ms as i64 - midpoint as i64,
        system: *system,
    };
    let welcome = session.client.welcome().clone();
    session.finish().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!(
            "{}",
            human(
                &report,
                &format!("{} ({})", welcome.technician, welcome.role)
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The aligned report for people.
pub fn human(r: &InfoReport, you: &str) -> String {
    let s = &r.system;
    let cores = match s.cpu_physical {
        Some(p) => format!("{} logical / {p} physical", s.cpu_logical),
        None => format!("{} logical", s.cpu_logical),
    };
    let [l1, l5, l15] = s.load_average;
    let rows = [
        ("hostname", s.hostname.clone()),
        (
            "os",
            format!("{} {}", s.os_name, s.os_version)
                .trim_end()
                .to_owned(),
        ),
        ("kernel", format!("{} {}", s.kernel, s.arch)),
        (
            "uptime",
            format!(
                "{} (booted {})",
                render::uptime(s.uptime_secs),
                render::unix_time(s.boot_time_unix)
            ),
        ),
        ("cpu", format!("{}, {cores}", s.cpu_model)),
        ("load", format!("{l1:.2} {l5:.2} {l15:.2}")),
        (
            "memory",
            format!(
                "{} used of {} ({} available)",
                render::bytes(s.memory_used),
                render::bytes(s.memory_total),
                render::bytes(s.memory_available)
            ),
        ),
        (
            "swap",
            match s.swap_total {
                0 => "none".to_owned(),
                total => format!(
                    "{} used of {}",
                    render::bytes(s.swap_used),
                    render::bytes(total)
                ),
            },
        ),
        ("clock", render::clock_offset(r.clock_offset_ms)),
        ("agent", s.agent_version.clone()),
    ];
    let mut out = format!(
        "{} at {}  (session {}, you are {you})\n",
        r.agent, r.address, r.session
    );
    for (label, value) in rows {
        out.push_str(&format!("  {label:<9} {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_report_has_every_row() {
        let report = InfoReport {
            host: "h".into(),
            agent: "agent-01".into(),
            address: "127.0.0.1:7433".into(),
            session: "ab".into(),
            clock_offset_ms: -3000,
            system: SystemSummary {
                hostname: "ws-042".into(),
                os_name: "Debian GNU/Linux".into(),
                os_version: "12".into(),
                kernel: "6.1.0".into(),
                arch: "x86_64".into(),
                uptime_secs: 3700,
                boot_time_unix: 1_795_000_000,
                cpu_model: "Example CPU".into(),
                cpu_logical: 4,
                cpu_physical: Some(2),
                load_average: [0.5, 0.25, 0.125],
                memory_total: 8 << 30,
                memory_used: 2 << 30,
                memory_available: 6 << 30,
                swap_total: 0,
                swap_used: 0,
                agent_version: "tether-agent 0.1.0".into(),
                agent_time_unix_ms: 0,
            },
        };
        let text = human(&report, "alice (tier1)");
        for needle in [
            "agent-01 at 127.0.0.1:7433  (session ab, you are alice (tier1))",
            "  hostname  ws-042",
            "  os        Debian GNU/Linux 12\n",
            "  swap      none\n",
            "  uptime    1 h 1 min (booted 2026-11-18 11:06 UTC)",
            "  cpu       Example CPU, 4 logical / 2 physical",
            "  load      0.50 0.25 0.12",
            "  memory    2.0 GiB used of 8.0 GiB (6.0 GiB available)",
            "  clock     3.0 s behind this machine",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }
}
