//! The Tether agent as a library: [`Agent::open`] a configuration, then
//! [`Agent::run`] it until a shutdown future completes.
//!
//! `main.rs` only parses the command line, sets up logging and signals,
//! and calls these two, so the same code runs in the binary and in
//! in-process tests (`tests/inproc`).
//!
//! # Layout
//! Bottom to top; a module imports only modules on its own line or above
//! (`tests/modules.rs` checks that no imports loop):
//! - [`error`] ([`AgentError`]) and [`setting`] ([`setting::SettingError`],
//!   what a `[table]` validator says is wrong).
//! - [`limits`], [`consent`], [`screen`]: the `[limits]`, `[consent]` and
//!   `[screen]` settings and what they govern (consent prompts, monitors,
//!   screenshots, one-shot input, the control slot); [`config`], the whole
//!   TOML configuration, validated before any socket opens; [`tls`], the
//!   certificates, key, CA and CRL for rustls.
//! - [`audit`], the audit log handle and who a record is about.
//! - [`admission`] (the handshake gate, session and view slots),
//!   `rejections` (rejected handshakes, summarised so floods stay small),
//!   [`sessions`] (the registry of live sessions), [`diagnostics`] (the
//!   CPU-hog record), [`restore`] (the restore engine, its requests, the
//!   schedule), `throughput` (raw upload and download payloads), `view`
//!   (the view stream's capture thread, writer and reader).
//! - [`state`] ([`Shared`]), the handles above held together.
//! - `dispatch`, which runs admitted one-shot calls, and `view_stream`, a
//!   view request from consent to its end record.
//! - `connection`, one connection from handshake to close and the only
//!   caller of the session's permission check; [`admin`], the local admin
//!   socket behind `tether-agent sessions`.
//! - [`server`], the accept loop, shutdown and CRL reloading; [`agent`]
//!   ([`Agent`]), the lifecycle around it.
//! - [`simulate`]: many agents in one process, for fleet tests and
//!   benchmarks.
//! - [`check`] and [`enroll`]: `check-config`'s report and enrolment,
//!   beside the serving stack; [`stop_signal`]: what stops the agent
//!   (signals on Unix, console and shutdown events on Windows);
//!   [`service`]: the agent as a Windows service (install, uninstall, the
//!   run under the service control manager, its log file).

// Every OS call that needs `unsafe` goes through tether-os.
#![forbid(unsafe_code)]

pub mod admin;
pub mod admission;
pub mod agent;
pub mod audit;
pub mod check;
pub mod config;
mod connection;
pub mod consent;
pub mod diagnostics;
mod dispatch;
pub mod enroll;
pub mod error;
pub mod limits;
mod rejections;
pub mod restore;
pub mod screen;
pub mod server;
pub mod service;
pub mod sessions;
pub mod setting;
pub mod simulate;
pub mod state;
pub mod stop_signal;
mod throughput;
pub mod tls;
mod view;
mod view_stream;

pub use agent::Agent;
pub use config::AgentConfig;
pub use error::AgentError;
pub use state::Shared;
