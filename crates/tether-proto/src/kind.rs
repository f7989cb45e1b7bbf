//! Request kinds: what the permission table, the audit log, the welcome's
//! list of supported requests and policy files speak about.
//!
//! [`RequestKind`], its names and whether it needs an intent record all
//! follow from the one table in the `request_kinds!` invocation below; the
//! permission table's `requirement` is an exhaustive match on it, so a new
//! kind does not compile until it has a tier.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! request_kinds {
    ($( $(#[$doc:meta])* $kind:ident = $name:literal, intent: $intent:literal; )+) => {
        /// The kind of a request, without its arguments.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum RequestKind {
            $( $(#[$doc])* $kind, )+
        }

        impl RequestKind {
            /// Every request kind, in a stable order.
            pub const ALL: &'static [RequestKind] = &[$(RequestKind::$kind),+];

            /// The name used in the audit log, policy files and messages.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RequestKind::$kind => $name,)+
                }
            }

            /// Whether the agent must make an *intent* record durable
            /// before the request runs: true for everything that changes
            /// the machine (kill, restore points, input) or reaches the
            /// user's screen. If that record cannot be written, the request
            /// is refused instead of running unrecorded. Queries that only
            /// read machine facts are recorded once, before their reply.
            pub const fn records_intent(self) -> bool {
                match self {
                    $(RequestKind::$kind => $intent,)+
                }
            }
        }
    };
}

request_kinds! {
    /// The machine's system information.
    Info = "info", intent: false;
    /// The newest audit records.
    AuditTail = "audit-tail", intent: false;
    /// The process list.
    Processes = "ps", intent: false;
    /// A signal to a process.
    Kill = "kill", intent: true;
    /// Network checks.
    Net = "net", intent: false;
    /// Health checks.
    Doctor = "doctor", intent: false;
    /// Upload and download measurements.
    Throughput = "throughput", intent: false;
    RestoreList = "restore-list", intent: false;
    RestoreShow = "restore-show", intent: false;
    RestoreDiff = "restore-diff", intent: false;
    RestoreVerify = "restore-verify", intent: false;
    RestoreCreate = "restore-create", intent: true;
    RestoreRollback = "restore-rollback", intent: true;
    RestoreUndo = "restore-undo", intent: true;
    RestoreDelete = "restore-delete", intent: true;
    /// The display's monitors.
    Monitors = "monitors", intent: false;
    /// One frame of the screen.
    Screenshot = "screenshot", intent: true;
    /// The view stream without control.
    View = "view", intent: true;
    /// Mouse and keyboard: `Input`, and `View` with control.
    Control = "control", intent: true;
    /// The cheap facts a fleet health check judges.
    FleetFacts = "fleet-facts", intent: false;
}

impl RequestKind {
    /// Looks a kind up by its [`as_str`](Self::as_str) name.
    pub fn from_name(name: &str) -> Option<RequestKind> {
        RequestKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_unique_and_round_trip() {
        for kind in RequestKind::ALL {
            assert_eq!(RequestKind::from_name(kind.as_str()), Some(*kind));
        }
        assert_eq!(RequestKind::from_name("nope"), None);
    }

    #[test]
    fn actions_need_an_intent_record_and_queries_do_not() {
        let intent: Vec<_> =
            RequestKind::ALL.iter().filter(|k| k.records_intent()).map(|k| k.as_str()).collect();
        assert_eq!(
            intent,
            [
                "kill",
                "restore-create",
                "restore-rollback",
                "restore-undo",
                "restore-delete",
                "screenshot",
                "view",
                "control"
            ]
        );
    }
}
