//! Diagnostics: what the agent knows about its own machine.
//!
//! Functions here read the operating system (through `sysinfo` where it
//! covers the ground, and the OS's own files where it does not) and return
//! `tether-proto` types, ready for the wire. The system readers block for
//! their sampling intervals, so the agent calls them on blocking threads.
//! Nothing here decides who may ask.
//!
//! # Layout
//! - [`system`]: the full `info` report.
//! - [`host`]: utmp, batteries, link flags, pending reboots.
//! - [`processes`]: the process list and signalling a process.
//! - [`net`]: network checks and the layered verdict.
//! - [`doctor`]: health findings with severities and next steps.
//! - [`fleet`]: the one-instant facts a fleet health check judges.
//!
//! System calls go through `tether-os`; this crate has no `unsafe`.

#![forbid(unsafe_code)]

pub mod doctor;
pub mod fleet;
pub mod host;
pub mod net;
pub mod processes;
pub mod services;
mod statfs;
pub mod system;

pub use processes::{KillError, kill, processes};
pub use system::system_info;

/// Why facts could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum DiagError {
    #[error("cannot read system information: {0}")]
    System(String),
}
