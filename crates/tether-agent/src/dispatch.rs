//! Runs admitted requests. Handlers take an [`Admitted`] request, which only
//! the session's permission check can produce.

use std::sync::Arc;

use tether_proto::session::Admitted;
use tether_proto::{ErrorReply, Request, Response};
use tracing::warn;

use crate::server::Shared;

/// Runs one admitted request and returns its response or a typed error.
pub async fn dispatch(
    admitted: Admitted<'_>,
    shared: &Arc<Shared>,
) -> Result<Response, ErrorReply> {
    match admitted.request() {
        Request::Info => {
            let software = shared.software.clone();
            blocking(move || {
                tether_diag::system_summary(&software).map(|s| Response::Info(Box::new(s)))
            })
            .await?
            .map_err(|e| ErrorReply::unavailable(e.to_string()))
        }
        Request::AuditTail { limit } => {
            let path = shared.config.audit_path.clone();
            let limit = *limit as usize;
            let tail = blocking(move || tether_audit::read_tail(&path, limit))
                .await?
                .map_err(|e| ErrorReply::unavailable(e.to_string()))?;
            if tail.skipped > 0 {
                warn!(
                    "audit log has {} unreadable lines among the newest {limit}",
                    tail.skipped
                );
            }
            Ok(Response::AuditTail(
                tail.records
                    .into_iter()
                    .map(tether_audit::Record::into_wire)
                    .collect(),
            ))
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
