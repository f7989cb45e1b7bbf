//! Turning the global flags and a HOST argument into a greeted session
//! (see `tether_client`), and the command line's words for what is wrong
//! with the flags.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tether_client::{ClientError, ConnectOptions, Connector, Hosts, IdentityFiles, Session};

use crate::cli::GlobalArgs;

impl GlobalArgs {
    pub fn config_dir(&self) -> PathBuf {
        self.config_dir.clone().unwrap_or_else(tether_client::default_config_dir)
    }

    pub fn timeout(&self) -> anyhow::Result<Duration> {
        Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--timeout must be a positive number of seconds")
    }

    fn hosts_file(&self) -> PathBuf {
        self.hosts.clone().unwrap_or_else(|| self.config_dir().join("hosts.toml"))
    }

    pub fn load_hosts(&self) -> anyhow::Result<Hosts> {
        Ok(Hosts::load(&self.hosts_file())?)
    }

    /// The library's options for these flags.
    pub fn connect_options(&self) -> anyhow::Result<ConnectOptions> {
        let identity = IdentityFiles::resolve(
            &self.config_dir(),
            self.cert.clone(),
            self.key.clone(),
            self.ca.clone(),
            self.crl.clone(),
        );
        Ok(ConnectOptions {
            identity,
            hosts_file: Some(self.hosts_file()),
            server_name: self.server_name.clone(),
            ticket: self.ticket.clone(),
            timeout: self.timeout()?,
            software: format!("tether {}", env!("CARGO_PKG_VERSION")),
        })
    }
}

/// Connects to `host` as the technician named by the global flags.
pub async fn connect(global: &GlobalArgs, host: &str) -> anyhow::Result<Session> {
    let connector = Connector::new(global.connect_options()?).map_err(with_flags)?;
    Ok(connector.connect(host).await?)
}

/// Adds which flag to change to the errors about the flags' files and
/// values; exit code 1 either way.
pub fn with_flags(err: ClientError) -> anyhow::Error {
    match &err {
        ClientError::IdentityFileMissing { .. } => anyhow::anyhow!(
            "{err}; install your identity there or pass --cert/--key/--ca (see `tether --help`)"
        ),
        ClientError::CrlMissing { .. } => anyhow::anyhow!("{err} (named with --crl or TETHER_CRL)"),
        ClientError::InvalidTicket(why) => anyhow::anyhow!("--ticket: {why}"),
        _ => err.into(),
    }
}
