//! The agent library's error type.

/// Why the agent could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Pki(#[from] tether_pki::PkiError),
    #[error(transparent)]
    Transport(#[from] tether_transport::TransportError),
    #[error(transparent)]
    Audit(#[from] tether_audit::AuditError),
    #[error("{0}")]
    Internal(String),
}
