//! Runs the check set on many hosts at once: one QUIC endpoint, at most
//! `concurrency` hosts in flight, a deadline per attempt and a retry for
//! hosts that did not answer, results handed over as each host finishes.
//!
//! A silent host (a UDP port that swallows everything) costs one deadline
//! per attempt and never holds up the others: each host is its own task,
//! and the deadline drops the attempt whatever it is waiting for.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tether_transport::TransportError;
use tokio::task::JoinSet;

use crate::connect::Connector;
use crate::error::ClientError;
use crate::exit::CheckStatus;
use crate::fleet::checks::{self, CheckResult, CheckSet};
use crate::fleet::inventory::FleetHost;

/// Default number of hosts checked at once: far more than a check needs
/// round trips, few enough that one controller's sockets, memory and
/// two cores keep up.
pub const DEFAULT_CONCURRENCY: usize = 512;

/// How a run proceeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunOptions {
    /// Hosts in flight at once (at least 1).
    pub concurrency: usize,
    /// How long one attempt at one host may take, connecting included.
    pub deadline: Duration,
    /// Further attempts after no answer or a timeout.
    pub retries: u32,
}

impl RunOptions {
    /// The deadline and retries of `set`, with `concurrency`.
    pub fn new(set: &CheckSet, concurrency: usize) -> RunOptions {
        RunOptions {
            concurrency: concurrency.max(1),
            deadline: Duration::from_secs_f64(set.deadline_secs),
            retries: set.retries,
        }
    }
}

/// Why a host is not OK, as the summary groups hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureCause {
    /// No answer, refused, reset, or a name that does not resolve.
    Unreachable,
    /// The deadline passed.
    Timeout,
    /// A certificate was refused by either side.
    Authentication,
    /// Protocol versions differ, or the agent is too old for the fleet
    /// request.
    Version,
    /// The agent's policy refused the fleet role.
    Denied,
    /// The agent answered with an error, or with nonsense.
    AgentError,
    /// The host answered, and some check is not OK.
    Checks,
}

impl FailureCause {
    /// The name used in output: "unreachable", "timeout", ….
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureCause::Unreachable => "unreachable",
            FailureCause::Timeout => "timeout",
            FailureCause::Authentication => "authentication",
            FailureCause::Version => "version",
            FailureCause::Denied => "denied",
            FailureCause::AgentError => "agent-error",
            FailureCause::Checks => "checks",
        }
    }

    /// Whether another attempt may go better.
    const fn retryable(self) -> bool {
        matches!(self, FailureCause::Unreachable | FailureCause::Timeout)
    }

    fn of(err: &ClientError) -> FailureCause {
        match err {
            ClientError::Unreachable(TransportError::Timeout { .. }) => FailureCause::Timeout,
            ClientError::Unreachable(_)
            | ClientError::Resolve { .. }
            | ClientError::NoAddress { .. }
            | ClientError::InvalidAddress { .. } => FailureCause::Unreachable,
            ClientError::Authentication(_) => FailureCause::Authentication,
            ClientError::VersionMismatch(_) | ClientError::Unsupported { .. } => {
                FailureCause::Version
            }
            ClientError::Denied { .. } => FailureCause::Denied,
            _ => FailureCause::AgentError,
        }
    }
}

/// One host's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostReport {
    /// The inventory's alias.
    pub host: String,
    /// The address as the inventory has it.
    pub address: String,
    /// The agent's software, when it was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The worst status of its checks.
    pub status: CheckStatus,
    /// Why it is not OK; `None` when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<FailureCause>,
    /// The QUIC and TLS handshake, when it completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_seconds: Option<f64>,
    /// From the first attempt's start to the end, retries included.
    pub duration_seconds: f64,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// Every check's result; a host that could not be reached has only
    /// `reachability`.
    pub checks: Vec<CheckResult>,
}

/// Checks every host of `hosts` with `set`, at most
/// `options.concurrency` at once, and hands each report to `each` as its
/// host finishes (in completion order). Returns when every host is done.
///
/// Give it a connector made [`with_shared_endpoint`](Connector::with_shared_endpoint)
/// so all connections share one socket, and call
/// [`Connector::close_shared`] afterwards.
pub async fn run(
    connector: &Connector,
    hosts: impl IntoIterator<Item = FleetHost>,
    set: Arc<CheckSet>,
    options: RunOptions,
    mut each: impl FnMut(HostReport),
) {
    let connector = Arc::new(connector.clone());
    let mut hosts = hosts.into_iter();
    let mut tasks = JoinSet::new();
    // Which host each task checks, to report a task that panicked.
    let mut in_flight = HashMap::new();
    loop {
        while tasks.len() < options.concurrency.max(1) {
            let Some(host) = hosts.next() else { break };
            let task = {
                let (connector, set, host) =
                    (Arc::clone(&connector), Arc::clone(&set), host.clone());
                tasks.spawn(async move { check_host(&connector, host, &set, options).await })
            };
            in_flight.insert(task.id(), host);
        }
        let Some(joined) = tasks.join_next_with_id().await else { break };
        let report = match joined {
            Ok((id, report)) => {
                in_flight.remove(&id);
                report
            }
            Err(e) => {
                let Some(host) = in_flight.remove(&e.id()) else { continue };
                failed(
                    &host,
                    Instant::now(),
                    1,
                    FailureCause::AgentError,
                    format!("check failed: {e}"),
                )
            }
        };
        each(report);
    }
}

