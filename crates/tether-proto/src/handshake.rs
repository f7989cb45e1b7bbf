//! The first exchange on every connection.
//!
//! The controller opens a bidirectional stream and sends a hello; the agent
//! answers with a hello reply and, if it accepted, keeps the connection open
//! for requests. Both frames begin with a fixed, version-independent prefix
//! (`b"TTHR"` and a little-endian `u16` version) ahead of their bincode
//! body, so that two sides that disagree on the version still understand
//! each other well enough to say so, instead of failing to decode.
//!
//! ALPN `tether/1` names the framing family; the in-band version names the
//! message set inside it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::codec::{FrameError, MAX_HELLO_FRAME, decode_payload, encode_payload};
use crate::role::Role;

/// The message-set version this build speaks.
///
/// Version 2 added the screen and restore messages, `Welcome::supported`
/// and `ErrorKind::Unsupported`; version 3 grouped requests by route
/// ([`crate::Request`]) and added `Hello::supported`; version 4 changed
/// the view stream (acknowledgements only when asked, pointer only when
/// moved, no frame numbers on the wire) and the screen codec's update
/// format (v3: motion copies per tile, sub-tile rectangles, a shorter
/// header); version 5 the screen codec's pixel residuals (range-coded
/// with context modelling, or a zstd frame of their own when smaller). See ARCHITECTURE.md,
/// "Protocol versions", for what may change within a version and what
/// needs a new one.
pub const PROTOCOL_VERSION: u16 = 5;

/// The TLS application protocol both sides require.
pub const ALPN: &[u8] = b"tether/1";

/// Marks the start of a hello and a hello reply.
pub const MAGIC: [u8; 4] = *b"TTHR";

const PREFIX_LEN: usize = MAGIC.len() + 2;

/// Longest ticket reference a hello may carry.
pub const MAX_TICKET_LEN: usize = 64;

/// The controller's opening message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub version: u16,
    /// The controller's name and version, e.g. "tether 0.1.0".
    pub software: String,
    /// The trouble ticket this session works on, if any.
    pub ticket: Option<String>,
    /// The request kinds this controller knows, by name
    /// ([`crate::RequestKind::as_str`]): what a newer agent may rely on.
    pub supported: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct HelloBody {
    software: String,
    ticket: Option<String>,
    supported: Vec<String>,
}

/// What the agent tells a controller it accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The agent's configured name (the name in its certificate).
    pub agent_name: String,
    /// The agent's software version, e.g. "tether-agent 0.1.0".
    pub agent_software: String,
    /// The id under which this session appears in the agent's audit log.
    pub session_id: String,
    /// The technician as the agent saw them in the client certificate.
    pub technician: String,
    pub role: Role,
    /// The request kinds this agent serves, by name
    /// ([`crate::RequestKind::as_str`]). A newer controller checks it
    /// before sending a kind the agent may not know; names it does not
    /// know itself are ignored.
    pub supported: Vec<String>,
}

impl Welcome {
    /// Whether the agent serves requests of `kind`.
    pub fn supports(&self, kind: crate::RequestKind) -> bool {
        self.supported.iter().any(|k| k == kind.as_str())
    }
}

/// The agent's answer to a hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloReply {
    Welcome(Welcome),
    /// The agent does not speak the controller's version.
    VersionMismatch {
        agent_version: u16,
    },
    /// The agent refused the session for another reason.
    Refused(String),
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("the peer does not speak the Tether protocol (bad hello)")]
    NotTether,
    #[error(
        "protocol version mismatch: this side speaks version {ours}, the peer speaks version \
         {theirs}; upgrade the older of the two"
    )]
    VersionMismatch { ours: u16, theirs: u16 },
    #[error("the agent refused the session: {0}")]
    Refused(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl Hello {
    /// A hello for this build's protocol version.
    pub fn new(software: impl Into<String>, ticket: Option<String>) -> Self {
        let supported = crate::RequestKind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
        Hello { version: PROTOCOL_VERSION, software: software.into(), ticket, supported }
    }

    /// Encodes the hello as a frame payload (without the length header).
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let body = HelloBody {
            software: self.software.clone(),
            ticket: self.ticket.clone(),
            supported: self.supported.clone(),
        };
        Ok(with_prefix(self.version, &[], encode_payload::<_, MAX_HELLO_FRAME>(&body)?))
    }

    /// Decodes a hello payload.
    ///
    /// A hello of another version is returned with only its version filled
    /// in: its body is not decoded, since its layout may differ.
    pub fn decode(payload: &[u8]) -> Result<Hello, HandshakeError> {
        let (version, body) = split_prefix(payload)?;
        if version != PROTOCOL_VERSION {
            return Ok(Hello { version, software: String::new(), ticket: None, supported: vec![] });
        }
        let body: HelloBody = decode_payload::<_, MAX_HELLO_FRAME>(body)?;
        Ok(Hello {
            version,
            software: body.software,
            ticket: body.ticket,
            supported: body.supported,
        })
    }
}

const STATUS_WELCOME: u8 = 0;
const STATUS_VERSION_MISMATCH: u8 = 1;
const STATUS_REFUSED: u8 = 2;

