//! The Tether controller as a library: reach agents, ask them things, and
//! get typed answers and typed failures.
//!
//! The `tether` command line is argument parsing and rendering on top of
//! this crate; runners that reach many agents at once and interactive
//! sessions that ask one agent many things are built on it too.
//!
//! # Layout
//! - [`identity`]: the technician's certificate, key, CA and CRL, and the
//!   TLS configuration made from them; [`hosts`]: `hosts.toml` aliases and
//!   how a HOST argument becomes an address and a certificate name.
//! - [`Connector`] (in [`connect`]): the identity loaded once, connecting to
//!   any number of agents; each connection is a [`Session`].
//! - [`Session`]: one QUIC connection, requests on it concurrently (`&self`
//!   methods, one stream each), typed per request kind: `info`,
//!   `processes`, `kill`, `net`, `doctor`, `audit_tail`, `upload`,
//!   `download`, `link_quality` ([`diagnostics`]), `restore_*`
//!   ([`restore`]), `monitors`, `screenshot`, `input`, `open_view`
//!   ([`screen`]). Kinds the agent's welcome does not list are refused
//!   before anything is sent.
//! - [`ClientError`]: every failure, classified (unreachable,
//!   authentication, denied, unsupported, version mismatch, agent error,
//!   local files, …); [`exit`] maps errors and outcomes to the documented
//!   exit codes, Nagios codes for checks included: the only place that
//!   chooses them.
//! - [`clock`]: the agent's clock against ours.
//! - [`fleet`]: fleet health checks: inventory, check set, the runner
//!   that reaches thousands of agents over one endpoint, and its summary.
//!
//! # What this crate is not
//! It draws nothing and prints nothing (tables, JSON and the view window
//! belong to the `tether` binary and `tether-view`), and it decides nothing
//! about who may do what beyond asking: the agent's permission table
//! decides. It depends on `tether-proto`, `tether-pki` and
//! `tether-transport` only among Tether's crates.
//!
//! # Example
//! ```no_run
//! use tether_client::{ClientError, ConnectOptions, Connector, exit};
//!
//! # async fn run() -> Result<(), ClientError> {
//! let connector = Connector::new(ConnectOptions::from_config_dir("/home/alice/.config/tether"))?;
//! let session = connector.connect("front-desk").await?;
//! match session.restore_list().await {
//!     Ok(points) => println!("{} restore points", points.len()),
//!     Err(e) => eprintln!("{e} (exit code {})", e.exit_code()),
//! }
//! session.finish().await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod clock;
pub mod connect;
pub mod diagnostics;
pub mod error;
pub mod exit;
pub mod fleet;
pub mod hosts;
pub mod identity;
pub mod restore;
pub mod screen;
pub mod session;

pub use connect::{ConnectOptions, Connector};
pub use error::ClientError;
pub use hosts::{HostEntry, Hosts, Target};
pub use identity::{Crl, IdentityFiles, default_config_dir};
pub use session::{Session, close_all};
