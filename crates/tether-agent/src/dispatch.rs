//! Runs admitted requests. Handlers take an [`Admitted`] request, which only
//! the session's permission check can produce.

use std::net::SocketAddr;
use std::sync::Arc;

use tether_diag::KillError;
use tether_diag::doctor::DoctorSettings;
use tether_proto::session::Admitted;
use tether_proto::{Call, ErrorReply, Response, ScreenRequest};
use tracing::{info, warn};

use crate::screen;
use crate::state::Shared;

/// A handled request: the response and a line for the audit record.
pub struct Handled {
    pub response: Response,
    /// What the audit record should add about the outcome (may be empty).
    pub detail: String,
}

impl From<Response> for Handled {
    fn from(response: Response) -> Self {
        Handled { response, detail: String::new() }
    }
}

/// Runs one admitted call and returns its response or a typed error.
pub async fn dispatch(
    admitted: Admitted<'_, Call>,
    shared: &Arc<Shared>,
    peer: SocketAddr,
    session: &str,
) -> Result<Handled, ErrorReply> {
    match admitted.request().clone() {
        Call::Info => {
            let software = shared.software.clone();
            let info = blocking(move || tether_diag::system_info(&software))
                .await?
                .map_err(|e| ErrorReply::unavailable(e.to_string()))?;
            Ok(Response::Info(Box::new(info)).into())
        }
        Call::AuditTail { limit } => {
            let path = shared.config.audit_path.clone();
            let limit = limit as usize;
            let tail = blocking(move || tether_audit::read_tail(&path, limit))
                .await?
                .map_err(|e| ErrorReply::unavailable(e.to_string()))?;
            if tail.skipped > 0 {
                warn!("audit log has {} unreadable lines among the newest {limit}", tail.skipped);
            }
            let entries = tail.records.into_iter().map(tether_audit::Record::into_wire).collect();
            Ok(Response::AuditTail(entries).into())
        }
        Call::Processes { sort, filter, limit } => {
            let list =
                blocking(move || tether_diag::processes(sort, filter.as_deref(), limit as usize))
                    .await?
                    .map_err(|e| ErrorReply::unavailable(e.to_string()))?;
            Ok(Response::Processes(list).into())
        }
        Call::Kill { pid, signal } => {
            let outcome =
                blocking(move || tether_diag::kill(pid, signal)).await?.map_err(|e| match e {
                    KillError::NoSuchProcess(_) | KillError::Agent(_) => {
                        ErrorReply::bad_request(e.to_string())
                    }
                    KillError::Os { .. } => ErrorReply::unavailable(e.to_string()),
                })?;
            let detail = format!(
                "{} (pid {pid}) {}",
                outcome.name,
                if outcome.exited { "exited" } else { "still running" }
            );
            // The name is a local user's choice: no forged log lines.
            info!("SIG{} sent to {}", signal.as_str(), tether_proto::text::escape(&detail));
            Ok(Handled { response: Response::Killed(outcome), detail })
        }
        Call::Doctor(request) => {
            let mut net = shared.config.net.clone();
            net.controller = Some(peer.ip().to_canonical());
            let settings = DoctorSettings { thresholds: shared.config.thresholds.clone(), net };
            let report =
                tether_diag::doctor::gather(&request, &settings, &shared.diagnostics.hogs).await;
            let status = tether_proto::doctor::overall(&report.findings);
            let detail = format!("{}: {} findings", status.as_str(), report.findings.len());
            Ok(Handled { response: Response::Doctor(Box::new(report)), detail })
        }
        Call::Restore(request) => {
            let service =
                shared.restore.as_ref().map_err(|why| ErrorReply::unavailable(why.clone()))?;
            let (response, detail) = service.handle(request).await?;
            Ok(Handled { response, detail })
        }
        Call::Screen(ScreenRequest::Monitors) => {
            let settings = shared.config.screen.clone();
            let list = blocking(move || screen::monitors(&settings)).await??;
            Ok(Response::Monitors(list).into())
        }
        Call::Screen(ScreenRequest::Screenshot { monitor }) => {
            let settings = shared.config.screen.clone();
            let shot = blocking(move || screen::screenshot(&settings, monitor)).await??;
            let m = &shot.monitor;
            let detail = format!(
                "monitor {} ({}x{}), {} bytes",
                m.index,
                m.width,
                m.height,
                shot.encoded.len()
            );
            Ok(Handled { response: Response::Screenshot(Box::new(shot)), detail })
        }
        Call::Screen(ScreenRequest::Input { monitor, events }) => {
            let _control = shared.control.take(session)?;
            let settings = shared.config.screen.clone();
            let count = events.len() as u32;
            let detail = blocking(move || screen::inject(&settings, monitor, &events)).await??;
            Ok(Handled { response: Response::InputDone { events: count }, detail })
        }
        Call::FleetFacts(request) => {
            let software = shared.software.clone();
            let cert = shared.config.cert.clone();
            let facts = blocking(move || {
                // Read per request, so a renewed certificate shows at once.
                let not_after = tether_pki::load_certs(&cert)
                    .ok()
                    .and_then(|chain| chain.first().and_then(tether_pki::not_after_unix));
                tether_diag::fleet::facts(&request, &software, not_after)
            })
            .await?
            .map_err(|e| ErrorReply::unavailable(e.to_string()))?;
            Ok(Response::FleetFacts(Box::new(facts)).into())
        }
        Call::Net(request) => {
            let mut settings = shared.config.net.clone();
            settings.controller = Some(peer.ip().to_canonical());
            let report = tether_diag::net::run(&request, &settings).await;
            let detail = report.verdict.summary.clone();
            Ok(Handled { response: Response::Net(Box::new(report)), detail })
        }
    }
}

/// Runs OS-bound work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ErrorReply> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ErrorReply::internal(format!("handler failed: {e}")))
}
