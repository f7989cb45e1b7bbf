//! Where the technician's identity and hosts file live, and how a HOST
//! argument becomes an address and the name its certificate must carry.
//!
//! Files in the config directory (`$TETHER_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/tether`, else `~/.config/tether`):
//! - `tech.crt`, `tech.key`: the technician's certificate and key;
//! - `ca.crt`: the organisation CA that agent certificates chain to;
//! - `crl.pem`: the CA's revocation list, copied from the admin's `pki/`
//!   like `ca.crt` and refreshed whenever the admin re-issues it. Agents on
//!   it are refused. Optional: without it the controller works as before
//!   but cannot tell a revoked (stolen) agent certificate from a good one
//!   (`-vv` says so);
//! - `hosts.toml`: aliases, like ssh's config.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// The UDP port agents listen on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7433;

/// The default config directory.
pub fn default_config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("tether");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".config/tether"),
        None => PathBuf::from(".tether"),
    }
}

/// The files that make up a technician's identity.
#[derive(Debug, Clone)]
pub struct IdentityFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    pub crl: Crl,
}

/// Where the revocation list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Crl {
    /// Named with `--crl`: it must exist.
    Required(PathBuf),
    /// The config directory's `crl.pem`, used when present.
    IfPresent(PathBuf),
}

impl IdentityFiles {
    /// Explicit paths win; the rest come from the config directory.
    pub fn resolve(
        dir: &Path,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        ca: Option<PathBuf>,
        crl: Option<PathBuf>,
    ) -> Self {
        IdentityFiles {
            cert: cert.unwrap_or_else(|| dir.join("tech.crt")),
            key: key.unwrap_or_else(|| dir.join("tech.key")),
            ca: ca.unwrap_or_else(|| dir.join("ca.crt")),
            crl: crl.map_or_else(|| Crl::IfPresent(dir.join("crl.pem")), Crl::Required),
        }
    }

    /// The CRLs to check agents against: none when no file is installed.
    fn crls(
        &self,
    ) -> anyhow::Result<Vec<rustls::pki_types::CertificateRevocationListDer<'static>>> {
        let path = match &self.crl {
            Crl::Required(path) if !path.exists() => {
                bail!("CRL {} not found (named with --crl or TETHER_CRL)", path.display())
            }
            Crl::IfPresent(path) if !path.exists() => {
                tracing::debug!(
                    "no CRL at {}: revoked agent certificates cannot be recognised",
                    path.display()
                );
                return Ok(Vec::new());
            }
            Crl::Required(path) | Crl::IfPresent(path) => path,
        };
        tether_pki::load_crls(path)
            .with_context(|| format!("cannot use the CRL {}", path.display()))
    }

    /// Builds the TLS client config, explaining which file is missing.
    pub fn client_tls(&self) -> anyhow::Result<rustls::ClientConfig> {
        for (what, path) in
            [("certificate", &self.cert), ("key", &self.key), ("CA certificate", &self.ca)]
        {
            if !path.exists() {
                bail!(
                    "technician {what} {} not found; install your identity there or pass \
                     --cert/--key/--ca (see `tether --help`)",
                    path.display()
                );
            }
        }
        let chain = tether_pki::load_certs(&self.cert)?;
        let key = tether_pki::load_private_key(&self.key)?;
        let ca = tether_pki::load_certs(&self.ca)?;
        Ok(tether_pki::client_config(chain, key, &ca, self.crls()?)?)
    }
}

/// One entry of `hosts.toml`.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Default)]
pub struct Hosts {
    entries: BTreeMap<String, HostEntry>,
}

impl Hosts {
    /// Reads `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> anyhow::Result<Hosts> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Hosts::default()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read hosts file {}", path.display()));
            }
        };
        let file: HostsFile = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!("invalid hosts file {}: {}", path.display(), e.message())
        })?;
        Ok(Hosts { entries: file.hosts })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &HostEntry)> {
        self.entries.iter()
    }
}

/// A HOST argument resolved to what the connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the user typed (alias or address), for messages.
    pub label: String,
    pub addr: SocketAddr,
    /// The name the agent's certificate must be valid for.
    pub server_name: String,
}

/// Splits `host[:port]` (IPv6 as `[::1]:port`) into host and port.
pub fn split_host_port(text: &str) -> anyhow::Result<(String, u16)> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok((addr.ip().to_string(), addr.port()));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').context("unclosed '[' in address")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().with_context(|| format!("invalid port in {text:?}"))?,
            None if after.is_empty() => DEFAULT_PORT,
            None => bail!("invalid address {text:?}"),
        };
        return Ok((host.to_owned(), port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((
            host.to_owned(),
            port.parse().with_context(|| format!("invalid port in {text:?}"))?,
        )),
        _ => Ok((text.to_owned(), DEFAULT_PORT)),
    }
}

/// Resolves a HOST argument: an alias from the hosts file, or `host[:port]`
/// whose certificate must carry `host` (as with HTTPS).
pub async fn resolve(
    host: &str,
    hosts: &Hosts,
    server_name: Option<&str>,
) -> anyhow::Result<Target> {
    let (address, default_name) = match hosts.entries.get(host) {
        Some(entry) => {
            (entry.address.clone(), entry.name.clone().unwrap_or_else(|| host.to_owned()))
        }
        None => {
            let (h, _) = split_host_port(host)?;
            (host.to_owned(), h)
        }
    };
    let (h, port) = split_host_port(&address)?;
    let addr = tokio::net::lookup_host((h.as_str(), port))
        .await
        .with_context(|| format!("cannot resolve {h:?}"))?
        .next()
        .with_context(|| format!("{h:?} has no address"))?;
    Ok(Target {
        label: host.to_owned(),
        addr,
        server_name: server_name.map_or(default_name, str::to_owned),
    })
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
        let t = resolve("front-desk", &hosts, None).await.unwrap();
        assert_eq!(
            (t.addr.to_string().as_str(), t.server_name.as_str()),
            ("127.0.0.1:9999", "ws-042")
        );
        let t = resolve("lab", &hosts, None).await.unwrap();
        assert_eq!((t.addr.port(), t.server_name.as_str()), (DEFAULT_PORT, "lab"));
        let t = resolve("127.0.0.1:5", &hosts, Some("agent-9")).await.unwrap();
        assert_eq!(t.server_name, "agent-9");
    }

    #[test]
    fn crl_is_optional_in_the_config_directory_but_not_when_named() {
        let dir = tempfile::tempdir().unwrap();
        let implicit = IdentityFiles::resolve(dir.path(), None, None, None, None);
        assert_eq!(implicit.crl, Crl::IfPresent(dir.path().join("crl.pem")));
        assert!(implicit.crls().unwrap().is_empty());
        let named = dir.path().join("gone.pem");
        let explicit = IdentityFiles::resolve(dir.path(), None, None, None, Some(named));
        let err = explicit.crls().unwrap_err().to_string();
        assert!(err.contains("gone.pem") && err.contains("--crl"), "{err}");
        std::fs::write(dir.path().join("crl.pem"), "not a CRL").unwrap();
        let err = format!("{:#}", implicit.crls().unwrap_err());
        assert!(err.contains("cannot use the CRL"), "{err}");
    }

    #[test]
    fn hosts_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.toml");
        std::fs::write(&path, "[hosts.x]\nadress = \"typo\"\n").unwrap();
        let err = Hosts::load(&path).unwrap_err().to_string();
        assert!(err.contains("invalid hosts file") && err.contains("hosts.toml"), "{err}");
        assert!(Hosts::load(&dir.path().join("none.toml")).unwrap().entries.is_empty());
    }
}