/// What one attempt came to.
enum Attempt {
    /// Connected and asked; `facts` is the request's outcome.
    Reached {
        agent: String,
        handshake: Duration,
        /// Boxed: the facts dwarf the other variant.
        facts: Box<Result<crate::fleet::FleetFactsReply, ClientError>>,
        /// Results of the `net` and `doctor` checks the set enables.
        deep: Vec<CheckResult>,
    },
    /// Never got as far as a session.
    Failed { cause: FailureCause, error: String },
}

async fn attempt(connector: &Connector, host: &FleetHost, set: &CheckSet) -> Attempt {
    let failed =
        |e: ClientError| Attempt::Failed { cause: FailureCause::of(&e), error: e.to_string() };
    let target = match host.resolve().await {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let started = Instant::now();
    let session = match connector.connect_to(target).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let handshake = started.elapsed();
    let agent = session.welcome().agent_software.clone();
    let (facts, deep) =
        tokio::join!(session.fleet_facts(set.request()), crate::fleet::deep::run(&session, set));
    session.finish().await;
    Attempt::Reached { agent, handshake, facts: Box::new(facts), deep }
}

async fn check_host(
    connector: &Connector,
    host: FleetHost,
    set: &CheckSet,
    options: RunOptions,
) -> HostReport {
    let started = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = tokio::time::timeout(options.deadline, attempt(connector, &host, set))
            .await
            .unwrap_or_else(|_| Attempt::Failed {
                cause: FailureCause::Timeout,
                error: format!("no answer within {:.1} s", options.deadline.as_secs_f64()),
            });
        let retry = |cause: FailureCause| cause.retryable() && attempts <= options.retries;
        match outcome {
            Attempt::Failed { cause, .. } if retry(cause) => continue,
            Attempt::Reached { ref facts, .. }
                if facts.as_ref().as_ref().is_err_and(|e| retry(FailureCause::of(e))) =>
            {
                continue;
            }
            Attempt::Failed { cause, error } => {
                return failed(&host, started, attempts, cause, error);
            }
            Attempt::Reached { agent, handshake, facts, deep } => {
                let report = reached(&host, set, started, attempts, agent, handshake, *facts);
                return with_deep(report, deep);
            }
        }
    }
}

/// Adds the `net` and `doctor` results; the status and cause follow.
fn with_deep(mut report: HostReport, deep: Vec<CheckResult>) -> HostReport {
    if deep.is_empty() {
        return report;
    }
    report.checks.extend(deep);
    report.status = report.checks.iter().map(|r| r.status).max().unwrap_or(CheckStatus::Unknown);
    if report.cause.is_none() && report.status != CheckStatus::Ok {
        report.cause = Some(FailureCause::Checks);
    }
    report
}

fn failed(
    host: &FleetHost,
    started: Instant,
    attempts: u32,
    cause: FailureCause,
    error: String,
) -> HostReport {
    HostReport {
        host: host.alias.clone(),
        address: host.address.clone(),
        agent: None,
        status: CheckStatus::Critical,
        cause: Some(cause),
        handshake_seconds: None,
        duration_seconds: started.elapsed().as_secs_f64(),
        attempts,
        checks: vec![CheckResult {
            check: "reachability".into(),
            status: CheckStatus::Critical,
            value: None,
            unit: "",
            message: error,
        }],
    }
}

fn reached(
    host: &FleetHost,
    set: &CheckSet,
    started: Instant,
    attempts: u32,
    agent: String,
    handshake: Duration,
    facts: Result<crate::fleet::FleetFactsReply, ClientError>,
) -> HostReport {
    let seconds = handshake.as_secs_f64();
    let mut results = vec![CheckResult {
        check: "reachability".into(),
        status: CheckStatus::Ok,
        value: Some(seconds),
        unit: "seconds",
        message: format!("answered in {:.0} ms", seconds * 1000.0),
    }];
    results.extend(checks::judge_handshake(set, seconds));
    let mut cause = None;
    match facts {
        Ok(reply) => {
            let now = (crate::clock::unix_ms() / 1000) as i64;
            results.extend(checks::judge_facts(set, &reply.facts, reply.clock_offset_ms, now));
        }
        Err(e) => {
            let why = FailureCause::of(&e);
            if let ClientError::Unsupported { .. } = e {
                results.push(CheckResult {
                    check: "version".into(),
                    status: CheckStatus::Critical,
                    value: None,
                    unit: "",
                    message: format!("{agent} is too old to answer fleet checks; upgrade it"),
                });
            }
            results.push(CheckResult::unknown("facts", e.to_string()));
            cause = Some(why);
        }
    }
    let status = results.iter().map(|r| r.status).max().unwrap_or(CheckStatus::Unknown);
    if cause.is_none() && status != CheckStatus::Ok {
        cause = Some(FailureCause::Checks);
    }
    HostReport {
        host: host.alias.clone(),
        address: host.address.clone(),
        agent: Some(agent),
        status,
        cause,
        handshake_seconds: Some(seconds),
        duration_seconds: started.elapsed().as_secs_f64(),
        attempts,
        checks: results,
    }
}
