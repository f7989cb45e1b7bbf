//! The fleet inventory: hosts with an address, the name their agent's
//! certificate carries, groups and tags.
//!
//! ```toml
//! [hosts.ws-042]
//! address = "10.0.0.42:7433"   # host or host:port
//! name = "ws-042"              # the certificate's name; default: the alias
//! groups = ["front-office"]
//! tags = ["floor-2", "laptop"]
//! ```
//!
//! The technician's `hosts.toml` has the same shape without groups and
//! tags, so it serves as an inventory as it is.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ClientError;
use crate::hosts::{Target, split_host_port};

/// One host of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryHost {
    /// `host` or `host:port`.
    pub address: String,
    /// The name in the agent's certificate; defaults to the alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Groups the host belongs to (`--group` selects by them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Free-form tags (`--tag` selects by them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    #[serde(default)]
    hosts: BTreeMap<String, InventoryHost>,
}

/// Hosts by alias, sorted by alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    hosts: BTreeMap<String, InventoryHost>,
}

/// Which hosts a run covers. Empty lists do not restrict; a host is
/// selected when it is named by `--host` (if any are given), is in at
/// least one `--group` (if any) and carries every `--tag` (if any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Aliases.
    pub hosts: Vec<String>,
    /// Any of these groups.
    pub groups: Vec<String>,
    /// All of these tags.
    pub tags: Vec<String>,
}

impl Selection {
    /// Whether `alias` with `host` is selected.
    pub fn matches(&self, alias: &str, host: &InventoryHost) -> bool {
        (self.hosts.is_empty() || self.hosts.iter().any(|h| h == alias))
            && (self.groups.is_empty() || self.groups.iter().any(|g| host.groups.contains(g)))
            && self.tags.iter().all(|t| host.tags.contains(t))
    }
}

impl Inventory {
    /// Reads an inventory (or a `hosts.toml`) from `path`.
    pub fn load(path: &Path) -> Result<Inventory, ClientError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ClientError::HostsUnreadable { path: path.to_owned(), source })?;
        Self::parse(&text)
            .map_err(|message| ClientError::HostsInvalid { path: path.to_owned(), message })
    }

    /// Parses inventory text; the error is TOML's message.
    ///
    /// ```
    /// let inv = tether_client::fleet::Inventory::parse(
    ///     "[hosts.ws-1]\naddress = \"10.0.0.1\"\ngroups = [\"lab\"]\n",
    /// )
    /// .unwrap();
    /// assert_eq!(inv.len(), 1);
    /// ```
    pub fn parse(text: &str) -> Result<Inventory, String> {
        let file: InventoryFile = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        Ok(Inventory { hosts: file.hosts })
    }

    /// An inventory from a plain list: one `host[:port]` or `alias
    /// host[:port]` per line; blank lines and `#` comments are skipped.
    /// Without an alias, the host part is both the alias and the
    /// certificate's name.
    pub fn from_list(text: &str) -> Result<Inventory, ClientError> {
        let mut hosts = BTreeMap::new();
        for line in text.lines().map(|l| l.split('#').next().unwrap_or("").trim()) {
            let mut words = line.split_whitespace();
            let (alias, address) = match (words.next(), words.next(), words.next()) {
                (None, ..) => continue,
                (Some(address), None, _) => (split_host_port(address)?.0, address),
                (Some(alias), Some(address), None) => (alias.to_owned(), address),
                _ => {
                    return Err(ClientError::InvalidAddress {
                        reason: format!("{line:?}: write `host[:port]` or `alias host[:port]`"),
                        source: None,
                    });
                }
            };
            split_host_port(address)?;
            let host = InventoryHost {
                address: address.to_owned(),
                name: None,
                groups: Vec::new(),
                tags: Vec::new(),
            };
            hosts.insert(alias, host);
        }
        Ok(Inventory { hosts })
    }

    /// Adds or replaces `alias`.
    pub fn insert(&mut self, alias: impl Into<String>, host: InventoryHost) {
        self.hosts.insert(alias.into(), host);
    }

    /// The inventory as TOML, loadable by [`Inventory::parse`].
    pub fn to_toml(&self) -> String {
        let file = InventoryFile { hosts: self.hosts.clone() };
        // Strings, string lists and a map of structs always serialise.
        toml::to_string(&file).unwrap_or_default()
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether there are no hosts.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Every host, sorted by alias.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &InventoryHost)> {
        self.hosts.iter()
    }

    /// The selected hosts, sorted by alias. Aliases named in
    /// `selection.hosts` that the inventory lacks are an error, so a typo
    /// does not silently check nothing.
    pub fn select(&self, selection: &Selection) -> Result<Vec<FleetHost>, ClientError> {
        if let Some(missing) = selection.hosts.iter().find(|h| !self.hosts.contains_key(*h)) {
            return Err(ClientError::InvalidAddress {
                reason: format!("--host {missing:?} is not in the inventory"),
                source: None,
            });
        }
        Ok(self
            .hosts
            .iter()
            .filter(|(alias, host)| selection.matches(alias, host))
            .map(|(alias, host)| FleetHost {
                alias: alias.clone(),
                address: host.address.clone(),
                server_name: host.name.clone().unwrap_or_else(|| alias.clone()),
            })
            .collect())
    }
}

