//! The machine administrator's hold on the agent: `tether-agent sessions
//! list|end` talk to the running agent over a local channel: a Unix socket
//! (mode 0600, `unix`) or a named pipe on Windows (`windows`). Each
//! connection carries one JSON line each way and is bounded in size and
//! time. This is local administration, not the network protocol, so it
//! speaks JSON rather than `tether-proto` frames; nothing from it reaches a
//! technician except the close code of an ended session.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tether_proto::close;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tracing::{info, warn};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as channel;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as channel;

pub use channel::{Listener, bind};

use crate::sessions::SessionInfo;
use crate::state::Shared;

/// Largest request line; a list or an end request is a few dozen bytes.
const MAX_REQUEST: u64 = 4096;

/// How long one admin exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the administrator asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum AdminRequest {
    List,
    End { id: String, reason: Option<String> },
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum AdminResponse {
    Sessions { sessions: Vec<SessionInfo> },
    Ended { session: SessionInfo },
    Error { message: String },
}

/// Why the admin socket could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot reach the agent at {path}: {source} (is it running, and are you root?)")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the admin exchange with the agent failed: {0}")]
    Exchange(String),
    #[error("{0}")]
    Refused(String),
}

/// Serves admin requests until `stop` fires, then removes the socket.
pub async fn serve(
    mut listener: Listener,
    path: PathBuf,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        if tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(stream, &shared)).await.is_err() {
                            warn!("admin client too slow; dropped");
                        }
                    });
                }
                Err(e) => {
                    warn!("admin socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    channel::remove(&path);
}

async fn exchange(stream: impl AsyncRead + AsyncWrite, shared: &Arc<Shared>) {
    let (read, mut write) = tokio::io::split(stream);
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let response = match reader.read_line(&mut line).await {
        Err(e) => AdminResponse::Error { message: format!("unreadable request: {e}") },
        Ok(_) => match serde_json::from_str::<AdminRequest>(line.trim()) {
            Err(e) => AdminResponse::Error { message: format!("bad request: {e}") },
            Ok(request) => handle(request, shared).await,
        },
    };
    let mut text = serde_json::to_string(&response).unwrap_or_else(|e| {
        format!("{{\"result\":\"error\",\"message\":\"cannot encode the answer: {e}\"}}")
    });
    text.push('\n');
    let _ = write.write_all(text.as_bytes()).await;
}

async fn handle(request: AdminRequest, shared: &Arc<Shared>) -> AdminResponse {
    match request {
        AdminRequest::List => AdminResponse::Sessions { sessions: shared.sessions.list() },
        AdminRequest::End { id, reason } => {
            let Some(session) = shared.sessions.get(&id) else {
                return AdminResponse::Error { message: format!("no live session {id:?}") };
            };
            let reason = reason.unwrap_or_else(|| "ended by the machine's administrator".into());
            let mut record = tether_audit::Record::now(&id, session.peer.to_string(), "admin-end");
            record.technician = Some(session.technician.clone());
            record.serial = Some(session.serial.clone());
            record.role = Some(session.role.clone());
            record.ticket.clone_from(&session.ticket);
            record.outcome = "ok".into();
            record.detail = reason.clone();
            if let Err(e) = shared.audit.append(record).await {
                return AdminResponse::Error {
                    message: format!("not ended: the audit log cannot be written: {e}"),
                };
            }
            // The log's formatter escapes ESC but not newlines.
            let technician = tether_proto::text::Escaped(&session.technician);
            info!(session = %id, %technician, "session ended by the administrator");
            session.close(close::ENDED_BY_ADMIN, &reason);
            AdminResponse::Ended { session: session.info() }
        }
    }
}

/// Sends one request to the agent behind `path` and returns its answer.
pub async fn ask(path: &Path, request: &AdminRequest) -> Result<AdminResponse, AdminError> {
    let exchange = async {
        let mut stream = channel::connect(path)
            .await
            .map_err(|source| AdminError::Connect { path: path.to_owned(), source })?;
        let mut text =
            serde_json::to_string(request).map_err(|e| AdminError::Exchange(e.to_string()))?;
        text.push('\n');
        stream.write_all(text.as_bytes()).await.map_err(|e| AdminError::Exchange(e.to_string()))?;
        let mut line = String::new();
        BufReader::new(stream.take(16 << 20))
            .read_line(&mut line)
            .await
            .map_err(|e| AdminError::Exchange(e.to_string()))?;
        serde_json::from_str::<AdminResponse>(line.trim())
            .map_err(|e| AdminError::Exchange(e.to_string()))
    };
    match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange).await {
        Ok(Ok(AdminResponse::Error { message })) => Err(AdminError::Refused(message)),
        Ok(result) => result,
        Err(_) => Err(AdminError::Exchange("the agent did not answer".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_have_a_stable_json_form() {
        let end = AdminRequest::End { id: "abc".into(), reason: None };
        assert_eq!(
            serde_json::to_string(&end).unwrap(),
            r#"{"op":"end","id":"abc","reason":null}"#
        );
        assert_eq!(
            serde_json::from_str::<AdminRequest>(r#"{"op":"list"}"#).unwrap(),
            AdminRequest::List
        );
        let err = AdminResponse::Error { message: "x".into() };
        assert_eq!(serde_json::to_string(&err).unwrap(), r#"{"result":"error","message":"x"}"#);
    }
}
