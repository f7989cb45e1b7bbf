//! The agent's clock against this machine's: estimated from the middle of
//! a request's round trip, worded for people, and judged as a `doctor`
//! finding.

use std::time::{SystemTime, UNIX_EPOCH};

use tether_proto::doctor::{Finding, Severity};

/// Clock skew beyond which TLS, Kerberos and TOTP logins start failing.
pub const SKEW_WARN_MS: u64 = 5_000;
/// Clock skew at which they fail for certain.
pub const SKEW_CRIT_MS: u64 = 60_000;

/// Milliseconds since the Unix epoch by this machine's clock.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The agent's clock minus ours, taking the middle of the round trip as
/// the moment the agent read its clock.
///
/// ```
/// assert_eq!(tether_client::clock::clock_offset(5_000, 1_000, 1_000), 4_000);
/// ```
pub fn clock_offset(agent_ms: u64, sent_ms: u64, received_ms: u64) -> i64 {
    // Wide arithmetic: the agent's figure is untrusted and may be anything.
    let mid = (i128::from(sent_ms) + i128::from(received_ms)) / 2;
    let offset = i128::from(agent_ms) - mid;
    i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN + 1 } else { i64::MAX })
}

/// The offset of an agent's clock read just before it replied: the reply
/// arrived now, half a round trip (`rtt_ms / 2`) after the agent read it.
pub(crate) fn offset_of_reply(agent_ms: u64, rtt_ms: u64) -> i64 {
    let at_agent = unix_ms().saturating_sub(rtt_ms / 2);
    clock_offset(agent_ms, at_agent, at_agent)
}

/// A clock offset in plain words.
///
/// ```
/// use tether_client::clock::describe_offset;
///
/// assert_eq!(describe_offset(-3_000), "3.0 s behind this machine");
/// assert_eq!(describe_offset(200), "in step with this machine (within 0.5 s)");
/// ```
pub fn describe_offset(offset_ms: i64) -> String {
    let secs = offset_ms.unsigned_abs() as f64 / 1000.0;
    match offset_ms {
        o if o.unsigned_abs() < 500 => "in step with this machine (within 0.5 s)".to_owned(),
        o if o > 0 => format!("{secs:.1} s ahead of this machine"),
        _ => format!("{secs:.1} s behind this machine"),
    }
}

/// The `doctor` finding for the clock offset between agent and controller.
pub fn skew_finding(offset_ms: i64) -> Finding {
    let severity = match offset_ms.unsigned_abs() {
        o if o >= SKEW_CRIT_MS => Severity::Crit,
        o if o >= SKEW_WARN_MS => Severity::Warn,
        _ => Severity::Ok,
    };
    Finding {
        severity,
        check: "clock".into(),
        summary: format!("the agent's clock is {}", describe_offset(offset_ms)),
        next_step: if severity == Severity::Ok {
            String::new()
        } else {
            "fix time synchronisation (NTP); skew breaks TLS, Kerberos and one-time-password logins"
                .into()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offset_uses_the_middle_of_the_round_trip() {
        assert_eq!(clock_offset(1_000, 900, 1_100), 0);
        assert_eq!(clock_offset(5_000, 1_000, 1_000), 4_000);
        assert_eq!(clock_offset(0, 1_000, 3_000), -2_000);
        // A hostile agent's clock cannot overflow the arithmetic.
        assert_eq!(clock_offset(u64::MAX, 0, 0), i64::MAX);
        assert_eq!(clock_offset(1 << 63, 0, 0), i64::MAX);
        assert_eq!(clock_offset(0, u64::MAX, u64::MAX), i64::MIN + 1);
    }

    #[test]
    fn skew_thresholds() {
        assert_eq!(skew_finding(200).severity, Severity::Ok);
        assert_eq!(skew_finding(-6_000).severity, Severity::Warn);
        assert_eq!(skew_finding(120_000).severity, Severity::Crit);
        assert!(skew_finding(-6_000).summary.contains("6.0 s behind"));
        assert!(skew_finding(200).next_step.is_empty());
    }

    #[test]
    fn a_reply_from_an_agent_in_step_has_no_offset() {
        let offset = offset_of_reply(unix_ms(), 0);
        assert!(offset.abs() < 1_000, "{offset}");
    }
}
