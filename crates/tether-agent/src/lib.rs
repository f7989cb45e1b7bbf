//! The Tether agent as a library: configuration, the QUIC accept loop, the
//! per-connection session and the request dispatcher.
//!
//! `main.rs` only parses the command line and wires these together, so the
//! same code runs in the binary and in in-process tests.
//!
//! # Layout
//! - [`config`]: the TOML configuration, validated before any socket opens;
//!   [`limits`]: its `[limits]` table.
//! - [`admission`]: the handshake gate, session and view slots.
//! - [`check`]: `check-config`'s report and warnings.
//! - [`enroll`]: installing an enrolment bundle, then checking.
//! - `rejections`: rejected handshakes, summarised so floods stay small.
//! - [`tls`]: loading certificates, key, CA and CRL into a rustls config.
//! - [`server`]: the accept loop, shutdown and CRL reloading.
//! - `connection`: one connection from handshake to close; the only caller
//!   of the session's permission check.
//! - `dispatch`: runs admitted requests through `tether-diag` and friends.
//! - [`restore`]: restore points: the engine, its requests, the schedule.
//! - [`sessions`]: the registry of live sessions.
//! - `throughput`: the raw payloads of upload and download measurements.
//! - [`screen`]: monitors, screenshots and one-shot input; the control slot.
//! - `view`: the view stream's capture thread, writer and reader.
//! - `view_stream`: a view request from consent to its end record.
//! - [`admin`]: the local admin socket behind `tether-agent sessions`.
//! - [`consent`]: the user's allow/prompt/deny policy and notify command.

pub mod admin;
pub mod admission;
pub mod check;
pub mod config;
mod connection;
pub mod consent;
mod dispatch;
pub mod enroll;
pub mod error;
pub mod limits;
mod rejections;
pub mod restore;
pub mod screen;
pub mod server;
pub mod sessions;
mod throughput;
pub mod tls;
mod view;
mod view_stream;

pub use config::AgentConfig;
pub use error::AgentError;
pub use server::{Shared, run};
