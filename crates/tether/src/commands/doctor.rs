//! `tether doctor HOST`: ranked health findings with next steps. A check
//! command: exits with the Nagios code of the worst finding.

use tether_client::Session;
use tether_client::exit::{CheckStatus, Outcome};
use tether_proto::doctor::{DoctorReport, Severity};
use tether_proto::net::NetCheckRequest;

use super::Done;
use crate::render;

/// Runs the health check on `session` and prints its findings.
pub async fn on(
    session: &Session,
    net: Option<NetCheckRequest>,
    json: bool,
) -> anyhow::Result<Done> {
    let agent = &session.welcome().agent_name;
    let report = session.doctor(net).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(agent, &report));
    }
    let status = CheckStatus::of_findings(&report.findings);
    Ok(Done::new(Outcome::Check(status), summary(&report)))
}

/// "doctor: CRITICAL (1 critical, 2 warning): disk / 97% full"
fn summary(r: &DoctorReport) -> String {
    let status = CheckStatus::of_findings(&r.findings);
    let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    let mut line = format!(
        "doctor: {} ({} critical, {} warning)",
        status.as_str(),
        count(Severity::Crit),
        count(Severity::Warn)
    );
    // The findings arrive ranked, worst first.
    if let Some(worst) = r.findings.first().filter(|f| f.severity != Severity::Ok) {
        line.push_str(&format!(": {}", render::remote(&worst.summary)));
    }
    line
}

/// The findings for people, worst first.
pub fn human(agent: &str, r: &DoctorReport) -> String {
    let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    let status = CheckStatus::of_findings(&r.findings).as_str();
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
    use tether_proto::doctor::{Finding, rank};

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
