//! [`ClientError`]: every way reaching an agent or asking it something can
//! fail, classified so that callers (and [`crate::exit`]) can tell a
//! machine that is off from a certificate that is refused.

use std::path::PathBuf;

use tether_pki::PkiError;
use tether_proto::{ErrorKind, ErrorReply, RequestKind};
use tether_transport::TransportError;
use tether_transport::error::ConnectionFailure;

/// Why a connection or a request failed.
///
/// The variants are the classes callers act on; each one's message is a
/// sentence a technician can act on, naming the agent where one was
/// involved. [`ClientError::exit_code`] maps them to the documented exit
/// codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A file of the technician's identity does not exist.
    #[error("technician {what} {} not found", path.display())]
    IdentityFileMissing {
        /// "certificate", "key" or "CA certificate".
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// A revocation list that was asked for by name does not exist.
    #[error("CRL {} not found", path.display())]
    CrlMissing {
        /// The file.
        path: PathBuf,
    },
    /// The revocation list exists but cannot be used.
    #[error("cannot use the CRL {}", path.display())]
    Crl {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: PkiError,
    },
    /// A certificate or key file cannot be read or used.
    #[error(transparent)]
    Identity(#[from] PkiError),
    /// The hosts file exists but cannot be read.
    #[error("cannot read hosts file {}", path.display())]
    HostsUnreadable {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The hosts file is not valid TOML of the expected shape.
    #[error("invalid hosts file {}: {message}", path.display())]
    HostsInvalid {
        /// The file.
        path: PathBuf,
        /// TOML's words for what is wrong.
        message: String,
    },
    /// The ticket reference would not be accepted by an agent.
    #[error("{0}")]
    InvalidTicket(String),
    /// A `host[:port]` text that is not an address.
    #[error("{reason}")]
    InvalidAddress {
        /// What is wrong with the text.
        reason: String,
        /// The port that did not parse, if that was it.
        #[source]
        source: Option<std::num::ParseIntError>,
    },
    /// The host name could not be looked up.
    #[error("cannot resolve {host:?}")]
    Resolve {
        /// The host name.
        host: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The host name resolved to nothing.
    #[error("{host:?} has no address")]
    NoAddress {
        /// The host name.
        host: String,
    },
    /// The agent did not answer, timed out or went away.
    #[error(transparent)]
    Unreachable(TransportError),
    /// A certificate was refused, by either side.
    #[error(transparent)]
    Authentication(TransportError),
    /// Controller and agent speak different protocol versions.
    #[error(transparent)]
    VersionMismatch(TransportError),
    /// The agent is older than this controller and does not serve the
    /// request: its welcome did not list the kind (nothing was sent), or it
    /// answered that it does not know it.
    #[error("{target}: this agent ({agent}) does not support {kind}; upgrade it")]
    Unsupported {
        /// "name (address)".
        target: String,
        /// The agent's software and version, e.g. "tether-agent 0.1.0".
        agent: String,
        /// The request's kind.
        kind: RequestKind,
    },
    /// The agent's permission table or policy refused the request.
    #[error("{target}: {reply}")]
    Denied {
        /// "name (address)" of the agent.
        target: String,
        /// The agent's reply.
        reply: ErrorReply,
    },
    /// The agent could not do what was asked (bad arguments, unavailable
    /// here, failed); `reply` says why in the agent's words.
    #[error("{target}: {reply}")]
    Agent {
        /// "name (address)" of the agent.
        target: String,
        /// The agent's reply.
        reply: ErrorReply,
    },
    /// The agent answered with a reply of the wrong kind.
    #[error("{target}: unexpected reply to {what}")]
    UnexpectedReply {
        /// "name (address)" of the agent.
        target: String,
        /// The request, as messages name it.
        what: &'static str,
    },
    /// Any other failure on the connection: a local socket, a refused
    /// session, a malformed frame.
    #[error(transparent)]
    Transport(TransportError),
}

impl ClientError {
    /// Classifies a transport failure. `agent` is the agent's software
    /// (from its welcome) and `kind` the request that was under way, used
    /// when the agent answers that it does not know that kind.
    pub fn from_transport(err: TransportError, agent: &str, kind: Option<RequestKind>) -> Self {
        if let TransportError::Unsupported { target, agent, kind: name } = &err
            && let Some(kind) = RequestKind::from_name(name)
        {
            return ClientError::Unsupported { target: target.clone(), agent: agent.clone(), kind };
        }
        if let TransportError::Agent { target, reply } = err {
            return match (reply.kind, kind) {
                (ErrorKind::Unsupported, Some(kind)) => {
                    ClientError::Unsupported { target, agent: agent.to_owned(), kind }
                }
                (ErrorKind::Denied, _) => ClientError::Denied { target, reply },
                _ => ClientError::Agent { target, reply },
            };
        }
        match err.failure() {
            ConnectionFailure::Unreachable => ClientError::Unreachable(err),
            ConnectionFailure::Authentication => ClientError::Authentication(err),
            ConnectionFailure::Version => ClientError::VersionMismatch(err),
            ConnectionFailure::Other => ClientError::Transport(err),
        }
    }

    /// The agent's own error reply, when the agent answered at all: `None`
    /// means the request may not have reached it, or its answer was lost.
    pub fn agent_reply(&self) -> Option<&ErrorReply> {
        match self {
            ClientError::Denied { reply, .. } | ClientError::Agent { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// Whether the failure lies with this machine's files (identity, CRL,
    /// hosts file) rather than the network or the agent.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            ClientError::IdentityFileMissing { .. }
                | ClientError::CrlMissing { .. }
                | ClientError::Crl { .. }
                | ClientError::Identity(_)
                | ClientError::HostsUnreadable { .. }
                | ClientError::HostsInvalid { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn agent_said(reply: ErrorReply) -> TransportError {
        TransportError::Agent { target: "pc-7 (127.0.0.1:7433)".into(), reply }
    }

    #[test]
    fn agent_replies_are_classified_by_their_kind() {
        let kind = Some(RequestKind::Monitors);
        let denied = ClientError::from_transport(agent_said(ErrorReply::denied("x")), "a", kind);
        assert!(matches!(denied, ClientError::Denied { .. }), "{denied:?}");
        let failed = ClientError::from_transport(agent_said(ErrorReply::internal("x")), "a", kind);
        assert!(matches!(failed, ClientError::Agent { .. }), "{failed:?}");
        assert_eq!(failed.agent_reply().map(|r| r.kind), Some(ErrorKind::Internal));
    }

    #[test]
    fn an_unsupported_answer_reads_like_the_welcome_check() {
        let answered = ClientError::from_transport(
            agent_said(ErrorReply::unsupported("this agent does not support that request")),
            "tether-agent 0.1.0",
            Some(RequestKind::Monitors),
        );
        let unlisted = ClientError::from_transport(
            TransportError::Unsupported {
                target: "pc-7 (127.0.0.1:7433)".into(),
                agent: "tether-agent 0.1.0".into(),
                kind: "monitors",
            },
            "ignored",
            None,
        );
        let expected = "pc-7 (127.0.0.1:7433): this agent (tether-agent 0.1.0) does not support \
                        monitors; upgrade it";
        assert_eq!(answered.to_string(), expected);
        assert_eq!(unlisted.to_string(), expected);
    }

    #[test]
    fn connection_failures_keep_the_transport_words() {
        let timeout = TransportError::Timeout {
            target: "pc-7".into(),
            what: "waiting for the agent's reply",
            after: Duration::from_secs(2),
        };
        let text = timeout.to_string();
        let err = ClientError::from_transport(timeout, "a", None);
        assert!(matches!(err, ClientError::Unreachable(_)), "{err:?}");
        assert_eq!(err.to_string(), text);
        assert!(err.agent_reply().is_none() && !err.is_local());
    }
}
