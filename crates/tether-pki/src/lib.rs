//! Tether's public-key infrastructure: the organisation's own small CA, the
//! certificates it issues, its revocation list, and the rustls configurations
//! and identity checks that put them to use.
//!
//! Tether authenticates both ends of every connection with certificates from
//! one CA per organisation. Agents hold server certificates named after the
//! host; technicians hold short-lived client certificates whose subject
//! carries their role (`OU=tether-role:tier2`). An agent admits a technician
//! only if rustls verified the chain to the CA, the clientAuth purpose, the
//! validity period and the CRL, and then reads the role with
//! [`peer_identity`].
//!
//! # Layout
//! - [`Pki`]: a PKI directory and the files in it. [`Pki::init`] creates
//!   the CA; `issue_*` sign agent and technician certificates;
//!   [`Pki::revoke`] and [`Pki::refresh_crl`] maintain the CRL.
//! - [`server_config`] / [`client_config`]: TLS 1.3, ring, mutual
//!   authentication, ALPN [`tether_proto::ALPN`]; plus the PEM loaders.
//! - [`AgentBundle`]: one agent's certificate, key, CA, CRL and optional
//!   configuration in one file, for `tether-agent enroll`.
//! - [`peer_identity`]: the name, serial and [`tether_proto::Role`] of a
//!   verified technician certificate.
//!
//! # What this crate is not
//! It is not a general-purpose CA: there are no intermediates, no CSRs, no
//! OCSP and no CRL distribution; admins copy `ca.crt` and `crl.pem` to agents
//! themselves. It opens no sockets and knows nothing about QUIC (see
//! `tether-transport`) or about what a role may do (see
//! `tether_proto::permission`). Private keys are only ever written to files
//! with mode 0600, never returned as strings, printed or logged.

#![forbid(unsafe_code)]

mod bundle;
mod ca;
mod crl;
mod error;
mod files;
mod identity;
mod issue;
mod names;
mod serial;
mod store;
mod tls;

pub use bundle::{AgentBundle, BUNDLE_FORMAT, InstallPaths};
pub use error::PkiError;
pub use identity::{
    IdentityError, PeerIdentity, not_after_unix, peer_identity, revoked_serials, server_names,
};
pub use store::{CertKind, IndexEntry, Issued, Pki};
pub use tls::{client_config, load_certs, load_crls, load_private_key, server_config};

/// Default validity of the CA, in days (about ten years): replacing a CA
/// means re-issuing every certificate, so it should rarely happen.
pub const DEFAULT_CA_DAYS: u32 = 3650;
/// Default validity of an agent certificate, in days: 397 is the longest
/// browsers accept for server certificates, and a yearly renewal is a
/// manageable rhythm for machines.
pub const DEFAULT_AGENT_DAYS: u32 = 397;
/// Default validity of a technician certificate, in days. Short on purpose:
/// a certificate on a lost laptop expires within a week even if nobody
/// remembers to revoke it.
pub const DEFAULT_TECH_DAYS: u32 = 7;
/// Default validity of the fleet automation's certificate, in days: it runs
/// unattended, so it is renewed by a job rather than by a person each week.
pub const DEFAULT_FLEET_DAYS: u32 = 90;
/// How far ahead a CRL's `next_update` is set, in days. `refresh_crl` from
/// cron keeps it from ever being reached.
pub const DEFAULT_CRL_DAYS: u32 = 30;

/// The subject OU prefix carrying a technician's role: `OU=tether-role:tier2`.
pub const ROLE_OU_PREFIX: &str = "tether-role:";
