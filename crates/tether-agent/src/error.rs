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
    /// A record the agent must not run without could not be written.
    #[error("cannot record {what}: {source}")]
    Unrecorded {
        what: &'static str,
        #[source]
        source: Box<AgentError>,
    },
    #[error("{0}")]
    Internal(String),
}

impl AgentError {
    /// Says which record could not be written.
    pub fn context(self, what: &'static str) -> AgentError {
        AgentError::Unrecorded { what, source: Box::new(self) }
    }
}
