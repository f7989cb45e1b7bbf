//! The hosts file (`hosts.toml`, aliases like ssh's config) and how a HOST
//! argument becomes an address and the name the agent's certificate must
//! carry.
//!
//! ```toml
//! [hosts.front-desk]
//! address = "10.0.0.42:7433"   # host or host:port
//! name = "ws-042"              # the certificate's name; default: the alias
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::error::ClientError;

/// The UDP port agents listen on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7433;

/// One entry of `hosts.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    /// `host` or `host:port`.
    pub address: String,
    /// The name in the agent's certificate; defaults to the alias.
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostsFile {
    #[serde(default)]
    hosts: BTreeMap<String, HostEntry>,
}

/// Aliases from the hosts file.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    entries: BTreeMap<String, HostEntry>,
}

impl Hosts {
    /// Reads `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Hosts, ClientError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Hosts::default()),
            Err(source) => {
                return Err(ClientError::HostsUnreadable { path: path.to_owned(), source });
            }
        };
        Self::parse(&text)
            .map_err(|message| ClientError::HostsInvalid { path: path.to_owned(), message })
    }

    /// Parses the text of a hosts file; the error is TOML's message.
    ///
    /// ```
    /// let hosts = tether_client::Hosts::parse(
    ///     "[hosts.front-desk]\naddress = \"10.0.0.42\"\nname = \"ws-042\"\n",
    /// )
    /// .unwrap();
    /// assert_eq!(hosts.get("front-desk").unwrap().address, "10.0.0.42");
    /// ```
    pub fn parse(text: &str) -> Result<Hosts, String> {
        let file: HostsFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        Ok(Hosts { entries: file.hosts })
    }

    /// The entry for `alias`.
    pub fn get(&self, alias: &str) -> Option<&HostEntry> {
        self.entries.get(alias)
    }

    /// Every alias and its entry, sorted by alias.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &HostEntry)> {
        self.entries.iter()
    }

    /// Resolves a HOST argument: an alias from this file, or `host[:port]`
    /// whose certificate must carry `host` (as with HTTPS). `server_name`
    /// overrides the name the certificate must carry.
    pub async fn resolve(
        &self,
        host: &str,
        server_name: Option<&str>,
    ) -> Result<Target, ClientError> {
        let (address, default_name) = match self.entries.get(host) {
            Some(entry) => {
                (entry.address.clone(), entry.name.clone().unwrap_or_else(|| host.to_owned()))
            }
            None => {
                let (h, _) = split_host_port(host)?;
                (host.to_owned(), h)
            }
        };
        Ok(Target {
            label: host.to_owned(),
            addr: lookup(&address).await?,
            server_name: server_name.map_or(default_name, str::to_owned),
        })
    }
}

/// A HOST argument resolved to what the connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the user typed (alias or address), for messages.
    pub label: String,
    /// The address dialled.
    pub addr: SocketAddr,
    /// The name the agent's certificate must be valid for.
    pub server_name: String,
}

/// Resolves `host[:port]` to its first address.
pub(crate) async fn lookup(address: &str) -> Result<SocketAddr, ClientError> {
    let (host, port) = split_host_port(address)?;
    let found = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|source| ClientError::Resolve { host: host.clone(), source })?
        .next();
    found.ok_or(ClientError::NoAddress { host })
}

/// Splits `host[:port]` (IPv6 as `[::1]:port`) into host and port.
///
/// ```
/// use tether_client::hosts::{DEFAULT_PORT, split_host_port};
///
/// assert_eq!(split_host_port("pc-7").unwrap(), ("pc-7".to_owned(), DEFAULT_PORT));
/// assert_eq!(split_host_port("[::1]:99").unwrap(), ("::1".to_owned(), 99));
/// ```
pub fn split_host_port(text: &str) -> Result<(String, u16), ClientError> {
    let bad_port = |source| ClientError::InvalidAddress {
        reason: format!("invalid port in {text:?}"),
        source: Some(source),
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok((addr.ip().to_string(), addr.port()));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| ClientError::InvalidAddress {
            reason: "unclosed '[' in address".to_owned(),
            source: None,
        })?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(bad_port)?,
            None if after.is_empty() => DEFAULT_PORT,
            None => {
                return Err(ClientError::InvalidAddress {
                    reason: format!("invalid address {text:?}"),
                    source: None,
                });
            }
        };
        return Ok((host.to_owned(), port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_owned(), port.parse().map_err(bad_port)?))
        }
        _ => Ok((text.to_owned(), DEFAULT_PORT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("pc-7").unwrap(), ("pc-7".into(), DEFAULT_PORT));
        assert_eq!(split_host_port("pc-7:9000").unwrap(), ("pc-7".into(), 9000));
        assert_eq!(split_host_port("10.0.0.5:1").unwrap(), ("10.0.0.5".into(), 1));
        assert_eq!(split_host_port("[::1]:99").unwrap(), ("::1".into(), 99));
        assert_eq!(split_host_port("[::1]").unwrap(), ("::1".into(), DEFAULT_PORT));
        assert!(split_host_port("pc:notaport").is_err());
        assert!(split_host_port("[::1").is_err());
    }

    #[tokio::test]
    async fn aliases_carry_address_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.toml");
        std::fs::write(
            &path,
            "[hosts.front-desk]\naddress = \"127.0.0.1:9999\"\nname = \"ws-042\"\n\
             [hosts.lab]\naddress = \"127.0.0.2\"\n",
        )
        .unwrap();
        let hosts = Hosts::load(&path).unwrap();
        let t = hosts.resolve("front-desk", None).await.unwrap();
        assert_eq!(
            (t.addr.to_string().as_str(), t.server_name.as_str()),
            ("127.0.0.1:9999", "ws-042")
        );
        let t = hosts.resolve("lab", None).await.unwrap();
        assert_eq!((t.addr.port(), t.server_name.as_str()), (DEFAULT_PORT, "lab"));
        let t = hosts.resolve("127.0.0.1:5", Some("agent-9")).await.unwrap();
        assert_eq!(t.server_name, "agent-9");
    }

    #[test]
    fn hosts_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.toml");
        std::fs::write(&path, "[hosts.x]\nadress = \"typo\"\n").unwrap();
        let err = Hosts::load(&path).unwrap_err();
        assert!(matches!(err, ClientError::HostsInvalid { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("invalid hosts file") && text.contains("hosts.toml"), "{text}");
        assert!(Hosts::load(&dir.path().join("none.toml")).unwrap().iter().next().is_none());
    }
}
