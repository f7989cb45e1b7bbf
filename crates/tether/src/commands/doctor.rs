//! `tether doctor HOST`: ranked health findings with next steps. A check
//! command: exits with the Nagios code of the worst finding.

use std::process::ExitCode;

use tether_proto::doctor::{DoctorReport, DoctorRequest, Finding, Severity, overall, rank};
use tether_proto::net::NetCheckRequest;
use tether_proto::{Call, Request, Response};

use crate::cli::GlobalArgs;
use crate::commands::info::{clock_offset, unix_ms};
use crate::commands::net::CHECK_ALLOWANCE;
use crate::connect;
use crate::render;

/// Clock skew beyond which TLS, Kerberos and TOTP logins start failing.
const SKEW_WARN_MS: u64 = 5_000;
const SKEW_CRIT_MS: u64 = 60_000;

pub async fn run(
    global: &GlobalArgs,
    host: &str,
    net: Option<NetCheckRequest>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let session = connect::connect(global, host).await?;
    let agent = session.client.welcome().agent_name.clone();
    let response = session
        .client
        .request(
            &Request::Call(Call::Doctor(DoctorRequest { net })),
            global.timeout()? + CHECK_ALLOWANCE,
        )
        .await;
    let received = unix_ms();
    let half_rtt = (session.client.connection().rtt().as_millis() / 2) as u64;
    session.finish().await;
    let Response::Doctor(mut report) = response? else {
        anyhow::bail!("unexpected reply to doctor");
    };
    // The agent reads its clock at the end of its checks, just before it
    // replies: half a round trip before the reply arrived.
    let at_agent = received.saturating_sub(half_rtt);
    report.findings.push(skew_finding(clock_offset(report.agent_time_unix_ms, at_agent, at_agent)));
    rank(&mut report.findings);
    let status = overall(&report.findings);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(&agent, &report));
    }
    Ok(ExitCode::from(status.nagios_code()))
}

/// A finding for the clock offset between agent and controller.
pub fn skew_finding(offset_ms: i64) -> Finding {
    let severity = match offset_ms.unsigned_abs() {
        o if o >= SKEW_CRIT_MS => Severity::Crit,
        o if o >= SKEW_WARN_MS => Severity::Warn,
        _ => Severity::Ok,
    };
    Finding {
        severity,
        check: "clock".into(),
        summary: format!("the agent's clock is {}", render::clock_offset(offset_ms)),
        next_step: if severity == Severity::Ok {
            String::new()
        } else {
            "fix time synchronisation (NTP); skew breaks TLS, Kerberos and one-time-password logins"
                .into()
        },
    }
}

/// The findings for people, worst first.
pub fn human(agent: &str, r: &DoctorReport) -> String {
    let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    let status = match overall(&r.findings) {
        Severity::Ok => "OK",
        Severity::Warn => "WARNING",
        Severity::Crit => "CRITICAL",
        Severity::Unknown => "UNKNOWN",
    };
    let mut out = format!(
        "Doctor for {}: {status} ({} critical, {} warning, {} unknown, {} ok)\n",
        render::remote(agent),
        count(Severity::Crit),
        count(Severity::Warn),
        count(Severity::Unknown),
        count(Severity::Ok)
    );
    // Findings and their next steps are the agent's words: escaped.
    let width = r.findings.iter().map(|f| render::remote(&f.check).chars().count()).max();
    let width = width.unwrap_or(0);
    for f in &r.findings {
        out.push_str(&format!(
            "  {:<7} {:<width$}  {}\n",
            f.severity.as_str(),
            render::Escaped(&f.check),
            render::remote(&f.summary)
        ));
        if !f.next_step.is_empty() {
            out.push_str(&format!(
                "  {:<7} {:<width$}  → {}\n",
                "",
                "",
                render::remote(&f.next_step)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_thresholds() {
        assert_eq!(skew_finding(200).severity, Severity::Ok);
        assert_eq!(skew_finding(-6_000).severity, Severity::Warn);
        assert_eq!(skew_finding(120_000).severity, Severity::Crit);
        assert!(skew_finding(-6_000).summary.contains("6.0 s behind"));
    }

    #[test]
    fn report_is_ranked_with_next_steps() {
        let f = |severity, check: &str, next: &str| Finding {
            severity,
            check: check.into(),
            summary: format!("{check} summary"),
            next_step: next.into(),
        };
        let mut report = DoctorReport {
            findings: vec![
                f(Severity::Ok, "memory", ""),
                f(Severity::Warn, "zombies", "restart the parent"),
            ],
            net: None,
            agent_time_unix_ms: 0,
        };
        rank(&mut report.findings);
        let text = human("pc-7", &report);
        assert_eq!(
            text,
            "Doctor for pc-7: WARNING (0 critical, 1 warning, 0 unknown, 1 ok)\n  \
             WARN    zombies  zombies summary\n                   \
             → restart the parent\n  \
             OK      memory   memory summary\n"
        );
    }

    #[test]
    fn agent_findings_are_escaped() {
        let report = DoctorReport {
            findings: vec![Finding {
                severity: Severity::Warn,
                check: "disk\x1b[8m".into(),
                summary: "/mnt/x\nOK      all good".into(),
                next_step: "\x1b]0;t\x07".into(),
            }],
            net: None,
            agent_time_unix_ms: 0,
        };
        let text = human("pc\r", &report);
        assert!(!text.contains(['\x1b', '\r']), "{text:?}");
        assert_eq!(text.lines().count(), 3, "{text}");
    }
}
