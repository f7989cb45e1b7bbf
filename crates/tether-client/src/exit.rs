//! Exit codes: chosen here and nowhere else.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | failure not covered below (local files, bad arguments to the agent, agent-side errors) |
//! | 2 | command-line usage error (3 for the check commands `net` and `doctor`) |
//! | 3 | UNKNOWN: a check command (`net`, `doctor`) could not run |
//! | 4 | the agent could not be reached (no answer, timed out, reset) |
//! | 5 | authentication failed: a certificate was refused by either side |
//! | 6 | denied: the agent's permission table or policy refused the request |
//! | 7 | protocol version mismatch between controller and agent, or the agent does not support the request |
//!
//! Check commands use Nagios plugin codes throughout: 0 OK, 1 WARNING,
//! 2 CRITICAL, 3 UNKNOWN (including any failure to reach the agent).
//!
//! ```
//! use tether_client::exit::{self, CheckStatus, Outcome};
//!
//! assert_eq!(Outcome::Success.exit_code(), exit::SUCCESS);
//! assert_eq!(Outcome::Check(CheckStatus::Critical).exit_code(), 2);
//! // A check that could not run is UNKNOWN, whatever the reason.
//! assert_eq!(exit::for_failure(None, true), exit::UNKNOWN);
//! ```

use tether_proto::doctor::{Finding, Severity, overall};
use tether_proto::net::Verdict;

use crate::error::ClientError;

/// The command did what was asked.
pub const SUCCESS: u8 = 0;
/// A failure not covered below.
pub const FAILURE: u8 = 1;
/// The command line could not be parsed.
pub const USAGE: u8 = 2;
/// Check commands (Nagios plugins) report any failure to run as UNKNOWN.
pub const UNKNOWN: u8 = 3;
/// The agent could not be reached.
pub const UNREACHABLE: u8 = 4;
/// A certificate was refused by either side.
pub const AUTHENTICATION: u8 = 5;
/// The agent's permission table or policy refused the request.
pub const DENIED: u8 = 6;
/// Protocol versions differ, or the agent does not support the request.
pub const VERSION_MISMATCH: u8 = 7;

/// What a command that ran came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did what was asked.
    Success,
    /// It ran, but what it did failed: a process that did not exit, a
    /// restore store with problems.
    Failed,
    /// A check command's result.
    Check(CheckStatus),
}

impl Outcome {
    /// The process exit code for this outcome.
    pub const fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => SUCCESS,
            Outcome::Failed => FAILURE,
            Outcome::Check(status) => status.exit_code(),
        }
    }

    /// Success when `ok`, else [`Outcome::Failed`].
    pub const fn success_if(ok: bool) -> Outcome {
        if ok { Outcome::Success } else { Outcome::Failed }
    }
}

impl From<Outcome> for std::process::ExitCode {
    fn from(outcome: Outcome) -> Self {
        std::process::ExitCode::from(outcome.exit_code())
    }
}

/// A check's result, as Nagios plugins report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckStatus {
    /// All is well.
    Ok,
    /// It works, but something deserves attention.
    Warning,
    /// Something fails.
    Critical,
    /// The check could not run.
    Unknown,
}

impl CheckStatus {
    /// The Nagios plugin code.
    pub const fn exit_code(self) -> u8 {
        match self {
            CheckStatus::Ok => 0,
            CheckStatus::Warning => 1,
            CheckStatus::Critical => 2,
            CheckStatus::Unknown => UNKNOWN,
        }
    }

    /// `tether net`: CRITICAL when a layer fails, WARNING when everything
    /// works but something deserves attention, else OK.
    pub fn of_verdict(verdict: &Verdict) -> CheckStatus {
        match (&verdict.failing_layer, verdict.warnings.is_empty()) {
            (Some(_), _) => CheckStatus::Critical,
            (None, false) => CheckStatus::Warning,
            (None, true) => CheckStatus::Ok,
        }
    }

    /// `tether doctor`: the status of its worst finding.
    pub const fn of_severity(severity: Severity) -> CheckStatus {
        match severity {
            Severity::Ok => CheckStatus::Ok,
            Severity::Warn => CheckStatus::Warning,
            Severity::Crit => CheckStatus::Critical,
            Severity::Unknown => CheckStatus::Unknown,
        }
    }

    /// `tether doctor`: the status of the worst of `findings`.
    pub fn of_findings(findings: &[Finding]) -> CheckStatus {
        CheckStatus::of_severity(overall(findings))
    }