/// A selected host, ready to be resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHost {
    /// The inventory's alias.
    pub alias: String,
    /// `host[:port]`.
    pub address: String,
    /// The name the agent's certificate must carry.
    pub server_name: String,
}

impl FleetHost {
    /// Resolves the address (a DNS lookup for names).
    pub async fn resolve(&self) -> Result<Target, ClientError> {
        let addr = crate::hosts::lookup(&self.address).await?;
        Ok(Target { label: self.alias.clone(), addr, server_name: self.server_name.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVENTORY: &str = r#"
[hosts.ws-1]
address = "10.0.0.1"
groups = ["front", "lab"]
tags = ["floor-2", "laptop"]

[hosts.ws-2]
address = "10.0.0.2:9000"
name = "agent-two"
groups = ["lab"]
tags = ["floor-2"]

[hosts.ws-3]
address = "10.0.0.3"
"#;

    fn aliases(inv: &Inventory, selection: Selection) -> Vec<String> {
        inv.select(&selection).unwrap().into_iter().map(|h| h.alias).collect()
    }

    #[test]
    fn selection_by_host_group_and_tag() {
        let inv = Inventory::parse(INVENTORY).unwrap();
        assert_eq!(aliases(&inv, Selection::default()), ["ws-1", "ws-2", "ws-3"]);
        let group = |g: &[&str]| Selection {
            groups: g.iter().map(|s| (*s).to_owned()).collect(),
            ..Selection::default()
        };
        assert_eq!(aliases(&inv, group(&["lab"])), ["ws-1", "ws-2"]);
        assert_eq!(aliases(&inv, group(&["front", "nope"])), ["ws-1"]);
        let tags =
            Selection { tags: vec!["floor-2".into(), "laptop".into()], ..Selection::default() };
        assert_eq!(aliases(&inv, tags), ["ws-1"]);
        let host = Selection { hosts: vec!["ws-3".into()], ..Selection::default() };
        assert_eq!(aliases(&inv, host), ["ws-3"]);
        let typo = Selection { hosts: vec!["ws-9".into()], ..Selection::default() };
        assert!(inv.select(&typo).unwrap_err().to_string().contains("ws-9"));
        let two = inv.select(&Selection::default()).unwrap().remove(1);
        assert_eq!(two.server_name, "agent-two");
    }

    #[test]
    fn a_hosts_file_is_an_inventory() {
        let inv =
            Inventory::parse("[hosts.front-desk]\naddress = \"10.0.0.42\"\nname = \"ws-042\"\n")
                .unwrap();
        assert_eq!(inv.select(&Selection::default()).unwrap()[0].server_name, "ws-042");
        assert!(Inventory::parse("[hosts.x]\nadress = \"typo\"\n").is_err());
    }

    #[test]
    fn a_plain_list_becomes_an_inventory_that_round_trips() {
        let inv =
            Inventory::from_list("# lab\npc-1\npc-2:9000\n\nreception 10.0.0.9  # desk\n").unwrap();
        let hosts = inv.select(&Selection::default()).unwrap();
        let got: Vec<_> = hosts.iter().map(|h| (h.alias.as_str(), h.address.as_str())).collect();
        assert_eq!(got, [("pc-1", "pc-1"), ("pc-2", "pc-2:9000"), ("reception", "10.0.0.9")]);
        assert_eq!(Inventory::parse(&inv.to_toml()).unwrap(), inv);
        assert!(Inventory::from_list("a b c\n").is_err());
        assert!(Inventory::from_list("pc:notaport\n").is_err());
    }

    #[tokio::test]
    async fn hosts_resolve_with_their_certificate_name() {
        let inv = Inventory::parse(INVENTORY).unwrap();
        let two = inv.select(&Selection::default()).unwrap().remove(1);
        let target = two.resolve().await.unwrap();
        assert_eq!(target.addr.to_string(), "10.0.0.2:9000");
        assert_eq!(target.server_name, "agent-two");
    }
}
