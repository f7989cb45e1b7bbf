//! Checks that ask an agent more than `fleet-facts`: network targets from
//! the agent's side (`net`) and `doctor`'s findings. Both cost the agent
//! real work (`net` dials out; `doctor` watches the machine for a second),
//! so both are off unless a checks file asks for them, and a module that
//! enables them needs a `deadline_secs` long enough for them.

use serde::{Deserialize, Serialize};
use tether_proto::doctor::Finding;
use tether_proto::net::{NetCheckRequest, NetReport};

use crate::error::ClientError;
use crate::exit::CheckStatus;
use crate::fleet::checks::{CheckResult, CheckSet};
use crate::session::Session;

/// Network targets the agent checks (`tether net`); none by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetTargets {
    /// Names to resolve.
    pub dns: Vec<String>,
    /// `host:port` to connect to over TCP.
    pub tcp: Vec<String>,
    /// `http://` or `https://` URLs to GET.
    pub urls: Vec<String>,
}

impl NetTargets {
    /// The agent's request, when there is any target.
    pub fn request(&self) -> Option<NetCheckRequest> {
        let empty = self.dns.is_empty() && self.tcp.is_empty() && self.urls.is_empty();
        (!empty).then(|| NetCheckRequest {
            dns: self.dns.clone(),
            tcp: self.tcp.clone(),
            urls: self.urls.clone(),
            ping: Vec::new(),
            defaults: false,
        })
    }
}

/// `doctor`'s findings as checks; off by default (a 1 s watch window on
/// every agent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorCheck {
    /// Whether `doctor` runs (without its network part; use `[net]`).
    pub enabled: bool,
}

/// Runs the deep checks `set` enables on `session`, at once.
pub async fn run(session: &Session, set: &CheckSet) -> Vec<CheckResult> {
    let net = async {
        match set.net.request() {
            Some(request) => Some(session.net(request).await),
            None => None,
        }
    };
    let doctor = async {
        match set.doctor.enabled {
            true => Some(session.doctor(None).await),
            false => None,
        }
    };
    let (net, doctor) = tokio::join!(net, doctor);
    let mut out = Vec::new();
    match net {
        Some(Ok(report)) => out.push(judge_net(&report)),
        Some(Err(e)) => out.push(could_not("net", &e)),
        None => {}
    }
    match doctor {
        Some(Ok(report)) => out.extend(judge_doctor(&report.findings)),
        Some(Err(e)) => out.push(could_not("doctor", &e)),
        None => {}
    }
    out
}

fn could_not(check: &str, e: &ClientError) -> CheckResult {
    CheckResult::unknown(check, e.to_string())
}

/// The network verdict as one check: CRITICAL when a layer fails, WARNING
/// when something deserves attention.
pub fn judge_net(report: &NetReport) -> CheckResult {
    let verdict = &report.verdict;
    let mut message = verdict.summary.clone();
    if !verdict.warnings.is_empty() {
        message.push_str(&format!(" ({})", verdict.warnings.join("; ")));
    }
    CheckResult {
        check: "net".into(),
        status: CheckStatus::of_verdict(verdict),
        value: None,
        unit: "",
        message,
    }
}

/// Each `doctor` finding as a check named `doctor:<its check>`.
pub fn judge_doctor(findings: &[Finding]) -> Vec<CheckResult> {
    findings
        .iter()
        .map(|f| CheckResult {
            check: format!("doctor:{}", f.check),
            status: CheckStatus::of_severity(f.severity),
            value: None,
            unit: "",
            message: f.summary.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tether_proto::doctor::Severity;
    use tether_proto::net::{Layer, Verdict};

    use super::*;

    #[test]
    fn targets_make_a_request_only_when_there_are_any() {
        assert_eq!(NetTargets::default().request(), None);
        let targets = NetTargets { tcp: vec!["files.lan:445".into()], ..NetTargets::default() };
        let request = targets.request().unwrap();
        assert_eq!((request.tcp.len(), request.defaults), (1, false));
    }

    #[test]
    fn findings_and_verdicts_become_checks() {
        let finding = |severity, check: &str| Finding {
            severity,
            check: check.into(),
            summary: format!("{check} looked at"),
            next_step: String::new(),
        };
        let results =
            judge_doctor(&[finding(Severity::Crit, "disk"), finding(Severity::Unknown, "units")]);
        assert_eq!(results[0].check, "doctor:disk");
        assert_eq!(results[0].status, CheckStatus::Critical);
        assert_eq!(results[1].status, CheckStatus::Unknown);

        let verdict = |failing_layer, warnings: &[&str]| Verdict {
            failing_layer,
            summary: "summary".into(),
            warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
        };
        let report = |v| NetReport {
            links: vec![],
            gateway: None,
            resolvers: vec![],
            proxies: vec![],
            dns: vec![],
            tcp: vec![],
            http: vec![],
            ping: vec![],
            verdict: v,
        };
        assert_eq!(judge_net(&report(verdict(None, &[]))).status, CheckStatus::Ok);
        let warned = judge_net(&report(verdict(None, &["slow resolver"])));
        assert_eq!(warned.status, CheckStatus::Warning);
        assert!(warned.message.contains("slow resolver"));
        let failed = judge_net(&report(verdict(Some(Layer::Service), &[])));
        assert_eq!(failed.status, CheckStatus::Critical);
    }
}
