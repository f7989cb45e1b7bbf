//! `tether pki …`: the administrator's commands, kept apart from the
//! technician's.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct PkiDir {
    /// The PKI directory (holds the CA key: keep it offline and private).
    #[arg(long, env = "TETHER_PKI_DIR", default_value = "pki", value_name = "DIR")]
    pub pki_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create the organisation CA and an empty CRL.
    Init {
        #[command(flatten)]
        dir: PkiDir,
        /// Organisation name, written into every certificate.
        #[arg(long, default_value = "Tether")]
        org: String,
        /// CA validity in days.
        #[arg(long, default_value_t = tether_pki::DEFAULT_CA_DAYS)]
        days: u32,
    },
    /// Issue an agent's server certificate; NAME is what controllers dial.
    IssueAgent {
        #[command(flatten)]
        dir: PkiDir,
        /// The agent's name (a DNS name); technicians' hosts files use it.
        name: String,
        /// Extra IP address the certificate is valid for (repeatable).
        #[arg(long = "ip", value_name = "IP")]
        ips: Vec<IpAddr>,
        /// Extra DNS name the certificate is valid for (repeatable).
        #[arg(long = "dns", value_name = "NAME")]
        dns: Vec<String>,
        /// Validity in days.
        #[arg(long, default_value_t = tether_pki::DEFAULT_AGENT_DAYS)]
        days: u32,
        /// Replace an existing certificate and key of that name (and the
        /// bundle file).
        #[arg(long)]
        force: bool,
        /// Also write an enrolment bundle (certificate, key, CA, CRL; mode
        /// 0600) for `tether-agent enroll FILE` on the workstation.
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        /// agent.toml to put in the bundle, used by `enroll` where the
        /// workstation has no configuration yet.
        #[arg(long, value_name = "FILE", requires = "bundle")]
        bundle_config: Option<PathBuf>,
    },
    /// Issue a technician's client certificate with a tier or the fleet role.
    IssueTech {
        #[command(flatten)]
        dir: PkiDir,
        /// The technician's name (shown in audit logs).
        name: String,
        /// Support tier: 1 looks and checks, 2 controls, 3 restores.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3), required_unless_present = "role", conflicts_with = "role")]
        tier: Option<u8>,
        /// A non-human role instead of a tier: `fleet` (read-only health queries).
        #[arg(long, value_parser = ["fleet"])]
        role: Option<String>,
        /// Validity in days (default: 7 for technicians, 90 for fleet).
        #[arg(long)]
        days: Option<u32>,
        /// Replace an existing certificate and key of that name.
        #[arg(long)]
        force: bool,
    },
    /// Revoke a certificate by serial and re-sign the CRL.
    Revoke {
        #[command(flatten)]
        dir: PkiDir,
        /// Serial in hex, as `pki list` shows it (colons allowed).
        serial: String,
    },
    /// Re-sign the CRL with a fresh validity (run it from cron).
    RefreshCrl {
        #[command(flatten)]
        dir: PkiDir,
    },
    /// List issued certificates.
    List {
        #[command(flatten)]
        dir: PkiDir,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}
