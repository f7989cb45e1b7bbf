//! Network checks run on the agent, from the user's machine's point of view,
//! and the layered verdict a help desk walks through: link, gateway, DNS,
//! then the remote service.

use serde::{Deserialize, Serialize};

/// Most targets of one kind in one request.
pub const MAX_TARGETS: usize = 32;
/// Longest target string (a name, `host:port` or URL).
pub const MAX_TARGET_LEN: usize = 512;

/// What to check. With every list empty and `defaults` set, the agent runs
/// its default set: the gateway, each resolver, the controller's address
/// and the targets from its configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetCheckRequest {
    /// Names to resolve, through the system resolver and each configured one.
    pub dns: Vec<String>,
    /// `host:port` to connect to over TCP.
    pub tcp: Vec<String>,
    /// `http://` or `https://` URLs to GET.
    pub urls: Vec<String>,
    /// Hosts to ping.
    pub ping: Vec<String>,
    /// Run the default set as well.
    pub defaults: bool,
}

impl NetCheckRequest {
    /// Checks the request's size and shape.
    pub fn validate(&self) -> Result<(), String> {
        for (what, list) in
            [("dns", &self.dns), ("tcp", &self.tcp), ("url", &self.urls), ("ping", &self.ping)]
        {
            if list.len() > MAX_TARGETS {
                return Err(format!("at most {MAX_TARGETS} {what} targets per request"));
            }
            if let Some(t) = list.iter().find(|t| t.is_empty() || t.len() > MAX_TARGET_LEN) {
                return Err(format!(
                    "{what} target {t:?} is empty or longer than {MAX_TARGET_LEN}"
                ));
            }
        }
        if let Some(u) =
            self.urls.iter().find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(format!("{u:?} is not an http:// or https:// URL"));
        }
        Ok(())
    }

    /// The targets, for the audit log.
    pub fn audit_summary(&self) -> String {
        let mut parts = Vec::new();
        for (what, list) in
            [("dns", &self.dns), ("tcp", &self.tcp), ("url", &self.urls), ("ping", &self.ping)]
        {
            parts.extend(list.iter().map(|t| format!("{what}={t}")));
        }
        if self.defaults || !self.has_targets() {
            parts.push("defaults".to_owned());
        }
        parts.join(" ")
    }

    /// Whether anything at all was asked for explicitly.
    pub fn has_targets(&self) -> bool {
        !(self.dns.is_empty()
            && self.tcp.is_empty()
            && self.urls.is_empty()
            && self.ping.is_empty())
    }
}

/// Everything `tether net` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetReport {
    pub links: Vec<LinkState>,
    pub gateway: Option<GatewayState>,
    /// Resolvers configured on the machine, in order.
    pub resolvers: Vec<String>,
    /// Proxy settings in the agent's environment.
    pub proxies: Vec<ProxySetting>,
    pub dns: Vec<DnsCheck>,
    pub tcp: Vec<TcpCheck>,
    pub http: Vec<HttpCheck>,
    pub ping: Vec<PingCheck>,
    pub verdict: Verdict,
}

/// One interface's link state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    pub name: String,
    pub up: bool,
    pub addresses: Vec<String>,
}

/// The default gateway and whether it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayState {
    pub address: String,
    pub interface: String,
    /// Whether the gateway's link-layer address is known (it answered ARP
    /// or neighbour discovery recently).
    pub neighbour_known: bool,
    /// The ping of the gateway, when the check ran.
    pub ping: Option<PingCheck>,
}

/// One proxy-related environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySetting {
    pub variable: String,
    pub value: String,
}

/// One name resolved through one resolver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsCheck {
    pub name: String,
    /// "system" (the OS resolver, as applications use it) or a resolver's
    /// address.
    pub resolver: String,
    pub outcome: DnsOutcome,
    pub millis: f32,
}

/// How a lookup ended. NXDOMAIN (the name does not exist) and a timeout (no
/// resolver answered) are different problems, so they are told apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DnsOutcome {
    Resolved(Vec<String>),
    /// The resolver answered: no such name.
    NxDomain,
    /// The name exists but has no address records.
    NoAddress,
    /// No answer in time.
    Timeout,
    /// Anything else (refused, server failure, malformed answer).
    Failed(String),
}

/// One TCP connection attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpCheck {
    pub target: String,
    pub outcome: TcpOutcome,
    pub millis: f32,
}

/// How a TCP connection attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TcpOutcome {
    Connected {
        address: String,
    },
    /// The host answered with a reset: reachable, but nothing listens.
    Refused {
        address: String,
    },
    Timeout,
    /// The host part did not resolve.
    Unresolved(String),
    Failed(String),
}

/// One HTTP(S) GET with its timing broken down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpCheck {
    pub url: String,
    pub status: Option<u16>,
    pub dns_ms: Option<f32>,
    pub connect_ms: Option<f32>,
    pub tls_ms: Option<f32>,
    pub first_byte_ms: Option<f32>,
    pub certificate: Option<CertificateStatus>,
    /// The step that failed and why, if one did.
    pub error: Option<String>,
    /// Which layer the failure belongs to, for the verdict.
    pub failed_layer: Option<Layer>,
}

/// The server certificate an HTTPS check saw (only after it verified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateStatus {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339.
    pub not_after: String,
    pub days_left: i64,
}

/// How a ping was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PingMethod {
    Icmp,
    /// ICMP was not allowed; TCP connection set-up to this port was timed
    /// instead (a refused connection still proves the host answers).
    TcpConnect {
        port: u16,
    },
}

/// One host pinged several times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingCheck {
    pub target: String,
    pub address: Option<String>,
    pub method: PingMethod,
    pub sent: u32,
    pub received: u32,
    pub rtt_min_ms: Option<f32>,
    pub rtt_avg_ms: Option<f32>,
    pub rtt_max_ms: Option<f32>,
    pub error: Option<String>,
}

impl PingCheck {
    /// Share of probes lost, 0–100.
    pub fn loss_percent(&self) -> f32 {
        if self.sent == 0 {
            return 100.0;
        }
        (self.sent - self.received.min(self.sent)) as f32 * 100.0 / self.sent as f32
    }
}

/// The layers of the help desk's walk-through, bottom up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Layer {
    Link,
    Gateway,
    Dns,
    Service,
}

impl Layer {
    pub const fn as_str(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Gateway => "gateway",
            Layer::Dns => "DNS",
            Layer::Service => "service",
        }
    }
}

/// The diagnosis: the first layer that fails and why, or all clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub failing_layer: Option<Layer>,
    pub summary: String,
    /// What works but deserves attention (a resolver that timed out while
    /// another answered, a certificate about to expire): a WARNING when
    /// no layer fails.
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_bounded_and_summarised() {
        let mut r = NetCheckRequest {
            tcp: vec!["h:1".into()],
            urls: vec!["https://x/".into()],
            ..Default::default()
        };
        assert!(r.validate().is_ok());
        assert_eq!(r.audit_summary(), "tcp=h:1 url=https://x/");
        assert_eq!(NetCheckRequest::default().audit_summary(), "defaults");
        r.urls.push("ftp://x".into());
        assert!(r.validate().unwrap_err().contains("not an http"));
        r.urls.pop();
        r.ping = vec!["h".into(); MAX_TARGETS + 1];
        assert!(r.validate().is_err());
        r.ping = vec!["x".repeat(MAX_TARGET_LEN + 1)];
        assert!(r.validate().is_err());
    }
}
