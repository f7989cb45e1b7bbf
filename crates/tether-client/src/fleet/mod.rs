//! Fleet health checks as a library: an [`Inventory`] of hosts, a
//! [`CheckSet`] of thresholds, and a [`runner`] that reaches every selected
//! host over one QUIC endpoint with bounded concurrency and judges the
//! answer to its one cheap request (`fleet-facts`).
//!
//! Data flow: inventory → selection → [`runner::run`] (one task per host,
//! at most `concurrency` at once, each with a deadline and a retry) →
//! [`HostReport`]s handed to the caller one by one as they finish (so a
//! caller that streams them holds no more than `concurrency` hosts) → a
//! [`Summary`] folded from them. Rendering (table, JSON, Prometheus,
//! Nagios) is the `tether` binary's.

use std::time::Duration;

use tether_proto::fleet::{FleetFacts, FleetFactsRequest};
use tether_proto::{Call, Request, Response};

use crate::error::ClientError;
use crate::session::Session;

pub mod checks;
pub mod deep;
pub mod inventory;
pub mod runner;
pub mod summary;

pub use checks::{CheckResult, CheckSet};
pub use inventory::{FleetHost, Inventory, InventoryHost, Selection};
pub use runner::{FailureCause, HostReport, RunOptions};
pub use summary::Summary;

/// The answer to a fleet request, with the clock estimate made from it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetFactsReply {
    /// What the agent said.
    pub facts: FleetFacts,
    /// The agent's clock minus ours, in milliseconds.
    pub clock_offset_ms: i64,
}

impl Session {
    /// The facts a fleet check judges, read by the agent at one instant.
    pub async fn fleet_facts(
        &self,
        request: FleetFactsRequest,
    ) -> Result<FleetFactsReply, ClientError> {
        let request = Request::Call(Call::FleetFacts(request));
        let facts = self
            .ask(&request, Duration::ZERO, "fleet-facts", |r| match r {
                Response::FleetFacts(facts) => Some(*facts),
                _ => None,
            })
            .await?;
        let rtt_ms = self.rtt().as_millis() as u64;
        let clock_offset_ms = crate::clock::offset_of_reply(facts.agent_time_unix_ms, rtt_ms);
        Ok(FleetFactsReply { facts, clock_offset_ms })
    }
}
