//! Typed requests that look at a machine: system information, processes,
//! network checks, `doctor`, the audit log, and the link's throughput.

use std::time::Duration;

use serde::Serialize;
use tether_proto::doctor::{DoctorReport, DoctorRequest, rank};
use tether_proto::message::AuditEntry;
use tether_proto::net::{NetCheckRequest, NetReport};
use tether_proto::system::{KillOutcome, KillSignal, ProcessList, ProcessSort, SystemInfo};
use tether_proto::{Call, Request, RequestKind, Response};

use crate::clock;
use crate::error::ClientError;
use crate::session::Session;

/// Time the agent may take beyond the timeout for `net` and `doctor`:
/// checks wait for their own timeouts (up to 10 s for HTTP) before the
/// report comes back.
pub const CHECK_ALLOWANCE: Duration = Duration::from_secs(15);

/// Time beyond the timeout for `kill`: the agent waits a few seconds for
/// the process to exit.
pub const KILL_ALLOWANCE: Duration = Duration::from_secs(5);

/// Time beyond the timeout for a throughput transfer: the agent's own
/// limit for one.
pub const TRANSFER_ALLOWANCE: Duration = Duration::from_secs(60);

/// The answer to [`Session::info`].
#[derive(Debug, Clone)]
pub struct InfoReply {
    /// The agent's report.
    pub system: SystemInfo,
    /// Agent clock minus this machine's clock, in milliseconds, estimated
    /// from the middle of the round trip.
    pub clock_offset_ms: i64,
}

/// Link quality between agent and technician, measured over a session.
#[derive(Debug, Clone, Serialize)]
pub struct LinkQuality {
    /// QUIC's smoothed round-trip estimate, milliseconds.
    pub rtt_ms: f64,
    /// Bytes sent each way.
    pub bytes: u64,
    /// Agent to technician, seconds.
    pub download_secs: f64,
    /// Agent to technician, megabits a second.
    pub download_mbit_per_sec: f64,
    /// Technician to agent, as the agent timed it (first to last byte),
    /// seconds.
    pub upload_secs: f64,
    /// Technician to agent, megabits a second.
    pub upload_mbit_per_sec: f64,
}

/// The timings of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadTimes {
    /// From first to last byte, as the agent saw them arrive.
    pub at_agent: Duration,
    /// The whole exchange, as this side saw it.
    pub total: Duration,
}

impl Session {
    /// The machine's system information and how far its clock is off.
    pub async fn info(&self) -> Result<InfoReply, ClientError> {
        let system = self
            .ask(&Request::Call(Call::Info), Duration::ZERO, "info", |r| match r {
                Response::Info(system) => Some(*system),
                _ => None,
            })
            .await?;
        // The agent reads its clock just before it replies (after its CPU
        // sample): half a round trip before the reply arrived.
        let rtt_ms = self.rtt().as_millis() as u64;
        let clock_offset_ms = clock::offset_of_reply(system.host.agent_time_unix_ms, rtt_ms);
        Ok(InfoReply { system, clock_offset_ms })
    }

    /// Processes sampled over 250 ms: sorted, filtered by name or command
    /// (any case), at most `limit`.
    pub async fn processes(
        &self,
        sort: ProcessSort,
        filter: Option<String>,
        limit: u32,
    ) -> Result<ProcessList, ClientError> {
        let request = Request::Call(Call::Processes { sort, filter, limit });
        self.ask(&request, Duration::ZERO, "ps", |r| match r {
            Response::Processes(list) => Some(list),
            _ => None,
        })
        .await
    }

    /// Signals process `pid` and says whether it exited.
    pub async fn kill(&self, pid: u32, signal: KillSignal) -> Result<KillOutcome, ClientError> {
        self.ask(&Request::Call(Call::Kill { pid, signal }), KILL_ALLOWANCE, "kill", |r| match r {
            Response::Killed(outcome) => Some(outcome),
            _ => None,
        })
        .await
    }

    /// Network checks from the agent's machine, ending in a layered
    /// verdict (see [`crate::exit::CheckStatus::of_verdict`]).
    pub async fn net(&self, request: NetCheckRequest) -> Result<NetReport, ClientError> {
        self.ask(&Request::Call(Call::Net(request)), CHECK_ALLOWANCE, "net", |r| match r {
            Response::Net(report) => Some(*report),
            _ => None,
        })
        .await
    }

    /// Health findings with next steps, the clock's among them, worst
    /// first (see [`crate::exit::CheckStatus::of_findings`]). `net` adds
    /// network checks.
    pub async fn doctor(&self, net: Option<NetCheckRequest>) -> Result<DoctorReport, ClientError> {
        let request = Request::Call(Call::Doctor(DoctorRequest { net }));
        let mut report = self
            .ask(&request, CHECK_ALLOWANCE, "doctor", |r| match r {
                Response::Doctor(report) => Some(*report),
                _ => None,
            })
            .await?;
        // The agent reads its clock at the end of its checks, just before
        // it replies.
        let rtt_ms = self.rtt().as_millis() as u64;
        let offset = clock::offset_of_reply(report.agent_time_unix_ms, rtt_ms);
        report.findings.push(clock::skew_finding(offset));
        rank(&mut report.findings);
        Ok(report)
    }

    /// The newest `limit` records of the agent's audit log, oldest first.
    pub async fn audit_tail(&self, limit: u32) -> Result<Vec<AuditEntry>, ClientError> {
        self.ask(&Request::Call(Call::AuditTail { limit }), Duration::ZERO, "audit", |r| match r {
            Response::AuditTail(entries) => Some(entries),
            _ => None,
        })
        .await
    }

    /// Sends `bytes` bytes to the agent.
    pub async fn upload(&self, bytes: u64) -> Result<UploadTimes, ClientError> {
        self.check_supported(RequestKind::Throughput)?;
        let (at_agent, total) = self
            .client()
            .upload(bytes, self.timeout() + TRANSFER_ALLOWANCE)
            .await
            .map_err(|e| self.classify(e, Some(RequestKind::Throughput)))?;
        Ok(UploadTimes { at_agent, total })
    }

    /// Asks the agent for `bytes` bytes; returns how long they took from
    /// the agent's header to the last byte.
    pub async fn download(&self, bytes: u64) -> Result<Duration, ClientError> {
        self.check_supported(RequestKind::Throughput)?;
        self.client()
            .download(bytes, self.timeout() + TRANSFER_ALLOWANCE)
            .await
            .map_err(|e| self.classify(e, Some(RequestKind::Throughput)))
    }

    /// Downloads then uploads `bytes` over the session.
    pub async fn link_quality(&self, bytes: u64) -> Result<LinkQuality, ClientError> {
        let down = self.download(bytes).await?;
        let up = self.upload(bytes).await?.at_agent;
        let mbit = |d: Duration| {
            if d.is_zero() { 0.0 } else { bytes as f64 * 8.0 / d.as_secs_f64() / 1e6 }
        };
        Ok(LinkQuality {
            rtt_ms: self.rtt().as_secs_f64() * 1000.0,
            bytes,
            download_secs: down.as_secs_f64(),
            download_mbit_per_sec: mbit(down),
            upload_secs: up.as_secs_f64(),
            upload_mbit_per_sec: mbit(up),
        })
    }
}
