//! Loading the agent's TLS material from the paths in its configuration.

use std::collections::BTreeSet;

use crate::config::AgentConfig;
use crate::error::AgentError;

/// Builds the rustls server config: the agent's certificate and key, the
/// organisation CA that technician certificates must chain to, and the CRL.
pub fn server_config(config: &AgentConfig) -> Result<rustls::ServerConfig, AgentError> {
    let chain = tether_pki::load_certs(&config.cert)?;
    let key = tether_pki::load_private_key(&config.key)?;
    let ca = tether_pki::load_certs(&config.ca)?;
    let crls = match &config.crl {
        Some(path) => tether_pki::load_crls(path)?,
        None => Vec::new(),
    };
    Ok(tether_pki::server_config(chain, key, &ca, crls)?)
}

/// The serials the configured CRL revokes (empty without a CRL).
pub fn revoked_serials(config: &AgentConfig) -> Result<BTreeSet<String>, AgentError> {
    let Some(path) = &config.crl else {
        return Ok(BTreeSet::new());
    };
    let crls = tether_pki::load_crls(path)?;
    tether_pki::revoked_serials(&crls)
        .map_err(|e| AgentError::Internal(format!("{}: {e}", path.display())))
}
