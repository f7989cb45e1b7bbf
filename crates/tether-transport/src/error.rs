//! Transport errors, worded for the technician who has to act on them.

use std::net::SocketAddr;
use std::time::Duration;

use quinn::ConnectionError;
use tether_proto::ErrorReply;
use tether_proto::close;
use tether_proto::handshake::HandshakeError;

use crate::framed::FrameIoError;

/// Why talking to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot bind UDP socket {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid TLS configuration for QUIC: {0}")]
    Tls(String),
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: quinn::ConnectError,
    },
    /// The connection failed or was closed; `detail` says why in plain words.
    #[error("{target}: {detail}")]
    Connection { target: String, detail: String, kind: ConnectionFailure },
    #[error("{target}: no answer within {} s ({what})", after.as_secs_f32())]
    Timeout { target: String, what: &'static str, after: Duration },
    #[error("{target}: {source}")]
    Handshake {
        target: String,
        #[source]
        source: HandshakeError,
    },
    #[error("{target}: {source}")]
    Frame {
        target: String,
        #[source]
        source: FrameIoError,
    },
    /// The agent answered with a typed error.
    #[error("{target}: {reply}")]
    Agent { target: String, reply: ErrorReply },
    /// The agent (older than this controller) does not serve this kind of
    /// request, as its welcome said; nothing was sent.
    #[error("{target}: this agent ({agent}) does not support {kind}; upgrade it")]
    Unsupported { target: String, agent: String, kind: &'static str },
}

/// What kind of connection failure happened, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionFailure {
    /// A certificate was refused, by either side.
    Authentication,
    /// The two sides speak different protocol versions.
    Version,
    /// The peer could not be reached or went away.
    Unreachable,
    /// Anything else (protocol violation, refusal, shutdown).
    Other,
}

/// Turns a quinn connection error into a sentence and a failure kind.
pub fn describe_connection_error(err: &ConnectionError) -> (String, ConnectionFailure) {
    use ConnectionFailure::*;
    match err {
        ConnectionError::ConnectionClosed(c) => {
            let code = u64::from(c.error_code);
            match tls_alert(code) {
                Some(alert) if is_certificate_alert(alert) => (
                    format!(
                        "the agent rejected this technician certificate (TLS alert: {}); it must \
                         be issued by the organisation's CA, be within its validity period and \
                         not be revoked",
                        alert_name(alert)
                    ),
                    Authentication,
                ),
                Some(120) => (
                    "the peer does not speak tether/1 (no common application protocol); is it \
                     a Tether agent of a compatible version?"
                        .to_owned(),
                    Version,
                ),
                Some(alert) => (
                    format!("the TLS handshake failed (TLS alert: {})", alert_name(alert)),
                    Authentication,
                ),
                None => (format!("the agent aborted the connection: {c}"), Other),
            }
        }
        ConnectionError::ApplicationClosed(c) => {
            let code = c.error_code.into_inner();
            let reason = String::from_utf8_lossy(&c.reason);
            let kind = match code as u32 {
                close::VERSION_MISMATCH => Version,
                close::UNAUTHORIZED => Authentication,
                _ => Other,
            };
            let text = if reason.is_empty() {
                close::describe(code).to_owned()
            } else {
                format!("{}: {reason}", close::describe(code))
            };
            (text, kind)
        }
        ConnectionError::TransportError(e) => {
            let reason = e.to_string();
            // rustls' own words for our CRL check refusing the agent
            // ("invalid peer certificate: Revoked"): the machine may be in
            // someone else's hands, which is worth its own sentence.
            if reason.contains("certificate") && reason.to_ascii_lowercase().contains("revoked") {
                (
                    "the agent's certificate is revoked (it is on this controller's CRL): do not \
                     trust this machine; tell your administrator"
                        .to_owned(),
                    Authentication,
                )
            } else if reason.contains("certificate") {
                (
                    format!(
                        "the agent's certificate was not accepted ({reason}); check that the \
                         name dialled matches the agent's certificate and that both come from \
                         the same CA"
                    ),
                    Authentication,
                )
            } else {
                (format!("connection failed: {reason}"), Other)
            }
        }
        ConnectionError::TimedOut => (
            "no answer from the agent (is it running, and is UDP to its port open?)".to_owned(),
            Unreachable,
        ),
        ConnectionError::Reset => {
            ("the agent reset the connection (it may have restarted)".to_owned(), Unreachable)
        }
        ConnectionError::VersionMismatch => {
            ("the peer speaks no QUIC version we support".to_owned(), Version)
        }
        ConnectionError::LocallyClosed => ("the connection was closed locally".to_owned(), Other),
        ConnectionError::CidsExhausted => ("connection ids exhausted".to_owned(), Other),
    }
}

/// QUIC carries TLS alerts as transport error codes 0x100 + alert.
fn tls_alert(code: u64) -> Option<u8> {
    (0x100..0x200).contains(&code).then(|| (code - 0x100) as u8)
}

fn is_certificate_alert(alert: u8) -> bool {
    matches!(alert, 42..=46 | 48 | 49 | 116)
}

fn alert_name(alert: u8) -> String {
    let name = match alert {
        40 => "handshake failure",
        42 => "bad certificate",
        43 => "unsupported certificate",
        44 => "certificate revoked",
        45 => "certificate expired",
        46 => "certificate unknown",
        48 => "unknown CA",
        49 => "access denied",
        51 => "decrypt error",
        70 => "protocol version",
        80 => "internal error",
        116 => "certificate required",
        120 => "no application protocol",
        _ => return format!("alert {alert}"),
    };
    name.to_owned()
}

impl TransportError {
    /// The failure kind, for the controller's exit code.
    pub fn failure(&self) -> ConnectionFailure {
        match self {
            TransportError::Connection { kind, .. } => *kind,
            TransportError::Timeout { .. } => ConnectionFailure::Unreachable,
            TransportError::Handshake {
                source: HandshakeError::VersionMismatch { .. }, ..
            } => ConnectionFailure::Version,
            TransportError::Unsupported { .. } => ConnectionFailure::Version,
            TransportError::Agent { reply, .. }
                if reply.kind == tether_proto::ErrorKind::Unsupported =>
            {
                ConnectionFailure::Version
            }
            _ => ConnectionFailure::Other,
        }
    }

    /// The agent's typed error reply, if that is what this is.
    pub fn agent_reply(&self) -> Option<&ErrorReply> {
        match self {
            TransportError::Agent { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// Wraps a stream error, explaining a lost connection in plain words.
    pub(crate) fn from_frame(target: &str, err: FrameIoError) -> Self {
        let lost = match &err {
            FrameIoError::Read(quinn::ReadError::ConnectionLost(e))
            | FrameIoError::Write(quinn::WriteError::ConnectionLost(e)) => Some(e),
            _ => None,
        };
        match lost {
            Some(e) => TransportError::from_connection(target, e),
            None => TransportError::Frame { target: target.to_owned(), source: err },
        }
    }

    pub(crate) fn from_connection(target: &str, err: &ConnectionError) -> Self {
        let (detail, kind) = describe_connection_error(err);
        TransportError::Connection { target: target.to_owned(), detail, kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_decoded_from_quic_codes() {
        assert_eq!(tls_alert(0x100 + 48), Some(48));
        assert_eq!(tls_alert(0x0a), None);
        assert!(is_certificate_alert(44) && is_certificate_alert(116));
        assert!(!is_certificate_alert(120));
        assert_eq!(alert_name(45), "certificate expired");
        assert_eq!(alert_name(99), "alert 99");
    }
}
