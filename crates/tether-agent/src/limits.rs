//! `[limits]`: how much of the agent any peer may hold.
//!
//! Every figure bounds something a peer can open: half-open handshakes
//! (anyone on the network), sessions (authenticated technicians and fleet
//! monitors), idle sessions, and view streams (tier 1 and up). The
//! defaults suit a workstation with a handful of technicians; each is
//! documented where it is declared.

use std::time::Duration;

use serde::Deserialize;

use crate::setting::SettingError;

/// Sessions an agent serves at once unless configured otherwise. A help desk
/// rarely has more than a handful of technicians on one machine; the cap
/// bounds memory and CPU a flood of authenticated connections can take.
pub const DEFAULT_MAX_SESSIONS: usize = 32;

/// Sessions one certificate may hold at once unless configured otherwise:
/// a technician running a few commands in parallel and a viewer fits;
/// one leaked or buggy identity cannot take every slot.
pub const DEFAULT_MAX_SESSIONS_PER_IDENTITY: usize = 8;

/// A session that sends no request for this long is ended (a view stream
/// in progress counts as activity). Ten minutes, like common SSH and VPN
/// idle limits: long enough for a technician reading output, short enough
/// that forgotten sessions give their slot back.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// TLS handshakes in progress at once unless configured otherwise. An
/// honest handshake takes a few milliseconds; the cap bounds what
/// unauthenticated peers can make the agent hold.
pub const DEFAULT_MAX_HANDSHAKES: usize = 64;

/// View streams the agent serves at once. One 1080p view holds about
/// 20 MB (capture buffers, the encoder's two frames and zstd state), so
/// the default keeps streaming under ~80 MB whatever peers ask for.
pub const DEFAULT_MAX_VIEWS: usize = 4;

/// View streams one session may hold at once: a viewer and one spare for
/// a second monitor.
pub const DEFAULT_MAX_VIEWS_PER_SESSION: usize = 2;

/// `[limits]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    max_sessions: Option<usize>,
    max_fleet_sessions: Option<usize>,
    max_sessions_per_identity: Option<usize>,
    idle_timeout_secs: Option<f64>,
    max_handshakes: Option<usize>,
    max_views: Option<usize>,
    max_views_per_session: Option<usize>,
}

/// Validated limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Sessions of any role at once.
    pub max_sessions: usize,
    /// Sessions with the `fleet` role at once. Always below
    /// `max_sessions`, so monitoring can never take the slots technicians
    /// need (default: half of `max_sessions`).
    pub max_fleet_sessions: usize,
    /// Sessions one certificate (by serial) may hold at once.
    pub max_sessions_per_identity: usize,
    /// A session without requests for this long is closed.
    pub idle_timeout: Duration,
    /// TLS handshakes in progress at once.
    pub max_handshakes: usize,
    /// View streams on the whole agent.
    pub max_views: usize,
    /// View streams per session.
    pub max_views_per_session: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_raw(RawLimits::default()).expect("the defaults are valid")
    }
}

impl Limits {
    pub(crate) fn from_raw(raw: RawLimits) -> Result<Limits, SettingError> {
        let at_least_one = |name: &str, v: Option<usize>, default: usize| match v {
            Some(0) => Err(SettingError::value(format!("limits.{name}"), 0, "use at least 1")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let max_sessions = at_least_one("max_sessions", raw.max_sessions, DEFAULT_MAX_SESSIONS)?;
        let max_fleet_sessions = match raw.max_fleet_sessions {
            None => (max_sessions / 2).max(1),
            Some(n) if max_sessions > 1 && n >= max_sessions => {
                return Err(SettingError::conflict(
                    "limits.max_fleet_sessions",
                    format!(
                        "= {n} must be below max_sessions = {max_sessions}, so fleet \
                         monitoring cannot take every slot technicians need"
                    ),
                ));
            }
            Some(n) => n,
        };
        let idle_timeout = match raw.idle_timeout_secs {
            None => DEFAULT_IDLE_TIMEOUT,
            Some(s) if s.is_finite() && s >= 0.1 => Duration::from_secs_f64(s),
            Some(s) => {
                return Err(SettingError::value("limits.idle_timeout_secs", s, "use at least 0.1"));
            }
        };
        let max_views = at_least_one("max_views", raw.max_views, DEFAULT_MAX_VIEWS)?;
        Ok(Limits {
            max_sessions,
            max_fleet_sessions,
            max_sessions_per_identity: at_least_one(
                "max_sessions_per_identity",
                raw.max_sessions_per_identity,
                DEFAULT_MAX_SESSIONS_PER_IDENTITY,
            )?,
            idle_timeout,
            max_handshakes: at_least_one(
                "max_handshakes",
                raw.max_handshakes,
                DEFAULT_MAX_HANDSHAKES,
            )?,
            max_views,
            max_views_per_session: at_least_one(
                "max_views_per_session",
                raw.max_views_per_session,
                DEFAULT_MAX_VIEWS_PER_SESSION,
            )?
            .min(max_views),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Limits, String> {
        Limits::from_raw(toml::from_str(text).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_reserve_half_the_slots_for_technicians() {
        let l = Limits::default();
        assert_eq!(l.max_sessions, DEFAULT_MAX_SESSIONS);
        assert_eq!(l.max_fleet_sessions, DEFAULT_MAX_SESSIONS / 2);
        assert_eq!(l.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert!(l.max_views_per_session <= l.max_views);
    }

    #[test]
    fn fleet_share_must_leave_room_for_technicians() {
        let err = parse("max_sessions = 4\nmax_fleet_sessions = 4").unwrap_err();
        assert!(err.contains("must be below max_sessions"), "{err}");
        assert_eq!(
            parse("max_sessions = 4\nmax_fleet_sessions = 3").unwrap().max_fleet_sessions,
            3
        );
        assert_eq!(parse("max_sessions = 1").unwrap().max_fleet_sessions, 1);
    }

    #[test]
    fn zero_and_nonsense_are_refused() {
        for (text, field) in [
            ("max_sessions = 0", "max_sessions"),
            ("max_views = 0", "max_views"),
            ("max_handshakes = 0", "max_handshakes"),
            ("idle_timeout_secs = 0.0", "idle_timeout_secs"),
            ("idle_timeout_secs = nan", "idle_timeout_secs"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn per_session_views_never_exceed_the_agent_total() {
        let l = parse("max_views = 1\nmax_views_per_session = 3").unwrap();
        assert_eq!(l.max_views_per_session, 1);
    }
}