    /// The word Nagios output uses: "OK", "WARNING", "CRITICAL", "UNKNOWN".
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "OK",
            CheckStatus::Warning => "WARNING",
            CheckStatus::Critical => "CRITICAL",
            CheckStatus::Unknown => "UNKNOWN",
        }
    }
}

impl ClientError {
    /// The exit code of a command (not a check) that failed this way.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Unreachable(_) => UNREACHABLE,
            ClientError::Authentication(_) => AUTHENTICATION,
            ClientError::Denied { .. } => DENIED,
            ClientError::VersionMismatch(_) | ClientError::Unsupported { .. } => VERSION_MISMATCH,
            // Local files, bad addresses, the agent's own failures and any
            // other connection trouble.
            _ => FAILURE,
        }
    }
}

/// The exit code of a command that failed: `error` is the client error
/// behind the failure, if any (other failures, such as a file that cannot
/// be written, are plain failures). A check command that fails to run is
/// UNKNOWN whatever the reason.
pub fn for_failure(error: Option<&ClientError>, check: bool) -> u8 {
    match (check, error) {
        (true, _) => UNKNOWN,
        (false, Some(error)) => error.exit_code(),
        (false, None) => FAILURE,
    }
}

/// The exit code of a command line that could not be parsed: Nagios reads
/// 2 as CRITICAL, so a check's usage error is UNKNOWN.
pub const fn for_usage_error(check: bool) -> u8 {
    if check { UNKNOWN } else { USAGE }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tether_proto::ErrorReply;
    use tether_transport::TransportError;
    use tether_transport::error::ConnectionFailure;

    fn connection(kind: ConnectionFailure) -> ClientError {
        let err = TransportError::Connection { target: "pc".into(), detail: "x".into(), kind };
        ClientError::from_transport(err, "tether-agent 0.1.0", None)
    }

    #[test]
    fn every_documented_code_has_its_cause() {
        let target = || "pc (127.0.0.1:7433)".to_owned();
        let timeout = TransportError::Timeout {
            target: target(),
            what: "connecting and greeting the agent",
            after: Duration::from_secs(1),
        };
        let cases = [
            (ClientError::from_transport(timeout, "", None), UNREACHABLE),
            (connection(ConnectionFailure::Unreachable), UNREACHABLE),
            (connection(ConnectionFailure::Authentication), AUTHENTICATION),
            (connection(ConnectionFailure::Version), VERSION_MISMATCH),
            (connection(ConnectionFailure::Other), FAILURE),
            (ClientError::Denied { target: target(), reply: ErrorReply::denied("tier 3") }, DENIED),
            (
                ClientError::Unsupported {
                    target: target(),
                    agent: "tether-agent 0.1.0".into(),
                    kind: tether_proto::RequestKind::Net,
                },
                VERSION_MISMATCH,
            ),
            (ClientError::Agent { target: target(), reply: ErrorReply::internal("x") }, FAILURE),
            (ClientError::CrlMissing { path: "/none".into() }, FAILURE),
            (ClientError::NoAddress { host: "pc".into() }, FAILURE),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit_code(), code, "{err:?}");
            assert_eq!(for_failure(Some(&err), false), code, "{err:?}");
            assert_eq!(for_failure(Some(&err), true), UNKNOWN, "{err:?}");
        }
        assert_eq!(for_failure(None, false), FAILURE);
    }

    #[test]
    fn checks_use_nagios_codes() {
        let verdict = |failing: Option<&str>, warnings: &[&str]| Verdict {
            failing_layer: failing.map(|_| tether_proto::net::Layer::Dns),
            summary: String::new(),
            warnings: warnings.iter().map(|w| (*w).to_owned()).collect(),
        };
        assert_eq!(CheckStatus::of_verdict(&verdict(None, &[])).exit_code(), 0);
        assert_eq!(CheckStatus::of_verdict(&verdict(None, &["slow"])).exit_code(), 1);
        assert_eq!(CheckStatus::of_verdict(&verdict(Some("dns"), &["slow"])).exit_code(), 2);
        for (severity, code) in
            [(Severity::Ok, 0), (Severity::Warn, 1), (Severity::Crit, 2), (Severity::Unknown, 3)]
        {
            assert_eq!(Outcome::Check(CheckStatus::of_severity(severity)).exit_code(), code);
        }
        assert_eq!(Outcome::success_if(false).exit_code(), FAILURE);
        assert_eq!((for_usage_error(false), for_usage_error(true)), (USAGE, UNKNOWN));
    }
}