impl HelloReply {
    /// Encodes the reply as a frame payload (without the length header).
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let (status, body) = match self {
            HelloReply::Welcome(w) => (STATUS_WELCOME, encode_payload::<_, MAX_HELLO_FRAME>(w)?),
            HelloReply::VersionMismatch { .. } => (STATUS_VERSION_MISMATCH, Vec::new()),
            HelloReply::Refused(why) => {
                (STATUS_REFUSED, encode_payload::<_, MAX_HELLO_FRAME>(why)?)
            }
        };
        Ok(with_prefix(PROTOCOL_VERSION, &[status], body))
    }

    /// Decodes a reply payload and turns anything but a welcome into the
    /// error the controller reports.
    pub fn decode(payload: &[u8]) -> Result<Welcome, HandshakeError> {
        let (version, rest) = split_prefix(payload)?;
        let Some((&status, body)) = rest.split_first() else {
            return Err(HandshakeError::NotTether);
        };
        match status {
            STATUS_VERSION_MISMATCH => {
                Err(HandshakeError::VersionMismatch { ours: PROTOCOL_VERSION, theirs: version })
            }
            _ if version != PROTOCOL_VERSION => {
                Err(HandshakeError::VersionMismatch { ours: PROTOCOL_VERSION, theirs: version })
            }
            STATUS_WELCOME => Ok(decode_payload::<Welcome, MAX_HELLO_FRAME>(body)?),
            STATUS_REFUSED => {
                Err(HandshakeError::Refused(decode_payload::<String, MAX_HELLO_FRAME>(body)?))
            }
            _ => Err(HandshakeError::NotTether),
        }
    }
}

/// Checks a ticket reference: short, and only characters that are safe in
/// logs and file names (letters, digits and `-_.:/#`).
pub fn validate_ticket(ticket: &str) -> Result<(), String> {
    if ticket.is_empty() || ticket.len() > MAX_TICKET_LEN {
        return Err(format!("a ticket reference has 1 to {MAX_TICKET_LEN} characters"));
    }
    if let Some(c) = ticket.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.:/#".contains(*c)))
    {
        return Err(format!("ticket reference contains {c:?}; use letters, digits and -_.:/#"));
    }
    Ok(())
}

fn with_prefix(version: u16, extra: &[u8], body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX_LEN + extra.len() + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(extra);
    out.extend_from_slice(&body);
    out
}

fn split_prefix(payload: &[u8]) -> Result<(u16, &[u8]), HandshakeError> {
    if payload.len() < PREFIX_LEN || payload[..MAGIC.len()] != MAGIC {
        return Err(HandshakeError::NotTether);
    }
    let version = u16::from_le_bytes([payload[4], payload[5]]);
    Ok((version, &payload[PREFIX_LEN..]))
}

impl fmt::Display for Hello {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hello v{} from {:?}", self.version, self.software)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Tier;

    fn welcome() -> Welcome {
        Welcome {
            supported: crate::RequestKind::ALL.iter().map(|k| k.as_str().to_owned()).collect(),
            agent_name: "agent-01".into(),
            agent_software: "tether-agent 0.1.0".into(),
            session_id: "00ff".into(),
            technician: "alice".into(),
            role: Role::Tier(Tier::Two),
        }
    }

    #[test]
    fn hello_round_trips() {
        let hello = Hello::new("tether 0.1.0", Some("INC-42".into()));
        assert_eq!(Hello::decode(&hello.encode().unwrap()).unwrap(), hello);
    }

    #[test]
    fn hello_of_another_version_decodes_to_its_version_only() {
        let mut payload = Hello::new("x", None).encode().unwrap();
        payload[4..6].copy_from_slice(&7u16.to_le_bytes());
        // Garble the body: a future layout must not make decoding fail.
        payload.truncate(6);
        payload.extend_from_slice(&[0xFF; 9]);
        assert_eq!(Hello::decode(&payload).unwrap().version, 7);
    }

    #[test]
    fn reply_round_trips_and_mismatch_is_clear() {
        let ok = HelloReply::Welcome(welcome()).encode().unwrap();
        assert_eq!(HelloReply::decode(&ok).unwrap(), welcome());

        let mismatch =
            HelloReply::VersionMismatch { agent_version: PROTOCOL_VERSION }.encode().unwrap();
        let err = HelloReply::decode(&mismatch).unwrap_err();
        assert!(err.to_string().contains("protocol version mismatch"), "{err}");

        let refused = HelloReply::Refused("no".into()).encode().unwrap();
        assert_eq!(HelloReply::decode(&refused), Err(HandshakeError::Refused("no".into())));
    }

    #[test]
    fn reply_from_a_newer_agent_is_a_version_mismatch() {
        let mut payload = HelloReply::Welcome(welcome()).encode().unwrap();
        let newer = PROTOCOL_VERSION + 1;
        payload[4..6].copy_from_slice(&newer.to_le_bytes());
        assert_eq!(
            HelloReply::decode(&payload),
            Err(HandshakeError::VersionMismatch { ours: PROTOCOL_VERSION, theirs: newer })
        );
    }

    #[test]
    fn garbage_is_not_tether() {
        for junk in [&b""[..], b"TTH", b"HTTP/1.1 200", b"TTHR\x01\x00"] {
            assert!(HelloReply::decode(junk).is_err(), "{junk:?}");
        }
        assert_eq!(Hello::decode(b"GET / HTTP/1.1"), Err(HandshakeError::NotTether));
    }

    #[test]
    fn tickets_are_validated() {
        assert!(validate_ticket("INC-2026/0042#3").is_ok());
        assert!(validate_ticket("").is_err());
        assert!(validate_ticket("a b").is_err());
        assert!(validate_ticket("x\n").is_err());
        assert!(validate_ticket(&"x".repeat(MAX_TICKET_LEN + 1)).is_err());
    }
}
