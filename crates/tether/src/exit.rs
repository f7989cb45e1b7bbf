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

use std::process::ExitCode;

use tether_proto::ErrorKind;
use tether_transport::TransportError;
use tether_transport::error::ConnectionFailure;

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
/// Check commands (Nagios plugins) report any failure to run as UNKNOWN.
pub const UNKNOWN: u8 = 3;
pub const UNREACHABLE: u8 = 4;
pub const AUTHENTICATION: u8 = 5;
pub const DENIED: u8 = 6;
pub const VERSION_MISMATCH: u8 = 7;

/// Nagios plugin codes for a check's result.
pub const NAGIOS_OK: u8 = 0;
pub const NAGIOS_WARNING: u8 = 1;
pub const NAGIOS_CRITICAL: u8 = 2;

/// `tether net`: CRITICAL when a layer fails, WARNING when everything
/// works but something deserves attention, else OK.
pub fn for_net(verdict: &tether_proto::net::Verdict) -> ExitCode {
    ExitCode::from(match (&verdict.failing_layer, verdict.warnings.is_empty()) {
        (Some(_), _) => NAGIOS_CRITICAL,
        (None, false) => NAGIOS_WARNING,
        (None, true) => NAGIOS_OK,
    })
}

/// The exit code for an error: the first transport error in its chain
/// decides; anything else is a plain failure.
pub fn for_error(err: &anyhow::Error) -> ExitCode {
    let code = err.chain().find_map(|e| e.downcast_ref::<TransportError>()).map_or(FAILURE, |t| {
        match (t.agent_reply(), t.failure()) {
            (Some(reply), _) if reply.kind == ErrorKind::Denied => DENIED,
            (Some(reply), _) if reply.kind == ErrorKind::Unsupported => VERSION_MISMATCH,
            (Some(_), _) => FAILURE,
            (None, ConnectionFailure::Unreachable) => UNREACHABLE,
            (None, ConnectionFailure::Authentication) => AUTHENTICATION,
            (None, ConnectionFailure::Version) => VERSION_MISMATCH,
            (None, ConnectionFailure::Other) => FAILURE,
        }
    });
    ExitCode::from(code)
}
